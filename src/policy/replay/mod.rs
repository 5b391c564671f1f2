//! CloudTrail replay (`lzctl scp simulate --events PATH...`): decide the API calls recorded
//! by CloudTrail against the organization policies in force and against the policies a
//! plan proposes, and report the calls that would newly be denied.
//!
//! - [`source`]: input discovery (files, directories walked recursively), gzip detection by
//!   magic bytes, and a streaming splitter of `{"Records":[...]}` / JSON lines into records;
//! - [`event`]: a record's fields (borrowed) and its mapping to an IAM [`Request`]:
//!   action renames, principal ARN, skipped callers, condition keys filled from the record;
//! - `worker`: per-thread evaluation with a memo of verdicts;
//! - [`aggregate`]: the [`ReplayReport`];
//! - [`render`]: human, JSON and CSV output.
//!
//! ```ignore
//! struct Org { /* account id -> Hierarchy */ }
//! impl PolicySource for Org {
//!     fn hierarchy(&self, account_id: &str) -> Option<&Hierarchy> { self.by_account.get(account_id) }
//! }
//! let report = replay(&paths, &current, &proposed, &ReplayOptions {
//!     management_account: Some(mgmt.into()), ..Default::default() })?;
//! print!("{}", render_human(&report));
//! ```
//!
//! Files are processed in parallel by `threads` workers (std threads; each reads whole
//! files, largest first); each file is streamed, so memory is one read buffer plus the
//! largest record per worker, plus the tallies (bounded by the number of distinct groups).
//!
//! The module refers to the evaluator only as `super::iam`, so it can be mounted as
//! `crate::policy::replay` beside `crate::policy::iam` anywhere.
//!
//! [`Request`]: super::iam::Request

pub mod aggregate;
pub mod error;
pub mod event;
pub mod render;
pub mod scan;
pub mod source;
mod worker;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::iam::Hierarchy;
use super::lint::IamData;

pub use self::aggregate::{
    AccountWithoutHierarchy, Decision, DeniedGroup, IndeterminateCount, NameCount, ReplayReport,
    Totals, REPORT_FORMAT_VERSION,
};
pub use self::error::{FileError, ReplayError};
pub use self::render::{render_csv, render_human, render_json};
pub use self::source::{discover, InputFile};

/// The policy hierarchy (root, OUs, account) in force for an account, on one side of the
/// comparison (the current attachments, or those after a plan).
pub trait PolicySource: Sync {
    /// The SCP hierarchy of `account_id`, or `None` when the account is unknown (its events
    /// are counted under `accounts_without_hierarchy`, not evaluated).
    fn hierarchy(&self, account_id: &str) -> Option<&Hierarchy>;
}

/// A [`PolicySource`] giving the same hierarchy for every account (handy in tests and for
/// `--events` runs against a single policy set).
impl PolicySource for Hierarchy {
    fn hierarchy(&self, _account_id: &str) -> Option<&Hierarchy> {
        Some(self)
    }
}

impl<S: std::hash::BuildHasher + Sync> PolicySource
    for std::collections::HashMap<String, Hierarchy, S>
{
    fn hierarchy(&self, account_id: &str) -> Option<&Hierarchy> {
        self.get(account_id)
    }
}

impl PolicySource for std::collections::BTreeMap<String, Hierarchy> {
    fn hierarchy(&self, account_id: &str) -> Option<&Hierarchy> {
        self.get(account_id)
    }
}

/// Options of a replay.
#[derive(Clone)]
pub struct ReplayOptions {
    /// Worker threads; `0` means one per available core.
    pub threads: usize,
    /// The management account: its events are skipped (SCPs do not apply to it).
    pub management_account: Option<String>,
    /// The organization id: when given, `aws:PrincipalOrgID` is set to it for callers
    /// (every evaluated caller belongs to an account of the organization model).
    pub organization_id: Option<String>,
    /// Memoize verdicts (on by default; turning it off only makes the replay slower).
    pub memoize: bool,
    /// Called from the worker threads after each file (e.g. to drive a progress bar).
    pub progress: Option<ProgressFn>,
    /// The IAM dataset a mapped action must be in to be evaluated; an event whose action
    /// it does not know is counted as unmapped. `None`: the dataset shipped with lzctl
    /// ([`IamData::built_in`]).
    pub iam_data: Option<std::sync::Arc<IamData>>,
    /// Account names by id, shown next to the ids in the report (all formats).
    pub account_names: std::collections::BTreeMap<String, String>,
}

