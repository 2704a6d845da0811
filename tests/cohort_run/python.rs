//! The cohort files as pandas (pyarrow engine) reads them, with the RO-Crate
//! hashes re-checked by Python's hashlib: `tests/py/read_cohort.py`. Runs
//! when `VTWIN_PYTHON_CHECKS=1` (CI sets it and installs pandas and
//! pyarrow); otherwise it prints that it was skipped and why.

use crate::common::{cohort_cli, scene_path, tmp};
use std::path::PathBuf;
use std::process::Command;

#[test]
fn pandas_reads_the_cohort_files() {
    if std::env::var("VTWIN_PYTHON_CHECKS").as_deref() != Ok("1") {
        // Written to the real stderr, not through eprintln!, which the
        // test harness captures: a skipped check must be visible.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED pandas check: set VTWIN_PYTHON_CHECKS=1 (with pandas and pyarrow installed) \
             to check the cohort files with pandas"
        );
        return;
    }
    let dir = tmp("pandas");
    let out = dir.join("c");
    cohort_cli(&scene_path(), 12, &out, &[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/read_cohort.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    println!("{text}");
    assert!(o.status.success(), "read_cohort.py failed:\n{text}");
    assert!(text.contains("cohort ok: 12 patients"), "{text}");
}
