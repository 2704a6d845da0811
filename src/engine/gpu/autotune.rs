//! Per-adapter choice of the single-step kernel's shape
//! (`model::KernelConfig`: workgroup width × height, sites per invocation)
//! for models whose kernel has shapes (`Model::tuned_program`, the
//! reaction-diffusion family).
//!
//! How the shape is chosen, first match wins:
//! 1. `EngineOptions::kernel` set to a fixed shape, `default` or `tune`;
//! 2. `$VTWIN_KERNEL`: `default`, `tune`, or a shape such as `16x16/4`;
//! 3. the tuning cache, keyed by adapter, driver, model kind, grid,
//!    ensemble size (powers of 4) and a hash of the kernel source;
//! 4. on a hardware adapter with the cache on: a short tune (every
//!    candidate of [`candidates`] timed for a few steps on the engine's own
//!    buffers, the fastest kept and cached; well under a second); on a
//!    software adapter, or with caching off: the default.
//!
//! Results never depend on the shape: every shape updates each site with
//! the same expressions (`shaders/rd/site.wgsl`); tests/gpu_tuning.rs
//! checks bit-identity across every candidate and batch sizes.
//!
//! The cache is one JSON file, `kernel-shapes.json`, in the pipeline
//! cache's folder (`pipeline_cache::cache_dir`; `VTWIN_PIPELINE_CACHE=off`
//! disables both). Best effort: a cache that cannot be read or written
//! never fails a command.
//!
//! Owns: the candidates, the choice rules and the cache file. Timing runs
//! in `GpuEngine` (it owns the buffers).

use super::context::AdapterSummary;
use crate::core::model::KernelConfig;
use crate::core::model::KernelShapeError;
use crate::core::plan::Plan;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment variable that overrides the choice.
pub const ENV: &str = "VTWIN_KERNEL";

/// How the engine picks the shape: an engine option, owned by `backend`.
pub use crate::engine::backend::KernelChoice;

/// Where a chosen shape came from (reported by `vtwin bench`, recorded in
/// run manifests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Option,
    Env,
    Cache,
    Tuned,
    Default,
}

/// The shape in use and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Chosen {
    pub config: KernelConfig,
    /// `16x16/4`.
    pub label: String,
    pub source: Source,
    /// Whether the kernel moves the state as vec4.
    pub vec4: bool,
    /// Measured per candidate when tuned now: (label, seconds per step).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timings: Vec<(String, f64)>,
}

/// Shapes the tuner tries: the old 8×8 one-site kernel, coalesced rows
/// (64×4, 32×8, 16×16) at 1, 2 and 4 sites per invocation. Shapes that
/// map to the same kernel source appear once.
pub fn candidates(plan: &Plan) -> Vec<KernelConfig> {
    let all = [
        KernelConfig::DEFAULT,
        KernelConfig {
            wg: [8, 8],
            sites: 1,
        },
        KernelConfig {
            wg: [64, 4],
            sites: 1,
        },
        KernelConfig {
            wg: [16, 16],
            sites: 1,
        },
        KernelConfig {
            wg: [32, 8],
            sites: 2,
        },
        KernelConfig {
            wg: [64, 4],
            sites: 4,
        },
        KernelConfig {
            wg: [32, 8],
            sites: 4,
        },
        KernelConfig {
            wg: [8, 32],
            sites: 4,
        },
    ];
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for c in all {
        let Some(p) = plan.model.tuned_program(&c) else {
            return Vec::new();
        };
        if !seen.contains(&p.source) {
            seen.push(p.source);
            out.push(c);
        }
    }
    out
}

/// The choice `$VTWIN_KERNEL` asks for, if set; an unparsable value is an
/// error naming the variable.
pub fn env_choice() -> Result<Option<KernelChoice>, KernelShapeError> {
    match std::env::var(ENV) {
        Ok(v) if !v.trim().is_empty() => KernelChoice::parse(&v)
            .map(Some)
            .map_err(|e| KernelShapeError(format!("${ENV}: {e}"))),
        _ => Ok(None),
    }
}

/// FNV-1a, 64 bit (Fowler, Noll & Vo): a stable hash of the kernel source
/// so the cache forgets shapes tuned for an older kernel.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Ensemble sizes tuned apart: 1, 2–4, 5–16, … (powers of 4), since a
/// small ensemble's best shape (latency-bound) need not be a large one's.
pub fn members_bucket(members: u32) -> u32 {
    let mut b = 1u32;
    while b < members && b < (1 << 30) {
        b *= 4;
    }
    b
}

