//! Likelihood-tempered sequential Monte Carlo (Chopin 2002; Del Moral,
//! Doucet & Jasra 2006): a population of N particles moves from the prior
//! (β = 0) to the posterior (β = 1) through the tempered targets
//! π(θ) p(y | θ)^β, with the observation-error model of
//! [`super::likelihood`] as p(y | θ).
//!
//! Stage 0 samples the prior and simulates it as one ensemble. Each stage
//! then (1) picks the next β by bisection so that the incremental weights
//! exp((β − β_prev) ℓ) leave an effective sample size of `ess_fraction`·N
//! (Jasra et al. 2011's adaptive schedule), (2) multiplies the evidence
//! estimate by their mean, (3) resamples systematically (Kitagawa 1996) and
//! (4) applies `moves` random-walk Metropolis steps whose Gaussian proposal
//! has `proposal_scale` × 2.38²/d × the population's covariance (Roberts,
//! Gelman & Gilks 1997), each step one ensemble run of every proposal
//! inside the prior's support. The scale is halved after a stage whose
//! acceptance rate fell below 15 % and doubled above 50 %. The run ends
//! after the stage that reaches β = 1.
//!
//! log Z = Σ_stages ln mean_j exp(Δβ ℓ_j) estimates the log evidence
//! ln p(y) (the product of the stages' mean incremental weights is an
//! unbiased estimate of Z, Del Moral 2004). Its standard error is estimated
//! as √Σ_stages var(incremental weights)/(N mean²), which leaves out the
//! dependence that resampling introduces (an approximation, see Chopin
//! 2004 for the exact asymptotic variance).
//!
//! Particles move in `PriorSpace` coordinates (log scale for log-uniform
//! and log-normal priors); a failed simulation has likelihood 0. Every draw
//! is keyed by (seed, stage, move, purpose) on Philox streams, so a seed
//! gives the same particles whatever the engine's batch size.
//!
//! Owns: the sampler and its tables. Never touches files; sees the model
//! only through [`Summaries`].

use super::likelihood::Likelihood;
use super::posterior::Posterior;
use super::prior::PriorSpace;
use super::sampling::{ess, keyed, normalise_log, robust_cholesky, sub_seed, weighted_mean_cov};
use super::summary::{ParamSummary, summarise, summary_table};
use super::{CalibrateError, ProgressEvent, Summaries, TemperedConfig, simulate_checked};
use crate::input::params::ParamBlock;
use crate::output::table::Table;
use nalgebra::DVector;

/// The effective sample size of normalised weights `w` reweighted by
/// exp(d ℓ) (a particle with ℓ = −∞ gets weight 0 for d > 0).
fn ess_after(ll: &[f64], w: &[f64], d: f64) -> f64 {
    let logw: Vec<f64> = ll
        .iter()
        .zip(w)
        .map(|(l, w)| {
            if *w <= 0.0 || (*l == f64::NEG_INFINITY && d > 0.0) {
                f64::NEG_INFINITY
            } else {
                w.ln() + d * l
            }
        })
        .collect();
    normalise_log(&logw).map_or(0.0, |w| ess(&w))
}

/// The next tempering exponent: the largest β in (beta_prev, beta_max]
/// whose reweighting exp((β − beta_prev) ℓ) keeps the ESS at or above
/// `target`, found by bisection (beta_max when even it keeps the ESS).
pub(crate) fn next_beta(ll: &[f64], w: &[f64], beta_prev: f64, beta_max: f64, target: f64) -> f64 {
    if beta_prev >= beta_max || ess_after(ll, w, beta_max - beta_prev) >= target {
        return beta_max;
    }
    let (mut lo, mut hi) = (beta_prev, beta_max);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if ess_after(ll, w, mid - beta_prev) >= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Always move forward, however little.
    if lo > beta_prev { lo } else { hi }
}

/// One temperature step.
#[derive(Clone, Debug, PartialEq)]
pub struct TemperedStage {
    pub stage: usize,
    pub beta: f64,
    /// ESS of the reweighted population before resampling.
    pub ess: f64,
    /// ln of the mean incremental weight (0 for stage 0).
    pub log_evidence_increment: f64,
    /// Metropolis acceptance rate over the stage's moves (NaN for stage 0).
    pub acceptance_rate: f64,
    /// The random-walk scale factor used.
    pub proposal_scale: f64,
    /// Members simulated in this stage.
    pub simulated: usize,
}

/// Why the sampler stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemperedStop {
    /// β reached 1: the population is a posterior sample.
    Complete,
    MaxStages,
    SimulationBudget,
}

