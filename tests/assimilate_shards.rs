//! `vtwin assimilate --shard I/K` on a patient run and `vtwin merge` of
//! its shards, through the binary (CPU backend).
//!
//! Seven patients whose rows interleave in the observation file (so the
//! run's patient order is first appearance, not sorted), readings of
//! different patients in one engine step at different times, forecast
//! requests in an order that mixes patients and shards, ETKF with random
//! rotations (each patient's own filter stream), a drawn parameter and a
//! drawn initial ensemble (keyed by member): the merged folder of 1, 3 and
//! 7 shards equals the unsharded run file for file, byte for byte, but
//! the manifest, in CSV and in Parquet. Merge refuses a missing shard,
//! shards run with other options, a shard of another command and a
//! tampered table; `vtwin slurm assimilate` writes the array.

mod common;

use std::path::{Path, PathBuf};

const SCENE: &str = "tests/data/patients_growth.toml";

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ashard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Readings of patients Z, A, M, B, Q, C, K (first-appearance order),
/// their rows interleaved; a rate per patient, noise from a fixed table.
fn obs_file() -> String {
    let names = ["Z", "A", "M", "B", "Q", "C", "K"];
    let rates = [0.2, -0.3, 0.05, 0.15, -0.1, 0.25, -0.05];
    let wobble = [0.03, -0.05, 0.02, 0.06, -0.01, -0.04, 0.05, 0.0];
    let mut rows = Vec::new();
    for visit in 0..4 {
        for (p, name) in names.iter().enumerate() {
            if (p + visit) % 5 == 4 {
                continue; // a missed visit
            }
            // Patients 1 and 2 share engine steps at slightly different
            // times (dt = 0.05: 1.01 and 1.02 both round to step 20).
            let t = 1.0
                + visit as f64 * 1.5
                + if p < 3 {
                    0.01 * p as f64
                } else {
                    0.1 * p as f64
                };
            let v = 0.5 * (rates[p] * t).exp() * (1.0 + wobble[(p + visit) % 8]);
            rows.push(format!("{name},{t:.4},volume,,{v:.6},"));
        }
    }
    format!(
        "patient,time,observable,location,value,sd\n{}\n",
        rows.join("\n")
    )
}

const REQUESTS: &str = "patient,time,observable\nK,7.0,volume\nA,6.5,volume\nZ,8.25,volume\nC,7.9,volume\nA,9.0,volume\nQ,6.8,volume\nM,7.3,volume\nB,8.0,volume\n";

