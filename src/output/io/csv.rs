//! CSV tables: a header row of column names, one row per table row, a null
//! as an empty field.
//!
//! Floats are written with the shortest digits that parse back to the same
//! `f64` (Rust's `{}` / `{:e}` formatting), so a write/read cycle is exact. Two
//! refinements over plain `{}`: a float that prints without a fraction gets
//! `.0` (so `1.0` stays a float when the type is inferred again), and
//! magnitudes below 1e-4 or from 1e16 up are written in exponent form
//! (`1e-310`, not 310 zeros). NaN is `NaN`, infinities are `inf` / `-inf`.
//!
//! CSV cannot tell an empty string from a null: both are an empty field and
//! read back as null.
//!
//! Owns: the mapping between [`Table`] and CSV files. Never decides file names.

use super::IoError;
use crate::output::table::{Table, Values};
use std::path::Path;

/// The type of a column, for reading CSV with a known schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    F64,
    I64,
    Str,
    Bool,
}

impl ColumnType {
    fn expected(self) -> &'static str {
        match self {
            ColumnType::F64 => "a number (float64)",
            ColumnType::I64 => "an integer (int64)",
            ColumnType::Str => "a string",
            ColumnType::Bool => "true or false (bool)",
        }
    }
}

/// Formats an `f64` so that `str::parse::<f64>` gives back the same bits
/// (see the module docs for the exact rules).
pub fn format_f64(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        return format!("{x:e}");
    }
    let mut s = format!("{x}");
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

/// Writes `table` to `path` as CSV (replacing any file there).
pub fn write_csv(path: &Path, table: &Table) -> Result<(), IoError> {
    let err = |source| IoError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = ::csv::Writer::from_path(path).map_err(err)?;
    w.write_record(table.column_names()).map_err(err)?;
    let mut row: Vec<String> = Vec::with_capacity(table.columns.len());
    for r in 0..table.rows() {
        row.clear();
        row.extend(table.columns.iter().map(|c| cell(&c.values, r)));
        w.write_record(&row).map_err(err)?;
    }
    w.flush().map_err(|e| IoError::io(path, e))
}

fn cell(values: &Values, r: usize) -> String {
    match values {
        Values::F64(v) => v[r].map(format_f64),
        Values::I64(v) => v[r].map(|x| x.to_string()),
        Values::Str(v) => v[r].clone(),
        Values::Bool(v) => v[r].map(|b| b.to_string()),
    }
    .unwrap_or_default()
}

/// Reads a CSV file, inferring each column's type from its non-empty
/// fields: I64 if all parse as integers, else F64 if all parse as numbers
/// (`NaN`, `inf`, `-inf` included), else Bool if all are true/false (any
/// case), else Str. A column with no non-empty field is F64 (all null), as
/// pandas reads it. The table is named after the file stem.
pub fn read_csv(path: &Path) -> Result<Table, IoError> {
    let raw = read_raw(path)?;
    let mut table = Table::new(stem(path));
    for (name, cells) in raw.names.iter().zip(&raw.cells) {
        let ty = infer(cells);
        table.push_column(
            name.clone(),
            parse_column(path, name, cells, &raw.lines, ty)?,
        );
    }
    Ok(table)
}

/// Reads a CSV file whose columns have known types. The result has the
/// schema's columns in the schema's order; every schema column must be in
/// the header, and file columns not in the schema are ignored. A field that
/// does not parse is an error naming the file, line and column.
pub fn read_csv_typed(path: &Path, schema: &[(&str, ColumnType)]) -> Result<Table, IoError> {
    let raw = read_raw(path)?;
    let mut table = Table::new(stem(path));
    for &(name, ty) in schema {
        let i = raw
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| IoError::Column {
                path: path.to_path_buf(),
                column: name.to_string(),
                message: "missing from the header row".into(),
            })?;
        table.push_column(
            name,
            parse_column(path, name, &raw.cells[i], &raw.lines, ty)?,
        );
    }
    Ok(table)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// The fields of a CSV file, column by column, with each row's line number.
struct Raw {
    names: Vec<String>,
    cells: Vec<Vec<String>>,
    lines: Vec<u64>,
}

