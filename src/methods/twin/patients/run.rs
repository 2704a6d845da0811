//! The patient loop: every patient's block of members advances in one
//! engine (the same GPU dispatches or CPU threads); the loop stops at every
//! step where some patient has a reading or a requested forecast, and
//! analyses, on the host, only the patients observed at that step, each
//! with its own filter stream. A patient whose members cannot be repaired
//! (fewer than 2 healthy) or whose analysis fails is marked failed with the
//! reason and left alone; every other patient goes on.
//!
//! Forecasts at requested times: each member's observable is interpolated
//! linearly between the engine steps around the time (docs/patients.md).
//! A forecast at time t sees the patient's readings at times before t: at a
//! step that has both, the forecast is taken before that step's analysis
//! when a reading there is at or after t. A failed patient's forecasts come
//! from a separate prior ensemble (the scene prior, `--members` members, no
//! analysis): its prior predictive.
//!
//! Learned priors (`population`): with `RunOptions::priors`, a patient's
//! members start from draws of its learned prior instead of the scene's;
//! [`run_population`] runs the two passes of `--population-prior`.
//!
//! Parameter drift (`[assimilation.model_error] drift`, estimated
//! parameters only): after each analysis of a patient, every member's
//! drifting parameter takes one random-walk step θ ← θ + τ·√Δt·ξ in the
//! analysis space (ln θ for log-scale parameters), Δt the time to the
//! patient's next reading — or, after its last, to its last requested
//! forecast — ξ from the patient's own drift stream. The step for the whole
//! interval is taken at its start (the walk's end-point variance τ²Δt, on
//! the wide side for the path in between); a step that leaves the bounds
//! is clamped to them.
//!
//! Treatment events (`RunOptions::events`, `--events`): each patient's
//! events reach its own block of members; the prior ensemble of failed
//! patients runs without events.
//!
//! Owns: the loop, the per-patient records and the forecast samples.

use std::collections::{BTreeMap, BTreeSet};

use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rayon::prelude::*;

use super::super::ensemble::Ensemble;
use super::super::error::TwinError;
use super::super::obs::{self, ObsItem};
use super::super::run::EngineState;
use super::super::run::draw_initial;
use super::super::scores;
use super::super::setup::Setup;
use super::analysis;
use super::data::{ErrorModel, Patient, Request, error_models};
use super::population::{self, Moments, PopulationPrior, Prior};
use super::predictive::{Predictive, predictive};
use super::start::{initial_from_reading, space};
use crate::core::plan::{Plan, PlanOptions};
use crate::engine::backend::Backend;
use crate::input::dosing::{MemberEvents, TreatmentEvent};
use crate::input::scene::MethodName;
use crate::methods::assim::testbed::{stream, stream_at};
use crate::methods::assim::{Filter, FilterConfig, Method};
use chacha20::ChaCha12Rng;

/// What became of one patient.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientResult {
    pub name: String,
    /// `None` while ok; (time, reason) once failed.
    pub failed: Option<(f64, String)>,
    pub readings: usize,
    pub censored: usize,
    pub analyses: usize,
    /// Members replaced by jittered copies of healthy ones.
    pub replaced: usize,
}

impl PatientResult {
    pub fn status(&self) -> &'static str {
        if self.failed.is_some() {
            "failed"
        } else {
            "ok"
        }
    }
}

/// One assimilated reading with the ensemble around it.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisRow {
    pub patient: usize,
    pub time: f64,
    pub observable: String,
    pub observed: f64,
    /// Value and SD assimilated (the pseudo-observation when censored).
    pub value: f64,
    pub sd: f64,
    pub censored: bool,
    /// (mean, sd) of the members' operator value before and after.
    pub forecast: (f64, f64),
    pub analysis: (f64, f64),
}

/// One requested forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastRow {
    pub patient: usize,
    pub time: f64,
    pub observable: String,
    /// From the prior ensemble (the patient failed).
    pub prior: bool,
    pub predictive: Predictive,
    /// Each member's value (no observation noise), in member order.
    pub members: Vec<f64>,
}

