//! Prior densities and the coordinates a calibration moves in.
//!
//! Owns: the log density and CDF of every `Distribution` kind, and
//! [`PriorSpace`], the varying parameters of a block seen as a point `z`
//! in the space the ABC kernel perturbs. Log-uniform and log-normal
//! parameters move on the log scale (`z = ln x`, with the Jacobian in the
//! density), all others on their own scale. Correlations of the block enter
//! the density through the Gaussian copula that `ParamBlock::map_unit` uses.
//!
//! Never touches files or the simulator; never changes the block.

use super::CalibrateError;
use crate::core::rng::KeyedStream;
use crate::input::params::{Distribution, ParamBlock, UNIT_EPS, norm_cdf, norm_ppf};
use nalgebra::DMatrix;

/// Tail probability left out of the range `PriorSpace::scaled` maps to
/// [0, 1] for unbounded priors.
const Z_RANGE_Q: f64 = 1e-3;
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

fn normal_logpdf(z: f64) -> f64 {
    -0.5 * z * z - LN_SQRT_2PI
}

/// The log prior density (log probability for `choice`) of `x`; −∞
/// outside the support. A fixed parameter has log density 0 at its value.
pub fn log_prior_density(dist: &Distribution, x: f64) -> f64 {
    let inside = |lo: f64, hi: f64| x >= lo && x <= hi;
    match dist {
        Distribution::Fixed(v) if x == *v => 0.0,
        Distribution::Uniform { low, high } if inside(*low, *high) => -(high - low).ln(),
        Distribution::LogUniform { low, high } if inside(*low, *high) => {
            -x.ln() - (high.ln() - low.ln()).ln()
        }
        Distribution::Normal { mean, sd } if x.is_finite() => {
            normal_logpdf((x - mean) / sd) - sd.ln()
        }
        Distribution::LogNormal { mu, sigma } if x > 0.0 && x.is_finite() => {
            normal_logpdf((x.ln() - mu) / sigma) - sigma.ln() - x.ln()
        }
        Distribution::TruncNormal {
            mean,
            sd,
            low,
            high,
        } if inside(*low, *high) => {
            let mass = norm_cdf((high - mean) / sd) - norm_cdf((low - mean) / sd);
            normal_logpdf((x - mean) / sd) - sd.ln() - mass.ln()
        }
        Distribution::Choice { values, weights } => {
            let total: f64 = weights
                .as_ref()
                .map_or(values.len() as f64, |w| w.iter().sum());
            let p: f64 = values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v == x)
                .map(|(i, _)| weights.as_ref().map_or(1.0, |w| w[i]))
                .sum();
            (p / total).ln()
        }
        _ => f64::NEG_INFINITY,
    }
}

/// The prior CDF of a continuous distribution at `x` (a step function for
/// `fixed` and `choice`).
pub fn prior_cdf(dist: &Distribution, x: f64) -> f64 {
    dist.cdf(x)
}

/// Whether a parameter moves on the log scale.
fn moves_on_log_scale(dist: &Distribution) -> bool {
    matches!(
        dist,
        Distribution::LogUniform { .. } | Distribution::LogNormal { .. }
    )
}

/// The varying parameters of a block as the coordinates a calibration
/// moves in (see the module doc).
#[derive(Clone, Debug)]
pub struct PriorSpace {
    block: ParamBlock,
    varying: Vec<usize>,
    log_scale: Vec<bool>,
    /// Inverse correlation matrix minus the identity and −½ ln|R|, when the
    /// block has correlations.
    copula: Option<(DMatrix<f64>, f64)>,
    /// Per varying parameter, the `z` range mapped to [0, 1] by `scaled`:
    /// the support where finite, else the 0.1–99.9 % prior quantiles.
    z_range: Vec<(f64, f64)>,
}

