//! `vtwin run` end to end through the binary: the run directory's files,
//! manifest keys and hashes, both table formats, the same rows from both
//! backends, refusal of an existing folder, member failures and exit codes.

mod common;

use common::{TempDir, vtwin, write_scene};
use std::path::Path;
use vtwin::io::{read_csv, read_parquet, sha256_file};
use vtwin::table::Values;

const SCENE: &str = r#"
[model]
kind = "tumour"
[grid]
nx = 24
ny = 20
dx = 1.0
boundary = "noflux"
[time]
dt = 0.25
end = 10.0
[ensemble]
members = 12
seed = 7
[parameters]
D = { dist = "loguniform", low = 0.005, high = 0.05 }
k = { dist = "uniform", low = 0.03, high = 0.08 }
[initial]
patches = [{ shape = "gaussian", center = [12.0, 10.0], size = 3.0, values = { N = 0.8 } }]
[[arms]]
name = "rt"
rt = { times = [2.0, 3.0], dose = 2.0 }
[[arms]]
name = "control"
[observe]
every = 8
[[observables]]
name = "burden"
kind = "total"
field = "N"
[[observables]]
name = "probe"
kind = "probe"
field = "N"
at = [15.0, 10.0]
[[observables]]
name = "reach"
kind = "first_crossing"
of = "probe"
threshold = 0.2
"#;

fn check_manifest(dir: &Path, backend: &str) -> serde_json::Value {
    let m = common::manifest(dir);
    for key in [
        "schema_version",
        "engine",
        "command",
        "scene",
        "plan_sha256",
        "seed",
        "backend",
        "adapter",
        "members",
        "started",
        "finished",
        "members_failed",
        "outputs",
    ] {
        assert!(m.get(key).is_some(), "manifest lacks `{key}`");
    }
    assert_eq!(m["backend"], backend);
    assert_eq!(m["engine"]["name"], "vtwin");
    assert!(m["scene"]["sha256"].as_str().unwrap().len() == 64);
    assert!(chrono::DateTime::parse_from_rfc3339(m["started"].as_str().unwrap()).is_ok());
    if backend == "cpu" {
        assert!(m["adapter"].is_null());
    } else {
        assert!(m["adapter"]["name"].is_string() && m["adapter"]["device_type"].is_string());
    }
    let outputs = m["outputs"].as_array().unwrap();
    let mut listed: Vec<String> = outputs
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect();
    for o in outputs {
        let p = dir.join(o["path"].as_str().unwrap());
        assert_eq!(sha256_file(&p).unwrap(), o["sha256"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            o["bytes"].as_u64().unwrap()
        );
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "manifest.json")
        .collect();
    listed.sort();
    on_disk.sort();
    assert_eq!(listed, on_disk, "manifest lists every file");
    m
}

#[test]
fn run_writes_a_complete_run_directory_in_both_formats() {
    let t = TempDir::new("run");
    let scene = write_scene(t.path(), "s.toml", SCENE);
    let out_p = t.path().join("out_parquet");
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out_p.to_str().unwrap(),
        "--save-fields",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        out_p.to_str().unwrap()
    );
    let m = check_manifest(&out_p, "cpu");
    assert_eq!(m["members"], 12);
    assert_eq!(m["members_failed"], 0);
    let obs = read_parquet(&out_p.join("observables.parquet")).unwrap();
    assert_eq!(
        obs.column_names(),
        ["member", "step", "time", "observable", "value"]
    );
    // 12 members × observation steps {0, 8, …, 40} × 3 observables.
    assert_eq!(obs.rows(), 12 * 6 * 3);
    let params = read_parquet(&out_p.join("params.parquet")).unwrap();
    assert_eq!(params.column_names()[..3], ["member", "D", "k"]);
    let status = read_parquet(&out_p.join("status.parquet")).unwrap();
    assert_eq!(
        status.column("status"),
        Some(&Values::Str(vec![Some("ok".to_string()); 12]))
    );
    let (shape, fields) = vtwin::io::read_npy_f32(&out_p.join("fields.npy")).unwrap();
    assert_eq!(shape, [12, 1, 20, 24]);
    assert!(fields.iter().all(|v| v.is_finite()));
    assert!(out_p.join("montage.png").exists());

    // CSV: the same rows, values exactly equal.
    let out_c = t.path().join("out_csv");
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out_c.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(o.status.success());
    check_manifest(&out_c, "cpu");
    let obs_c = read_csv(&out_c.join("observables.csv")).unwrap();
    assert_eq!(obs_c.column("value"), obs.column("value"));
    assert_eq!(obs_c.column("observable"), obs.column("observable"));

    // An existing folder is refused without --force and replaced with it.
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out_c.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --force"));
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out_c.to_str().unwrap(),
        "--format",
        "csv",
        "--force",
    ]);
    assert!(o.status.success());
    // Same scene and seed → identical tables (byte for byte).
    let a = std::fs::read(out_c.join("observables.csv")).unwrap();
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        t.path().join("again").to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(o.status.success());
    assert_eq!(
        a,
        std::fs::read(t.path().join("again/observables.csv")).unwrap()
    );
    // Nothing half-written is left beside the outputs.
    let stray: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// The arms share members: the untreated arm ends with at least the burden
