//! Timed engine runs: an engine of either backend, reset to a fixed state
//! before each repeat, advanced a number of steps and synchronised (a small
//! status read waits for the GPU); the median over repeats. GPU time comes
//! from timestamp queries where the device has them, wall time otherwise,
//! and every result says which.
//!
//! Owns: the timing protocol. Never builds plans or formats output.

use super::median;
use crate::core::plan::Plan;
use crate::engine::backend::{Backend, EngineOptions, InstrumentedEngine};
use crate::engine::{Engine, EngineError};
use std::time::Instant;

/// An engine the bench can time: the GPU engine's timestamp hooks are
/// reachable, unlike through `Box<dyn Engine>`.
pub struct BenchEngine(InstrumentedEngine);

/// The outcome of repeated timed runs.
#[derive(Clone, Debug)]
pub struct Timed {
    /// Median seconds per run, GPU time when `timing == "gpu"`.
    pub seconds: f64,
    /// `"gpu"` (timestamp queries) or `"wall"`.
    pub timing: &'static str,
    /// Wall seconds of every run (including the final synchronisation).
    pub wall: Vec<f64>,
    /// GPU seconds of every run, when timed on the GPU.
    pub gpu: Vec<f64>,
}

impl BenchEngine {
    pub fn new(
        backend: &Backend,
        plan: &Plan,
        opts: &EngineOptions,
    ) -> Result<BenchEngine, EngineError> {
        backend.instrumented_engine(plan, opts).map(BenchEngine)
    }

    pub fn engine(&mut self) -> &mut dyn Engine {
        self.0.engine()
    }

    /// Tile and steps per dispatch of the fused kernel in use, if any.
    pub fn fused_tile(&self) -> Option<(u32, u32)> {
        self.0.fused_tile()
    }

    /// The single-step kernel's shape, as JSON, on GPU engines of shaped
    /// models.
    pub fn kernel_json(&self) -> Option<serde_json::Value> {
        self.0.kernel_json()
    }

    /// Waits until every submitted step has run.
    pub fn sync(&mut self) -> Result<(), EngineError> {
        self.engine().status().map(|_| ())
    }

    /// `repeats` runs of `steps` steps, each from `initial`, after one
    /// untimed warm-up step. `per_step_sync` submits and waits step by
    /// step (the pattern "many steps per submit" replaces).
    pub fn timed(
        &mut self,
        initial: &[f32],
        steps: u64,
        repeats: u32,
        per_step_sync: bool,
    ) -> Result<Timed, EngineError> {
        self.engine().advance(1)?;
        self.sync()?;
        let mut wall = Vec::new();
        let mut gpu = Vec::new();
        for _ in 0..repeats.max(1) {
            self.engine().write_state(initial)?;
            self.sync()?;
            let t0 = Instant::now();
            if per_step_sync {
                for _ in 0..steps {
                    self.engine().advance(1)?;
                    self.sync()?;
                }
            } else {
                self.engine().advance(steps)?;
                self.sync()?;
            }
            wall.push(t0.elapsed().as_secs_f64());
            // Per-step runs have one timestamp pair per advance: GPU time
            // would miss all but the last step, so they are wall-timed.
            if !per_step_sync && let Some(s) = self.0.gpu_seconds()? {
                gpu.push(s);
            }
        }
        let (seconds, timing) =
            if !gpu.is_empty() && gpu.len() == wall.len() && gpu.iter().all(|&s| s > 0.0) {
                (median(&gpu), "gpu")
            } else {
                (median(&wall), "wall")
            };
        Ok(Timed {
            seconds,
            timing,
            wall,
            gpu,
        })
    }
}
