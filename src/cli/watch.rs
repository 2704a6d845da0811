//! A host's view of a command's progress (the Python package's progress
//! callbacks): the watch a thread's command hands its progress bars to.

use indicatif::{ProgressBar, ProgressDrawTarget};

thread_local! {
    /// The progress watch of the command this thread runs, if a host set one.
    static WATCHED: std::cell::RefCell<Option<ProgressWatch>> =
        const { std::cell::RefCell::new(None) };
}

/// A host's view of a command's progress (the Python package's progress
/// callbacks): inside [`ProgressWatch::scope`], [`progress_bar`](super::progress_bar) draws
/// nothing and hands its bar to the watch, which another thread reads with
/// [`ProgressWatch::get`]. Clones share the watch.
#[derive(Clone, Debug, Default)]
pub struct ProgressWatch(std::sync::Arc<std::sync::Mutex<Option<(ProgressBar, String)>>>);

impl ProgressWatch {
    pub fn new() -> ProgressWatch {
        ProgressWatch::default()
    }

    /// Runs `f` (a command) on this thread with its progress bars going to
    /// this watch; the thread's previous watch is back afterwards.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<ProgressWatch>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                WATCHED.with(|w| *w.borrow_mut() = previous);
            }
        }
        let previous = WATCHED.with(|w| w.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }

    /// The latest bar's position, length and unit (`"steps"`, `"cycles"`,
    /// …); None before the command made one.
    pub fn get(&self) -> Option<(u64, u64, String)> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .map(|(bar, unit)| (bar.position(), bar.length().unwrap_or(0), unit.clone()))
    }
}

/// Inside a [`ProgressWatch::scope`]: a bar drawn nowhere, handed to the
/// watch; None outside one.
pub(super) fn hand_over(len: u64, unit: &str) -> Option<ProgressBar> {
    let watch = WATCHED.with(|w| w.borrow().clone())?;
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    *watch.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((bar.clone(), unit.to_string()));
    Some(bar)
}
