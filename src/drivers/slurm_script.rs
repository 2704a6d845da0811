//! Slurm batch scripts for sharded commands (`vtwin slurm`): a job array
//! whose task `$SLURM_ARRAY_TASK_ID` runs shard I/K of a `run`, `sweep` or
//! `cohort`, and a merge job, submitted with `--dependency=afterok` on the
//! array, that joins the shards with `vtwin merge`.
//!
//! Owns: the script text (pure functions of a [`JobSpec`]), shell quoting
//! of every forwarded word, and reading the job id `sbatch --parsable`
//! prints. Runs nothing (`drivers::slurm` writes the folder and calls
//! `sbatch`).
//!
//! Folder layout under `out`: `job.sbatch`, `merge.sbatch`, `shards/I`
//! (shard I's output folder), `merged` (the joined result), `logs/`, and
//! `jobs.json` once submitted. A task whose shard folder is already
//! complete (a `manifest.json` exists; vtwin renames a folder into place
//! only once it is complete) exits 0 without work, so resubmitting the
//! whole array, or only the failed tasks (`sbatch --array=3,7
//! OUT/job.sbatch`), redoes only what is missing.

use std::path::PathBuf;

message_error!(
    /// A Slurm option value or `sbatch` answer vtwin refuses.
    pub SlurmError
);

/// First line after the shebang of every script vtwin writes; marks the
/// folder as vtwin's so that `vtwin slurm` may write it again.
pub const MARKER: &str = "# Written by vtwin slurm";

/// What the scripts run and where.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    /// Absolute path of the vtwin binary the tasks run.
    pub vtwin: PathBuf,
    /// Working directory of every task (relative paths in `args` are
    /// relative to it): where `vtwin slurm` ran.
    pub workdir: PathBuf,
    /// `run`, `sweep` or `cohort`.
    pub subcommand: String,
    /// The subcommand's arguments, without `--shard` and `--out`.
    pub args: Vec<String>,
    /// K: array tasks 0..K−1.
    pub shards: u64,
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub time: Option<String>,
    /// Absolute output folder.
    pub out: PathBuf,
}

/// `s` as one word for bash: bare when it holds only safe characters,
/// else in single quotes (a `'` inside becomes `'\''`).
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Checks a value that goes into an `#SBATCH` line (partition, time):
/// non-empty, no whitespace, no shell or line syntax.
pub fn check_option(flag: &str, v: &str) -> Result<(), SlurmError> {
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:,+".contains(c))
    {
        return Err(format!("{flag} `{v}`: use letters, digits and - _ . : , + only").into());
    }
    Ok(())
}

fn header(spec: &JobSpec, name: &str, what: &str, log: &str, gpus: bool) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("{MARKER} {} ({what}).\n", env!("CARGO_PKG_VERSION"));
    s += &format!("#SBATCH --job-name={name}\n");
    s += &format!(
        "#SBATCH --chdir={}\n",
        quote(&spec.workdir.display().to_string())
    );
    s += &format!(
        "#SBATCH --output={}\n",
        quote(&spec.out.join("logs").join(log).display().to_string())
    );
    s += "#SBATCH --ntasks=1\n";
    if let Some(p) = &spec.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let (true, Some(g)) = (gpus, spec.gpus_per_task) {
        s += &format!("#SBATCH --gpus-per-task={g}\n");
    }
    if let Some(t) = &spec.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    s
}

/// The forwarded command, quoted: `vtwin SUBCOMMAND ARGS…`.
fn command_words(spec: &JobSpec) -> String {
    let mut words = vec![
        quote(&spec.vtwin.display().to_string()),
        quote(&spec.subcommand),
    ];
    words.extend(spec.args.iter().map(|a| quote(a)));
    words.join(" ")
}

/// The job-array script (`job.sbatch`).
pub fn array_script(spec: &JobSpec) -> String {
    let k = spec.shards;
    let mut s = header(
        spec,
        &format!("vtwin-{}", spec.subcommand),
        &format!("task I runs shard I/{k} of `vtwin {}`", spec.subcommand),
        "shard-%a.out",
        true,
    );
    s += &format!("#SBATCH --array=0-{}\n", k - 1);
    s += &format!(
        "# Resubmit failed tasks alone, e.g. tasks 3 and 7: sbatch --array=3,7 {}\n",
        quote(&spec.out.join("job.sbatch").display().to_string())
    );
    s += "# A task whose shard folder is complete exits 0 without work.\n";
    s += "set -euo pipefail\n";
    s += "i=\"${SLURM_ARRAY_TASK_ID:?submit this script with sbatch (it is a job array)}\"\n";
    s += &format!(
        "out={}/\"$i\"\n",
        quote(&spec.out.join("shards").display().to_string())
    );
    s += "if [ -f \"$out/manifest.json\" ]; then\n";
    s += &format!(
        "  echo \"vtwin slurm: shard $i/{k} is already complete in $out; nothing to do\"\n"
    );
    s += "  exit 0\nfi\n";
    s += &format!(
        "exec {} --shard \"$i/{k}\" --out \"$out\"\n",
        command_words(spec)
    );
    s
}

