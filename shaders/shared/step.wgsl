// The per-step record every kernel reads through a dynamic uniform offset
// (one record per (step, batch)). Keep in step with `gpu::StepUniform`
// (src/gpu/layout.rs); a test compares their layouts.

struct Step {
    step: u32,
    member_offset: u32,
    members: u32,
    seed_lo: u32,
    seed_hi: u32,
    t: f32,
    // Steps this dispatch takes (the fused kernel; 0 elsewhere).
    steps_per_dispatch: u32,
    pad1: u32,
}
