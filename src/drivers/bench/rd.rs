//! The reaction-diffusion suite on the pinned problem (`problem`): on the
//! GPU first a `copy` row (a vec4 copy kernel's bandwidth, `gpu::copy`,
//! the roofline every other row's `fraction_of_copy` is measured against);
//! the single-step kernel at several ensemble sizes and one large member
//! (`single-member`, 512²); on the GPU also the fused kernel for each
//! requested K, the same steps submitted and waited for one
//! at a time (what recording many steps per submission replaces), and
//! observations reduced on the device against a full state readback; a
//! scaling curve over members; and the peer case `compare.sh` runs.
//!
//! Owns: the cases and their sizes. Never formats output.

use super::peak::{Peak, fused_bytes, single_step_bytes};
use super::report::{CaseResult, Scaling};
use super::timed::BenchEngine;
use super::{BenchError, median, problem};
use crate::core::observe::observe_member;
use crate::engine::EngineError;
use crate::engine::backend::Backend;
use crate::engine::backend::EngineOptions;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct RdOptions {
    /// Side of the square grid.
    pub grid: u32,
    /// Ensemble sizes of the main cases (capped by `max_members`).
    pub members: Vec<u32>,
    /// Steps per run (default: sized to the device, `steps_for`).
    pub steps: Option<u64>,
    pub repeats: u32,
    /// Steps per dispatch of the fused kernel to measure (GPU only).
    pub fused: Vec<u32>,
    pub max_members: u32,
    pub scaling: bool,
    /// Side of the one-member case (`single-member`); 0 skips it.
    pub single_grid: u32,
}

/// Largest ensemble the suite runs by default: 65,536 on a hardware GPU,
/// 4,096 on the CPU backend and on software adapters.
pub fn default_max_members(backend: &Backend) -> u32 {
    match backend.adapter() {
        Some(a) if !a.is_software() => 65_536,
        _ => 4_096,
    }
}

/// Site updates a run should take to be timed well on this backend (a few
/// tenths of a second at the rates measured in docs/performance.md).
pub fn target_updates(backend: &Backend) -> f64 {
    match backend.adapter() {
        Some(a) if !a.is_software() => 4e9,
        Some(_) => 4e7,
        None => 5e8,
    }
}

/// Steps for `members` members of a `grid²` grid: about `target` site
/// updates, at least 8 and at most 4000, a multiple of 8 (so fused runs
/// with K ∈ {1, 2, 4, 8} take only full dispatches).
pub fn steps_for(members: u32, grid: u32, target: f64) -> u64 {
    let raw = target / (members as f64 * (grid as f64).powi(2));
    ((raw.round() as u64).clamp(8, 4000)).div_ceil(8) * 8
}

/// 1, 4, 16, … up to `max`, ending exactly at `max`.
pub fn scaling_members(max: u32) -> Vec<u32> {
    let mut v = Vec::new();
    let mut m = 1u32;
    while m <= max {
        v.push(m);
        m = m.saturating_mul(4);
        if m == u32::MAX {
            break;
        }
    }
    if v.last() != Some(&max) && max > 0 {
        v.push(max);
    }
    v
}

/// Times one configuration; returns the row and the final checksum.
#[allow(clippy::too_many_arguments)]
fn case(
    backend: &Backend,
    suite: &str,
    name: &str,
    members: u32,
    grid: u32,
    steps: u64,
    repeats: u32,
    opts: &EngineOptions,
    per_step_sync: bool,
    peak: Option<&Peak>,
) -> Result<CaseResult, BenchError> {
    let plan = problem::plan(members, grid)?;
    let mut e = BenchEngine::new(backend, &plan, opts)?;
    let initial = e.engine().read_state()?;
    let t = e.timed(&initial, steps, repeats, per_step_sync)?;
    let state = e.engine().read_state()?;
    let fields = plan.model.grid().fields;
    let (bytes, note) = match e.fused_tile() {
        Some((tile, halo)) => (
            fused_bytes(fields, tile, halo),
            Some(format!(
                "fused: {tile}×{tile} tile, halo {halo}, up to {halo} steps per dispatch"
            )),
        ),
        None => (single_step_bytes(fields), None),
    };
    let mut r = CaseResult::grid_case(suite, name, members, grid, steps, &t, bytes, peak);
    r.checksum = Some(problem::checksum(&plan, &state));
    r.note = note;
    if opts.fused.is_none() {
        r.kernel = e.kernel_json();
    }
    if per_step_sync {
        r.note = Some("one submission and one wait per step".into());
    }
    Ok(r)
}

/// The pinned problem at one size: the row `compare.sh` reads.
pub fn peer_case(
    backend: &Backend,
    members: u32,
    grid: u32,
    steps: u64,
    repeats: u32,
    fused: Option<u32>,
    peak: Option<&Peak>,
) -> Result<CaseResult, BenchError> {
    let opts = EngineOptions {
        fused,
        ..Default::default()
    };
    let name = match (backend, fused) {
        (Backend::Gpu(_), Some(k)) => format!("gray-scott-peer/fused-{k}"),
        _ => "gray-scott-peer".to_string(),
    };
    case(
        backend, "peer", &name, members, grid, steps, repeats, &opts, false, peak,
    )
}

