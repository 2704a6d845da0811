//! The GPU resources of one member batch: two state buffers (ping-pong),
//! parameters, status, observables, step scratch, and the bind groups of
//! the step and observe kernels on either side. Buffers are named
//! `vtwin.<model>.<what>.b<batch>`.
//!
//! Owns: one batch's buffers and bind groups. Never records commands and
//! never decides the batch layout (`backend::members_per_batch` does).

use super::bindings::{self, AUX, DST, OBS, PARAMS, SCRATCH, SRC, STATUS};
use wgpu::util::DeviceExt;

/// What every batch of an engine shares.
pub struct Shared<'a> {
    pub device: &'a wgpu::Device,
    /// Model kind, for labels.
    pub kind: &'a str,
    pub step_layout: &'a wgpu::BindGroupLayout,
    pub observe_layout: &'a wgpu::BindGroupLayout,
    /// The ring of `Step` records.
    pub ring: &'a wgpu::Buffer,
    /// The model's auxiliary table.
    pub aux: &'a wgpu::Buffer,
}

/// The host data a batch starts from.
pub struct Initial<'a> {
    /// Index of the batch (for labels).
    pub index: usize,
    /// First member of the batch within the plan.
    pub offset: u32,
    pub members: u32,
    /// Initial state of every member, member after member.
    pub state: &'a [f32],
    /// Parameters of every member (at least one word per member).
    pub params: &'a [f32],
    /// Observables per member (including the status column).
    pub n_obs: usize,
    /// Scratch words per member (`Model::scratch_len`).
    pub scratch_len: usize,
}

pub struct BatchResources {
    pub offset: u32,
    pub members: u32,
    pub state: [wgpu::Buffer; 2],
    pub params: wgpu::Buffer,
    pub status: wgpu::Buffer,
    pub obs: wgpu::Buffer,
    /// Per-member working memory of the step kernel (one word when the
    /// model has none). Held so it lives with the batch.
    _scratch: wgpu::Buffer,
    /// step_bg[i]: reads state[i], writes state[1 - i].
    pub step_bg: [wgpu::BindGroup; 2],
    /// observe_bg[i]: observes state[i].
    pub observe_bg: [wgpu::BindGroup; 2],
}

impl BatchResources {
    /// Creates the batch's buffers from `init` and binds them.
    pub fn new(sh: &Shared, init: &Initial) -> BatchResources {
        let dev = sh.device;
        let (kind, b) = (sh.kind, init.index);
        let storage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let filled = |what: &str, contents: &[u8]| {
            dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("vtwin.{kind}.{what}.b{b}")),
                contents,
                usage: storage,
            })
        };
        let empty = |what: &str, bytes: u64, usage: wgpu::BufferUsages| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("vtwin.{kind}.{what}.b{b}")),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let members = init.members as usize;
        let state = [
            filled("state.a", bytemuck::cast_slice(init.state)),
            filled("state.b", bytemuck::cast_slice(init.state)),
        ];
        let params = filled("params", bytemuck::cast_slice(init.params));
        let status = filled("status", bytemuck::cast_slice(&vec![0u32; 2 * members]));
        let obs = empty("observables", (members * init.n_obs * 4) as u64, storage);
        let scratch = empty(
            "scratch",
            (members * init.scratch_len).max(1) as u64 * 4,
            wgpu::BufferUsages::STORAGE,
        );
        let step_bg = [0usize, 1].map(|i| {
            bindings::group(
                dev,
                &format!("vtwin.{kind}.step.bg{i}.b{b}"),
                sh.step_layout,
                sh.ring,
                &[
                    (PARAMS, &params),
                    (AUX, sh.aux),
                    (SRC, &state[i]),
                    (DST, &state[1 - i]),
                    (STATUS, &status),
                    (SCRATCH, &scratch),
                ],
            )
        });
        let observe_bg = [0usize, 1].map(|i| {
            bindings::group(
                dev,
                &format!("vtwin.{kind}.observe.bg{i}.b{b}"),
                sh.observe_layout,
                sh.ring,
                &[(SRC, &state[i]), (STATUS, &status), (OBS, &obs)],
            )
        });
        BatchResources {
            offset: init.offset,
            members: init.members,
            state,
            params,
            status,
            obs,
            _scratch: scratch,
            step_bg,
            observe_bg,
        }
    }
}
