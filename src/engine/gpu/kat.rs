//! Runs the Philox known-answer kernel (`shaders/tests/philox_kat.wgsl`) on
//! a device: the GPU half of the RNG check used by tests and `vtwin verify`.

use super::context::GpuContext;
use super::pipelines::{self, Kernel};
use crate::core::shaders;
use crate::engine::EngineError;
use wgpu::util::DeviceExt;

/// Philox4x32-10 of each (counter, key) on the GPU.
pub fn philox_on_gpu(
    ctx: &GpuContext,
    cases: &[([u32; 4], [u32; 2])],
) -> Result<Vec<[u32; 4]>, EngineError> {
    let src = shaders::compose(
        "//#include \"shared/philox.wgsl\"\n//#include \"tests/philox_kat.wgsl\"\n",
    );
    let dev = &ctx.device;
    let mut input = Vec::new();
    for (c, k) in cases {
        input.extend_from_slice(c);
        input.extend_from_slice(&[k[0], k[1], 0, 0]);
    }
    let inp = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("vtwin.kat.inputs"),
        contents: bytemuck::cast_slice(&input),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let out = dev.create_buffer(&wgpu::BufferDescriptor {
        label: Some("vtwin.kat.outputs"),
        size: (cases.len() * 16) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let kernel = Kernel {
        name: "tests.philox_kat",
        source: &src,
        entry: "main",
    };
    let pipeline = pipelines::build(ctx, kernel, None)?;
    let bg = dev.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("vtwin.kat.bg"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: inp.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: out.as_entire_binding(),
            },
        ],
    });
    let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("vtwin.kat"),
    });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("vtwin.kat"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(cases.len() as u32, 1, 1);
    }
    ctx.queue.submit([enc.finish()]);
    let bytes = ctx.read_buffer(&out, 0, (cases.len() * 16) as u64, "philox known answers")?;
    let words: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
    Ok(words.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect())
}
