//! The cycle loop. A twin experiment runs three engines on one backend: the
//! ensemble, the truth (one member with the truth's parameters) and a free
//! run (the same initial ensemble, never assimilating); observations are
//! drawn from the truth with the scene's error model. An assimilation run
//! has only the ensemble and takes its observations from a file. After the
//! last analysis every arm is forecast (`forecast`).
//!
//! Random streams, as in `assim::testbed` (so truth, observations and
//! initial ensemble equal the host reference's for the same seed): 1 truth
//! initial state, 2 observation noise, 3 initial ensemble, 4 filter.
//!
//! With [`Checkpointing`] (`--checkpoint-every N` analyses) the loop hands
//! a [`TwinState`] to a saver after every N-th analysis and can start from
//! one: engines' states, the filter's stream position and weights, the
//! observation stream's position and the records so far are everything
//! the rest of the run depends on, so a continued run equals an
//! uninterrupted one bit for bit. (The filter and observation streams are
//! ChaCha12 with a word position, `testbed::stream_at`: the same numbers
//! as `testbed::stream`.)
//!
//! Owns: the loop, the per-cycle records and the time-averaged scores.

use nalgebra::{DMatrix, DVector};

use super::cycle::{Analysis, Assimilator};
use super::ensemble::Ensemble;
use super::error::TwinError;
use super::forecast::{self, ForecastOutput};
use super::obs::{self, ObsItem};
use super::setup::Setup;
use crate::engine::backend::Backend;
use crate::engine::{Engine, MemberStatus};
use crate::methods::assim::gauss::std_normal;
use crate::methods::assim::stats::rms_diff;
use crate::methods::assim::testbed::{stream, stream_at};

/// Truth and free run of a twin experiment.
pub struct Reference {
    pub truth: Ensemble,
    pub free: Ensemble,
}

/// One analysis cycle.
#[derive(Clone, Debug)]
pub struct CycleRecord {
    pub cycle: usize,
    pub step: u64,
    pub time: f64,
    pub analysis: Analysis,
    /// Observations assimilated (with the values and SDs used).
    pub items: Vec<ObsItem>,
    /// Twin only: RMSE over the state of the forecast and analysis means and
    /// of the free run's mean against the truth.
    pub rmse_forecast: Option<f64>,
    pub rmse_analysis: Option<f64>,
    pub rmse_free: Option<f64>,
    /// Twin only: the truth's observables.
    pub truth_obs: Option<Vec<f64>>,
    /// After the burn-in: enters the time averages.
    pub scored: bool,
}

/// Time averages over the scored cycles (twin).
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    pub rmse_analysis: f64,
    pub rmse_forecast: f64,
    pub spread: f64,
    pub spread_forecast: f64,
    pub rmse_free: f64,
    pub scored_cycles: usize,
    pub resamplings: usize,
}

/// The final analysed parameters.
#[derive(Clone, Debug)]
pub struct Posterior {
    pub names: Vec<String>,
    /// Estimated parameters × members, natural units.
    pub draws: DMatrix<f64>,
    pub weights: Vec<f64>,
    /// The same parameters as drawn from the prior (the free run's).
    pub prior: DMatrix<f64>,
    pub truth: Option<Vec<f64>>,
}

pub struct RunOutput {
    pub cycles: Vec<CycleRecord>,
    pub scores: Option<Scores>,
    pub posterior: Posterior,
    pub forecast: Option<ForecastOutput>,
    pub observable_names: Vec<String>,
}

/// An engine's member states, parameters, statuses and step.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineState {
    pub step: u64,
    pub state: Vec<f32>,
    pub params: Vec<f32>,
    pub status: Vec<MemberStatus>,
}

impl EngineState {
    pub fn capture(e: &mut dyn Engine) -> Result<EngineState, TwinError> {
        Ok(EngineState {
            step: e.step(),
            state: e.read_state()?,
            params: e.read_params()?,
            status: e.status()?,
        })
    }

