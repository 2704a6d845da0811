//! The data-assimilation suite: analysis time per cycle against the
//! ensemble size N and the observation count p, for the stochastic EnKF, the
//! ETKF, the LETKF and the particle filter, and one closed-loop row (the
//! 52-analysis weekly tissue twin, `scenes/tumour_twin_52w.toml`, end to
//! end on the bench's backend), and one patient-run row (`patients`:
//! N patients × M members of a one-species ODE assimilated and forecast
//! in one `vtwin assimilate` run, `bench::patients`).
//!
//! An analysis case is one `assim::Filter::analyse` (host, f64: the
//! transform, then its application to the host ensemble) of a seeded
//! Gaussian ensemble of tissue-twin-sized states (one field on 32 × 32 =
//! 1,024 values per member) with p point observations spread evenly over
//! the grid (observed value 0.5, unit variance). Two sweeps: N over the
//! member list at p = `SWEEP_P` (the PF also at N = 10⁴ by default), and p
//! over `OBS` at one N. Rows count
//! state values updated as "updates"; one analysis is one step.
//!
//! Owns: the cases and their inputs. Synthetic ensembles (seeded), so the
//! analysis timings do not depend on a forecast.

use super::report::CaseResult;
use super::timed::Timed;
use super::{BenchError, median};
use crate::engine::backend::Backend;
use crate::input::scene::Scene;
use crate::methods::assim::gauss::std_normal_matrix;
use crate::methods::assim::{
    Domain, Filter, FilterConfig, GaspariCohn, LetkfConfig, Method, ObsBatch, PfConfig, Site,
};
use crate::methods::twin::setup::ObsSource;
use crate::methods::twin::{Options, Setup};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;
use std::time::Instant;

/// Grid side: the state is one field on GRID × GRID cells.
pub const GRID: usize = 32;
/// State values per member.
pub const STATE: usize = GRID * GRID;
/// Observation counts of the p sweep.
pub const OBS: [usize; 4] = [1, 16, 256, 1024];
/// Observation count of the N sweep.
pub const SWEEP_P: usize = 64;
/// Default ensemble sizes of the N sweep.
pub const MEMBERS: [u32; 4] = [64, 256, 1024, 4096];
/// Extra N of the particle filter's N sweep by default (issue 12: a PF at
/// N = 10⁴).
pub const PF_EXTRA: u32 = 10_000;
/// Default size of the closed loop and the p sweep.
pub const LOOP_MEMBERS: u32 = 1000;
/// N of the p sweep (default).
pub const SWEEP_N: u32 = 256;
/// LETKF localisation radius, in cells (the taper is e^(−1/2) there).
pub const LETKF_RADIUS: f64 = 1.0;
/// The closed-loop scene, built in so the suite runs from any directory.
const LOOP_SCENE: &str = include_str!("../../../scenes/tumour_twin_52w.toml");

/// What the suite runs.
#[derive(Clone, Debug)]
pub struct DaOptions {
    /// N sweep (at p = `SWEEP_P`).
    pub members: Vec<u32>,
    /// Further N for the particle filter only.
    pub pf_extra: Vec<u32>,
    /// N of the p sweep.
    pub sweep_n: u32,
    /// Observation counts of the p sweep (each ≤ `STATE`).
    pub obs: Vec<usize>,
    /// Members of the closed-loop twin (none: skip it).
    pub closed_loop: Option<u32>,
    /// Patients and members per patient of the patient-run row
    /// (`bench::patients`; none: skip it).
    pub patients: Option<(u64, u32)>,
    pub repeats: u32,
}

impl DaOptions {
    /// The defaults, or with `--members` given: that N sweep, and the p sweep
    /// and the closed loop at the largest of them, at most `LOOP_MEMBERS`.
    pub fn from_members(members: &[u32], repeats: u32) -> Self {
        if members.is_empty() {
            return DaOptions {
                members: MEMBERS.to_vec(),
                pf_extra: vec![PF_EXTRA],
                sweep_n: SWEEP_N,
                obs: OBS.to_vec(),
                closed_loop: Some(LOOP_MEMBERS),
                patients: Some((super::patients::PATIENTS, super::patients::MEMBERS)),
                repeats,
            };
        }
        let max = members.iter().copied().max().unwrap_or(2).min(LOOP_MEMBERS);
        DaOptions {
            members: members.to_vec(),
            pf_extra: vec![],
            sweep_n: max,
            obs: OBS.to_vec(),
            closed_loop: Some(max.max(2)),
            patients: Some((super::patients::PATIENTS, super::patients::MEMBERS)),
            repeats,
        }
    }
}

