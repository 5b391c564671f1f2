//! The retry policy and error classification of the clients lzctl really
//! builds (`Clients::new`), over a scripted HTTP connection: Organizations'
//! ConcurrentModificationException and PolicyChangesInProgressException are
//! retried by lzctl's classifier inside the SDK's retry loop, throttling by
//! the SDK's own; a constraint violation is not retried; an endpoint that
//! never answers or answers HTML becomes one line a person can read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_http_client::test_util::{infallible_client_fn, NeverClient};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::body::SdkBody;
use lzctl::aws::{AwsError, Clients, ErrorClass};

/// What the scripted endpoint answers, call by call.
enum Answer {
    Error(&'static str),
    Ok,
    Html500,
}

fn scripted(answers: Vec<Answer>) -> (SharedHttpClient, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let client = infallible_client_fn(move |_request| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        let (status, content_type, body) = match answers.get(n).unwrap_or(&Answer::Ok) {
            Answer::Error(code) => (
                400,
                "application/x-amz-json-1.1",
                format!(r#"{{"__type":"{code}","Message":"try later"}}"#),
            ),
            Answer::Ok => (200, "application/x-amz-json-1.1", "{}".to_string()),
            Answer::Html500 => (
                500,
                "text/html",
                "<html><body><h1>502 Bad Gateway</h1></body></html>".to_string(),
            ),
        };
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("x-amzn-requestid", format!("req-{n}"))
            .body(SdkBody::from(body))
            .unwrap()
    });
    (client, calls)
}

fn sdk_config(http: SharedHttpClient) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "SECRET", None, None, "test",
        )))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(300))
                .build(),
        )
        .http_client(http)
        .build()
}

async fn attach(clients: &Clients) -> Result<(), AwsError> {
    clients
        .organizations
        .attach_policy()
        .policy_id("p-1")
        .target_id("ou-1")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("organizations:AttachPolicy", &e))
}

#[tokio::test]
async fn concurrent_modification_is_retried_by_the_clients_lzctl_builds() {
    let (http, calls) = scripted(vec![
        Answer::Error("ConcurrentModificationException"),
        Answer::Ok,
    ]);
    let clients = Clients::new(&sdk_config(http));
    attach(&clients).await.expect("the second attempt succeeds");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn policy_changes_in_progress_is_retried_too() {
    let (http, calls) = scripted(vec![
        Answer::Error("PolicyChangesInProgressException"),
        Answer::Error("PolicyChangesInProgressException"),
        Answer::Ok,
    ]);
    let clients = Clients::new(&sdk_config(http));
    attach(&clients).await.expect("the third attempt succeeds");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_itself() {
    let (http, calls) = scripted(vec![Answer::Error("TooManyRequestsException"), Answer::Ok]);
    let clients = Clients::new(&sdk_config(http));
    attach(&clients).await.expect("retried");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_constraint_violation_is_not_retried_and_reads_as_one_line() {
    let (http, calls) = scripted(vec![
        Answer::Error("ConstraintViolationException"),
        Answer::Ok,
    ]);
    let clients = Clients::new(&sdk_config(http));
    let err = attach(&clients).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(err.class, ErrorClass::Constraint);
    assert_eq!(
        err.to_string(),
        "organizations:AttachPolicy failed: ConstraintViolationException: try later (request id req-0)"
    );
}

#[tokio::test]
async fn an_html_answer_is_one_line_without_a_debug_dump() {
    let (http, _) = scripted(vec![Answer::Html500, Answer::Html500, Answer::Html500]);
    let clients = Clients::new(&sdk_config(http));
    let err = attach(&clients).await.unwrap_err();
    let line = err.to_string();
    assert!(
        !line.contains('\n') && !line.contains("ServiceError {"),
        "{line}"
    );
    assert!(line.contains("500"), "{line}");
    assert!(err.hint().is_some(), "an HTML answer comes with a hint");
}

#[tokio::test]
async fn an_endpoint_that_never_answers_times_out() {
    let clients = Clients::new(&sdk_config(SharedHttpClient::new(NeverClient::new())));
    let started = std::time::Instant::now();
    let err = attach(&clients).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.hint().unwrap().contains("--operation-timeout"));
}
