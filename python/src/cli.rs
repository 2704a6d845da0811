//! The CLI's commands from Python (`vtwin.design`, `vtwin.sweep`, …): the
//! argument list is parsed by the same clap definitions `vtwin` uses and
//! handed to the same library entry point (`vtwin::cli::<command>::run`),
//! with the GIL released. The Python side points `--out` at a temporary
//! folder and reads the results back through pyarrow.
//!
//! Those entry points install vtwin's SIGINT/SIGTERM/SIGHUP clean-up
//! (`io::install_interrupt_cleanup`), which exits the process: in a
//! notebook that would kill the kernel. [`quiet_interrupt_handler`]
//! installs it once at import and puts the interpreter's own handlers
//! back, so Ctrl-C stays Python's.
//!
//! Ctrl-C during a command: the command runs on a worker thread while the
//! calling thread waits with the GIL released, waking every
//! [`POLL`] to run the interpreter's signal handlers
//! (`PyErr_CheckSignals`). When one raises (KeyboardInterrupt), the call
//! is asked to stop (its own `vtwin::output::interrupt::Stop`, so a command running
//! on another thread goes on): the worker fails at its
//! next safe point (before an engine advance), its unfinished output
//! folder is removed and none is put in place; once it has stopped, the
//! exception is raised. Signals are only seen on the interpreter's main
//! thread, so a command started from another thread runs to its end.

use crate::arg;
use crate::errors::wrap;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;
use vtwin::cli as c;

/// Installs vtwin's interrupt clean-up with the interpreter's signal
/// handlers saved and restored around it (see the module docs).
pub fn quiet_interrupt_handler() -> PyResult<()> {
    #[cfg(unix)]
    {
        let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
        // SAFETY: sigaction with a null new action only reads the current
        // one into zeroed, properly sized structs; restoring writes back
        // exactly what was read.
        let mut saved: Vec<libc::sigaction> = Vec::new();
        for &s in &signals {
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            unsafe { libc::sigaction(s, std::ptr::null(), &mut old) };
            saved.push(old);
        }
        let installed = vtwin::output::io::install_interrupt_cleanup();
        for (&s, old) in signals.iter().zip(&saved) {
            unsafe { libc::sigaction(s, old, std::ptr::null_mut()) };
        }
        installed.map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    }
    Ok(())
}

fn sub<A: Args>(name: &'static str) -> Command {
    A::augment_args(Command::new(name))
}

fn parsed<A: FromArgMatches>(m: &ArgMatches) -> anyhow::Result<A> {
    Ok(A::from_arg_matches(m)?)
}

/// The commands reachable from Python, as `vtwin` defines them.
fn command() -> Command {
    Command::new("vtwin")
        .subcommand_required(true)
        .subcommand(sub::<c::run::RunArgs>("run"))
        .subcommand(sub::<c::design::DesignArgs>("design"))
        .subcommand(sub::<c::analyze::AnalyzeArgs>("analyze"))
        .subcommand(sub::<c::sweep::SweepArgs>("sweep"))
        .subcommand(sub::<c::calibrate::CalibrateArgs>("calibrate"))
        .subcommand(sub::<c::cohort::CohortArgs>("cohort"))
        .subcommand(sub::<c::twin::TwinArgs>("twin"))
        .subcommand(sub::<c::assimilate::AssimilateArgs>("assimilate"))
        .subcommand(sub::<c::score::ScoreArgs>("score"))
        .subcommand(sub::<c::resume::ResumeArgs>("resume"))
        .subcommand(sub::<c::merge::MergeArgs>("merge"))
        .subcommand(sub::<c::fork::ForkArgs>("fork"))
        .subcommand(sub::<c::report::ReportArgs>("report"))
        .subcommand(sub::<c::verify::VerifyArgs>("verify"))
        .subcommand(sub::<c::info::CheckArgs>("check"))
        .subcommand(sub::<c::estimate::EstimateArgs>("estimate"))
        .subcommand(sub::<c::select::SelectArgs>("select"))
        .subcommand(sub::<c::compare::CompareArgs>("compare"))
        .subcommand(sub::<c::slurm::SlurmArgs>("slurm"))
        .subcommand(sub::<c::bench::BenchArgs>("bench"))
}

