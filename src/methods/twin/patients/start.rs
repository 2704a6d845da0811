//! What a patient run starts from: the analysis space of a setup (log
//! fields, parameter scales and bounds) and, with `init_from_first`, a
//! block's state set from its first reading.
//!
//! Owns: these two resolutions; no engine, no files.

use nalgebra::DMatrix;

use super::super::error::TwinError;
use super::super::obs::{self, ObsItem};
use super::super::setup::Setup;
use super::analysis::Space;
use crate::core::plan::Plan;
use crate::methods::assim::joint::ParamScale;

/// The analysis space of a setup (log fields, scales, bounds).
pub fn space(setup: &Setup) -> Result<Space, TwinError> {
    let plan = &setup.plan;
    let fields = &plan.model.info().fields;
    let sites = plan.model.grid().sites();
    let mut log_words = vec![false; plan.model.state_len()];
    for (i, name) in setup.section.log_fields.iter().enumerate() {
        let Some(f) = fields.iter().position(|x| x.name == *name) else {
            return Err(setup
                .scene
                .error_at(
                    &format!("assimilation.log_fields.{i}"),
                    format!("`{name}` is not a field of the model"),
                )
                .into());
        };
        for w in &mut log_words[f * sites..(f + 1) * sites] {
            *w = true;
        }
    }
    let bounds = setup
        .estimate
        .iter()
        .zip(&setup.section.estimate)
        .map(|(e, entry)| {
            entry.bounds.map(|[lo, hi]| (lo, hi)).unwrap_or(match e.1 {
                ParamScale::Log => (0.0, f64::INFINITY),
                ParamScale::Linear => (f64::NEG_INFINITY, f64::INFINITY),
            })
        })
        .collect();
    Ok(Space {
        log_words,
        scales: setup.estimate.iter().map(|e| e.1).collect(),
        bounds,
    })
}

/// Sets a block's field to its first reading through the observable's
/// inverse (`init_from_first`): the first item that is a whole-field mean,
/// max, min or total of a scene observable; every site of the field takes,
/// per member, a draw from the reading's error distribution (log-normal
/// with ln-SD sd/value for a log observable, normal otherwise). Returns the
/// item used, or `None` when no item is invertible.
pub fn initial_from_reading<R: rand::Rng + ?Sized>(
    plan: &Plan,
    items: &[ObsItem],
    st: &mut DMatrix<f64>,
    rng: &mut R,
) -> Option<usize> {
    use crate::core::observe::Reduction;
    let g = plan.model.grid();
    let sites = g.sites();
    let (k, op) = items
        .iter()
        .enumerate()
        .find_map(|(k, it)| match it.op {
            obs::Operator::Engine(o) => Some((k, &plan.observables.ops[o])),
            _ => None,
        })
        .filter(|(_, op)| {
            matches!(
                op.reduction,
                Reduction::Mean | Reduction::Max | Reduction::Min | Reduction::Total
            )
        })?;
    let it = &items[k];
    let y = it.value?;
    let scale = match op.reduction {
        Reduction::Total => 1.0 / (sites as f64 * g.dx * g.dx),
        _ => 1.0,
    };
    let f = op.field as usize;
    for j in 0..st.ncols() {
        let z = crate::methods::assim::gauss::std_normal(rng);
        let v = if it.log {
            y * (it.sd / y * z).exp()
        } else {
            y + it.sd * z
        };
        for w in f * sites..(f + 1) * sites {
            st[(w, j)] = v * scale;
        }
    }
    Some(k)
}
