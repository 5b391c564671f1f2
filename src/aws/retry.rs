//! Errors that mean "someone else is changing the same thing; try again
//! shortly" but that the SDK's default classifiers do not retry, such as
//! Organizations' ConcurrentModificationException and
//! PolicyChangesInProgressException. They are retried inside the SDK's own
//! retry loop (as throttling, with the same jittered backoff): one retry
//! policy with one backoff, no loop of lzctl's own beside it.
//!
//! Control Tower's ConflictException and a stack set's
//! OperationInProgressException are busy errors too, but they last minutes,
//! not seconds: the executor sends those steps back to the gate instead
//! (`apply::gate`), so this classifier leaves them alone.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

use super::error::{classify_code, ErrorClass};

/// Busy errors that clear within seconds: retried by the SDK.
const SHORT_LIVED: &[&str] = &[
    "ConcurrentModificationException",
    "PolicyChangesInProgressException",
];

/// Retry classifier for short-lived busy errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct BusyErrorsRetried;

/// The error code of an awsJson or restJson error body, without namespace.
pub fn json_error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let raw = value
        .get("__type")
        .or_else(|| value.get("code"))?
        .as_str()?;
    let raw = raw.rsplit('#').next().unwrap_or(raw);
    Some(raw.split(':').next().unwrap_or(raw).to_string())
}

impl ClassifyRetry for BusyErrorsRetried {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        if response.status().as_u16() != 400 {
            return RetryAction::NoActionIndicated;
        }
        match response.body().bytes().and_then(json_error_code) {
            Some(code)
                if classify_code(&code) == ErrorClass::Busy
                    && SHORT_LIVED.contains(&code.as_str()) =>
            {
                RetryAction::throttling_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "lzctl-busy-errors"
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
