//! `vtwin sweep`: a design over the scene's parameter block run as one
//! ensemble (member i = design row i), its observables reduced to
//! summaries and, for Saltelli and Morris designs, analysed into
//! sensitivity indices. Writes `design.csv`, `outputs.csv`, `params.toml`,
//! `indices.csv` (+ `indices_s2.csv`) or `morris.csv` and the manifest.
//!
//! The ensemble runs through the simulator port (`crate::engine::EnginePort`
//! over the frozen plan, recorded by the job so checkpoints and resume
//! work); summaries are read off its recordings.
//!
//! Owns: the sweep's failure policy, files and manifest keys. Summaries
//! and group dropping live in [`crate::methods::sweep`], designs in
//! [`crate::methods::design`], estimators in [`crate::methods::sensitivity`].

use super::job::{Error, Job, Observer, Output, Result, Resume};
use crate::core::plan::{Plan, PlanOptions};
use crate::drivers::manifest::PlanManifest;
use crate::drivers::shard::Shard;
use crate::engine::backend::Backend;
use crate::engine::{Batch, EnginePort, Recordings, Simulator, SimulatorError};
use crate::methods::design::{self, DesignMethod, DesignOptions};
use crate::methods::sensitivity::Bootstrap;
use crate::methods::sweep::{self, analysis};
use crate::output::io::{RunDir, TableFormat};
use crate::output::table::{Table, Values};
use serde::Serialize;
use std::path::PathBuf;

/// Everything a sweep is asked to do (the flags of `vtwin sweep`, the
/// design flags already checked against the method).
#[derive(Clone, Debug)]
pub struct SweepRequest {
    pub scene: PathBuf,
    pub method: DesignMethod,
    pub n: usize,
    /// Observables to summarise (empty: all).
    pub outputs: Vec<String>,
    /// `OBS=VALUE` crossing times, parsed.
    pub thresholds: Vec<(String, f64)>,
    pub out: PathBuf,
    pub force: bool,
    pub seed: Option<u64>,
    pub arm: Option<String>,
    pub posterior: Option<PathBuf>,
    pub drop_failed: bool,
    pub maximin: bool,
    pub scramble: bool,
    pub second_order: bool,
    pub levels: Option<u32>,
    pub resamples: usize,
    pub conf_level: f64,
    pub shard: Option<Shard>,
    pub checkpoint_every: Option<u64>,
    pub backend: crate::engine::BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
}

/// What a finished sweep reports.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    pub members: u32,
    pub failed: usize,
}

/// An output left out of the indices, and why.
#[derive(Clone, Debug, Serialize)]
pub struct SkippedOutput {
    pub output: String,
    pub reason: String,
}

/// Design groups (base rows, trajectories) analysed and dropped.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Groups {
    pub used: usize,
    pub dropped: usize,
}

#[derive(Serialize)]
struct DesignNote {
    method: &'static str,
    n: usize,
    rows: usize,
    varying: Vec<String>,
    second_order: bool,
    levels: Option<u32>,
    scramble: bool,
    maximin: bool,
    posterior: Option<String>,
}

#[derive(Serialize)]
struct OutputNote {
    name: String,
    unit: String,
    description: String,
}

#[derive(Serialize)]
struct BootstrapNote {
    resamples: usize,
    conf_level: f64,
    seed: u64,
}

#[derive(Serialize)]
struct AnalysisNote {
    groups: Option<Groups>,
    skipped_outputs: Vec<SkippedOutput>,
    bootstrap: BootstrapNote,
}

/// The sweep's own manifest keys.
#[derive(Serialize)]
struct SweepKeys {
    command_kind: &'static str,
    design: DesignNote,
    steps: u64,
    dt: f64,
    time_unit: String,
    outputs_described: Vec<OutputNote>,
    drop_failed: bool,
    analysis: AnalysisNote,
    shard: Option<serde_json::Value>,
}

