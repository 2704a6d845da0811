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

use super::autotune::{self, Chosen};
use super::batch::{BatchResources, Initial, Shared};
use super::bindings;
use super::context::GpuContext;
use super::fused::FusedStepper;
use super::layout::StepUniform;
use super::mix::{MixBatch, Mixer};
use super::pipelines::{self, Kernel};
use super::schedule::{self, BatchShape, Records, Stepping, Submission};
use super::timing::PassTimer;
use crate::core::model::{KernelConfig, TunedProgram};
use crate::core::observe::observe_wgsl;
use crate::core::plan::Plan;
use crate::engine::backend::DeviceError;
use crate::engine::backend::KernelChoice;
use crate::engine::mix::{self, MemberMix, MixOutcome};
use crate::engine::{
    Engine, EngineError, MemberStatus, ObsFrame, check_len, check_ranges, ranges_len,
};
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// The engine options, owned by `backend` (this name is kept for callers
/// that build GPU engines directly).
pub use crate::engine::backend::EngineOptions as GpuOptions;

/// The shaped program in use and why it was chosen.
type Tuned = Box<(TunedProgram, Chosen)>;

/// Uniform ring entries (one per (step, batch) recorded in one submission).
const RING: u32 = 2048;

pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    plan: Plan,
    step_pipeline: wgpu::ComputePipeline,
    /// The shaped single-step kernel in use (`Model::tuned_program`) and
    /// why it was chosen; `None` for models without shapes.
    tuned: Option<Tuned>,
    observe_pipeline: wgpu::ComputePipeline,
    /// The temporally blocked step, when asked for (`EngineOptions::fused`).
    fused: Option<FusedStepper>,
    /// Timestamps around each `advance`, when asked for and available.
    timer: Option<PassTimer>,
    batches: Vec<BatchResources>,
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

/// How the single-step kernel's shape is settled at construction.
struct ShapePlan {
    /// A shape fixed now (option, environment, cache or default).
    preset: Option<(KernelConfig, autotune::Source)>,
    /// Tune after the buffers exist; `Some(key)` caches the winner.
    tune: Option<Option<String>>,
}

/// The shape for `plan` from the option, `$VTWIN_KERNEL` and the cache;
/// models without shapes get neither a preset nor a tune.
fn plan_shape(
    ctx: &GpuContext,
    plan: &Plan,
    kernel: KernelChoice,
) -> Result<ShapePlan, EngineError> {
    let model = &plan.model;
    let env = autotune::env_choice().map_err(|e| EngineError::Invalid(e.into()))?;
    let choice = match (kernel, env) {
        (KernelChoice::Auto, Some(e)) => (e, autotune::Source::Env),
        (c, _) => (c, autotune::Source::Option),
    };
    let key = autotune::cache_key(&ctx.summary, plan);
    let shaped = model.tuned_program(&KernelConfig::DEFAULT).is_some();
    let preset = match (shaped, choice) {
        (false, _) => None,
        (true, (KernelChoice::Fixed(c), src)) => Some((c, src)),
        (true, (KernelChoice::Default, src)) => Some((KernelConfig::DEFAULT, src)),
        (true, (KernelChoice::Tune, _)) => None,
        (true, (KernelChoice::Auto, _)) => match autotune::load(&key) {
            Some(c) => Some((c, autotune::Source::Cache)),
            // Software adapters, and runs with caching off (a tune that is
            // not kept would be paid on every start), take the default.
            None if ctx.summary.is_software() || autotune::cache_path().is_none() => {
                Some((KernelConfig::DEFAULT, autotune::Source::Default))
            }
            None => None,
        },
    };
    // An explicit `tune` only reports; an automatic one is cached.
    let tune =
        (shaped && preset.is_none()).then(|| (choice.0 == KernelChoice::Auto).then_some(key));
    Ok(ShapePlan { preset, tune })
}

/// A step pipeline on the step layout (entry point `step`).
fn step_pipeline(
    ctx: &GpuContext,
    name: &str,
    source: &str,
    layout: &wgpu::BindGroupLayout,
) -> Result<wgpu::ComputePipeline, EngineError> {
    let k = Kernel {
        name,
        source,
        entry: "step",
    };
    pipelines::build(ctx, k, Some(layout))
}

