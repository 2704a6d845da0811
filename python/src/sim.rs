//! `scene.simulator(...)`: a handle for custom loops (SALib, pyABC,
//! scikit-learn). The scene is validated and its plan frozen once, the
//! backend (GPU device) opened once; each call re-parameterises the frozen
//! plan (`Plan::with_params`, the path `vtwin calibrate`'s simulator takes)
//! and runs it as one ensemble, row i of the call being member i.
//!
//! Engines are kept between calls, one per (rows, seed) shape (the last
//! [`KEEP`] shapes): a call whose shape was seen before restarts that
//! engine with its rows (`Engine::restart`: initial state, parameters,
//! status, step 0) instead of building buffers and compiling GPU pipelines
//! again. Results are those of a new engine, bit for bit (tested against
//! fresh runs in python/tests/test_sim.py).

use crate::errors::wrap;
use crate::run::{checkpoint, open_backend};
use crate::{arg, capsule, held, lock, scene};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use vtwin::core::plan::Plan;
use vtwin::engine::Engine;
use vtwin::engine::backend::Backend;
use vtwin::input::params::Distribution;

pub const NAME: &std::ffi::CStr = c"simulator";

/// Engine shapes kept between calls; the least recently used goes first.
const KEEP: usize = 4;

/// What an engine is built for besides parameters: rows (members) and seed.
type Shape = (u32, u64);

pub struct Simulator {
    plan: Plan,
    backend: Backend,
    batch_size: Option<u32>,
    calls: u64,
    /// Engines by shape, most recently used last.
    engines: Vec<(Shape, Box<dyn Engine + Send>)>,
    /// Engines built so far (a call that restarts one builds none).
    built: u64,
}

impl Simulator {
    /// The engine for `plan` (members and seed as its shape), restarted
    /// with `plan`'s parameters when one of that shape is kept, else new.
    fn engine_for(&mut self, plan: &Plan) -> anyhow::Result<&mut (dyn Engine + Send)> {
        let shape = (plan.members, plan.seed);
        match self.engines.iter().position(|(s, _)| *s == shape) {
            Some(i) => {
                let mut kept = self.engines.remove(i);
                // A failed restart drops the engine; the next call builds anew.
                kept.1.restart(&plan.params_f32())?;
                self.engines.push(kept);
            }
            None => {
                let e = self.backend.engine_send(plan, self.batch_size)?;
                self.built += 1;
                if self.engines.len() >= KEEP {
                    self.engines.remove(0);
                }
                self.engines.push((shape, e));
            }
        }
        let last = self.engines.last_mut().expect("an engine was just pushed");
        Ok(last.1.as_mut())
    }
}

pub fn new(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let sc = scene::get(&args.get_item(0)?)?;
    let backend: String = arg(args, 1, "backend")?;
    let arm: Option<String> = arg(args, 2, "arm")?;
    let seed: Option<u64> = arg(args, 3, "seed")?;
    let batch_size: Option<u32> = arg(args, 4, "batch_size")?;
    let choice = scene::backend_choice(&backend)?;
    let sim = py.detach(|| -> anyhow::Result<Simulator> {
        let plan = scene::freeze(&sc, Some(1), seed, arm.as_deref())?;
        Ok(Simulator {
            plan,
            backend: open_backend(choice)?,
            batch_size,
            calls: 0,
            engines: Vec::new(),
            built: 0,
        })
    });
    let sim = wrap(py, sim)?;
    capsule(py, sim, NAME)
}

/// Parameters (name, fixed value or None when it varies), the backend and
/// how many calls were made and engines built.
pub fn info(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let s = lock(held::<Simulator>(&obj, NAME)?);
    let params: Vec<serde_json::Value> = s
        .plan
        .block
        .params
        .iter()
        .map(|p| {
            let fixed = match p.dist {
                Distribution::Fixed(v) => Some(v),
                _ => None,
            };
            serde_json::json!({"name": p.name, "fixed": fixed})
        })
        .collect();
    let v = serde_json::json!({
        "parameters": params,
        "backend": s.backend.name(),
        "adapter": s.backend.adapter(),
        "arm": s.plan.arm.name,
        "seed": s.plan.seed,
        "steps": s.plan.steps,
        "calls": s.calls,
        "engines_built": s.built,
    });
    Ok(PyString::new(py, &v.to_string()).into_any().unbind())
}

