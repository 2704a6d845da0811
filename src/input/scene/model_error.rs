//! `[assimilation.model_error]` as a scene states it: process noise per
//! species and random-walk drift per estimated parameter, with the checks
//! that need nothing but the section (docs/assimilation.md). What the noise
//! does to a state and how drift is drawn is `core::model_error`.
//!
//! Owns: the section's schema and its own checks.

use indexmap::IndexMap;
use serde::Deserialize;

/// `[assimilation.model_error]`.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelErrorSection {
    /// Process noise per species.
    #[serde(default)]
    pub process: Vec<ProcessNoise>,
    /// Random-walk drift of estimated parameters: parameter name → τ, the
    /// standard deviation of its change per √(time unit).
    #[serde(default)]
    pub drift: IndexMap<String, f64>,
}

/// How process noise enters a species.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    Additive,
    Multiplicative,
}

/// Process noise on one species.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessNoise {
    pub species: String,
    /// σ per √(time unit): species units (additive) or log units
    /// (multiplicative).
    pub sigma: f64,
    pub kind: NoiseKind,
}

impl ModelErrorSection {
    /// Checks within the section: (key under `assimilation.model_error`,
    /// message). Names are checked against the model by the caller.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (i, p) in self.process.iter().enumerate() {
            if !(p.sigma.is_finite() && p.sigma >= 0.0) {
                return Err((
                    format!("process.{i}.sigma"),
                    format!("sigma must be finite and ≥ 0, got {}", p.sigma),
                ));
            }
            if let Some(j) = self.process[..i]
                .iter()
                .position(|q| q.species == p.species)
            {
                return Err((
                    format!("process.{i}.species"),
                    format!(
                        "species `{}` has process noise twice (entries {j} and {i})",
                        p.species
                    ),
                ));
            }
        }
        for (name, tau) in &self.drift {
            if !(tau.is_finite() && *tau >= 0.0) {
                return Err((
                    format!("drift.{name}"),
                    format!("drift of `{name}` must be finite and ≥ 0, got {tau}"),
                ));
            }
        }
        Ok(())
    }
}
