//! Recording a run: advance an engine to each observation step, observe,
//! and keep the frames; then turn them into the long `observables` table,
//! the `status` table and the `params` table; and the final-state
//! snapshots of `--save-fields` (each member's field words, the `agents`
//! table of agent-based models). Shared by every driver that
//! runs a plan to the end (`run`, `sweep`, `cohort`, `bench`).
//!
//! Owns: the observation loop and the table shapes. Never imports wgpu.

use crate::core::model::{AGENT_STATES, AGENT_TYPES, AgentRow};
use crate::core::observe::{FirstCrossing, first_crossing_series};
use crate::core::plan::Plan;
use crate::engine::{Engine, EngineError, MemberStatus};
use crate::output::table::{Table, Values};
use std::borrow::Cow;

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
    record_with(engine, progress, &mut |_, _, _| Ok(()))
}

/// What [`record_with`] calls after each observation.
pub type AtObservation<'a, E> = dyn FnMut(&mut dyn Engine, usize, u64) -> Result<(), E> + 'a;

/// [`record`], calling `at_observation(engine, k, step)` after the k-th
/// observation (step `step`) has been taken, e.g. to save snapshots of the
/// state (`run --save-fields --every K`).
pub fn record_with<E: From<EngineError>>(
    engine: &mut dyn Engine,
    progress: &mut dyn FnMut(u64),
    at_observation: &mut AtObservation<'_, E>,
) -> Result<Recording, E> {
    record_from(
        engine,
        Vec::new(),
        Vec::new(),
        None,
        progress,
        at_observation,
    )
}

/// What [`Checkpointing`] calls: `save(engine, steps, frames)` with the
/// observations recorded so far.
pub type SaveCheckpoint<'a, E> =
    dyn FnMut(&mut dyn Engine, &[u64], &[Vec<f32>]) -> Result<(), E> + 'a;

/// What [`record_from`] calls every `every` steps (`--checkpoint-every`).
pub struct Checkpointing<'a, E> {
    pub every: u64,
    pub save: &'a mut SaveCheckpoint<'a, E>,
}

