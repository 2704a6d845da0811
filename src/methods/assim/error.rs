//! Errors of the analysis core (shapes, configuration, non-finite input).
//! The observation-file parser has its own error type in `obs_file`.

use thiserror::Error;

/// Everything that can go wrong in an analysis or a twin experiment.
#[derive(Debug, Error, PartialEq)]
pub enum AssimError {
    /// Two arrays that must agree in size do not.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A setting is out of its valid range.
    #[error("invalid setting {name} = {value}: {reason}")]
    Config {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// An observation variance is not a positive finite number.
    #[error("observation {index}: variance {value} is not positive and finite")]
    ObsVariance { index: usize, value: f64 },
    /// An input to the analysis holds NaN or infinity.
    #[error("non-finite value in {what} at row {row}, column {col}")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
    },
    /// A linear-algebra step failed (e.g. an eigen-decomposition).
    #[error("numerical failure in {0}")]
    Numerical(&'static str),
}

impl AssimError {
    pub(crate) fn config(name: &'static str, value: impl ToString, reason: &'static str) -> Self {
        AssimError::Config {
            name,
            value: value.to_string(),
            reason,
        }
    }
}

/// Fails with `Shape` unless `got == expected`.
pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), AssimError> {
    if expected == got {
        Ok(())
    } else {
        Err(AssimError::Shape {
            what,
            expected,
            got,
        })
    }
}
