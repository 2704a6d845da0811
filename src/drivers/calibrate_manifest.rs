//! The `calibration` block of a calibration's `manifest.json`, typed:
//! what the method reported, the settings it ran with, the error model and
//! the posterior predictive check. The manifest is written through
//! `serde_json::Value`, whose keys are sorted, so field order here does not
//! change the bytes.

use crate::methods::calibrate::likelihood::ErrorConfig;
use crate::methods::calibrate::{AbcConfig, HmConfig, TemperedConfig};
use serde::Serialize;

/// One calibration as the manifest records it.
#[derive(Debug, Serialize)]
pub struct Calibration {
    #[serde(flatten)]
    pub method: MethodBlock,
    pub error_model: ErrorModelNote,
    pub predictive: PredictiveNote,
}

/// What the method reported, with its settings.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum MethodBlock {
    AbcSmc(AbcSmcNote),
    TemperedSmc(TemperedSmcNote),
    HistoryMatching(HistoryMatchingNote),
}

#[derive(Debug, Serialize)]
pub struct AbcSmcNote {
    pub mode: &'static str,
    pub generations: usize,
    pub stop: &'static str,
    pub simulations: usize,
    pub final_epsilon: f64,
    /// ln Z and its standard error, where the run estimates the evidence.
    pub log_evidence: Option<f64>,
    pub log_evidence_se: Option<f64>,
    /// The `[calibrate.abc]` settings as run (`AbcConfig::resolved`).
    pub settings: AbcConfig,
}

#[derive(Debug, Serialize)]
pub struct TemperedSmcNote {
    pub stages: usize,
    pub stop: &'static str,
    pub simulations: usize,
    pub beta: f64,
    pub log_evidence: f64,
    pub log_evidence_se: f64,
    pub settings: TemperedSettings,
}

#[derive(Debug, Serialize)]
pub struct TemperedSettings {
    pub population: usize,
    pub ess_fraction: f64,
    pub moves: usize,
    pub proposal_scale: f64,
    pub max_stages: usize,
    pub max_simulations: usize,
    pub seed: u64,
}

impl TemperedSettings {
    pub fn of(c: &TemperedConfig) -> TemperedSettings {
        TemperedSettings {
            population: c.population,
            ess_fraction: c.ess_fraction,
            moves: c.moves,
            proposal_scale: c.proposal_scale,
            max_stages: c.max_stages,
            max_simulations: c.max_simulations,
            seed: c.seed,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HistoryMatchingNote {
    pub waves: usize,
    pub fraction_ruled_out: Vec<f64>,
    pub non_implausible_samples: usize,
    pub settings: HmSettings,
}

#[derive(Debug, Serialize)]
pub struct HmSettings {
    pub waves: usize,
    /// Runs per wave as used (`HmConfig::effective_runs`).
    pub runs_per_wave: usize,
    pub cutoff: f64,
    pub second_max: bool,
    pub discrepancy_fraction: f64,
    pub mc_samples: usize,
    pub nroy_samples: usize,
    pub seed: u64,
}

impl HmSettings {
    /// `c`'s settings for a prior with `dims` varying parameters.
    pub fn of(c: &HmConfig, dims: usize) -> HmSettings {
        HmSettings {
            waves: c.waves,
            runs_per_wave: c.effective_runs(dims),
            cutoff: c.cutoff,
            second_max: c.second_max,
            discrepancy_fraction: c.discrepancy_fraction,
            mc_samples: c.mc_samples,
            nroy_samples: c.nroy_samples,
            seed: c.seed,
        }
    }
}

/// The observation error model (`[calibrate.error]`).
#[derive(Debug, Serialize)]
pub struct ErrorModelNote {
    pub model: &'static str,
    pub rel_sd: f64,
    pub scale: Option<String>,
}

impl ErrorModelNote {
    pub fn of(e: &ErrorConfig) -> ErrorModelNote {
        ErrorModelNote {
            model: e.model.name(),
            rel_sd: e.rel_sd,
            scale: e.scale.clone(),
        }
    }
}

/// The posterior predictive check: band coverage of the data rows and the
/// PIT summary.
#[derive(Debug, Serialize)]
pub struct PredictiveNote {
    pub coverage50: f64,
    pub coverage90: f64,
    pub pit_mean: f64,
    pub pit_sd: f64,
    pub pit_ks: f64,
    pub noise_draws: usize,
}
