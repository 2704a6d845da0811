//! History matching in waves (Craig et al. 1997; Vernon et al. 2010).
//!
//! Points live in the unit cube of the varying parameters, mapped to
//! values by `ParamBlock::map_unit` (so a uniform point of the cube is a
//! prior draw and "fraction of space" means prior probability). Wave 1 runs
//! a Latin hypercube; wave w > 1 runs a maximin subset of the current
//! non-implausible sample. Each wave fits one Gaussian-process emulator per
//! output to its runs (plus earlier runs still non-implausible). Emulators
//! see a point's parameters on their natural (log for log-uniform and
//! log-normal) scale rescaled to the prior's range (`PriorSpace::scaled`),
//! where a model is smoother than on the probability scale of the cube (a
//! normal prior's tails are infinitely steep there). A wave rules out
//! every point with implausibility
//! I(x) = max_k |E[f_k(x)] − z_k| / √(Var_em,k(x) + Var_obs,k + Var_disc,k)
//! above the cutoff (3), or the second-largest term with `second_max`.
//! Var_em includes the emulator's nugget (the simulator's own scatter). A
//! point is non-implausible when every wave so far keeps it.
//!
//! The fraction ruled out is estimated on one fixed Monte Carlo sample of
//! the cube; its survivors are uniform draws from the non-implausible set
//! and seed the next wave's sample, topped up where few by a random-walk
//! Metropolis chain whose target is uniform on the set.
//!
//! A varying `choice` parameter is refused (as in ABC-SMC). Waves after
//! the first run at most `nroy_samples` points.
//!
//! Owns: the wave loop, implausibility and the wave reports. Never touches
//! files and sees the model only through [`Summaries`].

use super::gp::{Gp, LooDiagnostic};
use super::posterior::Posterior;
use super::prior::PriorSpace;
use super::sampling::{index_below, keyed, latin_hypercube, sub_seed, weighted_mean_cov};
use super::{CalibrateError, HmConfig, ProgressEvent, Summaries, check_scales, simulate_checked};
use crate::core::rng::KeyedStream;
use crate::input::params::ParamBlock;
use crate::output::table::{Table, Values};

/// Random-walk steps per topped-up non-implausible sample.
const MCMC_STEPS: usize = 25;

/// The targets a run is matched to.
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    pub observed: Vec<f64>,
    pub obs_var: Vec<f64>,
    pub disc_var: Vec<f64>,
}

/// One wave: its runs, emulators and how much space is left.
#[derive(Clone, Debug)]
pub struct WaveReport {
    /// 1-based wave number.
    pub wave: usize,
    /// Design points (unit cube) and their full parameter vectors.
    pub design: Vec<Vec<f64>>,
    pub thetas: Vec<Vec<f64>>,
    /// Simulated outputs (None for a failed member).
    pub outputs: Vec<Option<Vec<f64>>>,
    /// Runs the emulators were trained on (this wave's and earlier ones
    /// still non-implausible).
    pub training_runs: usize,
    /// One emulator and LOO diagnostic per output.
    pub emulators: Vec<Gp>,
    pub loo: Vec<LooDiagnostic>,
    /// Fraction of the original (prior) space ruled out after this wave.
    pub fraction_ruled_out: f64,
}

impl WaveReport {
    pub fn failed(&self) -> usize {
        self.outputs.iter().filter(|o| o.is_none()).count()
    }
}

/// The waves and the final non-implausible sample.
#[derive(Clone, Debug)]
pub struct HmResult {
    pub prior: ParamBlock,
    /// The emulators' input coordinates.
    pub space: PriorSpace,
    pub names: Vec<String>,
    pub varying: Vec<usize>,
    /// Output names for the tables (`y0`, `y1`, … unless the caller sets
    /// them).
    pub output_names: Vec<String>,
    pub targets: Targets,
    pub cutoff: f64,
    pub second_max: bool,
    pub waves: Vec<WaveReport>,
    /// The final non-implausible sample in the unit cube and as full
    /// parameter vectors.
    pub nroy_unit: Vec<Vec<f64>>,
    pub nroy: Vec<Vec<f64>>,
}

