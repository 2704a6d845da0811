//! Settings of the calibration methods: the optional `[calibrate]` table of
//! a scene (`[calibrate.abc]`, `[calibrate.history_matching]`) and the
//! method names the CLI accepts.
//!
//! Owns: the settings' shapes, their defaults and their checks. Never runs
//! anything and never touches files.

use super::CalibrateError;
use super::likelihood::ErrorConfig;
use crate::input::scene::{Scene, SceneError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calibration method, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    AbcSmc,
    HistoryMatching,
    TemperedSmc,
}

impl Method {
    /// Every method's command-line name, for `--help` and error messages.
    pub const NAMES: [&'static str; 3] = ["abc-smc", "history-matching", "tempered-smc"];

    pub fn name(self) -> &'static str {
        match self {
            Method::AbcSmc => "abc-smc",
            Method::HistoryMatching => "history-matching",
            Method::TemperedSmc => "tempered-smc",
        }
    }

    /// Parses a command-line name; the error lists the known names.
    pub fn parse(s: &str) -> Result<Method, CalibrateError> {
        match s {
            "abc-smc" => Ok(Method::AbcSmc),
            "history-matching" => Ok(Method::HistoryMatching),
            "tempered-smc" => Ok(Method::TemperedSmc),
            other => Err(CalibrateError::Config {
                key: "method".into(),
                message: format!(
                    "unknown method `{other}`; expected one of {}",
                    Method::NAMES.join(", ")
                ),
            }),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scene's optional `[calibrate]` table.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrateConfig {
    /// The method used when the command line names none.
    pub method: Option<Method>,
    pub abc: AbcConfig,
    pub history_matching: HmConfig,
    pub tempered_smc: TemperedConfig,
    /// The observation-error model (`[calibrate.error]`).
    pub error: ErrorConfig,
}

impl CalibrateConfig {
    /// The scene's `[calibrate]` table, or the defaults when it has none.
    /// The scene keeps the table raw; parse errors name its file, line and
    /// key. The checks are [`CalibrateConfig::validate`].
    pub fn from_scene(scene: &Scene) -> Result<CalibrateConfig, SceneError> {
        Ok(scene.section("calibrate")?.unwrap_or_default())
    }

    pub fn validate(&self) -> Result<(), CalibrateError> {
        self.abc.validate()?;
        self.history_matching.validate()?;
        self.tempered_smc.validate()?;
        self.error.validate()
    }
}

/// How ABC-SMC compares a simulation with the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbcMode {
    /// Accept with the observation-error model as the ABC kernel
    /// (Wilkinson 2013): generation t targets π(θ) p(y | θ)^(1/ε_t²), ε
    /// falls to 1, where the accepted sample is the exact posterior.
    #[default]
    Kernel,
    /// Add error-model noise to every simulated output (the Philox
    /// observation-noise stream) and accept d ≤ ε: the exact posterior as
    /// ε → 0 (Wilkinson 2013; Fearnhead & Prangle 2012).
    Noisy,
    /// Compare the noise-free simulation with the data and accept d ≤ ε:
    /// as ε → 0 the sample collapses onto the best fit; stopped at the
    /// noise level it is a confidence set, not a posterior.
    Deterministic,
}

impl AbcMode {
    pub fn name(self) -> &'static str {
        match self {
            AbcMode::Kernel => "kernel",
            AbcMode::Noisy => "noisy",
            AbcMode::Deterministic => "deterministic",
        }
    }

    pub fn parse(s: &str) -> Result<AbcMode, CalibrateError> {
        match s {
            "kernel" => Ok(AbcMode::Kernel),
            "noisy" => Ok(AbcMode::Noisy),
            "deterministic" => Ok(AbcMode::Deterministic),
            other => Err(bad(
                "abc.mode",
                format!("unknown mode `{other}`; expected kernel, noisy or deterministic"),
            )),
        }
    }
}

