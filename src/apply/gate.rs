//! The gate the executor asks before every step. The Control Tower check
//! (is a landing-zone, baseline, control or Account Factory operation
//! running?) plugs in here; today's implementation always lets steps pass.

use std::future::Future;
use std::pin::Pin;

use crate::plan::Change;

/// Why a step may not run.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Still busy after the timeout.
    #[error("{what} was still busy after {waited_secs}s; nothing more was applied")]
    Timeout {
        /// What kept the gate closed.
        what: String,
        /// Seconds waited.
        waited_secs: u64,
    },
    /// The check itself failed.
    #[error("cannot tell whether it is safe to proceed: {0}")]
    Check(String),
}

/// A future returned by a gate.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<(), GateError>> + Send + 'a>>;

/// Decides, before each change, whether it may run now; waits while not.
pub trait Gate: Send + Sync {
    /// Resolves when `change` may proceed.
    fn wait_until_clear<'a>(&'a self, change: &'a Change) -> GateFuture<'a>;
}

/// A gate that is always open: no Control Tower check yet.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysOpen;

impl Gate for AlwaysOpen {
    fn wait_until_clear<'a>(&'a self, _change: &'a Change) -> GateFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}
