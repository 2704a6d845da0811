//! `tests/py/read_parquet.py` run on the Parquet files of a real `vtwin
//! run`: pandas (pyarrow engine) reads every table, text columns come back
//! as `str`, and the row counts are what the run wrote.
//!
//! Runs when `VTWIN_PYTHON_CHECKS=1` (CI sets it and installs pandas and
//! pyarrow). With the variable set, a missing `python3`, pandas or pyarrow
//! is a failure, not a skip; without it, the test says it was skipped.

mod common;

use common::{TempDir, vtwin, write_scene};
use std::process::Command;

const SCENE: &str = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "-r * u" }
[grid]
nx = 8
ny = 8
[time]
dt = 0.1
steps = 20
[ensemble]
members = 3
seed = 1
[parameters]
r = { dist = "uniform", low = 0.1, high = 1.0 }
[initial]
background = { u = 1.0 }
[observe]
every = 10
[[observables]]
name = "m"
kind = "mean"
field = "u"
"#;

#[test]
fn pandas_reads_the_run_tables() {
    if std::env::var("VTWIN_PYTHON_CHECKS").as_deref() != Ok("1") {
        // Written to the real stderr, not through eprintln!, which the
        // test harness captures: a skipped check must be visible.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED pandas check: set VTWIN_PYTHON_CHECKS=1 (with pandas and pyarrow installed) \
             to check the Parquet files with pandas"
        );
        return;
    }
    let t = TempDir::new("pyparquet");
    let scene = write_scene(t.path(), "s.toml", SCENE);
    let out = t.path().join("run");
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/read_parquet.py");
    let files: Vec<_> = ["params", "observables", "status"]
        .iter()
        .map(|n| out.join(format!("{n}.parquet")))
        .collect();
    let o = Command::new("python3")
        .arg(&script)
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("VTWIN_PYTHON_CHECKS=1 but python3 cannot be run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "read_parquet.py failed:\n{text}");
    // 3 members; observations at steps 0, 10, 20 of one observable.
    for (file, rows) in [("params", 3), ("observables", 9), ("status", 3)] {
        let needle = format!("{file}.parquet: {rows} rows");
        assert!(text.contains(&needle), "no `{needle}` in:\n{text}");
    }
    assert!(text.contains("python types=['str']"), "{text}");
}
