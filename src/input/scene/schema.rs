//! The scene file's typed schema (serde, `deny_unknown_fields`) and the
//! checks that need more than one key. Every key is documented in
//! `docs/scenes.md`; keep the two in step.

use crate::input::limits;
use crate::input::params::{Correlation, Distribution, ParamBlock};
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SceneFile {
    /// Free text, shown by `vtwin check`.
    #[serde(default)]
    pub description: Option<String>,
    pub model: ModelSection,
    #[serde(default)]
    pub grid: GridSection,
    pub time: TimeSection,
    #[serde(default)]
    pub ensemble: EnsembleSection,
    #[serde(default)]
    pub parameters: IndexMap<String, Distribution>,
    #[serde(default)]
    pub correlations: Vec<Correlation>,
    #[serde(default)]
    pub initial: InitialSection,
    #[serde(default)]
    pub tissue: Option<TissueSection>,
    #[serde(default)]
    pub arms: Vec<Arm>,
    #[serde(default)]
    pub stimulus: Vec<Stimulus>,
    /// Agent-based models only: pool capacity and field-solver settings.
    #[serde(default)]
    pub agents: Option<AgentsSection>,
    #[serde(default)]
    pub observe: ObserveSection,
    #[serde(default)]
    pub observables: Vec<ObservableSpec>,
    #[serde(default)]
    pub output: OutputSection,
    /// Synthetic-cohort settings (`vtwin cohort`; docs/cohort.md), kept
    /// raw: the cohort module parses them (`CohortSpec::from_scene`).
    #[serde(default)]
    pub cohort: Option<toml::Value>,
    /// Calibration settings (`vtwin calibrate`), kept raw: the calibration
    /// module parses them (`CalibrateConfig::from_scene`).
    #[serde(default)]
    pub calibrate: Option<toml::Value>,
    /// Data-assimilation settings (`vtwin twin`, `vtwin assimilate`); see
    /// docs/assimilation.md.
    #[serde(default)]
    pub assimilation: Option<super::assimilation::AssimilationSection>,
}

impl SceneFile {
    /// The parameter named by `[calibrate.error] scale` (an observation
    /// error the calibration fits, not a model parameter), read from the
    /// raw table.
    pub fn calibrate_error_scale(&self) -> Option<&str> {
        self.calibrate
            .as_ref()?
            .get("error")?
            .get("scale")?
            .as_str()
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    GrayScott,
    Tumour,
    Cardiac,
    Custom,
    Lorenz96,
    Lorenz63,
    TumourAbm,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::GrayScott => "gray_scott",
            ModelKind::Tumour => "tumour",
            ModelKind::Cardiac => "cardiac",
            ModelKind::Custom => "custom",
            ModelKind::Lorenz96 => "lorenz96",
            ModelKind::Lorenz63 => "lorenz63",
            ModelKind::TumourAbm => "tumour_abm",
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub kind: ModelKind,
    /// `custom` only: species names, in order.
    #[serde(default)]
    pub species: Vec<String>,
    /// `custom` only: one expression (`crate::core::expr`) per species giving its reaction
    /// rate, over species names and parameter names.
    #[serde(default)]
    pub reactions: IndexMap<String, String>,
    /// `custom` only: the parameter giving each species' diffusivity (a
    /// species left out does not diffuse).
    #[serde(default)]
    pub diffusion: IndexMap<String, String>,
}

/// `[agents]`: settings of an agent-based model that are the same for every
/// member (sizes of GPU arrays and solver work per step).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AgentsSection {
    /// Most agents a member's pool holds; a member that would exceed it is
    /// marked `saturated` and stops dividing.
    #[serde(default = "d4096")]
    pub capacity: u32,
    /// Red–black SOR sweeps of the quasi-steady field solve per step.
    #[serde(default = "d6")]
    pub field_sweeps: u32,
    /// Sweeps of the initial field solve (on the host, before step 0).
    #[serde(default = "d3000")]
    pub init_sweeps: u32,
}

fn d4096() -> u32 {
    4096
}
fn d6() -> u32 {
    6
}
fn d3000() -> u32 {
    3000
}

