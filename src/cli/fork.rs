//! `vtwin fork CHECKPOINT --arm NAME [--set PARAM=VALUE …] --out DIR`: the
//! flags, the saved command line parsed again, then
//! [`drivers::fork`](crate::drivers::fork). It continues a saved ensemble (a `vtwin run --checkpoint-every` checkpoint;
//! a twin's or an assimilation's is forecast by `fork_twin`, a cohort's
//! running task is continued by `fork_cohort`)
//! from its step under another treatment arm or with parameters changed
//! for every member — the what-if from a saved state, without running the
//! past again. The outputs are those of a run: the observations so far
//! (from the checkpoint) and from the checkpoint's step on (under the new
//! arm), statuses and the parameters used.
//!
//! Parameters may change only where the state layout stays (any parameter
//! of the scene's block; the grid, agents' capacity and the like are not
//! parameters), and the scene must be the one the checkpoint was made
//! from (its hash is checked).

use super::EngineArgs;
use super::resume::{SavedCommand, parse_saved};
use crate::drivers::fork::{self as driver, ForkRequest, Saved};
use crate::output::io::TableFormat;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ForkArgs {
    /// A checkpoint file (checkpoint.vtc of a finished run, twin or
    /// assimilation with --checkpoint-every, or of an interrupted one's
    /// kept folder — a cohort's only there), a folder holding one, or the
    /// --out of an interrupted run (its kept folder's checkpoint).
    pub checkpoint: PathBuf,
    /// Treatment arm to continue under (default: the checkpoint's arm; a
    /// twin's: its assimilation arm; a cohort's: the arm of its running
    /// task).
    #[arg(long)]
    pub arm: Option<String>,
    /// Set a parameter for every member from the checkpoint's step on
    /// (repeatable).
    #[arg(long = "set", value_name = "PARAM=VALUE")]
    pub set: Vec<String>,
    /// Output folder. Refused if it exists, unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl ForkArgs {
    /// The driver's request for these flags, forking `checkpoint`.
    pub fn request(&self, checkpoint: PathBuf) -> ForkRequest {
        ForkRequest {
            checkpoint,
            arm: self.arm.clone(),
            set: self.set.clone(),
            out: self.out.clone(),
            force: self.force,
            format: self.format,
            backend: self.engine.backend,
            adapter: self.engine.adapter.clone(),
            batch_size: self.engine.batch_size,
        }
    }
}

/// Returns the process exit code.
pub fn run(args: &ForkArgs) -> Result<i32> {
    let (path, saved) = driver::open(&args.checkpoint)?;
    let req = args.request(path.clone());
    let ck = match saved {
        Saved::Twin(meta) => return super::fork_twin::run(&req, &meta),
        Saved::Ensemble(ck) => ck,
    };
    let run = match parse_saved(&ck.meta.invocation, &path)? {
        SavedCommand::Run(run) => run,
        SavedCommand::Cohort(c) => return super::fork_cohort::run(&req, &ck, &c),
        _ => anyhow::bail!(
            "{}: a checkpoint of `vtwin {}`; fork continues checkpoints of `vtwin run`, \
             `vtwin cohort`, `vtwin twin` and `vtwin assimilate`",
            path.display(),
            ck.meta.invocation.argv.join(" ")
        ),
    };
    let run = run.request(PathBuf::new());
    let done = driver::run(&req, &ck, run, &mut super::Printer::new())?;
    println!("{}", done.dir.display());
    eprintln!(
        "vtwin fork: {} of {} members failed; outputs in {}",
        done.failed,
        done.members,
        done.dir.display()
    );
    Ok(0)
}
