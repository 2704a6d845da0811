//! Data rows → plan observables and recorded steps.
//!
//! - A scalar row (empty location) names an observable of the scene (a
//!   reduction; first-crossing times are refused: calibrate against the
//!   observable they derive from).
//! - A probe row (`x;y`) names a field; the plan gets a probe of that field
//!   at the site containing (x, y).
//! - A block row (`x0;y0;x1;y1`) names a field; the plan gets the mean of
//!   that field over the sites centred in the rectangle
//!   ([`crate::core::observe::block_reduction`]).
//!
//! Rows at the same field and location share one observable. A data time t
//! sits at step position p = t / dt; the plan's observation cadence
//! (`every`) becomes the greatest common divisor of ⌊p⌋ and ⌈p⌉ over all
//! rows, so both bracketing steps are recorded and the simulated value is
//! interpolated linearly in time between them (exact when t is a whole
//! step). A time before 0 or after the run's end is an error naming the
//! row's line.
//!
//! Owns: the mapping and the read-out. Never runs an engine.

use super::FitError;
use crate::core::observe::{ObsOp, Reduction, block_reduction, probe_reduction};
use crate::core::plan::Plan;
use crate::engine::Recordings;
use crate::methods::calibrate::data::{Location, ObsRecord};
use std::path::Path;

message_error!(
    /// A calibration target naming something the plan does not observe.
    pub TargetError
);

/// One data row, resolved against a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Line of the data file.
    pub line: usize,
    pub time: f64,
    pub location: Location,
    /// The plan observable it is compared with.
    pub observable: String,
    /// That observable's index among the plan's reductions.
    pub index: usize,
    /// The recorded steps bracketing the time, and the weight of `hi`.
    pub lo: u64,
    pub hi: u64,
    pub frac: f64,
    pub value: f64,
    pub sd: f64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Resolves every record against `plan`, adding the probe and block
/// observables they need and setting `plan.every`. `path` names the data
/// file in errors.
pub fn attach_targets(
    plan: &mut Plan,
    records: &[ObsRecord],
    path: &Path,
) -> Result<Vec<Target>, FitError> {
    let row_err = |line: usize, message: String| FitError::Row {
        path: path.to_path_buf(),
        line,
        message,
    };
    let info = plan.model.info().clone();
    let grid = plan.model.grid();
    let dt = plan.model.dt();
    let end = plan.model.time_at(plan.steps);
    let mut targets = Vec::with_capacity(records.len());
    for r in records {
        // Step position of the data time.
        let p = r.time / dt;
        if r.time < 0.0 || p > plan.steps as f64 * (1.0 + 1e-12) + 1e-9 {
            return Err(row_err(
                r.line,
                format!(
                    "time {} {} lies outside the run [0, {end}] {}; lengthen the scene's [time] or drop the row",
                    r.time, info.time_unit, info.time_unit
                ),
            ));
        }
        let nearest = p.round();
        let (lo, hi, frac) = if (p - nearest).abs() <= 1e-9 * nearest.max(1.0) {
            let s = (nearest as u64).min(plan.steps);
            (s, s, 0.0)
        } else {
            (
                p.floor() as u64,
                (p.ceil() as u64).min(plan.steps),
                p - p.floor(),
            )
        };
        let index = match r.location {
            Location::Scalar => {
                scalar_index(plan, &r.observable).map_err(|m| row_err(r.line, m.into()))?
            }
            loc => {
                let field = info
                    .fields
                    .iter()
                    .position(|f| f.name == r.observable)
                    .ok_or_else(|| {
                        row_err(
                            r.line,
                            format!(
                                "a located row names a field of the model, and `{}` is none; fields: {}",
                                r.observable,
                                info.fields
                                    .iter()
                                    .map(|f| f.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                let reduction = match loc {
                    Location::Probe { x, y } => probe_reduction(&grid, x, y),
                    Location::Block { x0, y0, x1, y1 } => block_reduction(&grid, x0, y0, x1, y1),
                    Location::Scalar => unreachable!("handled above"),
                }
                .map_err(|m| row_err(r.line, m.into()))?;
                located_index(plan, field as u32, reduction, &r.observable, &loc)
            }
        };
        targets.push(Target {
            line: r.line,
            time: r.time,
            location: r.location,
            observable: plan.observables.ops[index].name.clone(),
            index,
            lo,
            hi,
            frac,
            value: r.value,
            sd: r.sd,
        });
    }
    let every = targets
        .iter()
        .flat_map(|t| [t.lo, t.hi])
        .fold(0, gcd)
        .max(1);
    plan.every = if targets.iter().all(|t| t.hi == 0) {
        plan.steps.max(1)
    } else {
        every
    };
    Ok(targets)
}

/// The reduction index of a scalar observable named in the data.
fn scalar_index(plan: &Plan, name: &str) -> Result<usize, TargetError> {
    if let Some(i) = plan.observables.ops.iter().position(|o| o.name == name) {
        return Ok(i);
    }
    if let Some(d) = plan.observables.derived.iter().find(|d| d.name == name) {
        return Err(format!(
            "`{name}` is a first-crossing time, which has no value before the crossing; \
             calibrate against `{}` instead",
            plan.observables.ops[d.of].name
        )
        .into());
    }
    Err(format!(
        "no observable `{name}` in the scene (a row with an empty location names a scene observable); it has {}",
        plan.observables
            .ops
            .iter()
            .map(|o| format!("`{}`", o.name))
            .collect::<Vec<_>>()
            .join(", ")
    ).into())
}

/// The index of the reduction of `field` at `loc`, added when missing.
fn located_index(
    plan: &mut Plan,
    field: u32,
    reduction: Reduction,
    fname: &str,
    loc: &Location,
) -> usize {
    let ops = &mut plan.observables.ops;
    if let Some(i) = ops
        .iter()
        .position(|o| o.field == field && o.reduction == reduction)
    {
        return i;
    }
    let info = plan.model.info();
    let unit = info.fields[field as usize].unit.clone();
    let (base, description) = match *loc {
        Location::Probe { x, y } => (
            format!("{fname}_at_{x}_{y}"),
            format!("{fname} at the site containing ({x}, {y}) (from the data)"),
        ),
        Location::Block { x0, y0, x1, y1 } => (
            format!("{fname}_block_{x0}_{y0}_{x1}_{y1}"),
            format!(
                "mean of {fname} over the sites centred in [{x0}, {x1}]×[{y0}, {y1}] (from the data)"
            ),
        ),
        Location::Scalar => (fname.to_string(), String::new()),
    };
    let taken = plan.observables.names();
    let mut name = base.clone();
    let mut k = 2;
    while taken.contains(&name) {
        name = format!("{base}_{k}");
        k += 1;
    }
    plan.observables.ops.push(ObsOp {
        name,
        field,
        reduction,
        unit,
        description,
    });
    plan.observables.ops.len() - 1
}

/// Row `row`'s simulated value at every target (in target order), or
/// None for a row that failed or has no value at some target.
pub fn target_values(rec: &Recordings, row: usize, targets: &[Target]) -> Option<Vec<f64>> {
    if !rec.status[row].is_ok() {
        return None;
    }
    let pos = |s: u64| rec.steps.binary_search(&s).ok();
    let series = rec.series(row);
    targets
        .iter()
        .map(|t| {
            let (klo, khi) = (pos(t.lo)?, pos(t.hi)?);
            let s = &series[t.index];
            let (a, b) = (s[klo]?, s[khi]?);
            Some(if khi == klo { a } else { a + t.frac * (b - a) })
        })
        .collect()
}
