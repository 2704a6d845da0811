//! Checkpoints of patient runs (`vtwin assimilate` with a `patient`
//! column and `--checkpoint-every N` stops): a
//! `twin::patients::PatientState` as `checkpoint.vtc` in the run's resume
//! folder (`crate::drivers::checkpoint`), replaced atomically after every N-th stop.
//!
//! File layout: the 8 bytes `VTWINPT1`, a little-endian u64 header length,
//! the header as JSON ([`PatientMeta`]: identity, command line, stops done,
//! body length and SHA-256), then the body, all little-endian: the stops
//! done (u64); per patient the filter and drift stream word positions
//! (u128 each); the patient engine's and the prior ensemble's states (a
//! flag, then step, state f32s, parameter f32s and (code, step) u32
//! pairs); per patient its result (name, failure flag, time and reason,
//! readings, censored, analyses, replaced), its started flag and its
//! moments (flag, mean f64s, covariance f64s column-major); per request
//! the two member-sample vectors of the patients and of the prior
//! ensemble; then the analysis rows so far. Every f64 is kept as its bits
//! (NaN included).
//!
//! The rows are rewritten whole at every checkpoint (a patient run has
//! one row per reading, far fewer per stop than a twin's records).
//!
//! Owns: this format. Never decides when to save (`twin::patients::run`).

use crate::drivers::checkpoint::{
    CheckpointError, Identity, Invocation, check_identity, resume_dir,
};
use crate::drivers::checkpoint_twin::{R, Short, W};
use crate::methods::twin::patients::PatientState;
use crate::methods::twin::patients::population::Moments;
use crate::methods::twin::patients::run::{AnalysisRow, PatientResult};
use crate::output::io::stale::CHECKPOINT;
use crate::output::io::{IoError, write_atomic};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VTWINPT1";

/// A patient checkpoint's header.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatientMeta {
    pub format: u32,
    pub identity: Identity,
    pub invocation: Invocation,
    /// Stops done when it was written.
    pub stops: usize,
    pub body_bytes: u64,
    pub body_sha256: String,
}

fn body(s: &PatientState) -> Vec<u8> {
    let mut w = W::default();
    w.u64(s.stops as u64);
    w.u64(s.rng.len() as u64);
    for (f, d) in &s.rng {
        w.u128(*f);
        w.u128(*d);
    }
    w.engine(Some(&s.ens));
    w.engine(s.prior.as_ref());
    w.u64(s.results.len() as u64);
    for r in &s.results {
        w.str(&r.name);
        w.u8(r.failed.is_some() as u8);
        let (t, why) = r.failed.clone().unwrap_or((0.0, String::new()));
        w.f64(t);
        w.str(&why);
        w.u64(r.readings as u64);
        w.u64(r.censored as u64);
        w.u64(r.analyses as u64);
        w.u64(r.replaced as u64);
    }
    for &b in &s.started {
        w.u8(b as u8);
    }
    for m in &s.moments {
        w.u8(m.is_some() as u8);
        if let Some(m) = m {
            w.f64s(m.mean.as_slice());
            w.f64s(m.cov.as_slice());
        }
    }
    w.u64(s.samples.len() as u64);
    for pair in s.samples.iter().chain(&s.prior_samples) {
        w.f64s(&pair[0]);
        w.f64s(&pair[1]);
    }
    w.u64(s.analyses.len() as u64);
    for a in &s.analyses {
        w.u64(a.patient as u64);
        w.f64(a.time);
        w.str(&a.observable);
        w.f64(a.observed);
        w.f64(a.value);
        w.f64(a.sd);
        w.u8(a.censored as u8);
        w.f64(a.forecast.0);
        w.f64(a.forecast.1);
        w.f64(a.analysis.0);
        w.f64(a.analysis.1);
    }
    w.0
}

