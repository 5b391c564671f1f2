//! The replay report and the per-worker tallies merged into it.
//!
//! Every tally is a sum, a minimum or a maximum, so the merged report does not depend on
//! which worker read which file; the final lists are sorted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::error::FileError;

/// Version of the JSON report layout ([`ReplayReport::format_version`]).
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// How many example actions an indeterminate tally keeps.
pub const EXAMPLE_ACTIONS: usize = 5;

/// What decided a denial under the proposed policies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Decision {
    /// The verdict as the evaluator words it, e.g. `denied by policy region statement
    /// DenyOutsideRegions at level root Root`.
    pub text: String,
    /// The level that denied, e.g. `OU Companies/Foo`.
    pub level: String,
    /// The denying policy (none for an implicit deny: no Allow at the level).
    pub policy: Option<String>,
    /// The denying statement (Sid, or `#index`).
    pub statement: Option<String>,
}

/// Calls that the proposed policies would deny and the current ones do not, for one
/// (account, principal, action, region).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeniedGroup {
    /// The caller's account.
    pub account: String,
    /// The account's name, when the replay was given one ([`ReplayOptions::account_names`]).
    ///
    /// [`ReplayOptions::account_names`]: super::ReplayOptions::account_names
    pub account_name: Option<String>,
    /// The principal ARN (the role for role sessions).
    pub principal: String,
    /// The IAM action.
    pub action: String,
    /// The requested region.
    pub region: String,
    /// Number of calls.
    pub count: u64,
    /// `eventTime` of the first call.
    pub first_seen: String,
    /// `eventTime` of the last call.
    pub last_seen: String,
    /// Of these calls, how many had an indeterminate (rather than allowed) verdict under
    /// the current policies.
    pub currently_indeterminate: u64,
    /// Every policy statement that denies them under the proposed policies (or the level
    /// without an Allow, for an implicit deny).
    pub denied_by: Vec<Decision>,
}

/// Verdicts that depended on condition keys the records do not carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndeterminateCount {
    /// `current` or `proposed`.
    pub policies: &'static str,
    /// The keys (lower-cased) the verdict depended on.
    pub missing_keys: Vec<String>,
    /// Number of events.
    pub count: u64,
    /// Up to [`EXAMPLE_ACTIONS`] actions concerned (alphabetically first).
    pub example_actions: Vec<String>,
}

/// A count by name (event name, error code, skip reason).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameCount {
    /// The name.
    pub name: String,
    /// How many events.
    pub count: u64,
}

/// Events of an account that has no policy hierarchy on one side (not in the
/// organization model, or unknown to the plan).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountWithoutHierarchy {
    /// The account id.
    pub account: String,
    /// The account's name, when known.
    pub account_name: Option<String>,
    /// `current`, `proposed` or `both`: which side has no hierarchy.
    pub missing: &'static str,
    /// Number of events not evaluated.
    pub events: u64,
}

/// Overall counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Input files found.
    pub files: u64,
    /// Files that could not be read to their end (see `file_errors`).
    pub files_failed: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Records found.
    pub records: u64,
    /// Records that did not parse as a CloudTrail record.
    pub malformed_records: u64,
    /// Records skipped (see `skipped` for the reasons).
    pub skipped: u64,
    /// Events with no IAM action.
    pub unmapped: u64,
    /// Events that already failed with an authorization error.
    pub baseline_denied: u64,
    /// Events of accounts without a hierarchy.
    pub no_hierarchy: u64,
    /// Events evaluated against both policy sets.
    pub evaluated: u64,
    /// Allowed or indeterminate now, denied under the proposed policies.
    pub newly_denied: u64,
    /// Denied under both.
    pub denied_both: u64,
    /// Denied now, not denied under the proposed policies.
    pub newly_allowed: u64,
    /// Allowed under both.
    pub allowed_both: u64,
    /// Not denied on either side, indeterminate on at least one.
    pub undecided: u64,
    /// Indeterminate under the current policies.
    pub indeterminate_current: u64,
    /// Indeterminate under the proposed policies.
    pub indeterminate_proposed: u64,
}

