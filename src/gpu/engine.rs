//! The GPU engine: members in batches that each fit the adapter's storage
//! binding limit; per batch two state buffers (ping-pong), parameters,
//! status and observables. `advance` records many steps (every batch, one
//! dispatch each) into one submission, using one `Step` record per
//! (step, batch) from a ring of dynamic uniform offsets; nothing waits on
//! the GPU until data is read.
//!
//! Batching never changes results: kernels index members batch-locally
//! and draw random numbers by global member index (the plan's member
//! offset plus the batch offset, `Step.member_offset`).

use super::autotune::{self, Chosen, KernelChoice};
use super::context::GpuContext;
use super::fused::FusedStepper;
use super::layout::StepUniform;
use super::mix::{MixBatch, Mixer};
use super::timing::PassTimer;
use crate::engine::mix::{self, MemberMix, MixOutcome};
use crate::engine::{Engine, EngineError, MemberStatus, ObsFrame, check_len};
use crate::model::{KernelConfig, TunedProgram};
use crate::observe::observe_wgsl;
use crate::plan::Plan;
use crate::shaders;
use std::num::NonZeroU64;
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// Uniform ring entries (one per (step, batch) recorded in one submission).
const RING: u32 = 2048;

struct Batch {
    offset: u32,
    members: u32,
    state: [wgpu::Buffer; 2],
    params: wgpu::Buffer,
    status: wgpu::Buffer,
    obs: wgpu::Buffer,
    /// Per-member working memory of the step kernel (`Model::scratch_len`;
    /// one word when the model has none). Held so it lives with the batch.
    _scratch: wgpu::Buffer,
    /// step_bg[i]: reads state[i], writes state[1 - i].
    step_bg: [wgpu::BindGroup; 2],
    /// observe_bg[i]: observes state[i].
    observe_bg: [wgpu::BindGroup; 2],
}

pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    plan: Plan,
    step_pipeline: wgpu::ComputePipeline,
    /// The shaped single-step kernel in use (`Model::tuned_program`) and
    /// why it was chosen; `None` for models without shapes.
    tuned: Option<Box<(TunedProgram, Chosen)>>,
    observe_pipeline: wgpu::ComputePipeline,
    /// The temporally blocked step, when asked for (`GpuOptions::fused`).
    fused: Option<FusedStepper>,
    /// Timestamps around each `advance`, when asked for and available.
    timer: Option<PassTimer>,
    batches: Vec<Batch>,
    uniform: wgpu::Buffer,
    stride: u64,
    /// Which state buffer holds the current state (same for every batch).
    cur: usize,
    step: u64,
    state_len: usize,
    n_obs: usize,
    /// The analysis-transform kernel, built on first use.
    mixer: Option<Mixer>,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform_entry() -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: true,
            min_binding_size: NonZeroU64::new(std::mem::size_of::<StepUniform>() as u64),
        },
        count: None,
    }
}

/// Members per GPU batch for `model`: `requested` (`--batch-size`) capped
/// by what the adapter allows for the larger of the member's state and
/// step scratch (both are bound as one storage buffer per batch). The one
/// batching rule: the engine, `vtwin check` and `vtwin estimate` (through
/// `Backend::batches`) all use it.
pub fn members_per_batch(
    limits: &wgpu::Limits,
    model: &dyn crate::model::Model,
    requested: Option<u32>,
) -> u32 {
    let words = model.state_len().max(model.scratch_len()) as u64;
    let limit = max_batch(limits, words * 4);
    requested.unwrap_or(limit).clamp(1, limit)
}

/// The largest batch the adapter allows for `state_bytes` per member.
pub fn max_batch(limits: &wgpu::Limits, state_bytes: u64) -> u32 {
    let by_binding = (limits.max_storage_buffer_binding_size / state_bytes.max(1)).max(1);
    let by_buffer = (limits.max_buffer_size / state_bytes.max(1)).max(1);
    let by_dispatch = limits.max_compute_workgroups_per_dimension as u64;
    by_binding
        .min(by_buffer)
        .min(by_dispatch)
        .min(u32::MAX as u64) as u32
}

