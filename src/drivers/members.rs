//! Which members a job simulates: the plan options the commands share
//! (`--members`, `--seed`, `--arm`, `--shard I/K`) and member parameters
//! drawn from a posterior directory instead of the scene's distributions
//! (`--posterior DIR`), plus the notes a command gives about the arm.
//!
//! Owns: posterior draws as a plan option. The draws themselves are
//! `calibrate::Posterior::draw_member` (member m gets `draw_member(seed,
//! m)`, so rows depend only on seed and global member index).

use super::job::{Error, Result};
use crate::core::plan::{Plan, PlanOptions};
use crate::drivers::shard::Shard;
use crate::input::params::ParamBlock;
use crate::input::scene::Scene;
use crate::methods::calibrate::{Posterior, load_posterior};
use std::path::Path;

/// The posterior in `dir` (written by `vtwin calibrate`) re-expressed over
/// the scene's resolved parameter block (scene parameters in file order,
/// then model defaults).
pub fn scene_posterior(dir: &Path, scene: &Scene) -> Result<(ParamBlock, Posterior)> {
    let info = crate::core::model_scene::info_for(scene)?;
    let block = crate::core::model_scene::resolve_params(scene, &info)?;
    let post = load_posterior(dir)?.aligned_to(&block).map_err(|e| {
        Error::from(e).context(format!(
            "--posterior {} does not fit scene {}",
            dir.display(),
            scene.path.display()
        ))
    })?;
    Ok((block, post))
}

/// `--members N` checked: at least 1 and within `limits`.
fn check_members(n: u32) -> Result<()> {
    if n == 0 {
        return Err(Error::Invalid("--members must be at least 1".into()));
    }
    crate::input::limits::check_members("--members", n as u64)
        .map_err(|e| Error::Invalid(e.to_string()))
}

/// Member parameter rows drawn from a posterior directory instead of the
/// scene's distributions (`--posterior DIR`): member m gets
/// `draw_member(seed, m)`, so the rows depend only on (seed, member).
/// `members` and `seed` default to the scene's `[ensemble]`.
pub fn posterior_members(
    dir: &Path,
    scene: &Scene,
    members: Option<u32>,
    seed: Option<u64>,
) -> Result<Vec<Vec<f64>>> {
    let (_, post) = scene_posterior(dir, scene)?;
    let n = members.unwrap_or(scene.file.ensemble.members);
    check_members(n)?;
    let seed = seed.unwrap_or(scene.file.ensemble.seed);
    Ok((0..n).map(|m| post.draw_member(seed, m)).collect())
}

/// The overrides of a scene's `[ensemble]` a job takes.
#[derive(Clone, Debug, Default)]
pub struct Members<'a> {
    /// Ensemble size (default: the scene's `ensemble.members`).
    pub members: Option<u32>,
    /// Seed (default: the scene's `ensemble.seed`).
    pub seed: Option<u64>,
    /// Treatment arm (default: the first).
    pub arm: Option<&'a str>,
    /// Draw members' parameters from this posterior directory.
    pub posterior: Option<&'a Path>,
    /// Only shard I of K of the ensemble, with global member indices.
    pub shard: Option<Shard>,
}

/// Freezes a scene's plan with the overrides `run` and `check` share:
/// members, seed, arm, and member parameters drawn from a posterior.
pub fn freeze_plan(scene: &Scene, m: &Members) -> Result<Plan> {
    let member_params = match m.posterior {
        Some(dir) => Some(posterior_members(dir, scene, m.members, m.seed)?),
        None => None,
    };
    Ok(Plan::freeze(
        scene,
        &PlanOptions {
            members: m.members,
            seed: m.seed,
            arm: m.arm.map(str::to_string),
            member_params,
            ..Default::default()
        },
    )?)
}

