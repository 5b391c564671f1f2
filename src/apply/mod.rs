//! Applying a plan: changes in dependency order, independent ones
//! concurrently within their slots, each behind the gate and recorded in the
//! audit log. The error policy (after kube-rs's controller): a busy error
//! sends the step back to the gate; any other failure stops scheduling new
//! steps, lets those in flight finish, and skips the failed step's dependants.
//! A change whose operation isolates its failures (a stack set past its
//! failure tolerance) stops only its dependants: independent changes go on.
//! Changes that do not count toward `concurrency` (long waits on an AWS
//! operation) are bounded by their slots alone.

pub mod audit;
pub mod gate;
pub mod ids;
mod progress;

pub use progress::Progress;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::stream::FuturesUnordered;
use futures::StreamExt;

use audit::AuditLog;
use gate::Gate;
use ids::{IdRegistry, UnknownId};

use crate::aws::waiter::{wait_for, Poll, WaitError, WaitPolicy};
use crate::aws::{AwsError, Clients, ErrorClass};
use crate::model::{Address, OrgState};
use crate::plan::{Change, Plan};

/// Why one step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// lzctl refuses to run it (a foreign object).
    #[error("refused: {0}")]
    Refused(String),
    /// AWS finished the work with a failure (e.g. Control Tower's status message).
    #[error("{0}")]
    Failed(String),
    /// Still not done after the wait timeout.
    #[error("{0}; run apply again later to finish")]
    TimedOut(String),
    /// The plan names something without an id.
    #[error(transparent)]
    Ids(#[from] UnknownId),
    /// The audit log could not be written; lzctl stops rather than act unaudited.
    #[error("cannot write the audit log: {0}")]
    Audit(std::io::Error),
}

impl StepError {
    /// Whether someone else is busy with the same thing (retry after the gate).
    pub fn is_busy(&self) -> bool {
        matches!(self, StepError::Aws(e) if e.class == ErrorClass::Busy)
    }

    /// A hint for a person, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            StepError::Aws(e) => e.hint(),
            _ => None,
        }
    }
}

/// Tuning of the executor.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Changes in flight at once.
    pub concurrency: usize,
    /// How to poll long operations (account creation, Control Tower,
    /// stack sets); its timeout bounds each wait.
    pub poll: WaitPolicy,
    /// Longest time a step waits for the gate and for busy resources.
    pub wait_timeout: Duration,
    /// Run rollout waves that halted before (`apply --resume`).
    pub resume: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 4,
            poll: WaitPolicy::default(),
            wait_timeout: Duration::from_secs(3600),
            resume: false,
        }
    }
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Changes completed.
    pub done: Vec<Address>,
    /// Changes that failed, with their errors.
    pub failed: Vec<(Address, StepError)>,
    /// Changes never started (after a failure or an interruption).
    pub not_started: Vec<Address>,
    /// Objects created, with their new ids.
    pub created: Vec<(String, String)>,
    /// Whether Ctrl-C stopped scheduling.
    pub interrupted: bool,
}

/// Set when the user asks to stop (first Ctrl-C): no new step starts.
#[derive(Debug, Default)]
pub struct StopSignal(AtomicBool);

impl StopSignal {
    /// Asks the executor to stop scheduling.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether stopping was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a step's handler needs.
pub struct StepContext<'a> {
    /// Clients.
    pub clients: &'a Clients,
    /// Ids, shared by concurrent steps.
    pub ids: &'a Mutex<IdRegistry>,
    /// Audit log.
    pub audit: &'a AuditLog,
    /// Address of the change.
    pub address: &'a Address,
    /// Executor options.
    pub options: &'a ApplyOptions,
    /// Progress output.
    pub progress: &'a Progress,
}

impl StepContext<'_> {
    /// Audits a call's outcome and classifies an SDK error. An error that
    /// says the change is already in place counts as done (`Ok(None)`).
    pub fn audited<T, E>(
        &self,
        operation: &'static str,
        result: Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>,
    ) -> Result<Option<T>, StepError>
    where
        T: aws_sdk_organizations::operation::RequestId,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match result {
            Ok(out) => {
                self.audit
                    .record(&self.address.to_string(), operation, out.request_id(), "ok")
                    .map_err(StepError::Audit)?;
                Ok(Some(out))
            }
            Err(err) => {
                let error = AwsError::from_sdk(operation, &err);
                let already = error.class == ErrorClass::AlreadyDone;
                let result = if already {
                    format!(
                        "ok (already done: {})",
                        error.code.clone().unwrap_or_default()
                    )
                } else {
                    error.to_string()
                };
                self.audit
                    .record(
                        &self.address.to_string(),
                        operation,
                        error.request_id.as_deref(),
                        &result,
                    )
                    .map_err(StepError::Audit)?;
                if already {
                    Ok(None)
                } else {
                    Err(error.into())
                }
            }
        }
    }

    /// Classifies a read call's error (reads are not audited).
    pub fn read<T, E>(
        &self,
        operation: &'static str,
        result: Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>,
    ) -> Result<T, StepError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        result.map_err(|e| AwsError::from_sdk(operation, &e).into())
    }

    /// The id registry.
    pub fn ids(&self) -> std::sync::MutexGuard<'_, IdRegistry> {
        self.ids.lock().expect("id registry lock")
    }

    /// Polls until done with the executor's poll policy, showing progress.
    pub async fn wait<T, F, Fut>(&self, what: &str, poll: F) -> Result<T, StepError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Poll<T>, StepError>>,
    {
        let address = self.address.clone();
        wait_for(
            what,
            &self.options.poll,
            |status, waited| self.progress.waiting(&address, status, waited),
            poll,
        )
        .await
        .map_err(|e| match e {
            WaitError::Failed(e) => e,
            timed_out => StepError::TimedOut(timed_out.to_string()),
        })
    }
}

