//! `vtwin estimate SCENE`: memory per member and in total, the batches the
//! adapter's limits force and the projected run time from a short timed
//! probe (`bench::estimate`), so a sweep or cohort can be sized to the
//! machine before it runs.

use super::{EngineArgs, write_json_out};
use crate::core::plan::{Plan, PlanOptions};
use crate::drivers::bench::estimate::{estimate, human_bytes, human_seconds};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EstimateArgs {
    /// Scene file (TOML).
    pub scene: PathBuf,
    /// Ensemble size (default: the scene's `ensemble.members`).
    #[arg(long)]
    pub members: Option<u32>,
    /// Treatment arm (default: the first).
    #[arg(long)]
    pub arm: Option<String>,
    /// Also write the estimate as JSON to this file (`-`: stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file (never the scene).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(a: &EstimateArgs) -> Result<()> {
    if let Some(p) = &a.json {
        super::check_output_file(p, a.force, &[&a.scene])?;
    }
    let scene = crate::drivers::scenes::load(&a.scene)?;
    let plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: a.members,
            arm: a.arm.clone(),
            ..Default::default()
        },
    )?;
    let backend = a.engine.open()?;
    let host = plan.host_bytes(backend.name() == "cpu");
    crate::input::limits::check_host_memory(
        &format!("this plan on the {} backend", backend.name()),
        host,
    )
    .map_err(anyhow::Error::msg)?;
    let e = estimate(&backend, &plan, a.engine.batch_size, &mut |m| {
        eprintln!("vtwin estimate: {m}")
    })?;
    let to_stdout = a.json.as_deref() == Some(std::path::Path::new("-"));
    let text = format!(
        "vtwin estimate: {} ({}), {}×{} grid × {} fields, {} members × {} steps, {} observations\n\
         backend      {}{}\n\
         memory       {} per member (state {} per copy), {} in total\n\
         host         {} needed, {} available\n\
         batches      {} ({})\n\
         probe        {} members × {} steps in {:.3} s ({}), one observation {:.4} s\n\
         projected    {} ({} stepping + {} observing)\n",
        a.scene.display(),
        e.model,
        e.grid[0],
        e.grid[1],
        e.grid[2],
        e.members,
        e.steps,
        e.observations,
        e.backend,
        e.adapter
            .as_ref()
            .map(|s| format!(" on {} ({})", s.name, s.backend))
            .unwrap_or_default(),
        human_bytes(e.bytes_per_member),
        human_bytes(e.state_bytes_per_member),
        human_bytes(e.total_bytes),
        human_bytes(host),
        crate::input::limits::mem_available().map_or("unknown".to_string(), human_bytes),
        e.batches.len(),
        summarise_batches(&e.batches),
        e.probe.members,
        e.probe.steps,
        e.probe.seconds,
        e.probe.timing,
        e.probe.observe_seconds,
        human_seconds(e.projected_seconds),
        human_seconds(e.projected_step_seconds),
        human_seconds(e.projected_observe_seconds),
    );
    let mut text = text;
    // A short probe cannot see data-dependent costs. Values decaying
    // towards zero are one: stored states are flushed below f32's smallest
    // normal on every backend, but the arithmetic on tiny values before
    // that (u·v·v in the spatial tails of Gray–Scott patterns) still takes
    // x86's slow subnormal path, on the CPU backend and on software
    // adapters alike (docs/performance.md).
    let software = e.adapter.as_ref().is_some_and(|s| s.is_software());
    if e.backend == "cpu" || software {
        text.push_str(
            "note         a short probe cannot see data-dependent costs: states that decay towards zero \
             (e.g. Gray–Scott's v away from any pattern) pass through subnormal intermediates, which run \
             several times slower on this backend (docs/performance.md)\n",
        );
    }
    if to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(p) = &a.json {
        write_json_out(p, &serde_json::to_value(&e)?)?;
    }
    Ok(())
}

/// `3 × 4096 + 1 × 1000` style.
fn summarise_batches(b: &[u32]) -> String {
    let mut parts: Vec<(u32, usize)> = Vec::new();
    for &x in b {
        match parts.last_mut() {
            Some((v, n)) if *v == x => *n += 1,
            _ => parts.push((x, 1)),
        }
    }
    parts
        .iter()
        .map(|(v, n)| format!("{n} × {v} members"))
        .collect::<Vec<_>>()
        .join(" + ")
}
