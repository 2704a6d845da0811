//! A toy scene and an analytic "simulator" for cohort tests: burden
//! `b0 · exp((g − d·[treated]) t)`, a flat marker at 10, output every 2 days
//! over 0..200.

use indexmap::IndexMap;
use serde::Deserialize;
use vtwin::input::params::{Correlation, Distribution, ParamBlock};
use vtwin::methods::cohort::{CohortSpec, Patient, PatientSampler, SceneContext, Trajectory};

#[derive(Deserialize)]
struct SceneFile {
    parameters: IndexMap<String, Distribution>,
    #[serde(default)]
    correlations: Vec<Correlation>,
    arms: Vec<String>,
    cohort: CohortSpec,
}

pub struct Scene {
    pub params: ParamBlock,
    pub arms: Vec<String>,
    pub spec: CohortSpec,
    pub observables: Vec<String>,
}

pub const PARAMS: &str = r#"
arms = ["control", "treated"]
[parameters]
b0 = { dist = "lognormal", mu = 3.9, sigma = 0.3 }
g = { dist = "normal", mean = 0.01, sd = 0.003 }
d = { dist = "uniform", low = 0.0, high = 0.03 }
[[correlations]]
a = "g"
b = "d"
rho = 0.5
"#;

/// Parses `PARAMS` followed by `cohort` (a `[cohort...]` TOML fragment).
pub fn scene(cohort: &str) -> Scene {
    scene_from(PARAMS, cohort)
}

/// Parses an `arms` + `[parameters]` fragment followed by a cohort fragment.
pub fn scene_from(params: &str, cohort: &str) -> Scene {
    let f: SceneFile = toml::from_str(&format!("{params}\n{cohort}")).expect("toy scene parses");
    let mut params = ParamBlock::from_pairs(f.parameters);
    params.correlations = f.correlations;
    Scene {
        params,
        arms: f.arms,
        spec: f.cohort,
        observables: vec!["burden".into(), "marker".into()],
    }
}

impl Scene {
    pub fn ctx(&self) -> SceneContext<'_> {
        SceneContext {
            arms: &self.arms,
            params: &self.params,
            observables: Some(&self.observables),
        }
    }
    pub fn sampler(&self, seed: u64) -> PatientSampler<'_> {
        PatientSampler::new(&self.spec, &self.ctx(), seed).expect("toy scene validates")
    }
}

/// The analytic trajectory of one patient under one arm.
pub fn trajectory(params: &ParamBlock, p: &Patient, arm: &str) -> Trajectory {
    let v = |n: &str| p.params[params.index_of(n).expect("toy parameter")];
    let rate = v("g") - if arm == "treated" { v("d") } else { 0.0 };
    let times: Vec<f64> = (0..=100).map(|k| 2.0 * k as f64).collect();
    let burden = times.iter().map(|t| v("b0") * (rate * t).exp()).collect();
    let marker = vec![10.0; times.len()];
    Trajectory {
        patient: p.id,
        arm: arm.into(),
        times,
        observables: [
            ("burden".to_string(), burden),
            ("marker".to_string(), marker),
        ]
        .into_iter()
        .collect(),
    }
}

/// A trajectory source that also records the parameters each arm was given.
pub struct Toy<'a> {
    pub params: &'a ParamBlock,
    /// (arm, patient, parameters) for every patient simulated.
    pub seen: Vec<(String, u64, Vec<f64>)>,
}

impl<'a> Toy<'a> {
    pub fn new(params: &'a ParamBlock) -> Self {
        Toy {
            params,
            seen: Vec::new(),
        }
    }
}

impl vtwin::engine::Simulator for Toy<'_> {
    fn simulate(
        &mut self,
        batch: &vtwin::engine::Batch<'_>,
    ) -> Result<vtwin::engine::Recordings, vtwin::engine::SimulatorError> {
        let arm = batch.arm.expect("cohorts name the arm");
        let patients: Vec<Patient> = batch
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| Patient {
                id: batch.member_offset as u64 + i as u64,
                covariates: vec![],
                params: row.clone(),
                assigned_arm: 0,
            })
            .collect();
        self.seen.extend(
            patients
                .iter()
                .map(|p| (arm.to_string(), p.id, p.params.clone())),
        );
        let trajs: Vec<Trajectory> = patients
            .iter()
            .map(|p| trajectory(self.params, p, arm))
            .collect();
        Ok(vtwin::methods::cohort::recordings(&trajs))
    }
}
