//! The engine as a calibration simulator: the simulator port
//! ([`EnginePort`] over the plan, refusing unstable rows) counting what it
//! ran, and calibration's summaries read off its recordings
//! ([`EngineSimulator::summaries`]: each row's simulated values at the data
//! rows, [`super::target_values`]). One call runs the batch's parameter
//! vectors as one ensemble (member i = row i among the stable rows, the
//! call's seed as the plan's seed).
//!
//! Rows the model's explicit scheme cannot run stably (its
//! `check_stability` refuses them) are not simulated and come back as
//! failed, as do members that diverge; [`SimStats`] counts both.
//!
//! Owns: this adapter. Never imports wgpu (engines come from the
//! [`Backend`]).

use super::targets::{Target, target_values};
use crate::core::plan::Plan;
use crate::engine::backend::Backend;
use crate::engine::{Batch, EnginePort, Recordings, RowStatus, Simulator, SimulatorError};
use crate::methods::calibrate::Summaries;

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
    port: EnginePort<'a>,
    targets: Vec<Target>,
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
            port: EnginePort::from_plan(plan, backend, batch_size).refusing_unstable(),
            targets,
            stats: SimStats::default(),
        }
    }

    pub fn plan(&self) -> &Plan {
        self.port.base_plan().expect("made from a plan")
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

    /// This simulator as calibration drivers take it: each row's summary
    /// vector is its simulated values at the data rows.
    pub fn summaries(&mut self) -> Summaries<'_> {
        let targets = self.targets.clone();
        Summaries::new(self, move |rec, row| target_values(rec, row, &targets))
    }
}

impl Simulator for EngineSimulator<'_> {
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        let rec = self.port.simulate(batch)?;
        let unstable = rec
            .status
            .iter()
            .filter(|s| **s == RowStatus::Unstable)
            .count();
        self.stats.rows += batch.rows.len();
        self.stats.unstable += unstable;
        if unstable < batch.rows.len() {
            self.stats.failed += rec.failed() - unstable;
            self.stats.batches += 1;
        }
        Ok(rec)
    }
}