/// Implausibility of one wave's emulators at emulator input `x`.
fn wave_implausibility(emulators: &[Gp], t: &Targets, second_max: bool, x: &[f64]) -> f64 {
    let mut terms: Vec<f64> = emulators
        .iter()
        .enumerate()
        .map(|(k, gp)| {
            let (m, v) = gp.predict(x);
            (m - t.observed[k]).abs()
                / (v + gp.nugget_variance() + t.obs_var[k] + t.disc_var[k]).sqrt()
        })
        .collect();
    terms.sort_by(|a, b| b.total_cmp(a));
    if second_max && terms.len() > 1 {
        terms[1]
    } else {
        terms[0]
    }
}

/// Whether emulator input `x` survives every wave in `waves`.
fn survives(waves: &[Vec<Gp>], t: &Targets, cutoff: f64, second_max: bool, x: &[f64]) -> bool {
    waves
        .iter()
        .all(|w| wave_implausibility(w, t, second_max, x) <= cutoff)
}

impl HmResult {
    /// The implausibility of a unit-cube point: the largest over waves.
    pub fn implausibility(&self, u: &[f64]) -> f64 {
        let x = self.space.scaled(&self.prior.map_unit(u));
        self.waves
            .iter()
            .map(|w| wave_implausibility(&w.emulators, &self.targets, self.second_max, &x))
            .fold(0.0, f64::max)
    }

    /// Whether a unit-cube point is non-implausible after every wave.
    pub fn is_non_implausible(&self, u: &[f64]) -> bool {
        self.implausibility(u) <= self.cutoff
    }

    /// The final non-implausible sample as an equally weighted posterior.
    pub fn posterior(&self) -> Result<Posterior, CalibrateError> {
        let w = vec![1.0; self.nroy.len()];
        Posterior::from_weighted("history-matching", &self.prior, self.nroy.clone(), w)
    }

    /// `hm_waves`: wave, runs, failed, training runs, fraction ruled out.
    pub fn waves_table(&self) -> Table {
        let w = &self.waves;
        Table::new("hm_waves")
            .with_i64("wave", w.iter().map(|w| w.wave as i64))
            .with_i64("runs", w.iter().map(|w| w.design.len() as i64))
            .with_i64("failed", w.iter().map(|w| w.failed() as i64))
            .with_i64("training_runs", w.iter().map(|w| w.training_runs as i64))
            .with_f64("fraction_ruled_out", w.iter().map(|w| w.fraction_ruled_out))
    }

    /// `hm_emulators`: per wave and output the hyper-parameters and the LOO
    /// diagnostic.
    pub fn emulators_table(&self) -> Table {
        let rows: Vec<(usize, usize)> = self
            .waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| (0..w.emulators.len()).map(move |k| (i, k)))
            .collect();
        let gp = |&(i, k): &(usize, usize)| &self.waves[i].emulators[k];
        let loo = |&(i, k): &(usize, usize)| &self.waves[i].loo[k];
        let mut t = Table::new("hm_emulators")
            .with_i64("wave", rows.iter().map(|(i, _)| self.waves[*i].wave as i64))
            .with_str(
                "output",
                rows.iter().map(|(_, k)| self.output_names[*k].clone()),
            )
            .with_f64("mean", rows.iter().map(|r| gp(r).mean()))
            .with_f64(
                "signal_variance",
                rows.iter().map(|r| gp(r).signal_variance()),
            )
            .with_f64(
                "nugget_variance",
                rows.iter().map(|r| gp(r).nugget_variance()),
            );
        for (j, &p) in self.varying.iter().enumerate() {
            t = t.with_f64(
                &format!("lengthscale_{}", self.names[p]),
                rows.iter().map(|r| gp(r).lengthscales()[j]),
            );
        }
        t.with_f64("loo_within_2", rows.iter().map(|r| loo(r).within_2))
            .with_f64("loo_within_3", rows.iter().map(|r| loo(r).within_3))
            .with_f64("loo_rmse", rows.iter().map(|r| loo(r).rmse))
            .with_bool("loo_passes", rows.iter().map(|r| loo(r).passes()))
    }

    /// `hm_runs`: every simulator run with its parameters and outputs
    /// (null outputs for failed members).
    pub fn runs_table(&self) -> Table {
        let rows: Vec<(usize, usize)> = self
            .waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| (0..w.design.len()).map(move |r| (i, r)))
            .collect();
        let mut t = Table::new("hm_runs")
            .with_i64("wave", rows.iter().map(|(i, _)| self.waves[*i].wave as i64))
            .with_i64("run", rows.iter().map(|(_, r)| *r as i64));
        for (p, name) in self.names.iter().enumerate() {
            t = t.with_f64(name, rows.iter().map(|&(i, r)| self.waves[i].thetas[r][p]));
        }
        for (k, name) in self.output_names.iter().enumerate() {
            let v = rows
                .iter()
                .map(|&(i, r)| self.waves[i].outputs[r].as_ref().map(|o| o[k]))
                .collect();
            t.push_column(name.clone(), Values::F64(v));
        }
        t
    }

    pub fn tables(&self) -> Vec<Table> {
        vec![
            self.waves_table(),
            self.emulators_table(),
            self.runs_table(),
        ]
    }
}

