//! Adapter discovery and choice, device creation with the adapter's own
//! limits, and error capture (validation errors, uncaptured errors and
//! device loss become `EngineError`s, never panics or hangs).
//!
//! Choice: `--adapter NAME` or `WGPU_ADAPTER_NAME` (case-insensitive
//! substring) pins an adapter; otherwise hardware (discrete > integrated >
//! virtual > other) is preferred over software (device type `Cpu`, e.g.
//! lavapipe). `WGPU_BACKEND` limits the backends searched.

use crate::engine::EngineError;
use crate::engine::backend::DeviceError;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What vtwin records about an adapter (manifest `adapter` key).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl AdapterSummary {
    pub fn of(info: &wgpu::AdapterInfo) -> AdapterSummary {
        let driver = if info.driver_info.is_empty() {
            info.driver.clone()
        } else {
            format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string()
        };
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend).to_lowercase(),
            device_type: format!("{:?}", info.device_type),
            driver,
        }
    }

    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
}

fn rank(info: &wgpu::AdapterInfo) -> u32 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// A wgpu instance over the backends in the environment. Library code never
/// changes the environment (other threads may be reading it); the `vtwin`
/// binary sets `XDG_RUNTIME_DIR` at start-up, before it has threads.
fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter the backends in `WGPU_BACKEND` (default: all) expose,
/// best first.
pub fn adapters() -> Vec<wgpu::Adapter> {
    let inst = instance();
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    let mut list = pollster::block_on(inst.enumerate_adapters(backends));
    list.sort_by_key(|a| rank(&a.get_info()));
    list
}

/// The name filter in force: `--adapter` wins over `WGPU_ADAPTER_NAME`.
pub fn name_filter(cli: Option<&str>) -> Option<String> {
    cli.map(str::to_string)
        .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
        .filter(|s| !s.is_empty())
}

/// Picks an adapter: by name filter, else the best-ranked one.
pub fn choose(name: Option<&str>) -> Result<wgpu::Adapter, EngineError> {
    let list = adapters();
    if list.is_empty() {
        return Err(DeviceError::NoAdapter(
            "no GPU adapter found (on a machine without a GPU install Mesa's lavapipe: \
             `apt-get install mesa-vulkan-drivers`, and set WGPU_BACKEND=vulkan)"
                .into(),
        )
        .into());
    }
    match name_filter(name) {
        Some(n) => {
            let needle = n.to_lowercase();
            let names: Vec<String> = list.iter().map(|a| a.get_info().name).collect();
            list.into_iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&needle))
                .ok_or_else(|| {
                    DeviceError::NoAdapter(format!(
                        "no adapter matches `{n}`; available: {}",
                        names.join("; ")
                    ))
                    .into()
                })
        }
        None => Ok(list.into_iter().next().unwrap_or_else(|| unreachable!())),
    }
}

/// Is there a hardware adapter (for `--backend auto`)?
pub fn hardware_adapter(name: Option<&str>) -> Option<wgpu::Adapter> {
    let a = choose(name).ok()?;
    (rank(&a.get_info()) < 4).then_some(a)
}

/// A device and queue with the adapter's own limits, and error capture.
pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    errors: Arc<Mutex<Vec<String>>>,
    lost: Arc<Mutex<Option<String>>>,
    pub timeout: Duration,
    /// The on-disk pipeline cache, where the backend has one.
    pub disk_cache: Option<super::pipeline_cache::DiskCache>,
}

