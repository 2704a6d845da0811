//! Typed access to the columns of a `Table`, with errors that name the table
//! and the column.
//!
//! Owns: nothing but these lookups. Never changes a table.

use super::error::CohortError;
use crate::output::table::{Table, Values};

fn err(t: &Table, column: &str, message: impl Into<String>) -> CohortError {
    CohortError::Column {
        table: t.name.clone(),
        column: column.into(),
        message: message.into(),
    }
}

fn get<'t>(t: &'t Table, column: &str) -> Result<&'t Values, CohortError> {
    t.column(column).ok_or_else(|| {
        err(
            t,
            column,
            format!("missing (columns: {})", t.column_names().join(", ")),
        )
    })
}

pub fn i64s<'t>(t: &'t Table, column: &str) -> Result<&'t [Option<i64>], CohortError> {
    match get(t, column)? {
        Values::I64(v) => Ok(v),
        other => Err(err(
            t,
            column,
            format!("expected int64, found {}", other.type_name()),
        )),
    }
}

pub fn strs<'t>(t: &'t Table, column: &str) -> Result<&'t [Option<String>], CohortError> {
    match get(t, column)? {
        Values::Str(v) => Ok(v),
        other => Err(err(
            t,
            column,
            format!("expected string, found {}", other.type_name()),
        )),
    }
}

pub fn bools<'t>(t: &'t Table, column: &str) -> Result<&'t [Option<bool>], CohortError> {
    match get(t, column)? {
        Values::Bool(v) => Ok(v),
        other => Err(err(
            t,
            column,
            format!("expected bool, found {}", other.type_name()),
        )),
    }
}

/// A numeric view of a float, integer or boolean column (true = 1).
pub fn numbers(t: &Table, column: &str) -> Result<Vec<Option<f64>>, CohortError> {
    numeric(get(t, column)?)
        .ok_or_else(|| err(t, column, "expected a numeric column, found string"))
}

/// A numeric view of `v`, or `None` for a string column.
pub fn numeric(v: &Values) -> Option<Vec<Option<f64>>> {
    match v {
        Values::F64(v) => Some(v.clone()),
        Values::I64(v) => Some(v.iter().map(|x| x.map(|x| x as f64)).collect()),
        Values::Bool(v) => Some(
            v.iter()
                .map(|x| x.map(|b| if b { 1.0 } else { 0.0 }))
                .collect(),
        ),
        Values::Str(_) => None,
    }
}

/// Rows `keep` of `v`, in order.
pub fn take(v: &Values, keep: &[usize]) -> Values {
    fn pick<T: Clone>(v: &[Option<T>], keep: &[usize]) -> Vec<Option<T>> {
        keep.iter().map(|&i| v[i].clone()).collect()
    }
    match v {
        Values::F64(x) => Values::F64(pick(x, keep)),
        Values::I64(x) => Values::I64(pick(x, keep)),
        Values::Str(x) => Values::Str(pick(x, keep)),
        Values::Bool(x) => Values::Bool(pick(x, keep)),
    }
}
