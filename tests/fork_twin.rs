//! `vtwin fork` of twin and assimilation checkpoints, driven through the
//! binary on the CPU backend:
//!
//! - a checkpoint at the last analysis, forked under another arm, gives the
//!   twin's own forecast of that arm byte for byte (forecast, events,
//!   decision and predictability rows);
//! - a checkpoint at analysis 3 of 4, forked, gives the forecast of a twin
//!   run from scratch with 3 analyses (which switches to the arms at that
//!   analysis' time), byte for byte;
//! - the same for a single-ensemble `assimilate` checkpoint;
//! - `--set kappa=…` changes the forecast of the arm that gives the drug and
//!   is recorded in the manifest;
//! - a changed scene, an unknown arm and a `--set` of something that is not
//!   a parameter are refused, naming the checkpoint, and write nothing.
//!
//! - on the GPU backend, a GPU twin's fork equals its own forecast.
//!
//! The scene is a tiny tumour twin (8 × 8 grid, 8 members, ETKF, two
//! imaging observables every 10 days, three arms that differ from day 49).

mod common;

use common::TempDir;
use std::path::Path;

const SCENE: &str = r#"
[model]
kind = "tumour"

[grid]
nx = 8
ny = 8
dx = 8.0
boundary = "noflux"

[time]
dt = 0.5
end = 100.0

[ensemble]
members = 8
seed = 11

[parameters]
D = { dist = "loguniform", low = 0.5, high = 2.0 }
k = { dist = "uniform", low = 0.02, high = 0.1 }
alpha = { dist = "truncnormal", mean = 0.12, sd = 0.04, low = 0.03, high = 0.3 }
beta = 0.012
theta = 1.0
kappa = { dist = "uniform", low = 0.1, high = 0.6 }

[initial]
patches = [{ shape = "gaussian", center = [32.0, 32.0], size = 10.0, values = { N = 0.8 } }]

[[arms]]
name = "control"

[[arms]]
name = "rt"
rt = { start = 49.0, fractions = 10, dose = 2.0, per_week = 5 }

[[arms]]
name = "rt_chemo"
rt = { start = 49.0, fractions = 10, dose = 2.0, per_week = 5 }
chemo = { times = [49.0, 70.0], dose = 1.0, decay = 0.3 }

[observe]
every = 20

[[observables]]
name = "burden"
kind = "total"
field = "N"

[[observables]]
name = "max_density"
kind = "max"
field = "N"

[assimilation]
method = "etkf"
inflation = 1.05
arm = "control"
burn_in = 0.0
horizon = 100.0
truth = { k = 0.07, D = 1.0 }
log_observables = ["burden"]
clamp = { N = [0.0, 1.0] }

[[assimilation.observe]]
observable = "burden"
every = 10.0
rel_sd = 0.05
sd = 1.0

[[assimilation.observe]]
observable = "max_density"
every = 10.0
sd = 0.05

[[assimilation.estimate]]
param = "k"
scale = "log"

[[assimilation.events]]
name = "burden_doubles"
observable = "burden"
kind = "above"
threshold = 2.0
relative = true
by = 100.0
"#;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs vtwin, asserting success; returns stderr.
fn ok(args: &[&str]) -> String {
    let o = common::vtwin(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "vtwin {args:?} failed:\n{err}");
    err
}

/// Runs vtwin, asserting failure; returns stderr.
fn refused(args: &[&str]) -> String {
    let o = common::vtwin(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "vtwin {args:?} succeeded:\n{err}");
    err
}

/// The header and the rows of a CSV table whose first column is `arm`
/// equal to `arm`, as text.
fn arm_rows(path: &Path, arm: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    assert!(header.starts_with("arm,"), "{header}");
    let rows: Vec<String> = lines
        .filter(|l| l.split(',').next() == Some(arm))
        .map(str::to_string)
        .collect();
    assert!(
        !rows.is_empty(),
        "{} has no rows of arm {arm}",
        path.display()
    );
    std::iter::once(header).chain(rows).collect()
}

