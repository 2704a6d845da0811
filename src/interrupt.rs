//! Cooperative cancellation: a process-wide flag that a host asks long
//! work to stop with, and that the work polls at safe points.
//!
//! The command-line `vtwin` stops on Ctrl-C by removing its unfinished
//! output folders and exiting (`io::install_interrupt_cleanup`). A host
//! that must stay alive after an interrupt (the Python package, in a
//! notebook) instead calls [`request`]: the recording loop
//! (`record::record_from`, before every advance) and the assimilation
//! ensemble (`twin::ensemble`, before every advance) then fail with
//! [`EngineError::Interrupted`], and [`crate::io::RunDir::finish`] refuses to
//! put a folder in place, so the unfinished temporary folder is removed
//! when its `RunDir` drops and no output appears.
//!
//! Owns: the flag. One flag per process: a request stops every command
//! running in it. (No unit test sets it: library tests run in parallel in
//! one process, and a set flag would stop the others; python/tests
//! interrupts commands in child interpreters instead.)

use crate::engine::EngineError;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks running work to stop at its next safe point.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Withdraws a request (before starting new work).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(EngineError::Interrupted)` once a stop was requested.
pub fn check() -> Result<(), EngineError> {
    if requested() {
        Err(EngineError::Interrupted)
    } else {
        Ok(())
    }
}
