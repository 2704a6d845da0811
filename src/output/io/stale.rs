//! Temporary run folders left by killed runs.
//!
//! A run writes into a hidden sibling `.<name>.tmp-<pid>-<nanos>` of its
//! output folder ([`super::RunDir`]); signals and errors remove it, but
//! `kill -9`, a power cut or a crash cannot. Every such folder therefore
//! carries a marker file, [`MARKER`], naming the process that owns it (pid,
//! host, start time). A later run finding, beside its own target, temporary
//! folders whose marker names a process of this host that is no longer
//! alive and that started before it, removes them and says so
//! ([`remove_stale`]). Folders without the marker are never touched: they
//! are not vtwin's, or not provably so.
//!
//! A temporary folder of a run started with `--checkpoint-every` holds a
//! resume record, [`RESUME_DIR`]`/`[`RUN_RECORD`] (and, once one was
//! written, [`RESUME_DIR`]`/`[`CHECKPOINT`]): such a folder is never
//! removed by the sweep, since `vtwin resume` continues it
//! (`crate::drivers::checkpoint`); [`resumable`] tells.
//!
//! Owns: the marker's format and the stale-folder sweep.

use super::IoError;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The marker file inside every temporary run folder. Removed by
/// `RunDir::finish` before the outputs are hashed.
pub const MARKER: &str = ".vtwin-temp";

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// This machine's host name (empty if unknown).
fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at
        // most that many bytes.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    String::new()
}

/// Whether process `pid` of this host is alive. Where this cannot be told
/// (not Unix), every process counts as alive, so nothing is removed.
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if pid <= 0 {
            return true;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Writes the marker into a fresh temporary folder.
pub fn write_marker(temp: &Path) -> Result<(), IoError> {
    let path = temp.join(MARKER);
    let text = format!(
        "vtwin temporary run folder\npid={}\nhost={}\nstarted={}\n",
        std::process::id(),
        host_name(),
        now_nanos()
    );
    fs::write(&path, text).map_err(|e| IoError::io(&path, e))
}

/// The folder inside a temporary run folder that holds what `vtwin resume`
/// needs; `crate::drivers::checkpoint` owns its contents.
pub const RESUME_DIR: &str = ".vtwin-resume";
/// The resume record (command line and working folder of the run).
pub const RUN_RECORD: &str = "run.json";
/// The latest checkpoint (written whole, by rename).
pub const CHECKPOINT: &str = "checkpoint.vtc";

/// Whether a temporary run folder holds a resume record, so that it is kept
/// rather than removed (by the stale sweep, on signals and on errors).
pub fn resumable(temp: &Path) -> bool {
    temp.join(RESUME_DIR).join(RUN_RECORD).is_file()
}

/// Whether the process a temporary folder's marker names runs on this
/// host and is alive (a run still writing it); false without a marker.
pub fn owner_alive(temp: &Path) -> bool {
    read_marker(temp)
        .is_some_and(|o| o.host == host_name() && (o.pid == std::process::id() || alive(o.pid)))
}

/// Whether a temporary run folder holds a checkpoint (written by rename,
/// so one that exists is whole).
pub fn has_checkpoint(temp: &Path) -> bool {
    temp.join(RESUME_DIR).join(CHECKPOINT).is_file()
}

/// The owner a marker records.
struct Owner {
    pid: u32,
    host: String,
    started: u128,
}

fn read_marker(dir: &Path) -> Option<Owner> {
    let text = fs::read_to_string(dir.join(MARKER)).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some(Owner {
        pid: field("pid")?.parse().ok()?,
        host: field("host")?,
        started: field("started")?.parse().ok()?,
    })
}

/// Whether a folder name has the shape of a run's temporary folder,
/// `.<name>.tmp-<pid>-<nanos>`.
fn temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some((_, tail)) = rest.rsplit_once(".tmp-") else {
        return false;
    };
    let mut parts = tail.split('-');
    let ok =
        |p: Option<&str>| p.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Removes the temporary folders in `parent` that vtwin left behind in
/// runs that died: named like a temporary run folder, holding a marker
/// whose process ran on this host, is no longer alive and started before
/// `before` (ns since the Unix epoch), and holding no resume record
/// ([`resumable`]). Returns the folders removed; folders that cannot be
/// read or removed are left alone.
pub fn remove_stale(parent: &Path, before: u128) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let host = host_name();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !temp_name(&name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let Some(owner) = read_marker(&dir) else {
            continue;
        };
        let stale = owner.host == host
            && owner.pid != std::process::id()
            && owner.started < before
            && !alive(owner.pid)
            && !resumable(&dir);
        if stale && fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed.sort();
    removed
}

/// The current time in ns since the Unix epoch (the `before` of a sweep
/// done now).
pub fn now() -> u128 {
    now_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        assert!(temp_name(".exp.tmp-123-456"));
        assert!(temp_name(".a.b.tmp-1-2"));
        for bad in [
            "exp.tmp-1-2",
            ".exp.tmp-1",
            ".exp.tmp-x-2",
            ".exp.old-1-2",
            ".exp.tmp-1-2-3",
        ] {
            assert!(!temp_name(bad), "{bad}");
        }
    }

    #[test]
    fn only_marked_folders_of_dead_processes_are_removed() {
        let d = std::env::temp_dir().join(format!("vtwin-stale-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let host = host_name();
        // A pid far above any pid_max is never alive.
        let dead = d.join(".exp.tmp-999999999-1");
        fs::create_dir(&dead).unwrap();
        fs::write(
            dead.join(MARKER),
            format!("pid=999999999\nhost={host}\nstarted=1\n"),
        )
        .unwrap();
        let unmarked = d.join(".user.tmp-999999999-1");
        fs::create_dir(&unmarked).unwrap();
        let live = d.join(".mine.tmp-1-1");
        fs::create_dir(&live).unwrap();
        write_marker(&live).unwrap();
        let other_host = d.join(".far.tmp-999999999-1");
        fs::create_dir(&other_host).unwrap();
        fs::write(
            other_host.join(MARKER),
            format!("pid=999999999\nhost={host}-elsewhere\nstarted=1\n"),
        )
        .unwrap();
        let kept = d.join(".ckpt.tmp-999999999-1");
        fs::create_dir_all(kept.join(RESUME_DIR)).unwrap();
        fs::write(
            kept.join(MARKER),
            format!("pid=999999999\nhost={host}\nstarted=1\n"),
        )
        .unwrap();
        fs::write(kept.join(RESUME_DIR).join(RUN_RECORD), "{}").unwrap();
        assert_eq!(remove_stale(&d, now()), vec![dead.clone()]);
        assert!(!dead.exists() && unmarked.exists() && live.exists() && other_host.exists());
        assert!(kept.exists(), "a folder with a resume record is kept");
        fs::remove_dir_all(d).unwrap();
    }
}