/// The result of a replay.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Layout version of this report ([`REPORT_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Overall counts.
    pub totals: Totals,
    /// Newly denied calls, sorted by account, principal, action, region.
    pub newly_denied: Vec<DeniedGroup>,
    /// Unmapped events by `service:EventName`, most frequent first.
    pub unmapped: Vec<NameCount>,
    /// Indeterminate verdicts by side and missing keys, most frequent first.
    pub indeterminate: Vec<IndeterminateCount>,
    /// Skipped records by reason (`aws_service`, `service_event`, `service_linked_role`,
    /// `management_account`, ...), most frequent first.
    pub skipped: Vec<NameCount>,
    /// Already-refused events by `errorCode`, most frequent first.
    pub baseline_denied: Vec<NameCount>,
    /// Accounts whose events were not evaluated for lack of a hierarchy.
    pub accounts_without_hierarchy: Vec<AccountWithoutHierarchy>,
    /// Files that could not be read to their end.
    pub file_errors: Vec<FileError>,
}

impl ReplayReport {
    /// True when some call would newly be denied under the proposed policies (for
    /// `--detailed-exitcode`: exit 2).
    pub fn has_new_denials(&self) -> bool {
        self.totals.newly_denied > 0
    }

    /// Fill the account names of the report's lists from an id -> name map.
    pub fn name_accounts(&mut self, names: &BTreeMap<String, String>) {
        for g in &mut self.newly_denied {
            g.account_name = names.get(&g.account).cloned();
        }
        for a in &mut self.accounts_without_hierarchy {
            a.account_name = names.get(&a.account).cloned();
        }
    }

    /// `111122223333 (name)`, or the id alone when the name is not known.
    pub fn account_label(id: &str, name: Option<&str>) -> String {
        match name {
            Some(n) if !n.is_empty() => format!("{id} ({n})"),
            _ => id.to_string(),
        }
    }
}

/// FxHash: a fast, non-cryptographic hasher for the per-worker tables (their keys come
/// from local files the operator chose).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Tally of one newly-denied group inside a worker.
#[derive(Debug, Default)]
pub(crate) struct GroupAcc {
    pub count: u64,
    pub first: String,
    pub last: String,
    pub currently_indeterminate: u64,
    pub decisions: BTreeSet<Arc<Decision>>,
}

impl GroupAcc {
    pub fn add_time(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if self.first.is_empty() || t < self.first.as_str() {
            self.first.clear();
            self.first.push_str(t);
        }
        if t > self.last.as_str() {
            self.last.clear();
            self.last.push_str(t);
        }
    }

    fn merge(&mut self, o: GroupAcc) {
        self.count += o.count;
        self.currently_indeterminate += o.currently_indeterminate;
        self.add_time(&o.first);
        self.add_time(&o.last);
        self.decisions.extend(o.decisions);
    }
}

/// Tally of indeterminate verdicts for one (side, keys).
#[derive(Debug, Default)]
pub(crate) struct IndAcc {
    pub count: u64,
    pub actions: BTreeSet<String>,
}

impl IndAcc {
    pub fn add_action(&mut self, a: &str) {
        if self.actions.len() >= EXAMPLE_ACTIONS
            && self.actions.last().is_some_and(|l| a >= l.as_str())
        {
            return;
        }
        if self.actions.contains(a) {
            return;
        }
        self.actions.insert(a.to_string());
        while self.actions.len() > EXAMPLE_ACTIONS {
            self.actions.pop_last();
        }
    }
}

/// Separator of the parts of a group key.
pub(crate) const SEP: char = '\u{0}';

/// What one worker counted.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    pub totals: Totals,
    /// key: account \0 principal \0 action \0 region
    pub groups: FxMap<Box<str>, GroupAcc>,
    pub unmapped: FxMap<Box<str>, u64>,
    pub indeterminate: FxMap<(&'static str, Arc<[String]>), IndAcc>,
    pub skipped: FxMap<&'static str, u64>,
    pub baseline: FxMap<Box<str>, u64>,
    /// account -> (missing side, events)
    pub no_hierarchy: FxMap<Box<str>, (&'static str, u64)>,
    pub file_errors: Vec<FileError>,
}

pub(crate) fn bump(map: &mut FxMap<Box<str>, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.into(), 1);
        }
    }
}