/// The single-step pipeline: the preset shape where there is one, else the
/// model's plain program.
fn build_step(
    ctx: &GpuContext,
    plan: &Plan,
    layout: &wgpu::BindGroupLayout,
    preset: Option<(KernelConfig, autotune::Source)>,
) -> Result<(wgpu::ComputePipeline, Option<Tuned>), EngineError> {
    let model = &plan.model;
    let kind = model.info().kind.clone();
    let no_program = || DeviceError::NoGpuProgram {
        model: kind.clone(),
    };
    let Some((c, source)) = preset else {
        let program = model.gpu_program().ok_or_else(no_program)?;
        let p = step_pipeline(ctx, &format!("{kind}.step"), &program.source, layout)?;
        return Ok((p, None));
    };
    let prog = model.tuned_program(&c).ok_or_else(no_program)?;
    let name = format!("{kind}.step[{}]", c.label());
    let p = step_pipeline(ctx, &name, &prog.source, layout)?;
    let chosen = Chosen {
        config: c,
        label: c.label(),
        source,
        vec4: prog.vec4,
        timings: vec![],
    };
    Ok((p, Some(Box::new((prog, chosen)))))
}

/// The observables pipeline for `plan`.
fn build_observe(
    ctx: &GpuContext,
    plan: &Plan,
    layout: &wgpu::BindGroupLayout,
) -> Result<wgpu::ComputePipeline, EngineError> {
    let model = &plan.model;
    let src = observe_wgsl(
        &plan.observables.ops,
        &model.grid(),
        model.state_len(),
        model.status_word(),
    );
    let name = format!("{}.observe", model.info().kind);
    let k = Kernel {
        name: &name,
        source: &src,
        entry: "observe",
    };
    pipelines::build(ctx, k, Some(layout))
}

/// The ring of `Step` records and its stride (one record per aligned slot).
fn uniform_ring(ctx: &GpuContext) -> (wgpu::Buffer, u64) {
    let align = ctx.limits.min_uniform_buffer_offset_alignment as u64;
    let stride = (std::mem::size_of::<StepUniform>() as u64).div_ceil(align) * align;
    let ring = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("vtwin.step.uniform_ring"),
        size: stride * RING as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    (ring, stride)
}

