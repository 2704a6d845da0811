//! `vtwin run SCENE`: the flags of a run, handed to
//! [`drivers::run::run`](crate::drivers::run::run), and its summary.

use super::EngineArgs;
use crate::drivers::job::MemberFailure;
use crate::drivers::run::RunRequest;
use crate::drivers::snapshots::MontageScale;
use crate::output::io::TableFormat;
use anyhow::Result;
use std::path::PathBuf;

pub use crate::drivers::job::default_out;
pub use crate::drivers::run::shift_members;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scene file (TOML).
    pub scene: PathBuf,
    /// Ensemble size (default: the scene's `ensemble.members`).
    #[arg(long)]
    pub members: Option<u32>,
    /// Seed (default: the scene's `ensemble.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: runs/<scene>-<timestamp>). Refused if it exists, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// Also write the final fields (fields.npy) and montage.png.
    #[arg(long)]
    pub save_fields: bool,
    /// With --save-fields: also save the fields at every K-th observation
    /// (the first, every K-th after it and the last) as fields_t<step>.npy
    /// and montage_t<step>.png, a time-lapse.
    #[arg(long, value_name = "K")]
    pub every: Option<u32>,
    /// The field montage.png shows (default: the model's first field).
    #[arg(long, value_name = "NAME")]
    pub montage_field: Option<String>,
    /// One colour scale for all montage panels, or one per panel.
    #[arg(long, value_enum, default_value = "shared")]
    pub montage_scale: MontageScale,
    /// Treatment arm to simulate (default: the first); `all` runs every arm
    /// of the scene, the tables gaining a first column `arm`.
    #[arg(long)]
    pub arm: Option<String>,
    /// Draw members' parameters from a posterior directory (written by
    /// `vtwin calibrate`) instead of the scene's distributions.
    #[arg(long, value_name = "DIR")]
    pub posterior: Option<PathBuf>,
    /// What a diverged or saturated member means for the exit code.
    #[arg(long, value_enum, default_value = "continue")]
    pub on_member_error: MemberFailure,
    /// Take up to K steps per dispatch with the fused multi-step kernel
    /// (GPU backend; reaction-diffusion models whose kinetics read neither
    /// step nor time). Default: the single-step kernel.
    #[arg(long, value_name = "K")]
    pub fused: Option<u32>,
    /// Run only shard I of K (counted from 0) of the ensemble: members
    /// ⌊N·I/K⌋ .. ⌊N·(I+1)/K⌋, with their global indices (member m's results
    /// depend only on seed and m). Join the K shard folders with `vtwin merge`.
    #[arg(long, value_name = "I/K")]
    pub shard: Option<crate::drivers::shard::Shard>,
    /// Save a checkpoint (member states, parameters, statuses, step and the
    /// observations so far) every N steps into the run's temporary folder;
    /// an interrupted run continues with `vtwin resume OUT`, and the last
    /// checkpoint stays in the finished folder as checkpoint.vtc (for
    /// `vtwin fork`).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl RunArgs {
    /// The library's request for these flags.
    pub fn request(&self, out: PathBuf) -> RunRequest {
        RunRequest {
            scene: self.scene.clone(),
            members: self.members,
            seed: self.seed,
            out,
            force: self.force,
            format: self.format,
            save_fields: self.save_fields,
            every: self.every,
            montage_field: self.montage_field.clone(),
            montage_scale: self.montage_scale,
            arm: self.arm.clone(),
            posterior: self.posterior.clone(),
            fused: self.fused,
            shard: self.shard,
            checkpoint_every: self.checkpoint_every,
            backend: self.engine.backend,
            adapter: self.engine.adapter.clone(),
            batch_size: self.engine.batch_size,
            on_member_error: self.on_member_error,
        }
    }
}

/// Returns the process exit code.
pub fn run(args: &RunArgs) -> Result<i32> {
    run_with(args, None)
}

/// `run`, or with `resume` the continuation of an interrupted run in its
/// kept temporary folder (`vtwin resume`). Returns the process exit code.
pub fn run_with(args: &RunArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let req = args.request(super::out_dir(&args.out, resume, &args.scene, "run"));
    let done = crate::drivers::run::run(&req, resume, &mut super::Printer::new())?;
    println!("{}", done.dir.display());
    let (failed, members) = (done.members_failed, done.members);
    if failed > 0 {
        eprintln!(
            "vtwin run: {failed} of {members} members failed ({} diverged, {} saturated)",
            done.diverged, done.saturated
        );
        if done.failed {
            super::report::print_summary("run", &done.dir);
            return Ok(3);
        }
    } else {
        eprintln!(
            "vtwin run: all {members} members ok; outputs in {}",
            done.dir.display()
        );
    }
    super::report::print_summary("run", &done.dir);
    Ok(0)
}
