//! The patient-run row of the da suite (issue 11's speed benchmark): N
//! patients × M members of a one-species ODE (u' = r·u on a single site,
//! `r` estimated, the volume analysed in log space; the scene below, the
//! patient-run test scene `tests/data/patients_growth.toml` on one site),
//! each with 8 readings at irregular times (10 % multiplicative noise,
//! values at or below 0.01 recorded as 0, i.e. censored) and 2 requested
//! forecasts, assimilated and forecast in one `vtwin assimilate` run (the
//! command's driver, `drivers::assimilate`, tables written as CSV into a
//! temporary folder that is removed afterwards).
//!
//! The row's `seconds` is the whole command (reading the files, the run,
//! writing the tables); `patients.run_seconds` is the run itself (every
//! patient's forecasts and analyses until the last stop), and
//! `patients.analysis_seconds_per_patient` that over N. The counts come
//! from the finished folder's manifest, not from the inputs.
//!
//! Owns: the synthetic cohort (seeded, so every machine times the same
//! data) and the row.

use super::BenchError;
use super::report::CaseResult;
use crate::drivers::assimilate::{self as driver, Hooks, Prepared, Request};
use crate::engine::backend::Backend;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Default size of the row (`vtwin bench --suite da`); issue 11's target
/// is `--da-patients 10000`.
pub const PATIENTS: u64 = 1000;
/// Members per patient (default).
pub const MEMBERS: u32 = 128;
/// Readings per patient; a further `REQUESTS` times are forecast.
pub const READINGS: usize = 8;
pub const REQUESTS: usize = 2;

/// The one-species ODE of the row.
const SCENE: &str = r#"description = "Per-patient exponential growth or shrinkage of a volume (bench)"

[model]
kind = "custom"
species = ["u"]
reactions = { u = "r * u" }

[grid]
nx = 1
ny = 1
dx = 1.0

[time]
dt = 0.05
end = 10.0

[ensemble]
members = 128
seed = 11

[parameters]
r = { dist = "uniform", low = -0.4, high = 0.3 }

[initial]
background = { u = 0.5 }

[observe]
every = 20

[[observables]]
name = "volume"
kind = "mean"
field = "u"

[assimilation]
method = "etkf"
init_mean = 0.5
init_var = [0.01]
log_fields = ["u"]
log_observables = ["volume"]

[[assimilation.observe]]
observable = "volume"
rel_sd = 0.1
detection_limit = 0.01
every = 1.0

[[assimilation.estimate]]
param = "r"
bounds = [-2.0, 2.0]
"#;

/// What the row counted and how long the run took (the JSON's `patients`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatientsRow {
    pub patients: u64,
    pub members_per_patient: u64,
    /// Readings in the observation file.
    pub observations: u64,
    pub forecast_requests: u64,
    pub failed: u64,
    /// The run without reading inputs and writing tables.
    pub run_seconds: f64,
    /// `run_seconds` / patients.
    pub analysis_seconds_per_patient: f64,
    /// CPU time of the process (all threads) during the command, where
    /// the platform reports it.
    pub cpu_seconds: Option<f64>,
}

/// The observation and request files of `n` patients (seeded).
pub fn cohort(n: u64) -> (String, String) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut obs = String::from("patient,time,observable,location,value,sd\n");
    let mut at = String::from("patient,time,observable\n");
    for p in 0..n {
        let r = -0.4 + 0.7 * rng.random::<f64>();
        let v0 = 0.5 + 0.05 * (rng.random::<f64>() - 0.5);
        let mut t = 0.5 + rng.random::<f64>();
        for k in 0..READINGS + REQUESTS {
            // Box–Muller: one standard normal from two uniforms.
            let (u1, u2) = (rng.random::<f64>(), rng.random::<f64>());
            let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let mut y = v0 * (r * t).exp() * (0.1 * z).exp();
            if y <= 0.01 {
                y = 0.0;
            }
            if k < READINGS {
                let _ = writeln!(obs, "P{p:05},{t:.4},volume,,{y:.6e},");
            } else {
                let _ = writeln!(at, "P{p:05},{t:.4},volume");
            }
            t += 0.5 + 1.5 * rng.random::<f64>();
        }
    }
    (obs, at)
}

/// Process CPU seconds (user + system, all threads).
#[cfg(unix)]
fn cpu_seconds() -> Option<f64> {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given and returns 0 on success.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { u.assume_init() };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(s(u.ru_utime) + s(u.ru_stime))
}

#[cfg(not(unix))]
fn cpu_seconds() -> Option<f64> {
    None
}

