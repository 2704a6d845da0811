//! The bind-group layouts of vtwin's own kernels as data: which binding
//! number holds which kind of buffer. The engine's layouts and bind groups
//! are built from these tables only; the WGSL declares the same bindings
//! (`shaders/shared/bindings.wgsl`, `shaders/rd/bindings_vec4.wgsl`,
//! `shaders/abm/step.wgsl`'s scratch, `shaders/shared/observe.wgsl`,
//! `shaders/assim/mix.wgsl`), and a test parses every such kernel with naga
//! and fails when a number or a buffer kind disagrees.
//!
//! Owns: binding numbers and kinds. Creates layouts, never bind groups'
//! resources (the engine and `mix` bind their own buffers).

use super::layout::StepUniform;
use std::num::NonZeroU64;

/// What a binding holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The `Step` record, one per dispatch, through a dynamic offset.
    Step,
    /// A plain uniform buffer.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// The per-dispatch `Step` record.
pub const UNIFORM: u32 = 0;
/// Member parameters.
pub const PARAMS: u32 = 1;
/// The model's auxiliary table (`Model::aux`).
pub const AUX: u32 = 2;
/// The state a step reads, and the state observables are taken of.
pub const SRC: u32 = 3;
/// The state a step writes.
pub const DST: u32 = 4;
/// Per-member status words.
pub const STATUS: u32 = 5;
/// Per-member observables.
pub const OBS: u32 = 6;
/// Per-member step working memory (`Model::scratch_len`).
pub const SCRATCH: u32 = 7;

/// Every step kernel (single-step, shaped and fused).
pub const STEP: &[(u32, Slot)] = &[
    (UNIFORM, Slot::Step),
    (PARAMS, Slot::Read),
    (AUX, Slot::Read),
    (SRC, Slot::Read),
    (DST, Slot::ReadWrite),
    (STATUS, Slot::Read),
    (SCRATCH, Slot::ReadWrite),
];

/// The observables kernel (`observe::observe_wgsl`). It writes status
/// (observables that turn non-finite mark the member).
pub const OBSERVE: &[(u32, Slot)] = &[
    (UNIFORM, Slot::Step),
    (SRC, Slot::Read),
    (STATUS, Slot::ReadWrite),
    (OBS, Slot::ReadWrite),
];

/// The analysis-transform kernel (`gpu::mix`): config, source states,
/// destination states, status, running rows, coefficients, bounds.
pub const MIX: &[(u32, Slot)] = &[
    (0, Slot::Uniform),
    (1, Slot::Read),
    (2, Slot::ReadWrite),
    (3, Slot::Read),
    (4, Slot::ReadWrite),
    (5, Slot::Read),
    (6, Slot::Read),
];

fn entry(binding: u32, slot: Slot) -> wgpu::BindGroupLayoutEntry {
    let (ty, has_dynamic_offset, min_binding_size) = match slot {
        Slot::Step => (
            wgpu::BufferBindingType::Uniform,
            true,
            NonZeroU64::new(std::mem::size_of::<StepUniform>() as u64),
        ),
        Slot::Uniform => (wgpu::BufferBindingType::Uniform, false, None),
        Slot::Read => (
            wgpu::BufferBindingType::Storage { read_only: true },
            false,
            None,
        ),
        Slot::ReadWrite => (
            wgpu::BufferBindingType::Storage { read_only: false },
            false,
            None,
        ),
    };
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset,
            min_binding_size,
        },
        count: None,
    }
}

/// The bind-group layout of `table`.
pub fn layout(dev: &wgpu::Device, label: &str, table: &[(u32, Slot)]) -> wgpu::BindGroupLayout {
    let entries: Vec<_> = table.iter().map(|&(b, s)| entry(b, s)).collect();
    dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    })
}

/// Binds `buffers` (binding number, buffer; the `Step` slot bound to one
/// record of `ring`) in `layout`.
pub fn group(
    dev: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    ring: &wgpu::Buffer,
    buffers: &[(u32, &wgpu::Buffer)],
) -> wgpu::BindGroup {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: UNIFORM,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: ring,
            offset: 0,
            size: NonZeroU64::new(std::mem::size_of::<StepUniform>() as u64),
        }),
    }];
    entries.extend(buffers.iter().map(|&(binding, b)| wgpu::BindGroupEntry {
        binding,
        resource: b.as_entire_binding(),
    }));
    dev.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// The group-0 bindings a parsed kernel declares, as (binding, slot).