/// A progress callback: see [`ReplayOptions::progress`].
pub type ProgressFn = std::sync::Arc<dyn Fn(&Progress) + Send + Sync>;

/// How far a replay has come (totals over all workers, after a file is done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files read to their end (or to an error).
    pub files_done: u64,
    /// Files to read.
    pub files_total: u64,
    /// Compressed (on-disk) bytes of the files done.
    pub file_bytes_done: u64,
    /// On-disk bytes of all the files.
    pub file_bytes_total: u64,
    /// Records found in the files done.
    pub records: u64,
}

impl std::fmt::Debug for ReplayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayOptions")
            .field("threads", &self.threads)
            .field("management_account", &self.management_account)
            .field("organization_id", &self.organization_id)
            .field("memoize", &self.memoize)
            .field("account_names", &self.account_names.len())
            .field("progress", &self.progress.as_ref().map(|_| "Fn(&Progress)"))
            .field(
                "iam_data",
                &self.iam_data.as_ref().map_or("built-in", |d| d.source()),
            )
            .finish()
    }
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            management_account: None,
            organization_id: None,
            memoize: true,
            progress: None,
            iam_data: None,
            account_names: Default::default(),
        }
    }
}

impl ReplayOptions {
    /// The number of worker threads to start for `files` files.
    pub fn worker_count(&self, files: usize) -> usize {
        let n = if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        };
        n.clamp(1, files.max(1))
    }
}

/// Replay the CloudTrail records under `paths` (files or directories) against the
/// `current` and `proposed` policies.
///
/// Fails only when an input path cannot be read (see [`ReplayError`]); files that cannot be
/// read to their end are listed in [`ReplayReport::file_errors`].
pub fn replay(
    paths: &[PathBuf],
    current: &dyn PolicySource,
    proposed: &dyn PolicySource,
    options: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let files = discover(paths)?;
    replay_files(&files, current, proposed, options)
}

/// [`replay`] on an already discovered list of files.
pub fn replay_files(
    files: &[InputFile],
    current: &dyn PolicySource,
    proposed: &dyn PolicySource,
    options: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    // Largest files first, so that no worker is left with a big file at the end.
    let mut order: Vec<&InputFile> = files.iter().collect();
    order.sort_by(|a, b| b.len.cmp(&a.len).then_with(|| a.path.cmp(&b.path)));
    let next = AtomicUsize::new(0);
    let (files_done, bytes_done, records_done) =
        (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let bytes_total: u64 = files.iter().map(|f| f.len).sum();
    let shared = worker::SharedMemo::default();
    let workers = options.worker_count(files.len());
    let partials = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut w = worker::Worker::new(current, proposed, options, &shared);
                    let mut splitter = source::RecordSplitter::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = order.get(i) else { break };
                        let before = w.acc.totals.records;
                        w.process_file(f, &mut splitter);
                        if let Some(report) = &options.progress {
                            let records = w.acc.totals.records - before;
                            report(&Progress {
                                files_done: files_done.fetch_add(1, Ordering::Relaxed) + 1,
                                files_total: files.len() as u64,
                                file_bytes_done: bytes_done.fetch_add(f.len, Ordering::Relaxed)
                                    + f.len,
                                file_bytes_total: bytes_total,
                                records: records_done.fetch_add(records, Ordering::Relaxed)
                                    + records,
                            });
                        }
                    }
                    w.acc
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().map_err(|e| {
                    let msg = e
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| e.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into());
                    ReplayError::Worker(msg)
                })
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let mut total = aggregate::Partial::default();
    for p in partials {
        total.merge(p);
    }
    let mut report = total.into_report();
    report.name_accounts(&options.account_names);
    Ok(report)
}
