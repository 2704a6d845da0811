//! Checkpoints of a running ensemble, for `vtwin resume` and `vtwin fork`.
//!
//! A run started with `--checkpoint-every N` keeps, inside its temporary
//! folder (`io::RunDir`), a folder [`stale::RESUME_DIR`] holding
//! - [`stale::RUN_RECORD`]: the command line and working folder of the
//!   run ([`Invocation`]), written before the first step, so that
//!   `vtwin resume` can run the same command again;
//! - [`stale::CHECKPOINT`]: the latest checkpoint, replaced every N steps
//!   by writing a temporary file and renaming it (a checkpoint that exists
//!   is whole; its body's SHA-256 is checked on reading as well).
//!
//! A checkpoint holds everything that determines the rest of the run:
//! the step index (the random numbers are counter-based, Philox keyed by
//! seed, member, site, step and stream, so the step and the plan's keys
//! are the whole random-number position), every member's state words,
//! parameters and status, and the observations recorded so far. It records
//! what it is only valid for ([`Identity`]: scene hash, plan hash, commit,
//! backend and adapter) and is refused on any mismatch: a resumed run
//! equals an uninterrupted one byte for byte only on the same program,
//! scene and device.
//!
//! File layout (`checkpoint.vtc`): the 8 bytes `VTWINCK1`, a little-endian
//! u64 header length, the header as JSON ([`Meta`]), then the body: state
//! (members × state_len f32), parameters (members × params f32), status
//! (members × (code u32, step u32)), then per observation its step (u64)
//! and its frame (members × (ops + 1) f32); all little-endian.
//!
//! Owns: the checkpoint's format, capturing it from and restoring it into
//! an `Engine`, and finding a run's kept temporary folder. Never imports
//! wgpu; never decides what a command writes.

use crate::engine::record::{Checkpointing, Recording, record_from};
use crate::engine::{Engine, EngineError, MemberStatus};
use crate::output::io::stale::{self, CHECKPOINT, RESUME_DIR, RUN_RECORD};
use crate::output::io::{IoError, write_atomic};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VTWINCK1";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{}: not a vtwin checkpoint: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    #[error(
        "{}: the checkpoint was written for a different {what} ({had}; now {now}); \
         it cannot continue this run (use --force with a fresh `vtwin run` instead)",
        path.display()
    )]
    Mismatch {
        path: PathBuf,
        what: &'static str,
        had: String,
        now: String,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// How a run was started: enough for `vtwin resume` to start it again.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Invocation {
    /// The working folder (relative paths in `argv` are relative to it).
    pub cwd: PathBuf,
    /// The arguments after the program name, the command first (`run`).
    pub argv: Vec<String>,
}

/// A command a host runs in-process (the Python package): its command
/// line, and the folder of temporary input files the host wrote for it.
struct Hosted {
    argv: Vec<String>,
    inputs: Option<PathBuf>,
}

thread_local! {
    static HOSTED: std::cell::RefCell<Option<Hosted>> = const { std::cell::RefCell::new(None) };
}

/// Where [`record_invocation`] copies a host's input files, inside the
/// resume folder (so they last as long as the kept folder does).
pub const INPUTS_DIR: &str = "inputs";

impl Invocation {
    /// Runs `f` on this thread as the command `argv` (program name first):
    /// manifests and resume records written meanwhile name it, not the
    /// host process's own command line, so a command run from Python
    /// records what the same command run by `vtwin` records. Files of
    /// `argv` inside `inputs` (temporary files the host wrote) are copied
    /// into a checkpointed run's folder by [`record_invocation`].
    pub fn scoped<R>(argv: Vec<String>, inputs: Option<PathBuf>, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Hosted>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                HOSTED.with(|h| *h.borrow_mut() = previous);
            }
        }
        let previous = HOSTED.with(|h| h.borrow_mut().replace(Hosted { argv, inputs }));
        let _restore = Restore(previous);
        f()
    }

    /// The command line of the command this thread runs, program name
    /// first: the host's (see [`scoped`](Self::scoped)), else the process's.
    pub fn command_line() -> Vec<String> {
        HOSTED
            .with(|h| h.borrow().as_ref().map(|h| h.argv.clone()))
            .unwrap_or_else(|| std::env::args().collect())
    }

    /// This command's command line and working folder.
    pub fn current() -> Result<Invocation, IoError> {
        let cwd = std::env::current_dir().map_err(|e| IoError::io(Path::new("."), e))?;
        Ok(Invocation {
            cwd,
            argv: Self::command_line().into_iter().skip(1).collect(),
        })
    }
}

