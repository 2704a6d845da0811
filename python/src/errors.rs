//! Library errors as Python exceptions: a [`vtwin::input::scene::SceneError`]
//! anywhere in the chain becomes `vtwin.SceneError` (file, line, column,
//! key attributes); anything else `vtwin.VtwinError` with the same text the
//! CLI prints (`message: cause: cause`). The exception classes are defined
//! in Python (`vtwin/_errors.py`) so they can be subclassed and documented
//! there.

use pyo3::prelude::*;
use vtwin::input::scene::SceneError;

/// The CLI's text of an error: the message and its causes.
pub fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("vtwin._errors")?.getattr(name)
}

/// `e` as the Python exception to raise.
pub fn py_err(py: Python<'_>, e: anyhow::Error) -> PyErr {
    if let Some(pe) = e.downcast_ref::<PyErr>() {
        return pe.clone_ref(py);
    }
    let scene = e.chain().find_map(|c| c.downcast_ref::<SceneError>());
    let made = match scene {
        Some(se) => class(py, "SceneError").and_then(|c| {
            c.call1((
                describe(&e),
                se.path.display().to_string(),
                se.line,
                se.column,
                se.key.clone(),
                se.message.clone(),
            ))
        }),
        None => class(py, "VtwinError").and_then(|c| c.call1((describe(&e),))),
    };
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(err) => err,
    }
}

/// Runs `f` and turns its error into the Python exception.
pub fn wrap<T>(py: Python<'_>, r: anyhow::Result<T>) -> PyResult<T> {
    r.map_err(|e| py_err(py, e))
}
