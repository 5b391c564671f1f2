//! `notify`: one message per new problem (a resource a Config rule finds
//! non-compliant, an active Security Hub finding), one per resolution, and a
//! digest for the severities routed to it.
//!
//! **Never twice.** The state of what was sent is one object (a local file
//! or an S3 object) changed only by conditional writes. Each message is
//! first *claimed* in the state (a write that succeeds only if nobody wrote
//! since this run read it), then sent, then *confirmed*. Two runs that
//! overlap race for each claim: the loser re-reads, sees the claim, and
//! moves on. A run that crashes after claiming leaves the claim: the next
//! run does not send it again (it may or may not have reached the webhook;
//! delivery is at most once) and says so. A message the webhook refused is
//! un-claimed, so the next run tries it again.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::Problem;
use super::store::{Store, StoreError};
use super::webhook::{Posted, WebhookError};

/// The `format` of the state object.
pub const STATE_FORMAT: &str = "lzctl-notify-state";
/// Its version.
pub const STATE_VERSION: u32 = 1;

/// Where a severity goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// A message at once.
    Now,
    /// The next digest.
    Digest,
    /// Not notified.
    Off,
}

/// Severity -> route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes(pub BTreeMap<String, Route>);

impl Default for Routes {
    fn default() -> Routes {
        Routes(
            [
                ("critical", Route::Now),
                ("high", Route::Now),
                ("medium", Route::Digest),
                ("low", Route::Digest),
                ("informational", Route::Off),
            ]
            .into_iter()
            .map(|(s, r)| (s.to_string(), r))
            .collect(),
        )
    }
}

impl Routes {
    /// The defaults with `SEVERITY=ROUTE` overrides.
    pub fn parse(overrides: &[String]) -> Result<Routes, String> {
        let mut routes = Routes::default();
        for o in overrides {
            let (sev, route) = o
                .split_once('=')
                .ok_or_else(|| format!("`{o}` is not SEVERITY=ROUTE (e.g. medium=now)"))?;
            let sev = sev.trim().to_ascii_lowercase();
            if !routes.0.contains_key(&sev) {
                return Err(format!(
                    "`{sev}` is not a severity: critical, high, medium, low or informational"
                ));
            }
            let route = match route.trim() {
                "now" => Route::Now,
                "digest" | "daily" => Route::Digest,
                "off" => Route::Off,
                other => return Err(format!("`{other}` is not a route: now, digest or off")),
            };
            routes.0.insert(sev, route);
        }
        Ok(routes)
    }

    /// The route of a severity (unknown severities: medium's).
    pub fn of(&self, severity: &str) -> Route {
        let s = severity.to_ascii_lowercase();
        self.0
            .get(&s)
            .or_else(|| self.0.get("medium"))
            .copied()
            .unwrap_or(Route::Digest)
    }
}

/// Where a problem stands in the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Waiting for the next digest (nothing sent).
    PendingDigest,
    /// A run claimed its message and has not confirmed it.
    Claimed,
    /// Its message was sent.
    Sent,
    /// A run claimed its resolution and has not confirmed it.
    Resolving,
    /// Resolved, waiting for the next digest.
    ResolvedPendingDigest,
}

/// One problem in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The problem.
    pub problem: Problem,
    /// Where it stands.
    pub status: Status,
    /// The run that claimed it last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<String>,
    /// When it was first seen.
    pub first_seen: String,
    /// When its message was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The message, to edit or reply to.
    #[serde(default)]
    pub posted: Posted,
}

/// The state object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Problems by key.
    pub problems: BTreeMap<String, Entry>,
    /// When the last digest was sent.
    #[serde(default)]
    pub last_digest: Option<String>,
    /// A digest claimed and not confirmed: (run, time).
    #[serde(default)]
    pub digest_claim: Option<(String, String)>,
}

impl Default for State {
    fn default() -> State {
        State {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            problems: BTreeMap::new(),
            last_digest: None,
            digest_claim: None,
        }
    }
}

