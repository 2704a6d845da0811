//! Checkpoints of `twin` and `assimilate` (`--checkpoint-every N`
//! analyses): a `twin::run::TwinState` as `checkpoint.vtc` in the run's
//! resume folder (`crate::drivers::checkpoint`), replaced atomically after every
//! N-th analysis.
//!
//! While a run goes on, the per-analysis records are not rewritten at each
//! checkpoint (that made a long twin quadratic): they are appended to
//! `twin-records.bin` beside it, one frame per checkpoint (record count
//! u64, length u64, the chained SHA-256 of the previous frame's hash and
//! this frame's bytes, then the records), and the checkpoint's header
//! ([`RecordsRef`]) names how many records and bytes of that file it
//! covers and the chain hash at that point. Reading checks the chain, and
//! a file longer than the header says (a kill -9 during or just after an
//! append, before the checkpoint was replaced) is cut back to the last
//! whole checkpoint before the run continues appending. The checkpoint a
//! finished run keeps (`inline`) holds its records itself.
//!
//! File layout: the 8 bytes `VTWINTW1`, a little-endian u64 header length,
//! the header as JSON ([`TwinMeta`]: identity, command line, analyses done,
//! body length and SHA-256), then the body, all little-endian: the
//! observation and filter stream word positions (u128 each), the particle
//! weights (flag, then count and f64s), the ensemble's engine state, then
//! the truth's and the free run's (each a flag, then step, state f32s,
//! parameter f32s and (code, step) u32 pairs), then one record per
//! analysis. A record keeps every f64 as its bits (NaN included), and of
//! its observations only what the run drew (error SD and value): the rest
//! is the run's observation schedule, which the scene fixes.
//!
//! Owns: this format. Never decides when to save (that is `twin::run`).

use crate::drivers::checkpoint::{
    CheckpointError, Identity, Invocation, check_identity, resume_dir,
};
use crate::engine::MemberStatus;
use crate::methods::assim::AnalysisForm;
use crate::methods::twin::cycle::{Analysis, Application, Snapshot};
use crate::methods::twin::run::{CycleRecord, EngineState, TwinState};
use crate::methods::twin::setup::Setup;
use crate::output::io::stale::CHECKPOINT;
use crate::output::io::{IoError, write_atomic};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VTWINTW1";

/// A twin checkpoint's header.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TwinMeta {
    pub format: u32,
    pub identity: Identity,
    pub invocation: Invocation,
    /// Analyses done when it was written.
    pub analyses: usize,
    pub body_bytes: u64,
    pub body_sha256: String,
    /// The records are in [`RECORDS`] beside the checkpoint (its body then
    /// ends with a record count of 0); absent: they are in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordsRef>,
}

/// The records file beside a checkpoint of a run that goes on.
pub const RECORDS: &str = "twin-records.bin";

/// How much of [`RECORDS`] a checkpoint covers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecordsRef {
    pub count: usize,
    pub bytes: u64,
    /// The chained SHA-256 after the last covered frame.
    pub chain_sha256: String,
}

/// The append side of [`RECORDS`] for a run that checkpoints.
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    count: usize,
    bytes: u64,
    chain: [u8; 32],
}

impl RecordLog {
    /// An empty records file in the resume folder of `temp` (one left by a
    /// run killed before its first checkpoint is emptied).
    pub fn fresh(temp: &Path) -> Result<RecordLog, IoError> {
        let dir = resume_dir(temp);
        fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
        let path = dir.join(RECORDS);
        fs::File::create(&path).map_err(|e| IoError::io(&path, e))?;
        Ok(RecordLog {
            path,
            count: 0,
            bytes: 0,
            chain: [0; 32],
        })
    }

    /// Appends the records of `cycles` not yet in the file as one frame,
    /// flushed to disk.
    fn append(&mut self, cycles: &[CycleRecord]) -> Result<RecordsRef, IoError> {
        use std::io::Write;
        let new = cycles.get(self.count..).unwrap_or(&[]);
        let mut w = W::default();
        new.iter().for_each(|r| w.record(r));
        let chunk = w.0;
        let chain = chain_next(&self.chain, &chunk);
        let mut frame = Vec::with_capacity(48 + chunk.len());
        frame.extend_from_slice(&(new.len() as u64).to_le_bytes());
        frame.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
        frame.extend_from_slice(&chain);
        frame.extend_from_slice(&chunk);
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| IoError::io(&self.path, e))?;
        f.write_all(&frame)
            .and_then(|()| f.sync_data())
            .map_err(|e| IoError::io(&self.path, e))?;
        self.count = cycles.len();
        self.bytes += frame.len() as u64;
        self.chain = chain;
        Ok(self.reference())
    }

    fn reference(&self) -> RecordsRef {
        RecordsRef {
            count: self.count,
            bytes: self.bytes,
            chain_sha256: crate::input::scene::hex(&self.chain),
        }
    }
}

