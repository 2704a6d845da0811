//! The patient-file export (`vtwin cohort --export-obs`): each patient's
//! observed visits under its assigned arm as the long observation file that
//! `vtwin assimilate --obs` reads (`patient, time, observable, location,
//! value, sd`), the noiseless values kept aside, and a split into the visits
//! to fit and the last ones to forecast and score (`vtwin score`).
//!
//! Owns: which visits go to which file and their order (patient ascending,
//! then observable in `[cohort.observation]` order, then time). The
//! realism comes from the observation model (`observe`: jittered visit
//! times, noise, detection limit, missingness, dropout); this module only
//! selects and lays out. Never touches files.

use super::observe::ObservationRow;
use super::spec::{CensoredAs, ExportSpec};
use crate::output::table::{Table, Values};
use serde::Serialize;

/// File names in the cohort folder.
pub const VISITS: &str = "visits.csv";
pub const TRUTH: &str = "visits_truth.csv";
pub const FIT: &str = "visits_fit.csv";
pub const HELDOUT: &str = "visits_heldout.csv";
pub const FORECAST_AT: &str = "forecast_at.csv";

/// What the export wrote, for the manifest and the terminal.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExportCounts {
    /// Rows of `visits.csv`: observed (not missing) finite measurements.
    pub visits: usize,
    /// Scheduled visits that were missing (MCAR, MAR, dropout).
    pub missing: usize,
    /// Observed visits below the detection limit.
    pub censored: usize,
    /// Measurements of failed simulations (non-finite), left out.
    pub non_finite: usize,
    /// Visits whose jittered time equals an earlier visit's of the same
    /// series (clamped to the end of the simulated span), left out.
    pub same_time: usize,
    /// (patient, observable) series with visits in `visits.csv`.
    pub series: usize,
    /// Series with too few observed visits for the split, left out of the
    /// fit, held-out and forecast-at files.
    pub series_too_short: usize,
    pub fit_rows: usize,
    pub heldout_rows: usize,
}

/// The export's tables (written as CSV).
#[derive(Clone, Debug)]
pub struct PatientFiles {
    /// Every observed visit.
    pub visits: Table,
    /// The noiseless model value at every scheduled visit (observed or not):
    /// `patient, time, observable, value, observed, censored`.
    pub truth: Table,
    /// With `holdout > 0`: the visits to fit, the held-out ones
    /// (`patient, time, observable, value`: `vtwin score --truth`) and the
    /// times to forecast (`patient, time, observable`: `--forecast-at`).
    pub split: Option<[Table; 3]>,
    pub counts: ExportCounts,
}

/// One observed measurement as written.
#[derive(Clone, Debug)]
struct Visit {
    patient: String,
    time: f64,
    observable: String,
    value: f64,
}

/// `patient, time, observable, location, value, sd` (the observation file;
/// `location` and `sd` empty).
fn long_table(name: &str, v: &[&Visit]) -> Table {
    let mut t = key_table(name, v, false);
    t.push_column("location", Values::Str(vec![None; v.len()]));
    t.push_column(
        "value",
        Values::F64(v.iter().map(|r| Some(r.value)).collect()),
    );
    t.push_column("sd", Values::F64(vec![None; v.len()]));
    t
}

/// `patient, time, observable` and, `with_value`, `value`.
fn key_table(name: &str, v: &[&Visit], with_value: bool) -> Table {
    let mut t = Table::new(name);
    t.push_column(
        "patient",
        Values::Str(v.iter().map(|r| Some(r.patient.clone())).collect()),
    );
    t.push_column(
        "time",
        Values::F64(v.iter().map(|r| Some(r.time)).collect()),
    );
    t.push_column(
        "observable",
        Values::Str(v.iter().map(|r| Some(r.observable.clone())).collect()),
    );
    if with_value {
        t.push_column(
            "value",
            Values::F64(v.iter().map(|r| Some(r.value)).collect()),
        );
    }
    t
}

