//! ABC-SMC (approximate Bayesian computation by sequential Monte Carlo,
//! after Beaumont et al. 2009 and Del Moral et al. 2012's adaptive
//! tolerances).
//!
//! Generation 0 samples the prior and accepts every member that ran. Each
//! later generation t takes the tolerance ε_t = max(final_epsilon, weighted
//! α-quantile of generation t−1's distances), proposes θ* by picking a
//! previous particle θ_j by weight and moving it with a multivariate normal
//! kernel K of covariance `kernel_scale` × the previous weighted covariance
//! (2× after Beaumont 2009 / Filippi et al. 2013), drops proposals outside
//! the prior's support without simulating them, simulates the rest in
//! batches (one ensemble run each), accepts d(s*, s_obs) ≤ ε_t and weights an
//! accepted particle by π(θ*) / Σ_j w_j K(θ* | θ_j). The distance is the
//! Euclidean norm of (s − s_obs) / scale. The kernel moves log-uniform and
//! log-normal parameters on the log scale (`prior::PriorSpace`); a varying
//! `choice` parameter is refused with an error naming it (a continuous
//! kernel cannot move it), fixed parameters are carried along. A failed
//! member (diverged, non-finite summaries) counts against the budget and is
//! never accepted.
//!
//! Owns: the ABC-SMC loop and its result tables. Never touches files (the
//! posterior is written by `posterior_dir`) and sees the model only through
//! [`BatchSimulator`].

use super::posterior::Posterior;
use super::prior::PriorSpace;
use super::sampling::{
    cumulative, ess, keyed, normalise_log, pick_by_cumulative, robust_cholesky, sub_seed,
    weighted_mean_cov, weighted_quantile,
};
use super::summary::{ParamSummary, summarise, summary_table};
use super::{
    AbcConfig, BatchSimulator, CalibrateError, ProgressEvent, check_scales, simulate_checked,
};
use crate::params::ParamBlock;
use crate::table::Table;
use nalgebra::{DMatrix, DVector};

/// Proposals drawn per batch slot before giving up on a kernel that keeps
/// leaving the prior's support.
const MAX_OUTSIDE_PER_SLOT: usize = 1000;

/// One accepted population.
#[derive(Clone, Debug, PartialEq)]
pub struct AbcGeneration {
    pub generation: usize,
    /// The tolerance (∞ for generation 0).
    pub epsilon: f64,
    /// Full parameter vectors (all block parameters, block order).
    pub particles: Vec<Vec<f64>>,
    /// Normalised importance weights.
    pub weights: Vec<f64>,
    pub distances: Vec<f64>,
    /// Members simulated for this generation (failed ones included).
    pub simulated: usize,
    /// Members whose simulation failed (diverged) or gave non-finite
    /// summaries.
    pub failed: usize,
    /// Proposals that fell outside the prior's support (not simulated).
    pub outside_prior: usize,
    pub ess: f64,
}

impl AbcGeneration {
    pub fn acceptance_rate(&self) -> f64 {
        self.particles.len() as f64 / self.simulated.max(1) as f64
    }
}

/// Why the loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbcStop {
    FinalEpsilon,
    MaxGenerations,
    SimulationBudget,
    LowAcceptance,
}

impl AbcStop {
    pub fn name(self) -> &'static str {
        match self {
            AbcStop::FinalEpsilon => "final_epsilon",
            AbcStop::MaxGenerations => "max_generations",
            AbcStop::SimulationBudget => "simulation_budget",
            AbcStop::LowAcceptance => "low_acceptance",
        }
    }
}

/// Every completed generation, the last one being the posterior sample.
#[derive(Clone, Debug)]
pub struct AbcResult {
    pub prior: ParamBlock,
    /// All parameter names in block order (the particle columns).
    pub names: Vec<String>,
    pub varying: Vec<usize>,
    pub generations: Vec<AbcGeneration>,
    pub stop: AbcStop,
    /// Members simulated in all (including a generation cut short by the
    /// budget).
    pub simulations: usize,
}

impl AbcResult {
    /// The final generation.
    pub fn last(&self) -> &AbcGeneration {
        // run_abc_smc returns only with at least one generation.
        &self.generations[self.generations.len() - 1]
    }

    /// Weighted summaries of the varying parameters in the final generation.
    pub fn summary(&self) -> Vec<ParamSummary> {
        let g = self.last();
        let names: Vec<String> = self
            .varying
            .iter()
            .map(|&i| self.names[i].clone())
            .collect();
        let cols: Vec<Vec<f64>> = g
            .particles
            .iter()
            .map(|p| self.varying.iter().map(|&i| p[i]).collect())
            .collect();
        summarise(&names, &cols, &g.weights)
    }

