//! `vtwin analyze sobol|morris`: sensitivity indices from a design CSV and
//! a CSV of outputs computed on it by any simulator (like SALib's command
//! line), so users can bring their own models.
//!
//! The design file needs a column for every parameter of the parameter
//! file (other columns are ignored); only varying parameters get result
//! rows. Parameter files with `[[correlations]]` are refused: both
//! estimators assume independent inputs. The outputs file has a header and one row per design row;
//! `--column` picks an output when it has several.
//!
//! Owns: reading and checking the two files and writing results. The
//! estimators live in [`crate::sensitivity`].

use super::csv_files::{read_float_rows, read_output_column, write_table_atomic};
use crate::design::{saltelli, value_to_unit};
use crate::io::csv::format_f64;
use crate::params::{Distribution, ParamBlock};
use crate::params_file::load_param_file;
use crate::sensitivity::{Bootstrap, MorrisOptions, SobolOptions, morris_indices, sobol_indices};
use crate::table::{Table, Values};
use anyhow::bail;
use std::path::{Path, PathBuf};

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

/// The checked inputs of an analysis.
struct Inputs {
    block: ParamBlock,
    /// Design rows over the varying parameters, in block order.
    varying: Vec<Vec<f64>>,
    /// Column of each varying parameter in the block.
    varying_idx: Vec<usize>,
    y: Vec<f64>,
}

impl Inputs {
    fn names(&self) -> Vec<String> {
        self.varying_idx
            .iter()
            .map(|&i| self.block.params[i].name.clone())
            .collect()
    }
}

/// Most bootstrap resamples `--resamples` accepts: 10⁵ resamples already
/// pin a 95 % interval's half-width to well under 1 % of itself, and more
/// only costs time and memory.
pub const MAX_RESAMPLES: usize = 100_000;

/// Checks the flags that need no file: `--resamples` within
/// 2..=[`MAX_RESAMPLES`] (one resample has no spread, so its interval
/// would be NaN), and the result files (`-o` and, for Sobol, its `_s2`
/// sibling) against `--force` and the input files.
fn check_common(c: &CommonArgs) -> anyhow::Result<()> {
    if !(2..=MAX_RESAMPLES).contains(&c.resamples) {
        bail!(
            "--resamples must be between 2 and {MAX_RESAMPLES} (bootstrap confidence intervals need \
             a spread over at least two resamples), got {}",
            c.resamples
        );
    }
    if let Some(out) = &c.output {
        let inputs = [c.params.as_path(), &c.design, &c.outputs];
        super::check_output_file(out, c.force, &inputs)?;
        super::check_output_file(&s2_path(out), c.force, &inputs)?;
    }
    Ok(())
}

fn load(c: &CommonArgs, column: Option<&str>) -> anyhow::Result<Inputs> {
    check_common(c)?;
    let block = load_param_file(&c.params)?;
    if !block.correlations.is_empty() {
        bail!(
            "{}: has [[correlations]], but these estimators assume independent parameters",
            c.params.display()
        );
    }
    let design = read_float_rows(&c.design, &block.names())?;
    let y = read_output_column(&c.outputs, column)?;
    if y.len() != design.len() {
        bail!(
            "{} has {} rows but {} has {} rows: the outputs must have one row per design row",
            c.design.display(),
            design.len(),
            c.outputs.display(),
            y.len()
        );
    }
    let varying_idx = block.varying();
    let varying = design
        .iter()
        .map(|row| varying_idx.iter().map(|&i| row[i]).collect())
        .collect();
    Ok(Inputs {
        block,
        varying,
        varying_idx,
        y,
    })
}

/// Works out first vs second order from the row count and, where the count
/// fits both, from the design's layout; checks the layout either way.
fn sobol_order(inp: &Inputs, design: &Path) -> anyhow::Result<bool> {
    let (rows, d) = (inp.varying.len(), inp.varying_idx.len());
    let candidates: Vec<bool> = [false, true]
        .into_iter()
        .filter(|&so| crate::sensitivity::sobol::saltelli_order(rows, d, Some(so)).is_ok())
        .collect();
    if candidates.is_empty() {
        // Let the estimator's error name the expected counts.
        crate::sensitivity::sobol::saltelli_order(rows, d, None)
            .map_err(|e| anyhow::anyhow!("{}: {e}", design.display()))?;
    }
    let fitting: Vec<bool> = candidates
        .iter()
        .copied()
        .filter(|&so| saltelli::first_mismatch(&inp.varying, d, so).is_none())
        .collect();
    match fitting.as_slice() {
        [so] => Ok(*so),
        [] => {
            let broken: Vec<String> = candidates
                .iter()
                .map(|&so| {
                    let row = saltelli::first_mismatch(&inp.varying, d, so).unwrap_or(0);
                    let order = if so { "second-order" } else { "first-order" };
                    format!("line {} breaks the {order} Saltelli layout", row + 2)
                })
                .collect();
            bail!(
                "{}: {} (per base row: A, AB_1..AB_D, [BA_1..BA_D,] B); \
                 was it made by `vtwin design --method saltelli`?",
                design.display(),
                broken.join(" and ")
            )
        }
        _ => bail!(
            "{}: {rows} rows fit both a first-order and a second-order Saltelli layout over D = {d}; \
             use a larger base size",
            design.display()
        ),
    }
}

