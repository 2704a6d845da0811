//! `vtwin sweep` end to end on models with known answers.
//!
//! Known indices: `u' = a + b`, `v' = a·b` without diffusion from 0 for one
//! time unit, a ~ U(0, 1), b ~ U(0, 2), so u(1) = a + b and v(1) = a·b:
//! - u: S1_a = ST_a = Var(a)/(Var(a)+Var(b)) = (1/12)/(5/12) = 0.2,
//!   S1_b = ST_b = 0.8;
//! - v: Var(ab) = E[a²]E[b²] − (E[a]E[b])² = 4/9 − 1/4 = 7/36; the first-
//!   order parts are Var(a·E[b]) = 1/12 and Var(E[a]·b) = 1/12, so
//!   S1_a = S1_b = 3/7 and ST_a = ST_b = 1 − 3/7 = 4/7.
//!
//! Tolerance 0.05 absolute at base size N = 1024 (4096 members): about the
//! 95 % bootstrap half-width the run reports, and the parameter `c`, which
//! no output depends on, must get ST = 0 exactly (f(A) = f(AB_c) row for
//! row). Crossing times of u = 0.5 must equal 0.5/(a + b) (u is linear in
//! t, recorded every step, so interpolation is exact up to f32 rounding).

mod common;

use common::vtwin;
use std::path::{Path, PathBuf};

