//! Parameter distributions: their checks, inverse CDFs (unit cube →
//! value), CDFs, supports and medians.

use super::ParamError;
use statrs::distribution::{ContinuousCDF, Normal};

/// Unit-cube values are clamped to `[UNIT_EPS, 1 - UNIT_EPS]` before the
/// inverse CDF of an unbounded distribution, so that a design point at 0 or 1
/// (Sobol point 0, grid end points) never maps to ±infinity.
pub const UNIT_EPS: f64 = 1e-9;

/// One parameter: a fixed value or a distribution to sample from.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Fixed(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    LogUniform {
        low: f64,
        high: f64,
    },
    Normal {
        mean: f64,
        sd: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    TruncNormal {
        mean: f64,
        sd: f64,
        low: f64,
        high: f64,
    },
    /// Discrete choice among values, with optional weights (normalised).
    Choice {
        values: Vec<f64>,
        weights: Option<Vec<f64>>,
    },
}

fn std_normal() -> Normal {
    // Normal::new(0, 1) cannot fail.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| unreachable!())
}

/// Standard normal CDF.
pub fn norm_cdf(z: f64) -> f64 {
    std_normal().cdf(z)
}

/// Standard normal inverse CDF (quantile function).
pub fn norm_ppf(p: f64) -> f64 {
    std_normal().inverse_cdf(p)
}

