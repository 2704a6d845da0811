//! `vtwin assimilate --shard I/K` (patient runs); `assimilate_merge`
//! joins the shards.
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

use super::assimilate::AssimilateError;
use crate::drivers::shard::{Shard, ShardKind};
use crate::methods::twin::patients::{Patient, PatientOutput, Request};
use crate::output::io::RunDir;
use serde::Serialize;
use serde_json::Value;

type Result<T> = std::result::Result<T, AssimilateError>;

/// `bail!` with a typed error: returns [`AssimilateError::Invalid`].
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(AssimilateError::Invalid(format!($($t)*)))
    };
}

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
            .map(|a| crate::methods::twin::obs::step_of(a.time, dt).0)
            .collect();
        if out.forecasts.len() != self.request_index.len() {
            bail!(
                "internal: {} forecast rows for {} requests",
                out.forecasts.len(),
                self.request_index.len()
            );
        }
        let rows = ShardRows {
            analysis_step: steps,
            forecast_request: &self.request_index,
        };
        let rows = serde_json::to_value(rows).map_err(AssimilateError::Manifest)?;
        dir.write_json(ROWS_FILE, &rows)?;
        Ok(())
    }

    /// The manifest's `shard` record: the block, and what every shard of
    /// one run must share besides scene and seed.
    pub fn manifest_json(
        &self,
        shard: Shard,
        options: String,
        forecast_at_sha256: Option<String>,
    ) -> Value {
        let mut v = crate::drivers::shard::manifest_json(
            ShardKind::Assimilate,
            shard,
            &self.range,
            self.total,
        );
        v["forecast_at_sha256"] = Value::from(forecast_at_sha256);
        v["options"] = Value::from(options);
        v
    }
}

/// `shard_rows.json`: each analysis row's engine step and each forecast
/// row's index in the request file.
#[derive(Serialize)]
struct ShardRows<'a> {
    analysis_step: Vec<u64>,
    forecast_request: &'a [usize],
}
