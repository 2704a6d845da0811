//! Observations as the cycle sees them: each item has an operator (a scene
//! observable computed by the engine's observe kernel, or a linear operator
//! on one field applied on the host: probe, block, cell), a site for
//! localisation, an error model and, once known, a value. Schedules group
//! items by analysis step; they come from the scene's
//! `[[assimilation.observe]]` entries (twins: values drawn from the truth)
//! or from an observation file (values given).
//!
//! Owns: resolving names and locations against a plan, step rounding, and
//! evaluating operators on engine frames and host states.

use std::collections::BTreeMap;
use std::path::Path;

use nalgebra::DMatrix;

use super::error::TwinError;
use crate::core::plan::Plan;
use crate::input::scene::Scene;
use crate::input::scene::assimilation::AssimilationSection;
use crate::methods::assim::Site;
use crate::methods::assim::obs_file::{Location, ObsRecord};
use crate::methods::assim::obs_op::{Grid2, LinearObs, Reduction};

message_error!(
    /// An observable or location an observation operator cannot be built for.
    pub OperatorError
);

/// How an observation is computed from a member.
#[derive(Clone, Debug, PartialEq)]
pub enum Operator {
    /// Plan observable `k` (a reduction or scene probe), from the engine.
    Engine(usize),
    /// A linear operator on field `field` of the state.
    Field { field: usize, op: LinearObs },
}

/// One observation.
#[derive(Clone, Debug, PartialEq)]
pub struct ObsItem {
    /// Scene observable or field name (the observation file's `observable`).
    pub observable: String,
    pub location: Location,
    pub op: Operator,
    pub site: Site,
    /// Error SD = max(sd, rel_sd·|true value|) for synthetic observations;
    /// the file's `sd` otherwise (rel_sd 0).
    pub sd: f64,
    pub rel_sd: f64,
    /// Observed value (from the file, or drawn from the truth).
    pub value: Option<f64>,
    /// Assimilated as ln(value) with SD sd/value (`assimilation.log_observables`).
    pub log: bool,
}

/// The observations of one analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct ObsTime {
    pub step: u64,
    pub time: f64,
    pub items: Vec<ObsItem>,
}

