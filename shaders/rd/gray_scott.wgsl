// Gray–Scott (Pearson 1993): u_t = Du Δu − u v² + F (1 − u),
// v_t = Dv Δv + u v² − (F + k) v. CPU twin: models::rd::kinetics::gray_scott.

fn diffusivity(m: u32, s: u32) -> f32 {
    if (s == 0u) {
        return param(m, P_Du);
    }
    return param(m, P_Dv);
}

fn kinetics(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {
    let u = c[0];
    let v = c[1];
    let f = param(m, P_F);
    let k = param(m, P_k);
    let uvv = u * v * v;
    return array<f32, NS>(f * (1.0 - u) - uvv, uvv - (f + k) * v);
}

fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {
    return c;
}