/// Observing every member: reduced on the device (only the observables
/// come back) against reading the whole state back and reducing on the
/// host. Rows count sites reduced per second as "updates".
fn observe_cases(
    backend: &Backend,
    members: u32,
    grid: u32,
    repeats: u32,
    peak: Option<&Peak>,
) -> Result<Vec<CaseResult>, BenchError> {
    let plan = problem::plan(members, grid)?;
    let mut e = BenchEngine::new(backend, &plan, &EngineOptions::default())?;
    e.engine().advance(8)?;
    e.sync()?;
    let g = plan.model.grid();
    let ops = plan.observables.ops.clone();
    let mut device = Vec::new();
    let mut readback = Vec::new();
    for _ in 0..repeats.max(3) {
        let t0 = Instant::now();
        e.engine().observe()?;
        device.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let s = e.engine().read_state()?;
        let mut out = vec![0.0f32; ops.len() + 1];
        for m in s.chunks(g.len()) {
            observe_member(&ops, &g, m, &mut out);
        }
        readback.push(t0.elapsed().as_secs_f64());
    }
    let bytes = 4.0 * g.fields as f64;
    let mk = |name: &str, runs: &[f64], note: &str| {
        let t = super::timed::Timed {
            seconds: median(runs),
            timing: "wall",
            wall: runs.to_vec(),
            gpu: vec![],
        };
        let mut r = CaseResult::grid_case("rd", name, members, grid, 1, &t, bytes, peak);
        r.note = Some(note.into());
        r
    };
    let on = if matches!(backend, Backend::Gpu(_)) {
        "device"
    } else {
        "CPU engine"
    };
    Ok(vec![
        mk(
            "observe/reduce-on-device",
            &device,
            &format!(
                "{} observables + status per member reduced by the {on}; updates = sites reduced",
                ops.len()
            ),
        ),
        mk(
            "observe/full-readback",
            &readback,
            "whole state read back, then reduced on the host; updates = sites reduced",
        ),
    ])
}

/// The whole suite.
pub fn suite(
    backend: &Backend,
    o: &RdOptions,
    peak: Option<&Peak>,
    log: &mut dyn FnMut(&str),
) -> Result<(Vec<CaseResult>, Vec<Scaling>), BenchError> {
    let gpu = matches!(backend, Backend::Gpu(_));
    let target = target_updates(backend);
    let steps = |m: u32| o.steps.unwrap_or_else(|| steps_for(m, o.grid, target));
    let sizes: Vec<u32> = o
        .members
        .iter()
        .copied()
        .filter(|&m| m <= o.max_members)
        .collect();
    let mut rows = Vec::new();
    let single = EngineOptions::default();
    let mut copy_bps = None;
    if matches!(backend, Backend::Gpu(_)) {
        log("rd copy bandwidth");
        let r = copy_case(backend, o.repeats, peak)?;
        copy_bps = Some(r.bytes_per_s);
        rows.push(r);
    }
    for &m in &sizes {
        log(&format!("rd single-step, {m} members"));
        rows.push(case(
            backend,
            "rd",
            "single-step",
            m,
            o.grid,
            steps(m),
            o.repeats,
            &single,
            false,
            peak,
        )?);
        if gpu {
            for &k in &o.fused {
                log(&format!("rd fused-{k}, {m} members"));
                let opts = EngineOptions {
                    fused: Some(k),
                    ..Default::default()
                };
                let name = format!("fused-{k}");
                rows.push(case(
                    backend,
                    "rd",
                    &name,
                    m,
                    o.grid,
                    steps(m),
                    o.repeats,
                    &opts,
                    false,
                    peak,
                )?);
            }
        }
    }
    if o.single_grid > 0 {
        let g = o.single_grid;
        log(&format!("rd single-member, one {g}×{g} member"));
        let st = o
            .steps
            .unwrap_or_else(|| steps_for(1, g, target).clamp(64, 2000));
        rows.push(case(
            backend,
            "rd",
            "single-member",
            1,
            g,
            st,
            o.repeats,
            &single,
            false,
            peak,
        )?);
    }
    if let Some(&mid) = sizes.iter().find(|&&m| m >= 256).or(sizes.last()) {
        if gpu {
            log(&format!("rd single-step-sync, {mid} members"));
            rows.push(case(
                backend,
                "rd",
                "single-step-sync",
                mid,
                o.grid,
                steps(mid).min(64),
                o.repeats,
                &single,
                true,
                peak,
            )?);
        }
        log(&format!("rd observe, {mid} members"));
        rows.extend(observe_cases(backend, mid, o.grid, o.repeats, peak)?);
    }
    let mut curves = Vec::new();
    if o.scaling {
        let mut variants = vec![("single-step".to_string(), None)];
        if let (true, Some(&k)) = (gpu, o.fused.last()) {
            variants.push((format!("fused-{k}"), Some(k)));
        }
        for (name, fused) in variants {
            let mut points = Vec::new();
            for m in scaling_members(o.max_members) {
                log(&format!("rd scaling {name}, {m} members"));
                let opts = EngineOptions {
                    fused,
                    ..Default::default()
                };
                let r = case(
                    backend,
                    "rd",
                    &format!("scaling/{name}"),
                    m,
                    o.grid,
                    steps(m),
                    o.repeats,
                    &opts,
                    false,
                    peak,
                )?;
                points.push((m, r.cell_updates_per_s.unwrap_or(0.0)));
                rows.push(r);
            }
            curves.push(Scaling::new(&name, o.grid, &points));
        }
    }
    if let Some(c) = copy_bps {
        for r in rows
            .iter_mut()
            .filter(|r| r.case != "copy" && !r.case.starts_with("observe/"))
        {
            r.fraction_of_copy = Some(r.bytes_per_s / c);
        }
    }
    Ok((rows, curves))
}

