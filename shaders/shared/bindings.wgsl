// The standard bind group of every step kernel. The engine binds one
// `Step` record per step through a dynamic uniform offset, so many steps
// are recorded into one submission. Keep `Step` in step with
// `gpu::StepUniform` (src/gpu/layout.rs; a test compares their layouts).

//#include "shared/step.wgsl"

@group(0) @binding(0) var<uniform> U: Step;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<storage, read> status: array<u32>;

fn param(m: u32, i: u32) -> f32 {
    return params[m * NP + i];
}

// A failed member (status code ≠ 0) is frozen on every backend: copies its
// `n` state words from `base` through and returns true; false otherwise.
fn frozen_copy(m: u32, base: u32, n: u32) -> bool {
    if (status[2u * m] == 0u) {
        return false;
    }
    for (var i = 0u; i < n; i = i + 1u) {
        dst[base + i] = src[base + i];
    }
    return true;
}