fn read_raw(path: &Path) -> Result<Raw, IoError> {
    let err = |source| IoError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut rdr = ::csv::Reader::from_path(path).map_err(err)?;
    let names: Vec<String> = rdr
        .headers()
        .map_err(err)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut cells = vec![Vec::new(); names.len()];
    let mut lines = Vec::new();
    for record in rdr.records() {
        let record = record.map_err(err)?;
        lines.push(record.position().map_or(0, |p| p.line()));
        for (col, field) in cells.iter_mut().zip(record.iter()) {
            col.push(field.to_string());
        }
    }
    Ok(Raw {
        names,
        cells,
        lines,
    })
}

fn parse_f64(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn infer(cells: &[String]) -> ColumnType {
    let mut present = cells
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .peekable();
    if present.peek().is_none() {
        return ColumnType::F64;
    }
    let all = |ok: fn(&str) -> bool| {
        cells
            .iter()
            .map(|c| c.trim())
            .all(|c| c.is_empty() || ok(c))
    };
    if all(|c| c.parse::<i64>().is_ok()) {
        ColumnType::I64
    } else if all(|c| parse_f64(c).is_some()) {
        ColumnType::F64
    } else if all(|c| parse_bool(c).is_some()) {
        ColumnType::Bool
    } else {
        ColumnType::Str
    }
}

fn parse_column(
    path: &Path,
    name: &str,
    cells: &[String],
    lines: &[u64],
    ty: ColumnType,
) -> Result<Values, IoError> {
    fn typed<T>(
        cells: &[String],
        lines: &[u64],
        parse: impl Fn(&str) -> Option<T>,
        fail: impl Fn(u64, &str) -> IoError,
    ) -> Result<Vec<Option<T>>, IoError> {
        cells
            .iter()
            .zip(lines)
            .map(|(c, &line)| {
                let t = c.trim();
                if t.is_empty() {
                    Ok(None)
                } else {
                    parse(t).map(Some).ok_or_else(|| fail(line, c))
                }
            })
            .collect()
    }
    let fail = |line: u64, value: &str| IoError::CsvField {
        path: path.to_path_buf(),
        line,
        column: name.to_string(),
        value: value.to_string(),
        expected: ty.expected(),
    };
    Ok(match ty {
        ColumnType::F64 => Values::F64(typed(cells, lines, parse_f64, fail)?),
        ColumnType::I64 => Values::I64(typed(cells, lines, |s| s.parse().ok(), fail)?),
        ColumnType::Bool => Values::Bool(typed(cells, lines, parse_bool, fail)?),
        ColumnType::Str => Values::Str(
            cells
                .iter()
                .map(|c| (!c.is_empty()).then(|| c.clone()))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a fixed stream of test bit patterns.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn float_text_round_trips_bit_for_bit() {
        let mut fixed = vec![
            0.1,
            -0.0,
            0.0,
            1.0,
            1e-310,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            1e16,
            9_007_199_254_740_993.0,
            f64::from(0.1f32),
            f64::from(f32::MAX),
            f64::from(1.0e-40f32),
            1.0 / 3.0,
        ];
        let mut s = 7u64;
        fixed.extend(
            (0..20_000)
                .map(|_| f64::from_bits(splitmix(&mut s)))
                .filter(|x| x.is_finite()),
        );
        for x in fixed {
            let t = format_f64(x);
            let back: f64 = t.parse().unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x:?} -> {t}");
        }
    }

    #[test]
    fn float_text_looks_like_a_float() {
        assert_eq!(format_f64(1.0), "1.0");
        assert_eq!(format_f64(-0.0), "-0.0");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(1e-310), "1e-310");
        assert_eq!(format_f64(f64::MAX), "1.7976931348623157e308");
        assert_eq!(format_f64(1e16), "1e16");
        assert_eq!(format_f64(123.5), "123.5");
        assert_eq!(format_f64(f64::NAN), "NaN");
        assert_eq!(format_f64(f64::INFINITY), "inf");
        assert_eq!(format_f64(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn inference_follows_the_documented_order() {
        let col = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(infer(&col(&["1", "", "-7"])), ColumnType::I64);
        assert_eq!(infer(&col(&["1", "2.5"])), ColumnType::F64);
        assert_eq!(infer(&col(&["NaN", "inf", "-inf", "3"])), ColumnType::F64);
        assert_eq!(infer(&col(&["true", "FALSE", ""])), ColumnType::Bool);
        assert_eq!(infer(&col(&["1", "true"])), ColumnType::Str);
        assert_eq!(infer(&col(&["", ""])), ColumnType::F64);
    }
}
