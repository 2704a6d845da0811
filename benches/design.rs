//! Criterion benches of design generation: random, LHS, Sobol and Saltelli
//! (second order) over ten uniform parameters, 1,024 base points.

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;
use vtwin::input::params::{Distribution, ParamBlock};
use vtwin::methods::design::{DesignMethod, DesignOptions, generate};

fn design(c: &mut Criterion) {
    let block = ParamBlock::from_pairs((0..10).map(|i| {
        (
            format!("p{i}"),
            Distribution::Uniform {
                low: 0.0,
                high: 1.0 + i as f64,
            },
        )
    }));
    let mut g = c.benchmark_group("design");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    for method in [
        DesignMethod::Random,
        DesignMethod::Lhs,
        DesignMethod::Sobol,
        DesignMethod::Saltelli,
    ] {
        let opts = DesignOptions {
            seed: 1,
            second_order: method == DesignMethod::Saltelli,
            ..Default::default()
        };
        g.bench_function(method.name(), |b| {
            b.iter(|| generate(&block, method, 1024, &opts).expect("design"))
        });
    }
    g.finish();
}

criterion_group!(benches, design);
criterion_main!(benches);
