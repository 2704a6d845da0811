// Lorenz-63: dx = σ (y − x), dy = x (ρ − z) − y, dz = x y − β z, one
// classical RK4 step per dispatch, one thread per member. The generated
// header supplies N (= 3), NP, DT, HALF_DT, SIXTH_DT and P_sigma, P_rho,
// P_beta. CPU twin: src/models/lorenz/cpu.rs (same operation order).

fn tendency(x: vec3<f32>, s: f32, r: f32, b: f32) -> vec3<f32> {
    return vec3<f32>(s * (x.y - x.x), x.x * (r - x.z) - x.y, x.x * x.y - b * x.z);
}

@compute @workgroup_size(64, 1, 1)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.x;
    if (m >= U.members) {
        return;
    }
    let base = m * N;
    if (frozen_copy(m, base, N)) {
        return;
    }
    let s = param(m, P_sigma);
    let r = param(m, P_rho);
    let b = param(m, P_beta);
    let x = vec3<f32>(src[base], src[base + 1u], src[base + 2u]);
    let k1 = tendency(x, s, r, b);
    let k2 = tendency(x + HALF_DT * k1, s, r, b);
    let k3 = tendency(x + HALF_DT * k2, s, r, b);
    let k4 = tendency(x + DT * k3, s, r, b);
    let y = x + SIXTH_DT * (k1 + 2.0 * (k2 + k3) + k4);
    dst[base] = y.x;
    dst[base + 1u] = y.y;
    dst[base + 2u] = y.z;
}
