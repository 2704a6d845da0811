//! The error type of the cohort module.
//!
//! Owns: every way a cohort command can fail, each naming what the user must
//! fix (a scene key, a file and column, a shard). Never formats for the
//! terminal beyond `Display`.

use std::path::PathBuf;

/// One problem found while validating a scene's `[cohort]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecIssue {
    /// Dotted key path, e.g. `cohort.observation.burden.mcar` or
    /// `cohort.modulation.0.param` (array elements by index).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CohortError {
    /// Validation of `[cohort]` found one or more problems (all are listed).
    #[error("invalid [cohort] section:\n{}", join_issues(.0))]
    Spec(Vec<SpecIssue>),
    /// A simulated trajectory does not fit what the cohort needs.
    #[error("patient {patient}, arm `{arm}`: {message}")]
    Trajectory {
        patient: u64,
        arm: String,
        message: String,
    },
    /// The simulator behind the cohort failed.
    #[error("simulation of arm `{arm}` failed: {message}")]
    Simulation { arm: String, message: String },
    /// Patient indices are counters of 32 bits in the random-number key.
    #[error("patient index {0} exceeds the supported maximum {max}", max = u32::MAX)]
    PatientIndex(u64),
    /// `--shard I/K` text that does not parse or makes no sense.
    #[error("--shard `{text}`: {message}")]
    ShardSpec { text: String, message: String },
    /// Shards that cannot be merged.
    #[error("merge: {0}")]
    Merge(String),
    /// A table lacks a column or holds the wrong type.
    #[error("table `{table}`, column `{column}`: {message}")]
    Column {
        table: String,
        column: String,
        message: String,
    },
    /// A bad value in an input file (target distributions, reference tables).
    #[error("{}, line {line}, column `{column}`: {message}", path.display())]
    InputValue {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// Virtual-population selection cannot proceed.
    #[error("select: {0}")]
    Select(String),
    /// RO-Crate metadata that is malformed.
    #[error("{}: {message}", path.display())]
    Crate { path: PathBuf, message: String },
}

fn join_issues(issues: &[SpecIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl CohortError {
    /// The single-issue form, for checks that stop at the first problem.
    pub fn spec(key: impl Into<String>, message: impl Into<String>) -> Self {
        CohortError::Spec(vec![SpecIssue {
            key: key.into(),
            message: message.into(),
        }])
    }

    pub(crate) fn file(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        CohortError::File {
            path: path.into(),
            message: e.to_string(),
        }
    }
}
