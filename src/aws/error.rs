//! The one classification of AWS errors. Retries, the Control Tower gate,
//! the executor's error policy and the messages a person reads all ask this
//! module what an error means, so a code is classified in exactly one place.
//!
//! An [`AwsError`] prints as one line (operation, code, message, request id)
//! and carries a hint where one helps; the SDK's Debug form never reaches a
//! user.

use std::sync::OnceLock;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What an AWS error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Too many requests; the SDK's retry loop slows down and tries again.
    Throttled,
    /// Someone else is changing the same thing (Control Tower's
    /// ConflictException, Organizations' ConcurrentModificationException,
    /// a stack set's OperationInProgressException): wait, then try again.
    Busy,
    /// The request was valid but breaks a limit or rule (attachment caps,
    /// the last SCP, quotas).
    Constraint,
    /// What the call names does not exist.
    NotFound,
    /// The caller may not do this.
    AccessDenied,
    /// The credentials are missing, expired or unknown.
    Credentials,
    /// The account is not in an organization.
    NoOrganization,
    /// The request itself is malformed.
    Validation,
    /// The change is already in place (attaching what is attached).
    AlreadyDone,
    /// No answer in time.
    Timeout,
    /// The endpoint could not be reached.
    Unreachable,
    /// An answer that is not the service's protocol (an HTML error page).
    BadResponse,
    /// The service failed (5xx).
    Server,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Whether waiting and asking again may succeed without any change by lzctl.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorClass::Throttled | ErrorClass::Busy | ErrorClass::Server
        )
    }
}

/// Error codes that mean "someone else is changing this; wait".
const BUSY_CODES: &[&str] = &[
    "ConcurrentModificationException",
    "PolicyChangesInProgressException",
    "ConflictException",
    "OperationInProgressException",
    "ResourceInUseException",
];

/// Error codes that mean "already done".
const ALREADY_DONE_CODES: &[&str] = &[
    "DuplicatePolicyAttachmentException",
    "PolicyNotAttachedException",
    "PolicyTypeAlreadyEnabledException",
    "AccountAlreadyRegisteredException",
];

const THROTTLING_CODES: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

const CREDENTIAL_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
];

/// Classifies a service error code (namespace already stripped).
pub fn classify_code(code: &str) -> ErrorClass {
    if THROTTLING_CODES.contains(&code) {
        ErrorClass::Throttled
    } else if BUSY_CODES.contains(&code) {
        ErrorClass::Busy
    } else if ALREADY_DONE_CODES.contains(&code) {
        ErrorClass::AlreadyDone
    } else if CREDENTIAL_CODES.contains(&code) {
        ErrorClass::Credentials
    } else if code == "AWSOrganizationsNotInUseException" {
        ErrorClass::NoOrganization
    } else if code.starts_with("AccessDenied") || code == "UnauthorizedOperation" {
        ErrorClass::AccessDenied
    } else if code.contains("NotFound") || code.starts_with("NoSuch") {
        ErrorClass::NotFound
    } else if code == "ConstraintViolationException"
        || code.contains("LimitExceeded")
        || code.contains("QuotaExceeded")
    {
        ErrorClass::Constraint
    } else if code.starts_with("Validation")
        || code.starts_with("InvalidInput")
        || code.starts_with("InvalidParameter")
        || code.starts_with("Malformed")
    {
        ErrorClass::Validation
    } else if code.starts_with("InternalFailure")
        || code.starts_with("InternalServer")
        || code == "ServiceUnavailable"
        || code == "ServiceException"
    {
        ErrorClass::Server
    } else {
        ErrorClass::Other
    }
}

/// Where the clients send requests, for messages about unreachable endpoints.
static ENDPOINT: OnceLock<String> = OnceLock::new();

/// Records the endpoint override (`AWS_ENDPOINT_URL`) or region the clients use.
pub fn set_endpoint_description(description: String) {
    let _ = ENDPOINT.set(description);
}

fn endpoint_description() -> &'static str {
    ENDPOINT
        .get()
        .map(String::as_str)
        .unwrap_or("the AWS endpoint")
}

/// One failed AWS call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}", self.line())]
pub struct AwsError {
    /// `service:Operation`, e.g. `organizations:AttachPolicy`.
    pub operation: String,
    /// What it means.
    pub class: ErrorClass,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    /// The service's message, or what went wrong on the way.
    pub message: String,
    /// AWS request id, when AWS answered.
    pub request_id: Option<String>,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
}