/// Runs every change of `plan` against the organization `base` (the state the
/// plan starts from). Stops scheduling at the first failure or on `stop`,
/// lets running changes finish, and reports what happened.
#[allow(clippy::too_many_arguments)]
pub async fn execute_plan(
    clients: &Clients,
    plan: &Plan,
    base: &OrgState,
    gate: &dyn Gate,
    audit: &AuditLog,
    options: &ApplyOptions,
    progress: &Progress,
    stop: &StopSignal,
) -> ApplyReport {
    let ids = Mutex::new(IdRegistry::from_state(base));
    let mut waiting = plan.dependency_indices();
    let mut ready: Vec<usize> = (0..plan.changes.len())
        .filter(|i| waiting[*i].is_empty())
        .collect();
    let mut started: BTreeSet<usize> = BTreeSet::new();
    let mut in_use: HashMap<String, usize> = HashMap::new();
    let mut running = FuturesUnordered::new();
    // In flight and counted against `options.concurrency`.
    let mut counted = 0usize;
    // Failures that stop all scheduling (not isolated to their dependants).
    let mut halting = 0usize;
    let mut report = ApplyReport::default();
    let mut ticker = tokio::time::interval(Duration::from_secs(10));
    ticker.tick().await;
    progress.start(plan.changes.len());
    loop {
        while halting == 0 && !stop.is_set() {
            // The first ready change with room: its slots, and the general
            // concurrency when it counts toward it.
            let Some(pos) = ready.iter().position(|i| {
                let op = &plan.changes[*i].operation;
                (!op.counts_toward_concurrency() || counted < options.concurrency.max(1))
                    && op
                        .slots()
                        .iter()
                        .all(|s| in_use.get(&s.name).copied().unwrap_or(0) < s.capacity)
            }) else {
                break;
            };
            let i = ready.remove(pos);
            let change = &plan.changes[i];
            if change.operation.counts_toward_concurrency() {
                counted += 1;
            }
            for s in change.operation.slots() {
                *in_use.entry(s.name).or_default() += 1;
            }
            started.insert(i);
            progress.started(change);
            let ids = &ids;
            running.push(async move {
                let ctx = StepContext {
                    clients,
                    ids,
                    audit,
                    address: &change.address,
                    options,
                    progress,
                };
                (i, run_step(&ctx, change, gate).await)
            });
        }
        if running.is_empty() {
            break;
        }
        let finished = tokio::select! {
            next = running.next() => next,
            _ = ticker.tick() => { progress.still_running(); continue; }
        };
        let Some((i, result)) = finished else { break };
        let change = &plan.changes[i];
        for s in change.operation.slots() {
            if let Some(n) = in_use.get_mut(&s.name) {
                *n -= 1;
            }
        }
        if change.operation.counts_toward_concurrency() {
            counted -= 1;
        }
        match result {
            Ok(()) => {
                progress.finished(change, None);
                report.done.push(change.address.clone());
                for (j, deps) in waiting.iter_mut().enumerate() {
                    if deps.remove(&i) && deps.is_empty() {
                        ready.push(j);
                    }
                }
            }
            Err(e) => {
                progress.finished(change, Some(&e.to_string()));
                // An isolated failure leaves its dependants waiting forever
                // (reported as not started); a halting one stops scheduling.
                if !change.operation.isolates_failure() {
                    halting += 1;
                }
                report.failed.push((change.address.clone(), e));
            }
        }
    }
    progress.finish();
    report.interrupted = stop.is_set();
    report.not_started = (0..plan.changes.len())
        .filter(|i| !started.contains(i))
        .map(|i| plan.changes[i].address.clone())
        .collect();
    report.created = ids.lock().expect("id registry lock").created();
    report
}