/// The plan of one arm of a run, or of shard I/K of it (members
/// ⌊N·I/K⌋..⌊N·(I+1)/K⌋ with `member_offset` = the first). `montage`
/// gives the members a montage shows, which must all be in shard 0.
pub fn freeze_shard(scene: &Scene, m: &Members, montage: Option<u64>) -> Result<Plan> {
    let Some(shard) = m.shard else {
        return freeze_plan(scene, m);
    };
    let n = m.members.unwrap_or(scene.file.ensemble.members);
    check_members(n)?;
    let range = shard.range(n as u64);
    if range.is_empty() {
        return Err(Error::Invalid(format!(
            "--shard {}/{}: this shard holds none of the {n} members; use at most {n} shards",
            shard.index, shard.count
        )));
    }
    if let Some(shown) = montage {
        let shown = shown.max(1).min(n as u64);
        let first = shard_zero_end(shard, n as u64);
        if first < shown {
            return Err(Error::Invalid(format!(
                "--shard {}/{} with --save-fields: shard 0 would hold {first} members but the \
                 montage shows the first {shown}; use at most {} shards or lower output.montage_members",
                shard.index,
                shard.count,
                (n as u64 / shown).max(1)
            )));
        }
    }
    let member_params = match m.posterior {
        Some(dir) => {
            let (_, post) = scene_posterior(dir, scene)?;
            let seed = m.seed.unwrap_or(scene.file.ensemble.seed);
            Some(
                range
                    .clone()
                    .map(|i| post.draw_member(seed, i as u32))
                    .collect(),
            )
        }
        None => None,
    };
    Ok(Plan::freeze(
        scene,
        &PlanOptions {
            members: Some((range.end - range.start) as u32),
            seed: m.seed,
            arm: m.arm.map(str::to_string),
            member_params,
            member_offset: range.start as u32,
        },
    )?)
}

/// End of shard 0's block of `n` members when split into `shard.count`.
fn shard_zero_end(shard: Shard, n: u64) -> u64 {
    Shard {
        index: 0,
        count: shard.count,
    }
    .range(n)
    .end
}

/// Says which arm a command simulates when the scene has several and no
/// `--arm` was given: the default (the first) is then explicit, so a sweep
/// of one arm is not read as a sweep of the treatment the others add.
pub fn default_arm_note(command: &str, scene: &Scene, arm: Option<&str>) -> Option<String> {
    let arms = &scene.file.arms;
    if arm.is_some() || arms.len() <= 1 {
        return None;
    }
    let names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
    Some(format!(
        "vtwin {command}: simulating arm `{}`, the first of the scene's {} arms ({}); \
         parameters that act only in another arm have no effect here; pass --arm NAME to choose",
        names[0],
        names.len(),
        names.join(", ")
    ))
}

/// The parameters among `params` that have no effect in the plan's arm
/// (`models::treatment_of`: they act through a treatment the arm does not
/// give), each with a one-line explanation naming the arms that give it.
pub fn inert_params(scene: &Scene, plan: &Plan, params: &[String]) -> Vec<String> {
    let kind = plan.model.info().kind.clone();
    let gives = |arm: &crate::input::scene::Arm, t: &str| match t {
        "rt" => arm.rt.is_some(),
        _ => arm.chemo.is_some(),
    };
    params
        .iter()
        .filter_map(|p| {
            let t = crate::core::models::treatment_of(&kind, p)?;
            if gives(&plan.arm, t) {
                return None;
            }
            let what = if t == "rt" { "radiotherapy (rt)" } else { "chemotherapy (chemo)" };
            let others: Vec<&str> = scene
                .file
                .arms
                .iter()
                .filter(|a| gives(a, t))
                .map(|a| a.name.as_str())
                .collect();
            Some(format!(
                "parameter `{p}` acts only with {what}, which arm `{}` does not give: it has no effect here{}",
                plan.arm.name,
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (arms with it: {}; pass --arm NAME)", others.join(", "))
                }
            ))
        })
        .collect()
}