/// u' = r·u² from u = 1 blows up at t = 1/r: members with large r diverge.
const BLOWUP: &str = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "r * u * u" }
[grid]
nx = 4
ny = 1
[time]
dt = 0.01
steps = 300
[parameters]
r = { dist = "uniform", low = 0.0, high = 0.5 }
s = { dist = "uniform", low = 0.0, high = 1.0 }
[initial]
background = { u = 1.0 }
[observe]
every = 10
[[observables]]
name = "u"
kind = "max"
field = "u"
"#;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtwin-sweep-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Rows of a CSV file as maps from column to text.
fn read(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
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

fn f(s: &str) -> f64 {
    s.parse().unwrap()
}

#[test]
fn sobol_indices_of_known_functions() {
    let dir = tmp("sobol");
    let scene = dir.join("lin.toml");
    std::fs::write(&scene, common::linear_sweep_scene("a * b", 100, 1)).unwrap();
    let out = dir.join("out");
    let run = |out: &Path| {
        vtwin(&[
            "sweep",
            scene.to_str().unwrap(),
            "--method",
            "saltelli",
            "-n",
            "1024",
            "--threshold",
            "u=0.5",
            "--outputs",
            "u,v",
            "--resamples",
            "200",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = run(&out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("output u_t0.5 left out of indices.csv")
            && stderr.contains("have no value"),
        "{stderr}"
    );
    for f in [
        "design.csv",
        "outputs.csv",
        "indices.csv",
        "params.toml",
        "manifest.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let want = |output: &str, p: &str| -> (f64, f64) {
        match (output, p) {
            ("u_final" | "u_max", "a") => (0.2, 0.2),
            ("u_final" | "u_max", "b") => (0.8, 0.8),
            ("v_final" | "v_max", "a" | "b") => (3.0 / 7.0, 4.0 / 7.0),
            (_, "c") => (0.0, 0.0),
            other => panic!("unexpected row {other:?}"),
        }
    };
    let rows = read(&out.join("indices.csv"));
    assert_eq!(
        rows.len(),
        4 * 3,
        "u_final, u_max, v_final, v_max × a, b, c"
    );
    for r in &rows {
        let (s1, st) = want(&r["output"], &r["parameter"]);
        let (g1, gt) = (f(&r["S1"]), f(&r["ST"]));
        assert!((g1 - s1).abs() < 0.05, "{r:?}: S1 {g1} vs {s1}");
        assert!((gt - st).abs() < 0.05, "{r:?}: ST {gt} vs {st}");
        if r["parameter"] == "c" {
            assert_eq!(gt, 0.0, "c changes nothing: ST must be exactly 0");
        }
    }
    // Crossing times against the design.
    let design = read(&out.join("design.csv"));
    let outputs = read(&out.join("outputs.csv"));
    assert_eq!(design.len(), 1024 * 5);
    let mut checked = 0;
    for (d, o) in design.iter().zip(&outputs) {
        assert_eq!(d["member"], o["member"]);
        let s = f(&d["a"]) + f(&d["b"]);
        let t = &o["u_t0.5"];
        if s <= 0.5 + 1e-3 {
            if s < 0.5 - 1e-3 {
                assert!(t.is_empty(), "a + b = {s} never reaches 0.5, got {t}");
            }
            continue;
        }
        assert!(
            (f(t) - 0.5 / s).abs() < 1e-4,
            "a + b = {s}: {t} vs {}",
            0.5 / s
        );
        assert!((f(&o["u_final"]) - s).abs() < 1e-4 * s.max(1.0));
        checked += 1;
    }
    assert!(checked > 4000);
    // Same scene and seed: identical outputs.
    let again = dir.join("again");
    assert!(run(&again).status.success());
    for f in ["design.csv", "outputs.csv", "indices.csv"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs between identical runs"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn failed_members_are_an_error_unless_dropped() {
    let dir = tmp("fail");
    let scene = dir.join("blowup.toml");
    std::fs::write(&scene, BLOWUP).unwrap();
    let out = dir.join("out");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "sweep".to_string(),
            scene.display().to_string(),
            "--method".into(),
            "morris".into(),
            "-n".into(),
            "20".into(),
            "--resamples".into(),
            "50".into(),
            "--backend".into(),
            "cpu".into(),
            "--out".into(),
            out.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let o = vtwin(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("of 60 members failed") && stderr.contains("--drop-failed"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written on error");
    let o = vtwin(
        &args(&["--drop-failed"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let outputs = read(&out.join("outputs.csv"));
    let diverged = outputs.iter().filter(|r| r["status"] == "diverged").count();
    assert!(diverged > 0 && diverged < 60);
    assert!(
        stderr.contains(&format!(
            "{diverged} of 60 members failed ({diverged} diverged"
        )),
        "{stderr}"
    );
    // Every dropped trajectory holds a failure; every kept one none.
    let mut dropped = 0;
    for t in 0..20 {
        if outputs[3 * t..3 * t + 3]
            .iter()
            .any(|r| r["status"] != "ok")
        {
            dropped += 1;
        }
    }
    assert!(
        stderr.contains(&format!(
            "indices use {} of 20 trajectories (dropped {dropped}",
            20 - dropped
        )),
        "{stderr}"
    );
    let morris = read(&out.join("morris.csv"));
    let s = morris.iter().find(|r| r["parameter"] == "s").unwrap();
    assert_eq!(f(&s["mu_star"]), 0.0, "u does not depend on s");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The flagship scene sweeps as it is: in the untreated `control` arm the
/// radiosensitivity and the chemotherapy kill rate cannot matter, so their
/// Sobol indices must be exactly 0 (every AB_i row reproduces its A row),
/// while the proliferation rate dominates the burden.
#[test]
fn tumour_rd_control_arm_ignores_therapy_parameters() {
    let dir = tmp("tumour");
    let out = dir.join("out");
    let scene = concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/tumour_rd.toml");
    let o = vtwin(&[
        "sweep",
        scene,
        "--method",
        "saltelli",
        "-n",
        "16",
        "--arm",
        "control",
        "--outputs",
        "burden",
        "--resamples",
        "50",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // ...and the sweep says so before running.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "warning: parameter `alpha` acts only with radiotherapy (rt), which arm `control` \
             does not give: it has no effect here (arms with it: rt, rt_chemo; pass --arm NAME)"
        ),
        "{err}"
    );
    assert!(
        err.contains("warning: parameter `kappa` acts only with chemotherapy (chemo), which arm `control` does not give"),
        "{err}"
    );
    assert!(
        !err.contains("parameter `D`") && !err.contains("parameter `k`"),
        "{err}"
    );
    let rows = read(&out.join("indices.csv"));
    let get = |p: &str| {
        let r = rows
            .iter()
            .find(|r| r["output"] == "burden_final" && r["parameter"] == p)
            .unwrap();
        (f(&r["S1"]), f(&r["ST"]))
    };
    for p in ["alpha", "kappa"] {
        assert_eq!(get(p), (0.0, 0.0), "{p} cannot act without therapy");
    }
    assert!(
        get("k").1 > 0.5,
        "k should dominate the burden: {:?}",
        get("k")
    );
    let design = read(&out.join("design.csv"));
    assert_eq!(design.len(), 16 * 6, "N(D+2) rows over D, k, alpha, kappa");

    // The default arm (`rt`, the first) gives radiotherapy but no drug: the
    // default is named, and only kappa is flagged.
    let out = dir.join("default-arm");
    let o = vtwin(&[
        "sweep",
        scene,
        "--method",
        "random",
        "-n",
        "2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("simulating arm `rt`, the first of the scene's 3 arms"),
        "{err}"
    );
    assert!(
        err.contains(
            "warning: parameter `kappa` acts only with chemotherapy (chemo), which arm `rt` \
             does not give: it has no effect here (arms with it: rt_chemo; pass --arm NAME)"
        ),
        "{err}"
    );
    assert!(!err.contains("parameter `alpha`"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The same sweep on a GPU adapter (lavapipe in CI) gives the CPU's
/// outputs to 1e-5 relative. Prints "skipped" without an adapter unless
/// REQUIRE_GPU=1.
#[test]
fn gpu_sweep_matches_cpu() {
    let dir = tmp("gpu");
    let scene = dir.join("lin.toml");
    std::fs::write(&scene, common::linear_sweep_scene("a * b", 100, 1)).unwrap();
    let run = |backend: &str| {
        let out = dir.join(backend);
        let o = vtwin(&[
            "sweep",
            scene.to_str().unwrap(),
            "--method",
            "saltelli",
            "-n",
            "64",
            "--resamples",
            "10",
            "--backend",
            backend,
            "--out",
            out.to_str().unwrap(),
        ]);
        (o, out)
    };
    let (o, gpu) = run("gpu");
    if !o.status.success() {
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains("no GPU adapter") && std::env::var("REQUIRE_GPU").as_deref() != Ok("1"),
            "GPU sweep failed: {e}"
        );
        eprintln!("skipped: no GPU adapter");
        std::fs::remove_dir_all(dir).unwrap();
        return;
    }
    let (o, cpu) = run("cpu");
    assert!(o.status.success());
    let (g, c) = (
        read(&gpu.join("outputs.csv")),
        read(&cpu.join("outputs.csv")),
    );
    assert_eq!(g.len(), 64 * 5);
    for (a, b) in g.iter().zip(&c) {
        for k in ["u_final", "v_final", "u_max", "v_max"] {
            let (x, y) = (f(&a[k]), f(&b[k]));
            assert!(
                (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                "{k}: gpu {x} cpu {y}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
