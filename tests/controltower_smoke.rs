//! Smoke test of the emulator's Control Tower API through the real Rust SDK
//! (aws-sdk-controltower): every operation lzctl uses, the operation timing,
//! ConflictException (409) while Control Tower is busy, and staged activity.

use crate::support;

use std::time::{Duration, Instant};

use aws_sdk_controltower::error::ProvideErrorMetadata;
use aws_sdk_controltower::types::{
    BaselineOperationStatus, ControlOperationFilter, ControlOperationStatus, EnabledBaselineFilter,
    EnablementStatus, LandingZoneOperationFilter, LandingZoneOperationStatus, LandingZoneStatus,
};
use aws_sdk_controltower::Client;
use support::{create_organization, Emulator};

const CONTROL: &str = "arn:aws:controlcatalog:::control/aaaaaaaaaaaaaaaaaaaaaaaaaa";

/// (HTTP status, error code) of a failed SDK call.
fn failure<E>(
    err: aws_sdk_controltower::error::SdkError<E, aws_sdk_controltower::config::http::HttpResponse>,
) -> (u16, String)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    match &err {
        aws_sdk_controltower::error::SdkError::ServiceError(se) => (
            se.raw().status().as_u16(),
            se.err().code().unwrap_or_default().to_string(),
        ),
        other => panic!("expected a service error, got {other:?}"),
    }
}

