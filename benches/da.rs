//! Criterion benches of one plain-matrix assimilation analysis (host, f64):
//! the stochastic EnKF and the ETKF on a seeded Gaussian ensemble of 8,192
//! state values per member with 256 observations (`vtwin::bench::da`), at
//! 16, 64 and 256 members.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Duration;
use vtwin::assim::{Filter, FilterConfig, Method};
use vtwin::bench::da::inputs;

fn analysis(c: &mut Criterion) {
    for (name, method) in [
        ("enkf", Method::EnKF),
        ("etkf", Method::Etkf { rotate: false }),
    ] {
        let mut g = c.benchmark_group(format!("da/{name}"));
        g.sample_size(10).measurement_time(Duration::from_secs(2));
        for n in [16u32, 64, 256] {
            let mut rng = StdRng::seed_from_u64(7);
            let (ens, obs) = inputs(n, &mut rng);
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
