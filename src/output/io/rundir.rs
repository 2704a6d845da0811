//! Run directories that appear whole or not at all.
//!
//! Everything a command writes goes into a hidden sibling folder
//! `<parent>/.<name>.tmp-<pid>-<nanos>`; [`RunDir::finish`] hashes every file
//! into `manifest.json` and renames the folder into place. A run that fails,
//! panics or is interrupted leaves no half-written output folder behind:
//! `Drop` removes the temporary folder, and [`install_interrupt_cleanup`]
//! does the same on SIGINT (Ctrl-C), SIGTERM and SIGHUP — except a folder
//! holding a checkpoint ([`stale::has_checkpoint`], a run with
//! `--checkpoint-every`): that one is kept, with a message naming the
//! `vtwin resume` command that continues it ([`RunDir::adopt`]).
//!
//! Whether the final folder may be replaced is decided by
//! [`super::target::check_folder_target`] (`--force` replaces only a folder
//! vtwin wrote, never one holding the command's inputs). The temporary
//! folder carries a marker ([`super::stale`]) so that a later run can
//! remove it if this process is killed outright; [`RunDir::create_for`]
//! does that sweep beside its own target.
//!
//! Owns: the temporary folder's life cycle and the manifest's `outputs`
//! list. Never decides what else goes into the manifest.

use super::files::{check_relative, parent_or_cwd, sha256_file, temp_sibling, write_atomic};
use super::target::check_folder_target;
use super::{IoError, TableFormat, stale};
use crate::output::table::Table;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The manifest's file name inside a run directory.
pub const MANIFEST: &str = "manifest.json";

/// Temporary folders of the live `RunDir`s. This is the one piece of global
/// state in vtwin: a Ctrl-C handler runs on its own thread with no access to
/// the stacks that own the `RunDir`s, so it needs a shared list of what to
/// delete before the process exits.
/// Each entry: (temporary folder, final folder).
static LIVE_TEMP_DIRS: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Locks the registry; a panic elsewhere while it was held leaves a list
/// that is still valid, so a poisoned lock is simply taken over.
fn live_dirs() -> MutexGuard<'static, Vec<(PathBuf, PathBuf)>> {
    LIVE_TEMP_DIRS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(dir: &Path) {
    live_dirs().retain(|(d, _)| d != dir);
}

/// Removes an unfinished temporary folder, or keeps it when it holds a
/// checkpoint, saying how to continue.
fn abandon(temp: &Path, final_dir: &Path) {
    if stale::has_checkpoint(temp) {
        eprintln!(
            "vtwin: kept {} (it holds a checkpoint); continue the run with `vtwin resume {}`",
            temp.display(),
            final_dir.display()
        );
    } else {
        let _ = fs::remove_dir_all(temp);
    }
}

/// Installs a handler for SIGINT (Ctrl-C), SIGTERM and SIGHUP (ctrlc's
/// `termination` feature) that removes the temporary folder of every live
/// [`RunDir`] (keeping those that hold a checkpoint, see the module docs)
/// and exits with code 130 (128 + SIGINT, for all three).
/// Calling it again does nothing more and returns the first call's outcome.
pub fn install_interrupt_cleanup() -> Result<(), IoError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                for (temp, final_dir) in live_dirs().drain(..) {
                    abandon(&temp, &final_dir);
                }
                std::process::exit(130);
            })
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(IoError::Interrupt)
}

/// A run directory being written. See the module docs.
#[derive(Debug)]
pub struct RunDir {
    temp: PathBuf,
    final_dir: PathBuf,
    force: bool,
    finished: bool,
    stale_removed: Vec<PathBuf>,
}

impl RunDir {
    /// Starts a run whose outputs will end up in `final_dir`; the same as
    /// [`create_for`](Self::create_for) with no inputs to protect.
    pub fn create(final_dir: &Path, force: bool) -> Result<RunDir, IoError> {
        Self::create_for(final_dir, force, &[])
    }

    /// Starts a run whose outputs will end up in `final_dir`. Refuses an
    /// existing `final_dir` unless `force`, and with `force` anything but a
    /// folder vtwin wrote that holds none of `inputs` (the command's input
    /// files and folders); the replacement happens at
    /// [`finish`](Self::finish), not before. Creates missing parent
    /// folders, and removes stale temporary folders of dead vtwin runs
    /// beside `final_dir` ([`stale_removed`](Self::stale_removed) lists
    /// them).
    pub fn create_for(final_dir: &Path, force: bool, inputs: &[&Path]) -> Result<RunDir, IoError> {
        check_folder_target(final_dir, force, inputs)?;
        let started = stale::now();
        let parent = parent_or_cwd(final_dir);
        fs::create_dir_all(&parent).map_err(|e| IoError::io(&parent, e))?;
        let stale_removed = stale::remove_stale(&parent, started);
        let temp = temp_sibling(final_dir, "tmp")?;
        fs::create_dir(&temp).map_err(|e| IoError::io(&temp, e))?;
        live_dirs().push((temp.clone(), final_dir.to_path_buf()));
        let run = RunDir {
            temp,
            final_dir: final_dir.to_path_buf(),
            force,
            finished: false,
            stale_removed,
        };
        stale::write_marker(&run.temp)?;
        Ok(run)
    }

