//! `Scene.run(...)`: one plan advanced to the end with the GIL released,
//! held in memory as a `Run` (tables, optional final fields, manifest) and
//! written on request as the folder `vtwin run` writes.
//!
//! The loop is the library's (`record::record_with`); between observations
//! it takes the GIL back for a moment to call the progress callback and to
//! check for Ctrl-C (`PyErr_CheckSignals`), so an interrupt stops the run
//! with `KeyboardInterrupt` at the next observation and nothing is written.

use crate::errors::wrap;
use crate::{arg, capsule, held, lock, scene};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use std::path::PathBuf;
use std::sync::Mutex;
use vtwin::backend::Backend;
use vtwin::engine::{BackendChoice, EngineError};
use vtwin::io::{RunDir, TableFormat};
use vtwin::plan::Plan;
use vtwin::record::{self, Recording, params_table};
use vtwin::scene::Scene;

pub const NAME: &std::ffi::CStr = c"run";

/// A finished run, in memory.
pub struct RunResult {
    scene: Scene,
    plan: Plan,
    rec: Recording,
    /// Members × fields × ny × nx, when fields were asked for.
    fields: Option<Vec<f32>>,
    manifest: serde_json::Value,
}

/// Backends opened so far, by choice: a GPU device is opened once per
/// process and shared by every run and simulator.
static BACKENDS: Mutex<Vec<(BackendChoice, Backend)>> = Mutex::new(Vec::new());

pub fn open_backend(choice: BackendChoice) -> anyhow::Result<Backend> {
    let mut open = lock(&BACKENDS);
    if let Some((_, b)) = open.iter().find(|(c, _)| *c == choice) {
        return Ok(b.clone());
    }
    let b = Backend::open(choice, None, &mut |m| eprintln!("vtwin: {m}"))?;
    open.push((choice, b.clone()));
    Ok(b)
}

/// Why a recording stopped early.
pub enum Stop {
    Engine(EngineError),
    Python(PyErr),
}

impl From<EngineError> for Stop {
    fn from(e: EngineError) -> Self {
        Stop::Engine(e)
    }
}

impl From<Stop> for anyhow::Error {
    fn from(s: Stop) -> Self {
        match s {
            Stop::Engine(e) => anyhow::Error::new(e).context("simulation failed"),
            Stop::Python(e) => anyhow::Error::new(e),
        }
    }
}

/// Between observations: the progress callback and Ctrl-C, with the GIL.
pub fn checkpoint(progress: Option<&Py<PyAny>>, step: u64, total: u64) -> Result<(), Stop> {
    Python::attach(|py| {
        py.check_signals()?;
        if let Some(cb) = progress {
            cb.call1(py, (step, total))?;
        }
        Ok(())
    })
    .map_err(Stop::Python)
}

fn simulate(
    scene: &Scene,
    plan: Plan,
    choice: BackendChoice,
    save_fields: bool,
    batch_size: Option<u32>,
    progress: Option<&Py<PyAny>>,
) -> anyhow::Result<RunResult> {
    let started = vtwin::manifest::now();
    let backend = open_backend(choice)?;
    let mut engine = backend.engine(&plan, batch_size)?;
    let total = plan.steps;
    let rec = record::record_with(engine.as_mut(), &mut |_| {}, &mut |_, _, step| {
        checkpoint(progress, step, total)
    })?;
    let fields = if save_fields {
        let state = engine.read_state()?;
        Some(record::member_fields(&plan, &state).into_owned())
    } else {
        None
    };
    let kernel = engine.kernel_note();
    drop(engine);
    // The manifest `vtwin run` writes, but for the files this run holds.
    let descr: Vec<serde_json::Value> = plan
        .observables
        .describe()
        .into_iter()
        .map(|(n, u, d)| serde_json::json!({"name": n, "unit": u, "description": d}))
        .collect();
    let extra = serde_json::json!({
        "steps": plan.steps,
        "dt": plan.model.dt(),
        "time_unit": plan.model.info().time_unit,
        "format": TableFormat::Parquet.extension(),
        "observables": descr,
        "posterior": null,
        "kernel": kernel,
        "shard": null,
        "python": {"package": env!("CARGO_PKG_VERSION"), "save_fields": save_fields},
    });
    let manifest = vtwin::manifest::for_plan(&plan, &backend, started, rec.failed(), extra);
    Ok(RunResult {
        scene: scene.clone(),
        plan,
        rec,
        fields,
        manifest,
    })
}

pub fn run(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let sc = scene::get(&args.get_item(0)?)?;
    let members: Option<u32> = arg(args, 1, "members")?;
    let seed: Option<u64> = arg(args, 2, "seed")?;
    let arm: Option<String> = arg(args, 3, "arm")?;
    let backend: String = arg(args, 4, "backend")?;
    let save_fields: bool = arg(args, 5, "save_fields")?;
    let batch_size: Option<u32> = arg(args, 6, "batch_size")?;
    let progress: Option<Py<PyAny>> = arg(args, 7, "progress")?;
    let choice = scene::backend_choice(&backend)?;
    let result = py.detach(|| {
        let plan = scene::freeze(&sc, members, seed, arm.as_deref())?;
        simulate(
            &sc,
            plan,
            choice,
            save_fields,
            batch_size,
            progress.as_ref(),
        )
    });
    let result = wrap(py, result)?;
    capsule(py, result, NAME)
}

fn tables_of(r: &RunResult) -> Vec<vtwin::table::Table> {
    vec![
        params_table(&r.plan),
        r.rec.observables_table(&r.plan),
        r.rec.status_table(),
    ]
}

pub fn tables(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    let list = PyList::empty(py);
    for t in tables_of(&r) {
        list.append(crate::tables::to_py(py, &t)?)?;
    }
    Ok(list.into_any().unbind())
}

pub fn fields(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    let Some(f) = &r.fields else {
        return Ok(py.None());
    };
    let g = r.plan.model.grid();
    let bytes: Vec<u8> = f.iter().flat_map(|x| x.to_le_bytes()).collect();
    let shape = (
        r.plan.members as usize,
        g.fields as usize,
        g.ny as usize,
        g.nx as usize,
    );
    Ok((PyBytes::new(py, &bytes), shape)
        .into_pyobject(py)?
        .into_any()
        .unbind())
}

pub fn manifest(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    Ok(PyString::new(py, &r.manifest.to_string())
        .into_any()
        .unbind())
}

/// Writes the run folder atomically (temporary sibling, then rename):
/// params/observables/status as Parquet, fields.npy when fields were kept,
/// manifest.json with every file's hash. Returns the folder's path.
pub fn save(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let held = held::<RunResult>(&obj, NAME)?;
    let out: PathBuf = arg(args, 1, "path")?;
    let force: bool = arg(args, 2, "force")?;
    let written = py.detach(|| -> anyhow::Result<PathBuf> {
        let r = lock(held);
        let inputs = [r.scene.path.as_path()];
        let dir = RunDir::create_for(&out, force, &inputs)?;
        for t in tables_of(&r) {
            dir.write_table(&t, TableFormat::Parquet)?;
        }
        if let Some(f) = &r.fields {
            let g = r.plan.model.grid();
            vtwin::io::write_npy_f32(
                &dir.file("fields.npy"),
                &[
                    r.plan.members as usize,
                    g.fields as usize,
                    g.ny as usize,
                    g.nx as usize,
                ],
                f,
            )?;
        }
        Ok(dir.finish(r.manifest.clone())?)
    });
    let written = wrap(py, written)?;
    Ok(PyString::new(py, &written.display().to_string())
        .into_any()
        .unbind())
}
