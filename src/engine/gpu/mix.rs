//! Analysis transforms applied on the device (`shaders/assim/mix.wgsl`):
//! the passes that `Engine::mix_members` and `Engine::state_moments` run on
//! `GpuEngine`'s batches, reading each batch's current state and writing
//! its spare ping-pong buffer, so the states never leave the device.
//!
//! Every pass is dispatched batch after batch in member order, carrying its
//! running sums in one `rows` buffer, so a sum always runs over members in
//! global order: results are identical whatever the batch layout.
//!
//! Owns: the kernel's pipelines, its per-call buffers and the
//! `MixUniform` mirror. Decides nothing about when to mix.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::bindings;
use super::context::GpuContext;
use super::pipelines;
use crate::core::shaders;
use crate::engine::EngineError;
use crate::engine::mix::MemberMix;

/// Keep in sync with `struct Mix` in `shaders/assim/mix.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct MixUniform {
    pub words: u32,
    pub first_word: u32,
    pub state_len: u32,
    pub members: u32,
    pub offset: u32,
    pub kc: u32,
    pub kr: u32,
    pub flags: u32,
    pub alpha: f32,
    pub inv_n: f32,
    pub inv_dof: f32,
    pub right_offset: u32,
}

const FIRST: u32 = 1;
const LAST: u32 = 2;
const DENSE: u32 = 4;
const WG: u32 = 64;

/// One batch as the passes see it.
pub struct MixBatch<'a> {
    pub offset: u32,
    pub members: u32,
    pub src: &'a wgpu::Buffer,
    pub dst: &'a wgpu::Buffer,
    pub status: &'a wgpu::Buffer,
}

pub struct Mixer {
    layout: wgpu::BindGroupLayout,
    mean: wgpu::ComputePipeline,
    var: wgpu::ComputePipeline,
    project: wgpu::ComputePipeline,
    apply: wgpu::ComputePipeline,
}

fn bind(binding: u32, buf: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buf.as_entire_binding(),
    }
}

/// The composed kernel source.
pub fn source() -> String {
    shaders::compose("//#include \"rd/flush.wgsl\"\n//#include \"assim/mix.wgsl\"\n")
}

/// Which passes a call runs.
enum Passes<'m> {
    Moments,
    Apply(&'m MemberMix),
}

impl Mixer {
    pub fn new(ctx: &GpuContext) -> Result<Mixer, EngineError> {
        let src = source();
        let layout = bindings::layout(&ctx.device, "vtwin.mix.layout", bindings::MIX);
        let entries = ["mix_mean", "mix_var", "mix_project", "mix_apply"];
        let mut p =
            pipelines::build_entries(ctx, "assim.mix", &src, &entries, Some(&layout))?.into_iter();
        let mut next = || {
            p.next()
                .ok_or_else(|| EngineError::Invalid("mix pipelines".into()))
        };
        Ok(Mixer {
            mean: next()?,
            var: next()?,
            project: next()?,
            apply: next()?,
            layout,
        })
    }