/// Posterior of one estimated parameter of one patient (natural units).
#[derive(Clone, Debug, PartialEq)]
pub struct PosteriorRow {
    pub patient: usize,
    pub param: String,
    pub median: f64,
    pub q05: f64,
    pub q95: f64,
    pub prior: (f64, f64, f64),
    pub bounds: (f64, f64),
}

pub struct PatientOutput {
    pub patients: Vec<PatientResult>,
    pub analyses: Vec<AnalysisRow>,
    pub forecasts: Vec<ForecastRow>,
    pub posterior: Vec<PosteriorRow>,
    /// Per patient, its estimated parameters after its last analysis in
    /// the analysis space (`None`: failed, or never analysed).
    pub moments: Vec<Option<Moments>>,
    /// Per patient, how many other patients its learned prior rests on
    /// (`None`: the scene prior).
    pub prior_from: Vec<Option<usize>>,
    /// The plan of the patient ensemble (for the manifest).
    pub plan: Plan,
}

/// Everything that determines the rest of a patient run after a stop
/// (`--checkpoint-every`, `checkpoint_patients`): the stops done, the
/// patient engine and the prior ensemble, every patient's filter state
/// and stream positions, the forecast samples and the rows so far.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientState {
    /// Stops done.
    pub stops: usize,
    pub ens: EngineState,
    pub prior: Option<EngineState>,
    pub results: Vec<PatientResult>,
    pub started: Vec<bool>,
    pub moments: Vec<Option<Moments>>,
    /// Per request, the member values at its two steps (patients, prior).
    pub samples: Vec<[Vec<f64>; 2]>,
    pub prior_samples: Vec<[Vec<f64>; 2]>,
    pub analyses: Vec<AnalysisRow>,
    /// Per patient, the word positions of its filter and drift streams.
    pub rng: Vec<(u128, u128)>,
}

/// What [`run_from`] saves and starts from.
pub struct Checkpointing<'a> {
    /// Stops between saves.
    pub every: usize,
    pub start: Option<PatientState>,
    pub save: &'a mut dyn FnMut(&PatientState) -> Result<(), TwinError>,
}

/// What a patient run takes besides the setup and the data.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions<'a> {
    /// Quantile levels of the forecasts.
    pub levels: &'a [f64],
    /// Per patient (in order), a learned prior of the estimated
    /// parameters; `None` entries keep the scene prior.
    pub priors: Option<&'a [Option<Prior>]>,
    /// Treatment events by patient name; patients not in the run are
    /// ignored (the caller checks the names against its data).
    pub events: Option<&'a indexmap::IndexMap<String, Vec<TreatmentEvent>>>,
    /// Position of the first patient in the whole run's patient list
    /// (`assimilate --shard`): patient p's members are global members
    /// (first + p)·M .. (first + p + 1)·M for every keyed draw
    /// (`Plan::member_offset`) and the initial ensemble, and its streams
    /// are keyed by its name, so its results are those of the whole run.
    pub first: usize,
}

/// A stream of one patient for one `purpose`: keyed by its name, so a
/// patient's results do not depend on which other patients share the run.
pub(super) fn patient_stream(seed: u64, name: &str, purpose: u64) -> StdRng {
    // FNV-1a of the name.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    stream(seed ^ h, purpose)
}

/// [`patient_stream`] as the ChaCha12 generator it is (the same numbers),
/// whose word position a checkpoint saves and restores.
fn patient_stream_at(seed: u64, name: &str, purpose: u64) -> ChaCha12Rng {
    // FNV-1a of the name, as in `patient_stream`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    stream_at(seed ^ h, purpose)
}

/// Purposes of the patient streams.
const FILTER_STREAM: u64 = 0x5041_5449_454e_5453;
const DRIFT_STREAM: u64 = 0x4452_4946_5453_5452;
pub(super) const PRIOR_STREAM: u64 = 0x504f_5055_4c41_5449;

