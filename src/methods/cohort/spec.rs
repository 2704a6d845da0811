//! The `[cohort]` section of a scene: covariates, modulation rules, arm
//! assignment, observation model, outcome rules and plausibility bounds.
//!
//! Owns: the serde shape of the section and its documented defaults, plus the
//! small pure formulas that belong to a rule (a logistic probability, a
//! modulation). Validation against the rest of the scene lives in
//! `validate.rs`. Never reads files, never draws random numbers.
//!
//! Example (every key shown; defaults noted in the field docs):
//! ```toml
//! [cohort.covariates.sex]
//! levels = ["F", "M"]
//! probabilities = [0.5, 0.5]
//!
//! [cohort.covariates.age]
//! distribution = { dist = "truncnormal", mean = 62, sd = 10, low = 18, high = 90 }
//! unit = "years"
//!
//! [[cohort.modulation]]
//! covariate = "sex"
//! level = "F"
//! param = "k"
//! multiply = 0.9
//!
//! [[cohort.modulation]]
//! covariate = "age"
//! param = "k"
//! per_unit = -0.002      # log-linear: k *= exp(-0.002 (age - 60))
//! reference = 60
//!
//! [cohort.assignment]
//! method = "confounded"  # or "randomised" with probabilities = { control = 0.5, treated = 0.5 }
//! arm = "treated"
//! otherwise = "control"
//! rule = { covariate = "age", intercept = 0.0, slope = 0.08, reference = 60 }
//!
//! [cohort.observation.burden]
//! visits = [0, 42, 84, 126, 168]
//! jitter_sd = 3.0
//! noise = { kind = "multiplicative", sd = 0.1 }
//! lod = 1.0
//! mcar = 0.05
//! mar = { covariate = "age", intercept = -4.0, slope = 0.05, reference = 60 }
//! dropout_after_progression = true
//! unit = "mm"
//!
//! [cohort.outcomes]
//! burden = "burden"
//! pr = -0.30
//! pd = 0.20
//! follow_up = 168
//! events = [{ name = "doubled", observable = "burden", above = 200.0 }]
//!
//! [[cohort.plausibility]]
//! observable = "burden"
//! min = 0.0
//! max = 1000.0
//! ```

pub use super::rules::{
    CovariateValue, Effect, LogisticRule, ModulationRule, Noise, NoiseKind, SlopeForm,
};
use crate::input::params::Distribution;
use crate::input::scene::{Scene, SceneError};
use indexmap::IndexMap;
use serde::Deserialize;

message_error!(
    /// A `[cohort]` covariate or rule that makes no sense (serde `try_from`).
    pub CohortSpecError
);

/// Column names the cohort tables use for themselves; covariates and
/// parameters may not take them.
pub const RESERVED_COLUMNS: &[&str] = &["patient_id", "assigned_arm", "plausible", "arm"];

/// The whole `[cohort]` section. Every part is optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortSpec {
    /// Patient covariates in file order (the order of their columns).
    #[serde(default)]
    pub covariates: IndexMap<String, CovariateSpec>,
    /// Rules that change parameters by covariate, applied in file order after
    /// the population draw.
    #[serde(default)]
    pub modulation: Vec<ModulationRule>,
    /// How `assigned_arm` is chosen. Default: randomised with equal
    /// probability over all arms of the scene.
    #[serde(default)]
    pub assignment: Option<Assignment>,
    /// Observation model per observable (observable name → model).
    #[serde(default)]
    pub observation: IndexMap<String, ObservationSpec>,
    /// Outcome rules. Default: no outcome table beyond ids.
    #[serde(default)]
    pub outcomes: Option<OutcomeSpec>,
    /// Bounds on model outputs; a patient breaking any of them under any arm
    /// is implausible.
    #[serde(default)]
    pub plausibility: Vec<PlausibilityBound>,
    /// Options of the patient-file export (`vtwin cohort --export-obs`).
    #[serde(default)]
    pub export: ExportSpec,
}