    /// The final generation as a posterior (weighted draws + fitted block).
    pub fn posterior(&self) -> Result<Posterior, CalibrateError> {
        let g = self.last();
        Posterior::from_weighted(
            "abc-smc",
            &self.prior,
            g.particles.clone(),
            g.weights.clone(),
        )
    }

    /// `abc_particles`: generation, particle, weight, distance, then one
    /// column per parameter; every generation's particles.
    pub fn particles_table(&self) -> Table {
        let rows = || {
            self.generations
                .iter()
                .flat_map(|g| (0..g.particles.len()).map(move |i| (g, i)))
        };
        let mut t = Table::new("abc_particles")
            .with_i64("generation", rows().map(|(g, _)| g.generation as i64))
            .with_i64("particle", rows().map(|(_, i)| i as i64))
            .with_f64("weight", rows().map(|(g, i)| g.weights[i]))
            .with_f64("distance", rows().map(|(g, i)| g.distances[i]));
        for (k, name) in self.names.iter().enumerate() {
            t = t.with_f64(name, rows().map(|(g, i)| g.particles[i][k]));
        }
        t
    }

    /// `abc_generations`: one row per generation with its tolerance,
    /// simulation counts, acceptance rate and effective sample size.
    pub fn generations_table(&self) -> Table {
        let g = &self.generations;
        Table::new("abc_generations")
            .with_i64("generation", g.iter().map(|g| g.generation as i64))
            .with_f64("epsilon", g.iter().map(|g| g.epsilon))
            .with_i64("simulated", g.iter().map(|g| g.simulated as i64))
            .with_i64("failed", g.iter().map(|g| g.failed as i64))
            .with_i64("outside_prior", g.iter().map(|g| g.outside_prior as i64))
            .with_i64("accepted", g.iter().map(|g| g.particles.len() as i64))
            .with_f64(
                "acceptance_rate",
                g.iter().map(AbcGeneration::acceptance_rate),
            )
            .with_f64("ess", g.iter().map(|g| g.ess))
    }

    /// Every table of the result: particles, generations, posterior summary.
    pub fn tables(&self) -> Vec<Table> {
        vec![
            self.particles_table(),
            self.generations_table(),
            summary_table(&self.summary()),
        ]
    }
}

