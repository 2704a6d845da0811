//! Checkpoints of `twin` and `assimilate` (`--checkpoint-every N`
//! analyses): a `twin::run::TwinState` as one file, `checkpoint.vtc` in the
//! run's resume folder (`crate::checkpoint`), replaced atomically after
//! every N-th analysis.
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

use crate::assim::AnalysisForm;
use crate::checkpoint::{CheckpointError, Identity, Invocation, check_identity, resume_dir};
use crate::engine::MemberStatus;
use crate::io::stale::CHECKPOINT;
use crate::io::{IoError, write_atomic};
use crate::twin::cycle::{Analysis, Application, Snapshot};
use crate::twin::run::{CycleRecord, EngineState, TwinState};
use crate::twin::setup::Setup;
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
}

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        self.u8(v.is_some() as u8);
        self.f64(v.unwrap_or(0.0));
    }
    fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        v.iter().for_each(|x| self.f64(*x));
    }
    fn pairs(&mut self, v: &[(f64, f64)]) {
        self.u64(v.len() as u64);
        for (a, b) in v {
            self.f64(*a);
            self.f64(*b);
        }
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn str(&mut self, v: &str) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v.as_bytes());
    }
    fn engine(&mut self, e: Option<&EngineState>) {
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
    fn snapshot(&mut self, s: &Snapshot) {
        self.f64s(s.state_mean.as_slice());
        self.f64s(s.state_var.as_slice());
        self.pairs(&s.obs);
        self.pairs(&s.params);
    }
    fn record(&mut self, r: &CycleRecord) {
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

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

type Short = String;

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Short> {
        let s = self
            .b
            .get(self.at..self.at.saturating_add(n))
            .ok_or_else(|| format!("the body ends early (byte {})", self.at))?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.take(1)?[0])
    }
    fn flag(&mut self) -> Result<bool, Short> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!(
                "byte {} holds {v} where a flag was due",
                self.at - 1
            )),
        }
    }
    fn u64(&mut self) -> Result<u64, Short> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }
    fn len(&mut self) -> Result<usize, Short> {
        let n = self.u64()? as usize;
        if n > self.b.len() {
            return Err(format!("a length of {n} exceeds the body"));
        }
        Ok(n)
    }
    fn u128(&mut self) -> Result<u128, Short> {
        let s = self.take(16)?;
        Ok(u128::from_le_bytes(s.try_into().unwrap_or([0; 16])))
    }
    fn f64(&mut self) -> Result<f64, Short> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn opt_f64(&mut self) -> Result<Option<f64>, Short> {
        let some = self.flag()?;
        let v = self.f64()?;
        Ok(some.then_some(v))
    }
    fn f64s(&mut self) -> Result<Vec<f64>, Short> {
        let n = self.len()?;
        (0..n).map(|_| self.f64()).collect()
    }
    fn pairs(&mut self) -> Result<Vec<(f64, f64)>, Short> {
        let n = self.len()?;
        (0..n).map(|_| Ok((self.f64()?, self.f64()?))).collect()
    }
    fn f32s(&mut self) -> Result<Vec<f32>, Short> {
        let n = self.len()?;
        Ok(self
            .take(4 * n)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn str(&mut self) -> Result<String, Short> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    fn engine(&mut self) -> Result<Option<EngineState>, Short> {
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
    fn snapshot(&mut self) -> Result<Snapshot, Short> {
        Ok(Snapshot {
            state_mean: DVector::from_vec(self.f64s()?),
            state_var: DVector::from_vec(self.f64s()?),
            obs: self.pairs()?,
            params: self.pairs()?,
        })
    }
    fn record(&mut self, setup: &Setup) -> Result<CycleRecord, Short> {
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

fn body(s: &TwinState) -> Vec<u8> {
    let mut w = W::default();
    w.u128(s.obs_rng);
    w.u128(s.filter_rng);
    w.u8(s.log_w.is_some() as u8);
    w.f64s(s.log_w.as_deref().unwrap_or(&[]));
    w.engine(Some(&s.ens));
    w.engine(s.truth.as_ref());
    w.engine(s.free.as_ref());
    w.u64(s.cycles.len() as u64);
    s.cycles.iter().for_each(|r| w.record(r));
    w.0
}

/// The checkpoint as bytes (module docs).
pub fn to_bytes(s: &TwinState, identity: &Identity, invocation: &Invocation) -> Vec<u8> {
    let body = body(s);
    let meta = TwinMeta {
        format: 1,
        identity: identity.clone(),
        invocation: invocation.clone(),
        analyses: s.cycles.len(),
        body_bytes: body.len() as u64,
        body_sha256: crate::scene::hex(&Sha256::digest(&body)),
    };
    // A struct of plain fields always serialises.
    let header = serde_json::to_vec(&meta).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + header.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&body);
    out
}

/// Writes the checkpoint of the run in temporary folder `temp` atomically,
/// replacing the last one.
pub fn write_into(
    temp: &Path,
    s: &TwinState,
    identity: &Identity,
    invocation: &Invocation,
) -> Result<PathBuf, IoError> {
    let dir = resume_dir(temp);
    fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
    let path = dir.join(CHECKPOINT);
    write_atomic(&path, &to_bytes(s, identity, invocation))?;
    Ok(path)
}

/// The header of a twin checkpoint file (magic, header, body hash checked).
pub fn read_meta(path: &Path) -> Result<(TwinMeta, Vec<u8>), CheckpointError> {
    let bytes = fs::read(path).map_err(|e| IoError::io(path, e))?;
    let bad = |reason: String| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad("it does not start with VTWINTW1".into()));
    }
    let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or([0; 8])) as usize;
    let Some(header) = bytes.get(16..16usize.saturating_add(hlen)) else {
        return Err(bad("the header is cut short".into()));
    };
    let meta: TwinMeta = serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
    if meta.format != 1 {
        return Err(bad(format!("format {} is not 1", meta.format)));
    }
    let body = bytes[16 + hlen..].to_vec();
    if body.len() as u64 != meta.body_bytes
        || crate::scene::hex(&Sha256::digest(&body)) != meta.body_sha256
    {
        return Err(bad(
            "its body's length or SHA-256 differs from its header (a damaged file)".into(),
        ));
    }
    Ok((meta, body))
}

/// Reads a twin checkpoint for the run `setup` on `now`, refusing one
/// written for another scene, plan, build or device.
pub fn read(path: &Path, now: &Identity, setup: &Setup) -> Result<TwinState, CheckpointError> {
    let (meta, body) = read_meta(path)?;
    check_identity(path, &meta.identity, now)?;
    parse(path, &meta, &body, setup)
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
