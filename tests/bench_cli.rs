//! `vtwin bench` and `vtwin estimate` through the binary: the report's JSON
//! keys, the pinned problem's checksum against a library CPU run (exact on
//! the CPU backend, f32 tolerance on the GPU, fused or not), the suites
//! that are not in this build saying so, argument errors, and the estimate's
//! memory and batches.

mod common;

use common::{TempDir, vtwin};
use serde_json::Value;
use std::process::{Command, Output};
use vtwin::drivers::bench::problem;
use vtwin::engine::Engine;
use vtwin::engine::cpu::CpuEngine;

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "vtwin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Σ v of the pinned problem after `steps` steps on the CPU engine.
fn cpu_checksum(members: u32, grid: u32, steps: u64) -> f64 {
    let plan = problem::plan(members, grid).unwrap();
    let mut e = CpuEngine::new(&plan);
    e.advance(steps).unwrap();
    problem::checksum(&plan, &e.read_state().unwrap())
}

const PEER: [&str; 12] = [
    "bench",
    "--suite",
    "peer",
    "--members",
    "5",
    "--grid",
    "16",
    "--steps",
    "12",
    "--repeats",
    "2",
    "--json",
];

#[test]
fn peer_suite_on_the_cpu_reports_the_documented_keys() {
    let tmp = TempDir::new("bench-peer");
    let file = tmp.path().join("peer.json");
    let mut args = PEER.to_vec();
    args.extend([file.to_str().unwrap(), "--backend", "cpu"]);
    let out = vtwin(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gray-scott-peer"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for k in ["adapter", "backend", "commit", "results"] {
        assert!(v.get(k).is_some(), "report lacks `{k}`");
    }
    assert_eq!(v["backend"], "cpu");
    let r = &v["results"][0];
    for k in [
        "suite",
        "case",
        "members",
        "grid",
        "steps",
        "seconds",
        "cell_updates_per_s",
        "bytes_per_s",
        "fraction_of_peak",
    ] {
        assert!(r.get(k).is_some(), "row lacks `{k}`");
    }
    assert_eq!(
        (r["members"].as_u64(), r["grid"].as_u64()),
        (Some(5), Some(16))
    );
    assert_eq!(r["wall_seconds"].as_array().unwrap().len(), 2);
    assert_eq!(r["timing"], "wall");
    assert!(
        r["fraction_of_peak"].is_null(),
        "no peak is known for a CPU"
    );
    let seconds = r["seconds"].as_f64().unwrap();
    let cups = r["cell_updates_per_s"].as_f64().unwrap();
    assert!((cups * seconds - 5.0 * 256.0 * 12.0).abs() < 1e-6 * cups * seconds);
    // Same engine, same bits; the 1e-15 allows for serde_json's float
    // parsing, which is not exactly round-trip without `float_roundtrip`.
    let (got, want) = (r["checksum"].as_f64().unwrap(), cpu_checksum(5, 16, 12));
    assert!((got - want).abs() <= 1e-15 * want.abs(), "{got} vs {want}");
}

#[test]
fn peer_suite_on_the_gpu_agrees_with_the_cpu() {
    if common::gpu().is_none() {
        return;
    }
    let want = cpu_checksum(5, 16, 12);
    for fused in [None, Some("4")] {
        let mut args = PEER.to_vec();
        args.extend(["-", "--backend", "gpu", "--peak-gbs", "10"]);
        if let Some(k) = fused {
            args.extend(["--fused", k]);
        }
        let v = json_of(&vtwin(&args));
        let r = &v["results"][0];
        assert!(v["adapter"]["name"].is_string());
        assert!(matches!(r["timing"].as_str(), Some("gpu" | "wall")));
        assert!(r["fraction_of_peak"].as_f64().unwrap() > 0.0);
        assert_eq!(v["peak"]["source"], "--peak-gbs");
        let got = r["checksum"].as_f64().unwrap();
        // f32 over 5 × 256 sites: GPU and CPU may differ in the last bits.
        assert!(
            (got - want).abs() <= 1e-5 * want.abs(),
            "fused {fused:?}: {got} vs {want}"
        );
    }
}

