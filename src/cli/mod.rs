//! The command line: one module per command; each turns its arguments into
//! library calls and prints. `main.rs` only dispatches.

pub mod analyze;
pub mod assimilate;
pub mod bench;
pub mod calibrate;
pub mod cohort;
pub mod compare;
pub mod design;
pub mod estimate;
pub mod fork;
pub mod fork_cohort;
pub mod fork_twin;
pub mod info;
pub mod merge;
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

use crate::backend::Backend;
use crate::calibrate::Posterior;
use crate::engine::BackendChoice;
use crate::params::ParamBlock;
use crate::scene::Scene;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// [`drivers::members::scene_posterior`](crate::drivers::members::scene_posterior).
pub fn scene_posterior(dir: &Path, scene: &Scene) -> anyhow::Result<(ParamBlock, Posterior)> {
    Ok(crate::drivers::members::scene_posterior(dir, scene)?)
}

/// Freezes a scene's plan with the overrides `run` and `check` share
/// ([`drivers::members::freeze_plan`](crate::drivers::members::freeze_plan)).
pub fn freeze_plan(
    scene: &Scene,
    members: Option<u32>,
    seed: Option<u64>,
    arm: Option<&str>,
    posterior: Option<&Path>,
) -> anyhow::Result<crate::plan::Plan> {
    let m = crate::drivers::members::Members {
        members,
        seed,
        arm,
        posterior,
        shard: None,
    };
    Ok(crate::drivers::members::freeze_plan(scene, &m)?)
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
    plan: &crate::plan::Plan,
    params: &[String],
) {
    for w in crate::drivers::members::inert_params(scene, plan, params) {
        eprintln!("vtwin {command}: warning: {w}");
    }
}

/// Seconds between plain progress lines when stderr is not a terminal
/// (`VTWIN_PROGRESS_SECS`, default 10).
fn progress_every() -> std::time::Duration {
    let secs = std::env::var("VTWIN_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(10.0);
    std::time::Duration::from_secs_f64(secs)
}

/// Under `nohup`, in CI logs or redirected to a file, stderr is no terminal:
/// instead of a redrawn bar, a plain line (`vtwin: progress 120/400 steps
/// (12s, eta 28s)`) at most every [`progress_every`], so logs show that a
/// long run is alive without filling up.
#[derive(Debug)]
struct PlainLines {
    every: std::time::Duration,
    last: std::sync::Mutex<std::time::Instant>,
}

impl indicatif::TermLike for PlainLines {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let text = s.trim();
        if text.is_empty() {
            return Ok(());
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= self.every {
            *last = std::time::Instant::now();
            eprintln!("vtwin: progress {text}");
        }
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// The progress watch of the command this thread runs, if a host set one.
    static WATCHED: std::cell::RefCell<Option<ProgressWatch>> =
        const { std::cell::RefCell::new(None) };
}

/// A host's view of a command's progress (the Python package's progress
/// callbacks): inside [`ProgressWatch::scope`], [`progress_bar`] draws
/// nothing and hands its bar to the watch, which another thread reads with
/// [`ProgressWatch::get`]. Clones share the watch.
#[derive(Clone, Debug, Default)]
pub struct ProgressWatch(std::sync::Arc<std::sync::Mutex<Option<(ProgressBar, String)>>>);

impl ProgressWatch {
    pub fn new() -> ProgressWatch {
        ProgressWatch::default()
    }

    /// Runs `f` (a command) on this thread with its progress bars going to
    /// this watch; the thread's previous watch is back afterwards.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<ProgressWatch>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                WATCHED.with(|w| *w.borrow_mut() = previous);
            }
        }
        let previous = WATCHED.with(|w| w.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }

    /// The latest bar's position, length and unit (`"steps"`, `"cycles"`,
    /// …); None before the command made one.
    pub fn get(&self) -> Option<(u64, u64, String)> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .map(|(bar, unit)| (bar.position(), bar.length().unwrap_or(0), unit.clone()))
    }
}

/// A progress bar on a terminal; periodic plain lines otherwise; drawn
/// nowhere and handed to the host inside a [`ProgressWatch::scope`].
pub fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if let Some(watch) = WATCHED.with(|w| w.borrow().clone()) {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        *watch.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((bar.clone(), unit.to_string()));
        return bar;
    }
    if !std::io::stderr().is_terminal() {
        let target = ProgressDrawTarget::term_like_with_hz(
            Box::new(PlainLines {
                every: progress_every(),
                last: std::sync::Mutex::new(std::time::Instant::now()),
            }),
            1,
        );
        let bar = ProgressBar::with_draw_target(Some(len), target);
        let style = ProgressStyle::with_template(&format!(
            "{{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        return bar;
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Starts the run folder of a command
/// ([`drivers::job::create_run_dir`](crate::drivers::job::create_run_dir)),
/// printing its notes.
pub fn create_run_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
) -> anyhow::Result<crate::io::RunDir> {
    Ok(crate::drivers::job::create_run_dir(
        out,
        force,
        inputs,
        &mut Printer::new(),
    )?)
}

/// The command line's [`Observer`](crate::drivers::job::Observer): notes
/// to stderr (above the bar while one is drawn), progress as
/// [`progress_bar`].
#[derive(Default)]
pub struct Printer {
    bar: Option<ProgressBar>,
}

impl Printer {
    pub fn new() -> Printer {
        Printer::default()
    }
}

impl crate::drivers::job::Observer for Printer {
    fn note(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
    fn start(&mut self, len: u64, unit: &str) {
        self.bar = Some(progress_bar(len, unit));
    }
    fn advance(&mut self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
        }
    }
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Checks an output file flag (`-o`, `--json`) before any work is done:
/// an existing file needs `--force`, and an input is never overwritten
/// (`io::target`).
pub fn check_output_file(path: &Path, force: bool, inputs: &[&Path]) -> anyhow::Result<()> {
    Ok(crate::io::check_file_target(path, force, inputs)?)
}

/// Writes JSON to `path` atomically, or to stdout for `-`. The caller has
/// checked the target with [`check_output_file`].
pub fn write_json_out(path: &std::path::Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    if path == std::path::Path::new("-") {
        print!("{text}");
    } else {
        crate::io::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}
