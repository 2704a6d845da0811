//! The output layer: everything vtwin writes to (or reads back from) disk.
//!
//! Owns: table files (`parquet`, `csv`), raw field arrays (`npy`), field
//! pictures (`png`; agent panels with discs drawn over a field, `montage`),
//! run directories that appear atomically with a hashed
//! manifest (`rundir`), the rule deciding whether an output target may be
//! written or replaced (`target`), the sweep of temporary folders left by
//! killed runs (`stale`), and the small file helpers they share (`files`).
//!
//! Must not touch: the GPU, the engine or any model. It only sees
//! [`crate::output::table::Table`], `f32` slices and bytes handed to it. Every error
//! names the file it is about.

pub mod csv;
pub mod files;
pub mod montage;
pub mod npy;
pub mod parquet;
pub mod png;
pub mod rundir;
pub mod stale;
pub mod target;

pub use self::csv::{ColumnType, read_csv, read_csv_typed, write_csv};
pub use self::files::{sha256_file, write_atomic};
pub use self::montage::{Disc, agent_colour, agent_montage, annotated_montage};
pub use self::npy::{read_npy_f32, write_npy_f32};
pub use self::parquet::{read_parquet, write_parquet};
pub use self::png::{colormap, field_montage, field_montage_with, write_png_rgba};
pub use self::rundir::{RunDir, install_interrupt_cleanup};
pub use self::target::{check_file_target, check_folder_target};

use crate::output::table::Table;
use std::path::{Path, PathBuf};

/// Errors of the output layer. Every variant names the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("output folder {} exists; pass --force to replace it", path.display())]
    Exists { path: PathBuf },
    #[error("output file {} exists; pass --force to replace it", path.display())]
    FileExists { path: PathBuf },
    #[error("{}: parquet: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    #[error("{}: column `{column}`: {message}", path.display())]
    Column {
        path: PathBuf,
        column: String,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: ::csv::Error,
    },
    #[error("{}: line {line}, column `{column}`: cannot read {value:?} as {expected}", path.display())]
    CsvField {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        expected: &'static str,
    },
    #[error("{}: not a valid .npy file: {message}", path.display())]
    Npy { path: PathBuf, message: String },
    #[error("{}: png: {source}", path.display())]
    Png {
        path: PathBuf,
        #[source]
        source: ::png::EncodingError,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: json: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot install the Ctrl-C handler: {0}")]
    Interrupt(String),
    /// `crate::output::interrupt::request` came before the folder was finished.
    #[error("{}: interrupted; the folder was not written", path.display())]
    Interrupted { path: PathBuf },
}

impl IoError {
    /// Wraps a `std::io::Error` with the path it happened on.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        IoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        IoError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The on-disk format of a table, chosen on the command line
/// (`--format parquet|csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Csv,
}

impl TableFormat {
    /// The file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Csv => "csv",
        }
    }
}

/// Writes `<dir>/<table.name>.<ext>` and returns that path. The table name
/// must be a plain file name (no separators, not `.`/`..`).
pub fn write_table(dir: &Path, table: &Table, fmt: TableFormat) -> Result<PathBuf, IoError> {
    files::check_plain_name(dir, &table.name)?;
    let path = dir.join(format!("{}.{}", table.name, fmt.extension()));
    match fmt {
        TableFormat::Parquet => write_parquet(&path, table)?,
        TableFormat::Csv => write_csv(&path, table)?,
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_extensions() {
        assert_eq!(TableFormat::Parquet.extension(), "parquet");
        assert_eq!(TableFormat::Csv.extension(), "csv");
    }

    #[test]
    fn exists_message_tells_the_user_what_to_do() {
        let e = IoError::Exists {
            path: PathBuf::from("runs/a"),
        };
        assert_eq!(
            e.to_string(),
            "output folder runs/a exists; pass --force to replace it"
        );
    }
}