/// Likelihood-tempered SMC settings (`[calibrate.tempered_smc]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemperedConfig {
    /// Particles (one ensemble run per population and move).
    pub population: usize,
    /// Each temperature step keeps this fraction of the population's
    /// effective sample size (bisection on the ESS).
    pub ess_fraction: f64,
    /// Random-walk Metropolis moves per stage.
    pub moves: usize,
    /// The proposal covariance is this factor × 2.38² / d × the
    /// population's covariance (Roberts, Gelman & Gilks 1997).
    pub proposal_scale: f64,
    /// Most stages (temperature steps).
    pub max_stages: usize,
    /// Most simulations (members run) over the whole calibration.
    pub max_simulations: usize,
    pub seed: u64,
}

impl Default for TemperedConfig {
    fn default() -> Self {
        TemperedConfig {
            population: 500,
            ess_fraction: 0.5,
            moves: 5,
            proposal_scale: 1.0,
            max_stages: 100,
            max_simulations: 500_000,
            seed: 0,
        }
    }
}

impl TemperedConfig {
    pub fn validate(&self) -> Result<(), CalibrateError> {
        let k = "tempered_smc";
        if self.population < 10 {
            return Err(bad(
                &format!("{k}.population"),
                format!("{} is too small; need at least 10", self.population),
            ));
        }
        if !(self.ess_fraction > 0.0 && self.ess_fraction < 1.0) {
            return Err(bad(
                &format!("{k}.ess_fraction"),
                format!("{} must lie in (0, 1)", self.ess_fraction),
            ));
        }
        if self.moves < 1 {
            return Err(bad(&format!("{k}.moves"), "must be at least 1".into()));
        }
        if !(self.proposal_scale.is_finite() && self.proposal_scale > 0.0) {
            return Err(bad(
                &format!("{k}.proposal_scale"),
                format!("{} must be positive", self.proposal_scale),
            ));
        }
        if self.max_stages < 1 {
            return Err(bad(&format!("{k}.max_stages"), "must be at least 1".into()));
        }
        if self.max_simulations < self.population {
            return Err(bad(
                &format!("{k}.max_simulations"),
                format!(
                    "{} cannot fill one population of {}",
                    self.max_simulations, self.population
                ),
            ));
        }
        Ok(())
    }
}

/// ABC-SMC settings (`[calibrate.abc]`); serialised as run (batch size
/// resolved, see `resolved`) in the calibration manifest.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbcConfig {
    /// How a simulation is compared with the data (default `kernel`).
    pub mode: AbcMode,
    /// Particles accepted per generation.
    pub population: usize,
    /// Proposals simulated per ensemble run; 0 means 2 × population.
    pub batch_size: usize,
    /// Each tolerance is this weighted quantile of the previous
    /// generation's distances.
    pub alpha: f64,
    /// `noisy`, `deterministic`: stop once a generation has been accepted
    /// at a tolerance at or below this value (0 disables the test).
    /// `kernel`: the last kernel bandwidth, in units of the error model
    /// (0 means 1, the error model itself: the exact posterior).
    pub final_epsilon: f64,
    /// Most generations, counting generation 0 (the prior sample).
    pub max_generations: usize,
    /// Most simulations (members run) over the whole calibration.
    pub max_simulations: usize,
    /// The perturbation kernel's covariance is this factor times the
    /// previous population's weighted covariance (2 after Beaumont 2009).
    pub kernel_scale: f64,
    /// Stop when a generation accepts fewer than this fraction of its
    /// simulations (0 disables the test).
    pub min_acceptance_rate: f64,
    pub seed: u64,
}

impl Default for AbcConfig {
    fn default() -> Self {
        AbcConfig {
            mode: AbcMode::Kernel,
            population: 500,
            batch_size: 0,
            alpha: 0.5,
            final_epsilon: 0.0,
            max_generations: 30,
            max_simulations: 200_000,
            kernel_scale: 2.0,
            min_acceptance_rate: 0.0,
            seed: 0,
        }
    }
}

fn bad(key: &str, message: String) -> CalibrateError {
    CalibrateError::Config {
        key: key.into(),
        message,
    }
}

impl AbcConfig {
    /// The batch size in force (`batch_size`, or 2 × population when 0).
    /// These settings as a run uses them: the batch size resolved.
    pub fn resolved(&self) -> AbcConfig {
        AbcConfig {
            batch_size: self.effective_batch(),
            ..self.clone()
        }
    }