/// The cache key of `plan` on an adapter.
pub fn cache_key(adapter: &AdapterSummary, plan: &Plan) -> String {
    let g = plan.model.grid();
    let src = plan
        .model
        .tuned_program(&KernelConfig::DEFAULT)
        .map(|p| p.source)
        .unwrap_or_default();
    format!(
        "{} | {} | {} | {} | {}x{}x{} | members<={} | {:016x}",
        adapter.name,
        adapter.backend,
        adapter.driver,
        plan.model.info().kind,
        g.nx,
        g.ny,
        g.fields,
        members_bucket(plan.members),
        fnv1a(&src)
    )
}

/// The cache file, or `None` when caching is off.
pub fn cache_path() -> Option<PathBuf> {
    super::pipeline_cache::cache_dir().map(|d| d.join("kernel-shapes.json"))
}

fn read_cache(path: &std::path::Path) -> BTreeMap<String, KernelConfig> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The cached shape for `key`, if any.
pub fn load(key: &str) -> Option<KernelConfig> {
    load_from(&cache_path()?, key)
}

/// Records `config` for `key` in the cache file, if caching is on.
pub fn store(key: &str, config: KernelConfig) {
    if let Some(path) = cache_path() {
        store_to(&path, key, config);
    }
}

/// `load` from a given file: a missing or unreadable file holds nothing.
pub fn load_from(path: &std::path::Path, key: &str) -> Option<KernelConfig> {
    read_cache(path).get(key).copied()
}

/// `store` into a given file: read, update, write to a temporary name and
/// rename; errors ignored (an unreadable file is replaced).
pub fn store_to(path: &std::path::Path, key: &str, config: KernelConfig) {
    let mut map = read_cache(path);
    map.insert(key.to_string(), config);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(bytes) = serde_json::to_vec_pretty(&map) {
        let _ = crate::output::io::write_atomic(path, &bytes);
    }
}

/// The index of the fastest of `seconds` (ties: the first).
pub fn fastest(seconds: &[f64]) -> usize {
    let mut best = 0;
    for (i, s) in seconds.iter().enumerate() {
        if *s < seconds[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{model_scenes, plan, scene};

    #[test]
    fn choices_parse_and_bad_ones_say_why() {
        assert_eq!(KernelChoice::parse("auto"), Ok(KernelChoice::Auto));
        assert_eq!(KernelChoice::parse("tune"), Ok(KernelChoice::Tune));
        assert_eq!(
            KernelChoice::parse("64x4/2"),
            Ok(KernelChoice::Fixed(KernelConfig {
                wg: [64, 4],
                sites: 2
            }))
        );
        for bad in ["64x8/1", "16x16/3", "16/4", "x", "0x4/1"] {
            let e = KernelChoice::parse(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("WxH/S"), "{e}");
        }
        assert_eq!(KernelConfig::DEFAULT.label(), "16x16/4");
        assert_eq!(fastest(&[3.0, 1.0, 1.0, 2.0]), 1);
        let buckets: Vec<u32> = [1, 2, 4, 5, 16, 17, 4096, 4097]
            .map(members_bucket)
            .to_vec();
        assert_eq!(buckets, [1, 4, 4, 16, 16, 64, 4096, 16384]);
    }

    /// The cache keeps one shape per key across writes, and a damaged
    /// file reads as empty and is replaced on the next write.
    #[test]
    fn cache_round_trips_and_survives_damage() {
        let dir = std::env::temp_dir().join(format!("vtwin-autotune-{}", std::process::id()));
        let path = dir.join("kernel-shapes.json");
        let a = KernelConfig {
            wg: [64, 4],
            sites: 1,
        };
        assert_eq!(load_from(&path, "k1"), None);
        store_to(&path, "k1", a);
        store_to(&path, "k2", KernelConfig::DEFAULT);
        assert_eq!(load_from(&path, "k1"), Some(a));
        assert_eq!(load_from(&path, "k2"), Some(KernelConfig::DEFAULT));
        std::fs::write(&path, b"{ not json").unwrap();
        assert_eq!(load_from(&path, "k1"), None);
        store_to(&path, "k1", a);
        assert_eq!(load_from(&path, "k1"), Some(a));
        assert_eq!(load_from(&path, "k2"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Every candidate of every grid model validates, and the eight
    /// candidates are distinct kernels.
    #[test]
    fn candidates_validate_and_are_distinct() {
        for (name, text) in model_scenes() {
            let p = plan(&scene(name, &text), None);
            let cands = candidates(&p);
            if p.model.tuned_program(&KernelConfig::DEFAULT).is_none() {
                assert!(cands.is_empty(), "{name}");
                continue;
            }
            for c in &cands {
                let prog = p.model.tuned_program(c).unwrap();
                crate::core::shaders::validate(&format!("{name} {}", c.label()), &prog.source)
                    .unwrap();
            }
            assert_eq!(cands.len(), 8, "{name}");
        }
    }
}