/// Every batch of `plan` (at most `per_batch` members each) with its
/// members' initial states and parameters uploaded.
fn upload_batches(plan: &Plan, per_batch: u32, shared: &Shared) -> Vec<BatchResources> {
    let model = &plan.model;
    let (state_len, np) = (model.state_len(), plan.n_params());
    let params_all = plan.params_f32();
    let mut init = vec![0.0f32; state_len];
    let mut batches = Vec::new();
    let mut offset = 0u32;
    while offset < plan.members {
        let members = per_batch.min(plan.members - offset);
        let mut state = Vec::with_capacity(members as usize * state_len);
        for m in offset..offset + members {
            let p = &params_all[m as usize * np..(m as usize + 1) * np];
            model.init_member(plan.seed, plan.member_offset + m, p, &mut init);
            state.extend_from_slice(&init);
        }
        // Kernels bind at least one parameter word per member.
        let params = match np {
            0 => vec![0.0; members as usize],
            _ => params_all[offset as usize * np..(offset + members) as usize * np].to_vec(),
        };
        let batch = BatchResources::new(
            shared,
            &Initial {
                index: batches.len(),
                offset,
                members,
                state: &state,
                params: &params,
                n_obs: plan.observables.ops.len() + 1,
                scratch_len: model.scratch_len(),
            },
        );
        batches.push(batch);
        offset += members;
    }
    batches
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

    /// `new` with every option: layouts, pipelines (the kernel shape from
    /// `plan_shape`), the uniform ring and every batch's buffers, then a
    /// tune where one is due.
    pub fn with_options(
        ctx: Arc<GpuContext>,
        plan: &Plan,
        opts: &GpuOptions,
    ) -> Result<GpuEngine, EngineError> {
        let model = &plan.model;
        let kind = model.info().kind.clone();
        if model.gpu_program().is_none() {
            return Err(DeviceError::NoGpuProgram { model: kind }.into());
        }
        let dev = &ctx.device;
        let step_layout = bindings::layout(dev, "vtwin.step.layout", bindings::STEP);
        let observe_layout = bindings::layout(dev, "vtwin.observe.layout", bindings::OBSERVE);
        let shape = plan_shape(&ctx, plan, opts.kernel)?;
        let (step_pipeline, tuned) = build_step(&ctx, plan, &step_layout, shape.preset)?;
        let observe_pipeline = build_observe(&ctx, plan, &observe_layout)?;
        let fused = match opts.fused {
            Some(k) => Some(FusedStepper::new(&ctx, plan, &step_layout, k)?),
            None => None,
        };
        ctx.save_pipeline_cache();
        let timer = opts.timing.then(|| PassTimer::new(&ctx)).flatten();
        let (uniform, stride) = uniform_ring(&ctx);
        let aux = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("vtwin.{kind}.aux")),
            contents: bytemuck::cast_slice(model.aux()),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let shared = Shared {
            device: dev,
            kind: &kind,
            step_layout: &step_layout,
            observe_layout: &observe_layout,
            ring: &uniform,
            aux: &aux,
        };
        let per_batch =
            crate::engine::backend::members_per_batch(&ctx.limits, model.as_ref(), opts.batch_size);
        let batches = upload_batches(plan, per_batch, &shared);
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
            state_len: model.state_len(),
            n_obs: plan.observables.ops.len() + 1,
            mixer: None,
        };
        if let Some(cache) = shape.tune {
            engine.tune(&step_layout, cache.as_deref())?;
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
        let shapes = self.batch_shapes(false)?;
        let time_at = |s: u64| model.time_at(s);
        let records = self.records(&time_at);
        self.write_ring(&[records.record(&shapes[0], self.step, 0)]);
        let mut results = Vec::new();
        let mut best: Option<(wgpu::ComputePipeline, TunedProgram, f64)> = None;
        for c in autotune::candidates(&self.plan) {
            let Some(prog) = model.tuned_program(&c) else {
                continue;
            };
            let name = format!("{kind}.step[{}]", c.label());
            let pipeline = step_pipeline(&self.ctx, &name, &prog.source, layout)?;
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

    /// What every `Step` record of this engine shares.
    fn records<'a>(&self, time_at: &'a dyn Fn(u64) -> f64) -> Records<'a> {
        Records {
            seed: self.plan.seed,
            member_offset: self.plan.member_offset,
            time_at,
        }
    }

    /// The batches as the schedule sees them; `step`: with the workgroups
    /// of the step kernel in use (fused, shaped or plain).
    fn batch_shapes(&self, step: bool) -> Result<Vec<BatchShape>, EngineError> {
        let grid = self.plan.model.grid();
        let plain = match step {
            true => Some(
                self.plan
                    .model
                    .gpu_program()
                    .map(|p| p.workgroups)
                    .ok_or_else(|| DeviceError::NoGpuProgram {
                        model: self.plan.model.info().kind.clone(),
                    })?,
            ),
            false => None,
        };
        let workgroups = |members: u32| match (&self.fused, &self.tuned, plain) {
            (_, _, None) => [0; 3],
            (Some(f), _, _) => f.workgroups(grid.nx, grid.ny, members),
            (None, Some(t), _) => t.0.workgroups(&grid, members),
            (None, None, Some(w)) => w(&grid, members),
        };
        Ok(self
            .batches
            .iter()
            .map(|b| BatchShape {
                offset: b.offset,
                members: b.members,
                workgroups: workgroups(b.members),
            })
            .collect())
    }

    /// Runs one submission of the schedule: its records into the ring
    /// (dispatch i at slot i), its dispatches in order in one pass.
    fn execute(&self, sub: &Submission) {
        let records: Vec<StepUniform> = sub.dispatches.iter().map(|d| d.record).collect();
        self.write_ring(&records);
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(sub.encoder),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(sub.pass),
                timestamp_writes: self
                    .timer
                    .as_ref()
                    .and_then(|t| t.writes(sub.time_begin, sub.time_end)),
            });
            let mut bound = None;
            for (slot, d) in sub.dispatches.iter().enumerate() {
                if bound != Some(d.kernel) {
                    pass.set_pipeline(self.pipeline(d.kernel));
                    bound = Some(d.kernel);
                }
                let b = &self.batches[d.batch];
                let group = match d.kernel {
                    schedule::Kernel::Observe => &b.observe_bg[d.side],
                    _ => &b.step_bg[d.side],
                };
                pass.set_bind_group(0, group, &[(slot as u64 * self.stride) as u32]);
                let [x, y, z] = d.workgroups;
                pass.dispatch_workgroups(x, y, z);
            }
        }
        if let (Some(t), true) = (&self.timer, sub.time_end) {
            t.resolve(&mut enc);
        }
        self.ctx.queue.submit([enc.finish()]);
    }

    fn pipeline(&self, kernel: schedule::Kernel) -> &wgpu::ComputePipeline {
        match (kernel, &self.fused) {
            (schedule::Kernel::Observe, _) => &self.observe_pipeline,
            (schedule::Kernel::Fused, Some(f)) => &f.pipeline,
            _ => &self.step_pipeline,
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
        pick: impl Fn(&BatchResources) -> (&wgpu::Buffer, u64),
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
    ) -> impl Iterator<Item = (&'a BatchResources, &'a [T])> {
        self.batches.iter().map(move |b| {
            (
                b,
                &data[b.offset as usize * per_member..(b.offset + b.members) as usize * per_member],
            )
        })
    }

    /// Where the members of `ranges` lie, in the ranges' order: (batch,
    /// first member within the batch, members, position of the first in
    /// the ranges' concatenation). A range may span batches.
    fn range_pieces(&self, ranges: &[std::ops::Range<usize>]) -> Vec<(usize, usize, usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        for r in ranges {
            for (k, b) in self.batches.iter().enumerate() {
                let (lo, hi) = (b.offset as usize, (b.offset + b.members) as usize);
                let (s, e) = (r.start.max(lo), r.end.min(hi));
                if s < e {
                    out.push((k, s - lo, e - s, at + s - r.start));
                }
            }
            at += r.len();
        }
        out
    }

    /// Writes the members of `ranges` (`per_member` values each, laid out
    /// as the ranges' concatenation) into the buffer `pick` names, one
    /// `write_buffer` per piece at its offset within its batch.
    fn write_ranges(
        &self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
        per_member: usize,
        pick: impl Fn(&BatchResources) -> &wgpu::Buffer,
        what: &str,
    ) -> Result<(), EngineError> {
        if per_member == 0 {
            return Ok(());
        }
        for (k, first, count, at) in self.range_pieces(ranges) {
            let d = &data[at * per_member..(at + count) * per_member];
            self.ctx.queue.write_buffer(
                pick(&self.batches[k]),
                (first * per_member * 4) as u64,
                bytemuck::cast_slice(d),
            );
        }
        self.ctx.check(what)
    }

    /// Reads the members of `ranges` from the buffer `pick` names: one
    /// staging copy per batch touched, of only the span its pieces cover.
    fn read_ranges(
        &self,
        ranges: &[std::ops::Range<usize>],
        per_member: usize,
        pick: impl Fn(&BatchResources) -> &wgpu::Buffer,
        what: &str,
    ) -> Result<Vec<f32>, EngineError> {
        let pm = per_member;
        let mut out = vec![0.0f32; ranges_len(ranges) * pm];
        if out.is_empty() {
            return Ok(out);
        }
        let pieces = self.range_pieces(ranges);
        for (k, b) in self.batches.iter().enumerate() {
            let mine: Vec<_> = pieces.iter().filter(|p| p.0 == k).collect();
            let (Some(lo), Some(hi)) = (
                mine.iter().map(|p| p.1).min(),
                mine.iter().map(|p| p.1 + p.2).max(),
            ) else {
                continue;
            };
            let bytes = self.ctx.read_buffer(
                pick(b),
                (lo * pm * 4) as u64,
                ((hi - lo) * pm * 4) as u64,
                what,
            )?;
            let vals: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
            for &&(_, first, count, at) in &mine {
                out[at * pm..(at + count) * pm]
                    .copy_from_slice(&vals[(first - lo) * pm..(first - lo + count) * pm]);
            }
        }
        Ok(out)
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
        let stepping = Stepping {
            kernel: match self.fused {
                Some(_) => schedule::Kernel::Fused,
                None => schedule::Kernel::Step,
            },
            // 1 for the single-step kernel, up to the halo for the fused one.
            per_dispatch: self.fused.as_ref().map_or(1, |f| f.steps_per_dispatch()),
            rounds_per_submission: (RING as u64 / self.batches.len() as u64).max(1),
        };
        let shapes = self.batch_shapes(true)?;
        let model = self.plan.model.clone();
        let time_at = |s: u64| model.time_at(s);
        let records = self.records(&time_at);
        for sub in schedule::advance(&records, &shapes, stepping, self.step, steps, self.cur) {
            self.execute(&sub);
            self.ctx.check("advance")?;
            if let Some(last) = sub.dispatches.last() {
                self.cur = 1 - last.side;
            }
        }
        self.step += steps;
        Ok(())
    }

    fn observe(&mut self) -> Result<ObsFrame, EngineError> {
        let shapes = self.batch_shapes(false)?;
        let time_at = |s: u64| self.plan.model.time_at(s);
        let sub = schedule::observe(&self.records(&time_at), &shapes, self.step, self.cur);
        self.execute(&sub);
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

    fn read_state_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<f32>, EngineError> {
        check_ranges(ranges, self.members())?;
        let cur = self.cur;
        self.read_ranges(
            ranges,
            self.state_len,
            |b| &b.state[cur],
            "read state ranges",
        )
    }

    fn write_state_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
    ) -> Result<(), EngineError> {
        check_ranges(ranges, self.members())?;
        let n = self.state_len;
        check_len("write_state_ranges", data.len(), ranges_len(ranges) * n)?;
        let cur = self.cur;
        self.write_ranges(ranges, data, n, |b| &b.state[cur], "write state ranges")
    }

    fn read_params_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<f32>, EngineError> {
        check_ranges(ranges, self.members())?;
        let np = self.plan.n_params();
        self.read_ranges(ranges, np, |b| &b.params, "read params ranges")
    }

    fn write_params_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
    ) -> Result<(), EngineError> {
        check_ranges(ranges, self.members())?;
        let np = self.plan.n_params();
        check_len("write_params_ranges", data.len(), ranges_len(ranges) * np)?;
        self.write_ranges(ranges, data, np, |b| &b.params, "write params ranges")
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
