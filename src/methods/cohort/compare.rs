//! Drift and bias report between two cohorts, or a cohort and a reference
//! table (`vtwin compare A B`): per variable the two-sample KS statistic and
//! p-value and the standardised mean difference; per categorical variable
//! (covariates, arms, flags) the subgroup sizes and shares.
//!
//! Owns: the report, its JSON shape (serde) and its terminal rendering.
//! Tables are compared within groups (e.g. observations per observable, arm
//! and visit; outcomes per arm). Never reads or writes files.

use super::assemble::CohortTables;
use super::columns::numeric;
use super::stats::{ks_test, mean_sd, smd, smd_from};
use crate::output::table::{Table, Values};
use indexmap::IndexMap;
use serde::Serialize;
use std::fmt::Write;

/// Statistics of one numeric variable within one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NumericStat {
    pub table: String,
    pub group: String,
    pub variable: String,
    pub n_a: usize,
    pub n_b: usize,
    pub mean_a: Option<f64>,
    pub mean_b: Option<f64>,
    pub sd_a: Option<f64>,
    pub sd_b: Option<f64>,
    pub ks: Option<f64>,
    pub ks_p_value: Option<f64>,
    pub smd: Option<f64>,
}

/// Size of one subgroup (a level of a categorical variable) within one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelCount {
    pub table: String,
    pub group: String,
    pub variable: String,
    pub level: String,
    pub n_a: usize,
    pub n_b: usize,
    pub share_a: Option<f64>,
    pub share_b: Option<f64>,
    /// SMD of the level's indicator (difference of proportions over the
    /// pooled binomial sd).
    pub smd: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CompareReport {
    pub a: String,
    pub b: String,
    pub numeric: Vec<NumericStat>,
    pub subgroups: Vec<LevelCount>,
}

/// How a table is split before comparing: rows are grouped by the values of
/// `group_by` (columns present in both tables), and `skip` columns are not
/// compared.
#[derive(Clone, Copy, Debug)]
pub struct Layout<'a> {
    pub group_by: &'a [&'a str],
    pub skip: &'a [&'a str],
}

pub const PATIENTS: Layout = Layout {
    group_by: &[],
    skip: &["patient_id"],
};
pub const OBSERVATIONS: Layout = Layout {
    group_by: &["observable", "arm", "visit"],
    skip: &["patient_id"],
};
pub const OUTCOMES: Layout = Layout {
    group_by: &["arm"],
    skip: &["patient_id"],
};

fn cell(v: &Values, i: usize) -> Option<String> {
    match v {
        Values::F64(x) => x[i].map(|x| x.to_string()),
        Values::I64(x) => x[i].map(|x| x.to_string()),
        Values::Str(x) => x[i].clone(),
        Values::Bool(x) => x[i].map(|x| x.to_string()),
    }
}

fn groups(t: &Table, by: &[&str]) -> IndexMap<String, Vec<usize>> {
    let cols: Vec<(&str, &Values)> = by
        .iter()
        .filter_map(|c| t.column(c).map(|v| (*c, v)))
        .collect();
    let mut g: IndexMap<String, Vec<usize>> = IndexMap::new();
    for i in 0..t.rows() {
        let key: Vec<String> = cols
            .iter()
            .map(|(n, v)| format!("{n}={}", cell(v, i).unwrap_or_default()))
            .collect();
        g.entry(key.join(", ")).or_default().push(i);
    }
    if t.rows() == 0 {
        g.insert(String::new(), Vec::new());
    }
    g
}

/// Compares the columns common to `a` and `b` within groups and appends the
/// results to `report`.
pub fn compare_tables(report: &mut CompareReport, a: &Table, b: &Table, layout: &Layout) {
    let by: Vec<&str> = layout
        .group_by
        .iter()
        .copied()
        .filter(|c| a.column(c).is_some() && b.column(c).is_some())
        .collect();
    let (ga, gb) = (groups(a, &by), groups(b, &by));
    let mut keys: Vec<&String> = ga.keys().collect();
    keys.extend(gb.keys().filter(|k| !ga.contains_key(*k)));
    let empty = Vec::new();
    for col in &a.columns {
        let name = col.name.as_str();
        if by.contains(&name) || layout.skip.contains(&name) {
            continue;
        }
        let Some(vb) = b.column(name) else { continue };
        for key in &keys {
            let ra = ga.get(*key).unwrap_or(&empty);
            let rb = gb.get(*key).unwrap_or(&empty);
            match (numeric(&col.values), numeric(vb), &col.values) {
                (Some(xa), Some(xb), va)
                    if !matches!(va, Values::Bool(_)) && !matches!(vb, Values::Bool(_)) =>
                {
                    let pick = |x: &[Option<f64>], rows: &[usize]| -> Vec<f64> {
                        rows.iter()
                            .filter_map(|&i| x[i])
                            .filter(|v| !v.is_nan())
                            .collect()
                    };
                    report.numeric.push(numeric_stat(
                        &a.name,
                        key,
                        name,
                        &pick(&xa, ra),
                        &pick(&xb, rb),
                    ));
                }
                _ => level_counts(report, &a.name, key, name, (&col.values, ra), (vb, rb)),
            }
        }
    }
}

fn numeric_stat(table: &str, group: &str, variable: &str, a: &[f64], b: &[f64]) -> NumericStat {
    let (ma, mb) = (mean_sd(a), mean_sd(b));
    let ks = (!a.is_empty() && !b.is_empty()).then(|| ks_test(a, b));
    NumericStat {
        table: table.into(),
        group: group.into(),
        variable: variable.into(),
        n_a: a.len(),
        n_b: b.len(),
        mean_a: ma.map(|m| m.0),
        mean_b: mb.map(|m| m.0),
        sd_a: ma.map(|m| m.1),
        sd_b: mb.map(|m| m.1),
        ks: ks.map(|k| k.statistic),
        ks_p_value: ks.map(|k| k.p_value),
        smd: smd(a, b),
    }
}

