//! `run --checkpoint-every`, `vtwin resume` and `vtwin fork`, driven
//! through the binary.
//!
//! - kill -9 at seeded random moments (a random delay after a checkpoint
//!   has appeared, so some kills land mid-write), resume, possibly killed
//!   again: every output equals an uninterrupted run's byte for byte, in
//!   CSV and in Parquet, and the same for a Latin-hypercube `sweep`;
//! - SIGTERM keeps the temporary folder and names the resume command;
//! - a run killed before its first checkpoint starts again from step 0;
//! - a changed scene refuses the checkpoint, and the folder stays;
//! - resuming a finished folder changes nothing;
//! - a fork under another arm equals a run, built through the library,
//!   that switches arms at the checkpoint's step.
//!
//! The scene is the tiny tumour scene on a larger grid for longer (keyed
//! initial noise and drawn parameters, two arms that differ from day 14).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::drivers::checkpoint::Checkpoint;
use vtwin::engine::Engine;
use vtwin::engine::cpu::CpuEngine;
use vtwin::input::scene::Scene;

const TABLES: [&str; 3] = ["params", "observables", "status"];

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The tiny tumour scene on a 12 × 12 grid for 56 days in steps of 0.1
/// day (560 steps), observed every 20 steps; every member stays ok.
fn scene_text() -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_cohort.toml");
    std::fs::read_to_string(src)
        .unwrap()
        .replace("nx = 8\nny = 8", "nx = 12\nny = 12")
        .replace("end = 28.0", "end = 56.0")
        .replace("dt = 0.5", "dt = 0.1")
        .replace("every = 4", "every = 20")
}

fn write_scene(dir: &Path) -> String {
    common::write_scene(dir, "scene.toml", &scene_text())
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(args)
        .env("VTWIN_PIPELINE_CACHE", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vtwin starts")
}

fn vtwin(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(args)
        .env("VTWIN_PIPELINE_CACHE", "off")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, err) = vtwin(args);
    assert_eq!(code, 0, "vtwin {args:?} failed:\n{err}");
    err
}

/// The kept temporary folders beside `out` (`.<name>.tmp-…`).
fn kept(out: &Path) -> Vec<PathBuf> {
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    let mut v: Vec<PathBuf> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!(".{name}.tmp-"))
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The checkpoint of the run writing beside `out`, if one exists.
fn checkpoint_of(out: &Path) -> Option<PathBuf> {
    kept(out)
        .into_iter()
        .map(|t| t.join(".vtwin-resume/checkpoint.vtc"))
        .find(|p| p.is_file())
}

/// A tiny seeded generator (SplitMix64) for the kill moments.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Waits until `child` has written a new checkpoint (a modification time
/// other than `before`) or exited; then, `delay` later, kills it with
/// SIGKILL. Returns whether it was killed (false: it finished first).
fn kill_after_checkpoint(mut child: Child, out: &Path, delay: Duration) -> bool {
    let stamp = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
    };
    let before = stamp(&checkpoint_of(out));
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let now = stamp(&checkpoint_of(out));
        if now.is_some() && now != before {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(delay);
    // SIGKILL: nothing of vtwin runs after it.
    let _ = child.kill();
    let status = child.wait().unwrap();
    status.code().is_none()
}

fn assert_same_tables(a: &Path, b: &Path, ext: &str) {
    for t in TABLES {
        let (fa, fb) = (a.join(format!("{t}.{ext}")), b.join(format!("{t}.{ext}")));
        assert!(
            std::fs::read(&fa).unwrap() == std::fs::read(&fb).unwrap(),
            "{} differs from {}",
            fa.display(),
            fb.display()
        );
    }
}

/// Every file of the uninterrupted `base` (as its manifest lists them)
/// equals `out`'s, which holds those and its last `checkpoint.vtc`.
fn assert_same_outputs(base: &Path, out: &Path) {
    let list = |d: &Path| -> Vec<String> {
        let m = common::manifest(d);
        let mut v: Vec<String> = m["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["path"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut want = list(base);
    want.push("checkpoint.vtc".into());
    want.sort();
    assert_eq!(list(out), want);
    for f in list(base) {
        assert!(
            std::fs::read(base.join(&f)).unwrap() == std::fs::read(out.join(&f)).unwrap(),
            "{f} differs between {} and {}",
            base.display(),
            out.display()
        );
    }
}

/// Every file of the uninterrupted `base` (cohort) equals `out`'s, but the
/// manifest and the RO-Crate metadata (command line and times); nothing
/// of the checkpoints stays in `out`.
fn assert_same_cohort(base: &Path, out: &Path) {
    same_files_but(base, out, &[]);
}

/// As [`assert_same_cohort`] for a twin or an assimilation, whose `out`
/// also keeps its last checkpoint (`checkpoint.vtc`, what `vtwin fork`
/// continues; `base` ran without checkpoints).
fn assert_same_twin(base: &Path, out: &Path) {
    assert!(!base.join("checkpoint.vtc").exists());
    let (meta, _) = vtwin::drivers::checkpoint_twin::read_meta(&out.join("checkpoint.vtc"))
        .expect("the finished run keeps its last checkpoint");
    assert!(meta.analyses > 0 && meta.analyses % 8 == 0);
    same_files_but(base, out, &["checkpoint.vtc"]);
}

fn same_files_but(base: &Path, out: &Path, skip: &[&str]) {
    let files = |d: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        walk(d)
            .into_iter()
            .filter(|(p, _)| {
                let n = p.file_name().unwrap().to_string_lossy();
                n != "manifest.json" && n != "ro-crate-metadata.json" && !skip.contains(&&*n)
            })
            .map(|(p, b)| (p.strip_prefix(d).unwrap().to_path_buf(), b))
            .collect()
    };
    let (a, b) = (files(base), files(out));
    let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    assert!(a.len() >= 3, "{:?}", names(&a));
    for ((p, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{} differs", p.display());
    }
}

/// What differs between the commands `killed_and_resumed` drives.
struct Kind {
    /// The manifest key counting failed members or simulations.
    failed: &'static str,
    same: fn(&Path, &Path),
    /// The longest random delay between a checkpoint and the kill, µs.
    max_delay_us: u64,
    /// Made of tasks (`cohort`): some kill must land after a task finished.
    tasks: bool,
    /// Writes the scene into a folder, returns its path.
    scene: fn(&Path) -> String,
    /// The position a kept checkpoint file holds (steps or analyses).
    position: fn(&Path) -> u64,
}

fn engine_step(p: &Path) -> u64 {
    Checkpoint::read(p)
        .expect("the kept checkpoint reads whole")
        .meta
        .step
}

const RUN_KIND: Kind = Kind {
    failed: "members_failed",
    same: assert_same_outputs,
    max_delay_us: 20_000,
    tasks: false,
    scene: write_scene,
    position: engine_step,
};

/// Finished tasks kept beside the checkpoint of the run writing `out`.
fn finished_tasks(out: &Path) -> usize {
    kept(out)
        .into_iter()
        .filter_map(|t| std::fs::read_dir(t.join(".vtwin-resume/done")).ok())
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".vtc"))
                .count()
        })
        .sum()
}

