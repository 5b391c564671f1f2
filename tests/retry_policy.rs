//! The retry policy lives in the SDK's own retry loop: Organizations'
//! ConcurrentModificationException is retried by lzctl's classifier,
//! throttling by the SDK's; other errors are not retried.

use aws_sdk_organizations::config::retry::RetryConfig;
use aws_sdk_organizations::operation::attach_policy::AttachPolicyOutput;
use aws_sdk_organizations::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use lzctl::aws::OrganizationsTransientErrors;

fn error_response(code: &str) -> Response {
    Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","Message":"try later"}}"#)),
    )
}

fn rule_failing_once_with(code: &'static str) -> aws_smithy_mocks::Rule {
    mock!(Client::attach_policy)
        .sequence()
        .http_response(move || error_response(code))
        .output(|| AttachPolicyOutput::builder().build())
        .build()
}

async fn attach(client: &Client) -> bool {
    client
        .attach_policy()
        .policy_id("p-1")
        .target_id("ou-1")
        .send()
        .await
        .is_ok()
}

fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(std::time::Duration::from_millis(1))
}

#[tokio::test]
async fn concurrent_modification_is_retried_with_lzctls_classifier() {
    let rule = rule_failing_once_with("ConcurrentModificationException");
    let client = mock_client!(aws_sdk_organizations, RuleMode::Sequential, &[&rule], |b| b
        .retry_config(retry_config())
        .retry_classifier(OrganizationsTransientErrors));
    assert!(attach(&client).await, "the second attempt succeeds");
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn without_the_classifier_the_sdk_gives_up_at_once() {
    let rule = rule_failing_once_with("ConcurrentModificationException");
    let client = mock_client!(aws_sdk_organizations, RuleMode::Sequential, &[&rule], |b| b
        .retry_config(retry_config()));
    assert!(!attach(&client).await);
    assert_eq!(rule.num_calls(), 1);
}

/// Throttling is the SDK's own business: retried without lzctl's classifier.
#[tokio::test]
async fn throttling_is_retried_by_the_sdk_itself() {
    let rule = rule_failing_once_with("TooManyRequestsException");
    let client = mock_client!(aws_sdk_organizations, RuleMode::Sequential, &[&rule], |b| b
        .retry_config(retry_config()));
    assert!(attach(&client).await);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_constraint_violation_is_not_retried() {
    let rule = rule_failing_once_with("ConstraintViolationException");
    let client = mock_client!(aws_sdk_organizations, RuleMode::Sequential, &[&rule], |b| b
        .retry_config(retry_config())
        .retry_classifier(OrganizationsTransientErrors));
    assert!(!attach(&client).await);
    assert_eq!(rule.num_calls(), 1);
}
