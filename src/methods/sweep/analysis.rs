//! Sensitivity indices from a sweep: Sobol indices (Saltelli designs) or
//! Morris statistics (Morris designs) for every summary column, stacked
//! into one table with an `output` column.
//!
//! Failed members break a design's structure, so failures drop whole
//! groups: a Saltelli base row's block of D+2 (2D+2 with second order)
//! rows, or a Morris trajectory of D+1 rows. What is left is again a valid
//! design with a smaller N. An output that cannot be analysed (a crossing
//! time that some member never reached, a constant output) is skipped with
//! the reason, and the other outputs are still analysed.
//!
//! Owns: group dropping and stacking. The estimators live in
//! [`crate::methods::sensitivity`]; never touches files.

use crate::methods::design::{Design, DesignMethod};
use crate::methods::sensitivity::{
    Bootstrap, MorrisOptions, SobolOptions, morris_indices, sobol_indices,
};
use crate::output::table::{Table, Values};

/// Rows per group of a design: the unit a failure removes.
pub fn group_size(design: &Design, d: usize) -> usize {
    match design.method {
        DesignMethod::Saltelli if design.second_order => 2 * d + 2,
        DesignMethod::Saltelli => d + 2,
        DesignMethod::Morris => d + 1,
        _ => 1,
    }
}

/// The rows kept (in order) and how many groups were dropped.
pub fn surviving_rows(design: &Design, d: usize, failed: &[bool]) -> (Vec<usize>, usize) {
    let g = group_size(design, d);
    let mut rows = Vec::with_capacity(failed.len());
    let mut dropped = 0;
    for start in (0..failed.len()).step_by(g) {
        let end = (start + g).min(failed.len());
        if failed[start..end].iter().any(|&f| f) {
            dropped += 1;
        } else {
            rows.extend(start..end);
        }
    }
    (rows, dropped)
}

