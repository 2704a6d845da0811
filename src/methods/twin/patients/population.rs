//! The population prior of a patient run (`--population-prior`,
//! docs/patients.md): what the other patients say about a patient's
//! estimated parameters before its own readings are seen.
//!
//! Method (empirical Bayes by moment matching). A first pass fits every
//! patient from the scene prior. Each patient j that finished ok with at
//! least one analysis contributes its posterior ensemble of the estimated
//! parameters *in the analysis space* (logarithms of log-scale
//! parameters): mean μⱼ and covariance Σⱼ (divisor n − 1). The population
//! distribution is taken as the normal N(m, C) with the first two moments
//! of the equal-weight mixture of those posteriors:
//!
//!   m = (1/J) Σⱼ μⱼ,  C = (1/J) Σⱼ (Σⱼ + μⱼμⱼᵀ) − m mᵀ,
//!
//! i.e. the spread of the patients' posterior means plus their average
//! posterior variance (the law of total variance). A second pass refits
//! every patient with its members' estimated parameters drawn from that
//! normal (rejection to the parameter bounds) instead of the scene prior.
//! `pooled` uses every contributing patient; `leave-one-out` leaves the
//! patient itself out of its own prior, so its readings enter only once.
//!
//! Assumptions: patients are exchangeable draws from one population; the
//! population is close to normal in the analysis space; the scene prior is
//! broad next to it (otherwise the first-pass posteriors, and so C, lean
//! towards the scene prior — the estimate errs wide, never narrow, as the
//! average posterior variance is part of C). A patient whose prior would
//! rest on fewer than `MIN_PATIENTS` (or d + 1 for d estimated
//! parameters) contributors keeps the scene prior. Covariance eigenvalues
//! are floored at 1e-12 × the largest, so C is always a valid covariance.
//!
//! Owns: these estimates and the draws; no engine, no files.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::rngs::StdRng;

use super::analysis::{LOG_FLOOR, Space};
use crate::methods::assim::gauss::std_normal;
use crate::methods::assim::joint::ParamScale;
use crate::methods::assim::testbed::stream;

/// Fewest contributing patients a population prior rests on.
pub const MIN_PATIENTS: usize = 3;

/// Tries of the rejection step before a draw is clamped into its bounds.
const TRIES: usize = 1000;

/// How a patient run sets each patient's prior of its estimated parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopulationPrior {
    /// The scene prior for everyone (one pass).
    None,
    /// Learned from every patient's first-pass posterior.
    Pooled,
    /// Learned from every other patient's first-pass posterior.
    LeaveOneOut,
}

impl PopulationPrior {
    pub const NAMES: [&'static str; 3] = ["none", "pooled", "leave-one-out"];

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pooled => "pooled",
            Self::LeaveOneOut => "leave-one-out",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "pooled" => Some(Self::Pooled),
            "leave-one-out" => Some(Self::LeaveOneOut),
            _ => None,
        }
    }
}

/// Mean and covariance of one patient's estimated parameters in the
/// analysis space.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
}

impl Moments {
    /// Of the members (columns) of `params` (natural units, one row per
    /// estimated parameter); non-finite members are left out. `None` with
    /// fewer than 2 finite members.
    pub fn of(space: &Space, params: &DMatrix<f64>) -> Option<Moments> {
        let z = to_analysis(space, params);
        let cols: Vec<usize> = (0..z.ncols())
            .filter(|&j| z.column(j).iter().all(|v| v.is_finite()))
            .collect();
        let n = cols.len();
        if n < 2 {
            return None;
        }
        let d = z.nrows();
        let mean = DVector::from_fn(d, |k, _| {
            cols.iter().map(|&j| z[(k, j)]).sum::<f64>() / n as f64
        });
        let cov = DMatrix::from_fn(d, d, |a, b| {
            cols.iter()
                .map(|&j| (z[(a, j)] - mean[a]) * (z[(b, j)] - mean[b]))
                .sum::<f64>()
                / (n - 1) as f64
        });
        Some(Moments { mean, cov })
    }
}

/// One patient's learned prior: N(mean, factor·factorᵀ) in the analysis
/// space, resting on `from` other patients' posteriors.
#[derive(Clone, Debug, PartialEq)]
pub struct Prior {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
    pub factor: DMatrix<f64>,
    pub from: usize,
}