/// Resolves an observable name and location against a plan.
pub fn operator(
    plan: &Plan,
    observable: &str,
    loc: &Location,
) -> Result<(Operator, Site), OperatorError> {
    let ops = &plan.observables.ops;
    let fields = &plan.model.info().fields;
    match loc {
        Location::Scalar => {
            if let Some(k) = ops.iter().position(|o| o.name == observable) {
                return Ok((Operator::Engine(k), Site::Global));
            }
            if plan
                .observables
                .derived
                .iter()
                .any(|d| d.name == observable)
            {
                return Err(format!(
                    "`{observable}` is a first-crossing time, which cannot be assimilated"
                )
                .into());
            }
            if fields.iter().any(|f| f.name == observable) {
                return Err(format!(
                    "`{observable}` is a field: give a location (x;y or x0;y0;x1;y1)"
                )
                .into());
            }
            Err(format!(
                "unknown observable `{observable}`; the scene's observables are {}",
                ops.iter()
                    .map(|o| format!("`{}`", o.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into())
        }
        _ => {
            let field = fields
                .iter()
                .position(|f| f.name == observable)
                .ok_or_else(|| {
                    format!(
                        "`{observable}` with a location must be a field of the model ({})",
                        fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let g = plan.model.grid();
            let grid = Grid2 {
                nx: g.nx as usize,
                ny: g.ny as usize,
                dx: g.dx,
                dy: g.dx,
            };
            let op = grid
                .operator(loc, Reduction::Sum)
                .map_err(|e| e.to_string())?;
            Ok((Operator::Field { field, op }, loc.site()))
        }
    }
}

/// The step nearest `time`, and whether it is within rounding of it.
pub fn step_of(time: f64, dt: f64) -> (u64, bool) {
    let s = time / dt;
    let r = s.round().max(0.0);
    (r as u64, (s - r).abs() <= 1e-6 * s.abs().max(1.0))
}

/// Times of an observe entry: `times`, or `start + j·every` (start default
/// `every`) while ≤ `end` (default: `cycles` times, else up to `t_end`).
fn entry_times(
    times: &Option<Vec<f64>>,
    every: f64,
    start: Option<f64>,
    end: Option<f64>,
    cycles: Option<u64>,
    t_end: f64,
) -> Vec<f64> {
    if let Some(t) = times {
        return t.clone();
    }
    let start = start.unwrap_or(every);
    let mut out = Vec::new();
    let mut j = 0u64;
    loop {
        let t = start + j as f64 * every;
        let past_end = match (end, cycles) {
            (Some(e), _) => t > e * (1.0 + 1e-12),
            (None, Some(k)) => j >= k,
            (None, None) => t > t_end * (1.0 + 1e-12),
        };
        if past_end || out.len() >= 100_000_000 {
            return out;
        }
        out.push(t);
        j += 1;
    }
}

/// The twin's schedule from the scene's `[[assimilation.observe]]` entries
/// (values unset), at most `cycles` analyses.
pub fn scene_schedule(
    scene: &Scene,
    section: &AssimilationSection,
    plan: &Plan,
    cycles: Option<u64>,
) -> Result<Vec<ObsTime>, TwinError> {
    let dt = plan.model.dt();
    let t_end = scene.file.time.total_steps() as f64 * dt;
    let g = plan.model.grid();
    let mut by_step: BTreeMap<u64, Vec<ObsItem>> = BTreeMap::new();
    if section.observe.is_empty() {
        return Err(scene
            .error_at(
                "assimilation",
                "a twin needs [[assimilation.observe]] entries",
            )
            .into());
    }
    for (i, o) in section.observe.iter().enumerate() {
        let key = format!("assimilation.observe.{i}");
        if o.times.is_none() && o.every.or(section.every).is_none() {
            return Err(scene
                .error_at(
                    &format!("{key}.every"),
                    "a twin's synthetic observations need `times`, `every` here, or a \
                     default `assimilation.every` (only observation files bring their own times)",
                )
                .into());
        }
        let every = o.every.or(section.every).unwrap_or(1.0);
        let times = entry_times(&o.times, every, o.start, o.end, cycles, t_end);
        let mut items = Vec::new();
        let mut add = |name: &str, loc: Location| -> Result<(), TwinError> {
            let (op, site) = operator(plan, name, &loc).map_err(|m| {
                scene.error_at(
                    &format!(
                        "{key}.{}",
                        if o.field.is_some() {
                            "field"
                        } else {
                            "observable"
                        }
                    ),
                    m,
                )
            })?;
            items.push(ObsItem {
                observable: name.to_string(),
                location: loc,
                op,
                site,
                sd: o.sd,
                rel_sd: o.rel_sd,
                value: None,
                log: section.log_observables.iter().any(|l| l == name),
            });
            Ok(())
        };
        match (&o.observable, &o.field) {
            (Some(name), _) => add(name, Location::Scalar)?,
            (None, Some(field)) if o.cells => {
                for iy in 0..g.ny {
                    for ix in 0..g.nx {
                        let (x, y) = ((ix as f64 + 0.5) * g.dx, (iy as f64 + 0.5) * g.dx);
                        add(field, Location::Probe { x, y })?;
                    }
                }
            }
            (None, Some(field)) => {
                for &[x, y] in &o.at {
                    add(field, Location::Probe { x, y })?;
                }
            }
            (None, None) => unreachable!("validated by the scene"),
        }
        for t in times {
            let (step, exact) = step_of(t, dt);
            if !exact || step == 0 {
                let k = if o.times.is_some() { "times" } else { "every" };
                return Err(scene
                    .error_at(
                        &format!("{key}.{k}"),
                        format!("observation time {t} is not a positive multiple of dt = {dt}"),
                    )
                    .into());
            }
            by_step
                .entry(step)
                .or_default()
                .extend(items.iter().cloned());
        }
    }
    let mut out: Vec<ObsTime> = by_step
        .into_iter()
        .map(|(step, items)| ObsTime {
            step,
            time: plan.model.time_at(step),
            items,
        })
        .collect();
    if let Some(k) = cycles {
        out.truncate(k as usize);
    }
    Ok(out)
}

/// The schedule of an observation file: records grouped by the model step
/// nearest their time (steps of dt; documented rounding).
pub fn file_schedule(
    file: &Path,
    records: &[ObsRecord],
    plan: &Plan,
    log_observables: &[String],
) -> Result<Vec<ObsTime>, TwinError> {
    let dt = plan.model.dt();
    let mut by_step: BTreeMap<u64, Vec<ObsItem>> = BTreeMap::new();
    for r in records {
        let fail = |m: String| TwinError::Invalid(format!("{}:{}: {m}", file.display(), r.line));
        if r.time < 0.0 {
            return Err(fail(format!("time {} is before the start (0)", r.time)));
        }
        let (op, site) = operator(plan, &r.observable, &r.location).map_err(|e| fail(e.into()))?;
        by_step
            .entry(step_of(r.time, dt).0)
            .or_default()
            .push(ObsItem {
                observable: r.observable.clone(),
                location: r.location,
                op,
                site,
                sd: r.sd,
                rel_sd: 0.0,
                value: Some(r.value),
                log: log_observables.contains(&r.observable),
            });
    }
    Ok(by_step
        .into_iter()
        .map(|(step, items)| ObsTime {
            step,
            time: plan.model.time_at(step),
            items,
        })
        .collect())
}

/// Operator values for every member: frames are members × (ops + 1) from
/// `Engine::observe`, states n_state × N (column = member).
pub fn apply(
    items: &[ObsItem],
    frame: &[f32],
    n_ops: usize,
    state: &DMatrix<f64>,
    sites: usize,
) -> DMatrix<f64> {
    let members = state.ncols();
    DMatrix::from_fn(items.len(), members, |k, j| match &items[k].op {
        Operator::Engine(o) => frame[j * (n_ops + 1) + o] as f64,
        Operator::Field { field, op } => op
            .weights
            .iter()
            .map(|&(c, w)| w * state[(field * sites + c, j)])
            .sum(),
    })
}

/// The location as written in observation files (`x;y`, `x0;y0;x1;y1`).
pub fn location_text(loc: &Location) -> String {
    match *loc {
        Location::Scalar => String::new(),
        Location::Probe { x, y } => format!("{x};{y}"),
        Location::Block { x0, y0, x1, y1 } => format!("{x0};{y0};{x1};{y1}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_times_and_steps() {
        assert_eq!(
            entry_times(&None, 0.5, None, None, Some(3), 100.0),
            [0.5, 1.0, 1.5]
        );
        assert_eq!(
            entry_times(&None, 2.0, Some(1.0), Some(5.0), Some(99), 100.0),
            [1.0, 3.0, 5.0]
        );
        assert_eq!(
            entry_times(&None, 2.0, None, None, None, 6.0),
            [2.0, 4.0, 6.0]
        );
        assert_eq!(step_of(20.0, 0.05), (400, true));
        assert_eq!(step_of(0.25, 0.01), (25, true));
        assert_eq!(step_of(10.3, 0.25), (41, false));
    }
}
