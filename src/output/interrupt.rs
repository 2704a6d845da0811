//! Cooperative cancellation: a per-call stop flag that a host asks long
//! work to stop with, and that the work polls at safe points.
//!
//! The command-line `vtwin` stops on Ctrl-C by removing its unfinished
//! output folders and exiting (`io::install_interrupt_cleanup`). A host
//! that must stay alive after an interrupt (the Python package, in a
//! notebook) instead runs each command inside [`Stop::scope`] on the
//! command's thread and calls [`Stop::request`] from another: the
//! recording loop (`record::record_from`, before every advance) and the
//! assimilation ensemble (`twin::ensemble`, before every advance) then fail
//! with `EngineError::Interrupted` (through
//! `engine::check_interrupt`), and [`crate::output::io::RunDir::finish`]
//! refuses to put a folder in place, so the unfinished temporary folder is
//! removed when its `RunDir` drops and no output appears.
//!
//! Owns: the flags. One flag per call, seen by the thread that runs the
//! call: a request stops that call only, never another command running in
//! the same process, and nothing of it outlives the call.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// The stop flag of the call this thread runs, if a host set one.
    static CURRENT: RefCell<Option<Stop>> = const { RefCell::new(None) };
}

/// One call's stop flag; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Asks the call to stop at its next safe point (from any thread).
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Runs `f` on this thread with this flag as its stop flag; the
    /// thread's previous flag (usually none) is back afterwards, also when
    /// `f` panics.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Stop>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }
}

/// Whether the call running on this thread was asked to stop (never, for
/// a thread outside any [`Stop::scope`], as in the command-line program).
pub fn requested() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(Stop::requested))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_stops_its_own_call_only_and_ends_with_it() {
        let a = Stop::new();
        let b = Stop::new();
        a.request();
        assert!(a.scope(requested));
        // Another call, on this thread or another, is not stopped by it.
        assert!(!b.scope(requested));
        let other = a.clone();
        let seen = std::thread::spawn(move || (requested(), other.scope(requested)));
        assert_eq!(seen.join().ok(), Some((false, true)));
        // Outside the call nothing is left set.
        assert!(!requested());
        // Nested: the inner flag holds inside, the outer one after.
        a.scope(|| {
            b.scope(|| assert!(!requested()));
            assert!(requested());
        });
    }
}
