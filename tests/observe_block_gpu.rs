//! The block-mean observable on the GPU against its CPU twin: both engines
//! are given the same random state and must observe identical values (the
//! twins visit the block's sites in the same order and reduce with the
//! same tree), and both must match the direct f64 average to 1e-5
//! relative. Blocks cover small, odd-sized and larger-than-256-site cases
//! so the strided loop wraps.
//!
//! Needs a GPU adapter (lavapipe counts: `WGPU_BACKEND=vulkan`). Without
//! one the test prints "skipped" — unless REQUIRE_GPU=1, when a missing
//! adapter is a failure.

use std::path::Path;
use vtwin::core::observe::Reduction;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;

const SCENE: &str = r#"
[model]
kind = "custom"
species = ["u", "v"]
reactions = { u = "0.0", v = "0.0" }
[grid]
nx = 40
ny = 30
dx = 0.5
[time]
dt = 0.1
steps = 1
[ensemble]
members = 3
[[observables]]
name = "small"
kind = "block_mean"
field = "v"
region = [1.0, 2.0, 2.6, 3.1]
[[observables]]
name = "wide"
kind = "block_mean"
field = "u"
region = [0.0, 0.0, 20.0, 15.0]
[[observables]]
name = "odd"
kind = "block_mean"
field = "u"
region = [3.2, 1.1, 14.9, 13.3]
[[observables]]
name = "mean_u"
kind = "mean"
field = "u"
"#;

#[test]
fn block_means_agree_between_gpu_and_cpu() {
    let gpu = match Backend::open(BackendChoice::Gpu, None, &mut |_| {}) {
        Ok(b) => b,
        Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("REQUIRE_GPU=1 but no GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no GPU adapter ({e})");
            return;
        }
    };
    let scene = Scene::parse(Path::new("block.toml"), SCENE).unwrap();
    let plan = Plan::freeze(&scene, &PlanOptions::default()).unwrap();
    let g = plan.model.grid();
    let len = plan.members as usize * plan.model.state_len();
    // A deterministic, irregular state.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let state: Vec<f32> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 * 3.0 - 1.0
        })
        .collect();
    let observe = |backend: &Backend| {
        let mut e = backend.engine(&plan, Some(2)).unwrap();
        e.write_state(&state).unwrap();
        e.observe().unwrap()
    };
    let cpu = observe(&Backend::Cpu);
    let gpu_obs = observe(&gpu);
    assert_eq!(cpu, gpu_obs, "GPU and CPU block means differ");
    let nout = plan.observables.ops.len() + 1;
    let n = g.sites();
    let sl = plan.model.state_len();
    for m in 0..plan.members as usize {
        for (k, op) in plan.observables.ops.iter().enumerate() {
            let Reduction::BlockMean { x0, y0, w, h } = op.reduction else {
                continue;
            };
            assert!(w * h > 0);
            let f = &state[m * sl + op.field as usize * n..][..n];
            let mut sum = 0.0f64;
            for y in y0..y0 + h {
                for xx in x0..x0 + w {
                    sum += f[(y * g.nx + xx) as usize] as f64;
                }
            }
            let direct = sum / (w * h) as f64;
            let got = cpu[m * nout + k] as f64;
            assert!(
                (got - direct).abs() <= 1e-5 * direct.abs().max(1.0),
                "member {m} {}: {got} vs direct {direct}",
                op.name
            );
        }
    }
    // The whole-domain block equals the plain mean.
    let wide = plan.observables.ops[1].reduction;
    assert_eq!(
        wide,
        Reduction::BlockMean {
            x0: 0,
            y0: 0,
            w: 40,
            h: 30
        }
    );
    for m in 0..plan.members as usize {
        assert_eq!(cpu[m * nout + 1], cpu[m * nout + 3]);
    }
}
