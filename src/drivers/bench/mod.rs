//! Benchmarks and the computational envelope: the pinned Gray–Scott problem
//! every implementation computes (`problem`), timed engine runs (`timed`),
//! the RD suite with its scaling curve and copy-bandwidth row (`rd`), the
//! agent-based suite (`abm`), the plain-matrix assimilation analyses and the patient-run row (`da`,
//! `patients`), known peak bandwidths and roofline arithmetic (`peak`), the
//! report and its JSON (`report`) and run-time/memory estimates
//! (`estimate`), and the options and suite runner of `vtwin bench`
//! (`options`). Drives engines only through `Backend`, `Engine` and the GPU
//! engine's timing hooks.
//!
//! Owns: what is measured and how it is reported. Never changes results:
//! every case runs a plan the normal engines run.

pub mod abm;
pub mod da;
pub mod estimate;
pub mod options;
pub mod patients;
pub mod peak;
pub mod problem;
pub mod rd;
pub mod report;
pub mod timed;

use crate::engine::EngineError;
use crate::input::scene::SceneError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Assim(#[from] crate::methods::assim::AssimError),
    #[error(transparent)]
    Options(#[from] options::OptionsError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Median of a non-empty list (mean of the middle two for even lengths).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(super::median(&[]).is_nan());
    }
}
