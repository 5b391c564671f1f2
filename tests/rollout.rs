//! Staged SCP rollout end to end: the real lzctl binary against the
//! emulator's Organizations and S3, with CloudTrail log files written into
//! the trail bucket while the rollout runs.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{create_organization, text, workspace, Emulator, REGION};

const TRAIL_BUCKET: &str = "org-trail-logs";
const POLICY: &str = "deny-leave";

const BASE: &str = "version: 1
organization:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1]
  management_account: \"123456789012\"
  control_tower: absent
environments: [prod, dev]
organizational_units:
  Companies:
    children:
      Sandbox: { environments: [] }
      A: {}
      B: {}
accounts:
  - { name: sandbox-1, email: sandbox-1@example.com, ou: Companies/Sandbox }
  - { name: a-dev, email: a-dev@example.com, ou: Companies/A/dev }
  - { name: a-prod, email: a-prod@example.com, ou: Companies/A/prod }
  - { name: b-dev, email: b-dev@example.com, ou: Companies/B/dev }
  - { name: b-prod, email: b-prod@example.com, ou: Companies/B/prod }
";

fn staged(soak: &str) -> String {
    format!(
        "{BASE}policies:
  {POLICY}:
    type: scp
    template: scp/deny-leave-organization.json
    rollout:
      waves: [Companies/Sandbox, \"Companies/*/dev\", \"Companies/*/prod\"]
      soak: {soak}
      max_denials: 0
      trail: s3://{TRAIL_BUCKET}
"
    )
}

async fn trail_bucket(emu: &Emulator) -> aws_sdk_s3::Client {
    support::create_bucket(emu, TRAIL_BUCKET).await
}

/// An emulator with BASE's organization applied (by lzctl) and the trail
/// bucket made; the workspace holds `base.yaml`.
async fn base_organization() -> (
    Emulator,
    aws_sdk_organizations::Client,
    aws_sdk_s3::Client,
    tempfile::TempDir,
) {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": false
    }));
    let orgs = create_organization(&emu).await;
    let s3 = trail_bucket(&emu).await;
    let ws = workspace();
    std::fs::write(ws.path().join("base.yaml"), BASE).unwrap();
    let base = emu.lzctl(ws.path(), &["apply", "-c", "base.yaml", "--auto-approve"]);
    assert!(base.status.success(), "{}", text(&base));
    (emu, orgs, s3, ws)
}

/// The organization's id (trail file paths) and account ids by name.
async fn organization_and_account_ids(
    orgs: &aws_sdk_organizations::Client,
) -> (String, BTreeMap<String, String>) {
    let org_id = orgs
        .describe_organization()
        .send()
        .await
        .unwrap()
        .organization()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let ids = orgs
        .list_accounts()
        .send()
        .await
        .unwrap()
        .accounts()
        .iter()
        .map(|a| (a.name().unwrap().to_string(), a.id().unwrap().to_string()))
        .collect();
    (org_id, ids)
}

/// The staged config with version 2 of the document, which also denies
/// closing the account (its template written into `dir`).
fn version_2(dir: &Path, soak: &str) -> String {
    let doc = std::fs::read_to_string(dir.join("scp/deny-leave-organization.json"))
        .unwrap()
        .replace(
            "\"Action\": \"organizations:LeaveOrganization\"",
            "\"Action\": [\"organizations:LeaveOrganization\", \"account:CloseAccount\"]",
        );
    assert!(doc.contains("account:CloseAccount"));
    std::fs::write(dir.join("scp/deny-leave-v2.json"), doc).unwrap();
    staged(soak).replace("scp/deny-leave-organization.json", "scp/deny-leave-v2.json")
}

/// A gzip CloudTrail file of calls by `role` in `account` and `region`, each failed with `message`.
fn trail_file(account: &str, region: &str, times: &[String], message: &str) -> Vec<u8> {
    let records: Vec<serde_json::Value> = times
        .iter()
        .map(|t| {
            serde_json::json!({
                "eventVersion": "1.10",
                "eventTime": t,
                "eventSource": "ec2.amazonaws.com",
                "eventName": "RunInstances",
                "awsRegion": region,
                "errorCode": "Client.UnauthorizedOperation",
                "errorMessage": message,
                "userIdentity": {
                    "type": "AssumedRole",
                    "accountId": account,
                    "arn": format!("arn:aws:sts::{account}:assumed-role/app-deployer/ci"),
                    "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::{account}:role/app-deployer")}}
                }
            })
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    gz.finish().unwrap()
}

