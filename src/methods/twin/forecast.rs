//! Forecasts after the last analysis: every treatment arm of the scene,
//! from the same analysed members (states and parameters), each arm in its
//! own engine forked at the analysis step, so only the treatment differs.
//! In a twin the truth and the free run (the population prior: prior
//! parameters, never assimilated) are forked the same way, for scoring.
//! `vtwin fork` runs the same forks for one arm from a saved analysis, with
//! parameters set for every member ([`WhatIf`]).
//!
//! Owns: the fork and the recorded frames; the statistics are in `tables`.

use nalgebra::DVector;

use super::ensemble::Ensemble;
use super::error::TwinError;
use super::run::Reference;
use super::setup::Setup;
use crate::engine::backend::Backend;
use crate::methods::assim::stats::rms_diff;

/// One arm's forecast.
#[derive(Clone, Debug)]
pub struct ArmForecast {
    pub arm: String,
    pub steps: Vec<u64>,
    pub times: Vec<f64>,
    /// members × (ops + 1) observables of the analysed ensemble, per time.
    pub frames: Vec<Vec<f32>>,
    /// Twin: the free run's (population prior) frames.
    pub prior_frames: Option<Vec<Vec<f32>>>,
    /// Twin: the truth's observables per time.
    pub truth: Option<Vec<Vec<f64>>>,
    /// Twin: RMSE over the state of the ensemble mean and the prior mean.
    pub state_rmse: Option<Vec<f64>>,
    pub state_rmse_prior: Option<Vec<f64>>,
}

pub struct ForecastOutput {
    pub start_step: u64,
    pub start_time: f64,
    /// Weights of the members (particle filter; equal otherwise).
    pub weights: Vec<f64>,
    pub n_ops: usize,
    pub arms: Vec<ArmForecast>,
}

/// The forecast steps: the start, each multiple of the plan's observation
/// period after it, and the horizon.
pub fn forecast_steps(start: u64, horizon: u64, every: u64) -> Vec<u64> {
    let mut v = vec![start];
    let mut s = (start / every + 1) * every;
    while s < horizon {
        v.push(s);
        s += every;
    }
    if horizon > start {
        v.push(horizon);
    }
    v
}

/// What the forecasts run: which arms, and parameters set for every
/// member of every forked ensemble (`vtwin fork --set`: the block's index
/// and the value).
#[derive(Clone, Debug, Default)]
pub struct WhatIf {
    /// None: every arm of the scene, in its order.
    pub arms: Option<Vec<String>>,
    pub set: Vec<(usize, f64)>,
}

#[allow(clippy::too_many_arguments)] // one ensemble's fork: plan, source, step and changes
fn fork(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    arm: &str,
    params: Option<Vec<Vec<f64>>>,
    from: &mut Ensemble,
    step: u64,
    set: &[(usize, f64)],
) -> Result<Ensemble, TwinError> {
    let plan = setup.plan_for(arm, params)?;
    let mut e = Ensemble::new(backend.engine(&plan, batch)?);
    e.write_state(&from.state()?)?;
    let mut p = from.params()?;
    for &(j, v) in set {
        p.row_mut(j).fill(v);
    }
    e.write_params(&p)?;
    e.engine.set_step(step);
    Ok(e)
}

/// Every arm of the scene forecast from `ens` (and in a twin from the
/// truth and the free run) to `horizon`.
pub fn run(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    ens: &mut Ensemble,
    weights: &[f64],
    reference: Option<&mut Reference>,
    horizon: u64,
) -> Result<ForecastOutput, TwinError> {
    run_what_if(
        setup,
        backend,
        batch,
        ens,
        weights,
        reference,
        horizon,
        &WhatIf::default(),
    )
}

/// [`run`] for the arms and parameter changes of `what_if`.
#[allow(clippy::too_many_arguments)] // `run`'s arguments and the what-if
pub fn run_what_if(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    ens: &mut Ensemble,
    weights: &[f64],
    mut reference: Option<&mut Reference>,
    horizon: u64,
    what_if: &WhatIf,
) -> Result<ForecastOutput, TwinError> {
    let start = ens.engine.step();
    let steps = forecast_steps(start, horizon, setup.plan.every.max(1));
    let model = setup.plan.model.clone();
    let names: Vec<String> = match &what_if.arms {
        Some(a) => a.clone(),
        None => setup.scene.arms().iter().map(|a| a.name.clone()).collect(),
    };
    let set = &what_if.set;
    let mut arms = Vec::new();
    for name in &names {
        let mut post = fork(setup, backend, batch, name, None, ens, start, set)?;
        let mut side = match reference.as_deref_mut() {
            Some(r) => Some((
                fork(
                    setup,
                    backend,
                    batch,
                    name,
                    Some(vec![setup.truth_params.clone()]),
                    &mut r.truth,
                    start,
                    set,
                )?,
                fork(setup, backend, batch, name, None, &mut r.free, start, set)?,
            )),
            None => None,
        };
        let mut a = ArmForecast {
            arm: name.clone(),
            steps: steps.clone(),
            times: steps.iter().map(|&s| model.time_at(s)).collect(),
            frames: Vec::new(),
            prior_frames: side.as_ref().map(|_| Vec::new()),
            truth: side.as_ref().map(|_| Vec::new()),
            state_rmse: side.as_ref().map(|_| Vec::new()),
            state_rmse_prior: side.as_ref().map(|_| Vec::new()),
        };
        for &s in &steps {
            post.advance_to(s)?;
            let frame = post.frame()?;
            if let Some((truth, prior)) = &mut side {
                truth.advance_to(s)?;
                prior.advance_to(s)?;
                let tf = truth.frame()?;
                let t_state = truth.state()?.column(0).into_owned();
                let pf = prior.frame()?;
                let mean = |e: &mut Ensemble, w: &[f64]| -> Result<DVector<f64>, TwinError> {
                    Ok(e.state()? * DVector::from_column_slice(w))
                };
                let post_mean = mean(&mut post, weights)?;
                let prior_mean = mean(prior, &super::scores::equal(prior.members()))?;
                let n_ops = truth.n_ops();
                if let Some(v) = a.truth.as_mut() {
                    v.push(tf[..n_ops].iter().map(|&x| x as f64).collect());
                }
                if let Some(v) = a.state_rmse.as_mut() {
                    v.push(rms_diff(&post_mean, &t_state));
                }
                if let Some(v) = a.state_rmse_prior.as_mut() {
                    v.push(rms_diff(&prior_mean, &t_state));
                }
                if let Some(v) = a.prior_frames.as_mut() {
                    v.push(pf);
                }
            }
            a.frames.push(frame);
        }
        arms.push(a);
    }
    Ok(ForecastOutput {
        start_step: start,
        start_time: model.time_at(start),
        weights: weights.to_vec(),
        n_ops: setup.plan.observables.ops.len(),
        arms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_cover_start_period_and_horizon() {
        assert_eq!(forecast_steps(10, 30, 8), [10, 16, 24, 30]);
        assert_eq!(forecast_steps(16, 32, 8), [16, 24, 32]);
        assert_eq!(forecast_steps(5, 5, 8), [5]);
    }
}
