//! The CPU engine: every member advanced by the model's CPU twin, members in
//! parallel with rayon. The verification reference and the backend for
//! machines without a GPU. Never imports wgpu.
//!
//! Results do not depend on the thread count: members are independent and
//! each member's work is sequential.

use super::{Engine, EngineError, MemberStatus, ObsFrame, check_len};
use crate::model::StepCtx;
use crate::observe::{observe_member, saturated_at};
use crate::plan::Plan;
use rayon::prelude::*;

pub struct CpuEngine {
    plan: Plan,
    state: Vec<f32>,
    params: Vec<f32>,
    status: Vec<MemberStatus>,
    step: u64,
}

impl CpuEngine {
    pub fn new(plan: &Plan) -> CpuEngine {
        let n = plan.model.state_len();
        let np = plan.n_params();
        let params = plan.params_f32();
        let mut state = vec![0.0f32; n * plan.members as usize];
        // Keyed draws use the global member index (plan.rs, member offset).
        state.par_chunks_mut(n).enumerate().for_each(|(m, s)| {
            plan.model.init_member(
                plan.seed,
                plan.member_offset + m as u32,
                &params[m * np..(m + 1) * np],
                s,
            )
        });
        CpuEngine {
            status: vec![MemberStatus::Ok; plan.members as usize],
            plan: plan.clone(),
            state,
            params,
            step: 0,
        }
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
        self.state.par_chunks_mut(n).enumerate().for_each(|(m, s)| {
            if !status[m].is_ok() {
                return; // failed members are frozen, as on the GPU
            }
            let p = &params[m * np..(m + 1) * np];
            let mut other = vec![0.0f32; n];
            let mut in_s = true;
            for k in 0..steps {
                let ctx = StepCtx {
                    seed,
                    member: member_offset + m as u32,
                    step: (step0 + k) as u32,
                };
                if in_s {
                    model.step_cpu(&ctx, p, s, &mut other);
                } else {
                    model.step_cpu(&ctx, p, &other, s);
                }
                in_s = !in_s;
            }
            if !in_s {
                s.copy_from_slice(&other);
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
        out.par_chunks_mut(stride)
            .zip(self.state.par_chunks(n))
            .for_each(|(o, s)| observe_member(ops, &grid, s, o));
        let word = self.plan.model.status_word();
        for (m, o) in out.chunks(stride).enumerate() {
            if o[stride - 1] != 0.0 && self.status[m].is_ok() {
                self.status[m] = MemberStatus::Diverged { step: self.step };
            }
            if let Some(step) = saturated_at(&self.state[m * n..(m + 1) * n], word)
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

    fn read_state(&mut self) -> Result<Vec<f32>, EngineError> {
        Ok(self.state.clone())
    }

    fn write_state(&mut self, data: &[f32]) -> Result<(), EngineError> {
        check_len("write_state", data.len(), self.state.len())?;
        self.state.copy_from_slice(data);
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

    fn copy_members(&mut self, src: &[u32]) -> Result<(), EngineError> {
        check_len("copy_members", src.len(), self.members())?;
        let n = self.plan.model.state_len();
        let np = self.plan.n_params();
        if let Some(bad) = src.iter().find(|&&s| s as usize >= self.members()) {
            return Err(EngineError::Invalid(format!(
                "copy_members: no member {bad}"
            )));
        }
        let (state, params, status) =
            (self.state.clone(), self.params.clone(), self.status.clone());
        for (i, &s) in src.iter().enumerate() {
            let s = s as usize;
            self.state[i * n..(i + 1) * n].copy_from_slice(&state[s * n..(s + 1) * n]);
            self.params[i * np..(i + 1) * np].copy_from_slice(&params[s * np..(s + 1) * np]);
            self.status[i] = status[s];
        }
        Ok(())
    }
}
