// Lorenz-96: dx_i/dt = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F, periodic, one
// classical RK4 step per dispatch, one thread per member. The generated
// header supplies N (variables), NP, DT, HALF_DT, SIXTH_DT and P_F.
// CPU twin: src/models/lorenz/cpu.rs (same operation order).

fn tendency(x: ptr<function, array<f32, N>>, f: f32, dx: ptr<function, array<f32, N>>) {
    for (var i = 0u; i < N; i = i + 1u) {
        let ip1 = select(i + 1u, 0u, i + 1u == N);
        let im1 = select(i - 1u, N - 1u, i == 0u);
        let im2 = select(i + N - 2u, i - 2u, i >= 2u);
        (*dx)[i] = ((*x)[ip1] - (*x)[im2]) * (*x)[im1] - (*x)[i] + f;
    }
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
    let f = param(m, P_F);
    var x: array<f32, N>;
    var k1: array<f32, N>;
    var k2: array<f32, N>;
    var k3: array<f32, N>;
    var k4: array<f32, N>;
    var tmp: array<f32, N>;
    for (var i = 0u; i < N; i = i + 1u) {
        x[i] = src[base + i];
    }
    tendency(&x, f, &k1);
    for (var i = 0u; i < N; i = i + 1u) {
        tmp[i] = x[i] + HALF_DT * k1[i];
    }
    tendency(&tmp, f, &k2);
    for (var i = 0u; i < N; i = i + 1u) {
        tmp[i] = x[i] + HALF_DT * k2[i];
    }
    tendency(&tmp, f, &k3);
    for (var i = 0u; i < N; i = i + 1u) {
        tmp[i] = x[i] + DT * k3[i];
    }
    tendency(&tmp, f, &k4);
    for (var i = 0u; i < N; i = i + 1u) {
        dst[base + i] = x[i] + SIXTH_DT * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    }
}
