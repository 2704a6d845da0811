//! The command line: one module per command; each turns its arguments into
//! library calls and prints. `main.rs` only dispatches.

pub mod analyze;
pub mod assimilate;
pub mod bench;
pub mod calibrate;
pub mod choices;
pub mod cohort;
pub mod compare;
pub mod design;
pub mod estimate;
pub mod fork;
pub mod fork_cohort;
pub mod fork_twin;
pub mod info;
pub mod merge;
pub mod progress;
pub mod report;
pub mod resume;
pub mod run;
pub mod score;
pub mod select;
pub mod slurm;
pub mod sweep;
pub mod twin;
pub mod values;
pub mod verify;
pub mod watch;

use crate::engine::BackendChoice;
use crate::engine::backend::Backend;
use crate::input::params::ParamBlock;
use crate::input::scene::Scene;
use crate::methods::calibrate::Posterior;
use std::path::Path;

pub use progress::{Printer, progress_bar};
pub use watch::ProgressWatch;

/// [`drivers::members::scene_posterior`](crate::drivers::members::scene_posterior).
pub fn scene_posterior(dir: &Path, scene: &Scene) -> anyhow::Result<(ParamBlock, Posterior)> {
    Ok(crate::drivers::members::scene_posterior(dir, scene)?)
}

/// `--out`, else the interrupted job's folder when resuming, else
/// `runs/<scene>-<timestamp>` ([`drivers::job::default_out`](crate::drivers::job::default_out)).
pub fn out_dir(
    out: &Option<std::path::PathBuf>,
    resume: Option<&resume::Resume>,
    scene: &Path,
    what: &str,
) -> std::path::PathBuf {
    match (out, resume) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => crate::drivers::job::default_out(scene, what),
    }
}

/// Backend options shared by every command that runs an engine.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// auto: a hardware GPU if there is one, else the CPU backend; gpu: any
    /// adapter (lavapipe included), failing if none; cpu: the CPU backend.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick the adapter whose name contains this (else WGPU_ADAPTER_NAME).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Cap members per GPU batch (default: as many as the adapter's limits allow).
    #[arg(long)]
    pub batch_size: Option<u32>,
}

impl EngineArgs {
    pub fn open(&self) -> anyhow::Result<Backend> {
        Ok(Backend::open(
            self.backend,
            self.adapter.as_deref(),
            &mut |m| eprintln!("{m}"),
        )?)
    }
}

/// Prints [`drivers::members::default_arm_note`](crate::drivers::members::default_arm_note).
pub fn note_default_arm(command: &str, scene: &Scene, arm: Option<&str>) {
    if let Some(note) = crate::drivers::members::default_arm_note(command, scene, arm) {
        eprintln!("{note}");
    }
}

/// Prints [`inert_params`] as warnings of `command`.
pub fn warn_inert_params(
    command: &str,
    scene: &Scene,
    plan: &crate::core::plan::Plan,
    params: &[String],
) {
    for w in crate::drivers::members::inert_params(scene, plan, params) {
        eprintln!("vtwin {command}: warning: {w}");
    }
}

/// Starts the run folder of a command
/// ([`drivers::job::create_run_dir`](crate::drivers::job::create_run_dir)),
/// printing its notes.
pub fn create_run_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
) -> anyhow::Result<crate::output::io::RunDir> {
    Ok(crate::drivers::job::create_run_dir(
        out,
        force,
        inputs,
        &mut Printer::new(),
    )?)
}

/// Checks an output file flag (`-o`, `--json`) before any work is done:
/// an existing file needs `--force`, and an input is never overwritten
/// (`io::target`).
pub fn check_output_file(path: &Path, force: bool, inputs: &[&Path]) -> anyhow::Result<()> {
    Ok(crate::output::io::check_file_target(path, force, inputs)?)
}

/// Writes JSON to `path` atomically, or to stdout for `-`. The caller has
/// checked the target with [`check_output_file`].
pub fn write_json_out(path: &std::path::Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    if path == std::path::Path::new("-") {
        print!("{text}");
    } else {
        crate::output::io::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}
