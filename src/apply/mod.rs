//! Applying a plan: changes in dependency order, independent ones
//! concurrently, each behind the gate and recorded in the audit log.

pub mod audit;
pub mod gate;
mod handlers;
pub mod ids;
mod progress;

pub use progress::Progress;

use std::sync::Mutex;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::StreamExt;

use audit::AuditLog;
use gate::{Gate, GateError};
use handlers::{execute, StepContext};
use ids::{IdRegistry, UnknownId};

use crate::aws::Clients;
use crate::model::OrgState;
use crate::plan::Plan;

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An AWS call failed.
    #[error("{address}: {operation} failed: {message}")]
    Step {
        /// Change address.
        address: String,
        /// API operation.
        operation: &'static str,
        /// SDK error.
        message: String,
    },
    /// The gate stayed closed.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// The plan names something without an id.
    #[error(transparent)]
    Ids(#[from] UnknownId),
    /// The audit log could not be written; lzctl stops rather than act unaudited.
    #[error("cannot write the audit log: {0}")]
    Audit(std::io::Error),
}

/// Tuning of the executor.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Changes in flight at once.
    pub concurrency: usize,
    /// Longest wait for one CreateAccount.
    pub create_account_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 4,
            create_account_timeout: Duration::from_secs(1800),
        }
    }
}

/// Runs every change of `plan`. Stops scheduling at the first failure, lets
/// running changes finish, and reports the first error.
pub async fn execute_plan(
    clients: &Clients,
    plan: &Plan,
    observed: &OrgState,
    gate: &dyn Gate,
    audit: &AuditLog,
    options: &ApplyOptions,
    progress: &Progress,
) -> Result<usize, ApplyError> {
    let ids = Mutex::new(IdRegistry::from_state(observed));
    let mut waiting = plan.dependency_indices();
    let mut ready: Vec<usize> = (0..plan.changes.len())
        .filter(|i| waiting[*i].is_empty())
        .collect();
    ready.reverse();
    let mut running = FuturesUnordered::new();
    let mut done = 0usize;
    let mut first_error: Option<ApplyError> = None;
    progress.start(plan.changes.len());
    loop {
        while first_error.is_none() && running.len() < options.concurrency.max(1) {
            let Some(i) = ready.pop() else { break };
            let change = &plan.changes[i];
            let ids = &ids;
            running.push(async move {
                let result = async {
                    gate.wait_until_clear(change).await?;
                    let ctx = StepContext {
                        clients,
                        ids,
                        audit,
                        address: &change.address.0,
                        create_account_timeout: options.create_account_timeout,
                    };
                    execute(&ctx, &change.operation).await
                }
                .await;
                (i, result)
            });
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        let change = &plan.changes[i];
        match result {
            Ok(()) => {
                done += 1;
                progress.finished(change, None);
                for (j, deps) in waiting.iter_mut().enumerate() {
                    if deps.remove(&i) && deps.is_empty() {
                        ready.insert(0, j);
                    }
                }
            }
            Err(e) => {
                progress.finished(change, Some(&e.to_string()));
                first_error.get_or_insert(e);
            }
        }
    }
    progress.finish();
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}
