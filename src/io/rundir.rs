//! Run directories that appear whole or not at all.
//!
//! Everything a command writes goes into a hidden sibling folder
//! `<parent>/.<name>.tmp-<pid>-<nanos>`; [`RunDir::finish`] hashes every file
//! into `manifest.json` and renames the folder into place. A run that fails,
//! panics or is interrupted leaves no half-written output folder behind:
//! `Drop` removes the temporary folder, and [`install_interrupt_cleanup`]
//! does the same on Ctrl-C.
//!
//! Owns: the temporary folder's life cycle and the manifest's `outputs`
//! list. Never decides what else goes into the manifest.

use super::files::{check_relative, parent_or_cwd, sha256_file, temp_sibling, write_atomic};
use super::{IoError, TableFormat};
use crate::table::Table;
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
static LIVE_TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Locks the registry; a panic elsewhere while it was held leaves a list
/// that is still valid, so a poisoned lock is simply taken over.
fn live_dirs() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_TEMP_DIRS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(dir: &Path) {
    live_dirs().retain(|d| d != dir);
}

/// Installs a Ctrl-C handler that removes the temporary folder of every
/// live [`RunDir`] and exits with code 130 (128 + SIGINT). Calling it again
/// does nothing more and returns the first call's outcome.
pub fn install_interrupt_cleanup() -> Result<(), IoError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                for dir in live_dirs().drain(..) {
                    let _ = fs::remove_dir_all(dir);
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
}

impl RunDir {
    /// Starts a run whose outputs will end up in `final_dir`. Refuses an
    /// existing `final_dir` unless `force` (which replaces it at
    /// [`finish`](Self::finish), not before). Creates missing parent folders.
    pub fn create(final_dir: &Path, force: bool) -> Result<RunDir, IoError> {
        if final_dir.exists() && !force {
            return Err(IoError::Exists {
                path: final_dir.to_path_buf(),
            });
        }
        // `--force` replaces an earlier run or a stray file, never a device
        // or pipe (renaming /dev/null aside would break the machine).
        if let Ok(m) = fs::metadata(final_dir)
            && !m.is_dir()
            && !m.is_file()
        {
            return Err(IoError::invalid(
                final_dir,
                "is not a folder or regular file; choose another output folder",
            ));
        }
        let parent = parent_or_cwd(final_dir);
        fs::create_dir_all(&parent).map_err(|e| IoError::io(&parent, e))?;
        let temp = temp_sibling(final_dir, "tmp")?;
        fs::create_dir(&temp).map_err(|e| IoError::io(&temp, e))?;
        live_dirs().push(temp.clone());
        Ok(RunDir {
            temp,
            final_dir: final_dir.to_path_buf(),
            force,
            finished: false,
        })
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
        let manifest_path = self.temp.join(MANIFEST);
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
    /// folder (allowed only with `force`) is first moved aside and deleted
    /// only once the new one is in place, so a failure never loses both.
    fn move_into_place(&self) -> Result<(), IoError> {
        let old = if self.final_dir.symlink_metadata().is_ok() {
            if !self.force {
                return Err(IoError::Exists {
                    path: self.final_dir.clone(),
                });
            }
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
            let removed = if aside.is_dir() {
                fs::remove_dir_all(&aside)
            } else {
                fs::remove_file(&aside)
            };
            removed.map_err(|e| IoError::io(&aside, e))?;
        }
        Ok(())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.temp);
            forget(&self.temp);
        }
    }
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
    live_dirs().iter().any(|d| d == dir)
}