fn parse(b: &[u8]) -> Result<PatientState, Short> {
    let mut r = R { b, at: 0 };
    let stops = r.u64()? as usize;
    let np = r.len()?;
    let rng = (0..np)
        .map(|_| Ok((r.u128()?, r.u128()?)))
        .collect::<Result<Vec<_>, Short>>()?;
    let ens = r.engine()?.ok_or("the patient engine's state is missing")?;
    let prior = r.engine()?;
    if r.len()? != np {
        return Err("it holds results for another number of patients".into());
    }
    let mut results = Vec::with_capacity(np);
    for _ in 0..np {
        let name = r.str()?;
        let failed = r.flag()?;
        let t = r.f64()?;
        let why = r.str()?;
        results.push(PatientResult {
            name,
            failed: failed.then_some((t, why)),
            readings: r.u64()? as usize,
            censored: r.u64()? as usize,
            analyses: r.u64()? as usize,
            replaced: r.u64()? as usize,
        });
    }
    let started = (0..np).map(|_| r.flag()).collect::<Result<Vec<_>, _>>()?;
    let mut moments = Vec::with_capacity(np);
    for _ in 0..np {
        if !r.flag()? {
            moments.push(None);
            continue;
        }
        let mean = r.f64s()?;
        let cov = r.f64s()?;
        let d = mean.len();
        if cov.len() != d * d {
            return Err("a covariance is not square".into());
        }
        moments.push(Some(Moments {
            mean: DVector::from_vec(mean),
            cov: DMatrix::from_vec(d, d, cov),
        }));
    }
    let nr = r.len()?;
    let mut pairs = (0..2 * nr)
        .map(|_| Ok([r.f64s()?, r.f64s()?]))
        .collect::<Result<Vec<_>, Short>>()?;
    let prior_samples = pairs.split_off(nr);
    let samples = pairs;
    let na = r.len()?;
    let mut analyses = Vec::with_capacity(na);
    for _ in 0..na {
        analyses.push(AnalysisRow {
            patient: r.u64()? as usize,
            time: r.f64()?,
            observable: r.str()?,
            observed: r.f64()?,
            value: r.f64()?,
            sd: r.f64()?,
            censored: r.flag()?,
            forecast: (r.f64()?, r.f64()?),
            analysis: (r.f64()?, r.f64()?),
        });
    }
    if r.at != b.len() {
        return Err(format!("{} bytes follow the last row", b.len() - r.at));
    }
    Ok(PatientState {
        stops,
        ens,
        prior,
        results,
        started,
        moments,
        samples,
        prior_samples,
        analyses,
        rng,
    })
}

/// The checkpoint as bytes (module docs).
pub fn to_bytes(s: &PatientState, identity: &Identity, invocation: &Invocation) -> Vec<u8> {
    let body = body(s);
    let meta = PatientMeta {
        format: 1,
        identity: identity.clone(),
        invocation: invocation.clone(),
        stops: s.stops,
        body_bytes: body.len() as u64,
        body_sha256: crate::input::scene::hex(&Sha256::digest(&body)),
    };
    crate::drivers::checkpoint::frame(MAGIC, &meta, &body)
}

/// Replaces the checkpoint in the resume folder of the temporary folder
/// `temp` atomically.
pub fn write_into(
    temp: &Path,
    s: &PatientState,
    identity: &Identity,
    invocation: &Invocation,
) -> Result<PathBuf, IoError> {
    let dir = resume_dir(temp);
    fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
    let path = dir.join(CHECKPOINT);
    write_atomic(&path, &to_bytes(s, identity, invocation))?;
    Ok(path)
}

/// The header and body of a patient checkpoint file (magic, header and
/// body hash checked).
pub fn read_meta(path: &Path) -> Result<(PatientMeta, Vec<u8>), CheckpointError> {
    let bytes = fs::read(path).map_err(|e| IoError::io(path, e))?;
    let (meta, body): (PatientMeta, _) = crate::drivers::checkpoint::unframe(path, &bytes, MAGIC)?;
    let body = body.to_vec();
    Ok((meta, body))
}

