//! Shared helpers for the `io_*` integration tests: a scratch folder that
//! removes itself, and table comparison that treats NaN as equal to NaN.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use vtwin::output::table::{Table, Values};

/// A fresh folder under the system temp dir, deleted on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("vtwin-io-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Names of the entries directly inside the folder, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts two tables hold the same columns and values, comparing floats
/// bit for bit (so NaN matches NaN and -0.0 differs from 0.0).
pub fn assert_same_table(got: &Table, want: &Table) {
    assert_eq!(got.column_names(), want.column_names());
    for (g, w) in got.columns.iter().zip(&want.columns) {
        match (&g.values, &w.values) {
            (Values::F64(a), Values::F64(b)) => {
                let bits =
                    |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
                assert_eq!(bits(a), bits(b), "column `{}`: {a:?} vs {b:?}", g.name);
            }
            (a, b) => assert_eq!(a, b, "column `{}`", g.name),
        }
    }
}
