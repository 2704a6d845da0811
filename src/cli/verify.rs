//! `vtwin verify`: runs the verification suite on the chosen backend and
//! prints a table; exits non-zero on any failure (n/a is not a failure).

use super::EngineArgs;
use crate::drivers::verify::{self, Outcome};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: &VerifyArgs) -> Result<i32> {
    let backend = args.engine.open()?;
    eprintln!(
        "vtwin verify: backend {}{}",
        backend.name(),
        backend
            .adapter()
            .map(|a| format!(" on {} ({})", a.name, a.backend))
            .unwrap_or_default()
    );
    let checks = verify::all(&backend);
    let w = checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<w$}  {:<36}  {:<44}  {:<34}  pass",
        "check", "expected", "measured", "tolerance"
    );
    let mut failed = 0;
    for c in &checks {
        let pass = match c.outcome {
            Outcome::Pass => "yes",
            Outcome::Fail => {
                failed += 1;
                "NO"
            }
            Outcome::NotApplicable => "n/a",
        };
        println!(
            "{:<w$}  {:<36}  {:<44}  {:<34}  {pass}",
            c.name, c.expected, c.measured, c.tolerance
        );
    }
    let passed = checks.iter().filter(|c| c.outcome == Outcome::Pass).count();
    let na = checks.len() - passed - failed;
    println!("{passed} passed, {failed} failed, {na} n/a");
    Ok(if failed > 0 { 1 } else { 0 })
}