/// kill -9 at seeded random moments, resume until done; compare every
/// output with the uninterrupted command's.
fn killed_and_resumed(tag: &str, command: &[&str], seed: u64, kind: &Kind) {
    let d = tmp(&format!("kill-{tag}"));
    let scene = (kind.scene)(&d);
    let base = d.join("base");
    let with = |extra: &[&str]| -> Vec<String> {
        command
            .iter()
            .map(|s| {
                s.replace("SCENE", &scene)
                    .replace("DIR", d.to_str().unwrap())
            })
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    ok(&strs(&with(&["--out", base.to_str().unwrap()])));
    assert_eq!(
        common::manifest(&base)[kind.failed],
        0,
        "every member runs to the end"
    );
    let out = d.join("out");
    let args = with(&["--out", out.to_str().unwrap(), "--checkpoint-every", "8"]);
    let mut rng = Rng(seed);
    let mut child = spawn(&strs(&args));
    let mut kills = 0;
    let mut continued_from = Vec::new();
    loop {
        let delay = Duration::from_micros(rng.next() % kind.max_delay_us);
        let killed = kill_after_checkpoint(child, &out, delay);
        if !killed {
            break;
        }
        if out.exists() {
            // The kill landed after the run had renamed its finished folder
            // into place (a fast machine): that run is complete, not torn.
            assert!(
                out.join("manifest.json").is_file() && kept(&out).is_empty(),
                "a killed run left a partial {}",
                out.display()
            );
            break;
        }
        kills += 1;
        assert_eq!(kept(&out).len(), 1, "one kept folder");
        let at = (kind.position)(&checkpoint_of(&out).expect("a checkpoint"));
        assert_eq!(at % 8, 0);
        continued_from.push((at, finished_tasks(&out)));
        // At least 4 kills; with tasks, go on (up to 16) until one has
        // landed after a finished task, whatever the machine's load.
        let task_seen = !kind.tasks || continued_from.iter().any(|&(_, t)| t > 0);
        if (kills >= 4 && task_seen) || kills == 16 {
            let err = ok(&["resume", out.to_str().unwrap()]);
            assert!(err.contains("continuing"), "{err}");
            break;
        }
        child = spawn(&["resume", out.to_str().unwrap()]);
    }
    eprintln!(
        "{tag}: killed {kills} times; continued from (step, finished tasks) {continued_from:?}"
    );
    assert!(
        kills >= 2,
        "the run was killed only {kills} times: make the scene longer"
    );
    assert!(
        continued_from.iter().any(|&(s, _)| s > 0),
        "{continued_from:?}"
    );
    if kind.tasks {
        assert!(
            continued_from.iter().any(|&(_, t)| t > 0),
            "no kill landed after a finished task: {continued_from:?}"
        );
    }
    assert!(out.join("manifest.json").is_file());
    assert!(
        kept(&out).is_empty(),
        "the finished run keeps no temp folder"
    );
    (kind.same)(&base, &out);
    vtwin::output::io::rundir::verify_outputs(&out).unwrap();

    // Resuming the finished folder changes nothing.
    let before: Vec<(PathBuf, Vec<u8>)> = walk(&out);
    let err = ok(&["resume", out.to_str().unwrap()]);
    assert!(err.contains("finished"), "{err}");
    assert_eq!(walk(&out), before);
    let _ = std::fs::remove_dir_all(&d);
}

// 192 members: long enough that the kills land mid-run with the fast
// CPU tumour step (src/models/rd/fast_tumour.rs).
const RUN: [&str; 6] = ["run", "SCENE", "--members", "192", "--backend", "cpu"];

#[test]
fn kill_9_then_resume_is_byte_identical_csv() {
    let mut cmd = RUN.to_vec();
    cmd.extend(["--format", "csv"]);
    killed_and_resumed("csv", &cmd, 15, &RUN_KIND);
}

#[test]
fn kill_9_then_resume_is_byte_identical_parquet() {
    let mut cmd = RUN.to_vec();
    cmd.extend(["--format", "parquet"]);
    killed_and_resumed("parquet", &cmd, 1515, &RUN_KIND);
}

#[test]
fn kill_9_then_resume_of_a_sweep_is_byte_identical() {
    killed_and_resumed(
        "sweep",
        &[
            "sweep",
            "SCENE",
            "--method",
            "lhs",
            "-n",
            "48",
            "--backend",
            "cpu",
        ],
        77,
        &RUN_KIND,
    );
}

/// The Lorenz-96 twin benchmark scene (ETKF with random rotations, so the
/// filter's stream matters), as shipped.
fn lorenz96_scene(dir: &Path) -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenes/lorenz96_sakov2008.toml");
    common::write_scene(dir, "l96.toml", &std::fs::read_to_string(src).unwrap())
}

