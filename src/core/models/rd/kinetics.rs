//! Reaction terms of the built-in reaction-diffusion models: their schema
//! (parameters with units, defaults and ranges; fields) and the CPU twins of
//! the WGSL in `shaders/rd/<model>.wgsl`, written to mirror it line by line.

use crate::core::model::{FieldInfo, ModelInfo, ParamInfo};

fn p(name: &str, unit: &str, default: f64, bounds: (f64, f64), description: &str) -> ParamInfo {
    ParamInfo {
        name: name.into(),
        unit: unit.into(),
        description: description.into(),
        default,
        bounds,
    }
}

fn f(name: &str, unit: &str, description: &str) -> FieldInfo {
    FieldInfo {
        name: name.into(),
        unit: unit.into(),
        description: description.into(),
    }
}

pub fn gray_scott_info() -> ModelInfo {
    ModelInfo {
        kind: "gray_scott".into(),
        description:
            "Gray–Scott reaction-diffusion (Pearson 1993): pattern formation and verification model"
                .into(),
        time_unit: "1".into(),
        length_unit: "1".into(),
        fields: vec![
            f("u", "1", "substrate concentration"),
            f("v", "1", "autocatalyst concentration"),
        ],
        params: vec![
            p("Du", "length²/time", 2e-5, (0.0, 1.0), "diffusivity of u"),
            p("Dv", "length²/time", 1e-5, (0.0, 1.0), "diffusivity of v"),
            p("F", "1/time", 0.04, (0.0, 0.1), "feed rate"),
            p("k", "1/time", 0.06, (0.0, 0.1), "kill rate"),
        ],
    }
}

pub fn tumour_info() -> ModelInfo {
    ModelInfo {
        kind: "tumour".into(),
        description: "Tumour growth and therapy: logistic proliferation, heterogeneous diffusion, \
                      linear-quadratic radiotherapy and a chemotherapy kill term"
            .into(),
        time_unit: "day".into(),
        length_unit: "mm".into(),
        fields: vec![f(
            "N",
            "1",
            "tumour cell density as a fraction of carrying capacity",
        )],
        params: vec![
            p(
                "D",
                "mm²/day",
                0.01,
                (1e-3, 0.1),
                "tumour cell diffusivity (motility)",
            ),
            p("k", "1/day", 0.05, (0.01, 0.1), "proliferation rate"),
            p(
                "theta",
                "1",
                1.0,
                (0.1, 1.0),
                "carrying capacity (fraction of a voxel)",
            ),
            p("alpha", "1/Gy", 0.25, (0.1, 0.4), "linear radiosensitivity"),
            p(
                "beta",
                "1/Gy²",
                0.025,
                (0.01, 0.04),
                "quadratic radiosensitivity (α/β ≈ 10 Gy)",
            ),
            p(
                "kappa",
                "1/(day·conc)",
                0.5,
                (0.0, 2.0),
                "chemotherapy kill rate per unit drug",
            ),
        ],
    }
}

pub fn cardiac_info() -> ModelInfo {
    ModelInfo {
        kind: "cardiac".into(),
        description: "Aliev–Panfilov (1996) cardiac excitation with a stimulus protocol".into(),
        time_unit: "t.u. (≈12.9 ms)".into(),
        length_unit: "l.u.".into(),
        fields: vec![
            f("u", "1", "transmembrane potential (scaled)"),
            f("v", "1", "recovery variable"),
        ],
        params: vec![
            p("D", "l.u.²/t.u.", 1.0, (0.0, 10.0), "diffusivity of u"),
            p("k", "1", 8.0, (1.0, 20.0), "excitability"),
            p("a", "1", 0.15, (0.0, 0.5), "excitation threshold"),
            p("eps0", "1", 0.002, (0.0, 0.1), "recovery rate ε₀"),
            p("mu1", "1", 0.2, (0.0, 1.0), "μ₁"),
            p("mu2", "1", 0.3, (0.0, 1.0), "μ₂"),
        ],
    }
}

/// Parameter indices (into a member's parameter vector) in each model's
/// canonical order, resolved once per plan.
pub type Ix = Vec<usize>;

/// Gray–Scott: canonical order Du, Dv, F, k.
#[inline]
pub fn gray_scott(ix: &Ix, p: &[f32], c: &[f32], r: &mut [f32]) {
    let u = c[0];
    let v = c[1];
    let f = p[ix[2]];
    let k = p[ix[3]];
    let uvv = u * v * v;
    r[0] = f * (1.0 - u) - uvv;
    r[1] = uvv - (f + k) * v;
}

/// Tumour: canonical order D, k, theta, alpha, beta, kappa.
#[inline]
pub fn tumour(ix: &Ix, p: &[f32], c: &[f32], drug: f32, r: &mut [f32]) {
    let n = c[0];
    r[0] = p[ix[1]] * n * (1.0 - n / p[ix[2]]) - p[ix[5]] * drug * n;
}

/// Tumour radiotherapy after the step: N ← N · exp(−α d − β d²).
#[inline]
pub fn tumour_post(ix: &Ix, p: &[f32], d: f32, c: &mut [f32]) {
    if d > 0.0 {
        let survival = (-(p[ix[3]] * d + p[ix[4]] * d * d)).exp();
        c[0] *= survival;
    }
}

/// Aliev–Panfilov: canonical order D, k, a, eps0, mu1, mu2.
#[inline]
pub fn cardiac(ix: &Ix, p: &[f32], c: &[f32], i_stim: f32, r: &mut [f32]) {
    let u = c[0];
    let v = c[1];
    let k = p[ix[1]];
    let a = p[ix[2]];
    let eps = p[ix[3]] + p[ix[4]] * v / (u + p[ix[5]]);
    r[0] = -k * u * (u - a) * (u - 1.0) - u * v + i_stim;
    r[1] = eps * (-v - k * u * (u - a - 1.0));
}
