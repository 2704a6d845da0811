//! The simulator port: parameter rows in, recordings out. The one plug-in
//! point between the methods that need a model run (calibration, cohorts,
//! the sweep) and the engine.
//!
//! A [`Batch`] is one ensemble run: full parameter vectors (block order),
//! the arm, the member offset of its first row (row i is global member
//! `member_offset + i` for every keyed draw) and the seed. A [`Simulator`]
//! answers with [`Recordings`]: per row a [`RowStatus`] and the series of
//! every observable at the recorded steps. [`EnginePort`] is the
//! implementation over a [`Backend`]; test doubles build [`Recordings`]
//! from series ([`Recordings::from_series`]) or are closures.
//!
//! Owns: the port, its one error type ([`SimulatorError`]) and the
//! engine-backed implementation. Never imports wgpu (engines come from the
//! backend).

use super::{Engine, EngineError, MemberStatus};
use crate::core::observe::FirstCrossing;
use crate::core::plan::{Plan, PlanOptions};
use crate::engine::backend::Backend;
use crate::engine::record::{self, Recording};
use crate::input::scene::Scene;

/// Why a simulator could not simulate a batch, as opposed to a row failing
/// (a row whose [`RowStatus`] is not ok).
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The engine could not be built or failed while running.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A parameter row does not have one value per parameter of the plan.
    #[error("parameter row {row} has {got} values, the plan has {expected} parameters")]
    RowLength {
        row: usize,
        got: usize,
        expected: usize,
    },
    /// Any other simulator's own error (a driver's, or one outside this crate).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl SimulatorError {
    /// A simulator-specific error from its message.
    pub fn msg(message: impl Into<String>) -> Self {
        SimulatorError::Other(message.into().into())
    }
}

/// One ensemble run asked of a [`Simulator`].
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// One full parameter vector per row, over every parameter of the
    /// block, in block order.
    pub rows: &'a [Vec<f64>],
    /// The arm to run under; None: the simulator's own (the scene's first
    /// arm, or the one its plan was frozen with).
    pub arm: Option<&'a str>,
    /// Row i is global member `member_offset + i` for every keyed draw.
    pub member_offset: u32,
    pub seed: u64,
}

/// What became of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowStatus {
    /// The row ran as a member; its status.
    Ran(MemberStatus),
    /// The row was not run: the model's explicit scheme cannot run it
    /// stably for the time step ([`EnginePort::refusing_unstable`]).
    Unstable,
}

impl RowStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, RowStatus::Ran(MemberStatus::Ok))
    }

    /// Lowercase name, as the `status` columns write it.
    pub fn name(&self) -> &'static str {
        match self {
            RowStatus::Ran(s) => s.name(),
            RowStatus::Unstable => "unstable",
        }
    }
}

/// The recordings of one batch: every row's status and the series of every
/// observable (reductions, then derived) at the recorded steps.
#[derive(Clone, Debug)]
pub struct Recordings {
    /// Observable names, in series order.
    pub observables: Vec<String>,
    pub steps: Vec<u64>,
    pub times: Vec<f64>,
    /// One per row of the batch, in row order.
    pub status: Vec<RowStatus>,
    data: Data,
}

#[derive(Clone, Debug)]
enum Data {
    /// An engine's recording; `member[row]` is the row's member in it
    /// (None for a row that was not run).
    Engine {
        rec: Recording,
        derived: Vec<FirstCrossing>,
        member: Vec<Option<usize>>,
    },
    /// Series given row by row (observable × step).
    Series(Vec<Vec<Vec<Option<f64>>>>),
    /// Parts laid end to end (rows of the first, then of the second, …).
    Concat(Vec<Recordings>),
}

impl Recordings {
    /// Recordings of a plan run where row i is member i.
    pub fn from_recording(plan: &Plan, rec: Recording) -> Recordings {
        let member = (0..rec.members()).map(Some).collect();
        Self::engine(plan, rec, member, None)
    }

    fn engine(
        plan: &Plan,
        rec: Recording,
        member: Vec<Option<usize>>,
        status: Option<Vec<RowStatus>>,
    ) -> Recordings {
        let status =
            status.unwrap_or_else(|| rec.status.iter().map(|s| RowStatus::Ran(*s)).collect());
        Recordings {
            observables: plan.observables.names(),
            steps: rec.steps.clone(),
            times: rec.times.clone(),
            status,
            data: Data::Engine {
                rec,
                derived: plan.observables.derived.clone(),
                member,
            },
        }
    }

    /// Recordings given as series: `series[row][observable][step]`, None
    /// where the row had no value (a test double, a simulator outside the
    /// engine).
    pub fn from_series(
        observables: Vec<String>,
        steps: Vec<u64>,
        times: Vec<f64>,
        status: Vec<RowStatus>,
        series: Vec<Vec<Vec<Option<f64>>>>,
    ) -> Recordings {
        Recordings {
            observables,
            steps,
            times,
            status,
            data: Data::Series(series),
        }
    }

