//! The one pipeline factory: every compute pipeline vtwin builds (the
//! single-step, shaped and fused step kernels, observables, tuning
//! candidates, the analysis transform, the Philox known-answer and copy
//! kernels) is made here. The WGSL is validated with naga first, so a
//! broken kernel is reported by name, line and column; module, layout and
//! pipeline are then created inside one validation error scope, on the
//! device's pipeline cache where it has one.
//!
//! Owns: shader modules and pipelines. Never binds buffers or records
//! commands.

use super::context::GpuContext;
use crate::core::shaders;
use crate::engine::EngineError;

/// A kernel to build: its name (used as label and in errors), composed
/// WGSL source and entry point.
#[derive(Clone, Copy, Debug)]
pub struct Kernel<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub entry: &'a str,
}

/// Builds `kernel` on `layout` (one bind group), or with the layout the
/// driver derives from the WGSL when `layout` is `None`.
pub fn build(
    ctx: &GpuContext,
    kernel: Kernel,
    layout: Option<&wgpu::BindGroupLayout>,
) -> Result<wgpu::ComputePipeline, EngineError> {
    build_entries(ctx, kernel.name, kernel.source, &[kernel.entry], layout).map(|mut v| v.remove(0))
}

/// Builds one pipeline per entry point of one WGSL module (labelled
/// `name.entry` when there are several).
pub fn build_entries(
    ctx: &GpuContext,
    name: &str,
    source: &str,
    entries: &[&str],
    layout: Option<&wgpu::BindGroupLayout>,
) -> Result<Vec<wgpu::ComputePipeline>, EngineError> {
    shaders::validate(name, source)?;
    let dev = &ctx.device;
    ctx.scoped(&format!("pipeline `{name}`"), || {
        let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pl = layout.map(|l| {
            dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(name),
                bind_group_layouts: &[Some(l)],
                immediate_size: 0,
            })
        });
        entries
            .iter()
            .map(|entry| {
                let label = match entries.len() {
                    1 => name.to_string(),
                    _ => format!("{name}.{entry}"),
                };
                dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: pl.as_ref(),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: ctx.pipeline_cache(),
                })
            })
            .collect()
    })
}
