//! The agent-based suite: one `tumour_abm` step at {64, 1024} members ×
//! {1k, 10k} agents per member, as agent-steps per second. Each member
//! holds a tumour spheroid with half its agents and immune cells scattered
//! around it with the other half, so every phase of the step does real
//! work (binning, two SOR field solves, neighbour forces, migration, fate,
//! compaction, reductions). Divisions are rare over the timed steps (a
//! 10⁵-min doubling time), so the agent count stays put.
//!
//! Owns: the bench problem and its cases. Timing is `timed`'s.

use super::BenchError;
use super::report::{CaseResult, Unavailable};
use super::timed::BenchEngine;
use crate::core::plan::{Plan, PlanOptions};
use crate::engine::backend::Backend;
use crate::engine::backend::EngineOptions;
use crate::input::scene::Scene;
use std::path::Path;

/// State and scratch words an agent-step reads and writes once (its own
/// six state words read and written, eight scratch words, its site list
/// entry); neighbour reads come from cache and are not counted.
pub const BYTES_PER_AGENT_STEP: f64 = 4.0 * (12.0 + 8.0 + 2.0);

/// Most agents in total for one case unless told otherwise: 2²⁰ on the CPU
/// backend and software adapters, 2·10⁷ on a hardware GPU.
pub fn default_max_agents(backend: &Backend) -> u64 {
    match backend.adapter() {
        Some(a) if !a.is_software() => 20_000_000,
        _ => 1 << 20,
    }
}

/// A scene with about `agents` agents per member: an n × n grid of 25 µm
/// sites (32 up to 2,000 agents, 64 beyond), a spheroid holding half of
/// them and immune cells for the rest.
pub fn scene_text(agents: u32, members: u32, steps: u64) -> String {
    let n = if agents <= 2000 { 32 } else { 64 };
    // A hexagonal lattice of touching 8.41 µm cells holds one cell per
    // 2√3·r² ≈ 245 µm².
    let half = agents as f64 / 2.0;
    let radius = (half * 245.0 / std::f64::consts::PI).sqrt() + 8.41;
    let capacity = (agents as f64 * 1.25).ceil() as u32;
    format!(
        "[model]\nkind = \"tumour_abm\"\n[grid]\nnx = {n}\nny = {n}\ndx = 25.0\n\
         [time]\ndt = 10.0\nsteps = {steps}\n[ensemble]\nmembers = {members}\nseed = 1\n\
         [agents]\ncapacity = {capacity}\nfield_sweeps = 6\ninit_sweeps = 200\n\
         [parameters]\ninitial_radius = {radius:.1}\nimmune_count = {half:.0}\n\
         doubling_time = 100000.0\n"
    )
}

pub fn plan(agents: u32, members: u32, steps: u64) -> Result<Plan, BenchError> {
    let text = scene_text(agents, members, steps);
    let scene = Scene::parse(Path::new("<abm bench>"), &text)?;
    Ok(Plan::freeze(&scene, &PlanOptions::default())?)
}

/// Options of the suite.
#[derive(Clone, Debug)]
pub struct AbmOptions {
    pub members: Vec<u32>,
    pub agents: Vec<u32>,
    pub steps: u64,
    pub repeats: u32,
    /// Cases with more agents in total are skipped (and listed as such).
    pub max_total_agents: u64,
}

pub fn suite(
    backend: &Backend,
    o: &AbmOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(Vec<CaseResult>, Vec<Unavailable>), BenchError> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for &agents in &o.agents {
        for &members in &o.members {
            let total = agents as u64 * members as u64;
            if total > o.max_total_agents {
                skipped.push(Unavailable {
                    suite: "abm".into(),
                    reason: format!(
                        "{members} members × {agents} agents = {total} agents exceeds the cap of \
                         {} on this backend (--max-agents raises it)",
                        o.max_total_agents
                    ),
                });
                continue;
            }
            log(&format!("abm, {members} members × {agents} agents"));
            let p = plan(agents, members, o.steps)?;
            let mut e = BenchEngine::new(backend, &p, &EngineOptions::default())?;
            let initial = e.engine().read_state()?;
            let frame = e.engine().observe()?;
            let stride = p.observables.ops.len() + 1;
            let live: f64 = frame.chunks(stride).map(|c| c[0] as f64).sum();
            let timed = e.timed(&initial, o.steps, o.repeats, false)?;
            let agent_steps = live * o.steps as f64;
            let rate = agent_steps / timed.seconds;
            let bytes_per_s = rate * BYTES_PER_AGENT_STEP;
            rows.push(CaseResult {
                suite: "abm".into(),
                case: format!("step_{agents}"),
                members,
                grid: Some(p.model.grid().nx),
                steps: o.steps,
                seconds: timed.seconds,
                timing: timed.timing.into(),
                wall_seconds: timed.wall.clone(),
                cell_updates_per_s: None,
                agent_steps_per_s: Some(rate),
                member_steps_per_s: members as f64 * o.steps as f64 / timed.seconds,
                bytes_per_update: BYTES_PER_AGENT_STEP,
                bytes_per_s,
                fraction_of_peak: None,
                fraction_of_copy: None,
                kernel: None,
                checksum: Some(live),
                note: Some(format!(
                    "{:.0} agents per member on average (tumour spheroid + immune cells); \
                     an agent-step bins, pushes, moves and decides one agent and shares its \
                     member's two field solves",
                    live / members as f64
                )),
                patients: None,
            });
        }
    }
    Ok((rows, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_scenes_hold_about_the_asked_agents() {
        for agents in [1000u32, 10_000] {
            let p = plan(agents, 1, 1).unwrap();
            let mut s = vec![0.0f32; p.model.state_len()];
            p.model.init_member(1, 0, &p.params_f32(), &mut s);
            let n = p.model.agents(&p.params_f32(), &s).unwrap().len() as f64;
            let rel = (n - agents as f64).abs() / agents as f64;
            assert!(rel < 0.1, "{agents}: placed {n}");
        }
    }
}
