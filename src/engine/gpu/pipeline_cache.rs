//! A pipeline cache kept on disk where the backend has one (wgpu's
//! `PIPELINE_CACHE`, Vulkan): compiled pipelines are handed to the driver
//! from the previous run, so engine start-up skips most shader compilation.
//! One file per adapter (`wgpu::util::pipeline_cache_key`) in
//! `$VTWIN_PIPELINE_CACHE` (a folder, or `off`), else
//! `$XDG_CACHE_HOME/vtwin`, else `~/.cache/vtwin`. wgpu checks the file's
//! header, device and hash before the driver sees it and falls back to an
//! empty cache when it does not match, so a stale or damaged file costs
//! only the compile it would have saved.
//!
//! Owns: the cache object and its file. Best effort: a cache that cannot be
//! read or written never fails a command.

use std::path::PathBuf;

pub struct DiskCache {
    pub cache: wgpu::PipelineCache,
    path: PathBuf,
}

/// The folder the cache lives in, or `None` when disabled or unknown.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("VTWIN_PIPELINE_CACHE") {
        Some(v) if v == "off" || v == "0" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("vtwin")),
    }
}

impl DiskCache {
    /// Opens the adapter's cache (loading the file if there is one), or
    /// `None` when the device lacks `PIPELINE_CACHE`, the backend has no
    /// cache key or caching is off.
    pub fn open(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        features: wgpu::Features,
    ) -> Option<DiskCache> {
        if !features.contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let key = wgpu::util::pipeline_cache_key(info)?;
        let path = cache_dir()?.join(format!("{key}.bin"));
        let data = std::fs::read(&path).ok();
        // SAFETY: `data` is what `PipelineCache::get_data` returned for an
        // adapter with the same cache key (the file is named by it); wgpu
        // validates header, device and hash and, with `fallback`, uses an
        // empty cache when they do not match.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("vtwin.pipeline_cache"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        Some(DiskCache { cache, path })
    }

    /// Writes the cache's current contents to its file (atomically; errors
    /// are ignored: the cache is an optimisation).
    pub fn save(&self) {
        if let Some(data) = self.cache.get_data() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::output::io::write_atomic(&self.path, &data);
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}