/// A temporary folder this row owns, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn invalid(what: &str) -> impl Fn(std::io::Error) -> BenchError + '_ {
    move |e| BenchError::Invalid(format!("patients: {what}: {e}"))
}

/// Runs the row: `n` patients × `m` members on `backend`.
pub fn case(backend: &Backend, n: u64, m: u32) -> Result<CaseResult, BenchError> {
    if n == 0 || m < 2 {
        return Err(BenchError::Invalid(format!(
            "patients: need at least 1 patient and 2 members per patient, got {n} × {m}"
        )));
    }
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "vtwin-bench-patients-{}-{n}x{m}",
        std::process::id()
    )));
    let dir = &scratch.0;
    std::fs::create_dir_all(dir).map_err(invalid("creating a temporary folder"))?;
    let (obs, at) = cohort(n);
    let write = |name: &str, text: &str| -> Result<PathBuf, BenchError> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(invalid("writing the cohort"))?;
        Ok(p)
    };
    let req = Request {
        scene: write("ode.toml", SCENE)?,
        obs: write("obs.csv", &obs)?,
        filter: crate::methods::twin::Options {
            members: Some(m),
            ..Default::default()
        },
        cycles: None,
        forecast_at: Some(write("at.csv", &at)?),
        quantiles: vec![],
        members_out: false,
        population_prior: "none".into(),
        events: None,
        shard: None,
        checkpoint_every: None,
        out: dir.join("run"),
        force: true,
        format: Some(crate::output::io::TableFormat::Csv),
        batch_size: None,
    };
    let fail = |e: driver::AssimilateError| BenchError::Invalid(format!("patients: {e}"));
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let job = match driver::prepare(&req, &mut |_| {}).map_err(fail)? {
        Prepared::Patients(job) => job,
        Prepared::Single(_) => {
            return Err(BenchError::Invalid(
                "patients: the cohort was not read as a patient run".into(),
            ));
        }
    };
    let mut run_start = None;
    let mut run_end = None;
    let out = driver::run_patients(
        &job,
        backend,
        Hooks {
            progress: &mut |_, _| {
                run_start.get_or_insert_with(Instant::now);
            },
            finished: &mut || run_end = Some(Instant::now()),
            log: &mut |_| {},
        },
        None,
    )
    .map_err(fail)?;
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);
    let run_seconds = match (run_start, run_end) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => seconds,
    };
    let counts = manifest_counts(&out)?;
    let row = PatientsRow {
        run_seconds,
        analysis_seconds_per_patient: run_seconds / counts.patients.max(1) as f64,
        cpu_seconds: cpu,
        ..counts
    };
    Ok(to_case(row, seconds))
}

/// The counts a patient run's manifest records.
fn manifest_counts(out: &Path) -> Result<PatientsRow, BenchError> {
    let path = out.join(crate::output::io::rundir::MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(invalid("reading the manifest"))?;
    let m: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BenchError::Invalid(format!("patients: {}: {e}", path.display())))?;
    let get = |p: &str| {
        m.pointer(p)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| BenchError::Invalid(format!("patients: {} lacks {p}", path.display())))
    };
    Ok(PatientsRow {
        patients: get("/patients/count")?,
        members_per_patient: get("/patients/members_per_patient")?,
        observations: get("/observations/records")?,
        forecast_requests: get("/patients/forecast_requests")?,
        failed: get("/patients/failed")?,
        run_seconds: 0.0,
        analysis_seconds_per_patient: 0.0,
        cpu_seconds: None,
    })
}

fn to_case(row: PatientsRow, seconds: f64) -> CaseResult {
    CaseResult {
        suite: "da".into(),
        case: "patients".into(),
        members: row.members_per_patient as u32,
        grid: None,
        steps: 0,
        seconds,
        timing: "wall".into(),
        wall_seconds: vec![seconds],
        cell_updates_per_s: None,
        agent_steps_per_s: None,
        member_steps_per_s: 0.0,
        bytes_per_update: 0.0,
        bytes_per_s: 0.0,
        fraction_of_peak: None,
        fraction_of_copy: None,
        kernel: None,
        checksum: None,
        note: Some(format!(
            "{} patients × {} members, {} readings, {} forecasts, {} failed: run {:.2} s, {:.3} ms per patient{}",
            row.patients,
            row.members_per_patient,
            row.observations,
            row.forecast_requests,
            row.failed,
            row.run_seconds,
            1e3 * row.analysis_seconds_per_patient,
            row.cpu_seconds
                .map(|c| format!(", CPU {c:.1} s"))
                .unwrap_or_default()
        )),
        patients: Some(row),
    }
}
