//! `vtwin select COHORT --target TARGET.csv --observable NAME --out DIR`:
//! a virtual population picked from the plausible patients of a whole
//! cohort so that one variable matches a target distribution (Allen, Rieger
//! & Musante 2016; `cohort::select`). Writes the per-patient selection
//! table, `selection.json` (fit and acceptance rate) and a manifest.
//! The work is [`crate::drivers::select`]; this file parses the flags and
//! prints.

use crate::drivers::select::{self, SelectRequest, Selected};
use crate::output::io::TableFormat;
use anyhow::Result;
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
    let req = SelectRequest {
        cohort: args.cohort.clone(),
        target: args.target.clone(),
        observable: args.observable.clone(),
        column: args.column.clone(),
        arm: args.arm.clone(),
        visit: args.visit,
        seed: args.seed,
        min_selected: args.min_selected,
        out: args.out.clone(),
        force: args.force,
        format: args.format,
    };
    let Selected {
        dir: final_dir,
        selection: sel,
    } = select::run(&req, &mut super::Printer::new())?;
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
