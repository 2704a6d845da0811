//! Golden outputs: every shipped scene under `run`, plus `cohort`, `sweep`,
//! `calibrate`, `twin` and `assimilate`, run small on the CPU backend (and a
//! few on lavapipe), hashed file by file and compared with
//! `tests/data/golden_outputs.tsv`.
//!
//! This is the guard that refactors keep behaviour: an output changes only
//! when a commit means it to. A deliberate change is re-recorded with
//!
//! ```sh
//! VTWIN_GOLDEN_RECORD=1 cargo test --test golden_outputs
//! ```
//!
//! and the commit says which outputs changed and why. Manifests are left out
//! (they hold timestamps, the command line and the commit); every other file
//! a command writes is hashed, so a new or vanished file is a difference too.

mod common;

use common::{TempDir, vtwin};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TABLE: &str = "tests/data/golden_outputs.tsv";

/// Files whose bytes carry when or where the run happened, not what it computed.
fn is_provenance(rel: &str) -> bool {
    rel == "manifest.json"
        || rel.ends_with("/manifest.json")
        || rel.ends_with("ro-crate-metadata.json")
}

/// One golden case: a name and the vtwin arguments, `{out}` standing for the
/// output folder and `{tmp}` for the case's scratch folder.
struct Case {
    name: String,
    args: Vec<String>,
    gpu: bool,
}

fn case(name: &str, args: &[&str]) -> Case {
    Case {
        name: name.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        gpu: false,
    }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut scenes: Vec<PathBuf> = std::fs::read_dir("scenes")
        .expect("scenes/ folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    scenes.sort();
    for s in &scenes {
        let stem = s.file_stem().unwrap().to_string_lossy().to_string();
        let scene = s.to_string_lossy().to_string();
        v.push(case(
            &format!("run/{stem}"),
            &[
                "run",
                &scene,
                "--backend",
                "cpu",
                "--members",
                "3",
                "--seed",
                "11",
                "--format",
                "csv",
                "--out",
                "{out}",
            ],
        ));
    }
    // Fields, montage, agents and the default (Parquet) format.
    for stem in ["tumour_rd", "tumour_abm"] {
        let scene = format!("scenes/{stem}.toml");
        v.push(case(
            &format!("run-fields/{stem}"),
            &[
                "run",
                &scene,
                "--backend",
                "cpu",
                "--members",
                "4",
                "--seed",
                "5",
                "--save-fields",
                "--out",
                "{out}",
            ],
        ));
    }
    // Bit-identity on lavapipe: the flagship scene and Gray–Scott.
    for stem in ["tumour_rd", "gray_scott"] {
        let scene = format!("scenes/{stem}.toml");
        let mut c = case(
            &format!("run-gpu/{stem}"),
            &[
                "run",
                &scene,
                "--backend",
                "gpu",
                "--members",
                "3",
                "--seed",
                "11",
                "--format",
                "csv",
                "--out",
                "{out}",
            ],
        );
        c.gpu = true;
        v.push(c);
    }
    v.push(case(
        "cohort/tumour_cohort",
        &[
            "cohort",
            "scenes/tumour_cohort.toml",
            "--patients",
            "24",
            "--backend",
            "cpu",
            "--format",
            "csv",
            "--out",
            "{out}",
        ],
    ));
    v.push(case(
        "sweep/tumour_rd",
        &[
            "sweep",
            "scenes/tumour_rd.toml",
            "--method",
            "saltelli",
            "-n",
            "8",
            "--backend",
            "cpu",
            "--out",
            "{out}",
        ],
    ));
    v.push(case(
        "sweep-morris/custom_reaction",
        &[
            "sweep",
            "scenes/custom_reaction.toml",
            "--method",
            "morris",
            "-n",
            "4",
            "--backend",
            "cpu",
            "--out",
            "{out}",
        ],
    ));
    v.push(case(
        "calibrate/decay_abc",
        &[
            "calibrate",
            "scenes/decay_calibration.toml",
            "--data",
            "tests/data/decay_data.csv",
            "--method",
            "abc-smc",
            "--backend",
            "cpu",
            "--out",
            "{out}",
        ],
    ));
    v.push(case(
        "twin/tumour_twin",
        &[
            "twin",
            "scenes/tumour_twin.toml",
            "--backend",
            "cpu",
            "--members",
            "12",
            "--format",
            "csv",
            "--out",
            "{out}",
        ],
    ));
    v.push(case(
        "twin/lorenz63",
        &[
            "twin",
            "scenes/lorenz63_sakov2012.toml",
            "--backend",
            "cpu",
            "--cycles",
            "120",
            "--format",
            "csv",
            "--out",
            "{out}",
        ],
    ));
    // A twin's observations fed back through `assimilate`.
    v.push(case(
        "assimilate/lorenz63",
        &[
            "assimilate",
            "scenes/lorenz63_sakov2012.toml",
            "--obs",
            "{tmp}/twin/observations.csv",
            "--backend",
            "cpu",
            "--format",
            "csv",
            "--out",
            "{out}",
        ],
    ));
    v
}

/// Hashes of every non-provenance file under `dir`, keyed by relative path.
fn hash_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(d)
            .expect("read output folder")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if is_provenance(&rel) {
                continue;
            }
            let bytes = std::fs::read(&p).expect("read output file");
            let h = Sha256::digest(&bytes);
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            out.insert(rel, hex);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn run_case(c: &Case, tmp: &Path) -> BTreeMap<String, String> {
    let out = tmp.join(c.name.replace('/', "_"));
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| {
            a.replace("{out}", &out.to_string_lossy())
                .replace("{tmp}", &tmp.to_string_lossy())
        })
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = vtwin(&refs);
    assert!(
        o.status.success(),
        "golden case {} failed: vtwin {}\n{}",
        c.name,
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    hash_tree(&out)
}

fn read_table() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(TABLE).unwrap_or_else(|e| {
        panic!(
            "{TABLE}: {e}; record it with VTWIN_GOLDEN_RECORD=1 cargo test --test golden_outputs"
        )
    });
    let mut m = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            f.len(),
            3,
            "{TABLE}:{}: expected case<TAB>file<TAB>sha256",
            i + 1
        );
        m.insert((f[0].to_string(), f[1].to_string()), f[2].to_string());
    }
    m
}

