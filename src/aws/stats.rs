//! Counting API calls per operation (`--stats`), as an SDK interceptor so every
//! attempt, retries included, is counted where it happens.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// HTTP requests sent, keyed by `service:Operation`.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallStats {
    /// A copy of the counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().expect("stats lock").clone()
    }

    /// Total requests so far.
    pub fn total(&self) -> u64 {
        self.counts.lock().expect("stats lock").values().sum()
    }

    /// Records one request.
    pub fn record(&self, operation: &str) {
        *self
            .counts
            .lock()
            .expect("stats lock")
            .entry(operation.to_string())
            .or_default() += 1;
    }
}

impl Intercept for CallStats {
    fn name(&self) -> &'static str {
        "lzctl-call-stats"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = match cfg.load::<Metadata>() {
            Some(m) => format!("{}:{}", m.service().to_ascii_lowercase(), m.name()),
            None => "unknown".to_string(),
        };
        self.record(&name);
        Ok(())
    }
}