/// Greedy maximin: `k` points of `pool`, each farthest from those taken.
fn maximin_subset(pool: &[Vec<f64>], k: usize) -> Vec<Vec<f64>> {
    if pool.len() <= k {
        return pool.to_vec();
    }
    let d2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let mut nearest = vec![f64::INFINITY; pool.len()];
    let mut chosen = Vec::with_capacity(k);
    let mut next = 0;
    for _ in 0..k {
        chosen.push(pool[next].clone());
        for (i, p) in pool.iter().enumerate() {
            nearest[i] = nearest[i].min(d2(p, &pool[next]));
        }
        next = (0..pool.len())
            .max_by(|&a, &b| nearest[a].total_cmp(&nearest[b]))
            .unwrap_or(0);
    }
    chosen
}

/// Runs history matching. `observed` are the targets z and `obs_sd` their
/// observation sd's, one per output; the simulator returns outputs in the
/// same order.
pub fn run_history_matching(
    block: &ParamBlock,
    sim: &mut Summaries<'_>,
    observed: &[f64],
    obs_sd: &[f64],
    cfg: &HmConfig,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<HmResult, CalibrateError> {
    cfg.validate()?;
    let space = PriorSpace::new(block)?;
    let d = space.dims();
    let n_out = observed.len();
    if n_out == 0 {
        return Err(CalibrateError::Dimension {
            what: "observed outputs".into(),
            expected: 1,
            got: 0,
        });
    }
    check_scales("obs_sd", obs_sd, n_out)?;
    if cfg.second_max && n_out < 2 {
        return Err(CalibrateError::Config {
            key: "history_matching.second_max".into(),
            message: "needs at least two outputs".into(),
        });
    }
    let targets = Targets {
        observed: observed.to_vec(),
        obs_var: obs_sd.iter().map(|s| s * s).collect(),
        disc_var: observed
            .iter()
            .map(|z| (cfg.discrepancy_fraction * z).powi(2))
            .collect(),
    };
    let input = |u: &[f64]| space.scaled(&block.map_unit(u));
    let pass = |waves: &[Vec<Gp>], u: &[f64]| {
        survives(waves, &targets, cfg.cutoff, cfg.second_max, &input(u))
    };
    let runs = cfg.effective_runs(d);
    let mut mc_rng = keyed(cfg.seed, [0, 3, 0]);
    let mc: Vec<Vec<f64>> = (0..cfg.mc_samples)
        .map(|_| (0..d).map(|_| mc_rng.uniform()).collect())
        .collect();
    let mut alive: Vec<usize> = (0..mc.len()).collect();
    let mut emulator_sets: Vec<Vec<Gp>> = Vec::new();
    let mut reports: Vec<WaveReport> = Vec::new();
    let mut pool: Vec<Vec<f64>> = Vec::new();
    for wave in 1..=cfg.waves {
        let design = if wave == 1 {
            latin_hypercube(runs, d, &mut keyed(cfg.seed, [wave as u32, 0, 0]))
        } else {
            maximin_subset(&pool, runs)
        };
        let thetas: Vec<Vec<f64>> = design.iter().map(|u| block.map_unit(u)).collect();
        let outputs =
            simulate_checked(sim, &thetas, sub_seed(cfg.seed, [wave as u32, 1, 0]), n_out)?;
        // Training set: this wave's runs plus earlier runs still in the set.
        let mut train_x = Vec::new();
        let mut train_y: Vec<Vec<f64>> = Vec::new();
        for r in &reports {
            for (u, o) in r.design.iter().zip(&r.outputs) {
                if let Some(o) = o
                    && pass(&emulator_sets, u)
                {
                    train_x.push(u.clone());
                    train_y.push(o.clone());
                }
            }
        }
        for (u, o) in design.iter().zip(&outputs) {
            if let Some(o) = o {
                train_x.push(u.clone());
                train_y.push(o.clone());
            }
        }
        if train_x.len() < 3 {
            return Err(CalibrateError::NoUsableRuns(format!(
                "wave {wave}: only {} runs succeeded; an emulator needs at least 3",
                train_x.len()
            )));
        }
        let inputs: Vec<Vec<f64>> = train_x.iter().map(|u| input(u)).collect();
        let mut emulators = Vec::with_capacity(n_out);
        for k in 0..n_out {
            let y: Vec<f64> = train_y.iter().map(|o| o[k]).collect();
            emulators.push(Gp::fit(
                &inputs,
                &y,
                &cfg.gp,
                sub_seed(cfg.seed, [wave as u32, 2, k as u32]),
            )?);
        }
        let loo = emulators.iter().map(Gp::loo).collect();
        emulator_sets.push(emulators.clone());
        let newest = std::slice::from_ref(&emulator_sets[wave - 1]);
        alive.retain(|&i| pass(newest, &mc[i]));
        let fraction_ruled_out = 1.0 - alive.len() as f64 / mc.len() as f64;
        // Non-implausible sample: Monte Carlo survivors, topped up by a
        // random walk from every survivor known (MC, pool, runs).
        pool = alive
            .iter()
            .take(cfg.nroy_samples)
            .map(|&i| mc[i].clone())
            .collect();
        if pool.len() < cfg.nroy_samples {
            let mut seeds: Vec<Vec<f64>> = pool.clone();
            seeds.extend(train_x.iter().filter(|u| pass(&emulator_sets, u)).cloned());
            if seeds.is_empty() {
                return Err(CalibrateError::EmptyNonImplausible(format!(
                    "wave {wave} ruled out the whole parameter space (cutoff {}): the model cannot match the data \
                     within the stated variances; check the data, the observation sd's or allow model discrepancy",
                    cfg.cutoff
                )));
            }
            let mut rng = keyed(cfg.seed, [wave as u32, 4, 0]);
            let extra = top_up(&seeds, cfg.nroy_samples - pool.len(), &mut rng, |u| {
                pass(&emulator_sets, u)
            });
            pool.extend(extra);
        }
        progress(ProgressEvent::HmWave {
            wave,
            runs: design.len(),
            failed: outputs.iter().filter(|o| o.is_none()).count(),
            fraction_ruled_out,
        });
        reports.push(WaveReport {
            wave,
            design,
            thetas,
            outputs,
            training_runs: train_x.len(),
            emulators,
            loo,
            fraction_ruled_out,
        });
    }
    Ok(HmResult {
        prior: block.clone(),
        space: space.clone(),
        names: block.params.iter().map(|p| p.name.clone()).collect(),
        varying: space.varying().to_vec(),
        output_names: (0..n_out).map(|k| format!("y{k}")).collect(),
        targets,
        cutoff: cfg.cutoff,
        second_max: cfg.second_max,
        waves: reports,
        nroy: pool.iter().map(|u| block.map_unit(u)).collect(),
        nroy_unit: pool,
    })
}

/// `n` more points of the set `keep` by random-walk Metropolis with a
/// uniform target: each chain starts at a random seed, proposes Gaussian
/// steps scaled from the seeds' spread, and moves when the proposal lies in
/// the cube and in the set.
fn top_up(
    seeds: &[Vec<f64>],
    n: usize,
    rng: &mut KeyedStream,
    keep: impl Fn(&[f64]) -> bool,
) -> Vec<Vec<f64>> {
    let d = seeds[0].len();
    let w = vec![1.0 / seeds.len() as f64; seeds.len()];
    let (_, cov) = weighted_mean_cov(seeds, &w);
    let step: Vec<f64> = (0..d)
        .map(|k| {
            // One seed (or seeds that coincide) has no spread: start wide.
            let sd = cov[(k, k)].sqrt();
            let sd = if seeds.len() > 1 && sd > 0.0 {
                sd
            } else {
                0.05
            };
            (2.38 / (d as f64).sqrt() * sd).clamp(1e-3, 0.2)
        })
        .collect();
    (0..n)
        .map(|j| {
            let mut x = seeds[(j + index_below(rng, seeds.len())) % seeds.len()].clone();
            for _ in 0..MCMC_STEPS {
                let y: Vec<f64> = x
                    .iter()
                    .zip(&step)
                    .map(|(a, s)| a + s * rng.normal())
                    .collect();
                if y.iter().all(|v| (0.0..=1.0).contains(v)) && keep(&y) {
                    x = y;
                }
            }
            x
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Distribution;

    /// Outputs (x, 10): the second can never match its target 0.
    fn one_bad_output() -> crate::engine::PerRow<impl FnMut(&[f64]) -> Option<Vec<f64>>> {
        crate::engine::PerRow(|t: &[f64]| Some(vec![t[0], 10.0]))
    }

    #[test]
    fn second_max_tolerates_one_unmatched_output_and_max_does_not() {
        let block = ParamBlock::from_pairs([(
            "x".into(),
            Distribution::Uniform {
                low: -4.0,
                high: 4.0,
            },
        )]);
        let cfg = HmConfig {
            waves: 2,
            seed: 1,
            ..HmConfig::default()
        };
        let e = run_history_matching(
            &block,
            &mut Summaries::last(&mut one_bad_output()),
            &[2.0, 0.0],
            &[0.5, 0.5],
            &cfg,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, CalibrateError::EmptyNonImplausible(_)), "{e}");
        assert!(
            e.to_string()
                .contains("wave 1 ruled out the whole parameter space"),
            "{e}"
        );
        let cfg = HmConfig {
            second_max: true,
            ..cfg
        };
        let r = run_history_matching(
            &block,
            &mut Summaries::last(&mut one_bad_output()),
            &[2.0, 0.0],
            &[0.5, 0.5],
            &cfg,
            &mut |_| {},
        )
        .unwrap();
        // With two outputs the second-largest term is the first output's:
        // the set is |x − 2| ≤ 1.5 again, 62.5 % of [−4, 4] ruled out.
        let ruled_out = r.waves[1].fraction_ruled_out;
        assert!((ruled_out - 0.625).abs() < 0.02, "{ruled_out}");
        assert!(r.is_non_implausible(&[0.75]) && !r.is_non_implausible(&[0.25]));
        let one = HmConfig {
            second_max: true,
            ..HmConfig::default()
        };
        let e = run_history_matching(
            &block,
            &mut Summaries::last(&mut one_bad_output()),
            &[2.0],
            &[0.5],
            &one,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.to_string().contains("second_max"), "{e}");
    }

    #[test]
    fn maximin_spreads_the_subset() {
        let pool: Vec<Vec<f64>> = (0..101).map(|i| vec![i as f64 / 100.0]).collect();
        let mut s: Vec<f64> = maximin_subset(&pool, 3).iter().map(|p| p[0]).collect();
        s.sort_by(f64::total_cmp);
        assert_eq!(s, [0.0, 0.5, 1.0]);
    }

    #[test]
    fn random_walk_stays_in_the_set_and_spreads_over_it() {
        let mut rng = keyed(2, [0, 0, 0]);
        let inside = |u: &[f64]| (0.2..=0.4).contains(&u[0]);
        let pts = top_up(&[vec![0.3]], 2000, &mut rng, inside);
        assert!(pts.iter().all(|p| inside(p)));
        let mean = pts.iter().map(|p| p[0]).sum::<f64>() / 2000.0;
        let below = pts.iter().filter(|p| p[0] < 0.25).count() as f64 / 2000.0;
        // Uniform on [0.2, 0.4]: mean 0.3, a quarter below 0.25.
        assert!((mean - 0.3).abs() < 0.01, "{mean}");
        assert!((below - 0.25).abs() < 0.06, "{below}");
    }
}