#[test]
fn outputs_match_the_recorded_golden_hashes() {
    let record = std::env::var("VTWIN_GOLDEN_RECORD").is_ok_and(|v| v == "1");
    let tmp = TempDir::new("golden");
    // `assimilate/lorenz63` reads the observations of this twin.
    let twin_dir = tmp.path().join("twin");
    let o = vtwin(&[
        "twin",
        "scenes/lorenz63_sakov2012.toml",
        "--backend",
        "cpu",
        "--cycles",
        "120",
        "--format",
        "csv",
        "--out",
        &twin_dir.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let gpu_ok = common::gpu().is_some();
    let mut got: BTreeMap<(String, String), String> = BTreeMap::new();
    for c in cases() {
        if c.gpu && !gpu_ok {
            continue; // common::gpu() printed the skip (or panicked under REQUIRE_GPU=1)
        }
        for (file, hash) in run_case(&c, tmp.path()) {
            got.insert((c.name.clone(), file), hash);
        }
    }

    if record {
        let mut text = String::from(
            "# case\tfile\tsha256 — written by VTWIN_GOLDEN_RECORD=1 cargo test --test golden_outputs\n",
        );
        for ((c, f), h) in &got {
            text.push_str(&format!("{c}\t{f}\t{h}\n"));
        }
        std::fs::write(TABLE, text).expect("write golden table");
        eprintln!("recorded {} golden hashes in {TABLE}", got.len());
        return;
    }

    let want = read_table();
    let mut diffs = Vec::new();
    for (k, h) in &want {
        if !gpu_ok && k.0.starts_with("run-gpu/") {
            continue;
        }
        match got.get(k) {
            None => diffs.push(format!("missing   {} {}", k.0, k.1)),
            Some(g) if g != h => diffs.push(format!("changed   {} {}", k.0, k.1)),
            _ => {}
        }
    }
    for k in got.keys() {
        if !want.contains_key(k) {
            diffs.push(format!("new file  {} {}", k.0, k.1));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} golden output(s) differ from {TABLE} (re-record deliberate changes with \
         VTWIN_GOLDEN_RECORD=1 and say why in the commit):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