    pub fn effective_batch(&self) -> usize {
        if self.batch_size == 0 {
            2 * self.population
        } else {
            self.batch_size
        }
    }

    pub fn validate(&self) -> Result<(), CalibrateError> {
        if self.population < 2 {
            return Err(bad(
                "abc.population",
                format!("{} is too small; need at least 2", self.population),
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(bad(
                "abc.alpha",
                format!("{} must lie in (0, 1)", self.alpha),
            ));
        }
        if !(self.final_epsilon.is_finite() && self.final_epsilon >= 0.0) {
            return Err(bad(
                "abc.final_epsilon",
                format!("{} must be a finite number ≥ 0", self.final_epsilon),
            ));
        }
        if self.max_generations < 1 {
            return Err(bad("abc.max_generations", "must be at least 1".into()));
        }
        if self.max_simulations < self.population {
            return Err(bad(
                "abc.max_simulations",
                format!(
                    "{} cannot fill one population of {}",
                    self.max_simulations, self.population
                ),
            ));
        }
        if !(self.kernel_scale.is_finite() && self.kernel_scale > 0.0) {
            return Err(bad(
                "abc.kernel_scale",
                format!("{} must be positive", self.kernel_scale),
            ));
        }
        if !(0.0..1.0).contains(&self.min_acceptance_rate) {
            return Err(bad(
                "abc.min_acceptance_rate",
                format!("{} must lie in [0, 1)", self.min_acceptance_rate),
            ));
        }
        Ok(())
    }
}

/// The emulator's correlation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpKernel {
    SquaredExponential,
    Matern52,
}

/// Gaussian-process emulator settings (`[calibrate.history_matching.gp]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpConfig {
    pub kernel: GpKernel,
    /// Random restarts of the likelihood optimiser (besides one fixed start).
    pub restarts: usize,
    /// Likelihood evaluations per optimiser start.
    pub max_evals: usize,
    /// Smallest nugget, relative to the signal variance.
    pub min_nugget: f64,
}

impl Default for GpConfig {
    fn default() -> Self {
        GpConfig {
            kernel: GpKernel::Matern52,
            restarts: 3,
            max_evals: 300,
            min_nugget: 1e-8,
        }
    }
}

impl GpConfig {
    pub fn validate(&self) -> Result<(), CalibrateError> {
        if self.max_evals < 10 {
            return Err(bad(
                "gp.max_evals",
                format!("{} is too few; need at least 10", self.max_evals),
            ));
        }
        if !(self.min_nugget > 0.0 && self.min_nugget < 0.1) {
            return Err(bad(
                "gp.min_nugget",
                format!("{} must lie in (0, 0.1)", self.min_nugget),
            ));
        }
        Ok(())
    }
}

/// History-matching settings (`[calibrate.history_matching]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HmConfig {
    pub waves: usize,
    /// Simulator runs per wave; 0 means 10 × the number of varying
    /// parameters (at least 10). Waves after the first take them from the
    /// non-implausible sample, so at most `nroy_samples` of them.
    pub runs_per_wave: usize,
    /// Implausibility cutoff (3 after Pukelsheim's three-sigma rule).
    pub cutoff: f64,
    /// Use the second-largest implausibility over outputs instead of the
    /// largest (needs at least two outputs).
    pub second_max: bool,
    /// Model discrepancy sd per output, as a fraction of |observed value|.
    pub discrepancy_fraction: f64,
    /// Prior (unit-cube) points used to estimate the fraction ruled out.
    pub mc_samples: usize,
    /// Size of the non-implausible sample carried between waves and
    /// written as the final draws.
    pub nroy_samples: usize,
    pub gp: GpConfig,
    pub seed: u64,
}

impl Default for HmConfig {
    fn default() -> Self {
        HmConfig {
            waves: 3,
            runs_per_wave: 0,
            cutoff: 3.0,
            second_max: false,
            discrepancy_fraction: 0.0,
            mc_samples: 20_000,
            nroy_samples: 1_000,
            gp: GpConfig::default(),
            seed: 0,
        }
    }
}

