// Per-member reductions: one workgroup of THREADS invocations per member.
// The generated `observe_ops` (src/observe/wgsl.rs) computes each observable
// with the helpers below; this entry point adds the non-finite check and
// marks members whose state is Inf/NaN as diverged (status 1) at U.step,
// and members whose status word (STATUS_WORD >= 0) holds step + 1 as
// saturated (status 2) at that step.
// The CPU twin is `observe::observe_member`; keep the reduction order equal.

//#include "shared/step.wgsl"

const THREADS: u32 = 256u;

@group(0) @binding(0) var<uniform> U: Step;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read_write> status: array<u32>;
@group(0) @binding(6) var<storage, read_write> obs: array<f32>;

var<workgroup> red_f: array<f32, 256>;
var<workgroup> red_u: array<u32, 256>;

fn non_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

fn reduce_sum(t: u32) {
    workgroupBarrier();
    for (var s = THREADS / 2u; s > 0u; s = s / 2u) {
        if (t < s) { red_f[t] = red_f[t] + red_f[t + s]; }
        workgroupBarrier();
    }
}

fn reduce_max(t: u32) {
    workgroupBarrier();
    for (var s = THREADS / 2u; s > 0u; s = s / 2u) {
        if (t < s) { red_f[t] = max(red_f[t], red_f[t + s]); }
        workgroupBarrier();
    }
}

fn reduce_min(t: u32) {
    workgroupBarrier();
    for (var s = THREADS / 2u; s > 0u; s = s / 2u) {
        if (t < s) { red_f[t] = min(red_f[t], red_f[t + s]); }
        workgroupBarrier();
    }
}

fn reduce_usum(t: u32) {
    workgroupBarrier();
    for (var s = THREADS / 2u; s > 0u; s = s / 2u) {
        if (t < s) { red_u[t] = red_u[t] + red_u[t + s]; }
        workgroupBarrier();
    }
}

fn reduce_umax(t: u32) {
    workgroupBarrier();
    for (var s = THREADS / 2u; s > 0u; s = s / 2u) {
        if (t < s) { red_u[t] = max(red_u[t], red_u[t + s]); }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256, 1, 1)
fn observe(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let m = wid.x;
    let t = lid.x;
    // `m` is uniform across the workgroup, so this early return keeps
    // barriers in uniform control flow.
    if (m >= U.members) { return; }
    var bad = 0u;
    let base = m * NSTATE;
    for (var i = t; i < NSTATE; i = i + THREADS) {
        if (non_finite(src[base + i])) { bad = 1u; }
    }
    red_u[t] = bad;
    reduce_umax(t);
    let any_bad = red_u[0];
    workgroupBarrier();
    observe_ops(m, t);
    if (t == 0u) {
        obs[m * NOUT + NOUT - 1u] = f32(any_bad);
        if (any_bad == 1u && status[2u * m] == 0u) {
            status[2u * m] = 1u;
            status[2u * m + 1u] = U.step;
        }
        if (STATUS_WORD >= 0 && status[2u * m] == 0u) {
            let w = src[base + u32(STATUS_WORD)];
            if (w > 0.0) {
                status[2u * m] = 2u;
                status[2u * m + 1u] = u32(w) - 1u;
            }
        }
    }
}
