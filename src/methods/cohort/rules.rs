//! The rule types of a `[cohort]` section and their formulas: covariate
//! values, parameter modulation, logistic probabilities (confounded
//! assignment, missingness at random) and measurement noise.
//!
//! Owns: the serde shape of each rule and the pure function it computes.
//! Re-exported by `spec.rs`, which holds the section around them. Never draws
//! random numbers, never reads files.

use super::spec::CohortSpecError;
use serde::Deserialize;

/// A covariate's value for one patient.
#[derive(Clone, Debug, PartialEq)]
pub enum CovariateValue {
    Level(String),
    Number(f64),
}

/// Changes parameter `param` by covariate `covariate`.
///
/// - Categorical: `level = "F"` with `multiply = m` (param ×= m) or `add = a`
///   (param += a) when the patient has that level.
/// - Continuous: `per_unit = b`, `reference = x0` (default 0), `form`:
///   `"loglinear"` (default) multiplies by `exp(b (x − x0))`, so a positive
///   parameter stays positive; `"linear"` adds `b (x − x0)`.
///
/// Values are not clamped afterwards: plausibility bounds are the guard.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "ModulationRaw")]
pub struct ModulationRule {
    pub covariate: String,
    pub param: String,
    pub effect: Effect,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Multiply {
        level: String,
        factor: f64,
    },
    Add {
        level: String,
        amount: f64,
    },
    Slope {
        per_unit: f64,
        reference: f64,
        form: SlopeForm,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlopeForm {
    #[default]
    LogLinear,
    Linear,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModulationRaw {
    covariate: String,
    param: String,
    level: Option<String>,
    multiply: Option<f64>,
    add: Option<f64>,
    per_unit: Option<f64>,
    reference: Option<f64>,
    form: Option<SlopeForm>,
}

impl TryFrom<ModulationRaw> for ModulationRule {
    type Error = CohortSpecError;
    fn try_from(r: ModulationRaw) -> Result<Self, CohortSpecError> {
        let effect = match (r.level, r.multiply, r.add, r.per_unit) {
            (Some(level), Some(factor), None, None)
                if r.reference.is_none() && r.form.is_none() =>
            {
                Effect::Multiply { level, factor }
            }
            (Some(level), None, Some(amount), None)
                if r.reference.is_none() && r.form.is_none() =>
            {
                Effect::Add { level, amount }
            }
            (None, None, None, Some(per_unit)) => Effect::Slope {
                per_unit,
                reference: r.reference.unwrap_or(0.0),
                form: r.form.unwrap_or_default(),
            },
            _ => {
                return Err(format!(
                    "modulation of `{}` by `{}`: give `level` with one of `multiply` / `add` (categorical), \
                     or `per_unit` with optional `reference` and `form` (continuous)",
                    r.param, r.covariate
                ).into());
            }
        };
        Ok(ModulationRule {
            covariate: r.covariate,
            param: r.param,
            effect,
        })
    }
}

impl ModulationRule {
    /// Applies the rule to a parameter value given the patient's covariate.
    /// A categorical effect on a number (or the reverse) leaves `v` unchanged;
    /// validation rules that out.
    pub fn apply(&self, v: f64, x: &CovariateValue) -> f64 {
        match (&self.effect, x) {
            (Effect::Multiply { level, factor }, CovariateValue::Level(l)) if l == level => {
                v * factor
            }
            (Effect::Add { level, amount }, CovariateValue::Level(l)) if l == level => v + amount,
            (
                Effect::Slope {
                    per_unit,
                    reference,
                    form,
                },
                CovariateValue::Number(x),
            ) => match form {
                SlopeForm::LogLinear => v * (per_unit * (x - reference)).exp(),
                SlopeForm::Linear => v + per_unit * (x - reference),
            },
            _ => v,
        }
    }
}

/// A probability that is logistic in one covariate:
/// `p = 1 / (1 + exp(−(intercept + slope · x)))` with `x = value − reference`
/// for a continuous covariate and `x = 1` if the patient has `level` (else 0)
/// for a categorical one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticRule {
    pub covariate: String,
    /// Required for a categorical covariate, forbidden for a continuous one.
    pub level: Option<String>,
    /// Default 0.
    #[serde(default)]
    pub intercept: f64,
    /// Default 0.
    #[serde(default)]
    pub slope: f64,
    /// Default 0 (continuous covariates only).
    #[serde(default)]
    pub reference: f64,
}

impl LogisticRule {
    pub fn probability(&self, x: &CovariateValue) -> f64 {
        let x = match x {
            CovariateValue::Number(v) => v - self.reference,
            CovariateValue::Level(l) => {
                if self.level.as_deref() == Some(l.as_str()) {
                    1.0
                } else {
                    0.0
                }
            }
        };
        1.0 / (1.0 + (-(self.intercept + self.slope * x)).exp())
    }
}

/// Measurement noise on a noiseless value `x`, with `z ~ N(0, 1)`:
/// additive `x + sd z`; multiplicative `x (1 + sd z)`; lognormal
/// `x exp(sd z)` (median-unbiased: the mean is `x exp(sd²/2)`).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    pub kind: NoiseKind,
    pub sd: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    Additive,
    Multiplicative,
    LogNormal,
}

impl Noise {
    pub fn apply(&self, x: f64, z: f64) -> f64 {
        match self.kind {
            NoiseKind::Additive => x + self.sd * z,
            NoiseKind::Multiplicative => x * (1.0 + self.sd * z),
            NoiseKind::LogNormal => x * (self.sd * z).exp(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compute_their_formulas() {
        let r = LogisticRule {
            covariate: "age".into(),
            level: None,
            intercept: 0.5,
            slope: 0.1,
            reference: 60.0,
        };
        let p = r.probability(&CovariateValue::Number(70.0));
        assert!((p - 1.0 / (1.0 + (-1.5f64).exp())).abs() < 1e-15);
        let c = LogisticRule {
            covariate: "sex".into(),
            level: Some("F".into()),
            intercept: 0.0,
            slope: 2.0,
            reference: 0.0,
        };
        assert_eq!(c.probability(&CovariateValue::Level("M".into())), 0.5);
        let m = ModulationRule {
            covariate: "age".into(),
            param: "k".into(),
            effect: Effect::Slope {
                per_unit: -0.002,
                reference: 60.0,
                form: SlopeForm::LogLinear,
            },
        };
        assert!(
            (m.apply(0.1, &CovariateValue::Number(80.0)) - 0.1 * (-0.04f64).exp()).abs() < 1e-15
        );
        let n = Noise {
            kind: NoiseKind::LogNormal,
            sd: 0.2,
        };
        assert!((n.apply(2.0, 1.0) - 2.0 * 0.2f64.exp()).abs() < 1e-15);
    }
}
