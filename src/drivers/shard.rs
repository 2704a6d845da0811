//! Shard sets: what a shard folder of `run`, `sweep`, `cohort` or
//! `assimilate` (patient runs) says about
//! itself in its manifest, and the checks that decide whether a set of shard
//! folders is one whole run that `vtwin merge` may join.
//!
//! Owns: reading the `shard` record of a manifest (`ShardRecord`), and the
//! set rules: one kind, one scene (SHA-256), one seed, one shard count K,
//! one total, each index 0..K exactly once, and ranges that are the
//! contiguous blocks `Shard::range` gives (`[⌊nI/K⌋, ⌊n(I+1)/K⌋)`), so
//! together they cover every member (patient, design row) exactly once.
//! Never reads tables (the merge drivers in `drivers::merge*` do).

pub use crate::methods::cohort::merge::Shard;
use serde_json::Value;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What was sharded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardKind {
    /// `vtwin run --shard`: ensemble members.
    Run,
    /// `vtwin sweep --shard`: design rows (members).
    Sweep,
    /// `vtwin cohort --shard`: patients.
    Cohort,
    /// `vtwin assimilate --shard` (patient runs): patients, in the order
    /// they first appear in the observation file.
    Assimilate,
}

impl ShardKind {
    pub fn name(self) -> &'static str {
        match self {
            ShardKind::Run => "run",
            ShardKind::Sweep => "sweep",
            ShardKind::Cohort => "cohort",
            ShardKind::Assimilate => "assimilate",
        }
    }

    /// What one unit of the range is called in messages.
    pub fn unit(self) -> &'static str {
        match self {
            ShardKind::Cohort | ShardKind::Assimilate => "patients",
            ShardKind::Sweep => "design rows",
            ShardKind::Run => "members",
        }
    }
}

/// One shard folder, as its manifest describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardRecord {
    pub dir: PathBuf,
    pub kind: ShardKind,
    pub shard: Shard,
    /// Members (patients, rows) this folder holds, as global indices.
    pub range: Range<u64>,
    /// Members of the whole run.
    pub total: u64,
    pub seed: u64,
    pub scene_sha256: String,
}

/// Errors of a shard set; every message names the folder(s) concerned.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShardError {
    #[error("{}: {message}", dir.display())]
    Manifest { dir: PathBuf, message: String },
    #[error("{0}")]
    Set(String),
}

/// The `shard` record of a run, sweep or assimilate manifest.
#[derive(serde::Serialize)]
struct ShardNote {
    kind: &'static str,
    index: u64,
    count: u64,
    first_member: u64,
    end_member: u64,
    members_total: u64,
}

/// The `shard` record of a run or sweep manifest.
pub fn manifest_json(kind: ShardKind, shard: Shard, range: &Range<u64>, total: u64) -> Value {
    let note = ShardNote {
        kind: kind.name(),
        index: shard.index,
        count: shard.count,
        first_member: range.start,
        end_member: range.end,
        members_total: total,
    };
    // Numbers and a string under string keys: cannot fail.
    serde_json::to_value(note).unwrap_or_default()
}

/// Reads the shard record of the folder `dir` from its parsed manifest.
/// Cohort shards (written before run/sweep sharding existed) are
/// recognised by their `patients` and `shard.first_patient` keys.
pub fn read_record(dir: &Path, manifest: &Value) -> Result<ShardRecord, ShardError> {
    let bad = |message: String| ShardError::Manifest {
        dir: dir.to_path_buf(),
        message,
    };
    let s = &manifest["shard"];
    if !s.is_object() {
        return Err(bad(
            "manifest.json has no `shard` record: not a folder written with --shard I/K".into(),
        ));
    }
    let int = |v: &Value, key: &str| -> Result<u64, ShardError> {
        v[key].as_u64().ok_or_else(|| {
            bad(format!(
                "manifest.json: `{key}` is missing or not a whole number"
            ))
        })
    };
    let (kind, range, total) = if s.get("first_patient").is_some() {
        (
            ShardKind::Cohort,
            int(s, "first_patient")?..int(s, "end_patient")?,
            int(manifest, "patients")?,
        )
    } else {
        let kind = match s["kind"].as_str() {
            Some("run") => ShardKind::Run,
            Some("sweep") => ShardKind::Sweep,
            Some("assimilate") => ShardKind::Assimilate,
            other => {
                return Err(bad(format!(
                    "manifest.json: shard kind {other:?} is not run, sweep, assimilate or cohort"
                )));
            }
        };
        (
            kind,
            int(s, "first_member")?..int(s, "end_member")?,
            int(s, "members_total")?,
        )
    };
    let shard = Shard {
        index: int(s, "index")?,
        count: int(s, "count")?,
    };
    if shard.count == 0 || shard.index >= shard.count {
        return Err(bad(format!(
            "manifest.json: shard {}/{} is not a shard (I must be below K)",
            shard.index, shard.count
        )));
    }
    let seed = int(manifest, "seed")?;
    let scene_sha256 = manifest["scene"]["sha256"]
        .as_str()
        .ok_or_else(|| bad("manifest.json: `scene.sha256` is missing".into()))?
        .to_string();
    Ok(ShardRecord {
        dir: dir.to_path_buf(),
        kind,
        shard,
        range,
        total,
        seed,
        scene_sha256,
    })
}

