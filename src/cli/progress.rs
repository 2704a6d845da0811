//! The command line's progress display: a bar on a terminal, periodic
//! plain lines otherwise (`PlainLines`), nothing drawn under a host's
//! [`ProgressWatch`](super::ProgressWatch), and [`Printer`], the CLI's
//! [`Observer`](crate::drivers::job::Observer) of library jobs.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Seconds between plain progress lines when stderr is not a terminal
/// (`VTWIN_PROGRESS_SECS`, default 10).
fn progress_every() -> std::time::Duration {
    let secs = std::env::var("VTWIN_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(10.0);
    std::time::Duration::from_secs_f64(secs)
}

/// Under `nohup`, in CI logs or redirected to a file, stderr is no terminal:
/// instead of a redrawn bar, a plain line (`vtwin: progress 120/400 steps
/// (12s, eta 28s)`) at most every [`progress_every`], so logs show that a
/// long run is alive without filling up.
#[derive(Debug)]
struct PlainLines {
    every: std::time::Duration,
    last: std::sync::Mutex<std::time::Instant>,
}

impl indicatif::TermLike for PlainLines {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let text = s.trim();
        if text.is_empty() {
            return Ok(());
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= self.every {
            *last = std::time::Instant::now();
            eprintln!("vtwin: progress {text}");
        }
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A progress bar on a terminal; periodic plain lines otherwise; drawn
/// nowhere and handed to the host inside a
/// [`ProgressWatch::scope`](super::ProgressWatch::scope).
pub fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if let Some(bar) = super::watch::hand_over(len, unit) {
        return bar;
    }
    if !std::io::stderr().is_terminal() {
        let target = ProgressDrawTarget::term_like_with_hz(
            Box::new(PlainLines {
                every: progress_every(),
                last: std::sync::Mutex::new(std::time::Instant::now()),
            }),
            1,
        );
        let bar = ProgressBar::with_draw_target(Some(len), target);
        let style = ProgressStyle::with_template(&format!(
            "{{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        return bar;
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// The command line's [`Observer`](crate::drivers::job::Observer): notes
/// to stderr (above the bar while one is drawn), progress as
/// [`progress_bar`].
#[derive(Default)]
pub struct Printer {
    bar: Option<ProgressBar>,
}

impl Printer {
    pub fn new() -> Printer {
        Printer::default()
    }
}

impl crate::drivers::job::Observer for Printer {
    fn note(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
    fn start(&mut self, len: u64, unit: &str) {
        self.bar = Some(progress_bar(len, unit));
    }
    fn advance(&mut self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
        }
    }
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