impl HmConfig {
    /// Runs per wave in force for `dims` varying parameters.
    pub fn effective_runs(&self, dims: usize) -> usize {
        if self.runs_per_wave == 0 {
            (10 * dims).max(10)
        } else {
            self.runs_per_wave
        }
    }

    pub fn validate(&self) -> Result<(), CalibrateError> {
        let h = "history_matching";
        if self.waves < 1 {
            return Err(bad(&format!("{h}.waves"), "must be at least 1".into()));
        }
        if self.runs_per_wave != 0 && self.runs_per_wave < 4 {
            return Err(bad(
                &format!("{h}.runs_per_wave"),
                format!("{} is too few; need at least 4", self.runs_per_wave),
            ));
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.0) {
            return Err(bad(
                &format!("{h}.cutoff"),
                format!("{} must be positive", self.cutoff),
            ));
        }
        if !(self.discrepancy_fraction.is_finite() && self.discrepancy_fraction >= 0.0) {
            return Err(bad(
                &format!("{h}.discrepancy_fraction"),
                format!("{} must be ≥ 0", self.discrepancy_fraction),
            ));
        }
        if self.mc_samples < 100 {
            return Err(bad(
                &format!("{h}.mc_samples"),
                format!("{} is too few; need at least 100", self.mc_samples),
            ));
        }
        if self.nroy_samples < 10 {
            return Err(bad(
                &format!("{h}.nroy_samples"),
                format!("{} is too few; need at least 10", self.nroy_samples),
            ));
        }
        self.gp.validate().map_err(|e| match e {
            CalibrateError::Config { key, message } => bad(&format!("{h}.{key}"), message),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_scene_parses_the_raw_table_and_locates_its_errors() {
        let scene = |tail: &str| {
            Scene::parse(
                std::path::Path::new("s.toml"),
                &format!("[model]\nkind = \"gray_scott\"\n[time]\ndt = 1.0\nsteps = 10\n{tail}"),
            )
            .unwrap()
        };
        assert_eq!(
            CalibrateConfig::from_scene(&scene("")).unwrap(),
            CalibrateConfig::default()
        );
        let c = CalibrateConfig::from_scene(&scene("[calibrate.abc]\npopulation = 200\n")).unwrap();
        assert_eq!(c.abc.population, 200);
        let e =
            CalibrateConfig::from_scene(&scene("[calibrate.abc]\npopulaton = 200\n")).unwrap_err();
        assert_eq!((e.line, e.column), (Some(7), Some(1)), "{e}");
        assert_eq!(e.key.as_deref(), Some("calibrate.abc.populaton"));
        assert!(e.message.starts_with("unknown field `populaton`"), "{e}");
    }

    #[test]
    fn parses_a_calibrate_table_with_defaults() {
        let c: CalibrateConfig = toml::from_str(
            "method = \"history-matching\"\n[abc]\npopulation = 200\n[history_matching]\nwaves = 4\n[history_matching.gp]\nkernel = \"squared_exponential\"\n",
        )
        .unwrap();
        assert_eq!(c.method, Some(Method::HistoryMatching));
        assert_eq!(c.abc.population, 200);
        assert_eq!(c.abc.alpha, 0.5);
        assert_eq!(c.abc.effective_batch(), 400);
        assert_eq!(c.history_matching.waves, 4);
        assert_eq!(c.history_matching.gp.kernel, GpKernel::SquaredExponential);
        assert_eq!(c.history_matching.effective_runs(3), 30);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = toml::from_str::<CalibrateConfig>("[abc]\npopulaton = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `populaton`"), "{e}");
        let c = AbcConfig {
            alpha: 1.5,
            ..AbcConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("`abc.alpha`")
        );
        let mut h = HmConfig::default();
        h.gp.max_evals = 2;
        assert!(
            h.validate()
                .unwrap_err()
                .to_string()
                .contains("`history_matching.gp.max_evals`")
        );
        assert!(
            Method::parse("mcmc")
                .unwrap_err()
                .to_string()
                .contains("abc-smc, history-matching, tempered-smc")
        );
        assert_eq!(Method::parse("abc-smc").unwrap(), Method::AbcSmc);
    }
}
