//! Virtual-population selection (`vtwin select`): picks, from the plausible
//! patients of a whole cohort, a subset whose distribution of one variable
//! matches a target sample, by the acceptance-probability method of Allen,
//! Rieger & Musante (2016, CPT Pharmacometrics Syst. Pharmacol. 5:140).
//!
//! Method: with kernel density estimates of the target (f_t) and of the
//! plausible population (f_p), patient i is kept with probability
//! `p_i(s) = min(1, s · r_i / max_j r_j)`, `r_i = f_t(x_i) / f_p(x_i)`. At
//! s = 1 this is rejection sampling from the target; a larger scaling factor
//! s keeps more patients at some cost in fit. As in the paper, s is chosen to
//! maximise the two-sample KS p-value of the selection against the target
//! (here over a log-spaced grid, with at least `min_selected` patients). The
//! uniform draw of each patient is keyed by (seed, patient id), so the
//! selection is reproducible and nested in s.
//!
//! Owns: candidate extraction from cohort tables, the selection and its
//! report, reading a target CSV. Never writes files.

use super::assemble::CohortTables;
use super::columns;
use super::error::CohortError;
use super::keys::{self, Purpose};
use super::stats::{Kde, KsTest, ks_test_sorted, sorted};
use crate::output::table::{Table, Values};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// One plausible patient and its value of the selection variable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub patient_id: u64,
    pub value: f64,
}

/// Which variable to select on: a column of `patients` (covariate,
/// parameter), a column of `outcomes`, or an observable at a visit. For
/// outcomes and observables the arm defaults to each patient's
/// `assigned_arm`, what a real trial would have seen.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectOn {
    pub name: String,
    pub arm: Option<String>,
    /// Visit index for observables (default 0, the baseline).
    pub visit: i64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelectOptions {
    pub seed: u64,
    /// Smallest selection considered (default 20).
    pub min_selected: usize,
    /// Number of scaling factors tried, log-spaced (default 200).
    pub grid: usize,
}

impl Default for SelectOptions {
    fn default() -> Self {
        SelectOptions {
            seed: 0,
            min_selected: 20,
            grid: 200,
        }
    }
}

/// The outcome of a selection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Selection {
    pub scale_factor: f64,
    pub n_plausible: usize,
    pub n_selected: usize,
    /// n_selected / n_plausible.
    pub acceptance_rate: f64,
    /// Selected patients vs target.
    pub ks: KsTest,
    /// All plausible patients vs target (the fit before selection).
    pub ks_plausible: KsTest,
    #[serde(skip)]
    pub probability: Vec<f64>,
    #[serde(skip)]
    pub accepted: Vec<bool>,
}

/// Plausible patients' values of `on`, in patient-id order.
pub fn candidates(t: &CohortTables, on: &SelectOn) -> Result<Vec<Candidate>, CohortError> {
    let ids = columns::i64s(&t.patients, "patient_id")?;
    let plausible = columns::bools(&t.patients, "plausible")?;
    let assigned = columns::strs(&t.patients, "assigned_arm")?;
    let mut info: HashMap<i64, (bool, Option<&str>)> = HashMap::new();
    for ((id, p), a) in ids.iter().zip(plausible).zip(assigned) {
        if let Some(id) = id {
            info.insert(*id, (p.unwrap_or(false), a.as_deref()));
        }
    }
    let arm_ok = |id: i64, arm: &Option<String>| {
        let want = on
            .arm
            .as_deref()
            .or_else(|| info.get(&id).and_then(|x| x.1));
        want.is_some() && arm.as_deref() == want
    };
    let mut out: Vec<(i64, Option<f64>)> = Vec::new();
    if t.patients.column(&on.name).is_some() && on.name != "patient_id" {
        let v = columns::numbers(&t.patients, &on.name)?;
        out.extend(ids.iter().zip(v).filter_map(|(id, v)| id.map(|id| (id, v))));
    } else if t.outcomes.column(&on.name).is_some() {
        let (oid, arm) = (
            columns::i64s(&t.outcomes, "patient_id")?,
            columns::strs(&t.outcomes, "arm")?,
        );
        let v = columns::numbers(&t.outcomes, &on.name)?;
        for ((id, a), v) in oid.iter().zip(arm).zip(v) {
            if let Some(id) = *id
                && arm_ok(id, a)
            {
                out.push((id, v));
            }
        }
    } else {
        let o = &t.observations;
        let (oid, arm) = (columns::i64s(o, "patient_id")?, columns::strs(o, "arm")?);
        let (obs, visit, value) = (
            columns::strs(o, "observable")?,
            columns::i64s(o, "visit")?,
            columns::numbers(o, "value")?,
        );
        let mut seen = false;
        for i in 0..o.rows() {
            if obs[i].as_deref() != Some(on.name.as_str()) {
                continue;
            }
            seen = true;
            if let Some(id) = oid[i]
                && visit[i] == Some(on.visit)
                && arm_ok(id, &arm[i])
            {
                out.push((id, value[i]));
            }
        }
        if !seen {
            return Err(CohortError::Select(format!(
                "`{}` is neither a patients or outcomes column nor an observable of the cohort",
                on.name
            )));
        }
    }
    let mut c: Vec<Candidate> = out
        .into_iter()
        .filter(|(id, v)| info.get(id).is_some_and(|x| x.0) && v.is_some_and(f64::is_finite))
        .map(|(id, v)| Candidate {
            patient_id: id as u64,
            value: v.unwrap_or(f64::NAN),
        })
        .collect();
    c.sort_by_key(|c| c.patient_id);
    Ok(c)
}

