//! One replay worker: reads whole files, decides each call against both policy sets and
//! tallies the results.
//!
//! Verdicts are memoized per worker. A verdict is a function of the request fields
//! (account, principal, action, region, resource) and of the values of the condition keys
//! the account's policies refer to (in `Condition` blocks or as `${...}` variables); the
//! memo key is exactly that, so a cached verdict is the one `evaluate` would give. Calls
//! repeat a lot (the same role making the same call in the same region), so most events
//! cost a parse and a hash lookup.

use std::sync::Arc;

use super::super::iam::matching::action_matches;
use super::super::iam::{
    evaluate, DenyCause, ElementList, Evaluation, Hierarchy, Level, NamedPolicy, PolicyDocument,
    Statement, Verdict,
};
use super::super::lint::IamData;
use super::aggregate::{bump, Decision, FxMap, Partial, SEP};
use super::error::FileError;
use super::event::{classify, Call, Classified, KeyValue, Record};
use super::source::{open, InputFile, RecordSink, RecordSplitter};
use super::{PolicySource, ReplayOptions};

/// Drop the memo when it grows past this many entries (bounds memory).
pub const MEMO_LIMIT: usize = 250_000;

/// Drop the per-action hierarchies when they grow past this many entries.
pub const REDUCED_LIMIT: usize = 20_000;

