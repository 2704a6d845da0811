//! GPU–CPU agreement of the Lorenz ensemble models, of a short Lorenz twin
//! and of the tissue twin (analysis, posterior, arm forecasts). Runs on any GPU adapter (lavapipe in CI: WGPU_BACKEND=vulkan).
//! Without an adapter the tests print "skipped" and pass, unless
//! REQUIRE_GPU=1 (set by `.ci/run`), which turns a missing adapter into a
//! failure (`tests/common`).

mod common;

use common::gpu;
use std::path::Path;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::drivers::verify::agreement;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;
use vtwin::methods::twin::setup::ObsSource;
use vtwin::methods::twin::{Options, Setup};

fn scene(name: &str) -> Scene {
    Scene::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenes")
            .join(name),
    )
    .unwrap()
}

/// Advances `members` members from the same pseudo-random states on both
/// backends (GPU in batches of 5, to cross batch boundaries) and returns
/// (gpu, cpu) final states.
fn both(gpu: &Backend, s: &Scene, members: u32, steps: u64, centre: f32) -> (Vec<f32>, Vec<f32>) {
    let plan = Plan::freeze(
        s,
        &PlanOptions {
            members: Some(members),
            ..Default::default()
        },
    )
    .unwrap();
    let n = plan.model.state_len() * members as usize;
    // A fixed, irregular initial ensemble (a Weyl sequence around `centre`).
    let x0: Vec<f32> = (0..n)
        .map(|i| centre + 4.0 * (((i as f64 * 0.618_033_988_75).fract() - 0.5) as f32))
        .collect();
    let mut out = Vec::new();
    for (b, batch) in [(gpu.clone(), Some(5)), (Backend::Cpu, None)] {
        let mut e = b.engine(&plan, batch).unwrap();
        e.write_state(&x0).unwrap();
        e.advance(steps).unwrap();
        out.push(e.read_state().unwrap());
    }
    (out.remove(0), out.remove(0))
}

/// One time unit of Lorenz-96 (20 RK4 steps) and of Lorenz-63 (100 steps)
/// from 16 members: the f32 GPU kernels and their CPU twins agree to
/// within 1e-4 absolute + 1e-4 relative (the kernels differ at most by
/// fused multiply-adds, ~1e-7 per step, amplified by e^(λt) ≈ 5.5 over one
/// time unit of Lorenz-96's leading Lyapunov exponent λ ≈ 1.7).
#[test]
fn lorenz_kernels_agree_with_cpu() {
    let Some(gpu) = gpu() else { return };
    let (g, c) = both(&gpu, &scene("lorenz96_sakov2008.toml"), 16, 20, 2.0);
    let a = agreement(&g, &c, 1e-4, 1e-4);
    println!("lorenz96: agreement ratio {a:.3e}");
    assert!(a <= 1.0, "lorenz96 GPU–CPU disagreement ratio {a}");
    assert!(g.iter().all(|v| v.is_finite()));
    let (g, c) = both(&gpu, &scene("lorenz63_sakov2012.toml"), 16, 100, 5.0);
    let a = agreement(&g, &c, 1e-4, 1e-4);
    println!("lorenz63: agreement ratio {a:.3e}");
    assert!(a <= 1.0, "lorenz63 GPU–CPU disagreement ratio {a}");
}

/// The first 60 cycles (three time units) of the Lorenz-96 ETKF twin give the
/// same analysis RMSE on both backends to 1e-3 relative: same truth,
/// observations and filter random numbers; only the forecast backend
/// differs.
#[test]
fn short_twin_agrees_across_backends() {
    let Some(gpu) = gpu() else { return };
    let mut s = scene("lorenz96_sakov2008.toml");
    // Score from the first cycle.
    s.file.assimilation.as_mut().unwrap().burn_in = 0.0;
    let opts = Options {
        cycles: Some(60),
        ..Default::default()
    };
    let setup = Setup::new(&s, &opts, ObsSource::Twin).unwrap();
    let run =
        |b: &Backend| vtwin::methods::twin::run(&setup, b, None, true, &mut |_, _| {}).unwrap();
    let (g, c) = (run(&gpu), run(&Backend::Cpu));
    for (x, y) in g.cycles.iter().zip(&c.cycles) {
        let (a, b) = (x.rmse_analysis.unwrap(), y.rmse_analysis.unwrap());
        assert!(
            (a - b).abs() <= 1e-3 * b,
            "cycle {}: gpu {a}, cpu {b}",
            x.cycle
        );
    }
    println!(
        "gpu {:?}\ncpu {:?}",
        g.scores.as_ref().unwrap(),
        c.scores.as_ref().unwrap()
    );
}

/// The tissue twin (16 members) on both backends: the same analysis RMSE,
/// posterior means and forecast burden quantiles to 1e-4 relative (the
/// reaction–diffusion kernel and its CPU twin differ by fused multiply-adds
/// only; parameters and states pass through the same f64 analysis).
#[test]
fn tissue_twin_agrees_across_backends() {
    let Some(gpu) = gpu() else { return };
    let s = scene("tumour_twin.toml");
    let opts = Options {
        members: Some(16),
        ..Default::default()
    };
    let setup = Setup::new(&s, &opts, ObsSource::Twin).unwrap();
    let run =
        |b: &Backend| vtwin::methods::twin::run(&setup, b, Some(5), true, &mut |_, _| {}).unwrap();
    let (g, c) = (run(&gpu), run(&Backend::Cpu));
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs().max(1e-12),
            "{what}: gpu {a}, cpu {b}"
        );
    };
    let (sg, sc) = (g.scores.unwrap(), c.scores.unwrap());
    close(sg.rmse_analysis, sc.rmse_analysis, "rmse_analysis");
    close(sg.rmse_free, sc.rmse_free, "rmse_free");
    for k in 0..g.posterior.names.len() {
        let mean = |p: &vtwin::methods::twin::run::Posterior| p.draws.row(k).mean();
        close(
            mean(&g.posterior),
            mean(&c.posterior),
            &g.posterior.names[k],
        );
    }
    let (fg, fc) = (g.forecast.unwrap(), c.forecast.unwrap());
    for (a, b) in fg.arms.iter().zip(&fc.arms) {
        let burden =
            |f: &[f32]| -> Vec<f64> { f.chunks(fg.n_ops + 1).map(|c| c[0] as f64).collect() };
        let (x, y) = (
            burden(a.frames.last().unwrap()),
            burden(b.frames.last().unwrap()),
        );
        for q in [0.05, 0.5, 0.95] {
            let w = vtwin::methods::twin::scores::equal(x.len());
            close(
                vtwin::methods::twin::scores::quantile(&x, &w, q),
                vtwin::methods::twin::scores::quantile(&y, &w, q),
                &format!("{} burden q{q}", a.arm),
            );
        }
    }
}