impl TemperedStop {
    pub fn name(self) -> &'static str {
        match self {
            TemperedStop::Complete => "complete",
            TemperedStop::MaxStages => "max_stages",
            TemperedStop::SimulationBudget => "simulation_budget",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TemperedResult {
    pub prior: ParamBlock,
    pub names: Vec<String>,
    pub varying: Vec<usize>,
    /// The final population (full parameter vectors), equally weighted.
    pub particles: Vec<Vec<f64>>,
    pub log_likelihoods: Vec<f64>,
    pub stages: Vec<TemperedStage>,
    /// ln Z(β) at the last β reached.
    pub log_evidence: f64,
    pub log_evidence_se: f64,
    pub stop: TemperedStop,
    pub simulations: usize,
}

impl TemperedResult {
    /// The last β reached (1 when complete).
    pub fn beta(&self) -> f64 {
        self.stages.last().map_or(0.0, |s| s.beta)
    }

    fn weights(&self) -> Vec<f64> {
        vec![1.0 / self.particles.len() as f64; self.particles.len()]
    }

    pub fn summary(&self) -> Vec<ParamSummary> {
        let names: Vec<String> = self
            .varying
            .iter()
            .map(|&i| self.names[i].clone())
            .collect();
        let cols: Vec<Vec<f64>> = self
            .particles
            .iter()
            .map(|p| self.varying.iter().map(|&i| p[i]).collect())
            .collect();
        summarise(&names, &cols, &self.weights())
    }

    pub fn posterior(&self) -> Result<Posterior, CalibrateError> {
        Posterior::from_weighted(
            "tempered-smc",
            &self.prior,
            self.particles.clone(),
            self.weights(),
        )
    }

    /// `smc_particles`: particle, weight, log_likelihood, one column per
    /// parameter (the final population).
    pub fn particles_table(&self) -> Table {
        let n = self.particles.len();
        let w = self.weights();
        let mut t = Table::new("smc_particles")
            .with_i64("particle", (0..n).map(|i| i as i64))
            .with_f64("weight", w.iter().copied())
            .with_f64("log_likelihood", self.log_likelihoods.iter().copied());
        for (k, name) in self.names.iter().enumerate() {
            t = t.with_f64(name, self.particles.iter().map(|p| p[k]));
        }
        t
    }

    /// `smc_stages`: one row per temperature step.
    pub fn stages_table(&self) -> Table {
        let s = &self.stages;
        Table::new("smc_stages")
            .with_i64("stage", s.iter().map(|s| s.stage as i64))
            .with_f64("beta", s.iter().map(|s| s.beta))
            .with_f64("ess", s.iter().map(|s| s.ess))
            .with_f64(
                "log_evidence_increment",
                s.iter().map(|s| s.log_evidence_increment),
            )
            .with_f64("acceptance_rate", s.iter().map(|s| s.acceptance_rate))
            .with_f64("proposal_scale", s.iter().map(|s| s.proposal_scale))
            .with_i64("simulated", s.iter().map(|s| s.simulated as i64))
    }

    pub fn tables(&self) -> Vec<Table> {
        vec![
            self.particles_table(),
            self.stages_table(),
            summary_table(&self.summary()),
        ]
    }
}

/// Simulates the rows of `zs` flagged in `run` as one batch and returns
/// ℓ per row (−∞ for rows not run or failed).
fn log_likelihoods(
    space: &PriorSpace,
    sim: &mut Summaries<'_>,
    lik: &Likelihood,
    zs: &[Vec<f64>],
    run: &[bool],
    seed: u64,
    simulations: &mut usize,
) -> Result<Vec<f64>, CalibrateError> {
    let thetas: Vec<Vec<f64>> = zs
        .iter()
        .zip(run)
        .filter(|(_, r)| **r)
        .map(|(z, _)| space.to_full(z))
        .collect();
    let mut out = vec![f64::NEG_INFINITY; zs.len()];
    if thetas.is_empty() {
        return Ok(out);
    }
    let sims = simulate_checked(sim, &thetas, seed, lik.rows())?;
    *simulations += thetas.len();
    let mut it = thetas.iter().zip(sims);
    for (slot, _) in out.iter_mut().zip(run).filter(|(_, r)| **r) {
        if let Some((theta, Some(s))) = it.next() {
            *slot = lik.log_likelihood(theta, &s);
        }
    }
    Ok(out)
}

/// Runs the tempered SMC sampler.
pub fn run_tempered_smc(
    block: &ParamBlock,
    sim: &mut Summaries<'_>,
    lik: &Likelihood,
    cfg: &TemperedConfig,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<TemperedResult, CalibrateError> {
    cfg.validate()?;
    let space = PriorSpace::new(block)?;
    let n = cfg.population;
    let d = space.dims();
    let mut simulations = 0usize;
    let mut rng = keyed(cfg.seed, [0, 0, 0]);
    let mut zs: Vec<Vec<f64>> = (0..n)
        .map(|_| space.from_full(&space.sample_full(&mut rng)))
        .collect();
    let mut ll = log_likelihoods(
        &space,
        sim,
        lik,
        &zs,
        &vec![true; n],
        sub_seed(cfg.seed, [0, 0, 1]),
        &mut simulations,
    )?;
    if ll.iter().all(|l| *l == f64::NEG_INFINITY) {
        return Err(CalibrateError::NoUsableRuns(format!(
            "none of the {n} prior draws gave the data a positive likelihood (all failed or impossible)"
        )));
    }
    let mut stages = vec![TemperedStage {
        stage: 0,
        beta: 0.0,
        ess: n as f64,
        log_evidence_increment: 0.0,
        acceptance_rate: f64::NAN,
        proposal_scale: cfg.proposal_scale,
        simulated: n,
    }];
    progress(ProgressEvent::SmcStage {
        stage: 0,
        beta: 0.0,
        simulated_total: simulations,
        acceptance_rate: f64::NAN,
        ess: n as f64,
    });
    let mut beta = 0.0;
    let mut log_z = 0.0;
    let mut var_log_z = 0.0;
    let mut scale = cfg.proposal_scale;
    let uniform_w = vec![1.0 / n as f64; n];
    let stop = loop {
        if beta >= 1.0 {
            break TemperedStop::Complete;
        }
        if stages.len() > cfg.max_stages {
            break TemperedStop::MaxStages;
        }
        if simulations + n > cfg.max_simulations {
            break TemperedStop::SimulationBudget;
        }
        let s = stages.len();
        let new_beta = next_beta(&ll, &uniform_w, beta, 1.0, cfg.ess_fraction * n as f64);
        let db = new_beta - beta;
        let inc: Vec<f64> = ll
            .iter()
            .map(|l| {
                if *l == f64::NEG_INFINITY {
                    f64::NEG_INFINITY
                } else {
                    db * l
                }
            })
            .collect();
        let m = inc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let a: Vec<f64> = inc.iter().map(|x| (x - m).exp()).collect();
        let mean_a = a.iter().sum::<f64>() / n as f64;
        let var_a = a.iter().map(|x| (x - mean_a).powi(2)).sum::<f64>() / n as f64;
        log_z += m + mean_a.ln();
        var_log_z += var_a / (n as f64 * mean_a * mean_a);
        let w: Vec<f64> = a.iter().map(|x| x / (mean_a * n as f64)).collect();
        let stage_ess = ess(&w);
        beta = new_beta;
        // Systematic resampling.
        let u0 = keyed(cfg.seed, [s as u32, 0, 0]).uniform() / n as f64;
        let mut picked = Vec::with_capacity(n);
        let mut acc = 0.0;
        let mut j = 0;
        for i in 0..n {
            let u = u0 + i as f64 / n as f64;
            while j + 1 < n && acc + w[j] < u {
                acc += w[j];
                j += 1;
            }
            picked.push(j);
        }
        zs = picked.iter().map(|&j| zs[j].clone()).collect();
        ll = picked.iter().map(|&j| ll[j]).collect();
        let mut lp: Vec<f64> = zs.iter().map(|z| space.log_density(z)).collect();
        // Random-walk Metropolis moves.
        let (_, cov) = weighted_mean_cov(&zs, &uniform_w);
        let factor = scale * 2.38 * 2.38 / d as f64;
        let l = robust_cholesky(&(cov * factor)).ok_or_else(|| {
            CalibrateError::NoUsableRuns("the population covariance is not finite".into())
        })?;
        let mut accepted = 0usize;
        let before = simulations;
        for mv in 0..cfg.moves {
            let mut rng = keyed(cfg.seed, [s as u32, mv as u32 + 1, 0]);
            let props: Vec<Vec<f64>> = zs
                .iter()
                .map(|z| {
                    let e = DVector::from_iterator(d, (0..d).map(|_| rng.normal()));
                    let step = &l * e;
                    z.iter().zip(step.iter()).map(|(a, b)| a + b).collect()
                })
                .collect();
            let lp_new: Vec<f64> = props.iter().map(|z| space.log_density(z)).collect();
            let inside: Vec<bool> = lp_new.iter().map(|l| *l > f64::NEG_INFINITY).collect();
            let ll_new = log_likelihoods(
                &space,
                sim,
                lik,
                &props,
                &inside,
                sub_seed(cfg.seed, [s as u32, mv as u32 + 1, 1]),
                &mut simulations,
            )?;
            let mut urng = keyed(cfg.seed, [s as u32, mv as u32 + 1, 2]);
            for i in 0..n {
                let u = urng.uniform();
                if ll_new[i] == f64::NEG_INFINITY {
                    continue;
                }
                let log_ratio = lp_new[i] + beta * ll_new[i] - lp[i] - beta * ll[i];
                if ll[i] == f64::NEG_INFINITY || u.ln() < log_ratio {
                    zs[i] = props[i].clone();
                    ll[i] = ll_new[i];
                    lp[i] = lp_new[i];
                    accepted += 1;
                }
            }
        }
        let rate = accepted as f64 / (n * cfg.moves) as f64;
        stages.push(TemperedStage {
            stage: s,
            beta,
            ess: stage_ess,
            log_evidence_increment: m + mean_a.ln(),
            acceptance_rate: rate,
            proposal_scale: scale,
            simulated: simulations - before,
        });
        progress(ProgressEvent::SmcStage {
            stage: s,
            beta,
            simulated_total: simulations,
            acceptance_rate: rate,
            ess: stage_ess,
        });
        if rate < 0.15 {
            scale *= 0.5;
        } else if rate > 0.5 {
            scale *= 2.0;
        }
    };
    Ok(TemperedResult {
        prior: block.clone(),
        names: block.params.iter().map(|p| p.name.clone()).collect(),
        varying: space.varying().to_vec(),
        particles: zs.iter().map(|z| space.to_full(z)).collect(),
        log_likelihoods: ll,
        stages,
        log_evidence: log_z,
        log_evidence_se: var_log_z.sqrt(),
        stop,
        simulations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Distribution;

    /// f(x) = x, no noise: with Gaussian errors the likelihood is exact.
    fn identity() -> crate::engine::PerRow<impl FnMut(&[f64]) -> Option<Vec<f64>>> {
        crate::engine::PerRow(|t: &[f64]| Some(vec![t[0]]))
    }

    /// Prior N(0, 1), y = 2 observed with sd 0.5: the posterior is
    /// N(1.6, 0.2) and the evidence N(2; 0, 1.25), ln Z = −2.3235.
    /// Tolerances: 4 Monte Carlo standard errors at N = 2000 for the mean
    /// (0.447/√2000·4 ≈ 0.04) and ±10 % for the sd; ln Z within 0.1.
    #[test]
    fn gaussian_toy_posterior_and_evidence() {
        let block =
            ParamBlock::from_pairs([("x".into(), Distribution::Normal { mean: 0.0, sd: 1.0 })]);
        let lik = Likelihood::gaussian(&[2.0], &[0.5]).unwrap();
        let cfg = TemperedConfig {
            population: 2000,
            seed: 11,
            ..TemperedConfig::default()
        };
        let r = run_tempered_smc(
            &block,
            &mut Summaries::last(&mut identity()),
            &lik,
            &cfg,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(r.stop, TemperedStop::Complete);
        assert_eq!(r.beta(), 1.0);
        let s = &r.summary()[0];
        assert!((s.mean - 1.6).abs() < 0.04, "{}", s.mean);
        assert!((s.sd / 0.2f64.sqrt() - 1.0).abs() < 0.1, "{}", s.sd);
        let exact = -0.5 * 4.0 / 1.25 - 0.5 * (std::f64::consts::TAU * 1.25).ln();
        assert!(
            (r.log_evidence - exact).abs() < 0.1,
            "{} {exact}",
            r.log_evidence
        );
        assert!(r.log_evidence_se > 0.0 && r.log_evidence_se < 0.1);
        let again = run_tempered_smc(
            &block,
            &mut Summaries::last(&mut identity()),
            &lik,
            &cfg,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(again.particles, r.particles);
    }

    #[test]
    fn next_beta_keeps_the_target_ess() {
        let ll: Vec<f64> = (0..100).map(|i| -(i as f64)).collect();
        let w = vec![0.01; 100];
        let b = next_beta(&ll, &w, 0.0, 1.0, 50.0);
        assert!(b > 0.0 && b < 1.0);
        assert!((ess_after(&ll, &w, b) - 50.0).abs() < 1e-6);
        assert_eq!(next_beta(&vec![0.0; 100], &w, 0.0, 1.0, 50.0), 1.0);
    }
}
