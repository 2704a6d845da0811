//! Criterion benches of one assimilation analysis (host, f64: transform and
//! application): EnKF, ETKF, LETKF and the particle filter on a seeded
//! Gaussian ensemble of 1,024 state values per member with 64 point
//! observations (`vtwin::drivers::bench::da`), at 64, 256 and 1,024 members.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Duration;
use vtwin::drivers::bench::da::{SWEEP_P, inputs, methods};
use vtwin::methods::assim::{Filter, FilterConfig};

fn analysis(c: &mut Criterion) {
    for (name, method) in methods().expect("methods") {
        let mut g = c.benchmark_group(format!("da/{name}"));
        g.sample_size(10).measurement_time(Duration::from_secs(2));
        for n in [64u32, 256, 1024] {
            let mut rng = StdRng::seed_from_u64(7);
            let (ens, obs) = inputs(n, SWEEP_P, &mut rng);
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    let mut e = ens.clone();
                    let mut f = Filter::new(FilterConfig {
                        method: method.clone(),
                        inflation: 1.0,
                    })
                    .expect("filter");
                    f.analyse(&mut e, &obs, &mut rng).expect("analysis");
                    e
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, analysis);
criterion_main!(benches);