/// Runs `req`, or with `resume` continues it in its kept temporary folder.
pub fn run(
    req: &SweepRequest,
    resume: Option<&Resume>,
    obs: &mut dyn Observer,
) -> Result<SweepOutcome> {
    let started = crate::drivers::manifest::now();
    let scene = crate::drivers::scenes::load(&req.scene)?;
    let info = crate::core::model_scene::info_for(&scene)?;
    let block = match &req.posterior {
        Some(dir) => super::members::scene_posterior(dir, &scene)?.1.block,
        None => crate::core::model_scene::resolve_params(&scene, &info)?,
    };
    let seed = req.seed.unwrap_or(scene.file.ensemble.seed);
    let levels = req.levels.unwrap_or(DesignOptions::default().levels);
    let opts = DesignOptions {
        seed,
        maximin: req.maximin,
        scramble: req.scramble,
        second_order: req.second_order,
        levels,
    };
    let design = design::generate(&block, req.method, req.n, &opts).map_err(|e| {
        let from = match &req.posterior {
            Some(p) => format!("the posterior in {}", p.display()),
            None => format!("{} [parameters]", req.scene.display()),
        };
        Error::Invalid(format!("{from}: {e}"))
    })?;
    if let Some(note) = super::members::default_arm_note("sweep", &scene, req.arm.as_deref()) {
        obs.note(&note);
    }
    let rows = design.values.len() as u64;
    let range = match req.shard {
        Some(s) => s.range(rows),
        None => 0..rows,
    };
    if range.is_empty() {
        return Err(Error::Invalid(format!(
            "--shard: this shard holds none of the design's {rows} rows; use at most {rows} shards"
        )));
    }
    let (lo, hi) = (range.start as usize, range.end as usize);
    let plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: None,
            seed: Some(seed),
            arm: req.arm.clone(),
            member_params: Some(design.values[lo..hi].to_vec()),
            member_offset: lo as u32,
        },
    )?;
    let varied: Vec<String> = block
        .varying()
        .iter()
        .map(|&i| block.params[i].name.clone())
        .collect();
    for w in super::members::inert_params(&scene, &plan, &varied) {
        obs.note(&format!("vtwin sweep: warning: {w}"));
    }
    let specs = sweep::summary_specs(&plan, &req.outputs, &req.thresholds)?;
    let backend = Backend::open(req.backend, req.adapter.as_deref(), &mut |m| obs.note(&m))?;
    let mut inputs = vec![req.scene.as_path()];
    inputs.extend(req.posterior.as_deref());
    let output = Output {
        out: req.out.clone(),
        force: req.force,
        inputs,
        checkpoint_every: req.checkpoint_every,
    };
    let job = Job::open(started, &output, &plan, &backend, resume, obs)?;
    obs.note(&format!(
        "vtwin sweep: {} ({}), --method {} -n {} → {} members over {} varying parameters, {} outputs, backend {}",
        req.scene.display(),
        info.kind,
        req.method.name(),
        req.n,
        plan.members,
        block.varying().len(),
        specs.len(),
        backend.name()
    ));
    let rec = {
        let recorder = |engine: &mut dyn crate::engine::Engine, _: &Batch<'_>| {
            obs.start(plan.steps, "steps");
            let rec = job.record(engine, &mut |s| obs.advance(s), &mut |_, _, _| Ok(()));
            rec.map_err(|e| SimulatorError::Other(Box::new(e.context("simulation failed"))))
        };
        let mut port =
            EnginePort::from_plan(plan.clone(), &backend, req.batch_size).with_recorder(recorder);
        port.simulate(&Batch {
            rows: &plan.params,
            arm: None,
            member_offset: plan.member_offset,
            seed: plan.seed,
        })
    }
    .map_err(|e| match e {
        SimulatorError::Engine(e) => Error::Engine(e),
        SimulatorError::Other(e) => match e.downcast::<Error>() {
            Ok(e) => *e,
            Err(e) => Error::Invalid(e.to_string()),
        },
        e => Error::Invalid(e.to_string()),
    })?;
    obs.finish();

    let failed: Vec<bool> = rec.status.iter().map(|s| !s.is_ok()).collect();
    let n_failed = rec.failed();
    if n_failed > 0 {
        let first: Vec<String> = failed
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .take(5)
            .map(|(m, _)| m.to_string())
            .collect();
        let div = rec.status.iter().filter(|s| s.name() == "diverged").count();
        let what = format!(
            "{n_failed} of {} members failed ({div} diverged, {} saturated; members {}{})",
            plan.members,
            n_failed - div,
            first.join(", "),
            if n_failed > first.len() { ", …" } else { "" }
        );
        if !req.drop_failed {
            return Err(Error::Invalid(format!(
                "{what}; nothing was written. Rerun with --drop-failed to analyse the members that ran, \
                 or narrow the parameter ranges (or reduce time.dt)"
            )));
        }
        obs.note(&format!(
            "vtwin sweep: {what}; --drop-failed: analysing the rest"
        ));
    }

    let summaries = sweep::summarise(&rec, &specs);
    let out_names: Vec<String> = specs.iter().map(|s| s.name()).collect();
    let varying = block.varying();
    let param_names: Vec<String> = varying
        .iter()
        .map(|&i| block.params[i].name.clone())
        .collect();
    let bootstrap = Bootstrap {
        resamples: req.resamples,
        seed,
        conf_level: req.conf_level,
    };
    let offset = lo as i64;
    let mut part =
        Table::new("design").with_i64("member", (lo as i64..hi as i64).collect::<Vec<_>>());
    let shard_design = design::Design {
        unit: Vec::new(),
        values: design.values[lo..hi].to_vec(),
        method: design.method,
        base_n: design.base_n,
        second_order: design.second_order,
    };
    part.columns.extend(shard_design.to_table(&block).columns);
    let dir = &job.dir;
    dir.write_table(&part, TableFormat::Csv)?;
    dir.write_table(
        &super::run::shift_members(outputs_table(&rec, &out_names, &summaries), offset),
        TableFormat::Csv,
    )?;
    dir.write_bytes(
        "params.toml",
        crate::input::params_file::write_param_file(&block).as_bytes(),
    )?;
    let (skipped, groups) = match req.shard {
        // A shard analyses nothing: indices need every row (`vtwin merge`).
        Some(_) => (vec![], None),
        None => write_analysis(
            dir,
            &design,
            &param_names,
            &out_names,
            &summaries,
            &failed,
            levels,
            &bootstrap,
            obs,
        )?,
    };
    let keys = SweepKeys {
        command_kind: "sweep",
        design: DesignNote {
            method: req.method.name(),
            n: req.n,
            rows: design.values.len(),
            varying: param_names,
            second_order: design.second_order,
            levels: (req.method == DesignMethod::Morris).then_some(levels),
            scramble: req.scramble,
            maximin: req.maximin,
            posterior: req.posterior.as_ref().map(|p| p.display().to_string()),
        },
        steps: plan.steps,
        dt: plan.model.dt(),
        time_unit: plan.model.info().time_unit.clone(),
        outputs_described: specs
            .iter()
            .map(|s| OutputNote {
                name: s.name(),
                unit: s.unit.clone(),
                description: s.description(),
            })
            .collect(),
        drop_failed: req.drop_failed,
        analysis: AnalysisNote {
            groups,
            skipped_outputs: skipped,
            bootstrap: BootstrapNote {
                resamples: req.resamples,
                conf_level: req.conf_level,
                seed,
            },
        },
        shard: req.shard.map(|s| {
            crate::drivers::shard::manifest_json(
                crate::drivers::shard::ShardKind::Sweep,
                s,
                &range,
                rows,
            )
        }),
    };
    let manifest = PlanManifest::new(&plan, &backend, started, n_failed, keys);
    let dir = job.finish(&manifest)?;
    Ok(SweepOutcome {
        dir,
        members: plan.members,
        failed: n_failed,
    })
}

