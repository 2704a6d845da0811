//! Sharding: `--shard I/K` folders merged with `vtwin merge` are byte for
//! byte the unsharded cohort (tables, dictionary, scene copy), whatever the
//! shard count and chunk size; incomplete or mismatched shards are refused.

use crate::common::{cohort_cli, read, scene_path, tmp, vtwin, vtwin_ok};
use vtwin::methods::cohort::crate_meta;

const SAME: [&str; 5] = [
    "patients",
    "observations",
    "outcomes",
    "data_dictionary.json",
    "scene.toml",
];

fn file(name: &str, ext: &str) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        format!("{name}.{ext}")
    }
}

fn check_merge(ext: &str) {
    let dir = tmp(&format!("shards-{ext}"));
    let whole = dir.join("whole");
    cohort_cli(&scene_path(), 23, &whole, &["--format", ext]);
    let mut shards = Vec::new();
    for i in 0..3 {
        let s = dir.join(format!("s{i}"));
        let shard = format!("{i}/3");
        cohort_cli(
            &scene_path(),
            23,
            &s,
            &["--format", ext, "--shard", &shard, "--chunk", "2"],
        );
        shards.push(s.to_str().unwrap().to_string());
    }
    let merged = dir.join("merged");
    // Shards in any order.
    vtwin_ok(&[
        "merge",
        &shards[2],
        &shards[0],
        &shards[1],
        "--out",
        merged.to_str().unwrap(),
    ]);
    for f in SAME {
        let f = file(f, ext);
        assert_eq!(read(&whole.join(&f)), read(&merged.join(&f)), "{f}");
    }
    // A shard is not the whole: its patients table is a strict part.
    let s0 = read(&dir.join("s0").join(file("patients", ext)));
    assert_ne!(s0, read(&whole.join(file("patients", ext))));
    assert_eq!(crate_meta::verify(&merged).unwrap(), Vec::<String>::new());
    let meta = crate_meta::read(&merged).unwrap();
    assert_eq!(crate_meta::property(&meta, "first_patient").unwrap(), "0");
    assert_eq!(crate_meta::property(&meta, "end_patient").unwrap(), "23");
    assert_eq!(crate_meta::property(&meta, "merged_shards").unwrap(), "3");
}

#[test]
fn parquet_shards_merge_into_the_unsharded_cohort_byte_for_byte() {
    check_merge("parquet");
}

#[test]
fn csv_shards_merge_into_the_unsharded_cohort_byte_for_byte() {
    check_merge("csv");
}

#[test]
fn merge_refuses_gaps_and_shards_of_different_cohorts() {
    let dir = tmp("bad-merge");
    let s = |i: u32, seed: &str| {
        let p = dir.join(format!("s{i}-{seed}"));
        let shard = format!("{i}/3");
        cohort_cli(&scene_path(), 9, &p, &["--shard", &shard, "--seed", seed]);
        p.to_str().unwrap().to_string()
    };
    let (a, c) = (s(0, "1"), s(2, "1"));
    let b_other = s(1, "2");
    let out = dir.join("out");
    let o = vtwin(&["merge", &a, &c, "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("no shard holds patients 3..6"),
        "{}",
        o.stderr
    );
    let o = vtwin(&["merge", &a, &b_other, &c, "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("different seed"), "{}", o.stderr);
    let o = vtwin(&["merge", &a, &a, "--out", out.to_str().unwrap()]);
    assert!(o.stderr.contains("overlap"), "{}", o.stderr);
    assert!(!out.exists(), "no output after a refused merge");
}

#[test]
fn bad_shard_specifications_are_clear_errors() {
    let dir = tmp("bad-shard");
    let out = dir.join("c");
    let scene = scene_path();
    for (shard, msg) in [("3/3", "count from 0"), ("1", "expected I/K")] {
        let o = vtwin(&[
            "cohort",
            scene.to_str().unwrap(),
            "--patients",
            "5",
            "--out",
            out.to_str().unwrap(),
            "--shard",
            shard,
        ]);
        assert_ne!(o.code, 0);
        assert!(o.stderr.contains(msg), "{shard}: {}", o.stderr);
    }
    let o = vtwin(&[
        "cohort",
        scene.to_str().unwrap(),
        "--patients",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--shard",
        "0/4",
    ]);
    assert!(o.stderr.contains("shard holds no patients"), "{}", o.stderr);
    assert!(!out.exists());
}

/// A shard whose `patients.csv` lost a row after it was written is refused
/// (exit 2, naming the file), not merged into a cohort that claims more
/// patients than it holds; nothing is written.
#[test]
fn merge_refuses_a_shard_edited_after_it_was_written() {
    let dir = tmp("edited-shard");
    let mut shards = Vec::new();
    for i in 0..2 {
        let p = dir.join(format!("s{i}"));
        let shard = format!("{i}/2");
        cohort_cli(
            &scene_path(),
            12,
            &p,
            &["--format", "csv", "--shard", &shard],
        );
        shards.push(p);
    }
    let patients = shards[1].join("patients.csv");
    let text = std::fs::read_to_string(&patients).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    std::fs::write(&patients, lines.join("\n") + "\n").unwrap();
    let out = dir.join("merged");
    let o = vtwin(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(patients.to_str().unwrap()) && o.stderr.contains("changed after"),
        "{}",
        o.stderr
    );
    assert!(!out.exists(), "no output after a refused merge");
}

/// Emptying the manifest's `outputs` list does not switch the check off:
/// every file of the folder must be listed.
#[test]
fn merge_refuses_a_shard_whose_manifest_lost_its_outputs() {
    let dir = tmp("unlisted-shard");
    let mut shards = Vec::new();
    for i in 0..2 {
        let p = dir.join(format!("s{i}"));
        let shard = format!("{i}/2");
        cohort_cli(
            &scene_path(),
            6,
            &p,
            &["--format", "csv", "--shard", &shard],
        );
        shards.push(p);
    }
    let manifest = shards[1].join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m["outputs"] = serde_json::json!([]);
    std::fs::write(&manifest, serde_json::to_string(&m).unwrap()).unwrap();
    let out = dir.join("merged");
    let o = vtwin(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("is not listed in"), "{}", o.stderr);
    assert!(!out.exists());
}