fn vtwin(args: &[&str]) -> (bool, String) {
    let o = common::vtwin(args);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) {
    let (good, err) = vtwin(args);
    assert!(good, "vtwin {args:?} failed:\n{err}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The assimilate command line for `out`, with `extra` words.
fn assimilate<'a>(
    obs: &'a Path,
    at: &'a Path,
    fmt: &'a str,
    out: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec![
        "assimilate",
        SCENE,
        "--obs",
        s(obs),
        "--forecast-at",
        s(at),
        "--members-out",
        "--quantiles",
        "0.1,0.9",
        "--rotate",
        "--members",
        "12",
        "--backend",
        "cpu",
        "--format",
        fmt,
        "--out",
        s(out),
    ];
    v.extend_from_slice(extra);
    v
}

/// Every file of `a` but the manifest equals `b`'s.
fn assert_same_files(a: &Path, b: &Path) {
    let list = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "manifest.json")
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(a), list(b), "{} vs {}", a.display(), b.display());
    assert!(list(a).len() >= 5, "{:?}", list(a));
    for f in list(a) {
        assert!(
            std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn shards_merge_to_the_whole_run(fmt: &str) {
    let d = tmp(fmt);
    let (obs, at) = (d.join("obs.csv"), d.join("at.csv"));
    std::fs::write(&obs, obs_file()).unwrap();
    std::fs::write(&at, REQUESTS).unwrap();
    let whole = d.join("whole");
    ok(&assimilate(&obs, &at, fmt, &whole, &[]));
    let m = common::manifest(&whole);
    assert_eq!(m["patients"]["count"], 7);
    assert_eq!(m["patients"]["failed"], 0);
    for k in [1u32, 3, 7] {
        let mut dirs = Vec::new();
        for i in 0..k {
            let sd = d.join(format!("k{k}-s{i}"));
            let shard = format!("{i}/{k}");
            ok(&assimilate(&obs, &at, fmt, &sd, &["--shard", &shard]));
            dirs.push(sd);
        }
        let merged = d.join(format!("merged-{k}"));
        let mut args = vec!["merge", "--out", s(&merged)];
        // Shards in reverse order: the merge sorts them.
        args.extend(dirs.iter().rev().map(|p| s(p)));
        ok(&args);
        assert_same_files(&whole, &merged);
        let mm = common::manifest(&merged);
        assert_eq!(mm["patients"]["count"], 7);
        assert_eq!(mm["patients"]["forecast_requests"], 8);
        assert_eq!(mm["merged_shards"].as_array().unwrap().len(), k as usize);
    }
}

#[test]
fn assimilate_shards_merge_byte_identical_csv() {
    shards_merge_to_the_whole_run("csv");
}

#[test]
fn assimilate_shards_merge_byte_identical_parquet() {
    shards_merge_to_the_whole_run("parquet");
}

#[test]
fn merge_refuses_mismatched_assimilate_shards() {
    let d = tmp("refuse");
    let (obs, at) = (d.join("obs.csv"), d.join("at.csv"));
    std::fs::write(&obs, obs_file()).unwrap();
    std::fs::write(&at, REQUESTS).unwrap();
    let shard = |i: u32, extra: &[&str]| -> PathBuf {
        let sd = d.join(format!("s{i}-{}", extra.join("")));
        let sh = format!("{i}/3");
        let mut e = vec!["--shard", sh.as_str()];
        e.extend_from_slice(extra);
        ok(&assimilate(&obs, &at, "csv", &sd, &e));
        sd
    };
    let (s0, s1, s2) = (shard(0, &[]), shard(1, &[]), shard(2, &[]));
    let out = d.join("merged");
    let merge = |dirs: &[&Path]| -> String {
        let mut args = vec!["merge", "--out", s(&out)];
        args.extend(dirs.iter().map(|p| s(p)));
        let (good, err) = vtwin(&args);
        assert!(!good, "merge of {dirs:?} succeeded");
        assert!(!out.exists(), "a refused merge wrote {}", out.display());
        err
    };
    let e = merge(&[&s0, &s2]);
    assert!(e.contains("no shard holds patients 2..4"), "{e}");
    let other = shard(1, &["--inflation", "1.1"]);
    let e = merge(&[&s0, &other, &s2]);
    assert!(e.contains("different options"), "{e}");
    // A run shard is another command.
    let run = d.join("run-shard");
    ok(&[
        "run",
        SCENE,
        "--members",
        "3",
        "--backend",
        "cpu",
        "--shard",
        "1/3",
        "--out",
        s(&run),
    ]);
    let e = merge(&[&s0, &run, &s2]);
    assert!(e.contains("different commands"), "{e}");
    // A table edited after the shard was written.
    let t = s1.join("analysis.csv");
    let mut bytes = std::fs::read(&t).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'1' { b'2' } else { b'1' };
    std::fs::write(&t, bytes).unwrap();
    let e = merge(&[&s0, &s1, &s2]);
    assert!(e.contains("analysis.csv"), "{e}");
    // A single-ensemble run cannot be sharded.
    let plain = d.join("plain.csv");
    std::fs::write(
        &plain,
        "time,observable,location,value,sd\n1.0,volume,,0.5,0.05\n",
    )
    .unwrap();
    let (good, e) = vtwin(&[
        "assimilate",
        SCENE,
        "--obs",
        s(&plain),
        "--shard",
        "0/2",
        "--backend",
        "cpu",
        "--out",
        s(&d.join("plain-out")),
    ]);
    assert!(!good && e.contains("cannot be sharded"), "{e}");
    // A learned population prior (two passes) does not checkpoint (yet).
    let (good, e) = vtwin(&assimilate(
        &obs,
        &at,
        "csv",
        &d.join("ck"),
        &["--checkpoint-every", "2", "--population-prior", "pooled"],
    ));
    assert!(
        !good && e.contains("cannot be combined with --population-prior pooled"),
        "{e}"
    );
    // `vtwin slurm` writes the array for patient assimilation.
    let job = d.join("job");
    ok(&[
        "slurm",
        "assimilate",
        SCENE,
        "--obs",
        s(&obs),
        "--backend",
        "cpu",
        "--shards",
        "3",
        "--out",
        s(&job),
    ]);
    let script = std::fs::read_to_string(job.join("job.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-2"), "{script}");
    assert!(script.contains(" assimilate "), "{script}");
    let _ = std::fs::remove_dir_all(&d);
}
