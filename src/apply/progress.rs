//! Progress of an apply on stderr: a bar on a terminal, plain lines
//! otherwise. Steps in flight are listed with their elapsed time every few
//! seconds (`Still creating... [40s]`), and long waits say what they wait for.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::model::Address;
use crate::plan::{Action, Change};

/// Reports each step on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: std::sync::atomic::AtomicUsize,
    count: std::sync::atomic::AtomicUsize,
    in_flight: Mutex<BTreeMap<Address, (Action, Instant)>>,
}

fn gerund(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "modifying",
        Action::Replace => "replacing",
        Action::Delete => "destroying",
    }
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
            in_flight: Default::default(),
        }
    }

    fn line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
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

    /// A change starts.
    pub fn started(&self, change: &Change) {
        self.in_flight
            .lock()
            .expect("progress lock")
            .insert(change.address.clone(), (change.action, Instant::now()));
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}...", change.address));
        }
    }

    /// A step waits for something (Control Tower, an operation, a busy resource).
    pub fn waiting(&self, address: &Address, status: &str, waited: Duration) {
        if waited.as_secs() < 1 {
            return;
        }
        self.line(&format!(
            "{address}: waiting ({status}) [{}s elapsed]",
            waited.as_secs()
        ));
    }

    /// A message about a step that a person should see (e.g. stack
    /// instances that failed within an operation's failure tolerance).
    pub fn note(&self, address: &Address, text: &str) {
        self.line(&format!("{address}: {text}"));
    }

    /// Lists the steps still in flight with their elapsed time.
    pub fn still_running(&self) {
        let now = Instant::now();
        let in_flight = self.in_flight.lock().expect("progress lock").clone();
        for (address, (action, since)) in in_flight {
            let secs = now.duration_since(since).as_secs();
            if secs >= 10 {
                self.line(&format!(
                    "{address}: Still {}... [{secs}s elapsed]",
                    gerund(action)
                ));
            }
        }
    }

    /// One change is done (or failed with `error`).
    pub fn finished(&self, change: &Change, error: Option<&str>) {
        let since = self
            .in_flight
            .lock()
            .expect("progress lock")
            .remove(&change.address)
            .map(|(_, s)| s.elapsed().as_secs());
        let n = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
        let took = since.map(|s| format!(" after {s}s")).unwrap_or_default();
        let line = match error {
            None => format!(
                "[{n}/{total}] {} {} ... done{took}",
                change.action.symbol(),
                change.address
            ),
            Some(e) => format!(
                "[{n}/{total}] {} {} ... FAILED{took}: {e}",
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
