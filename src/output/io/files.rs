//! Small file helpers shared by the writers: content hashes, single-file
//! atomic writes, temporary sibling names and checks on names that become
//! file names.
//!
//! Owns: nothing but these helpers. Never decides what to write.

use super::IoError;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lowercase hex SHA-256 of a file's contents, read in 64 KiB blocks.
pub fn sha256_file(path: &Path) -> Result<String, IoError> {
    let mut file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| IoError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(to_hex(&hasher.finalize()))
}

/// Lowercase hex of a byte string.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Writes `bytes` to `path` so that readers see either the old file or the
/// whole new one: the bytes go to a hidden sibling, are flushed to disk, and
/// the sibling is renamed over `path`. On failure the sibling is removed.
///
/// A `path` that already exists and is not a regular file (`/dev/null`,
/// `/dev/stdout`, a named pipe) is written in place instead: renaming over it
/// would replace the device node with a plain file. A folder is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    if write_in_place(path)? {
        return File::create(path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| IoError::io(path, e));
    }
    let tmp = temp_sibling(path, "tmp")?;
    let result = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| IoError::io(&tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| IoError::io(path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Whether `path` must be written in place rather than replaced by a
/// rename: true for an existing device, pipe or socket (following links).
/// An existing folder is an error; a missing path or regular file is false.
pub(crate) fn write_in_place(path: &Path) -> Result<bool, IoError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(IoError::invalid(
            path,
            "is a folder; give a file name to write to",
        )),
        Ok(m) => Ok(!m.is_file()),
        Err(_) => Ok(false),
    }
}

/// `<parent>/.<name>.<tag>-<pid>-<nanos>`: a hidden sibling of `path` that no
/// other process (different pid) or earlier call (different time) uses.
pub(crate) fn temp_sibling(path: &Path, tag: &str) -> Result<PathBuf, IoError> {
    let name = path
        .file_name()
        .ok_or_else(|| IoError::invalid(path, "path has no file or folder name"))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hidden = format!(
        ".{}.{tag}-{}-{nanos}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(parent_or_cwd(path).join(hidden))
}

/// The folder holding `path`; `.` for a bare relative name.
pub(crate) fn parent_or_cwd(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `name` can be used as one file name inside `dir`.
pub(crate) fn check_plain_name(dir: &Path, name: &str) -> Result<(), IoError> {
    let bad = name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']);
    if bad {
        return Err(IoError::invalid(
            dir,
            format!("{name:?} cannot be used as a file name (empty, `.`/`..`, or has a separator)"),
        ));
    }
    Ok(())
}

/// Checks that `rel` is a relative path that stays inside its base folder
/// (no root, no `..`), e.g. `fields/u.npy`.
pub(crate) fn check_relative(base: &Path, rel: &str) -> Result<(), IoError> {
    let p = Path::new(rel);
    let inside = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !inside {
        return Err(IoError::invalid(
            base,
            format!("{rel:?} is not a relative path inside the output folder"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_files_are_written_in_place_not_replaced() {
        // Renaming over /dev/null would turn it into a plain file that
        // every later `> /dev/null` appends to.
        let null = Path::new("/dev/null");
        if null.exists() {
            assert!(write_in_place(null).unwrap());
            write_atomic(null, b"discarded").unwrap();
            assert!(
                !fs::metadata(null).unwrap().is_file(),
                "/dev/null was replaced"
            );
        }
        assert!(!write_in_place(Path::new("no/such/file.json")).unwrap());
        assert!(write_in_place(Path::new(".")).is_err());
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn names_that_would_escape_are_refused() {
        let d = Path::new("out");
        assert!(check_plain_name(d, "summary").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(check_plain_name(d, bad).is_err(), "{bad:?}");
        }
        assert!(check_relative(d, "fields/u.npy").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(check_relative(d, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn temp_sibling_is_hidden_next_to_the_target() {
        let t = temp_sibling(Path::new("runs/exp1"), "tmp").unwrap();
        assert_eq!(t.parent(), Some(Path::new("runs")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        let prefix = format!(".exp1.tmp-{}-", std::process::id());
        assert!(name.starts_with(&prefix), "{name}");
        assert!(name[prefix.len()..].parse::<u128>().is_ok(), "{name}");
        let bare = temp_sibling(Path::new("exp1"), "tmp").unwrap();
        assert_eq!(bare.parent(), Some(Path::new(".")));
    }
}
