//! `vtwin check SCENE`, `vtwin models`, `vtwin adapters`: validate and
//! describe without running anything. The checks and the texts are
//! [`drivers::check`](crate::drivers::check); this prints them.

use super::EngineArgs;
use crate::drivers::check::CheckRequest;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scene file (TOML) to validate.
    pub scene: PathBuf,
    /// Ensemble size to plan for (default: the scene's `ensemble.members`).
    #[arg(long)]
    pub members: Option<u32>,
    /// Seed (default: the scene's `ensemble.seed`); members' parameters depend on it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Treatment arm to check (default: the scene's first arm).
    #[arg(long)]
    pub arm: Option<String>,
    /// Draw members' parameters from a posterior directory (written by
    /// `vtwin calibrate`) instead of the scene's distributions.
    #[arg(long, value_name = "DIR")]
    pub posterior: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn check(args: &CheckArgs) -> Result<()> {
    let req = CheckRequest {
        scene: args.scene.clone(),
        members: args.members,
        seed: args.seed,
        arm: args.arm.clone(),
        posterior: args.posterior.clone(),
        backend: args.engine.backend,
        adapter: args.engine.adapter.clone(),
        batch_size: args.engine.batch_size,
    };
    use crate::drivers::check::CheckError;
    // A scene error stays itself in the chain (not behind the transparent
    // wrapper), so hosts that look for it (the Python package's
    // `vtwin.SceneError`) find it.
    let report =
        crate::drivers::check::check(&req, &mut |m| eprintln!("{m}")).map_err(|e| match e {
            CheckError::Scene(e) => anyhow::Error::from(e),
            e => anyhow::Error::from(e),
        })?;
    print!("{report}");
    Ok(())
}

pub fn models() {
    print!("{}", crate::drivers::check::models_listing());
}

pub fn adapters() -> Result<()> {
    let list = crate::engine::backend::describe_adapters();
    if list.is_empty() {
        println!(
            "no GPU adapters found (WGPU_BACKEND={})",
            std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "all".into())
        );
        return Ok(());
    }
    for (i, d) in list.iter().enumerate() {
        let s = &d["summary"];
        println!(
            "[{i}] {}\n    backend {}, type {}, driver {}",
            s["name"].as_str().unwrap_or(""),
            s["backend"].as_str().unwrap_or(""),
            s["device_type"].as_str().unwrap_or(""),
            s["driver"].as_str().unwrap_or("")
        );
        if let Some(l) = d["limits"].as_object() {
            for (k, v) in l {
                println!("    {k} = {v}");
            }
        }
        println!("    features: {}", d["features"]);
    }
    Ok(())
}
