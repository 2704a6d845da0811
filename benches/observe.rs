//! Criterion benches of observation (the per-member reductions) on the
//! pinned problem, 256 members of 64×64: `observe()` (reduced on the GPU,
//! only the observables read back; on the CPU backend by the CPU twin)
//! against reading the whole state back. GPU groups need an adapter.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use vtwin::drivers::bench::problem;
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;

fn observe(c: &mut Criterion) {
    let mut backends = vec![("cpu", Backend::Cpu)];
    match Backend::open(BackendChoice::Gpu, None, &mut |_| {}) {
        Ok(b) => backends.push(("gpu", b)),
        Err(e) => eprintln!("GPU benches left out: {e}"),
    }
    let plan = problem::plan(256, 64).expect("pinned problem");
    for (name, b) in backends {
        let mut e = b.engine(&plan, None).expect("engine");
        e.advance(8).expect("advance");
        let mut g = c.benchmark_group(format!("observe/{name}"));
        g.sample_size(20).measurement_time(Duration::from_secs(2));
        g.throughput(Throughput::Elements(256 * 64 * 64));
        g.bench_function("reduce", |bch| bch.iter(|| e.observe().expect("observe")));
        g.bench_function("full_readback", |bch| {
            bch.iter(|| e.read_state().expect("read"))
        });
        g.finish();
    }
}

criterion_group!(benches, observe);
criterion_main!(benches);
