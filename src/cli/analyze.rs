//! `vtwin analyze sobol|morris`: sensitivity indices from a design CSV and
//! a CSV of outputs computed on it by any simulator (like SALib's command
//! line). The flags, handed to
//! [`drivers::analyze::run`](crate::drivers::analyze::run); the result is
//! printed to stdout as CSV when no `-o` is given.

use crate::drivers::analyze::{AnalyzeRequest, Method};
use crate::methods::sensitivity::Bootstrap;
use crate::output::io::csv::format_f64;
use crate::output::table::{Table, Values};
use std::path::PathBuf;

pub use crate::drivers::analyze::{MAX_RESAMPLES, s2_path};

/// Sensitivity analysis of outputs computed on a design.
#[derive(clap::Args, Clone, Debug)]
pub struct AnalyzeArgs {
    #[command(subcommand)]
    pub method: AnalyzeMethod,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum AnalyzeMethod {
    /// Sobol indices (first order, total, second order) from a Saltelli design.
    ///
    /// First order after Saltelli (2010), total after Jansen (1999); second
    /// order (Saltelli 2002) when the design has the BA_i rows, written then
    /// to <output>_s2.csv with columns parameter_i, parameter_j, S2, S2_conf
    /// (after a blank line on stdout). Columns: parameter, S1, S1_conf, ST,
    /// ST_conf. First vs second order follows from the row count, N(D+2) or
    /// N(2D+2), and from the design's layout when the count fits both.
    /// Intervals: conf = z·sd over bootstrap resamples of the base rows
    /// (z = 1.96 at 95 %).
    Sobol(SobolArgs),
    /// Morris elementary effects from Morris trajectories.
    ///
    /// Columns: parameter, mu, mu_star, sigma, mu_star_conf. An elementary
    /// effect is the output change per unit-cube step, (y(x + Δe_i) − y(x))/Δ
    /// with Δ = p/(2(p−1)), so f = c·x over a range r gives mu_star = |c|·r.
    /// mu_star_conf = z·sd over bootstrap resamples of the trajectories.
    Morris(MorrisArgs),
}

/// Files and bootstrap settings shared by both analyses. Confidence
/// intervals: conf = z·sd over bootstrap resamples (z = 1.96 at 95 %).
#[derive(clap::Args, Clone, Debug)]
pub struct CommonArgs {
    /// Parameter file the design was made from.
    #[arg(long, value_name = "PARAMS.toml")]
    pub params: PathBuf,
    /// The design CSV (as written by `vtwin design`).
    #[arg(long, value_name = "design.csv")]
    pub design: PathBuf,
    /// The outputs CSV: a header, then one row per design row.
    #[arg(long, value_name = "Y.csv")]
    pub outputs: PathBuf,
    /// The output column(s) to analyse (needed when Y.csv has several);
    /// several, comma-separated (`--column a,b`), give one result table with
    /// an `output` column first, the outputs stacked in the order given.
    #[arg(long, value_name = "NAME[,NAME...]", value_delimiter = ',')]
    pub column: Vec<String>,
    /// Result CSV (written atomically); stdout when absent.
    #[arg(short = 'o', long = "output", value_name = "result.csv")]
    pub output: Option<PathBuf>,
    /// Replace existing result files (never the command's input files).
    #[arg(long)]
    pub force: bool,
    /// Bootstrap resamples for the confidence intervals (2 to 100,000).
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub conf_level: f64,
}

#[derive(clap::Args, Clone, Debug)]
pub struct SobolArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(clap::Args, Clone, Debug)]
pub struct MorrisArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of grid levels p the design was made with.
    #[arg(long, default_value_t = 4)]
    pub levels: u32,
}

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let (c, method) = match &args.method {
        AnalyzeMethod::Sobol(a) => (&a.common, Method::Sobol),
        AnalyzeMethod::Morris(a) => (&a.common, Method::Morris { levels: a.levels }),
    };
    let req = AnalyzeRequest {
        method,
        params: c.params.clone(),
        design: c.design.clone(),
        outputs: c.outputs.clone(),
        columns: c.column.clone(),
        output: c.output.clone(),
        force: c.force,
        bootstrap: Bootstrap {
            resamples: c.resamples,
            seed: c.seed,
            conf_level: c.conf_level,
        },
    };
    let result = crate::drivers::analyze::run(&req)?;
    if c.output.is_none() {
        print_table(&result.main)?;
        if let Some(t) = &result.s2 {
            println!();
            print_table(t)?;
        }
    }
    Ok(())
}

/// A result table as CSV on stdout (text and float columns only).
fn print_table(table: &Table) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record(table.column_names())?;
    for r in 0..table.rows() {
        w.write_record(table.columns.iter().map(|c| match &c.values {
            Values::F64(v) => v[r].map(format_f64).unwrap_or_default(),
            Values::Str(v) => v[r].clone().unwrap_or_default(),
            _ => String::new(),
        }))?;
    }
    w.flush()?;
    Ok(())
}