impl AwsError {
    /// An answer whose body broke off while it was read (`what`: what was
    /// being read, e.g. "the lock object").
    pub fn unread_body(operation: &str, what: &str, err: impl std::fmt::Display) -> AwsError {
        AwsError {
            operation: operation.into(),
            class: ErrorClass::Unreachable,
            code: None,
            message: format!("the answer broke off while reading {what}: {err}"),
            request_id: None,
            status: None,
        }
    }

    /// Classifies an SDK error of `operation` (`service:Operation`).
    pub fn from_sdk<E, R>(operation: impl Into<String>, err: &SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HasStatus + std::fmt::Debug + 'static,
    {
        let operation = operation.into();
        let mut out = AwsError {
            operation,
            class: ErrorClass::Other,
            code: None,
            message: String::new(),
            request_id: None,
            status: None,
        };
        match err {
            SdkError::ServiceError(service) => {
                let meta = service.err();
                out.status = Some(service.raw().status_code());
                out.code = meta.code().map(str::to_string);
                out.message = meta.message().unwrap_or_default().to_string();
                out.request_id = service.raw().request_id();
                let content_type = service.raw().content_type().unwrap_or_default();
                out.class = match out.code.as_deref() {
                    Some(code) => classify_code(code),
                    // No error code: an answer that is not the service's
                    // protocol (an HTML page from a proxy or a wrong endpoint).
                    None if content_type.contains("html") => ErrorClass::BadResponse,
                    None if out.status.is_some_and(|s| s >= 500) => ErrorClass::Server,
                    None => ErrorClass::Other,
                };
                if out.class == ErrorClass::BadResponse {
                    out.message = format!(
                        "{} answered HTTP {} with {content_type}, not the service's protocol",
                        endpoint_description(),
                        out.status.unwrap_or_default()
                    );
                } else if out.message.is_empty() {
                    out.message = match out.status {
                        Some(s) => format!("HTTP {s} without a message"),
                        None => "no message".into(),
                    };
                }
            }
            SdkError::ResponseError(response) => {
                let status = response.raw().status_code();
                out.status = Some(status);
                out.class = ErrorClass::BadResponse;
                out.message = format!(
                    "{} answered HTTP {status} with a body that is not the service's protocol",
                    endpoint_description()
                );
            }
            SdkError::TimeoutError(_) => {
                out.class = ErrorClass::Timeout;
                out.message = format!(
                    "no answer from {} within the operation timeout",
                    endpoint_description()
                );
            }
            SdkError::DispatchFailure(failure) => {
                if failure.is_timeout() {
                    out.class = ErrorClass::Timeout;
                    out.message = format!("no answer from {} in time", endpoint_description());
                } else if failure.is_io() {
                    out.class = ErrorClass::Unreachable;
                    out.message = format!("cannot connect to {}", endpoint_description());
                } else {
                    out.class = ErrorClass::Unreachable;
                    out.message = format!(
                        "request to {} failed: {}",
                        endpoint_description(),
                        innermost(err)
                    );
                }
                if innermost(err).contains("credentials") {
                    out.class = ErrorClass::Credentials;
                    out.message = innermost(err);
                }
            }
            SdkError::ConstructionFailure(_) => {
                let cause = innermost(err);
                out.class = if cause.contains("credentials") || cause.contains("profile") {
                    ErrorClass::Credentials
                } else {
                    ErrorClass::Other
                };
                out.message = cause;
            }
            _ => {
                out.message = innermost(err);
            }
        }
        out
    }

    /// The error as one line: operation, code, message, request id.
    pub fn line(&self) -> String {
        let mut line = format!("{} failed: ", self.operation);
        if let Some(code) = &self.code {
            line.push_str(code);
            line.push_str(": ");
        }
        line.push_str(self.message.trim());
        if let Some(id) = &self.request_id {
            line.push_str(&format!(" (request id {id})"));
        }
        line
    }

    /// What a person can do about it, where lzctl knows.
    pub fn hint(&self) -> Option<String> {
        let action = self.operation.as_str();
        Some(match self.class {
            ErrorClass::AccessDenied => format!(
                "the caller lacks permission for {action}; run lzctl with a role of the management account (or the delegated administrator) that allows it"
            ),
            ErrorClass::NoOrganization => {
                "this account is not in an organization; run lzctl with credentials of the organization's management account".into()
            }
            ErrorClass::Credentials => {
                "check the credentials: AWS_PROFILE / --profile, `aws sso login`, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables".into()
            }
            ErrorClass::Throttled => {
                "AWS kept throttling after every retry; run again later or lower --concurrency".into()
            }
            ErrorClass::Timeout | ErrorClass::Unreachable => format!(
                "check the network and the endpoint ({}); --connect-timeout and --operation-timeout set the limits",
                endpoint_description()
            ),
            ErrorClass::BadResponse => format!(
                "{} does not look like the AWS API; check AWS_ENDPOINT_URL and any proxy in between",
                endpoint_description()
            ),
            ErrorClass::Busy => {
                "another change to the same resource is in progress; run again when it has finished".into()
            }
            _ => return None,
        })
    }
}

/// Responses whose HTTP status and request id can be read.
pub trait HasStatus {
    /// HTTP status code.
    fn status_code(&self) -> u16;
    /// The AWS request id header, if any.
    fn request_id(&self) -> Option<String>;
    /// The content type, if given.
    fn content_type(&self) -> Option<String>;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
    fn request_id(&self) -> Option<String> {
        ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
            .iter()
            .find_map(|h| self.headers().get(*h))
            .map(str::to_string)
    }
    fn content_type(&self) -> Option<String> {
        self.headers()
            .get("content-type")
            .map(str::to_ascii_lowercase)
    }
}

/// The deepest cause's message: the one that says what happened.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Errors repeated by several steps, counted so each is printed once.
pub fn group_repeated<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in lines {
        match out.iter_mut().find(|(l, _)| l == line) {
            Some((_, n)) => *n += 1,
            None => out.push((line.to_string(), 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_broke_off_is_one_line_naming_what_was_read_with_a_hint() {
        let e = AwsError::unread_body("s3:GetObject", "s3://b/k", "connection reset");
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.contains("s3:GetObject") && text.contains("s3://b/k"),
            "{text}"
        );
        assert!(text.contains("connection reset"), "{text}");
        assert!(e.hint().is_some_and(|h| h.contains("check the network")));
    }

    #[test]
    fn codes_are_classified_once() {
        assert_eq!(
            classify_code("TooManyRequestsException"),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_code("ConcurrentModificationException"),
            ErrorClass::Busy
        );
        assert_eq!(classify_code("ConflictException"), ErrorClass::Busy);
        assert_eq!(
            classify_code("OperationInProgressException"),
            ErrorClass::Busy
        );
        assert_eq!(
            classify_code("ConstraintViolationException"),
            ErrorClass::Constraint
        );
        assert_eq!(
            classify_code("ServiceQuotaExceededException"),
            ErrorClass::Constraint
        );
        assert_eq!(
            classify_code("OrganizationalUnitNotFoundException"),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify_code("AccessDeniedException"),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            classify_code("AWSOrganizationsNotInUseException"),
            ErrorClass::NoOrganization
        );
        assert_eq!(
            classify_code("DuplicatePolicyAttachmentException"),
            ErrorClass::AlreadyDone
        );
        assert_eq!(classify_code("ExpiredToken"), ErrorClass::Credentials);
        assert_eq!(classify_code("SomethingNew"), ErrorClass::Other);
    }

    #[test]
    fn a_line_names_operation_code_message_and_request_id() {
        let e = AwsError {
            operation: "organizations:AttachPolicy".into(),
            class: ErrorClass::Constraint,
            code: Some("ConstraintViolationException".into()),
            message: "too many policies\n".into(),
            request_id: Some("abc-123".into()),
            status: Some(400),
        };
        assert_eq!(
            e.to_string(),
            "organizations:AttachPolicy failed: ConstraintViolationException: too many policies (request id abc-123)"
        );
        assert!(!e.to_string().contains('\n'));
        assert!(e.hint().is_none());
    }

    #[test]
    fn repeated_errors_are_counted() {
        let grouped = group_repeated(["a", "b", "a", "a"]);
        assert_eq!(grouped, vec![("a".to_string(), 3), ("b".to_string(), 1)]);
    }
}
