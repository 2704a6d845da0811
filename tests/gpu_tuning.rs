//! The reaction-diffusion single-step kernel in every shape the tuner may
//! choose (`gpu::autotune::candidates`: workgroup shape, sites per
//! invocation, vec4 or scalar state access) gives the same bits whatever
//! the shape and the batch size, agrees with the CPU twin within
//! `vtwin verify`'s GPU–CPU tolerance (bit for bit where the kinetics use
//! no transcendental functions) and freezes the same members, for every
//! grid model: Gray–Scott,
//! tumour with tissue map and therapy, cardiac with stimuli, custom
//! kinetics, grids whose width is not a multiple of 4 (periodic and
//! no-flux), 1-D grids (ny = 1), and members that diverge and are frozen.
//! Runs on lavapipe in CI; with `REQUIRE_GPU=1` a missing adapter fails.

mod common;

use vtwin::core::model::KernelConfig;
use vtwin::core::plan::Plan;
use vtwin::drivers::verify;
use vtwin::engine::Engine;
use vtwin::engine::backend::Backend;
use vtwin::engine::cpu::CpuEngine;
use vtwin::engine::gpu::autotune::{self, KernelChoice};
use vtwin::engine::gpu::engine::{GpuEngine, GpuOptions};

/// Steps between observations: divergence is detected (and the member
/// frozen) when observing, on both backends.
const EVERY: u64 = 5;

fn run(e: &mut dyn Engine, steps: u64) -> (Vec<f32>, Vec<String>) {
    let mut done = 0;
    while done < steps {
        let n = EVERY.min(steps - done);
        e.advance(n).unwrap();
        e.observe().unwrap();
        done += n;
    }
    let status = e
        .status()
        .unwrap()
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    (e.read_state().unwrap(), status)
}

fn same_bits(a: &[f32], b: &[f32]) -> Option<usize> {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .position(|(x, y)| x.to_bits() != y.to_bits())
}

/// A Gray–Scott scene on an `nx × ny` grid (widths not a multiple of 4
/// take the scalar kernel even at 4 sites per invocation).
fn gray_scott(nx: u32, ny: u32, boundary: &str) -> String {
    format!(
        r#"
[model]
kind = "gray_scott"
[grid]
nx = {nx}
ny = {ny}
dx = 0.0390625
boundary = "{boundary}"
[time]
dt = 1.0
steps = 30
[ensemble]
members = 5
seed = 9
[parameters]
Du = 2e-5
Dv = 1e-5
F = {{ dist = "uniform", low = 0.03, high = 0.05 }}
k = {{ dist = "uniform", low = 0.055, high = 0.065 }}
[initial]
background = {{ u = 1.0, v = 0.0 }}
patches = [{{ shape = "square", center = [0.4, 0.5], size = 0.3, values = {{ u = 0.5, v = 0.25 }} }}]
noise = 0.05
noise_species = ["u", "v"]
"#
    )
}

fn scenes() -> Vec<(String, Plan)> {
    let mut v: Vec<(String, Plan)> = verify::model_scenes()
        .into_iter()
        .map(|(n, t)| (n.to_string(), verify::plan(&verify::scene(n, &t), Some(5))))
        .collect();
    for (name, text) in [
        ("gray_scott 30×9 periodic", gray_scott(30, 9, "periodic")),
        ("gray_scott 13×6 noflux", gray_scott(13, 6, "noflux")),
        ("gray_scott 37×1 periodic", gray_scott(37, 1, "periodic")),
        ("gray_scott 64×1 noflux", gray_scott(64, 1, "noflux")),
        ("diverging", common::DIVERGING.to_string()),
    ] {
        v.push((
            name.to_string(),
            verify::plan(&verify::scene(name, &text), None),
        ));
    }
    v
}

/// Every candidate shape × batch sizes {all, 2} gives the bits of the
/// first (the default shape, one batch); that result agrees with the CPU
/// twin (`verify::agreement` ≤ 1 at the GPU–CPU tolerance; bit for bit for
/// Gray–Scott, whose kinetics have no `exp`) and member status is the
/// CPU's. The vec4 kernel is exercised wherever the width allows it and
/// the scalar one elsewhere.
#[test]
fn every_kernel_shape_and_batch_size_matches_the_cpu_twin() {
    let Some(Backend::Gpu(ctx)) = common::gpu() else {
        return;
    };
    let mut vec4_seen = 0;
    let mut scalar_seen = 0;
    for (name, p) in scenes() {
        let steps = p.steps.min(30);
        let (want, want_status) = run(&mut CpuEngine::new(&p), steps);
        let cands = autotune::candidates(&p);
        assert!(!cands.is_empty(), "{name}: no shapes");
        if name == "diverging" {
            assert!(
                want_status.iter().any(|s| s == "diverged")
                    && want_status.iter().any(|s| s == "ok"),
                "{name}: the scene must freeze some members and not others: {want_status:?}"
            );
        }
        let mut reference: Option<Vec<f32>> = None;
        for c in cands {
            for batch in [None, Some(2)] {
                let mut e = GpuEngine::with_options(
                    ctx.clone(),
                    &p,
                    &GpuOptions {
                        batch_size: batch,
                        kernel: KernelChoice::Fixed(c),
                        ..Default::default()
                    },
                )
                .unwrap();
                let k = e.kernel().expect("RD engines report their kernel shape");
                assert_eq!(k.config, c);
                if k.vec4 {
                    vec4_seen += 1;
                } else {
                    scalar_seen += 1;
                }
                let (got, status) = run(&mut e, steps);
                let label = format!("{name}, shape {}, batch {batch:?}", c.label());
                assert_eq!(status, want_status, "{label}");
                let Some(r) = &reference else {
                    let a =
                        verify::agreement(&got, &want, verify::GPU_CPU_ATOL, verify::GPU_CPU_RTOL);
                    assert!(a <= 1.0, "{label}: GPU–CPU agreement {a} > 1");
                    if name.starts_with("gray_scott") {
                        assert_eq!(
                            same_bits(&want, &got),
                            None,
                            "{label}: not bit-identical to the CPU"
                        );
                    }
                    reference = Some(got);
                    continue;
                };
                if let Some(i) = same_bits(r, &got) {
                    panic!(
                        "{label}: word {i} differs from the default shape: {} against {}",
                        r[i], got[i]
                    );
                }
            }
        }
    }
    assert!(
        vec4_seen > 0 && scalar_seen > 0,
        "{vec4_seen} {scalar_seen}"
    );
}

