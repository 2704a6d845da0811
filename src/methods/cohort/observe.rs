//! The observation model: from a noiseless simulated trajectory to the rows a
//! trial would record (visit times with jitter, measurement noise, limit of
//! detection, missingness, dropout after progression).
//!
//! Owns: `Trajectory` (the simulator's hand-over), `ObservationRow` and the
//! `observations` table. Every draw is keyed by (seed, patient, observable,
//! visit, purpose) and *not* by arm, so all arms of a patient share jitter,
//! noise and missingness draws: with additive noise the difference between
//! two arms' measurements is exactly the difference of their true values.
//! Never simulates, never touches files.

use super::error::CohortError;
use super::keys::{self, Purpose};
use super::outcomes::{self, Assessment};
use super::patients::{Patient, PatientSampler};
use crate::output::table::{Table, Values};
use indexmap::IndexMap;

/// Model output of one patient under one arm at the simulator's cadence.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    pub patient: u64,
    pub arm: String,
    /// Output times (days), strictly increasing.
    pub times: Vec<f64>,
    /// Observable name → values at `times`.
    pub observables: IndexMap<String, Vec<f64>>,
}

impl Trajectory {
    fn error(&self, message: String) -> CohortError {
        CohortError::Trajectory {
            patient: self.patient,
            arm: self.arm.clone(),
            message,
        }
    }

    /// Checks that times are finite and strictly increasing and that every
    /// series has one value per time.
    pub fn check(&self) -> Result<(), CohortError> {
        if self.times.is_empty() {
            return Err(self.error("no output times".into()));
        }
        if self.times.iter().any(|t| !t.is_finite()) || self.times.windows(2).any(|w| w[1] <= w[0])
        {
            return Err(self.error("output times must be finite and strictly increasing".into()));
        }
        for (name, v) in &self.observables {
            if v.len() != self.times.len() {
                return Err(self.error(format!(
                    "observable `{name}` has {} values for {} output times",
                    v.len(),
                    self.times.len()
                )));
            }
        }
        Ok(())
    }

    pub fn series(&self, observable: &str) -> Result<&[f64], CohortError> {
        self.observables
            .get(observable)
            .map(|v| v.as_slice())
            .ok_or_else(|| {
                let have: Vec<&str> = self.observables.keys().map(|k| k.as_str()).collect();
                self.error(format!(
                    "no observable `{observable}` (has {})",
                    have.join(", ")
                ))
            })
    }

    /// The time span `[first, last]` of the outputs.
    pub fn span(&self) -> (f64, f64) {
        (self.times[0], self.times[self.times.len() - 1])
    }

    /// Linear interpolation of `observable` at `t`, held constant beyond the
    /// ends. Call `check` first.
    pub fn value_at(&self, observable: &str, t: f64) -> Result<f64, CohortError> {
        let v = self.series(observable)?;
        let ts = &self.times;
        let k = ts.partition_point(|&x| x <= t);
        Ok(if k == 0 {
            v[0]
        } else if k == ts.len() {
            v[ts.len() - 1]
        } else {
            let (t0, t1) = (ts[k - 1], ts[k]);
            let w = (t - t0) / (t1 - t0);
            v[k - 1] + w * (v[k] - v[k - 1])
        })
    }
}

/// One scheduled measurement. A missing one has `value = None`,
/// `censored = false`; a censored one holds the detection limit.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationRow {
    pub patient_id: u64,
    pub arm: String,
    /// Index into the observable's visit list (0 = baseline).
    pub visit: u32,
    pub time: f64,
    pub observable: String,
    pub value: Option<f64>,
    pub censored: bool,
    pub missing: bool,
    /// The noiseless model value at `time` (kept aside for the truth file of
    /// the patient-file export; not a column of `observations`).
    pub true_value: f64,
}

