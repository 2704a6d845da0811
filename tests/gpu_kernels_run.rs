//! Kernels that used to be only compiled in tests, now run on the adapter
//! (lavapipe in CI) with their values checked:
//! - Philox4x32-10 in WGSL (`shared/philox.wgsl`) against the CPU
//!   implementation (itself checked against Random123's known answers in
//!   `rng`) on 4096 seeded (counter, key) pairs, bit for bit.
//!
//! With `REQUIRE_GPU=1` a missing adapter is a failure.

mod common;

use rand::{RngExt, SeedableRng};
use vtwin::engine::backend::Backend;

#[test]
fn philox_on_the_gpu_matches_the_cpu_bit_for_bit() {
    let Some(Backend::Gpu(ctx)) = common::gpu() else {
        return;
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let mut cases: Vec<([u32; 4], [u32; 2])> = (0..4096)
        .map(|_| {
            (
                [rng.random(), rng.random(), rng.random(), rng.random()],
                [rng.random(), rng.random()],
            )
        })
        .collect();
    // Edge counters: zero, all ones, carries across words.
    cases.push(([0; 4], [0; 2]));
    cases.push(([u32::MAX; 4], [u32::MAX; 2]));
    cases.push(([u32::MAX, 0, 0, 0], [1, 0]));
    let got = vtwin::engine::gpu::kat::philox_on_gpu(&ctx, &cases).expect("kernel runs");
    assert_eq!(got.len(), cases.len());
    for ((c, k), g) in cases.iter().zip(&got) {
        assert_eq!(
            *g,
            vtwin::core::rng::philox4x32_10(*c, *k),
            "counter {c:?}, key {k:?}"
        );
    }
}
