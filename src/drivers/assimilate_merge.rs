//! `vtwin merge` of `vtwin assimilate --shard I/K` folders (the shards
//! themselves: `assimilate_shard`): each shard's `shard_rows.json` keys
//! put its `analysis` and `forecast` rows back in the unsharded order
//! (ties: shard order, then row order); `patients` rows go shard after
//! shard, `posterior` rows parameter by parameter. Each table is written
//! with the writer the unsharded run uses (CSV: the shards' row bytes;
//! Parquet: the values), so the merged folder equals the unsharded one
//! byte for byte but its manifest; `shard_rows.json` is not carried over.

use super::assimilate::{AssimilateError, Log, create_run_dir};
use super::assimilate_shard::ROWS_FILE;
use crate::drivers::shard::ShardRecord;
use crate::output::io::{RunDir, TableFormat};
use crate::output::table::{Column, Table, Values};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, AssimilateError>;

/// `bail!` with a typed error: returns [`AssimilateError::Invalid`].
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(AssimilateError::Invalid(format!($($t)*)))
    };
}

/// An [`AssimilateError::Invalid`] with a formatted message.
macro_rules! invalid {
    ($($t:tt)*) => {
        AssimilateError::Invalid(format!($($t)*))
    };
}

fn reading<E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
) -> impl FnOnce(E) -> AssimilateError {
    let path = path.to_path_buf();
    move |e| AssimilateError::Reading {
        path,
        source: Box::new(e),
    }
}

/// A shard folder for merging.
struct Folder {
    rec: ShardRecord,
    manifest: Value,
    files: Vec<String>,
    analysis_step: Vec<u64>,
    forecast_request: Vec<u64>,
}

fn load(rec: &ShardRecord) -> Result<Folder> {
    let read = |p: PathBuf| -> Result<Value> {
        let text = std::fs::read_to_string(&p).map_err(reading(&p))?;
        serde_json::from_str(&text).map_err(|source| AssimilateError::Parsing { path: p, source })
    };
    let manifest = read(rec.dir.join(crate::output::io::rundir::MANIFEST))?;
    let files: Vec<String> = manifest["outputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["path"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if !files.iter().any(|f| f == ROWS_FILE) {
        bail!(
            "{}: no {ROWS_FILE} in its manifest: not an assimilate shard folder",
            rec.dir.display()
        );
    }
    let rows = read(rec.dir.join(ROWS_FILE))?;
    let ints = |key: &str| -> Result<Vec<u64>> {
        rows[key]
            .as_array()
            .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<_>>>())
            .ok_or_else(|| {
                invalid!(
                    "{}: `{key}` is missing or not whole numbers",
                    rec.dir.join(ROWS_FILE).display()
                )
            })
    };
    Ok(Folder {
        rec: rec.clone(),
        analysis_step: ints("analysis_step")?,
        forecast_request: ints("forecast_request")?,
        manifest,
        files,
    })
}

/// The rows of one table of every shard, and how to write them joined.
enum Parts {
    /// Header bytes, then each shard's row byte strings.
    Csv(Vec<u8>, Vec<Vec<Vec<u8>>>),
    Parquet(Vec<Table>),
}

impl Parts {
    fn counts(&self) -> Vec<usize> {
        match self {
            Parts::Csv(_, rows) => rows.iter().map(Vec::len).collect(),
            Parts::Parquet(t) => t.iter().map(Table::rows).collect(),
        }
    }
}

/// A CSV file's header line and the bytes of each record (quoted fields
/// may hold line breaks, so records are found by the CSV reader).
fn csv_records(path: &Path) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let bytes = std::fs::read(path).map_err(reading(path))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut rec = csv::ByteRecord::new();
    let mut starts = Vec::new();
    loop {
        let at = rdr.position().byte() as usize;
        if !rdr.read_byte_record(&mut rec).map_err(reading(path))? {
            break;
        }
        starts.push(at);
    }
    starts.push(bytes.len());
    let mut pieces: Vec<Vec<u8>> = starts
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect();
    if pieces.is_empty() {
        bail!("{}: no header line", path.display());
    }
    let header = pieces.remove(0);
    Ok((header, pieces))
}

fn read_parts(folders: &[Folder], name: &str, fmt: TableFormat) -> Result<Parts> {
    match fmt {
        TableFormat::Csv => {
            let mut header: Option<Vec<u8>> = None;
            let mut rows = Vec::new();
            for f in folders {
                let p = f.rec.dir.join(name);
                let (h, r) = csv_records(&p)?;
                match &header {
                    None => header = Some(h),
                    Some(first) if *first == h => {}
                    Some(_) => bail!(
                        "{}: its header differs from {}",
                        p.display(),
                        folders[0].rec.dir.join(name).display()
                    ),
                }
                rows.push(r);
            }
            Ok(Parts::Csv(header.unwrap_or_default(), rows))
        }
        TableFormat::Parquet => Ok(Parts::Parquet(
            folders
                .iter()
                .map(|f| {
                    let p = f.rec.dir.join(name);
                    crate::output::io::read_parquet(&p).map_err(reading(&p))
                })
                .collect::<Result<_>>()?,
        )),
    }
}

