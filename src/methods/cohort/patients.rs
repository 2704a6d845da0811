//! Virtual patients: covariates, parameter values and the assigned arm, each
//! a pure function of (scene, seed, patient index).
//!
//! Owns: the per-patient draws (population unit point → `ParamBlock::map_unit`,
//! Gaussian copula included → modulation rules in file order) and the
//! `patients` table. Never simulates, never touches files. A patient's draws
//! use only its own keyed counters (`keys.rs`), so any sharding or batching of
//! the index range gives the same patients.

use super::error::CohortError;
use super::keys::{self, Purpose};
use super::spec::{Assignment, CohortSpec, CovariateKind, CovariateValue};
use super::validate::SceneContext;
use crate::input::params::ParamBlock;
use crate::output::table::{Table, Values};
use std::ops::Range;

/// One virtual patient.
#[derive(Clone, Debug, PartialEq)]
pub struct Patient {
    pub id: u64,
    /// Covariate values in `spec.covariates` order.
    pub covariates: Vec<CovariateValue>,
    /// Values of every parameter in `ParamBlock` order, after modulation.
    pub params: Vec<f64>,
    /// Index into the scene's arms.
    pub assigned_arm: usize,
}

/// A validated cohort set-up that draws patients.
#[derive(Clone, Debug)]
pub struct PatientSampler<'a> {
    pub spec: &'a CohortSpec,
    pub params: &'a ParamBlock,
    pub arms: Vec<String>,
    pub seed: u64,
    /// Keyed-draw site of each varying parameter (its name's hash).
    varying_sites: Vec<u32>,
    /// Assignment probabilities over `arms` (randomised case).
    arm_weights: Vec<f64>,
}

impl<'a> PatientSampler<'a> {
    /// Validates `spec` against the scene and freezes the sampler.
    pub fn new(
        spec: &'a CohortSpec,
        ctx: &SceneContext<'a>,
        seed: u64,
    ) -> Result<Self, CohortError> {
        spec.validate(ctx)?;
        ctx.params
            .validate()
            .map_err(|e| CohortError::spec("parameters", e))?;
        let varying_sites = ctx
            .params
            .varying()
            .iter()
            .map(|&i| keys::site_of(&ctx.params.params[i].name))
            .collect();
        let arm_weights: Vec<f64> = match &spec.assignment {
            Some(Assignment::Randomised { probabilities }) => ctx
                .arms
                .iter()
                .map(|a| probabilities.get(a).copied().unwrap_or(0.0))
                .collect(),
            _ => vec![1.0 / ctx.arms.len() as f64; ctx.arms.len()],
        };
        Ok(PatientSampler {
            spec,
            params: ctx.params,
            arms: ctx.arms.to_vec(),
            seed,
            varying_sites,
            arm_weights,
        })
    }

    /// Patient `id`: depends only on (spec, params, arms, seed, id).
    pub fn patient(&self, id: u64) -> Result<Patient, CohortError> {
        let p = u32::try_from(id).map_err(|_| CohortError::PatientIndex(id))?;
        let covariates: Vec<CovariateValue> = self
            .spec
            .covariates
            .iter()
            .map(|(name, c)| {
                let u = keys::uniform(self.seed, p, Purpose::Covariate, keys::site_of(name), 0);
                match &c.kind {
                    CovariateKind::Categorical {
                        levels,
                        probabilities,
                    } => CovariateValue::Level(levels[pick(probabilities, u)].clone()),
                    CovariateKind::Continuous(d) => CovariateValue::Number(d.from_unit(u)),
                }
            })
            .collect();
        let unit: Vec<f64> = self
            .varying_sites
            .iter()
            .map(|&s| keys::uniform(self.seed, p, Purpose::Param, s, 0))
            .collect();
        let mut params = self.params.map_unit(&unit);
        for rule in &self.spec.modulation {
            // Both lookups succeed: `new` validated the rules.
            if let (Some(i), Some(c)) = (
                self.params.index_of(&rule.param),
                self.spec.covariates.get_index_of(&rule.covariate),
            ) {
                params[i] = rule.apply(params[i], &covariates[c]);
            }
        }
        let u = keys::uniform(self.seed, p, Purpose::Arm, 0, 0);
        let assigned_arm = match &self.spec.assignment {
            Some(Assignment::Confounded {
                arm,
                otherwise,
                rule,
            }) => {
                let x = self
                    .spec
                    .covariates
                    .get_index_of(&rule.covariate)
                    .map(|c| &covariates[c]);
                let prob = x.map_or(0.0, |x| rule.probability(x));
                let chosen = if u < prob { arm } else { otherwise };
                self.arms.iter().position(|a| a == chosen).unwrap_or(0)
            }
            _ => pick(&self.arm_weights, u),
        };
        Ok(Patient {
            id,
            covariates,
            params,
            assigned_arm,
        })
    }