    /// Recordings of one observation (step 0, time 0) per row: row i's
    /// values (observables named `0`, `1`, …), None for a row that failed
    /// (diverged at step 0). A test double's answer.
    pub fn from_values(rows: Vec<Option<Vec<f64>>>) -> Recordings {
        let n = rows.iter().flatten().map(Vec::len).max().unwrap_or(0);
        let status = rows
            .iter()
            .map(|r| match r {
                Some(_) => RowStatus::Ran(MemberStatus::Ok),
                None => RowStatus::Ran(MemberStatus::Diverged { step: 0 }),
            })
            .collect();
        let series = rows
            .into_iter()
            .map(|r| {
                r.unwrap_or_default()
                    .into_iter()
                    .map(|v| vec![Some(v)])
                    .collect()
            })
            .collect();
        let names = (0..n).map(|i| i.to_string()).collect();
        Self::from_series(names, vec![0], vec![0.0], status, series)
    }

    /// Recordings laid end to end: the rows of `parts[0]`, then of
    /// `parts[1]`, …; every part must record `observables` at the same
    /// steps (chunks of one batch).
    pub fn concat(observables: Vec<String>, parts: Vec<Recordings>) -> Recordings {
        let (steps, times) = match parts.first() {
            Some(p) => (p.steps.clone(), p.times.clone()),
            None => (vec![], vec![]),
        };
        Recordings {
            observables,
            steps,
            times,
            status: parts
                .iter()
                .flat_map(|p| p.status.iter().copied())
                .collect(),
            data: Data::Concat(parts),
        }
    }

    pub fn rows(&self) -> usize {
        self.status.len()
    }

    /// Rows that did not end ok (failed members and rows not run).
    pub fn failed(&self) -> usize {
        self.status.iter().filter(|s| !s.is_ok()).count()
    }

    /// The series of every observable for one row (observable × step),
    /// None where the member had already failed; all None for a row that
    /// was not run.
    pub fn series(&self, row: usize) -> Vec<Vec<Option<f64>>> {
        match &self.data {
            Data::Series(s) => s[row].clone(),
            Data::Concat(parts) => {
                let mut row = row;
                for p in parts {
                    if row < p.rows() {
                        return p.series(row);
                    }
                    row -= p.rows();
                }
                panic!("row out of range")
            }
            Data::Engine {
                rec,
                derived,
                member,
            } => match member[row] {
                Some(m) => rec.series_with(derived, m),
                None => vec![vec![None; self.steps.len()]; self.observables.len()],
            },
        }
    }

    /// The engine's recording behind these recordings, when every row ran
    /// as the member of the same index (what the `run`-style tables are
    /// written from).
    pub fn recording(&self) -> Option<&Recording> {
        match &self.data {
            Data::Engine { rec, member, .. }
                if member.iter().enumerate().all(|(i, m)| *m == Some(i)) =>
            {
                Some(rec)
            }
            _ => None,
        }
    }
}

/// Runs batches and hands back their recordings.
pub trait Simulator {
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError>;
}

impl<F> Simulator for F
where
    F: FnMut(&Batch<'_>) -> Result<Recordings, SimulatorError>,
{
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        self(batch)
    }
}

/// A simulator that computes each row's values with a function (None: the
/// row failed) and ignores arm, member offset and seed: the known-answer
/// test doubles of the methods (f(θ) = θ and the like), no engine.
pub struct PerRow<F>(pub F);

impl<F> Simulator for PerRow<F>
where
    F: FnMut(&[f64]) -> Option<Vec<f64>>,
{
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        Ok(Recordings::from_values(
            batch.rows.iter().map(|t| (self.0)(t)).collect(),
        ))
    }
}

/// How [`EnginePort`] records a built engine (default:
/// [`record::record`]); a driver's own recorder saves checkpoints or
/// reports progress.
pub type Recorder<'a> =
    dyn FnMut(&mut dyn Engine, &Batch<'_>) -> Result<Recording, SimulatorError> + 'a;

/// Where [`EnginePort`] gets each batch's plan.
enum PlanSource<'a> {
    /// Frozen from the scene per batch (rows, arm, offset and seed as
    /// plan options).
    Scene(&'a Scene),
    /// A frozen plan with its member table replaced (`Plan::with_params`)
    /// and the batch's seed and offset; its arm is fixed.
    Base(Box<Plan>),
}

/// The simulator port over a [`Backend`]: each batch becomes one plan
/// (members = rows) run to its end and recorded.
pub struct EnginePort<'a> {
    backend: &'a Backend,
    plans: PlanSource<'a>,
    batch_size: Option<u32>,
    refuse_unstable: bool,
    recorder: Option<Box<Recorder<'a>>>,
}

impl<'a> EnginePort<'a> {
    /// Plans frozen from `scene` per batch. `batch_size` caps members per
    /// GPU batch.
    pub fn from_scene(scene: &'a Scene, backend: &'a Backend, batch_size: Option<u32>) -> Self {
        Self::with(PlanSource::Scene(scene), backend, batch_size)
    }

