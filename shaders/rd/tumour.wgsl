// Tumour growth and therapy: N_t = ∇·(D w ∇N) + k N (1 − N/θ) − κ c(t) N,
// with radiotherapy fractions applied after the step that contains them:
// N ← N · exp(−α d − β d²). The host tabulates per step (SCHED_OFF, two
// values per step): the drug concentration c(t) at the start of the step
// and the dose d delivered during it. CPU twin: models::rd::kinetics::tumour.

fn diffusivity(m: u32, s: u32) -> f32 {
    return param(m, P_D);
}

fn kinetics(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {
    let n = c[0];
    let drug = aux[SCHED_OFF + 2u * U.step];
    return array<f32, NS>(param(m, P_k) * n * (1.0 - n / param(m, P_theta)) - param(m, P_kappa) * drug * n);
}

fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {
    let d = aux[SCHED_OFF + 2u * U.step + 1u];
    if (d > 0.0) {
        let survival = exp(-(param(m, P_alpha) * d + param(m, P_beta) * d * d));
        return array<f32, NS>(c[0] * survival);
    }
    return c;
}