fn chain_next(prev: &[u8; 32], chunk: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(chunk);
    h.finalize().into()
}

/// The records bytes (frames' payloads, concatenated) that `r` covers in
/// the records file `path`; with `truncate`, a longer file is cut back to
/// them. Returns the bytes and the log to append to.
fn load_records(
    path: &Path,
    r: &RecordsRef,
    truncate: bool,
) -> Result<(Vec<u8>, RecordLog), CheckpointError> {
    let bad = |reason: String| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let file = fs::read(path).map_err(|e| IoError::io(path, e))?;
    let Some(covered) = file.get(..r.bytes as usize) else {
        return Err(bad(format!(
            "it holds {} bytes; its checkpoint covers {} (a damaged file)",
            file.len(),
            r.bytes
        )));
    };
    let (mut at, mut count, mut chain) = (0usize, 0usize, [0u8; 32]);
    let mut out = Vec::with_capacity(covered.len());
    while at < covered.len() {
        let word = |i: usize| -> Option<u64> {
            covered
                .get(at + i..at + i + 8)
                .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
        };
        let (Some(n), Some(len)) = (word(0), word(8)) else {
            return Err(bad(format!("a frame is cut short at byte {at}")));
        };
        let Some(chunk) = covered.get(at + 48..(at + 48).saturating_add(len as usize)) else {
            return Err(bad(format!("a frame is cut short at byte {at}")));
        };
        chain = chain_next(&chain, chunk);
        if covered[at + 16..at + 48] != chain {
            return Err(bad(format!(
                "the frame at byte {at} fails its hash chain (a damaged file)"
            )));
        }
        out.extend_from_slice(chunk);
        count += n as usize;
        at += 48 + chunk.len();
    }
    if count != r.count || crate::input::scene::hex(&chain) != r.chain_sha256 {
        return Err(bad(
            "its records differ from what its checkpoint covers (a damaged file)".into(),
        ));
    }
    if truncate && file.len() as u64 > r.bytes {
        let f = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| IoError::io(path, e))?;
        f.set_len(r.bytes)
            .and_then(|()| f.sync_data())
            .map_err(|e| IoError::io(path, e))?;
    }
    Ok((
        out,
        RecordLog {
            path: path.to_path_buf(),
            count,
            bytes: r.bytes,
            chain,
        },
    ))
}

#[derive(Default)]
pub(crate) struct W(pub(crate) Vec<u8>);

impl W {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    pub(crate) fn opt_f64(&mut self, v: Option<f64>) {
        self.u8(v.is_some() as u8);
        self.f64(v.unwrap_or(0.0));
    }
    pub(crate) fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        v.iter().for_each(|x| self.f64(*x));
    }
    pub(crate) fn pairs(&mut self, v: &[(f64, f64)]) {
        self.u64(v.len() as u64);
        for (a, b) in v {
            self.f64(*a);
            self.f64(*b);
        }
    }
    pub(crate) fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub(crate) fn str(&mut self, v: &str) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v.as_bytes());
    }
    pub(crate) fn engine(&mut self, e: Option<&EngineState>) {
        self.u8(e.is_some() as u8);
        let Some(e) = e else { return };
        self.u64(e.step);
        self.f32s(&e.state);
        self.f32s(&e.params);
        self.u64(e.status.len() as u64);
        for s in &e.status {
            let (c, k) = s.to_code();
            self.0.extend_from_slice(&c.to_le_bytes());
            self.0.extend_from_slice(&k.to_le_bytes());
        }
    }
    pub(crate) fn snapshot(&mut self, s: &Snapshot) {
        self.f64s(s.state_mean.as_slice());
        self.f64s(s.state_var.as_slice());
        self.pairs(&s.obs);
        self.pairs(&s.params);
    }
    pub(crate) fn record(&mut self, r: &CycleRecord) {
        self.u64(r.cycle as u64);
        self.u64(r.step);
        self.f64(r.time);
        let a = &r.analysis;
        self.snapshot(&a.forecast);
        self.snapshot(&a.analysis);
        self.opt_f64(a.ess);
        self.u8(a.resampled as u8);
        self.f64(a.chi2);
        self.u8(match a.form {
            AnalysisForm::EnsembleSpace => 0,
            AnalysisForm::ObservationSpace => 1,
            AnalysisForm::Mixed => 2,
            AnalysisForm::Particle => 3,
        });
        match &a.application {
            None => self.u8(0),
            Some(app) => {
                self.u8(1);
                self.u8(app.on_device as u8);
                self.u8(app.state_read_back.is_some() as u8);
                self.str(app.state_read_back.as_deref().unwrap_or(""));
            }
        }
        self.u64(r.items.len() as u64);
        for it in &r.items {
            self.f64(it.sd);
            self.opt_f64(it.value);
        }
        self.opt_f64(r.rmse_forecast);
        self.opt_f64(r.rmse_analysis);
        self.opt_f64(r.rmse_free);
        self.u8(r.truth_obs.is_some() as u8);
        self.f64s(r.truth_obs.as_deref().unwrap_or(&[]));
        self.u8(r.scored as u8);
    }
}