impl Partial {
    pub fn merge(&mut self, o: Partial) {
        let (a, b) = (&mut self.totals, o.totals);
        a.files += b.files;
        a.files_failed += b.files_failed;
        a.bytes += b.bytes;
        a.records += b.records;
        a.malformed_records += b.malformed_records;
        a.skipped += b.skipped;
        a.unmapped += b.unmapped;
        a.baseline_denied += b.baseline_denied;
        a.no_hierarchy += b.no_hierarchy;
        a.evaluated += b.evaluated;
        a.newly_denied += b.newly_denied;
        a.denied_both += b.denied_both;
        a.newly_allowed += b.newly_allowed;
        a.allowed_both += b.allowed_both;
        a.undecided += b.undecided;
        a.indeterminate_current += b.indeterminate_current;
        a.indeterminate_proposed += b.indeterminate_proposed;
        for (k, g) in o.groups {
            self.groups.entry(k).or_default().merge(g);
        }
        for (k, n) in o.unmapped {
            *self.unmapped.entry(k).or_default() += n;
        }
        for (k, i) in o.indeterminate {
            let e = self.indeterminate.entry(k).or_default();
            e.count += i.count;
            for a in &i.actions {
                e.add_action(a);
            }
        }
        for (k, n) in o.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
        for (k, n) in o.baseline {
            *self.baseline.entry(k).or_default() += n;
        }
        for (k, (side, n)) in o.no_hierarchy {
            self.no_hierarchy.entry(k).or_insert((side, 0)).1 += n;
        }
        self.file_errors.extend(o.file_errors);
    }

    pub fn into_report(self) -> ReplayReport {
        fn counts<K: AsRef<str>>(m: impl IntoIterator<Item = (K, u64)>) -> Vec<NameCount> {
            let mut v: Vec<NameCount> = m
                .into_iter()
                .map(|(k, count)| NameCount {
                    name: k.as_ref().to_string(),
                    count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            v
        }
        let mut newly_denied: Vec<DeniedGroup> = self
            .groups
            .into_iter()
            .map(|(k, g)| {
                let mut parts = k.split(SEP);
                let mut next = || parts.next().unwrap_or("").to_string();
                DeniedGroup {
                    account: next(),
                    account_name: None,
                    principal: next(),
                    action: next(),
                    region: next(),
                    count: g.count,
                    first_seen: g.first,
                    last_seen: g.last,
                    currently_indeterminate: g.currently_indeterminate,
                    denied_by: g.decisions.into_iter().map(|d| (*d).clone()).collect(),
                }
            })
            .collect();
        newly_denied.sort_by(|a, b| {
            (&a.account, &a.principal, &a.action, &a.region).cmp(&(
                &b.account,
                &b.principal,
                &b.action,
                &b.region,
            ))
        });
        let mut indeterminate: Vec<IndeterminateCount> = self
            .indeterminate
            .into_iter()
            .map(|((side, keys), acc)| IndeterminateCount {
                policies: side,
                missing_keys: keys.to_vec(),
                count: acc.count,
                example_actions: acc.actions.into_iter().collect(),
            })
            .collect();
        indeterminate.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.policies.cmp(b.policies))
                .then_with(|| a.missing_keys.cmp(&b.missing_keys))
        });
        let mut accounts: Vec<AccountWithoutHierarchy> = self
            .no_hierarchy
            .into_iter()
            .map(|(a, (missing, events))| AccountWithoutHierarchy {
                account: a.into(),
                account_name: None,
                missing,
                events,
            })
            .collect();
        accounts.sort_by(|a, b| a.account.cmp(&b.account));
        let mut file_errors = self.file_errors;
        file_errors.sort();
        let by_reason: BTreeMap<&str, u64> = self.skipped.into_iter().collect();
        ReplayReport {
            format_version: REPORT_FORMAT_VERSION,
            totals: self.totals,
            newly_denied,
            unmapped: counts(self.unmapped),
            indeterminate,
            skipped: counts(by_reason),
            baseline_denied: counts(self.baseline),
            accounts_without_hierarchy: accounts,
            file_errors,
        }
    }
}