    /// Plans made from `plan` (its arm, observables and cadence) with the
    /// batch's rows, seed and member offset.
    pub fn from_plan(plan: Plan, backend: &'a Backend, batch_size: Option<u32>) -> Self {
        Self::with(PlanSource::Base(Box::new(plan)), backend, batch_size)
    }

    fn with(plans: PlanSource<'a>, backend: &'a Backend, batch_size: Option<u32>) -> Self {
        EnginePort {
            backend,
            plans,
            batch_size,
            refuse_unstable: false,
            recorder: None,
        }
    }

    /// Rows the model's explicit scheme cannot run stably (its
    /// `check_stability` refuses them) are not run: they come back
    /// [`RowStatus::Unstable`] and the others run as members in row order.
    pub fn refusing_unstable(mut self) -> Self {
        self.refuse_unstable = true;
        self
    }

    /// Records each engine with `recorder` instead of [`record::record`].
    pub fn with_recorder(
        mut self,
        recorder: impl FnMut(&mut dyn Engine, &Batch<'_>) -> Result<Recording, SimulatorError> + 'a,
    ) -> Self {
        self.set_recorder(recorder);
        self
    }

    /// As [`EnginePort::with_recorder`], in place.
    pub fn set_recorder(
        &mut self,
        recorder: impl FnMut(&mut dyn Engine, &Batch<'_>) -> Result<Recording, SimulatorError> + 'a,
    ) {
        self.recorder = Some(Box::new(recorder));
    }

    /// The base plan ([`EnginePort::from_plan`]).
    pub fn base_plan(&self) -> Option<&Plan> {
        match &self.plans {
            PlanSource::Base(p) => Some(p),
            PlanSource::Scene(_) => None,
        }
    }

    /// The plan a batch runs as (`rows` its members).
    pub fn plan_for(&self, batch: &Batch<'_>, rows: Vec<Vec<f64>>) -> Result<Plan, SimulatorError> {
        match &self.plans {
            PlanSource::Scene(scene) => Plan::freeze(
                scene,
                &PlanOptions {
                    members: None,
                    seed: Some(batch.seed),
                    arm: batch.arm.map(str::to_string),
                    member_params: Some(rows),
                    member_offset: batch.member_offset,
                },
            )
            .map_err(|e| SimulatorError::Other(Box::new(e))),
            PlanSource::Base(base) => {
                if let Some(arm) = batch.arm
                    && arm != base.arm.name
                {
                    return Err(SimulatorError::msg(format!(
                        "this simulator runs arm `{}`, not `{arm}`",
                        base.arm.name
                    )));
                }
                let mut p = base.clone();
                p.seed = batch.seed;
                p.member_offset = batch.member_offset;
                Ok(p.with_params(rows))
            }
        }
    }
}

impl Simulator for EnginePort<'_> {
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        let mut run = vec![true; batch.rows.len()];
        if let PlanSource::Base(base) = &self.plans {
            let n_params = base.n_params();
            if let Some((i, t)) = batch
                .rows
                .iter()
                .enumerate()
                .find(|(_, t)| t.len() != n_params)
            {
                return Err(SimulatorError::RowLength {
                    row: i,
                    got: t.len(),
                    expected: n_params,
                });
            }
            if self.refuse_unstable {
                for (r, t) in run.iter_mut().zip(batch.rows) {
                    let row: Vec<f32> = t.iter().map(|&v| v as f32).collect();
                    *r = base.model.check_stability(&[row]).is_ok();
                }
                if !run.iter().any(|r| *r) {
                    return Ok(Recordings::from_series(
                        base.observables.names(),
                        vec![],
                        vec![],
                        vec![RowStatus::Unstable; run.len()],
                        vec![vec![]; run.len()],
                    ));
                }
            }
        }
        let all = run.iter().all(|r| *r);
        let rows: Vec<Vec<f64>> = match all {
            true => batch.rows.to_vec(),
            false => (batch.rows.iter().zip(&run))
                .filter(|(_, r)| **r)
                .map(|(t, _)| t.clone())
                .collect(),
        };
        let plan = self.plan_for(batch, rows)?;
        let mut engine = self.backend.engine(&plan, self.batch_size)?;
        let rec = match self.recorder.as_mut() {
            Some(r) => r(engine.as_mut(), batch)?,
            None => record::record(engine.as_mut(), &mut |_| {})?,
        };
        if all {
            return Ok(Recordings::from_recording(&plan, rec));
        }
        let mut next = 0;
        let member: Vec<Option<usize>> = run
            .iter()
            .map(|&r| {
                r.then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        let status = member
            .iter()
            .map(|m| match m {
                Some(m) => RowStatus::Ran(rec.status[*m]),
                None => RowStatus::Unstable,
            })
            .collect();
        Ok(Recordings::engine(&plan, rec, member, Some(status)))
    }
}
