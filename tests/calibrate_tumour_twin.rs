//! Twin experiments on the tumour model of `scenes/tumour_rd.toml` (a
//! small, untreated variant so the test is fast): data are simulated from
//! known parameters (D = 0.02 mm²/day, k = 0.055 /day) through the scene's
//! own observables (a total, two probes, a block mean), with 2 % Gaussian
//! noise (sd floor 0.002), at days 20, 40, 60, 80 — 16 rows. Then
//!
//! - `vtwin calibrate --method abc-smc` (population 100, stopping at
//!   ε = 5.128 = √(χ²₁₆ 95 % quantile): the truth's distance² from the data
//!   is χ²₁₆-distributed, so the accepted set holds the truth with
//!   probability 95 % whatever the model) must give a posterior whose mean lies within 3 posterior sd of the
//!   truth and whose sd is at most 0.3 × the prior sd, for both
//!   parameters; `vtwin run --posterior` must then draw only posterior
//!   draws;
//! - history matching (3 waves of 30 runs) must keep the truth
//!   non-implausible (implausibility ≤ 3), rule out at least 90 % of the
//!   prior, and leave a non-implausible sample with sd at most 0.3 × the
//!   prior sd.
//!
//! Prior sd's: k ~ U(0.03, 0.08): 0.05/√12 = 0.01443; D ~ LogU(0.005, 0.05):
//! √(E[D²] − E[D]²) with E[D] = 0.045/ln 10, E[D²] = (0.05² − 0.005²)/(2 ln 10),
//! = 0.01247.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::backend::Backend;
use vtwin::engine::cpu::CpuEngine;
use vtwin::engine::record::record;
use vtwin::input::scene::Scene;
use vtwin::methods::calibrate::data::parse_data;
use vtwin::methods::calibrate::sampling::keyed;
use vtwin::methods::calibrate::{HmConfig, run_history_matching};
use vtwin::methods::design::value_to_unit;
use vtwin::methods::fit::{EngineSimulator, attach_targets};

const TRUE_D: f64 = 0.02;
const TRUE_K: f64 = 0.055;
const PRIOR_SD_D: f64 = 0.01247;
const PRIOR_SD_K: f64 = 0.01443;

/// The flagship scene's tumour model on a 24 mm slice for 80 days,
/// untreated, with the parameters `params` (TOML lines).
fn scene_text(params: &str, extra: &str) -> String {
    format!(
        r#"
[model]
kind = "tumour"
[grid]
nx = 24
ny = 24
dx = 1.0
boundary = "noflux"
[time]
dt = 0.5
end = 80.0
[ensemble]
members = 1
seed = 11
[parameters]
{params}
alpha = 0.12
beta = 0.012
theta = 1.0
kappa = 0.3
[tissue]
generate = {{ kind = "blobs", contrast = 0.5, scale = 4.0, seed = 7 }}
[initial]
patches = [{{ shape = "gaussian", center = [12.0, 12.0], size = 2.0, values = {{ N = 0.8 }} }}]
[observe]
every = 40
[[observables]]
name = "burden"
kind = "total"
field = "N"
{extra}"#
    )
}

const PRIOR: &str = "D = { dist = \"loguniform\", low = 0.005, high = 0.05 }\nk = { dist = \"uniform\", low = 0.03, high = 0.08 }";

/// Observables of the truth scene and the data rows they become.
const TRUTH_OBS: &str = r#"
[[observables]]
name = "near"
kind = "probe"
field = "N"
at = [16.5, 12.5]
[[observables]]
name = "far"
kind = "probe"
field = "N"
at = [12.5, 17.5]
[[observables]]
name = "core"
kind = "block_mean"
field = "N"
region = [8.0, 8.0, 16.0, 16.0]
"#;

