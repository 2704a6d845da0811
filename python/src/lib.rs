//! `vtwin._vtwin`: the native half of the Python package. A thin binding:
//! every result comes from the vtwin library, this crate only moves values
//! between Python and Rust, releases the GIL around engine work and turns
//! errors into Python exceptions. The user-facing classes (`Scene`, `Run`,
//! `Simulator`) are written in Python (`python/vtwin/`) on top of the
//! functions registered here; Rust objects travel as named capsules.
//!
//! PyO3 is used without its `macros` feature: the macros pull in `syn`
//! with extra features, which would give every crate of the dependency
//! tree a new build hash and rebuild it; without them the wheel reuses the
//! dependencies `cargo test` compiled in the shared `target/` folder
//! (`maturin build --profile dev`). Functions are registered as closures
//! (`PyCFunction::new_closure`) and the module by hand ([`PyInit__vtwin`]).
//!
//! Owns: argument conversion, capsules, the GIL and signals. Never decides
//! numerics, file layout or manifests: those are the library's.

mod cli;
mod errors;
mod run;
mod scene;
mod sim;
mod tables;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyCapsule, PyDict, PyModule, PyTuple};
use std::ffi::{CStr, CString};
use std::sync::Mutex;

pub use errors::py_err;

/// A registered function: positional arguments in, a Python object out.
type Entry = fn(Python<'_>, &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>>;

/// The functions of `vtwin._vtwin`, with their docstrings.
const FUNCTIONS: &[(&CStr, &CStr, Entry)] = &[
    (c"scene_load", c"scene_load(path) -> capsule", scene::load),
    (
        c"scene_parse",
        c"scene_parse(path, text) -> capsule",
        scene::parse,
    ),
    (c"scene_info", c"scene_info(scene) -> json", scene::info),
    (
        c"scene_source",
        c"scene_source(scene) -> str",
        scene::source,
    ),
    (
        c"scene_check",
        c"scene_check(scene, members, seed, arm, backend) -> json",
        scene::check,
    ),
    (
        c"scene_with_params",
        c"scene_with_params(scene, json) -> capsule",
        scene::with_params,
    ),
    (
        c"run",
        c"run(scene, members, seed, arm, backend, save_fields, batch_size, progress, every, montage_field, montage_scale) -> capsule",
        run::run,
    ),
    (c"run_tables", c"run_tables(run) -> list", run::tables),
    (
        c"run_fields",
        c"run_fields(run) -> (bytes, shape) | None",
        run::fields,
    ),
    (
        c"run_snapshots",
        c"run_snapshots(run) -> list[(step, bytes, shape)]",
        run::snapshots,
    ),
    (c"run_manifest", c"run_manifest(run) -> json", run::manifest),
    (c"run_save", c"run_save(run, dir, force) -> str", run::save),
    (
        c"simulator_new",
        c"simulator_new(scene, backend, arm, seed, batch_size) -> capsule",
        sim::new,
    ),
    (c"simulator_info", c"simulator_info(sim) -> json", sim::info),
    (
        c"simulator_call",
        c"simulator_call(sim, names, values, rows, seed) -> list",
        sim::call,
    ),
    (c"cli", c"cli(argv) -> int: one vtwin command", cli::run),
];

/// The module's entry point, called by the interpreter on `import`.
///
/// # Safety
/// Called by CPython with the GIL held, once per process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PyInit__vtwin() -> *mut ffi::PyObject {
    // The module definition must outlive the module: it is leaked once.
    let def = Box::leak(Box::new(ffi::PyModuleDef {
        m_base: ffi::PyModuleDef_HEAD_INIT,
        m_name: c"vtwin._vtwin".as_ptr(),
        m_doc: c"Native half of the vtwin Python package (see vtwin/__init__.py).".as_ptr(),
        m_size: -1,
        m_methods: std::ptr::null_mut(),
        m_slots: std::ptr::null_mut(),
        m_traverse: None,
        m_clear: None,
        m_free: None,
    }));
    Python::attach(|py| {
        // SAFETY: `def` is a valid, leaked module definition; the GIL is held.
        let raw = unsafe { ffi::PyModule_Create(def) };
        let module = match unsafe { Bound::from_owned_ptr_or_err(py, raw) } {
            Ok(m) => m,
            Err(e) => {
                e.restore(py);
                return std::ptr::null_mut();
            }
        };
        match fill(py, &module) {
            Ok(()) => module.into_ptr(),
            Err(e) => {
                e.restore(py);
                std::ptr::null_mut()
            }
        }
    })
}

fn fill(py: Python<'_>, module: &Bound<'_, PyAny>) -> PyResult<()> {
    let module = module.cast::<PyModule>()?;
    for &(name, doc, f) in FUNCTIONS {
        let func = PyCFunction::new_closure(
            py,
            Some(name),
            Some(doc),
            move |args: &Bound<'_, PyTuple>, _kw: Option<&Bound<'_, PyDict>>| f(args.py(), args),
        )?;
        module.add(name.to_str().unwrap_or("?"), func)?;
    }
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    cli::quiet_interrupt_handler()?;
    Ok(())
}

/// Argument `i` of `args`, extracted, with a message naming it.
pub fn arg<'py, T>(args: &Bound<'py, PyTuple>, i: usize, what: &str) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    let item = args.get_item(i).map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!("missing argument {i} ({what})"))
    })?;
    item.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        pyo3::exceptions::PyTypeError::new_err(format!("{what}: {}", e.value(args.py())))
    })
}

/// Wraps `value` in a capsule named `name` (the kind of object it holds).
pub fn capsule<T: Send + 'static>(py: Python<'_>, value: T, name: &CStr) -> PyResult<Py<PyAny>> {
    let cap = PyCapsule::new(py, Mutex::new(value), Some(CString::from(name)))?;
    Ok(cap.into_any().unbind())
}

/// The object inside a capsule made by [`capsule`] with the same `name`;
/// anything else is a TypeError, never a crash.
pub fn held<'a, T: Send + 'static>(
    obj: &'a Bound<'_, PyAny>,
    name: &CStr,
) -> PyResult<&'a Mutex<T>> {
    let wrong = || {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "expected a vtwin {} handle",
            name.to_string_lossy()
        ))
    };
    let cap = obj.cast::<PyCapsule>().map_err(|_| wrong())?;
    let ptr = cap.pointer_checked(Some(name)).map_err(|_| wrong())?;
    // SAFETY: a capsule named `name` is only ever made by `capsule` with a
    // `Mutex<T>` of this `T` (each name is used with one type), and lives
    // as long as `obj`.
    Ok(unsafe { &*ptr.as_ptr().cast::<Mutex<T>>() })
}

/// Locks a handle's mutex; a poisoned one (a panic in an earlier call) is
/// taken over, the value being still whole.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