/// Applies the observation model of every observable in `[cohort.observation]`
/// (in file order, visits in order) to one trajectory of `patient`.
pub fn observe(
    sampler: &PatientSampler,
    patient: &Patient,
    traj: &Trajectory,
) -> Result<Vec<ObservationRow>, CohortError> {
    traj.check()?;
    let spec = sampler.spec;
    let seed = sampler.seed;
    let p = u32::try_from(patient.id).map_err(|_| CohortError::PatientIndex(patient.id))?;
    let (t_lo, t_hi) = traj.span();
    let mut rows = Vec::new();
    for (name, m) in &spec.observation {
        let site = keys::site_of(name);
        let p_mar = m.mar.as_ref().map_or(0.0, |r| {
            sampler
                .covariate(patient, &r.covariate)
                .map_or(0.0, |x| r.probability(x))
        });
        for (j, &day) in m.visits.iter().enumerate() {
            let j32 = j as u32;
            let time = if j == 0 || m.jitter_sd == 0.0 {
                day
            } else {
                (day + m.jitter_sd * keys::normal(seed, p, Purpose::Jitter, site, j32))
                    .clamp(t_lo, t_hi)
            };
            let x = traj.value_at(name, time)?;
            let y = match &m.noise {
                Some(n) => n.apply(x, keys::normal(seed, p, Purpose::Noise, site, j32)),
                None => x,
            };
            let censored = m.lod.is_some_and(|l| y < l);
            let missing = keys::uniform(seed, p, Purpose::Mcar, site, j32) < m.mcar
                || (p_mar > 0.0 && keys::uniform(seed, p, Purpose::Mar, site, j32) < p_mar);
            let value = if censored { m.lod } else { Some(y) };
            rows.push(ObservationRow {
                patient_id: patient.id,
                arm: traj.arm.clone(),
                visit: j32,
                time,
                observable: name.clone(),
                value: if missing { None } else { value },
                censored: censored && !missing,
                missing,
                true_value: x,
            });
        }
    }
    apply_dropout(sampler, &mut rows);
    Ok(rows)
}

/// Marks every visit after the observed progression time as missing for
/// observables with `dropout_after_progression`.
fn apply_dropout(sampler: &PatientSampler, rows: &mut [ObservationRow]) {
    let spec = sampler.spec;
    let (Some(o), Some(follow_up)) = (&spec.outcomes, spec.follow_up()) else {
        return;
    };
    if !spec
        .observation
        .values()
        .any(|m| m.dropout_after_progression)
    {
        return;
    }
    let burden = outcomes::observed_assessments(rows, &o.burden, follow_up);
    let Some(t_prog) = outcomes::progression_time(o, &burden) else {
        return;
    };
    for r in rows.iter_mut() {
        let drops = spec
            .observation
            .get(&r.observable)
            .is_some_and(|m| m.dropout_after_progression);
        if drops && r.time > t_prog {
            r.value = None;
            r.censored = false;
            r.missing = true;
        }
    }
}

/// The `observations` table (long format), rows in the given order.
pub fn observation_table(rows: &[ObservationRow]) -> Table {
    let mut t = Table::new("observations");
    t.push_column(
        "patient_id",
        Values::I64(rows.iter().map(|r| Some(r.patient_id as i64)).collect()),
    );
    t.push_column(
        "arm",
        Values::Str(rows.iter().map(|r| Some(r.arm.clone())).collect()),
    );
    t.push_column(
        "visit",
        Values::I64(rows.iter().map(|r| Some(r.visit as i64)).collect()),
    );
    t.push_column(
        "time",
        Values::F64(rows.iter().map(|r| Some(r.time)).collect()),
    );
    t.push_column(
        "observable",
        Values::Str(rows.iter().map(|r| Some(r.observable.clone())).collect()),
    );
    t.push_column("value", Values::F64(rows.iter().map(|r| r.value).collect()));
    t.push_column(
        "censored",
        Values::Bool(rows.iter().map(|r| Some(r.censored)).collect()),
    );
    t.push_column(
        "missing",
        Values::Bool(rows.iter().map(|r| Some(r.missing)).collect()),
    );
    t
}

/// Helper for outcome code: the assessment a row stands for, if measured.
pub(crate) fn assessment_of(r: &ObservationRow) -> Option<Assessment> {
    r.value.map(|value| Assessment {
        visit: r.visit,
        time: r.time,
        value,
        below_lod: r.censored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traj() -> Trajectory {
        Trajectory {
            patient: 0,
            arm: "a".into(),
            times: vec![0.0, 10.0, 20.0],
            observables: [("b".to_string(), vec![1.0, 3.0, 2.0])]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn interpolation_is_linear_and_held_at_the_ends() {
        let t = traj();
        t.check().unwrap();
        assert_eq!(t.value_at("b", -5.0).unwrap(), 1.0);
        assert_eq!(t.value_at("b", 5.0).unwrap(), 2.0);
        assert_eq!(t.value_at("b", 10.0).unwrap(), 3.0);
        assert_eq!(t.value_at("b", 15.0).unwrap(), 2.5);
        assert_eq!(t.value_at("b", 25.0).unwrap(), 2.0);
        let e = t.value_at("c", 1.0).unwrap_err().to_string();
        assert!(e.contains("no observable `c`"), "{e}");
    }

    #[test]
    fn malformed_trajectories_are_rejected() {
        let mut t = traj();
        t.times[1] = 0.0;
        assert!(
            t.check()
                .unwrap_err()
                .to_string()
                .contains("strictly increasing")
        );
        let mut t = traj();
        t.observables[0].pop();
        assert!(
            t.check()
                .unwrap_err()
                .to_string()
                .contains("2 values for 3 output times")
        );
    }
}
