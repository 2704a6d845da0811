//! Posterior predictive checks (Gelman, Meng & Stern 1996; Gneiting,
//! Balabdaoui & Raftery 2007): every distinct posterior draw is simulated
//! once more (one ensemble run), `noise_draws` observations per draw are
//! drawn from the error model (the Philox observation-noise stream), and
//! for each data row the weighted predictive quantiles (5, 25, 50, 75,
//! 95 %) are reported with the probability integral transform
//! PIT = P(y_rep ≤ y_obs) = Σ_draws w · F(y_obs | θ) (exact, through the
//! error model's CDF). The summary gives the fraction of rows inside the
//! central 50 % and 90 % bands and the mean, sd and Kolmogorov–Smirnov
//! distance of the PIT values from the uniform (a calibrated model has
//! coverages near 0.5 / 0.9 and PIT ≈ U(0, 1): mean 0.5, sd 0.289).
//!
//! Owns: the predictive sample and its two tables' numbers. Never touches
//! files; the CLI adds the data rows' labels.

use super::likelihood::Likelihood;
use super::posterior::Posterior;
use super::sampling::{normalise, weighted_quantile};
use super::{CalibrateError, Summaries, simulate_checked};
use crate::core::rng::{Stream, normal2_f64};

/// The predictive quantile levels reported.
pub const LEVELS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// Per data row: predictive mean, quantiles at [`LEVELS`] and PIT.
#[derive(Clone, Debug, PartialEq)]
pub struct RowCheck {
    pub mean: f64,
    pub quantiles: [f64; 5],
    pub pit: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Predictive {
    pub rows: Vec<RowCheck>,
    /// Posterior draws simulated (distinct draws with positive weight).
    pub draws: usize,
    /// Draws whose simulation failed (left out).
    pub failed: usize,
}

impl Predictive {
    /// Fraction of rows whose value lies inside the central 50 % band.
    pub fn coverage50(&self, observed: &[f64]) -> f64 {
        self.coverage(observed, 1, 3)
    }

    /// Fraction of rows whose value lies inside the central 90 % band.
    pub fn coverage90(&self, observed: &[f64]) -> f64 {
        self.coverage(observed, 0, 4)
    }

    fn coverage(&self, observed: &[f64], lo: usize, hi: usize) -> f64 {
        let inside = self
            .rows
            .iter()
            .zip(observed)
            .filter(|(r, y)| **y >= r.quantiles[lo] && **y <= r.quantiles[hi])
            .count();
        inside as f64 / self.rows.len().max(1) as f64
    }

    /// (mean, sd, Kolmogorov–Smirnov distance from U(0, 1)) of the PITs.
    pub fn pit_summary(&self) -> (f64, f64, f64) {
        let mut p: Vec<f64> = self.rows.iter().map(|r| r.pit).collect();
        let n = p.len().max(1) as f64;
        let mean = p.iter().sum::<f64>() / n;
        let sd = (p.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        p.sort_by(f64::total_cmp);
        let ks = p
            .iter()
            .enumerate()
            .map(|(i, x)| (x - i as f64 / n).abs().max(((i + 1) as f64 / n - x).abs()))
            .fold(0.0, f64::max);
        (mean, sd, ks)
    }
}

/// Simulates the posterior's draws and summarises the predictive
/// distribution at the data rows. `seed` keys the simulation and the
/// observation noise.
pub fn posterior_predictive(
    sim: &mut Summaries<'_>,
    lik: &Likelihood,
    post: &Posterior,
    noise_draws: usize,
    seed: u64,
) -> Result<Predictive, CalibrateError> {
    let keep: Vec<usize> = (0..post.draws.len())
        .filter(|&i| post.weights[i] > 0.0)
        .collect();
    let thetas: Vec<Vec<f64>> = keep.iter().map(|&i| post.draws[i].clone()).collect();
    let sims = simulate_checked(sim, &thetas, seed, lik.rows())?;
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); lik.rows()];
    let mut weights: Vec<f64> = Vec::new();
    let mut pit = vec![0.0; lik.rows()];
    let mut mean = vec![0.0; lik.rows()];
    let mut total = 0.0;
    let mut failed = 0;
    for (j, (theta, s)) in thetas.iter().zip(&sims).enumerate() {
        let Some(s) = s else {
            failed += 1;
            continue;
        };
        let w = post.weights[keep[j]];
        let mut draws = Vec::with_capacity(noise_draws);
        for k in 0..noise_draws {
            let normals: Vec<f64> = (0..lik.rows())
                .map(|i| {
                    normal2_f64(
                        seed,
                        i as u32,
                        j as u32,
                        k as u32 + 1,
                        Stream::ObsNoise as u32,
                    )[0]
                })
                .collect();
            let Some(y) = lik.noisy(theta, s, &normals) else {
                break;
            };
            draws.push(y);
        }
        let cdfs: Option<Vec<f64>> = (0..lik.rows()).map(|i| lik.cdf(theta, s, i)).collect();
        let (Some(cdfs), true) = (cdfs, draws.len() == noise_draws) else {
            failed += 1;
            continue;
        };
        total += w;
        for i in 0..lik.rows() {
            pit[i] += w * cdfs[i];
            for y in &draws {
                values[i].push(y[i]);
                mean[i] += w * y[i] / noise_draws as f64;
            }
        }
        weights.extend(std::iter::repeat_n(w / noise_draws as f64, noise_draws));
    }
    let weights = normalise(&weights).ok_or_else(|| {
        CalibrateError::NoUsableRuns(
            "posterior predictive: every posterior draw failed to simulate".into(),
        )
    })?;
    let rows = (0..lik.rows())
        .map(|i| {
            let q = LEVELS.map(|l| weighted_quantile(&values[i], &weights, l));
            RowCheck {
                mean: mean[i] / total,
                quantiles: q,
                pit: pit[i] / total,
            }
        })
        .collect();
    Ok(Predictive {
        rows,
        draws: thetas.len(),
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::{Distribution, ParamBlock};

    /// f(x) = x.
    fn identity() -> crate::engine::PerRow<impl FnMut(&[f64]) -> Option<Vec<f64>>> {
        crate::engine::PerRow(|t: &[f64]| Some(vec![t[0]]))
    }

    /// A point-mass posterior at x = 0 with N(0, 1) errors: the predictive
    /// is N(0, 1), so its quantiles are the normal's (±0.05 with 40000
    /// noise draws: the 5 % quantile's standard error is
    /// √(0.05·0.95/40000)/φ(1.645) = 0.011) and the PIT of y = 1 is Φ(1) = 0.8413 exactly.
    #[test]
    fn point_mass_posterior_gives_the_error_model() {
        let block = ParamBlock::from_pairs([(
            "x".into(),
            Distribution::Uniform {
                low: -1.0,
                high: 1.0,
            },
        )]);
        let post = Posterior::from_weighted("t", &block, vec![vec![0.0]], vec![1.0]).unwrap();
        let lik = Likelihood::gaussian(&[1.0], &[1.0]).unwrap();
        let p = posterior_predictive(
            &mut Summaries::last(&mut identity()),
            &lik,
            &post,
            40_000,
            5,
        )
        .unwrap();
        let z = [-1.6449, -0.6745, 0.0, 0.6745, 1.6449];
        for (q, z) in p.rows[0].quantiles.iter().zip(z) {
            assert!((q - z).abs() < 0.05, "{q} {z}");
        }
        assert!((p.rows[0].pit - 0.841_344_7).abs() < 1e-6);
        assert_eq!(p.coverage50(&[1.0]), 0.0);
        assert_eq!(p.coverage90(&[1.0]), 1.0);
    }
}