/// Checks that `records` are the K shards of one run, and returns them in
/// shard order. Refuses: mixed kinds, scenes, seeds, shard counts or
/// totals; an index given twice; a missing index; a range that is not the
/// block its index owns (an edited manifest, or shards of different sizes).
pub fn check_set(mut records: Vec<ShardRecord>) -> Result<Vec<ShardRecord>, ShardError> {
    let Some(first) = records.first().cloned() else {
        return Err(ShardError::Set("no shard folders given".into()));
    };
    let differ = |r: &ShardRecord, what: &str, a: String, b: String| {
        ShardError::Set(format!(
            "{} and {} are not shards of one run: different {what} ({b} vs {a})",
            first.dir.display(),
            r.dir.display(),
        ))
    };
    for r in &records {
        if r.kind != first.kind {
            return Err(differ(
                r,
                "commands",
                r.kind.name().into(),
                first.kind.name().into(),
            ));
        }
        if r.scene_sha256 != first.scene_sha256 {
            return Err(differ(
                r,
                "scenes (SHA-256)",
                short(&r.scene_sha256),
                short(&first.scene_sha256),
            ));
        }
        if r.seed != first.seed {
            return Err(differ(
                r,
                "seeds",
                r.seed.to_string(),
                first.seed.to_string(),
            ));
        }
        if r.shard.count != first.shard.count {
            return Err(differ(
                r,
                "shard counts K",
                r.shard.count.to_string(),
                first.shard.count.to_string(),
            ));
        }
        if r.total != first.total {
            return Err(differ(
                r,
                &format!("totals of {}", first.kind.unit()),
                r.total.to_string(),
                first.total.to_string(),
            ));
        }
    }
    records.sort_by_key(|r| r.shard.index);
    for w in records.windows(2) {
        if w[0].shard.index == w[1].shard.index {
            return Err(ShardError::Set(format!(
                "shard {}/{} is given twice (overlapping shards): {} and {}",
                w[0].shard.index,
                w[0].shard.count,
                w[0].dir.display(),
                w[1].dir.display()
            )));
        }
    }
    let k = first.shard.count;
    let have: Vec<u64> = records.iter().map(|r| r.shard.index).collect();
    let missing: Vec<u64> = (0..k).filter(|i| have.binary_search(i).is_err()).collect();
    if let Some(&m) = missing.first() {
        let gap = Shard { index: m, count: k }.range(first.total);
        let listed: Vec<String> = missing
            .iter()
            .take(10)
            .map(|i| format!("{i}/{k}"))
            .collect();
        return Err(ShardError::Set(format!(
            "incomplete shard set: no shard holds {} {}..{}; {} of {k} shards missing ({}{}); \
             run or resubmit them, then merge again",
            first.kind.unit(),
            gap.start,
            gap.end,
            missing.len(),
            listed.join(", "),
            if missing.len() > listed.len() {
                ", …"
            } else {
                ""
            }
        )));
    }
    for r in &records {
        let own = r.shard.range(r.total);
        if r.range != own {
            return Err(ShardError::Set(format!(
                "{}: shard {}/{} holds {} {}..{}, but that shard owns {}..{} \
                 (overlapping or edited shards)",
                r.dir.display(),
                r.shard.index,
                k,
                r.kind.unit(),
                r.range.start,
                r.range.end,
                own.start,
                own.end
            )));
        }
    }
    Ok(records)
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// The provenance keys every merged manifest carries, set on a copy of
/// shard 0's manifest `o`: the shard keys removed, the merging command,
/// when the merge started and finished, and one `merged_shards` entry
/// (folder, `index/count`, plan hash, adapter) per shard, in order.
pub fn stamp_merge<'a>(
    o: &mut serde_json::Map<String, Value>,
    started: chrono::DateTime<chrono::Utc>,
    shards: impl Iterator<Item = (&'a ShardRecord, &'a Value)>,
) {
    o.remove("outputs");
    o.remove("shard");
    o.insert(
        "command".into(),
        Value::from(crate::drivers::checkpoint::Invocation::command_line()),
    );
    o.insert(
        "started".into(),
        Value::from(crate::drivers::manifest::rfc3339(started)),
    );
    o.insert(
        "finished".into(),
        Value::from(crate::drivers::manifest::rfc3339(
            crate::drivers::manifest::now(),
        )),
    );
    let merged: Vec<Value> = shards
        .map(|(rec, manifest)| {
            let entry = MergedShard {
                adapter: manifest["adapter"].clone(),
                dir: rec.dir.display().to_string(),
                plan_sha256: manifest["plan_sha256"].clone(),
                shard: format!("{}/{}", rec.shard.index, rec.shard.count),
            };
            // Strings and JSON values under string keys: cannot fail.
            serde_json::to_value(entry).unwrap_or_default()
        })
        .collect();
    o.insert("merged_shards".into(), Value::Array(merged));
}