fn take<T: Clone>(parts: &[&Vec<T>], order: &[(usize, usize)]) -> Vec<T> {
    order.iter().map(|&(s, i)| parts[s][i].clone()).collect()
}

/// Writes table `name` of every shard with its rows in `order` ((shard,
/// row) pairs).
fn write_joined(dir: &RunDir, name: &str, parts: Parts, order: &[(usize, usize)]) -> Result<()> {
    match parts {
        Parts::Csv(header, rows) => {
            let mut out = header;
            for &(s, i) in order {
                out.extend_from_slice(&rows[s][i]);
            }
            dir.write_bytes(name, &out)?;
        }
        Parts::Parquet(tables) => {
            let first = &tables[0];
            let mut t = Table {
                name: name.trim_end_matches(".parquet").to_string(),
                columns: Vec::new(),
            };
            for (k, col) in first.columns.iter().enumerate() {
                let cols: Vec<&Values> = tables
                    .iter()
                    .map(|t| {
                        t.columns
                            .get(k)
                            .filter(|c| c.name == col.name)
                            .map(|c| &c.values)
                            .ok_or_else(|| {
                                invalid!("table `{name}`: shards differ in column `{}`", col.name)
                            })
                    })
                    .collect::<Result<_>>()?;
                let mismatch = || {
                    invalid!(
                        "table `{name}`, column `{}`: shards differ in type",
                        col.name
                    )
                };
                macro_rules! gather {
                    ($variant:ident) => {{
                        let v: Vec<_> = cols
                            .iter()
                            .map(|c| match c {
                                Values::$variant(v) => Ok(v),
                                _ => Err(mismatch()),
                            })
                            .collect::<Result<_>>()?;
                        Values::$variant(take(&v, order))
                    }};
                }
                let values = match &col.values {
                    Values::F64(_) => gather!(F64),
                    Values::I64(_) => gather!(I64),
                    Values::Str(_) => gather!(Str),
                    Values::Bool(_) => gather!(Bool),
                };
                t.columns.push(Column {
                    name: col.name.clone(),
                    values,
                });
            }
            dir.write_table(&t, TableFormat::Parquet)?;
        }
    }
    Ok(())
}

/// (shard, row) pairs sorted by `key` (then shard, then row).
fn by_key(keys: &[&[u64]]) -> Vec<(usize, usize)> {
    let mut v: Vec<(u64, usize, usize)> = keys
        .iter()
        .enumerate()
        .flat_map(|(s, k)| k.iter().enumerate().map(move |(i, &key)| (key, s, i)))
        .collect();
    v.sort_unstable();
    v.into_iter().map(|(_, s, i)| (s, i)).collect()
}

fn order_of(stem: &str, folders: &[Folder], counts: &[usize]) -> Result<Vec<(usize, usize)>> {
    let check = |what: &str, have: &[usize]| -> Result<()> {
        for (f, (&c, &h)) in folders.iter().zip(counts.iter().zip(have)) {
            if c != h {
                bail!(
                    "{}: its {stem} table holds {c} rows where {ROWS_FILE} lists {h} {what}",
                    f.rec.dir.display()
                );
            }
        }
        Ok(())
    };
    let forecasts = || -> Vec<(usize, usize)> {
        by_key(
            &folders
                .iter()
                .map(|f| f.forecast_request.as_slice())
                .collect::<Vec<_>>(),
        )
    };
    let n_forecasts: Vec<usize> = folders.iter().map(|f| f.forecast_request.len()).collect();
    Ok(match stem {
        "patients" => {
            let n: Vec<usize> = folders
                .iter()
                .map(|f| (f.rec.range.end - f.rec.range.start) as usize)
                .collect();
            check("patients", &n)?;
            folders
                .iter()
                .enumerate()
                .flat_map(|(s, _)| (0..counts[s]).map(move |i| (s, i)))
                .collect()
        }
        "posterior" => {
            // Parameter-major: every shard's rows of parameter k in turn.
            let n: Vec<usize> = folders
                .iter()
                .map(|f| (f.rec.range.end - f.rec.range.start) as usize)
                .collect();
            let params = counts[0] / n[0].max(1);
            check(
                "patients × parameters",
                &n.iter().map(|x| x * params).collect::<Vec<_>>(),
            )?;
            let mut v = Vec::new();
            for k in 0..params {
                for (s, &ns) in n.iter().enumerate() {
                    v.extend((0..ns).map(|i| (s, k * ns + i)));
                }
            }
            v
        }
        "analysis" => {
            let have: Vec<usize> = folders.iter().map(|f| f.analysis_step.len()).collect();
            check("analysis rows", &have)?;
            by_key(
                &folders
                    .iter()
                    .map(|f| f.analysis_step.as_slice())
                    .collect::<Vec<_>>(),
            )
        }
        "forecast" => {
            check("forecast rows", &n_forecasts)?;
            forecasts()
        }
        "forecast_members" => {
            let m = folders[0].manifest["patients"]["members_per_patient"]
                .as_u64()
                .ok_or_else(|| {
                    invalid!(
                        "{}: manifest lacks patients.members_per_patient",
                        folders[0].rec.dir.display()
                    )
                })? as usize;
            check(
                "forecast rows × members",
                &n_forecasts.iter().map(|x| x * m).collect::<Vec<_>>(),
            )?;
            forecasts()
                .into_iter()
                .flat_map(|(s, i)| (0..m).map(move |j| (s, i * m + j)))
                .collect()
        }
        other => bail!(
            "{}: `{other}` is not a table vtwin assimilate writes; refusing to guess how to join it",
            folders[0].rec.dir.display()
        ),
    })
}

