//! What `vtwin bench` runs: the suites and their sizes as one typed
//! [`BenchOptions`], checked by [`BenchOptions::validate`] before any work
//! ([`OptionsError`] names the flag), and [`run`], which runs the chosen
//! suites on one backend into a [`Report`].
//!
//! Owns: the suite defaults (rd 16, 256, 4096 members and fused 4, 8; abm
//! 64, 1024 members; peer 256 members, 200 steps).

use super::BenchError;
use super::abm::{self, AbmOptions};
use super::da::{self, DaOptions};
use super::peak::peak_for;
use super::rd::{self, RdOptions};
use super::report::{Report, cpu_description};
use crate::engine::backend::{Backend, MAX_FUSED_STEPS};

/// A benchmark suite (`--suite`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// Reaction-diffusion kernels, observation, one large member, copy
    /// bandwidth, scaling over members.
    Rd,
    /// Agent-based models.
    Abm,
    /// Data assimilation (ETKF/EnKF analysis, the closed loop, patients).
    Da,
    /// The pinned Gray–Scott problem at one size.
    Peer,
    /// rd, abm and da.
    All,
}

/// Options of a benchmark run; the fields are `vtwin bench`'s flags.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub suite: Suite,
    /// Peak memory bandwidth in GB/s (default: the table of known GPUs).
    pub peak_gbs: Option<f64>,
    /// Largest ensemble (default: by backend, `rd::default_max_members`).
    pub max_members: Option<u32>,
    /// Side of the square grid (16..=8192).
    pub grid: u32,
    /// Agents per member for the abm suite.
    pub agents: Vec<u32>,
    /// Most agents in total for one abm case.
    pub max_agents: Option<u64>,
    /// Ensemble sizes (empty: each suite's default).
    pub members: Vec<u32>,
    pub steps: Option<u64>,
    /// Timed runs per case; the median is reported.
    pub repeats: u32,
    /// Fused-kernel steps per dispatch (empty: the suite's default).
    pub fused: Vec<u32>,
    pub no_scaling: bool,
    pub da_loop_only: bool,
    pub da_patients: u64,
    pub da_patient_members: u32,
    pub da_patients_only: bool,
    /// Side of the one-member rd case (0 skips it; else 16..=8192).
    pub single_grid: u32,
}

/// A benchmark option out of range, said with its flag.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OptionsError {
    #[error("--repeats must be at least 1")]
    Repeats,
    #[error("--peak-gbs must be a positive number of GB/s, got {0}")]
    PeakGbs(f64),
    #[error("--members: every ensemble size must be at least 1")]
    Members,
    #[error("--max-members must be at least 1")]
    MaxMembers,
    #[error("--steps must be at least 1")]
    Steps,
    #[error("--da-patient-members must be at least 2, got {0}")]
    PatientMembers(u32),
    #[error("--single-grid must be 0 (skip) or 16..=8192, got {0}")]
    SingleGrid(u32),
    #[error("--grid must be 16..=8192, got {0}")]
    Grid(u32),
    #[error("--fused: steps per dispatch must be 1..={max}, got {got}", max = MAX_FUSED_STEPS)]
    Fused { got: u32 },
}

impl BenchOptions {
    /// Checks every option, in flag order, before anything runs.
    pub fn validate(&self) -> Result<(), OptionsError> {
        use OptionsError as E;
        let grid_ok = |g: u32| (16..=8192).contains(&g);
        match self {
            o if o.repeats == 0 => Err(E::Repeats),
            o if o.peak_gbs.is_some_and(|p| !(p > 0.0 && p.is_finite())) => {
                Err(E::PeakGbs(o.peak_gbs.unwrap_or_default()))
            }
            o if o.members.contains(&0) => Err(E::Members),
            o if o.max_members == Some(0) => Err(E::MaxMembers),
            o if o.steps == Some(0) => Err(E::Steps),
            o if o.da_patient_members < 2 => Err(E::PatientMembers(o.da_patient_members)),
            o if o.single_grid != 0 && !grid_ok(o.single_grid) => Err(E::SingleGrid(o.single_grid)),
            o if !grid_ok(o.grid) => Err(E::Grid(o.grid)),
            o => match o.fused.iter().find(|&&k| k == 0 || k > MAX_FUSED_STEPS) {
                Some(&got) => Err(E::Fused { got }),
                None => Ok(()),
            },
        }
    }

    fn wants(&self, s: Suite) -> bool {
        self.suite == s || (self.suite == Suite::All && s != Suite::Peer)
    }

    fn members_or(&self, default: &[u32]) -> Vec<u32> {
        if self.members.is_empty() {
            default.to_vec()
        } else {
            self.members.clone()
        }
    }
}

