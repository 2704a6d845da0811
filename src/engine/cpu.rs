//! The CPU engine: every member advanced by the model's CPU twin, members in
//! parallel with rayon. The verification reference and the backend for
//! machines without a GPU. Never imports wgpu.
//!
//! Results do not depend on the thread count: members are independent and
//! each member's work is sequential.

use super::{Engine, EngineError, MemberStatus, ObsFrame, check_len};
use crate::core::model::StepCtx;
use crate::core::observe::{observe_member, saturated_at};
use crate::core::plan::Plan;
use crate::input::limits;
use rayon::prelude::*;

/// Members per batch of CPU state: as many as fit `limits::CPU_BATCH_BYTES`
/// (at least one).
pub fn batch_members(state_len: usize) -> usize {
    (limits::CPU_BATCH_BYTES / (state_len.max(1) as u64 * 4)).max(1) as usize
}

pub struct CpuEngine {
    plan: Plan,
    /// Member state in batches of `per` members (the last may hold fewer),
    /// so no single allocation exceeds `limits::CPU_BATCH_BYTES`.
    state: Vec<Vec<f32>>,
    per: usize,
    params: Vec<f32>,
    status: Vec<MemberStatus>,
    step: u64,
}

impl CpuEngine {
    /// An engine for `plan`; panics where [`CpuEngine::try_new`] errs
    /// (tests and benches with small plans).
    pub fn new(plan: &Plan) -> CpuEngine {
        match CpuEngine::try_new(plan) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        }
    }

    /// An engine for `plan`, refusing (before allocating) state that does
    /// not fit the host's available memory, and allocating it in batches
    /// with fallible allocation.
    pub fn try_new(plan: &Plan) -> Result<CpuEngine, EngineError> {
        CpuEngine::try_with_batch(plan, batch_members(plan.model.state_len()))
    }

    /// [`CpuEngine::try_new`] with `per` members per state batch (tests
    /// show that the batch size never changes results).
    pub fn try_with_batch(plan: &Plan, per: usize) -> Result<CpuEngine, EngineError> {
        let n = plan.model.state_len();
        let np = plan.n_params();
        let members = plan.members as usize;
        let state_bytes = (members as u64).saturating_mul(n as u64).saturating_mul(4);
        limits::check_host_memory(
            &format!("the CPU backend's state of {members} members"),
            state_bytes,
        )
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let per = per.clamp(1, members.max(1));
        let params = plan.params_f32();
        let mut state = Vec::with_capacity(members.div_ceil(per));
        for b in 0..members.div_ceil(per) {
            let count = per.min(members - b * per);
            let mut batch = limits::try_zeroed(count * n, "the CPU backend's member state")
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            // Keyed draws use the global member index (plan.rs, member offset).
            batch
                .par_chunks_mut(n.max(1))
                .enumerate()
                .for_each(|(i, s)| {
                    let m = b * per + i;
                    plan.model.init_member(
                        plan.seed,
                        plan.member_offset + m as u32,
                        &params[m * np..(m + 1) * np],
                        s,
                    )
                });
            state.push(batch);
        }
        Ok(CpuEngine {
            status: vec![MemberStatus::Ok; members],
            plan: plan.clone(),
            state,
            per,
            params,
            step: 0,
        })
    }

    /// Member `m`'s state words.
    fn member(&self, m: usize) -> &[f32] {
        let n = self.plan.model.state_len();
        let (b, i) = (m / self.per, m % self.per);
        &self.state[b][i * n..(i + 1) * n]
    }

    fn member_mut(&mut self, m: usize) -> &mut [f32] {
        let n = self.plan.model.state_len();
        let (b, i) = (m / self.per, m % self.per);
        &mut self.state[b][i * n..(i + 1) * n]
    }
}

