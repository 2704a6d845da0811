//! [`vtwin::output::table::Table`] to Python without a text round trip: each
//! column goes over as `(name, type, data, nulls)` where numeric data are
//! the raw little-endian bytes of a float64/int64/bool array and `nulls`
//! the bytes of a bool mask (or None without nulls); strings go as a list.
//! `vtwin/_tables.py` builds Arrow arrays from them (numpy buffers with a
//! null mask) and a pandas DataFrame from the Arrow table.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use vtwin::output::table::{Table, Values};

fn nulls<'py, T>(py: Python<'py>, v: &[Option<T>]) -> Option<Bound<'py, PyBytes>> {
    if v.iter().all(Option::is_some) {
        return None;
    }
    let mask: Vec<u8> = v.iter().map(|x| u8::from(x.is_none())).collect();
    Some(PyBytes::new(py, &mask))
}

/// One table as `(name, [(column, type, data, nulls), …])`.
pub fn to_py<'py>(py: Python<'py>, t: &Table) -> PyResult<Bound<'py, PyTuple>> {
    let cols = PyList::empty(py);
    for c in &t.columns {
        let item = match &c.values {
            Values::F64(v) => {
                let data: Vec<u8> = v
                    .iter()
                    .flat_map(|x| x.unwrap_or(f64::NAN).to_le_bytes())
                    .collect();
                (
                    c.name.as_str(),
                    "float64",
                    PyBytes::new(py, &data).into_any(),
                    nulls(py, v),
                )
            }
            Values::I64(v) => {
                let data: Vec<u8> = v
                    .iter()
                    .flat_map(|x| x.unwrap_or(0).to_le_bytes())
                    .collect();
                (
                    c.name.as_str(),
                    "int64",
                    PyBytes::new(py, &data).into_any(),
                    nulls(py, v),
                )
            }
            Values::Bool(v) => {
                let data: Vec<u8> = v.iter().map(|x| u8::from(x.unwrap_or(false))).collect();
                (
                    c.name.as_str(),
                    "bool",
                    PyBytes::new(py, &data).into_any(),
                    nulls(py, v),
                )
            }
            Values::Str(v) => (
                c.name.as_str(),
                "string",
                PyList::new(py, v.iter().map(|s| s.as_deref()))?.into_any(),
                None,
            ),
        };
        cols.append(item)?;
    }
    PyTuple::new(
        py,
        [
            t.name.clone().into_pyobject(py)?.into_any(),
            cols.into_any(),
        ],
    )
}
