//! Run directories: nothing at the final path until `finish`, a manifest
//! whose hashes match the files, clean-up on drop and on Ctrl-C, refusal
//! and replacement of an existing folder; plus the single-file helpers.

mod io_common;

use io_common::Scratch;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
use vtwin::output::io::rundir::is_registered;
use vtwin::output::io::{self, IoError, RunDir, TableFormat};
use vtwin::output::table::Table;

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn finish_lists_every_output_with_its_hash() {
    let dir = Scratch::new("run");
    let final_dir = dir.path().join("exp1");
    let run = RunDir::create(&final_dir, false).unwrap();
    let temp = run.path().to_path_buf();
    assert!(temp.is_dir() && is_registered(&temp));
    assert!(
        temp.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".exp1.tmp-")
    );
    let table = Table::new("summary")
        .with_f64("x", [0.5, 1.5])
        .with_i64("member", [0, 1]);
    run.write_table(&table, TableFormat::Csv).unwrap();
    run.write_table(&table, TableFormat::Parquet).unwrap();
    run.write_bytes("fields/member_0/u.npy", &[1, 2, 3])
        .unwrap();
    run.write_json("config.json", &json!({"seed": 7})).unwrap();
    assert!(
        !final_dir.exists(),
        "final folder must not exist before finish"
    );

    let done = run.finish(json!({"command": "sweep", "seed": 7})).unwrap();
    assert_eq!(done, final_dir);
    assert!(!temp.exists() && !is_registered(&temp));
    assert_eq!(dir.entries(), vec!["exp1"]);

    let manifest: Value =
        serde_json::from_slice(&fs::read(final_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["command"], "sweep");
    let outputs = manifest["outputs"].as_array().unwrap();
    let paths: Vec<&str> = outputs
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![
            "config.json",
            "fields/member_0/u.npy",
            "summary.csv",
            "summary.parquet"
        ]
    );
    for o in outputs {
        let bytes = fs::read(final_dir.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(o["sha256"], hex_sha256(&bytes), "{o}");
        assert_eq!(o["bytes"], bytes.len() as u64, "{o}");
    }
    assert_eq!(
        outputs[1]["sha256"],
        "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81"
    );
    let config = fs::read_to_string(final_dir.join("config.json")).unwrap();
    assert_eq!(config, "{\n  \"seed\": 7\n}\n");
}

#[test]
fn dropping_an_unfinished_run_leaves_nothing() {
    let dir = Scratch::new("drop");
    let final_dir = dir.path().join("exp");
    let temp = {
        let run = RunDir::create(&final_dir, false).unwrap();
        run.write_bytes("a/b/c.bin", b"partial").unwrap();
        run.path().to_path_buf()
    };
    assert!(!temp.exists() && !is_registered(&temp));
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
}

