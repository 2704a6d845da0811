//! `vtwin merge` of `vtwin assimilate --shard I/K` folders: the folders,
//! then `drivers::assimilate_merge::merge` (which documents how shards are
//! joined byte for byte).

use super::merge::MergeArgs;
use crate::shard::ShardRecord;
use anyhow::Result;
use chrono::{DateTime, Utc};

/// Joins the shard folders `records` (already checked as one set) into
/// `args.out` and says where.
pub fn merge(args: &MergeArgs, records: &[ShardRecord], started: DateTime<Utc>) -> Result<()> {
    let merged = crate::drivers::assimilate_merge::merge(
        &args.dirs,
        &args.out,
        args.force,
        records,
        started,
        &mut |m| eprintln!("{m}"),
    )?;
    println!("{}", merged.dir.display());
    eprintln!(
        "vtwin merge: {} assimilate shards, {} patients, written to {}",
        merged.shards,
        merged.patients,
        merged.dir.display()
    );
    Ok(())
}