/// Why notify stopped.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The state store.
    #[error("notification state: {0}")]
    Store(#[from] StoreError),
    /// The state object is not one this lzctl reads.
    #[error("notification state {0}")]
    BadState(String),
    /// The webhook.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// Writers kept racing.
    #[error("notification state kept changing under this run ({0} conflicts); is another notify looping?")]
    Contention(usize),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Problem messages sent.
    pub opened: Vec<String>,
    /// Resolutions sent.
    pub resolved: Vec<String>,
    /// Digests sent (with how many items).
    pub digests: Vec<usize>,
    /// Added to the next digest.
    pub queued: usize,
    /// Claims by runs that did not confirm (not resent).
    pub unconfirmed: Vec<String>,
    /// Write conflicts with another run (each re-read).
    pub conflicts: usize,
    /// Recorded without sending (--baseline).
    pub baselined: usize,
}

/// Sends messages (the webhook, or a test double).
pub trait Sender {
    /// A new problem.
    fn open(&self, p: &Problem) -> impl std::future::Future<Output = Result<Posted, WebhookError>>;
    /// A resolution of a problem that was sent.
    fn resolve(
        &self,
        e: &Entry,
        now: &str,
    ) -> impl std::future::Future<Output = Result<Posted, WebhookError>>;
    /// A digest: problems opened and resolved.
    fn digest(
        &self,
        opened: &[Problem],
        resolved: &[Problem],
    ) -> impl std::future::Future<Output = Result<Posted, WebhookError>>;
}

/// One run's settings.
pub struct Run<'a> {
    /// Run id (unique per run).
    pub id: String,
    /// Now (RFC 3339).
    pub now: String,
    /// Routes.
    pub routes: &'a Routes,
    /// Whether the digest is due (time or --flush-digest), given the last one.
    pub digest_due: &'a dyn Fn(Option<&str>) -> bool,
    /// Record current problems as sent, sending nothing.
    pub baseline: bool,
    /// Sources (`config`, `securityhub`) that could not be read this run:
    /// their sent problems are not taken for resolved.
    pub unread: &'a BTreeSet<String>,
}

async fn load(store: &Store, name: &str) -> Result<(State, Option<String>), NotifyError> {
    match store.get(name).await? {
        None => Ok((State::default(), None)),
        Some(obj) => {
            let state: State = serde_json::from_slice(&obj.bytes)
                .map_err(|e| NotifyError::BadState(format!("{name} does not parse: {e}")))?;
            if state.format != STATE_FORMAT || state.version != STATE_VERSION {
                return Err(NotifyError::BadState(format!(
                    "{name} is format {} version {} (this lzctl reads {STATE_FORMAT} {STATE_VERSION})",
                    state.format, state.version
                )));
            }
            Ok((state, Some(obj.version)))
        }
    }
}

/// Writes the state if nobody wrote since `version`; false on a conflict.
async fn store_if(
    store: &Store,
    name: &str,
    state: &State,
    version: Option<&str>,
) -> Result<bool, NotifyError> {
    let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
    Ok(store.put_if(name, &bytes, version).await?.is_ok())
}

/// What to do next, decided on a fresh read of the state.
enum Step {
    /// Queue these for the digest / drop these (one write, nothing sent).
    Bookkeeping,
    Open(String),
    Resolve(String),
    Digest(Vec<String>),
    Done,
}