/// of the irradiated one for every member.
#[test]
fn arms_differ_only_in_treatment() {
    let t = TempDir::new("arms");
    let scene = write_scene(t.path(), "s.toml", SCENE);
    let mut finals = Vec::new();
    for arm in ["rt", "control"] {
        let out = t.path().join(arm);
        let o = vtwin(&[
            "run",
            &scene,
            "--backend",
            "cpu",
            "--arm",
            arm,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "csv",
        ]);
        assert!(o.status.success());
        let obs = read_csv(&out.join("observables.csv")).unwrap();
        let (Some(Values::Str(n)), Some(Values::F64(v)), Some(Values::I64(s))) = (
            obs.column("observable"),
            obs.column("value"),
            obs.column("step"),
        ) else {
            panic!("columns")
        };
        let f: Vec<f64> = (0..n.len())
            .filter(|&i| n[i].as_deref() == Some("burden") && s[i] == Some(40))
            .map(|i| v[i].unwrap())
            .collect();
        finals.push(f);
        let p = read_csv(&out.join("params.csv")).unwrap();
        assert_eq!(p.rows(), 12);
    }
    assert!(
        finals[0].iter().zip(&finals[1]).all(|(rt, ctl)| ctl > rt),
        "{finals:?}"
    );
}

#[test]
fn failed_members_are_reported_and_optionally_fatal() {
    let t = TempDir::new("fail");
    let scene = write_scene(t.path(), "d.toml", common::DIVERGING);
    let out = t.path().join("o1");
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("members failed") && err.contains("diverged"),
        "{err}"
    );
    let st = read_csv(&out.join("status.csv")).unwrap();
    let Some(Values::Str(s)) = st.column("status") else {
        panic!()
    };
    assert!(s.iter().any(|x| x.as_deref() == Some("diverged")));
    let m = common::manifest(&out);
    assert!(m["members_failed"].as_u64().unwrap() > 0);
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        t.path().join("o2").to_str().unwrap(),
        "--on-member-error",
        "fail",
    ]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn bad_scene_exits_non_zero_with_the_location() {
    let t = TempDir::new("bad");
    let scene = write_scene(
        t.path(),
        "bad.toml",
        &SCENE.replace("dx = 1.0", "dx = 1.0\ndz = 2.0"),
    );
    let out = t.path().join("never");
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:8") && err.contains("grid.dz"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Both backends write the same rows; values agree within the GPU–CPU
/// tolerance (observables of states that agree to 1e-4 relative).
#[test]
fn gpu_and_cpu_write_the_same_rows() {
    if common::gpu().is_none() {
        return;
    }
    let t = TempDir::new("both");
    let scene = write_scene(t.path(), "s.toml", SCENE);
    let mut tables = Vec::new();
    for b in ["cpu", "gpu"] {
        let out = t.path().join(b);
        let o = vtwin(&[
            "run",
            &scene,
            "--backend",
            b,
            "--out",
            out.to_str().unwrap(),
            "--batch-size",
            "5",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        check_manifest(&out, b);
        tables.push(read_parquet(&out.join("observables.parquet")).unwrap());
    }
    assert_eq!(tables[0].column("member"), tables[1].column("member"));
    assert_eq!(
        tables[0].column("observable"),
        tables[1].column("observable")
    );
    let (Some(Values::F64(a)), Some(Values::F64(b))) =
        (tables[0].column("value"), tables[1].column("value"))
    else {
        panic!()
    };
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-4 + 1e-3 * y.abs(), "{x} vs {y}"),
            (None, None) => {}
            _ => {
                // A first-crossing time may exist on one backend only when the
                // probe sits within rounding of the threshold; not the case here.
                panic!("{x:?} vs {y:?}")
            }
        }
    }
}
