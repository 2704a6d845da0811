//! `vtwin slurm`: the job folder of a sharded command. Separates `slurm`'s
//! own options from the forwarded words, writes the job array and merge
//! scripts (text from [`crate::drivers::slurm_script`]) into a folder vtwin owns, and with
//! `--submit` submits both through `sbatch --parsable`, the merge with
//! `--dependency=afterok:<array id>`, recording the ids in `jobs.json`.
//!
//! Owns: [`SlurmRequest`] and its checks, the job-folder rule, running
//! `sbatch`, and the `jobs.json` record. Checking that the forwarded
//! command parses is the command line's (it holds the parsers).

use crate::drivers::slurm_script::{self as slurm, JobSpec, SlurmError};
use crate::output::io::IoError;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `vtwin slurm` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SlurmJobError {
    /// Bad options, said in full (names the flag).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A step (`what`) the system refused.
    #[error("{what}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

type Result<T, E = SlurmJobError> = std::result::Result<T, E>;

/// Returns [`SlurmJobError::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(SlurmJobError::Invalid(format!($($t)*)))
    };
}

fn system(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SlurmJobError {
    let what = what.into();
    move |source| SlurmJobError::System { what, source }
}

/// The commands that take `--shard I/K`.
pub const SHARDABLE: [&str; 4] = ["run", "sweep", "cohort", "assimilate"];

/// `slurm`'s own options as given before SUBCOMMAND (as text, checked
/// with those found among the forwarded words).
#[derive(Clone, Debug, Default)]
pub struct Given {
    pub shards: Option<String>,
    pub partition: Option<String>,
    pub gpus_per_task: Option<String>,
    pub time: Option<String>,
    pub out: Option<String>,
    pub submit: bool,
}

/// What `vtwin slurm` was asked, once its own options are separated from
/// the forwarded words.
#[derive(Debug, PartialEq)]
pub struct SlurmRequest {
    pub subcommand: String,
    pub args: Vec<String>,
    pub shards: u64,
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub time: Option<String>,
    pub out: PathBuf,
    pub submit: bool,
}

/// Separates `slurm`'s options (`--opt V` or `--opt=V`, anywhere after
/// SUBCOMMAND) from the forwarded words of `command` (SUBCOMMAND ARGS…)
/// and checks both; `--shard` is refused (the array sets it).
pub fn parse_request(command: &[String], given: Given) -> Result<SlurmRequest> {
    let Some((sub, rest)) = command.split_first() else {
        bail!(
            "give the command to shard: vtwin slurm run|sweep|cohort|assimilate ARGS… --shards K --out DIR"
        );
    };
    if !SHARDABLE.contains(&sub.as_str()) {
        bail!(
            "vtwin slurm shards `run`, `sweep`, `cohort` and `assimilate` (patient runs); \
             `{sub}` has no --shard"
        );
    }
    let Given {
        mut shards,
        mut partition,
        gpus_per_task: mut gpus,
        mut time,
        mut out,
        mut submit,
    } = given;
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
        let value = match inline.or_else(|| words.next().cloned()) {
            Some(v) => v,
            None => bail!("{flag} needs a value"),
        };
        if slot.replace(value).is_some() {
            bail!("{flag} is given twice");
        }
    }
    let Some(shards_text) = shards else {
        bail!("give the number of shards: --shards K");
    };
    let Some(shards) = shards_text.parse::<u64>().ok().filter(|k| *k >= 1) else {
        bail!("--shards `{shards_text}`: give a whole number, at least 1");
    };
    let Some(out) = out.map(PathBuf::from) else {
        bail!("give the job folder with --out DIR (scripts, logs, shards/I and merged/ go there)");
    };
    let gpus_per_task = match gpus {
        None => None,
        Some(g) => match g.parse::<u32>().ok().filter(|g| *g >= 1) {
            Some(g) => Some(g),
            None => bail!("--gpus-per-task `{g}`: give a whole number, at least 1"),
        },
    };
    for (flag, v) in [("--partition", &partition), ("--time", &time)] {
        if let Some(v) = v {
            slurm::check_option(flag, v)?;
        }
    }
    Ok(SlurmRequest {
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
        .map_err(system(
            "running sbatch (is Slurm installed and on PATH? without --submit, \
             vtwin slurm only writes the scripts)",
        ))?;
    if !o.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(slurm::parse_job_id(&String::from_utf8_lossy(&o.stdout))?)
}

/// One submission in `jobs.json`.
#[derive(Serialize)]
struct Submission {
    array_job: String,
    merge_job: String,
    submitted: String,
}

/// `jobs.json`: the latest submission's ids, what it runs, and every
/// submission so far (fields in the file's alphabetical key order).
#[derive(Serialize)]
struct JobsRecord {
    array_job: String,
    array_script: String,
    command: Vec<String>,
    merge_job: String,
    merge_script: String,
    merged: String,
    shards: u64,
    submissions: Vec<serde_json::Value>,
}

/// What [`run`] did.
#[derive(Clone, Debug)]
pub struct SlurmOutcome {
    /// The array script and the merge script.
    pub job: PathBuf,
    pub merge: PathBuf,
    /// Where the merge job writes the joined result.
    pub merged: PathBuf,
    /// With `--submit`: the array job's id and the merge job's.
    pub submitted: Option<(String, String)>,
}

/// Writes the scripts of `req` into its job folder (absolute) and with
/// `req.submit` submits them; `note` gets warnings.
pub fn run(req: &SlurmRequest, note: &mut dyn FnMut(&str)) -> Result<SlurmOutcome> {
    let out = std::path::absolute(&req.out).map_err(system(format!(
        "--out {}: cannot make it absolute",
        req.out.display()
    )))?;
    check_job_folder(&out)?;
    let vtwin = std::env::current_exe().map_err(system("finding the running vtwin binary"))?;
    let workdir = std::env::current_dir().map_err(system("reading the current folder"))?;
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
        std::fs::create_dir_all(&d).map_err(system(format!("creating {}", d.display())))?;
    }
    let job = out.join("job.sbatch");
    let merge = out.join("merge.sbatch");
    crate::output::io::write_atomic(&job, slurm::array_script(&spec).as_bytes())?;
    crate::output::io::write_atomic(&merge, slurm::merge_script(&spec).as_bytes())?;
    if req.shards > 1000 {
        note(&format!(
            "vtwin slurm: {} array tasks: Slurm's default MaxArraySize is 1001 (tasks 0..1000); \
             ask your administrators or use fewer shards",
            req.shards
        ));
    }
    let merged = out.join("merged");
    if !req.submit {
        return Ok(SlurmOutcome {
            job,
            merge,
            merged,
            submitted: None,
        });
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
    submissions.push(serde_json::to_value(Submission {
        array_job: array_id.clone(),
        merge_job: merge_id.clone(),
        submitted: crate::drivers::manifest::rfc3339(crate::drivers::manifest::now()),
    })?);
    let record = JobsRecord {
        array_job: array_id.clone(),
        array_script: job_s,
        command: std::iter::once(req.subcommand.clone())
            .chain(req.args.clone())
            .collect(),
        merge_job: merge_id.clone(),
        merge_script: merge_s,
        merged: merged.display().to_string(),
        shards: req.shards,
        submissions,
    };
    // Through a `Value`, whose keys are sorted, as the file always was.
    let text = serde_json::to_string_pretty(&serde_json::to_value(&record)?)? + "\n";
    crate::output::io::write_atomic(&jobs_path, text.as_bytes())?;
    Ok(SlurmOutcome {
        job,
        merge,
        merged,
        submitted: Some((array_id, merge_id)),
    })
}