/// Writes the resume record of a new checkpointed run into its temporary
/// folder `temp` and returns it: [`Invocation::current`], where a host's
/// temporary input files are first copied into the resume folder and the
/// record names the copies, so that `vtwin resume` finds them after the
/// host's own temporary folder is gone (the host killed, say). They go
/// with the resume folder when the run finishes.
pub fn record_invocation(temp: &Path) -> Result<Invocation, IoError> {
    let mut inv = Invocation::current()?;
    let inputs = HOSTED.with(|h| h.borrow().as_ref().and_then(|h| h.inputs.clone()));
    if let Some(inputs) = inputs {
        let inputs = std::path::absolute(&inputs).map_err(|e| IoError::io(&inputs, e))?;
        let dir = resume_dir(temp).join(INPUTS_DIR);
        for a in inv.argv.iter_mut() {
            let path = Path::new(a.as_str());
            let Ok(abs) = std::path::absolute(path) else {
                continue;
            };
            if abs.parent() != Some(inputs.as_path()) || !abs.is_file() {
                continue;
            }
            let Some(name) = abs.file_name() else {
                continue;
            };
            fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
            let copy = dir.join(name);
            fs::copy(&abs, &copy).map_err(|e| IoError::io(&copy, e))?;
            *a = copy.to_string_lossy().into_owned();
        }
    }
    write_invocation(temp, &inv)?;
    Ok(inv)
}

/// What a checkpoint is valid for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub scene_sha256: String,
    pub plan_sha256: String,
    pub commit: Option<String>,
    pub backend: String,
    /// The GPU adapter (`gpu::context::AdapterSummary` as JSON), null on CPU.
    pub adapter: Value,
}

/// A checkpoint's header.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    pub format: u32,
    pub identity: Identity,
    pub invocation: Invocation,
    /// Steps taken when it was written.
    pub step: u64,
    pub members: usize,
    pub state_len: usize,
    pub n_params: usize,
    /// Values per member per observation frame (observables + 1).
    pub frame_stride: usize,
    pub observations: usize,
    pub body_bytes: u64,
    pub body_sha256: String,
}

/// A whole checkpoint (see the module docs).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub meta: Meta,
    pub state: Vec<f32>,
    pub params: Vec<f32>,
    pub status: Vec<MemberStatus>,
    /// Steps of the observations recorded so far.
    pub steps: Vec<u64>,
    pub frames: Vec<Vec<f32>>,
}

/// The resume folder inside a temporary run folder.
pub fn resume_dir(temp: &Path) -> PathBuf {
    temp.join(RESUME_DIR)
}

/// The checkpoint path inside a temporary run folder.
pub fn checkpoint_path(temp: &Path) -> PathBuf {
    resume_dir(temp).join(CHECKPOINT)
}

