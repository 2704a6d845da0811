//! Recording a run: advance an engine to each observation step, observe,
//! and keep the frames; then turn them into the long `observables` table,
//! the `status` table and the `params` table. Shared by every driver that
//! runs a plan to the end (`run`, `sweep`, `cohort`, `bench`).
//!
//! Owns: the observation loop and the table shapes. Never imports wgpu.

use crate::engine::{Engine, EngineError, MemberStatus};
use crate::observe::first_crossing_series;
use crate::plan::Plan;
use crate::table::{Table, Values};

/// Every observation of a run: frames[k] holds members × (ops + 1) values at
/// steps[k].
#[derive(Clone, Debug)]
pub struct Recording {
    pub steps: Vec<u64>,
    pub times: Vec<f64>,
    pub frames: Vec<Vec<f32>>,
    pub status: Vec<MemberStatus>,
    pub n_ops: usize,
}

/// Runs `engine` from its current step to the plan's end, observing at the
/// plan's observation steps. `progress(step)` is called after each chunk.
pub fn record(
    engine: &mut dyn Engine,
    progress: &mut dyn FnMut(u64),
) -> Result<Recording, EngineError> {
    let plan = engine.plan().clone();
    let mut steps = Vec::new();
    let mut frames = Vec::new();
    for s in plan.observation_steps() {
        if s < engine.step() {
            continue;
        }
        engine.advance(s - engine.step())?;
        frames.push(engine.observe()?);
        steps.push(s);
        progress(s);
    }
    let status = engine.status()?;
    let times = steps.iter().map(|&s| plan.model.time_at(s)).collect();
    Ok(Recording {
        steps,
        times,
        frames,
        status,
        n_ops: plan.observables.ops.len(),
    })
}

impl Recording {
    pub fn members(&self) -> usize {
        self.status.len()
    }

    /// The series of every observable (reductions, then derived) for one
    /// member, with None where the member had already failed.
    pub fn member_series(&self, plan: &Plan, member: usize) -> Vec<Vec<Option<f64>>> {
        let stride = self.n_ops + 1;
        let fail = self.status[member].step();
        let alive = |k: usize| fail.is_none_or(|f| self.steps[k] < f);
        let mut out: Vec<Vec<Option<f64>>> = (0..self.n_ops)
            .map(|op| {
                (0..self.steps.len())
                    .map(|k| alive(k).then(|| self.frames[k][member * stride + op] as f64))
                    .collect()
            })
            .collect();
        for d in &plan.observables.derived {
            let vals: Vec<f64> = out[d.of].iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            let fc = first_crossing_series(&self.times, &vals, d.threshold);
            out.push(
                fc.into_iter()
                    .enumerate()
                    .map(|(k, v)| v.filter(|_| alive(k)))
                    .collect(),
            );
        }
        out
    }

    /// Long table: member, step, time, observable, value (one row per
    /// member × observation step × observable, members outermost).
    pub fn observables_table(&self, plan: &Plan) -> Table {
        let names = plan.observables.names();
        let (mut member, mut step, mut time, mut obs, mut value) =
            (vec![], vec![], vec![], vec![], vec![]);
        for m in 0..self.members() {
            let series = self.member_series(plan, m);
            for (k, (&st, &tm)) in self.steps.iter().zip(&self.times).enumerate() {
                for (o, name) in names.iter().enumerate() {
                    member.push(Some(m as i64));
                    step.push(Some(st as i64));
                    time.push(Some(tm));
                    obs.push(Some(name.clone()));
                    value.push(series[o][k]);
                }
            }
        }
        let mut t = Table::new("observables");
        t.push_column("member", Values::I64(member))
            .push_column("step", Values::I64(step))
            .push_column("time", Values::F64(time))
            .push_column("observable", Values::Str(obs))
            .push_column("value", Values::F64(value));
        t
    }

    /// member, status, step (of failure, null when ok).
    pub fn status_table(&self) -> Table {
        let mut t = Table::new("status");
        t.push_column(
            "member",
            Values::I64((0..self.members() as i64).map(Some).collect()),
        )
        .push_column(
            "status",
            Values::Str(
                self.status
                    .iter()
                    .map(|s| Some(s.name().to_string()))
                    .collect(),
            ),
        )
        .push_column(
            "step",
            Values::I64(
                self.status
                    .iter()
                    .map(|s| s.step().map(|x| x as i64))
                    .collect(),
            ),
        );
        t
    }

    pub fn failed(&self) -> usize {
        self.status.iter().filter(|s| !s.is_ok()).count()
    }
}

/// member + one column per parameter, in the plan's block order.
pub fn params_table(plan: &Plan) -> Table {
    let mut t = Table::new("params");
    t.push_column(
        "member",
        Values::I64((0..plan.members as i64).map(Some).collect()),
    );
    for (j, p) in plan.block.params.iter().enumerate() {
        t.push_column(
            p.name.clone(),
            Values::F64(plan.params.iter().map(|r| Some(r[j])).collect()),
        );
    }
    t
}