/// Engine options beyond the plan.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Caps members per batch (tests force small batches; default: the
    /// adapter's limit).
    pub batch_size: Option<u32>,
    /// Take up to this many steps per dispatch with the fused kernel
    /// (`gpu::fused`); `None`: the single-step kernel.
    pub fused: Option<u32>,
    /// Bracket each `advance` with timestamp queries where the device has
    /// them (`GpuEngine::gpu_seconds`).
    pub timing: bool,
    /// Shape of the single-step kernel (`gpu::autotune`).
    pub kernel: KernelChoice,
}

impl GpuEngine {
    /// Builds pipelines and buffers for `plan`; `batch_size` caps members per
    /// batch (tests force small batches; default: the adapter's limit).
    pub fn new(
        ctx: Arc<GpuContext>,
        plan: &Plan,
        batch_size: Option<u32>,
    ) -> Result<GpuEngine, EngineError> {
        GpuEngine::with_options(
            ctx,
            plan,
            &GpuOptions {
                batch_size,
                ..Default::default()
            },
        )
    }

    /// `new` with every option.
    pub fn with_options(
        ctx: Arc<GpuContext>,
        plan: &Plan,
        opts: &GpuOptions,
    ) -> Result<GpuEngine, EngineError> {
        let batch_size = opts.batch_size;
        let model = &plan.model;
        let program = model
            .gpu_program()
            .ok_or_else(|| EngineError::NoGpuProgram {
                model: model.info().kind.clone(),
            })?;
        let kind = model.info().kind.clone();
        let step_name = format!("{kind}.step");
        shaders::validate(&step_name, &program.source)?;
        let grid = model.grid();
        let obs_src = observe_wgsl(
            &plan.observables.ops,
            &grid,
            model.state_len(),
            model.status_word(),
        );
        let obs_name = format!("{kind}.observe");
        shaders::validate(&obs_name, &obs_src)?;
        let dev = &ctx.device;

        let step_layout = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vtwin.step.layout"),
            entries: &[
                uniform_entry(),
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, true),
                storage_entry(4, false),
                storage_entry(5, true),
                storage_entry(7, false),
            ],
        });
        let observe_layout = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vtwin.observe.layout"),
            entries: &[
                uniform_entry(),
                storage_entry(3, true),
                storage_entry(5, false),
                storage_entry(6, false),
            ],
        });
        let make_pipeline = |name: &str, src: &str, layout: &wgpu::BindGroupLayout, entry: &str| {
            ctx.scoped(&format!("pipeline `{name}`"), || {
                let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(src.into()),
                });
                let pl = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(name),
                    bind_group_layouts: &[Some(layout)],
                    immediate_size: 0,
                });
                dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: ctx.pipeline_cache(),
                })
            })
        };
        // The shaped kernel where the model has shapes: a fixed choice is
        // built now; a tune needs the buffers and happens below.
        let env = autotune::env_choice().map_err(EngineError::Invalid)?;
        let choice = match (opts.kernel, env) {
            (KernelChoice::Auto, Some(e)) => (e, autotune::Source::Env),
            (c, _) => (c, autotune::Source::Option),
        };
        let key = autotune::cache_key(&ctx.summary, plan);
        let preset: Option<(KernelConfig, autotune::Source)> =
            match (model.tuned_program(&KernelConfig::DEFAULT), choice) {
                (None, _) => None,
                (Some(_), (KernelChoice::Fixed(c), src)) => Some((c, src)),
                (Some(_), (KernelChoice::Default, src)) => Some((KernelConfig::DEFAULT, src)),
                (Some(_), (KernelChoice::Tune, _)) => None,
                (Some(_), (KernelChoice::Auto, _)) => match autotune::load(&key) {
                    Some(c) => Some((c, autotune::Source::Cache)),
                    // Software adapters, and runs with caching off (a tune
                    // that is not kept would be paid on every start), take
                    // the default.
                    None if ctx.summary.is_software() || autotune::cache_path().is_none() => {
                        Some((KernelConfig::DEFAULT, autotune::Source::Default))
                    }
                    None => None,
                },
            };
        let want_tune = model.tuned_program(&KernelConfig::DEFAULT).is_some() && preset.is_none();
        let mut tuned = None;
        let step_pipeline = match preset {
            Some((c, source)) => {
                let prog = model
                    .tuned_program(&c)
                    .ok_or_else(|| EngineError::NoGpuProgram {
                        model: kind.clone(),
                    })?;
                let name = format!("{kind}.step[{}]", c.label());
                shaders::validate(&name, &prog.source)?;
                let p = make_pipeline(&name, &prog.source, &step_layout, "step")?;
                tuned = Some(Box::new((
                    prog.clone(),
                    Chosen {
                        config: c,
                        label: c.label(),
                        source,
                        vec4: prog.vec4,
                        timings: vec![],
                    },
                )));
                p
            }
            None => make_pipeline(&step_name, &program.source, &step_layout, "step")?,
        };
        let observe_pipeline = make_pipeline(&obs_name, &obs_src, &observe_layout, "observe")?;
        let fused = match opts.fused {
            Some(k) => Some(FusedStepper::new(&ctx, plan, &step_layout, k)?),
            None => None,
        };
        ctx.save_pipeline_cache();
        let timer = if opts.timing {
            PassTimer::new(&ctx)
        } else {
            None
        };

        let state_len = model.state_len();
        let np = plan.n_params().max(1);
        let n_obs = plan.observables.ops.len() + 1;
        let scratch_len = model.scratch_len();
        let per_batch = members_per_batch(&ctx.limits, model.as_ref(), batch_size);
        let align = ctx.limits.min_uniform_buffer_offset_alignment as u64;
        let stride = (std::mem::size_of::<StepUniform>() as u64).div_ceil(align) * align;
        let uniform = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vtwin.step.uniform_ring"),
            size: stride * RING as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let aux = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("vtwin.{kind}.aux")),
            contents: bytemuck::cast_slice(model.aux()),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let params_all = plan.params_f32();
        let mut batches = Vec::new();
        let mut offset = 0u32;
        let mut init = vec![0.0f32; state_len];
        while offset < plan.members {
            let members = per_batch.min(plan.members - offset);
            let b = batches.len();
            let mut state_host = Vec::with_capacity(members as usize * state_len);
            for m in offset..offset + members {
                let p =
                    &params_all[m as usize * plan.n_params()..(m as usize + 1) * plan.n_params()];
                model.init_member(plan.seed, plan.member_offset + m, p, &mut init);
                state_host.extend_from_slice(&init);
            }
            let storage = wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST;
            let state_a = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("vtwin.{kind}.state.a.b{b}")),
                contents: bytemuck::cast_slice(&state_host),
                usage: storage,
            });
            let state_b = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("vtwin.{kind}.state.b.b{b}")),
                contents: bytemuck::cast_slice(&state_host),
                usage: storage,
            });
            let mut p = params_all
                [offset as usize * plan.n_params()..(offset + members) as usize * plan.n_params()]
                .to_vec();
            if plan.n_params() == 0 {
                p = vec![0.0; members as usize * np];
            }
            let params = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("vtwin.{kind}.params.b{b}")),
                contents: bytemuck::cast_slice(&p),
                usage: storage,
            });
            let status = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("vtwin.{kind}.status.b{b}")),
                contents: bytemuck::cast_slice(&vec![0u32; 2 * members as usize]),
                usage: storage,
            });
            let obs = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("vtwin.{kind}.observables.b{b}")),
                size: (members as usize * n_obs * 4) as u64,
                usage: storage,
                mapped_at_creation: false,
            });
            let scratch = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("vtwin.{kind}.scratch.b{b}")),
                size: (members as usize * scratch_len).max(1) as u64 * 4,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            let ubind = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &uniform,
                offset: 0,
                size: NonZeroU64::new(std::mem::size_of::<StepUniform>() as u64),
            });
            let state = [state_a, state_b];
            let step_bg = [0usize, 1].map(|i| {
                dev.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&format!("vtwin.{kind}.step.bg{i}.b{b}")),
                    layout: &step_layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: ubind.clone(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: params.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: aux.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: state[i].as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 4,
                            resource: state[1 - i].as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 5,
                            resource: status.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 7,
                            resource: scratch.as_entire_binding(),
                        },
                    ],
                })
            });
            let observe_bg = [0usize, 1].map(|i| {
                dev.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&format!("vtwin.{kind}.observe.bg{i}.b{b}")),
                    layout: &observe_layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: ubind.clone(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: state[i].as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 5,
                            resource: status.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 6,
                            resource: obs.as_entire_binding(),
                        },
                    ],
                })
            });
            batches.push(Batch {
                offset,
                members,
                state,
                params,
                status,
                obs,
                _scratch: scratch,
                step_bg,
                observe_bg,
            });
            offset += members;
        }
        ctx.check("buffer set-up")?;
        let mut engine = GpuEngine {
            ctx,
            plan: plan.clone(),
            step_pipeline,
            tuned,
            observe_pipeline,
            fused,
            timer,
            batches,
            uniform,
            stride,
            cur: 0,
            step: 0,
            state_len,
            n_obs,
            mixer: None,
        };
        if want_tune {
            // An explicit `tune` only reports; an automatic one is cached.
            let cache = (choice.0 == KernelChoice::Auto).then_some(key.as_str());
            engine.tune(&step_layout, cache)?;
        }
        Ok(engine)
    }

    /// Times every candidate shape (`autotune::candidates`) on this
    /// engine's first batch and keeps the fastest (cached under `key` when
    /// given).
    /// Each timed dispatch reads the current state and writes the spare
    /// ping-pong buffer, which every step overwrites whole before reading
    /// it, so tuning leaves the state untouched.
    fn tune(
        &mut self,
        layout: &wgpu::BindGroupLayout,
        key: Option<&str>,
    ) -> Result<(), EngineError> {
        let model = &self.plan.model;
        let kind = model.info().kind.clone();
        let grid = model.grid();
        let b = &self.batches[0];
        let sites = grid.sites() as f64 * b.members as f64;
        // About 20 ms per timed run at 1e11 site updates/s, 2 .. 64 steps.
        let reps = ((2e9 / sites).round() as u32).clamp(2, 64);
        let record = self.uniform_for(self.step, b);
        self.write_ring(&[record]);
        let mut results = Vec::new();
        let mut best: Option<(wgpu::ComputePipeline, TunedProgram, f64)> = None;
        for c in autotune::candidates(&self.plan) {
            let Some(prog) = model.tuned_program(&c) else {
                continue;
            };
            let name = format!("{kind}.step[{}]", c.label());
            shaders::validate(&name, &prog.source)?;
            let pipeline = self.ctx.scoped(&format!("pipeline `{name}`"), || {
                let dev = &self.ctx.device;
                let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&name),
                    source: wgpu::ShaderSource::Wgsl(prog.source.as_str().into()),
                });
                let pl = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(&name),
                    bind_group_layouts: &[Some(layout)],
                    immediate_size: 0,
                });
                dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&name),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some("step"),
                    compilation_options: Default::default(),
                    cache: self.ctx.pipeline_cache(),
                })
            })?;
            let [x, y, z] = prog.workgroups(&grid, b.members);
            let run = |n: u32| -> Result<f64, EngineError> {
                let mut enc =
                    self.ctx
                        .device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("vtwin.tune"),
                        });
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("vtwin.tune"),
                        timestamp_writes: None,
                    });
                    pass.set_pipeline(&pipeline);
                    pass.set_bind_group(0, &b.step_bg[self.cur], &[0]);
                    for _ in 0..n {
                        pass.dispatch_workgroups(x, y, z);
                    }
                }
                let t0 = std::time::Instant::now();
                let idx = self.ctx.queue.submit([enc.finish()]);
                self.ctx.wait(idx, "kernel tuning")?;
                Ok(t0.elapsed().as_secs_f64())
            };
            run(1)?;
            let secs = run(reps)?.min(run(reps)?) / reps as f64;
            results.push((c.label(), secs));
            if best.as_ref().is_none_or(|(_, _, s)| secs < *s) {
                best = Some((pipeline, prog, secs));
            }
        }
        self.ctx.save_pipeline_cache();
        if let Some((pipeline, prog, _)) = best {
            let c = prog.config;
            if let Some(key) = key {
                autotune::store(key, c);
            }
            self.step_pipeline = pipeline;
            self.tuned = Some(Box::new((
                prog.clone(),
                Chosen {
                    config: c,
                    label: c.label(),
                    source: autotune::Source::Tuned,
                    vec4: prog.vec4,
                    timings: results,
                },
            )));
        }
        Ok(())
    }

    /// The single-step kernel's shape and where it came from; `None` for
    /// models without shapes.
    pub fn kernel(&self) -> Option<&Chosen> {
        self.tuned.as_ref().map(|t| &t.1)
    }

    /// Members per batch, in order.
    pub fn batch_sizes(&self) -> Vec<u32> {
        self.batches.iter().map(|b| b.members).collect()
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// Whether `advance` is timed with timestamp queries.
    pub fn has_timer(&self) -> bool {
        self.timer.is_some()
    }

    /// GPU seconds of the last `advance` (waits for it), from timestamps at
    /// the beginning of its first pass and the end of its last; `None`
    /// without a timer.
    pub fn gpu_seconds(&self) -> Result<Option<f64>, EngineError> {
        match &self.timer {
            Some(t) => t.read_seconds(&self.ctx).map(Some),
            None => Ok(None),
        }
    }

    /// Tile and steps per dispatch of the fused kernel in use, if any.
    pub fn fused_tile(&self) -> Option<(u32, u32)> {
        self.fused
            .as_ref()
            .map(|f| (f.program.tile, f.program.halo))
    }

    fn uniform_for(&self, step: u64, b: &Batch) -> StepUniform {
        self.uniform_steps(step, b, 0)
    }

    /// The `Step` record of a dispatch at `step` taking `steps` steps
    /// (`pad0`, read by the fused kernel only).
    fn uniform_steps(&self, step: u64, b: &Batch, steps: u32) -> StepUniform {
        StepUniform {
            step: step as u32,
            member_offset: self.plan.member_offset + b.offset,
            members: b.members,
            seed_lo: self.plan.seed as u32,
            seed_hi: (self.plan.seed >> 32) as u32,
            t: self.plan.model.time_at(step) as f32,
            pad0: steps,
            pad1: 0,
        }
    }

    fn write_ring(&self, records: &[StepUniform]) {
        let mut bytes = vec![0u8; records.len() * self.stride as usize];
        for (i, r) in records.iter().enumerate() {
            let o = i * self.stride as usize;
            bytes[o..o + std::mem::size_of::<StepUniform>()].copy_from_slice(bytemuck::bytes_of(r));
        }
        self.ctx.queue.write_buffer(&self.uniform, 0, &bytes);
    }

    fn read_all(
        &self,
        pick: impl Fn(&Batch) -> (&wgpu::Buffer, u64),
        what: &str,
    ) -> Result<Vec<u8>, EngineError> {
        let mut out = Vec::new();
        for b in &self.batches {
            let (buf, size) = pick(b);
            out.extend(self.ctx.read_buffer(buf, 0, size, what)?);
        }
        Ok(out)
    }

    /// The mix kernel's view of every batch: current state in, spare
    /// ping-pong buffer out.
    fn mix_batches(&self) -> Vec<MixBatch<'_>> {
        self.batches
            .iter()
            .map(|b| MixBatch {
                offset: b.offset,
                members: b.members,
                src: &b.state[self.cur],
                dst: &b.state[1 - self.cur],
                status: &b.status,
            })
            .collect()
    }

    fn mixer(&mut self) -> Result<&Mixer, EngineError> {
        if self.mixer.is_none() {
            self.mixer = Some(Mixer::new(&self.ctx)?);
        }
        self.mixer
            .as_ref()
            .ok_or_else(|| EngineError::Invalid("mix kernel".into()))
    }

    fn member_slices<'a, T: bytemuck::Pod>(
        &'a self,
        data: &'a [T],
        per_member: usize,
    ) -> impl Iterator<Item = (&'a Batch, &'a [T])> {
        self.batches.iter().map(move |b| {
            (
                b,
                &data[b.offset as usize * per_member..(b.offset + b.members) as usize * per_member],
            )
        })
    }
}