    /// Continues an interrupted run in its kept temporary folder `temp`
    /// (`vtwin resume`): checks `final_dir` as [`create_for`](Self::create_for)
    /// does, registers the folder for cleanup and writes this process's
    /// marker into it. What the folder already holds stays.
    pub fn adopt(
        temp: &Path,
        final_dir: &Path,
        force: bool,
        inputs: &[&Path],
    ) -> Result<RunDir, IoError> {
        check_folder_target(final_dir, force, inputs)?;
        if !temp.is_dir() {
            return Err(IoError::invalid(temp, "is not a folder"));
        }
        live_dirs().push((temp.to_path_buf(), final_dir.to_path_buf()));
        let run = RunDir {
            temp: temp.to_path_buf(),
            final_dir: final_dir.to_path_buf(),
            force,
            finished: false,
            stale_removed: Vec::new(),
        };
        stale::write_marker(&run.temp)?;
        Ok(run)
    }

    /// Temporary folders of killed vtwin runs that `create_for` removed.
    pub fn stale_removed(&self) -> &[PathBuf] {
        &self.stale_removed
    }

    /// The temporary folder everything is written into.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Where the run will be once finished.
    pub fn final_path(&self) -> &Path {
        &self.final_dir
    }

    /// A path inside the temporary folder (not checked; the `write_*`
    /// methods check their relative paths).
    pub fn file(&self, rel: &str) -> PathBuf {
        self.temp.join(rel)
    }

    /// Checks `rel` and creates its parent folders inside the run.
    fn prepare(&self, rel: &str) -> Result<PathBuf, IoError> {
        check_relative(&self.temp, rel)?;
        let path = self.temp.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| IoError::io(parent, e))?;
        }
        Ok(path)
    }

    /// Writes `<run>/<table.name>.<ext>`.
    pub fn write_table(&self, table: &Table, fmt: TableFormat) -> Result<PathBuf, IoError> {
        super::write_table(&self.temp, table, fmt)
    }

    /// Writes raw bytes to `rel` (e.g. `fields/u.npy`), making folders as needed.
    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf, IoError> {
        let path = self.prepare(rel)?;
        fs::write(&path, bytes).map_err(|e| IoError::io(&path, e))?;
        Ok(path)
    }

    /// Writes pretty-printed JSON to `rel`.
    pub fn write_json(&self, rel: &str, value: &Value) -> Result<PathBuf, IoError> {
        let path = self.prepare(rel)?;
        let mut text = serde_json::to_string_pretty(value).map_err(|source| IoError::Json {
            path: path.clone(),
            source,
        })?;
        text.push('\n');
        fs::write(&path, text).map_err(|e| IoError::io(&path, e))?;
        Ok(path)
    }

    /// Lists every file written (except a top-level `manifest.json`) with
    /// its SHA-256 and size under `"outputs"` in `manifest` (a JSON object),
    /// writes `manifest.json`, and moves the folder to its final path,
    /// replacing an existing one if the run was created with `force`.
    pub fn finish(mut self, mut manifest: Value) -> Result<PathBuf, IoError> {
        // A host's stop request (`crate::output::interrupt`): the folder is left
        // unfinished, to be removed on drop, rather than put in place.
        if crate::output::interrupt::requested() {
            return Err(IoError::Interrupted {
                path: self.final_dir.clone(),
            });
        }
        let manifest_path = self.temp.join(MANIFEST);
        let marker = self.temp.join(stale::MARKER);
        fs::remove_file(&marker).map_err(|e| IoError::io(&marker, e))?;
        let mut outputs = Vec::new();
        for rel in list_files(&self.temp)? {
            if rel == MANIFEST {
                continue;
            }
            let path = self.temp.join(&rel);
            let bytes = fs::metadata(&path)
                .map_err(|e| IoError::io(&path, e))?
                .len();
            outputs.push(json!({"path": rel, "sha256": sha256_file(&path)?, "bytes": bytes}));
        }
        let Some(object) = manifest.as_object_mut() else {
            return Err(IoError::invalid(
                &manifest_path,
                "the manifest must be a JSON object",
            ));
        };
        object.insert("outputs".into(), Value::Array(outputs));
        let mut text = serde_json::to_string_pretty(&manifest).map_err(|source| IoError::Json {
            path: manifest_path.clone(),
            source,
        })?;
        text.push('\n');
        write_atomic(&manifest_path, text.as_bytes())?;
        self.move_into_place()?;
        self.finished = true;
        forget(&self.temp);
        Ok(self.final_dir.clone())
    }

    /// Renames the temporary folder to the final path. An existing final
    /// folder (allowed only with `force`, and only if vtwin wrote it: it is
    /// checked again, since it may have appeared since `create`) is first
    /// moved aside and deleted only once the new one is in place, so a
    /// failure never loses both.
    fn move_into_place(&self) -> Result<(), IoError> {
        let old = if self.final_dir.symlink_metadata().is_ok() {
            check_folder_target(&self.final_dir, self.force, &[])?;
            let aside = temp_sibling(&self.final_dir, "old")?;
            fs::rename(&self.final_dir, &aside).map_err(|e| IoError::io(&self.final_dir, e))?;
            Some(aside)
        } else {
            None
        };
        if let Err(e) = fs::rename(&self.temp, &self.final_dir) {
            if let Some(aside) = &old {
                let _ = fs::rename(aside, &self.final_dir);
            }
            return Err(IoError::io(&self.final_dir, e));
        }
        if let Some(aside) = old {
            fs::remove_dir_all(&aside).map_err(|e| IoError::io(&aside, e))?;
        }
        Ok(())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            abandon(&self.temp, &self.final_dir);
            forget(&self.temp);
        }
    }
}