/// Both passes of `--population-prior` (`population`): a first pass from
/// the scene prior, then, unless `kind` is `None`, a second from each
/// patient's learned prior, which is the result. `progress` sees the
/// stops of both passes as one count.
#[allow(clippy::too_many_arguments)]
pub fn run_population(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    patients: &[Patient],
    requests: &[Request],
    opts: RunOptions<'_>,
    kind: PopulationPrior,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PatientOutput, TwinError> {
    if kind == PopulationPrior::None {
        return run(setup, backend, batch, patients, requests, opts, progress);
    }
    if setup.estimate.is_empty() {
        return Err(TwinError::Invalid(format!(
            "--population-prior {} learns a prior of the estimated parameters, but the scene \
             estimates none ([[assimilation.estimate]])",
            kind.name()
        )));
    }
    let first = run(
        setup,
        backend,
        batch,
        patients,
        requests,
        opts,
        &mut |d, t| progress(d, 2 * t),
    )?;
    let priors = population::estimate(&first.moments, kind);
    let second = RunOptions {
        priors: Some(&priors),
        ..opts
    };
    run(
        setup,
        backend,
        batch,
        patients,
        requests,
        second,
        &mut |d, t| progress(t + d, 2 * t),
    )
}

fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let x = q * (sorted.len() - 1) as f64;
    let (i, f) = (x.floor() as usize, x - x.floor());
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] * (1.0 - f) + sorted[j] * f
}

fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    (
        sorted_quantile(&v, 0.5),
        sorted_quantile(&v, 0.05),
        sorted_quantile(&v, 0.95),
    )
}

