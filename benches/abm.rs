//! Criterion benches of one agent-based step (`tumour_abm`, the scene of
//! `vtwin::drivers::bench::abm`: a spheroid plus immune cells) at {64, 1024} members
//! × {1k, 10k} agents per member, on the CPU backend and on the GPU when
//! there is an adapter (lavapipe counts). Cases beyond 2²⁰ agents in total
//! are skipped on the CPU and software adapters, as `vtwin bench` does;
//! each skip is printed. Throughput (agent-steps/s) is criterion's element
//! rate.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;

fn step(c: &mut Criterion) {
    let mut backends = vec![("cpu", Backend::Cpu)];
    match Backend::open(BackendChoice::Gpu, None, &mut |_| {}) {
        Ok(b) => backends.push(("gpu", b)),
        Err(e) => println!("abm/gpu: skipped, no GPU adapter ({e})"),
    }
    for (name, backend) in &backends {
        let cap = vtwin::drivers::bench::abm::default_max_agents(backend);
        let mut g = c.benchmark_group(format!("abm/{name}"));
        g.sample_size(10).measurement_time(Duration::from_secs(3));
        for agents in [1000u32, 10_000] {
            for members in [64u32, 1024] {
                if agents as u64 * members as u64 > cap {
                    println!("abm/{name}: {members}×{agents} skipped (over {cap} agents)");
                    continue;
                }
                let plan = vtwin::drivers::bench::abm::plan(agents, members, 1).expect("plan");
                let mut e = backend.engine(&plan, None).expect("engine");
                g.throughput(Throughput::Elements(agents as u64 * members as u64));
                g.bench_with_input(
                    BenchmarkId::new(format!("{agents}_agents"), members),
                    &members,
                    |b, _| {
                        b.iter(|| {
                            e.advance(1).expect("step");
                            e.status().expect("sync")
                        })
                    },
                );
            }
        }
        g.finish();
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
