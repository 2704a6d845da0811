//! The f16-storage experiment: runs `shaders/rd/gray_scott_f16.wgsl` (the
//! pinned Gray–Scott problem with its state stored as f16, arithmetic in
//! f32) for a number of steps in one submission and returns the final state
//! as f32 with its GPU (or wall) time. Bench only: the engine keeps f32
//! state; this measures what halving the bytes would buy and cost.
//!
//! Owns: the experiment's buffers and pipeline, and the f32 ↔ f16
//! conversions on the host. Needs `SHADER_F16`.

use super::context::GpuContext;
use super::timing::PassTimer;
use crate::engine::EngineError;
use crate::shaders::{self, f32_lit};
use std::time::Instant;
use wgpu::util::DeviceExt;

/// f32 → IEEE binary16 bits, round to nearest even (overflow to ±Inf,
/// NaN kept NaN).
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal: shift the full significand (with its implicit 1).
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut h = m >> shift;
        if rest > half || (rest == half && (h & 1) == 1) {
            h += 1;
        }
        return sign | h as u16;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) {
        h += 1; // may carry into the exponent, up to Inf: correct
    }
    sign | h as u16
}

/// IEEE binary16 bits → f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: man · 2⁻²⁴, exact in f32.
            let v = man as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000,
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// The composed module for a `grid²` grid and `members` members: the
/// `enable` directive first, then the generated constants, then the file.
pub fn source(grid: u32, members: u32) -> String {
    let header = format!(
        "const NX: u32 = {grid}u;\nconst NY: u32 = {grid}u;\nconst NSITES: u32 = {}u;\nconst MEMBERS: u32 = {members}u;\nconst DT: f32 = {};\nconst DX2INV: f32 = {};\n",
        grid * grid,
        f32_lit(1.0),
        f32_lit(1.0)
    );
    let body = shaders::source("rd/gray_scott_f16.wgsl").replacen("enable f16;", "", 1);
    format!("enable f16;\n{header}{body}")
}

/// Whether the device can run the experiment.
pub fn supported(ctx: &GpuContext) -> bool {
    ctx.features.contains(wgpu::Features::SHADER_F16)
}

/// The final state (f32) and the time of the steps.
pub struct F16Run {
    pub state: Vec<f32>,
    pub seconds: f64,
    /// `"gpu"` or `"wall"`.
    pub timing: &'static str,
}

/// Runs `steps` steps of the pinned problem on a `grid²` grid from
/// `initial` (members × 2 × grid², f32), `params` members × (Du, Dv, F, k).
pub fn gray_scott_f16(
    ctx: &GpuContext,
    grid: u32,
    members: u32,
    params: &[f32],
    initial: &[f32],
    steps: u64,
) -> Result<F16Run, EngineError> {
    if !supported(ctx) {
        return Err(EngineError::Invalid(
            "the adapter has no SHADER_F16 feature".into(),
        ));
    }
    let src = source(grid, members);
    shaders::validate("rd.gray_scott_f16", &src)?;
    let dev = &ctx.device;
    let pipeline = ctx.scoped("pipeline `rd.gray_scott_f16`", || {
        let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("rd.gray_scott_f16"),
            source: wgpu::ShaderSource::Wgsl(src.as_str().into()),
        });
        dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("rd.gray_scott_f16"),
            layout: None,
            module: &module,
            entry_point: Some("step"),
            compilation_options: Default::default(),
            cache: ctx.pipeline_cache(),
        })
    })?;
    let halves: Vec<u16> = initial.iter().map(|&x| f32_to_f16(x)).collect();
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let state = [0, 1].map(|i| {
        dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("vtwin.f16.state.{i}")),
            contents: bytemuck::cast_slice(&halves),
            usage,
        })
    });
    let pbuf = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("vtwin.f16.params"),
        contents: bytemuck::cast_slice(params),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let layout = pipeline.get_bind_group_layout(0);
    let bg = [0usize, 1].map(|i| {
        dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&format!("vtwin.f16.bg{i}")),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: pbuf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: state[i].as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: state[1 - i].as_entire_binding(),
                },
            ],
        })
    });
    ctx.check("f16 set-up")?;
    let timer = PassTimer::new(ctx);
    let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("vtwin.f16"),
    });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("vtwin.f16.steps"),
            timestamp_writes: timer.as_ref().and_then(|t| t.writes(true, true)),
        });
        pass.set_pipeline(&pipeline);
        for k in 0..steps {
            pass.set_bind_group(0, &bg[(k % 2) as usize], &[]);
            pass.dispatch_workgroups(grid.div_ceil(8), grid.div_ceil(8), members);
        }
    }
    if let Some(t) = &timer {
        t.resolve(&mut enc);
    }
    let t0 = Instant::now();
    ctx.queue.submit([enc.finish()]);
    let cur = (steps % 2) as usize;
    let bytes = ctx.read_buffer(&state[cur], 0, (halves.len() * 2) as u64, "read f16 state")?;
    let wall = t0.elapsed().as_secs_f64();
    let out: Vec<u16> = bytemuck::pod_collect_to_vec(&bytes);
    let (seconds, timing) = match &timer {
        Some(t) => match t.read_seconds(ctx)? {
            s if s > 0.0 => (s, "gpu"),
            _ => (wall, "wall"),
        },
        None => (wall, "wall"),
    };
    Ok(F16Run {
        state: out.into_iter().map(f16_to_f32).collect(),
        seconds,
        timing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_kernel_validates() {
        crate::shaders::validate("rd.gray_scott_f16", &source(64, 3)).unwrap();
    }

    #[test]
    fn f16_conversions_round_to_nearest_even() {
        let cases: [(f32, u16); 10] = [
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (0.5, 0x3800),
            (0.25, 0x3400),
            (65504.0, 0x7bff),
            (65536.0, 0x7c00),
            (-2.0, 0xc000),
            (6.0e-8, 0x0001),             // smallest subnormal ≈ 5.96e-8
            (1.0 + 1.0 / 2048.0, 0x3c00), // tie → even
        ];
        for (x, h) in cases {
            assert_eq!(f32_to_f16(x), h, "{x}");
        }
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02); // tie → even (up)
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
        // Every finite f16 survives f16 → f32 → f16.
        for h in 0u16..=0xffff {
            let x = f16_to_f32(h);
            if x.is_finite() {
                assert_eq!(f32_to_f16(x), h, "{h:#06x} → {x}");
            }
        }
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x83ff), -1023.0 * 2f32.powi(-24));
    }
}