/// `[cohort.export]`: how `vtwin cohort --export-obs` writes the patients'
/// observed visits as a long observation file (docs/cohort.md).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSpec {
    /// Observed visits per patient and observable held out at the end of
    /// each series (outcomes to score forecasts against). Default 2; 0 holds
    /// out nothing.
    #[serde(default = "default_holdout")]
    pub holdout: u32,
    /// Fewest observed visits a series must keep for fitting; series with
    /// fewer than `holdout + min_fit_visits` observed visits are left out of
    /// the held-out files (counted). Default 2.
    #[serde(default = "default_min_fit")]
    pub min_fit_visits: u32,
    /// How a value below the detection limit is written: `"limit"` (the
    /// limit itself, default) or `"zero"` (0, as registries record
    /// complete responses).
    #[serde(default)]
    pub censored: CensoredAs,
}

impl Default for ExportSpec {
    fn default() -> Self {
        ExportSpec {
            holdout: default_holdout(),
            min_fit_visits: default_min_fit(),
            censored: CensoredAs::Limit,
        }
    }
}

fn default_holdout() -> u32 {
    2
}

fn default_min_fit() -> u32 {
    2
}

/// The value written for a censored measurement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CensoredAs {
    #[default]
    Limit,
    Zero,
}

/// A covariate: categorical (levels with probabilities) or continuous (a
/// distribution as in `[parameters]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "CovariateRaw")]
pub struct CovariateSpec {
    pub kind: CovariateKind,
    /// Unit for the data dictionary (default: none).
    pub unit: Option<String>,
    /// Description for the data dictionary (default: none).
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CovariateKind {
    Categorical {
        levels: Vec<String>,
        probabilities: Vec<f64>,
    },
    Continuous(Distribution),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CovariateRaw {
    levels: Option<Vec<String>>,
    probabilities: Option<Vec<f64>>,
    distribution: Option<Distribution>,
    unit: Option<String>,
    description: Option<String>,
}

impl TryFrom<CovariateRaw> for CovariateSpec {
    type Error = CohortSpecError;
    fn try_from(r: CovariateRaw) -> Result<Self, CohortSpecError> {
        let kind = match (r.levels, r.probabilities, r.distribution) {
            (Some(levels), Some(probabilities), None) => CovariateKind::Categorical {
                levels,
                probabilities,
            },
            (None, None, Some(d)) => CovariateKind::Continuous(d),
            (Some(_), None, None) => {
                return Err("categorical covariate: `levels` needs `probabilities`".into());
            }
            (None, Some(_), None) => {
                return Err("categorical covariate: `probabilities` needs `levels`".into());
            }
            _ => {
                return Err(
                    "a covariate takes either `levels` + `probabilities` (categorical) \
                            or `distribution` (continuous), not both and not neither"
                        .into(),
                );
            }
        };
        Ok(CovariateSpec {
            kind,
            unit: r.unit,
            description: r.description,
        })
    }
}

impl CovariateSpec {
    pub fn is_categorical(&self) -> bool {
        matches!(self.kind, CovariateKind::Categorical { .. })
    }
}

/// How a patient's `assigned_arm` is chosen (one uniform draw per patient).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum Assignment {
    /// Arm → probability; probabilities sum to 1; arms left out get 0.
    #[serde(alias = "randomized")]
    Randomised {
        probabilities: IndexMap<String, f64>,
    },
    /// `arm` with probability `rule.probability(covariate)`, else `otherwise`.
    Confounded {
        arm: String,
        otherwise: String,
        rule: LogisticRule,
    },
}

/// The observation model of one observable.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationSpec {
    /// Scheduled visit days, strictly increasing; the first is the baseline.
    pub visits: Vec<f64>,
    /// Sd (days) of the Gaussian jitter added to every visit but the first
    /// (the baseline defines time zero). Jittered times are clamped to the
    /// trajectory's time span. Default 0.
    #[serde(default)]
    pub jitter_sd: f64,
    /// Measurement noise. Default: none.
    #[serde(default)]
    pub noise: Option<Noise>,
    /// Limit of detection: a measured value below it is reported as the limit
    /// itself with `censored = true`. Default: none.
    #[serde(default)]
    pub lod: Option<f64>,
    /// Probability that a measurement is missing completely at random. Default 0.
    #[serde(default)]
    pub mcar: f64,
    /// Missing-at-random rule: per-visit probability logistic in a covariate,
    /// drawn independently of `mcar` (a visit is missing if either says so).
    #[serde(default)]
    pub mar: Option<LogisticRule>,
    /// Visits after the (observed) progression time are missing: the patient
    /// left the study. Needs `[cohort.outcomes]`. Default false.
    #[serde(default)]
    pub dropout_after_progression: bool,
    /// Unit for the data dictionary.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// What outcomes are computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The measured series as a trial records it (noise, jitter, missing
    /// visits, LOD). Default.
    #[default]
    Observed,
    /// The noiseless model output at the scheduled visit days.
    True,
}