    /// Patients `range.start .. range.end`, in order.
    pub fn patients(&self, range: Range<u64>) -> Result<Vec<Patient>, CohortError> {
        range.map(|i| self.patient(i)).collect()
    }

    /// A covariate of `patient` by name.
    pub fn covariate<'p>(&self, patient: &'p Patient, name: &str) -> Option<&'p CovariateValue> {
        self.spec
            .covariates
            .get_index_of(name)
            .map(|i| &patient.covariates[i])
    }

    /// The `patients` table: patient_id, covariates, parameters, assigned_arm,
    /// plausible (one flag per patient, same order).
    pub fn table(&self, patients: &[Patient], plausible: &[bool]) -> Table {
        let mut t = Table::new("patients");
        t.push_column(
            "patient_id",
            Values::I64(patients.iter().map(|p| Some(p.id as i64)).collect()),
        );
        for (k, (name, c)) in self.spec.covariates.iter().enumerate() {
            let values = if c.is_categorical() {
                Values::Str(
                    patients
                        .iter()
                        .map(|p| match &p.covariates[k] {
                            CovariateValue::Level(l) => Some(l.clone()),
                            CovariateValue::Number(_) => None,
                        })
                        .collect(),
                )
            } else {
                Values::F64(
                    patients
                        .iter()
                        .map(|p| match p.covariates[k] {
                            CovariateValue::Number(v) => Some(v),
                            CovariateValue::Level(_) => None,
                        })
                        .collect(),
                )
            };
            t.push_column(name.clone(), values);
        }
        for (j, spec) in self.params.params.iter().enumerate() {
            t.push_column(
                spec.name.clone(),
                Values::F64(patients.iter().map(|p| Some(p.params[j])).collect()),
            );
        }
        t.push_column(
            "assigned_arm",
            Values::Str(
                patients
                    .iter()
                    .map(|p| Some(self.arms[p.assigned_arm].clone()))
                    .collect(),
            ),
        );
        t.push_column(
            "plausible",
            Values::Bool(plausible.iter().map(|&b| Some(b)).collect()),
        );
        t
    }
}

/// Index of the category that `u` in (0, 1) falls into, for weights that
/// sum to 1 (the last category absorbs rounding).
fn pick(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    // Rounding left `acc` a hair under 1: the last category with weight.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Distribution;

    #[test]
    fn pick_follows_cumulative_weights() {
        let w = [0.2, 0.0, 0.8];
        assert_eq!(pick(&w, 0.1), 0);
        assert_eq!(pick(&w, 0.2), 2);
        assert_eq!(pick(&w, 0.999_999_999_999), 2);
        assert_eq!(pick(&[0.5, 0.5, 0.0], 1.0), 1);
    }

    #[test]
    fn categorical_and_arm_frequencies_match_their_probabilities() {
        let spec: CohortSpec = toml::from_str(
            "[covariates.sex]\nlevels = [\"F\", \"M\"]\nprobabilities = [0.3, 0.7]\n\
             [assignment]\nmethod = \"randomised\"\nprobabilities = { a = 0.25, b = 0.75 }\n",
        )
        .unwrap();
        let params = ParamBlock::from_pairs([(
            "k".to_string(),
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
        )]);
        let arms = vec!["a".to_string(), "b".to_string()];
        let ctx = SceneContext {
            arms: &arms,
            params: &params,
            observables: None,
        };
        let s = PatientSampler::new(&spec, &ctx, 3).unwrap();
        let n = 20_000;
        let ps = s.patients(0..n).unwrap();
        let f = ps
            .iter()
            .filter(|p| p.covariates[0] == CovariateValue::Level("F".into()))
            .count() as f64;
        let b = ps.iter().filter(|p| p.assigned_arm == 1).count() as f64;
        // Binomial sd: sqrt(0.3·0.7/n) = 0.0032, sqrt(0.25·0.75/n) = 0.0031; allow 4 sd.
        assert!(
            (f / n as f64 - 0.3).abs() < 4.0 * 0.0033,
            "F fraction {}",
            f / n as f64
        );
        assert!(
            (b / n as f64 - 0.75).abs() < 4.0 * 0.0031,
            "arm b fraction {}",
            b / n as f64
        );
        // Mean of U(0, 1) parameter: sd of the mean 1/sqrt(12 n) = 0.0020; allow 4 sd.
        let mk = ps.iter().map(|p| p.params[0]).sum::<f64>() / n as f64;
        assert!((mk - 0.5).abs() < 0.008, "mean k {mk}");
    }
}