/// `KernelConfig::DEFAULT` is what an untuned engine on a software adapter
/// uses, and `tune` times every candidate, keeps one of them and leaves
/// the state as an untuned run leaves it.
#[test]
fn tuning_picks_a_candidate_and_changes_nothing() {
    let Some(Backend::Gpu(ctx)) = common::gpu() else {
        return;
    };
    let (n, t) = verify::model_scenes().swap_remove(0);
    let p = verify::plan(&verify::scene(n, &t), Some(4));
    let mut plain = GpuEngine::with_options(
        ctx.clone(),
        &p,
        &GpuOptions {
            kernel: KernelChoice::Default,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(plain.kernel().unwrap().config, KernelConfig::DEFAULT);
    let mut tuned = GpuEngine::with_options(
        ctx.clone(),
        &p,
        &GpuOptions {
            kernel: KernelChoice::Tune,
            ..Default::default()
        },
    )
    .unwrap();
    let k = tuned.kernel().unwrap().clone();
    let cands = autotune::candidates(&p);
    assert_eq!(k.timings.len(), cands.len());
    assert!(k.timings.iter().all(|(_, s)| *s > 0.0), "{:?}", k.timings);
    assert!(cands.contains(&k.config));
    assert_eq!(
        serde_json::to_value(&k).unwrap()["source"],
        serde_json::json!("tuned")
    );
    let (a, _) = run(&mut plain, 20);
    let (b, _) = run(&mut tuned, 20);
    assert_eq!(same_bits(&a, &b), None);
}

/// The GPU rd suite at toy sizes: the first row is `copy` (a positive
/// bandwidth, its own fraction 1), every stepping row's `fraction_of_copy`
/// is its bytes/s over the copy row's, single-step rows name their kernel
/// shape (one of the candidates), and the single-step checksum is the CPU engine's (Gray–Scott is
/// bit-identical across backends).
#[test]
fn rd_suite_reports_copy_bandwidth_and_kernel_shape() {
    let Some(backend) = common::gpu() else {
        return;
    };
    let o = vtwin::drivers::bench::rd::RdOptions {
        grid: 16,
        members: vec![2],
        steps: Some(8),
        repeats: 1,
        fused: vec![2],
        max_members: 2,
        scaling: false,
        single_grid: 16,
    };
    let (rows, _) = vtwin::drivers::bench::rd::suite(&backend, &o, None, &mut |_| {}).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
    assert_eq!(
        names,
        [
            "copy",
            "single-step",
            "fused-2",
            "single-member",
            "single-step-sync",
            "observe/reduce-on-device",
            "observe/full-readback"
        ]
    );
    let copy = rows[0].bytes_per_s;
    assert!(copy > 0.0 && copy.is_finite(), "{copy}");
    assert_eq!(rows[0].fraction_of_copy, Some(1.0));
    for r in &rows[1..5] {
        let f = r
            .fraction_of_copy
            .unwrap_or_else(|| panic!("{}: no fraction", r.case));
        assert!(
            (f - r.bytes_per_s / copy).abs() <= 1e-12 * f.abs(),
            "{}",
            r.case
        );
    }
    let cands = autotune::candidates(&vtwin::drivers::bench::problem::plan(2, 16).unwrap());
    for r in [&rows[1], &rows[3]] {
        let k = r
            .kernel
            .as_ref()
            .expect("single-step rows name their shape");
        let label = k["label"].as_str().unwrap_or_default();
        let c = KernelConfig::parse(label).unwrap();
        assert!(cands.contains(&c), "{}: {label} is not a candidate", r.case);
    }
    assert!(
        rows[2].kernel.is_none(),
        "fused rows have no single-step shape"
    );
    let plan = vtwin::drivers::bench::problem::plan(2, 16).unwrap();
    let mut e = CpuEngine::new(&plan);
    e.advance(8).unwrap();
    let want = vtwin::drivers::bench::problem::checksum(&plan, &e.read_state().unwrap());
    assert_eq!(rows[1].checksum, Some(want));
}