fn twin_analyses(p: &Path) -> u64 {
    vtwin::drivers::checkpoint_twin::read_meta(p)
        .expect("the kept checkpoint reads whole")
        .0
        .analyses as u64
}

/// A twin (truth, free run, 28-member ETKF with rotations, 1,500
/// analyses) checkpointed every 8 analyses: killed and resumed, its tables
/// and metrics equal an uninterrupted run's.
#[test]
fn kill_9_then_resume_of_a_twin_is_byte_identical() {
    killed_and_resumed(
        "twin",
        &[
            "twin",
            "SCENE",
            "--cycles",
            "1500",
            "--format",
            "csv",
            "--backend",
            "cpu",
        ],
        4242,
        &Kind {
            failed: "members_failed",
            same: assert_same_twin,
            max_delay_us: 100_000,
            tasks: false,
            scene: lorenz96_scene,
            position: twin_analyses,
        },
    );
}

/// The Lorenz-96 scene and, in `dir/truth/observations.csv`, the
/// observations of a 600-analysis twin run of it.
fn lorenz96_with_obs(dir: &Path) -> String {
    let scene = lorenz96_scene(dir);
    let truth = dir.join("truth");
    ok(&[
        "twin",
        &scene,
        "--cycles",
        "600",
        "--format",
        "csv",
        "--backend",
        "cpu",
        "--out",
        truth.to_str().unwrap(),
    ]);
    scene
}

/// A single-ensemble `assimilate` of those observations (600 analyses)
/// checkpointed every 8 analyses: killed and resumed, byte-identical.
#[test]
fn kill_9_then_resume_of_an_assimilation_is_byte_identical() {
    killed_and_resumed(
        "assimilate",
        &[
            "assimilate",
            "SCENE",
            "--obs",
            "DIR/truth/observations.csv",
            "--format",
            "csv",
            "--backend",
            "cpu",
        ],
        99,
        &Kind {
            failed: "members_failed",
            same: assert_same_twin,
            max_delay_us: 50_000,
            tasks: false,
            scene: lorenz96_with_obs,
            position: twin_analyses,
        },
    );
}

/// A patient file (80 patients, a reading every 4 steps over 1,000 steps,
/// some at or below the detection limit) and forecast requests (one
/// mid-run, one after the last reading, per patient) beside the patient
/// test scene; returns the scene's path.
fn patients_with_obs(dir: &Path) -> String {
    patient_files(dir, 80, 1000)
}

/// `n` patients over `steps` steps (see `patients_with_obs`).
fn patient_files(dir: &Path, n: u32, steps: u32) -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/patients_growth.toml");
    let scene = common::write_scene(dir, "growth.toml", &std::fs::read_to_string(src).unwrap());
    let mut obs = String::from("patient,time,observable,location,value,sd\n");
    let mut at = String::from("patient,time,observable\n");
    for p in 0..n {
        let r = -0.1 + 0.2 * f64::from((p * 37) % n) / f64::from(n);
        for s in (1 + p % 4..steps).step_by(4) {
            let t = f64::from(s) * 0.05;
            let v = 0.5 * (r * t).exp() * (0.1 * f64::from(p * 13 + s).sin()).exp();
            obs.push_str(&format!("P{p:03},{t:.4},volume,,{v:.6e},\n"));
        }
        at.push_str(&format!(
            "P{p:03},{:.4},volume\n",
            45.013 + f64::from(p) * 0.01
        ));
        at.push_str(&format!("P{p:03},{:.4},volume\n", 3.0 + f64::from(p) * 0.1));
    }
    std::fs::write(dir.join("obs.csv"), obs).unwrap();
    std::fs::write(dir.join("at.csv"), at).unwrap();
    scene
}

fn patient_stops(p: &Path) -> u64 {
    vtwin::drivers::checkpoint_patients::read_meta(p)
        .expect("the kept checkpoint reads whole")
        .0
        .stops as u64
}

fn assert_same_patients(base: &Path, out: &Path) {
    assert!(
        !out.join("checkpoint.vtc").exists(),
        "a patient run keeps no checkpoint"
    );
    same_files_but(base, out, &[]);
}

/// A patient run (`assimilate` with a patient column, forecasts at
/// requested times and every member's forecast) checkpointed every 8
/// stops: killed and resumed, its tables equal an uninterrupted run's.
#[test]
fn kill_9_then_resume_of_a_patient_run_is_byte_identical() {
    killed_and_resumed(
        "patients",
        &[
            "assimilate",
            "SCENE",
            "--obs",
            "DIR/obs.csv",
            "--forecast-at",
            "DIR/at.csv",
            "--members-out",
            "--format",
            "csv",
            "--backend",
            "cpu",
        ],
        1515,
        &Kind {
            failed: "members_failed",
            same: assert_same_patients,
            max_delay_us: 150_000,
            tasks: false,
            scene: patients_with_obs,
            position: patient_stops,
        },
    );
}