/// The abm suite reports agent-steps/s for the cases under the cap and
/// lists the ones over it as not available.
#[test]
fn abm_suite_reports_agent_steps_and_skips_over_the_cap() {
    let v = json_of(&vtwin(&[
        "bench",
        "--suite",
        "abm",
        "--backend",
        "cpu",
        "--members",
        "2,8",
        "--agents",
        "300",
        "--max-agents",
        "1000",
        "--steps",
        "2",
        "--repeats",
        "1",
        "--json",
        "-",
    ]));
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (r["suite"].as_str(), r["members"].as_u64()),
        (Some("abm"), Some(2))
    );
    let live = r["checksum"].as_f64().unwrap();
    assert!(
        (live - 600.0).abs() < 60.0,
        "two members of about 300 agents: {live}"
    );
    let rate = r["agent_steps_per_s"].as_f64().unwrap();
    let secs = r["seconds"].as_f64().unwrap();
    assert!((rate * secs - live * 2.0).abs() < 1e-6 * rate * secs);
    assert!(r.get("cell_updates_per_s").is_none());
    let skipped = v["unavailable"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("8 members × 300 agents")
    );
}

#[test]
fn da_suite_runs() {
    let v = json_of(&vtwin(&[
        "bench",
        "--suite",
        "da",
        "--backend",
        "cpu",
        "--members",
        "4",
        "--repeats",
        "3",
        "--da-patients",
        "3",
        "--da-patient-members",
        "4",
        "--json",
        "-",
    ]));
    let results = v["results"].as_array().unwrap();
    let cases: Vec<String> = results
        .iter()
        .map(|r| format!("{}/{}", r["case"].as_str().unwrap(), r["members"]))
        .collect();
    // Per method: the N sweep at p = 64 (here N = 4), then the p sweep at
    // the largest N (4); then the closed loop at that N; then the patients
    // row (3 patients × 4 members).
    let mut want = Vec::new();
    for m in ["enkf", "etkf", "letkf", "pf"] {
        for p in [64, 1, 16, 256, 1024] {
            want.push(format!("{m}-p{p}/4"));
        }
    }
    want.push("closed-loop-52w/4".into());
    want.push("patients/4".into());
    assert_eq!(cases, want);
    // Every figure follows from the timed runs: the median of 3 wall
    // times; 32² = 1024 state values per member updated per analysis;
    // 16 bytes per update.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    for r in &results[..results.len() - 2] {
        let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k}: {r}"));
        assert_eq!(r["suite"], "da");
        assert_eq!(r["members"], 4);
        assert_eq!(r["grid"], 32);
        assert_eq!(r["steps"], 1);
        let mut wall: Vec<f64> = r["wall_seconds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(wall.len(), 3, "{r}");
        assert!(wall.iter().all(|w| w.is_finite() && *w > 0.0), "{r}");
        wall.sort_by(f64::total_cmp);
        let secs = f("seconds");
        assert!(close(secs, wall[1]), "median: {r}");
        let updates = 1024.0 * 4.0 / secs;
        assert!(close(f("cell_updates_per_s"), updates), "{r}");
        assert!(close(f("member_steps_per_s"), 4.0 / secs), "{r}");
        assert!(close(f("bytes_per_s"), 16.0 * updates), "{r}");
        // The global filters' form follows from p and N: observation space
        // only for p = 1 < N = 4.
        let note = r["note"].as_str().unwrap();
        let case = r["case"].as_str().unwrap();
        let form = match case {
            c if c.starts_with("pf") => "particle form",
            "enkf-p1" | "etkf-p1" => "observation-space form",
            c if c.starts_with("letkf") => "form",
            _ => "ensemble-space form",
        };
        assert!(note.contains(form), "{r}");
    }
    // The closed loop: 52 analyses, forecast to day 455 (910 steps of 0.5),
    // and the twin's scores in the note.
    let cl = &results[results.len() - 2];
    assert_eq!(cl["steps"], 910);
    let note = cl["note"].as_str().unwrap();
    assert!(
        note.contains("52 analyses") && note.contains("rmse_free"),
        "{cl}"
    );
    // The patients row: the counts the run's manifest records (3 patients
    // of 8 readings and 2 forecast requests each, 4 members each), and the
    // analysis time per patient = the run's time / 3.
    let pr = &results[results.len() - 1];
    let p = &pr["patients"];
    assert_eq!(p["patients"], 3, "{pr}");
    assert_eq!(p["members_per_patient"], 4, "{pr}");
    assert_eq!(p["observations"], 24, "{pr}");
    assert_eq!(p["forecast_requests"], 6, "{pr}");
    assert!(p["failed"].as_u64().unwrap() <= 3, "{pr}");
    let run = p["run_seconds"].as_f64().unwrap();
    assert!(run > 0.0 && run <= pr["seconds"].as_f64().unwrap(), "{pr}");
    assert!(
        close(
            p["analysis_seconds_per_patient"].as_f64().unwrap(),
            run / 3.0
        ),
        "{pr}"
    );
    assert!(
        pr["note"]
            .as_str()
            .unwrap()
            .starts_with("3 patients × 4 members, 24 readings, 6 forecasts"),
        "{pr}"
    );
}

