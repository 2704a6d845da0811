//! The f16-storage case: the pinned problem with f16 state
//! (`gpu::f16`) against the f32 engine from the same initial state and for
//! the same steps: throughput, and the accuracy cost as the largest
//! |Δu|, |Δv| and the relative change of the checksum.
//!
//! Owns: the comparison. GPU with SHADER_F16 only; elsewhere it says why.

use super::peak::Peak;
use super::report::CaseResult;
use super::timed::{BenchEngine, Timed};
use super::{BenchError, problem};
use crate::backend::Backend;
use crate::gpu::engine::GpuOptions;

pub fn case(
    backend: &Backend,
    members: u32,
    grid: u32,
    steps: u64,
    repeats: u32,
    peak: Option<&Peak>,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<CaseResult>, BenchError> {
    let Backend::Gpu(ctx) = backend else {
        return Ok(Vec::new());
    };
    if !crate::gpu::f16::supported(ctx) {
        log("rd f16-storage: skipped, the adapter has no SHADER_F16");
        return Ok(Vec::new());
    }
    log(&format!("rd f16-storage, {members} members"));
    let plan = problem::plan(members, grid)?;
    let mut e = BenchEngine::new(backend, &plan, &GpuOptions::default())?;
    let initial = e.engine().read_state()?;
    e.engine().advance(steps)?;
    let reference = e.engine().read_state()?;
    let names: Vec<&str> = plan.block.params.iter().map(|p| p.name.as_str()).collect();
    let p32 = plan.params_f32();
    let np = names.len();
    let ordered: Vec<f32> = (0..members as usize)
        .flat_map(|m| {
            ["Du", "Dv", "F", "k"].map(|n| {
                let i = names.iter().position(|x| *x == n).unwrap_or(0);
                p32[m * np + i]
            })
        })
        .collect();
    let mut runs = Vec::new();
    let mut timing = "wall";
    let mut state = Vec::new();
    for _ in 0..repeats.max(1) {
        let r = crate::gpu::f16::gray_scott_f16(ctx, grid, members, &ordered, &initial, steps)?;
        runs.push(r.seconds);
        timing = r.timing;
        state = r.state;
    }
    let n = (grid * grid) as usize;
    let (mut du, mut dv) = (0.0f64, 0.0f64);
    for (a, b) in state.chunks(2 * n).zip(reference.chunks(2 * n)) {
        for i in 0..n {
            du = du.max((a[i] as f64 - b[i] as f64).abs());
            dv = dv.max((a[n + i] as f64 - b[n + i] as f64).abs());
        }
    }
    let c16 = problem::checksum(&plan, &state);
    let c32 = problem::checksum(&plan, &reference);
    let t = Timed {
        seconds: super::median(&runs),
        timing,
        wall: runs.clone(),
        gpu: vec![],
    };
    let mut r = CaseResult::grid_case("rd", "f16-storage", members, grid, steps, &t, 8.0, peak);
    r.checksum = Some(c16);
    r.note = Some(format!(
        "f16 state, f32 arithmetic; vs f32 after {steps} steps: max |Δu| {du:.2e}, max |Δv| {dv:.2e}, checksum rel. change {:.2e}",
        ((c16 - c32) / c32).abs()
    ));
    Ok(vec![r])
}