/// The same on the GPU backend (any adapter, lavapipe in CI): a patient
/// run killed after a checkpoint and resumed equals an uninterrupted GPU
/// run byte for byte.
#[test]
fn kill_9_then_resume_of_a_gpu_patient_run_is_byte_identical() {
    if common::gpu().is_none() {
        return;
    }
    let d = tmp("patients-gpu");
    let scene = patient_files(&d, 6, 240);
    let (obs, at) = (d.join("obs.csv"), d.join("at.csv"));
    let args = |out: &Path| -> Vec<String> {
        [
            "assimilate",
            &scene,
            "--obs",
            obs.to_str().unwrap(),
            "--forecast-at",
            at.to_str().unwrap(),
            "--members-out",
            "--format",
            "csv",
            "--backend",
            "gpu",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let base = d.join("base");
    ok(&strs(&args(&base)));
    let out = d.join("out");
    let mut with = args(&out);
    with.extend(["--checkpoint-every".to_string(), "8".to_string()]);
    assert!(
        kill_after_checkpoint(spawn(&strs(&with)), &out, Duration::ZERO),
        "the run finished before it was killed; make it longer"
    );
    let at_stop = patient_stops(&checkpoint_of(&out).expect("a checkpoint"));
    assert!(at_stop > 0 && at_stop.is_multiple_of(8), "{at_stop}");
    let err = ok(&["resume", out.to_str().unwrap()]);
    assert!(err.contains("continuing"), "{err}");
    assert_same_patients(&base, &out);
    let _ = std::fs::remove_dir_all(&d);
}

/// A patient run's checkpoint is refused once its observation file
/// changed, and a learned population prior refuses `--checkpoint-every`.
#[test]
fn a_patient_checkpoint_is_refused_after_the_observations_change() {
    let d = tmp("patients-changed");
    let scene = patients_with_obs(&d);
    let obs = d.join("obs.csv");
    let out = d.join("out");
    let args = [
        "assimilate",
        &scene,
        "--obs",
        obs.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--checkpoint-every",
        "8",
    ];
    assert!(kill_after_checkpoint(spawn(&args), &out, Duration::ZERO));
    let text = std::fs::read_to_string(&obs).unwrap();
    std::fs::write(&obs, text.replacen("P000,0.0500", "P000,0.0510", 1)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(["resume", out.to_str().unwrap()])
        .env("VTWIN_PIPELINE_CACHE", "off")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("different plan"), "{err}");
    assert_eq!(kept(&out).len(), 1, "the kept folder stays");
    let mut pooled: Vec<&str> = args.to_vec();
    let other = d.join("pooled");
    pooled[7] = other.to_str().unwrap();
    pooled.extend(["--population-prior", "pooled"]);
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(&pooled)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("--population-prior pooled"), "{err}");
    assert!(!other.exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// An assimilation started in one folder with relative paths (scene,
/// observations, `--out`), killed after a checkpoint and resumed from
/// another folder: `vtwin resume` reads the paths against the folder the
/// run was started in (it never changes its own working folder) and the
/// outputs equal an uninterrupted run's byte for byte.
#[test]
fn resume_from_another_folder_is_byte_identical() {
    let d = tmp("cwd");
    let scene = lorenz96_with_obs(&d);
    let base = d.join("base");
    let cmd = |scene: &str, obs: &str, out: &str| -> Vec<String> {
        [
            "assimilate",
            scene,
            "--obs",
            obs,
            "--format",
            "csv",
            "--backend",
            "cpu",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let obs = d.join("truth/observations.csv");
    ok(&strs(&cmd(
        &scene,
        obs.to_str().unwrap(),
        base.to_str().unwrap(),
    )));
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut args = cmd("l96.toml", "truth/observations.csv", "out");
    args.extend(["--checkpoint-every".to_string(), "8".to_string()]);
    let child = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(&args)
        .current_dir(&d)
        .env("VTWIN_PIPELINE_CACHE", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = d.join("out");
    assert!(
        kill_after_checkpoint(child, &out, Duration::ZERO),
        "the run finished before it was killed; make it longer"
    );
    // Resumed from another folder, DIR given relative to that one.
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(["resume", "../out"])
        .current_dir(&elsewhere)
        .env("VTWIN_PIPELINE_CACHE", "off")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("continuing"), "{err}");
    assert!(kept(&out).is_empty());
    assert!(!elsewhere.join("out").exists() && !elsewhere.join("runs").exists());
    assert_same_twin(&base, &out);
    let _ = std::fs::remove_dir_all(&d);
}

/// A cohort of 48 patients in chunks of 4 under two arms: 24 simulations,
/// each checkpointed; kills land inside one and between them.
#[test]
fn kill_9_then_resume_of_a_cohort_is_byte_identical() {
    killed_and_resumed(
        "cohort",
        &[
            "cohort",
            "SCENE",
            "--patients",
            "48",
            "--chunk",
            "4",
            "--format",
            "csv",
            "--export-obs",
            "--backend",
            "cpu",
        ],
        2026,
        &Kind {
            failed: "simulations_failed",
            same: assert_same_cohort,
            max_delay_us: 60_000,
            tasks: true,
            scene: write_scene,
            position: engine_step,
        },
    );
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap_or_default()))
        .collect();
    v.sort();
    v
}

/// SIGTERM keeps the folder with a checkpoint and says how to resume; a
/// changed scene refuses it (and the folder stays); restored, it resumes.
#[test]
fn sigterm_keeps_the_checkpoint_and_a_changed_scene_refuses_it() {
    let d = tmp("term");
    let scene = write_scene(&d);
    let base = d.join("base");
    let run = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            &scene,
            "--members",
            "16",
            "--backend",
            "cpu",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    ok(&strs(&run(&base, &[])));
    let out = d.join("out");
    let child = spawn(&strs(&run(&out, &["--checkpoint-every", "16"])));
    let pid = child.id() as i32;
    // Wait for the first checkpoint, then SIGTERM.
    let t0 = Instant::now();
    while checkpoint_of(&out).is_none() {
        assert!(t0.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: sends a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.code() == Some(0) {
        panic!("the run finished before SIGTERM reached it; make the scene longer\n{err}");
    }
    assert!(
        err.contains(&format!("vtwin resume {}", out.display())),
        "{err}"
    );
    assert_eq!(kept(&out).len(), 1);
    let scene_path = PathBuf::from(&scene);
    let text = std::fs::read_to_string(&scene_path).unwrap();
    std::fs::write(&scene_path, format!("{text}\n# edited\n")).unwrap();
    let (code, err) = vtwin(&["resume", out.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("scene file changed"), "{err}");
    assert!(!out.exists() && kept(&out).len() == 1, "the folder stays");
    std::fs::write(&scene_path, text).unwrap();
    ok(&["resume", out.to_str().unwrap()]);
    assert_same_tables(&base, &out, "csv");
    let _ = std::fs::remove_dir_all(&d);
}

/// Killed before its first checkpoint, a run starts again from step 0.
#[test]
fn killed_before_a_checkpoint_restarts_from_step_0() {
    let d = tmp("zero");
    let scene = write_scene(&d);
    let base = d.join("base");
    let args = |out: &Path, every: &str| -> Vec<String> {
        [
            "run",
            &scene,
            "--members",
            "16",
            "--backend",
            "cpu",
            "--format",
            "csv",
            "--checkpoint-every",
            every,
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    ok(&strs(&args(&base, "100000")));
    let out = d.join("out");
    let mut child = spawn(&strs(&args(&out, "100000")));
    let t0 = Instant::now();
    while !kept(&out)
        .iter()
        .any(|t| t.join(".vtwin-resume/run.json").is_file())
    {
        assert!(t0.elapsed() < Duration::from_secs(300), "no resume record");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if out.exists() {
        panic!("the run finished before it was killed; make the scene longer");
    }
    let err = ok(&["resume", out.to_str().unwrap()]);
    assert!(err.contains("from step 0"), "{err}");
    assert_same_tables(&base, &out, "csv");
    assert!(!out.join("checkpoint.vtc").exists());
    let (code, err) = vtwin(&["resume", d.join("nothing").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing to resume"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs `plan_a` to `at` (observing as a run does), switches to `plan_b`
/// there carrying state, parameters and status over, and runs to the end.
fn switched(plan_a: &Plan, plan_b: &Plan, at: u64) -> vtwin::engine::record::Recording {
    switched_with(plan_a, plan_b, at, &[])
}

/// As [`switched`], with parameter column j set to v for every member at
/// the switch, for each (j, v) of `set`.
fn switched_with(
    plan_a: &Plan,
    plan_b: &Plan,
    at: u64,
    set: &[(usize, f32)],
) -> vtwin::engine::record::Recording {
    let mut a = CpuEngine::new(plan_a);
    let (mut steps, mut frames) = (Vec::new(), Vec::new());
    for s in plan_a.observation_steps() {
        if s > at {
            break;
        }
        a.advance(s - a.step()).unwrap();
        frames.push(a.observe().unwrap());
        steps.push(s);
    }
    a.advance(at - a.step()).unwrap();
    let mut b = CpuEngine::new(plan_b);
    b.write_state(&a.read_state().unwrap()).unwrap();
    let mut p = a.read_params().unwrap();
    let np = plan_b.n_params();
    for &(j, v) in set {
        for m in 0..plan_b.members as usize {
            p[m * np + j] = v;
        }
    }
    b.write_params(&p).unwrap();
    b.write_status(&a.status().unwrap()).unwrap();
    b.set_step(at);
    vtwin::engine::record::record_from::<vtwin::engine::EngineError>(
        &mut b,
        steps,
        frames,
        None,
        &mut |_| {},
        &mut |_, _, _| Ok(()),
    )
    .unwrap()
}

fn csv_bytes(t: &vtwin::output::table::Table, dir: &Path) -> Vec<u8> {
    let p = vtwin::output::io::write_table(dir, t, vtwin::output::io::TableFormat::Csv).unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn fork_under_another_arm_equals_a_run_switching_arms_at_the_checkpoint() {
    let d = tmp("fork");
    let scene = common::write_scene(
        &d,
        "scene.toml",
        &scene_text().replace("times = [14.0]", "times = [14.0, 40.0]"),
    );
    let out = d.join("rt");
    // 560 steps, one checkpoint at step 310 (not an observation step).
    ok(&[
        "run",
        &scene,
        "--members",
        "6",
        "--arm",
        "rt",
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--checkpoint-every",
        "310",
        "--out",
        out.to_str().unwrap(),
    ]);
    let ck = out.join("checkpoint.vtc");
    assert_eq!(Checkpoint::read(&ck).unwrap().meta.step, 310);
    let fork = d.join("fork");
    ok(&[
        "fork",
        ck.to_str().unwrap(),
        "--arm",
        "rt_chemo",
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        fork.to_str().unwrap(),
    ]);
    let s = Scene::load(Path::new(&scene)).unwrap();
    let plan = |arm: &str| {
        Plan::freeze(
            &s,
            &PlanOptions {
                members: Some(6),
                arm: Some(arm.into()),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (rt, chemo) = (plan("rt"), plan("rt_chemo"));
    let rec = switched(&rt, &chemo, 310);
    let refdir = d.join("ref");
    std::fs::create_dir_all(&refdir).unwrap();
    let want = csv_bytes(&rec.observables_table(&chemo), &refdir);
    let got = std::fs::read(fork.join("observables.csv")).unwrap();
    assert!(got == want, "fork observables differ from the switched run");
    assert!(
        std::fs::read(fork.join("status.csv")).unwrap() == csv_bytes(&rec.status_table(), &refdir)
    );
    // Not vacuous: the arms differ after the checkpoint (a second chemo
    // dose at day 40) and before it (the first at day 14), so the fork
    // differs from both unswitched runs.
    let rt_only = std::fs::read(out.join("observables.csv")).unwrap();
    assert!(got != rt_only, "the fork equals the rt run");
    let chemo_whole = {
        let mut e = CpuEngine::new(&chemo);
        vtwin::engine::record::record(&mut e, &mut |_| {}).unwrap()
    };
    assert!(got != csv_bytes(&chemo_whole.observables_table(&chemo), &refdir));

    // --set: the same with kappa changed for every member at the checkpoint.
    let set = d.join("set");
    ok(&[
        "fork",
        out.to_str().unwrap(),
        "--set",
        "kappa=0.5",
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        set.to_str().unwrap(),
    ]);
    let rt_set = rt.clone().with_param("kappa", 0.5).unwrap();
    let mut a = CpuEngine::new(&rt);
    let (mut steps, mut frames) = (Vec::new(), Vec::new());
    for s in rt.observation_steps().into_iter().filter(|&s| s <= 310) {
        a.advance(s - a.step()).unwrap();
        frames.push(a.observe().unwrap());
        steps.push(s);
    }
    a.advance(310 - a.step()).unwrap();
    let np = rt.n_params();
    let j = rt
        .block
        .params
        .iter()
        .position(|p| p.name == "kappa")
        .unwrap();
    let mut p = a.read_params().unwrap();
    for m in 0..6 {
        p[m * np + j] = 0.5;
    }
    a.write_params(&p).unwrap();
    let rec = vtwin::engine::record::record_from::<vtwin::engine::EngineError>(
        &mut a,
        steps,
        frames,
        None,
        &mut |_| {},
        &mut |_, _, _| Ok(()),
    )
    .unwrap();
    assert!(
        std::fs::read(set.join("observables.csv")).unwrap()
            == csv_bytes(&rec.observables_table(&rt_set), &refdir)
    );
    assert!(
        std::fs::read(set.join("params.csv")).unwrap()
            == csv_bytes(&vtwin::engine::record::params_table(&rt_set), &refdir)
    );

    // A fork refuses a checkpoint whose scene changed.
    let text = std::fs::read_to_string(&scene).unwrap();
    std::fs::write(&scene, format!("{text}\n# edited\n")).unwrap();
    let (code, err) = vtwin(&[
        "fork",
        ck.to_str().unwrap(),
        "--arm",
        "rt_chemo",
        "--backend",
        "cpu",
        "--out",
        d.join("refused").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("another version"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A killed twin's and cohort's checkpoints are refused once the scene
/// changed (the kept folder stays); with the scene restored they resume.
#[test]
fn a_changed_scene_refuses_a_twin_or_cohort_checkpoint() {
    let d = tmp("refuse");
    let cases: [(&str, String, Vec<&str>); 2] = [
        (
            "twin",
            lorenz96_scene(&d),
            vec!["--cycles", "1500", "--checkpoint-every", "8"],
        ),
        (
            "cohort",
            write_scene(&d),
            vec![
                "--patients",
                "48",
                "--chunk",
                "4",
                "--checkpoint-every",
                "8",
            ],
        ),
    ];
    for (cmd, scene, extra) in cases {
        let out = d.join(format!("out-{cmd}"));
        let mut args = vec![cmd, scene.as_str(), "--backend", "cpu", "--format", "csv"];
        args.extend(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        assert!(
            kill_after_checkpoint(spawn(&args), &out, Duration::ZERO),
            "{cmd} finished before it was killed"
        );
        let text = std::fs::read_to_string(&scene).unwrap();
        std::fs::write(&scene, format!("{text}\n# edited\n")).unwrap();
        let (code, err) = vtwin(&["resume", out.to_str().unwrap()]);
        assert_ne!(code, 0, "{cmd}: {err}");
        assert!(err.contains("scene file changed"), "{cmd}: {err}");
        assert!(!out.exists() && kept(&out).len() == 1, "the folder stays");
        std::fs::write(&scene, text).unwrap();
        ok(&["resume", out.to_str().unwrap()]);
        assert!(out.join("manifest.json").is_file() && kept(&out).is_empty());
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// What checkpoints do not cover is refused up front with a clear error,
/// before any output or kept folder exists: `--checkpoint-every` with
/// `run --arm all`, and `fork` of a checkpoint that is not a run's, a
/// twin's or an assimilation's (here a sweep's).
#[test]
fn unsupported_checkpoint_uses_are_refused() {
    let d = tmp("refused");
    let scene = write_scene(&d);
    let out = d.join("all");
    let (code, err) = vtwin(&[
        "run",
        &scene,
        "--members",
        "8",
        "--arm",
        "all",
        "--backend",
        "cpu",
        "--checkpoint-every",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--checkpoint-every with --arm all is not supported"),
        "{err}"
    );
    assert!(!out.exists() && kept(&out).is_empty());

    let sweep = d.join("sweep");
    ok(&[
        "sweep",
        &scene,
        "--method",
        "lhs",
        "-n",
        "8",
        "--backend",
        "cpu",
        "--checkpoint-every",
        "100",
        "--out",
        sweep.to_str().unwrap(),
    ]);
    let ck = sweep.join("checkpoint.vtc");
    assert!(ck.is_file(), "a finished sweep keeps its last checkpoint");
    let forked = d.join("forked");
    let (code, err) = vtwin(&[
        "fork",
        ck.to_str().unwrap(),
        "--arm",
        "rt",
        "--out",
        forked.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("a checkpoint of `vtwin sweep")
            && err.contains("fork continues checkpoints of `vtwin run`"),
        "{err}"
    );
    assert!(!forked.exists() && kept(&forked).is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

/// A twin's records are appended to `twin-records.bin` beside its
/// checkpoint. A torn append after the last checkpoint (bytes past what
/// the checkpoint covers, as kill -9 in the middle of an append leaves) is
/// cut back on resume and the outputs are byte-identical; a damaged byte
/// inside the covered part is refused, naming the file.
#[test]
fn a_torn_record_append_is_cut_back_and_a_damaged_one_refused() {
    let d = tmp("torn");
    let scene = lorenz96_scene(&d);
    let cmd = |out: &Path| -> Vec<String> {
        [
            "twin",
            &scene,
            "--cycles",
            "1500",
            "--format",
            "csv",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let base = d.join("base");
    ok(&strs(&cmd(&base)));
    let out = d.join("out");
    let mut args = cmd(&out);
    args.extend(["--checkpoint-every".to_string(), "8".to_string()]);
    assert!(
        kill_after_checkpoint(spawn(&strs(&args)), &out, Duration::ZERO),
        "the twin finished before it was killed; make it longer"
    );
    let ck = checkpoint_of(&out).unwrap();
    let records = ck.with_file_name("twin-records.bin");
    let (meta, _) = vtwin::drivers::checkpoint_twin::read_meta(&ck).unwrap();
    let covered = meta
        .records
        .expect("records kept beside the checkpoint")
        .bytes;
    let whole = std::fs::read(&records).unwrap();
    assert!(whole.len() as u64 >= covered && covered > 0);
    // Damaged inside what the checkpoint covers: refused, the folder stays.
    let mut bad = whole.clone();
    bad[covered as usize - 1] ^= 0x55;
    std::fs::write(&records, &bad).unwrap();
    let (code, err) = vtwin(&["resume", out.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("twin-records.bin") && err.contains("damaged"),
        "{err}"
    );
    assert!(!out.exists() && kept(&out).len() == 1);
    // Whole again, plus a torn frame after it: cut back, then resumed.
    let mut torn = whole[..covered as usize].to_vec();
    torn.extend_from_slice(&[7u8; 100]);
    std::fs::write(&records, &torn).unwrap();
    let err = ok(&["resume", out.to_str().unwrap()]);
    assert!(err.contains("continuing"), "{err}");
    assert!(kept(&out).is_empty());
    assert_same_twin(&base, &out);
    let (meta, _) =
        vtwin::drivers::checkpoint_twin::read_meta(&out.join("checkpoint.vtc")).unwrap();
    assert!(meta.records.is_none(), "the kept checkpoint stands alone");
    let _ = std::fs::remove_dir_all(&d);
}

/// The data lines of a CSV cohort table whose `patient_id` is in `ids` and
/// whose `arm` is `arm`.
fn cohort_lines(path: &Path, ids: std::ops::Range<u64>, arm: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (pid, a) = (col("patient_id"), col("arm"));
    lines
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ids.contains(&f[pid].parse::<u64>().unwrap()) && f[a].trim_matches('"') == arm
        })
        .map(str::to_string)
        .collect()
}

/// `vtwin fork` of a cohort's checkpoint (the running task of a killed
/// `cohort --checkpoint-every`): under its own arm it reproduces the
/// uninterrupted cohort's rows of those patients; under the other arm (and
/// with `--set kappa=…`) it equals a from-scratch simulation, built through
/// the library, that switches arms at the checkpoint's step; bad `--arm`,
/// a structural `--set` and a finished task's record are refused; and the
/// kept folder still resumes to the uninterrupted cohort.
#[test]
fn fork_of_a_cohort_checkpoint_equals_a_run_switching_arms() {
    use vtwin::drivers::cohort_sim::{self, CohortSetup};
    let d = tmp("fork-cohort");
    // Chemo at days 14 and 40: the arms differ before and after step 310
    // (day 31); visits and outcomes run to day 56.
    let scene = common::write_scene(
        &d,
        "scene.toml",
        &scene_text()
            .replace("times = [14.0]", "times = [14.0, 40.0]")
            .replace(
                "visits = [2, 7, 14, 21, 28]",
                "visits = [2, 7, 14, 21, 28, 35, 49, 56]",
            )
            .replace("follow_up = 28", "follow_up = 56"),
    );
    let common_args = [
        "cohort",
        scene.as_str(),
        "--patients",
        "48",
        "--chunk",
        "4",
        "--format",
        "csv",
        "--backend",
        "cpu",
    ];
    let base = d.join("base");
    let mut args = common_args.to_vec();
    args.extend(["--out", base.to_str().unwrap()]);
    ok(&args);
    // 560 steps per task: each task's one checkpoint is at step 310.
    let out = d.join("out");
    let mut args = common_args.to_vec();
    args.extend(["--checkpoint-every", "310", "--out", out.to_str().unwrap()]);
    assert!(
        kill_after_checkpoint(spawn(&args), &out, Duration::ZERO),
        "the cohort finished before it was killed"
    );
    let ck = checkpoint_of(&out).unwrap();
    assert_eq!(Checkpoint::read(&ck).unwrap().meta.step, 310);

    let fork = |name: &str, extra: &[&str]| -> (PathBuf, serde_json::Value) {
        let f = d.join(name);
        let mut a = vec!["fork", ck.to_str().unwrap(), "--backend", "cpu"];
        a.extend(extra);
        a.extend(["--out", f.to_str().unwrap()]);
        ok(&a);
        let m = common::manifest(&f);
        (f, m)
    };
    // Its own arm: the uninterrupted cohort's rows of those patients.
    // (Given as the cohort's --out: the kept folder's checkpoint.)
    let same = d.join("same");
    ok(&[
        "fork",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        same.to_str().unwrap(),
    ]);
    let m = common::manifest(&same)["fork"].clone();
    let from_arm = m["from_arm"].as_str().unwrap().to_string();
    let (first, end) = (
        m["first_patient"].as_u64().unwrap(),
        m["end_patient"].as_u64().unwrap(),
    );
    assert_eq!((m["from_step"].as_u64(), end - first), (Some(310), 4));
    for t in ["observations.csv", "outcomes.csv"] {
        let want = cohort_lines(&base.join(t), first..end, &from_arm);
        let got = cohort_lines(&same.join(t), first..end, &from_arm);
        assert!(!want.is_empty());
        assert_eq!(got, want, "{t}");
        let all = std::fs::read_to_string(same.join(t)).unwrap();
        assert_eq!(all.lines().count(), want.len() + 1, "{t}: only those rows");
    }

    // The other arm, and the other arm with kappa = 0.5 from step 310.
    let other = if from_arm == "rt" { "rt_chemo" } else { "rt" };
    let (switched_dir, _) = fork("other", &["--arm", other, "--format", "csv"]);
    let (set_dir, set_m) = fork(
        "other-set",
        &["--arm", other, "--set", "kappa=0.5", "--format", "csv"],
    );
    assert_eq!(set_m["fork"]["set"][0]["param"], "kappa");
    let s = Scene::load(Path::new(&scene)).unwrap();
    let setup = CohortSetup::new(&s, None).unwrap();
    let sampler = setup.sampler().unwrap();
    let patients = sampler.patients(first..end).unwrap();
    let plan_a = cohort_sim::task_plan(&s, setup.seed, &patients, &from_arm).unwrap();
    let plan_b = cohort_sim::task_plan(&s, setup.seed, &patients, other).unwrap();
    let kappa = plan_b.block.index_of("kappa").unwrap();
    let refdir = d.join("ref");
    std::fs::create_dir_all(&refdir).unwrap();
    let mut outputs = Vec::new();
    for (dir, set) in [(&switched_dir, vec![]), (&set_dir, vec![(kappa, 0.5f32)])] {
        let rec = switched_with(&plan_a, &plan_b, 310, &set);
        let trajs = cohort_sim::trajectories(&plan_b, &rec, &patients, other);
        let arms = [other.to_string()];
        let (mut tables, _) =
            vtwin::methods::cohort::assemble(&sampler, &patients, &arms, &[trajs], false).unwrap();
        let failed: Vec<u64> = rec
            .status
            .iter()
            .zip(&patients)
            .filter(|(st, _)| !st.is_ok())
            .map(|(_, p)| p.id)
            .collect();
        cohort_sim::mark_failed(&mut tables, &failed).unwrap();
        for t in tables.tables() {
            let f = format!("{}.csv", t.name);
            let got = std::fs::read(dir.join(&f)).unwrap();
            assert!(
                got == csv_bytes(t, &refdir),
                "{}: {f} differs",
                dir.display()
            );
        }
        outputs.push(std::fs::read(dir.join("observations.csv")).unwrap());
    }
    // Not vacuous: the switched fork differs from both unswitched arms,
    // and kappa changed it.
    let other_whole = cohort_lines(&base.join("observations.csv"), first..end, other);
    let got = std::fs::read_to_string(switched_dir.join("observations.csv")).unwrap();
    let got: Vec<String> = got.lines().skip(1).map(str::to_string).collect();
    assert_ne!(got, other_whole, "the fork equals the other arm's run");
    let same_obs = std::fs::read(same.join("observations.csv")).unwrap();
    assert!(outputs[0] != same_obs.as_slice() && outputs[0] != outputs[1]);

    // Refusals, each naming the checkpoint, with no output left.
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--arm".into(), "surgery".into()], "no arm `surgery`"),
        (vec!["--set".into(), "nx=16".into()], "no parameter `nx`"),
        (
            vec!["--set".into(), "nx=16".into()],
            "a fork changes parameters only",
        ),
    ];
    for (extra, want) in cases.drain(..) {
        let refused = d.join("refused");
        let mut a = vec!["fork", ck.to_str().unwrap(), "--backend", "cpu"];
        a.extend(extra.iter().map(String::as_str));
        a.extend(["--out", refused.to_str().unwrap()]);
        let (code, err) = vtwin(&a);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(want) && err.contains(ck.to_str().unwrap()),
            "{err}"
        );
        assert!(!refused.exists() && kept(&refused).is_empty());
    }
    // A finished task's record (as `done/<key>.vtc` holds it): no state.
    let mut rec = Checkpoint::read(&ck).unwrap();
    rec.state.clear();
    rec.params.clear();
    rec.meta.state_len = 0;
    rec.meta.n_params = 0;
    let finished = d.join("done.vtc");
    std::fs::write(&finished, rec.to_bytes()).unwrap();
    let refused = d.join("refused");
    let (code, err) = vtwin(&[
        "fork",
        finished.to_str().unwrap(),
        "--out",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("finished cohort task"), "{err}");
    assert!(!refused.exists());

    // Forking read the kept folder only: it resumes to the whole cohort.
    ok(&["resume", out.to_str().unwrap()]);
    assert_same_cohort(&base, &out);
    let _ = std::fs::remove_dir_all(&d);
}