impl PriorSpace {
    /// Checks the block: it must validate, vary at least one parameter and
    /// hold no `choice` parameter among the varying ones.
    pub fn new(block: &ParamBlock) -> Result<PriorSpace, CalibrateError> {
        block
            .validate()
            .map_err(|e| CalibrateError::Block(e.into()))?;
        let varying = block.varying();
        if varying.is_empty() {
            return Err(CalibrateError::NothingToCalibrate);
        }
        if let Some(&i) = varying
            .iter()
            .find(|&&i| matches!(block.params[i].dist, Distribution::Choice { .. }))
        {
            return Err(CalibrateError::ChoiceParameter {
                name: block.params[i].name.clone(),
            });
        }
        let log_scale: Vec<bool> = varying
            .iter()
            .map(|&i| moves_on_log_scale(&block.params[i].dist))
            .collect();
        let copula = if block.correlations.is_empty() {
            None
        } else {
            let l = block
                .correlation_cholesky()
                .map_err(|e| CalibrateError::Block(e.into()))?;
            let r = &l * l.transpose();
            let log_det: f64 = (0..l.nrows()).map(|i| 2.0 * l[(i, i)].ln()).sum();
            let inv = r
                .try_inverse()
                .ok_or_else(|| CalibrateError::Block("singular correlation matrix".into()))?;
            let d = inv.nrows();
            Some((inv - DMatrix::identity(d, d), -0.5 * log_det))
        };
        let z_range = varying
            .iter()
            .zip(&log_scale)
            .map(|(&i, &log): (&usize, &bool)| {
                let dist = &block.params[i].dist;
                let (lo, hi) = dist.support();
                let bounded = lo.is_finite() && hi.is_finite() && (!log || lo > 0.0);
                let (lo, hi) = if bounded {
                    (lo, hi)
                } else {
                    (dist.from_unit(Z_RANGE_Q), dist.from_unit(1.0 - Z_RANGE_Q))
                };
                if log { (lo.ln(), hi.ln()) } else { (lo, hi) }
            })
            .collect();
        Ok(PriorSpace {
            block: block.clone(),
            varying,
            log_scale,
            copula,
            z_range,
        })
    }

    pub fn block(&self) -> &ParamBlock {
        &self.block
    }

    /// Number of varying parameters.
    pub fn dims(&self) -> usize {
        self.varying.len()
    }

    /// Block indices of the varying parameters.
    pub fn varying(&self) -> &[usize] {
        &self.varying
    }

    /// Names of the varying parameters, in block order.
    pub fn varying_names(&self) -> Vec<String> {
        self.varying
            .iter()
            .map(|&i| self.block.params[i].name.clone())
            .collect()
    }

    /// The full parameter vector (all block parameters) for a point `z`.
    pub fn to_full(&self, z: &[f64]) -> Vec<f64> {
        let mut full: Vec<f64> = self.block.params.iter().map(|p| p.dist.median()).collect();
        for (k, &i) in self.varying.iter().enumerate() {
            full[i] = if self.log_scale[k] { z[k].exp() } else { z[k] };
        }
        full
    }

