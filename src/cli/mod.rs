//! The command line: one module per command; each turns its arguments into
//! library calls and prints. `main.rs` only dispatches.

pub mod analyze;
pub mod assimilate;
pub mod csv_files;
pub mod design;
pub mod info;
pub mod run;
pub mod twin;
pub mod verify;

use crate::backend::Backend;
use crate::engine::BackendChoice;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

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

/// A progress bar on a terminal; hidden otherwise.
pub fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
