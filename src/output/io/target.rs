//! Whether an output target may be written: the one rule every command
//! applies before it writes a folder (`--out`) or a file (`-o`, `--json`).
//!
//! - A missing target is always fine.
//! - An existing target is refused unless `--force`.
//! - `--force` replaces a **folder** only if vtwin made it: it holds a
//!   `manifest.json` whose `engine.name` is `"vtwin"` (every vtwin output
//!   folder has one). Any other folder, a plain file in place of a folder,
//!   a device or a pipe is refused with the reason.
//! - `--force` replaces a **file** only if it is a regular file. Devices and
//!   pipes (`/dev/null`, `/dev/stdout`) are written in place, with or
//!   without `--force`, since writing to them destroys nothing.
//! - A target is never one of the command's own inputs, and a folder target
//!   never contains one (paths are compared after resolving links), even
//!   with `--force`.
//!
//! Owns: this decision and its messages. Never writes or deletes anything.

use super::IoError;
use super::rundir::MANIFEST;
use std::fs;
use std::path::{Path, PathBuf};

/// Whether `dir` holds a manifest written by vtwin (`manifest.json`, a
/// JSON object with `engine.name == "vtwin"`).
pub fn is_vtwin_folder(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(MANIFEST)) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .is_ok_and(|v| v["engine"]["name"].as_str() == Some("vtwin"))
}

/// `path` with links and `..` resolved, when it exists.
fn canonical(path: &Path) -> Option<PathBuf> {
    fs::canonicalize(path).ok()
}

/// Refuses a target that is one of `inputs` or (for a folder target)
/// contains one.
fn check_not_an_input(target: &Path, inputs: &[&Path], folder: bool) -> Result<(), IoError> {
    let Some(t) = canonical(target) else {
        return Ok(());
    };
    for input in inputs {
        let Some(i) = canonical(input) else {
            continue;
        };
        if i == t {
            return Err(IoError::invalid(
                target,
                format!(
                    "is an input of this command ({}); refusing to overwrite it, even with --force",
                    input.display()
                ),
            ));
        }
        if folder && i.starts_with(&t) {
            return Err(IoError::invalid(
                target,
                format!(
                    "holds {}, an input of this command; refusing to replace the folder, even with --force",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an output folder (`--out DIR`). See the module docs.
pub fn check_folder_target(dir: &Path, force: bool, inputs: &[&Path]) -> Result<(), IoError> {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return Ok(());
    };
    if !force {
        return Err(IoError::Exists {
            path: dir.to_path_buf(),
        });
    }
    check_not_an_input(dir, inputs, true)?;
    if meta.file_type().is_symlink() {
        return Err(IoError::invalid(
            dir,
            "is a symbolic link; --force replaces only a folder vtwin wrote, not a link; \
             choose another output folder",
        ));
    }
    if !meta.is_dir() {
        let what = if meta.is_file() {
            "a file"
        } else {
            "not a folder or regular file"
        };
        return Err(IoError::invalid(
            dir,
            format!(
                "is {what}; --force replaces only a folder vtwin wrote; choose another output folder"
            ),
        ));
    }
    if !is_vtwin_folder(dir) {
        return Err(IoError::invalid(
            dir,
            "exists and was not written by vtwin (it holds no vtwin manifest.json); \
             --force replaces only vtwin's own output folders, so it is kept; \
             choose another output folder or remove it yourself",
        ));
    }
    Ok(())
}

/// Checks an output file (`-o FILE`, `--json FILE`). `-` (stdout) always
/// passes. See the module docs.
pub fn check_file_target(path: &Path, force: bool, inputs: &[&Path]) -> Result<(), IoError> {
    if path == Path::new("-") {
        return Ok(());
    }
    let Ok(meta) = fs::metadata(path) else {
        return Ok(());
    };
    check_not_an_input(path, inputs, false)?;
    if meta.is_dir() {
        return Err(IoError::invalid(
            path,
            "is a folder; give a file name to write to",
        ));
    }
    if !meta.is_file() {
        // A device or pipe is written in place; nothing is lost.
        return Ok(());
    }
    if !force {
        return Err(IoError::FileExists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vtwin-target-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn force_replaces_only_vtwin_folders() {
        let d = scratch("folders");
        let mine = d.join("notes");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join("notes.txt"), "mine").unwrap();
        assert!(matches!(
            check_folder_target(&mine, false, &[]),
            Err(IoError::Exists { .. })
        ));
        let e = check_folder_target(&mine, true, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not written by vtwin"), "{e}");
        fs::write(mine.join(MANIFEST), r#"{"engine": {"name": "other"}}"#).unwrap();
        assert!(check_folder_target(&mine, true, &[]).is_err());
        let run = d.join("run");
        fs::create_dir(&run).unwrap();
        fs::write(run.join(MANIFEST), r#"{"engine": {"name": "vtwin"}}"#).unwrap();
        check_folder_target(&run, true, &[]).unwrap();
        let scene = run.join("scene.toml");
        fs::write(&scene, "x").unwrap();
        let e = check_folder_target(&run, true, &[&scene])
            .unwrap_err()
            .to_string();
        assert!(e.contains("an input of this command"), "{e}");
        let file = d.join("file");
        fs::write(&file, "x").unwrap();
        let e = check_folder_target(&file, true, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a file"), "{e}");
        check_folder_target(&d.join("missing"), false, &[]).unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn files_need_force_and_are_never_inputs() {
        let d = scratch("files");
        let f = d.join("design.csv");
        fs::write(&f, "a\n1\n").unwrap();
        let e = check_file_target(&f, false, &[]).unwrap_err().to_string();
        assert!(e.contains("pass --force"), "{e}");
        check_file_target(&f, true, &[]).unwrap();
        let via_dots = d.join("sub/../design.csv");
        fs::create_dir(d.join("sub")).unwrap();
        let e = check_file_target(&via_dots, true, &[&f])
            .unwrap_err()
            .to_string();
        assert!(e.contains("an input of this command"), "{e}");
        check_file_target(Path::new("-"), false, &[]).unwrap();
        check_file_target(&d.join("new.csv"), false, &[]).unwrap();
        assert!(check_file_target(&d, true, &[]).is_err());
        if Path::new("/dev/null").exists() {
            check_file_target(Path::new("/dev/null"), false, &[]).unwrap();
        }
        fs::remove_dir_all(d).unwrap();
    }
}
