//! Scenes from Python: load, parse, describe, check (the resolved plan as
//! JSON) and parameter overrides. An override rewrites the scene's
//! `[parameters]` table in its TOML text and parses that text again, so
//! the override is validated exactly as a file would be and the plan's
//! scene hash is the hash of the text that ran.

use crate::errors::wrap;
use crate::{arg, capsule, held, lock};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::json;
use std::path::{Path, PathBuf};
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::BackendChoice;
use vtwin::input::scene::Scene;

pub const NAME: &std::ffi::CStr = c"scene";

/// The scene held by a capsule (cloned: scenes are small).
pub fn get(obj: &Bound<'_, PyAny>) -> PyResult<Scene> {
    Ok(lock(held::<Scene>(obj, NAME)?).clone())
}

pub fn load(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let path: PathBuf = arg(args, 0, "path")?;
    let scene = wrap(
        py,
        vtwin::drivers::scenes::load(&path).map_err(anyhow::Error::from),
    )?;
    // Models are resolved now, so an unknown parameter is an error of
    // `Scene.load`, not of the first run.
    wrap(py, resolve(&scene))?;
    capsule(py, scene, NAME)
}

pub fn parse(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let path: PathBuf = arg(args, 0, "path")?;
    let text: String = arg(args, 1, "text")?;
    let scene = wrap(
        py,
        vtwin::drivers::scenes::parse(&path, &text).map_err(anyhow::Error::from),
    )?;
    wrap(py, resolve(&scene))?;
    capsule(py, scene, NAME)
}

fn resolve(scene: &Scene) -> anyhow::Result<vtwin::input::params::ParamBlock> {
    let info = vtwin::core::model_scene::info_for(scene)?;
    Ok(vtwin::core::model_scene::resolve_params(scene, &info)?)
}

pub fn source(_py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let scene = get(&args.get_item(0)?)?;
    Ok(pyo3::types::PyString::new(args.py(), &scene.source)
        .into_any()
        .unbind())
}

/// Parses a backend name as the CLI's `--backend`.
pub fn backend_choice(name: &str) -> PyResult<BackendChoice> {
    match name {
        "auto" => Ok(BackendChoice::Auto),
        "gpu" => Ok(BackendChoice::Gpu),
        "cpu" => Ok(BackendChoice::Cpu),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "backend must be \"auto\", \"gpu\" or \"cpu\", not {other:?}"
        ))),
    }
}

/// Freezes the plan a run would use (the CLI's `freeze_plan` without a
/// posterior).
pub fn freeze(
    scene: &Scene,
    members: Option<u32>,
    seed: Option<u64>,
    arm: Option<&str>,
) -> anyhow::Result<Plan> {
    if members == Some(0) {
        anyhow::bail!("members must be at least 1");
    }
    Ok(Plan::freeze(
        scene,
        &PlanOptions {
            members,
            seed,
            arm: arm.map(str::to_string),
            ..Default::default()
        },
    )?)
}

fn text(py: Python<'_>, value: serde_json::Value) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyString::new(py, &value.to_string())
        .into_any()
        .unbind())
}

/// What a scene declares: path, hash, model, parameters with their
/// distributions, arms, ensemble defaults and observables.
pub fn info(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let scene = get(&args.get_item(0)?)?;
    let block = wrap(py, resolve(&scene))?;
    let model = wrap(
        py,
        vtwin::core::model_scene::info_for(&scene).map_err(anyhow::Error::from),
    )?;
    let params: Vec<serde_json::Value> = block
        .params
        .iter()
        .map(|p| json!({"name": p.name, "distribution": format!("{:?}", p.dist)}))
        .collect();
    text(
        py,
        json!({
            "path": scene.path.display().to_string(),
            "sha256": scene.sha256,
            "description": scene.file.description,
            "model": model.kind,
            "parameters": params,
            "arms": scene.arms().iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
            "members": scene.file.ensemble.members,
            "seed": scene.file.ensemble.seed,
        }),
    )
}

/// The resolved plan without running it (`vtwin check`): sizes, steps,
/// parameters per member, observables, the batches the backend would use.
pub fn check(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let scene = get(&args.get_item(0)?)?;
    let members: Option<u32> = arg(args, 1, "members")?;
    let seed: Option<u64> = arg(args, 2, "seed")?;
    let arm: Option<String> = arg(args, 3, "arm")?;
    let backend: String = arg(args, 4, "backend")?;
    let choice = backend_choice(&backend)?;
    let value = py.detach(|| -> anyhow::Result<serde_json::Value> {
        let plan = freeze(&scene, members, seed, arm.as_deref())?;
        if let Some(p) = plan.model.gpu_program() {
            vtwin::core::shaders::validate(&format!("{}.step", plan.model.info().kind), &p.source)?;
        }
        let backend = vtwin::engine::backend::Backend::open(choice, None, &mut |_| {})?;
        let host = plan.host_bytes(backend.name() == "cpu");
        vtwin::input::limits::check_host_memory(
            &format!("this plan on the {} backend", backend.name()),
            host,
        )
        .map_err(anyhow::Error::msg)?;
        let info = plan.model.info();
        let g = plan.model.grid();
        let observables: Vec<serde_json::Value> = plan
            .observables
            .describe()
            .into_iter()
            .map(|(n, u, d)| json!({"name": n, "unit": u, "description": d}))
            .collect();
        Ok(json!({
            "scene": {"path": scene.path.display().to_string(), "sha256": scene.sha256},
            "model": info.kind,
            "grid": {"nx": g.nx, "ny": g.ny, "dx": g.dx, "fields": g.fields},
            "fields": info.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
            "members": plan.members,
            "seed": plan.seed,
            "arm": plan.arm.name,
            "steps": plan.steps,
            "dt": plan.model.dt(),
            "time_unit": info.time_unit,
            "observation_steps": plan.observation_steps(),
            "parameters": plan.block.params.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "member_params": plan.params,
            "observables": observables,
            "plan_sha256": plan.sha256,
            "backend": backend.name(),
            "adapter": backend.adapter(),
            "batches": backend.batches(&plan, None),
            "host_bytes": host,
        }))
    });
    let value = wrap(py, value)?;
    text(py, value)
}

/// A new scene whose `[parameters]` entries named in the JSON object are
/// replaced (a number: fixed; an object: a distribution table as in a
/// scene file).
pub fn with_params(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let scene = get(&args.get_item(0)?)?;
    let overrides: String = arg(args, 1, "overrides")?;
    let edited = wrap(py, override_params(&scene, &overrides))?;
    wrap(py, resolve(&edited))?;
    capsule(py, edited, NAME)
}

fn override_params(scene: &Scene, overrides: &str) -> anyhow::Result<Scene> {
    let overrides: serde_json::Map<String, serde_json::Value> = serde_json::from_str(overrides)?;
    let mut doc: toml::Table = toml::from_str(&scene.source)?;
    let params = doc
        .entry("parameters")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(params) = params.as_table_mut() else {
        anyhow::bail!("{}: `parameters` is not a table", scene.path.display());
    };
    for (k, v) in overrides {
        params.insert(k, toml::Value::try_from(v)?);
    }
    let text = toml::to_string(&doc)?;
    Ok(vtwin::drivers::scenes::parse(
        &scene_path(&scene.path),
        &text,
    )?)
}

/// The path an edited scene reports in messages and manifests.
fn scene_path(p: &Path) -> PathBuf {
    p.to_path_buf()
}