/// Sensitivity indices of a whole design (Saltelli: `indices.csv`, and
/// `indices_s2.csv` with second-order rows; Morris: `morris.csv`; nothing
/// for other designs) written into `dir`, with the notices a user owes.
/// Returns the manifest's `skipped_outputs` and `groups` records. Shared by
/// `vtwin sweep` and `vtwin merge` of sweep shards, so both write the same
/// bytes.
#[allow(clippy::too_many_arguments)]
pub fn write_analysis(
    dir: &RunDir,
    design: &design::Design,
    param_names: &[String],
    out_names: &[String],
    summaries: &[Vec<Option<f64>>],
    failed: &[bool],
    levels: u32,
    bootstrap: &Bootstrap,
    obs: &mut dyn Observer,
) -> Result<(Vec<SkippedOutput>, Option<Groups>)> {
    let analysis = analysis::analyse(
        design,
        param_names,
        out_names,
        summaries,
        failed,
        levels,
        bootstrap,
    )?;
    let Some(a) = &analysis else {
        return Ok((vec![], None));
    };
    dir.write_table(&a.table, TableFormat::Csv)?;
    if let Some(s2) = &a.s2 {
        dir.write_table(s2, TableFormat::Csv)?;
    }
    for (o, why) in &a.skipped {
        obs.note(&format!(
            "vtwin sweep: output {o} left out of {}.csv: {why}",
            a.table.name
        ));
    }
    if a.groups_dropped > 0 {
        obs.note(&format!(
            "vtwin sweep: indices use {} of {} {} (dropped {} holding failed members)",
            a.groups_used,
            a.groups_used + a.groups_dropped,
            if design.method == DesignMethod::Morris {
                "trajectories"
            } else {
                "base rows"
            },
            a.groups_dropped
        ));
    }
    let skipped = a
        .skipped
        .iter()
        .map(|(o, r)| SkippedOutput {
            output: o.clone(),
            reason: r.clone(),
        })
        .collect();
    let groups = Groups {
        used: a.groups_used,
        dropped: a.groups_dropped,
    };
    Ok((skipped, Some(groups)))
}

/// member, status, then one column per summary.
fn outputs_table(rec: &Recordings, names: &[String], rows: &[Vec<Option<f64>>]) -> Table {
    let mut t = Table::new("outputs")
        .with_i64("member", (0..rec.rows() as i64).collect::<Vec<_>>())
        .with_str(
            "status",
            rec.status
                .iter()
                .map(|s| s.name().to_string())
                .collect::<Vec<_>>(),
        );
    for (k, n) in names.iter().enumerate() {
        t.push_column(n.clone(), Values::F64(rows.iter().map(|r| r[k]).collect()));
    }
    t
}