async fn wait_baseline(ct: &Client, op: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = ct
            .get_baseline_operation()
            .operation_identifier(op)
            .send()
            .await
            .expect("GetBaselineOperation");
        let status = out.baseline_operation().and_then(|o| o.status()).cloned();
        if status == Some(BaselineOperationStatus::Succeeded) {
            return;
        }
        assert_ne!(
            status,
            Some(BaselineOperationStatus::Failed),
            "baseline operation {op} failed"
        );
        assert!(
            Instant::now() < deadline,
            "baseline operation {op} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_control(ct: &Client, op: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = ct
            .get_control_operation()
            .operation_identifier(op)
            .send()
            .await
            .expect("GetControlOperation");
        if out.control_operation().and_then(|o| o.status())
            == Some(&ControlOperationStatus::Succeeded)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "control operation {op} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_idle(emulator: &Emulator) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while emulator.get_json("/_lzemu/controltower")["busy"].as_bool() == Some(true) {
        assert!(Instant::now() < deadline, "Control Tower stayed busy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_control_tower_operation_through_the_rust_sdk() {
    let emulator = Emulator::start_unthrottled(serde_json::json!({
        "controltower_operation_seconds": 1.0,
        "controltower_landing_zone": true
    }));
    let orgs = create_organization(&emulator).await;
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let ou = orgs
        .create_organizational_unit()
        .parent_id(&root)
        .name("workloads")
        .send()
        .await
        .unwrap();
    let ou = ou.organizational_unit().unwrap();
    let (ou_id, ou_arn) = (ou.id().unwrap().to_string(), ou.arn().unwrap().to_string());
    let ct = Client::new(&emulator.sdk_config().await);

    // Landing zone
    let lzs = ct
        .list_landing_zones()
        .send()
        .await
        .expect("ListLandingZones");
    assert_eq!(lzs.landing_zones().len(), 1);
    let lz_arn = lzs.landing_zones()[0].arn().unwrap().to_string();
    let lz = ct
        .get_landing_zone()
        .landing_zone_identifier(&lz_arn)
        .send()
        .await
        .expect("GetLandingZone");
    let lz = lz.landing_zone().unwrap();
    assert_eq!(lz.status(), Some(&LandingZoneStatus::Active));
    let manifest = lz.manifest().clone();
    let version = lz.version().to_string();

    // Baselines: register the OU
    let baselines = ct.list_baselines().send().await.expect("ListBaselines");
    let names: Vec<&str> = baselines.baselines().iter().map(|b| b.name()).collect();
    assert!(
        names.contains(&"AWSControlTowerBaseline") && names.contains(&"IdentityCenterBaseline"),
        "{names:?}"
    );
    let ct_baseline = baselines
        .baselines()
        .iter()
        .find(|b| b.name() == "AWSControlTowerBaseline")
        .unwrap()
        .arn()
        .to_string();
    let enabled = ct
        .enable_baseline()
        .baseline_identifier(&ct_baseline)
        .baseline_version("4.0")
        .target_identifier(&ou_arn)
        .send()
        .await
        .expect("EnableBaseline");
    let enabled_arn = enabled.arn().to_string();
    let under_change = ct
        .list_enabled_baselines()
        .filter(
            EnabledBaselineFilter::builder()
                .statuses(EnablementStatus::UnderChange)
                .build(),
        )
        .include_children(true)
        .send()
        .await
        .expect("ListEnabledBaselines");
    assert_eq!(under_change.enabled_baselines().len(), 1);
    assert_eq!(
        under_change.enabled_baselines()[0].target_identifier(),
        ou_arn
    );

    // While the registration runs, mutating calls get ConflictException (409).
    let err = ct
        .update_landing_zone()
        .landing_zone_identifier(&lz_arn)
        .version(&version)
        .manifest(manifest.clone())
        .send()
        .await
        .expect_err("UpdateLandingZone must conflict while an OU registers");
    assert_eq!(failure(err), (409, "ConflictException".to_string()));
    wait_baseline(&ct, enabled.operation_identifier()).await;

    let scps = orgs
        .list_policies_for_target()
        .target_id(&ou_id)
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    assert!(scps
        .policies()
        .iter()
        .any(|p| p.name().unwrap_or_default().starts_with("aws-guardrails-")));

    // Landing zone update
    let update = ct
        .update_landing_zone()
        .landing_zone_identifier(&lz_arn)
        .version(&version)
        .manifest(manifest)
        .send()
        .await
        .expect("UpdateLandingZone");
    let lz_op = update.operation_identifier().to_string();
    let now = ct
        .get_landing_zone()
        .landing_zone_identifier(&lz_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        now.landing_zone().unwrap().status(),
        Some(&LandingZoneStatus::Processing)
    );
    let running = ct
        .list_landing_zone_operations()
        .filter(
            LandingZoneOperationFilter::builder()
                .statuses(LandingZoneOperationStatus::InProgress)
                .build(),
        )
        .send()
        .await
        .expect("ListLandingZoneOperations");
    assert_eq!(
        running.landing_zone_operations()[0].operation_identifier(),
        Some(lz_op.as_str())
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let op = ct
            .get_landing_zone_operation()
            .operation_identifier(&lz_op)
            .send()
            .await
            .expect("GetLandingZoneOperation");
        if op.operation_details().and_then(|d| d.status())
            == Some(&LandingZoneOperationStatus::Succeeded)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "landing zone update did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Enabled baseline update and reset
    let op = ct
        .update_enabled_baseline()
        .enabled_baseline_identifier(&enabled_arn)
        .baseline_version("4.0")
        .send()
        .await
        .expect("UpdateEnabledBaseline");
    wait_baseline(&ct, op.operation_identifier()).await;
    let op = ct
        .reset_enabled_baseline()
        .enabled_baseline_identifier(&enabled_arn)
        .send()
        .await
        .expect("ResetEnabledBaseline");
    wait_baseline(&ct, op.operation_identifier()).await;

    // Controls
    let enable = ct
        .enable_control()
        .control_identifier(CONTROL)
        .target_identifier(&ou_arn)
        .send()
        .await
        .expect("EnableControl");
    let running = ct
        .list_control_operations()
        .filter(
            ControlOperationFilter::builder()
                .statuses(ControlOperationStatus::InProgress)
                .build(),
        )
        .send()
        .await
        .expect("ListControlOperations");
    assert_eq!(running.control_operations().len(), 1);
    let listed = ct
        .list_enabled_controls()
        .target_identifier(&ou_arn)
        .send()
        .await
        .expect("ListEnabledControls");
    assert_eq!(
        listed.enabled_controls()[0].control_identifier(),
        Some(CONTROL)
    );
    wait_control(&ct, enable.operation_identifier()).await;
    let disable = ct
        .disable_control()
        .control_identifier(CONTROL)
        .target_identifier(&ou_arn)
        .send()
        .await
        .expect("DisableControl");
    wait_control(&ct, disable.operation_identifier()).await;
    let listed = ct
        .list_enabled_controls()
        .target_identifier(&ou_arn)
        .send()
        .await
        .unwrap();
    assert!(listed.enabled_controls().is_empty());

    // Staged Control Tower activity makes the next mutating call conflict, and the log shows it.
    wait_idle(&emulator).await;
    emulator.post_json(
        "/_lzemu/controltower/activity",
        serde_json::json!({"kind": "register_ou", "seconds": 2, "target": ou_id}),
    );
    let err = ct
        .enable_control()
        .control_identifier(CONTROL)
        .target_identifier(&ou_arn)
        .send()
        .await
        .expect_err("EnableControl must conflict during staged activity");
    assert_eq!(failure(err), (409, "ConflictException".to_string()));
    let log = emulator.log();
    let last = log
        .iter()
        .rev()
        .find(|e| e["operation"] == "EnableControl")
        .unwrap();
    assert_eq!(last["status"], 409);
    assert_eq!(last["error_code"], "ConflictException");
    assert_eq!(last["ct_busy"], true);

    let called: std::collections::BTreeSet<&str> = log
        .iter()
        .filter(|e| e["service"] == "controltower")
        .filter_map(|e| e["operation"].as_str())
        .collect();
    for op in [
        "ListLandingZones",
        "GetLandingZone",
        "UpdateLandingZone",
        "ListLandingZoneOperations",
        "GetLandingZoneOperation",
        "ListBaselines",
        "EnableBaseline",
        "ListEnabledBaselines",
        "GetBaselineOperation",
        "ResetEnabledBaseline",
        "UpdateEnabledBaseline",
        "EnableControl",
        "DisableControl",
        "GetControlOperation",
        "ListControlOperations",
        "ListEnabledControls",
    ] {
        assert!(called.contains(op), "{op} was not called: {called:?}");
    }
}

/// The throttling contract lzctl relies on: a burst of CreatePolicy/AttachPolicy
/// over the requests AWS lets one caller have in progress gets
/// TooManyRequestsException (the emulator's start-up limit: 2 in progress per
/// policy write), which the Rust SDK classifies as throttling and retries until
/// every call succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn organizations_throttling_is_retried_by_the_rust_sdk() {
    use aws_sdk_organizations::types::PolicyType;

    // Calls long enough in progress for a burst of six to overlap.
    let emulator = Emulator::start_with(serde_json::json!({
        "latency_ms": {"organizations:CreatePolicy": 150, "organizations:AttachPolicy": 150}
    }));
    let orgs = create_organization(&emulator).await;
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let ou = orgs
        .create_organizational_unit()
        .parent_id(&root)
        .name("burst")
        .send()
        .await
        .unwrap();
    let ou_id = ou.organizational_unit().unwrap().id().unwrap().to_string();
    let content = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
    let created = futures::future::join_all((0..6).map(|i| {
        orgs.create_policy()
            .name(format!("burst-{i}"))
            .description("burst")
            .r#type(PolicyType::ServiceControlPolicy)
            .content(content)
            .send()
    }))
    .await;
    let ids: Vec<String> = created
        .into_iter()
        .map(|r| {
            r.expect("CreatePolicy succeeds after retries")
                .policy()
                .unwrap()
                .policy_summary()
                .unwrap()
                .id()
                .unwrap()
                .to_string()
        })
        .collect();
    for attached in futures::future::join_all(
        ids.iter()
            .map(|id| orgs.attach_policy().policy_id(id).target_id(&ou_id).send()),
    )
    .await
    {
        attached.expect("AttachPolicy succeeds after retries");
    }
    let attached = orgs
        .list_policies_for_target()
        .target_id(&ou_id)
        .filter(PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.policies().len(),
        7,
        "six policies plus FullAWSAccess"
    );
    let log = emulator.log();
    let throttled: Vec<_> = log
        .iter()
        .filter(|e| e["error_code"] == "TooManyRequestsException")
        .collect();
    assert!(
        !throttled.is_empty(),
        "the burst should have been throttled at least once"
    );
    assert!(throttled.iter().all(|e| e["status"] == 400));
}
