//! Puts a cohort together: patients → simulated trajectories under every
//! arm → observation model, outcomes and plausibility → the three tables.
//!
//! Owns: the row order of every table, which makes shards concatenate to the
//! unsharded cohort: patients ascending; observations patient-major, then arm
//! (scene order), observable (file order), visit; outcomes patient-major,
//! then arm. Knows nothing of how trajectories are computed: the simulator
//! port (`crate::engine::Simulator`: the GPU or CPU engine, or a closure in
//! tests) hands over recordings of every patient under an arm (patients as
//! rows, the first patient's id as member offset, the sampler's seed), and
//! [`trajectories`] turns them into trajectories. Never touches files.

use super::error::CohortError;
use super::observe::{self, ObservationRow, Trajectory};
use super::outcomes::{self, Outcome};
use super::patients::{Patient, PatientSampler};
use super::plausibility;
use crate::engine::{Batch, MemberStatus, Recordings, RowStatus, Simulator};
use crate::output::table::{Table, Values};
use std::ops::Range;

/// The trajectories of `rec`'s rows, row m being patient `ids[m]`, tagged
/// `arm`; a failed row's outputs are NaN from its failure on (the one
/// conversion of the simulator port's recordings into trajectories).
pub fn trajectories(rec: &Recordings, ids: &[u64], arm: &str) -> Vec<Trajectory> {
    ids.iter()
        .enumerate()
        .map(|(m, &id)| Trajectory {
            patient: id,
            arm: arm.to_string(),
            times: rec.times.clone(),
            observables: rec
                .observables
                .iter()
                .zip(rec.series(m))
                .map(|(n, s)| (n.clone(), s.iter().map(|v| v.unwrap_or(f64::NAN)).collect()))
                .collect(),
        })
        .collect()
}

/// The recordings holding `trajs` as rows, all ok (the inverse of
/// [`trajectories`], for simulators that compute trajectories themselves,
/// e.g. test doubles). Every trajectory must carry the first one's times
/// and observables.
pub fn recordings(trajs: &[Trajectory]) -> Recordings {
    let (names, times): (Vec<String>, Vec<f64>) = match trajs.first() {
        Some(t) => (t.observables.keys().cloned().collect(), t.times.clone()),
        None => (vec![], vec![]),
    };
    let series = trajs
        .iter()
        .map(|t| {
            t.observables
                .values()
                .map(|v| v.iter().map(|x| Some(*x)).collect())
                .collect()
        })
        .collect();
    let steps = (0..times.len() as u64).collect();
    let status = vec![RowStatus::Ran(MemberStatus::Ok); trajs.len()];
    Recordings::from_series(names, steps, times, status, series)
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
    source: &mut impl Simulator,
) -> Result<CohortTables, CohortError> {
    Ok(build_cohort_with_visits(sampler, range, source, false)?.0)
}

/// As [`build_cohort`]; with `keep_assigned`, also returns the observation
/// rows of every patient under its assigned arm (what a trial records, with
/// the noiseless values beside them) for `export::patient_files`.
pub fn build_cohort_with_visits(
    sampler: &PatientSampler,
    range: Range<u64>,
    source: &mut impl Simulator,
    keep_assigned: bool,
) -> Result<(CohortTables, Vec<ObservationRow>), CohortError> {
    let start = range.start;
    let patients = sampler.patients(range)?;
    let mut per_arm: Vec<Vec<Trajectory>> = Vec::with_capacity(sampler.arms.len());
    let rows: Vec<Vec<f64>> = patients.iter().map(|p| p.params.clone()).collect();
    let ids: Vec<u64> = patients.iter().map(|p| p.id).collect();
    let first = ids.first().copied().unwrap_or(start);
    for arm in &sampler.arms {
        let failed = |message: String| CohortError::Simulation {
            arm: arm.clone(),
            message,
        };
        let offset = u32::try_from(first)
            .map_err(|_| failed(CohortError::PatientIndex(first).to_string()))?;
        let rec = source
            .simulate(&Batch {
                rows: &rows,
                arm: Some(arm),
                member_offset: offset,
                seed: sampler.seed,
            })
            .map_err(|error| failed(error.to_string()))?;
        if rec.rows() != patients.len() {
            return Err(failed(format!(
                "returned {} trajectories for {} patients",
                rec.rows(),
                patients.len()
            )));
        }
        per_arm.push(trajectories(&rec, &ids, arm));
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