pub(crate) struct R<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) at: usize,
}

pub(crate) type Short = String;

impl R<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], Short> {
        let s = self
            .b
            .get(self.at..self.at.saturating_add(n))
            .ok_or_else(|| format!("the body ends early (byte {})", self.at))?;
        self.at += n;
        Ok(s)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn flag(&mut self) -> Result<bool, Short> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!(
                "byte {} holds {v} where a flag was due",
                self.at - 1
            )),
        }
    }
    pub(crate) fn u64(&mut self) -> Result<u64, Short> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }
    pub(crate) fn len(&mut self) -> Result<usize, Short> {
        let n = self.u64()? as usize;
        if n > self.b.len() {
            return Err(format!("a length of {n} exceeds the body"));
        }
        Ok(n)
    }
    pub(crate) fn u128(&mut self) -> Result<u128, Short> {
        let s = self.take(16)?;
        Ok(u128::from_le_bytes(s.try_into().unwrap_or([0; 16])))
    }
    pub(crate) fn f64(&mut self) -> Result<f64, Short> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub(crate) fn opt_f64(&mut self) -> Result<Option<f64>, Short> {
        let some = self.flag()?;
        let v = self.f64()?;
        Ok(some.then_some(v))
    }
    pub(crate) fn f64s(&mut self) -> Result<Vec<f64>, Short> {
        let n = self.len()?;
        (0..n).map(|_| self.f64()).collect()
    }
    pub(crate) fn pairs(&mut self) -> Result<Vec<(f64, f64)>, Short> {
        let n = self.len()?;
        (0..n).map(|_| Ok((self.f64()?, self.f64()?))).collect()
    }
    pub(crate) fn f32s(&mut self) -> Result<Vec<f32>, Short> {
        let n = self.len()?;
        Ok(self
            .take(4 * n)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    pub(crate) fn str(&mut self) -> Result<String, Short> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    pub(crate) fn engine(&mut self) -> Result<Option<EngineState>, Short> {
        if !self.flag()? {
            return Ok(None);
        }
        let step = self.u64()?;
        let state = self.f32s()?;
        let params = self.f32s()?;
        let n = self.len()?;
        let status = self
            .take(8 * n)?
            .chunks_exact(8)
            .map(|c| {
                MemberStatus::from_code(
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        Ok(Some(EngineState {
            step,
            state,
            params,
            status,
        }))
    }
    pub(crate) fn snapshot(&mut self) -> Result<Snapshot, Short> {
        Ok(Snapshot {
            state_mean: DVector::from_vec(self.f64s()?),
            state_var: DVector::from_vec(self.f64s()?),
            obs: self.pairs()?,
            params: self.pairs()?,
        })
    }
    pub(crate) fn record(&mut self, setup: &Setup) -> Result<CycleRecord, Short> {
        let cycle = self.u64()? as usize;
        let step = self.u64()?;
        let time = self.f64()?;
        let forecast = self.snapshot()?;
        let analysis = self.snapshot()?;
        let ess = self.opt_f64()?;
        let resampled = self.flag()?;
        let chi2 = self.f64()?;
        let form = match self.u8()? {
            0 => AnalysisForm::EnsembleSpace,
            1 => AnalysisForm::ObservationSpace,
            2 => AnalysisForm::Mixed,
            3 => AnalysisForm::Particle,
            v => return Err(format!("analysis form {v} is unknown")),
        };
        let application = if self.flag()? {
            let on_device = self.flag()?;
            let some = self.flag()?;
            let why = self.str()?;
            Some(Application {
                on_device,
                state_read_back: some.then_some(why),
            })
        } else {
            None
        };
        let Some(ot) = cycle.checked_sub(1).and_then(|c| setup.schedule.get(c)) else {
            return Err(format!("analysis {cycle} is not in this run's schedule"));
        };
        if ot.step != step {
            return Err(format!(
                "analysis {cycle} was at step {step}; the schedule has it at {}",
                ot.step
            ));
        }
        let n = self.len()?;
        if n != ot.items.len() {
            return Err(format!(
                "analysis {cycle} holds {n} observations; the schedule has {}",
                ot.items.len()
            ));
        }
        let mut items = ot.items.clone();
        for it in &mut items {
            it.sd = self.f64()?;
            it.value = self.opt_f64()?;
        }
        let rmse_forecast = self.opt_f64()?;
        let rmse_analysis = self.opt_f64()?;
        let rmse_free = self.opt_f64()?;
        let has_truth = self.flag()?;
        let truth = self.f64s()?;
        let scored = self.flag()?;
        Ok(CycleRecord {
            cycle,
            step,
            time,
            analysis: Analysis {
                forecast,
                analysis,
                ess,
                resampled,
                chi2,
                form,
                application,
            },
            items,
            rmse_forecast,
            rmse_analysis,
            rmse_free,
            truth_obs: has_truth.then_some(truth),
            scored,
        })
    }
}

/// The body up to (not including) the record count.
fn body_head(s: &TwinState) -> Vec<u8> {
    let mut w = W::default();
    w.u128(s.obs_rng);
    w.u128(s.filter_rng);
    w.u8(s.log_w.is_some() as u8);
    w.f64s(s.log_w.as_deref().unwrap_or(&[]));
    w.engine(Some(&s.ens));
    w.engine(s.truth.as_ref());
    w.engine(s.free.as_ref());
    w.0
}

fn body(s: &TwinState) -> Vec<u8> {
    let mut w = W(body_head(s));
    w.u64(s.cycles.len() as u64);
    s.cycles.iter().for_each(|r| w.record(r));
    w.0
}

/// The checkpoint as bytes (module docs), its records in its body.
pub fn to_bytes(s: &TwinState, identity: &Identity, invocation: &Invocation) -> Vec<u8> {
    assemble(body(s), s.cycles.len(), identity, invocation, None)
}

fn assemble(
    body: Vec<u8>,
    analyses: usize,
    identity: &Identity,
    invocation: &Invocation,
    records: Option<RecordsRef>,
) -> Vec<u8> {
    let meta = TwinMeta {
        format: 1,
        identity: identity.clone(),
        invocation: invocation.clone(),
        analyses,
        body_bytes: body.len() as u64,
        body_sha256: crate::input::scene::hex(&Sha256::digest(&body)),
        records,
    };
    crate::drivers::checkpoint::frame(MAGIC, &meta, &body)
}

/// Writes the checkpoint of the run in temporary folder `temp`: appends
/// the records since the last one to `log` (flushed), then replaces the
/// checkpoint atomically.
pub fn write_into(
    temp: &Path,
    s: &TwinState,
    identity: &Identity,
    invocation: &Invocation,
    log: &mut RecordLog,
) -> Result<PathBuf, IoError> {
    let dir = resume_dir(temp);
    fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
    let path = dir.join(CHECKPOINT);
    let records = log.append(&s.cycles)?;
    let mut w = W(body_head(s));
    w.u64(0);
    let bytes = assemble(w.0, s.cycles.len(), identity, invocation, Some(records));
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Rewrites the checkpoint in the resume folder of `temp`, if any, with
/// its records in its body, so that it stands alone once the resume
/// folder is gone (the checkpoint a finished run keeps).
pub fn inline(temp: &Path) -> Result<(), CheckpointError> {
    let path = resume_dir(temp).join(CHECKPOINT);
    if !path.is_file() {
        return Ok(());
    }
    let (meta, body) = read_meta(&path)?;
    let Some(r) = &meta.records else {
        return Ok(());
    };
    let full = full_body(&path, &meta, body, r, false)?.0;
    let bytes = assemble(full, meta.analyses, &meta.identity, &meta.invocation, None);
    write_atomic(&path, &bytes)?;
    Ok(())
}

/// A body whose records are in the records file beside `path`, with them
/// put back in.
fn full_body(
    path: &Path,
    meta: &TwinMeta,
    body: Vec<u8>,
    r: &RecordsRef,
    truncate: bool,
) -> Result<(Vec<u8>, RecordLog), CheckpointError> {
    let records_path = path.with_file_name(RECORDS);
    let (records, log) = load_records(&records_path, r, truncate)?;
    if body.len() < 8 || body[body.len() - 8..] != [0; 8] || r.count != meta.analyses {
        return Err(CheckpointError::Format {
            path: path.to_path_buf(),
            reason: "its body does not end as one with external records does".into(),
        });
    }
    let mut full = body;
    full.truncate(full.len() - 8);
    full.extend_from_slice(&(r.count as u64).to_le_bytes());
    full.extend_from_slice(&records);
    Ok((full, log))
}

/// The header of a twin checkpoint file (magic, header, body hash checked).
pub fn read_meta(path: &Path) -> Result<(TwinMeta, Vec<u8>), CheckpointError> {
    let bytes = fs::read(path).map_err(|e| IoError::io(path, e))?;
    let (meta, body): (TwinMeta, _) = crate::drivers::checkpoint::unframe(path, &bytes, MAGIC)?;
    let body = body.to_vec();
    Ok((meta, body))
}

/// Reads a twin checkpoint for the run `setup` on `now`, refusing one
/// written for another scene, plan, build or device, to continue the run:
/// its records file is cut back to what the checkpoint covers, and the
/// log to append to is returned with the state.
pub fn read(
    path: &Path,
    now: &Identity,
    setup: &Setup,
) -> Result<(TwinState, RecordLog), CheckpointError> {
    let (meta, body) = read_meta(path)?;
    check_identity(path, &meta.identity, now)?;
    match meta.records.clone() {
        Some(r) => {
            let (full, log) = full_body(path, &meta, body, &r, true)?;
            Ok((parse(path, &meta, &full, setup)?, log))
        }
        None => {
            // A self-contained checkpoint: its records start the file anew.
            let s = parse(path, &meta, &body, setup)?;
            let temp = path
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."));
            let mut log = RecordLog::fresh(temp)?;
            log.append(&s.cycles)?;
            Ok((s, log))
        }
    }
}

/// Reads a twin checkpoint without comparing its identity with a run
/// (`vtwin fork` checks the scene and plan itself and may continue on
/// another build or device); its records are checked against `setup`'s
/// schedule.
pub fn read_unchecked(
    path: &Path,
    setup: &Setup,
) -> Result<(TwinMeta, TwinState), CheckpointError> {
    let (meta, body) = read_meta(path)?;
    let body = match &meta.records {
        Some(r) => full_body(path, &meta, body, r, false)?.0,
        None => body,
    };
    let s = parse(path, &meta, &body, setup)?;
    Ok((meta, s))
}

/// Whether the file at `path` starts as a twin checkpoint does.
pub fn is_twin_checkpoint(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == MAGIC
}

fn parse(
    path: &Path,
    meta: &TwinMeta,
    body: &[u8],
    setup: &Setup,
) -> Result<TwinState, CheckpointError> {
    let bad = |reason: String| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = R { b: body, at: 0 };
    let mut go = || -> Result<TwinState, Short> {
        let obs_rng = r.u128()?;
        let filter_rng = r.u128()?;
        let has_w = r.flag()?;
        let w = r.f64s()?;
        let ens = r.engine()?.ok_or("the ensemble's state is missing")?;
        let truth = r.engine()?;
        let free = r.engine()?;
        let n = r.len()?;
        let cycles = (0..n)
            .map(|_| r.record(setup))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TwinState {
            cycles,
            ens,
            truth,
            free,
            obs_rng,
            filter_rng,
            log_w: has_w.then_some(w),
        })
    };
    let s = go().map_err(bad)?;
    if r.at != body.len() || s.cycles.len() != meta.analyses {
        return Err(bad(
            "its body holds more or fewer records than its header".into()
        ));
    }
    Ok(s)
}

impl crate::drivers::checkpoint::FrameHeader for TwinMeta {
    fn format(&self) -> u32 {
        self.format
    }
    fn body_check(&self) -> (u64, &str) {
        (self.body_bytes, &self.body_sha256)
    }
}
