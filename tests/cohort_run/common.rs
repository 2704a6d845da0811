//! Shared helpers: the tiny scene, running the `vtwin` binary, building a
//! cohort in-process with any backend.

use std::path::{Path, PathBuf};
use std::process::Command;
use vtwin::drivers::cohort_sim::{CohortSetup, EngineSource, mark_failed};
use vtwin::engine::backend::Backend;
use vtwin::engine::{Batch, Recordings, Simulator, SimulatorError};
use vtwin::input::scene::Scene;
use vtwin::methods::cohort::{CohortTables, Trajectory, build_cohort, trajectories};

pub fn scene_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_cohort.toml")
}

pub fn scene_text() -> String {
    std::fs::read_to_string(scene_path()).expect("tiny scene readable")
}

/// A fresh, empty scratch folder for one test.
pub fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cohort-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `vtwin ARGS` and returns exit code and output.
pub fn vtwin(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(args)
        .output()
        .expect("vtwin runs");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `vtwin ARGS`, panicking with its output if it fails.
pub fn vtwin_ok(args: &[&str]) -> Out {
    let o = vtwin(args);
    assert_eq!(o.code, 0, "vtwin {args:?} failed:\n{}", o.stderr);
    o
}

/// `vtwin cohort SCENE --patients N --out OUT --backend cpu EXTRA...`.
pub fn cohort_cli(scene: &Path, patients: u64, out: &Path, extra: &[&str]) -> Out {
    let n = patients.to_string();
    let mut args = vec![
        "cohort",
        scene.to_str().expect("utf-8 path"),
        "--patients",
        &n,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--backend",
        "cpu",
    ];
    args.extend_from_slice(extra);
    vtwin_ok(&args)
}

/// A source that keeps every trajectory the engine produced.
pub struct Keeping<'a> {
    pub inner: EngineSource<'a>,
    pub kept: Vec<Trajectory>,
}

impl Simulator for Keeping<'_> {
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        let rec = self.inner.simulate(batch)?;
        let first = batch.member_offset as u64;
        let ids: Vec<u64> = (first..first + rec.rows() as u64).collect();
        let arm = batch.arm.expect("cohorts name the arm");
        self.kept.extend(trajectories(&rec, &ids, arm));
        Ok(rec)
    }
}

/// The cohort tables for patients `range`, built in-process as
/// `vtwin cohort` builds them, plus every trajectory simulated.
pub fn build(
    scene: &Scene,
    backend: &Backend,
    range: std::ops::Range<u64>,
    chunk: usize,
) -> (CohortTables, Vec<Trajectory>) {
    let setup = CohortSetup::new(scene, None).expect("setup");
    let sampler = setup.sampler().expect("sampler");
    let inner = EngineSource::new(scene, &setup, backend, None, chunk, |_| {});
    let mut src = Keeping {
        inner,
        kept: Vec::new(),
    };
    let mut t = build_cohort(&sampler, range, &mut src).expect("cohort builds");
    mark_failed(&mut t, src.inner.failed_patients()).expect("mark failed");
    (t, src.kept)
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