impl DaOptions {
    /// The same closed loop without the analysis sweeps and patients.
    pub fn closed_loop_only(self) -> Self {
        DaOptions {
            members: vec![],
            pf_extra: vec![],
            obs: vec![],
            patients: None,
            ..self
        }
    }

    /// Only the patient-run row.
    pub fn patients_only(self) -> Self {
        DaOptions {
            members: vec![],
            pf_extra: vec![],
            obs: vec![],
            closed_loop: None,
            ..self
        }
    }
}

/// Site (cell centre, cell units) of state value `i`.
fn cell(i: usize) -> Site {
    Site::At([(i % GRID) as f64 + 0.5, (i / GRID) as f64 + 0.5])
}

/// A seeded Gaussian ensemble (STATE × n) and its batch: `p` observations
/// of state values `k·STATE/p` (value 0.5, unit variance), with their sites.
pub fn inputs(n: u32, p: usize, rng: &mut StdRng) -> (DMatrix<f64>, ObsBatch) {
    let ens: DMatrix<f64> = std_normal_matrix(rng, STATE, n as usize);
    let p = p.clamp(1, STATE);
    let rows: Vec<usize> = (0..p).map(|k| k * STATE / p).collect();
    let hx = DMatrix::from_fn(p, n as usize, |i, j| ens[(rows[i], j)]);
    let obs = ObsBatch::new(
        DVector::from_element(p, 0.5),
        DVector::from_element(p, 1.0),
        hx,
    )
    .with_sites(rows.iter().map(|&r| cell(r)).collect());
    (ens, obs)
}

/// The four methods as benchmarked (no inflation; the PF resamples at
/// every analysis, jitter 0.5).
pub fn methods() -> Result<Vec<(&'static str, Method)>, BenchError> {
    Ok(vec![
        ("enkf", Method::EnKF),
        ("etkf", Method::Etkf { rotate: false }),
        (
            "letkf",
            Method::Letkf(LetkfConfig {
                taper: GaspariCohn::from_radius(LETKF_RADIUS)?,
                domain: Domain::bounded(),
                state_sites: (0..STATE).map(cell).collect(),
                rotate: false,
            }),
        ),
        (
            "pf",
            Method::Pf(PfConfig {
                resample_threshold: 1.0,
                jitter: 0.5,
                state_dim: STATE,
            }),
        ),
    ])
}

fn analysis_case(
    name: &str,
    method: &Method,
    n: u32,
    p: usize,
    repeats: u32,
) -> Result<CaseResult, BenchError> {
    let mut rng = StdRng::seed_from_u64(7);
    let (ens, obs) = inputs(n, p, &mut rng);
    let mut runs = Vec::new();
    let mut form = "";
    for _ in 0..repeats.max(1) {
        let mut e = ens.clone();
        let mut f = Filter::new(FilterConfig {
            method: method.clone(),
            inflation: 1.0,
        })?;
        let t0 = Instant::now();
        let report = f.analyse(&mut e, &obs, &mut rng)?;
        runs.push(t0.elapsed().as_secs_f64());
        form = report.form.name();
    }
    let t = Timed {
        seconds: median(&runs),
        timing: "wall",
        wall: runs,
        gpu: vec![],
    };
    let updates = STATE as f64 * n as f64 / t.seconds;
    Ok(CaseResult {
        suite: "da".into(),
        case: format!("{name}-p{}", obs.len()),
        members: n,
        grid: Some(GRID as u32),
        steps: 1,
        seconds: t.seconds,
        timing: t.timing.into(),
        wall_seconds: t.wall.clone(),
        cell_updates_per_s: Some(updates),
        agent_steps_per_s: None,
        member_steps_per_s: n as f64 / t.seconds,
        bytes_per_update: 16.0,
        bytes_per_s: updates * 16.0,
        fraction_of_peak: None,
        fraction_of_copy: None,
        kernel: None,
        checksum: None,
        note: Some(format!(
            "host f64 analysis + application, {STATE} state values, {} observations, {form} form",
            obs.len()
        )),
        patients: None,
    })
}