/// The member rows of a call over the plan's whole parameter block:
/// `names` are the given columns, `values` row-major (`rows` × names).
/// A parameter not given keeps its fixed value; one that varies in the
/// scene must be given. Unknown names and non-finite values are errors.
fn member_rows(
    plan: &Plan,
    names: &[String],
    values: &[f64],
    rows: usize,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let block = &plan.block.params;
    let known: Vec<&str> = block.iter().map(|p| p.name.as_str()).collect();
    let mut at = Vec::with_capacity(names.len());
    for n in names {
        match known.iter().position(|k| k == n) {
            Some(i) => at.push(i),
            None => anyhow::bail!(
                "unknown parameter `{n}`; the scene's parameters are: {}",
                known.join(", ")
            ),
        }
    }
    if let Some((i, _)) = at.iter().enumerate().find(|(i, a)| at[..*i].contains(a)) {
        anyhow::bail!("parameter `{}` is given twice", names[i]);
    }
    if values.len() != rows * names.len() {
        anyhow::bail!(
            "{} values for {rows} rows of {} parameters",
            values.len(),
            names.len()
        );
    }
    if rows == 0 {
        anyhow::bail!("no parameter rows: give at least one");
    }
    vtwin::input::limits::check_members("parameter rows", rows as u64)
        .map_err(anyhow::Error::msg)?;
    let mut base = Vec::with_capacity(block.len());
    for (i, p) in block.iter().enumerate() {
        match (&p.dist, at.contains(&i)) {
            (_, true) => base.push(f64::NAN),
            (Distribution::Fixed(v), false) => base.push(*v),
            (_, false) => anyhow::bail!(
                "parameter `{}` varies in the scene; give it as a column",
                p.name
            ),
        }
    }
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let mut row = base.clone();
        for (c, &i) in at.iter().enumerate() {
            let v = values[r * names.len() + c];
            if !v.is_finite() {
                anyhow::bail!(
                    "row {r}, parameter `{}`: {v} is not a finite number",
                    names[c]
                );
            }
            row[i] = v;
        }
        out.push(row);
    }
    Ok(out)
}

/// One call: returns `[observables, status]` as tables (see `tables`).
pub fn call(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let obj = args.get_item(0)?;
    let held = held::<Simulator>(&obj, NAME)?;
    let names: Vec<String> = arg(args, 1, "parameter names")?;
    let values: Vec<f64> = arg(args, 2, "parameter values")?;
    let rows: usize = arg(args, 3, "rows")?;
    let seed: Option<u64> = arg(args, 4, "seed")?;
    let progress: Option<Py<PyAny>> = arg(args, 5, "progress")?;
    let out = py.detach(|| -> anyhow::Result<[vtwin::output::table::Table; 2]> {
        let mut s = lock(held);
        let member = member_rows(&s.plan, &names, &values, rows)?;
        let mut base = s.plan.clone();
        if let Some(seed) = seed {
            base.seed = seed;
        }
        let plan = base.with_params(member);
        let engine = s.engine_for(&plan)?;
        let total = plan.steps;
        let rec = vtwin::engine::record::record_with(engine, &mut |_| {}, &mut |_, _, step| {
            checkpoint(progress.as_ref(), step, total)
        })
        .map_err(anyhow::Error::from)?;
        s.calls += 1;
        Ok([rec.observables_table(&plan), rec.status_table()])
    });
    let out = wrap(py, out)?;
    let list = PyList::empty(py);
    for t in &out {
        list.append(crate::tables::to_py(py, t)?)?;
    }
    Ok(list.into_any().unbind())
}
