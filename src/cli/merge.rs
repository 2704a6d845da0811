//! `vtwin merge DIR... --out DIR`: joins the shard folders of one `run`,
//! `sweep` or `cohort` (the kind is read from their manifests) into the
//! folder the unsharded command writes. The set is checked first
//! (`crate::shard::check_set`: one scene, seed, K and total; every shard
//! once; no gap, no overlap) and every file against its shard's manifest
//! hashes. Run and sweep shards are joined in `merge_runs.rs`.
//!
//! Cohorts: joins cohort shards into the cohort they
//! came from. The merged tables, data dictionary and scene copy are byte
//! for byte what an unsharded `vtwin cohort` run writes; the RO-Crate
//! records the merge (a `vtwin merge` action) and the manifest hashes all.
//! Every shard file is checked against its shard's manifest hashes first,
//! so an edited or truncated shard is refused, not merged.

use crate::cohort::crate_meta::{self, CrateInfo, Property};
use crate::cohort::merge;
use crate::cohort::{CohortTables, crate_meta::FileEntry};
use crate::cohort_files::{self, SCENE_COPY};
use crate::shard::ShardKind;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard folders written by `vtwin run|sweep|cohort|assimilate --shard I/K` (any
    /// order; all from the same command, scene, seed, K and size, together
    /// covering every member, design row or patient exactly once).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Output folder for the merged cohort. Refused if it exists, unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &MergeArgs) -> Result<()> {
    let started = crate::manifest::now();
    let mut records = Vec::new();
    for d in &args.dirs {
        let path = d.join(crate::io::rundir::MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: is {} a shard folder written by vtwin?",
                path.display(),
                d.display()
            )
        })?;
        let manifest: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        records.push(crate::shard::read_record(d, &manifest)?);
    }
    let records = crate::shard::check_set(records)?;
    for d in &args.dirs {
        crate::io::rundir::verify_outputs(d)
            .with_context(|| format!("checking shard {} against its manifest", d.display()))?;
    }
    match records[0].kind {
        ShardKind::Cohort => merge_cohort(args, started),
        ShardKind::Run => super::merge_runs::merge_run(args, &records, started),
        ShardKind::Sweep => super::merge_runs::merge_sweep(args, &records, started),
        ShardKind::Assimilate => super::assimilate_shard::merge(args, &records, started),
    }
}

fn merge_cohort(args: &MergeArgs, started: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let mut folders = Vec::new();
    for d in &args.dirs {
        folders
            .push(cohort_files::read(d).with_context(|| format!("reading shard {}", d.display()))?);
    }
    let first = &folders[0];
    let scene_bytes = std::fs::read(first.dir.join(SCENE_COPY))
        .with_context(|| format!("reading {}", first.dir.join(SCENE_COPY).display()))?;
    for f in &folders {
        if f.format != first.format {
            bail!(
                "{} holds {} tables but {} holds {}; shards must share one format",
                f.dir.display(),
                f.format.extension(),
                first.dir.display(),
                first.format.extension()
            );
        }
        if f.dictionary != first.dictionary {
            bail!(
                "{} and {} have different data dictionaries (different scenes or vtwin versions)",
                f.dir.display(),
                first.dir.display()
            );
        }
        let copy = f.dir.join(SCENE_COPY);
        let bytes = std::fs::read(&copy).with_context(|| format!("reading {}", copy.display()))?;
        if crate_meta::sha256_hex(&bytes) != f.info.scene_sha256 {
            bail!(
                "{}: the scene copy does not match the scene hash the RO-Crate records",
                copy.display()
            );
        }
    }
    let adapters: Vec<String> = folders.iter().fold(Vec::new(), |mut acc, f| {
        let a = crate_meta::property(&f.meta, "adapter")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_string();
        if !acc.contains(&a) {
            acc.push(a);
        }
        acc
    });
    let fmt = first.format;
    let dictionary = first.dictionary.clone();
    let parameters = cohort_files::crate_parameters(&first.meta);
    let shards = folders.len();
    let parts = folders
        .into_iter()
        .map(|f| {
            let t = f.tables;
            (f.info, vec![t.patients, t.observations, t.outcomes])
        })
        .collect();
    let (info, tables) = merge::merge(parts)?;
    let [patients, observations, outcomes]: [_; 3] = tables
        .try_into()
        .map_err(|_| anyhow::anyhow!("merge returned the wrong number of tables"))?;
    let tables = CohortTables {
        patients,
        observations,
        outcomes,
    };
    let inputs: Vec<&std::path::Path> = args.dirs.iter().map(PathBuf::as_path).collect();
    let dir = super::create_run_dir(&args.out, args.force, &inputs)?;
    let (results, scene_entry): (Vec<FileEntry>, FileEntry) =
        cohort_files::write_data(dir.path(), &tables, fmt, &dictionary, &scene_bytes)?;
    let mut props = info.properties();
    props.push(Property::new("merged_shards", shards.to_string()));
    let meta = crate_meta::build(&CrateInfo {
        name: "vtwin synthetic cohort (merged)".into(),
        description: format!(
            "Virtual patients 0..{} joined from {shards} shards by vtwin merge",
            info.patients
        ),
        license: None,
        software_version: env!("CARGO_PKG_VERSION").into(),
        action_name: "vtwin merge".into(),
        scene: scene_entry,
        parameters,
        results,
        seed: info.seed,
        adapter: adapters.join("; "),
        properties: props,
        start: started,
        end: crate::manifest::now(),
    });
    cohort_files::write_crate(dir.path(), &meta)?;
    let manifest = json!({
        "schema_version": crate::manifest::SCHEMA_VERSION,
        "engine": crate::manifest::engine_json(),
        "command": crate::checkpoint::Invocation::command_line(),
        "scene": { "sha256": info.scene_sha256 },
        "seed": info.seed,
        "patients": info.patients,
        "shards": args.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
        "format": fmt.extension(),
        "started": crate::manifest::rfc3339(started),
        "finished": crate::manifest::rfc3339(crate::manifest::now()),
    });
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin merge: {shards} shards, {} patients, written to {}",
        info.patients,
        final_dir.display()
    );
    Ok(())
}
