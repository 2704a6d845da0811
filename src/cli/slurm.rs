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
//! it). Script text lives in `crate::slurm`.

use crate::slurm::{self, JobSpec};
use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;
use std::path::{Path, PathBuf};

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

/// What `vtwin slurm` was asked, once its own options are separated from
/// the forwarded words.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub subcommand: String,
    pub args: Vec<String>,
    pub shards: u64,
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub time: Option<String>,
    pub out: PathBuf,
    pub submit: bool,
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

const SHARDABLE: [&str; 4] = ["run", "sweep", "cohort", "assimilate"];

/// Separates `slurm`'s options from the forwarded words and checks both.
pub fn parse_request(a: &SlurmArgs) -> Result<Request> {
    let (sub, rest) = a.command.split_first().context(
        "give the command to shard: vtwin slurm run|sweep|cohort|assimilate ARGS… --shards K --out DIR",
    )?;
    if !SHARDABLE.contains(&sub.as_str()) {
        bail!(
            "vtwin slurm shards `run`, `sweep`, `cohort` and `assimilate` (patient runs); \
             `{sub}` has no --shard"
        );
    }
    let mut shards = a.shards.map(|k| k.to_string());
    let mut partition = a.partition.clone();
    let mut gpus = a.gpus_per_task.map(|g| g.to_string());
    let mut time = a.time.clone();
    let mut out = a.out.as_ref().map(|p| p.display().to_string());
    let mut submit = a.submit;
    let mut args = Vec::new();
    let mut words = rest.iter();
    while let Some(w) = words.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let slot = match flag {
            "--shards" => &mut shards,
            "--partition" => &mut partition,
            "--gpus-per-task" => &mut gpus,
            "--time" => &mut time,
            "--out" => &mut out,
            "--submit" => {
                if inline.is_some() {
                    bail!("--submit takes no value");
                }
                if submit {
                    bail!("--submit is given twice");
                }
                submit = true;
                continue;
            }
            "--shard" => bail!(
                "--shard is set by the job array (task I runs --shard I/K); \
                 give the number of shards with --shards K instead"
            ),
            _ => {
                args.push(w.clone());
                continue;
            }
        };
        let value = match inline {
            Some(v) => v,
            None => words
                .next()
                .with_context(|| format!("{flag} needs a value"))?
                .clone(),
        };
        if slot.replace(value).is_some() {
            bail!("{flag} is given twice");
        }
    }
    let shards_text = shards.context("give the number of shards: --shards K")?;
    let shards: u64 = shards_text
        .parse()
        .ok()
        .filter(|k| *k >= 1)
        .with_context(|| format!("--shards `{shards_text}`: give a whole number, at least 1"))?;
    let out = PathBuf::from(out.context(
        "give the job folder with --out DIR (scripts, logs, shards/I and merged/ go there)",
    )?);
    let gpus_per_task =
        match gpus {
            None => None,
            Some(g) => Some(g.parse::<u32>().ok().filter(|g| *g >= 1).with_context(|| {
                format!("--gpus-per-task `{g}`: give a whole number, at least 1")
            })?),
        };
    for (flag, v) in [("--partition", &partition), ("--time", &time)] {
        if let Some(v) = v {
            slurm::check_option(flag, v).map_err(anyhow::Error::msg)?;
        }
    }
    // The forwarded command, as task 0 will run it, through the real parser.
    let mut probe = vec!["vtwin".to_string(), sub.clone()];
    probe.extend(args.iter().cloned());
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
        Ok(_) => {}
        Err(e) => bail!("the forwarded command `vtwin {sub} …` does not parse:\n{e}"),
    }
    Ok(Request {
        subcommand: sub.clone(),
        args,
        shards,
        partition,
        gpus_per_task,
        time,
        out,
        submit,
    })
}

