//! [`BatchSimulator`] over the engine: one call runs the batch's parameter
//! vectors as one ensemble (member i = row i, the call's seed as the
//! plan's seed), records it and returns each member's simulated values at
//! the data rows ([`super::simulated_values`]).
//!
//! Rows the model's explicit scheme cannot run stably (its
//! `check_stability` refuses them) are not simulated and come back as
//! failed, as do members that diverge; [`SimStats`] counts both.
//!
//! Owns: this adapter. Never imports wgpu (engines come from the
//! [`Backend`]).

use super::targets::{Target, simulated_values};
use crate::backend::Backend;
use crate::calibrate::{BatchSimulator, SimulatorError};
use crate::plan::Plan;
use crate::record::record;

/// What the simulator has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Ensemble runs (one per call with at least one stable row).
    pub batches: usize,
    /// Rows asked for.
    pub rows: usize,
    /// Rows refused as unstable for the time step.
    pub unstable: usize,
    /// Members that ran but failed (diverged, saturated, no value).
    pub failed: usize,
}

/// The engine as a calibration simulator.
pub struct EngineSimulator<'a> {
    backend: &'a Backend,
    plan: Plan,
    targets: Vec<Target>,
    batch_size: Option<u32>,
    pub stats: SimStats,
}

impl<'a> EngineSimulator<'a> {
    /// `plan` must already carry the targets' observables and cadence
    /// ([`super::attach_targets`]); its member table is replaced per call.
    pub fn new(
        backend: &'a Backend,
        plan: Plan,
        targets: Vec<Target>,
        batch_size: Option<u32>,
    ) -> Self {
        EngineSimulator {
            backend,
            plan,
            targets,
            batch_size,
            stats: SimStats::default(),
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The observed values and their sd's, in target order.
    pub fn observed(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.targets.iter().map(|t| t.value).collect(),
            self.targets.iter().map(|t| t.sd).collect(),
        )
    }
}

impl BatchSimulator for EngineSimulator<'_> {
    fn simulate(
        &mut self,
        thetas: &[Vec<f64>],
        seed: u64,
    ) -> Result<Vec<Option<Vec<f64>>>, SimulatorError> {
        let n_params = self.plan.n_params();
        if let Some((i, t)) = thetas.iter().enumerate().find(|(_, t)| t.len() != n_params) {
            return Err(SimulatorError::RowLength {
                row: i,
                got: t.len(),
                expected: n_params,
            });
        }
        let stable: Vec<bool> = thetas
            .iter()
            .map(|t| {
                let row: Vec<f32> = t.iter().map(|&v| v as f32).collect();
                self.plan.model.check_stability(&[row]).is_ok()
            })
            .collect();
        let rows: Vec<Vec<f64>> = thetas
            .iter()
            .zip(&stable)
            .filter(|(_, s)| **s)
            .map(|(t, _)| t.clone())
            .collect();
        self.stats.rows += thetas.len();
        self.stats.unstable += thetas.len() - rows.len();
        let mut out = vec![None; thetas.len()];
        if rows.is_empty() {
            return Ok(out);
        }
        let mut base = self.plan.clone();
        base.seed = seed;
        let plan = base.with_params(rows);
        let mut engine = self.backend.engine(&plan, self.batch_size)?;
        let rec = record(engine.as_mut(), &mut |_| {})?;
        let mut values = simulated_values(&rec, &plan, &self.targets).into_iter();
        for (slot, _) in out.iter_mut().zip(&stable).filter(|(_, s)| **s) {
            *slot = values.next().flatten();
            if slot.is_none() {
                self.stats.failed += 1;
            }
        }
        self.stats.batches += 1;
        Ok(out)
    }
}
