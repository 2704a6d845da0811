//! `vtwin merge` of `run` and `sweep` shards (`--shard I/K`): the joined
//! folder holds the bytes the unsharded command writes (tables, fields,
//! montage, design, outputs, indices); only the manifest's command,
//! timestamps and `merged_shards` record differ. The plan hash of the whole
//! run is recomputed from the joined parameter rows (`plan::plan_hash`), so
//! it equals the unsharded run's.
//!
//! Tables are joined in shard order, which is member order because every
//! table is member-major and shards are contiguous blocks. CSV files are
//! joined as text (one header, then each shard's rows: the writer is the
//! same, so the bytes are); Parquet tables are read, concatenated and
//! written again with the same writer. Sweep indices need every row: they
//! are computed here, from the design regenerated from `params.toml` and the
//! manifest's design options (and checked to equal the shards' rows), with
//! the same code `vtwin sweep` runs (`drivers::sweep::write_analysis`).

use super::job::Observer;
use super::merge::{MergeError, MergeRequest, Result, reading};
use crate::drivers::shard::ShardRecord;
use crate::methods::cohort::merge::concat_tables;
use crate::methods::design::{self, DesignMethod, DesignOptions};
use crate::methods::sensitivity::Bootstrap;
use crate::output::io::{ColumnType, RunDir, TableFormat};
use crate::output::table::{Table, Values};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

/// `bail!` with a typed error: returns [`MergeError::Invalid`].
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(MergeError::Invalid(format!($($t)*)))
    };
}

/// A [`MergeError::Invalid`] with a formatted message.
macro_rules! invalid {
    ($($t:tt)*) => {
        MergeError::Invalid(format!($($t)*))
    };
}

/// A shard's manifest and the files it lists, in the manifest's order.
struct Folder {
    rec: ShardRecord,
    manifest: Value,
    files: Vec<String>,
}

fn load(records: &[ShardRecord]) -> Result<Vec<Folder>> {
    records
        .iter()
        .map(|rec| {
            let path = rec.dir.join(crate::output::io::rundir::MANIFEST);
            let text = std::fs::read_to_string(&path).map_err(reading(&path))?;
            let manifest: Value = serde_json::from_str(&text)
                .map_err(|e| MergeError::context(format!("parsing {}", path.display()), e))?;
            let files = manifest["outputs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o["path"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Folder {
                rec: rec.clone(),
                manifest,
                files,
            })
        })
        .collect()
}

