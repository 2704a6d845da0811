//! `vtwin select COHORT --target TARGET.csv --observable NAME --out DIR`:
//! a virtual population picked from the plausible patients of a whole
//! cohort so that one variable matches a target distribution (Allen, Rieger
//! & Musante 2016; `cohort::select`). Writes the per-patient selection
//! table, `selection.json` (fit and acceptance rate) and a manifest.

use crate::cohort::select::{self, SelectOn, SelectOptions};
use crate::cohort::{columns, crate_meta};
use crate::cohort_files;
use crate::io::TableFormat;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SelectArgs {
    /// A whole cohort folder (`vtwin cohort` without --shard, or `vtwin merge`).
    pub cohort: PathBuf,
    /// CSV file with a header row holding the target sample (one value per row).
    #[arg(long)]
    pub target: PathBuf,
    /// The variable to match: an observable (its value at --visit), a
    /// column of the outcomes table, or a column of the patients table
    /// (covariate or parameter).
    #[arg(long)]
    pub observable: String,
    /// Column of the target CSV (default: the --observable name).
    #[arg(long)]
    pub column: Option<String>,
    /// Arm whose observations or outcomes are used (default: each patient's
    /// assigned_arm, what a real trial would have seen).
    #[arg(long)]
    pub arm: Option<String>,
    /// Visit index for an observable (0 = baseline).
    #[arg(long, default_value_t = 0)]
    pub visit: i64,
    /// Seed of the per-patient acceptance draws (default: the cohort's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Smallest virtual population considered when choosing the scaling factor.
    #[arg(long, default_value_t = 20)]
    pub min_selected: usize,
    /// Output folder. Refused if it exists, unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Table format (default: the cohort's).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

pub fn run(args: &SelectArgs) -> Result<()> {
    let started = crate::manifest::now();
    let cohort = cohort_files::read(&args.cohort)
        .with_context(|| format!("reading cohort {}", args.cohort.display()))?;
    if !cohort.is_whole() {
        bail!(
            "{} holds patients {}..{} of {}: select needs the whole cohort; join the shards with `vtwin merge` first",
            args.cohort.display(),
            cohort.info.range.start,
            cohort.info.range.end,
            cohort.info.patients
        );
    }
    if let Some(arm) = &args.arm {
        let arms = columns::strs(&cohort.tables.outcomes, "arm")?;
        if !arms.iter().any(|a| a.as_deref() == Some(arm.as_str())) {
            bail!("--arm `{arm}`: the cohort has no such arm");
        }
    }
    let on = SelectOn {
        name: args.observable.clone(),
        arm: args.arm.clone(),
        visit: args.visit,
    };
    let cands = select::candidates(&cohort.tables, &on)?;
    let column = args.column.as_deref().unwrap_or(&args.observable);
    let target = select::read_target_csv(&args.target, column)?;
    let opts = SelectOptions {
        seed: args.seed.unwrap_or(cohort.info.seed),
        min_selected: args.min_selected,
        ..Default::default()
    };
    let sel = select::select(&cands, &target, &opts)?;
    let fmt = args.format.unwrap_or(cohort.format);
    let dir = super::create_run_dir(
        &args.out,
        args.force,
        &[args.cohort.as_path(), args.target.as_path()],
    )?;
    dir.write_table(&select::selection_table(&cands, &sel), fmt)?;
    let report = json!({
        "cohort": args.cohort.display().to_string(),
        "target": args.target.display().to_string(),
        "target_column": column,
        "target_size": target.len(),
        "variable": args.observable,
        "arm": args.arm.as_deref().unwrap_or("assigned_arm"),
        "visit": args.visit,
        "seed": opts.seed,
        "min_selected": opts.min_selected,
        "method": "Allen, Rieger & Musante (2016): acceptance probability min(1, s·f_target/f_plausible), s maximising the KS p-value",
        "result": sel,
    });
    dir.write_json("selection.json", &report)?;
    let manifest = json!({
        "schema_version": crate::manifest::SCHEMA_VERSION,
        "engine": crate::manifest::engine_json(),
        "command": crate::checkpoint::Invocation::command_line(),
        "cohort": {
            "path": args.cohort.display().to_string(),
            "scene_sha256": cohort.info.scene_sha256,
            "seed": cohort.info.seed,
            "patients": cohort.info.patients,
        },
        "target": {
            "path": args.target.display().to_string(),
            "sha256": crate_meta::sha256_hex(&std::fs::read(&args.target)?),
        },
        "started": crate::manifest::rfc3339(started),
        "finished": crate::manifest::rfc3339(crate::manifest::now()),
    });
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin select: {} of {} plausible patients selected (acceptance rate {:.3}, scaling factor {:.3}); \
         KS vs target D = {:.4} (p = {:.3}), before selection D = {:.4} (p = {:.3})",
        sel.n_selected,
        sel.n_plausible,
        sel.acceptance_rate,
        sel.scale_factor,
        sel.ks.statistic,
        sel.ks.p_value,
        sel.ks_plausible.statistic,
        sel.ks_plausible.p_value
    );
    Ok(())
}