/// Checks a finished run folder against its `manifest.json`: every file
/// the manifest lists exists, inside the folder, with the recorded size and
/// SHA-256, and every file in the folder (but the manifest) is listed, so
/// an edited `outputs` list cannot hide a changed file. Returns how many
/// files were checked. Errors name the file and
/// what differs, so a shard edited or truncated after it was written is
/// refused rather than merged.
pub fn verify_outputs(dir: &Path) -> Result<usize, IoError> {
    let manifest_path = dir.join(MANIFEST);
    let text = fs::read_to_string(&manifest_path).map_err(|e| IoError::io(&manifest_path, e))?;
    let manifest: Value = serde_json::from_str(&text).map_err(|source| IoError::Json {
        path: manifest_path.clone(),
        source,
    })?;
    let Some(outputs) = manifest["outputs"].as_array() else {
        return Err(IoError::invalid(
            &manifest_path,
            "has no `outputs` list of hashed files",
        ));
    };
    let mut listed = std::collections::BTreeSet::new();
    for (i, entry) in outputs.iter().enumerate() {
        let (Some(rel), Some(want), Some(bytes)) = (
            entry["path"].as_str(),
            entry["sha256"].as_str(),
            entry["bytes"].as_u64(),
        ) else {
            return Err(IoError::invalid(
                &manifest_path,
                format!("`outputs[{i}]` lacks path, sha256 or bytes"),
            ));
        };
        check_relative(dir, rel)?;
        listed.insert(rel.to_string());
        let path = dir.join(rel);
        let len = fs::metadata(&path)
            .map_err(|e| IoError::io(&path, e))?
            .len();
        let differs = if len != bytes {
            Some(format!(
                "is {len} bytes but {} records {bytes}",
                manifest_path.display()
            ))
        } else if sha256_file(&path)? != want {
            Some(format!(
                "its SHA-256 differs from the one {} records",
                manifest_path.display()
            ))
        } else {
            None
        };
        if let Some(what) = differs {
            return Err(IoError::invalid(
                &path,
                format!("{what}: the file was changed after vtwin wrote it"),
            ));
        }
    }
    if let Some(extra) = list_files(dir)?
        .into_iter()
        .find(|rel| rel != MANIFEST && !listed.contains(rel))
    {
        return Err(IoError::invalid(
            &dir.join(&extra),
            format!(
                "is not listed in {}: the folder was changed after vtwin wrote it",
                manifest_path.display()
            ),
        ));
    }
    Ok(outputs.len())
}

/// Every file under `root`, as '/'-separated relative paths, sorted.
fn list_files(root: &Path) -> Result<Vec<String>, IoError> {
    let mut out = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| IoError::io(&dir, e))? {
            let entry = entry.map_err(|e| IoError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| IoError::io(&path, e))?;
            if kind.is_dir() {
                pending.push((path, rel));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `dir` is registered for removal on Ctrl-C (for tests).
pub fn is_registered(dir: &Path) -> bool {
    live_dirs().iter().any(|(d, _)| d == dir)
}
