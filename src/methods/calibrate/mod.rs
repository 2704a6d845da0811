//! Calibration: fitting a scene's parameters to observed data with
//! ABC-SMC, likelihood-tempered SMC or history matching, and the posterior
//! that comes out of it.
//!
//! Owns: the calibration drivers (`abc_smc`, `tempered_smc`,
//! `history_matching`), the observation-error model (`likelihood`), the
//! posterior predictive checks (`predictive`), model choice from evidence
//! estimates (`model_choice`), the
//! Gaussian-process emulator (`gp`), prior densities (`prior`), the random
//! helpers they share (`sampling`), weighted summaries (`summary`), the
//! posterior (`posterior`) and its directory (`posterior_dir`: written by a
//! calibration, read by every command that takes `--posterior DIR`), and
//! the data file's rows (`data`). The engine side (data rows → plan
//! observables, the summaries read off the engine's recordings) is
//! `crate::methods::fit`.
//!
//! Must not touch: the GPU, the engine or the scene parser. A driver sees the
//! model only through [`Summaries`] (the simulator port
//! `crate::engine::Simulator`, one call = one ensemble run) and
//! the parameter block (`crate::input::params`); `crate::methods::fit` maps `DATA.csv` rows
//! to summary vectors and scales before calling in here. Only
//! `posterior_dir` and `data` (reading DATA.csv) touch the file system.

pub mod abc_smc;
pub mod config;
pub mod data;
pub mod gp;
pub mod history_matching;
pub mod likelihood;
pub mod model_choice;
pub mod posterior;
pub mod posterior_dir;
pub mod predictive;
pub mod prior;
pub mod sampling;
pub mod summary;
pub mod tempered_smc;
pub mod warnings;

pub use crate::engine::SimulatorError;
use crate::engine::{Batch, Recordings, Simulator};
pub use abc_smc::{AbcGeneration, AbcResult, AbcStop, run_abc_smc, run_abc_smc_lik};
pub use config::{
    AbcConfig, AbcMode, CalibrateConfig, GpConfig, GpKernel, HmConfig, Method, TemperedConfig,
};
pub use gp::{Gp, LooDiagnostic};
pub use history_matching::{HmResult, WaveReport, run_history_matching};
pub use likelihood::{ErrorConfig, ErrorKind, Likelihood};
pub use posterior::Posterior;
pub use posterior_dir::{load_posterior, write_posterior};
pub use tempered_smc::{TemperedResult, TemperedStage, TemperedStop, run_tempered_smc};

use std::path::PathBuf;

/// A simulator as calibration sees it: the simulator port
/// ([`crate::engine::Simulator`], one call = one ensemble run, row i =
/// member i, offset 0, the simulator's own arm) and how one row's summary
/// vector is read off the batch's recordings (`crate::methods::fit` reads the
/// data rows' values; [`Summaries::last`] each observable's last value).
pub struct Summaries<'a> {
    port: &'a mut dyn Simulator,
    read: Box<ReadSummary<'a>>,
}

/// Reads row `row`'s summary vector off a batch's recordings.
pub type ReadSummary<'a> = dyn Fn(&Recordings, usize) -> Option<Vec<f64>> + 'a;

impl<'a> Summaries<'a> {
    pub fn new(
        port: &'a mut dyn Simulator,
        read: impl Fn(&Recordings, usize) -> Option<Vec<f64>> + 'a,
    ) -> Self {
        Summaries {
            port,
            read: Box::new(read),
        }
    }

    /// Summaries = every observable's value at the last recorded step
    /// (NaN, hence a failed row, where it has none).
    pub fn last(port: &'a mut dyn Simulator) -> Self {
        Self::new(port, |rec, row| {
            Some(
                rec.series(row)
                    .iter()
                    .map(|s| s.last().copied().flatten().unwrap_or(f64::NAN))
                    .collect(),
            )
        })
    }

    /// Simulates one batch: each row is a full parameter vector over ALL
    /// params of the block (in block order); returns one summary vector per
    /// row (same order), or None for a row that failed (diverged,
    /// saturated or not run).
    pub fn simulate(
        &mut self,
        thetas: &[Vec<f64>],
        seed: u64,
    ) -> Result<Vec<Option<Vec<f64>>>, SimulatorError> {
        let rec = self.port.simulate(&Batch {
            rows: thetas,
            arm: None,
            member_offset: 0,
            seed,
        })?;
        Ok((0..rec.rows())
            .map(|r| match rec.status[r].is_ok() {
                true => (self.read)(&rec, r),
                false => None,
            })
            .collect())
    }
}

