//! Kernels that used to be only compiled in tests, now run on the adapter
//! (lavapipe in CI) with their values checked:
//! - Philox4x32-10 in WGSL (`shared/philox.wgsl`) against the CPU
//!   implementation (itself checked against Random123's known answers in
//!   `rng`) on 4096 seeded (counter, key) pairs, bit for bit;
//! - the f16-storage Gray–Scott kernel (`rd/gray_scott_f16.wgsl`) against
//!   the f32 CPU reference of the same problem.
//!
//! With `REQUIRE_GPU=1` a missing adapter is a failure, and so is an
//! adapter without SHADER_F16 (lavapipe has it).

mod common;

use rand::{RngExt, SeedableRng};
use vtwin::backend::Backend;

#[test]
fn philox_on_the_gpu_matches_the_cpu_bit_for_bit() {
    let Some(Backend::Gpu(ctx)) = common::gpu() else {
        return;
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let mut cases: Vec<([u32; 4], [u32; 2])> = (0..4096)
        .map(|_| {
            (
                [rng.random(), rng.random(), rng.random(), rng.random()],
                [rng.random(), rng.random()],
            )
        })
        .collect();
    // Edge counters: zero, all ones, carries across words.
    cases.push(([0; 4], [0; 2]));
    cases.push(([u32::MAX; 4], [u32::MAX; 2]));
    cases.push(([u32::MAX, 0, 0, 0], [1, 0]));
    let got = vtwin::gpu::kat::philox_on_gpu(&ctx, &cases).expect("kernel runs");
    assert_eq!(got.len(), cases.len());
    for ((c, k), g) in cases.iter().zip(&got) {
        assert_eq!(
            *g,
            vtwin::rng::philox4x32_10(*c, *k),
            "counter {c:?}, key {k:?}"
        );
    }
}

/// The f16 kernel stores the state in half precision and computes in f32.
/// Each step rounds every value to f16 (half an ulp: 2⁻¹² relative, and
/// |u|, |v| ≤ 1), so over n steps of this short, non-amplifying horizon
/// the state may drift from the f32 reference by at most n·2⁻¹²; it must
/// also differ (it really is f16) and have evolved from its start by more
/// than that bound (it really ran).
#[test]
fn f16_kernel_runs_and_tracks_the_f32_reference() {
    let Some(backend) = common::gpu() else {
        return;
    };
    let Backend::Gpu(ctx) = &backend else {
        unreachable!()
    };
    let require = std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1");
    if !vtwin::gpu::f16::supported(ctx) {
        assert!(!require, "REQUIRE_GPU=1 but the adapter has no SHADER_F16");
        eprintln!("skipped: the adapter has no SHADER_F16");
        return;
    }
    let (members, grid, steps) = (4u32, 32u32, 50u64);
    let plan = vtwin::bench::problem::plan(members, grid).unwrap();
    let mut cpu = Backend::Cpu.engine(&plan, None).unwrap();
    let initial = cpu.read_state().unwrap();
    cpu.advance(steps).unwrap();
    let reference = cpu.read_state().unwrap();
    let names: Vec<&str> = plan.block.params.iter().map(|p| p.name.as_str()).collect();
    let p32 = plan.params_f32();
    let np = names.len();
    let ordered: Vec<f32> = (0..members as usize)
        .flat_map(|m| {
            ["Du", "Dv", "F", "k"].map(|n| {
                let i = names.iter().position(|x| *x == n).unwrap();
                p32[m * np + i]
            })
        })
        .collect();
    let run = vtwin::gpu::f16::gray_scott_f16(ctx, grid, members, &ordered, &initial, steps)
        .expect("f16 kernel runs");
    assert_eq!(run.state.len(), reference.len());
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).abs())
            .fold(0.0, f64::max)
    };
    let bound = steps as f64 * 2f64.powi(-12);
    let drift = max_diff(&run.state, &reference);
    let moved = max_diff(&reference, &initial);
    eprintln!(
        "f16 vs f32 after {steps} steps: max |Δ| = {drift:.3e} (bound {bound:.3e}); evolved by {moved:.3e}"
    );
    assert!(run.state.iter().all(|x| x.is_finite()));
    assert!(drift <= bound, "f16 drifted {drift} > {bound}");
    assert!(
        drift > 0.0,
        "f16 state identical to f32: the f16 kernel did not run"
    );
    assert!(
        moved > bound,
        "the problem hardly evolved ({moved}); the check would be empty"
    );
}
