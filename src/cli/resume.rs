//! `vtwin resume DIR`: continues the interrupted run whose `--out` was DIR
//! from its last checkpoint (`crate::drivers::checkpoint`), or from step 0 when it
//! was killed before its first one. A finished DIR is left as it is.
//!
//! The run is found by its kept temporary folder beside DIR (a run started
//! with `--checkpoint-every` keeps it on SIGTERM/SIGHUP, errors and stale
//! sweeps); its resume record gives the original command line and working
//! folder. The command line is parsed again, each relative path in it
//! (scene, observation and event files, `--out`, …) is made absolute
//! against the recorded working folder, and the run continues in the same
//! temporary folder. The process's own working folder is never changed, so
//! resuming from a library or Python caller leaves the caller's as it was.

use super::run::RunArgs;
use crate::drivers::checkpoint::Invocation;
use crate::drivers::resume::{self, Found};
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The `--out` folder of the interrupted run.
    pub dir: PathBuf,
}

pub use crate::drivers::job::Resume;

/// The commands a resume record may hold.
#[derive(clap::Parser, Debug)]
#[command(name = "vtwin")]
pub(crate) struct Saved {
    #[command(subcommand)]
    pub(crate) command: SavedCommand,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum SavedCommand {
    Run(RunArgs),
    Sweep(super::sweep::SweepArgs),
    Cohort(super::cohort::CohortArgs),
    Twin(super::twin::TwinArgs),
    Assimilate(super::assimilate::AssimilateArgs),
}

/// `p` made absolute against `cwd` (unchanged when already absolute).
fn absolute(cwd: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = cwd.join(&*p);
    }
}

impl SavedCommand {
    /// Makes every path argument absolute against `cwd`, the folder the
    /// command was started in, so that it runs the same from any folder.
    fn absolutize(&mut self, cwd: &Path) {
        let abs = |p: &mut PathBuf| absolute(cwd, p);
        let abs_opt = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                absolute(cwd, p)
            }
        };
        match self {
            SavedCommand::Run(a) => {
                abs(&mut a.scene);
                abs_opt(&mut a.out);
                abs_opt(&mut a.posterior);
            }
            SavedCommand::Sweep(a) => {
                abs(&mut a.scene);
                abs_opt(&mut a.out);
                abs_opt(&mut a.posterior);
            }
            SavedCommand::Cohort(a) => {
                abs(&mut a.scene);
                abs(&mut a.out);
            }
            SavedCommand::Twin(a) => {
                abs(&mut a.scene);
                abs_opt(&mut a.output.out);
            }
            SavedCommand::Assimilate(a) => {
                abs(&mut a.scene);
                abs(&mut a.obs);
                abs_opt(&mut a.forecast_at);
                abs_opt(&mut a.events);
                abs_opt(&mut a.output.out);
            }
        }
    }
}

/// Parses a resume record's command line, its relative paths made
/// absolute against the recorded working folder.
pub(crate) fn parse_saved(inv: &Invocation, whence: &Path) -> Result<SavedCommand> {
    use clap::Parser;
    let argv = std::iter::once("vtwin".to_string()).chain(inv.argv.iter().cloned());
    let saved = Saved::try_parse_from(argv).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot continue `vtwin {}`: {}",
            whence.display(),
            inv.argv.join(" "),
            e.render().to_string().trim()
        )
    })?;
    let mut command = saved.command;
    command.absolutize(&inv.cwd);
    Ok(command)
}

/// Returns the process exit code.
pub fn run(args: &ResumeArgs) -> Result<i32> {
    let (out, temp, invocation) = match resume::locate(&args.dir)? {
        Found::Finished(out) => {
            eprintln!(
                "vtwin resume: {} is a finished run; nothing to do",
                out.display()
            );
            return Ok(0);
        }
        Found::Kept {
            out,
            temp,
            invocation,
        } => (out, temp, invocation),
    };
    let command = parse_saved(&invocation, &temp)?;
    let twin = matches!(command, SavedCommand::Twin(_) | SavedCommand::Assimilate(_));
    let resume = resume::prepare(out, temp, invocation, twin, &mut super::Printer::new())?;
    match command {
        SavedCommand::Run(a) => super::run::run_with(&a, Some(&resume)),
        SavedCommand::Sweep(a) => super::sweep::run_with(&a, Some(&resume)).map(|()| 0),
        SavedCommand::Cohort(a) => super::cohort::run_with(&a, Some(&resume)),
        SavedCommand::Twin(a) => super::twin::run_with(&a, Some(&resume)),
        SavedCommand::Assimilate(a) => super::assimilate::run_with(&a, Some(&resume)),
    }
}
