//! The observation-error model of a calibration: how a data value y relates
//! to the simulated value f(θ) at its row. It is the likelihood of the
//! likelihood-based methods (tempered SMC, kernel ABC), the noise that
//! noisy ABC adds, and the noise of the posterior predictive.
//!
//! Set by the scene's `[calibrate.error]` table (default: Gaussian with the
//! data file's sd per row, as data assimilation reads the same files):
//!
//! - `gaussian`: y ~ N(f, sd²), sd from the data row;
//! - `relative`: y ~ N(f, s²) with s = max(sd, rel_sd·|f|) (the data row's
//!   sd is a floor, as in the assimilation's `rel_sd`);
//! - `lognormal`: ln y ~ N(ln f, s²) with s = sd / |y| (the row's sd read
//!   as a relative error, as the assimilation's log-transformed
//!   observables); needs y > 0, and f ≤ 0 has likelihood 0.
//!
//! `scale = "NAME"` names a parameter of the scene that replaces the error
//! scale (gaussian: the sd of every row; relative: `rel_sd`; lognormal:
//! the sd of ln y), so an unknown observation error gets a prior and is
//! calibrated with the rest.
//!
//! Owns: the error model's densities, draws, CDFs and the standardised
//! distance of the ABC modes. Never runs the simulator.

use super::CalibrateError;
use crate::input::params::{ParamBlock, norm_cdf};
use serde::Deserialize;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// The family of the observation error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    #[default]
    Gaussian,
    Relative,
    Lognormal,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Gaussian => "gaussian",
            ErrorKind::Relative => "relative",
            ErrorKind::Lognormal => "lognormal",
        }
    }
}

/// `[calibrate.error]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorConfig {
    pub model: ErrorKind,
    /// `relative`: the relative sd (coefficient of variation).
    pub rel_sd: f64,
    /// A parameter whose value is the error scale (see the module doc).
    pub scale: Option<String>,
}

impl ErrorConfig {
    pub fn validate(&self) -> Result<(), CalibrateError> {
        let bad = |key: &str, message: String| CalibrateError::Config {
            key: format!("error.{key}"),
            message,
        };
        if !(self.rel_sd.is_finite() && self.rel_sd >= 0.0) {
            return Err(bad("rel_sd", format!("{} must be ≥ 0", self.rel_sd)));
        }
        if self.model != ErrorKind::Relative && self.rel_sd > 0.0 {
            return Err(bad(
                "rel_sd",
                format!(
                    "applies to model = \"relative\" only, not \"{}\"",
                    self.model.name()
                ),
            ));
        }
        if self.model == ErrorKind::Relative && self.rel_sd == 0.0 && self.scale.is_none() {
            return Err(bad(
                "rel_sd",
                "model = \"relative\" needs rel_sd > 0 or a scale parameter".into(),
            ));
        }
        Ok(())
    }
}

/// The error model bound to the observed values and a parameter block.
#[derive(Clone, Debug, PartialEq)]
pub struct Likelihood {
    pub kind: ErrorKind,
    pub observed: Vec<f64>,
    /// The data rows' sd's.
    pub sd: Vec<f64>,
    pub rel_sd: f64,
    /// Block index of the scale parameter.
    pub scale: Option<usize>,
}

impl Likelihood {
    /// Gaussian errors with the given sd's (no scale parameter).
    pub fn gaussian(observed: &[f64], sd: &[f64]) -> Result<Likelihood, CalibrateError> {
        Likelihood::new(&ErrorConfig::default(), observed, sd, None)
    }

