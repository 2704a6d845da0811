//! Outcome rules: RECIST-like best overall response from the relative change
//! in burden, time to progression with censoring at the end of follow-up, and
//! threshold event flags.
//!
//! Owns: the `outcomes` table and the progression rule (also used by the
//! observation model for dropout). Never draws random numbers, never touches
//! files.
//!
//! Rules (unconfirmed responses; no minimum duration for stable disease):
//! - The first assessment must be the baseline visit (visit 0) with a
//!   positive value; otherwise response is `NE` (not evaluable).
//! - Progression at the first later visit whose value exceeds the reference
//!   (nadir so far, baseline included, or the baseline) by at least `pd`
//!   relative and `pd_min_increase` absolute. A reference ≤ 0 (disease gone)
//!   makes any increase count.
//! - Per visit before progression: `CR` if value ≤ `cr_below` or below the
//!   LOD, `PR` if relative change from baseline ≤ `pr`, else `SD`; the
//!   progression visit is `PD`. Best overall response is the best of these
//!   (CR > PR > SD > PD); `NE` without any post-baseline assessment.
//! - Time to progression is the progression visit's time, or the end of
//!   follow-up (censored).

use super::error::CohortError;
use super::observe::{ObservationRow, Trajectory, assessment_of};
use super::spec::{Basis, CohortSpec, OutcomeSpec, ProgressionReference};
use crate::output::table::{Table, Values};

/// One usable measurement of an observable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assessment {
    pub visit: u32,
    pub time: f64,
    pub value: f64,
    /// Measured below the limit of detection (`value` is the limit).
    pub below_lod: bool,
}

/// Best overall response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Response {
    NE,
    PD,
    SD,
    PR,
    CR,
}

impl Response {
    pub fn as_str(self) -> &'static str {
        match self {
            Response::NE => "NE",
            Response::PD => "PD",
            Response::SD => "SD",
            Response::PR => "PR",
            Response::CR => "CR",
        }
    }
}

/// The burden part of a patient's outcome under one arm.
#[derive(Clone, Debug, PartialEq)]
pub struct BurdenOutcome {
    pub baseline: Option<f64>,
    /// Smallest relative change from baseline up to progression.
    pub best_relative_change: Option<f64>,
    pub response: Response,
    pub progressed: bool,
    /// Progression time, or the end of follow-up when censored.
    pub time_to_progression: f64,
}

/// Flag and first time of one threshold event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventOutcome {
    pub occurred: bool,
    pub time: Option<f64>,
}

/// Everything in one row of the `outcomes` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub patient_id: u64,
    pub arm: String,
    pub burden: BurdenOutcome,
    /// In `OutcomeSpec::events` order.
    pub events: Vec<EventOutcome>,
}

/// Column names the outcome table uses; event names may not take them.
pub const OUTCOME_COLUMNS: &[&str] = &[
    "patient_id",
    "arm",
    "baseline",
    "best_relative_change",
    "response",
    "responded",
    "progressed",
    "time_to_progression",
    "progression_censored",
];

/// Measured (non-missing) assessments of `observable` up to `follow_up`, in
/// visit order.
pub fn observed_assessments(
    rows: &[ObservationRow],
    observable: &str,
    follow_up: f64,
) -> Vec<Assessment> {
    rows.iter()
        .filter(|r| r.observable == observable && r.time <= follow_up)
        .filter_map(assessment_of)
        .collect()
}

/// Noiseless assessments at the scheduled visit days up to `follow_up`.
pub fn true_assessments(
    traj: &Trajectory,
    observable: &str,
    visits: &[f64],
    follow_up: f64,
) -> Result<Vec<Assessment>, CohortError> {
    visits
        .iter()
        .enumerate()
        .filter(|(_, d)| **d <= follow_up)
        .map(|(j, &d)| {
            Ok(Assessment {
                visit: j as u32,
                time: d,
                value: traj.value_at(observable, d)?,
                below_lod: false,
            })
        })
        .collect()
}

fn baseline_of(a: &[Assessment]) -> Option<f64> {
    a.first().filter(|b| b.visit == 0).map(|b| b.value)
}