/// What a driver reports while it runs (for progress bars and logs).
#[derive(Clone, Debug, PartialEq)]
pub enum ProgressEvent {
    /// One ABC batch was simulated.
    AbcBatch {
        generation: usize,
        batch: usize,
        simulated_total: usize,
        accepted: usize,
    },
    /// An ABC generation was completed.
    AbcGeneration {
        generation: usize,
        epsilon: f64,
        simulated_total: usize,
        acceptance_rate: f64,
        ess: f64,
    },
    /// A tempered-SMC stage was completed.
    SmcStage {
        stage: usize,
        beta: f64,
        simulated_total: usize,
        acceptance_rate: f64,
        ess: f64,
    },
    /// A history-matching wave was completed.
    HmWave {
        wave: usize,
        runs: usize,
        failed: usize,
        fraction_ruled_out: f64,
    },
}

/// Errors of the calibration area.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("the parameter block has no varying parameter: there is nothing to calibrate")]
    NothingToCalibrate,
    #[error(
        "parameter `{name}` has dist = \"choice\": calibration moves continuous parameters only; \
         fix it to one value or give it a continuous distribution"
    )]
    ChoiceParameter { name: String },
    #[error("invalid parameter block: {0}")]
    Block(String),
    #[error("invalid calibration setting `{key}`: {message}")]
    Config { key: String, message: String },
    #[error("{what}: expected {expected} values, got {got}")]
    Dimension {
        what: String,
        expected: usize,
        got: usize,
    },
    #[error("{what}[{index}] = {value} must be a positive finite number")]
    BadScale {
        what: String,
        index: usize,
        value: f64,
    },
    #[error("the simulator failed")]
    Simulator(#[source] SimulatorError),
    #[error("the simulator returned {got} results for a batch of {expected}")]
    SimulatorShape { expected: usize, got: usize },
    #[error("the simulator returned {got} summaries for member {row}, expected {expected}")]
    SummaryLength {
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("{0}")]
    NoUsableRuns(String),
    #[error("{0}")]
    EmptyNonImplausible(String),
    #[error("Gaussian-process fit failed: {0}")]
    Gp(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}, column `{column}`: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Posterior { path: PathBuf, message: String },
    #[error("posterior: {0}")]
    PosteriorMismatch(String),
}

/// Checks that a list of scales (observation sd's) is as long as the
/// summaries and holds positive finite numbers only.
pub(crate) fn check_scales(
    what: &str,
    scales: &[f64],
    expected: usize,
) -> Result<(), CalibrateError> {
    if scales.len() != expected {
        return Err(CalibrateError::Dimension {
            what: what.into(),
            expected,
            got: scales.len(),
        });
    }
    match scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
        Some(index) => Err(CalibrateError::BadScale {
            what: what.into(),
            index,
            value: scales[index],
        }),
        None => Ok(()),
    }
}

/// Runs one batch and checks the simulator's answer has the right shape;
/// a row with a non-finite summary counts as failed.
pub(crate) fn simulate_checked(
    sim: &mut Summaries<'_>,
    thetas: &[Vec<f64>],
    seed: u64,
    n_summaries: usize,
) -> Result<Vec<Option<Vec<f64>>>, CalibrateError> {
    let out = sim
        .simulate(thetas, seed)
        .map_err(CalibrateError::Simulator)?;
    if out.len() != thetas.len() {
        return Err(CalibrateError::SimulatorShape {
            expected: thetas.len(),
            got: out.len(),
        });
    }
    let mut rows = Vec::with_capacity(out.len());
    for (row, r) in out.into_iter().enumerate() {
        if let Some(s) = &r
            && s.len() != n_summaries
        {
            return Err(CalibrateError::SummaryLength {
                row,
                expected: n_summaries,
                got: s.len(),
            });
        }
        rows.push(r.filter(|s| s.iter().all(|v| v.is_finite())));
    }
    Ok(rows)
}