impl Engine for GpuEngine {
    fn backend(&self) -> &'static str {
        "gpu"
    }

    fn kernel_note(&self) -> Option<serde_json::Value> {
        let mut v = serde_json::to_value(self.kernel()?).ok()?;
        if let (Some(o), Some((tile, halo))) = (v.as_object_mut(), self.fused_tile()) {
            o.insert(
                "fused".into(),
                serde_json::json!({"tile": tile, "halo": halo}),
            );
        }
        Some(v)
    }

    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn step(&self) -> u64 {
        self.step
    }

    fn set_step(&mut self, step: u64) {
        self.step = step;
    }

    fn advance(&mut self, steps: u64) -> Result<(), EngineError> {
        let nb = self.batches.len() as u64;
        let per_submit = (RING as u64 / nb).max(1);
        let grid = self.plan.model.grid();
        let workgroups = self
            .plan
            .model
            .gpu_program()
            .map(|p| p.workgroups)
            .ok_or_else(|| EngineError::NoGpuProgram {
                model: self.plan.model.info().kind.clone(),
            })?;
        // Steps per dispatch: 1 for the single-step kernel, up to the halo
        // for the fused one.
        let per_dispatch = self.fused.as_ref().map_or(1, |f| f.steps_per_dispatch());
        let pipeline = self
            .fused
            .as_ref()
            .map_or(&self.step_pipeline, |f| &f.pipeline);
        let mut done = 0;
        while done < steps {
            // (first step, steps) of each dispatch in this submission.
            let mut plan = Vec::new();
            let mut s = done;
            while s < steps && (plan.len() as u64) < per_submit {
                let n = per_dispatch.min(steps - s);
                plan.push((self.step + s, n as u32));
                s += n;
            }
            let mut records = Vec::with_capacity(plan.len() * self.batches.len());
            for &(first, n) in &plan {
                for b in &self.batches {
                    records.push(self.uniform_steps(first, b, n));
                }
            }
            self.write_ring(&records);
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("vtwin.advance"),
                });
            let last = s == steps;
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("vtwin.step"),
                    timestamp_writes: self.timer.as_ref().and_then(|t| t.writes(done == 0, last)),
                });
                pass.set_pipeline(pipeline);
                let mut cur = self.cur;
                for k in 0..plan.len() {
                    for (bi, b) in self.batches.iter().enumerate() {
                        let off = ((k * self.batches.len() + bi) as u64 * self.stride) as u32;
                        pass.set_bind_group(0, &b.step_bg[cur], &[off]);
                        let [x, y, z] = match (&self.fused, &self.tuned) {
                            (Some(f), _) => f.workgroups(grid.nx, grid.ny, b.members),
                            (None, Some(t)) => t.0.workgroups(&grid, b.members),
                            (None, None) => workgroups(&grid, b.members),
                        };
                        pass.dispatch_workgroups(x, y, z);
                    }
                    cur = 1 - cur;
                }
            }
            if let (Some(t), true) = (&self.timer, last) {
                t.resolve(&mut enc);
            }
            self.ctx.queue.submit([enc.finish()]);
            self.ctx.check("advance")?;
            if plan.len() % 2 == 1 {
                self.cur = 1 - self.cur;
            }
            done = s;
        }
        self.step += steps;
        Ok(())
    }

    fn observe(&mut self) -> Result<ObsFrame, EngineError> {
        let records: Vec<StepUniform> = self
            .batches
            .iter()
            .map(|b| self.uniform_for(self.step, b))
            .collect();
        self.write_ring(&records);
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("vtwin.observe"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("vtwin.observe"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.observe_pipeline);
            for (bi, b) in self.batches.iter().enumerate() {
                pass.set_bind_group(
                    0,
                    &b.observe_bg[self.cur],
                    &[(bi as u64 * self.stride) as u32],
                );
                pass.dispatch_workgroups(b.members, 1, 1);
            }
        }
        self.ctx.queue.submit([enc.finish()]);
        let n_obs = self.n_obs as u64;
        let bytes = self.read_all(
            |b| (&b.obs, b.members as u64 * n_obs * 4),
            "read observables",
        )?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn status(&mut self) -> Result<Vec<MemberStatus>, EngineError> {
        let bytes = self.read_all(|b| (&b.status, b.members as u64 * 8), "read status")?;
        let codes: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(codes
            .chunks(2)
            .map(|c| MemberStatus::from_code(c[0], c[1]))
            .collect())
    }

    fn write_status(&mut self, status: &[MemberStatus]) -> Result<(), EngineError> {
        check_len("write_status", status.len(), self.members())?;
        let codes: Vec<u32> = status
            .iter()
            .flat_map(|s| {
                let (c, k) = s.to_code();
                [c, k]
            })
            .collect();
        for (b, d) in self.member_slices(&codes, 2) {
            self.ctx
                .queue
                .write_buffer(&b.status, 0, bytemuck::cast_slice(d));
        }
        self.ctx.check("write status")
    }

    fn read_state(&mut self) -> Result<Vec<f32>, EngineError> {
        let n = self.state_len as u64 * 4;
        let cur = self.cur;
        let bytes = self.read_all(|b| (&b.state[cur], b.members as u64 * n), "read state")?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn write_state(&mut self, data: &[f32]) -> Result<(), EngineError> {
        check_len("write_state", data.len(), self.members() * self.state_len)?;
        for (b, d) in self.member_slices(data, self.state_len) {
            self.ctx
                .queue
                .write_buffer(&b.state[self.cur], 0, bytemuck::cast_slice(d));
        }
        self.ctx.check("write state")
    }

    fn read_params(&mut self) -> Result<Vec<f32>, EngineError> {
        let np = self.plan.n_params() as u64 * 4;
        let bytes = self.read_all(|b| (&b.params, b.members as u64 * np), "read params")?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn write_params(&mut self, data: &[f32]) -> Result<(), EngineError> {
        let np = self.plan.n_params();
        check_len("write_params", data.len(), self.members() * np)?;
        if np == 0 {
            return Ok(());
        }
        for (b, d) in self.member_slices(data, np) {
            self.ctx
                .queue
                .write_buffer(&b.params, 0, bytemuck::cast_slice(d));
        }
        self.ctx.check("write params")
    }

    fn copy_members(&mut self, src: &[u32]) -> Result<(), EngineError> {
        check_len("copy_members", src.len(), self.members())?;
        if let Some(bad) = src.iter().find(|&&s| s as usize >= self.members()) {
            return Err(EngineError::Invalid(format!(
                "copy_members: no member {bad}"
            )));
        }
        // State: copy on the GPU into the spare ping-pong buffers, then swap.
        let n = self.state_len as u64 * 4;
        let locate = |m: u32| {
            let b = self
                .batches
                .iter()
                .position(|b| m >= b.offset && m < b.offset + b.members)
                .unwrap_or(0);
            (b, (m - self.batches[b].offset) as u64)
        };
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("vtwin.copy_members"),
            });
        for (i, &s) in src.iter().enumerate() {
            let (sb, so) = locate(s);
            let (db, dof) = locate(i as u32);
            enc.copy_buffer_to_buffer(
                &self.batches[sb].state[self.cur],
                so * n,
                &self.batches[db].state[1 - self.cur],
                dof * n,
                n,
            );
        }
        self.ctx.queue.submit([enc.finish()]);
        self.cur = 1 - self.cur;
        // Parameters and status are small: permute on the host.
        let params = self.read_params()?;
        let np = self.plan.n_params();
        let mut p2 = vec![0.0f32; params.len()];
        for (i, &s) in src.iter().enumerate() {
            p2[i * np..(i + 1) * np]
                .copy_from_slice(&params[s as usize * np..(s as usize + 1) * np]);
        }
        self.write_params(&p2)?;
        let status_bytes = self.read_all(|b| (&b.status, b.members as u64 * 8), "read status")?;
        let codes: Vec<u32> = bytemuck::pod_collect_to_vec(&status_bytes);
        let mut c2 = vec![0u32; codes.len()];
        for (i, &s) in src.iter().enumerate() {
            c2[2 * i] = codes[2 * s as usize];
            c2[2 * i + 1] = codes[2 * s as usize + 1];
        }
        for (b, d) in self.member_slices(&c2, 2) {
            self.ctx
                .queue
                .write_buffer(&b.status, 0, bytemuck::cast_slice(d));
        }
        self.ctx.check("copy members")
    }

    fn mix_members(&mut self, mx: &MemberMix) -> Result<MixOutcome, EngineError> {
        mx.check(self.members(), self.state_len)?;
        if let Some(why) = Mixer::unfit(&self.ctx, mx) {
            // Host application, as the trait's default does.
            let status = self.status()?;
            let mut state = self.read_state()?;
            mix::apply_f32(&mut state, self.state_len, &status, mx)?;
            self.write_state(&state)?;
            return Ok(MixOutcome::on_host(why));
        }
        let status = self.status()?;
        let (n_ok, inv_n, _) = mix::scales(&status);
        if n_ok == 0 {
            return Ok(MixOutcome::on_device());
        }
        self.mixer()?;
        let mixer = self
            .mixer
            .as_ref()
            .ok_or_else(|| EngineError::Invalid("mix kernel".into()))?;
        mixer.apply(&self.ctx, &self.mix_batches(), self.state_len, mx, inv_n)?;
        self.cur = 1 - self.cur;
        Ok(MixOutcome::on_device())
    }

    fn state_moments(
        &mut self,
        words: std::ops::Range<usize>,
    ) -> Result<(Vec<f32>, Vec<f32>), EngineError> {
        if words.start > words.end || words.end > self.state_len {
            return Err(EngineError::Invalid(format!(
                "state_moments: words {}..{} outside the state's {}",
                words.start, words.end, self.state_len
            )));
        }
        let status = self.status()?;
        let (_, inv_n, inv_dof) = mix::scales(&status);
        self.mixer()?;
        let mixer = self
            .mixer
            .as_ref()
            .ok_or_else(|| EngineError::Invalid("mix kernel".into()))?;
        mixer.moments(
            &self.ctx,
            &self.mix_batches(),
            self.state_len,
            words,
            inv_n,
            inv_dof,
        )
    }
}