/// Euclidean distance between standardised summaries.
pub fn distance(sim: &[f64], observed: &[f64], scales: &[f64]) -> f64 {
    sim.iter()
        .zip(observed)
        .zip(scales)
        .map(|((s, o), c)| ((s - o) / c).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The perturbation kernel: the previous population's points whitened by
/// the kernel's Cholesky factor, so that log K(z | z_j) = −½ |L⁻¹z − y_j|²
/// up to a constant shared by all j.
struct Kernel {
    l: DMatrix<f64>,
    whitened: Vec<DVector<f64>>,
    log_w: Vec<f64>,
}

impl Kernel {
    fn new(zs: &[Vec<f64>], weights: &[f64], scale: f64) -> Result<Kernel, CalibrateError> {
        let (_, cov) = weighted_mean_cov(zs, weights);
        let l = robust_cholesky(&(cov * scale)).ok_or_else(|| {
            CalibrateError::NoUsableRuns("the population covariance is not finite".into())
        })?;
        let whitened = zs.iter().map(|z| whiten(&l, z)).collect();
        Ok(Kernel {
            l,
            whitened,
            log_w: weights.iter().map(|w| w.ln()).collect(),
        })
    }

    /// log Σ_j w_j K(z | z_j), up to the shared constant.
    fn log_mixture(&self, z: &[f64]) -> f64 {
        let y = whiten(&self.l, z);
        let terms: Vec<f64> = self
            .whitened
            .iter()
            .zip(&self.log_w)
            .map(|(yj, lw)| {
                lw - 0.5
                    * y.iter()
                        .zip(yj.iter())
                        .map(|(a, b)| (a - b).powi(2))
                        .sum::<f64>()
            })
            .collect();
        let m = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
    }
}

fn whiten(l: &DMatrix<f64>, z: &[f64]) -> DVector<f64> {
    let v = DVector::from_column_slice(z);
    l.solve_lower_triangular(&v).unwrap_or(v)
}

/// What one generation needs from the previous one.
struct Previous {
    zs: Vec<Vec<f64>>,
    cumulative: Vec<f64>,
    kernel: Kernel,
}

/// Runs ABC-SMC. `observed` are the observed summaries and `scales` their
/// standardising scales (observation sd's), one per summary; the simulator
/// must return summaries in the same order.
pub fn run_abc_smc(
    block: &ParamBlock,
    sim: &mut dyn BatchSimulator,
    observed: &[f64],
    scales: &[f64],
    cfg: &AbcConfig,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<AbcResult, CalibrateError> {
    cfg.validate()?;
    let space = PriorSpace::new(block)?;
    if observed.is_empty() {
        return Err(CalibrateError::Dimension {
            what: "observed summaries".into(),
            expected: 1,
            got: 0,
        });
    }
    check_scales("scales", scales, observed.len())?;
    let mut result = AbcResult {
        prior: block.clone(),
        names: block.params.iter().map(|p| p.name.clone()).collect(),
        varying: space.varying().to_vec(),
        generations: Vec::new(),
        stop: AbcStop::MaxGenerations,
        simulations: 0,
    };
    let mut previous: Option<Previous> = None;
    loop {
        let t = result.generations.len();
        let epsilon = match &result.generations.last() {
            None => f64::INFINITY,
            Some(g) => {
                weighted_quantile(&g.distances, &g.weights, cfg.alpha).max(cfg.final_epsilon)
            }
        };
        let generation = match run_generation(
            &space,
            sim,
            observed,
            scales,
            cfg,
            t,
            epsilon,
            previous.as_ref(),
            &mut result.simulations,
            progress,
        )? {
            Some(g) => g,
            None if result.generations.is_empty() => {
                return Err(CalibrateError::NoUsableRuns(format!(
                    "the simulation budget ({}) ran out before generation 0 filled a population of {}",
                    cfg.max_simulations, cfg.population
                )));
            }
            None => {
                result.stop = AbcStop::SimulationBudget;
                return Ok(result);
            }
        };
        progress(ProgressEvent::AbcGeneration {
            generation: t,
            epsilon,
            simulated_total: result.simulations,
            acceptance_rate: generation.acceptance_rate(),
            ess: generation.ess,
        });
        let zs: Vec<Vec<f64>> = generation
            .particles
            .iter()
            .map(|p| space.from_full(p))
            .collect();
        let kernel = Kernel::new(&zs, &generation.weights, cfg.kernel_scale)?;
        previous = Some(Previous {
            cumulative: cumulative(&generation.weights),
            zs,
            kernel,
        });
        let rate = generation.acceptance_rate();
        result.generations.push(generation);
        let stop = if cfg.final_epsilon > 0.0 && epsilon <= cfg.final_epsilon {
            Some(AbcStop::FinalEpsilon)
        } else if result.generations.len() >= cfg.max_generations {
            Some(AbcStop::MaxGenerations)
        } else if t > 0 && rate < cfg.min_acceptance_rate {
            Some(AbcStop::LowAcceptance)
        } else if result.simulations >= cfg.max_simulations {
            Some(AbcStop::SimulationBudget)
        } else {
            None
        };
        if let Some(stop) = stop {
            result.stop = stop;
            return Ok(result);
        }
    }
}

/// Fills one population; `None` when the simulation budget runs out first.
#[allow(clippy::too_many_arguments)]
fn run_generation(
    space: &PriorSpace,
    sim: &mut dyn BatchSimulator,
    observed: &[f64],
    scales: &[f64],
    cfg: &AbcConfig,
    t: usize,
    epsilon: f64,
    previous: Option<&Previous>,
    simulations: &mut usize,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<Option<AbcGeneration>, CalibrateError> {
    let n = cfg.population;
    let mut g = AbcGeneration {
        generation: t,
        epsilon,
        particles: Vec::with_capacity(n),
        weights: Vec::new(),
        distances: Vec::with_capacity(n),
        simulated: 0,
        failed: 0,
        outside_prior: 0,
        ess: 0.0,
    };
    let mut log_weights = Vec::with_capacity(n);
    let mut batch = 0u32;
    while g.particles.len() < n {
        if *simulations >= cfg.max_simulations {
            return Ok(None);
        }
        let m = cfg
            .effective_batch()
            .min(cfg.max_simulations - *simulations);
        let mut rng = keyed(cfg.seed, [t as u32, batch, 0]);
        let mut thetas = Vec::with_capacity(m);
        let mut zs = Vec::with_capacity(m);
        while thetas.len() < m {
            let z = match previous {
                None => space.from_full(&space.sample_full(&mut rng)),
                Some(p) => {
                    let j = pick_by_cumulative(&p.cumulative, rng.uniform());
                    let e = DVector::from_iterator(
                        space.dims(),
                        (0..space.dims()).map(|_| rng.normal()),
                    );
                    let step = &p.kernel.l * e;
                    p.zs[j]
                        .iter()
                        .zip(step.iter())
                        .map(|(a, b)| a + b)
                        .collect()
                }
            };
            if space.log_density(&z) == f64::NEG_INFINITY {
                g.outside_prior += 1;
                if g.outside_prior > MAX_OUTSIDE_PER_SLOT * m.max(n) {
                    return Err(CalibrateError::NoUsableRuns(format!(
                        "generation {t}: {} proposals in a row fell outside the prior's support",
                        g.outside_prior
                    )));
                }
                continue;
            }
            thetas.push(space.to_full(&z));
            zs.push(z);
        }
        let sims = simulate_checked(
            sim,
            &thetas,
            sub_seed(cfg.seed, [t as u32, batch, 1]),
            observed.len(),
        )?;
        *simulations += m;
        g.simulated += m;
        for ((theta, z), s) in thetas.into_iter().zip(zs).zip(sims) {
            let Some(s) = s else {
                g.failed += 1;
                continue;
            };
            let d = distance(&s, observed, scales);
            if d <= epsilon && g.particles.len() < n {
                log_weights.push(match previous {
                    None => 0.0,
                    Some(p) => space.log_density(&z) - p.kernel.log_mixture(&z),
                });
                g.particles.push(theta);
                g.distances.push(d);
            }
        }
        progress(ProgressEvent::AbcBatch {
            generation: t,
            batch: batch as usize,
            simulated_total: *simulations,
            accepted: g.particles.len(),
        });
        batch += 1;
    }
    g.weights = normalise_log(&log_weights).ok_or_else(|| {
        CalibrateError::NoUsableRuns(format!("generation {t}: every importance weight is zero"))
    })?;
    g.ess = ess(&g.weights);
    Ok(Some(g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Distribution;

    /// A deterministic simulator: the summary is the parameter itself.
    struct Identity;
    impl BatchSimulator for Identity {
        fn simulate(
            &mut self,
            thetas: &[Vec<f64>],
            _seed: u64,
        ) -> Result<Vec<Option<Vec<f64>>>, anyhow::Error> {
            Ok(thetas
                .iter()
                .map(|t| (t[0] < 0.9).then(|| vec![t[0]]))
                .collect())
        }
    }

    fn block() -> ParamBlock {
        ParamBlock::from_pairs([(
            "x".into(),
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
        )])
    }

    #[test]
    fn tolerances_shrink_and_failures_are_never_accepted() {
        let cfg = AbcConfig {
            population: 200,
            max_generations: 4,
            seed: 3,
            ..AbcConfig::default()
        };
        let mut events = 0;
        let r = run_abc_smc(&block(), &mut Identity, &[0.5], &[1.0], &cfg, &mut |_| {
            events += 1
        })
        .unwrap();
        assert_eq!(r.stop, AbcStop::MaxGenerations);
        assert_eq!(r.generations.len(), 4);
        assert!(events >= 8);
        for w in r.generations.windows(2) {
            assert!(w[1].epsilon < w[0].epsilon);
            assert!(w[1].distances.iter().all(|d| *d <= w[1].epsilon));
        }
        // Members at x ≥ 0.9 fail: about 10 % of generation 0's simulations.
        let g0 = &r.generations[0];
        assert!(g0.failed > 0 && g0.particles.iter().all(|p| p[0] < 0.9));
        let total: f64 = r.last().weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(r.particles_table().rows(), 800);
        assert_eq!(r.generations_table().rows(), 4);
    }

    #[test]
    fn the_budget_and_final_tolerance_stop_the_loop() {
        let cfg = AbcConfig {
            population: 100,
            max_simulations: 700,
            max_generations: 50,
            ..AbcConfig::default()
        };
        let r = run_abc_smc(&block(), &mut Identity, &[0.5], &[1.0], &cfg, &mut |_| {}).unwrap();
        assert_eq!(r.stop, AbcStop::SimulationBudget);
        assert!(r.simulations <= 700);
        let cfg = AbcConfig {
            population: 100,
            final_epsilon: 0.05,
            max_generations: 50,
            ..AbcConfig::default()
        };
        let r = run_abc_smc(&block(), &mut Identity, &[0.5], &[1.0], &cfg, &mut |_| {}).unwrap();
        assert_eq!(r.stop, AbcStop::FinalEpsilon);
        assert_eq!(r.last().epsilon, 0.05);
        let e =
            run_abc_smc(&block(), &mut Identity, &[0.5], &[0.0], &cfg, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("scales[0] = 0"), "{e}");
    }

    #[test]
    fn runs_are_reproducible_per_seed() {
        let cfg = AbcConfig {
            population: 50,
            max_generations: 3,
            seed: 9,
            ..AbcConfig::default()
        };
        let a = run_abc_smc(&block(), &mut Identity, &[0.5], &[1.0], &cfg, &mut |_| {}).unwrap();
        let b = run_abc_smc(&block(), &mut Identity, &[0.5], &[1.0], &cfg, &mut |_| {}).unwrap();
        assert_eq!(a.last(), b.last());
    }
}