    pub fn restore(&self, e: &mut dyn Engine) -> Result<(), TwinError> {
        e.write_state(&self.state)?;
        e.write_params(&self.params)?;
        e.write_status(&self.status)?;
        e.set_step(self.step);
        Ok(())
    }
}

/// Where a run stands after an analysis (see the module docs).
#[derive(Clone, Debug)]
pub struct TwinState {
    /// One record per analysis done.
    pub cycles: Vec<CycleRecord>,
    pub ens: EngineState,
    /// Twin only: the truth and the free run.
    pub truth: Option<EngineState>,
    pub free: Option<EngineState>,
    /// Word positions of the observation-noise and filter streams.
    pub obs_rng: u128,
    pub filter_rng: u128,
    /// The particle filter's log weights.
    pub log_w: Option<Vec<f64>>,
}

/// What [`run_from`] saves and starts from.
pub struct Checkpointing<'a> {
    /// Analyses between saves.
    pub every: usize,
    pub start: Option<TwinState>,
    pub save: &'a mut dyn FnMut(&TwinState) -> Result<(), TwinError>,
}

/// Draws `cols` states from N(mean, diag(var)), as `TwinExperiment` does;
/// `mean` and `var` hold one value for all words or one per word (`var`
/// empty: 0).
pub(crate) fn draw_initial(
    mean: &[f64],
    n: usize,
    var: &[f64],
    cols: usize,
    seed: u64,
    purpose: u64,
) -> DMatrix<f64> {
    let mut rng = stream(seed, purpose);
    let pick = |v: &[f64], i: usize| match v.len() {
        0 => 0.0,
        1 => v[0],
        _ => v[i],
    };
    DMatrix::from_fn(n, cols, |i, _| {
        pick(mean, i) + pick(var, i).sqrt() * std_normal(&mut rng)
    })
}