    /// Why `mix` cannot run on the device with these limits (its row
    /// buffer, coefficients or dispatch too large), if so.
    pub fn unfit(ctx: &GpuContext, mix: &MemberMix) -> Option<String> {
        let (kc, kr) = mix.columns();
        let n = mix.members() as u64;
        let rows = (2 + kc as u64) * mix.words.len() as u64 * 4;
        let coef = n * (kc + kr) as u64 * 4;
        let limit = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size);
        if rows.max(coef) > limit {
            return Some(format!(
                "the transform's buffers ({} B) exceed the device's binding limit ({limit} B)",
                rows.max(coef)
            ));
        }
        if kc as u64 > ctx.limits.max_compute_workgroups_per_dimension as u64 {
            return Some(format!(
                "{kc} transform columns exceed the device's workgroups per dimension"
            ));
        }
        None
    }

    /// Per-word mean and variance over `words` (members with status ok),
    /// read back as 2 × words values.
    #[allow(clippy::too_many_arguments)]
    pub fn moments(
        &self,
        ctx: &GpuContext,
        batches: &[MixBatch],
        state_len: usize,
        words: std::ops::Range<usize>,
        inv_n: f32,
        inv_dof: f32,
    ) -> Result<(Vec<f32>, Vec<f32>), EngineError> {
        let nw = words.len();
        let rows = self.run(
            ctx,
            batches,
            state_len,
            words,
            inv_n,
            inv_dof,
            Passes::Moments,
        )?;
        let bytes = ctx.read_buffer(&rows, 0, (2 * nw * 4) as u64, "read state moments")?;
        let v: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
        Ok((v[..nw].to_vec(), v[nw..].to_vec()))
    }

    /// E_a = x̄ 1ᵀ + X' T into every batch's `dst` (words outside
    /// `mix.words` and failed members copied through).
    pub fn apply(
        &self,
        ctx: &GpuContext,
        batches: &[MixBatch],
        state_len: usize,
        mix: &MemberMix,
        inv_n: f32,
    ) -> Result<(), EngineError> {
        self.run(
            ctx,
            batches,
            state_len,
            mix.words.clone(),
            inv_n,
            0.0,
            Passes::Apply(mix),
        )
        .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        ctx: &GpuContext,
        batches: &[MixBatch],
        state_len: usize,
        words: std::ops::Range<usize>,
        inv_n: f32,
        inv_dof: f32,
        passes: Passes,
    ) -> Result<wgpu::Buffer, EngineError> {
        let dev = &ctx.device;
        let nw = words.len();
        let (kc, kr, coef, bounds, alpha, dense) = match &passes {
            Passes::Moments => (0, 0, vec![0.0f32], vec![0.0f32; 2], 0.0, false),
            Passes::Apply(m) => {
                let (kc, kr) = m.columns();
                let dense = matches!(m.anomaly, crate::engine::mix::MixWeights::Dense(_));
                (kc, kr, m.coefficients(), m.bounds_f32(), m.alpha(), dense)
            }
        };
        let n_total: usize = batches.iter().map(|b| b.members as usize).sum();
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let rows = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vtwin.mix.rows"),
            size: ((2 + kc) * nw).max(1) as u64 * 4,
            usage: storage,
            mapped_at_creation: false,
        });
        let init = |label: &str, data: &[f32]| {
            dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(if data.is_empty() { &[0.0f32][..] } else { data }),
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let coef_buf = init("vtwin.mix.coefficients", &coef);
        let bounds_buf = init("vtwin.mix.bounds", &bounds);
        let last = batches.len().saturating_sub(1);
        let groups = |bi: usize, b: &MixBatch| {
            let mut flags = 0;
            if bi == 0 {
                flags |= FIRST;
            }
            if bi == last {
                flags |= LAST;
            }
            if dense {
                flags |= DENSE;
            }
            let u = MixUniform {
                words: nw as u32,
                first_word: words.start as u32,
                state_len: state_len as u32,
                members: b.members,
                offset: b.offset,
                kc: kc as u32,
                kr: kr as u32,
                flags,
                alpha,
                inv_n,
                inv_dof,
                right_offset: (n_total * kc) as u32,
            };
            let ubuf = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("vtwin.mix.uniform.b{bi}")),
                contents: bytemuck::bytes_of(&u),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&format!("vtwin.mix.bg.b{bi}")),
                layout: &self.layout,
                entries: &[
                    bind(0, &ubuf),
                    bind(1, b.src),
                    bind(2, b.dst),
                    bind(3, b.status),
                    bind(4, &rows),
                    bind(5, &coef_buf),
                    bind(6, &bounds_buf),
                ],
            })
        };
        let bgs = ctx.scoped("mix bind groups", || {
            batches
                .iter()
                .enumerate()
                .map(|(bi, b)| groups(bi, b))
                .collect::<Vec<_>>()
        })?;
        let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("vtwin.mix"),
        });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("vtwin.mix"),
                timestamp_writes: None,
            });
            let xw = (nw as u32).div_ceil(WG).max(1);
            let mut phase =
                |pipeline: &wgpu::ComputePipeline, y: u32, x: u32, per_batch_y: bool| {
                    pass.set_pipeline(pipeline);
                    for (bg, b) in bgs.iter().zip(batches) {
                        pass.set_bind_group(0, bg, &[]);
                        let y = if per_batch_y { b.members } else { y };
                        if y > 0 {
                            pass.dispatch_workgroups(x, y, 1);
                        }
                    }
                };
            phase(&self.mean, 1, xw, false);
            match passes {
                Passes::Moments => phase(&self.var, 1, xw, false),
                Passes::Apply(_) => {
                    phase(&self.project, kc as u32, xw, false);
                    phase(&self.apply, 0, (state_len as u32).div_ceil(WG).max(1), true);
                }
            }
        }
        ctx.queue.submit([enc.finish()]);
        ctx.check("mix")?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MixUniform` has naga's size and member offsets of `struct Mix`.
    #[test]
    fn mix_uniform_matches_wgsl() {
        let (module, _) = shaders::validate("assim.mix", &source()).unwrap();
        let ty = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Mix"))
            .map(|(_, t)| t.clone())
            .expect("Mix declared");
        let naga::TypeInner::Struct { members, span } = ty.inner else {
            panic!("Mix is a struct")
        };
        assert_eq!(span as usize, std::mem::size_of::<MixUniform>());
        let offs: Vec<u32> = members.iter().map(|m| m.offset).collect();
        let names: Vec<String> = members.iter().map(|m| m.name.clone().unwrap()).collect();
        assert_eq!(
            names,
            [
                "words",
                "first_word",
                "state_len",
                "members",
                "offset",
                "kc",
                "kr",
                "flags",
                "alpha",
                "inv_n",
                "inv_dof",
                "right_offset"
            ]
        );
        let expect = [
            std::mem::offset_of!(MixUniform, words),
            std::mem::offset_of!(MixUniform, first_word),
            std::mem::offset_of!(MixUniform, state_len),
            std::mem::offset_of!(MixUniform, members),
            std::mem::offset_of!(MixUniform, offset),
            std::mem::offset_of!(MixUniform, kc),
            std::mem::offset_of!(MixUniform, kr),
            std::mem::offset_of!(MixUniform, flags),
            std::mem::offset_of!(MixUniform, alpha),
            std::mem::offset_of!(MixUniform, inv_n),
            std::mem::offset_of!(MixUniform, inv_dof),
            std::mem::offset_of!(MixUniform, right_offset),
        ];
        for (o, e) in offs.iter().zip(expect) {
            assert_eq!(*o as usize, e);
        }
    }
}