/// What progression is measured from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressionReference {
    /// Smallest value so far, baseline included (RECIST 1.1). Default.
    #[default]
    Nadir,
    Baseline,
}

fn default_pr() -> f64 {
    -0.30
}
fn default_pd() -> f64 {
    0.20
}

/// RECIST-like outcome rules on a burden observable.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// The observable that measures disease burden (must have an
    /// observation model).
    pub burden: String,
    /// Partial response: relative change from baseline at or below this.
    /// Default −0.30.
    #[serde(default = "default_pr")]
    pub pr: f64,
    /// Progression: relative increase over the reference at or above this.
    /// Default 0.20.
    #[serde(default = "default_pd")]
    pub pd: f64,
    /// Progression also needs an absolute increase of at least this much
    /// (RECIST: 5 mm). Default 0.
    #[serde(default)]
    pub pd_min_increase: f64,
    /// Complete response: burden at or below this, or below the LOD. Default 0.
    #[serde(default)]
    pub cr_below: f64,
    #[serde(default)]
    pub progression_reference: ProgressionReference,
    /// End of follow-up (days): later visits do not count and time to
    /// progression is censored here. Default: the burden's last visit day.
    #[serde(default)]
    pub follow_up: Option<f64>,
    #[serde(default)]
    pub basis: Basis,
    /// Threshold events: a flag and the first time each is met.
    #[serde(default)]
    pub events: Vec<EventRule>,
}

/// An event: `observable` goes above `above` or below `below` (exactly one).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRule {
    pub name: String,
    pub observable: String,
    #[serde(default)]
    pub above: Option<f64>,
    #[serde(default)]
    pub below: Option<f64>,
}

impl EventRule {
    pub fn is_met(&self, v: f64) -> bool {
        self.above.is_some_and(|a| v > a) || self.below.is_some_and(|b| v < b)
    }
}

/// A bound on a model output (noiseless trajectory): at time `at`
/// (interpolated) or, without `at`, at every output time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlausibilityBound {
    pub observable: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub at: Option<f64>,
}

impl CohortSpec {
    /// The scene's `[cohort]` section, or `None` when it has none. The
    /// scene keeps the section raw; errors name its file, line and key.
    pub fn from_scene(scene: &Scene) -> Result<Option<CohortSpec>, SceneError> {
        scene.section("cohort")
    }