/// Index into `a` of the progression visit, if any.
fn progression_index(spec: &OutcomeSpec, a: &[Assessment]) -> Option<usize> {
    let baseline = baseline_of(a)?;
    let mut nadir = baseline;
    for (j, x) in a.iter().enumerate().skip(1) {
        let reference = match spec.progression_reference {
            ProgressionReference::Nadir => nadir,
            ProgressionReference::Baseline => baseline,
        };
        let increase = x.value - reference;
        let relative_ok = if reference > 0.0 {
            increase / reference >= spec.pd
        } else {
            increase > 0.0
        };
        if relative_ok && increase >= spec.pd_min_increase {
            return Some(j);
        }
        nadir = nadir.min(x.value);
    }
    None
}

/// Time of progression by the rules above, if it happens within `a`.
pub fn progression_time(spec: &OutcomeSpec, a: &[Assessment]) -> Option<f64> {
    progression_index(spec, a).map(|j| a[j].time)
}

/// Response, best change and time to progression from `a` (already limited
/// to the follow-up window).
pub fn burden_outcome(spec: &OutcomeSpec, follow_up: f64, a: &[Assessment]) -> BurdenOutcome {
    let baseline = baseline_of(a);
    let prog = progression_index(spec, a);
    let last = prog.unwrap_or(a.len().saturating_sub(1));
    let mut response = Response::NE;
    let mut best_change: Option<f64> = None;
    if let Some(b) = baseline.filter(|b| *b > 0.0) {
        for (j, x) in a.iter().enumerate().take(last + 1).skip(1) {
            let rel = (x.value - b) / b;
            best_change = Some(best_change.map_or(rel, |c| c.min(rel)));
            let r = if Some(j) == prog {
                Response::PD
            } else if x.below_lod || x.value <= spec.cr_below {
                Response::CR
            } else if rel <= spec.pr {
                Response::PR
            } else {
                Response::SD
            };
            response = response.max(r);
        }
    }
    BurdenOutcome {
        baseline,
        best_relative_change: best_change,
        response,
        progressed: prog.is_some(),
        time_to_progression: prog.map_or(follow_up, |j| a[j].time),
    }
}

/// The first assessment meeting the event's threshold.
pub fn event_outcome(rule: &super::spec::EventRule, a: &[Assessment]) -> EventOutcome {
    let hit = a.iter().find(|x| rule.is_met(x.value));
    EventOutcome {
        occurred: hit.is_some(),
        time: hit.map(|x| x.time),
    }
}

/// The outcome of one patient under one arm, on the scene's basis: the
/// observation `rows` of that trajectory, or the noiseless `traj`.
pub fn outcome(
    spec: &CohortSpec,
    rows: &[ObservationRow],
    traj: &Trajectory,
) -> Result<Option<Outcome>, CohortError> {
    let (Some(o), Some(follow_up)) = (&spec.outcomes, spec.follow_up()) else {
        return Ok(None);
    };
    let assess = |name: &str| -> Result<Vec<Assessment>, CohortError> {
        match o.basis {
            Basis::Observed => Ok(observed_assessments(rows, name, follow_up)),
            Basis::True => {
                let visits = spec
                    .observation
                    .get(name)
                    .map_or(&[][..], |m| m.visits.as_slice());
                true_assessments(traj, name, visits, follow_up)
            }
        }
    };
    let burden = burden_outcome(o, follow_up, &assess(&o.burden)?);
    let events = o
        .events
        .iter()
        .map(|e| Ok(event_outcome(e, &assess(&e.observable)?)))
        .collect::<Result<_, _>>()?;
    Ok(Some(Outcome {
        patient_id: traj.patient,
        arm: traj.arm.clone(),
        burden,
        events,
    }))
}