/// Runs the selection of `cands` against the `target` sample.
pub fn select(
    cands: &[Candidate],
    target: &[f64],
    opts: &SelectOptions,
) -> Result<Selection, CohortError> {
    let target = sorted(target);
    if cands.len() < 2 || target.len() < 2 {
        return Err(CohortError::Select(format!(
            "need at least 2 plausible patients and 2 target values (have {} and {})",
            cands.len(),
            target.len()
        )));
    }
    let x: Vec<f64> = cands.iter().map(|c| c.value).collect();
    let (Some(fp), Some(ft)) = (Kde::new(&x), Kde::new(&target)) else {
        return Err(CohortError::Select("empty sample".into()));
    };
    let ratio: Vec<f64> = x
        .iter()
        .map(|&v| {
            let p = fp.eval(v);
            if p > 0.0 { ft.eval(v) / p } else { 0.0 }
        })
        .collect();
    let r_max = ratio.iter().cloned().fold(0.0, f64::max);
    if r_max <= 0.0 {
        return Err(CohortError::Select(
            "the target and the plausible population do not overlap".into(),
        ));
    }
    let base: Vec<f64> = ratio.iter().map(|r| r / r_max).collect();
    let u = cands
        .iter()
        .map(|c| {
            let p =
                u32::try_from(c.patient_id).map_err(|_| CohortError::PatientIndex(c.patient_id))?;
            Ok(keys::uniform(opts.seed, p, Purpose::Select, 0, 0))
        })
        .collect::<Result<Vec<f64>, CohortError>>()?;
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let b_min = base
        .iter()
        .cloned()
        .filter(|b| *b > 0.0)
        .fold(1.0, f64::min);
    let s_max = (1.0 / b_min).clamp(1.0, 1e6);
    let grid = opts.grid.max(2);
    let mut best: Option<(f64, KsTest, usize)> = None;
    let mut chosen = Vec::with_capacity(x.len());
    for k in 0..grid {
        let s = s_max.powf(k as f64 / (grid - 1) as f64);
        chosen.clear();
        chosen.extend(
            order
                .iter()
                .filter(|&&i| u[i] < (s * base[i]).min(1.0))
                .map(|&i| x[i]),
        );
        if chosen.len() < opts.min_selected.max(2) {
            continue;
        }
        let ks = ks_test_sorted(&chosen, &target);
        let better = best.is_none_or(|(_, b, n)| {
            ks.p_value > b.p_value || (ks.p_value == b.p_value && chosen.len() > n)
        });
        if better {
            best = Some((s, ks, chosen.len()));
        }
    }
    let Some((s, ks, n_selected)) = best else {
        return Err(CohortError::Select(format!(
            "no scaling factor keeps at least {} of {} plausible patients",
            opts.min_selected,
            x.len()
        )));
    };
    let probability: Vec<f64> = base.iter().map(|b| (s * b).min(1.0)).collect();
    let accepted = u.iter().zip(&probability).map(|(u, p)| u < p).collect();
    Ok(Selection {
        scale_factor: s,
        n_plausible: x.len(),
        n_selected,
        acceptance_rate: n_selected as f64 / x.len() as f64,
        ks,
        ks_plausible: ks_test_sorted(&sorted(&x), &target),
        probability,
        accepted,
    })
}