/// Every forecast table of `fork` equals the rows of `arm` in `base`.
fn assert_same_arm(base: &Path, fork: &Path, arm: &str, twin: bool) {
    let mut tables = vec!["forecast.csv", "events.csv", "decision.csv"];
    if twin {
        tables.push("predictability.csv");
    }
    for t in tables {
        let (a, b) = (arm_rows(&base.join(t), arm), arm_rows(&fork.join(t), arm));
        let all = std::fs::read_to_string(fork.join(t)).unwrap();
        assert_eq!(
            all.lines().count(),
            b.len(),
            "{t}: the fork holds one arm only"
        );
        assert!(a == b, "{t}: the fork under {arm} differs from the run's");
    }
}

fn twin(scene: &str, out: &Path, extra: &[&str]) {
    twin_on("cpu", scene, out, extra)
}

fn twin_on(backend: &str, scene: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "twin",
        scene,
        "--backend",
        backend,
        "--format",
        "csv",
        "--out",
        s(out),
    ];
    args.extend(extra);
    ok(&args);
}

fn fork(ck: &Path, out: &Path, extra: &[&str]) -> String {
    fork_on("cpu", ck, out, extra)
}

fn fork_on(backend: &str, ck: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "fork",
        s(ck),
        "--backend",
        backend,
        "--format",
        "csv",
        "--out",
        s(out),
    ];
    args.extend(extra);
    ok(&args)
}

