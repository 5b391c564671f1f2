//! The gate the executor asks before every step: may it run now? The
//! Control Tower gate (`families::controltower::gate`) waits while Control
//! Tower is busy; without Control Tower the gate is always open.

use std::future::Future;
use std::pin::Pin;

use crate::plan::Change;

/// Why a step may not run.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Still busy after the timeout.
    #[error("{what} was still busy after {waited_secs}s; nothing more was started (--wait-timeout sets the limit)")]
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

/// Held by a step while it runs; dropping it lets others through (e.g. the
/// exclusive hold of a step that runs Control Tower work of its own).
pub struct GatePass(#[allow(dead_code)] Option<Box<dyn Send + Sync>>);

impl GatePass {
    /// A pass that holds nothing.
    pub fn open() -> GatePass {
        GatePass(None)
    }

    /// A pass that holds `guard` until the step ends.
    pub fn hold(guard: impl Send + Sync + 'static) -> GatePass {
        GatePass(Some(Box::new(guard)))
    }
}

/// A future returned by a gate.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<GatePass, GateError>> + Send + 'a>>;

/// Decides, before each change, whether it may run now; waits while not.
pub trait Gate: Send + Sync {
    /// Resolves when `change` may proceed; the pass is held while it runs.
    fn wait_until_clear<'a>(&'a self, change: &'a Change) -> GateFuture<'a>;

    /// Drops any shared observation (a step just met a busy resource).
    fn forget(&self) {}
}

/// The gate without Control Tower: always open.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysOpen;

impl Gate for AlwaysOpen {
    fn wait_until_clear<'a>(&'a self, _change: &'a Change) -> GateFuture<'a> {
        Box::pin(async { Ok(GatePass::open()) })
    }
}
