//! Criterion benches of the reaction-diffusion step on the pinned
//! Gray–Scott problem (`vtwin::drivers::bench::problem`, 64×64, periodic):
//!
//! - `rd_step/{cpu,gpu}/<members>`: one `advance(8)` plus synchronisation
//!   at 16, 256 and 4,096 members (recorded, not gated). Sizes are capped
//!   by `VTWIN_BENCH_MAX_MEMBERS` (default 4,096) and every group takes 10
//!   samples so `cargo bench` finishes in a few minutes on a 2-core machine
//!   with lavapipe.
//! - `rd_fused/gpu/<K>`: the fused kernel at 256 members against the
//!   single-step kernel (K = 1 row is the single-step kernel).
//! - `rd_cpu_twin/{general,fast}`: one member's step by the general CPU
//!   twin and by the specialised Gray–Scott path (same bits).
//!
//! The GPU groups need an adapter (`WGPU_BACKEND=vulkan` for lavapipe);
//! without one they print why and are left out.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use vtwin::drivers::bench::problem;
use vtwin::engine::backend::Backend;
use vtwin::engine::backend::EngineOptions;
use vtwin::engine::{BackendChoice, Engine};

const STEPS: u64 = 8;

fn max_members() -> u32 {
    std::env::var("VTWIN_BENCH_MAX_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

fn gpu() -> Option<Backend> {
    match Backend::open(BackendChoice::Gpu, None, &mut |_| {}) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("GPU benches left out: {e}");
            None
        }
    }
}

fn advance_group(
    c: &mut Criterion,
    name: &str,
    backend: &Backend,
    opts: &EngineOptions,
    sizes: &[u32],
) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &m in sizes.iter().filter(|&&m| m <= max_members()) {
        let plan = problem::plan(m, 64).expect("pinned problem");
        let mut e = backend.engine_with(&plan, opts).expect("engine");
        g.throughput(Throughput::Elements(m as u64 * 64 * 64 * STEPS));
        g.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
            b.iter(|| {
                e.advance(STEPS).expect("advance");
                e.status().expect("sync");
            })
        });
    }
    g.finish();
}

fn rd_step(c: &mut Criterion) {
    advance_group(
        c,
        "rd_step/cpu",
        &Backend::Cpu,
        &EngineOptions::default(),
        &[16, 256, 4096],
    );
    if let Some(b) = gpu() {
        advance_group(
            c,
            "rd_step/gpu",
            &b,
            &EngineOptions::default(),
            &[16, 256, 4096],
        );
    }
}

fn rd_fused(c: &mut Criterion) {
    let Some(b) = gpu() else { return };
    let mut g = c.benchmark_group("rd_fused/gpu");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let plan = problem::plan(256, 64).expect("pinned problem");
    for k in [1u32, 4, 8] {
        let opts = EngineOptions {
            fused: (k > 1).then_some(k),
            ..Default::default()
        };
        let mut e = b.engine_with(&plan, &opts).expect("engine");
        g.throughput(Throughput::Elements(256 * 64 * 64 * STEPS));
        g.bench_with_input(BenchmarkId::from_parameter(k), &k, |bch, _| {
            bch.iter(|| {
                e.advance(STEPS).expect("advance");
                e.status().expect("sync");
            })
        });
    }
    g.finish();
}

fn rd_cpu_twin(c: &mut Criterion) {
    let plan = problem::plan(1, 64).expect("pinned problem");
    let mut e = vtwin::engine::cpu::CpuEngine::new(&plan);
    let src = e.read_state().expect("state");
    let params = e.read_params().expect("params");
    let mut dst = vec![0.0f32; src.len()];
    let model = vtwin::drivers::bench::problem::rd_model(64).expect("model");
    let mut g = c.benchmark_group("rd_cpu_twin");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(64 * 64));
    g.bench_function("general", |b| {
        b.iter(|| {
            vtwin::core::models::rd::cpu::step_member_general(&model, 0, &params, &src, &mut dst)
        })
    });
    g.bench_function("fast", |b| {
        b.iter(|| vtwin::core::models::rd::cpu::step_member(&model, 0, &params, &src, &mut dst))
    });
    g.finish();
}

criterion_group!(benches, rd_step, rd_fused, rd_cpu_twin);
criterion_main!(benches);