    /// Binds `cfg` to the data; `block` resolves `cfg.scale`.
    pub fn new(
        cfg: &ErrorConfig,
        observed: &[f64],
        sd: &[f64],
        block: Option<&ParamBlock>,
    ) -> Result<Likelihood, CalibrateError> {
        cfg.validate()?;
        if observed.is_empty() {
            return Err(CalibrateError::Dimension {
                what: "observed summaries".into(),
                expected: 1,
                got: 0,
            });
        }
        super::check_scales("scales", sd, observed.len())?;
        if let Some(i) = observed.iter().position(|v| !v.is_finite()) {
            return Err(CalibrateError::Config {
                key: "error".into(),
                message: format!("observed value {i} is not finite"),
            });
        }
        if cfg.model == ErrorKind::Lognormal
            && let Some(i) = observed.iter().position(|v| *v <= 0.0)
        {
            return Err(CalibrateError::Config {
                key: "error.model".into(),
                message: format!(
                    "\"lognormal\" needs positive data, but data row {} has value {}",
                    i + 1,
                    observed[i]
                ),
            });
        }
        let scale = match &cfg.scale {
            None => None,
            Some(name) => {
                let Some(b) = block else {
                    return Err(CalibrateError::Config {
                        key: "error.scale".into(),
                        message: "no parameter block to look it up in".into(),
                    });
                };
                Some(b.index_of(name).ok_or_else(|| CalibrateError::Config {
                    key: "error.scale".into(),
                    message: format!("`{name}` is not a parameter of the scene"),
                })?)
            }
        };
        Ok(Likelihood {
            kind: cfg.model,
            observed: observed.to_vec(),
            sd: sd.to_vec(),
            rel_sd: cfg.rel_sd,
            scale,
        })
    }

    pub fn rows(&self) -> usize {
        self.observed.len()
    }

    /// Row i's (mean, sd) in the space where its error is normal (ln y for
    /// log-normal), for parameters `theta` and simulated value `f`; None
    /// when f has likelihood 0 (log-normal f ≤ 0, scale ≤ 0).
    pub fn row_normal(&self, theta: &[f64], f: &[f64], i: usize) -> Option<(f64, f64)> {
        let scale = self.scale.map(|k| theta[k]);
        if let Some(s) = scale
            && !(s.is_finite() && s > 0.0)
        {
            return None;
        }
        match self.kind {
            ErrorKind::Gaussian => Some((f[i], scale.unwrap_or(self.sd[i]))),
            ErrorKind::Relative => {
                let r = scale.unwrap_or(self.rel_sd);
                Some((f[i], self.sd[i].max(r * f[i].abs())))
            }
            ErrorKind::Lognormal => {
                if f[i] <= 0.0 {
                    return None;
                }
                let s = scale.unwrap_or(self.sd[i] / self.observed[i].abs());
                Some((f[i].ln(), s))
            }
        }
    }

    /// A data value in the space of `row_normal` (ln y for log-normal).
    fn to_space(&self, y: f64) -> f64 {
        match self.kind {
            ErrorKind::Lognormal => y.ln(),
            _ => y,
        }
    }

    fn out_of_space(&self, x: f64) -> f64 {
        match self.kind {
            ErrorKind::Lognormal => x.exp(),
            _ => x,
        }
    }

    /// log p(y_obs | f(θ)): the full density of the data (Jacobian of
    /// the log for log-normal included); −∞ when it is 0.
    pub fn log_likelihood(&self, theta: &[f64], f: &[f64]) -> f64 {
        let mut ll = 0.0;
        for i in 0..self.rows() {
            let Some((m, s)) = self.row_normal(theta, f, i) else {
                return f64::NEG_INFINITY;
            };
            let y = self.observed[i];
            let z = (self.to_space(y) - m) / s;
            ll += -0.5 * z * z - s.ln() - LN_SQRT_2PI;
            if self.kind == ErrorKind::Lognormal {
                ll -= y.ln();
            }
        }
        if ll.is_nan() { f64::NEG_INFINITY } else { ll }
    }

    /// The fixed standardising scale of row i for distances: the data sd
    /// (its relative sd for log-normal).
    fn distance_scale(&self, i: usize) -> f64 {
        match self.kind {
            ErrorKind::Lognormal => self.sd[i] / self.observed[i].abs(),
            _ => self.sd[i],
        }
    }

    /// The Euclidean norm of the standardised residuals of `values` (a
    /// simulated or noisy output) from the data, in the error model's space
    /// with the data rows' scales; ∞ for a non-positive value under
    /// log-normal errors.
    pub fn distance(&self, values: &[f64]) -> f64 {
        let mut d2 = 0.0;
        for (i, v) in values.iter().enumerate() {
            if self.kind == ErrorKind::Lognormal && *v <= 0.0 {
                return f64::INFINITY;
            }
            let r = (self.to_space(*v) - self.to_space(self.observed[i])) / self.distance_scale(i);
            d2 += r * r;
        }
        d2.sqrt()
    }

