//! Twin experiments: a truth run, synthetic observations with a seeded
//! generator, assimilation cycles with burn-in, and the scores of the
//! benchmark literature. Generic over `Forecast`, so the same driver runs the
//! CPU reference models here and the engine later. Owns the experiment loop
//! and its metrics; the analysis itself is `Filter`'s.
//!
//! Scores (as in Sakov & Oke 2008 and DAPPER): at each scored cycle the RMSE
//! over state rows of (ensemble mean − truth); the reported value is its time
//! average over the cycles after the burn-in. The analysis mean of a particle
//! filter is the weighted mean of the forecast members before resampling.

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::error::AssimError;
use super::filter::Filter;
use super::gauss::std_normal;
use super::obs::{ObsBatch, Site};
use super::stats::{rms_diff, weighted_mean_var};

/// A forecast model for an ensemble stored as a state matrix.
pub trait Forecast {
    /// Advances every member (column of `ens`, n_state × N) by `steps` model
    /// steps.
    fn forecast(&mut self, ens: &mut DMatrix<f64>, steps: usize);
}

/// An observing-system simulation: what is observed, how often, how noisily.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinExperiment {
    /// Mean of the initial distribution of truth and members.
    pub init_mean: DVector<f64>,
    /// Standard deviation of the (isotropic) initial distribution.
    pub init_sd: f64,
    /// Ensemble size N.
    pub members: usize,
    /// Model steps between analyses.
    pub steps_per_cycle: usize,
    /// Analysis cycles in total (burn-in included).
    pub cycles: usize,
    /// Leading cycles left out of the scores.
    pub burn_in: usize,
    /// State rows observed directly (H picks these rows).
    pub observed: Vec<usize>,
    /// Observation error standard deviation (R = sd² I).
    pub obs_sd: f64,
    /// Site of every state row, used as the site of its observation
    /// (empty: all `Global`).
    pub sites: Vec<Site>,
    /// Seed of all draws (truth, observations, ensemble, filter).
    pub seed: u64,
}

/// Time-averaged scores of one experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinMetrics {
    /// Mean over scored cycles of the analysis-mean RMSE.
    pub rmse_analysis: f64,
    /// Same for the forecast mean (before each analysis).
    pub rmse_forecast: f64,
    /// Mean over scored cycles of √(mean analysis variance).
    pub spread_analysis: f64,
    /// Same RMSE for a free run: one trajectory started from the initial
    /// ensemble mean, never assimilating (the no-data baseline).
    pub rmse_free: f64,
    /// Number of cycles that entered the averages.
    pub scored_cycles: usize,
    /// Cycle at which members became non-finite; the run stopped there and
    /// the averages cover the cycles before it (+∞ if none was scored).
    pub diverged_at: Option<usize>,
    /// Number of analyses that resampled (particle filter).
    pub resamplings: usize,
}

/// Independent generator for one purpose of the experiment.
pub fn stream(seed: u64, purpose: u64) -> StdRng {
    StdRng::seed_from_u64(stream_seed(seed, purpose))
}

fn stream_seed(seed: u64, purpose: u64) -> u64 {
    seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// [`stream`] as the ChaCha12 generator it is, whose position (in 32-bit
/// words, `get_word_pos`/`set_word_pos`) can be saved and restored: the
/// same numbers in the same order (`StdRng` is ChaCha12 seeded the same way).
pub fn stream_at(seed: u64, purpose: u64) -> chacha20::ChaCha12Rng {
    chacha20::ChaCha12Rng::seed_from_u64(stream_seed(seed, purpose))
}

/// Accumulates a time average.
#[derive(Default)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
    }

    fn get(&self) -> f64 {
        if self.count == 0 {
            f64::INFINITY
        } else {
            self.sum / self.count as f64
        }
    }
}

impl TwinExperiment {
    /// The Lorenz-96 benchmark of Sakov & Oke (2008): 40
    /// variables, dt = 0.05, every variable observed every step with R = I,
    /// truth and members drawn from N([1, 0, …, 0], 0.001 I), 20 time units
    /// (400 cycles) of burn-in, then `scored_cycles` scored cycles. Sites are
    /// the grid indices on a ring of length 40.
    pub fn lorenz96_sakov2008(members: usize, scored_cycles: usize, seed: u64) -> Self {
        let n = 40;
        let mut init_mean = DVector::zeros(n);
        init_mean[0] = 1.0;
        TwinExperiment {
            init_mean,
            init_sd: 0.001f64.sqrt(),
            members,
            steps_per_cycle: 1,
            cycles: 400 + scored_cycles,
            burn_in: 400,
            observed: (0..n).collect(),
            obs_sd: 1.0,
            sites: (0..n).map(|i| Site::At([i as f64, 0.0])).collect(),
            seed,
        }
    }

