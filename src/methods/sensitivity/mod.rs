//! Global sensitivity analysis of model outputs computed on a design:
//! Sobol indices from a Saltelli design ([`sobol`]) and Morris elementary
//! effects from Morris trajectories ([`morris`]). Works on plain output
//! vectors, so the outputs may come from any simulator.
//!
//! Confidence intervals are bootstrap intervals as in SALib: base rows
//! (Sobol) or trajectories (Morris) are resampled with replacement from a
//! seeded generator, the estimator is recomputed on each resample, and
//! `conf = z · sd` with `sd` the resamples' standard deviation (n − 1) and
//! `z = Φ⁻¹(0.5 + level/2)` (1.96 for the default 95 % level).
//!
//! Owns: the estimators. Never reads files and never runs a model.

pub mod morris;
pub mod sobol;

pub use morris::{MorrisOptions, MorrisResult, morris_indices};
pub use sobol::{SobolOptions, SobolResult, sobol_indices};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AnalysisError {
    #[error("the design has {design} rows but there are {outputs} outputs")]
    RowMismatch { design: usize, outputs: usize },
    #[error(
        "{rows} rows fit no Saltelli design over D = {d} parameters: expected a multiple of {first} \
         (first order, N·(D+2); nearest {first_near}) or of {second} (second order, N·(2D+2); nearest {second_near})"
    )]
    NotSaltelli {
        rows: usize,
        d: usize,
        first: usize,
        first_near: String,
        second: usize,
        second_near: String,
    },
    #[error(
        "{rows} rows fit both a first-order Saltelli design (N = {n_first}) and a second-order one \
         (N = {n_second}) over D = {d} parameters; say which"
    )]
    AmbiguousOrder {
        rows: usize,
        d: usize,
        n_first: usize,
        n_second: usize,
    },
    #[error(
        "{rows} rows are not a second-order Saltelli design over D = {d} parameters (expected a multiple of {per})"
    )]
    NotSecondOrder { rows: usize, d: usize, per: usize },
    #[error(
        "{rows} rows fit no Morris design over D = {d} parameters: expected a multiple of D+1 = {per}"
    )]
    NotMorris { rows: usize, d: usize, per: usize },
    #[error("not a Morris design: {0}")]
    BadTrajectory(String),
    #[error("output {row} (0-based) is {value}, not a finite number")]
    NonFinite { row: usize, value: f64 },
    #[error("the outputs have no variance: every value is {0}; sensitivity indices are undefined")]
    ConstantOutput(f64),
    #[error("the design has no varying parameter (D = 0)")]
    NoParameters,
    #[error("the confidence level must lie in (0, 1), got {0}")]
    BadLevel(f64),
}

/// The bootstrap settings shared by both analyses.
#[derive(Clone, Debug, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples (0 gives NaN intervals).
    pub resamples: usize,
    pub seed: u64,
    /// Confidence level of the intervals, in (0, 1).
    pub conf_level: f64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 1000,
            seed: 0,
            conf_level: 0.95,
        }
    }
}

impl Bootstrap {
    /// Half-widths `z · sd` of each component of `stat` over resamples of
    /// `n` units (rows or trajectories). `stat` gets the resampled indices.
    pub(crate) fn conf(
        &self,
        n: usize,
        stat: impl Fn(&[usize]) -> Vec<f64>,
    ) -> Result<Vec<f64>, AnalysisError> {
        if !(self.conf_level > 0.0 && self.conf_level < 1.0) {
            return Err(AnalysisError::BadLevel(self.conf_level));
        }
        let z = crate::input::params::norm_ppf(0.5 + self.conf_level / 2.0);
        if self.resamples < 2 || n == 0 {
            return Ok(vec![f64::NAN; stat(&(0..n).collect::<Vec<_>>()).len()]);
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut idx = vec![0usize; n];
        let mut draws: Vec<Vec<f64>> = Vec::with_capacity(self.resamples);
        for _ in 0..self.resamples {
            for k in idx.iter_mut() {
                *k = rng.random_range(0..n);
            }
            draws.push(stat(&idx));
        }
        let m = self.resamples as f64;
        let width = draws[0].len();
        Ok((0..width)
            .map(|j| {
                let mean = draws.iter().map(|s| s[j]).sum::<f64>() / m;
                let var = draws.iter().map(|s| (s[j] - mean).powi(2)).sum::<f64>() / (m - 1.0);
                z * var.sqrt()
            })
            .collect())
    }
}

/// Refuses NaN or infinite outputs, naming the first.
pub(crate) fn check_finite(y: &[f64]) -> Result<(), AnalysisError> {
    match y.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(AnalysisError::NonFinite { row, value: y[row] }),
        None => Ok(()),
    }
}

/// Default parameter names `x1 … xD`, for results built without names.
pub(crate) fn default_names(d: usize) -> Vec<String> {
    (1..=d).map(|i| format!("x{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bootstrap half-width of a sample mean matches its standard error
    /// σ/√n times 1.96 within sampling error (20 %).
    #[test]
    fn bootstrap_of_a_mean_matches_its_standard_error() {
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 / n as f64).collect(); // uniform grid
        let b = Bootstrap {
            resamples: 2000,
            seed: 1,
            conf_level: 0.95,
        };
        let conf = b
            .conf(n, |idx| {
                vec![idx.iter().map(|&k| x[k]).sum::<f64>() / n as f64]
            })
            .unwrap()[0];
        let sd = (1.0f64 / 12.0).sqrt();
        let want = 1.959964 * sd / (n as f64).sqrt();
        assert!((conf / want - 1.0).abs() < 0.2, "{conf} vs {want}");
        let bad = Bootstrap {
            conf_level: 1.5,
            ..b
        };
        assert_eq!(
            bad.conf(n, |_| vec![0.0]),
            Err(AnalysisError::BadLevel(1.5))
        );
    }
}