fn level_counts(
    report: &mut CompareReport,
    table: &str,
    group: &str,
    variable: &str,
    (va, ra): (&Values, &[usize]),
    (vb, rb): (&Values, &[usize]),
) {
    let count = |v: &Values, rows: &[usize]| -> (IndexMap<String, usize>, usize) {
        let mut m: IndexMap<String, usize> = IndexMap::new();
        let mut n = 0;
        for &i in rows {
            if let Some(c) = cell(v, i) {
                *m.entry(c).or_default() += 1;
                n += 1;
            }
        }
        (m, n)
    };
    let ((ca, na), (cb, nb)) = (count(va, ra), count(vb, rb));
    let mut levels: Vec<&String> = ca.keys().collect();
    levels.extend(cb.keys().filter(|k| !ca.contains_key(*k)));
    for level in levels {
        let (ka, kb) = (
            ca.get(level).copied().unwrap_or(0),
            cb.get(level).copied().unwrap_or(0),
        );
        let share = |k: usize, n: usize| (n > 0).then(|| k as f64 / n as f64);
        let (pa, pb) = (share(ka, na), share(kb, nb));
        let d = match (pa, pb) {
            (Some(pa), Some(pb)) => smd_from(pa, pa * (1.0 - pa), pb, pb * (1.0 - pb)),
            _ => None,
        };
        report.subgroups.push(LevelCount {
            table: table.into(),
            group: group.into(),
            variable: variable.into(),
            level: level.clone(),
            n_a: ka,
            n_b: kb,
            share_a: pa,
            share_b: pb,
            smd: d,
        });
    }
}

/// Compares two cohorts table by table.
pub fn compare_cohorts(
    a_name: &str,
    a: &CohortTables,
    b_name: &str,
    b: &CohortTables,
) -> CompareReport {
    let mut r = CompareReport {
        a: a_name.into(),
        b: b_name.into(),
        ..Default::default()
    };
    compare_tables(&mut r, &a.patients, &b.patients, &PATIENTS);
    compare_tables(&mut r, &a.observations, &b.observations, &OBSERVATIONS);
    compare_tables(&mut r, &a.outcomes, &b.outcomes, &OUTCOMES);
    r
}

fn num(v: Option<f64>, width: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:>width$.4}"),
        Some(x) => format!("{x:>width$}"),
        None => format!("{:>width$}", "-"),
    }
}

/// The report as aligned text tables for the terminal.
pub fn render_text(r: &CompareReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "A = {}\nB = {}\n", r.a, r.b);
    let _ = writeln!(
        s,
        "{:<12} {:<24} {:<36} {:>7} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "table", "variable", "group", "n_A", "n_B", "mean_A", "mean_B", "KS", "p", "SMD"
    );
    for x in &r.numeric {
        let _ = writeln!(
            s,
            "{:<12} {:<24} {:<36} {:>7} {:>7} {} {} {} {} {}",
            x.table,
            x.variable,
            x.group,
            x.n_a,
            x.n_b,
            num(x.mean_a, 10),
            num(x.mean_b, 10),
            num(x.ks, 8),
            num(x.ks_p_value, 8),
            num(x.smd, 8)
        );
    }
    let _ = writeln!(s, "\nsubgroups");
    let _ = writeln!(
        s,
        "{:<12} {:<24} {:<36} {:<12} {:>7} {:>7} {:>8} {:>8} {:>8}",
        "table", "variable", "group", "level", "n_A", "n_B", "share_A", "share_B", "SMD"
    );
    for x in &r.subgroups {
        let _ = writeln!(
            s,
            "{:<12} {:<24} {:<36} {:<12} {:>7} {:>7} {} {} {}",
            x.table,
            x.variable,
            x.group,
            x.level,
            x.n_a,
            x.n_b,
            num(x.share_a, 8),
            num(x.share_b, 8),
            num(x.smd, 8)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_rows_and_statistics_are_per_group() {
        let a = Table::new("t")
            .with_str("arm", ["x", "y", "x", "y"].map(String::from))
            .with_f64("v", [1.0, 10.0, 3.0, 20.0])
            .with_str("sex", ["F", "M", "F", "F"].map(String::from));
        let b = Table::new("t")
            .with_str("arm", ["x", "x", "y"].map(String::from))
            .with_f64("v", [2.0, 4.0, 10.0])
            .with_str("sex", ["M", "F", "F"].map(String::from));
        let mut r = CompareReport::default();
        compare_tables(
            &mut r,
            &a,
            &b,
            &Layout {
                group_by: &["arm"],
                skip: &[],
            },
        );
        let x = r.numeric.iter().find(|s| s.group == "arm=x").unwrap();
        assert_eq!(
            (x.n_a, x.n_b, x.mean_a, x.mean_b),
            (2, 2, Some(2.0), Some(3.0))
        );
        // sd √2 in both: SMD = −1/√2; samples {1,3} vs {2,4}: D = 0.5.
        assert!((x.smd.unwrap() + std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        assert_eq!(x.ks, Some(0.5));
        let f_in_x: Vec<_> = r
            .subgroups
            .iter()
            .filter(|l| l.group == "arm=x" && l.level == "F")
            .collect();
        assert_eq!((f_in_x[0].n_a, f_in_x[0].n_b), (2, 1));
        assert_eq!(
            (f_in_x[0].share_a, f_in_x[0].share_b),
            (Some(1.0), Some(0.5))
        );
        let text = render_text(&r);
        assert!(
            text.contains("arm=y") && text.contains("subgroups"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["numeric"].as_array().unwrap().len(), 2);
    }
}
