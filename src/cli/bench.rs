//! `vtwin bench`: runs the benchmark suites (rd, abm, da, peer) on one
//! backend and prints a table; `--json FILE` (or `-` for stdout, the table
//! then going to stderr) writes the report (`bench::report`).

use super::write_json_out;
use crate::backend::Backend;
use crate::bench::peak::peak_for;
use crate::bench::rd::{self, RdOptions};
use crate::bench::report::{Report, cpu_description};
use crate::engine::BackendChoice;
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// Reaction-diffusion: single-step and fused kernels, per-step
    /// synchronisation, observation, one large member, a copy-bandwidth
    /// row, scaling over members.
    Rd,
    /// Agent-based models.
    Abm,
    /// Data assimilation (ETKF/EnKF analysis).
    Da,
    /// The pinned Gray–Scott problem at one size (what compare.sh runs).
    Peer,
    /// rd, abm and da.
    All,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "all")]
    pub suite: Suite,
    /// auto: a hardware GPU if there is one, else the CPU backend; gpu: any
    /// adapter (lavapipe included); cpu: the CPU backend.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick the adapter whose name contains this (else WGPU_ADAPTER_NAME).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Write the report as JSON to this file (`-`: stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file.
    #[arg(long)]
    pub force: bool,
    /// Peak memory bandwidth in GB/s (default: the table of known GPUs).
    #[arg(long)]
    pub peak_gbs: Option<f64>,
    /// Largest ensemble (default 65,536 on a hardware GPU, 4,096 on the CPU
    /// backend and software adapters).
    #[arg(long)]
    pub max_members: Option<u32>,
    /// Side of the square grid.
    #[arg(long, default_value_t = 64)]
    pub grid: u32,
    /// Agents per member for the abm suite, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub agents: Vec<u32>,
    /// Most agents in total for one abm case (default 2²⁰ ≈ 10⁶ on the CPU
    /// backend and software adapters, 2·10⁷ on a hardware GPU).
    #[arg(long)]
    pub max_agents: Option<u64>,
    /// Ensemble sizes, comma-separated (rd default 16,256,4096; abm default
    /// 64,1024; peer default 256; da default 64,256,1024,4096, and the
    /// closed loop at 1000 or the largest given).
    #[arg(long, value_delimiter = ',')]
    pub members: Vec<u32>,
    /// Steps per run (rd default: sized to the device; peer default 200).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Timed runs per case; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: u32,
    /// Fused-kernel steps per dispatch to measure, comma-separated (GPU;
    /// rd default 4,8; peer default none, i.e. the single-step kernel).
    #[arg(long, value_delimiter = ',')]
    pub fused: Vec<u32>,
    /// Skip the scaling curve over members.
    #[arg(long)]
    pub no_scaling: bool,
    /// Accepted for compatibility: the f16-storage experiment was removed
    /// (docs/performance.md says why), so there is nothing to skip.
    #[arg(long)]
    pub no_f16: bool,
    /// da suite: run only the closed-loop row (`tumour_twin_52w` end to
    /// end at the largest --members, default 1000), not the analysis
    /// sweeps.
    #[arg(long)]
    pub da_loop_only: bool,
    /// da suite: patients of the patient-run row (`patients`: a
    /// one-species ODE, 8 readings and 2 forecasts per patient; default
    /// 1,000; 0 skips it; issue 11's benchmark is 10000).
    #[arg(long, default_value_t = crate::bench::patients::PATIENTS)]
    pub da_patients: u64,
    /// da suite: members per patient of the `patients` row.
    #[arg(long, default_value_t = crate::bench::patients::MEMBERS)]
    pub da_patient_members: u32,
    /// da suite: run only the `patients` row.
    #[arg(long, conflicts_with = "da_loop_only")]
    pub da_patients_only: bool,
    /// Side of the one-member rd case (`single-member`; 0 skips it).
    #[arg(long, default_value_t = 512)]
    pub single_grid: u32,
}