/// Per patient, the prior of `kind` from the first pass's `moments`
/// (`None`: that patient did not contribute). `None` entries in the
/// result keep the scene prior.
pub fn estimate(moments: &[Option<Moments>], kind: PopulationPrior) -> Vec<Option<Prior>> {
    let Some(d) = moments.iter().flatten().map(|m| m.mean.len()).next() else {
        return vec![None; moments.len()];
    };
    if kind == PopulationPrior::None {
        return vec![None; moments.len()];
    }
    let second = |m: &Moments| &m.cov + &m.mean * m.mean.transpose();
    let mut s1 = DVector::zeros(d);
    let mut s2 = DMatrix::zeros(d, d);
    let mut n = 0usize;
    for m in moments.iter().flatten() {
        s1 += &m.mean;
        s2 += second(m);
        n += 1;
    }
    let need = MIN_PATIENTS.max(d + 1);
    moments
        .iter()
        .map(|own| {
            let (mut a, mut b, mut k) = (s1.clone(), s2.clone(), n);
            if let (PopulationPrior::LeaveOneOut, Some(m)) = (kind, own) {
                a -= &m.mean;
                b -= second(m);
                k -= 1;
            }
            if k < need {
                return None;
            }
            let mean = a / k as f64;
            let cov = b / k as f64 - &mean * mean.transpose();
            let (cov, factor) = factor(cov)?;
            Some(Prior {
                mean,
                cov,
                factor,
                from: k,
            })
        })
        .collect()
}

/// A symmetric square root F (C = F Fᵀ) of `c` made symmetric and with
/// eigenvalues floored at 1e-12 × the largest; `None` when `c` is not
/// finite or is zero.
fn factor(c: DMatrix<f64>) -> Option<(DMatrix<f64>, DMatrix<f64>)> {
    if c.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let c = (&c + c.transpose()) * 0.5;
    let eig = SymmetricEigen::new(c);
    let top = eig.eigenvalues.max();
    if top <= 0.0 {
        return None;
    }
    let lam = eig.eigenvalues.map(|l| l.max(1e-12 * top));
    let v = &eig.eigenvectors;
    let cov = v * DMatrix::from_diagonal(&lam) * v.transpose();
    let factor = v * DMatrix::from_diagonal(&lam.map(f64::sqrt));
    Some((cov, factor))
}

/// Natural units → analysis space, row k by the scale of parameter k.
pub fn to_analysis(space: &Space, params: &DMatrix<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(params.nrows(), params.ncols(), |k, j| {
        let v = params[(k, j)];
        match space.scales[k] {
            ParamScale::Log => v.max(LOG_FLOOR).ln(),
            ParamScale::Linear => v,
        }
    })
}

fn to_natural(space: &Space, k: usize, z: f64) -> f64 {
    match space.scales[k] {
        ParamScale::Log => z.exp(),
        ParamScale::Linear => z,
    }
}

/// Stream of a patient's population-prior draws: keyed by its name and the
/// seed only, so the draws do not depend on the other patients of the run.
pub fn draw_stream(seed: u64, name: &str) -> StdRng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    stream(seed ^ h, 0x504f_5055_4c41_5449)
}