/// Every shard must hold the files shard 0 holds, except those in
/// `first_only`, which only shard 0 may hold.
fn check_same_files(folders: &[Folder], first_only: &[&str]) -> Result<()> {
    let want: Vec<&String> = folders[0]
        .files
        .iter()
        .filter(|f| !first_only.contains(&f.as_str()))
        .collect();
    for f in &folders[1..] {
        let mut have: Vec<&String> = f.files.iter().collect();
        have.sort();
        let mut w = want.clone();
        w.sort();
        if have != w {
            bail!(
                "{} and {} hold different files ({} vs {}): shards of different options?",
                folders[0].rec.dir.display(),
                f.rec.dir.display(),
                w.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                have.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

fn same_value(folders: &[Folder], pointer: &str, what: &str) -> Result<()> {
    let first = folders[0].manifest.pointer(pointer);
    for f in &folders[1..] {
        if f.manifest.pointer(pointer) != first {
            bail!(
                "{} and {} were run with different {what}",
                folders[0].rec.dir.display(),
                f.rec.dir.display()
            );
        }
    }
    Ok(())
}

/// CSV files joined as text: the first file whole, then every other
/// file's rows after its header, which must equal the first's.
fn concat_csv(paths: &[PathBuf]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut header: Option<Vec<u8>> = None;
    for p in paths {
        let bytes = std::fs::read(p).map_err(reading(p))?;
        let cut = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .ok_or_else(|| invalid!("{}: no header line", p.display()))?;
        match &header {
            None => {
                header = Some(bytes[..cut].to_vec());
                out.extend_from_slice(&bytes);
            }
            Some(h) if h.as_slice() == &bytes[..cut] => out.extend_from_slice(&bytes[cut..]),
            Some(_) => bail!(
                "{}: its header differs from {}",
                p.display(),
                paths[0].display()
            ),
        }
    }
    Ok(out)
}

/// Writes the table file `name` (e.g. `params.parquet`) of every shard
/// joined into `dir`.
fn join_table(dir: &RunDir, folders: &[Folder], name: &str, fmt: TableFormat) -> Result<()> {
    let paths: Vec<PathBuf> = folders.iter().map(|f| f.rec.dir.join(name)).collect();
    match fmt {
        TableFormat::Csv => {
            dir.write_bytes(name, &concat_csv(&paths)?)?;
        }
        TableFormat::Parquet => {
            let parts: Vec<Table> = paths
                .iter()
                .map(|p| crate::output::io::read_parquet(p).map_err(reading(p)))
                .collect::<Result<_>>()?;
            let refs: Vec<&Table> = parts.iter().collect();
            let mut t = concat_tables(&refs)?;
            t.name = name.trim_end_matches(".parquet").to_string();
            dir.write_table(&t, TableFormat::Parquet)?;
        }
    }
    Ok(())
}

/// `fields.npy` of every shard joined along the member axis.
fn join_npy(dir: &RunDir, folders: &[Folder], name: &str) -> Result<()> {
    let mut shape: Option<Vec<usize>> = None;
    let mut data = Vec::new();
    for f in folders {
        let p = f.rec.dir.join(name);
        let (s, d) = crate::output::io::read_npy_f32(&p).map_err(reading(&p))?;
        match &mut shape {
            None => shape = Some(s),
            Some(have) if have.len() == s.len() && have[1..] == s[1..] => have[0] += s[0],
            Some(have) => bail!(
                "{}: shape {s:?} does not continue {have:?} of the shards before it",
                p.display()
            ),
        }
        data.extend_from_slice(&d);
    }
    let shape = shape.ok_or_else(|| invalid!("no shards"))?;
    crate::output::io::write_npy_f32(&dir.file(name), &shape, &data)?;
    Ok(())
}

/// Member parameter rows of a params table (every column but `member`).
fn param_rows(t: &Table) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let mut names = Vec::new();
    let mut cols: Vec<&Vec<Option<f64>>> = Vec::new();
    for c in t.columns.iter().filter(|c| c.name != "member") {
        let Values::F64(v) = &c.values else {
            bail!("params table: column `{}` is not float64", c.name);
        };
        names.push(c.name.clone());
        cols.push(v);
    }
    let rows = (0..t.rows())
        .map(|r| cols.iter().map(|c| c[r].unwrap_or(f64::NAN)).collect())
        .collect();
    Ok((names, rows))
}

/// The keys a merged run or sweep manifest sets over shard 0's: the totals
/// of the whole set and the whole plan's hash.
#[derive(Serialize)]
struct Totals {
    members: u64,
    members_failed: u64,
    plan_sha256: String,
    /// Sweeps: the indices computed from every row.
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<Value>,
}

/// The whole run's manifest from shard 0's: `totals`, the shards it was
/// joined from, this command and its times; the `shard` and `outputs`
/// records dropped.
fn merged_manifest(folders: &[Folder], started: DateTime<Utc>, totals: Totals) -> Result<Value> {
    let mut m = folders[0].manifest.clone();
    let Value::Object(keys) = serde_json::to_value(&totals)
        .map_err(|e| MergeError::context("writing the merged manifest", e))?
    else {
        bail!("the merged manifest keys are not an object");
    };
    if let Some(o) = m.as_object_mut() {
        crate::drivers::shard::stamp_merge(
            o,
            started,
            folders.iter().map(|f| (&f.rec, &f.manifest)),
        );
        o.extend(keys);
    }
    Ok(m)
}

fn members_failed(folders: &[Folder]) -> u64 {
    folders
        .iter()
        .map(|f| f.manifest["members_failed"].as_u64().unwrap_or(0))
        .sum()
}

fn plan_hash_of(folders: &[Folder], names: &[String], rows: &[Vec<f64>]) -> Result<String> {
    let m = &folders[0].manifest;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(crate::core::plan::plan_hash(
        &folders[0].rec.scene_sha256,
        m["arm"]
            .as_str()
            .ok_or_else(|| invalid!("manifest lacks `arm`"))?,
        folders[0].rec.seed,
        m["steps"]
            .as_u64()
            .ok_or_else(|| invalid!("manifest lacks `steps`"))?,
        0,
        &names,
        rows.iter().map(Vec::as_slice),
    ))
}

fn create(req: &MergeRequest, obs: &mut dyn Observer) -> Result<RunDir> {
    Ok(super::job::create_run_dir(
        &req.out,
        req.force,
        &req.inputs(),
        obs,
    )?)
}

/// Joins `vtwin run --shard I/K` folders; returns the folder and the
/// member count.
pub fn merge_run(
    req: &MergeRequest,
    records: &[ShardRecord],
    started: DateTime<Utc>,
    obs: &mut dyn Observer,
) -> Result<(PathBuf, u64)> {
    let folders = load(records)?;
    check_same_files(&folders, &["montage.png"])?;
    for (p, what) in [
        ("/arm", "arms"),
        ("/steps", "step counts"),
        ("/format", "table formats"),
        ("/posterior", "posteriors"),
    ] {
        same_value(&folders, p, what)?;
    }
    let fmt = match folders[0].manifest["format"].as_str() {
        Some("csv") => TableFormat::Csv,
        Some("parquet") => TableFormat::Parquet,
        other => bail!(
            "{}: manifest format {other:?} is not csv or parquet",
            folders[0].rec.dir.display()
        ),
    };
    let ext = format!(".{}", fmt.extension());
    let params_name = format!("params{ext}");
    let mut params_parts = Vec::new();
    for f in &folders {
        let p = f.rec.dir.join(&params_name);
        let t = match fmt {
            TableFormat::Parquet => crate::output::io::read_parquet(&p)?,
            TableFormat::Csv => {
                let header = crate::output::io::read_csv(&p)?;
                let schema: Vec<(&str, ColumnType)> = header
                    .columns
                    .iter()
                    .map(|c| {
                        let ty = if c.name == "member" {
                            ColumnType::I64
                        } else {
                            ColumnType::F64
                        };
                        (c.name.as_str(), ty)
                    })
                    .collect();
                crate::output::io::read_csv_typed(&p, &schema)?
            }
        };
        params_parts.push(t);
    }
    let refs: Vec<&Table> = params_parts.iter().collect();
    let (names, rows) = param_rows(&concat_tables(&refs)?)?;
    let plan_sha256 = plan_hash_of(&folders, &names, &rows)?;

    let dir = create(req, obs)?;
    for name in &folders[0].files {
        if name.ends_with(&ext) {
            join_table(&dir, &folders, name, fmt)?;
        } else if name == "fields.npy" {
            join_npy(&dir, &folders, name)?;
        } else if name == crate::output::io::stale::CHECKPOINT {
            // A shard's last checkpoint (`--checkpoint-every`) holds its own
            // members' state; it stays in the shard folder for `vtwin fork`.
            continue;
        } else if name == "montage.png" {
            let src = folders[0].rec.dir.join(name);
            let bytes = std::fs::read(&src).map_err(reading(&src))?;
            dir.write_bytes(name, &bytes)?;
        } else {
            bail!(
                "{}: `{name}` is not a file vtwin run writes; refusing to guess how to join it",
                folders[0].rec.dir.display()
            );
        }
    }
    let totals = Totals {
        members: folders[0].rec.total,
        members_failed: members_failed(&folders),
        plan_sha256,
        analysis: None,
    };
    let manifest = merged_manifest(&folders, started, totals)?;
    Ok((dir.finish(manifest)?, folders[0].rec.total))
}

/// The design method a sweep manifest names (`design.method`).
fn design_method(name: &str) -> Option<DesignMethod> {
    use DesignMethod::*;
    [Random, Lhs, Sobol, Grid, Saltelli, Morris]
        .into_iter()
        .find(|m| m.name() == name)
}

/// Joins `vtwin sweep --shard I/K` folders and computes the indices;
/// returns the folder and the design row count.
pub fn merge_sweep(
    req: &MergeRequest,
    records: &[ShardRecord],
    started: DateTime<Utc>,
    obs: &mut dyn Observer,
) -> Result<(PathBuf, u64)> {
    let folders = load(records)?;
    check_same_files(&folders, &[])?;
    for (p, what) in [
        ("/arm", "arms"),
        ("/steps", "step counts"),
        ("/design", "design options"),
        ("/outputs_described", "outputs"),
        ("/drop_failed", "--drop-failed"),
        ("/analysis/bootstrap", "bootstrap options"),
    ] {
        same_value(&folders, p, what)?;
    }
    let m0 = &folders[0].manifest;
    let d0 = &folders[0].rec.dir;
    let params_paths: Vec<PathBuf> = folders
        .iter()
        .map(|f| f.rec.dir.join("params.toml"))
        .collect();
    let params_text =
        std::fs::read_to_string(&params_paths[0]).map_err(reading(&params_paths[0]))?;
    for p in &params_paths[1..] {
        if std::fs::read_to_string(p).map_err(reading(p))? != params_text {
            bail!("{} differs from {}", p.display(), params_paths[0].display());
        }
    }
    let block = crate::input::params_file::parse_param_file(&params_text, &params_paths[0])?;
    let d = &m0["design"];
    let bad = |key: &str| {
        invalid!(
            "{}: manifest `design.{key}` is missing or invalid",
            d0.display()
        )
    };
    let method_name = d["method"].as_str().ok_or_else(|| bad("method"))?;
    let method = design_method(method_name).ok_or_else(|| bad("method"))?;
    let n = d["n"].as_u64().ok_or_else(|| bad("n"))? as usize;
    let levels = d["levels"]
        .as_u64()
        .map(|l| l as u32)
        .unwrap_or(DesignOptions::default().levels);
    let b = &m0["analysis"]["bootstrap"];
    let bootstrap = Bootstrap {
        resamples: b["resamples"].as_u64().ok_or_else(|| bad("bootstrap"))? as usize,
        seed: folders[0].rec.seed,
        conf_level: b["conf_level"].as_f64().ok_or_else(|| bad("bootstrap"))?,
    };
    let opts = DesignOptions {
        seed: folders[0].rec.seed,
        maximin: d["maximin"].as_bool().unwrap_or(false),
        scramble: d["scramble"].as_bool().unwrap_or(false),
        second_order: d["second_order"].as_bool().unwrap_or(false),
        levels,
    };
    let design = design::generate(&block, method, n, &opts).map_err(|e| {
        invalid!(
            "{}: regenerating the design: {e}",
            params_paths[0].display()
        )
    })?;
    if design.values.len() as u64 != folders[0].rec.total {
        bail!(
            "the design regenerated from {} has {} rows, the shards {}",
            params_paths[0].display(),
            design.values.len(),
            folders[0].rec.total
        );
    }
    let param_names: Vec<String> = d["varying"]
        .as_array()
        .ok_or_else(|| bad("varying"))?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let out_names: Vec<String> = m0["outputs_described"]
        .as_array()
        .ok_or_else(|| invalid!("{}: manifest lacks `outputs_described`", d0.display()))?
        .iter()
        .filter_map(|o| o["name"].as_str().map(String::from))
        .collect();

    let dir = create(req, obs)?;
    let design_csv = concat_csv(
        &folders
            .iter()
            .map(|f| f.rec.dir.join("design.csv"))
            .collect::<Vec<_>>(),
    )?;
    let mut whole = Table::new("design").with_i64(
        "member",
        (0..design.values.len() as i64).collect::<Vec<_>>(),
    );
    whole.columns.extend(design.to_table(&block).columns);
    let written = dir.write_table(&whole, TableFormat::Csv)?;
    if std::fs::read(&written).map_err(reading(&written))? != design_csv {
        bail!(
            "the shards' design.csv rows differ from the design regenerated from {} \
             (edited shards, or shards of another vtwin version)",
            params_paths[0].display()
        );
    }
    let outputs_csv = concat_csv(
        &folders
            .iter()
            .map(|f| f.rec.dir.join("outputs.csv"))
            .collect::<Vec<_>>(),
    )?;
    let outputs_path = dir.write_bytes("outputs.csv", &outputs_csv)?;
    dir.write_bytes("params.toml", params_text.as_bytes())?;
    let mut schema = vec![("member", ColumnType::I64), ("status", ColumnType::Str)];
    schema.extend(out_names.iter().map(|n| (n.as_str(), ColumnType::F64)));
    let outputs = crate::output::io::read_csv_typed(&outputs_path, &schema)?;
    let Values::Str(status) = &outputs.columns[1].values else {
        bail!("outputs.csv: `status` is not text");
    };
    let failed: Vec<bool> = status.iter().map(|s| s.as_deref() != Some("ok")).collect();
    let cols: Vec<&Vec<Option<f64>>> = outputs.columns[2..]
        .iter()
        .map(|c| match &c.values {
            Values::F64(v) => Ok(v),
            _ => Err(invalid!("outputs.csv: column `{}` is not numeric", c.name)),
        })
        .collect::<Result<_>>()?;
    let summaries: Vec<Vec<Option<f64>>> = (0..outputs.rows())
        .map(|r| cols.iter().map(|c| c[r]).collect())
        .collect();
    let (skipped, groups) = super::sweep::write_analysis(
        &dir,
        &design,
        &param_names,
        &out_names,
        &summaries,
        &failed,
        levels,
        &bootstrap,
        obs,
    )?;
    let names: Vec<String> = block.params.iter().map(|p| p.name.clone()).collect();
    let plan_sha256 = plan_hash_of(&folders, &names, &design.values)?;
    let mut analysis = m0["analysis"].clone();
    let json = |e| MergeError::context("writing the merged manifest", e);
    analysis["groups"] = serde_json::to_value(groups).map_err(json)?;
    analysis["skipped_outputs"] = serde_json::to_value(skipped).map_err(json)?;
    let totals = Totals {
        members: folders[0].rec.total,
        members_failed: members_failed(&folders),
        plan_sha256,
        analysis: Some(analysis),
    };
    let manifest = merged_manifest(&folders, started, totals)?;
    Ok((dir.finish(manifest)?, folders[0].rec.total))
}