fn dispatch(argv: Vec<String>) -> anyhow::Result<i32> {
    let m = command().try_get_matches_from(argv)?;
    let Some((name, m)) = m.subcommand() else {
        anyhow::bail!("no command given");
    };
    match name {
        "run" => c::run::run(&parsed(m)?),
        "design" => c::design::run(&parsed(m)?).map(|_| 0),
        "analyze" => c::analyze::run(&parsed(m)?).map(|_| 0),
        "sweep" => c::sweep::run(&parsed(m)?).map(|_| 0),
        "calibrate" => c::calibrate::run(&parsed(m)?).map(|_| 0),
        "cohort" => c::cohort::run(&parsed(m)?),
        "twin" => c::twin::run(&parsed(m)?),
        "assimilate" => c::assimilate::run(&parsed(m)?),
        "score" => c::score::run(&parsed(m)?).map(|_| 0),
        "resume" => c::resume::run(&parsed(m)?),
        "merge" => c::merge::run(&parsed(m)?).map(|_| 0),
        "fork" => c::fork::run(&parsed(m)?),
        "report" => c::report::run(&parsed(m)?).map(|_| 0),
        "verify" => c::verify::run(&parsed(m)?),
        "check" => c::info::check(&parsed(m)?).map(|_| 0),
        "estimate" => c::estimate::run(&parsed(m)?).map(|_| 0),
        "select" => c::select::run(&parsed(m)?).map(|_| 0),
        "compare" => c::compare::run(&parsed(m)?).map(|_| 0),
        "slurm" => c::slurm::run(&parsed(m)?).map(|_| 0),
        "bench" => c::bench::run(&parsed(m)?).map(|_| 0),
        other => anyhow::bail!("unknown command `{other}`"),
    }
}

/// How often a thread waiting for a command checks for Ctrl-C and
/// reports progress.
const POLL: Duration = Duration::from_millis(50);

/// Optional argument `i`: None when absent or None.
fn optional<'py, T>(args: &Bound<'py, PyTuple>, i: usize, what: &str) -> PyResult<Option<T>>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    if args.len() <= i {
        return Ok(None);
    }
    arg(args, i, what)
}

/// Calls `progress(done, total)` when the command's progress changed
/// since `last`.
fn report(
    py: Python<'_>,
    progress: Option<&Py<PyAny>>,
    watch: &c::ProgressWatch,
    last: &mut Option<(u64, u64)>,
) -> PyResult<()> {
    let Some(cb) = progress else {
        return Ok(());
    };
    let Some((done, total, _unit)) = watch.get() else {
        return Ok(());
    };
    if *last != Some((done, total)) {
        *last = Some((done, total));
        cb.call1(py, (done, total))?;
    }
    Ok(())
}

/// `cli(argv, inputs=None, progress=None)`: runs one command (argv[0] is
/// the program name) and returns its exit code; errors raise like every
/// other call, Ctrl-C stops it (see the module docs). The command records
/// `argv` as its command line (manifests, resume records), as `vtwin`
/// would; files of `argv` in the folder `inputs` (temporary files the
/// wrapper wrote) are copied into a checkpointed run's folder
/// (`checkpoint::record_invocation`). `progress(done, total)` is called
/// from this thread whenever the command's progress bar moved (checked
/// every [`POLL`]); an exception it raises stops the command as Ctrl-C
/// does and is raised in its place.
pub fn run(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let argv: Vec<String> = arg(args, 0, "argv")?;
    let inputs: Option<std::path::PathBuf> = optional(args, 1, "inputs")?;
    let progress: Option<Py<PyAny>> = optional(args, 2, "progress")?;
    // This call's own stop flag and progress: another command running in
    // the process (from another thread) is neither stopped nor reported.
    let stop = vtwin::output::interrupt::Stop::new();
    let watch = c::ProgressWatch::new();
    let (tx, rx) = mpsc::channel::<()>();
    let worker = {
        let (stop, watch) = (stop.clone(), watch.clone());
        std::thread::Builder::new()
            .name("vtwin-command".into())
            .spawn(move || {
                let r = stop.scope(|| {
                    watch.scope(|| {
                        vtwin::drivers::checkpoint::Invocation::scoped(argv.clone(), inputs, || {
                            dispatch(argv)
                        })
                    })
                });
                // The waiting thread may have gone (interpreter shutdown).
                let _ = tx.send(());
                r
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the command: {e}")))?
    };
    let mut rx = rx;
    let mut last = None;
    loop {
        // The receiver is Send but not Sync: it goes into the closure and back.
        let (got, back) = py.detach(move || (rx.recv_timeout(POLL), rx));
        rx = back;
        let finished = !matches!(got, Err(RecvTimeoutError::Timeout));
        let reported = report(py, progress.as_ref(), &watch, &mut last);
        if finished && reported.is_ok() {
            break;
        }
        if let Err(stopping) = reported.and_then(|()| py.check_signals()) {
            stop.request();
            // Whatever the command returns now (an "interrupted" error, or
            // a result finished just before the request) gives way to the
            // exception.
            let _ = py.detach(|| worker.join());
            return Err(stopping);
        }
    }
    let result = py.detach(|| worker.join()).map_err(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        PyRuntimeError::new_err(format!("vtwin command failed: {msg}"))
    })?;
    let code = wrap(py, result)?;
    Ok(code.into_pyobject(py)?.into_any().unbind())
}