pub fn declared(module: &naga::Module) -> Vec<(u32, Slot)> {
    let mut out: Vec<(u32, Slot)> = module
        .global_variables
        .iter()
        .filter_map(|(_, g)| {
            let rb = g.binding.as_ref()?;
            if rb.group != 0 {
                return None;
            }
            let slot = match g.space {
                naga::AddressSpace::Uniform => {
                    if module.types[g.ty].name.as_deref() == Some("Step") {
                        Slot::Step
                    } else {
                        Slot::Uniform
                    }
                }
                naga::AddressSpace::Storage { access } => {
                    if access.contains(naga::StorageAccess::STORE) {
                        Slot::ReadWrite
                    } else {
                        Slot::Read
                    }
                }
                _ => return None,
            };
            Some((rb.binding, slot))
        })
        .collect();
    out.sort_by_key(|&(b, _)| b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::observe::observe_wgsl;
    use crate::core::plan::{Plan, PlanOptions};
    use crate::core::shaders;
    use crate::engine::gpu::autotune;
    use std::collections::BTreeSet;

    /// Every shipped scene's plan (a few members).
    fn plans() -> Vec<Plan> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("scenes/")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        assert!(files.len() >= 10, "shipped scenes found: {files:?}");
        files
            .iter()
            .map(|f| {
                let s = crate::input::scene::Scene::load(f).unwrap_or_else(|e| panic!("{e}"));
                Plan::freeze(
                    &s,
                    &PlanOptions {
                        members: Some(2),
                        ..Default::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
            })
            .collect()
    }

    /// Checks every binding `kernels` declare against `table` and returns
    /// the binding numbers they declared.
    fn check(table: &[(u32, Slot)], kernels: &[(String, String)]) -> BTreeSet<u32> {
        let mut seen = BTreeSet::new();
        for (name, src) in kernels {
            let (module, _) = shaders::validate(name, src).unwrap_or_else(|e| panic!("{e}"));
            for (b, slot) in declared(&module) {
                let want = table.iter().find(|&&(tb, _)| tb == b).map(|&(_, s)| s);
                assert_eq!(
                    want,
                    Some(slot),
                    "`{name}` declares @binding({b}) as {slot:?}; the Rust layout has {want:?}"
                );
                seen.insert(b);
            }
        }
        seen
    }

    fn all(table: &[(u32, Slot)]) -> BTreeSet<u32> {
        table.iter().map(|&(b, _)| b).collect()
    }

    /// The step, shaped-step, fused and observe kernels of every shipped
    /// scene, and the mix kernel, declare exactly the bindings and buffer
    /// kinds (uniform `Step`, read-only or read-write storage) that the
    /// Rust layouts give them; every binding of each layout is declared by
    /// some kernel (no stale entry).
    #[test]
    fn rust_layouts_match_the_wgsl() {
        let mut step = Vec::new();
        let mut observe = Vec::new();
        for p in plans() {
            let m = &p.model;
            let kind = m.info().kind.clone();
            if let Some(prog) = m.gpu_program() {
                step.push((format!("{kind}.step"), prog.source.clone()));
            }
            for c in autotune::candidates(&p) {
                if let Some(t) = m.tuned_program(&c) {
                    step.push((format!("{kind}.step[{}]", c.label()), t.source));
                }
            }
            if let Some(f) = m.fused_program(16, 4) {
                step.push((format!("{kind}.fused"), f.source));
            }
            let src = observe_wgsl(
                &p.observables.ops,
                &m.grid(),
                m.state_len(),
                m.status_word(),
            );
            observe.push((format!("{kind}.observe"), src));
        }
        assert!(step.iter().any(|(n, _)| n.ends_with(".fused")));
        assert!(step.iter().any(|(n, _)| n.contains(".step[")));
        assert_eq!(check(STEP, &step), all(STEP), "step layout");
        assert_eq!(check(OBSERVE, &observe), all(OBSERVE), "observe layout");
        let mix = vec![("assim.mix".to_string(), crate::engine::gpu::mix::source())];
        assert_eq!(check(MIX, &mix), all(MIX), "mix layout");
    }

    /// The check itself fails on a disagreement: a kernel that writes
    /// through a binding the layout makes read-only, and one that uses a
    /// binding the layout lacks.
    #[test]
    fn a_disagreeing_kernel_is_caught() {
        let head = shaders::compose("//#include \"shared/step.wgsl\"\n");
        let bad_kind = format!(
            "{head}\n@group(0) @binding(0) var<uniform> U: Step;\n\
             @group(0) @binding(3) var<storage, read_write> src: array<f32>;\n\
             @compute @workgroup_size(1) fn step() {{ src[0] = f32(U.step); }}\n"
        );
        let bad_number = format!(
            "{head}\n@group(0) @binding(0) var<uniform> U: Step;\n\
             @group(0) @binding(9) var<storage, read> extra: array<f32>;\n\
             @compute @workgroup_size(1) fn step() {{ _ = extra[U.step]; }}\n"
        );
        for src in [bad_kind, bad_number] {
            let r = std::panic::catch_unwind(|| check(STEP, &[("bad".into(), src.clone())]));
            assert!(r.is_err(), "accepted:\n{src}");
        }
    }
}
