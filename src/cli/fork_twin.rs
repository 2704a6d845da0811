//! `vtwin fork` of a `twin` or single-ensemble `assimilate` checkpoint
//! (`crate::drivers::checkpoint_twin`): its saved command line parsed again, then
//! [`drivers::fork_twin`](crate::drivers::fork_twin), which forecasts the
//! saved ensemble under one arm with `--set` parameters.

use super::resume::{SavedCommand, parse_saved};
use crate::drivers::checkpoint_twin::TwinMeta;
use crate::drivers::fork::ForkRequest;
use crate::drivers::fork_twin::{self as driver, TwinCommand};
use anyhow::{Result, bail};

/// Forks the twin checkpoint `req.checkpoint` (its header `meta`); returns
/// the process exit code.
pub fn run(req: &ForkRequest, meta: &TwinMeta) -> Result<i32> {
    let path = &req.checkpoint;
    let inv = &meta.invocation;
    let command = match parse_saved(inv, path)? {
        SavedCommand::Twin(a) => TwinCommand::Twin {
            options: a.filter.options(a.cycles),
            scene: a.scene,
        },
        SavedCommand::Assimilate(a) => TwinCommand::Assimilate {
            options: a.filter.options(a.cycles),
            scene: a.scene,
            obs: a.obs,
        },
        _ => bail!(
            "{}: a twin checkpoint of `vtwin {}`, which is neither `twin` nor `assimilate`",
            path.display(),
            inv.argv.join(" ")
        ),
    };
    let (dir, arm) = driver::run(req, meta, command, &mut super::Printer::new())?;
    println!("{}", dir.display());
    eprintln!("vtwin fork: forecast of arm `{arm}` in {}", dir.display());
    Ok(0)
}