/// Writes the resume record into a fresh temporary run folder.
pub fn write_invocation(temp: &Path, inv: &Invocation) -> Result<(), IoError> {
    let dir = resume_dir(temp);
    fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
    let path = dir.join(RUN_RECORD);
    let text = serde_json::to_string_pretty(inv).map_err(|source| IoError::Json {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, text.as_bytes())
}

/// The resume record of a kept temporary run folder.
pub fn read_invocation(temp: &Path) -> Result<Invocation, IoError> {
    let path = resume_dir(temp).join(RUN_RECORD);
    let text = fs::read(&path).map_err(|e| IoError::io(&path, e))?;
    serde_json::from_slice(&text).map_err(|source| IoError::Json { path, source })
}

/// Removes what a killed checkpoint write may have left (temporary files
/// beside the checkpoint) in a kept folder before it is continued.
pub fn clean_partial(temp: &Path) {
    let Ok(entries) = fs::read_dir(resume_dir(temp)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != RUN_RECORD
            && name != CHECKPOINT
            && name != crate::drivers::checkpoint_twin::RECORDS
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Before the folder of a run whose checkpoints only serve `vtwin resume`
/// (`cohort`) is finished: the resume folder goes, nothing of it
/// stays in the output.
pub fn discard(temp: &Path) -> Result<(), IoError> {
    let dir = resume_dir(temp);
    if !dir.exists() {
        return Ok(());
    }
    fs::remove_dir_all(&dir).map_err(|e| IoError::io(&dir, e))
}

/// Where [`TaskCheckpoints`] keeps finished tasks, inside the resume folder.
pub const DONE_DIR: &str = "done";

/// Checkpoints of a command made of several engine runs in a fixed order
/// (`cohort`: one per arm and chunk of patients), each a task named by a
/// key. A finished task's statuses and observations are kept in
/// `done/<key>.vtc` (a checkpoint without state or parameters, so it stays
/// small); the running task's checkpoint is the usual `checkpoint.vtc`,
/// replaced every `every` steps. Continuing, a finished task is read back
/// instead of run, and the running one continues from its checkpoint: the
/// recordings equal an uninterrupted run's bit for bit.
#[derive(Clone, Debug)]
pub struct TaskCheckpoints {
    /// The temporary run folder.
    pub temp: PathBuf,
    pub every: u64,
    /// Scene, build and device (its `plan_sha256` is set per task).
    pub identity: Identity,
    pub invocation: Invocation,
}

impl TaskCheckpoints {
    /// Runs `engine` (fresh, at step 0) to its plan's end as task `key`,
    /// or reads the task back when it finished before, or continues it
    /// from its checkpoint. A checkpoint of another scene, build or device
    /// is refused; one of another task (another plan) is left alone.
    pub fn record(&self, engine: &mut dyn Engine, key: &str) -> Result<Recording, CheckpointError> {
        let plan = engine.plan().clone();
        let id = Identity {
            plan_sha256: plan.sha256.clone(),
            ..self.identity.clone()
        };
        let done = resume_dir(&self.temp)
            .join(DONE_DIR)
            .join(format!("{key}.vtc"));
        let stride = plan.observables.ops.len() + 1;
        if done.is_file() {
            let c = Checkpoint::read(&done)?;
            c.check(&done, &id)?;
            if c.meta.members != plan.members as usize
                || c.meta.frame_stride != stride
                || c.steps != plan.observation_steps()
            {
                return Err(CheckpointError::Format {
                    path: done,
                    reason: "its shape differs from the task's plan".into(),
                });
            }
            let times = c.steps.iter().map(|&s| plan.model.time_at(s)).collect();
            return Ok(Recording {
                steps: c.steps,
                times,
                frames: c.frames,
                status: c.status,
                n_ops: plan.observables.ops.len(),
            });
        }
        let current = checkpoint_path(&self.temp);
        let mut start = None;
        if current.is_file() {
            let c = Checkpoint::read(&current)?;
            let mine = c.meta.identity.plan_sha256 == id.plan_sha256;
            let other = Identity {
                plan_sha256: c.meta.identity.plan_sha256.clone(),
                ..id.clone()
            };
            c.check(&current, if mine { &id } else { &other })?;
            if mine {
                c.restore(engine)?;
                start = Some((c.steps, c.frames));
            }
        }
        let (steps0, frames0) = start.unwrap_or_default();
        let mut save = |e: &mut dyn Engine,
                        steps: &[u64],
                        frames: &[Vec<f32>]|
         -> Result<(), CheckpointError> {
            Checkpoint::capture(e, steps, frames, id.clone(), self.invocation.clone())?
                .write_into(&self.temp)?;
            Ok(())
        };
        let rec = record_from(
            engine,
            steps0,
            frames0,
            Some(Checkpointing {
                every: self.every,
                save: &mut save,
            }),
            &mut |_| {},
            &mut |_, _, _| Ok(()),
        )?;
        let finished = Checkpoint {
            meta: Meta {
                format: 1,
                identity: id.clone(),
                invocation: self.invocation.clone(),
                step: engine.step(),
                members: plan.members as usize,
                state_len: 0,
                n_params: 0,
                frame_stride: stride,
                observations: rec.steps.len(),
                body_bytes: 0,
                body_sha256: String::new(),
            },
            state: Vec::new(),
            params: Vec::new(),
            status: rec.status.clone(),
            steps: rec.steps.clone(),
            frames: rec.frames.clone(),
        };
        let parent = resume_dir(&self.temp).join(DONE_DIR);
        fs::create_dir_all(&parent).map_err(|e| IoError::io(&parent, e))?;
        write_atomic(&done, &finished.to_bytes())?;
        Ok(rec)
    }
}

/// Before a run's (`run`, `sweep`, `twin`, single-ensemble `assimilate`)
/// folder is finished: the latest checkpoint moves to
/// `checkpoint.vtc` at the top of the run (hashed into the manifest, the
/// state `vtwin fork` starts from) and the resume folder goes.
pub fn finalize(temp: &Path) -> Result<(), IoError> {
    let dir = resume_dir(temp);
    if !dir.exists() {
        return Ok(());
    }
    let ck = dir.join(CHECKPOINT);
    if ck.is_file() {
        let to = temp.join(CHECKPOINT);
        fs::rename(&ck, &to).map_err(|e| IoError::io(&to, e))?;
    }
    fs::remove_dir_all(&dir).map_err(|e| IoError::io(&dir, e))
}

/// The kept temporary folder of the interrupted run whose `--out` was
/// `out`: a `.<name>.tmp-<pid>-<nanos>` sibling holding a resume record
/// whose process is no longer running; the newest when there are several.
pub fn find_kept(out: &Path) -> Result<Option<PathBuf>, IoError> {
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(IoError::invalid(out, "path has no folder name"));
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = fs::read_dir(&parent) else {
        return Ok(None);
    };
    let prefix = format!(".{name}.tmp-");
    let mut best: Option<(u128, PathBuf)> = None;
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(tail) = n.strip_prefix(&prefix) else {
            continue;
        };
        let Some((_, nanos)) = tail.split_once('-') else {
            continue;
        };
        let Ok(nanos) = nanos.parse::<u128>() else {
            continue;
        };
        let path = e.path();
        if !stale::resumable(&path) || stale::owner_alive(&path) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| nanos > *b) {
            best = Some((nanos, path));
        }
    }
    Ok(best.map(|(_, p)| p))
}

fn put_f32(out: &mut Vec<u8>, v: &[f32]) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

impl Checkpoint {
    /// Reads everything a checkpoint holds from `engine`, with the
    /// observations recorded so far.
    pub fn capture(
        engine: &mut dyn Engine,
        steps: &[u64],
        frames: &[Vec<f32>],
        identity: Identity,
        invocation: Invocation,
    ) -> Result<Checkpoint, EngineError> {
        let plan = engine.plan();
        let meta = Meta {
            format: 1,
            identity,
            invocation,
            step: engine.step(),
            members: plan.members as usize,
            state_len: plan.model.state_len(),
            n_params: plan.n_params(),
            frame_stride: plan.observables.ops.len() + 1,
            observations: steps.len(),
            body_bytes: 0,
            body_sha256: String::new(),
        };
        Ok(Checkpoint {
            meta,
            state: engine.read_state()?,
            params: engine.read_params()?,
            status: engine.status()?,
            steps: steps.to_vec(),
            frames: frames.to_vec(),
        })
    }

    /// Puts the state, parameters, status and step into `engine` (made for
    /// a plan of the same shape), so that it continues where this one
    /// stopped.
    pub fn restore(&self, engine: &mut dyn Engine) -> Result<(), EngineError> {
        engine.write_state(&self.state)?;
        engine.write_params(&self.params)?;
        engine.write_status(&self.status)?;
        engine.set_step(self.meta.step);
        Ok(())
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(
            4 * (self.state.len() + self.params.len() + 2 * self.status.len())
                + self.frames.iter().map(|f| 8 + 4 * f.len()).sum::<usize>(),
        );
        put_f32(&mut b, &self.state);
        put_f32(&mut b, &self.params);
        for s in &self.status {
            let (c, k) = s.to_code();
            b.extend_from_slice(&c.to_le_bytes());
            b.extend_from_slice(&k.to_le_bytes());
        }
        for (s, f) in self.steps.iter().zip(&self.frames) {
            b.extend_from_slice(&s.to_le_bytes());
            put_f32(&mut b, f);
        }
        b
    }

    /// The checkpoint as bytes (module docs), header hashes filled in.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.body();
        let mut meta = self.meta.clone();
        meta.body_bytes = body.len() as u64;
        meta.body_sha256 = crate::input::scene::hex(&Sha256::digest(&body));
        frame(MAGIC, &meta, &body)
    }

    /// Writes the checkpoint of the run in temporary folder `temp`
    /// atomically (temporary name, then rename), replacing the last one.
    pub fn write_into(&self, temp: &Path) -> Result<PathBuf, IoError> {
        let dir = resume_dir(temp);
        fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
        let path = dir.join(CHECKPOINT);
        write_atomic(&path, &self.to_bytes())?;
        Ok(path)
    }

    /// Reads and checks a checkpoint file (magic, header, lengths, body hash).
    pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = fs::read(path).map_err(|e| IoError::io(path, e))?;
        let bad = |reason: String| CheckpointError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let (meta, body): (Meta, _) = unframe(path, &bytes, MAGIC)?;
        let (m, n, np, stride) = (
            meta.members,
            meta.state_len,
            meta.n_params,
            meta.frame_stride,
        );
        let want = 4 * (m * n + m * np + 2 * m) + meta.observations * (8 + 4 * m * stride);
        if body.len() != want {
            return Err(bad(format!(
                "the body holds {} bytes where its header implies {want}",
                body.len()
            )));
        }
        let mut at = 0usize;
        let mut take = |len: usize| {
            let s = &body[at..at + len];
            at += len;
            s
        };
        let f32s = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let u32s = |b: &[u8]| -> Vec<u32> {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let state = f32s(take(4 * m * n));
        let params = f32s(take(4 * m * np));
        let status = u32s(take(8 * m))
            .chunks(2)
            .map(|c| MemberStatus::from_code(c[0], c[1]))
            .collect();
        let mut steps = Vec::with_capacity(meta.observations);
        let mut frames = Vec::with_capacity(meta.observations);
        for _ in 0..meta.observations {
            let s = take(8);
            steps.push(u64::from_le_bytes([
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
            ]));
            frames.push(f32s(take(4 * m * stride)));
        }
        Ok(Checkpoint {
            meta,
            state,
            params,
            status,
            steps,
            frames,
        })
    }

    /// Refuses a checkpoint written for another scene, plan, program or
    /// device than `now`.
    pub fn check(&self, path: &Path, now: &Identity) -> Result<(), CheckpointError> {
        check_identity(path, &self.meta.identity, now)
    }
}

