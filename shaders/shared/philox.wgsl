// Philox4x32-10 (Salmon et al., SC'11): the GPU twin of src/rng.rs.
// Keep the constants, the round function and the stream numbers in step
// with that file; both are checked against Random123's known answers.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// Stream numbers (src/rng.rs `Stream`).
const STREAM_INIT: u32 = 1u;
const STREAM_DYNAMICS: u32 = 3u;
const STREAM_AGENTS: u32 = 6u;

// High 32 bits of the 64-bit product a·b, from 16-bit halves (WGSL has no u64).
fn philox_mulhi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + lo_hi;
    return hi_hi + (hi_lo >> 16u) + (cross >> 16u);
}

fn philox4x32_10(ctr_in: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
    var c = ctr_in;
    var k = key_in;
    for (var round = 0u; round < 10u; round = round + 1u) {
        if (round > 0u) {
            k = vec2<u32>(k.x + PHILOX_W0, k.y + PHILOX_W1);
        }
        let hi0 = philox_mulhi(PHILOX_M0, c.x);
        let lo0 = PHILOX_M0 * c.x;
        let hi1 = philox_mulhi(PHILOX_M1, c.z);
        let lo1 = PHILOX_M1 * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// Top 24 bits to a uniform f32 in [0, 1), exactly as `u32_to_unit_f32`.
fn philox_unit(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

// A standard normal from one Philox output, Box–Muller in f32:
// u1 = (top 24 bits of r.x + 1/2) / 2^24 in (0, 1), u2 = top 24 bits of
// r.y / 2^24, z = sqrt(-2 ln u1) cos(2 pi u2). The twin of
// `model_error::normal_f32` (src/model_error.rs), operation by operation.
fn philox_normal(r: vec4<u32>) -> f32 {
    let u1 = (f32(r.x >> 8u) + 0.5) * (1.0 / 16777216.0);
    let u2 = f32(r.y >> 8u) * (1.0 / 16777216.0);
    return sqrt(-2.0 * log(u1)) * cos(6.2831855 * u2);
}
