//! A Gaussian-process emulator of one simulator output over inputs scaled
//! to about [0, 1] (the length-scale bounds, e^−4.6 to e^3, assume that).
//!
//! Model: y(x) = β + f(x) + ε, f ~ GP(0, σ² r(x, x')), ε ~ N(0, σ² g), with
//! an ARD squared-exponential or Matérn 5/2 correlation r and a relative
//! nugget g. Outputs are standardised before fitting. β and σ² are
//! profiled out (generalised least squares), and the length scales and g
//! maximise the concentrated log marginal likelihood
//! −(n/2) ln σ̂² − ½ ln |R + gI| by Nelder–Mead on their logarithms from one
//! fixed and a few random starts (Rasmussen & Williams 2006, ch. 2 and 5).
//! The prediction variance includes the uncertainty of β̂. The
//! leave-one-out diagnostic uses the closed form of R&W eq. 5.12.
//!
//! Owns: fitting, prediction and the LOO diagnostic. Never touches files or
//! the simulator.

use super::CalibrateError;
use super::config::{GpConfig, GpKernel};
use super::sampling::keyed;
use nalgebra::{DMatrix, DVector};

/// Bounds of the log length scales (inputs live in [0, 1]).
const LOG_LS_BOUNDS: (f64, f64) = (-4.6, 3.0);
/// Largest relative nugget.
const MAX_NUGGET: f64 = 0.5;

/// A fitted emulator.
#[derive(Clone, Debug)]
pub struct Gp {
    kernel: GpKernel,
    x: Vec<Vec<f64>>,
    y_mean: f64,
    y_scale: f64,
    lengthscales: Vec<f64>,
    /// Standardised-unit signal variance σ̂² and relative nugget g.
    sigma2: f64,
    nugget: f64,
    beta: f64,
    /// Lower Cholesky factor of R + gI.
    l: DMatrix<f64>,
    /// (R + gI)⁻¹ (y − β̂).
    alpha: DVector<f64>,
    /// L⁻¹ 1 and 1ᵀ(R + gI)⁻¹1.
    l_inv_one: DVector<f64>,
    one_c_one: f64,
    log_likelihood: f64,
    /// Standardised training outputs.
    y: DVector<f64>,
}

/// The leave-one-out diagnostic of an emulator.
#[derive(Clone, Debug, PartialEq)]
pub struct LooDiagnostic {
    /// (y_i − μ_{−i}) / σ_{−i} for every training point.
    pub standardised_errors: Vec<f64>,
    /// Leave-one-out predictions μ_{−i}, in output units.
    pub predictions: Vec<f64>,
    pub within_2: f64,
    pub within_3: f64,
    /// Root-mean-square LOO error, in output units.
    pub rmse: f64,
}

impl LooDiagnostic {
    /// Whether the emulator is credible: at least 80 % of the standardised
    /// errors within ±2 and 90 % within ±3 (a calibrated Gaussian has 95 %
    /// and 99.7 %).
    pub fn passes(&self) -> bool {
        self.within_2 >= 0.8 && self.within_3 >= 0.9
    }
}

fn correlation(kernel: GpKernel, a: &[f64], b: &[f64], ls: &[f64]) -> f64 {
    let r2: f64 = a
        .iter()
        .zip(b)
        .zip(ls)
        .map(|((p, q), l)| ((p - q) / l).powi(2))
        .sum();
    match kernel {
        GpKernel::SquaredExponential => (-0.5 * r2).exp(),
        GpKernel::Matern52 => {
            let s = (5.0 * r2).sqrt();
            (1.0 + s + s * s / 3.0) * (-s).exp()
        }
    }
}

/// The parts of a fit that depend on the hyper-parameters.
struct Solved {
    l: DMatrix<f64>,
    alpha: DVector<f64>,
    l_inv_one: DVector<f64>,
    one_c_one: f64,
    beta: f64,
    sigma2: f64,
    log_likelihood: f64,
}

