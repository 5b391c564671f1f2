//! Organizations errors that mean "try again shortly" but that the SDK's
//! default classifiers do not retry: ConcurrentModificationException and
//! PolicyChangesInProgressException. Classified here, inside the SDK's own
//! retry loop, so there is one retry policy with one backoff.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

/// Error codes retried with backoff, as throttling. (TooManyRequestsException
/// is already throttling to the SDK's own classifier.)
pub const TRANSIENT_ORGANIZATIONS_ERRORS: &[&str] = &[
    "ConcurrentModificationException",
    "PolicyChangesInProgressException",
];

/// Retry classifier for Organizations' transient errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrganizationsTransientErrors;

/// The `__type` of an awsJson error body, without namespace.
pub fn json_error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let raw = value.get("__type")?.as_str()?;
    Some(raw.rsplit('#').next().unwrap_or(raw).to_string())
}

impl ClassifyRetry for OrganizationsTransientErrors {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        if response.status().as_u16() != 400 {
            return RetryAction::NoActionIndicated;
        }
        match response.body().bytes().and_then(json_error_code) {
            Some(code) if TRANSIENT_ORGANIZATIONS_ERRORS.contains(&code.as_str()) => {
                RetryAction::throttling_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "lzctl-organizations-transient-errors"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(
            RetryClassifierPriority::modeled_as_retryable_classifier(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaced_and_plain_error_codes() {
        assert_eq!(
            json_error_code(br#"{"__type":"ConcurrentModificationException","Message":"x"}"#)
                .as_deref(),
            Some("ConcurrentModificationException")
        );
        assert_eq!(
            json_error_code(
                br#"{"__type":"com.amazonaws.organizations#PolicyChangesInProgressException"}"#
            )
            .as_deref(),
            Some("PolicyChangesInProgressException")
        );
        assert_eq!(json_error_code(b"<xml/>"), None);
    }
}