    /// The Lorenz-63 benchmark of Sakov, Oliver & Bertino (2012)
    /// (Sakov, Oliver & Bertino 2012): dt = 0.01, all 3 variables observed every 25 steps
    /// with R = 2 I, truth and members drawn from N([1.509, −1.531, 25.46],
    /// 2 I); 16 time units (64 cycles) of burn-in as in DAPPER's
    /// `sakov2012.py`, then `scored_cycles` scored cycles.
    pub fn lorenz63_sakov2012(members: usize, scored_cycles: usize, seed: u64) -> Self {
        TwinExperiment {
            init_mean: DVector::from_vec(vec![1.509, -1.531, 25.46]),
            init_sd: 2f64.sqrt(),
            members,
            steps_per_cycle: 25,
            cycles: 64 + scored_cycles,
            burn_in: 64,
            observed: vec![0, 1, 2],
            obs_sd: 2f64.sqrt(),
            sites: Vec::new(),
            seed,
        }
    }

    fn validate(&self) -> Result<(), AssimError> {
        let n = self.init_mean.len();
        if self.members < 2 {
            return Err(AssimError::config(
                "members",
                self.members,
                "need at least 2",
            ));
        }
        if self.burn_in >= self.cycles {
            return Err(AssimError::config(
                "burn_in",
                self.burn_in,
                "must be below the number of cycles",
            ));
        }
        if !(self.obs_sd.is_finite() && self.obs_sd > 0.0) {
            return Err(AssimError::config(
                "obs_sd",
                self.obs_sd,
                "must be positive and finite",
            ));
        }
        if !(self.init_sd.is_finite() && self.init_sd >= 0.0) {
            return Err(AssimError::config(
                "init_sd",
                self.init_sd,
                "must be finite and non-negative",
            ));
        }
        if let Some(&i) = self.observed.iter().find(|&&i| i >= n) {
            return Err(AssimError::config(
                "observed row",
                i,
                "beyond the state dimension",
            ));
        }
        if !self.sites.is_empty() && self.sites.len() != n {
            return Err(AssimError::Shape {
                what: "sites (one per state row)",
                expected: n,
                got: self.sites.len(),
            });
        }
        Ok(())
    }

    /// Draws `cols` states from N(init_mean, init_sd² I).
    fn draw_initial(&self, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
        DMatrix::from_fn(self.init_mean.len(), cols, |i, _| {
            self.init_mean[i] + self.init_sd * std_normal(rng)
        })
    }