fn solve(kernel: GpKernel, x: &[Vec<f64>], y: &DVector<f64>, ls: &[f64], g: f64) -> Option<Solved> {
    let n = x.len();
    let c = DMatrix::from_fn(n, n, |i, j| {
        correlation(kernel, &x[i], &x[j], ls) + if i == j { g } else { 0.0 }
    });
    let l = nalgebra::linalg::Cholesky::new(c)?.l();
    let one = DVector::from_element(n, 1.0);
    let l_inv_one = l.solve_lower_triangular(&one)?;
    let l_inv_y = l.solve_lower_triangular(y)?;
    let one_c_one = l_inv_one.norm_squared();
    let beta = l_inv_one.dot(&l_inv_y) / one_c_one;
    let l_inv_r = &l_inv_y - &l_inv_one * beta;
    let sigma2 = (l_inv_r.norm_squared() / n as f64).max(1e-300);
    let alpha = l.transpose().solve_upper_triangular(&l_inv_r)?;
    let log_det: f64 = (0..n).map(|i| 2.0 * l[(i, i)].ln()).sum();
    let log_likelihood =
        -0.5 * n as f64 * (sigma2.ln() + 1.0 + std::f64::consts::TAU.ln()) - 0.5 * log_det;
    log_likelihood.is_finite().then_some(Solved {
        l,
        alpha,
        l_inv_one,
        one_c_one,
        beta,
        sigma2,
        log_likelihood,
    })
}