impl GpuContext {
    pub fn new(adapter: wgpu::Adapter) -> Result<GpuContext, EngineError> {
        let limits = adapter.limits();
        let wanted = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::SHADER_F16
            | wgpu::Features::PIPELINE_CACHE;
        let features = adapter.features() & wanted;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("vtwin.device"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| DeviceError::Device {
            context: "request_device".into(),
            message: e.to_string(),
        })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let lost = Arc::new(Mutex::new(None));
        {
            let errors = errors.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                if let Ok(mut v) = errors.lock() {
                    v.push(e.to_string());
                }
            }));
            let lost = lost.clone();
            device.set_device_lost_callback(move |reason, msg| {
                if let Ok(mut l) = lost.lock() {
                    *l = Some(format!("{reason:?}: {msg}"));
                }
            });
        }
        let timeout = std::env::var("VTWIN_GPU_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(Duration::from_secs(600), Duration::from_secs);
        let summary = AdapterSummary::of(&adapter.get_info());
        let disk_cache =
            super::pipeline_cache::DiskCache::open(&device, &adapter.get_info(), features);
        Ok(GpuContext {
            adapter,
            device,
            queue,
            summary,
            limits,
            features,
            errors,
            lost,
            timeout,
            disk_cache,
        })
    }

    /// The pipeline cache to build pipelines with (`None`: driver default).
    pub fn pipeline_cache(&self) -> Option<&wgpu::PipelineCache> {
        self.disk_cache.as_ref().map(|c| &c.cache)
    }

    /// Saves the pipeline cache after pipelines were built (best effort).
    pub fn save_pipeline_cache(&self) {
        if let Some(c) = &self.disk_cache {
            c.save();
        }
    }

    /// Returns the first captured error (uncaptured validation error or
    /// device loss) as an `EngineError`, naming `context`.
    pub fn check(&self, context: &str) -> Result<(), EngineError> {
        if let Some(l) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(DeviceError::DeviceLost(format!("{l} (during {context})")).into());
        }
        let first = self.errors.lock().ok().and_then(|mut v| {
            if v.is_empty() {
                None
            } else {
                Some(v.remove(0))
            }
        });
        match first {
            Some(m) => Err(DeviceError::Device {
                context: context.into(),
                message: m,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Waits for a submission with the context's timeout.
    pub fn wait(&self, idx: wgpu::SubmissionIndex, context: &str) -> Result<(), EngineError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(idx),
                timeout: Some(self.timeout),
            })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => EngineError::Timeout(context.into()),
                other => DeviceError::Device {
                    context: context.into(),
                    message: other.to_string(),
                }
                .into(),
            })?;
        self.check(context)
    }

    /// Runs `f` inside a validation error scope and turns a captured error
    /// into `EngineError::Device` naming `context`.
    pub fn scoped<T>(&self, context: &str, f: impl FnOnce() -> T) -> Result<T, EngineError> {
        let guard = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        match pollster::block_on(guard.pop()) {
            Some(e) => Err(DeviceError::Device {
                context: context.into(),
                message: e.to_string(),
            }
            .into()),
            None => Ok(out),
        }
    }

    /// Copies `size` bytes of `buf` from `offset` to the host.
    pub fn read_buffer(
        &self,
        buf: &wgpu::Buffer,
        offset: u64,
        size: u64,
        context: &str,
    ) -> Result<Vec<u8>, EngineError> {
        if size == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vtwin.staging.read"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(context),
            });
        enc.copy_buffer_to_buffer(buf, offset, &staging, 0, size);
        let idx = self.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait(idx, context)?;
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(DeviceError::Device {
                    context: context.into(),
                    message: e.to_string(),
                }
                .into());
            }
            Err(_) => return Err(EngineError::Timeout(format!("{context}: buffer map"))),
        }
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| DeviceError::Device {
                context: context.into(),
                message: format!("{e:?}"),
            })?;
        let out = view.to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

/// The limits and features vtwin uses, for `vtwin adapters`.
pub fn describe(adapter: &wgpu::Adapter) -> serde_json::Value {
    let info = adapter.get_info();
    let l = adapter.limits();
    let f = adapter.features();
    let feats: Vec<&str> = [
        (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
        (wgpu::Features::SHADER_F16, "SHADER_F16"),
        (wgpu::Features::SHADER_F64, "SHADER_F64"),
        (wgpu::Features::SUBGROUP, "SUBGROUP"),
        (wgpu::Features::PIPELINE_CACHE, "PIPELINE_CACHE"),
    ]
    .iter()
    .filter(|(flag, _)| f.contains(*flag))
    .map(|(_, n)| *n)
    .collect();
    serde_json::json!({
        "summary": AdapterSummary::of(&info),
        "limits": {
            "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
            "max_buffer_size": l.max_buffer_size,
            "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
            "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
            "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
            "min_uniform_buffer_offset_alignment": l.min_uniform_buffer_offset_alignment,
            "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
        },
        "features": feats,
    })
}
