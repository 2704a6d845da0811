//! The command line: one module per command; each turns its arguments into
//! library calls and prints. `main.rs` only dispatches.

pub mod analyze;
pub mod assimilate;
pub mod assimilate_shard;
pub mod bench;
pub mod calibrate;
pub mod cohort;
pub mod compare;
pub mod csv_files;
pub mod design;
pub mod estimate;
pub mod fork;
pub mod fork_cohort;
pub mod fork_twin;
pub mod info;
pub mod merge;
pub mod merge_runs;
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
use crate::calibrate::{Posterior, load_posterior};
use crate::engine::BackendChoice;
use crate::params::ParamBlock;
use crate::scene::Scene;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// The posterior in `dir` (written by `vtwin calibrate`) re-expressed over
/// the scene's resolved parameter block (scene parameters in file order,
/// then model defaults).
pub fn scene_posterior(dir: &Path, scene: &Scene) -> anyhow::Result<(ParamBlock, Posterior)> {
    let info = crate::models::info_for(scene)?;
    let block = crate::models::resolve_params(scene, &info)?;
    let post = load_posterior(dir)?.aligned_to(&block).with_context(|| {
        format!(
            "--posterior {} does not fit scene {}",
            dir.display(),
            scene.path.display()
        )
    })?;
    Ok((block, post))
}

/// Freezes a scene's plan with the overrides `run` and `check` share:
/// members, seed, arm, and member parameters drawn from `--posterior DIR`.
pub fn freeze_plan(
    scene: &Scene,
    members: Option<u32>,
    seed: Option<u64>,
    arm: Option<&str>,
    posterior: Option<&Path>,
) -> anyhow::Result<crate::plan::Plan> {
    let member_params = match posterior {
        Some(dir) => Some(posterior_members(dir, scene, members, seed)?),
        None => None,
    };
    Ok(crate::plan::Plan::freeze(
        scene,
        &crate::plan::PlanOptions {
            members,
            seed,
            arm: arm.map(str::to_string),
            member_params,
            ..Default::default()
        },
    )?)
}

/// Member parameter rows drawn from a posterior directory instead of the
/// scene's distributions (`--posterior DIR`): member m gets
/// `draw_member(seed, m)`, so the rows depend only on (seed, member).
/// `members` and `seed` default to the scene's `[ensemble]`.
pub fn posterior_members(
    dir: &Path,
    scene: &Scene,
    members: Option<u32>,
    seed: Option<u64>,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let (_, post) = scene_posterior(dir, scene)?;
    let n = members.unwrap_or(scene.file.ensemble.members);
    if n == 0 {
        anyhow::bail!("--members must be at least 1");
    }
    crate::limits::check_members("--members", n as u64).map_err(anyhow::Error::msg)?;
    let seed = seed.unwrap_or(scene.file.ensemble.seed);
    Ok((0..n).map(|m| post.draw_member(seed, m)).collect())
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

/// Says which arm a command simulates when the scene has several and no
/// `--arm` was given: the default (the first) is then explicit, so a sweep
/// of one arm is not read as a sweep of the treatment the others add.
pub fn note_default_arm(command: &str, scene: &Scene, arm: Option<&str>) {
    let arms = &scene.file.arms;
    if arm.is_none() && arms.len() > 1 {
        let names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
        eprintln!(
            "vtwin {command}: simulating arm `{}`, the first of the scene's {} arms ({}); \
             parameters that act only in another arm have no effect here; pass --arm NAME to choose",
            names[0],
            names.len(),
            names.join(", ")
        );
    }
}

/// The parameters among `params` that have no effect in the plan's arm
/// (`models::treatment_of`: they act through a treatment the arm does not
/// give), each with a one-line explanation naming the arms that give it.
pub fn inert_params(scene: &Scene, plan: &crate::plan::Plan, params: &[String]) -> Vec<String> {
    let kind = plan.model.info().kind.clone();
    let gives = |arm: &crate::scene::Arm, t: &str| match t {
        "rt" => arm.rt.is_some(),
        _ => arm.chemo.is_some(),
    };
    params
        .iter()
        .filter_map(|p| {
            let t = crate::models::treatment_of(&kind, p)?;
            if gives(&plan.arm, t) {
                return None;
            }
            let what = if t == "rt" { "radiotherapy (rt)" } else { "chemotherapy (chemo)" };
            let others: Vec<&str> = scene
                .file
                .arms
                .iter()
                .filter(|a| gives(a, t))
                .map(|a| a.name.as_str())
                .collect();
            Some(format!(
                "parameter `{p}` acts only with {what}, which arm `{}` does not give: it has no effect here{}",
                plan.arm.name,
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (arms with it: {}; pass --arm NAME)", others.join(", "))
                }
            ))
        })
        .collect()
}

/// Prints [`inert_params`] as warnings of `command`.
pub fn warn_inert_params(
    command: &str,
    scene: &Scene,
    plan: &crate::plan::Plan,
    params: &[String],
) {
    for w in inert_params(scene, plan, params) {
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

/// Starts the run folder of a command, the same way for every command:
/// installs the SIGINT/SIGTERM/SIGHUP clean-up, checks `out` against
/// `--force` and the command's `inputs` (`io::target`), and says which
/// stale temporary folders of killed runs it removed beside `out`.
pub fn create_run_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
) -> anyhow::Result<crate::io::RunDir> {
    crate::io::install_interrupt_cleanup()?;
    let dir = crate::io::RunDir::create_for(out, force, inputs)?;
    for stale in dir.stale_removed() {
        eprintln!(
            "vtwin: removed {}, the temporary folder of an earlier run that was killed",
            stale.display()
        );
    }
    Ok(dir)
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