impl Default for AgentsSection {
    fn default() -> Self {
        AgentsSection {
            capacity: 4096,
            field_sweeps: 6,
            init_sweeps: 3000,
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    #[default]
    Periodic,
    Noflux,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct GridSection {
    #[serde(default = "d64")]
    pub nx: u32,
    #[serde(default = "d64")]
    pub ny: u32,
    /// Grid spacing in the model's length unit.
    #[serde(default = "d1")]
    pub dx: f64,
    #[serde(default)]
    pub boundary: Boundary,
}

fn d64() -> u32 {
    64
}
fn d1() -> f64 {
    1.0
}

impl Default for GridSection {
    fn default() -> Self {
        GridSection {
            nx: 64,
            ny: 64,
            dx: 1.0,
            boundary: Boundary::Periodic,
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TimeSection {
    pub dt: f64,
    /// Number of steps; give this or `end`.
    #[serde(default)]
    pub steps: Option<u64>,
    /// End time in the model's time unit; give this or `steps`.
    #[serde(default)]
    pub end: Option<f64>,
}

impl TimeSection {
    pub fn total_steps(&self) -> u64 {
        match (self.steps, self.end) {
            (Some(s), _) => s,
            (None, Some(e)) => (e / self.dt).round() as u64,
            (None, None) => 0,
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSection {
    #[serde(default = "d16")]
    pub members: u32,
    #[serde(default)]
    pub seed: u64,
}

fn d16() -> u32 {
    16
}

impl Default for EnsembleSection {
    fn default() -> Self {
        EnsembleSection {
            members: 16,
            seed: 0,
        }
    }
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct InitialSection {
    /// Value of each species everywhere before patches (default 0).
    #[serde(default)]
    pub background: IndexMap<String, InitValue>,
    #[serde(default)]
    pub patches: Vec<Patch>,
    /// Amplitude of uniform noise added to `noise_species` (value += noise·(U − ½)),
    /// drawn per (seed, member, site).
    #[serde(default)]
    pub noise: f64,
    #[serde(default)]
    pub noise_species: Vec<String>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Axis-aligned square of half-width `size`.
    Square,
    /// Disk of radius `size`.
    Disk,
    /// Gaussian bump with standard deviation `size` (value × exp(−r²/2size²)).
    Gaussian,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub shape: Shape,
    /// Centre in physical units.
    #[serde(deserialize_with = "exact::array")]
    pub center: [f64; 2],
    pub size: f64,
    pub values: IndexMap<String, InitValue>,
}

/// An initial value: a number, or the name of a parameter of the scene
/// whose value (per member) it takes, so that a calibration can give an
/// initial amplitude or background level a prior and fit it.
#[derive(Debug, Clone, PartialEq)]
pub enum InitValue {
    Number(f64),
    Param(String),
}

impl<'de> Deserialize<'de> for InitValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = InitValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or the name of a [parameters] entry")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<InitValue, E> {
                Ok(InitValue::Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<InitValue, E> {
                Ok(InitValue::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<InitValue, E> {
                Ok(InitValue::Number(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<InitValue, E> {
                Ok(InitValue::Param(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl InitValue {
    /// The parameter it names, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            InitValue::Param(p) => Some(p),
            InitValue::Number(_) => None,
        }
    }
}

impl InitialSection {
    /// Every parameter an initial value names.
    pub fn param_refs(&self) -> impl Iterator<Item = &str> {
        self.background
            .values()
            .chain(self.patches.iter().flat_map(|p| p.values.values()))
            .filter_map(InitValue::param)
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TissueSection {
    /// An `.npy` file of shape (ny, nx): the diffusivity multiplier per site
    /// (relative to the scene's parameter). Relative paths are from the scene.
    #[serde(default)]
    pub map: Option<PathBuf>,
    /// Or a generated map.
    #[serde(default)]
    pub generate: Option<GeneratedTissue>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct GeneratedTissue {
    /// `blobs`: smooth random field of Gaussian blobs; the multiplier lies in
    /// [1 − contrast, 1 + contrast].
    pub kind: String,
    #[serde(default = "half")]
    pub contrast: f64,
    /// Blob size (standard deviation) in physical units.
    pub scale: f64,
    #[serde(default)]
    pub seed: u64,
}

fn half() -> f64 {
    0.5
}

/// A treatment arm: a name plus the schedules it uses.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub name: String,
    #[serde(default)]
    pub rt: Option<RtSchedule>,
    #[serde(default)]
    pub chemo: Option<ChemoSchedule>,
    /// Dose schedules of models with user kinetics (`crate::input::dosing`).
    #[serde(default)]
    pub doses: Vec<crate::input::dosing::DoseSchedule>,
}

/// Radiotherapy fractions: either explicit `times` or `fractions` starting at
/// `start`, `per_week` on consecutive days (weekends skipped).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RtSchedule {
    /// Dose per fraction (Gy).
    pub dose: f64,
    #[serde(default)]
    pub times: Option<Vec<f64>>,
    #[serde(default)]
    pub start: f64,
    #[serde(default)]
    pub fractions: u32,
    #[serde(default = "five")]
    pub per_week: u32,
}

fn five() -> u32 {
    5
}

impl RtSchedule {
    /// Fraction times in days.
    pub fn times(&self) -> Vec<f64> {
        if let Some(t) = &self.times {
            return t.clone();
        }
        let pw = self.per_week.clamp(1, 7);
        (0..self.fractions)
            .map(|j| self.start + (j / pw) as f64 * 7.0 + (j % pw) as f64)
            .collect()
    }
}

/// Chemotherapy: bolus doses at `times`, drug concentration decaying
/// exponentially: c(t) = Σ_{tᵢ ≤ t} dose · exp(−decay · (t − tᵢ)).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChemoSchedule {
    pub times: Vec<f64>,
    pub dose: f64,
    /// Elimination rate (1/day).
    pub decay: f64,
}

impl ChemoSchedule {
    pub fn concentration(&self, t: f64) -> f64 {
        self.times
            .iter()
            .filter(|&&ti| ti <= t)
            .map(|&ti| self.dose * (-self.decay * (t - ti)).exp())
            .sum()
    }
}

/// A stimulus current (cardiac): `amplitude` added to du/dt inside `region`
/// (x0, y0, x1, y1 in physical units) during [start, start + duration),
/// repeated `count` times every `period`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stimulus {
    pub start: f64,
    pub duration: f64,
    pub amplitude: f64,
    #[serde(deserialize_with = "exact::array")]
    pub region: [f64; 4],
    #[serde(default)]
    pub period: f64,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ObserveSection {
    /// Observe every this many steps (step 0 and the last step always).
    #[serde(default = "d10")]
    pub every: u64,
}

fn d10() -> u64 {
    10
}

impl Default for ObserveSection {
    fn default() -> Self {
        ObserveSection { every: 10 }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ObsKind {
    Total,
    Mean,
    Max,
    Min,
    AreaAbove,
    Probe,
    /// Mean over the sites centred in `region` (coarse imaging).
    BlockMean,
    FirstCrossing,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ObservableSpec {
    /// Unique name; default `<kind>_<field>` (plus threshold or position).
    #[serde(default)]
    pub name: Option<String>,
    pub kind: ObsKind,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Probe position (x, y) in physical units.
    #[serde(default, deserialize_with = "exact::some_array")]
    pub at: Option<[f64; 2]>,
    /// `block_mean` only: the rectangle [x0, y0, x1, y1] in physical units.
    #[serde(default, deserialize_with = "exact::some_array")]
    pub region: Option<[f64; 4]>,
    /// `first_crossing` only: the observable whose first upward crossing of
    /// `threshold` is reported.
    #[serde(default)]
    pub of: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FormatName {
    Parquet,
    Csv,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    #[serde(default)]
    pub format: Option<FormatName>,
    #[serde(default)]
    pub save_fields: bool,
    /// Members shown in `montage.png`.
    #[serde(default = "d16")]
    pub montage_members: u32,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            format: None,
            save_fields: false,
            montage_members: 16,
        }
    }
}

/// Fixed-length number arrays that refuse a wrong length (serde's array
/// impl, with TOML, ignores extra elements). The error is located at the
/// value by the TOML deserialiser.
pub(super) mod exact {
    use serde::de::{Deserialize, Deserializer, Error};

    pub fn array<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[f64; N], D::Error> {
        let v = Vec::<f64>::deserialize(d)?;
        let n = v.len();
        v.try_into().map_err(|_| {
            D::Error::custom(format!(
                "expected {N} numbers, got {n}{}",
                if N == 2 {
                    " (positions are [x, y])"
                } else {
                    ""
                }
            ))
        })
    }

    pub fn some_array<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<Option<[f64; N]>, D::Error> {
        array(d).map(Some)
    }

    /// A list of points `[[x, y], …]`.
    pub fn points<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[f64; 2]>, D::Error> {
        let v = Vec::<Vec<f64>>::deserialize(d)?;
        v.into_iter()
            .enumerate()
            .map(|(i, p)| {
                let n = p.len();
                p.try_into().map_err(|_| {
                    D::Error::custom(format!("point {i}: expected 2 numbers [x, y], got {n}"))
                })
            })
            .collect()
    }
}

/// True for a finite number above zero (false for NaN).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Cross-key checks. Returns (dotted key, message).
pub(super) fn validate(f: &SceneFile, params: &ParamBlock) -> Result<(), (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    if !(f.time.dt.is_finite() && f.time.dt > 0.0) {
        return err(
            "time.dt",
            format!("dt must be a positive number, got {}", f.time.dt),
        );
    }
    match (f.time.steps, f.time.end) {
        (Some(_), Some(_)) => {
            return err("time.end", "give either `steps` or `end`, not both".into());
        }
        (None, None) => return err("time", "give `steps` or `end`".into()),
        (None, Some(e)) if !(e.is_finite() && e > 0.0) => {
            return err("time.end", format!("end must be positive, got {e}"));
        }
        (Some(0), None) => return err("time.steps", "steps must be at least 1".into()),
        _ => {}
    }
    let steps = f.time.total_steps();
    if steps > limits::MAX_STEPS {
        let k = if f.time.steps.is_some() {
            "time.steps"
        } else {
            "time.end"
        };
        return err(k, limits::over("steps", steps, limits::MAX_STEPS));
    }
    let g = &f.grid;
    // A custom model without diffusion is a set of ODEs per site, so it
    // may be a single site (nx = ny = 1: a compartment model).
    let ode = f.model.kind == ModelKind::Custom && f.model.diffusion.is_empty();
    let nx_min = if ode { 1 } else { 3 };
    if g.nx < nx_min || g.ny < 1 || g.nx > 8192 || g.ny > 8192 {
        let hint = if f.model.kind == ModelKind::Custom && g.nx < 3 {
            "; a custom model may have nx < 3 only without `diffusion`"
        } else {
            ""
        };
        return err(
            "grid.nx",
            format!(
                "grid {}×{} out of range (nx {nx_min}..8192, ny 1..8192){hint}",
                g.nx, g.ny
            ),
        );
    }
    if !(g.dx.is_finite() && g.dx > 0.0) {
        return err("grid.dx", format!("dx must be positive, got {}", g.dx));
    }
    if f.ensemble.members == 0 {
        return err("ensemble.members", "members must be at least 1".into());
    }
    if f.observe.every == 0 {
        return err("observe.every", "every must be at least 1".into());
    }
    // Each parameter and correlation at its own entry.
    for (name, dist) in &f.parameters {
        dist.validate().map_err(|m| {
            (
                format!("parameters.{name}"),
                format!("parameter `{name}`: {m}"),
            )
        })?;
    }
    for (i, c) in f.correlations.iter().enumerate() {
        if !(c.rho > -1.0 && c.rho < 1.0) {
            return err(
                &format!("correlations.{i}.rho"),
                format!(
                    "correlation {}–{}: rho = {} must lie in (-1, 1)",
                    c.a, c.b, c.rho
                ),
            );
        }
    }
    params
        .validate()
        .map_err(|m| ("correlations".to_string(), m.into()))?;
    let mut names = std::collections::HashSet::new();
    for (i, a) in f.arms.iter().enumerate() {
        if !names.insert(a.name.as_str()) {
            return err(
                &format!("arms.{i}.name"),
                format!("duplicate arm name `{}`", a.name),
            );
        }
        if a.doses.len() > crate::input::dosing::MAX_DOSE_SCHEDULES {
            return err(
                &format!("arms.{i}.doses"),
                format!(
                    "at most {} dose schedules per arm, got {}",
                    crate::input::dosing::MAX_DOSE_SCHEDULES,
                    a.doses.len()
                ),
            );
        }
        for (j, d) in a.doses.iter().enumerate() {
            d.validate()
                .map_err(|(k, m)| (format!("arms.{i}.doses.{j}.{k}"), m))?;
        }
        if let Some(rt) = &a.rt {
            if !(rt.dose.is_finite() && rt.dose >= 0.0) {
                return err(
                    &format!("arms.{i}.rt.dose"),
                    format!("dose must be ≥ 0 Gy, got {}", rt.dose),
                );
            }
            if rt.times.is_none() && rt.fractions == 0 {
                return err(
                    &format!("arms.{i}.rt"),
                    "give `times` or `fractions`".into(),
                );
            }
            if !(1..=7).contains(&rt.per_week) {
                return err(
                    &format!("arms.{i}.rt.per_week"),
                    format!(
                        "per_week must be 1 to 7 fractions a week, got {}",
                        rt.per_week
                    ),
                );
            }
            if rt.fractions as u64 > limits::MAX_SCHEDULE {
                return err(
                    &format!("arms.{i}.rt.fractions"),
                    limits::over("fractions", rt.fractions as u64, limits::MAX_SCHEDULE),
                );
            }
            if let Some(t) = &rt.times {
                if t.len() as u64 > limits::MAX_SCHEDULE {
                    return err(
                        &format!("arms.{i}.rt.times"),
                        limits::over("fraction times", t.len() as u64, limits::MAX_SCHEDULE),
                    );
                }
                if let Some(x) = t.iter().find(|x| !x.is_finite()) {
                    return err(
                        &format!("arms.{i}.rt.times"),
                        format!("fraction times must be finite, got {x}"),
                    );
                }
            }
            if !rt.start.is_finite() {
                return err(
                    &format!("arms.{i}.rt.start"),
                    format!("start must be finite, got {}", rt.start),
                );
            }
        }
        if let Some(c) = &a.chemo {
            if c.times.len() as u64 > limits::MAX_SCHEDULE {
                return err(
                    &format!("arms.{i}.chemo.times"),
                    limits::over("chemo times", c.times.len() as u64, limits::MAX_SCHEDULE),
                );
            }
            if let Some(x) = c.times.iter().find(|x| !x.is_finite()) {
                return err(
                    &format!("arms.{i}.chemo.times"),
                    format!("chemo times must be finite, got {x}"),
                );
            }
            if !(c.decay.is_finite() && c.decay >= 0.0) {
                return err(
                    &format!("arms.{i}.chemo.decay"),
                    format!("decay must be ≥ 0, got {}", c.decay),
                );
            }
            if !(c.dose.is_finite() && c.dose >= 0.0) {
                return err(
                    &format!("arms.{i}.chemo.dose"),
                    format!("dose must be ≥ 0, got {}", c.dose),
                );
            }
        }
    }
    if f.stimulus.len() as u64 > limits::MAX_SCHEDULE {
        return err(
            "stimulus",
            limits::over("stimuli", f.stimulus.len() as u64, limits::MAX_SCHEDULE),
        );
    }
    let mut pulses = 0u64;
    for (i, s) in f.stimulus.iter().enumerate() {
        pulses += s.count as u64;
        if pulses > limits::MAX_SCHEDULE {
            return err(
                &format!("stimulus.{i}.count"),
                limits::over("stimulus pulses in all", pulses, limits::MAX_SCHEDULE),
            );
        }
        if !positive(s.duration) || s.count == 0 || (s.count > 1 && !positive(s.period)) {
            return err(
                &format!("stimulus.{i}"),
                "a stimulus needs duration > 0, count ≥ 1 and period > 0 when repeated".into(),
            );
        }
    }
    if f.initial.noise < 0.0 {
        return err(
            "initial.noise",
            format!("noise amplitude must be ≥ 0, got {}", f.initial.noise),
        );
    }
    if let Some(a) = &f.assimilation {
        super::assimilation::validate(a)?;
    }
    if let Some(t) = &f.tissue {
        if t.map.is_some() == t.generate.is_some() {
            return err("tissue", "give exactly one of `map` or `generate`".into());
        }
        if let Some(g) = &t.generate {
            if g.kind != "blobs" {
                return err(
                    "tissue.generate.kind",
                    format!("unknown kind `{}`; expected `blobs`", g.kind),
                );
            }
            if !(0.0..1.0).contains(&g.contrast) || !positive(g.scale) {
                return err(
                    "tissue.generate",
                    "contrast must be in [0, 1) and scale > 0".into(),
                );
            }
        }
    }
    Ok(())
}