/// Reads a patient checkpoint for a run on `now`, refusing one written for
/// another scene, plan, inputs, build or device.
pub fn read(path: &Path, now: &Identity) -> Result<PatientState, CheckpointError> {
    let (meta, body) = read_meta(path)?;
    check_identity(path, &meta.identity, now)?;
    let s = parse(&body).map_err(|reason| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    })?;
    if s.stops != meta.stops {
        return Err(CheckpointError::Format {
            path: path.to_path_buf(),
            reason: "its body and header name different stops".into(),
        });
    }
    Ok(s)
}

/// Whether the file at `path` starts as a patient checkpoint does.
pub fn is_patient_checkpoint(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == MAGIC
}

impl crate::drivers::checkpoint::FrameHeader for PatientMeta {
    fn format(&self) -> u32 {
        self.format
    }
    fn body_check(&self) -> (u64, &str) {
        (self.body_bytes, &self.body_sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemberStatus;
    use crate::methods::twin::run::EngineState;

    fn state() -> PatientState {
        let e = EngineState {
            step: 42,
            state: vec![1.5, f32::NAN, -0.0],
            params: vec![2.0, 3.0],
            status: vec![MemberStatus::Ok, MemberStatus::Ok],
        };
        PatientState {
            stops: 16,
            ens: e.clone(),
            prior: Some(e),
            results: vec![PatientResult {
                name: "p1".into(),
                failed: Some((3.5, "why".into())),
                readings: 4,
                censored: 1,
                analyses: 2,
                replaced: 3,
            }],
            started: vec![true],
            moments: vec![Some(Moments {
                mean: DVector::from_vec(vec![0.1, 0.2]),
                cov: DMatrix::from_vec(2, 2, vec![1.0, 0.5, 0.5, 2.0]),
            })],
            samples: vec![[vec![1.0, f64::NAN], vec![]]],
            prior_samples: vec![[vec![], vec![4.0]]],
            analyses: vec![AnalysisRow {
                patient: 0,
                time: 1.25,
                observable: "tumour".into(),
                observed: 7.0,
                value: f64::NAN,
                sd: 0.3,
                censored: true,
                forecast: (1.0, 2.0),
                analysis: (f64::NAN, 4.0),
            }],
            rng: vec![(u128::MAX - 3, 17)],
        }
    }

    #[test]
    fn a_state_round_trips_bit_for_bit() {
        let s = state();
        let bytes = body(&s);
        let back = parse(&bytes).unwrap();
        // NaN != NaN: compare the encodings, then a NaN-free field.
        assert_eq!(body(&back), bytes);
        assert_eq!(back.rng, s.rng);
        assert_eq!(back.results, s.results);
        assert!(back.analyses[0].value.is_nan());
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn a_damaged_file_and_another_identity_are_refused() {
        let d = std::env::temp_dir().join(format!("vtwin-ckpt-pt-{}", std::process::id()));
        let id = Identity {
            scene_sha256: "a".into(),
            plan_sha256: "b".into(),
            commit: None,
            backend: "cpu".into(),
            adapter: serde_json::Value::Null,
        };
        let inv = Invocation {
            cwd: d.clone(),
            argv: vec!["assimilate".into()],
        };
        let path = write_into(&d, &state(), &id, &inv).unwrap();
        assert!(is_patient_checkpoint(&path));
        assert_eq!(read(&path, &id).unwrap().stops, 16);
        let other = Identity {
            plan_sha256: "c".into(),
            ..id.clone()
        };
        assert!(matches!(
            read(&path, &other),
            Err(CheckpointError::Mismatch { .. })
        ));
        let mut bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            read(&path, &id),
            Err(CheckpointError::Format { .. })
        ));
        let _ = fs::remove_dir_all(&d);
    }
}
