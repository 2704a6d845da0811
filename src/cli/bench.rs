//! `vtwin bench`: runs the benchmark suites (rd, abm, da, peer) on one
//! backend and prints a table; `--json FILE` (or `-` for stdout, the table
//! then going to stderr) writes the report (`bench::report`). The suites
//! are [`bench::options::run`](crate::drivers::bench::options::run).

use super::write_json_out;
use crate::drivers::bench::options::{BenchOptions, Suite};
use crate::engine::BackendChoice;
use crate::engine::backend::Backend;
use anyhow::Result;
use std::path::PathBuf;

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
    #[arg(long, default_value_t = crate::drivers::bench::patients::PATIENTS)]
    pub da_patients: u64,
    /// da suite: members per patient of the `patients` row.
    #[arg(long, default_value_t = crate::drivers::bench::patients::MEMBERS)]
    pub da_patient_members: u32,
    /// da suite: run only the `patients` row.
    #[arg(long, conflicts_with = "da_loop_only")]
    pub da_patients_only: bool,
    /// Side of the one-member rd case (`single-member`; 0 skips it).
    #[arg(long, default_value_t = 512)]
    pub single_grid: u32,
}

impl BenchArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> BenchOptions {
        BenchOptions {
            suite: self.suite,
            peak_gbs: self.peak_gbs,
            max_members: self.max_members,
            grid: self.grid,
            agents: self.agents.clone(),
            max_agents: self.max_agents,
            members: self.members.clone(),
            steps: self.steps,
            repeats: self.repeats,
            fused: self.fused.clone(),
            no_scaling: self.no_scaling,
            da_loop_only: self.da_loop_only,
            da_patients: self.da_patients,
            da_patient_members: self.da_patient_members,
            da_patients_only: self.da_patients_only,
            single_grid: self.single_grid,
        }
    }
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let options = a.options();
    options.validate()?;
    if let Some(p) = &a.json {
        super::check_output_file(p, a.force, &[])?;
    }
    let to_stdout = a.json.as_deref() == Some(std::path::Path::new("-"));
    let backend = Backend::open(a.backend, a.adapter.as_deref(), &mut |m| eprintln!("{m}"))?;
    let mut log = |m: &str| eprintln!("vtwin bench: {m}");
    let report = crate::drivers::bench::options::run(&backend, &options, &mut log)?;
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
