//! Shared helpers for integration tests.
//!
//! GPU tests never pass silently without a GPU: with `REQUIRE_GPU=1` (set by
//! `.ci/run`) a missing adapter fails the test; otherwise the test prints
//! that it was skipped and why.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;

/// The GPU backend (any adapter, software included), or None after printing
/// why the test is skipped. Panics when REQUIRE_GPU=1 and there is none.
pub fn gpu() -> Option<Backend> {
    match Backend::open(BackendChoice::Gpu, None, &mut |_| {}) {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("REQUIRE_GPU=1 but no GPU adapter is available: {e}");
            }
            eprintln!("skipped: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
            None
        }
    }
}

/// A fresh temporary folder removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "vtwin-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scene that diverges: u' = u³ from u = 2 blows up near t = 1/8.
pub const DIVERGING: &str = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "g * u * u * u" }
[grid]
nx = 8
ny = 8
[time]
dt = 0.01
steps = 40
[ensemble]
members = 6
seed = 1
[parameters]
g = { dist = "choice", values = [0.0, 1.0] }
[initial]
background = { u = 2.0 }
[observe]
every = 5
[[observables]]
kind = "mean"
field = "u"
"#;

/// A small `tumour_abm` scene: an n × n grid of 25 µm sites, dt = 10 min,
/// `params` as lines of the [parameters] table and `tail` appended (arms,
/// observables).
pub fn abm_scene(
    n: u32,
    members: u32,
    steps: u64,
    every: u64,
    capacity: u32,
    params: &str,
    tail: &str,
) -> String {
    format!(
        "[model]\nkind = \"tumour_abm\"\n[grid]\nnx = {n}\nny = {n}\ndx = 25.0\n\
         [time]\ndt = 10.0\nsteps = {steps}\n[ensemble]\nmembers = {members}\nseed = 5\n\
         [agents]\ncapacity = {capacity}\nfield_sweeps = 6\ninit_sweeps = 400\n\
         [observe]\nevery = {every}\n[parameters]\n{params}\n{tail}\n"
    )
}

/// Frames of a recording as (observation index, member) → value of the
/// named observable.
pub fn series(plan: &vtwin::core::plan::Plan, frames: &[Vec<f32>], name: &str) -> Vec<Vec<f32>> {
    let k = plan
        .observables
        .ops
        .iter()
        .position(|o| o.name == name)
        .unwrap_or_else(|| panic!("no observable {name}"));
    let stride = plan.observables.ops.len() + 1;
    frames
        .iter()
        .map(|f| f.chunks(stride).map(|c| c[k]).collect())
        .collect()
}

/// Runs the `vtwin` binary from the crate root with the on-disk pipeline
/// cache off (tests never touch the user's cache).
pub fn vtwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VTWIN_PIPELINE_CACHE", "off")
        .output()
        .expect("runs vtwin")
}

/// Writes a scene file into `dir` and returns its path as a string.
pub fn write_scene(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("scene written");
    p.to_string_lossy().to_string()
}

/// A run directory's `manifest.json`.
pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
        .expect("manifest is JSON")
}

/// The plan of a scene given as TOML text (`abm.toml` in errors).
pub fn plan_of(text: &str) -> vtwin::core::plan::Plan {
    let s = vtwin::input::scene::Scene::parse(Path::new("abm.toml"), text).expect("scene parses");
    vtwin::core::plan::Plan::freeze(&s, &vtwin::core::plan::PlanOptions::default())
        .expect("plan freezes")
}

/// The CPU backend.
pub fn cpu() -> Backend {
    Backend::Cpu
}

/// A two-species custom model on a 4 × 1 grid whose kinetics are
/// `du/dt = a + b` and `dv/dt = v_rate`, with parameters a ~ U(0, 1),
/// b ~ U(0, 2), c ~ U(0, 1) (c inert unless `v_rate` uses it), seed 3, and
/// the means of u and v observed every `every` steps: sweeps of it have
/// known sensitivity indices.
pub fn linear_sweep_scene(v_rate: &str, steps: u64, every: u64) -> String {
    format!(
        "[model]\nkind = \"custom\"\nspecies = [\"u\", \"v\"]\n\
         reactions = {{ u = \"a + b\", v = \"{v_rate}\" }}\n\
         [grid]\nnx = 4\nny = 1\n[time]\ndt = 0.01\nsteps = {steps}\n\
         [ensemble]\nseed = 3\n[parameters]\n\
         a = {{ dist = \"uniform\", low = 0.0, high = 1.0 }}\n\
         b = {{ dist = \"uniform\", low = 0.0, high = 2.0 }}\n\
         c = {{ dist = \"uniform\", low = 0.0, high = 1.0 }}\n\
         [observe]\nevery = {every}\n\
         [[observables]]\nname = \"u\"\nkind = \"mean\"\nfield = \"u\"\n\
         [[observables]]\nname = \"v\"\nkind = \"mean\"\nfield = \"v\"\n"
    )
}
