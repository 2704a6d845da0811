//! The computational envelope of a plan before a long run: memory per
//! member and in total, the batches the adapter's limits force, and the
//! projected run time from a short timed probe (one batch, or a few hundred
//! members on the CPU, for a doubling number of steps until the probe takes
//! a quarter of a second, plus one observation).
//!
//! Projection: a batch's time per step scales with its members (the probe's
//! per-member cost), steps × Σ over batches, plus every observation at the
//! probe's per-member observation cost. Assumes the probe ran at full
//! occupancy; a batch smaller than the probe is charged the probe's
//! per-member rate.
//!
//! Owns: the arithmetic and the probe. Never writes files.

use super::BenchError;
use crate::core::plan::Plan;
use crate::engine::backend::Backend;
use serde::Serialize;
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    pub members: u32,
    pub steps: u64,
    pub seconds: f64,
    pub observe_seconds: f64,
    pub timing: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub model: String,
    pub grid: [u32; 3],
    pub members: u32,
    pub steps: u64,
    pub observations: usize,
    pub backend: String,
    pub adapter: Option<crate::engine::backend::AdapterSummary>,
    /// One copy of a member's state.
    pub state_bytes_per_member: u64,
    /// Everything a member holds on the backend.
    pub bytes_per_member: u64,
    pub total_bytes: u64,
    /// Members per batch.
    pub batches: Vec<u32>,
    pub probe: Probe,
    pub projected_step_seconds: f64,
    pub projected_observe_seconds: f64,
    pub projected_seconds: f64,
}

/// Bytes a member holds: on the GPU two state copies, parameters, status
/// and observables (`Plan::bytes_per_member`); on the CPU one state copy,
/// parameters and status, plus one scratch state per thread (`extra`).
pub fn memory(plan: &Plan, backend: &Backend) -> (u64, u64, u64) {
    let state = plan.model.state_len() as u64 * 4;
    match backend {
        Backend::Gpu(_) => {
            let per = plan.bytes_per_member();
            (state, per, per * plan.members as u64)
        }
        Backend::Cpu => {
            let per = state + plan.n_params() as u64 * 4 + 16;
            let scratch = state * rayon::current_num_threads() as u64;
            (state, per, per * plan.members as u64 + scratch)
        }
    }
}

/// Per-batch projection: (step seconds, observation seconds).
pub fn project(batches: &[u32], steps: u64, observations: usize, probe: &Probe) -> (f64, f64) {
    let per_member_step = probe.seconds / (probe.steps as f64 * probe.members as f64);
    let per_member_obs = probe.observe_seconds / probe.members as f64;
    let members: f64 = batches.iter().map(|&b| b as f64).sum();
    (
        per_member_step * members * steps as f64,
        per_member_obs * members * observations as f64,
    )
}

/// Measures the probe and projects the run.
pub fn estimate(
    backend: &Backend,
    plan: &Plan,
    batch: Option<u32>,
    log: &mut dyn FnMut(&str),
) -> Result<Estimate, BenchError> {
    let batches = backend.batches(plan, batch);
    let probe_members = match backend {
        Backend::Gpu(_) => batches[0],
        Backend::Cpu => plan
            .members
            .min(256.max(8 * rayon::current_num_threads() as u32)),
    };
    let probe_plan = plan.with_params(plan.params[..probe_members as usize].to_vec());
    log(&format!(
        "probe: {probe_members} members on the {} backend",
        backend.name()
    ));
    let mut e = backend.engine(&probe_plan, batch)?;
    e.advance(1)?;
    e.status()?;
    let mut k = 1u64;
    let seconds = loop {
        let t0 = Instant::now();
        e.advance(k)?;
        e.status()?;
        let t = t0.elapsed().as_secs_f64();
        if t >= 0.25 || k >= plan.steps.max(1) {
            break t;
        }
        k = (k * 2).min(plan.steps.max(1));
    };
    let t0 = Instant::now();
    e.observe()?;
    let observe_seconds = t0.elapsed().as_secs_f64();
    let probe = Probe {
        members: probe_members,
        steps: k,
        seconds,
        observe_seconds,
        timing: "wall".into(),
    };
    let observations = plan.observation_steps().len();
    let (step_s, obs_s) = project(&batches, plan.steps, observations, &probe);
    let (state, per, total) = memory(plan, backend);
    let g = plan.model.grid();
    Ok(Estimate {
        model: plan.model.info().kind.clone(),
        grid: [g.nx, g.ny, g.fields],
        members: plan.members,
        steps: plan.steps,
        observations,
        backend: backend.name().into(),
        adapter: backend.adapter(),
        state_bytes_per_member: state,
        bytes_per_member: per,
        total_bytes: total,
        batches,
        probe,
        projected_step_seconds: step_s,
        projected_observe_seconds: obs_s,
        projected_seconds: step_s + obs_s,
    })
}

/// Bytes as B, KiB, MiB or GiB.
pub fn human_bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Seconds as `1 h 02 min`, `3 min 04 s` or `1.23 s`.
pub fn human_seconds(s: f64) -> String {
    if s >= 3600.0 {
        format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    } else if s >= 60.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_scales_with_members_steps_and_observations() {
        let probe = Probe {
            members: 100,
            steps: 10,
            seconds: 2.0,
            observe_seconds: 0.5,
            timing: "wall".into(),
        };
        // 2 s per 10 steps of 100 members → 2e-3 s per member-step.
        let (s, o) = project(&[100, 100, 50], 1000, 11, &probe);
        assert!((s - 2e-3 * 250.0 * 1000.0).abs() < 1e-9);
        assert!((o - 0.5 / 100.0 * 250.0 * 11.0).abs() < 1e-12);
    }

    #[test]
    fn units_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 * 1024), "64.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(human_seconds(1.234), "1.23 s");
        assert_eq!(human_seconds(184.0), "3 min 04 s");
        assert_eq!(human_seconds(3720.0), "1 h 02 min");
    }

    /// The CPU probe runs and the projection of the probe plan itself
    /// reproduces the probe's own rate.
    #[test]
    fn cpu_estimate_of_the_pinned_problem() {
        let plan = super::super::problem::plan(8, 16).unwrap();
        let e = estimate(&Backend::Cpu, &plan, None, &mut |_| {}).unwrap();
        assert_eq!(e.batches, [8]);
        assert_eq!(e.state_bytes_per_member, 16 * 16 * 2 * 4);
        assert_eq!(e.probe.members, 8);
        assert!(e.probe.seconds > 0.0 && e.projected_seconds > 0.0);
        let rate = e.probe.seconds / e.probe.steps as f64;
        assert!((e.projected_step_seconds - rate * plan.steps as f64).abs() < 1e-12);
    }
}