/// `--da-patients-only` runs the patients row alone; `--da-patients 0`
/// skips it; the default size is 1,000 × 128 (not run here).
#[test]
fn da_patients_row_alone_and_skipped() {
    let v = json_of(&vtwin(&[
        "bench",
        "--suite",
        "da",
        "--backend",
        "cpu",
        "--da-patients-only",
        "--da-patients",
        "2",
        "--da-patient-members",
        "3",
        "--json",
        "-",
    ]));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v}");
    assert_eq!(results[0]["case"], "patients");
    assert_eq!(results[0]["patients"]["patients"], 2);
    assert_eq!(results[0]["patients"]["members_per_patient"], 3);
    assert_eq!(results[0]["patients"]["observations"], 16);
    let v = json_of(&vtwin(&[
        "bench",
        "--suite",
        "da",
        "--backend",
        "cpu",
        "--da-loop-only",
        "--members",
        "2",
        "--repeats",
        "1",
        "--json",
        "-",
    ]));
    let cases: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["case"].as_str().unwrap())
        .collect();
    assert_eq!(cases, ["closed-loop-52w"]);
}

#[test]
fn bad_arguments_are_refused() {
    for (args, needle) in [
        (vec!["--repeats", "0"], "--repeats"),
        (vec!["--grid", "8"], "--grid"),
        (vec!["--peak-gbs", "0"], "--peak-gbs"),
        (vec!["--members", "0"], "--members"),
        (vec!["--fused", "0"], "--fused"),
        (vec!["--da-patient-members", "1"], "--da-patient-members"),
    ] {
        let mut a = vec!["bench", "--suite", "peer", "--backend", "cpu"];
        a.extend(args);
        let out = vtwin(&a);
        assert!(!out.status.success(), "{a:?} was accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn estimate_reports_memory_batches_and_a_projection() {
    let scene = concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/gray_scott.toml");
    let v = json_of(&vtwin(&[
        "estimate",
        scene,
        "--members",
        "6",
        "--backend",
        "cpu",
        "--json",
        "-",
    ]));
    // 64 × 64 × 2 f32 = 32 KiB of state per member.
    assert_eq!(v["state_bytes_per_member"], 32768);
    assert_eq!(v["members"], 6);
    assert_eq!(v["batches"], serde_json::json!([6]));
    assert_eq!(v["probe"]["members"], 6);
    assert!(v["projected_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["total_bytes"].as_u64().unwrap() >= 6 * 32768);
    let out = vtwin(&["estimate", "no/such/scene.toml", "--backend", "cpu"]);
    assert!(!out.status.success());
}

/// `benches/compare.sh` with a python3 that sees no site-packages (so
/// neither numpy nor JAX): it says both peers are skipped, exits 0, and its
/// JSON has the documented shape with a vtwin-cpu row of the asked size
/// (and vtwin-gpu rows where an adapter exists).
#[test]
fn compare_script_skips_missing_peers() {
    let Some(python) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("python3"))
            .find(|f| f.is_file())
    }) else {
        eprintln!("skipped: no python3 on PATH");
        return;
    };
    let tmp = TempDir::new("compare");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("python3");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec '{}' -I -S \"$@\"\n", python.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let json = tmp.path().join("compare.json");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/compare.sh"))
        .args(["--vtwin", env!("CARGO_BIN_EXE_vtwin"), "--sizes", "3x16x8"])
        .args(["--repeats", "1", "--json", json.to_str().unwrap()])
        .env("PATH", path)
        .env("VTWIN_PIPELINE_CACHE", "off")
        .output()
        .expect("run compare.sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "compare.sh failed: {err}");
    assert!(
        err.contains("numpy is not installed") && err.contains("jax is not installed"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["machine"].is_object());
    let rows = v["rows"].as_array().unwrap();
    let cpu = rows
        .iter()
        .find(|r| r["impl"] == "vtwin-cpu")
        .expect("vtwin-cpu row");
    for k in [
        "impl",
        "device",
        "members",
        "grid",
        "steps",
        "seconds",
        "cell_updates_per_s",
    ] {
        assert!(cpu.get(k).is_some(), "row lacks `{k}`");
    }
    assert_eq!(
        (
            cpu["members"].as_u64(),
            cpu["grid"].as_u64(),
            cpu["steps"].as_u64()
        ),
        (Some(3), Some(16), Some(8))
    );
    assert!(
        rows.iter()
            .all(|r| r["impl"] != "numpy" && r["impl"] != "jax")
    );
    if common::gpu().is_some() {
        assert!(
            rows.iter().any(|r| r["impl"] == "vtwin-gpu"),
            "no vtwin-gpu row"
        );
    }
}
