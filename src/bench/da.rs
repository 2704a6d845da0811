//! The data-assimilation suite: one plain-matrix analysis (host, f64,
//! `assim::Filter::analyse`) of an ensemble of Gray–Scott-sized states
//! (2 × 64² = 8,192 values per member) with 256 point observations, by the
//! stochastic EnKF and the ETKF, at 16, 64 and 256 members. Rows count
//! state values updated as "updates"; one analysis is one step.
//!
//! Owns: the analysis cases. Synthetic Gaussian ensembles (seeded), so the
//! timing does not depend on a forecast.

use super::report::CaseResult;
use super::timed::Timed;
use super::{BenchError, median};
use crate::assim::gauss::std_normal_matrix;
use crate::assim::{Filter, FilterConfig, Method, ObsBatch};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

/// State values per member (two species on 64 × 64).
pub const STATE: usize = 2 * 64 * 64;
/// Observations per analysis (every 32nd state value).
pub const OBS: usize = 256;

/// A seeded Gaussian ensemble (STATE × n) and its observation batch
/// (every 32nd state value observed as 0.5 with unit variance).
pub fn inputs(n: u32, rng: &mut StdRng) -> (DMatrix<f64>, ObsBatch) {
    let ens: DMatrix<f64> = std_normal_matrix(rng, STATE, n as usize);
    let stride = STATE / OBS;
    let hx = DMatrix::from_fn(OBS, n as usize, |i, j| ens[(i * stride, j)]);
    let obs = ObsBatch::new(
        DVector::from_element(OBS, 0.5),
        DVector::from_element(OBS, 1.0),
        hx,
    );
    (ens, obs)
}

pub fn suite(
    members: &[u32],
    repeats: u32,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<CaseResult>, BenchError> {
    let mut rows = Vec::new();
    for (name, method) in [
        ("enkf", Method::EnKF),
        ("etkf", Method::Etkf { rotate: false }),
    ] {
        for &n in members {
            if n < 2 {
                continue;
            }
            log(&format!("da {name}, {n} members"));
            let mut rng = StdRng::seed_from_u64(7);
            let (ens, obs) = inputs(n, &mut rng);
            let mut runs = Vec::new();
            for _ in 0..repeats.max(1) {
                let mut e = ens.clone();
                let mut f = Filter::new(FilterConfig {
                    method: method.clone(),
                    inflation: 1.0,
                })?;
                let t0 = Instant::now();
                f.analyse(&mut e, &obs, &mut rng)?;
                runs.push(t0.elapsed().as_secs_f64());
            }
            let t = Timed {
                seconds: median(&runs),
                timing: "wall",
                wall: runs,
                gpu: vec![],
            };
            let updates = STATE as f64 * n as f64 / t.seconds;
            rows.push(CaseResult {
                suite: "da".into(),
                case: format!("{name}-analysis"),
                members: n,
                grid: Some(64),
                steps: 1,
                seconds: t.seconds,
                timing: t.timing.into(),
                wall_seconds: t.wall.clone(),
                cell_updates_per_s: Some(updates),
                agent_steps_per_s: None,
                member_steps_per_s: n as f64 / t.seconds,
                bytes_per_update: 16.0,
                bytes_per_s: updates * 16.0,
                fraction_of_peak: None,
                fraction_of_copy: None,
                kernel: None,
                checksum: None,
                note: Some(format!(
                    "host f64, {STATE} state values and {OBS} observations per member; updates = state values analysed"
                )),
            });
        }
    }
    Ok(rows)
}
