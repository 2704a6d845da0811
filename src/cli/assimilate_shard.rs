//! `vtwin assimilate --shard I/K` (patient runs) and `vtwin merge` of its
//! shards.
//!
//! A shard is the contiguous block ⌊N·I/K⌋ .. ⌊N·(I+1)/K⌋ of the run's N
//! patients in the order the run lists them (first appearance in the
//! observation file), with the forecast requests about them. Its patients
//! keep their global members (`patients::RunOptions::first`) and their
//! name-keyed filter streams, so every row a shard writes is the row the
//! unsharded run writes for that patient.
//!
//! The unsharded tables are not all patient-major: `analysis` rows come
//! in step order (patients in run order within a step), `posterior` rows
//! parameter by parameter, `forecast` (and `forecast_members`) rows in the
//! request file's order. A shard therefore also writes `shard_rows.json`
//! (in its manifest, hashed): each analysis row's engine step and each
//! forecast row's index in the request file. `vtwin merge` orders the
//! shards' rows by those keys (ties: shard order, then row order) and
//! writes each table with the writer the unsharded run uses (CSV: the
//! shards' row bytes; Parquet: the values), so the merged folder equals
//! the unsharded one byte for byte but its manifest; `shard_rows.json`
//! is not carried over.

use super::assimilate::AssimilateArgs;
use super::merge::MergeArgs;
use crate::io::{RunDir, TableFormat};
use crate::shard::{Shard, ShardKind, ShardRecord};
use crate::table::{Column, Table, Values};
use crate::twin::patients::{Patient, PatientOutput, Request};
use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The shard's sidecar of row keys.
pub const ROWS_FILE: &str = "shard_rows.json";

/// The patients (and requests) of one shard.
pub struct Block {
    /// Position of the first patient in the whole run's list.
    pub first: usize,
    pub patients: Vec<Patient>,
    /// Requests about these patients (`patient` counted in the block).
    pub requests: Vec<Request>,
    /// Each request's index in the whole request list.
    request_index: Vec<usize>,
    range: std::ops::Range<u64>,
    total: u64,
}

impl Block {
    /// The block of `shard` (everything without one).
    pub fn new(
        shard: Option<Shard>,
        patients: Vec<Patient>,
        requests: Vec<Request>,
    ) -> Result<Block> {
        let total = patients.len() as u64;
        let sharded = shard.is_some();
        let shard = shard.unwrap_or(Shard { index: 0, count: 1 });
        let range = shard.range(total);
        if sharded && range.is_empty() {
            bail!(
                "--shard {}/{}: the shard holds none of the {total} patients; use at most {total} shards",
                shard.index,
                shard.count
            );
        }
        let (lo, hi) = (range.start as usize, range.end as usize);
        let mut block_requests = Vec::new();
        let mut request_index = Vec::new();
        for (r, mut rq) in requests.into_iter().enumerate() {
            if (lo..hi).contains(&rq.patient) {
                rq.patient -= lo;
                block_requests.push(rq);
                request_index.push(r);
            }
        }
        let patients = patients.into_iter().skip(lo).take(hi - lo).collect();
        Ok(Block {
            first: lo,
            patients,
            requests: block_requests,
            request_index,
            range,
            total,
        })
    }

    /// Writes `shard_rows.json`: the step of every analysis row (at `dt`
    /// per step, as the run placed the readings) and the request-file
    /// index of every forecast row.
    pub fn write_rows(&self, dir: &RunDir, out: &PatientOutput, dt: f64) -> Result<()> {
        let steps: Vec<u64> = out
            .analyses
            .iter()
            .map(|a| crate::twin::obs::step_of(a.time, dt).0)
            .collect();
        if out.forecasts.len() != self.request_index.len() {
            bail!(
                "internal: {} forecast rows for {} requests",
                out.forecasts.len(),
                self.request_index.len()
            );
        }
        dir.write_json(
            ROWS_FILE,
            &json!({"analysis_step": steps, "forecast_request": self.request_index}),
        )?;
        Ok(())
    }

    /// The manifest's `shard` record: the block, and what every shard of
    /// one run must share besides scene and seed.
    pub fn manifest_json(
        &self,
        shard: Shard,
        args: &AssimilateArgs,
        forecast_at_sha256: Option<String>,
    ) -> Value {
        let mut v =
            crate::shard::manifest_json(ShardKind::Assimilate, shard, &self.range, self.total);
        v["forecast_at_sha256"] = json!(forecast_at_sha256);
        v["options"] = json!(options(args));
        v
    }
}

/// The filter and output options of the command (what shards of one run
/// share): everything the parser kept but the shard, the folder and
/// `--force`, in a fixed form.
fn options(args: &AssimilateArgs) -> String {
    let f = &args.filter;
    format!(
        "method={:?} members={:?} inflation={:?} loc_radius={:?} rotate={} \
         resample_threshold={:?} jitter={:?} seed={:?} quantiles={:?} members_out={} format={:?}",
        f.method.map(|m| m.name()),
        f.members,
        f.inflation,
        f.loc_radius,
        f.rotate,
        f.resample_threshold,
        f.jitter,
        f.seed,
        args.quantiles,
        args.members_out,
        args.output.format.map(|t| t.extension()),
    )
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
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    };
    let manifest = read(rec.dir.join(crate::io::rundir::MANIFEST))?;
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
                anyhow!(
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
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut rec = csv::ByteRecord::new();
    let mut starts = Vec::new();
    loop {
        let at = rdr.position().byte() as usize;
        if !rdr
            .read_byte_record(&mut rec)
            .with_context(|| format!("reading {}", path.display()))?
        {
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
                    crate::io::read_parquet(&p).with_context(|| format!("reading {}", p.display()))
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
                                anyhow!("table `{name}`: shards differ in column `{}`", col.name)
                            })
                    })
                    .collect::<Result<_>>()?;
                let mismatch = || {
                    anyhow!(
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
                    anyhow!(
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

/// Joins `vtwin assimilate --shard I/K` folders (already checked as one
/// whole set by `shard::check_set`, their files against their manifests).
pub fn merge(args: &MergeArgs, records: &[ShardRecord], started: DateTime<Utc>) -> Result<()> {
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
    let inputs: Vec<&Path> = args.dirs.iter().map(PathBuf::as_path).collect();
    let dir = super::create_run_dir(&args.out, args.force, &inputs)?;
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
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin merge: {} assimilate shards, {} patients, written to {}",
        folders.len(),
        folders[0].rec.total,
        final_dir.display()
    );
    Ok(())
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
        o.remove("outputs");
        o.remove("shard");
        o.insert(
            "command".into(),
            json!(crate::checkpoint::Invocation::command_line()),
        );
        o.insert("started".into(), json!(crate::manifest::rfc3339(started)));
        o.insert(
            "finished".into(),
            json!(crate::manifest::rfc3339(crate::manifest::now())),
        );
        o.insert(
            "merged_shards".into(),
            json!(
                folders
                    .iter()
                    .map(|f| json!({
                        "dir": f.rec.dir.display().to_string(),
                        "shard": format!("{}/{}", f.rec.shard.index, f.rec.shard.count),
                        "plan_sha256": f.manifest["plan_sha256"],
                        "adapter": f.manifest["adapter"],
                    }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    for (k, v) in totals {
        m["patients"][k] = json!(v);
    }
    m
}
