//! The fused multi-step kernel (`shaders/rd/fused.wgsl`) against the
//! single-step reference kernel on the same adapter (lavapipe in CI), on
//! grids that are not multiples of the tile, both boundaries, a tissue map
//! and a custom model, with step counts that leave a short last dispatch;
//! frozen (diverged) members stay frozen; models whose kinetics read the
//! step or the time are refused with a clear message.
//!
//! Tolerance: both kernels do the same arithmetic in the same order, so
//! they agree to the last bit unless the driver contracts multiply-adds
//! differently in the two; the test accepts |fused − single| ≤ 1e-6 +
//! 1e-5·|single| and prints how many values were bit-identical.
//!
//! GPU tests never pass silently without a GPU: with REQUIRE_GPU=1 a
//! missing adapter fails; otherwise the test prints "skipped".

mod common;

use common::gpu;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::backend::Backend;
use vtwin::engine::gpu::engine::GpuOptions;
use vtwin::input::scene::Scene;

fn plan(text: &str) -> Plan {
    let scene = Scene::parse(std::path::Path::new("<gpu_fused test>"), text).unwrap();
    Plan::freeze(&scene, &PlanOptions::default()).unwrap()
}

fn run(backend: &Backend, plan: &Plan, fused: Option<u32>, steps: u64) -> Vec<f32> {
    let mut e = backend
        .engine_with(
            plan,
            &GpuOptions {
                fused,
                ..Default::default()
            },
        )
        .unwrap();
    e.advance(steps).unwrap();
    e.read_state().unwrap()
}

/// (max |a − b| / (atol + rtol·|b|), bit-identical count).
fn compare(a: &[f32], b: &[f32]) -> (f64, usize) {
    let worst = vtwin::drivers::verify::agreement(a, b, 1e-6, 1e-5);
    let same = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.to_bits() == y.to_bits())
        .count();
    (worst, same)
}

const GS: &str = r#"
[model]
kind = "gray_scott"
[grid]
nx = 45
ny = 37
dx = 1.0
boundary = "BOUNDARY"
[time]
dt = 1.0
steps = 10
[ensemble]
members = 3
seed = 9
[parameters]
Du = 0.12
Dv = 0.105
F = { dist = "uniform", low = 0.02, high = 0.06 }
k = 0.06
TISSUE
[initial]
background = { u = 1.0, v = 0.0 }
patches = [{ shape = "square", center = [22.5, 18.5], size = 5.0, values = { u = 0.5, v = 0.25 } }]
noise = 0.2
noise_species = ["u", "v"]
"#;

fn gs(boundary: &str, tissue: bool) -> String {
    GS.replace("BOUNDARY", boundary).replace(
        "TISSUE",
        if tissue {
            "[tissue]\ngenerate = { kind = \"blobs\", contrast = 0.5, scale = 4.0, seed = 2 }"
        } else {
            ""
        },
    )
}

#[test]
fn fused_matches_single_step_kernel() {
    let Some(b) = gpu() else { return };
    let custom = vtwin::drivers::verify::model_scenes()
        .into_iter()
        .find(|(n, _)| *n == "custom")
        .map(|(_, t)| t)
        .unwrap();
    let cases = [
        ("gray_scott periodic", gs("periodic", false)),
        ("gray_scott noflux", gs("noflux", false)),
        ("gray_scott noflux + tissue map", gs("noflux", true)),
        ("gray_scott periodic + tissue map", gs("periodic", true)),
        ("custom", custom),
    ];
    for (name, text) in cases {
        let p = plan(&text);
        // 11 steps: with K = 4 the dispatches take 4, 4 and 3 steps.
        let single = run(&b, &p, None, 11);
        for k in [1u32, 4, 8] {
            let fused = run(&b, &p, Some(k), 11);
            let (worst, same) = compare(&fused, &single);
            println!(
                "{name}, K = {k}: {same} of {} values bit-identical, worst {worst:.3} of tolerance",
                single.len()
            );
            assert!(
                worst <= 1.0,
                "{name}, K = {k}: fused differs from single-step ({worst:.3} × tolerance)"
            );
        }
    }
}

#[test]
fn fused_keeps_failed_members_frozen() {
    let Some(b) = gpu() else { return };
    let p = plan(&gs("periodic", false));
    let mut e = b
        .engine_with(
            &p,
            &GpuOptions {
                fused: Some(4),
                ..Default::default()
            },
        )
        .unwrap();
    let mut s = e.read_state().unwrap();
    let n = p.model.state_len();
    s[n + 17] = f32::NAN; // member 1 turns non-finite
    e.write_state(&s).unwrap();
    e.observe().unwrap();
    assert!(!e.status().unwrap()[1].is_ok());
    e.advance(6).unwrap();
    let after = e.read_state().unwrap();
    let frozen = after[n..2 * n]
        .iter()
        .zip(&s[n..2 * n])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(frozen, "a diverged member changed under the fused kernel");
    assert!(after[..n] != s[..n], "a healthy member did not advance");
}

#[test]
fn fused_refuses_time_dependent_kinetics() {
    let Some(b) = gpu() else { return };
    for name in ["tumour", "cardiac"] {
        let text = vtwin::drivers::verify::model_scenes()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
            .unwrap();
        let p = plan(&text);
        let err = b
            .engine_with(
                &p,
                &GpuOptions {
                    fused: Some(4),
                    ..Default::default()
                },
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(name) && err.contains("no fused"),
            "{name}: unexpected error `{err}`"
        );
    }
}

/// The fused kernel flushes stored values as the single-step kernel does
/// (`shaders/rd/flush.wgsl`): through the decaying regime
/// (`verify::DECAYING_GRAY_SCOTT`, 800 steps) its state holds no subnormal
/// value and agrees with the CPU twin to `verify::SUBNORMAL_ATOL`; on a
/// software adapter, which keeps subnormal intermediates like the CPU, it
/// is bit-identical to it.
#[test]
fn fused_flushes_subnormals_like_the_cpu_twin() {
    let Some(b) = gpu() else { return };
    let p = vtwin::drivers::verify::plan(
        &vtwin::drivers::verify::scene("decaying", vtwin::drivers::verify::DECAYING_GRAY_SCOTT),
        None,
    );
    let cpu = vtwin::drivers::verify::run_to_end(&Backend::Cpu, &p, None).unwrap();
    for k in [4u32, 8] {
        let fused = run(&b, &p, Some(k), p.steps);
        let s = vtwin::drivers::verify::DecayComparison::of(&fused, &cpu);
        println!("K = {k}: {s:?}");
        assert!(s.passes(), "K = {k}: {s:?}");
        assert!(
            s.zeros.0 > s.len / 4,
            "K = {k}: the case must reach the flush: {s:?}"
        );
        if b.adapter().is_some_and(|a| a.is_software()) {
            assert_eq!(s.identical, s.len, "K = {k}: {s:?}");
        }
    }
}