/// [`record_with`] continuing a recording: `steps`/`frames` are the
/// observations already taken (a restored checkpoint; the engine stands at
/// the checkpoint's step), and with `checkpoint` the engine also stops at
/// every multiple of `every` steps to save one (after the observation when
/// both fall on the same step). Stopping there only splits `advance` calls,
/// which never changes results (members' draws are keyed by the step).
pub fn record_from<E: From<EngineError>>(
    engine: &mut dyn Engine,
    mut steps: Vec<u64>,
    mut frames: Vec<Vec<f32>>,
    mut checkpoint: Option<Checkpointing<'_, E>>,
    progress: &mut dyn FnMut(u64),
    at_observation: &mut AtObservation<'_, E>,
) -> Result<Recording, E> {
    let plan = engine.plan().clone();
    let done = steps.len();
    for (k, s) in plan.observation_steps().into_iter().enumerate() {
        if k < done || s < engine.step() {
            continue;
        }
        crate::engine::check_interrupt()?;
        if let Some(c) = checkpoint.as_mut().filter(|c| c.every > 0) {
            loop {
                let next = (engine.step() / c.every + 1) * c.every;
                if next >= s {
                    break;
                }
                crate::engine::check_interrupt()?;
                engine.advance(next - engine.step())?;
                (c.save)(engine, &steps, &frames)?;
                progress(next);
            }
        }
        engine.advance(s - engine.step())?;
        frames.push(engine.observe()?);
        steps.push(s);
        at_observation(engine, k, s)?;
        if let Some(c) = checkpoint
            .as_mut()
            .filter(|c| c.every > 0 && s > 0 && s % c.every == 0)
        {
            (c.save)(engine, &steps, &frames)?;
        }
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

/// The observations (indices into `Plan::observation_steps`, `count` of
/// them) at which `--save-fields --every K` saves a snapshot: the first,
/// every K-th after it, and the last (the final state), each once.
pub fn snapshot_indices(count: usize, every: usize) -> Vec<usize> {
    if count == 0 {
        return vec![];
    }
    let mut v: Vec<usize> = (0..count).step_by(every.max(1)).collect();
    if v.last() != Some(&(count - 1)) {
        v.push(count - 1);
    }
    v
}

impl Recording {
    pub fn members(&self) -> usize {
        self.status.len()
    }

    /// The series of every observable (reductions, then derived) for one
    /// member, with None where the member had already failed.
    pub fn member_series(&self, plan: &Plan, member: usize) -> Vec<Vec<Option<f64>>> {
        self.series_with(&plan.observables.derived, member)
    }

    /// [`Recording::member_series`] given the plan's derived observables.
    pub fn series_with(&self, derived: &[FirstCrossing], member: usize) -> Vec<Vec<Option<f64>>> {
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
        for d in derived {
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

/// The field words of every member of a whole state (members × state_len
/// words, as `Engine::read_state` returns it): members × fields × ny × nx.
/// A model whose state is longer than its grid (agent-based models keep a
/// header and an agent pool after the fields) has the rest dropped; a grid
/// model's state is returned as it is.
pub fn member_fields<'a>(plan: &Plan, state: &'a [f32]) -> Cow<'a, [f32]> {
    let (n, g) = (plan.model.state_len(), plan.model.grid().len());
    if n == g {
        return Cow::Borrowed(state);
    }
    Cow::Owned(
        state
            .chunks_exact(n)
            .flat_map(|s| &s[..g])
            .copied()
            .collect(),
    )
}

/// The agents of every member of a whole state, or None for a model without
/// agents (`Model::agents`). Members that failed keep the agents they had
/// when they were frozen.
pub fn member_agents(plan: &Plan, state: &[f32]) -> Option<Vec<Vec<AgentRow>>> {
    let n = plan.model.state_len();
    let params = plan.params_f32();
    let np = plan.block.params.len();
    (0..plan.members as usize)
        .map(|m| {
            plan.model
                .agents(&params[m * np..(m + 1) * np], &state[m * n..(m + 1) * n])
        })
        .collect()
}

/// The name of an agent code in `names` (`AGENT_TYPES`, `AGENT_STATES`),
/// or None for a code without one.
pub fn code_name(names: &[&'static str], code: u8) -> Option<&'static str> {
    names.get(code as usize).copied()
}

/// member (global index: the plan's member offset + m), agent (its id),
/// x, y (in the model's length unit), type, state (`model::AGENT_TYPES`,
/// `model::AGENT_STATES` names): one row per agent, members outermost,
/// agents in pool order.
pub fn agents_table(plan: &Plan, agents: &[Vec<AgentRow>]) -> Table {
    let rows = agents.iter().map(Vec::len).sum();
    let (mut member, mut id, mut x, mut y, mut kind, mut state) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for (m, list) in agents.iter().enumerate() {
        for a in list {
            member.push(Some(i64::from(plan.member_offset) + m as i64));
            id.push(Some(i64::from(a.id)));
            x.push(Some(f64::from(a.x)));
            y.push(Some(f64::from(a.y)));
            kind.push(code_name(&AGENT_TYPES, a.kind).map(String::from));
            state.push(code_name(&AGENT_STATES, a.state).map(String::from));
        }
    }
    let mut t = Table::new("agents");
    t.push_column("member", Values::I64(member))
        .push_column("agent", Values::I64(id))
        .push_column("x", Values::F64(x))
        .push_column("y", Values::F64(y))
        .push_column("type", Values::Str(kind))
        .push_column("state", Values::Str(state));
    t
}

#[cfg(test)]
mod tests {
    use super::snapshot_indices;

    /// 11 observations (steps 0, 10, …, 100) every 5: steps 0, 50 and 100;
    /// every 4: 0, 40, 80 and the final 100; every 1: all of them.
    #[test]
    fn snapshots_every_k_observations_and_the_last() {
        assert_eq!(snapshot_indices(11, 5), vec![0, 5, 10]);
        assert_eq!(snapshot_indices(11, 4), vec![0, 4, 8, 10]);
        assert_eq!(snapshot_indices(3, 1), vec![0, 1, 2]);
        assert_eq!(snapshot_indices(3, 100), vec![0, 2]);
        assert_eq!(snapshot_indices(1, 3), vec![0]);
        assert!(snapshot_indices(0, 3).is_empty());
    }
}