/// Runs every patient once.
pub fn run(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    patients: &[Patient],
    requests: &[Request],
    opts: RunOptions<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PatientOutput, TwinError> {
    run_from(
        setup, backend, batch, patients, requests, opts, None, progress,
    )
}

/// [`run`], saving its state every `ckpt.every` stops (not after the
/// last) and continuing from `ckpt.start` when given.
#[allow(clippy::too_many_arguments)]
pub fn run_from(
    setup: &Setup,
    backend: &Backend,
    batch: Option<u32>,
    patients: &[Patient],
    requests: &[Request],
    opts: RunOptions<'_>,
    mut ckpt: Option<Checkpointing<'_>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PatientOutput, TwinError> {
    let levels = opts.levels;
    let first = opts.first;
    let method = match setup.filter.method {
        MethodName::Etkf => Method::Etkf {
            rotate: setup.filter.rotate,
        },
        MethodName::Enkf => Method::EnKF,
        other => {
            return Err(TwinError::Invalid(format!(
                "patient runs support the etkf and enkf methods, not {}",
                other.name()
            )));
        }
    };
    let config = FilterConfig {
        method,
        inflation: setup.filter.inflation,
    };
    let m = setup.members as usize;
    let np = patients.len();
    let total = np
        .checked_mul(m)
        .filter(|t| *t <= u32::MAX as usize)
        .ok_or_else(|| TwinError::Invalid(format!("{np} patients × {m} members is too many")))?;
    let offset = first
        .checked_mul(m)
        .filter(|o| o.checked_add(total).is_some_and(|e| e <= u32::MAX as usize))
        .ok_or_else(|| TwinError::Invalid(format!("patient {first} × {m} members is too many")))?;
    let space = space(setup)?;
    let models = error_models(&setup.section);
    // Stops: every reading's step and every forecast's steps.
    let mut by_step: BTreeMap<u64, Vec<(usize, Vec<usize>)>> = BTreeMap::new();
    for (p, pt) in patients.iter().enumerate() {
        let mut here: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, o) in pt.obs.iter().enumerate() {
            here.entry(o.step).or_default().push(i);
        }
        for (s, idx) in here {
            by_step.entry(s).or_default().push((p, idx));
        }
    }
    let mut req_by_step: BTreeMap<u64, Vec<(usize, usize)>> = BTreeMap::new();
    for (r, rq) in requests.iter().enumerate() {
        for (slot, s) in rq.steps().into_iter().enumerate() {
            req_by_step.entry(s).or_default().push((r, slot));
        }
    }
    let stops: BTreeSet<u64> = by_step.keys().chain(req_by_step.keys()).copied().collect();
    let last = stops.last().copied().unwrap_or(0);
    let mut scene = setup.scene.clone();
    if last > scene.file.time.total_steps() {
        scene.file.time.steps = Some(last);
        scene.file.time.end = None;
    }
    let freeze = |members: usize, offset: usize| {
        Plan::freeze(
            &scene,
            &PlanOptions {
                members: Some(members as u32),
                seed: Some(setup.seed),
                arm: Some(setup.arm.clone()),
                member_params: None,
                member_offset: offset as u32,
            },
        )
    };
    // Process noise (`[assimilation.model_error] process`): the same
    // Philox-keyed noise as on every other path, in the patients' and the
    // prior ensemble's forecasts alike.
    let noise = setup
        .section
        .model_error
        .as_ref()
        .map(|e| e.process.clone())
        .unwrap_or_default();
    let noisy = |p: Plan| -> Result<Plan, TwinError> {
        if noise.is_empty() {
            Ok(p)
        } else {
            p.with_process_noise(&noise)
                .map_err(|e| TwinError::Invalid(e.to_string()))
        }
    };
    let mut plan = noisy(freeze(total, offset)?)?;
    if let Some(events) = opts.events {
        let member_events = MemberEvents {
            block: m as u32,
            // Groups are indexed by global member / block: a shard's
            // patients come after `first` empty ones.
            groups: std::iter::repeat_n(Vec::new(), first)
                .chain(
                    patients
                        .iter()
                        .map(|p| events.get(&p.name).cloned().unwrap_or_default()),
                )
                .collect(),
        };
        if member_events.groups.iter().any(|g| !g.is_empty()) {
            plan = plan
                .with_member_events(&member_events)
                .map_err(|e| TwinError::Invalid(e.to_string()))?;
        }
    }
    let prior_plan = noisy(freeze(m, 0)?)?;
    let drift = drift_rows(setup)?;
    let n_state = plan.model.state_len();
    let sites = plan.model.grid().sites();
    let est: Vec<usize> = setup.estimate.iter().map(|e| e.0).collect();
    let mut ens = Ensemble::new(backend.engine(&plan, batch)?);
    let mut prior = if requests.is_empty() {
        None
    } else {
        Some(Ensemble::new(backend.engine(&prior_plan, batch)?))
    };
    if let Some(mean) = &setup.section.init_mean {
        let var = &setup.section.init_var;
        // One stream for the whole run: a block takes its own columns.
        let all = draw_initial(mean, n_state, var, offset + total, setup.seed, 3);
        ens.write_state(&all.columns(offset, total).into_owned())?;
        if let Some(pr) = &mut prior {
            pr.write_state(&draw_initial(mean, n_state, var, m, setup.seed, 3))?;
        }
    }
    let n_ops = ens.n_ops();
    let stride = n_ops + 1;
    let mut rngs: Vec<ChaCha12Rng> = patients
        .iter()
        .map(|p| patient_stream_at(setup.seed, &p.name, FILTER_STREAM))
        .collect();
    let mut drift_rngs: Vec<ChaCha12Rng> = patients
        .iter()
        .map(|p| patient_stream_at(setup.seed, &p.name, DRIFT_STREAM))
        .collect();
    // Each patient's event times (readings, then the last request), for
    // the drift's intervals.
    let mut next_times: Vec<Vec<f64>> = patients
        .iter()
        .map(|p| p.obs.iter().map(|o| o.time).collect())
        .collect();
    for rq in requests {
        next_times[rq.patient].push(rq.time);
    }
    for t in &mut next_times {
        t.sort_by(f64::total_cmp);
        t.dedup();
    }
    let mut moments: Vec<Option<Moments>> = vec![None; np];
    // Learned priors: each patient's members start from its own draws.
    let mut prior_from: Vec<Option<usize>> = vec![None; np];
    let mut prior_summary: Vec<Option<Vec<(f64, f64, f64)>>> = vec![None; np];
    if let Some(priors) = opts.priors {
        let mut params = ens.params()?;
        for (p, pt) in patients.iter().enumerate() {
            let Some(pr) = priors.get(p).and_then(Option::as_ref) else {
                continue;
            };
            let mut rng = patient_stream(setup.seed, &pt.name, PRIOR_STREAM);
            let x = population::draw(pr, &space, m, &mut rng);
            for (k, &row) in est.iter().enumerate() {
                for j in 0..m {
                    params[(row, p * m + j)] = x[(k, j)];
                }
            }
            prior_from[p] = Some(pr.from);
            prior_summary[p] = Some(
                (0..est.len())
                    .map(|k| summary(x.row(k).iter().copied().collect()))
                    .collect(),
            );
        }
        ens.write_params(&params)?;
    }
    let mut results: Vec<PatientResult> = patients
        .iter()
        .map(|p| PatientResult {
            name: p.name.clone(),
            failed: None,
            readings: p.obs.len(),
            censored: p.obs.iter().filter(|o| o.censored).count(),
            analyses: 0,
            replaced: 0,
        })
        .collect();
    let mut started = vec![false; np];
    let mut analyses = Vec::new();
    let mut samples: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; requests.len()];
    let mut prior_samples: Vec<[Vec<f64>; 2]> = samples.clone();
    // `frame` holds blocks of m members; `b` picks one.
    let record = |frame: &[f32], b: usize, op: usize| -> Vec<f64> {
        (0..m)
            .map(|j| {
                let c = &frame[(b * m + j) * stride..(b * m + j + 1) * stride];
                if c[stride - 1] != 0.0 {
                    f64::NAN
                } else {
                    c[op] as f64
                }
            })
            .collect()
    };
    let mut skip = 0;
    if let Some(st) = ckpt.as_mut().and_then(|c| c.start.take()) {
        let fits = st.results.len() == np
            && st.started.len() == np
            && st.moments.len() == np
            && st.rng.len() == np
            && st.samples.len() == requests.len()
            && st.prior_samples.len() == requests.len()
            && st.prior.is_some() == prior.is_some()
            && st.stops <= stops.len()
            && st
                .results
                .iter()
                .zip(patients)
                .all(|(r, p)| r.name == p.name);
        if !fits {
            return Err(TwinError::Invalid(
                "the checkpoint does not fit this run's patients and requests".into(),
            ));
        }
        st.ens.restore(ens.engine.as_mut())?;
        if let (Some(pr), Some(ps)) = (&mut prior, &st.prior) {
            ps.restore(pr.engine.as_mut())?;
        }
        for (p, (f, d)) in st.rng.iter().enumerate() {
            rngs[p].set_word_pos(*f);
            drift_rngs[p].set_word_pos(*d);
        }
        skip = st.stops;
        results = st.results;
        started = st.started;
        moments = st.moments;
        samples = st.samples;
        prior_samples = st.prior_samples;
        analyses = st.analyses;
        progress(skip, stops.len());
    }
    for (done, &s) in stops.iter().enumerate().skip(skip) {
        ens.advance_to(s)?;
        let here = by_step.get(&s);
        let reqs = req_by_step.get(&s);
        // Only the blocks of patients with a reading or a request here are
        // observed (on the CPU backend the others are not computed): the
        // frame holds their blocks in patient order, `slot_of(p)` the place.
        let mut seen: BTreeSet<usize> = here.into_iter().flatten().map(|(p, _)| *p).collect();
        seen.extend(
            reqs.into_iter()
                .flatten()
                .map(|(r, _)| requests[*r].patient),
        );
        let seen: Vec<usize> = seen.into_iter().collect();
        let ranges: Vec<_> = seen.iter().map(|&p| p * m..(p + 1) * m).collect();
        let slot_of = |p: usize| seen.binary_search(&p).expect("observed patient");
        let frame = ens.engine.observe_ranges(&ranges)?;
        // A forecast is taken before this step's analysis when the patient
        // has a reading here at or after the requested time.
        let before = |r: usize| {
            let rq = &requests[r];
            here.is_some_and(|h| {
                h.iter().any(|(p, idx)| {
                    *p == rq.patient && idx.iter().any(|&i| patients[*p].obs[i].time >= rq.time)
                })
            })
        };
        let mut later = Vec::new();
        for &(r, slot) in reqs.into_iter().flatten() {
            if before(r) {
                samples[r][slot] = record(&frame, slot_of(requests[r].patient), requests[r].op);
            } else {
                later.push((r, slot));
            }
        }
        let mut pending: Vec<(usize, Vec<ObsItem>, DMatrix<f64>, usize)> = Vec::new();
        if let Some(here) = here {
            // Only the analysed patients' blocks are read and written: a
            // stop touches a few hundred of 10,000 patients.
            let live: Vec<&(usize, Vec<usize>)> = here
                .iter()
                .filter(|(p, _)| results[*p].failed.is_none())
                .collect();
            let blocks: Vec<_> = live.iter().map(|(p, _)| p * m..(p + 1) * m).collect();
            let mut state = ens.state_ranges(&blocks)?;
            let mut params = ens.params_ranges(&blocks)?;
            let status = ens.engine.status_ranges(&blocks)?;
            // (global target, global source) of members replaced by copies.
            let mut moves: Vec<(usize, usize)> = Vec::new();
            for (a, (p, idx)) in live.into_iter().enumerate() {
                let p = *p;
                let time = patients[p].obs[idx[0]].time;
                // Column of the patient's first member in `state`/`params`.
                let c0 = a * m;
                let items: Vec<ObsItem> = idx
                    .iter()
                    .map(|&i| patients[p].obs[i].item.clone())
                    .collect();
                let st = state.columns(c0, m).into_owned();
                let pe = DMatrix::from_fn(est.len(), m, |k, j| params[(est[k], c0 + j)]);
                let b0 = slot_of(p) * m;
                let block_frame = &frame[b0 * stride..(b0 + m) * stride];
                let obs_ok: Vec<bool> = (0..m)
                    .map(|j| {
                        let c = &block_frame[j * stride..(j + 1) * stride];
                        status[c0 + j].is_ok()
                            && c[stride - 1] == 0.0
                            && c.iter().all(|v| v.is_finite())
                    })
                    .collect();
                let healthy: Vec<bool> = (0..m)
                    .map(|j| space.healthy(&st, &pe, &obs_ok, j))
                    .collect();
                let mut st = st;
                let init = !started[p] && setup.section.init_from_first;
                started[p] = true;
                let init =
                    init && initial_from_reading(&plan, &items, &mut st, &mut rngs[p]).is_some();
                let mut z = space.forward(&st, &pe);
                let bad = healthy.iter().filter(|h| !**h).count();
                let mut src: Vec<usize> = (0..m).collect();
                if bad > 0 {
                    match analysis::replace(&mut z, &healthy, &mut rngs[p]) {
                        Some(sv) => src = sv,
                        None => {
                            results[p].failed = Some((
                                time,
                                format!(
                                    "{} of {m} members healthy before the analysis at time {time}",
                                    m - bad
                                ),
                            ));
                            continue;
                        }
                    }
                    results[p].replaced += bad;
                }
                let hx =
                    obs::apply(&items, block_frame, n_ops, &st, sites).select_columns(src.iter());
                let fc: Vec<(f64, f64)> = (0..items.len())
                    .map(|k| {
                        scores::mean_sd(
                            &hx.row(k).iter().copied().collect::<Vec<_>>(),
                            &scores::equal(m),
                        )
                    })
                    .collect();
                let b = analysis::batch(&items, hx);
                let mut filter =
                    Filter::new(config.clone()).map_err(|e| TwinError::Invalid(e.to_string()))?;
                if init {
                    // The reading initialised the state: not assimilated again.
                } else if let Err(e) = analysis::analyse(&mut filter, &mut rngs[p], &mut z, &b) {
                    results[p].failed = Some((time, format!("analysis at time {time}: {e}")));
                    continue;
                }
                let (mut st2, mut pe2) = space.back(&z);
                // The posterior before drift (population priors learn it).
                let posterior = Moments::of(&space, &pe2);
                for &(f, lo, hi) in &setup.clamp {
                    st2.rows_mut(f * sites, sites)
                        .apply(|v| *v = v.clamp(lo, hi));
                }
                let ones = vec![true; m];
                let healthy2: Vec<bool> = (0..m)
                    .map(|j| space.healthy(&st2, &pe2, &ones, j))
                    .collect();
                let bad2 = healthy2.iter().filter(|h| !**h).count();
                if bad2 > 0 {
                    let mut z2 = space.forward(&st2, &pe2);
                    match analysis::replace(&mut z2, &healthy2, &mut rngs[p]) {
                        Some(sv) => {
                            for j in 0..m {
                                if sv[j] != j {
                                    src[j] = src[sv[j]];
                                }
                            }
                            (st2, pe2) = space.back(&z2);
                        }
                        None => {
                            results[p].failed = Some((
                                time,
                                format!(
                                    "{} of {m} members healthy after the analysis at time {time}",
                                    m - bad2
                                ),
                            ));
                            continue;
                        }
                    }
                    results[p].replaced += bad2;
                }
                if !init {
                    moments[p] = posterior;
                }
                if !drift.is_empty() {
                    let times = &next_times[p];
                    let next = times.iter().find(|t| **t > time).copied();
                    if let Some(next) = next {
                        apply_drift(&space, &drift, next - time, &mut pe2, &mut drift_rngs[p]);
                    }
                }
                for (j, &s) in src.iter().enumerate() {
                    if s != j {
                        moves.push((p * m + j, p * m + s));
                        let col = params.column(c0 + s).into_owned();
                        params.set_column(c0 + j, &col);
                    }
                }
                state.columns_mut(c0, m).copy_from(&st2);
                for (k, &row) in est.iter().enumerate() {
                    for j in 0..m {
                        params[(row, c0 + j)] = pe2[(k, j)];
                    }
                }
                results[p].analyses += 1;
                let first_row = analyses.len();
                for (k, &i) in idx.iter().enumerate() {
                    let o = &patients[p].obs[i];
                    analyses.push(AnalysisRow {
                        patient: p,
                        time: o.time,
                        observable: o.item.observable.clone(),
                        observed: o.observed,
                        value: o.item.value.unwrap_or(f64::NAN),
                        sd: o.item.sd,
                        censored: o.censored,
                        forecast: fc[k],
                        analysis: (f64::NAN, f64::NAN),
                    });
                }
                pending.push((p, items, st2, first_row));
            }
            if !moves.is_empty() {
                let mut src_all: Vec<u32> = (0..total as u32).collect();
                for (to, from) in moves.drain(..) {
                    src_all[to] = from as u32;
                }
                ens.engine.copy_members(&src_all)?;
            }
            // Blocks of patients that failed here are written back as read.
            ens.write_state_ranges(&blocks, &state)?;
            ens.write_params_ranges(&blocks, &params)?;
        }
        let frame_after = if pending.is_empty() {
            frame
        } else {
            ens.engine.observe_ranges(&ranges)?
        };
        for (p, items, st2, first_row) in pending {
            let hx = obs::apply(
                &items,
                &frame_after[slot_of(p) * m * stride..(slot_of(p) + 1) * m * stride],
                n_ops,
                &st2,
                sites,
            );
            for k in 0..items.len() {
                analyses[first_row + k].analysis = scores::mean_sd(
                    &hx.row(k).iter().copied().collect::<Vec<_>>(),
                    &scores::equal(m),
                );
            }
        }
        for (r, slot) in later {
            samples[r][slot] = record(&frame_after, slot_of(requests[r].patient), requests[r].op);
        }
        if let (Some(pr), Some(reqs)) = (&mut prior, reqs) {
            pr.advance_to(s)?;
            let pf = pr.frame()?;
            for &(r, slot) in reqs {
                prior_samples[r][slot] = record(&pf, 0, requests[r].op);
            }
        }
        progress(done + 1, stops.len());
        if let Some(k) = ckpt.as_mut()
            && (done + 1) % k.every.max(1) == 0
            && done + 1 < stops.len()
        {
            let state = PatientState {
                stops: done + 1,
                ens: EngineState::capture(ens.engine.as_mut())?,
                prior: match &mut prior {
                    Some(pr) => Some(EngineState::capture(pr.engine.as_mut())?),
                    None => None,
                },
                results: results.clone(),
                started: started.clone(),
                moments: moments.clone(),
                samples: samples.clone(),
                prior_samples: prior_samples.clone(),
                analyses: analyses.clone(),
                rng: rngs
                    .iter()
                    .zip(&drift_rngs)
                    .map(|(f, d)| (f.get_word_pos(), d.get_word_pos()))
                    .collect(),
            };
            (k.save)(&state)?;
        }
    }
    // Each request's mixture quantiles are independent (bisection over
    // 128-member mixtures: the costliest host work after the step), so
    // they run on every core; `collect` keeps request order.
    let forecasts = requests
        .par_iter()
        .enumerate()
        .map(|(r, rq)| {
            let use_prior = results[rq.patient].failed.is_some();
            let src = if use_prior {
                &prior_samples[r]
            } else {
                &samples[r]
            };
            let members: Vec<f64> = if rq.frac > 0.0 {
                src[0]
                    .iter()
                    .zip(&src[1])
                    .map(|(a, b)| (1.0 - rq.frac) * a + rq.frac * b)
                    .collect()
            } else {
                src[0].clone()
            };
            let err: Option<&ErrorModel> = models.get(&rq.observable);
            let log = setup.section.log_observables.contains(&rq.observable);
            ForecastRow {
                patient: rq.patient,
                time: rq.time,
                observable: rq.observable.clone(),
                prior: use_prior,
                predictive: predictive(&members, err, log, levels),
                members,
            }
        })
        .collect();
    let params = ens.params()?;
    let mut posterior = Vec::new();
    for (k, e) in setup.estimate.iter().enumerate() {
        let scene_prior = summary(prior_plan.params.iter().map(|row| row[e.0]).collect());
        for p in 0..np {
            let prior_draws = prior_summary[p].as_ref().map_or(scene_prior, |s| s[k]);
            let (median, q05, q95) = summary((0..m).map(|j| params[(e.0, p * m + j)]).collect());
            posterior.push(PosteriorRow {
                patient: p,
                param: e.2.clone(),
                median,
                q05,
                q95,
                prior: prior_draws,
                bounds: space.bounds[k],
            });
        }
    }
    for (p, r) in results.iter().enumerate() {
        if r.failed.is_some() {
            moments[p] = None;
        }
    }
    Ok(PatientOutput {
        patients: results,
        analyses,
        forecasts,
        posterior,
        moments,
        prior_from,
        plan,
    })
}