#[test]
fn an_existing_folder_is_refused_without_force() {
    let dir = Scratch::new("refuse");
    let final_dir = dir.path().join("exp");
    fs::create_dir(&final_dir).unwrap();
    fs::write(final_dir.join("keep.txt"), "old").unwrap();
    let err = RunDir::create(&final_dir, false).unwrap_err();
    assert!(matches!(err, IoError::Exists { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "output folder {} exists; pass --force to replace it",
            final_dir.display()
        )
    );
    assert_eq!(
        fs::read_to_string(final_dir.join("keep.txt")).unwrap(),
        "old"
    );
    assert_eq!(dir.entries(), vec!["exp"]);
}

#[test]
fn force_replaces_the_folder_only_at_finish() {
    let dir = Scratch::new("force");
    let final_dir = dir.path().join("exp");
    fs::create_dir(&final_dir).unwrap();
    fs::write(final_dir.join("stale.txt"), "old").unwrap();
    // Without a vtwin manifest the folder is the user's: refused, kept.
    let err = RunDir::create(&final_dir, true).unwrap_err();
    assert!(err.to_string().contains("not written by vtwin"), "{err}");
    fs::write(
        final_dir.join("manifest.json"),
        r#"{"engine": {"name": "vtwin"}, "outputs": []}"#,
    )
    .unwrap();
    let run = RunDir::create(&final_dir, true).unwrap();
    run.write_bytes("fresh.txt", b"new").unwrap();
    assert!(
        final_dir.join("stale.txt").exists(),
        "old run must survive until finish"
    );
    run.finish(json!({})).unwrap();
    assert!(!final_dir.join("stale.txt").exists());
    assert_eq!(
        fs::read_to_string(final_dir.join("fresh.txt")).unwrap(),
        "new"
    );
    assert_eq!(
        dir.entries(),
        vec!["exp"],
        "no temporary or set-aside folders remain"
    );
}

#[test]
fn force_never_replaces_a_device_node() {
    let null = Path::new("/dev/null");
    if !null.exists() {
        return; // not a Unix-like system; nothing to protect
    }
    let err = RunDir::create(null, true).unwrap_err();
    assert!(
        err.to_string().contains("not a folder or regular file"),
        "{err}"
    );
    assert!(
        !fs::metadata(null).unwrap().is_file(),
        "/dev/null was replaced"
    );
}

#[test]
fn bad_relative_paths_and_manifests_are_errors() {
    let dir = Scratch::new("bad");
    let run = RunDir::create(&dir.path().join("exp"), false).unwrap();
    for rel in ["../escape.txt", "/abs.txt", ""] {
        assert!(run.write_bytes(rel, b"x").is_err(), "{rel:?}");
    }
    assert!(!dir.path().join("escape.txt").exists());
    let err = run.finish(json!(["not", "an", "object"])).unwrap_err();
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
}

#[test]
fn sha256_and_atomic_writes() {
    let dir = Scratch::new("files");
    let path = dir.path().join("design.csv");
    io::write_atomic(&path, b"abc").unwrap();
    // FIPS 180-2 example: SHA-256("abc").
    assert_eq!(
        io::sha256_file(&path).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    io::write_atomic(&path, b"").unwrap();
    assert_eq!(
        io::sha256_file(&path).unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(dir.entries(), vec!["design.csv"]);
    let err = io::write_atomic(&dir.path().join("no/such/dir/x.csv"), b"1").unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    assert!(
        io::sha256_file(&dir.path().join("absent"))
            .unwrap_err()
            .to_string()
            .contains("absent")
    );
}

const CHILD_ENV: &str = "VTWIN_IO_SIGINT_CHILD";

/// Runs itself as a child process that makes a run directory and sends
/// itself SIGINT: the handler must delete the temporary folder and exit 130.
#[cfg(unix)]
#[test]
fn interrupt_removes_temp_folders_and_exits_130() {
    if let Ok(parent) = std::env::var(CHILD_ENV) {
        interrupted_child(Path::new(&parent));
    }
    let dir = Scratch::new("sigint");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "interrupt_removes_temp_folders_and_exits_130",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let temp = stdout
        .lines()
        .find_map(|l| l.split_once("TEMP=").map(|(_, t)| t.trim()))
        .unwrap_or_else(|| {
            panic!(
                "child printed no TEMP= line\nstdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(
        out.status.code(),
        Some(130),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!Path::new(temp).exists(), "{temp} survived Ctrl-C");
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
}

#[cfg(unix)]
fn interrupted_child(parent: &Path) -> ! {
    io::install_interrupt_cleanup().unwrap();
    io::install_interrupt_cleanup().unwrap(); // idempotent
    let run = RunDir::create(&parent.join("exp"), false).unwrap();
    run.write_bytes("fields/u.npy", &[0; 64]).unwrap();
    println!("TEMP={}", run.path().display());
    let pid = std::process::id();
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -INT {pid}"))
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(10));
    panic!("the Ctrl-C handler did not end the process");
}
