//! The pinned Gray–Scott ensemble every implementation computes (vtwin's
//! two backends and the peers in `benches/peers/`): f32, a `grid × grid`
//! periodic grid with dx = 1, the 5-point Laplacian, explicit Euler with
//! dt = 1, Du = 0.2097, Dv = 0.105, k = 0.06, F = 0.02 + 0.04·m/M for
//! member m of M (computed in f64, rounded to f32), u = 1 and v = 0 except
//! an 8 × 8 square (sites grid/2 − 4 … grid/2 + 3 in x and y) with u = 0.5,
//! v = 0.25, no noise. The checksum is Σ v over every member and site (f64).
//!
//! Owns: the problem's definition, in one place.

use super::BenchError;
use crate::core::plan::{Plan, PlanOptions};
use crate::input::scene::Scene;

pub const DU: f64 = 0.2097;
pub const DV: f64 = 0.105;
pub const KILL: f64 = 0.06;

/// Feed rate of member `m` of `members`.
pub fn feed(m: u32, members: u32) -> f64 {
    0.02 + 0.04 * m as f64 / members as f64
}

/// The scene (without the feed ramp, which the plan's member rows carry).
pub fn scene_text(grid: u32) -> String {
    let c = grid / 2;
    format!(
        r#"description = "pinned Gray–Scott peer problem, {grid}×{grid}"
[model]
kind = "gray_scott"
[grid]
nx = {grid}
ny = {grid}
dx = 1.0
boundary = "periodic"
[time]
dt = 1.0
steps = 1
[parameters]
Du = {DU}
Dv = {DV}
F = 0.04
k = {KILL}
[initial]
background = {{ u = 1.0, v = 0.0 }}
patches = [{{ shape = "square", center = [{c}.0, {c}.0], size = 3.5, values = {{ u = 0.5, v = 0.25 }} }}]
[[observables]]
kind = "mean"
field = "v"
[[observables]]
kind = "max"
field = "v"
"#
    )
}

/// The plan of `members` members on a `grid × grid` grid.
pub fn plan(members: u32, grid: u32) -> Result<Plan, BenchError> {
    if grid < 16 {
        return Err(BenchError::Invalid(format!(
            "--grid must be at least 16 (the problem has an 8×8 centre square), got {grid}"
        )));
    }
    if members == 0 {
        return Err(BenchError::Invalid("members must be at least 1".into()));
    }
    let scene = Scene::parse(
        std::path::Path::new(&format!("<bench:gray_scott_peer_{grid}>")),
        &scene_text(grid),
    )?;
    let probe = Plan::freeze(&scene, &PlanOptions::default())?;
    let names: Vec<String> = probe.block.params.iter().map(|p| p.name.clone()).collect();
    let rows = (0..members)
        .map(|m| {
            names
                .iter()
                .map(|n| match n.as_str() {
                    "Du" => DU,
                    "Dv" => DV,
                    "F" => feed(m, members),
                    _ => KILL,
                })
                .collect()
        })
        .collect();
    Ok(Plan::freeze(
        &scene,
        &PlanOptions {
            member_params: Some(rows),
            ..Default::default()
        },
    )?)
}

/// The problem's model as the concrete RD type (for benches of the CPU
/// twin itself); member parameters in the plan's block order.
pub fn rd_model(grid: u32) -> Result<crate::core::models::rd::RdModel, BenchError> {
    let scene = Scene::parse(
        std::path::Path::new(&format!("<bench:gray_scott_peer_{grid}>")),
        &scene_text(grid),
    )?;
    let info = crate::core::model_scene::info_for(&scene)?;
    let block = crate::core::model_scene::resolve_params(&scene, &info)?;
    let arm = scene.arm(None)?;
    Ok(crate::core::model_scene::rd_model(&scene, &block, &arm, 1)?)
}

/// Σ v over every member and site, in f64.
pub fn checksum(plan: &Plan, state: &[f32]) -> f64 {
    let g = plan.model.grid();
    let n = g.sites();
    state
        .chunks(g.len())
        .map(|m| m[n..2 * n].iter().map(|&v| v as f64).sum::<f64>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::engine::cpu::CpuEngine;

    /// The initial state is the stated one: an 8×8 square at grid/2 − 4 …
    /// grid/2 + 3, so Σ v = 64 · 0.25 per member, and the feed ramp lands
    /// in the member parameters.
    #[test]
    fn initial_state_and_feed_ramp() {
        let p = plan(4, 20).unwrap();
        let mut e = CpuEngine::new(&p);
        let s = e.read_state().unwrap();
        assert_eq!(checksum(&p, &s), 4.0 * 64.0 * 0.25);
        let n = 400;
        let v = &s[n..2 * n];
        for y in 0..20 {
            for x in 0..20 {
                let inside = (6..14).contains(&x) && (6..14).contains(&y);
                assert_eq!(v[y * 20 + x], if inside { 0.25 } else { 0.0 }, "({x}, {y})");
            }
        }
        let params = e.read_params().unwrap();
        let f_ix = p.block.params.iter().position(|q| q.name == "F").unwrap();
        for m in 0..4 {
            assert_eq!(params[m * 4 + f_ix], (0.02 + 0.04 * m as f64 / 4.0) as f32);
        }
    }

    /// One explicit step by hand at the site just left of the square (one
    /// neighbour inside it), in the kernel's order of operations.
    #[test]
    fn one_step_matches_hand_computation() {
        let p = plan(1, 16).unwrap();
        let mut e = CpuEngine::new(&p);
        e.advance(1).unwrap();
        let s = e.read_state().unwrap();
        let n = 256;
        // Site (3, 8): left of the square (x 4..12), one neighbour inside.
        let (u0, v0) = (1.0f32, 0.0f32);
        let lap_u = (1.0f32 - u0) + (0.5 - u0) + (1.0 - u0) + (1.0 - u0);
        let lap_v = (0.0f32 - v0) + (0.25 - v0) + (0.0 - v0) + (0.0 - v0);
        let f = 0.02f32;
        let uvv = u0 * v0 * v0;
        let u1 = u0 + 1.0 * (DU as f32 * lap_u + (f * (1.0 - u0) - uvv));
        let v1 = v0 + 1.0 * (DV as f32 * lap_v + (uvv - (f + KILL as f32) * v0));
        assert_eq!(s[8 * 16 + 3], u1);
        assert_eq!(s[n + 8 * 16 + 3], v1);
    }

    #[test]
    fn small_grids_are_refused() {
        assert!(plan(1, 8).is_err());
        assert!(plan(0, 64).is_err());
    }
}