/// The drifting estimated parameters: (row among the estimated ones, τ).
fn drift_rows(setup: &Setup) -> Result<Vec<(usize, f64)>, TwinError> {
    let Some(me) = &setup.section.model_error else {
        return Ok(Vec::new());
    };
    me.drift
        .iter()
        .filter(|(_, tau)| **tau > 0.0)
        .map(|(name, &tau)| {
            setup
                .estimate
                .iter()
                .position(|e| e.2 == *name)
                .map(|k| (k, tau))
                .ok_or_else(|| {
                    setup
                        .scene
                        .error_at(
                            &format!("assimilation.model_error.drift.{name}"),
                            format!(
                                "`{name}` drifts but is not estimated: patient runs drift \
                                 only parameters of [[assimilation.estimate]]"
                            ),
                        )
                        .into()
                })
        })
        .collect()
}

/// One random-walk step over `dt` of the drifting rows of `pe` (natural
/// units, rows: estimated parameters), taken in the analysis space and
/// clamped to the bounds.
fn apply_drift<R: rand::Rng + ?Sized>(
    space: &analysis::Space,
    drift: &[(usize, f64)],
    dt: f64,
    pe: &mut DMatrix<f64>,
    rng: &mut R,
) {
    use crate::methods::assim::joint::ParamScale;
    let s = dt.max(0.0).sqrt();
    for j in 0..pe.ncols() {
        for &(k, tau) in drift {
            let xi = crate::methods::assim::gauss::std_normal(rng);
            let (lo, hi) = space.bounds[k];
            let v = pe[(k, j)];
            let stepped = match space.scales[k] {
                ParamScale::Log => (v.max(analysis::LOG_FLOOR).ln() + tau * s * xi).exp(),
                ParamScale::Linear => v + tau * s * xi,
            };
            pe[(k, j)] = stepped.clamp(lo, hi);
        }
    }
}