/// Lays out the rows of every patient under its assigned arm (as
/// `build_cohort_with_visits` returns them: patient-major, then observable,
/// then visit). `sd` is left empty in every row, so `assimilate` applies the
/// scene's observation-error model, as for registry data without errors.
pub fn patient_files(rows: &[ObservationRow], spec: &ExportSpec) -> PatientFiles {
    let mut counts = ExportCounts::default();
    // Series: consecutive rows with the same (patient, observable).
    let mut series: Vec<Vec<Visit>> = Vec::new();
    let mut truth: Vec<&ObservationRow> = Vec::with_capacity(rows.len());
    let mut start = 0;
    while start < rows.len() {
        let (p, o) = (rows[start].patient_id, &rows[start].observable);
        let end = start
            + rows[start..]
                .iter()
                .take_while(|r| r.patient_id == p && &r.observable == o)
                .count();
        let mut group: Vec<&ObservationRow> = rows[start..end].iter().collect();
        group.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.visit.cmp(&b.visit)));
        let mut kept: Vec<Visit> = Vec::new();
        let mut last_time = f64::NEG_INFINITY;
        for r in group {
            if r.true_value.is_finite() {
                truth.push(r);
            }
            let Some(y) = r.value else {
                counts.missing += 1;
                continue;
            };
            if !y.is_finite() {
                counts.non_finite += 1;
                continue;
            }
            if r.time <= last_time {
                counts.same_time += 1;
                continue;
            }
            last_time = r.time;
            counts.censored += usize::from(r.censored);
            let value = match (r.censored, spec.censored) {
                (true, CensoredAs::Zero) => 0.0,
                _ => y,
            };
            kept.push(Visit {
                patient: p.to_string(),
                time: r.time,
                observable: o.clone(),
                value,
            });
        }
        if !kept.is_empty() {
            series.push(kept);
        }
        start = end;
    }
    counts.series = series.len();
    let all: Vec<&Visit> = series.iter().flatten().collect();
    counts.visits = all.len();
    let split = (spec.holdout > 0).then(|| {
        let h = spec.holdout as usize;
        let need = h + spec.min_fit_visits as usize;
        let (mut fit, mut held) = (Vec::new(), Vec::new());
        for s in &series {
            if s.len() < need.max(h + 1) {
                counts.series_too_short += 1;
                continue;
            }
            fit.extend(&s[..s.len() - h]);
            held.extend(&s[s.len() - h..]);
        }
        counts.fit_rows = fit.len();
        counts.heldout_rows = held.len();
        [
            long_table("visits_fit", &fit),
            key_table("visits_heldout", &held, true),
            key_table("forecast_at", &held, false),
        ]
    });
    let mut t = Table::new("visits_truth");
    let pid = |r: &&ObservationRow| Some(r.patient_id.to_string());
    t.push_column("patient", Values::Str(truth.iter().map(pid).collect()));
    t.push_column(
        "time",
        Values::F64(truth.iter().map(|r| Some(r.time)).collect()),
    );
    t.push_column(
        "observable",
        Values::Str(truth.iter().map(|r| Some(r.observable.clone())).collect()),
    );
    t.push_column(
        "value",
        Values::F64(truth.iter().map(|r| Some(r.true_value)).collect()),
    );
    t.push_column(
        "observed",
        Values::Bool(truth.iter().map(|r| Some(!r.missing)).collect()),
    );
    t.push_column(
        "censored",
        Values::Bool(truth.iter().map(|r| Some(r.censored)).collect()),
    );
    PatientFiles {
        visits: long_table("visits", &all),
        truth: t,
        split,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        p: u64,
        visit: u32,
        time: f64,
        value: Option<f64>,
        censored: bool,
        x: f64,
    ) -> ObservationRow {
        ObservationRow {
            patient_id: p,
            arm: "a".into(),
            visit,
            time,
            observable: "volume".into(),
            value,
            censored,
            missing: value.is_none(),
            true_value: x,
        }
    }

    fn f64s(t: &Table, c: &str) -> Vec<f64> {
        match t.column(c) {
            Some(Values::F64(v)) => v.iter().map(|x| x.unwrap()).collect(),
            _ => panic!("no f64 column {c}"),
        }
    }

    #[test]
    fn visits_split_into_fit_and_held_out_in_time_order() {
        // Patient 0: five visits, the fourth missing, the third censored at
        // 0.01; jitter swapped visits 1 and 2. Patient 1: two observed
        // visits, too few to hold out two and fit two.
        let rows = vec![
            row(0, 0, 0.0, Some(1.0), false, 0.9),
            row(0, 1, 5.0, Some(0.8), false, 0.7),
            row(0, 2, 4.0, Some(0.01), true, 0.004),
            row(0, 3, 9.0, None, false, 0.3),
            row(0, 4, 12.0, Some(0.5), false, 0.45),
            row(0, 5, 15.0, Some(0.6), false, 0.55),
            row(1, 0, 0.0, Some(2.0), false, 2.1),
            row(1, 1, 7.0, Some(f64::NAN), false, f64::NAN),
            row(1, 2, 9.0, Some(2.5), false, 2.4),
        ];
        let spec = ExportSpec::default();
        let f = patient_files(&rows, &spec);
        assert_eq!(
            f64s(&f.visits, "time"),
            vec![0.0, 4.0, 5.0, 12.0, 15.0, 0.0, 9.0]
        );
        assert_eq!(
            f64s(&f.visits, "value"),
            vec![1.0, 0.01, 0.8, 0.5, 0.6, 2.0, 2.5]
        );
        assert_eq!(
            f.visits.column_names(),
            ["patient", "time", "observable", "location", "value", "sd"]
        );
        let [fit, held, at] = f.split.as_ref().unwrap();
        assert_eq!(f64s(fit, "time"), vec![0.0, 4.0, 5.0]);
        assert_eq!(f64s(held, "time"), vec![12.0, 15.0]);
        assert_eq!(f64s(held, "value"), vec![0.5, 0.6]);
        assert_eq!(at.column_names(), ["patient", "time", "observable"]);
        // The truth keeps every finite scheduled visit, missing ones too.
        assert_eq!(
            f64s(&f.truth, "value"),
            vec![0.9, 0.004, 0.7, 0.3, 0.45, 0.55, 2.1, 2.4]
        );
        let c = &f.counts;
        assert_eq!(
            (c.visits, c.missing, c.censored, c.non_finite),
            (7, 1, 1, 1)
        );
        assert_eq!(
            (c.series, c.series_too_short, c.fit_rows, c.heldout_rows),
            (2, 1, 3, 2)
        );
        // Censored values as zero; no split with holdout 0.
        let zero = ExportSpec {
            holdout: 0,
            censored: CensoredAs::Zero,
            ..spec
        };
        let f = patient_files(&rows, &zero);
        assert_eq!(f64s(&f.visits, "value")[1], 0.0);
        assert!(f.split.is_none());
    }

    #[test]
    fn a_visit_at_the_same_time_as_an_earlier_one_is_left_out() {
        let rows = vec![
            row(3, 0, 0.0, Some(1.0), false, 1.0),
            row(3, 1, 20.0, Some(2.0), false, 2.0),
            row(3, 2, 20.0, Some(3.0), false, 3.0),
        ];
        let f = patient_files(&rows, &ExportSpec::default());
        assert_eq!(f64s(&f.visits, "value"), vec![1.0, 2.0]);
        assert_eq!(f.counts.same_time, 1);
    }
}