/// Refuses a checkpoint at `path` written for `had` when the run is `now`
/// (another scene, plan, program or device).
pub fn check_identity(path: &Path, had: &Identity, now: &Identity) -> Result<(), CheckpointError> {
    let mismatch = |what, a: String, b: String| CheckpointError::Mismatch {
        path: path.to_path_buf(),
        what,
        had: a,
        now: b,
    };
    if had.scene_sha256 != now.scene_sha256 {
        return Err(mismatch(
            "scene (the scene file changed)",
            format!("scene sha256 {}", had.scene_sha256),
            now.scene_sha256.clone(),
        ));
    }
    if had.plan_sha256 != now.plan_sha256 {
        return Err(mismatch(
            "plan",
            format!("plan sha256 {}", had.plan_sha256),
            now.plan_sha256.clone(),
        ));
    }
    if had.commit != now.commit {
        return Err(mismatch(
            "vtwin build",
            format!("commit {:?}", had.commit),
            format!("{:?}", now.commit),
        ));
    }
    if had.backend != now.backend || had.adapter != now.adapter {
        return Err(mismatch(
            "backend or adapter",
            format!("{} {}", had.backend, had.adapter),
            format!("{} {}", now.backend, now.adapter),
        ));
    }
    Ok(())
}

/// What the frame needs from a checkpoint header: its format number and
/// the length and SHA-256 of the body it describes.
pub(crate) trait FrameHeader: Serialize + serde::de::DeserializeOwned {
    fn format(&self) -> u32;
    fn body_check(&self) -> (u64, &str);
}

