//! `vtwin analyze sobol|morris`: sensitivity indices from a design CSV and
//! a CSV of outputs computed on it by any simulator (like SALib's command
//! line), so users can bring their own models.
//!
//! The design file needs a column for every parameter of the parameter
//! file (other columns are ignored); only varying parameters get result
//! rows. Parameter files with `[[correlations]]` are refused: both
//! estimators assume independent inputs. The outputs file has a header and
//! one row per design row; several output columns give one result table
//! with an `output` column first, the outputs stacked in the order given.
//!
//! Owns: reading and checking the two files and the result tables. The
//! estimators live in [`crate::methods::sensitivity`].

use super::csv_files::{read_float_rows, read_output_column, write_table_atomic};
use super::job::{Error, Result};
use crate::input::params::{Distribution, ParamBlock};
use crate::input::params_file::load_param_file;
use crate::methods::design::{saltelli, value_to_unit};
use crate::methods::sensitivity::{
    Bootstrap, MorrisOptions, SobolOptions, morris_indices, sobol_indices,
};
use crate::output::table::{Table, Values};
use std::path::{Path, PathBuf};

/// Returns a [`Error::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(Error::Invalid(format!($($t)*)))
    };
}

/// Which estimator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Sobol indices from a Saltelli design.
    Sobol,
    /// Morris elementary effects from trajectories on a `levels`-level grid.
    Morris { levels: u32 },
}

/// An analysis: the files and bootstrap settings.
#[derive(Clone, Debug)]
pub struct AnalyzeRequest {
    pub method: Method,
    /// Parameter file the design was made from.
    pub params: PathBuf,
    /// The design CSV.
    pub design: PathBuf,
    /// The outputs CSV.
    pub outputs: PathBuf,
    /// Output columns (empty: the only one).
    pub columns: Vec<String>,
    /// Result CSV; None leaves writing to the caller.
    pub output: Option<PathBuf>,
    pub force: bool,
    pub bootstrap: Bootstrap,
}

/// The result table (`indices`/`morris`) and, for second-order Sobol, the
/// second-order table.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub main: Table,
    pub s2: Option<Table>,
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

/// Checks the options that need no file: `--resamples` within
/// 2..=[`MAX_RESAMPLES`] (one resample has no spread, so its interval
/// would be NaN), and the result files (`-o` and, for Sobol, its `_s2`
/// sibling) against `--force` and the input files.
fn check_common(c: &AnalyzeRequest) -> Result<()> {
    if !(2..=MAX_RESAMPLES).contains(&c.bootstrap.resamples) {
        bail!(
            "--resamples must be between 2 and {MAX_RESAMPLES} (bootstrap confidence intervals need \
             a spread over at least two resamples), got {}",
            c.bootstrap.resamples
        );
    }
    if let Some(out) = &c.output {
        let inputs = [c.params.as_path(), &c.design, &c.outputs];
        crate::output::io::check_file_target(out, c.force, &inputs)?;
        crate::output::io::check_file_target(&s2_path(out), c.force, &inputs)?;
    }
    Ok(())
}

fn load(c: &AnalyzeRequest, column: Option<&str>) -> Result<Inputs> {
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
fn sobol_order(inp: &Inputs, design: &Path) -> Result<bool> {
    let (rows, d) = (inp.varying.len(), inp.varying_idx.len());
    let candidates: Vec<bool> = [false, true]
        .into_iter()
        .filter(|&so| crate::methods::sensitivity::sobol::saltelli_order(rows, d, Some(so)).is_ok())
        .collect();
    if candidates.is_empty() {
        // Let the estimator's error name the expected counts.
        crate::methods::sensitivity::sobol::saltelli_order(rows, d, None)
            .map_err(|e| Error::Invalid(format!("{}: {e}", design.display())))?;
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
fn morris_unit(inp: &Inputs, levels: u32, design: &Path) -> Result<Vec<Vec<f64>>> {
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

/// Runs the analysis of `req`: one output column, or several stacked
/// under a first column `output`. With `req.output`, also writes the
/// result (and `_s2`) files atomically.
pub fn run(req: &AnalyzeRequest) -> Result<Analysis> {
    let result = if req.columns.len() <= 1 {
        analyse_one(req, req.columns.first().map(String::as_str))?
    } else {
        let mut mains = Vec::new();
        let mut s2s = Vec::new();
        for col in &req.columns {
            let one = analyse_one(req, Some(col))?;
            mains.push(with_output(col, one.main));
            s2s.extend(one.s2.map(|t| with_output(col, t)));
        }
        let s2 = (!s2s.is_empty()).then(|| stack(s2s));
        Analysis {
            main: stack(mains),
            s2,
        }
    };
    if let Some(path) = &req.output {
        write_table_atomic(path, &result.main)?;
        if let Some(t) = &result.s2 {
            write_table_atomic(&s2_path(path), t)?;
        }
    }
    Ok(result)
}

/// The result table (and second-order table) of one output column.
fn analyse_one(c: &AnalyzeRequest, column: Option<&str>) -> Result<Analysis> {
    let inp = load(c, column)?;
    let failed = |e: &dyn std::fmt::Display| {
        Error::Invalid(format!(
            "{} with {}: {e}",
            c.design.display(),
            c.outputs.display()
        ))
    };
    match c.method {
        Method::Sobol => {
            let second_order = sobol_order(&inp, &c.design)?;
            let opts = SobolOptions {
                bootstrap: c.bootstrap.clone(),
                second_order: Some(second_order),
            };
            let res = sobol_indices(inp.varying.len(), inp.varying_idx.len(), &inp.y, &opts)
                .map_err(|e| failed(&e))?
                .named(inp.names());
            Ok(Analysis {
                main: res.to_table(),
                s2: res.s2_table(),
            })
        }
        Method::Morris { levels } => {
            let unit = morris_unit(&inp, levels, &c.design)?;
            let opts = MorrisOptions {
                bootstrap: c.bootstrap.clone(),
            };
            let res = morris_indices(&unit, &inp.y, inp.varying_idx.len(), levels, &opts)
                .map_err(|e| failed(&e))?
                .named(inp.names());
            Ok(Analysis {
                main: res.to_table(),
                s2: None,
            })
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
