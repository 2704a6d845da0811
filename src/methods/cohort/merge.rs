//! Shards (`--shard I/K`) and `vtwin merge`: which patients a shard holds,
//! what a shard records about itself, and joining shard tables back into the
//! cohort.
//!
//! Owns: the shard ranges (contiguous blocks, `[⌊nI/K⌋, ⌊n(I+1)/K⌋)`), the
//! consistency checks (same scene hash, seed and size; ranges contiguous,
//! disjoint and covering every patient; rows inside their shard's range) and
//! table concatenation in patient order, which equals the unsharded table
//! because every table is patient-major (`assemble.rs`). Never reads table
//! files (the caller reads them through `crate::output::io`).

use super::columns;
use super::crate_meta::{self, Property};
use super::error::CohortError;
use crate::output::table::{Column, Table, Values};
use std::ops::Range;
use std::str::FromStr;

/// Shard `index` of `count` (counted from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = CohortError;
    fn from_str(s: &str) -> Result<Shard, CohortError> {
        let bad = |m: &str| CohortError::ShardSpec {
            text: s.into(),
            message: m.into(),
        };
        let (i, k) = s
            .split_once('/')
            .ok_or_else(|| bad("expected I/K, e.g. 0/4"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| bad("I is not a whole number"))?;
        let count: u64 = k
            .trim()
            .parse()
            .map_err(|_| bad("K is not a whole number"))?;
        if count == 0 {
            return Err(bad("K must be at least 1"));
        }
        if index >= count {
            return Err(bad("shards count from 0: I must be less than K"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The patients of this shard out of `n`.
    pub fn range(&self, n: u64) -> Range<u64> {
        let at = |i: u64| ((n as u128 * i as u128) / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// What a shard (or a whole cohort) records about itself in its RO-Crate.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardInfo {
    /// SHA-256 of the scene file.
    pub scene_sha256: String,
    pub seed: u64,
    /// Patients in the whole cohort.
    pub patients: u64,
    /// The patients this folder holds.
    pub range: Range<u64>,
}

impl ShardInfo {
    /// Run properties for `CrateInfo::properties` (the seed is recorded by the
    /// crate itself).
    pub fn properties(&self) -> Vec<Property> {
        vec![
            Property::new("scene_sha256", self.scene_sha256.clone()),
            Property::new("patients", self.patients.to_string()),
            Property::new("first_patient", self.range.start.to_string()),
            Property::new("end_patient", self.range.end.to_string()),
        ]
    }

    /// Reads the properties back from RO-Crate metadata (`path` for errors).
    pub fn from_crate(
        meta: &serde_json::Value,
        path: &std::path::Path,
    ) -> Result<ShardInfo, CohortError> {
        let get = |name: &str| -> Result<String, CohortError> {
            match crate_meta::property(meta, name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                _ => Err(CohortError::Crate {
                    path: path.into(),
                    message: format!("no run property `{name}`"),
                }),
            }
        };
        let int = |name: &str| -> Result<u64, CohortError> {
            get(name)?.parse().map_err(|_| CohortError::Crate {
                path: path.into(),
                message: format!("run property `{name}` is not a whole number"),
            })
        };
        Ok(ShardInfo {
            scene_sha256: get("scene_sha256")?,
            seed: int("seed")?,
            patients: int("patients")?,
            range: int("first_patient")?..int("end_patient")?,
        })
    }
}

/// Concatenates tables with the same name and columns (names and types).
pub fn concat_tables(parts: &[&Table]) -> Result<Table, CohortError> {
    let Some(first) = parts.first() else {
        return Err(CohortError::Merge("nothing to concatenate".into()));
    };
    let mut out = Table {
        name: first.name.clone(),
        columns: Vec::new(),
    };
    for (k, col) in first.columns.iter().enumerate() {
        let mut values = empty_like(&col.values);
        for (s, t) in parts.iter().enumerate() {
            let Some(c) = t.columns.get(k).filter(|c| c.name == col.name) else {
                return Err(CohortError::Merge(format!(
                    "part {s} of table `{}` lacks column `{}` at position {k}",
                    first.name, col.name
                )));
            };
            extend(&mut values, &c.values).map_err(|found| {
                CohortError::Merge(format!(
                    "table `{}`, column `{}`: part {s} holds {found}, expected {}",
                    first.name,
                    col.name,
                    col.values.type_name()
                ))
            })?;
        }
        out.columns.push(Column {
            name: col.name.clone(),
            values,
        });
    }
    if let Some((s, t)) = parts
        .iter()
        .enumerate()
        .find(|(_, t)| t.columns.len() != first.columns.len())
    {
        return Err(CohortError::Merge(format!(
            "part {s} of table `{}` has {} columns, expected {}",
            first.name,
            t.columns.len(),
            first.columns.len()
        )));
    }
    Ok(out)
}

fn empty_like(v: &Values) -> Values {
    match v {
        Values::F64(_) => Values::F64(Vec::new()),
        Values::I64(_) => Values::I64(Vec::new()),
        Values::Str(_) => Values::Str(Vec::new()),
        Values::Bool(_) => Values::Bool(Vec::new()),
    }
}

fn extend(into: &mut Values, from: &Values) -> Result<(), &'static str> {
    match (into, from) {
        (Values::F64(a), Values::F64(b)) => a.extend_from_slice(b),
        (Values::I64(a), Values::I64(b)) => a.extend_from_slice(b),
        (Values::Str(a), Values::Str(b)) => a.extend_from_slice(b),
        (Values::Bool(a), Values::Bool(b)) => a.extend_from_slice(b),
        (_, other) => return Err(other.type_name()),
    }
    Ok(())
}

/// Checks that shards form one cohort and joins their tables (each shard's
/// tables in the same order, e.g. patients, observations, outcomes).
pub fn merge(
    mut shards: Vec<(ShardInfo, Vec<Table>)>,
) -> Result<(ShardInfo, Vec<Table>), CohortError> {
    let Some(first) = shards.first().map(|s| s.0.clone()) else {
        return Err(CohortError::Merge("no shards given".into()));
    };
    for (info, _) in &shards {
        let what = |field: &str| {
            CohortError::Merge(format!(
                "shard with patients {}..{} has a different {field} than shard {}..{}",
                info.range.start, info.range.end, first.range.start, first.range.end
            ))
        };
        if info.scene_sha256 != first.scene_sha256 {
            return Err(what("scene (sha256)"));
        }
        if info.seed != first.seed {
            return Err(what("seed"));
        }
        if info.patients != first.patients {
            return Err(what("cohort size"));
        }
    }
    shards.sort_by_key(|s| (s.0.range.start, s.0.range.end));
    let mut next = 0;
    for (info, tables) in &shards {
        let r = &info.range;
        if r.start > next {
            return Err(CohortError::Merge(format!(
                "no shard holds patients {next}..{}",
                r.start
            )));
        }
        if r.start < next {
            return Err(CohortError::Merge(format!(
                "shards overlap at patients {}..{}",
                r.start,
                next.min(r.end)
            )));
        }
        next = r.end;
        for t in tables {
            check_ids(t, r)?;
        }
    }
    if next != first.patients {
        return Err(CohortError::Merge(format!(
            "no shard holds patients {next}..{}",
            first.patients
        )));
    }
    let n_tables = shards[0].1.len();
    let mut merged = Vec::with_capacity(n_tables);
    for k in 0..n_tables {
        let parts: Vec<&Table> = shards
            .iter()
            .map(|(info, t)| {
                t.get(k)
                    .filter(|t| t.name == shards[0].1[k].name)
                    .ok_or_else(|| {
                        CohortError::Merge(format!(
                            "shard {}..{} lacks table `{}`",
                            info.range.start, info.range.end, shards[0].1[k].name
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        merged.push(concat_tables(&parts)?);
    }
    Ok((
        ShardInfo {
            range: 0..first.patients,
            ..first
        },
        merged,
    ))
}

fn check_ids(t: &Table, r: &Range<u64>) -> Result<(), CohortError> {
    let ids = columns::i64s(t, "patient_id")?;
    let mut prev = i64::MIN;
    for id in ids.iter().flatten() {
        if *id < prev || !(r.start as i64..r.end as i64).contains(id) {
            return Err(CohortError::Merge(format!(
                "table `{}` of shard {}..{} holds patient {id} out of range or order",
                t.name, r.start, r.end
            )));
        }
        prev = *id;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition_the_patients() {
        assert_eq!(
            "1/2".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 2 }
        );
        for bad in ["2/2", "1", "a/2", "0/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let e = "2/2".parse::<Shard>().unwrap_err().to_string();
        assert!(e.contains("count from 0"), "{e}");
        for (n, k) in [(10u64, 3u64), (7, 7), (3, 5), (1_000_003, 16)] {
            let mut next = 0;
            for i in 0..k {
                let r = Shard { index: i, count: k }.range(n);
                assert_eq!(r.start, next);
                assert!(r.end - r.start <= n / k + 1);
                next = r.end;
            }
            assert_eq!(next, n);
        }
    }
}