/// Maps design values back to the unit cube for Morris: continuous
/// parameters are snapped to the p-level grid (and refused off it).
fn morris_unit(inp: &Inputs, levels: u32, design: &Path) -> anyhow::Result<Vec<Vec<f64>>> {
    if levels < 2 || levels % 2 == 1 {
        bail!("--levels must be even and at least 2, got {levels}");
    }
    let grid = (levels - 1) as f64;
    let names = inp.names();
    inp.varying
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .zip(&inp.varying_idx)
                .zip(&names)
                .map(|((&v, &i), name)| {
                    let dist = &inp.block.params[i].dist;
                    let u = value_to_unit(dist, v);
                    if matches!(dist, Distribution::Choice { .. }) {
                        return Ok(u);
                    }
                    let snapped = (u * grid).round() / grid;
                    if (u - snapped).abs() > 1e-6 {
                        bail!(
                            "{}: line {}, column `{name}`: {v} is not on the {levels}-level Morris grid \
                             (unit coordinate {u}); was the design made with --levels {levels}?",
                            design.display(),
                            r + 2
                        );
                    }
                    Ok(snapped)
                })
                .collect()
        })
        .collect()
}

/// `result.csv` → `result_s2.csv`.
pub fn s2_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match output.extension() {
        Some(ext) => format!("{stem}_s2.{}", ext.to_string_lossy()),
        None => format!("{stem}_s2"),
    };
    output.with_file_name(name)
}

fn emit(output: Option<&Path>, main: &Table, s2: Option<&Table>) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            write_table_atomic(path, main)?;
            if let Some(t) = s2 {
                write_table_atomic(&s2_path(path), t)?;
            }
        }
        None => {
            print_table(main)?;
            if let Some(t) = s2 {
                println!();
                print_table(t)?;
            }
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

fn bootstrap(c: &CommonArgs) -> Bootstrap {
    Bootstrap {
        resamples: c.resamples,
        seed: c.seed,
        conf_level: c.conf_level,
    }
}

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let c = match &args.method {
        AnalyzeMethod::Sobol(a) => &a.common,
        AnalyzeMethod::Morris(a) => &a.common,
    };
    if c.column.len() <= 1 {
        let (main, s2) = analyse_one(args, c.column.first().map(String::as_str))?;
        return emit(c.output.as_deref(), &main, s2.as_ref());
    }
    let mut mains = Vec::new();
    let mut s2s = Vec::new();
    for col in &c.column {
        let (main, s2) = analyse_one(args, Some(col))?;
        mains.push(with_output(col, main));
        s2s.extend(s2.map(|t| with_output(col, t)));
    }
    let s2 = (!s2s.is_empty()).then(|| stack(s2s));
    emit(c.output.as_deref(), &stack(mains), s2.as_ref())
}

/// The result table (and second-order table) of one output column.
fn analyse_one(args: &AnalyzeArgs, column: Option<&str>) -> anyhow::Result<(Table, Option<Table>)> {
    match &args.method {
        AnalyzeMethod::Sobol(a) => {
            let c = &a.common;
            let inp = load(c, column)?;
            let second_order = sobol_order(&inp, &c.design)?;
            let opts = SobolOptions {
                bootstrap: bootstrap(c),
                second_order: Some(second_order),
            };
            let res = sobol_indices(inp.varying.len(), inp.varying_idx.len(), &inp.y, &opts)
                .map_err(|e| {
                    anyhow::anyhow!("{} with {}: {e}", c.design.display(), c.outputs.display())
                })?
                .named(inp.names());
            Ok((res.to_table(), res.s2_table()))
        }
        AnalyzeMethod::Morris(a) => {
            let c = &a.common;
            let inp = load(c, column)?;
            let unit = morris_unit(&inp, a.levels, &c.design)?;
            let opts = MorrisOptions {
                bootstrap: bootstrap(c),
            };
            let res = morris_indices(&unit, &inp.y, inp.varying_idx.len(), a.levels, &opts)
                .map_err(|e| {
                    anyhow::anyhow!("{} with {}: {e}", c.design.display(), c.outputs.display())
                })?
                .named(inp.names());
            Ok((res.to_table(), None))
        }
    }
}

/// `t` with a first column `output` holding `name` on every row.
fn with_output(name: &str, t: Table) -> Table {
    let mut out =
        Table::new(t.name.clone()).with_str("output", (0..t.rows()).map(|_| name.to_string()));
    out.columns.extend(t.columns);
    out
}

/// Tables with the same columns (one estimator's), one after the other.
fn stack(parts: Vec<Table>) -> Table {
    let mut it = parts.into_iter();
    let Some(mut out) = it.next() else {
        return Table::default();
    };
    for t in it {
        for (dst, src) in out.columns.iter_mut().zip(t.columns) {
            match (&mut dst.values, src.values) {
                (Values::F64(a), Values::F64(b)) => a.extend(b),
                (Values::I64(a), Values::I64(b)) => a.extend(b),
                (Values::Str(a), Values::Str(b)) => a.extend(b),
                (Values::Bool(a), Values::Bool(b)) => a.extend(b),
                _ => unreachable!("stacked tables come from the same estimator"),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s2_file_sits_next_to_the_result() {
        assert_eq!(
            s2_path(Path::new("out/result.csv")),
            Path::new("out/result_s2.csv")
        );
        assert_eq!(s2_path(Path::new("res")), Path::new("res_s2"));
    }
}