/// DATA.csv text: the truth's observables at days 20–80 plus noise.
fn twin_data() -> String {
    let text = scene_text(&format!("D = {TRUE_D}\nk = {TRUE_K}"), TRUTH_OBS);
    let scene = Scene::parse(Path::new("truth.toml"), &text).unwrap();
    let plan = Plan::freeze(&scene, &PlanOptions::default()).unwrap();
    let mut engine = CpuEngine::new(&plan);
    let rec = record(&mut engine, &mut |_| {}).unwrap();
    let series = rec.member_series(&plan, 0);
    let rows: HashMap<&str, (&str, &str)> = [
        ("burden", ("burden", "")),
        ("near", ("N", "16.5;12.5")),
        ("far", ("N", "12.5;17.5")),
        ("core", ("N", "8;8;16;16")),
    ]
    .into_iter()
    .collect();
    let mut rng = keyed(2026, [0, 0, 0]);
    let mut out = String::from("time,observable,location,value,sd\n");
    for (k, t) in rec.times.iter().enumerate() {
        if *t == 0.0 {
            continue;
        }
        for (o, name) in plan.observables.names().iter().enumerate() {
            let v = series[o][k].unwrap();
            let sd = (0.02 * v.abs()).max(0.002);
            let (obs, loc) = rows[name.as_str()];
            out.push_str(&format!("{t},{obs},{loc},{},{sd}\n", v + sd * rng.normal()));
        }
    }
    assert_eq!(out.lines().count(), 17, "16 data rows");
    out
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtwin-twin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            h.iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn vtwin(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "vtwin {args:?} failed:\n{stderr}");
    stderr
}