/// A twin's finished folder keeps its last checkpoint; forked from the last
/// analysis under each other arm it reproduces the twin's own forecasts,
/// and forked from analysis 3 those of a 3-analysis twin.
#[test]
fn a_forked_twin_checkpoint_equals_the_forecast_switching_arms_at_its_analysis() {
    let d = TempDir::new("fork-twin");
    let scene = common::write_scene(d.path(), "twin.toml", SCENE);

    // Checkpoints every 2 analyses of 4: the kept one is at the last.
    let a = d.path().join("a");
    twin(&scene, &a, &["--cycles", "4", "--checkpoint-every", "2"]);
    let ck = a.join("checkpoint.vtc");
    let meta = vtwin::drivers::checkpoint_twin::read_meta(&ck).unwrap().0;
    assert_eq!(meta.analyses, 4);
    let listed = common::manifest(&a)["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["path"] == "checkpoint.vtc");
    assert!(listed, "the checkpoint is one of the run's outputs");
    for arm in ["rt", "rt_chemo"] {
        let f = d.path().join(format!("fork-{arm}"));
        // The folder stands for its checkpoint.
        fork(&a, &f, &["--arm", arm]);
        assert_same_arm(&a, &f, arm, true);
        let m = common::manifest(&f);
        assert_eq!(m["fork"]["arm"], arm);
        assert_eq!(m["fork"]["of"], "twin");
        assert_eq!(m["fork"]["from_analysis"], 4);
        assert_eq!(m["fork"]["scene_sha256"], meta.identity.scene_sha256);
        assert_eq!(
            m["fork"]["checkpoint_sha256"],
            vtwin::output::io::sha256_file(&ck).unwrap()
        );
        vtwin::output::io::rundir::verify_outputs(&f).unwrap();
    }
    // Without --arm: the assimilation arm.
    let f = d.path().join("fork-default");
    fork(&ck, &f, &[]);
    assert_same_arm(&a, &f, "control", true);

    // Checkpoints every 3 analyses of 4: the kept one is at analysis 3,
    // whose forecasts a twin of 3 analyses makes from scratch.
    let b = d.path().join("b");
    twin(&scene, &b, &["--cycles", "4", "--checkpoint-every", "3"]);
    let c = d.path().join("c");
    twin(&scene, &c, &["--cycles", "3"]);
    assert!(!c.join("checkpoint.vtc").exists());
    let g = d.path().join("fork-3");
    fork(&b.join("checkpoint.vtc"), &g, &["--arm", "rt_chemo"]);
    assert_same_arm(&c, &g, "rt_chemo", true);
    assert_eq!(common::manifest(&g)["fork"]["from_analysis"], 3);
    // Not vacuous: analysis 4 moved the ensemble, so the forecasts from
    // analyses 3 and 4 differ.
    assert!(
        arm_rows(&a.join("forecast.csv"), "rt_chemo")
            != arm_rows(&g.join("forecast.csv"), "rt_chemo")
    );

    // --set: a drug kill rate for every member changes the chemotherapy
    // arm's forecast and is recorded.
    let h = d.path().join("fork-set");
    let err = fork(&ck, &h, &["--arm", "rt_chemo", "--set", "kappa=0.9"]);
    assert!(err.contains("kappa=0.9"), "{err}");
    assert!(
        arm_rows(&a.join("forecast.csv"), "rt_chemo")
            != arm_rows(&h.join("forecast.csv"), "rt_chemo")
    );
    let m = common::manifest(&h);
    assert_eq!(m["fork"]["set"][0]["param"], "kappa");
    assert_eq!(m["fork"]["set"][0]["value"], 0.9);
}

/// On the GPU backend (lavapipe in CI) too: a GPU twin's checkpoint forked
/// on the GPU gives the GPU twin's forecast bit for bit.
#[test]
fn a_forked_gpu_twin_checkpoint_equals_the_gpu_twins_forecast() {
    if common::gpu().is_none() {
        return;
    }
    let d = TempDir::new("fork-twin-gpu");
    let scene = common::write_scene(d.path(), "twin.toml", SCENE);
    let a = d.path().join("a");
    twin_on(
        "gpu",
        &scene,
        &a,
        &["--cycles", "4", "--checkpoint-every", "2"],
    );
    let f = d.path().join("fork");
    fork_on("gpu", &a, &f, &["--arm", "rt_chemo"]);
    assert_same_arm(&a, &f, "rt_chemo", true);
    assert_eq!(common::manifest(&f)["backend"], "gpu");
}

/// A single-ensemble assimilation's checkpoint forks the same way.
#[test]
fn a_forked_assimilation_checkpoint_equals_its_own_forecast() {
    let d = TempDir::new("fork-assim");
    let scene = common::write_scene(d.path(), "twin.toml", SCENE);
    let t = d.path().join("t");
    twin(&scene, &t, &["--cycles", "4"]);
    let a = d.path().join("a");
    ok(&[
        "assimilate",
        &scene,
        "--obs",
        s(&t.join("observations.csv")),
        "--checkpoint-every",
        "2",
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        s(&a),
    ]);
    let f = d.path().join("fork");
    fork(&a.join("checkpoint.vtc"), &f, &["--arm", "rt"]);
    assert_same_arm(&a, &f, "rt", false);
    assert!(!f.join("predictability.csv").exists());
    assert_eq!(common::manifest(&f)["fork"]["of"], "assimilate");
}

/// Refusals name the checkpoint, exit non-zero and leave no output.
#[test]
fn a_changed_scene_an_unknown_arm_and_a_structural_set_are_refused() {
    let d = TempDir::new("fork-refuse");
    let scene = common::write_scene(d.path(), "twin.toml", SCENE);
    let a = d.path().join("a");
    twin(&scene, &a, &["--cycles", "2", "--checkpoint-every", "1"]);
    let ck = a.join("checkpoint.vtc");
    let out = d.path().join("f");
    let run = |extra: &[&str]| -> String {
        let mut args = vec!["fork", s(&ck), "--backend", "cpu", "--out", s(&out)];
        args.extend_from_slice(extra);
        let err = refused(&args);
        assert!(
            err.contains(s(&ck)),
            "the message names the checkpoint: {err}"
        );
        assert!(!out.exists(), "nothing written");
        err
    };
    let err = run(&["--arm", "surgery"]);
    assert!(err.contains("no arm named `surgery`"), "{err}");
    for bad in ["nx=16", "members=4", "seed=3"] {
        let err = run(&["--set", bad]);
        assert!(err.contains("has no parameter"), "{err}");
        assert!(err.contains("a fork changes parameters only"), "{err}");
    }
    std::fs::write(&scene, format!("{SCENE}\n# edited\n")).unwrap();
    let err = run(&["--arm", "rt"]);
    assert!(err.contains("the scene changed"), "{err}");
}