impl Engine for CpuEngine {
    fn backend(&self) -> &'static str {
        "cpu"
    }

    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn step(&self) -> u64 {
        self.step
    }

    fn set_step(&mut self, step: u64) {
        self.step = step;
    }

    fn advance(&mut self, steps: u64) -> Result<(), EngineError> {
        let n = self.plan.model.state_len();
        let np = self.plan.n_params();
        let model = &self.plan.model;
        let step0 = self.step;
        let params = &self.params;
        let status = &self.status;
        let (seed, member_offset) = (self.plan.seed, self.plan.member_offset);
        let per = self.per;
        let members = self
            .state
            .iter_mut()
            .enumerate()
            .flat_map(|(b, batch)| {
                batch
                    .chunks_mut(n)
                    .enumerate()
                    .map(move |(i, s)| (b * per + i, s))
            })
            .collect::<Vec<_>>();
        // One scratch buffer per rayon job, zeroed per member exactly as a
        // fresh one: no allocation per member and step call (a patient run
        // advances 10⁶ members hundreds of times).
        members
            .into_par_iter()
            .for_each_init(Vec::new, |other, (m, s)| {
                if !status[m].is_ok() {
                    return; // failed members are frozen, as on the GPU
                }
                let p = &params[m * np..(m + 1) * np];
                other.clear();
                other.resize(n, 0.0f32);
                let mut in_s = true;
                for k in 0..steps {
                    let ctx = StepCtx {
                        seed,
                        member: member_offset + m as u32,
                        step: (step0 + k) as u32,
                    };
                    if in_s {
                        model.step_cpu(&ctx, p, s, other);
                    } else {
                        model.step_cpu(&ctx, p, other, s);
                    }
                    in_s = !in_s;
                }
                if !in_s {
                    s.copy_from_slice(other);
                }
            });
        self.step += steps;
        Ok(())
    }

    fn observe(&mut self) -> Result<ObsFrame, EngineError> {
        let n = self.plan.model.state_len();
        let ops = &self.plan.observables.ops;
        let stride = ops.len() + 1;
        let grid = self.plan.model.grid();
        let mut out = vec![0.0f32; self.members() * stride];
        let per = self.per;
        out.par_chunks_mut(stride).enumerate().for_each(|(m, o)| {
            let (b, i) = (m / per, m % per);
            observe_member(ops, &grid, &self.state[b][i * n..(i + 1) * n], o)
        });
        let word = self.plan.model.status_word();
        for (m, o) in out.chunks(stride).enumerate() {
            if o[stride - 1] != 0.0 && self.status[m].is_ok() {
                self.status[m] = MemberStatus::Diverged { step: self.step };
            }
            if let Some(step) = saturated_at(self.member(m), word)
                && self.status[m].is_ok()
            {
                self.status[m] = MemberStatus::Saturated { step };
            }
        }
        Ok(out)
    }

    fn observe_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<ObsFrame, EngineError> {
        crate::engine::check_ranges(ranges, self.members())?;
        let n = self.plan.model.state_len();
        let ops = &self.plan.observables.ops;
        let stride = ops.len() + 1;
        let grid = self.plan.model.grid();
        let listed: Vec<usize> = ranges.iter().flat_map(|r| r.clone()).collect();
        let mut out = vec![0.0f32; listed.len() * stride];
        let per = self.per;
        out.par_chunks_mut(stride)
            .zip(listed.par_iter())
            .for_each(|(o, &m)| {
                let (b, i) = (m / per, m % per);
                observe_member(ops, &grid, &self.state[b][i * n..(i + 1) * n], o)
            });
        let word = self.plan.model.status_word();
        for (o, &m) in out.chunks(stride).zip(&listed) {
            if o[stride - 1] != 0.0 && self.status[m].is_ok() {
                self.status[m] = MemberStatus::Diverged { step: self.step };
            }
            if let Some(step) = saturated_at(self.member(m), word)
                && self.status[m].is_ok()
            {
                self.status[m] = MemberStatus::Saturated { step };
            }
        }
        Ok(out)
    }

    fn status(&mut self) -> Result<Vec<MemberStatus>, EngineError> {
        Ok(self.status.clone())
    }

    fn status_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<MemberStatus>, EngineError> {
        crate::engine::check_ranges(ranges, self.members())?;
        Ok(ranges
            .iter()
            .flat_map(|r| self.status[r.clone()].iter().copied())
            .collect())
    }

    fn write_status(&mut self, status: &[MemberStatus]) -> Result<(), EngineError> {
        check_len("write_status", status.len(), self.status.len())?;
        self.status.copy_from_slice(status);
        Ok(())
    }

    fn read_state(&mut self) -> Result<Vec<f32>, EngineError> {
        let total: usize = self.state.iter().map(Vec::len).sum();
        let mut out = Vec::new();
        out.try_reserve_exact(total).map_err(|_| {
            EngineError::Invalid(format!(
                "cannot allocate {} to read the member state",
                limits::human_bytes(total as u64 * 4)
            ))
        })?;
        for b in &self.state {
            out.extend_from_slice(b);
        }
        Ok(out)
    }

    fn write_state(&mut self, data: &[f32]) -> Result<(), EngineError> {
        let total: usize = self.state.iter().map(Vec::len).sum();
        check_len("write_state", data.len(), total)?;
        let mut at = 0;
        for b in &mut self.state {
            let len = b.len();
            b.copy_from_slice(&data[at..at + len]);
            at += len;
        }
        Ok(())
    }

    fn read_params(&mut self) -> Result<Vec<f32>, EngineError> {
        Ok(self.params.clone())
    }

    fn write_params(&mut self, data: &[f32]) -> Result<(), EngineError> {
        check_len("write_params", data.len(), self.params.len())?;
        self.params.copy_from_slice(data);
        Ok(())
    }

    fn read_state_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<f32>, EngineError> {
        crate::engine::check_ranges(ranges, self.members())?;
        let n = self.plan.model.state_len();
        let mut out = Vec::with_capacity(crate::engine::ranges_len(ranges) * n);
        for r in ranges {
            for m in r.clone() {
                out.extend_from_slice(self.member(m));
            }
        }
        Ok(out)
    }

    fn write_state_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
    ) -> Result<(), EngineError> {
        crate::engine::check_ranges(ranges, self.members())?;
        let n = self.plan.model.state_len();
        check_len(
            "write_state_ranges",
            data.len(),
            crate::engine::ranges_len(ranges) * n,
        )?;
        let mut rows = data.chunks(n.max(1));
        for r in ranges {
            for m in r.clone() {
                if n > 0 {
                    self.member_mut(m)
                        .copy_from_slice(rows.next().expect("checked length"));
                }
            }
        }
        Ok(())
    }

    fn read_params_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<f32>, EngineError> {
        crate::engine::check_ranges(ranges, self.members())?;
        let np = self.plan.n_params();
        Ok(crate::engine::pick_ranges(&self.params, ranges, np))
    }

    fn write_params_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
    ) -> Result<(), EngineError> {
        crate::engine::check_ranges(ranges, self.members())?;
        let np = self.plan.n_params();
        check_len(
            "write_params_ranges",
            data.len(),
            crate::engine::ranges_len(ranges) * np,
        )?;
        crate::engine::put_ranges(&mut self.params, ranges, np, data);
        Ok(())
    }

    fn copy_members(&mut self, src: &[u32]) -> Result<(), EngineError> {
        check_len("copy_members", src.len(), self.members())?;
        let n = self.plan.model.state_len();
        let np = self.plan.n_params();
        if let Some(bad) = src.iter().find(|&&s| s as usize >= self.members()) {
            return Err(EngineError::Invalid(format!(
                "copy_members: no member {bad}"
            )));
        }
        // Only the members that move: their sources are copied out first,
        // so a member that is both a source and a target gives its old
        // values (a large ensemble with a few replacements copies little).
        let moves: Vec<(usize, usize)> = src
            .iter()
            .enumerate()
            .filter(|(i, s)| **s as usize != *i)
            .map(|(i, &s)| (i, s as usize))
            .collect();
        let saved: Vec<(Vec<f32>, Vec<f32>, MemberStatus)> = moves
            .iter()
            .map(|&(_, s)| {
                (
                    self.member(s).to_vec(),
                    self.params[s * np..(s + 1) * np].to_vec(),
                    self.status[s],
                )
            })
            .collect();
        for (&(i, _), (st, pa, status)) in moves.iter().zip(saved) {
            if n > 0 {
                self.member_mut(i).copy_from_slice(&st);
            }
            self.params[i * np..(i + 1) * np].copy_from_slice(&pa);
            self.status[i] = status;
        }
        Ok(())
    }
}