/// The per-patient selection table: patient_id, value,
/// acceptance_probability, selected.
pub fn selection_table(cands: &[Candidate], sel: &Selection) -> Table {
    let mut t = Table::new("selection");
    t.push_column(
        "patient_id",
        Values::I64(cands.iter().map(|c| Some(c.patient_id as i64)).collect()),
    );
    t.push_column(
        "value",
        Values::F64(cands.iter().map(|c| Some(c.value)).collect()),
    );
    t.push_column(
        "acceptance_probability",
        Values::F64(sel.probability.iter().map(|p| Some(*p)).collect()),
    );
    t.push_column(
        "selected",
        Values::Bool(sel.accepted.iter().map(|a| Some(*a)).collect()),
    );
    t
}

/// Reads the target sample: column `column` of a CSV file with a header.
/// Empty cells are skipped; anything else that is not a finite number is an
/// error naming the file, line and column.
pub fn read_target_csv(path: &Path, column: &str) -> Result<Vec<f64>, CohortError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| CohortError::file(path, e))?;
    let headers = r.headers().map_err(|e| CohortError::file(path, e))?.clone();
    let Some(col) = headers.iter().position(|h| h.trim() == column) else {
        return Err(CohortError::InputValue {
            path: path.into(),
            line: 1,
            column: column.into(),
            message: format!(
                "no such column (header: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        });
    };
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| CohortError::file(path, e))?;
        let line = rec.position().map_or(0, |p| p.line());
        let cell = rec.get(col).unwrap_or("").trim();
        if cell.is_empty() {
            continue;
        }
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(v),
            _ => {
                return Err(CohortError::InputValue {
                    path: path.into(),
                    line,
                    column: column.into(),
                    message: format!("`{cell}` is not a finite number"),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::uniform_f64;
    use crate::input::params::norm_ppf;

    /// Plausible values U(0, 10), target N(5, 1): before selection the KS
    /// distance is sup |x/10 − Φ(x − 5)| ≈ 0.285; after, the selection must
    /// pass the two-sample KS test at 5 % (D < 1.36 √(1/n + 1/m)), and
    /// acceptance at s ≥ 1 is about the rejection-sampling rate
    /// 1 / (10 max f̂_t) ≈ 0.25 or more (the noisy KDE peak lowers it a little).
    #[test]
    fn selection_matches_a_normal_target_from_a_uniform_population() {
        let cands: Vec<Candidate> = (0..20_000u64)
            .map(|i| Candidate {
                patient_id: i,
                value: 10.0 * uniform_f64(99, 0, i as u32, 0, 9),
            })
            .collect();
        let target: Vec<f64> = (0..2_000)
            .map(|i| 5.0 + norm_ppf(uniform_f64(98, 0, i, 0, 9)))
            .collect();
        let sel = select(
            &cands,
            &target,
            &SelectOptions {
                seed: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            (sel.ks_plausible.statistic - 0.285).abs() < 0.03,
            "before: {:?}",
            sel.ks_plausible
        );
        let (n, m) = (sel.n_selected as f64, target.len() as f64);
        let crit = 1.36 * (1.0 / n + 1.0 / m).sqrt();
        assert!(
            sel.ks.statistic < crit,
            "after: {:?}, critical {crit}",
            sel.ks
        );
        assert!(
            sel.acceptance_rate > 0.18 && sel.acceptance_rate < 0.7,
            "rate {}",
            sel.acceptance_rate
        );
        assert_eq!(sel.accepted.iter().filter(|a| **a).count(), sel.n_selected);
        let t = selection_table(&cands, &sel);
        assert_eq!(t.rows(), cands.len());
    }

    #[test]
    fn disjoint_supports_are_an_error() {
        let cands: Vec<Candidate> = (0..100u64)
            .map(|i| Candidate {
                patient_id: i,
                value: i as f64 * 0.01,
            })
            .collect();
        let target: Vec<f64> = (0..100).map(|i| 1000.0 + i as f64).collect();
        let e = select(&cands, &target, &SelectOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not overlap"), "{e}");
    }
}