/// What [`merge`] wrote.
pub struct Merged {
    /// The finished folder.
    pub dir: PathBuf,
    pub shards: usize,
    pub patients: u64,
}

/// Joins `vtwin assimilate --shard I/K` folders `dirs` (already checked as
/// one whole set by `shard::check_set`, their files against their
/// manifests) into `out`.
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    force: bool,
    records: &[ShardRecord],
    started: DateTime<Utc>,
    log: Log<'_>,
) -> Result<Merged> {
    let folders: Vec<Folder> = records.iter().map(load).collect::<Result<_>>()?;
    for (p, what) in [
        ("/observations/sha256", "observation files"),
        ("/shard/forecast_at_sha256", "forecast request files"),
        ("/shard/options", "options"),
        ("/format", "table formats"),
        ("/patients/members_per_patient", "members per patient"),
    ] {
        let first = folders[0].manifest.pointer(p);
        for f in &folders[1..] {
            if f.manifest.pointer(p) != first {
                bail!(
                    "{} and {} were run with different {what}",
                    folders[0].rec.dir.display(),
                    f.rec.dir.display()
                );
            }
        }
    }
    let mut want = folders[0].files.clone();
    want.sort();
    for f in &folders[1..] {
        let mut have = f.files.clone();
        have.sort();
        if have != want {
            bail!(
                "{} and {} hold different files ({} vs {})",
                folders[0].rec.dir.display(),
                f.rec.dir.display(),
                want.join(", "),
                have.join(", ")
            );
        }
    }
    let fmt = match folders[0].manifest["format"].as_str() {
        Some("csv") => TableFormat::Csv,
        Some("parquet") => TableFormat::Parquet,
        other => bail!(
            "{}: manifest format {other:?} is not csv or parquet",
            folders[0].rec.dir.display()
        ),
    };
    let inputs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let dir = create_run_dir(out, force, &inputs, log)?;
    for name in &folders[0].files {
        if name == ROWS_FILE {
            continue;
        }
        let Some(stem) = name.strip_suffix(&format!(".{}", fmt.extension())) else {
            bail!(
                "{}: `{name}` is not a table vtwin assimilate writes; refusing to guess how to join it",
                folders[0].rec.dir.display()
            );
        };
        let parts = read_parts(&folders, name, fmt)?;
        let order = order_of(stem, &folders, &parts.counts())?;
        write_joined(&dir, name, parts, &order)?;
    }
    let manifest = merged_manifest(&folders, started);
    let final_dir = dir.finish(manifest)?;
    Ok(Merged {
        dir: final_dir,
        shards: folders.len(),
        patients: folders[0].rec.total,
    })
}

/// Shard 0's manifest with the whole run's patient counts, this command,
/// its times and the shards it was joined from; `shard` and `outputs`
/// dropped.
fn merged_manifest(folders: &[Folder], started: DateTime<Utc>) -> Value {
    let mut m = folders[0].manifest.clone();
    let sum = |key: &str| -> u64 {
        folders
            .iter()
            .map(|f| f.manifest["patients"][key].as_u64().unwrap_or(0))
            .sum()
    };
    let totals = [
        "count",
        "failed",
        "replaced_members",
        "censored_readings",
        "forecast_requests",
    ]
    .map(|k| (k, sum(k)));
    if let Some(o) = m.as_object_mut() {
        crate::drivers::shard::stamp_merge(
            o,
            started,
            folders.iter().map(|f| (&f.rec, &f.manifest)),
        );
    }
    for (k, v) in totals {
        m["patients"][k] = json!(v);
    }
    m
}
