//! `vtwin design`: writes an experimental design over a parameter file to
//! a CSV file with one column per parameter (all of them, in file order;
//! fixed ones constant), floats in shortest round-trip form.
//!
//! Owns: argument checking and the file side of the command. The designs
//! themselves live in [`crate::methods::design`].

use crate::drivers::csv_files::write_table_atomic;
use crate::input::params_file::load_param_file;
use crate::methods::design::{self, DesignMethod, DesignOptions};
use anyhow::bail;
use std::path::PathBuf;

/// Generate an experimental design over the parameters of PARAMS.toml.
///
/// `-n` means: rows for random, lhs and sobol; levels per dimension for
/// grid (n^D rows, levels i/(n−1), end points included); the base size N
/// for saltelli (N(D+2) rows, N(2D+2) with --second-order, in SALib's row
/// order); trajectories for morris (N(D+1) rows). D counts the varying
/// (non-fixed) parameters. Values come from the unit cube through each
/// distribution's inverse CDF; unbounded distributions clamp unit values to
/// [1e-9, 1 − 1e-9] first, so no point maps to infinity.
#[derive(clap::Args, Clone, Debug)]
pub struct DesignArgs {
    /// Parameter file with a [parameters] table (and optional [[correlations]]).
    #[arg(long, value_name = "PARAMS.toml")]
    pub params: PathBuf,
    /// Design method.
    #[arg(long, value_enum)]
    pub method: DesignMethod,
    /// Rows, grid levels, Saltelli base size or Morris trajectories (see above).
    #[arg(short = 'n', value_name = "N")]
    pub n: usize,
    /// Seed of random, lhs, morris and scrambled sobol/saltelli designs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output CSV file (written atomically).
    #[arg(short = 'o', long = "output", value_name = "design.csv")]
    pub output: PathBuf,
    /// Replace an existing output file (never the parameter file).
    #[arg(long)]
    pub force: bool,
    /// lhs: keep the Latin hypercube with the largest minimum distance among 32.
    #[arg(long)]
    pub maximin: bool,
    /// sobol, saltelli: Owen (nested uniform) scrambling, seeded by --seed.
    #[arg(long)]
    pub scramble: bool,
    /// saltelli: add the rows needed for second-order indices.
    #[arg(long)]
    pub second_order: bool,
    /// morris: number of grid levels p, even (default 4); Δ = p/(2(p−1)).
    #[arg(long)]
    pub levels: Option<u32>,
}

/// Checks that each method-specific flag goes with its method.
fn check_flags(args: &DesignArgs) -> anyhow::Result<()> {
    check_method_flags(
        args.method,
        args.maximin,
        args.scramble,
        args.second_order,
        args.levels,
    )
}

/// Checks that each method-specific flag goes with its method (shared with
/// `vtwin sweep`).
pub fn check_method_flags(
    m: DesignMethod,
    maximin: bool,
    scramble: bool,
    second_order: bool,
    levels: Option<u32>,
) -> anyhow::Result<()> {
    let wrong = |flag: &str, wanted: &str| -> anyhow::Result<()> {
        bail!(
            "{flag} applies only to --method {wanted}, not --method {}",
            m.name()
        )
    };
    if maximin && m != DesignMethod::Lhs {
        wrong("--maximin", "lhs")?;
    }
    if scramble && !matches!(m, DesignMethod::Sobol | DesignMethod::Saltelli) {
        wrong("--scramble", "sobol or saltelli")?;
    }
    if second_order && m != DesignMethod::Saltelli {
        wrong("--second-order", "saltelli")?;
    }
    if levels.is_some() && m != DesignMethod::Morris {
        wrong("--levels", "morris")?;
    }
    Ok(())
}

pub fn run(args: &DesignArgs) -> anyhow::Result<()> {
    check_flags(args)?;
    super::check_output_file(&args.output, args.force, &[&args.params])?;
    let block = load_param_file(&args.params)?;
    let opts = DesignOptions {
        seed: args.seed,
        maximin: args.maximin,
        scramble: args.scramble,
        second_order: args.second_order,
        levels: args.levels.unwrap_or(DesignOptions::default().levels),
    };
    let d = design::generate(&block, args.method, args.n, &opts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.params.display()))?;
    write_table_atomic(&args.output, &d.to_table(&block))?;
    eprintln!(
        "wrote {} rows × {} parameters ({} varying; --method {}) to {}",
        d.values.len(),
        block.params.len(),
        block.varying().len(),
        args.method.name(),
        args.output.display()
    );
    Ok(())
}