/// Refuses a job folder vtwin did not make: it may not exist yet, be
/// empty, or hold a `job.sbatch` that vtwin wrote (then the scripts are
/// written again and complete shards are kept).
fn check_job_folder(out: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(out) else {
        if out.exists() {
            bail!("--out {}: exists and is not a folder", out.display());
        }
        return Ok(());
    };
    if entries.next().is_none() {
        return Ok(());
    }
    let script = out.join("job.sbatch");
    let ours = std::fs::read_to_string(&script)
        .map(|t| {
            t.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with(slurm::MARKER))
        })
        .unwrap_or(false);
    if !ours {
        bail!(
            "--out {}: the folder exists and holds no job.sbatch written by vtwin slurm; \
             choose a new folder",
            out.display()
        );
    }
    Ok(())
}

fn sbatch(args: &[&str]) -> Result<String> {
    let o = std::process::Command::new("sbatch")
        .args(args)
        .output()
        .with_context(|| {
            "running sbatch (is Slurm installed and on PATH? without --submit, \
             vtwin slurm only writes the scripts)"
                .to_string()
        })?;
    if !o.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    slurm::parse_job_id(&String::from_utf8_lossy(&o.stdout)).map_err(anyhow::Error::msg)
}

pub fn run(a: &SlurmArgs) -> Result<()> {
    let req = parse_request(a)?;
    let out = std::path::absolute(&req.out)
        .with_context(|| format!("--out {}: cannot make it absolute", req.out.display()))?;
    check_job_folder(&out)?;
    let vtwin = std::env::current_exe().context("finding the running vtwin binary")?;
    let workdir = std::env::current_dir().context("reading the current folder")?;
    let spec = JobSpec {
        vtwin,
        workdir,
        subcommand: req.subcommand.clone(),
        args: req.args.clone(),
        shards: req.shards,
        partition: req.partition.clone(),
        gpus_per_task: req.gpus_per_task,
        time: req.time.clone(),
        out: out.clone(),
    };
    for sub in ["shards", "logs"] {
        let d = out.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    let job = out.join("job.sbatch");
    let merge = out.join("merge.sbatch");
    crate::io::write_atomic(&job, slurm::array_script(&spec).as_bytes())?;
    crate::io::write_atomic(&merge, slurm::merge_script(&spec).as_bytes())?;
    if req.shards > 1000 {
        eprintln!(
            "vtwin slurm: {} array tasks: Slurm's default MaxArraySize is 1001 (tasks 0..1000); \
             ask your administrators or use fewer shards",
            req.shards
        );
    }
    if !req.submit {
        println!("{}", job.display());
        eprintln!(
            "vtwin slurm: wrote {} ({} tasks) and {}; submit with:\n  \
             id=$(sbatch --parsable {}) && sbatch --dependency=afterok:$id {}",
            job.display(),
            req.shards,
            merge.display(),
            slurm::quote(&job.display().to_string()),
            slurm::quote(&merge.display().to_string()),
        );
        return Ok(());
    }
    let job_s = job.display().to_string();
    let merge_s = merge.display().to_string();
    let array_id = sbatch(&["--parsable", &job_s])?;
    let dep = format!("--dependency=afterok:{array_id}");
    let merge_id = sbatch(&["--parsable", &dep, &merge_s])?;
    let jobs_path = out.join("jobs.json");
    let mut submissions = std::fs::read_to_string(&jobs_path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["submissions"].as_array().cloned())
        .unwrap_or_default();
    submissions.push(json!({
        "array_job": array_id,
        "merge_job": merge_id,
        "submitted": crate::manifest::rfc3339(crate::manifest::now()),
    }));
    let record = json!({
        "array_job": array_id,
        "merge_job": merge_id,
        "shards": req.shards,
        "command": std::iter::once(req.subcommand.clone()).chain(req.args.clone()).collect::<Vec<_>>(),
        "array_script": job_s,
        "merge_script": merge_s,
        "merged": out.join("merged").display().to_string(),
        "submissions": submissions,
    });
    crate::io::write_atomic(
        &jobs_path,
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )?;
    println!("{array_id} {merge_id}");
    eprintln!(
        "vtwin slurm: submitted array job {array_id} ({} tasks) and merge job {merge_id} \
         (after the array succeeds); result in {}",
        req.shards,
        out.join("merged").display()
    );
    Ok(())
}
