//! Puts a cohort together: patients → simulated trajectories under every
//! arm → observation model, outcomes and plausibility → the three tables.
//!
//! Owns: the row order of every table, which makes shards concatenate to the
//! unsharded cohort: patients ascending; observations patient-major, then arm
//! (scene order), observable (file order), visit; outcomes patient-major,
//! then arm. Knows nothing of how trajectories are computed: a
//! `TrajectorySource` (the GPU or CPU engine, or a closure in tests) hands
//! them over. Never touches files.

use super::error::CohortError;
use super::observe::{self, ObservationRow, Trajectory};
use super::outcomes::{self, Outcome};
use super::patients::{Patient, PatientSampler};
use super::plausibility;
use crate::engine::SimulatorError;
use crate::table::{Table, Values};
use std::ops::Range;

/// Something that simulates patients under an arm. Every patient is run
/// under every arm with the same parameters (`Patient::params`) and the same
/// random streams; only the arm differs.
pub trait TrajectorySource {
    /// One trajectory per patient, in the order of `patients`, each tagged
    /// with the patient's id and `arm`.
    fn simulate(
        &mut self,
        patients: &[Patient],
        arm: &str,
    ) -> Result<Vec<Trajectory>, SimulatorError>;
}

impl<F> TrajectorySource for F
where
    F: FnMut(&[Patient], &str) -> Result<Vec<Trajectory>, SimulatorError>,
{
    fn simulate(
        &mut self,
        patients: &[Patient],
        arm: &str,
    ) -> Result<Vec<Trajectory>, SimulatorError> {
        self(patients, arm)
    }
}

/// The data tables of a cohort (or of one shard of it).
#[derive(Clone, Debug, PartialEq)]
pub struct CohortTables {
    pub patients: Table,
    pub observations: Table,
    pub outcomes: Table,
}

impl CohortTables {
    /// In file order: patients, observations, outcomes.
    pub fn tables(&self) -> [&Table; 3] {
        [&self.patients, &self.observations, &self.outcomes]
    }
}

/// Builds the tables for patients `range` (a shard or the whole cohort).
pub fn build_cohort(
    sampler: &PatientSampler,
    range: Range<u64>,
    source: &mut impl TrajectorySource,
) -> Result<CohortTables, CohortError> {
    Ok(build_cohort_with_visits(sampler, range, source, false)?.0)
}

/// As [`build_cohort`]; with `keep_assigned`, also returns the observation
/// rows of every patient under its assigned arm (what a trial records, with
/// the noiseless values beside them) for `export::patient_files`.
pub fn build_cohort_with_visits(
    sampler: &PatientSampler,
    range: Range<u64>,
    source: &mut impl TrajectorySource,
    keep_assigned: bool,
) -> Result<(CohortTables, Vec<ObservationRow>), CohortError> {
    let patients = sampler.patients(range)?;
    let mut per_arm: Vec<Vec<Trajectory>> = Vec::with_capacity(sampler.arms.len());
    for arm in &sampler.arms {
        let trajs = source
            .simulate(&patients, arm)
            .map_err(|error| CohortError::Simulation {
                arm: arm.clone(),
                message: error.to_string(),
            })?;
        if trajs.len() != patients.len() {
            return Err(CohortError::Simulation {
                arm: arm.clone(),
                message: format!(
                    "returned {} trajectories for {} patients",
                    trajs.len(),
                    patients.len()
                ),
            });
        }
        for (p, t) in patients.iter().zip(&trajs) {
            if t.patient != p.id || &t.arm != arm {
                return Err(CohortError::Trajectory {
                    patient: t.patient,
                    arm: t.arm.clone(),
                    message: format!(
                        "expected patient {} under arm `{arm}` at this position",
                        p.id
                    ),
                });
            }
        }
        per_arm.push(trajs);
    }
    assemble(sampler, &patients, &sampler.arms, &per_arm, keep_assigned)
}

/// The tables of `patients` from their trajectories, `per_arm[a][i]` being
/// patient i's under `arms[a]` (checked by the caller: ids and arm names
/// match); with `keep_assigned`, also the rows of each patient's assigned
/// arm (`arms` must then be the sampler's). A patient is plausible when
/// every trajectory given meets every bound. `build_cohort_with_visits`
/// passes every arm of the scene; `vtwin fork` of a cohort checkpoint the
/// forked patients under the one arm they continued under.
pub fn assemble(
    sampler: &PatientSampler,
    patients: &[Patient],
    arms: &[String],
    per_arm: &[Vec<Trajectory>],
    keep_assigned: bool,
) -> Result<(CohortTables, Vec<ObservationRow>), CohortError> {
    let spec = sampler.spec;
    let mut rows = Vec::new();
    let mut assigned = Vec::new();
    let mut outs: Vec<Outcome> = Vec::new();
    let mut plausible = Vec::with_capacity(patients.len());
    for (i, p) in patients.iter().enumerate() {
        plausible.push(plausibility::patient_plausible(
            &spec.plausibility,
            per_arm.iter().map(|t| &t[i]),
        )?);
        for (a, trajs) in per_arm.iter().enumerate() {
            let r = observe::observe(sampler, p, &trajs[i])?;
            if keep_assigned && a == p.assigned_arm {
                assigned.extend(r.iter().cloned());
            }
            if let Some(o) = outcomes::outcome(spec, &r, &trajs[i])? {
                outs.push(o);
            }
            rows.extend(r);
        }
    }
    let outcomes = match &spec.outcomes {
        Some(o) => outcomes::outcome_table(o, &outs),
        None => {
            let ids = patients
                .iter()
                .flat_map(|p| arms.iter().map(move |a| (p.id, a)));
            let (id, arm): (Vec<_>, Vec<_>) =
                ids.map(|(i, a)| (Some(i as i64), Some(a.clone()))).unzip();
            let mut t = Table::new("outcomes");
            t.push_column("patient_id", Values::I64(id));
            t.push_column("arm", Values::Str(arm));
            t
        }
    };
    let tables = CohortTables {
        patients: sampler.table(patients, &plausible),
        observations: observe::observation_table(&rows),
        outcomes,
    };
    Ok((tables, assigned))
}
