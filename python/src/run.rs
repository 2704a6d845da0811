//! `Scene.run(...)`: one plan (or with `arm="all"` one per arm, as
//! `vtwin run --arm all`) advanced to the end with the GIL released, held
//! in memory as a `Run` (tables, optional final state, manifest) and
//! written on request as the folder `vtwin run` writes: the same tables in
//! the scene's format, and with fields the same `fields.npy`, agents table
//! and `montage.png` (drawn by `vtwin::drivers::snapshots::save_fields`).
//!
//! The run is the library's `vtwin run` driver (`vtwin::drivers::run`):
//! its arms (`arms_of`), its recording of an arm (`record_arm`, here with a
//! plain `record::record_with` and the snapshots kept in memory), its
//! tables (`run_tables`) and its manifest keys (`RunKeys`, plus a `python`
//! key). Between observations it takes the GIL back for a moment to call
//! the progress callback and to check for Ctrl-C (`PyErr_CheckSignals`), so
//! an interrupt stops the run with `KeyboardInterrupt` at the next
//! observation and nothing is written.

use crate::errors::wrap;
use crate::{arg, capsule, held, lock, scene};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use std::path::PathBuf;
use std::sync::Mutex;
use vtwin::core::plan::Plan;
use vtwin::drivers::manifest::PlanManifest;
use vtwin::drivers::run::{ArmRun, RunKeys, arms_of, record_arm, run_tables, table_format};
use vtwin::drivers::snapshots::{MontageOptions, MontageScale};
use vtwin::engine::backend::Backend;
use vtwin::engine::record;
use vtwin::engine::{BackendChoice, EngineError};
use vtwin::input::scene::Scene;
use vtwin::output::io::{RunDir, TableFormat};

pub const NAME: &std::ffi::CStr = c"run";

/// A finished run, in memory.
pub struct RunResult {
    scene: Scene,
    /// One per arm: several only for `arm="all"`.
    arms: Vec<ArmRun>,
    /// `arm="all"`: tables gain a first column `arm`.
    all: bool,
    /// The final state (members × state words), when fields were asked
    /// for (one arm only, as in the CLI).
    state: Option<Vec<f32>>,
    /// Time-lapse snapshots (`every`): (step, state) at the observations
    /// `record::snapshot_indices` picks, as `vtwin run --every K` saves.
    snapshots: Vec<(u64, Vec<f32>)>,
    /// What the montages show (`montage_field`, `montage_scale`).
    montage: MontageOptions,
    /// The scene's `output.format`, as `vtwin run` would write.
    format: TableFormat,
    manifest: serde_json::Value,
}