/// The closed loop: `vtwin twin scenes/tumour_twin_52w.toml --members n`
/// without writing files (truth, free run, 52 analyses, three arms).
fn closed_loop(backend: &Backend, n: u32, repeats: u32) -> Result<CaseResult, BenchError> {
    let path = Path::new("scenes/tumour_twin_52w.toml");
    let scene = Scene::parse(path, LOOP_SCENE)?;
    let opts = Options {
        members: Some(n),
        ..Default::default()
    };
    let setup = Setup::new(&scene, &opts, ObsSource::Twin)
        .map_err(|e| BenchError::Invalid(e.to_string()))?;
    let mut runs = Vec::new();
    let mut note = String::new();
    for _ in 0..repeats.clamp(1, 2) {
        let t0 = Instant::now();
        let out = crate::methods::twin::run(&setup, backend, None, true, &mut |_, _| {})
            .map_err(|e| BenchError::Invalid(format!("closed loop: {e}")))?;
        runs.push(t0.elapsed().as_secs_f64());
        if let Some(s) = &out.scores {
            // Where the transforms were applied (GPU backend only).
            let apps: Vec<_> = out
                .cycles
                .iter()
                .filter_map(|c| c.analysis.application.as_ref())
                .collect();
            let applied = if apps.is_empty() {
                String::new()
            } else {
                format!(
                    "; transforms on the device {}/{}, states read back at {}",
                    apps.iter().filter(|a| a.on_device).count(),
                    apps.len(),
                    apps.iter().filter(|a| a.state_read_back.is_some()).count()
                )
            };
            note = format!(
                "tumour_twin_52w end to end: {} analyses + 3-arm forecast; rmse_analysis {:.4}, rmse_free {:.4}{applied}",
                out.cycles.len(),
                s.rmse_analysis,
                s.rmse_free
            );
        }
    }
    let seconds = median(&runs);
    let steps = setup.horizon_step.unwrap_or(0);
    Ok(CaseResult {
        suite: "da".into(),
        case: "closed-loop-52w".into(),
        members: n,
        grid: Some(GRID as u32),
        steps,
        seconds,
        timing: "wall".into(),
        wall_seconds: runs,
        cell_updates_per_s: Some(STATE as f64 * n as f64 * steps as f64 / seconds),
        agent_steps_per_s: None,
        member_steps_per_s: n as f64 * steps as f64 / seconds,
        bytes_per_update: 0.0,
        bytes_per_s: 0.0,
        fraction_of_peak: None,
        fraction_of_copy: None,
        kernel: None,
        checksum: None,
        note: Some(note),
        patients: None,
    })
}

pub fn suite(
    backend: &Backend,
    o: &DaOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<CaseResult>, BenchError> {
    let mut rows = Vec::new();
    for (name, method) in methods()? {
        let mut cases: Vec<(u32, usize)> = o.members.iter().map(|&n| (n, SWEEP_P)).collect();
        if name == "pf" {
            cases.extend(o.pf_extra.iter().map(|&n| (n, SWEEP_P)));
        }
        cases.extend(o.obs.iter().map(|&p| (o.sweep_n, p)));
        cases.dedup();
        for (n, p) in cases {
            if n < 2 {
                continue;
            }
            log(&format!("da {name}, {n} members, {p} observations"));
            rows.push(analysis_case(name, &method, n, p, o.repeats)?);
        }
    }
    if let Some(n) = o.closed_loop {
        log(&format!("da closed loop, tumour_twin_52w, {n} members"));
        rows.push(closed_loop(backend, n, o.repeats)?);
    }
    if let Some((n, m)) = o.patients {
        log(&format!("da patients, {n} patients × {m} members"));
        rows.push(super::patients::case(backend, n, m)?);
    }
    Ok(rows)
}