    /// Runs the experiment with `model` as truth and forecast model.
    pub fn run<F: Forecast>(
        &self,
        model: &mut F,
        filter: &mut Filter,
    ) -> Result<TwinMetrics, AssimError> {
        self.validate()?;
        let mut truth_rng = stream(self.seed, 1);
        let mut obs_rng = stream(self.seed, 2);
        let mut ens_rng = stream(self.seed, 3);
        let mut filter_rng = stream(self.seed, 4);

        let mut truth = self.draw_initial(1, &mut truth_rng);
        let mut ens = self.draw_initial(self.members, &mut ens_rng);
        let mut free = DMatrix::from_column_slice(ens.nrows(), 1, ens.column_mean().as_slice());
        let m = self.observed.len();
        let obs_sites: Vec<Site> = if self.sites.is_empty() {
            vec![Site::Global; m]
        } else {
            self.observed.iter().map(|&i| self.sites[i]).collect()
        };
        let r_diag = DVector::from_element(m, self.obs_sd * self.obs_sd);

        let (mut rmse_a, mut rmse_f, mut spread, mut rmse_free) = (
            Mean::default(),
            Mean::default(),
            Mean::default(),
            Mean::default(),
        );
        let mut diverged_at = None;
        let mut resamplings = 0;
        for cycle in 1..=self.cycles {
            model.forecast(&mut truth, self.steps_per_cycle);
            model.forecast(&mut ens, self.steps_per_cycle);
            model.forecast(&mut free, self.steps_per_cycle);
            let x = truth.column(0).into_owned();
            let y = DVector::from_fn(m, |k, _| {
                x[self.observed[k]] + self.obs_sd * std_normal(&mut obs_rng)
            });
            let hx = ens.select_rows(self.observed.iter());
            let obs = ObsBatch::new(y, r_diag.clone(), hx).with_sites(obs_sites.clone());

            if ens.iter().any(|v| !v.is_finite()) {
                diverged_at = Some(cycle);
                break;
            }
            let forecast_mean = match filter.weights() {
                Some(w) => &ens * w,
                None => ens.column_mean(),
            };
            let report = filter.plan(&obs, &mut filter_rng)?;
            // A PF's analysis is the reweighted forecast ensemble.
            let weighted = report.weights.as_ref().map(|w| weighted_mean_var(&ens, w));
            report.transform.apply(&mut ens)?;
            resamplings += report.resampled as usize;
            let (mean_a, var_a) = weighted.unwrap_or_else(|| {
                let equal = DVector::from_element(self.members, 1.0 / self.members as f64);
                weighted_mean_var(&ens, &equal)
            });
            if ens.iter().any(|v| !v.is_finite()) {
                diverged_at = Some(cycle);
                break;
            }
            if cycle > self.burn_in {
                rmse_f.add(rms_diff(&forecast_mean, &x));
                rmse_a.add(rms_diff(&mean_a, &x));
                spread.add((var_a.sum() / var_a.len() as f64).sqrt());
                rmse_free.add(rms_diff(&free.column(0).into_owned(), &x));
            }
        }
        Ok(TwinMetrics {
            rmse_analysis: rmse_a.get(),
            rmse_forecast: rmse_f.get(),
            spread_analysis: spread.get(),
            rmse_free: rmse_free.get(),
            scored_cycles: rmse_a.count,
            diverged_at,
            resamplings,
        })
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn stream_at_is_stream_and_its_position_restores() {
        let (mut a, mut b) = (stream(7, 4), stream_at(7, 4));
        for k in 0..300 {
            if k % 3 == 0 {
                assert_eq!(a.next_u32(), b.next_u32());
            } else {
                assert_eq!(a.next_u64(), b.next_u64());
            }
        }
        let pos = b.get_word_pos();
        let want: Vec<u64> = (0..40).map(|_| b.next_u64()).collect();
        let mut c = stream_at(7, 4);
        c.set_word_pos(pos);
        let got: Vec<u64> = (0..40).map(|_| c.next_u64()).collect();
        assert_eq!(got, want);
        assert_eq!(a.next_u64(), want[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::lorenz::Lorenz63;
    use crate::methods::assim::{FilterConfig, Method};

    fn etkf() -> Filter {
        Filter::new(FilterConfig {
            method: Method::Etkf { rotate: true },
            inflation: 1.02,
        })
        .unwrap()
    }

    /// Same seed, same numbers; another seed, other numbers.
    #[test]
    fn runs_are_reproducible() {
        let run = |seed| {
            TwinExperiment::lorenz63_sakov2012(10, 200, seed)
                .run(&mut Lorenz63::standard(), &mut etkf())
                .unwrap()
        };
        let (a, b, c) = (run(1), run(1), run(2));
        assert_eq!(a, b);
        assert_ne!(a.rmse_analysis, c.rmse_analysis);
        assert_eq!(a.scored_cycles, 200);
        // Assimilation beats the free run by far on Lorenz-63.
        assert!(a.rmse_analysis < 0.2 * a.rmse_free);
    }

    #[test]
    fn rejects_bad_setups() {
        let mut model = Lorenz63::standard();
        let mut bad = TwinExperiment::lorenz63_sakov2012(10, 10, 0);
        bad.burn_in = bad.cycles;
        assert!(bad.run(&mut model, &mut etkf()).is_err());
        let mut bad = TwinExperiment::lorenz63_sakov2012(10, 10, 0);
        bad.observed = vec![3];
        assert!(bad.run(&mut model, &mut etkf()).is_err());
        let mut bad = TwinExperiment::lorenz63_sakov2012(1, 10, 0);
        bad.members = 1;
        assert!(bad.run(&mut model, &mut etkf()).is_err());
    }
}