/// One step: the gate, the change, and back to the gate while the resource
/// is busy, up to the wait timeout.
async fn run_step(
    ctx: &StepContext<'_>,
    change: &Change,
    gate: &dyn Gate,
) -> Result<(), StepError> {
    if let Some(reason) = change.operation.refusal() {
        return Err(StepError::Refused(reason));
    }
    let started = tokio::time::Instant::now();
    loop {
        let result = {
            let _pass = if change.operation.gated() {
                Some(
                    gate.wait_until_clear(change)
                        .await
                        .map_err(|e| StepError::TimedOut(e.to_string()))?,
                )
            } else {
                None
            };
            let result = change.operation.apply(ctx).await;
            // What this step did may have started Control Tower work (a move
            // into a registered OU starts an enrollment): the next step must
            // look again. Forgotten before the pass is released, so a step
            // waiting for an exclusive pass never sees the older observation.
            gate.forget();
            result
        };
        match result {
            Err(e) if e.is_busy() && started.elapsed() < ctx.options.wait_timeout => {
                ctx.progress
                    .waiting(&change.address, &e.to_string(), started.elapsed());
                gate.forget();
                tokio::time::sleep(ctx.options.poll.initial.max(Duration::from_millis(100))).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::stacksets::{Caller, Operation as StackSetOp, Rollout, Scope};
    use crate::model::OuPath;
    use crate::plan::{Plan, PlanSubject, PLAN_FORMAT_VERSION};

    /// Clients whose every call fails at once: nothing listens on port 1.
    fn unreachable() -> Clients {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("ap-northeast-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("k", "s", None, None, "test"),
                ),
            )
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Clients::new(&config)
    }

    fn deploy(name: &str) -> Change {
        Change::new(
            Address::new("stackset-deploy", name),
            "test",
            None,
            Some(serde_json::json!({})),
            StackSetOp::DeployInstances {
                name: name.into(),
                scope: Scope::default(),
                rollout: Rollout::default(),
                caller: Caller::Management,
            },
        )
    }

    /// A change that succeeds without a call (nothing to delete).
    fn retire_nothing(name: &str) -> Change {
        Change::new(
            Address::new("stackset-retire", name),
            "test",
            Some(serde_json::json!({})),
            None,
            StackSetOp::RetireInstances {
                name: name.into(),
                batches: Vec::new(),
                rollout: Rollout::default(),
                caller: Caller::Management,
            },
        )
    }

    fn create_ou(name: &str) -> Change {
        Change::new(
            Address::new("ou", name),
            "test",
            None,
            Some(serde_json::json!({})),
            crate::families::organizations::Operation::CreateOu {
                path: OuPath::parse(name).unwrap(),
                tags: Default::default(),
            },
        )
    }

    async fn run(changes: Vec<Change>, concurrency: usize) -> ApplyReport {
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            lzctl_version: "test".into(),
            config_path: "lz.yaml".into(),
            config_digest: String::new(),
            state_digest: String::new(),
            subject: PlanSubject::default(),
            changes,
            unmanaged: Vec::new(),
            notices: Vec::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let audit = AuditLog::open(&dir.path().join("audit.jsonl"), "test".into()).unwrap();
        let options = ApplyOptions {
            concurrency,
            ..ApplyOptions::default()
        };
        execute_plan(
            &unreachable(),
            &plan,
            &OrgState::default(),
            &gate::AlwaysOpen,
            &audit,
            &options,
            &Progress::new(false),
            &StopSignal::default(),
        )
        .await
    }

    fn names(addresses: &[Address]) -> BTreeSet<String> {
        addresses.iter().map(ToString::to_string).collect()
    }

    #[tokio::test]
    async fn an_isolated_failure_stops_its_dependants_and_not_the_others() {
        // `c` is independent of `a` but shares its stack set's slot, so it can
        // only start once `a` has failed.
        let a = deploy("a");
        let b = deploy("b").after([a.address.clone()]);
        let c = retire_nothing("a");
        let report = run(vec![a, b, c], 1).await;
        let failed: Vec<Address> = report.failed.iter().map(|(a, _)| a.clone()).collect();
        assert_eq!(
            names(&failed),
            names(&[Address::new("stackset-deploy", "a")])
        );
        assert_eq!(
            names(&report.done),
            names(&[Address::new("stackset-retire", "a")]),
            "the independent change ran after the failure"
        );
        assert_eq!(
            names(&report.not_started),
            names(&[Address::new("stackset-deploy", "b")])
        );
    }

    #[tokio::test]
    async fn any_other_failure_stops_all_scheduling() {
        let x = create_ou("X");
        let y = create_ou("Y");
        let report = run(vec![x, y], 1).await;
        assert_eq!(report.failed.len(), 1);
        assert_eq!(
            names(&report.not_started),
            names(&[Address::new("ou", "Y")])
        );
    }

    #[tokio::test]
    async fn long_waits_do_not_count_toward_the_concurrency() {
        // With room for one counted change, the organizations change and both
        // stack set changes start in the same scheduling pass.
        let report = run(vec![create_ou("X"), deploy("a"), deploy("c")], 1).await;
        assert!(report.not_started.is_empty(), "{:?}", report.not_started);
        assert_eq!(report.failed.len(), 3);
    }
}