/// Runs the cycles (twin: with truth and free run) and the forecasts.
/// `progress(done, total)` is called after each cycle.
pub fn run(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    twin: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RunOutput, TwinError> {
    run_from(setup, backend, batch, twin, None, progress)
}

/// [`run`], saving a [`TwinState`] every `ckpt.every` analyses and, with
/// `ckpt.start`, continuing from one.
pub fn run_from(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    twin: bool,
    mut ckpt: Option<Checkpointing<'_>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RunOutput, TwinError> {
    let plan = &setup.plan;
    let n = setup.members as usize;
    let n_state = plan.model.state_len();
    let sites = plan.model.grid().sites();
    let mut ens = Ensemble::new(backend.engine(plan, batch)?);
    let mut reference = if twin {
        let truth_plan = setup.plan_for(&setup.arm, Some(vec![setup.truth_params.clone()]))?;
        Some(Reference {
            truth: Ensemble::new(backend.engine(&truth_plan, batch)?),
            free: Ensemble::new(backend.engine(plan, batch)?),
        })
    } else {
        None
    };
    if let Some(mean) = &setup.section.init_mean {
        let var = &setup.section.init_var;
        let e0 = draw_initial(mean, n_state, var, n, setup.seed, 3);
        ens.write_state(&e0)?;
        if let Some(r) = &mut reference {
            r.truth
                .write_state(&draw_initial(mean, n_state, var, 1, setup.seed, 1))?;
            r.free.write_state(&e0)?;
        }
    }
    let mut assimilator = Assimilator::new(setup)?;
    let mut obs_rng = stream_at(setup.seed, 2);
    let total = setup.schedule.len();
    let mut cycles = Vec::with_capacity(total);
    if let Some(st) = ckpt.as_mut().and_then(|c| c.start.take()) {
        st.ens.restore(ens.engine.as_mut())?;
        if let Some(r) = &mut reference {
            let (Some(t), Some(f)) = (&st.truth, &st.free) else {
                return Err(TwinError::Invalid(
                    "the checkpoint holds no truth or free run".into(),
                ));
            };
            t.restore(r.truth.engine.as_mut())?;
            f.restore(r.free.engine.as_mut())?;
        }
        obs_rng.set_word_pos(st.obs_rng);
        assimilator.restore(st.filter_rng, st.log_w);
        cycles = st.cycles;
        progress(cycles.len(), total);
    }
    for (c, ot) in setup.schedule.iter().enumerate().skip(cycles.len()) {
        let cycle = c + 1;
        ens.advance_to(ot.step)?;
        let mut items = ot.items.clone();
        let mut truth_state = None;
        let mut truth_obs = None;
        let mut free_mean = None;
        if let Some(r) = &mut reference {
            r.truth.advance_to(ot.step)?;
            r.free.advance_to(ot.step)?;
            let (ts, tf) = (r.truth.state()?, r.truth.frame()?);
            if r.truth.frame_has_non_finite(&tf) {
                return Err(TwinError::NonFinite {
                    what: "the truth",
                    cycle,
                    time: ot.time,
                });
            }
            let values = obs::apply(&items, &tf, r.truth.n_ops(), &ts, sites);
            for (k, it) in items.iter_mut().enumerate() {
                let v = values[(k, 0)];
                it.sd = it.sd.max(it.rel_sd * v.abs());
                it.value = Some(v + it.sd * std_normal(&mut obs_rng));
            }
            truth_obs = Some(tf[..r.truth.n_ops()].iter().map(|&v| v as f64).collect());
            let free_non_finite = TwinError::NonFinite {
                what: "the free run",
                cycle,
                time: ot.time,
            };
            if r.free.engine.backend() == "gpu" {
                // Its mean from the device: the free run's states stay there.
                let ff = r.free.frame()?;
                if r.free.frame_has_non_finite(&ff) {
                    return Err(free_non_finite);
                }
                let (mean, _) = r.free.engine.state_moments(0..r.free.n_state())?;
                free_mean = Some(DVector::from_iterator(
                    mean.len(),
                    mean.iter().map(|&v| v as f64),
                ));
            } else {
                let fs = r.free.state()?;
                if fs.iter().any(|v| !v.is_finite()) {
                    return Err(free_non_finite);
                }
                free_mean = Some(fs.column_mean());
            }
            truth_state = Some(ts.column(0).into_owned());
        }
        let y = DVector::from_iterator(
            items.len(),
            items.iter().map(|it| it.value.unwrap_or(f64::NAN)),
        );
        let analysis = assimilator.analyse(&mut ens, &items, &y, cycle, ot.time)?;
        let rmse = |m: &DVector<f64>| truth_state.as_ref().map(|t| rms_diff(m, t));
        cycles.push(CycleRecord {
            cycle,
            step: ot.step,
            time: ot.time,
            rmse_forecast: rmse(&analysis.forecast.state_mean),
            rmse_analysis: rmse(&analysis.analysis.state_mean),
            rmse_free: free_mean.as_ref().and_then(rmse),
            truth_obs,
            scored: ot.step > setup.burn_in_step,
            analysis: strip(analysis),
            items,
        });
        if let Some(k) = ckpt
            .as_mut()
            .filter(|k| k.every > 0 && cycle % k.every == 0)
        {
            let (filter_rng, log_w) = assimilator.position();
            let (truth, free) = match &mut reference {
                Some(r) => (
                    Some(EngineState::capture(r.truth.engine.as_mut())?),
                    Some(EngineState::capture(r.free.engine.as_mut())?),
                ),
                None => (None, None),
            };
            // The records move into the state and back: cloning them at
            // every checkpoint made a long run quadratic in its analyses.
            let state = TwinState {
                cycles: std::mem::take(&mut cycles),
                ens: EngineState::capture(ens.engine.as_mut())?,
                truth,
                free,
                obs_rng: obs_rng.get_word_pos(),
                filter_rng,
                log_w,
            };
            let saved = (k.save)(&state);
            cycles = state.cycles;
            saved?;
        }
        progress(cycle, total);
    }
    let scores = twin.then(|| scores(&cycles)).transpose()?;
    let weights = assimilator.weights(n);
    let p = ens.params()?;
    let rows: Vec<usize> = setup.estimate.iter().map(|e| e.0).collect();
    let prior = DMatrix::from_fn(rows.len(), n, |k, j| plan.params[j][rows[k]]);
    let posterior = Posterior {
        names: setup.estimate.iter().map(|e| e.2.clone()).collect(),
        draws: p.select_rows(rows.iter()),
        weights: weights.clone(),
        prior,
        truth: twin.then(|| rows.iter().map(|&j| setup.truth_params[j]).collect()),
    };
    let forecast = match setup.horizon_step {
        Some(h) => Some(forecast::run(
            setup,
            backend,
            batch,
            &mut ens,
            &weights,
            reference.as_mut(),
            h,
        )?),
        None => None,
    };
    Ok(RunOutput {
        cycles,
        scores,
        posterior,
        forecast,
        observable_names: plan
            .observables
            .ops
            .iter()
            .map(|o| o.name.clone())
            .collect(),
    })
}

/// The forecasts of `what_if` from a saved [`TwinState`] (`vtwin fork`):
/// the analysed ensemble (and in a twin the truth and the free run) is
/// restored at the saved analysis and forked exactly as [`run_from`] forks
/// it after its last analysis, so a checkpoint at the last analysis gives
/// the run's own forecasts, and one at analysis k those of a run of k
/// analyses. Members are weighted by the saved particle weights.
pub fn forecast_from(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    saved: &TwinState,
    horizon: u64,
    what_if: &forecast::WhatIf,
) -> Result<ForecastOutput, TwinError> {
    let n = setup.members as usize;
    let mut ens = Ensemble::new(backend.engine(&setup.plan, batch)?);
    saved.ens.restore(ens.engine.as_mut())?;
    let mut reference = match (&saved.truth, &saved.free) {
        (Some(t), Some(f)) => {
            let truth_plan = setup.plan_for(&setup.arm, Some(vec![setup.truth_params.clone()]))?;
            let mut r = Reference {
                truth: Ensemble::new(backend.engine(&truth_plan, batch)?),
                free: Ensemble::new(backend.engine(&setup.plan, batch)?),
            };
            t.restore(r.truth.engine.as_mut())?;
            f.restore(r.free.engine.as_mut())?;
            Some(r)
        }
        _ => None,
    };
    let weights = match &saved.log_w {
        Some(l) if l.len() == n => l.iter().map(|v| v.exp()).collect(),
        Some(l) => {
            return Err(TwinError::Invalid(format!(
                "the saved state holds {} particle weights for {n} members",
                l.len()
            )));
        }
        None => super::scores::equal(n),
    };
    forecast::run_what_if(
        setup,
        backend,
        batch,
        &mut ens,
        &weights,
        reference.as_mut(),
        horizon,
        what_if,
    )
}

/// Drops the state vectors (kept only as spreads) to keep long runs small.
fn strip(mut a: Analysis) -> Analysis {
    for s in [&mut a.forecast, &mut a.analysis] {
        let spread = s.spread();
        s.state_mean = DVector::zeros(0);
        s.state_var = DVector::from_element(1, spread * spread);
    }
    a
}

fn scores(cycles: &[CycleRecord]) -> Result<Scores, TwinError> {
    let scored: Vec<&CycleRecord> = cycles.iter().filter(|c| c.scored).collect();
    if scored.is_empty() {
        return Err(TwinError::Invalid(
            "no analysis after the burn-in: lower assimilation.burn_in or run more cycles".into(),
        ));
    }
    let mean = |f: &dyn Fn(&CycleRecord) -> f64| {
        scored.iter().map(|c| f(c)).sum::<f64>() / scored.len() as f64
    };
    Ok(Scores {
        rmse_analysis: mean(&|c| c.rmse_analysis.unwrap_or(f64::NAN)),
        rmse_forecast: mean(&|c| c.rmse_forecast.unwrap_or(f64::NAN)),
        spread: mean(&|c| c.analysis.analysis.spread()),
        spread_forecast: mean(&|c| c.analysis.forecast.spread()),
        rmse_free: mean(&|c| c.rmse_free.unwrap_or(f64::NAN)),
        scored_cycles: scored.len(),
        resamplings: cycles.iter().filter(|c| c.analysis.resampled).count(),
    })
}
