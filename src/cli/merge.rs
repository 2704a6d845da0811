//! `vtwin merge DIR... --out DIR`: the flags, handed to
//! [`drivers::merge::merge`](crate::drivers::merge::merge) (which checks the
//! set and joins the shards of a `run`, `sweep`, `cohort` or `assimilate`),
//! and its summary.

use crate::drivers::merge::{MergeRequest, merge};
use crate::drivers::shard::ShardKind;
use anyhow::Result;
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
    let req = MergeRequest {
        dirs: args.dirs.clone(),
        out: args.out.clone(),
        force: args.force,
    };
    let m = merge(&req, &mut super::Printer::new())?;
    println!("{}", m.dir.display());
    let (shards, total, dir) = (m.shards, m.total, m.dir.display());
    match m.kind {
        ShardKind::Cohort => {
            eprintln!("vtwin merge: {shards} shards, {total} patients, written to {dir}")
        }
        ShardKind::Assimilate => {
            eprintln!("vtwin merge: {shards} assimilate shards, {total} patients, written to {dir}")
        }
        ShardKind::Run | ShardKind::Sweep => eprintln!(
            "vtwin merge: {shards} {} shards, {total} members, written to {dir}",
            m.kind.name()
        ),
    }
    Ok(())
}
