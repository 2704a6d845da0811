//! An engine seen as an ensemble matrix: states n_state × N and parameters
//! n_params × N (column = member; the engine's member-major layout is the
//! matrix's column-major storage), converted between the engine's f32 and
//! the analysis's f64.
//!
//! Owns: those conversions and the non-finite checks of what is read.

use std::ops::Range;

use nalgebra::DMatrix;

use crate::engine::{Engine, EngineError};

pub struct Ensemble {
    pub engine: Box<dyn Engine>,
}

impl Ensemble {
    pub fn new(engine: Box<dyn Engine>) -> Self {
        Ensemble { engine }
    }

    pub fn members(&self) -> usize {
        self.engine.members()
    }

    pub fn n_state(&self) -> usize {
        self.engine.plan().model.state_len()
    }

    pub fn n_ops(&self) -> usize {
        self.engine.plan().observables.ops.len()
    }

    /// Advances to `step` (no-op when already there).
    pub fn advance_to(&mut self, step: u64) -> Result<(), EngineError> {
        let now = self.engine.step();
        if step < now {
            return Err(EngineError::Invalid(format!(
                "cannot go back from step {now} to step {step}"
            )));
        }
        crate::engine::check_interrupt()?;
        self.engine.advance(step - now)
    }

    pub fn state(&mut self) -> Result<DMatrix<f64>, EngineError> {
        let s = self.engine.read_state()?;
        Ok(DMatrix::from_iterator(
            self.n_state(),
            self.members(),
            s.iter().map(|&v| v as f64),
        ))
    }

    pub fn write_state(&mut self, e: &DMatrix<f64>) -> Result<(), EngineError> {
        let v: Vec<f32> = e.iter().map(|&x| x as f32).collect();
        self.engine.write_state(&v)
    }

    pub fn params(&mut self) -> Result<DMatrix<f64>, EngineError> {
        let p = self.engine.read_params()?;
        let np = self.engine.plan().n_params();
        Ok(DMatrix::from_iterator(
            np,
            self.members(),
            p.iter().map(|&v| v as f64),
        ))
    }

    pub fn write_params(&mut self, p: &DMatrix<f64>) -> Result<(), EngineError> {
        let v: Vec<f32> = p.iter().map(|&x| x as f32).collect();
        self.engine.write_params(&v)
    }

    /// [`Ensemble::state`] of the members in `ranges` only (columns range
    /// after range).
    pub fn state_ranges(&mut self, ranges: &[Range<usize>]) -> Result<DMatrix<f64>, EngineError> {
        let s = self.engine.read_state_ranges(ranges)?;
        let cols = ranges.iter().map(|r| r.len()).sum();
        Ok(DMatrix::from_iterator(
            self.n_state(),
            cols,
            s.iter().map(|&v| v as f64),
        ))
    }

    /// Writes the states of the members in `ranges` (laid out as
    /// [`Ensemble::state_ranges`] gives them).
    pub fn write_state_ranges(
        &mut self,
        ranges: &[Range<usize>],
        e: &DMatrix<f64>,
    ) -> Result<(), EngineError> {
        let v: Vec<f32> = e.iter().map(|&x| x as f32).collect();
        self.engine.write_state_ranges(ranges, &v)
    }

    /// [`Ensemble::params`] of the members in `ranges` only.
    pub fn params_ranges(&mut self, ranges: &[Range<usize>]) -> Result<DMatrix<f64>, EngineError> {
        let p = self.engine.read_params_ranges(ranges)?;
        let np = self.engine.plan().n_params();
        let cols = ranges.iter().map(|r| r.len()).sum();
        Ok(DMatrix::from_iterator(
            np,
            cols,
            p.iter().map(|&v| v as f64),
        ))
    }

    /// Writes the parameters of the members in `ranges`.
    pub fn write_params_ranges(
        &mut self,
        ranges: &[Range<usize>],
        p: &DMatrix<f64>,
    ) -> Result<(), EngineError> {
        let v: Vec<f32> = p.iter().map(|&x| x as f32).collect();
        self.engine.write_params_ranges(ranges, &v)
    }

    /// Observables of every member (members × (ops + 1); the last value per
    /// member flags a non-finite state).
    pub fn frame(&mut self) -> Result<Vec<f32>, EngineError> {
        self.engine.observe()
    }

    /// Whether any member's state or observable is non-finite, from a frame.
    pub fn frame_has_non_finite(&self, frame: &[f32]) -> bool {
        let stride = self.n_ops() + 1;
        frame
            .chunks(stride)
            .any(|c| c[stride - 1] != 0.0 || c.iter().any(|v| !v.is_finite()))
    }

    /// Observable `k` of every member, from a frame.
    pub fn column(&self, frame: &[f32], k: usize) -> Vec<f64> {
        let stride = self.n_ops() + 1;
        frame.chunks(stride).map(|c| c[k] as f64).collect()
    }
}
