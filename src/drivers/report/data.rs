//! Reading an output folder back for the report: its manifest, its tables
//! (Parquet or CSV, whichever the command wrote) and typed columns, with
//! errors naming the file and column.

use super::ReportError;
use crate::output::table::{Table, Values};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn read_json(path: &Path) -> Result<Value, ReportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReportError::Io(crate::output::io::IoError::io(path, e)))?;
    serde_json::from_str(&text)
        .map_err(|e| ReportError::input(path, format!("not valid JSON: {e}")))
}

/// `dir/name.parquet` or `dir/name.csv`, whichever exists.
pub fn find_table(dir: &Path, name: &str) -> Option<PathBuf> {
    ["parquet", "csv"]
        .iter()
        .map(|e| dir.join(format!("{name}.{e}")))
        .find(|p| p.is_file())
}

/// A table: None when the folder has no such file.
pub fn table(dir: &Path, name: &str) -> Result<Option<Loaded>, ReportError> {
    let Some(path) = find_table(dir, name) else {
        return Ok(None);
    };
    let t = if path.extension().is_some_and(|e| e == "parquet") {
        crate::output::io::read_parquet(&path)?
    } else {
        crate::output::io::read_csv(&path)?
    };
    Ok(Some(Loaded { path, table: t }))
}

/// A table that must be there.
pub fn require(dir: &Path, name: &str) -> Result<Loaded, ReportError> {
    table(dir, name)?
        .ok_or_else(|| ReportError::input(dir, format!("has no {name}.parquet or {name}.csv")))
}

/// A table with the file it came from.
pub struct Loaded {
    pub path: PathBuf,
    pub table: Table,
}

impl Loaded {
    pub fn has(&self, column: &str) -> bool {
        self.table.column(column).is_some()
    }

    fn col(&self, column: &str) -> Result<&Values, ReportError> {
        self.table
            .column(column)
            .ok_or_else(|| ReportError::input(&self.path, format!("has no column `{column}`")))
    }

    /// A numeric column as f64 (NaN for null or unreadable text).
    pub fn f64(&self, column: &str) -> Result<Vec<f64>, ReportError> {
        Ok(match self.col(column)? {
            Values::F64(v) => v.iter().map(|x| x.unwrap_or(f64::NAN)).collect(),
            Values::I64(v) => v.iter().map(|x| x.map_or(f64::NAN, |i| i as f64)).collect(),
            Values::Bool(v) => v
                .iter()
                .map(|x| x.map_or(f64::NAN, |b| b as u8 as f64))
                .collect(),
            Values::Str(v) => v
                .iter()
                .map(|x| {
                    x.as_deref()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(f64::NAN)
                })
                .collect(),
        })
    }

    /// A column as text (empty for null).
    pub fn str(&self, column: &str) -> Result<Vec<String>, ReportError> {
        Ok(match self.col(column)? {
            Values::Str(v) => v.iter().map(|x| x.clone().unwrap_or_default()).collect(),
            Values::F64(v) => v
                .iter()
                .map(|x| x.map(|f| f.to_string()).unwrap_or_default())
                .collect(),
            Values::I64(v) => v
                .iter()
                .map(|x| x.map(|f| f.to_string()).unwrap_or_default())
                .collect(),
            Values::Bool(v) => v
                .iter()
                .map(|x| x.map(|f| f.to_string()).unwrap_or_default())
                .collect(),
        })
    }

    /// A boolean column (CSV text `true`/`false`, or 0/1); None for null.
    pub fn bool(&self, column: &str) -> Result<Vec<Option<bool>>, ReportError> {
        Ok(match self.col(column)? {
            Values::Bool(v) => v.clone(),
            Values::Str(v) => v
                .iter()
                .map(|x| match x.as_deref() {
                    Some("true") | Some("True") | Some("1") => Some(true),
                    Some("false") | Some("False") | Some("0") => Some(false),
                    _ => None,
                })
                .collect(),
            Values::I64(v) => v.iter().map(|x| x.map(|i| i != 0)).collect(),
            Values::F64(v) => v.iter().map(|x| x.map(|f| f != 0.0)).collect(),
        })
    }

    pub fn rows(&self) -> usize {
        self.table.rows()
    }
}

/// Distinct values in first-seen order.
pub fn distinct(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}