impl FrameHeader for Meta {
    fn format(&self) -> u32 {
        self.format
    }
    fn body_check(&self) -> (u64, &str) {
        (self.body_bytes, &self.body_sha256)
    }
}

/// The frame every checkpoint file shares: an 8-byte magic, the JSON
/// header's length (u64, little-endian), the header, then the body.
pub(crate) fn frame(magic: &[u8; 8], header: &impl Serialize, body: &[u8]) -> Vec<u8> {
    // A struct of plain fields always serialises.
    let header = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + header.len() + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

/// The header and body of the framed file `bytes` read from `path`:
/// magic, header, format 1 and the body's length and SHA-256 checked.
pub(crate) fn unframe<'a, H: FrameHeader>(
    path: &Path,
    bytes: &'a [u8],
    magic: &[u8; 8],
) -> Result<(H, &'a [u8]), CheckpointError> {
    let bad = |reason: String| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 16 || &bytes[..8] != magic {
        return Err(bad(format!(
            "it does not start with {}",
            String::from_utf8_lossy(magic)
        )));
    }
    let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or([0; 8])) as usize;
    let Some(header) = bytes.get(16..16usize.saturating_add(hlen)) else {
        return Err(bad("the header is cut short".into()));
    };
    let meta: H = serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
    if meta.format() != 1 {
        return Err(bad(format!("format {} is not 1", meta.format())));
    }
    let body = &bytes[16 + hlen..];
    let (len, sha) = meta.body_check();
    if body.len() as u64 != len || crate::input::scene::hex(&Sha256::digest(body)) != sha {
        return Err(bad(
            "its body's length or SHA-256 differs from its header (a damaged file)".into(),
        ));
    }
    Ok((meta, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            meta: Meta {
                format: 1,
                identity: Identity {
                    scene_sha256: "s".into(),
                    plan_sha256: "p".into(),
                    commit: Some("c".into()),
                    backend: "cpu".into(),
                    adapter: Value::Null,
                },
                invocation: Invocation {
                    cwd: "/x".into(),
                    argv: vec!["run".into(), "a.toml".into()],
                },
                step: 7,
                members: 2,
                state_len: 3,
                n_params: 1,
                frame_stride: 2,
                observations: 2,
                body_bytes: 0,
                body_sha256: String::new(),
            },
            state: vec![1.0, -2.5, 3.0, f32::NAN, 5.0, 6.0],
            params: vec![0.25, 0.5],
            status: vec![MemberStatus::Ok, MemberStatus::Diverged { step: 5 }],
            steps: vec![0, 5],
            frames: vec![vec![1.0, 0.0, 2.0, 0.0], vec![3.0, 0.0, 4.0, 1.0]],
        }
    }

    #[test]
    fn bytes_round_trip_bit_for_bit() {
        let c = sample();
        let d = std::env::temp_dir().join(format!("vtwin-ckpt-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let path = c.write_into(&d).unwrap();
        let r = Checkpoint::read(&path).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&r.state), bits(&c.state));
        assert_eq!(r.params, c.params);
        assert_eq!(r.status, c.status);
        assert_eq!(r.steps, c.steps);
        assert_eq!(r.frames, c.frames);
        assert_eq!(r.meta.step, 7);
        assert_eq!(r.meta.invocation, c.meta.invocation);
        // One flipped body byte is caught by the hash.
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let e = Checkpoint::read(&path).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_changed_scene_or_adapter_is_refused() {
        let c = sample();
        let p = Path::new("ck.vtc");
        let same = c.meta.identity.clone();
        c.check(p, &same).unwrap();
        let mut scene = same.clone();
        scene.scene_sha256 = "t".into();
        let e = c.check(p, &scene).unwrap_err().to_string();
        assert!(e.contains("scene file changed"), "{e}");
        let mut gpu = same.clone();
        gpu.backend = "gpu".into();
        let e = c.check(p, &gpu).unwrap_err().to_string();
        assert!(e.contains("backend or adapter"), "{e}");
        let mut build = same;
        build.commit = None;
        assert!(c.check(p, &build).is_err());
    }
}