/// The hierarchy as it applies to one action: statements whose `Action`/`NotAction` does
/// not match the action are left out, and the `Action` of the others becomes `*`. For a
/// request with that action, `evaluate` decides exactly as on the full hierarchy (the
/// action element only ever filters statements; levels, policies, statement indices and
/// Sids stay), but without matching the action against long `NotAction` lists again.
pub(crate) fn reduce_for_action(h: &Hierarchy, action: &str) -> Hierarchy {
    Hierarchy {
        kind: h.kind,
        management_account: h.management_account.clone(),
        levels: h
            .levels
            .iter()
            .map(|l| Level {
                kind: l.kind,
                name: l.name.clone(),
                policies: l
                    .policies
                    .iter()
                    .map(|p| NamedPolicy {
                        name: p.name.clone(),
                        document: PolicyDocument {
                            version: p.document.version.clone(),
                            id: p.document.id.clone(),
                            statements: p
                                .document
                                .statements
                                .iter()
                                .filter(|st| {
                                    st.action
                                        .values
                                        .iter()
                                        .any(|pat| action_matches(pat, action))
                                        != st.action.not
                                })
                                .map(|st| Statement {
                                    index: st.index,
                                    sid: st.sid.clone(),
                                    effect: st.effect,
                                    principal: st.principal.clone(),
                                    action: ElementList {
                                        not: false,
                                        values: vec!["*".to_string()],
                                    },
                                    resource: st.resource.clone(),
                                    conditions: st.conditions.clone(),
                                })
                                .collect(),
                            raw: serde_json::Value::Null,
                        },
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A memo: key bytes to the (current, proposed) verdicts.
type Memo = FxMap<Box<[u8]>, (Brief, Brief)>;

/// Verdicts shared by the workers: a worker that misses its own memo looks here before
/// evaluating (each key is then evaluated about once, whatever the number of workers).
#[derive(Default)]
pub(crate) struct SharedMemo {
    map: std::sync::Mutex<Memo>,
}

impl SharedMemo {
    fn get(&self, key: &[u8]) -> Option<(Brief, Brief)> {
        self.map.lock().ok()?.get(key).cloned()
    }

    fn insert(&self, key: &[u8], v: &(Brief, Brief)) {
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= MEMO_LIMIT {
                m.clear();
            }
            m.insert(key.into(), v.clone());
        }
    }
}

/// The current and proposed hierarchies of an account reduced to one action.
struct Reduced {
    current: Hierarchy,
    proposed: Hierarchy,
}

/// A verdict reduced to what the report needs.
#[derive(Debug, Clone)]
enum Brief {
    Allowed,
    /// Every policy statement that denies (or the level without an Allow).
    Denied(Arc<[Arc<Decision>]>),
    Indeterminate(Arc<[String]>),
}

impl Brief {
    fn of(e: Evaluation) -> Brief {
        let denials = e.denials();
        match e.verdict {
            Verdict::Allowed { .. } => Brief::Allowed,
            Verdict::Denied { .. } => Brief::Denied(
                denials
                    .into_iter()
                    .map(|(level, cause)| {
                        let (policy, statement) = match &cause {
                            DenyCause::Statement { policy, statement } => {
                                (Some(policy.clone()), Some(statement.to_string()))
                            }
                            DenyCause::NoAllow => (None, None),
                        };
                        let level_text = level.to_string();
                        Arc::new(Decision {
                            text: Verdict::Denied { level, cause }.to_string(),
                            level: level_text,
                            policy,
                            statement,
                        })
                    })
                    .collect(),
            ),
            Verdict::Indeterminate { missing_keys, .. } => {
                Brief::Indeterminate(missing_keys.into())
            }
        }
    }
}

/// The hierarchies of one account and the context keys they refer to.
struct AccountPlan<'p> {
    current: &'p Hierarchy,
    proposed: &'p Hierarchy,
    /// Lower-cased condition/variable keys, sorted, without the derived ones.
    keys: Vec<String>,
}

/// Condition keys and `${...}` variables referred to by a hierarchy's policies.
fn referenced_keys(h: &Hierarchy, out: &mut Vec<String>) {
    for level in &h.levels {
        for p in &level.policies {
            for st in &p.document.statements {
                for c in &st.conditions {
                    out.push(c.key.to_ascii_lowercase());
                }
            }
            let raw = p.document.raw.to_string();
            let mut rest = raw.as_str();
            while let Some(i) = rest.find("${") {
                rest = &rest[i + 2..];
                let Some(end) = rest.find('}') else { break };
                let inner = &rest[..end];
                let key = inner.split(',').next().unwrap_or("").trim();
                if !matches!(key, "*" | "?" | "$" | "") {
                    out.push(key.to_ascii_lowercase());
                }
                rest = &rest[end + 1..];
            }
        }
    }
}

pub(crate) struct Worker<'p> {
    current: &'p dyn PolicySource,
    proposed: &'p dyn PolicySource,
    options: &'p ReplayOptions,
    shared: &'p SharedMemo,
    plans: FxMap<Box<str>, Option<Arc<AccountPlan<'p>>>>,
    memo: Memo,
    /// account \0 action -> hierarchies reduced to the action
    reduced: FxMap<Box<str>, Arc<Reduced>>,
    key: Vec<u8>,
    group_key: String,
    /// The dataset mapped actions are checked against, and its answers so far.
    iam: &'p IamData,
    known_actions: FxMap<Box<str>, bool>,
    pub acc: Partial,
}

impl<'p> Worker<'p> {
    pub fn new(
        current: &'p dyn PolicySource,
        proposed: &'p dyn PolicySource,
        options: &'p ReplayOptions,
        shared: &'p SharedMemo,
    ) -> Self {
        Self {
            current,
            proposed,
            options,
            shared,
            plans: FxMap::default(),
            memo: FxMap::default(),
            reduced: FxMap::default(),
            key: Vec::with_capacity(256),
            group_key: String::with_capacity(256),
            iam: match options.iam_data.as_deref() {
                Some(d) => d,
                None => IamData::built_in(),
            },
            known_actions: FxMap::default(),
            acc: Partial::default(),
        }
    }

    /// Read one file to its end; a read error is recorded and ends the file.
    pub fn process_file(&mut self, file: &InputFile, splitter: &mut RecordSplitter) {
        self.acc.totals.files += 1;
        struct Sink<'w, 'p> {
            worker: &'w mut Worker<'p>,
            action: String,
            principal: String,
        }
        impl RecordSink for Sink<'_, '_> {
            fn record(&mut self, bytes: &[u8]) {
                let rec = Record::parse(bytes).ok();
                self.worker
                    .record(rec, &mut self.action, &mut self.principal);
            }
            fn record_prefix(&mut self, bytes: &[u8]) -> Option<usize> {
                let (rec, len) = Record::parse_prefix(bytes).ok()?;
                self.worker
                    .record(Some(rec), &mut self.action, &mut self.principal);
                Some(len)
            }
        }
        let mut sink = Sink {
            worker: self,
            action: String::with_capacity(64),
            principal: String::with_capacity(128),
        };
        let result = open(&file.path).and_then(|mut r| splitter.split_into(&mut r, &mut sink));
        match result {
            Ok(n) => self.acc.totals.bytes += n,
            Err(e) => {
                self.acc.totals.files_failed += 1;
                self.acc.file_errors.push(FileError {
                    path: file.path.display().to_string(),
                    message: e.to_string(),
                });
            }
        }
    }

    fn record(&mut self, rec: Option<Record<'_>>, action: &mut String, principal: &mut String) {
        self.acc.totals.records += 1;
        let Some(rec) = rec else {
            self.acc.totals.malformed_records += 1;
            return;
        };
        let mgmt = self.options.management_account.as_deref();
        let org = self.options.organization_id.as_deref();
        let mut classified = classify(&rec, mgmt, org, action, principal);
        if matches!(classified, Classified::Baseline(_) | Classified::Call(_))
            && !self.is_known_action(action)
        {
            // Mapped, but to a name IAM does not have: evaluating it would decide a request
            // AWS never authorizes that way.
            classified = Classified::Unmapped;
        }
        match classified {
            Classified::Skipped(reason) => {
                self.acc.totals.skipped += 1;
                *self.acc.skipped.entry(reason).or_default() += 1;
            }
            Classified::Unmapped => {
                self.acc.totals.unmapped += 1;
                bump(&mut self.acc.unmapped, action);
            }
            Classified::Baseline(code) => {
                self.acc.totals.baseline_denied += 1;
                bump(&mut self.acc.baseline, code);
            }
            Classified::Call(call) => self.call(&call, action),
        }
    }

    fn is_known_action(&mut self, action: &str) -> bool {
        if let Some(k) = self.known_actions.get(action) {
            return *k;
        }
        let k = self.iam.is_known_action(action);
        self.known_actions.insert(action.into(), k);
        k
    }

    fn plan(&mut self, account: &str) -> Option<Arc<AccountPlan<'p>>> {
        if let Some(p) = self.plans.get(account) {
            return p.clone();
        }
        let plan = match (
            self.current.hierarchy(account),
            self.proposed.hierarchy(account),
        ) {
            (Some(current), Some(proposed)) => {
                let mut keys = Vec::new();
                referenced_keys(current, &mut keys);
                referenced_keys(proposed, &mut keys);
                keys.sort();
                keys.dedup();
                keys.retain(|k| {
                    !matches!(
                        k.as_str(),
                        "aws:requestedregion" | "aws:principalarn" | "aws:principalaccount"
                    )
                });
                Some(Arc::new(AccountPlan {
                    current,
                    proposed,
                    keys,
                }))
            }
            _ => None,
        };
        self.plans.insert(account.into(), plan.clone());
        plan
    }

    fn verdicts(
        &mut self,
        plan: &AccountPlan<'p>,
        call: &Call<'_, '_>,
        action: &str,
    ) -> (Brief, Brief) {
        if !self.options.memoize {
            let req = call.request(action);
            return (
                Brief::of(evaluate(plan.current, &req)),
                Brief::of(evaluate(plan.proposed, &req)),
            );
        }
        let k = &mut self.key;
        k.clear();
        for part in [call.account, call.principal_arn, action, call.region] {
            k.extend_from_slice(part.as_bytes());
            k.push(0);
        }
        for key in &plan.keys {
            match call.key_value(key) {
                KeyValue::Present(v) => {
                    k.push(b'P');
                    k.extend_from_slice(v.as_bytes());
                    k.push(0);
                }
                KeyValue::Absent => k.push(b'A'),
                KeyValue::Unknown => k.push(b'U'),
            }
        }
        if let Some(v) = self.memo.get(&self.key[..]) {
            return v.clone();
        }
        let v = match self.shared.get(&self.key) {
            Some(v) => v,
            None => {
                let reduced = self.reduced(plan, call.account, action);
                let req = call.request_with(action, &plan.keys);
                let v = (
                    Brief::of(evaluate(&reduced.current, &req)),
                    Brief::of(evaluate(&reduced.proposed, &req)),
                );
                self.shared.insert(&self.key, &v);
                v
            }
        };
        if self.memo.len() >= MEMO_LIMIT {
            self.memo.clear();
        }
        self.memo.insert(self.key.as_slice().into(), v.clone());
        v
    }

    fn reduced(&mut self, plan: &AccountPlan<'p>, account: &str, action: &str) -> Arc<Reduced> {
        let g = &mut self.group_key;
        g.clear();
        g.push_str(account);
        g.push(SEP);
        g.push_str(action);
        if let Some(r) = self.reduced.get(g.as_str()) {
            return r.clone();
        }
        let r = Arc::new(Reduced {
            current: reduce_for_action(plan.current, action),
            proposed: reduce_for_action(plan.proposed, action),
        });
        if self.reduced.len() >= REDUCED_LIMIT {
            self.reduced.clear();
        }
        self.reduced.insert(g.as_str().into(), r.clone());
        r
    }

    fn call(&mut self, call: &Call<'_, '_>, action: &str) {
        let Some(plan) = self.plan(call.account) else {
            let missing = match (
                self.current.hierarchy(call.account).is_some(),
                self.proposed.hierarchy(call.account).is_some(),
            ) {
                (false, false) => "both",
                (false, true) => "current",
                _ => "proposed",
            };
            self.acc.totals.no_hierarchy += 1;
            match self.acc.no_hierarchy.get_mut(call.account) {
                Some(e) => e.1 += 1,
                None => {
                    self.acc
                        .no_hierarchy
                        .insert(call.account.into(), (missing, 1));
                }
            }
            return;
        };
        let (cur, prop) = self.verdicts(&plan, call, action);
        let t = &mut self.acc.totals;
        t.evaluated += 1;
        for (side, b) in [("current", &cur), ("proposed", &prop)] {
            if let Brief::Indeterminate(keys) = b {
                if side == "current" {
                    self.acc.totals.indeterminate_current += 1;
                } else {
                    self.acc.totals.indeterminate_proposed += 1;
                }
                let e = self
                    .acc
                    .indeterminate
                    .entry((side, keys.clone()))
                    .or_default();
                e.count += 1;
                e.add_action(action);
            }
        }
        let t = &mut self.acc.totals;
        match (&cur, &prop) {
            (Brief::Denied(_), Brief::Denied(_)) => t.denied_both += 1,
            (Brief::Denied(_), _) => t.newly_allowed += 1,
            (_, Brief::Denied(d)) => {
                t.newly_denied += 1;
                let g = &mut self.group_key;
                g.clear();
                for (i, part) in [call.account, call.principal_arn, action, call.region]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        g.push(SEP);
                    }
                    g.push_str(part);
                }
                let acc = match self.acc.groups.get_mut(g.as_str()) {
                    Some(a) => a,
                    None => self.acc.groups.entry(g.as_str().into()).or_default(),
                };
                acc.count += 1;
                acc.add_time(call.event_time);
                if matches!(cur, Brief::Indeterminate(_)) {
                    acc.currently_indeterminate += 1;
                }
                for d in d.iter() {
                    if !acc.decisions.contains(d) {
                        acc.decisions.insert(d.clone());
                    }
                }
            }
            (Brief::Allowed, Brief::Allowed) => t.allowed_both += 1,
            _ => t.undecided += 1,
        }
    }
}