/// The result of analysing every output of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepAnalysis {
    /// `indices` (Sobol) or `morris`: output, parameter, then the
    /// estimator's columns.
    pub table: Table,
    /// `indices_s2` for second-order Saltelli designs.
    pub s2: Option<Table>,
    /// Outputs left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Design groups (base rows, trajectories) analysed and dropped.
    pub groups_used: usize,
    pub groups_dropped: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AnalysisFailure {
    #[error("every {what} of the design holds a failed member: nothing is left to analyse")]
    NothingLeft { what: &'static str },
    #[error("no output could be analysed: {0}")]
    NoOutput(String),
}

/// Analyses `columns` (members × outputs, None for a missing value) of a
/// Saltelli or Morris design; `None` for other methods. `param_names` are
/// the varying parameters' names, `failed[m]` whether member m failed.
pub fn analyse(
    design: &Design,
    param_names: &[String],
    output_names: &[String],
    columns: &[Vec<Option<f64>>],
    failed: &[bool],
    levels: u32,
    bootstrap: &Bootstrap,
) -> Result<Option<SweepAnalysis>, AnalysisFailure> {
    let is_sobol = match design.method {
        DesignMethod::Saltelli => true,
        DesignMethod::Morris => false,
        _ => return Ok(None),
    };
    let d = param_names.len();
    let (rows, dropped) = surviving_rows(design, d, failed);
    let g = group_size(design, d);
    let groups = failed.len().div_ceil(g);
    if rows.is_empty() {
        return Err(AnalysisFailure::NothingLeft {
            what: if is_sobol { "base row" } else { "trajectory" },
        });
    }
    let mut parts = Vec::new();
    let mut s2_parts = Vec::new();
    let mut skipped = Vec::new();
    for (k, out) in output_names.iter().enumerate() {
        let y: Vec<Option<f64>> = rows.iter().map(|&r| columns[r][k]).collect();
        let missing = y.iter().filter(|v| v.is_none()).count();
        if missing > 0 {
            skipped.push((
                out.clone(),
                format!(
                    "{missing} of {} analysed members have no value (a threshold never reached)",
                    y.len()
                ),
            ));
            continue;
        }
        let y: Vec<f64> = y.into_iter().flatten().collect();
        let result = if is_sobol {
            let opts = SobolOptions {
                bootstrap: bootstrap.clone(),
                second_order: Some(design.second_order),
            };
            sobol_indices(rows.len(), d, &y, &opts).map(|r| {
                let r = r.named(param_names.to_vec());
                (r.to_table(), r.s2_table())
            })
        } else {
            let unit: Vec<Vec<f64>> = rows.iter().map(|&r| design.unit[r].clone()).collect();
            let opts = MorrisOptions {
                bootstrap: bootstrap.clone(),
            };
            morris_indices(&unit, &y, d, levels, &opts)
                .map(|r| (r.named(param_names.to_vec()).to_table(), None))
        };
        match result {
            Ok((t, s2)) => {
                parts.push(with_output(out, t));
                if let Some(s2) = s2 {
                    s2_parts.push(with_output(out, s2));
                }
            }
            Err(e) => skipped.push((out.clone(), e.to_string())),
        }
    }
    if parts.is_empty() {
        let why = skipped
            .iter()
            .map(|(o, r)| format!("{o}: {r}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(AnalysisFailure::NoOutput(why));
    }
    let name = if is_sobol { "indices" } else { "morris" };
    Ok(Some(SweepAnalysis {
        table: stack(name, parts),
        s2: (!s2_parts.is_empty()).then(|| stack("indices_s2", s2_parts)),
        skipped,
        groups_used: groups - dropped,
        groups_dropped: dropped,
    }))
}

/// Prepends an `output` column holding `out` on every row.
fn with_output(out: &str, t: Table) -> Table {
    let mut s = Table::new(t.name.clone()).with_str("output", (0..t.rows()).map(|_| out.into()));
    s.columns.extend(t.columns);
    s
}

/// Tables with the same columns, one after the other.
fn stack(name: &str, parts: Vec<Table>) -> Table {
    let mut out = Table::new(name);
    let Some(first) = parts.first() else {
        return out;
    };
    out.columns = first.columns.clone();
    for t in &parts[1..] {
        for (dst, src) in out.columns.iter_mut().zip(&t.columns) {
            match (&mut dst.values, &src.values) {
                (Values::F64(a), Values::F64(b)) => a.extend_from_slice(b),
                (Values::I64(a), Values::I64(b)) => a.extend_from_slice(b),
                (Values::Str(a), Values::Str(b)) => a.extend_from_slice(b),
                (Values::Bool(a), Values::Bool(b)) => a.extend_from_slice(b),
                // Every part comes from the same estimator's to_table.
                _ => unreachable!("stacked tables have the same column types"),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(method: DesignMethod, rows: usize, second_order: bool) -> Design {
        Design {
            unit: vec![vec![0.5; 2]; rows],
            values: vec![vec![0.5; 2]; rows],
            method,
            base_n: 0,
            second_order,
        }
    }

    /// A failure removes its whole group and nothing else.
    #[test]
    fn failures_drop_whole_groups() {
        let d = design(DesignMethod::Saltelli, 12, false); // D = 2: groups of 4
        let mut failed = vec![false; 12];
        failed[5] = true;
        let (rows, dropped) = surviving_rows(&d, 2, &failed);
        assert_eq!(rows, [0, 1, 2, 3, 8, 9, 10, 11]);
        assert_eq!(dropped, 1);
        let m = design(DesignMethod::Morris, 9, false); // groups of 3
        failed = vec![false; 9];
        failed[0] = true;
        failed[8] = true;
        assert_eq!(surviving_rows(&m, 2, &failed), (vec![3, 4, 5], 2));
        let s2 = design(DesignMethod::Saltelli, 12, true); // groups of 6
        assert_eq!(group_size(&s2, 2), 6);
        let r = design(DesignMethod::Lhs, 3, false);
        assert_eq!(
            surviving_rows(&r, 2, &[false, true, false]),
            (vec![0, 2], 1)
        );
    }
}
