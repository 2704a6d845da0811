//! The field snapshots of `run --save-fields`: `fields*.npy`, the agents
//! table and the annotated `montage*.png` (panel labels, colour bar,
//! agent discs and their legend).
//!
//! Owns: what a montage shows and how it is coloured. Pixels and file
//! formats are `io::montage`, `io::png` and `io::npy`.

use super::job::{Error, Result};
use crate::core::model::{AGENT_STATES, AGENT_TYPES};
use crate::core::plan::Plan;
use crate::engine::record;
use crate::output::io::montage::{MontageStyle, Panel};
use crate::output::io::{Disc, RunDir, TableFormat};

/// How the panels of `montage.png` are coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MontageScale {
    /// One colour scale for every panel: equal colours are equal values.
    Shared,
    /// Each panel on its own range (printed under its label).
    PerPanel,
}

impl MontageScale {
    /// The name the manifest records.
    pub fn name(self) -> &'static str {
        match self {
            MontageScale::Shared => "shared",
            MontageScale::PerPanel => "per-panel",
        }
    }
}

/// What the montages of `--save-fields` show.
#[derive(Clone, Debug)]
pub struct MontageOptions {
    /// Index of the field shown.
    pub field: usize,
    pub scale: MontageScale,
    /// Members shown (the first ones).
    pub members: u32,
    /// Whether montages are drawn at all: a shard other than 0 writes only
    /// the arrays (shard 0's montage is the whole run's).
    pub draw: bool,
}

/// The index of the field called `name` among the model's fields, or an
/// error listing them; None gives the first field.
pub fn montage_field(plan: &Plan, name: Option<&str>) -> Result<usize> {
    let info = plan.model.info();
    let Some(name) = name else {
        return Ok(0);
    };
    info.fields
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = info.fields.iter().map(|f| f.name.as_str()).collect();
            Error::Invalid(format!(
                "--montage-field `{name}`: model `{}` has no such field; its fields are: {}",
                info.kind,
                names.join(", ")
            ))
        })
}

/// A snapshot's step as written in file names: zero-padded to the width of
/// the last step, so that names sort in time order.
pub fn step_tag(step: u64, last: u64) -> String {
    let width = last.to_string().len();
    format!("t{step:0width$}")
}

/// The snapshots of `--save-fields`: `fields<tag>.npy` (members × fields ×
/// ny × nx, only the field words of each member's state) and
/// `montage<tag>.png` of the first `opts.members` members, where `tag` is
/// empty for the final state and `_t<step>` for a time-lapse snapshot;
/// for the final state of a model with agents, also the `agents` table
/// (one row per agent of every member). Without `opts.draw` (a shard other
/// than 0) only the arrays and the agents table are written.
///
/// The montage (`io::annotated_montage`) labels each panel with its member
/// id and arm and has a colour bar naming the field and its unit. Grid
/// models show the chosen field in viridis; agent models show it in grey
/// with the agents drawn over it as discs coloured by `io::agent_colour`,
/// and a legend of those colours.
#[allow(clippy::too_many_arguments)] // the run's options, one snapshot
pub fn save_fields(
    dir: &RunDir,
    plan: &Plan,
    state: &[f32],
    opts: &MontageOptions,
    fmt: TableFormat,
    step: u64,
    tag: &str,
) -> Result<()> {
    let g = plan.model.grid();
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    let fields = record::member_fields(plan, state);
    crate::output::io::write_npy_f32(
        &dir.file(&format!("fields{tag}.npy")),
        &[plan.members as usize, g.fields as usize, ny, nx],
        &fields,
    )?;
    let agents = record::member_agents(plan, state);
    if let Some(agents) = &agents
        && tag.is_empty()
    {
        dir.write_table(&record::agents_table(plan, agents), fmt)?;
    }
    if !opts.draw {
        return Ok(());
    }
    let shown = (opts.members.max(1) as usize).min(plan.members as usize);
    let (n, len) = (g.sites(), g.len());
    let at = opts.field * n;
    let cols = (shown as f64).sqrt().ceil() as usize;
    // About 256 pixels per panel (whole pixels per site).
    let scale = (256 / nx.max(ny)).max(1);
    let (discs, agents): (Vec<Vec<Disc>>, bool) = match agents {
        None => (vec![Vec::new(); shown], false),
        Some(agents) => {
            let inv_dx = 1.0 / g.dx as f32;
            let discs = agents[..shown]
                .iter()
                .map(|list| {
                    let mut drawn: Vec<(u8, Disc)> = list
                        .iter()
                        .map(|a| {
                            let (colour, layer) = crate::output::io::agent_colour(
                                record::code_name(&AGENT_TYPES, a.kind).unwrap_or(""),
                                record::code_name(&AGENT_STATES, a.state).unwrap_or(""),
                            );
                            let disc = Disc {
                                x: a.x * inv_dx,
                                y: a.y * inv_dx,
                                r: a.radius * inv_dx,
                                colour,
                            };
                            (layer, disc)
                        })
                        .collect();
                    // Stable: within a layer, pool order.
                    drawn.sort_by_key(|&(layer, _)| layer);
                    drawn.into_iter().map(|(_, d)| d).collect()
                })
                .collect();
            (discs, true)
        }
    };
    let panels: Vec<Panel> = (0..shown)
        .map(|m| Panel {
            field: &fields[m * len + at..m * len + at + n],
            label: format!("member {m} {}", plan.arm.name),
            discs: &discs[m],
        })
        .collect();
    let info = plan.model.info();
    let f = &info.fields[opts.field];
    let unit = if f.unit.is_empty() || f.unit == "1" {
        "dimensionless".to_string()
    } else {
        f.unit.clone()
    };
    let title = format!(
        "{} at step {step} (t = {} {}), {} colour scale",
        f.name,
        crate::output::io::montage::format_value(plan.model.time_at(step) as f32),
        info.time_unit,
        match opts.scale {
            MontageScale::Shared => "one",
            MontageScale::PerPanel => "per-panel",
        }
    );
    let bar_label = format!("{} ({unit})", f.name);
    let legend = [
        (crate::output::io::montage::LIVE_TUMOUR, "live tumour"),
        (crate::output::io::montage::LIVE_IMMUNE, "live immune"),
        (crate::output::io::montage::APOPTOTIC, "apoptotic"),
        (crate::output::io::montage::NECROTIC, "necrotic"),
    ];
    let ramp: fn(f32) -> [u8; 3] = if agents {
        crate::output::io::montage::grey
    } else {
        crate::output::io::colormap
    };
    let style = MontageStyle {
        nx,
        ny,
        cols,
        scale,
        shared: opts.scale == MontageScale::Shared,
        ramp,
        title: &title,
        bar_label: &bar_label,
        legend: if agents { &legend[..] } else { &[] },
    };
    let (lay, rgba) = crate::output::io::annotated_montage(&panels, &style);
    crate::output::io::write_png_rgba(
        &dir.file(&format!("montage{tag}.png")),
        lay.width as u32,
        lay.height as u32,
        &rgba,
    )?;
    Ok(())
}
