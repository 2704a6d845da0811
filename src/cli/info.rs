//! `vtwin check SCENE`, `vtwin models`, `vtwin adapters`: validate and
//! describe without running anything.

use super::EngineArgs;
use crate::scene::Scene;
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

fn human_bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

pub fn check(args: &CheckArgs) -> Result<()> {
    let scene = Scene::load(&args.scene)?;
    // The method sections stay raw in the scene; `check` parses them too.
    crate::cohort::CohortSpec::from_scene(&scene)?;
    crate::calibrate::CalibrateConfig::from_scene(&scene)?;
    let plan = super::freeze_plan(
        &scene,
        args.members,
        args.seed,
        args.arm.as_deref(),
        args.posterior.as_deref(),
    )?;
    crate::twin::setup::check_section(&scene, &plan)?;
    // Shaders are validated without an adapter.
    if let Some(p) = plan.model.gpu_program() {
        crate::shaders::validate(&format!("{}.step", plan.model.info().kind), &p.source)?;
    }
    let obs = crate::observe::observe_wgsl(
        &plan.observables.ops,
        &plan.model.grid(),
        plan.model.state_len(),
        plan.model.status_word(),
    );
    crate::shaders::validate(&format!("{}.observe", plan.model.info().kind), &obs)?;
    let backend = args.engine.open()?;
    let host = plan.host_bytes(backend.name() == "cpu");
    crate::limits::check_host_memory(
        &format!("this plan on the {} backend", backend.name()),
        host,
    )
    .map_err(anyhow::Error::msg)?;
    let batches = backend.batches(&plan, args.engine.batch_size);
    let g = plan.model.grid();
    println!(
        "scene      {} (sha256 {})",
        args.scene.display(),
        &scene.sha256[..16]
    );
    if let Some(d) = &scene.file.description {
        println!("           {d}");
    }
    println!(
        "model      {} — {}",
        plan.model.info().kind,
        plan.model.info().description
    );
    println!(
        "grid       {}×{} × {} fields, dx = {} {}",
        g.nx,
        g.ny,
        g.fields,
        g.dx,
        plan.model.info().length_unit
    );
    println!(
        "time       {} steps of dt = {} {} (end {}), observed every {} steps ({} observations)",
        plan.steps,
        plan.model.dt(),
        plan.model.info().time_unit,
        plan.model.time_at(plan.steps),
        plan.every,
        plan.observation_steps().len()
    );
    println!(
        "members    {} (seed {}), arm `{}` of {}",
        plan.members,
        plan.seed,
        plan.arm.name,
        scene.arms().len()
    );
    if let Some(dir) = &args.posterior {
        println!(
            "           parameters drawn from the posterior in {}",
            dir.display()
        );
    }
    println!("parameters");
    for (j, p) in plan.block.params.iter().enumerate() {
        let vals: Vec<f64> = plan.params.iter().map(|r| r[j]).collect();
        let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "  {:<10} {:<12} sampled range [{lo:.4e}, {hi:.4e}]",
            p.name,
            p.dist.kind()
        );
    }
    println!("observables");
    for (n, u, d) in plan.observables.describe() {
        println!("  {n:<24} [{u}] {d}");
    }
    let per = plan.bytes_per_member();
    println!(
        "memory     {} per member, {} in total; backend {} → {} batch(es) of up to {} members",
        human_bytes(per),
        human_bytes(per * plan.members as u64),
        backend.name(),
        batches.len(),
        batches.iter().max().copied().unwrap_or(0)
    );
    println!(
        "host       {} needed (member table, recorded observables{}); {} available",
        human_bytes(host),
        if backend.name() == "cpu" {
            ", member state"
        } else {
            ""
        },
        crate::limits::mem_available().map_or("unknown".to_string(), human_bytes)
    );
    println!("plan       sha256 {}", plan.sha256);
    println!("ok");
    Ok(())
}

pub fn models() {
    for m in crate::models::catalogue() {
        println!("{} — {}", m.kind, m.description);
        println!(
            "  time unit: {}, length unit: {}",
            m.time_unit, m.length_unit
        );
        if m.fields.is_empty() {
            println!("  fields: the scene's `model.species`");
        } else {
            println!("  fields:");
            for f in &m.fields {
                println!("    {:<8} [{}] {}", f.name, f.unit, f.description);
            }
        }
        if m.params.is_empty() {
            println!("  parameters: any named in the scene's [parameters]");
        } else {
            println!("  parameters:");
            for p in &m.params {
                println!(
                    "    {:<8} [{}] default {} range [{}, {}] — {}",
                    p.name, p.unit, p.default, p.bounds.0, p.bounds.1, p.description
                );
            }
        }
        println!(
            "  observables (per field, declared in [[observables]]): total [field·{lu}²], mean, max, min [field], \
             area_above [{lu}²], probe [field], block_mean [field], first_crossing [{tu}]",
            lu = m.length_unit,
            tu = m.time_unit
        );
        println!();
    }
}

pub fn adapters() -> Result<()> {
    let list = crate::backend::describe_adapters();
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
