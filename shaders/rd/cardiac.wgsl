// Aliev–Panfilov (1996): u_t = ∇·(D∇u) − k u (u − a)(u − 1) − u v + I_stim,
// v_t = ε(u, v) (−v − k u (u − a − 1)), ε = ε₀ + μ₁ v / (u + μ₂).
// Stimuli come from aux at STIM_OFF: a count, then (t0, t1, x0, y0, x1, y1,
// amplitude) per stimulus, in physical units. CPU twin:
// models::rd::kinetics::cardiac.

fn diffusivity(m: u32, s: u32) -> f32 {
    if (s == 0u) {
        return param(m, P_D);
    }
    return 0.0;
}

fn stimulus(x: u32, y: u32) -> f32 {
    let n = u32(aux[STIM_OFF]);
    let px = (f32(x) + 0.5) * DX;
    let py = (f32(y) + 0.5) * DX;
    var i_stim = 0.0;
    for (var i = 0u; i < n; i = i + 1u) {
        let b = STIM_OFF + 1u + 7u * i;
        if (U.t >= aux[b] && U.t < aux[b + 1u] && px >= aux[b + 2u] && py >= aux[b + 3u] && px < aux[b + 4u] && py < aux[b + 5u]) {
            i_stim = i_stim + aux[b + 6u];
        }
    }
    return i_stim;
}

fn kinetics(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {
    let u = c[0];
    let v = c[1];
    let k = param(m, P_k);
    let a = param(m, P_a);
    let eps = param(m, P_eps0) + param(m, P_mu1) * v / (u + param(m, P_mu2));
    let du = -k * u * (u - a) * (u - 1.0) - u * v + stimulus(x, y);
    let dv = eps * (-v - k * u * (u - a - 1.0));
    return array<f32, NS>(du, dv);
}

fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {
    return c;
}