fn check_args(a: &BenchArgs) -> Result<()> {
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if let Some(p) = a.peak_gbs
        && !(p > 0.0 && p.is_finite())
    {
        bail!("--peak-gbs must be a positive number of GB/s, got {p}");
    }
    if a.members.contains(&0) {
        bail!("--members: every ensemble size must be at least 1");
    }
    if a.max_members == Some(0) {
        bail!("--max-members must be at least 1");
    }
    if a.steps == Some(0) {
        bail!("--steps must be at least 1");
    }
    if a.da_patient_members < 2 {
        bail!(
            "--da-patient-members must be at least 2, got {}",
            a.da_patient_members
        );
    }
    if a.single_grid != 0 && (a.single_grid < 16 || a.single_grid > 8192) {
        bail!(
            "--single-grid must be 0 (skip) or 16..=8192, got {}",
            a.single_grid
        );
    }
    if a.grid < 16 || a.grid > 8192 {
        bail!("--grid must be 16..=8192, got {}", a.grid);
    }
    if let Some(k) = a
        .fused
        .iter()
        .find(|&&k| k == 0 || k > crate::backend::MAX_FUSED_STEPS)
    {
        bail!(
            "--fused: steps per dispatch must be 1..={}, got {k}",
            crate::backend::MAX_FUSED_STEPS
        );
    }
    Ok(())
}

pub fn run(a: &BenchArgs) -> Result<()> {
    check_args(a)?;
    if let Some(p) = &a.json {
        super::check_output_file(p, a.force, &[])?;
    }
    let to_stdout = a.json.as_deref() == Some(std::path::Path::new("-"));
    let backend = Backend::open(a.backend, a.adapter.as_deref(), &mut |m| eprintln!("{m}"))?;
    let adapter = backend.adapter();
    let peak = peak_for(adapter.as_ref().map(|x| x.name.as_str()), a.peak_gbs);
    let gpu = matches!(backend, Backend::Gpu(_));
    let max_members = a
        .max_members
        .unwrap_or_else(|| rd::default_max_members(&backend));
    let mut log = |m: &str| eprintln!("vtwin bench: {m}");
    let mut results = Vec::new();
    let mut scaling = Vec::new();
    let mut unavailable = Vec::new();
    let wants = |s: Suite| a.suite == s || (a.suite == Suite::All && s != Suite::Peer);
    if wants(Suite::Rd) {
        let o = RdOptions {
            grid: a.grid,
            members: if a.members.is_empty() {
                vec![16, 256, 4096]
            } else {
                a.members.clone()
            },
            steps: a.steps,
            repeats: a.repeats,
            fused: if a.fused.is_empty() {
                vec![4, 8]
            } else {
                a.fused.clone()
            },
            max_members,
            scaling: !a.no_scaling,
            single_grid: a.single_grid,
        };
        let (rows, curves) = rd::suite(&backend, &o, peak.as_ref(), &mut log)?;
        results.extend(rows);
        scaling.extend(curves);
    }
    if wants(Suite::Peer) {
        let members = a.members.first().copied().unwrap_or(256);
        let fused = if gpu { a.fused.first().copied() } else { None };
        log(&format!(
            "peer problem, {members} members, {}×{} grid",
            a.grid, a.grid
        ));
        results.push(rd::peer_case(
            &backend,
            members,
            a.grid,
            a.steps.unwrap_or(200),
            a.repeats,
            fused,
            peak.as_ref(),
        )?);
    }
    if wants(Suite::Abm) {
        let hardware = backend.adapter().is_some_and(|a| !a.is_software());
        let o = crate::bench::abm::AbmOptions {
            members: if a.members.is_empty() {
                vec![64, 1024]
            } else {
                a.members.clone()
            },
            agents: a.agents.clone(),
            steps: a.steps.unwrap_or(if hardware { 50 } else { 5 }),
            repeats: a.repeats,
            max_total_agents: a
                .max_agents
                .unwrap_or_else(|| crate::bench::abm::default_max_agents(&backend)),
        };
        let (rows, skipped) = crate::bench::abm::suite(&backend, &o, &mut log)?;
        results.extend(rows);
        unavailable.extend(skipped);
    }
    if wants(Suite::Da) {
        let mut o = crate::bench::da::DaOptions::from_members(&a.members, a.repeats);
        if a.da_loop_only {
            o = o.closed_loop_only();
        }
        if a.da_patients_only {
            o = o.patients_only();
        }
        if o.patients.is_some() {
            o.patients = (a.da_patients > 0).then_some((a.da_patients, a.da_patient_members));
        }
        results.extend(crate::bench::da::suite(&backend, &o, &mut log)?);
    }
    let report = Report {
        adapter: match &adapter {
            Some(s) => serde_json::to_value(s)?,
            None => cpu_description(),
        },
        backend: backend.name().into(),
        commit: crate::manifest::commit().map(str::to_string),
        date: crate::manifest::rfc3339(crate::manifest::now()),
        vtwin_version: env!("CARGO_PKG_VERSION").into(),
        peak,
        results,
        scaling,
        unavailable,
    };
    if to_stdout {
        eprint!("{}", report.table());
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &a.json {
        write_json_out(path, &serde_json::to_value(&report)?)?;
    }
    Ok(())
}
