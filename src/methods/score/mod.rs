//! Scoring probabilistic forecasts against what happened (`vtwin score`):
//! the wide forecast table of `vtwin assimilate --forecast-at` (one row per
//! patient, time and observable: `status`, `mean`, `sd`, `qNN`…) against a
//! truth file (`patient, time, observable, value`), with the
//! last-value-carried-forward baseline from the patients' observation file.
//!
//! Owns: reading and checking those inputs (`input`), the scores of one
//! forecast (`metrics`: MAE, RMSE, CRPS, coverage, PIT; methods and
//! citations there) and their grouping by patient and status (`report`).
//! Never runs a model and never writes files: the command writes the JSON.

pub mod input;
pub mod metrics;
pub mod report;

pub use input::{Forecast, Key, ObsSeries, forecast_path, read_forecast, read_obs, read_truth};
pub use metrics::Metrics;
pub use report::{ScoreReport, render_text, score};

use std::path::PathBuf;

/// Errors of `vtwin score`'s inputs. Each names the file and, for a field,
/// the line (CSV) or data row (Parquet) and the column.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Io(#[from] crate::output::io::IoError),
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: ::csv::Error,
    },
    #[error("{}: missing column `{column}` (the header has: {have})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        have: String,
    },
    #[error("{}: {message}", path.display())]
    Columns { path: PathBuf, message: String },
    #[error("{}: {at}, column {column} (`{name}`): {message}", path.display())]
    Field {
        path: PathBuf,
        at: String,
        column: usize,
        name: String,
        message: String,
    },
    #[error("{}: {at}: a second row for {key} (the first is at {first})", path.display())]
    Duplicate {
        path: PathBuf,
        at: String,
        key: String,
        first: String,
    },
    #[error("{}: no forecast.parquet or forecast.csv (write one with `vtwin assimilate --forecast-at`)", dir.display())]
    NoForecast { dir: PathBuf },
}
