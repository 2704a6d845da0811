//! `vtwin slurm SUBCOMMAND ARGS… --shards K [--partition P]
//! [--gpus-per-task G] [--time T] --out DIR [--submit]`: writes a Slurm job
//! array (`DIR/job.sbatch`, task I runs `vtwin SUBCOMMAND ARGS… --shard I/K
//! --out DIR/shards/I`) and a merge job (`DIR/merge.sbatch`), and with
//! `--submit` submits both through `sbatch --parsable`, the merge with
//! `--dependency=afterok:<array id>`, recording the ids in `DIR/jobs.json`.
//!
//! Parsing: the options of `slurm` itself may come before SUBCOMMAND (clap
//! reads them) or anywhere after it (they are taken out of the forwarded
//! words here, `--opt V` or `--opt=V`); every other word is forwarded. The
//! forwarded command is parsed with the real subcommand's parser before
//! anything is written, so a typo fails here, not in 1,000 array tasks.
//! `--out` always belongs to `slurm`; `--shard` is refused (the array sets
//! it). The job itself is [`drivers::slurm`](crate::drivers::slurm);
//! script text lives in `crate::drivers::slurm_script`.

use crate::drivers::slurm::{Given, SlurmRequest, parse_request};
use anyhow::{Result, bail};
use clap::Parser;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SlurmArgs {
    /// Shards K (array tasks 0..K−1), at least 1.
    #[arg(long)]
    pub shards: Option<u64>,
    /// Slurm partition of every job.
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per array task (`#SBATCH --gpus-per-task`); the merge asks for none.
    #[arg(long)]
    pub gpus_per_task: Option<u32>,
    /// Time limit of every job, in Slurm's format (e.g. 02:00:00, 1-00:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Folder for the scripts, logs, `shards/I`, `merged` and `jobs.json`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Submit the array and the merge with `sbatch` (else only write them).
    #[arg(long)]
    pub submit: bool,
    /// The command to shard (`run`, `sweep`, `cohort` or `assimilate`) and its arguments;
    /// `slurm`'s own options may be mixed in after it.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "SUBCOMMAND ARGS"
    )]
    pub command: Vec<String>,
}

/// The commands that take `--shard I/K`, parsed exactly as `vtwin` parses
/// them, to check forwarded arguments.
#[derive(Parser)]
#[command(name = "vtwin")]
enum Probe {
    Run(super::run::RunArgs),
    Sweep(super::sweep::SweepArgs),
    Cohort(super::cohort::CohortArgs),
    Assimilate(super::assimilate::AssimilateArgs),
}

/// The request of `a`, its forwarded command checked with the real parser
/// (as task 0 will run it), so a typo fails here, not in 1,000 array tasks.
pub fn request(a: &SlurmArgs) -> Result<SlurmRequest> {
    let given = Given {
        shards: a.shards.map(|k| k.to_string()),
        partition: a.partition.clone(),
        gpus_per_task: a.gpus_per_task.map(|g| g.to_string()),
        time: a.time.clone(),
        out: a.out.as_ref().map(|p| p.display().to_string()),
        submit: a.submit,
    };
    let req = parse_request(&a.command, given)?;
    let (sub, shards) = (&req.subcommand, req.shards);
    let mut probe = vec!["vtwin".to_string(), sub.clone()];
    probe.extend(req.args.iter().cloned());
    probe.extend([
        "--shard".into(),
        format!("0/{shards}"),
        "--out".into(),
        "x".into(),
    ]);
    match Probe::try_parse_from(&probe) {
        Ok(Probe::Cohort(c)) if c.patients < shards => bail!(
            "--shards {shards} for a cohort of {} patients: some shards would hold no patient",
            c.patients
        ),
        Ok(_) => Ok(req),
        Err(e) => bail!("the forwarded command `vtwin {sub} …` does not parse:\n{e}"),
    }
}

pub fn run(a: &SlurmArgs) -> Result<()> {
    let req = request(a)?;
    let done = crate::drivers::slurm::run(&req, &mut |m| eprintln!("{m}"))?;
    let quote = |p: &std::path::Path| crate::drivers::slurm_script::quote(&p.display().to_string());
    match &done.submitted {
        None => {
            println!("{}", done.job.display());
            eprintln!(
                "vtwin slurm: wrote {} ({} tasks) and {}; submit with:\n  \
                 id=$(sbatch --parsable {}) && sbatch --dependency=afterok:$id {}",
                done.job.display(),
                req.shards,
                done.merge.display(),
                quote(&done.job),
                quote(&done.merge),
            );
        }
        Some((array_id, merge_id)) => {
            println!("{array_id} {merge_id}");
            eprintln!(
                "vtwin slurm: submitted array job {array_id} ({} tasks) and merge job {merge_id} \
                 (after the array succeeds); result in {}",
                req.shards,
                done.merged.display()
            );
        }
    }
    Ok(())
}
