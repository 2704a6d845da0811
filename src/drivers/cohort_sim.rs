//! The engine behind `vtwin cohort`: sets a scene's `[cohort]` section up
//! against the resolved model (parameter block, arms, observables) and
//! simulates virtual patients as ensemble members.
//!
//! Owns: [`CohortSetup`] (scene → validated sampler inputs, with every
//! `[cohort]` problem located at its line) and [`EngineSource`], the
//! simulator port (`crate::engine::Simulator`) that runs patients through
//! a `Backend` chunk by chunk. A
//! chunk of patients `a..b` becomes, per arm, one plan whose member
//! parameters are the patients' parameters and whose member offset is `a`,
//! so member m of the plan is global member `a + m` for every keyed draw
//! (initial noise included): a patient's trajectories depend only on
//! (scene, seed, patient id), never on the chunk or shard it ran in. Every
//! arm of a patient uses the same parameters and the same member index,
//! hence the same random streams. Never draws patients (that is
//! `cohort::patients`); writes files only through
//! `checkpoint::TaskCheckpoints` (`cohort --checkpoint-every`).

use crate::core::plan::{Plan, PlanOptions};
use crate::engine::backend::Backend;
use crate::engine::record;
use crate::engine::{Batch, EngineError, EnginePort, Recordings, Simulator, SimulatorError};
use crate::input::params::ParamBlock;
use crate::input::scene::{Scene, SceneError};
use crate::methods::cohort::{
    CohortError, CohortSpec, CohortTables, Patient, PatientSampler, SceneContext, Trajectory,
};
use crate::output::table::Values;
use indexmap::IndexMap;

#[derive(Debug, thiserror::Error)]
pub enum CohortSimError {
    #[error(transparent)]
    Scene(#[from] SceneError),
    /// `[cohort]` problems, one located line each (`file:line:col: key ...`).
    #[error("invalid [cohort] section:\n{0}")]
    Spec(String),
    #[error("{}: key `cohort`: the scene has no [cohort] section; `vtwin cohort` needs one (see docs/cohort.md)", .0.display())]
    NoCohort(std::path::PathBuf),
    #[error(transparent)]
    Cohort(CohortError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Checkpoint(#[from] crate::drivers::checkpoint::CheckpointError),
}

/// What the rest of a scene tells its `[cohort]` section, resolved the way a
/// plan resolves it.
#[derive(Clone, Debug)]
pub struct CohortSetup {
    pub spec: CohortSpec,
    /// The plan's parameter block: the scene's parameters in file order,
    /// then every model parameter the scene leaves out (fixed at its
    /// default). Patient parameter vectors are in this order.
    pub block: ParamBlock,
    /// Arm names in scene order.
    pub arms: Vec<String>,
    /// Every observable the plan records (reductions, then derived).
    pub observables: Vec<String>,
    /// Parameter units known to the model.
    pub param_units: IndexMap<String, String>,
    pub seed: u64,
}

impl CohortSetup {
    /// Resolves and validates. `seed` overrides the scene's `ensemble.seed`.
    pub fn new(scene: &Scene, seed: Option<u64>) -> Result<CohortSetup, CohortSimError> {
        let Some(spec) = CohortSpec::from_scene(scene)? else {
            return Err(CohortSimError::NoCohort(scene.path.clone()));
        };
        let seed = seed.unwrap_or(scene.file.ensemble.seed);
        let info = crate::core::model_scene::info_for(scene)?;
        let block = crate::core::model_scene::resolve_params(scene, &info)?;
        // A one-member probe plan resolves the observables (names as the
        // recordings carry them) and checks the scene as `run` would.
        let probe = Plan::freeze(
            scene,
            &PlanOptions {
                members: Some(1),
                seed: Some(seed),
                ..Default::default()
            },
        )?;
        let setup = CohortSetup {
            spec,
            block,
            arms: scene.arms().into_iter().map(|a| a.name).collect(),
            observables: probe.observables.names(),
            param_units: info
                .params
                .iter()
                .map(|p| (p.name.clone(), p.unit.clone()))
                .collect(),
            seed,
        };
        setup.sampler().map_err(|e| locate(scene, e))?;
        Ok(setup)
    }

    pub fn context(&self) -> SceneContext<'_> {
        SceneContext {
            arms: &self.arms,
            params: &self.block,
            observables: Some(&self.observables),
        }
    }

    /// The validated patient sampler.
    pub fn sampler(&self) -> Result<PatientSampler<'_>, CohortError> {
        PatientSampler::new(&self.spec, &self.context(), self.seed)
    }
}

/// Turns `[cohort]` issues into one located line each; other errors pass.
pub fn locate(scene: &Scene, e: CohortError) -> CohortSimError {
    match e {
        CohortError::Spec(issues) => CohortSimError::Spec(
            issues
                .iter()
                .map(|i| format!("  {}", scene.error_at(&i.key, i.message.clone())))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => CohortSimError::Cohort(other),
    }
}

/// Simulates patients with an engine backend: the simulator port
/// (`crate::engine::EnginePort`, plans frozen from the scene) run chunk by
/// chunk, counting failed patients.
pub struct EngineSource<'a> {
    port: EnginePort<'a>,
    chunk: usize,
    observables: Vec<String>,
    progress: Box<dyn FnMut(u64) + 'a>,
    /// Simulations (patient × arm) whose member diverged or saturated.
    pub failed: u64,
    /// Patients with at least one failed simulation, ascending.
    failed_patients: Vec<u64>,
    arms: Vec<String>,
}

impl<'a> EngineSource<'a> {
    /// `chunk`: patients per plan (bounds memory; progress is reported per
    /// chunk). `batch` caps members per GPU batch. `progress(k)` is called
    /// with the number of patient simulations just finished.
    pub fn new(
        scene: &'a Scene,
        setup: &CohortSetup,
        backend: &'a Backend,
        batch: Option<u32>,
        chunk: usize,
        progress: impl FnMut(u64) + 'a,
    ) -> Self {
        EngineSource {
            port: EnginePort::from_scene(scene, backend, batch),
            chunk: chunk.max(1),
            observables: setup.observables.clone(),
            progress: Box::new(progress),
            failed: 0,
            failed_patients: Vec::new(),
            arms: setup.arms.clone(),
        }
    }