/// Minimises `f` by Nelder–Mead from `start` with initial steps `step`.
pub(crate) fn nelder_mead(
    f: &mut dyn FnMut(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    max_evals: usize,
) -> (Vec<f64>, f64) {
    let d = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    simplex.push((start.to_vec(), f(start)));
    for k in 0..d {
        let mut p = start.to_vec();
        p[k] += step;
        let v = f(&p);
        simplex.push((p, v));
    }
    let mut evals = d + 1;
    let lerp = |a: &[f64], b: &[f64], t: f64| {
        a.iter()
            .zip(b)
            .map(|(p, q)| p + t * (q - p))
            .collect::<Vec<f64>>()
    };
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[d].1 - simplex[0].1).abs() < 1e-9 {
            break;
        }
        let centroid: Vec<f64> = (0..d)
            .map(|k| simplex[..d].iter().map(|(p, _)| p[k]).sum::<f64>() / d as f64)
            .collect();
        let worst = simplex[d].clone();
        let reflected = lerp(&centroid, &worst.0, -1.0);
        let fr = f(&reflected);
        evals += 1;
        if fr < simplex[0].1 {
            let expanded = lerp(&centroid, &worst.0, -2.0);
            let fe = f(&expanded);
            evals += 1;
            simplex[d] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (reflected, fr);
        } else {
            let contracted = if fr < worst.1 {
                lerp(&centroid, &reflected, 0.5)
            } else {
                lerp(&centroid, &worst.0, 0.5)
            };
            let fc = f(&contracted);
            evals += 1;
            if fc < worst.1.min(fr) {
                simplex[d] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for s in simplex.iter_mut().skip(1) {
                    s.0 = lerp(&best, &s.0, 0.5);
                    s.1 = f(&s.0);
                }
                evals += d;
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0)
}

impl Gp {
    /// Fits an emulator to inputs `x` (scaled to about [0, 1]) and outputs
    /// `y`. `seed` keys the random optimiser starts.
    pub fn fit(x: &[Vec<f64>], y: &[f64], cfg: &GpConfig, seed: u64) -> Result<Gp, CalibrateError> {
        let n = x.len();
        let d = x.first().map_or(0, Vec::len);
        if n < 3 || d == 0 {
            return Err(CalibrateError::Gp(format!(
                "need at least 3 runs in ≥ 1 dimension, got {n} in {d}"
            )));
        }
        if y.len() != n || x.iter().any(|p| p.len() != d) || y.iter().any(|v| !v.is_finite()) {
            return Err(CalibrateError::Gp(
                "inputs and outputs disagree in shape or hold non-finite values".into(),
            ));
        }
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let sd = (y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let y_scale = if sd > 1e-12 * (1.0 + y_mean.abs()) {
            sd
        } else {
            1.0
        };
        let ys = DVector::from_iterator(n, y.iter().map(|v| (v - y_mean) / y_scale));
        let lo_g = cfg.min_nugget.ln();
        let clamp = |p: &[f64]| -> Vec<f64> {
            let mut q = p.to_vec();
            for v in q.iter_mut().take(d) {
                *v = v.clamp(LOG_LS_BOUNDS.0, LOG_LS_BOUNDS.1);
            }
            q[d] = q[d].clamp(lo_g, MAX_NUGGET.ln());
            q
        };
        let mut objective = |p: &[f64]| -> f64 {
            let q = clamp(p);
            let outside: f64 = p.iter().zip(&q).map(|(a, b)| (a - b).powi(2)).sum();
            let ls: Vec<f64> = q[..d].iter().map(|v| v.exp()).collect();
            match solve(cfg.kernel, x, &ys, &ls, q[d].exp()) {
                Some(s) => -s.log_likelihood + 1e3 * outside,
                None => f64::INFINITY,
            }
        };
        let mut rng = keyed(seed, [0, 0, 0]);
        let mut starts = vec![{
            let mut s = vec![(0.3f64).ln(); d];
            s.push((1e-4f64).max(cfg.min_nugget).ln());
            s
        }];
        for _ in 0..cfg.restarts {
            let mut s: Vec<f64> = (0..d)
                .map(|_| (0.05f64).ln() + rng.uniform() * (20.0f64).ln())
                .collect();
            s.push(lo_g + rng.uniform() * ((0.1f64).ln() - lo_g));
            starts.push(s);
        }
        let mut best: Option<(Vec<f64>, f64)> = None;
        for s in &starts {
            let (p, v) = nelder_mead(&mut objective, s, 0.7, cfg.max_evals);
            if v.is_finite() && best.as_ref().is_none_or(|b| v < b.1) {
                best = Some((p, v));
            }
        }
        let (p, _) = best.ok_or_else(|| {
            CalibrateError::Gp("no hyper-parameters gave a positive-definite fit".into())
        })?;
        let q = clamp(&p);
        let lengthscales: Vec<f64> = q[..d].iter().map(|v| v.exp()).collect();
        let nugget = q[d].exp();
        let s = solve(cfg.kernel, x, &ys, &lengthscales, nugget)
            .ok_or_else(|| CalibrateError::Gp("the optimum is not positive definite".into()))?;
        Ok(Gp {
            kernel: cfg.kernel,
            x: x.to_vec(),
            y_mean,
            y_scale,
            lengthscales,
            sigma2: s.sigma2,
            nugget,
            beta: s.beta,
            l: s.l,
            alpha: s.alpha,
            l_inv_one: s.l_inv_one,
            one_c_one: s.one_c_one,
            log_likelihood: s.log_likelihood,
            y: ys,
        })
    }

    /// Mean and variance of the emulated output f(x) at a point of the unit
    /// cube, in output units (the nugget is not included).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let r = DVector::from_iterator(
            self.x.len(),
            self.x
                .iter()
                .map(|xi| correlation(self.kernel, x, xi, &self.lengthscales)),
        );
        let mean = self.beta + r.dot(&self.alpha);
        let v = self
            .l
            .solve_lower_triangular(&r)
            .unwrap_or_else(|| DVector::zeros(self.x.len()));
        let u = 1.0 - self.l_inv_one.dot(&v);
        let var = self.sigma2 * (1.0 - v.norm_squared() + u * u / self.one_c_one).max(0.0);
        (
            self.y_mean + self.y_scale * mean,
            self.y_scale * self.y_scale * var,
        )
    }

    /// The nugget's variance σ² g in output units: the simulator's own
    /// scatter around the emulated mean.
    pub fn nugget_variance(&self) -> f64 {
        self.y_scale * self.y_scale * self.sigma2 * self.nugget
    }

    /// Signal variance σ² in output units.
    pub fn signal_variance(&self) -> f64 {
        self.y_scale * self.y_scale * self.sigma2
    }

    /// The constant mean β in output units.
    pub fn mean(&self) -> f64 {
        self.y_mean + self.y_scale * self.beta
    }

    pub fn lengthscales(&self) -> &[f64] {
        &self.lengthscales
    }

    /// Relative nugget g (nugget variance / signal variance).
    pub fn relative_nugget(&self) -> f64 {
        self.nugget
    }

    /// The maximised log marginal likelihood (standardised outputs).
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// The closed-form leave-one-out diagnostic (hyper-parameters and β̂
    /// held at their fitted values).
    pub fn loo(&self) -> LooDiagnostic {
        let n = self.x.len();
        let l_inv = self
            .l
            .solve_lower_triangular(&DMatrix::identity(n, n))
            .unwrap_or_else(|| DMatrix::identity(n, n));
        let mut errors = Vec::with_capacity(n);
        let mut predictions = Vec::with_capacity(n);
        let mut sq = 0.0;
        for i in 0..n {
            // [C⁻¹]_ii = Σ_k (L⁻¹)_ki².
            let cii: f64 = (i..n).map(|k| l_inv[(k, i)].powi(2)).sum();
            let resid = self.alpha[i] / cii;
            let sd = (self.sigma2 / cii).sqrt();
            errors.push(resid / sd);
            predictions.push(self.y_mean + self.y_scale * (self.y[i] - resid));
            sq += (self.y_scale * resid).powi(2);
        }
        let frac = |k: f64| errors.iter().filter(|e| e.abs() <= k).count() as f64 / n as f64;
        LooDiagnostic {
            within_2: frac(2.0),
            within_3: frac(3.0),
            rmse: (sq / n as f64).sqrt(),
            standardised_errors: errors,
            predictions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_the_rosenbrock_minimum() {
        let mut f = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let (p, v) = nelder_mead(&mut f, &[-1.2, 1.0], 0.5, 2000);
        assert!(
            v < 1e-6 && (p[0] - 1.0).abs() < 1e-2 && (p[1] - 1.0).abs() < 2e-2,
            "{p:?} {v}"
        );
    }

    #[test]
    fn loo_closed_form_matches_refitting_without_the_point() {
        // With hyper-parameters and β̂ fixed, leaving point i out and
        // predicting it must give the closed-form residual.
        let x: Vec<Vec<f64>> = (0..8).map(|i| vec![i as f64 / 7.0]).collect();
        let y: Vec<f64> = x.iter().map(|p| (6.0 * p[0]).sin() + 0.3 * p[0]).collect();
        let gp = Gp::fit(&x, &y, &GpConfig::default(), 1).unwrap();
        let loo = gp.loo();
        let i = 3;
        let ys = DVector::from_iterator(8, y.iter().map(|v| (v - gp.y_mean) / gp.y_scale));
        let keep: Vec<usize> = (0..8).filter(|&k| k != i).collect();
        let c = DMatrix::from_fn(7, 7, |a, b| {
            correlation(gp.kernel, &x[keep[a]], &x[keep[b]], &gp.lengthscales)
                + if a == b { gp.nugget } else { 0.0 }
        });
        let r = DVector::from_iterator(
            7,
            keep.iter()
                .map(|&k| correlation(gp.kernel, &x[i], &x[k], &gp.lengthscales)),
        );
        let rest = DVector::from_iterator(7, keep.iter().map(|&k| ys[k] - gp.beta));
        let c_inv = c.try_inverse().unwrap();
        let mu = gp.beta + (r.transpose() * &c_inv * rest)[0];
        let want = gp.y_mean + gp.y_scale * mu;
        assert!(
            (loo.predictions[i] - want).abs() < 1e-6 * (1.0 + want.abs()),
            "{} vs {want}",
            loo.predictions[i]
        );
    }
}