    /// End of follow-up: the explicit value or the burden's last visit.
    pub fn follow_up(&self) -> Option<f64> {
        let o = self.outcomes.as_ref()?;
        o.follow_up.or_else(|| {
            self.observation
                .get(&o.burden)
                .and_then(|m| m.visits.last().copied())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Scene {
        cohort: CohortSpec,
    }

    fn parse(src: &str) -> Result<CohortSpec, CohortSpecError> {
        toml::from_str::<Scene>(src)
            .map(|s| s.cohort)
            .map_err(|e| e.to_string().into())
    }

    #[test]
    fn the_documented_example_parses_with_defaults() {
        let doc = include_str!("spec.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.strip_prefix("//!").unwrap_or(l).trim_start()))
            .collect();
        let c = parse(&example).unwrap();
        assert_eq!(c.covariates.len(), 2);
        assert!(c.covariates["sex"].is_categorical());
        assert_eq!(
            c.modulation[1].effect,
            Effect::Slope {
                per_unit: -0.002,
                reference: 60.0,
                form: SlopeForm::LogLinear
            }
        );
        let obs = &c.observation["burden"];
        assert_eq!(
            obs.noise,
            Some(Noise {
                kind: NoiseKind::Multiplicative,
                sd: 0.1
            })
        );
        let o = c.outcomes.as_ref().unwrap();
        assert_eq!(
            (o.pr, o.pd, o.pd_min_increase, o.basis),
            (-0.30, 0.20, 0.0, Basis::Observed)
        );
        assert_eq!(c.follow_up(), Some(168.0));
        assert!(matches!(c.assignment, Some(Assignment::Confounded { .. })));
    }

    const HEAD: &str = "[model]\nkind = \"gray_scott\"\n[time]\ndt = 1.0\nsteps = 10\n";

    fn scene_with(tail: &str) -> crate::input::scene::Scene {
        crate::input::scene::Scene::parse(std::path::Path::new("s.toml"), &format!("{HEAD}{tail}"))
            .unwrap()
    }

    #[test]
    fn from_scene_parses_the_raw_section_and_locates_its_errors() {
        assert_eq!(CohortSpec::from_scene(&scene_with("")).unwrap(), None);
        let c = CohortSpec::from_scene(&scene_with(
            "[cohort.observation.b]\nvisits = [0, 7]\nmcar = 0.1\n",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.observation["b"].visits, vec![0.0, 7.0]);
        assert_eq!(c.export.holdout, 2);
        // The scene loads (the section stays raw); the cohort module's
        // parse names the file, line, column and key.
        let s = scene_with("[cohort.observation.b]\nvisits = [0]\nmcar_rate = 0.1\n");
        let e = CohortSpec::from_scene(&s).unwrap_err();
        assert_eq!((e.line, e.column), (Some(8), Some(1)), "{e}");
        assert_eq!(e.key.as_deref(), Some("cohort.observation.b.mcar_rate"));
        assert!(
            e.to_string()
                .starts_with("s.toml:8:1: key `cohort.observation.b.mcar_rate`: unknown field `mcar_rate`, expected one of"),
            "{e}"
        );
        let s = crate::input::scene::Scene::parse(
            std::path::Path::new("s.toml"),
            &format!("cohort = 3\n{HEAD}"),
        )
        .unwrap();
        let e = CohortSpec::from_scene(&s).unwrap_err();
        assert_eq!((e.line, e.column), (Some(1), Some(10)), "{e}");
        assert_eq!(e.key.as_deref(), Some("cohort"));
        assert!(e.message.starts_with("invalid type: integer `3`"), "{e}");
    }

    #[test]
    fn structural_mistakes_are_parse_errors_with_a_line() {
        let e = parse("[cohort.observation.b]\nvisits = [0]\nmcar_rate = 0.1\n").unwrap_err();
        assert!(
            e.contains("unknown field `mcar_rate`") && e.contains("line 3"),
            "{e}"
        );
        let e = parse("[cohort.covariates.sex]\nlevels = [\"F\"]\n").unwrap_err();
        assert!(e.contains("`levels` needs `probabilities`"), "{e}");
        let e = parse("[[cohort.modulation]]\ncovariate = \"sex\"\nparam = \"k\"\nmultiply = 2\n")
            .unwrap_err();
        assert!(e.contains("give `level`"), "{e}");
        let e = parse(
            "[cohort.assignment]\nmethod = \"randomised\"\nprobabilities = {a = 1}\nslope = 1\n",
        )
        .unwrap_err();
        assert!(e.contains("unknown field `slope`"), "{e}");
        let e =
            parse("[cohort.observation.b]\nvisits = [0]\nnoise = { kind = \"poisson\", sd = 1 }\n")
                .unwrap_err();
        assert!(e.contains("poisson"), "{e}");
    }
}
