//! What long work shows while it runs, and `--quiet`.
//!
//! Bars and spinners (indicatif) are drawn on stderr only when it is a terminal, outside CI and
//! without `--quiet`; otherwise they are hidden and cost nothing, so piped output and CI logs
//! hold only results, notes and warnings. `--quiet` also drops the notes; warnings and errors
//! are always printed.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static QUIET: AtomicBool = AtomicBool::new(false);

/// Set once from the global `-q/--quiet` flag.
pub(super) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub(super) fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// An informational line on stderr (what was written, what was skipped and why); not with `--quiet`.
pub(super) fn note(line: &str) {
    if !is_quiet() {
        eprintln!("{line}");
    }
}

/// Whether bars are drawn: a person watching a terminal, not a log.
pub(super) fn bars_visible(quiet: bool, stderr_is_terminal: bool, in_ci: bool) -> bool {
    !quiet && stderr_is_terminal && !in_ci
}

fn target() -> ProgressDrawTarget {
    let in_ci = std::env::var_os("CI").is_some();
    if bars_visible(is_quiet(), std::io::stderr().is_terminal(), in_ci) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// Redraws on a timer so elapsed time moves between steps; a hidden bar needs no ticker thread.
fn tick(bar: &ProgressBar, every_ms: u64) {
    if !bar.is_hidden() {
        bar.enable_steady_tick(Duration::from_millis(every_ms));
    }
}

/// A bar over `len` steps of known work (days read, windows fetched, files imported).
pub(super) fn bar(len: u64, what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .expect("static template")
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), target()).with_style(style).with_prefix(what.to_string());
    tick(&bar, 250);
    bar
}

/// A spinner for work of unknown length (calls that page until the service says done).
pub(super) fn spinner(what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})").expect("static template");
    let spinner = ProgressBar::with_draw_target(None, target()).with_style(style).with_prefix(what.to_string());
    tick(&spinner, 120);
    spinner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_for_a_person_at_a_terminal() {
        assert!(bars_visible(false, true, false));
        assert!(!bars_visible(true, true, false), "--quiet");
        assert!(!bars_visible(false, false, false), "piped");
        assert!(!bars_visible(false, true, true), "CI");
    }

    #[test]
    fn hidden_bars_draw_nothing_and_still_count() {
        let bar = bar(3, "days");
        if !std::io::stderr().is_terminal() {
            assert!(bar.is_hidden());
        }
        bar.inc(2);
        assert_eq!(bar.position(), 2);
        bar.finish_and_clear();
    }
}

/// Progress of an import or a sizing run on a terminal: a bar per stage (or one spinner), notes on stderr.
#[derive(Default)]
pub(super) struct Bars {
    bar: std::cell::RefCell<Option<indicatif::ProgressBar>>,
    spinner: bool,
}

impl Bars {
    /// A spinner with the running counts instead of bars.
    pub(super) fn spinner() -> Self {
        Self { spinner: true, ..Self::default() }
    }
}

impl crate::sources::sink::Progress for Bars {
    fn note(&self, text: &str) {
        eprintln!("{text}");
    }
    fn begin(&self, total: u64, label: &str) {
        let bar = if self.spinner { spinner(label) } else { bar(total, label) };
        *self.bar.borrow_mut() = Some(bar);
    }
    fn step(&self, status: &str) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            if !self.spinner {
                bar.inc(1);
            }
            bar.set_message(status.to_string());
        }
    }
    fn end(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}