#[test]
fn abc_smc_recovers_the_truth_and_feeds_new_ensembles() {
    let dir = tmp("abc");
    let data = dir.join("DATA.csv");
    std::fs::write(&data, twin_data()).unwrap();
    let scene = dir.join("tumour_small.toml");
    std::fs::write(
        &scene,
        scene_text(
            PRIOR,
            "[calibrate.abc]\nmode = \"deterministic\"\npopulation = 100\nmax_generations = 14\nfinal_epsilon = 5.128\nseed = 1\n",
        ),
    )
    .unwrap();
    let out = dir.join("cal");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    vtwin(&[
        "calibrate",
        &s(&scene),
        "--data",
        &s(&data),
        "--method",
        "abc-smc",
        "--backend",
        "cpu",
        "--out",
        &s(&out),
    ]);
    for f in [
        "abc_particles.csv",
        "abc_generations.csv",
        "posterior_summary.csv",
        "posterior.csv",
        "posterior.toml",
        "targets.csv",
        "manifest.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let generations = read(&out.join("abc_generations.csv"));
    let last = generations.last().unwrap();
    assert_eq!(
        last["epsilon"].parse::<f64>().unwrap(),
        5.128,
        "stopped at the noise level"
    );
    let particles = read(&out.join("abc_particles.csv"));
    assert_eq!(
        particles.len(),
        100 * generations.len(),
        "every generation written"
    );
    let summary = read(&out.join("posterior_summary.csv"));
    for (name, truth, prior_sd) in [("D", TRUE_D, PRIOR_SD_D), ("k", TRUE_K, PRIOR_SD_K)] {
        let r = summary.iter().find(|r| r["parameter"] == name).unwrap();
        let (mean, sd) = (
            r["mean"].parse::<f64>().unwrap(),
            r["sd"].parse::<f64>().unwrap(),
        );
        eprintln!("{name}: posterior mean {mean}, sd {sd} (truth {truth}, prior sd {prior_sd})");
        assert!(
            (mean - truth).abs() <= 3.0 * sd,
            "{name}: truth {truth} is more than 3 sd from the posterior mean {mean} (sd {sd})"
        );
        assert!(
            sd <= 0.3 * prior_sd,
            "{name}: sd {sd} vs prior sd {prior_sd}"
        );
    }

    // Backward loop: a new ensemble from the posterior draws only posterior draws.
    let posterior = read(&out.join("posterior.csv"));
    let run_dir = dir.join("run");
    vtwin(&[
        "run",
        &s(&scene),
        "--posterior",
        &s(&out),
        "--members",
        "12",
        "--format",
        "csv",
        "--backend",
        "cpu",
        "--out",
        &s(&run_dir),
    ]);
    let params = read(&run_dir.join("params.csv"));
    assert_eq!(params.len(), 12);
    let names = ["D", "k", "alpha", "beta", "theta", "kappa"];
    for p in &params {
        assert!(
            posterior
                .iter()
                .any(|d| names.iter().all(|n| d[*n] == p[*n])),
            "member {} has parameters that are not a posterior draw: {p:?}",
            p["member"]
        );
    }
    let distinct: std::collections::HashSet<&String> = params.iter().map(|p| &p["D"]).collect();
    assert!(distinct.len() > 1, "members should get different draws");

    // A sweep over the posterior spans its fitted block.
    let sweep_dir = dir.join("sweep");
    vtwin(&[
        "sweep",
        &s(&scene),
        "--posterior",
        &s(&out),
        "--method",
        "lhs",
        "-n",
        "8",
        "--backend",
        "cpu",
        "--out",
        &s(&sweep_dir),
    ]);
    let fitted = std::fs::read_to_string(out.join("posterior.toml")).unwrap();
    let used = std::fs::read_to_string(sweep_dir.join("params.toml")).unwrap();
    for name in ["D", "k"] {
        let line = |t: &str| {
            t.lines()
                .find(|l| l.starts_with(&format!("{name} = ")))
                .map(String::from)
        };
        assert_eq!(
            line(&used),
            line(&fitted),
            "{name}: sweep block vs posterior"
        );
        assert!(line(&used).is_some());
    }
    assert_eq!(read(&sweep_dir.join("outputs.csv")).len(), 8);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn history_matching_keeps_the_truth_and_rules_out_most_of_the_prior() {
    let scene = Scene::parse(Path::new("tumour_small.toml"), &scene_text(PRIOR, "")).unwrap();
    let mut plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let rows = parse_data(&twin_data(), Path::new("DATA.csv")).unwrap();
    let targets = attach_targets(&mut plan, &rows, Path::new("DATA.csv")).unwrap();
    assert_eq!(plan.every, 40, "data every 20 days = 40 steps");
    let prior = plan.block.clone();
    let backend = Backend::Cpu;
    let mut sim = EngineSimulator::new(&backend, plan, targets, None);
    let (observed, sd) = sim.observed();
    let cfg = HmConfig {
        waves: 3,
        runs_per_wave: 30,
        mc_samples: 5000,
        nroy_samples: 300,
        seed: 1,
        ..HmConfig::default()
    };
    let res = run_history_matching(
        &prior,
        &mut sim.summaries(),
        &observed,
        &sd,
        &cfg,
        &mut |_| {},
    )
    .unwrap();
    let truth_unit: Vec<f64> = prior
        .varying()
        .iter()
        .map(|&i| {
            let v = if prior.params[i].name == "D" {
                TRUE_D
            } else {
                TRUE_K
            };
            value_to_unit(&prior.params[i].dist, v)
        })
        .collect();
    let imp = res.implausibility(&truth_unit);
    eprintln!(
        "truth implausibility {imp}; ruled out per wave {:?}",
        res.waves
            .iter()
            .map(|w| w.fraction_ruled_out)
            .collect::<Vec<_>>()
    );
    assert!(
        res.is_non_implausible(&truth_unit),
        "truth ruled out (I = {imp})"
    );
    let ruled_out = res.waves.last().unwrap().fraction_ruled_out;
    assert!(ruled_out >= 0.9, "only {ruled_out} of the prior ruled out");
    let post = res.posterior().unwrap();
    for s in post.summary() {
        let prior_sd = match s.name.as_str() {
            "D" => PRIOR_SD_D,
            "k" => PRIOR_SD_K,
            _ => continue,
        };
        eprintln!("{}: non-implausible sd {} (prior {prior_sd})", s.name, s.sd);
        assert!(
            s.sd <= 0.3 * prior_sd,
            "{}: sd {} vs prior {prior_sd}",
            s.name,
            s.sd
        );
    }
}

/// Errors before anything runs: no method, a data row the scene cannot
/// read (naming the data file's line), and nothing is written.
#[test]
fn calibrate_errors_name_the_method_and_the_line() {
    let dir = tmp("errors");
    let scene = dir.join("s.toml");
    std::fs::write(&scene, scene_text(PRIOR, "")).unwrap();
    let data = dir.join("DATA.csv");
    std::fs::write(
        &data,
        "time,observable,location,value,sd\n20,burden,,30,1\n90,burden,,60,2\n",
    )
    .unwrap();
    let out = dir.join("out");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "calibrate".to_string(),
            scene.display().to_string(),
            "--data".into(),
            data.display().to_string(),
            "--backend".into(),
            "cpu".into(),
            "--out".into(),
            out.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
            .args(a)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = run(&[]);
    assert!(
        e.contains("--method abc-smc|history-matching|tempered-smc"),
        "{e}"
    );
    let e = run(&["--method", "abc-smc"]);
    assert!(
        e.contains("DATA.csv, line 3") && e.contains("outside the run [0, 80]"),
        "{e}"
    );
    let e = run(&["--method", "abc-smc", "--waves", "2"]);
    assert!(
        e.contains("--waves applies only to --method history-matching"),
        "{e}"
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(dir).unwrap();
}