    /// An observation drawn from the error model: `f` plus noise, with one
    /// standard normal per row in `normals`; None when f has likelihood 0.
    pub fn noisy(&self, theta: &[f64], f: &[f64], normals: &[f64]) -> Option<Vec<f64>> {
        (0..self.rows())
            .map(|i| {
                let (m, s) = self.row_normal(theta, f, i)?;
                Some(self.out_of_space(m + s * normals[i]))
            })
            .collect()
    }

    /// The error model's CDF at data row i's value given f (for PIT).
    pub fn cdf(&self, theta: &[f64], f: &[f64], i: usize) -> Option<f64> {
        let (m, s) = self.row_normal(theta, f, i)?;
        Some(norm_cdf((self.to_space(self.observed[i]) - m) / s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Distribution;

    #[test]
    fn gaussian_log_likelihood_is_the_normal_density() {
        let l = Likelihood::gaussian(&[1.0, 2.0], &[0.5, 2.0]).unwrap();
        let ll = l.log_likelihood(&[], &[1.5, 2.0]);
        // N(1; 1.5, 0.5²) · N(2; 2, 2²)
        let expect = (-0.5f64 - 0.5f64.ln() - LN_SQRT_2PI) + (-(2.0f64).ln() - LN_SQRT_2PI);
        assert!((ll - expect).abs() < 1e-12, "{ll} {expect}");
        assert!((l.distance(&[1.5, 4.0]) - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn relative_lognormal_and_scale_parameters() {
        let cfg = ErrorConfig {
            model: ErrorKind::Relative,
            rel_sd: 0.1,
            scale: None,
        };
        let l = Likelihood::new(&cfg, &[10.0], &[0.01], None).unwrap();
        // sd = max(0.01, 0.1·20) = 2 → z = −5
        let ll = l.log_likelihood(&[], &[20.0]);
        assert!((ll - (-12.5 - 2f64.ln() - LN_SQRT_2PI)).abs() < 1e-12);
        let cfg = ErrorConfig {
            model: ErrorKind::Lognormal,
            ..ErrorConfig::default()
        };
        let l = Likelihood::new(&cfg, &[2.0], &[0.2], None).unwrap();
        // ln y ~ N(ln f, 0.1²): at f = 2 the density of y is φ(0)/(0.1·2).
        let ll = l.log_likelihood(&[], &[2.0]);
        assert!((ll - (-LN_SQRT_2PI - 0.1f64.ln() - 2f64.ln())).abs() < 1e-12);
        assert_eq!(l.log_likelihood(&[], &[-1.0]), f64::NEG_INFINITY);
        assert!(Likelihood::new(&cfg, &[-2.0], &[0.2], None).is_err());
        let block = ParamBlock::from_pairs([
            ("k".into(), Distribution::Fixed(1.0)),
            (
                "sigma".into(),
                Distribution::Uniform {
                    low: 0.1,
                    high: 2.0,
                },
            ),
        ]);
        let cfg = ErrorConfig {
            scale: Some("sigma".into()),
            ..ErrorConfig::default()
        };
        let l = Likelihood::new(&cfg, &[0.0], &[1.0], Some(&block)).unwrap();
        let ll = l.log_likelihood(&[1.0, 0.5], &[1.0]);
        assert!((ll - (-2.0 - 0.5f64.ln() - LN_SQRT_2PI)).abs() < 1e-12);
        let cfg = ErrorConfig {
            scale: Some("tau".into()),
            ..ErrorConfig::default()
        };
        let e = Likelihood::new(&cfg, &[0.0], &[1.0], Some(&block)).unwrap_err();
        assert!(e.to_string().contains("`tau`"), "{e}");
        let cfg = ErrorConfig {
            model: ErrorKind::Relative,
            ..ErrorConfig::default()
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("rel_sd"));
    }
}
