//! The device's achievable memory bandwidth, measured rather than looked
//! up: a plain vec4 copy kernel (`shaders/bench/copy.wgsl`) reads and
//! writes a large buffer; bytes moved (read + write) per second of GPU time
//! (timestamps where the device has them, else wall time around a
//! submission of many dispatches). `vtwin bench --suite rd` reports it as
//! the `copy` row and every RD row's `fraction_of_copy` against it: the
//! roofline a kernel can actually reach through wgpu on this adapter.
//!
//! Owns: the copy kernel's buffers and timing. Never formats output.

use super::context::GpuContext;
use super::pipelines::{self, Kernel};
use super::timing::PassTimer;
use crate::core::shaders;
use crate::engine::EngineError;
use std::time::Instant;

/// Workgroups per row of the 2-D dispatch.
const ROW_WG: u32 = 32_768;

/// One measurement: bytes moved per dispatch, seconds per dispatch of each
/// repeat and how it was timed (the bench takes the median: the GPU layer
/// does no statistics).
#[derive(Clone, Debug)]
pub struct CopyRate {
    pub bytes: u64,
    pub seconds: Vec<f64>,
    pub timing: &'static str,
}

/// Copies `mib` MiB `dispatches` times per run, `repeats` runs.
pub fn measure(
    ctx: &GpuContext,
    mib: u64,
    dispatches: u32,
    repeats: u32,
) -> Result<CopyRate, EngineError> {
    let bytes = (mib << 20)
        .min(ctx.limits.max_storage_buffer_binding_size)
        .min(ctx.limits.max_buffer_size)
        / 16
        * 16;
    let n4 = (bytes / 16) as u32;
    let groups = n4.div_ceil(256);
    let (gx, gy) = (groups.min(ROW_WG), groups.div_ceil(ROW_WG));
    let src = format!(
        "const N4: u32 = {n4}u;\nconst ROW_WG: u32 = {ROW_WG}u;\n{}",
        shaders::source("bench/copy.wgsl")
    );
    let dev = &ctx.device;
    let make = |label: &str| {
        dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let (a, b) = (make("vtwin.copy.a"), make("vtwin.copy.b"));
    let kernel = Kernel {
        name: "bench.copy",
        source: &src,
        entry: "copy",
    };
    let pipeline = pipelines::build(ctx, kernel, None)?;
    let layout = pipeline.get_bind_group_layout(0);
    let bg = [(&a, &b), (&b, &a)].map(|(s, d)| {
        dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("vtwin.copy.bg"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: s.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: d.as_entire_binding(),
                },
            ],
        })
    });
    let timer = PassTimer::new(ctx);
    let per = dispatches.max(1) as f64;
    let (mut walls, mut gpus) = (Vec::new(), Vec::new());
    for r in 0..=repeats.max(1) {
        let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("vtwin.copy"),
        });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("vtwin.copy"),
                timestamp_writes: timer.as_ref().and_then(|t| t.writes(true, true)),
            });
            pass.set_pipeline(&pipeline);
            for i in 0..dispatches.max(1) {
                pass.set_bind_group(0, &bg[i as usize % 2], &[]);
                pass.dispatch_workgroups(gx, gy, 1);
            }
        }
        if let Some(t) = &timer {
            t.resolve(&mut enc);
        }
        let t0 = Instant::now();
        let idx = ctx.queue.submit([enc.finish()]);
        ctx.wait(idx, "copy bandwidth")?;
        let wall = t0.elapsed().as_secs_f64();
        let gpu = match &timer {
            Some(t) => t.read_seconds(ctx)?,
            None => 0.0,
        };
        // The first run warms up (allocation, first touch) and is dropped.
        if r > 0 {
            walls.push(wall / per);
            gpus.push(gpu / per);
        }
    }
    let gpu_ok = gpus.iter().all(|&s| s > 0.0);
    Ok(CopyRate {
        bytes: 2 * bytes,
        seconds: if gpu_ok { gpus } else { walls },
        timing: if gpu_ok { "gpu" } else { "wall" },
    })
}