    /// Checkpoints every run of an arm and a chunk of patients as a task
    /// keyed `<arm index>-<first patient>` (`cohort --checkpoint-every`).
    pub fn with_checkpoints(
        mut self,
        c: Option<crate::drivers::checkpoint::TaskCheckpoints>,
    ) -> Self {
        if let Some(c) = c {
            let arms = self.arms.clone();
            self.port.set_recorder(move |engine, batch| {
                let a = arms
                    .iter()
                    .position(|x| Some(x.as_str()) == batch.arm)
                    .unwrap_or(usize::MAX);
                c.record(engine, &format!("{a}-{}", batch.member_offset))
                    .map_err(|e| SimulatorError::Other(Box::new(e)))
            });
        }
        self
    }

    /// Patients with at least one failed simulation, ascending.
    pub fn failed_patients(&self) -> &[u64] {
        &self.failed_patients
    }

    /// Recordings of one chunk of patients (consecutive ids from
    /// `batch.member_offset`).
    fn run_chunk(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        let rec = self.port.simulate(batch)?;
        if rec.observables != self.observables {
            return Err(SimulatorError::Other(Box::new(CohortSimError::Cohort(
                CohortError::Simulation {
                    arm: batch.arm.unwrap_or_default().into(),
                    message: format!(
                        "the plan records {:?}, the cohort was set up for {:?}",
                        rec.observables, self.observables
                    ),
                },
            ))));
        }
        for (m, st) in rec.status.iter().enumerate() {
            if !st.is_ok() {
                self.failed += 1;
                let id = batch.member_offset as u64 + m as u64;
                if let Err(k) = self.failed_patients.binary_search(&id) {
                    self.failed_patients.insert(k, id);
                }
            }
        }
        Ok(rec)
    }
}

/// The engine plan of one cohort task: `patients` (consecutive ids) as
/// members under `arm`, member m being global member `patients[0].id + m`.
pub fn task_plan(
    scene: &Scene,
    seed: u64,
    patients: &[Patient],
    arm: &str,
) -> Result<Plan, CohortSimError> {
    let first = patients[0].id;
    let offset = u32::try_from(first).map_err(|_| CohortError::PatientIndex(first));
    let offset = offset.map_err(CohortSimError::Cohort)?;
    Ok(Plan::freeze(
        scene,
        &PlanOptions {
            seed: Some(seed),
            arm: Some(arm.to_string()),
            member_params: Some(patients.iter().map(|p| p.params.clone()).collect()),
            member_offset: offset,
            ..Default::default()
        },
    )?)
}

/// The trajectories of a task's recording, member m being `patients[m]`,
/// tagged `arm`; a failed member's outputs are NaN from its failure on
/// (`cohort::trajectories` of the recording).
pub fn trajectories(
    plan: &Plan,
    rec: &record::Recording,
    patients: &[Patient],
    arm: &str,
) -> Vec<Trajectory> {
    let ids: Vec<u64> = patients.iter().map(|p| p.id).collect();
    crate::methods::cohort::trajectories(&Recordings::from_recording(plan, rec.clone()), &ids, arm)
}

impl Simulator for EngineSource<'_> {
    /// Runs the batch `chunk` rows at a time (row i is patient
    /// `member_offset + i`).
    fn simulate(&mut self, batch: &Batch<'_>) -> Result<Recordings, SimulatorError> {
        let mut parts = Vec::new();
        for (k, rows) in batch.rows.chunks(self.chunk).enumerate() {
            let offset = batch.member_offset as u64 + (k * self.chunk) as u64;
            let part = Batch {
                rows,
                member_offset: u32::try_from(offset).map_err(|_| {
                    SimulatorError::Other(Box::new(CohortSimError::Cohort(
                        CohortError::PatientIndex(offset),
                    )))
                })?,
                ..*batch
            };
            parts.push(self.run_chunk(&part)?);
            (self.progress)(rows.len() as u64);
        }
        Ok(Recordings::concat(self.observables.clone(), parts))
    }
}

/// Marks patients whose simulation failed under any arm as implausible,
/// whatever the bounds say (their outputs are NaN from the failure on).
pub fn mark_failed(tables: &mut CohortTables, failed: &[u64]) -> Result<(), CohortError> {
    if failed.is_empty() {
        return Ok(());
    }
    let ids: Vec<Option<i64>> =
        crate::methods::cohort::columns::i64s(&tables.patients, "patient_id")?.to_vec();
    let col = tables
        .patients
        .columns
        .iter_mut()
        .find(|c| c.name == "plausible");
    let Some(Values::Bool(flags)) = col.map(|c| &mut c.values) else {
        return Err(CohortError::Column {
            table: "patients".into(),
            column: "plausible".into(),
            message: "missing or not bool".into(),
        });
    };
    for (flag, id) in flags.iter_mut().zip(ids) {
        if id.is_some_and(|id| failed.binary_search(&(id as u64)).is_ok()) {
            *flag = Some(false);
        }
    }
    Ok(())
}