/// The merge script (`merge.sbatch`), submitted to run after the array.
pub fn merge_script(spec: &JobSpec) -> String {
    let k = spec.shards;
    let mut s = header(
        spec,
        &format!("vtwin-{}-merge", spec.subcommand),
        &format!("joins the {k} shards with `vtwin merge`"),
        "merge-%j.out",
        false,
    );
    s += "set -euo pipefail\n";
    s += &format!("d={}\n", quote(&spec.out.display().to_string()));
    s += "if [ -f \"$d/merged/manifest.json\" ]; then\n";
    s += "  echo \"vtwin slurm: $d/merged is already complete; nothing to do\"\n";
    s += "  exit 0\nfi\n";
    s += "shards=()\n";
    s += &format!("for ((i = 0; i < {k}; i++)); do shards+=(\"$d/shards/$i\"); done\n");
    s += &format!(
        "exec {} merge \"${{shards[@]}}\" --out \"$d/merged\"\n",
        quote(&spec.vtwin.display().to_string())
    );
    s
}

/// The job id in what `sbatch --parsable` printed (`ID` or `ID;CLUSTER`).
pub fn parse_job_id(stdout: &str) -> Result<String, SlurmError> {
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty());
    let id = line
        .and_then(|l| l.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "sbatch --parsable printed `{}`, not a job id",
            stdout.trim()
        )
        .into());
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            vtwin: "/opt/vt win/vtwin".into(),
            workdir: "/home/u/proj".into(),
            subcommand: "cohort".into(),
            args: vec![
                "scenes/a b.toml".into(),
                "--patients".into(),
                "40".into(),
                "it's".into(),
            ],
            shards: 4,
            partition: Some("gpu".into()),
            gpus_per_task: Some(1),
            time: Some("01:00:00".into()),
            out: "/scratch/job".into(),
        }
    }

    #[test]
    fn quoting_keeps_every_word_one_word() {
        assert_eq!(quote("--patients"), "--patients");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn the_array_script_runs_shard_i_of_k_into_its_own_folder() {
        let s = array_script(&spec());
        assert!(
            s.starts_with("#!/bin/bash\n# Written by vtwin slurm"),
            "{s}"
        );
        for line in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --gpus-per-task=1\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --chdir=/home/u/proj\n",
            "#SBATCH --output=/scratch/job/logs/shard-%a.out\n",
            "out=/scratch/job/shards/\"$i\"\n",
            "exec '/opt/vt win/vtwin' cohort 'scenes/a b.toml' --patients 40 'it'\\''s' --shard \"$i/4\" --out \"$out\"\n",
        ] {
            assert!(s.contains(line), "missing {line:?} in\n{s}");
        }
        assert!(s.contains("if [ -f \"$out/manifest.json\" ]"));
    }

    #[test]
    fn the_merge_script_joins_every_shard_and_asks_for_no_gpu() {
        let s = merge_script(&spec());
        assert!(s.contains("for ((i = 0; i < 4; i++)); do shards+=(\"$d/shards/$i\"); done\n"));
        assert!(
            s.contains("exec '/opt/vt win/vtwin' merge \"${shards[@]}\" --out \"$d/merged\"\n")
        );
        assert!(!s.contains("--gpus-per-task"), "{s}");
        assert!(!s.contains("--array"), "{s}");
        assert!(s.contains("#SBATCH --partition=gpu\n"));
    }

    #[test]
    fn job_ids_and_options_are_checked() {
        assert_eq!(parse_job_id("1234\n").unwrap(), "1234");
        assert_eq!(parse_job_id("77;cluster\n").unwrap(), "77");
        assert!(parse_job_id("Submitted batch job 5").is_err());
        assert!(check_option("--time", "1-00:00:00").is_ok());
        assert!(check_option("--partition", "gpu\n#SBATCH --x").is_err());
        assert!(check_option("--partition", "").is_err());
    }
}