const SCP_DENIAL: &str = "You are not authorized to perform this operation. User: arn:aws:sts::ACCOUNT:assumed-role/app-deployer/ci is not authorized to perform: ec2:RunInstances with an explicit deny in a service control policy";

async fn put_trail_file(
    s3: &aws_sdk_s3::Client,
    org: &str,
    account: &str,
    region: &str,
    body: Vec<u8>,
    n: u32,
) {
    let now = chrono::Utc::now();
    let key = format!(
        "AWSLogs/{org}/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}Z_{n}.json.gz",
        now.format("%Y/%m/%d"),
        now.format("%Y%m%dT%H%M")
    );
    s3.put_object()
        .bucket(TRAIL_BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// The id of the SCP named `name`, read independently of lzctl.
async fn policy_id(orgs: &aws_sdk_organizations::Client, name: &str) -> Option<String> {
    let policies = orgs
        .list_policies()
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    Some(
        policies
            .policies()
            .iter()
            .find(|p| p.name() == Some(name))?
            .id()?
            .to_string(),
    )
}

/// The id of the SCP named `name` and its targets (OU names); None if it
/// does not exist.
async fn policy_named(
    orgs: &aws_sdk_organizations::Client,
    name: &str,
) -> Option<(String, BTreeSet<String>)> {
    let id = policy_id(orgs, name).await?;
    let targets = orgs
        .list_targets_for_policy()
        .policy_id(&id)
        .send()
        .await
        .unwrap();
    let names = targets
        .targets()
        .iter()
        .map(|t| t.name().unwrap().to_string())
        .collect();
    Some((id, names))
}

/// Targets of the rolled-out SCP.
async fn attached(orgs: &aws_sdk_organizations::Client) -> BTreeSet<String> {
    policy_named(orgs, POLICY)
        .await
        .map(|(_, targets)| targets)
        .unwrap_or_default()
}

/// The halt tag of the SCP named `name`.
async fn halt_tag(orgs: &aws_sdk_organizations::Client, name: &str) -> Option<String> {
    let id = policy_id(orgs, name).await?;
    let tags = orgs
        .list_tags_for_resource()
        .resource_id(id)
        .send()
        .await
        .unwrap();
    tags.tags()
        .iter()
        .find(|t| t.key() == "lzctl-rollout-halted")
        .map(|t| t.value().to_string())
}

fn attach_calls(emu: &Emulator) -> usize {
    emu.log()
        .iter()
        .filter(|e| e["operation"] == "AttachPolicy" && e["status"] == 200)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wave_whose_accounts_meet_scp_denials_halts_and_is_detached_and_resume_goes_on() {
    let (emu, orgs, s3, ws) = base_organization().await;
    let dir = ws.path();
    let (org_id, ids) = organization_and_account_ids(&orgs).await;

    // The plan shows the waves in order and the accounts in each.
    std::fs::write(dir.join("staged.yaml"), staged("3s")).unwrap();
    let plan = emu.lzctl(dir, &["plan", "-c", "staged.yaml", "--json"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let waves: Vec<(String, serde_json::Value, Vec<String>)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"].as_str().unwrap().starts_with("rollout:"))
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["after"]["accounts"].clone(),
                c["depends_on"]
                    .as_array()
                    .map(|d| d.iter().map(|a| a.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        waves
            .iter()
            .map(|w| (w.0.as_str(), w.1.clone()))
            .collect::<Vec<_>>(),
        vec![
            (
                "rollout:scp:deny-leave:wave-1",
                serde_json::json!(["sandbox-1"])
            ),
            (
                "rollout:scp:deny-leave:wave-2",
                serde_json::json!(["a-dev", "b-dev"])
            ),
            (
                "rollout:scp:deny-leave:wave-3",
                serde_json::json!(["a-prod", "b-prod"])
            ),
        ]
    );
    assert!(
        waves[1].2.contains(&waves[0].0) && waves[2].2.contains(&waves[1].0),
        "each wave waits for the one before: {waves:?}"
    );
    assert!(
        !plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["operation"] == "attach_policy"),
        "the staged policy's attachments are all in waves"
    );
    let human = emu.lzctl(dir, &["plan", "-c", "staged.yaml"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("wave 2 of 3: 2 target(s): Companies/A/dev, Companies/B/dev")
            && human.contains("accounts (2): a-dev, b-dev")
            && human.contains("then soak 3s and read s3://org-trail-logs/ for SCP denials"),
        "{human}"
    );

    let md = emu.lzctl(dir, &["plan", "-c", "staged.yaml", "--markdown"]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("| `rollout:scp:deny-leave:wave-2` | Companies/A/dev, Companies/B/dev | a-dev, b-dev | 3s |"),
        "{md}"
    );

    // Calls denied by an SCP before the rollout are the baseline, not new.
    let old = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    put_trail_file(
        &s3,
        &org_id,
        &ids["sandbox-1"],
        REGION,
        trail_file(&ids["sandbox-1"], REGION, &[old], SCP_DENIAL),
        0,
    )
    .await;

    emu.clear_log();
    let child = emu.spawn_lzctl(
        dir,
        &[
            "apply",
            "-c",
            "staged.yaml",
            "--auto-approve",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    // Once the second wave is attached (1 + 2 targets), its accounts' callers fail.
    let deadline = Instant::now() + Duration::from_secs(60);
    while attach_calls(&emu) < 3 {
        assert!(Instant::now() < deadline, "wave 2 was never attached");
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // b-dev's calls are denied in a region outside the governed ones, where
    // CloudTrail files them (as a region restriction's denials are).
    for (n, (name, region)) in [("a-dev", REGION), ("b-dev", "us-west-2")]
        .iter()
        .enumerate()
    {
        let times = vec![now.clone(); n + 1];
        put_trail_file(
            &s3,
            &org_id,
            &ids[*name],
            region,
            trail_file(&ids[*name], region, &times, SCP_DENIAL),
            1,
        )
        .await;
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rollout of deny-leave halted after wave 2 of 3: 3 call(s) denied by an SCP")
            && err.contains(&format!(
                "ec2:RunInstances by arn:aws:iam::{}:role/app-deployer in b-dev ({}): 2 call(s)",
                ids["b-dev"], ids["b-dev"]
            ))
            && err.contains(&format!(
                "ec2:RunInstances by arn:aws:iam::{}:role/app-deployer in a-dev ({}): 1 call(s)",
                ids["a-dev"], ids["a-dev"]
            ))
            && err.contains("deny-leave is detached from wave 2 again; the waves before keep it"),
        "{err}"
    );
    // The first wave keeps the policy, the second lost it, the third never got it.
    assert_eq!(
        attached(&orgs).await,
        BTreeSet::from(["Sandbox".to_string()])
    );
    let tag = halt_tag(&orgs, POLICY)
        .await
        .expect("the halt is tagged on the policy");
    assert!(tag.starts_with("wave 2/3 halted "), "{tag}");
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"operation\":\"lzctl:WatchWave\"")
            && audit.contains("halt: 3 SCP denial(s)"),
        "{audit}"
    );

    // A plain apply refuses to run the halted wave again; plan says why.
    let plan = emu.lzctl(dir, &["plan", "-c", "staged.yaml"]);
    assert!(
        String::from_utf8_lossy(&plan.stdout)
            .contains("`lzctl apply --resume` runs the halted wave again"),
        "{}",
        text(&plan)
    );
    let refused = emu.lzctl(dir, &["apply", "-c", "staged.yaml", "--auto-approve"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("run `lzctl apply --resume`"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        attached(&orgs).await,
        BTreeSet::from(["Sandbox".to_string()])
    );

    // The callers are fixed: --resume runs wave 2 again, then wave 3.
    std::fs::write(dir.join("staged.yaml"), staged("1s")).unwrap();
    let resumed = emu.lzctl(
        dir,
        &["apply", "-c", "staged.yaml", "--auto-approve", "--resume"],
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert_eq!(
        attached(&orgs).await,
        ["Sandbox", "dev", "prod"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        "the policy is on every wave (names repeat: dev and prod of both companies)"
    );
    assert_eq!(
        halt_tag(&orgs, POLICY).await,
        None,
        "the halt tag is gone once the halted wave passed"
    );
}

/// Config errors of a rollout are reported with field and line, and nothing is sent.
#[test]
fn bad_rollouts_are_refused_with_field_and_line() {
    let ws = workspace();
    let dir: &Path = ws.path();
    let bad = format!(
        "{BASE}policies:
  {POLICY}:
    type: scp
    template: scp/deny-leave-organization.json
    targets: [Companies/Sandbox, \"Companies/*/dev\"]
    rollout:
      waves: [Companies/Sandbox, \"Companies/*/prod\"]
      soak: 5 minutes
"
    );
    std::fs::write(dir.join("bad.yaml"), bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .current_dir(dir)
        .args(["validate", "-c", "bad.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "policies.deny-leave.rollout.waves[1]",
        "Companies/A/prod is in a wave but not among the policy's targets",
        "target Companies/A/dev is in no wave",
        "policies.deny-leave.rollout.soak",
        "a rollout watches the organization trail",
        "bad.yaml:",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wave_that_fails_halfway_takes_back_what_it_attached() {
    let (emu, orgs, _, ws) = base_organization().await;
    let dir = ws.path();

    // The first wave has two targets; its second attachment is refused.
    let config = staged("1s").replace(
        "waves: [Companies/Sandbox, \"Companies/*/dev\", \"Companies/*/prod\"]",
        "waves: [[Companies/Sandbox, Companies/A/dev], [Companies/B/dev], \"Companies/*/prod\"]",
    );
    std::fs::write(dir.join("staged.yaml"), config).unwrap();
    emu.post_json(
        "/_lzemu/fail-next",
        serde_json::json!({"operation": "organizations:AttachPolicy",
            "code": "AccessDeniedException", "status": 400, "skip": 1}),
    );
    let failed = emu.lzctl(dir, &["apply", "-c", "staged.yaml", "--auto-approve"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    // All or nothing: the target it reached is detached again, so no
    // account keeps the policy without being watched.
    assert_eq!(attached(&orgs).await, BTreeSet::new(), "{}", text(&failed));
    let log = emu.log();
    let calls: Vec<(&str, i64)> = log
        .iter()
        .filter(|e| {
            matches!(
                e["operation"].as_str(),
                Some("AttachPolicy" | "DetachPolicy")
            )
        })
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["status"].as_i64().unwrap(),
            )
        })
        .collect();
    // Undone in reverse: the refused target answers "not attached" (done),
    // the one reached is detached.
    assert!(
        calls.ends_with(&[
            ("AttachPolicy", 200),
            ("AttachPolicy", 400),
            ("DetachPolicy", 400),
            ("DetachPolicy", 200)
        ]),
        "{calls:?}"
    );

    // Run again without the failure: the waves go through.
    let done = emu.lzctl(dir, &["apply", "-c", "staged.yaml", "--auto-approve"]);
    assert!(done.status.success(), "{}", text(&done));
    // (OU names: Sandbox, and the dev and prod OUs of A and B.)
    let names: BTreeSet<String> = ["Sandbox", "dev", "prod"].map(String::from).into();
    assert_eq!(attached(&orgs).await, names, "{}", text(&done));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_document_goes_out_wave_by_wave_on_a_copy_that_then_takes_the_policys_name() {
    let (emu, orgs, _, ws) = base_organization().await;
    let dir = ws.path();
    std::fs::write(dir.join("v1.yaml"), staged("1s")).unwrap();
    let v1 = emu.lzctl(dir, &["apply", "-c", "v1.yaml", "--auto-approve"]);
    assert!(v1.status.success(), "{}", text(&v1));
    let (old_id, everywhere) = policy_named(&orgs, POLICY).await.unwrap();
    // (OU names: Sandbox, and the dev and prod OUs of A and B.)
    let names: BTreeSet<String> = ["Sandbox", "dev", "prod"].map(String::from).into();
    assert_eq!(everywhere, names);

    std::fs::write(dir.join("v2.yaml"), version_2(dir, "2s")).unwrap();

    let plan = emu.lzctl(dir, &["plan", "-c", "v2.yaml", "--json"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let addresses = support::change_addresses(&plan);
    assert_eq!(
        addresses,
        vec![
            "scp:deny-leave (staged)",
            "rollout:scp:deny-leave (staged):wave-1",
            "rollout:scp:deny-leave (staged):wave-2",
            "rollout:scp:deny-leave (staged):wave-3",
            "rollout:scp:deny-leave:replace",
        ],
        "no UpdatePolicy sends the new document everywhere at once"
    );
    let human = emu.lzctl(dir, &["plan", "-c", "v2.yaml"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("wave 1 of 3: 1 target(s): Companies/Sandbox")
            && human.contains("which then takes its name")
            && human.contains("account:CloseAccount"),
        "{human}"
    );

    // While the apply runs there is a moment with the new document on the
    // sandbox only and the old one still on prod.
    let mut child = emu.spawn_lzctl(dir, &["apply", "-c", "v2.yaml", "--auto-approve"]);
    let staged_name = format!("{POLICY} (staged)");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_first_wave = false;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        let copy = policy_named(&orgs, &staged_name).await;
        let policy = policy_named(&orgs, POLICY).await;
        if let (Some((_, copy)), Some((_, policy))) = (copy, policy) {
            let sandbox_only: BTreeSet<String> = ["Sandbox".to_string()].into();
            if copy == sandbox_only && policy.contains("prod") && !policy.contains("Sandbox") {
                seen_first_wave = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(seen_first_wave, "never saw wave 1 done and prod untouched");

    // The policy now has the new document on every target, under its name;
    // the copy is gone, and a plan finds nothing to do.
    let (new_id, targets) = policy_named(&orgs, POLICY).await.unwrap();
    assert_eq!(targets, everywhere);
    assert_ne!(new_id, old_id, "the copy took the policy's name");
    assert!(policy_named(&orgs, &staged_name).await.is_none());
    let content = orgs
        .describe_policy()
        .policy_id(&new_id)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .content()
        .unwrap()
        .to_string();
    assert!(content.contains("account:CloseAccount"), "{content}");
    let again = emu.lzctl(dir, &["plan", "-c", "v2.yaml", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staged_new_document_that_meets_denials_halts_on_the_copy_and_resume_finishes_it() {
    let (emu, orgs, s3, ws) = base_organization().await;
    let dir = ws.path();
    let (org_id, ids) = organization_and_account_ids(&orgs).await;
    std::fs::write(dir.join("v1.yaml"), staged("1s")).unwrap();
    let v1 = emu.lzctl(dir, &["apply", "-c", "v1.yaml", "--auto-approve"]);
    assert!(v1.status.success(), "{}", text(&v1));
    std::fs::write(dir.join("v2.yaml"), version_2(dir, "3s")).unwrap();
    let copy = format!("{POLICY} (staged)");

    emu.clear_log();
    let child = emu.spawn_lzctl(dir, &["apply", "-c", "v2.yaml", "--auto-approve"]);
    // Once the copy is on wave 2 (1 + 2 targets), a-dev's callers fail.
    let deadline = Instant::now() + Duration::from_secs(60);
    while attach_calls(&emu) < 3 {
        assert!(Instant::now() < deadline, "wave 2 was never attached");
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    put_trail_file(
        &s3,
        &org_id,
        &ids["a-dev"],
        REGION,
        trail_file(&ids["a-dev"], REGION, &[now], SCP_DENIAL),
        1,
    )
    .await;
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("rollout of {copy} halted after wave 2 of 3")),
        "{err}"
    );
    // Wave 1 keeps the new document; waves 2 and 3 have the old one again.
    let sandbox: BTreeSet<String> = ["Sandbox".to_string()].into();
    assert_eq!(policy_named(&orgs, &copy).await.unwrap().1, sandbox);
    let old_targets: BTreeSet<String> = ["dev", "prod"].map(String::from).into();
    assert_eq!(policy_named(&orgs, POLICY).await.unwrap().1, old_targets);
    let tag = halt_tag(&orgs, &copy)
        .await
        .expect("the halt is tagged on the copy");
    assert!(tag.starts_with("wave 2/3 halted "), "{tag}");

    // Read back by the next plan: a plain apply refuses, --resume goes on.
    let refused = emu.lzctl(dir, &["apply", "-c", "v2.yaml", "--auto-approve"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("run `lzctl apply --resume`"),
        "{}",
        text(&refused)
    );
    std::fs::write(dir.join("v2.yaml"), version_2(dir, "1s")).unwrap();
    let resumed = emu.lzctl(
        dir,
        &["apply", "-c", "v2.yaml", "--auto-approve", "--resume"],
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    let (_, targets) = policy_named(&orgs, POLICY).await.unwrap();
    assert_eq!(targets, ["Sandbox", "dev", "prod"].map(String::from).into());
    assert!(policy_named(&orgs, &copy).await.is_none());
    assert_eq!(halt_tag(&orgs, POLICY).await, None);
    let again = emu.lzctl(dir, &["plan", "-c", "v2.yaml", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}