fn next_step(state: &mut State, current: &BTreeMap<String, &Problem>, run: &Run<'_>) -> Step {
    // Bookkeeping first: queue digest-routed problems, drop queued ones that
    // cleared before any message, queue resolutions of digest-sent ones.
    let mut changed = false;
    // The digest clock starts at the first run.
    if state.last_digest.is_none() {
        state.last_digest = Some(run.now.clone());
        changed = true;
    }
    for (key, p) in current {
        if !state.problems.contains_key(key.as_str()) && run.routes.of(&p.severity) == Route::Digest
        {
            state.problems.insert(
                key.clone(),
                Entry {
                    problem: (*p).clone(),
                    status: if run.baseline {
                        Status::Sent
                    } else {
                        Status::PendingDigest
                    },
                    claimed_by: None,
                    claimed_at: None,
                    first_seen: run.now.clone(),
                    sent_at: run.baseline.then(|| run.now.clone()),
                    posted: Posted::default(),
                },
            );
            changed = true;
        }
        if run.baseline
            && !state.problems.contains_key(key.as_str())
            && run.routes.of(&p.severity) == Route::Now
        {
            state.problems.insert(
                key.clone(),
                Entry {
                    problem: (*p).clone(),
                    status: Status::Sent,
                    claimed_by: None,
                    claimed_at: None,
                    first_seen: run.now.clone(),
                    sent_at: Some(run.now.clone()),
                    posted: Posted::default(),
                },
            );
            changed = true;
        }
    }
    // A digest claimed by a run that never confirmed (an hour on): it may
    // have been sent; at most once, so count it as sent.
    if let Some((claimer, at)) = state.digest_claim.clone() {
        let stale = chrono::DateTime::parse_from_rfc3339(&at)
            .ok()
            .zip(chrono::DateTime::parse_from_rfc3339(&run.now).ok())
            .is_some_and(|(then, now)| (now - then).num_seconds() > 3600);
        if stale {
            state.digest_claim = None;
            state.last_digest = Some(at);
            state.problems.retain(|_, e| {
                !(e.claimed_by.as_deref() == Some(claimer.as_str())
                    && e.status == Status::ResolvedPendingDigest)
            });
            for e in state.problems.values_mut() {
                if e.claimed_by.as_deref() == Some(claimer.as_str())
                    && e.status == Status::PendingDigest
                {
                    e.status = Status::Sent;
                }
            }
            changed = true;
        }
    }
    // A resolution claimed by a run that never confirmed (an hour on): it
    // may have been sent, so the entry ends (at most once); a problem that
    // is back is then a new one.
    let before = state.problems.len();
    state
        .problems
        .retain(|_, e| !(e.status == Status::Resolving && stale_claim(e, &run.now)));
    changed |= state.problems.len() != before;
    let gone: Vec<String> = state
        .problems
        .iter()
        .filter(|(k, e)| {
            !current.contains_key(k.as_str()) && !run.unread.contains(&e.problem.source)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in &gone {
        let entry = state.problems.get_mut(key).expect("listed");
        match entry.status {
            Status::PendingDigest => {
                state.problems.remove(key);
                changed = true;
            }
            Status::Sent | Status::Claimed
                if run.baseline || run.routes.of(&entry.problem.severity) != Route::Now =>
            {
                if run.baseline || run.routes.of(&entry.problem.severity) == Route::Off {
                    state.problems.remove(key);
                } else {
                    entry.status = Status::ResolvedPendingDigest;
                }
                changed = true;
            }
            _ => {}
        }
    }
    if changed {
        return Step::Bookkeeping;
    }
    if run.baseline {
        return Step::Done;
    }
    // A new problem routed now.
    if let Some((key, _)) = current.iter().find(|(k, p)| {
        !state.problems.contains_key(k.as_str()) && run.routes.of(&p.severity) == Route::Now
    }) {
        return Step::Open(key.clone());
    }
    // A sent (or claimed, maybe sent) problem that cleared.
    if let Some(key) = gone
        .iter()
        .find(|k| matches!(state.problems[*k].status, Status::Sent | Status::Claimed))
    {
        return Step::Resolve(key.clone());
    }
    // The digest.
    let pending: Vec<String> = state
        .problems
        .iter()
        .filter(|(_, e)| {
            matches!(
                e.status,
                Status::PendingDigest | Status::ResolvedPendingDigest
            )
        })
        .map(|(k, _)| k.clone())
        .collect();
    if !pending.is_empty()
        && state.digest_claim.is_none()
        && (run.digest_due)(state.last_digest.as_deref())
    {
        return Step::Digest(pending);
    }
    Step::Done
}

/// One notify run against the state `name` in `store`.
pub async fn run<S: Sender>(
    store: &Store,
    name: &str,
    problems: &[Problem],
    run: &Run<'_>,
    sender: &S,
) -> Result<Outcome, NotifyError> {
    let current: BTreeMap<String, &Problem> = problems
        .iter()
        .filter(|p| run.routes.of(&p.severity) != Route::Off)
        .map(|p| (p.key(), p))
        .collect();
    let mut out = Outcome::default();
    let mut reported_unconfirmed = false;
    let mut steps = 0usize;
    loop {
        let (mut state, version) = load(store, name).await?;
        // Each step sends or records one thing; a state that keeps changing
        // beyond what its entries and the current problems could need is
        // another run looping.
        steps += 1;
        if steps > 4 * (current.len() + state.problems.len() + 50) + 1000 {
            return Err(NotifyError::Contention(out.conflicts));
        }
        if !reported_unconfirmed {
            out.unconfirmed = state
                .problems
                .iter()
                .filter(|(_, e)| matches!(e.status, Status::Claimed | Status::Resolving))
                .map(|(k, e)| {
                    format!(
                        "{k} (claimed by {} at {})",
                        e.claimed_by.as_deref().unwrap_or("?"),
                        e.claimed_at.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            reported_unconfirmed = true;
        }
        let before = state.problems.len();
        let step = next_step(&mut state, &current, run);
        match step {
            Step::Done => return Ok(out),
            Step::Bookkeeping => {
                let queued_before = count_pending(&state);
                if store_if(store, name, &state, version.as_deref()).await? {
                    if run.baseline {
                        out.baselined += state.problems.len().saturating_sub(before);
                    }
                    out.queued = out.queued.max(queued_before);
                } else {
                    out.conflicts += 1;
                }
            }
            Step::Open(key) => {
                let problem = current[&key].clone();
                state.problems.insert(
                    key.clone(),
                    Entry {
                        problem: problem.clone(),
                        status: Status::Claimed,
                        claimed_by: Some(run.id.clone()),
                        claimed_at: Some(run.now.clone()),
                        first_seen: run.now.clone(),
                        sent_at: None,
                        posted: Posted::default(),
                    },
                );
                if !store_if(store, name, &state, version.as_deref()).await? {
                    out.conflicts += 1;
                    continue;
                }
                match sender.open(&problem).await {
                    Ok(posted) => {
                        confirm(store, name, &key, run, &mut out, |e| {
                            e.status = Status::Sent;
                            e.sent_at = Some(run.now.clone());
                            e.posted = posted.clone();
                            true
                        })
                        .await?;
                        out.opened.push(key);
                    }
                    // A message that may have arrived keeps its claim: at
                    // most once (the next run warns about it instead).
                    Err(e) => {
                        if !e.maybe_delivered() {
                            release(store, name, &key, run, &mut out, None).await?;
                        }
                        return Err(e.into());
                    }
                }
            }
            Step::Resolve(key) => {
                let entry = state.problems.get_mut(&key).expect("chosen");
                let previous = entry.status;
                entry.status = Status::Resolving;
                entry.claimed_by = Some(run.id.clone());
                entry.claimed_at = Some(run.now.clone());
                let entry = entry.clone();
                if !store_if(store, name, &state, version.as_deref()).await? {
                    out.conflicts += 1;
                    continue;
                }
                match sender.resolve(&entry, &run.now).await {
                    Ok(_) => {
                        confirm(store, name, &key, run, &mut out, |_| false).await?;
                        out.resolved.push(key);
                    }
                    Err(e) => {
                        if !e.maybe_delivered() {
                            release(store, name, &key, run, &mut out, Some(previous)).await?;
                        }
                        return Err(e.into());
                    }
                }
            }
            Step::Digest(keys) => {
                state.digest_claim = Some((run.id.clone(), run.now.clone()));
                for k in &keys {
                    let e = state.problems.get_mut(k).expect("listed");
                    e.claimed_by = Some(run.id.clone());
                    e.claimed_at = Some(run.now.clone());
                }
                if !store_if(store, name, &state, version.as_deref()).await? {
                    out.conflicts += 1;
                    continue;
                }
                let opened: Vec<Problem> = keys
                    .iter()
                    .filter(|k| state.problems[*k].status == Status::PendingDigest)
                    .map(|k| state.problems[k].problem.clone())
                    .collect();
                let resolved: Vec<Problem> = keys
                    .iter()
                    .filter(|k| state.problems[*k].status == Status::ResolvedPendingDigest)
                    .map(|k| state.problems[k].problem.clone())
                    .collect();
                let sent = sender.digest(&opened, &resolved).await;
                // A digest that may have arrived counts as sent (at most once).
                let ok = match &sent {
                    Ok(_) => true,
                    Err(e) => e.maybe_delivered(),
                };
                finish_digest(store, name, &keys, run, ok, &mut out).await?;
                if let Err(e) = sent {
                    return Err(e.into());
                }
                out.digests.push(keys.len());
            }
        }
    }
}

/// Whether an entry's claim is over an hour old at `now`.
fn stale_claim(entry: &Entry, now: &str) -> bool {
    entry
        .claimed_at
        .as_deref()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .zip(chrono::DateTime::parse_from_rfc3339(now).ok())
        .is_some_and(|(then, now)| (now - then).num_seconds() > 3600)
}

fn count_pending(state: &State) -> usize {
    state
        .problems
        .values()
        .filter(|e| {
            matches!(
                e.status,
                Status::PendingDigest | Status::ResolvedPendingDigest
            )
        })
        .count()
}

/// Re-reads and updates one entry claimed by this run (`update` returns
/// false to remove it), until the write lands.
async fn confirm(
    store: &Store,
    name: &str,
    key: &str,
    run: &Run<'_>,
    out: &mut Outcome,
    update: impl Fn(&mut Entry) -> bool,
) -> Result<(), NotifyError> {
    for _ in 0..1000 {
        let (mut state, version) = load(store, name).await?;
        let keep = match state.problems.get_mut(key) {
            Some(e) if e.claimed_by.as_deref() == Some(run.id.as_str()) => update(e),
            // Someone else changed it: nothing of ours to confirm.
            _ => return Ok(()),
        };
        if !keep {
            state.problems.remove(key);
        }
        if store_if(store, name, &state, version.as_deref()).await? {
            return Ok(());
        }
        out.conflicts += 1;
    }
    Err(NotifyError::Contention(out.conflicts))
}

/// Un-claims after the webhook refused: a new problem is forgotten (the
/// next run sends it), a resolution goes back to `previous`.
async fn release(
    store: &Store,
    name: &str,
    key: &str,
    run: &Run<'_>,
    out: &mut Outcome,
    previous: Option<Status>,
) -> Result<(), NotifyError> {
    confirm(store, name, key, run, out, |e| match previous {
        Some(status) => {
            e.status = status;
            true
        }
        None => false,
    })
    .await
}

async fn finish_digest(
    store: &Store,
    name: &str,
    keys: &[String],
    run: &Run<'_>,
    sent: bool,
    out: &mut Outcome,
) -> Result<(), NotifyError> {
    let keys: BTreeSet<&String> = keys.iter().collect();
    for _ in 0..1000 {
        let (mut state, version) = load(store, name).await?;
        if state.digest_claim.as_ref().map(|(r, _)| r.as_str()) != Some(run.id.as_str()) {
            return Ok(());
        }
        state.digest_claim = None;
        if sent {
            state.last_digest = Some(run.now.clone());
            let mut remove = Vec::new();
            for k in &keys {
                if let Some(e) = state.problems.get_mut(*k) {
                    match e.status {
                        Status::PendingDigest => {
                            e.status = Status::Sent;
                            e.sent_at = Some(run.now.clone());
                        }
                        Status::ResolvedPendingDigest => remove.push((*k).clone()),
                        _ => {}
                    }
                }
            }
            for k in remove {
                state.problems.remove(&k);
            }
        }
        if store_if(store, name, &state, version.as_deref()).await? {
            return Ok(());
        }
        out.conflicts += 1;
    }
    Err(NotifyError::Contention(out.conflicts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<String>>,
        fail: Mutex<bool>,
        /// Fail after the message went out (a lost answer).
        lose_answer: Mutex<bool>,
    }

    impl Sender for Recorder {
        async fn open(&self, p: &Problem) -> Result<Posted, WebhookError> {
            if *self.fail.lock().unwrap() {
                return Err(WebhookError::Refused {
                    url: "x".into(),
                    status: 500,
                    body: String::new(),
                });
            }
            self.sent.lock().unwrap().push(format!("open {}", p.rule));
            if *self.lose_answer.lock().unwrap() {
                return Err(WebhookError::Transport {
                    url: "x".into(),
                    message: "no answer within 30 s".into(),
                    maybe_delivered: true,
                });
            }
            Ok(Posted::default())
        }
        async fn resolve(&self, e: &Entry, _now: &str) -> Result<Posted, WebhookError> {
            self.sent
                .lock()
                .unwrap()
                .push(format!("resolve {}", e.problem.rule));
            Ok(Posted::default())
        }
        async fn digest(
            &self,
            opened: &[Problem],
            resolved: &[Problem],
        ) -> Result<Posted, WebhookError> {
            self.sent.lock().unwrap().push(format!(
                "digest +{} -{}",
                opened
                    .iter()
                    .map(|p| p.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                resolved
                    .iter()
                    .map(|p| p.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            Ok(Posted::default())
        }
    }

    fn problem(rule: &str, severity: &str) -> Problem {
        Problem {
            source: "config".into(),
            rule: rule.into(),
            account: "a".into(),
            account_id: "111111111111".into(),
            company: "A".into(),
            region: "ap-northeast-1".into(),
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "bucket".into(),
            severity: severity.into(),
            title: String::new(),
        }
    }

    async fn go(store: &Store, problems: &[Problem], rec: &Recorder, due: bool) -> Outcome {
        let routes = Routes::default();
        let due = move |_: Option<&str>| due;
        run(
            store,
            "state.json",
            problems,
            &Run {
                id: format!("run-{}", rand::random::<u32>()),
                now: "2026-11-01T00:00:00Z".into(),
                routes: &routes,
                digest_due: &due,
                baseline: false,
                unread: &BTreeSet::new(),
            },
            rec,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn opens_once_resolves_once_and_digests_medium() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(dir.path().into());
        let rec = Recorder::default();
        let p = vec![problem("crit", "critical"), problem("med", "medium")];
        go(&store, &p, &rec, false).await;
        go(&store, &p, &rec, false).await;
        assert_eq!(
            *rec.sent.lock().unwrap(),
            vec!["open crit"],
            "critical at once, once; medium waits"
        );
        go(&store, &p, &rec, true).await;
        assert_eq!(rec.sent.lock().unwrap().last().unwrap(), "digest +med -");
        go(&store, &[], &rec, false).await;
        go(&store, &[], &rec, true).await;
        go(&store, &[], &rec, true).await;
        assert_eq!(
            *rec.sent.lock().unwrap(),
            vec![
                "open crit",
                "digest +med -",
                "resolve crit",
                "digest + -med"
            ]
        );
    }

    /// A state whose only entry, `p`, a crashed run claimed at `at`.
    async fn seed_claim_of_a_crashed_run(
        store: &Store,
        p: &Problem,
        status: Status,
        at: &str,
        sent_at: Option<&str>,
    ) {
        let mut state = State::default();
        state.problems.insert(
            p.key(),
            Entry {
                problem: p.clone(),
                status,
                claimed_by: Some("crashed".into()),
                claimed_at: Some(at.into()),
                first_seen: sent_at.unwrap_or(at).into(),
                sent_at: sent_at.map(str::to_string),
                posted: Posted::default(),
            },
        );
        store
            .put_if("state.json", &serde_json::to_vec(&state).unwrap(), None)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_claim_left_by_a_crash_is_not_resent_and_a_refused_message_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(dir.path().into());
        let p = problem("crit", "critical");
        seed_claim_of_a_crashed_run(&store, &p, Status::Claimed, "t", None).await;
        let rec = Recorder::default();
        let out = go(&store, std::slice::from_ref(&p), &rec, false).await;
        assert!(rec.sent.lock().unwrap().is_empty());
        assert_eq!(out.unconfirmed.len(), 1);

        let other = problem("crit2", "high");
        *rec.fail.lock().unwrap() = true;
        let routes = Routes::default();
        let due = |_: Option<&str>| false;
        let r = Run {
            id: "r".into(),
            now: "t".into(),
            routes: &routes,
            digest_due: &due,
            baseline: false,
            unread: &BTreeSet::new(),
        };
        assert!(
            run(&store, "state.json", &[p.clone(), other.clone()], &r, &rec)
                .await
                .is_err()
        );
        *rec.fail.lock().unwrap() = false;
        go(&store, &[p, other], &rec, false).await;
        assert_eq!(*rec.sent.lock().unwrap(), vec!["open crit2"]);
    }

    async fn go_with(
        store: &Store,
        problems: &[Problem],
        rec: &Recorder,
        now: &str,
        unread: &BTreeSet<String>,
    ) -> Result<Outcome, NotifyError> {
        let routes = Routes::default();
        let due = |_: Option<&str>| false;
        let r = Run {
            id: format!("run-{}", rand::random::<u32>()),
            now: now.into(),
            routes: &routes,
            digest_due: &due,
            baseline: false,
            unread,
        };
        run(store, "state.json", problems, &r, rec).await
    }

    #[tokio::test]
    async fn a_source_that_could_not_be_read_resolves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(dir.path().into());
        let rec = Recorder::default();
        let p = problem("crit", "critical");
        let none = BTreeSet::new();
        let t = "2026-11-01T00:00:00Z";
        go_with(&store, std::slice::from_ref(&p), &rec, t, &none)
            .await
            .unwrap();
        // Config unreadable: its problem is not in the list, yet not resolved.
        let config = BTreeSet::from(["config".to_string()]);
        go_with(&store, &[], &rec, t, &config).await.unwrap();
        go_with(&store, std::slice::from_ref(&p), &rec, t, &none)
            .await
            .unwrap();
        assert_eq!(*rec.sent.lock().unwrap(), vec!["open crit"]);
        // Read again and really gone: resolved once.
        go_with(&store, &[], &rec, t, &none).await.unwrap();
        assert_eq!(*rec.sent.lock().unwrap(), vec!["open crit", "resolve crit"]);
    }

    #[tokio::test]
    async fn a_message_whose_answer_was_lost_is_not_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(dir.path().into());
        let rec = Recorder::default();
        let p = problem("crit", "critical");
        let none = BTreeSet::new();
        let t = "2026-11-01T00:00:00Z";
        *rec.lose_answer.lock().unwrap() = true;
        assert!(go_with(&store, std::slice::from_ref(&p), &rec, t, &none)
            .await
            .is_err());
        *rec.lose_answer.lock().unwrap() = false;
        let out = go_with(&store, std::slice::from_ref(&p), &rec, t, &none)
            .await
            .unwrap();
        assert_eq!(*rec.sent.lock().unwrap(), vec!["open crit"], "sent once");
        assert_eq!(
            out.unconfirmed.len(),
            1,
            "and the run says it is unconfirmed"
        );
    }

    #[tokio::test]
    async fn a_resolution_left_by_a_crash_ends_after_an_hour_and_a_return_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(dir.path().into());
        let p = problem("crit", "critical");
        let sent = Some("2026-10-01T00:00:00Z");
        seed_claim_of_a_crashed_run(&store, &p, Status::Resolving, "2026-11-01T00:00:00Z", sent)
            .await;
        let rec = Recorder::default();
        let none = BTreeSet::new();
        // Within the hour the claim may still be in flight: nothing is sent.
        go_with(
            &store,
            std::slice::from_ref(&p),
            &rec,
            "2026-11-01T00:30:00Z",
            &none,
        )
        .await
        .unwrap();
        assert!(rec.sent.lock().unwrap().is_empty());
        // After it, the problem that is back is a new one.
        go_with(
            &store,
            std::slice::from_ref(&p),
            &rec,
            "2026-11-01T02:00:00Z",
            &none,
        )
        .await
        .unwrap();
        assert_eq!(*rec.sent.lock().unwrap(), vec!["open crit"]);
    }

    #[test]
    fn routes_parse() {
        let r = Routes::parse(&["medium=now".into(), "low=off".into()]).unwrap();
        assert_eq!(r.of("MEDIUM"), Route::Now);
        assert_eq!(r.of("low"), Route::Off);
        assert_eq!(r.of("critical"), Route::Now);
        assert!(Routes::parse(&["urgent=now".into()]).is_err());
        assert!(Routes::parse(&["high=later".into()]).is_err());
    }
}