/// The `copy` row: a vec4 copy kernel over 256 MiB (32 MiB on software
/// adapters), 20 dispatches per run; one "update" is one vec4 moved
/// (16 B read + written), so `bytes_per_s` is the bandwidth.
pub fn copy_case(
    backend: &Backend,
    repeats: u32,
    peak: Option<&Peak>,
) -> Result<CaseResult, BenchError> {
    let software = backend.adapter().is_some_and(|a| a.is_software());
    let (mib, n) = if software { (32, 4) } else { (256, 20) };
    let rate = backend
        .copy_bandwidth(mib, n, repeats.max(3))
        .ok_or_else(|| EngineError::Invalid("the copy row needs a GPU backend".into()))??;
    let t = super::timed::Timed {
        seconds: median(&rate.seconds),
        timing: rate.timing,
        wall: rate.seconds.clone(),
        gpu: vec![],
    };
    // One member of a (bytes/32)-site "grid" of vec4s: grid_case's
    // arithmetic with updates = vec4s moved per dispatch.
    let vec4s = rate.bytes as f64 / 32.0;
    let mut r = CaseResult::grid_case("rd", "copy", 1, 1, 1, &t, 32.0, peak);
    r.grid = None;
    r.cell_updates_per_s = None;
    r.member_steps_per_s = 1.0 / t.seconds;
    r.bytes_per_s = rate.bytes as f64 / median(&rate.seconds);
    r.fraction_of_peak = peak.map(|p| r.bytes_per_s / (p.gbs * 1e9));
    r.fraction_of_copy = Some(1.0);
    r.note = Some(format!(
        "vec4 copy kernel, {} MiB read + {} MiB written per dispatch ({vec4s:.0} vec4s); the reachable roofline",
        rate.bytes >> 21,
        rate.bytes >> 21
    ));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_sized_and_rounded() {
        assert_eq!(steps_for(1, 64, 4e7), 4000);
        assert_eq!(steps_for(256, 64, 4e7), 40);
        assert_eq!(steps_for(4096, 64, 4e7), 8);
        assert_eq!(steps_for(100, 64, 4e7) % 8, 0);
        assert_eq!(scaling_members(4096), [1, 4, 16, 64, 256, 1024, 4096]);
        assert_eq!(scaling_members(65_536).last(), Some(&65_536));
        assert_eq!(scaling_members(6), [1, 4, 6]);
    }

    /// The CPU suite at toy sizes: every row is a real measurement (positive
    /// time, finite throughput), the single-step checksum equals a plain CPU
    /// engine's, and the scaling curve ends at the cap.
    #[test]
    fn cpu_suite_runs_and_rows_are_consistent() {
        let o = RdOptions {
            grid: 16,
            members: vec![2, 8],
            steps: Some(8),
            repeats: 1,
            fused: vec![4],
            max_members: 6,
            scaling: true,
            single_grid: 16,
        };
        let (rows, curves) = suite(&Backend::Cpu, &o, None, &mut |_| {}).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
        assert_eq!(
            names,
            [
                "single-step",
                "single-member",
                "observe/reduce-on-device",
                "observe/full-readback",
                "scaling/single-step",
                "scaling/single-step",
                "scaling/single-step"
            ]
        );
        assert_eq!(curves[0].members, [1, 4, 6]);
        for r in &rows {
            assert!(
                r.seconds > 0.0 && r.cell_updates_per_s.unwrap().is_finite(),
                "{r:?}"
            );
        }
        let plan = problem::plan(2, 16).unwrap();
        let mut e = crate::engine::cpu::CpuEngine::new(&plan);
        use crate::engine::Engine;
        e.advance(8).unwrap();
        let want = problem::checksum(&plan, &e.read_state().unwrap());
        assert_eq!(rows[0].checksum, Some(want));
    }
}
