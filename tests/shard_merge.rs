//! `run --shard I/K` and `sweep --shard I/K` joined by `vtwin merge` are
//! byte for byte the unsharded run (every file but the manifest, whose plan
//! hash must also match), whatever K; incomplete or mismatched sets are
//! refused with messages that name the problem.
//!
//! The run scene is the tiny tumour scene: keyed initial noise and drawn
//! parameters, so a shard that used local instead of global member indices
//! would give different bytes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shard-merge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn vtwin(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) {
    let (code, err) = vtwin(args);
    assert_eq!(code, 0, "vtwin {args:?} failed:\n{err}");
}

/// The tiny tumour scene with `[output] montage_members = 1` (so that
/// every shard count keeps shard 0 able to draw the montage), or `m`.
fn scene_with(m: u32) -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_cohort.toml");
    let text = std::fs::read_to_string(src).unwrap();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shard-merge-scene-{m}-{}.toml", std::process::id()));
    let tmp = path.with_extension(format!("{:?}.tmp", std::thread::current().id()));
    std::fs::write(&tmp, format!("{text}\n[output]\nmontage_members = {m}\n")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path.display().to_string()
}

fn scene() -> String {
    scene_with(1)
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Every file of `a` but the manifest equals `b`'s, and both list the same files.
fn same_files(a: &Path, b: &Path) -> Vec<String> {
    let list = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = manifest(d)["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["path"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let files = list(a);
    assert_eq!(files, list(b));
    for f in &files {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
    files
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run_shards(dir: &Path, k: u64, extra: &[&str]) -> Vec<String> {
    (0..k)
        .map(|i| {
            let out = dir.join(format!("k{k}-s{i}"));
            let shard = format!("{i}/{k}");
            let sc = scene();
            let mut args = vec!["run", sc.as_str()];
            args.extend(["--members", "10", "--backend", "cpu", "--shard", &shard]);
            args.extend(["--out", s(&out)]);
            args.extend(extra);
            ok(&args);
            out.display().to_string()
        })
        .collect()
}

fn check_run(format: &str) {
    let dir = tmp(&format!("run-{format}"));
    let whole = dir.join("whole");
    let sc = scene();
    let extra = ["--format", format, "--save-fields"];
    let mut args = vec!["run", &sc, "--members", "10", "--backend", "cpu"];
    args.extend(["--out", s(&whole)]);
    args.extend(extra);
    ok(&args);
    for k in [1u64, 3, 10] {
        let shards = run_shards(&dir, k, &extra);
        let merged = dir.join(format!("merged-{k}"));
        // Shards in reverse order: merge sorts them.
        let mut margs: Vec<&str> = vec!["merge"];
        margs.extend(shards.iter().rev().map(String::as_str));
        margs.extend(["--out", s(&merged)]);
        ok(&margs);
        let files = same_files(&whole, &merged);
        assert!(files.contains(&"fields.npy".to_string()), "{files:?}");
        assert!(files.contains(&"montage.png".to_string()), "{files:?}");
        assert!(
            files.contains(&format!("observables.{format}")),
            "{files:?}"
        );
        let (w, m) = (manifest(&whole), manifest(&merged));
        assert_eq!(w["plan_sha256"], m["plan_sha256"], "k = {k}");
        assert_eq!(m["members"], 10);
        assert_eq!(m["merged_shards"].as_array().unwrap().len(), k as usize);
        assert!(m.get("shard").is_none());
        if k > 1 {
            // A shard's own plan hash is not the whole plan's.
            assert_ne!(
                manifest(Path::new(&shards[0]))["plan_sha256"],
                w["plan_sha256"]
            );
        }
    }
}

#[test]
fn parquet_run_shards_merge_into_the_unsharded_run_byte_for_byte() {
    check_run("parquet");
}

#[test]
fn csv_run_shards_merge_into_the_unsharded_run_byte_for_byte() {
    check_run("csv");
}

#[test]
fn a_shard_whose_first_block_cannot_hold_the_montage_is_refused_before_running() {
    let dir = tmp("montage");
    let sc = scene_with(4);
    let out = dir.join("s");
    let (code, err) = vtwin(&[
        "run",
        &sc,
        "--members",
        "10",
        "--backend",
        "cpu",
        "--save-fields",
        "--shard",
        "1/10",
        "--out",
        s(&out),
    ]);
    // The montage shows 4 members: 10 shards leave shard 0 one member.
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("use at most 2 shards"), "{err}");
    assert!(!out.exists());
    let (code, err) = vtwin(&[
        "run",
        &sc,
        "--members",
        "3",
        "--backend",
        "cpu",
        "--shard",
        "0/4",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("holds none of the 3 members"), "{err}");
}

fn check_sweep(method: &[&str], expect: &[&str]) {
    let dir = tmp(&format!("sweep-{}", method[1]));
    let scene = dir.join("lin.toml");
    std::fs::write(&scene, common::linear_sweep_scene("a * b - c * v", 50, 5)).unwrap();
    let whole = dir.join("whole");
    let base = |out: &Path| -> Vec<String> {
        let mut v: Vec<String> = vec!["sweep".into(), s(&scene).into()];
        v.extend(method.iter().map(|x| x.to_string()));
        v.extend(
            [
                "--backend",
                "cpu",
                "--resamples",
                "50",
                "--threshold",
                "u=0.3",
            ]
            .map(String::from),
        );
        v.extend(["--out".to_string(), s(out).to_string()]);
        v
    };
    let args = base(&whole);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let k = 4;
    let mut shards = Vec::new();
    for i in 0..k {
        let out = dir.join(format!("s{i}"));
        let mut a = base(&out);
        a.extend(["--shard".into(), format!("{i}/{k}")]);
        ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let files = manifest(&out)["outputs"].as_array().unwrap().len();
        assert_eq!(files, 3, "a shard writes design, outputs and params only");
        shards.push(out.display().to_string());
    }
    let merged = dir.join("merged");
    let mut margs = vec!["merge"];
    margs.extend(shards.iter().map(String::as_str));
    margs.extend(["--out", s(&merged)]);
    ok(&margs);
    let files = same_files(&whole, &merged);
    for f in expect {
        assert!(files.contains(&f.to_string()), "{f} missing from {files:?}");
    }
    assert_eq!(
        manifest(&whole)["plan_sha256"],
        manifest(&merged)["plan_sha256"]
    );
    assert_eq!(manifest(&whole)["analysis"], manifest(&merged)["analysis"]);
}

#[test]
fn saltelli_sweep_shards_merge_with_indices_computed_from_every_row() {
    check_sweep(
        &["--method", "saltelli", "-n", "16", "--second-order"],
        &[
            "design.csv",
            "outputs.csv",
            "params.toml",
            "indices.csv",
            "indices_s2.csv",
        ],
    );
}

#[test]
fn morris_sweep_shards_merge_with_elementary_effects_from_every_trajectory() {
    check_sweep(
        &["--method", "morris", "-n", "6"],
        &["design.csv", "outputs.csv", "morris.csv"],
    );
}

#[test]
fn merge_refuses_incomplete_mismatched_duplicated_and_edited_sets() {
    let dir = tmp("refuse");
    let sc = scene();
    let shard = |name: &str, spec: &str, extra: &[&str]| -> String {
        let out = dir.join(name);
        let mut a = vec![
            "run",
            &sc,
            "--members",
            "6",
            "--backend",
            "cpu",
            "--shard",
            spec,
        ];
        a.extend(["--out", s(&out)]);
        a.extend(extra);
        ok(&a);
        out.display().to_string()
    };
    let a0 = shard("a0", "0/3", &[]);
    let a1 = shard("a1", "1/3", &[]);
    let a2 = shard("a2", "2/3", &[]);
    let seed = shard("seed", "2/3", &["--seed", "99"]);
    let k2 = shard("k2", "1/2", &[]);
    let out = dir.join("merged");
    let refuse = |dirs: &[&str], want: &str| {
        let mut a = vec!["merge"];
        a.extend(dirs);
        a.extend(["--out", s(&out)]);
        let (code, err) = vtwin(&a);
        assert_eq!(code, 2, "{dirs:?}: {err}");
        assert!(err.contains(want), "{dirs:?}: wanted `{want}` in\n{err}");
        assert!(!out.exists(), "a refused merge wrote {}", out.display());
    };
    refuse(&[&a0, &a2], "1 of 3 shards missing (1/3)");
    refuse(&[&a0, &a1, &seed], "different seeds");
    refuse(&[&a0, &a1, &k2], "different shard counts K (3 vs 2)");
    refuse(&[&a0, &a1, &a1, &a2], "shard 1/3 is given twice");
    let other = dir.join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&sc).unwrap() + "\n# edited\n",
    )
    .unwrap();
    let o2 = {
        let out = dir.join("o2");
        ok(&[
            "run",
            s(&other),
            "--members",
            "6",
            "--backend",
            "cpu",
            "--shard",
            "2/3",
            "--out",
            s(&out),
        ]);
        out.display().to_string()
    };
    refuse(&[&a0, &a1, &o2], "different scenes");
    let unsharded = dir.join("plain");
    ok(&[
        "run",
        &sc,
        "--members",
        "6",
        "--backend",
        "cpu",
        "--out",
        s(&unsharded),
    ]);
    refuse(&[&a0, s(&unsharded)], "no `shard` record");
    // An edited table is caught by its manifest hash.
    let p = Path::new(&a1).join("status.parquet");
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    refuse(&[&a0, &a1, &a2], "status.parquet");
    // The good set still merges once the shard is redone.
    let a1 = shard("a1b", "1/3", &[]);
    ok(&["merge", &a0, &a1, &a2, "--out", s(&out)]);
}
