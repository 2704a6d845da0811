//! CSV helpers shared by `vtwin design` and `vtwin analyze`, built on
//! [`crate::output::io`]: a table written atomically (temporary sibling, then
//! rename), a design's parameter columns read as floats, and one output
//! column picked from a file of outputs. Floats use `io::csv`'s exact
//! round-trip format. Errors name the file and the column.
//!
//! Owns: these file conventions of the two commands. No estimator or
//! design logic.

use super::job::{Error, Result};
use crate::output::io::{self, ColumnType, IoError};
use crate::output::table::{Table, Values};
use std::path::Path;

/// Returns a [`Error::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(Error::Invalid(format!($($t)*)))
    };
}

/// Writes `table` as CSV to `path` so that readers see either the old file
/// or the whole new one.
pub fn write_table_atomic(path: &Path, table: &Table) -> Result<()> {
    if io::files::write_in_place(path)? {
        return Ok(io::write_csv(path, table)?);
    }
    let tmp = io::files::temp_sibling(path, "tmp")?;
    let result = io::write_csv(&tmp, table)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| IoError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}

/// The columns `names` of a CSV file as float rows (row-major). Every named
/// column must be present and every field filled; other columns are
/// ignored.
pub fn read_float_rows(path: &Path, names: &[&str]) -> Result<Vec<Vec<f64>>> {
    let schema: Vec<(&str, ColumnType)> = names.iter().map(|&n| (n, ColumnType::F64)).collect();
    let table = io::read_csv_typed(path, &schema)?;
    let cols = names
        .iter()
        .map(|&n| filled_floats(path, n, table.column(n)))
        .collect::<Result<Vec<_>>>()?;
    let rows = table.rows();
    Ok((0..rows)
        .map(|r| cols.iter().map(|c| c[r]).collect())
        .collect())
}

/// One numeric column of an outputs file: `column` if given, else the only
/// column. Refuses a file whose first line holds numbers (no header).
pub fn read_output_column(path: &Path, column: Option<&str>) -> Result<Vec<f64>> {
    let table = io::read_csv(path)?;
    let names = table.column_names();
    if names.is_empty() || names.iter().all(|n| n.trim().is_empty()) {
        bail!(
            "{}: the file is empty or its header line names no column; \
             write a header naming the output column(s), then one row per design row",
            path.display()
        );
    }
    if names.iter().all(|n| n.trim().parse::<f64>().is_ok())
        && names.iter().all(|n| n.trim().parse::<f64>().is_ok())
    {
        bail!(
            "{}: line 1 holds numbers, not column names; add a header line naming the output column(s)",
            path.display()
        );
    }
    let list = names
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let name = match column {
        Some(name) if names.contains(&name) => name,
        Some(name) => bail!("{}: no column `{name}`; it has {list}", path.display()),
        None if names.len() == 1 => names[0],
        None => bail!(
            "{} has several columns ({list}); pick one with --column",
            path.display()
        ),
    };
    filled_floats(path, name, table.column(name))
}

/// A column's values as floats; refuses nulls and non-numeric text.
fn filled_floats(path: &Path, name: &str, values: Option<&Values>) -> Result<Vec<f64>> {
    let empty = |r: usize| {
        Error::Invalid(format!(
            "{}: column `{name}`, data row {}: empty field",
            path.display(),
            r + 1
        ))
    };
    match values {
        None => bail!("{}: no column `{name}`", path.display()),
        Some(Values::F64(v)) => v
            .iter()
            .enumerate()
            .map(|(r, x)| x.ok_or_else(|| empty(r)))
            .collect(),
        Some(Values::I64(v)) => v
            .iter()
            .enumerate()
            .map(|(r, x)| x.map(|i| i as f64).ok_or_else(|| empty(r)))
            .collect(),
        Some(Values::Str(v)) => {
            let (r, bad) = v
                .iter()
                .enumerate()
                .find_map(|(r, s)| {
                    s.as_deref()
                        .filter(|s| s.trim().parse::<f64>().is_err())
                        .map(|s| (r, s))
                })
                .unwrap_or((0, ""));
            bail!(
                "{}: column `{name}`, data row {}: {bad:?} is not a number",
                path.display(),
                r + 1
            )
        }
        Some(Values::Bool(_)) => bail!(
            "{}: column `{name}` holds true/false, not numbers",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn tmp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vtwin-csvfiles-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Awkward floats survive an atomic write and a read bit for bit, and
    /// no temporary file is left behind.
    #[test]
    fn floats_round_trip_exactly() {
        let vals = [
            0.1 + 0.2,
            1.0 / 3.0,
            1e-300,
            5e-324,
            -2.5e20,
            f64::MAX,
            0.0,
            -0.0,
            7.0,
        ];
        let t = Table::new("x")
            .with_f64("a", vals)
            .with_f64("b c", vals.iter().map(|v| v * 7.0));
        let dir = tmp_dir("rt");
        let p = dir.join("x.csv");
        write_table_atomic(&p, &t).unwrap();
        let back = read_float_rows(&p, &["b c", "a"]).unwrap();
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(back[i][1].to_bits(), v.to_bits(), "{v}");
            assert_eq!(back[i][0].to_bits(), (v * 7.0).to_bits());
        }
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary file left behind"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    /// Errors name the file, the column and the row.
    #[test]
    fn bad_outputs_are_named() {
        let dir = tmp_dir("bad");
        let p = dir.join("Y.csv");
        let err = |col: Option<&str>| read_output_column(&p, col).unwrap_err().to_string();
        fs::write(&p, "y\n1\n2.5\n").unwrap();
        assert_eq!(read_output_column(&p, None).unwrap(), [1.0, 2.5]);
        fs::write(&p, "y,z\n1,2\n3,4\n").unwrap();
        assert!(err(None).contains("several columns (`y`, `z`)"));
        assert!(err(Some("w")).contains("no column `w`; it has `y`, `z`"));
        assert_eq!(read_output_column(&p, Some("z")).unwrap(), [2.0, 4.0]);
        fs::write(&p, "y\n1\ndiverged\n").unwrap();
        let e = err(None);
        assert!(
            e.contains("Y.csv") && e.contains("data row 2") && e.contains("\"diverged\""),
            "{e}"
        );
        fs::write(&p, "y,z\n1,\n2,3\n").unwrap();
        let e = err(Some("z"));
        assert!(
            e.contains("Y.csv: column `z`, data row 1: empty field"),
            "{e}"
        );
        fs::write(&p, "1.5\n2.5\n").unwrap();
        assert!(err(None).contains("line 1 holds numbers"));
        let e = read_float_rows(&p, &["x"]).unwrap_err().to_string();
        assert!(e.contains("Y.csv") && e.contains("`x`"), "{e}");
        fs::remove_dir_all(dir).unwrap();
    }
}