    /// The point `z` of a full parameter vector.
    pub fn from_full(&self, full: &[f64]) -> Vec<f64> {
        self.varying
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                if self.log_scale[k] {
                    full[i].ln()
                } else {
                    full[i]
                }
            })
            .collect()
    }

    /// The varying parameters of a full vector on their moving scale (`z`),
    /// rescaled so that the prior's range maps to [0, 1]: the input space
    /// of emulators, where a model is usually smoother than on the
    /// probability scale of the unit cube.
    pub fn scaled(&self, full: &[f64]) -> Vec<f64> {
        self.from_full(full)
            .iter()
            .zip(&self.z_range)
            .map(|(z, (lo, hi))| (z - lo) / (hi - lo))
            .collect()
    }

    /// The log prior density of `z` (including the log-scale Jacobians and
    /// the copula); −∞ outside the prior's support.
    pub fn log_density(&self, z: &[f64]) -> f64 {
        let mut lp = 0.0;
        for (k, &i) in self.varying.iter().enumerate() {
            let dist = &self.block.params[i].dist;
            let x = if self.log_scale[k] { z[k].exp() } else { z[k] };
            let l = log_prior_density(dist, x);
            if l == f64::NEG_INFINITY || l.is_nan() {
                return f64::NEG_INFINITY;
            }
            lp += l + if self.log_scale[k] { z[k] } else { 0.0 };
        }
        if let Some((inv_minus_i, half_log_det)) = &self.copula {
            let g: Vec<f64> = self
                .varying
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let x = if self.log_scale[k] { z[k].exp() } else { z[k] };
                    norm_ppf(
                        prior_cdf(&self.block.params[i].dist, x).clamp(UNIT_EPS, 1.0 - UNIT_EPS),
                    )
                })
                .collect();
            let d = g.len();
            let mut quad = 0.0;
            for a in 0..d {
                for b in 0..d {
                    quad += g[a] * inv_minus_i[(a, b)] * g[b];
                }
            }
            lp += half_log_det - 0.5 * quad;
        }
        lp
    }

    /// A full parameter vector drawn from the prior (through
    /// `ParamBlock::map_unit`, so correlations hold).
    pub fn sample_full(&self, rng: &mut KeyedStream) -> Vec<f64> {
        let u: Vec<f64> = (0..self.dims()).map(|_| rng.uniform()).collect();
        self.block.map_unit(&u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Correlation;

    /// Trapezoid integral of exp(log density) over [a, b].
    fn integral(dist: &Distribution, a: f64, b: f64) -> f64 {
        let n = 200_000;
        let h = (b - a) / n as f64;
        (0..=n)
            .map(|i| {
                let x = a + i as f64 * h;
                let w = if i == 0 || i == n { 0.5 } else { 1.0 };
                w * log_prior_density(dist, x).exp()
            })
            .sum::<f64>()
            * h
    }

    #[test]
    fn densities_integrate_to_one_and_match_cdfs() {
        let cases = [
            (
                Distribution::Uniform {
                    low: -1.0,
                    high: 3.0,
                },
                -2.0,
                4.0,
            ),
            (
                Distribution::LogUniform {
                    low: 0.01,
                    high: 1.0,
                },
                0.0,
                1.5,
            ),
            (Distribution::Normal { mean: 1.0, sd: 0.5 }, -4.0, 6.0),
            (
                Distribution::LogNormal {
                    mu: 0.0,
                    sigma: 0.4,
                },
                1e-9,
                12.0,
            ),
            (
                Distribution::TruncNormal {
                    mean: 1.0,
                    sd: 1.0,
                    low: 0.0,
                    high: 1.5,
                },
                -1.0,
                2.0,
            ),
        ];
        for (d, a, b) in &cases {
            let total = integral(d, *a, *b);
            assert!((total - 1.0).abs() < 2e-3, "{d:?}: {total}");
            // The density integrates to the CDF at an inner point.
            let x = d.from_unit(0.3);
            let part = integral(d, *a, x);
            assert!(
                (part - prior_cdf(d, x)).abs() < 2e-3,
                "{d:?}: {part} vs {}",
                prior_cdf(d, x)
            );
            assert!((prior_cdf(d, x) - 0.3).abs() < 1e-9, "{d:?}");
        }
        let n = Distribution::Normal { mean: 0.0, sd: 1.0 };
        assert!((log_prior_density(&n, 0.0) + LN_SQRT_2PI).abs() < 1e-15);
        assert_eq!(
            log_prior_density(
                &Distribution::Uniform {
                    low: 0.0,
                    high: 1.0
                },
                1.1
            ),
            f64::NEG_INFINITY
        );
        let c = Distribution::Choice {
            values: vec![1.0, 2.0],
            weights: Some(vec![1.0, 3.0]),
        };
        assert!((log_prior_density(&c, 2.0) - 0.75f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn choice_parameters_are_refused_by_name() {
        let b = ParamBlock::from_pairs([
            (
                "a".into(),
                Distribution::Uniform {
                    low: 0.0,
                    high: 1.0,
                },
            ),
            (
                "s".into(),
                Distribution::Choice {
                    values: vec![1.0, 2.0],
                    weights: None,
                },
            ),
        ]);
        let e = PriorSpace::new(&b).unwrap_err().to_string();
        assert!(e.contains("parameter `s` has dist = \"choice\""), "{e}");
        let fixed = ParamBlock::from_pairs([("a".into(), Distribution::Fixed(1.0))]);
        assert!(matches!(
            PriorSpace::new(&fixed),
            Err(CalibrateError::NothingToCalibrate)
        ));
    }

    #[test]
    fn log_scale_coordinates_round_trip_with_jacobian() {
        let b = ParamBlock::from_pairs([
            ("k".into(), Distribution::Fixed(2.0)),
            (
                "d".into(),
                Distribution::LogUniform {
                    low: 0.01,
                    high: 1.0,
                },
            ),
        ]);
        let s = PriorSpace::new(&b).unwrap();
        let full = s.to_full(&[0.1f64.ln()]);
        assert_eq!(full[0], 2.0);
        assert!((full[1] - 0.1).abs() < 1e-15);
        // ln z is uniform on [ln 0.01, ln 1]: density 1 / ln 100.
        let ld = s.log_density(&s.from_full(&full));
        assert!((ld + 100f64.ln().ln()).abs() < 1e-12, "{ld}");
    }

    #[test]
    fn copula_density_is_the_bivariate_normal() {
        let mut b = ParamBlock::from_pairs([
            ("x".into(), Distribution::Normal { mean: 0.0, sd: 1.0 }),
            ("y".into(), Distribution::Normal { mean: 0.0, sd: 1.0 }),
        ]);
        b.correlations.push(Correlation {
            a: "x".into(),
            b: "y".into(),
            rho: 0.6,
        });
        let s = PriorSpace::new(&b).unwrap();
        let (x, y, r) = (0.7, -0.4, 0.6f64);
        let q = (x * x - 2.0 * r * x * y + y * y) / (1.0 - r * r);
        let want = -0.5 * q - (std::f64::consts::TAU).ln() - 0.5 * (1.0 - r * r).ln();
        assert!((s.log_density(&[x, y]) - want).abs() < 1e-7);
    }
}