impl Distribution {
    /// The distribution's keyword in scene files (`dist = "..."`).
    pub fn kind(&self) -> &'static str {
        match self {
            Distribution::Fixed(_) => "fixed",
            Distribution::Uniform { .. } => "uniform",
            Distribution::LogUniform { .. } => "loguniform",
            Distribution::Normal { .. } => "normal",
            Distribution::LogNormal { .. } => "lognormal",
            Distribution::TruncNormal { .. } => "truncnormal",
            Distribution::Choice { .. } => "choice",
        }
    }

    pub fn is_fixed(&self) -> bool {
        matches!(self, Distribution::Fixed(_))
    }

    /// Checks the distribution's own arguments; the message names the
    /// offending argument.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("`{name}` must be a finite number, got {v}").into())
            }
        };
        match self {
            Distribution::Fixed(v) => finite("value", *v),
            Distribution::Uniform { low, high } => {
                finite("low", *low)?;
                finite("high", *high)?;
                if low >= high {
                    return Err(format!("`low` ({low}) must be less than `high` ({high})").into());
                }
                Ok(())
            }
            Distribution::LogUniform { low, high } => {
                finite("low", *low)?;
                finite("high", *high)?;
                if *low <= 0.0 {
                    return Err(format!(
                        "`low` ({low}) must be positive for a log-uniform distribution"
                    )
                    .into());
                }
                if low >= high {
                    return Err(format!("`low` ({low}) must be less than `high` ({high})").into());
                }
                Ok(())
            }
            Distribution::Normal { mean, sd } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                if *sd <= 0.0 {
                    return Err(format!("`sd` ({sd}) must be positive").into());
                }
                Ok(())
            }
            Distribution::LogNormal { mu, sigma } => {
                finite("mu", *mu)?;
                finite("sigma", *sigma)?;
                if *sigma <= 0.0 {
                    return Err(format!("`sigma` ({sigma}) must be positive").into());
                }
                Ok(())
            }
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                finite("low", *low)?;
                finite("high", *high)?;
                if *sd <= 0.0 {
                    return Err(format!("`sd` ({sd}) must be positive").into());
                }
                if low >= high {
                    return Err(format!("`low` ({low}) must be less than `high` ({high})").into());
                }
                let (a, b) = (norm_cdf((low - mean) / sd), norm_cdf((high - mean) / sd));
                if b - a < 1e-12 {
                    return Err(format!(
                        "[{low}, {high}] holds no probability mass of N({mean}, {sd}²)"
                    )
                    .into());
                }
                Ok(())
            }
            Distribution::Choice { values, weights } => {
                if values.is_empty() {
                    return Err("`values` must list at least one value".into());
                }
                for v in values {
                    finite("values", *v)?;
                }
                if let Some(w) = weights {
                    if w.len() != values.len() {
                        return Err(format!(
                            "`weights` has {} entries but `values` has {}",
                            w.len(),
                            values.len()
                        )
                        .into());
                    }
                    if w.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                        || w.iter().sum::<f64>() <= 0.0
                    {
                        return Err("`weights` must be non-negative with a positive sum".into());
                    }
                }
                Ok(())
            }
        }
    }

    /// Maps `u` in [0, 1] to a value through the inverse CDF. Unbounded
    /// distributions clamp `u` to `[UNIT_EPS, 1 - UNIT_EPS]` first.
    pub fn from_unit(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let uc = u.clamp(UNIT_EPS, 1.0 - UNIT_EPS);
        match self {
            Distribution::Fixed(v) => *v,
            Distribution::Uniform { low, high } => low + u * (high - low),
            Distribution::LogUniform { low, high } => (low.ln() + u * (high.ln() - low.ln())).exp(),
            Distribution::Normal { mean, sd } => mean + sd * norm_ppf(uc),
            Distribution::LogNormal { mu, sigma } => (mu + sigma * norm_ppf(uc)).exp(),
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => {
                let a = norm_cdf((low - mean) / sd);
                let b = norm_cdf((high - mean) / sd);
                let p = (a + u * (b - a)).clamp(UNIT_EPS, 1.0 - UNIT_EPS);
                (mean + sd * norm_ppf(p)).clamp(*low, *high)
            }
            Distribution::Choice { values, weights } => {
                let n = values.len();
                match weights {
                    None => values[((u * n as f64) as usize).min(n - 1)],
                    Some(w) => {
                        let total: f64 = w.iter().sum();
                        let mut acc = 0.0;
                        for (v, wi) in values.iter().zip(w) {
                            acc += wi / total;
                            if u < acc {
                                return *v;
                            }
                        }
                        values[n - 1]
                    }
                }
            }
        }
    }

    /// The CDF at `x`: the inverse of `from_unit` for continuous
    /// distributions, clamped to [0, 1]; for `choice`, the probability mass
    /// at or below `x`; for a fixed value, a step at the value.
    pub fn cdf(&self, x: f64) -> f64 {
        let clamp01 = |p: f64| p.clamp(0.0, 1.0);
        match self {
            Distribution::Fixed(v) => f64::from(x >= *v),
            Distribution::Uniform { low, high } => clamp01((x - low) / (high - low)),
            Distribution::LogUniform { low, high } => {
                if x <= *low {
                    0.0
                } else {
                    clamp01((x.ln() - low.ln()) / (high.ln() - low.ln()))
                }
            }
            Distribution::Normal { mean, sd } => norm_cdf((x - mean) / sd),
            Distribution::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    norm_cdf((x.ln() - mu) / sigma)
                }
            }
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => {
                let (a, b) = (norm_cdf((low - mean) / sd), norm_cdf((high - mean) / sd));
                clamp01((norm_cdf((x - mean) / sd) - a) / (b - a))
            }
            Distribution::Choice { values, weights } => {
                let total: f64 = weights
                    .as_ref()
                    .map_or(values.len() as f64, |w| w.iter().sum());
                let below: f64 = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v <= x)
                    .map(|(i, _)| weights.as_ref().map_or(1.0, |w| w[i]))
                    .sum();
                below / total
            }
        }
    }

    /// The smallest interval holding all of the distribution's mass, where
    /// finite (used for stability checks and plot ranges).
    pub fn support(&self) -> (f64, f64) {
        match self {
            Distribution::Fixed(v) => (*v, *v),
            Distribution::Uniform { low, high }
            | Distribution::LogUniform { low, high }
            | Distribution::TruncNormal { low, high, .. } => (*low, *high),
            Distribution::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Distribution::LogNormal { .. } => (0.0, f64::INFINITY),
            Distribution::Choice { values, .. } => (
                values.iter().cloned().fold(f64::INFINITY, f64::min),
                values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            ),
        }
    }

    /// The median (value at u = 0.5): the "nominal" value of a parameter.
    pub fn median(&self) -> f64 {
        self.from_unit(0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_cdfs_hit_known_quantiles() {
        let n = Distribution::Normal { mean: 1.0, sd: 2.0 };
        assert!((n.from_unit(0.975) - (1.0 + 2.0 * 1.959963984540054)).abs() < 1e-9);
        assert!(n.from_unit(0.0).is_finite());
        let lu = Distribution::LogUniform {
            low: 1e-3,
            high: 1e-1,
        };
        assert!((lu.from_unit(0.5) - 1e-2).abs() < 1e-12);
        let ln = Distribution::LogNormal {
            mu: 0.0,
            sigma: 0.3,
        };
        assert!((ln.from_unit(0.5) - 1.0).abs() < 1e-12);
        let t = Distribution::TruncNormal {
            mean: 1.0,
            sd: 0.5,
            low: 0.0,
            high: 2.0,
        };
        assert!((t.from_unit(0.5) - 1.0).abs() < 1e-9);
        assert_eq!(t.from_unit(0.0), 0.0);
        assert!((t.from_unit(1.0) - 2.0).abs() < 1e-6);
    }

    /// `cdf` inverts `from_unit` for every continuous distribution.
    #[test]
    fn cdf_inverts_the_quantile_function() {
        let dists = [
            Distribution::Uniform {
                low: 0.1,
                high: 0.5,
            },
            Distribution::LogUniform {
                low: 1e-3,
                high: 1e-1,
            },
            Distribution::Normal { mean: 1.0, sd: 0.2 },
            Distribution::LogNormal {
                mu: 0.0,
                sigma: 0.3,
            },
            Distribution::TruncNormal {
                mean: 1.0,
                sd: 0.5,
                low: 0.0,
                high: 2.0,
            },
        ];
        for d in &dists {
            for u in [0.01, 0.25, 0.5, 0.9, 0.99] {
                let back = d.cdf(d.from_unit(u));
                assert!((back - u).abs() < 1e-9, "{d:?}: {u} -> {back}");
            }
        }
        let c = Distribution::Choice {
            values: vec![1.0, 2.0, 3.0],
            weights: Some(vec![1.0, 1.0, 2.0]),
        };
        assert_eq!(c.cdf(2.5), 0.5);
    }
}
