//! The temporally blocked step (`Model::fused_program`, e.g.
//! `shaders/rd/fused.wgsl`) as an engine option: picks the largest tile
//! (32, 16 or 8 sites a side) whose block with its halo fits the adapter's
//! `max_compute_workgroup_storage_size`, validates the WGSL and builds the
//! pipeline on the engine's step bind group layout. The single-step kernel
//! stays the reference path; `GpuEngine` uses this one only when asked.
//!
//! Owns: tile choice and the fused pipeline. Never records commands (the
//! engine's `advance` does).

use super::context::GpuContext;
use super::pipelines::{self, Kernel};
use crate::core::model::FusedProgram;
use crate::core::plan::Plan;
use crate::engine::EngineError;

/// The most steps one fused dispatch may take (`backend::MAX_FUSED_STEPS`).
pub const MAX_HALO: u32 = 32;

/// Tile sides tried, largest first.
pub const TILES: [u32; 3] = [32, 16, 8];

pub struct FusedStepper {
    pub pipeline: wgpu::ComputePipeline,
    pub program: FusedProgram,
}

impl FusedStepper {
    /// Workgroups for `members` members of an `nx × ny` grid.
    pub fn workgroups(&self, nx: u32, ny: u32, members: u32) -> [u32; 3] {
        let t = self.program.tile;
        [nx.div_ceil(t), ny.div_ceil(t), members]
    }

    /// Steps per dispatch.
    pub fn steps_per_dispatch(&self) -> u64 {
        self.program.halo as u64
    }
}

/// The fused program for `plan` with `halo` steps per dispatch on an
/// adapter offering `workgroup_bytes` of workgroup memory.
pub fn choose_program(
    plan: &Plan,
    halo: u32,
    workgroup_bytes: u64,
) -> Result<FusedProgram, EngineError> {
    if halo == 0 || halo > MAX_HALO {
        return Err(EngineError::Invalid(format!(
            "fused steps per dispatch must be 1..={MAX_HALO}, got {halo}"
        )));
    }
    let kind = plan.model.info().kind.clone();
    let mut needed = None;
    for tile in TILES {
        let Some(p) = plan.model.fused_program(tile, halo) else {
            return Err(EngineError::Invalid(format!(
                "model `{kind}` has no fused multi-step kernel (its reaction terms read the step or the time); run without --fused"
            )));
        };
        if p.workgroup_bytes <= workgroup_bytes {
            return Ok(p);
        }
        needed = Some(p.workgroup_bytes);
    }
    Err(EngineError::Invalid(format!(
        "fused kernel with {halo} steps per dispatch needs {} bytes of workgroup memory even with {}×{} tiles; the adapter has {workgroup_bytes}: use a smaller --fused",
        needed.unwrap_or(0),
        TILES[TILES.len() - 1],
        TILES[TILES.len() - 1],
    )))
}

impl FusedStepper {
    pub fn new(
        ctx: &GpuContext,
        plan: &Plan,
        layout: &wgpu::BindGroupLayout,
        halo: u32,
    ) -> Result<FusedStepper, EngineError> {
        let program = choose_program(
            plan,
            halo,
            ctx.limits.max_compute_workgroup_storage_size as u64,
        )?;
        let name = format!("{}.fused", plan.model.info().kind);
        let kernel = Kernel {
            name: &name,
            source: &program.source,
            entry: "fused",
        };
        let pipeline = pipelines::build(ctx, kernel, Some(layout))?;
        Ok(FusedStepper { pipeline, program })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{model_scenes, plan, scene};

    fn model_plan(name: &str) -> Plan {
        let (n, text) = model_scenes()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap();
        plan(&scene(n, &text), None)
    }

    /// The largest tile whose block with its halo fits is chosen (two f32
    /// species: SIDE² · 8 B + 4 B), and a limit too small for the smallest
    /// tile, a halo out of range and time-dependent kinetics are refused
    /// with messages that say why.
    #[test]
    fn tile_choice_fits_the_workgroup_memory() {
        let p = model_plan("gray_scott");
        let tile = |halo, bytes| choose_program(&p, halo, bytes).map(|f| f.tile);
        assert_eq!(tile(8, 32768).unwrap(), 32); // 48²·8 + 4 = 18,436
        assert_eq!(tile(8, 18435).unwrap(), 16); // 32²·8 + 4 = 8,196
        assert_eq!(tile(16, 49152).unwrap(), 32); // 64²·8 + 4 = 32,772
        assert_eq!(tile(16, 32768).unwrap(), 16); // 48²·8 + 4
        let e = tile(8, 4096).unwrap_err().to_string();
        assert!(e.contains("4612") && e.contains("4096"), "{e}");
        assert!(tile(0, 32768).is_err());
        assert!(tile(MAX_HALO + 1, 1 << 20).is_err());
        let e = choose_program(&model_plan("cardiac"), 4, 32768)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cardiac") && e.contains("no fused"), "{e}");
    }
}
