//! The scene's optional `[assimilation]` section: what `vtwin twin` and
//! `vtwin assimilate` do with a scene (filter defaults, observation
//! schedule and noise, initial ensemble, estimated parameters, the twin's
//! truth, state bounds, forecast horizon and named events). Every key and
//! default is documented in docs/assimilation.md; keep the two in step.
//!
//! Owns: parsing and the checks that need only this section. Checks against
//! the model (observable, field and parameter names) happen when the twin
//! driver resolves the section against a plan (`crate::methods::twin::setup`).

use indexmap::IndexMap;
use serde::Deserialize;

/// An analysis method, as named in scenes and on the command line.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MethodName {
    /// Stochastic EnKF with perturbed observations.
    Enkf,
    /// Ensemble transform Kalman filter (symmetric square root).
    Etkf,
    /// Local ETKF with Gaspari–Cohn localisation.
    Letkf,
    /// Bootstrap particle filter with systematic resampling and jitter.
    Pf,
}

impl MethodName {
    pub fn name(self) -> &'static str {
        match self {
            MethodName::Enkf => "enkf",
            MethodName::Etkf => "etkf",
            MethodName::Letkf => "letkf",
            MethodName::Pf => "pf",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct AssimilationSection {
    /// Default analysis method (default `etkf`).
    #[serde(default)]
    pub method: Option<MethodName>,
    /// Multiplicative inflation of the analysis anomalies (default 1).
    #[serde(default)]
    pub inflation: Option<f64>,
    /// LETKF localisation radius (taper = e^(−1/2) there), model length units.
    #[serde(default)]
    pub loc_radius: Option<f64>,
    /// Mean-preserving random rotation after ETKF/LETKF analyses (default false).
    #[serde(default)]
    pub rotate: bool,
    /// PF: resample when N_eff < threshold × N (default 0.5).
    #[serde(default)]
    pub resample_threshold: Option<f64>,
    /// PF: jitter factor h (default 0.5).
    #[serde(default)]
    pub jitter: Option<f64>,
    /// Process noise and parameter drift (`model_error`; checked
    /// against the model when the plan is frozen).
    #[serde(default)]
    pub model_error: Option<super::model_error::ModelErrorSection>,
    /// Default period of `observe` entries without `times` or `every`.
    #[serde(default)]
    pub every: Option<f64>,
    /// Analysis cycles of `vtwin twin` (default: every observation time up
    /// to `time.end`).
    #[serde(default)]
    pub cycles: Option<u64>,
    /// Leading model time excluded from the scores (default 0).
    #[serde(default)]
    pub burn_in: f64,
    /// Treatment arm during the assimilation window (default: the first).
    #[serde(default)]
    pub arm: Option<String>,
    /// Initial ensemble (and twin truth) drawn from N(init_mean, diag(init_var))
    /// over the state; each is one number for all state words or a list with
    /// one per state word. Without it members start from the model's
    /// initial state.
    #[serde(default, deserialize_with = "one_or_many_opt")]
    pub init_mean: Option<Vec<f64>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub init_var: Vec<f64>,
    /// Fields analysed as ln(value) and transformed back (positive species);
    /// patient runs (docs/patients.md).
    #[serde(default)]
    pub log_fields: Vec<String>,
    /// Patient runs: each patient's state starts at its first reading,
    /// through the observable's inverse (docs/patients.md).
    #[serde(default)]
    pub init_from_first: bool,
    /// What is observed (twin experiments).
    #[serde(default)]
    pub observe: Vec<ObserveEntry>,
    /// Observables (or fields) assimilated as ln(value) with error SD
    /// sd/value: multiplicative errors, e.g. a tumour burden measured to 5 %.
    #[serde(default)]
    pub log_observables: Vec<String>,
    /// Parameters estimated jointly with the state.
    #[serde(default)]
    pub estimate: Vec<EstimateEntry>,
    /// Twin truth: parameter values (others: the median of their prior).
    #[serde(default)]
    pub truth: IndexMap<String, f64>,
    /// Twin truth: draw the unlisted varying parameters from their prior
    /// (its own random stream) instead of taking the median.
    #[serde(default)]
    pub truth_from_prior: bool,
    /// Bounds [low, high] per field, applied to members after each analysis.
    #[serde(default)]
    pub clamp: IndexMap<String, [f64; 2]>,
    /// Forecast every arm from the last analysis to this time.
    #[serde(default)]
    pub horizon: Option<f64>,
    /// Named events whose probability the forecast reports.
    #[serde(default)]
    pub events: Vec<EventEntry>,
}

/// One observed quantity of a twin experiment.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ObserveEntry {
    /// A scene observable (whole-domain reduction or scene probe).
    #[serde(default)]
    pub observable: Option<String>,
    /// Or a field of the model, observed at `at` points or at every cell.
    #[serde(default)]
    pub field: Option<String>,
    /// Point probes (x, y) in physical units (bilinear interpolation).
    #[serde(default, deserialize_with = "super::schema::exact::points")]
    pub at: Vec<[f64; 2]>,
    /// Observe every cell of `field` (the state itself).
    #[serde(default)]
    pub cells: bool,
    /// Observation error SD: max(sd, rel_sd·|true value|); one must be > 0.
    #[serde(default)]
    pub sd: f64,
    #[serde(default)]
    pub rel_sd: f64,
    /// Detection limit: observed values at or below it are censored
    /// (patient runs, docs/patients.md).
    #[serde(default)]
    pub detection_limit: Option<f64>,
    /// Explicit observation times, or a period from `start` (default: one period).
    #[serde(default)]
    pub times: Option<Vec<f64>>,
    #[serde(default)]
    pub every: Option<f64>,
    #[serde(default)]
    pub start: Option<f64>,
    #[serde(default)]
    pub end: Option<f64>,
}

/// How an estimated parameter is represented in the analysis.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScaleName {
    #[default]
    Linear,
    Log,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EstimateEntry {
    pub param: String,
    #[serde(default)]
    pub scale: ScaleName,
    /// [low, high]: a member outside is unhealthy and replaced (patient
    /// runs; default: none, or (0, ∞) on a log scale).
    #[serde(default, deserialize_with = "super::schema::exact::some_array")]
    pub bounds: Option<[f64; 2]>,
}

/// One number or a list of numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

impl From<OneOrMany> for Vec<f64> {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(x) => vec![x],
            OneOrMany::Many(v) => v,
        }
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    OneOrMany::deserialize(d).map(Vec::from)
}