/// The `outcomes` table: one row per (patient, arm), in the given order.
pub fn outcome_table(spec: &OutcomeSpec, outcomes: &[Outcome]) -> Table {
    let mut t = Table::new("outcomes");
    let f = |g: &dyn Fn(&Outcome) -> Option<f64>| Values::F64(outcomes.iter().map(g).collect());
    let b =
        |g: &dyn Fn(&Outcome) -> bool| Values::Bool(outcomes.iter().map(|o| Some(g(o))).collect());
    t.push_column(
        "patient_id",
        Values::I64(outcomes.iter().map(|o| Some(o.patient_id as i64)).collect()),
    );
    t.push_column(
        "arm",
        Values::Str(outcomes.iter().map(|o| Some(o.arm.clone())).collect()),
    );
    t.push_column("baseline", f(&|o| o.burden.baseline));
    t.push_column(
        "best_relative_change",
        f(&|o| o.burden.best_relative_change),
    );
    t.push_column(
        "response",
        Values::Str(
            outcomes
                .iter()
                .map(|o| Some(o.burden.response.as_str().to_string()))
                .collect(),
        ),
    );
    t.push_column(
        "responded",
        b(&|o| matches!(o.burden.response, Response::CR | Response::PR)),
    );
    t.push_column("progressed", b(&|o| o.burden.progressed));
    t.push_column(
        "time_to_progression",
        f(&|o| Some(o.burden.time_to_progression)),
    );
    t.push_column("progression_censored", b(&|o| !o.burden.progressed));
    for (k, e) in spec.events.iter().enumerate() {
        t.push_column(e.name.clone(), b(&|o| o.events[k].occurred));
        t.push_column(format!("{}_time", e.name), f(&|o| o.events[k].time));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> OutcomeSpec {
        toml::from_str("burden = \"b\"\npd_min_increase = 5.0\n").unwrap()
    }

    fn series(values: &[f64]) -> Vec<Assessment> {
        values
            .iter()
            .enumerate()
            .map(|(j, &v)| Assessment {
                visit: j as u32,
                time: 42.0 * j as f64,
                value: v,
                below_lod: false,
            })
            .collect()
    }

    /// Hand-worked RECIST cases: baseline 100 mm.
    #[test]
    fn recist_categories_follow_the_thresholds() {
        let s = spec();
        let o = burden_outcome(&s, 168.0, &series(&[100.0, 80.0, 69.0, 83.0, 90.0]));
        // −31 % is PR; nadir 69 → 83 is +20.3 % and +14 mm: progression at visit 3.
        assert_eq!(o.response, Response::PR);
        assert!(o.progressed);
        assert_eq!(o.time_to_progression, 126.0);
        assert!((o.best_relative_change.unwrap() + 0.31).abs() < 1e-12);
        // −29 % is only SD; +20 % over a nadir of 20 is +4 mm < 5 mm: no PD.
        let o = burden_outcome(&s, 168.0, &series(&[100.0, 71.0, 20.0, 24.0]));
        assert_eq!(o.response, Response::PR);
        assert!(!o.progressed);
        assert_eq!(o.time_to_progression, 168.0);
        let o = burden_outcome(&s, 168.0, &series(&[100.0, 130.0, 10.0]));
        assert_eq!(
            o.response,
            Response::PD,
            "PD at the first assessment stays PD"
        );
        let o = burden_outcome(&s, 168.0, &series(&[100.0, 90.0, 0.0]));
        assert_eq!(o.response, Response::CR);
        let o = burden_outcome(&s, 168.0, &series(&[100.0]));
        assert_eq!(o.response, Response::NE);
        let mut missing_baseline = series(&[100.0, 50.0]);
        missing_baseline.remove(0);
        assert_eq!(
            burden_outcome(&s, 168.0, &missing_baseline).response,
            Response::NE
        );
    }

    #[test]
    fn baseline_reference_ignores_the_nadir() {
        let mut s = spec();
        s.progression_reference = ProgressionReference::Baseline;
        let o = burden_outcome(&s, 168.0, &series(&[100.0, 50.0, 110.0, 121.0]));
        assert_eq!(o.time_to_progression, 126.0);
        s.progression_reference = ProgressionReference::Nadir;
        let o = burden_outcome(&s, 168.0, &series(&[100.0, 50.0, 110.0, 121.0]));
        assert_eq!(o.time_to_progression, 84.0);
    }
}