/// One `merged_shards` entry of a merged manifest: the shard's folder, its
/// `index/count`, and its manifest's plan hash and adapter as they are.
#[derive(serde::Serialize)]
struct MergedShard {
    adapter: Value,
    dir: String,
    plan_sha256: Value,
    shard: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64, k: u64, n: u64) -> ShardRecord {
        let shard = Shard { index: i, count: k };
        ShardRecord {
            dir: PathBuf::from(format!("s{i}")),
            kind: ShardKind::Run,
            shard,
            range: shard.range(n),
            total: n,
            seed: 7,
            scene_sha256: "abc".into(),
        }
    }

    fn err(set: Vec<ShardRecord>) -> String {
        check_set(set).unwrap_err().to_string()
    }

    #[test]
    fn a_whole_set_in_any_order_is_accepted_in_shard_order() {
        let set = vec![rec(2, 3, 10), rec(0, 3, 10), rec(1, 3, 10)];
        let out = check_set(set).unwrap();
        let idx: Vec<u64> = out.iter().map(|r| r.shard.index).collect();
        assert_eq!(idx, vec![0, 1, 2]);
        assert_eq!(out[0].range, 0..3);
        assert_eq!(out[2].range, 6..10);
    }

    #[test]
    fn every_kind_of_mismatch_is_refused_by_name() {
        let mut b = rec(1, 2, 10);
        b.seed = 8;
        assert!(err(vec![rec(0, 2, 10), b]).contains("different seeds (7 vs 8)"));
        let mut b = rec(1, 2, 10);
        b.scene_sha256 = "abd".into();
        assert!(err(vec![rec(0, 2, 10), b]).contains("different scenes"));
        let e = err(vec![rec(0, 2, 10), rec(1, 3, 10)]);
        assert!(e.contains("different shard counts K (2 vs 3)"), "{e}");
        let e = err(vec![rec(0, 2, 10), rec(1, 2, 11)]);
        assert!(e.contains("different totals of members"), "{e}");
        let mut b = rec(1, 2, 10);
        b.kind = ShardKind::Sweep;
        assert!(err(vec![rec(0, 2, 10), b]).contains("different commands"));
        let e = err(vec![rec(0, 3, 9), rec(2, 3, 9)]);
        assert!(
            e.contains("no shard holds members 3..6; 1 of 3 shards missing (1/3)"),
            "{e}"
        );
        let e = err(vec![rec(0, 2, 10), rec(0, 2, 10), rec(1, 2, 10)]);
        assert!(e.contains("shard 0/2 is given twice"), "{e}");
        let mut b = rec(1, 2, 10);
        b.range = 4..10;
        let e = err(vec![rec(0, 2, 10), b]);
        assert!(
            e.contains("holds members 4..10, but that shard owns 5..10"),
            "{e}"
        );
        assert!(err(vec![]).contains("no shard folders"));
    }

    #[test]
    fn records_are_read_from_run_and_cohort_manifests() {
        let s = Shard { index: 1, count: 4 };
        let m = serde_json::json!({
            "seed": 3, "scene": {"sha256": "ff"},
            "shard": manifest_json(ShardKind::Sweep, s, &(5..10), 20),
        });
        let r = read_record(Path::new("x"), &m).unwrap();
        assert_eq!(
            (r.kind, r.shard, r.range, r.total),
            (ShardKind::Sweep, s, 5..10, 20)
        );
        let c = serde_json::json!({
            "seed": 3, "scene": {"sha256": "ff"}, "patients": 9,
            "shard": {"index": 0, "count": 3, "first_patient": 0, "end_patient": 3},
        });
        let r = read_record(Path::new("c"), &c).unwrap();
        assert_eq!((r.kind, r.range, r.total), (ShardKind::Cohort, 0..3, 9));
        let e = read_record(Path::new("u"), &serde_json::json!({"seed": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("u: manifest.json has no `shard` record"), "{e}");
    }
}