fn one_or_many_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    OneOrMany::deserialize(d).map(|v| Some(v.into()))
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Above,
    Below,
}

/// "`observable` goes above/below `threshold` before `by`".
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EventEntry {
    pub name: String,
    pub observable: String,
    pub kind: EventKind,
    pub threshold: f64,
    /// Threshold relative to each member's value at the forecast start
    /// (2.0 with `above`: "doubles").
    #[serde(default)]
    pub relative: bool,
    pub by: f64,
}

/// Checks within the section. Returns (dotted key, message).
pub(super) fn validate(a: &AssimilationSection) -> Result<(), (String, String)> {
    let key = |k: &str| format!("assimilation.{k}");
    let err = |k: String, m: String| Err((k, m));
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if let Some(l) = a.inflation
        && !positive(l)
    {
        return err(key("inflation"), format!("must be > 0, got {l}"));
    }
    if let Some(r) = a.loc_radius
        && !positive(r)
    {
        return err(key("loc_radius"), format!("must be > 0, got {r}"));
    }
    if let Some(t) = a.resample_threshold
        && !(0.0..=1.0).contains(&t)
    {
        return err(
            key("resample_threshold"),
            format!("must be in [0, 1], got {t}"),
        );
    }
    if let Some(h) = a.jitter
        && !(h.is_finite() && h >= 0.0)
    {
        return err(key("jitter"), format!("must be ≥ 0, got {h}"));
    }
    if let Some(e) = a.every
        && !positive(e)
    {
        return err(key("every"), format!("must be > 0, got {e}"));
    }
    if a.cycles == Some(0) {
        return err(key("cycles"), "must be at least 1".into());
    }
    if !(a.burn_in.is_finite() && a.burn_in >= 0.0) {
        return err(key("burn_in"), format!("must be ≥ 0, got {}", a.burn_in));
    }
    if let Some(v) = a.init_var.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return err(key("init_var"), format!("must be ≥ 0, got {v}"));
    }
    if a.init_mean.as_ref().is_some_and(|m| m.is_empty()) {
        return err(key("init_mean"), "give at least one value".into());
    }
    if a.init_mean.is_none() && a.init_var.iter().any(|v| *v > 0.0) {
        return err(key("init_var"), "init_var needs init_mean".into());
    }
    if let Some(h) = a.horizon
        && !positive(h)
    {
        return err(key("horizon"), format!("must be > 0, got {h}"));
    }
    for (i, o) in a.observe.iter().enumerate() {
        let k = |s: &str| key(&format!("observe.{i}.{s}"));
        match (&o.observable, &o.field) {
            (Some(_), None) if o.at.is_empty() && !o.cells => {}
            (None, Some(_)) if o.at.is_empty() == o.cells => {}
            (None, Some(_)) => {
                return err(
                    k("field"),
                    "give exactly one of `at = [[x, y], …]` or `cells = true`".into(),
                );
            }
            _ => {
                return err(
                    key(&format!("observe.{i}")),
                    "give either `observable` (a scene observable) or `field` with `at` or `cells`"
                        .into(),
                );
            }
        }
        if !(o.sd.is_finite() && o.sd >= 0.0 && o.rel_sd.is_finite() && o.rel_sd >= 0.0)
            || (o.sd == 0.0 && o.rel_sd == 0.0)
        {
            return err(k("sd"), "give sd > 0 or rel_sd > 0 (both ≥ 0)".into());
        }
        if let Some(l) = o.detection_limit
            && !positive(l)
        {
            return err(k("detection_limit"), format!("must be > 0, got {l}"));
        }
        if let Some(t) = &o.times {
            if o.every.is_some() || o.start.is_some() || o.end.is_some() {
                return err(
                    k("times"),
                    "give `times` or `every`/`start`/`end`, not both".into(),
                );
            }
            if t.is_empty() || t.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return err(k("times"), "times must be positive numbers".into());
            }
        }
        // Without `times`/`every` the entry only declares an observable and
        // its error model: observation files (`vtwin assimilate --obs`)
        // bring their own times; a twin's synthetic schedule asks for them
        // (`twin::obs::scene_schedule`).
        if let Some(e) = o.every
            && !positive(e)
        {
            return err(k("every"), format!("must be > 0, got {e}"));
        }
        if let Some(s) = o.start
            && !positive(s)
        {
            return err(
                k("start"),
                format!("must be > 0 (analyses follow a forecast), got {s}"),
            );
        }
    }
    for (name, [lo, hi]) in &a.clamp {
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return err(
                key(&format!("clamp.{name}")),
                format!("need low < high, got [{lo}, {hi}]"),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in a.events.iter().enumerate() {
        if !seen.insert(e.name.as_str()) {
            return err(
                key(&format!("events.{i}.name")),
                format!("duplicate event `{}`", e.name),
            );
        }
        if !e.threshold.is_finite() || !e.by.is_finite() {
            return err(
                key(&format!("events.{i}")),
                "threshold and by must be finite".into(),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in a.estimate.iter().enumerate() {
        if !seen.insert(e.param.as_str()) {
            return err(
                key(&format!("estimate.{i}.param")),
                format!("`{}` is listed twice", e.param),
            );
        }
        if let Some([lo, hi]) = e.bounds
            && (lo.is_nan() || hi.is_nan() || lo >= hi)
        {
            return err(
                key(&format!("estimate.{i}.bounds")),
                format!("need low < high, got [{lo}, {hi}]"),
            );
        }
    }
    Ok(())
}
