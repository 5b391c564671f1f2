//! Progress of an apply: a bar on a terminal, plain lines otherwise.

use indicatif::{ProgressBar, ProgressStyle};

use crate::plan::Change;

/// Reports each finished change on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: std::sync::atomic::AtomicUsize,
    count: std::sync::atomic::AtomicUsize,
}

impl Progress {
    /// A bar when `interactive`, plain lines otherwise.
    pub fn new(interactive: bool) -> Progress {
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
                    .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            total: Default::default(),
            count: Default::default(),
        }
    }

    /// Sets the number of changes.
    pub fn start(&self, total: usize) {
        self.total
            .store(total, std::sync::atomic::Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        }
    }

    /// One change is done (or failed with `error`).
    pub fn finished(&self, change: &Change, error: Option<&str>) {
        let n = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
        let line = match error {
            None => format!(
                "[{n}/{total}] {} {} ... done",
                change.action.symbol(),
                change.address
            ),
            Some(e) => format!(
                "[{n}/{total}] {} {} ... FAILED: {e}",
                change.action.symbol(),
                change.address
            ),
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if error.is_some() {
                    bar.println(&line);
                }
                bar.set_message(format!("{}", change.address));
            }
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