impl RunResult {
    fn first(&self) -> &ArmRun {
        &self.arms[0]
    }
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

/// What a run keeps and draws besides its tables (`save_fields`,
/// `every`, `montage_field`, `montage_scale`).
struct Keep {
    save_fields: bool,
    every: Option<u32>,
    montage: MontageOptions,
}

/// The montage options of `vtwin run --save-fields [--montage-field NAME]
/// [--montage-scale S]`: the scene's `output.montage_members` members.
fn montage(
    scene: &Scene,
    plan: &Plan,
    field: Option<&str>,
    scale: &str,
) -> anyhow::Result<MontageOptions> {
    let scale = match scale {
        "shared" => MontageScale::Shared,
        "per-panel" => MontageScale::PerPanel,
        other => {
            anyhow::bail!("montage_scale must be \"shared\" or \"per-panel\", not \"{other}\"")
        }
    };
    Ok(MontageOptions {
        field: vtwin::drivers::snapshots::montage_field(plan, field)?,
        scale,
        members: scene.file.output.montage_members,
        draw: true,
    })
}

/// The manifest keys of a run from Python: `vtwin run`'s and `python`.
#[derive(serde::Serialize)]
struct PyKeys {
    #[serde(flatten)]
    run: RunKeys,
    python: PyNote,
}

#[derive(serde::Serialize)]
struct PyNote {
    package: &'static str,
    save_fields: bool,
}

fn simulate(
    scene: &Scene,
    plans: Vec<Plan>,
    all: bool,
    choice: BackendChoice,
    keep: Keep,
    batch_size: Option<u32>,
    progress: Option<&Py<PyAny>>,
) -> anyhow::Result<RunResult> {
    let save_fields = keep.save_fields;
    let started = vtwin::drivers::manifest::now();
    let backend = open_backend(choice)?;
    let mut arms = Vec::with_capacity(plans.len());
    let mut state = None;
    let mut snapshots = Vec::new();
    for plan in plans {
        let engine = backend.engine(&plan, batch_size)?;
        let total = plan.steps;
        let (arm, last) = record_arm::<Stop>(
            engine,
            plan,
            keep.every.filter(|_| save_fields),
            save_fields,
            &mut |engine, at_observation| {
                record::record_with::<Stop>(engine, &mut |_| {}, &mut |engine, k, step| {
                    checkpoint(progress, step, total)?;
                    at_observation(engine, k, step)
                })
            },
            &mut |_, step, s| {
                snapshots.push((step, s));
                Ok(())
            },
        )?;
        if last.is_some() {
            state = last;
        }
        arms.push(arm);
    }
    let format = table_format(scene, None);
    // The manifest `vtwin run` writes, but for the files this run holds.
    let keys = PyKeys {
        run: RunKeys::new(
            &arms,
            all,
            format,
            save_fields.then_some((&keep.montage, keep.every)),
        ),
        python: PyNote {
            package: env!("CARGO_PKG_VERSION"),
            save_fields,
        },
    };
    let failed = arms.iter().map(|a| a.rec.failed()).sum();
    let manifest = serde_json::to_value(PlanManifest::new(
        &arms[0].plan,
        &backend,
        started,
        failed,
        keys,
    ))?;
    Ok(RunResult {
        scene: scene.clone(),
        arms,
        all,
        state,
        snapshots,
        montage: keep.montage,
        format,
        manifest,
    })
}

/// The plans of a run: one, or with `arm="all"` one per arm of the scene
/// (an arm itself named `all` wins, as in `vtwin run --arm all`).
fn plans(
    sc: &Scene,
    members: Option<u32>,
    seed: Option<u64>,
    arm: Option<&str>,
) -> anyhow::Result<(Vec<Plan>, bool)> {
    let (arms, all) = arms_of(sc, arm);
    let plans = arms
        .into_iter()
        .map(|a| scene::freeze(sc, members, seed, a))
        .collect::<anyhow::Result<Vec<Plan>>>()?;
    Ok((plans, all))
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
    let every: Option<u32> = arg(args, 8, "every")?;
    let montage_field: Option<String> = arg(args, 9, "montage_field")?;
    let montage_scale: String = arg(args, 10, "montage_scale")?;
    let choice = scene::backend_choice(&backend)?;
    let result = py.detach(|| {
        let (plans, all) = plans(&sc, members, seed, arm.as_deref())?;
        // The scene's `output.save_fields` asks for them too, as in the CLI.
        let save = save_fields || sc.file.output.save_fields;
        if all && save {
            anyhow::bail!(
                "save_fields with arm=\"all\" is not supported yet (as in `vtwin run`): run each arm on its own"
            );
        }
        // The checks and messages of `vtwin run --every`.
        if every == Some(0) {
            anyhow::bail!("every must be at least 1 (observations between snapshots)");
        }
        if every.is_some() && !save {
            anyhow::bail!("every=K saves fields every K observations: add save_fields=True");
        }
        let keep = Keep {
            save_fields: save,
            every,
            montage: montage(
                &sc,
                &plans[0],
                montage_field.as_deref(),
                &montage_scale,
            )?,
        };
        simulate(&sc, plans, all, choice, keep, batch_size, progress.as_ref())
    });
    let result = wrap(py, result)?;
    capsule(py, result, NAME)
}

/// params, observables and status, as `vtwin run` writes them (stacked
/// under a first column `arm` for `arm="all"`).
fn tables_of(r: &RunResult) -> anyhow::Result<Vec<vtwin::output::table::Table>> {
    Ok(run_tables(&r.arms, r.all)?)
}

pub fn tables(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    let list = PyList::empty(py);
    for t in wrap(py, tables_of(&r))? {
        list.append(crate::tables::to_py(py, &t)?)?;
    }
    Ok(list.into_any().unbind())
}

pub fn fields(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    let Some(state) = &r.state else {
        return Ok(py.None());
    };
    let plan = &r.first().plan;
    let f = record::member_fields(plan, state);
    let g = plan.model.grid();
    let bytes: Vec<u8> = f.iter().flat_map(|x| x.to_le_bytes()).collect();
    let shape = (
        plan.members as usize,
        g.fields as usize,
        g.ny as usize,
        g.nx as usize,
    );
    Ok((PyBytes::new(py, &bytes), shape)
        .into_pyobject(py)?
        .into_any()
        .unbind())
}

/// The time-lapse snapshots: a list of (step, bytes, shape) like
/// [`fields`], in step order.
pub fn snapshots(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    let plan = &r.first().plan;
    let g = plan.model.grid();
    let shape = (
        plan.members as usize,
        g.fields as usize,
        g.ny as usize,
        g.nx as usize,
    );
    let list = PyList::empty(py);
    for (step, state) in &r.snapshots {
        let f = record::member_fields(plan, state);
        let bytes: Vec<u8> = f.iter().flat_map(|x| x.to_le_bytes()).collect();
        list.append((*step, PyBytes::new(py, &bytes), shape))?;
    }
    Ok(list.into_any().unbind())
}

pub fn manifest(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let r = lock(held::<RunResult>(&obj, NAME)?);
    Ok(PyString::new(py, &r.manifest.to_string())
        .into_any()
        .unbind())
}

/// Writes the run folder `vtwin run` writes, atomically (temporary
/// sibling, then rename): params/observables/status in the scene's format
/// and, when fields were kept, fields.npy, the agents table of an agent
/// model and montage.png; manifest.json with every file's hash. Returns
/// the folder's path.
pub fn save(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let held = held::<RunResult>(&obj, NAME)?;
    let out: PathBuf = arg(args, 1, "path")?;
    let force: bool = arg(args, 2, "force")?;
    let written = py.detach(|| -> anyhow::Result<PathBuf> {
        let r = lock(held);
        let inputs = [r.scene.path.as_path()];
        let dir = RunDir::create_for(&out, force, &inputs)?;
        vtwin::drivers::run::write_tables(&dir, &r.arms, r.all, r.format)?;
        let plan = &r.first().plan;
        // In the CLI's order: the time-lapse snapshots, then the final state.
        for (step, state) in &r.snapshots {
            let tag = format!(
                "_{}",
                vtwin::drivers::snapshots::step_tag(*step, plan.steps)
            );
            vtwin::drivers::snapshots::save_fields(
                &dir, plan, state, &r.montage, r.format, *step, &tag,
            )?;
        }
        if let Some(state) = &r.state {
            vtwin::drivers::snapshots::save_fields(
                &dir, plan, state, &r.montage, r.format, plan.steps, "",
            )?;
        }
        Ok(dir.finish(r.manifest.clone())?)
    });
    let written = wrap(py, written)?;
    Ok(PyString::new(py, &written.display().to_string())
        .into_any()
        .unbind())
}
