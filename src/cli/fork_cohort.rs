//! `vtwin fork` of a `cohort --checkpoint-every` checkpoint (the running
//! task of an interrupted cohort): the saved cohort's request, then
//! [`drivers::fork_cohort`](crate::drivers::fork_cohort).

use super::cohort::CohortArgs;
use crate::drivers::checkpoint::Checkpoint;
use crate::drivers::fork::ForkRequest;
use anyhow::Result;

/// Forks the cohort checkpoint `ck` at `req.checkpoint`, made by `cohort`;
/// returns the process exit code.
pub fn run(req: &ForkRequest, ck: &Checkpoint, cohort: &CohortArgs) -> Result<i32> {
    let done =
        crate::drivers::fork_cohort::run(req, ck, &cohort.request(), &mut super::Printer::new())?;
    println!("{}", done.dir.display());
    eprintln!(
        "vtwin fork: {} patients under arm `{}` ({} failed) in {}",
        done.patients,
        done.arm,
        done.failed,
        done.dir.display()
    );
    Ok(0)
}