/// `members` draws from `prior`, natural units (rows: estimated
/// parameters), each within the space's bounds: a draw outside is redrawn
/// (a truncated normal), and after `TRIES` clamped.
pub fn draw(prior: &Prior, space: &Space, members: usize, rng: &mut StdRng) -> DMatrix<f64> {
    let d = prior.mean.len();
    let mut out = DMatrix::zeros(d, members);
    for j in 0..members {
        let mut x = vec![0.0; d];
        for t in 0..TRIES {
            let xi = DVector::from_fn(d, |_, _| std_normal(rng));
            let z = &prior.mean + &prior.factor * xi;
            for k in 0..d {
                x[k] = to_natural(space, k, z[k]);
            }
            let inside = x
                .iter()
                .zip(&space.bounds)
                .all(|(v, (lo, hi))| v.is_finite() && v >= lo && v <= hi);
            if inside {
                break;
            }
            if t + 1 == TRIES {
                for (v, (lo, hi)) in x.iter_mut().zip(&space.bounds) {
                    *v = if v.is_finite() {
                        v.clamp(*lo, *hi)
                    } else {
                        0.5 * (lo + hi)
                    };
                }
            }
        }
        for k in 0..d {
            out[(k, j)] = x[k];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(d: usize) -> Space {
        Space {
            log_words: vec![],
            scales: vec![ParamScale::Linear; d],
            bounds: vec![(f64::NEG_INFINITY, f64::INFINITY); d],
        }
    }

    fn point(mean: f64, var: f64) -> Option<Moments> {
        Some(Moments {
            mean: DVector::from_element(1, mean),
            cov: DMatrix::from_element(1, 1, var),
        })
    }

    /// Known answer: posteriors N(0, 1), N(2, 1), N(4, 1), N(2, 1) and one
    /// patient that did not contribute. Pooled: m = 2, C = 1 + 2 (the
    /// means' variance, divisor J = 4). Leave-one-out for the first: the
    /// others' m = 8/3, C = 1 + 8 − (8/3)². Each needs 3 contributors.
    #[test]
    fn mixture_moments_known_answers() {
        let m = vec![
            point(0.0, 1.0),
            point(2.0, 1.0),
            point(4.0, 1.0),
            None,
            point(2.0, 1.0),
        ];
        let pooled = estimate(&m, PopulationPrior::Pooled);
        let p = pooled[3].as_ref().unwrap();
        assert_eq!(p.from, 4);
        assert!((p.mean[0] - 2.0).abs() < 1e-12);
        assert!((p.cov[(0, 0)] - (1.0 + 2.0)).abs() < 1e-12, "{}", p.cov);
        let loo = estimate(&m, PopulationPrior::LeaveOneOut);
        let p = loo[0].as_ref().unwrap();
        assert_eq!(p.from, 3);
        assert!((p.mean[0] - 8.0 / 3.0).abs() < 1e-12);
        let var = 1.0 + (4.0 + 16.0 + 4.0) / 3.0 - (8.0f64 / 3.0).powi(2);
        assert!((p.cov[(0, 0)] - var).abs() < 1e-12);
        // The non-contributor's leave-one-out prior is the pooled one.
        assert_eq!(loo[3], pooled[3]);
        // Too few: three contributors leave two for each of them.
        let few = estimate(&m[..3], PopulationPrior::LeaveOneOut);
        assert!(few.iter().all(Option::is_none));
        assert!(
            estimate(&m, PopulationPrior::None)
                .iter()
                .all(Option::is_none)
        );
    }

    /// Draws follow the prior (4,000 draws: mean within 4 SE, variance
    /// within 4·√(2/n) relative), respect bounds, and repeat per stream.
    #[test]
    fn draws_follow_the_prior_within_bounds() {
        let prior = estimate(
            &[
                point(1.0, 0.25),
                point(1.0, 0.25),
                point(1.0, 0.25),
                point(1.0, 0.25),
            ],
            PopulationPrior::Pooled,
        )[0]
        .clone()
        .unwrap();
        let n = 4000;
        let x = draw(&prior, &space(1), n, &mut draw_stream(5, "P1"));
        let mean = x.row(0).sum() / n as f64;
        let var = x.row(0).iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!(
            (mean - 1.0).abs() < 4.0 * (0.25 / n as f64).sqrt(),
            "{mean}"
        );
        assert!(
            (var / 0.25 - 1.0).abs() < 4.0 * (2.0 / n as f64).sqrt(),
            "{var}"
        );
        assert_eq!(x, draw(&prior, &space(1), n, &mut draw_stream(5, "P1")));
        let mut bounded = space(1);
        bounded.bounds = vec![(0.8, 2.0)];
        let y = draw(&prior, &bounded, 500, &mut draw_stream(5, "P1"));
        assert!(y.iter().all(|v| (0.8..=2.0).contains(v)));
        // Log scale: the prior is on ln θ.
        let mut log = space(1);
        log.scales = vec![ParamScale::Log];
        let z = draw(&prior, &log, n, &mut draw_stream(6, "P1"));
        let lmean = z.row(0).iter().map(|v| v.ln()).sum::<f64>() / n as f64;
        assert!(z.iter().all(|v| *v > 0.0) && (lmean - 1.0).abs() < 0.04);
    }
}
