//! Command drivers: what a `vtwin` command does between parsing its
//! arguments and printing its result, as library calls with typed errors
//! (no `clap`, no `anyhow`), so the command line (`cli`) and other callers
//! share one implementation.

pub mod assimilate;
pub mod assimilate_merge;
pub mod assimilate_shard;