/// Runs the suites of `o` (validated first) on `backend`, logging each
/// case to `log`, into the report `vtwin bench` prints and saves.
pub fn run(
    backend: &Backend,
    o: &BenchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    o.validate()?;
    let adapter = backend.adapter();
    let peak = peak_for(adapter.as_ref().map(|x| x.name.as_str()), o.peak_gbs);
    let max_members = o
        .max_members
        .unwrap_or_else(|| rd::default_max_members(backend));
    let (mut results, mut scaling, mut unavailable) = (Vec::new(), Vec::new(), Vec::new());
    if o.wants(Suite::Rd) {
        let fused = if o.fused.is_empty() {
            vec![4, 8]
        } else {
            o.fused.clone()
        };
        let ro = RdOptions {
            grid: o.grid,
            members: o.members_or(&[16, 256, 4096]),
            steps: o.steps,
            repeats: o.repeats,
            fused,
            max_members,
            scaling: !o.no_scaling,
            single_grid: o.single_grid,
        };
        let (rows, curves) = rd::suite(backend, &ro, peak.as_ref(), log)?;
        results.extend(rows);
        scaling.extend(curves);
    }
    if o.wants(Suite::Peer) {
        let members = o.members.first().copied().unwrap_or(256);
        let gpu = matches!(backend, Backend::Gpu(_));
        let fused = if gpu { o.fused.first().copied() } else { None };
        log(&format!(
            "peer problem, {members} members, {0}×{0} grid",
            o.grid
        ));
        let steps = o.steps.unwrap_or(200);
        let peer = rd::peer_case(
            backend,
            members,
            o.grid,
            steps,
            o.repeats,
            fused,
            peak.as_ref(),
        );
        results.push(peer?);
    }
    if o.wants(Suite::Abm) {
        let hardware = backend.adapter().is_some_and(|a| !a.is_software());
        let ao = AbmOptions {
            members: o.members_or(&[64, 1024]),
            agents: o.agents.clone(),
            steps: o.steps.unwrap_or(if hardware { 50 } else { 5 }),
            repeats: o.repeats,
            max_total_agents: o
                .max_agents
                .unwrap_or_else(|| abm::default_max_agents(backend)),
        };
        let (rows, skipped) = abm::suite(backend, &ao, log)?;
        results.extend(rows);
        unavailable.extend(skipped);
    }
    if o.wants(Suite::Da) {
        let mut d = DaOptions::from_members(&o.members, o.repeats);
        if o.da_loop_only {
            d = d.closed_loop_only();
        }
        if o.da_patients_only {
            d = d.patients_only();
        }
        if d.patients.is_some() {
            d.patients = (o.da_patients > 0).then_some((o.da_patients, o.da_patient_members));
        }
        results.extend(da::suite(backend, &d, log)?);
    }
    Ok(Report {
        adapter: match &adapter {
            Some(s) => serde_json::to_value(s)?,
            None => cpu_description(),
        },
        backend: backend.name().into(),
        commit: crate::drivers::manifest::commit().map(str::to_string),
        date: crate::drivers::manifest::rfc3339(crate::drivers::manifest::now()),
        vtwin_version: env!("CARGO_PKG_VERSION").into(),
        peak,
        results,
        scaling,
        unavailable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> BenchOptions {
        BenchOptions {
            suite: Suite::All,
            peak_gbs: None,
            max_members: None,
            grid: 64,
            agents: vec![1000],
            max_agents: None,
            members: vec![],
            steps: None,
            repeats: 3,
            fused: vec![],
            no_scaling: false,
            da_loop_only: false,
            da_patients: 10,
            da_patient_members: 2,
            da_patients_only: false,
            single_grid: 512,
        }
    }

    #[test]
    fn each_out_of_range_option_is_named() {
        assert_eq!(ok().validate(), Ok(()));
        let bad = |f: fn(&mut BenchOptions)| {
            let mut o = ok();
            f(&mut o);
            o.validate().unwrap_err().to_string()
        };
        assert_eq!(bad(|o| o.repeats = 0), "--repeats must be at least 1");
        assert_eq!(
            bad(|o| o.peak_gbs = Some(f64::NAN)),
            "--peak-gbs must be a positive number of GB/s, got NaN"
        );
        assert_eq!(bad(|o| o.grid = 15), "--grid must be 16..=8192, got 15");
        assert_eq!(
            bad(|o| o.single_grid = 8193),
            "--single-grid must be 0 (skip) or 16..=8192, got 8193"
        );
        let mut o = ok();
        o.single_grid = 0;
        assert_eq!(o.validate(), Ok(()));
        assert_eq!(
            bad(|o| o.fused = vec![4, 0]),
            format!("--fused: steps per dispatch must be 1..={MAX_FUSED_STEPS}, got 0")
        );
        assert_eq!(
            bad(|o| o.da_patient_members = 1),
            "--da-patient-members must be at least 2, got 1"
        );
    }
}
