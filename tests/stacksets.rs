//! Baselines end to end against the emulator, through the lzctl binary and
//! read back with the real SDK clients (the member accounts through an
//! assumed role):
//! - the group example's five independent baselines roll out concurrently
//!   (their operations overlap), deploy stacks into the member accounts, and
//!   the next plan is empty and makes no mutating call;
//! - one edited parameter is exactly one stack set update, with its diff;
//!   a template edit shows a text diff;
//! - a failing account is reported as account × region × reason (and in the
//!   audit log), stops the baselines that depend on it and not the others;
//!   a suspended account is left out; an account moved in by hand gets its
//!   instances;
//! - with Control Tower, new accounts get instances only after enrollment,
//!   no stack set operation starts while Control Tower is busy, and its own
//!   stack sets are untouched.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use aws_sdk_cloudformation::types::StackSetOperationStatus;
use support::{create_organization, text, workspace, Emulator, REGION};

const GROUP: &str = "examples/group/landing-zone.yaml";
const OSAKA: &str = "ap-northeast-3";

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn cfn(emu: &Emulator) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(&emu.sdk_config().await)
}

/// Account name → id, read with Organizations.
async fn account_ids(emu: &Emulator) -> BTreeMap<String, String> {
    let orgs = aws_sdk_organizations::Client::new(&emu.sdk_config().await);
    let pages: Vec<_> = orgs
        .list_accounts()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| p.accounts())
        .map(|a| (a.name().unwrap().to_string(), a.id().unwrap().to_string()))
        .collect()
}

/// Clients acting in a member account (OrganizationAccountAccessRole).
async fn member_config(emu: &Emulator, account: &str, region: &str) -> aws_config::SdkConfig {
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    let out = sts
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("lzctl-tests")
        .send()
        .await
        .expect("AssumeRole into the member account");
    let c = out.credentials().unwrap();
    let creds = aws_sdk_sts::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emu.endpoint())
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(creds)
        .load()
        .await
}

/// The stacks a stack set deployed in one account and region:
/// (status, parameters, outputs).
type StackView = (String, BTreeMap<String, String>, BTreeMap<String, String>);

async fn stacks_of(emu: &Emulator, account: &str, region: &str, set: &str) -> Vec<StackView> {
    let client = aws_sdk_cloudformation::Client::new(&member_config(emu, account, region).await);
    let out = client.describe_stacks().send().await.unwrap();
    out.stacks()
        .iter()
        .filter(|s| {
            s.stack_name()
                .unwrap_or_default()
                .starts_with(&format!("StackSet-{set}-"))
        })
        .map(|s| {
            (
                s.stack_status().unwrap().as_str().to_string(),
                s.parameters()
                    .iter()
                    .map(|p| {
                        (
                            p.parameter_key().unwrap().to_string(),
                            p.parameter_value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                s.outputs()
                    .iter()
                    .map(|o| {
                        (
                            o.output_key().unwrap().to_string(),
                            o.output_value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// (account, region) → (status, detailed status) of a stack set's instances.
async fn instances(
    client: &aws_sdk_cloudformation::Client,
    set: &str,
) -> BTreeMap<(String, String), (String, String)> {
    let pages: Vec<_> = client
        .list_stack_instances()
        .stack_set_name(set)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| p.summaries())
        .map(|i| {
            (
                (
                    i.account().unwrap().to_string(),
                    i.region().unwrap().to_string(),
                ),
                (
                    i.status().unwrap().as_str().to_string(),
                    i.stack_instance_status()
                        .and_then(|s| s.detailed_status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                ),
            )
        })
        .collect()
}

async fn stack_set_names(client: &aws_sdk_cloudformation::Client) -> BTreeSet<String> {
    client
        .list_stack_sets()
        .send()
        .await
        .unwrap()
        .summaries()
        .iter()
        .map(|s| s.stack_set_name().unwrap().to_string())
        .collect()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// A converged plan, and not one mutating call to find that out.
fn assert_converged(emu: &Emulator, dir: &Path, config: &str) {
    emu.clear_log();
    let plan = emu.lzctl(dir, &["plan", "-c", config, "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert!(stdout(&plan).contains("No changes."), "{}", text(&plan));
    assert_eq!(
        emu.mutating_calls(),
        Vec::<String>::new(),
        "plan must not mutate anything"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn group_baselines_roll_out_concurrently_deploy_stacks_and_converge() {
    let emu = Emulator::start_with(serde_json::json!({
        "controltower_landing_zone": false,
        "stackset_operation_seconds": 3.0
    }));
    create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();

    // The group's organization first, then its five baselines on top.
    let config = dir.join(GROUP);
    let full = std::fs::read_to_string(&config).unwrap();
    let at = full
        .find("\nbaselines:")
        .expect("the example has baselines");
    std::fs::write(&config, &full[..at]).unwrap();
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    std::fs::write(&config, &full).unwrap();
    let plan = emu.lzctl(dir, &["plan", "-c", GROUP, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let planned = support::change_addresses(&json);
    assert_eq!(
        planned,
        [
            "stackset:audit-event-bus",
            "stackset:audit-role",
            "stackset:config-rules-prod",
            "stackset:corrective-controls",
            "stackset:event-forwarding"
        ],
        "independent baselines wait for nothing"
    );
    assert!(json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c.get("depends_on").is_none()));
    let apply = emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]);
    assert_exit(&apply, 0);
    let client = cfn(&emu).await;
    let names = [
        "audit-event-bus",
        "audit-role",
        "config-rules-prod",
        "corrective-controls",
        "event-forwarding",
    ];
    assert_eq!(
        stack_set_names(&client).await,
        names.iter().map(|s| s.to_string()).collect()
    );

    // One operation each, and all five were running at the same moment: the
    // apply takes about the slowest stack set, not the sum.
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for name in names {
        let ops = client
            .list_stack_set_operations()
            .stack_set_name(name)
            .send()
            .await
            .unwrap();
        let [op] = ops.summaries() else {
            panic!("{name}: {:?}", ops.summaries())
        };
        assert_eq!(op.status(), Some(&StackSetOperationStatus::Succeeded));
        starts.push(op.creation_timestamp().unwrap().as_secs_f64());
        ends.push(op.end_timestamp().unwrap().as_secs_f64());
        let set = client
            .describe_stack_set()
            .stack_set_name(name)
            .send()
            .await
            .unwrap();
        let set = set.stack_set().unwrap();
        assert!(set.description().unwrap().starts_with("[lzctl] "));
        assert_eq!(set.managed_execution().unwrap().active(), Some(true));
        assert_eq!(set.auto_deployment().unwrap().enabled(), Some(true));
    }
    let latest_start = starts.iter().cloned().fold(f64::MIN, f64::max);
    let earliest_end = ends.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        latest_start < earliest_end,
        "the five operations overlap: starts {starts:?}, ends {ends:?}"
    );

    // Each baseline is deployed in the member accounts it targets.
    let ids = account_ids(&emu).await;
    let (audit, prod, dev) = (&ids["audit"], &ids["kaede-prod"], &ids["kaede-dev"]);
    let [(status, params, outputs)] = &stacks_of(&emu, prod, REGION, "audit-role").await[..] else {
        panic!("one audit-role stack in kaede-prod")
    };
    assert_eq!(status, "CREATE_COMPLETE");
    assert_eq!(&params["AuditAccountId"], audit);
    assert_eq!(
        outputs["RoleArn"],
        format!("arn:aws:iam::{prod}:role/lzctl-ccoe-audit-readonly")
    );
    assert!(
        stacks_of(&emu, prod, OSAKA, "audit-role").await.is_empty(),
        "the audit role is deployed to one region"
    );
    for region in [REGION, OSAKA] {
        for account in [prod, dev] {
            let [(status, params, outputs)] =
                &stacks_of(&emu, account, region, "event-forwarding").await[..]
            else {
                panic!("event-forwarding in {account}/{region}")
            };
            assert_eq!(status, "CREATE_COMPLETE");
            assert_eq!(&params["AuditAccountId"], audit);
            assert!(outputs["ConfigRuleArn"].contains(&format!(":{region}:{account}:rule/")));
            assert_eq!(
                stacks_of(&emu, account, region, "corrective-controls").await[0].0,
                "CREATE_COMPLETE"
            );
        }
        assert_eq!(
            stacks_of(&emu, prod, region, "config-rules-prod").await[0].1["BackupRetentionDays"],
            "7"
        );
        assert!(
            stacks_of(&emu, dev, region, "config-rules-prod")
                .await
                .is_empty(),
            "production rules stay out of dev"
        );
        let [(_, params, outputs)] = &stacks_of(&emu, audit, region, "audit-event-bus").await[..]
        else {
            panic!("the audit bus in the audit account")
        };
        assert!(params["OrganizationId"].starts_with("o-"));
        assert_eq!(
            outputs["BusArn"],
            format!("arn:aws:events:{region}:{audit}:event-bus/lzctl-security-events")
        );
        assert!(
            stacks_of(&emu, &ids["log-archive"], region, "audit-event-bus")
                .await
                .is_empty()
        );
    }

    assert_converged(&emu, dir, GROUP);

    // One parameter edited: exactly one stack set update, with the diff.
    edit(&config, "BackupRetentionDays: 7", "BackupRetentionDays: 14");
    let plan = emu.lzctl(dir, &["plan", "-c", GROUP, "--json"]);
    assert_exit(&plan, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{}", stdout(&plan));
    assert_eq!(changes[0]["address"], "stackset:config-rules-prod");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["operation"], "update_stack_set");
    let human = stdout(&emu.lzctl(dir, &["plan", "-c", GROUP]));
    assert!(
        human.contains("~ stackset:config-rules-prod  (update stack set)")
            && human.contains("reason: parameters changed: BackupRetentionDays")
            && human.contains("parameter BackupRetentionDays: \"7\" -> \"14\""),
        "{human}"
    );
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    assert_eq!(
        stacks_of(&emu, prod, OSAKA, "config-rules-prod").await[0].1["BackupRetentionDays"],
        "14"
    );

    // A template edit: the plan shows the template's lines that change.
    edit(
        &dir.join("baselines/config-rules-prod/template.yaml"),
        "RDS instances have deletion protection.",
        "RDS instances must have deletion protection.",
    );
    let human = stdout(&emu.lzctl(dir, &["plan", "-c", GROUP]));
    assert!(
        human.contains("reason: template changed")
            && human.contains("-      Description: !Sub \"${Environment}: RDS instances have deletion protection.\"")
            && human.contains("+      Description: !Sub \"${Environment}: RDS instances must have deletion protection.\""),
        "{human}"
    );
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    assert_converged(&emu, dir, GROUP);
    assert_eq!(emu.get_json("/_lzemu/violations"), serde_json::json!([]));
}

/// Violations the emulator saw in StackSets calls (a stack set mutation
/// while Control Tower was busy, overlapping operations on one stack set).
fn stackset_violations(emu: &Emulator) -> Vec<String> {
    emu.get_json("/_lzemu/violations")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{}: {}", v["kind"], v["detail"]))
        .filter(|v| v.contains("cloudformation:") || v.contains("overlapping_stackset"))
        .collect()
}

/// The small landing zone of tests/fixtures/stacksets, in `dir`, without or
/// with its baselines.
fn small(dir: &Path, control_tower: &str, baselines: bool) -> &'static str {
    let fixtures = support::repo_root().join("tests/fixtures/stacksets");
    let mut text = std::fs::read_to_string(fixtures.join("small.yaml"))
        .unwrap()
        .replace("CONTROL_TOWER", control_tower);
    if baselines {
        text = text.replace(
            "# BASELINES\n",
            &std::fs::read_to_string(fixtures.join("baselines.yaml")).unwrap(),
        );
    }
    std::fs::write(dir.join("lz.yaml"), text).unwrap();
    "lz.yaml"
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_tabled_and_stop_only_dependants_suspended_skipped_hand_moved_deployed() {
    let emu = Emulator::start_with(serde_json::json!({
        "controltower_landing_zone": false,
        "stackset_operation_seconds": 1.0
    }));
    create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let lz = small(dir, "absent", false);
    assert_exit(&emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]), 0);
    let ids = account_ids(&emu).await;

    // w-prod-2 fails in Tokyo for `roles`; w-dev-1 is suspended.
    emu.post_json(
        "/_lzemu/settings",
        serde_json::json!({"stackset_fail_instances": [{
            "account": ids["w-prod-2"], "region": REGION, "stack_set": "roles",
            "reason": "Resource handler returned message: Access denied for iam:CreateRole"}]}),
    );
    emu.post_json(
        "/_lzemu/organizations/account-state",
        serde_json::json!({"account_id": ids["w-dev-1"], "state": "SUSPENDED"}),
    );
    small(dir, "absent", true);
    let apply = emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]);
    assert_exit(&apply, 1);
    let err = stderr(&apply);
    let row = err
        .lines()
        .find(|l| l.contains(&format!("{} (w-prod-2)", ids["w-prod-2"])))
        .unwrap_or_else(|| panic!("no failure row for w-prod-2:\n{err}"));
    assert!(
        row.contains(REGION)
            && row.contains("FAILED")
            && row.contains("Access denied for iam:CreateRole"),
        "{row}"
    );
    assert!(err.contains("ACCOUNT") && err.contains("REASON"), "{err}");
    // The audit log keeps the table.
    let audit = std::fs::read_to_string(dir.join(".lzctl/audit.jsonl")).unwrap();
    let record: serde_json::Value = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["details"]["failures"].is_array())
        .expect("an audit record with the failures");
    assert_eq!(record["address"], "stackset:roles");
    assert_eq!(record["details"]["failures"][0]["account_name"], "w-prod-2");
    assert_eq!(record["details"]["failures"][0]["region"], REGION);

    // `forwarding` depends on `roles`: not started. `rules` is independent: done.
    let client = cfn(&emu).await;
    assert_eq!(
        stack_set_names(&client).await,
        ["roles", "rules"].iter().map(|s| s.to_string()).collect()
    );
    let rules = instances(&client, "rules").await;
    assert_eq!(rules.len(), 4, "{rules:?}");
    let roles = instances(&client, "roles").await;
    // The suspended account got no instance at all (DIFFERENCE), the failed one is OUTDATED.
    assert!(
        !roles.keys().any(|(a, _)| a == &ids["w-dev-1"]),
        "{roles:?}"
    );
    assert_eq!(
        roles[&(ids["w-prod-2"].clone(), REGION.to_string())],
        ("OUTDATED".to_string(), "FAILED".to_string())
    );

    // Fixed: the plan repairs the failed instance and creates the dependant.
    emu.post_json(
        "/_lzemu/settings",
        serde_json::json!({"stackset_fail_instances": []}),
    );
    let plan = emu.lzctl(dir, &["plan", "-c", lz]);
    let out = stdout(&plan);
    assert!(
        out.contains("~ stackset:roles  (update stack set)")
            && out.contains("reason: 1 stack instance to repair (not current)")
            && out.contains(&format!(
                "=> repair {} (w-prod-2) in {REGION}: OUTDATED/FAILED: Resource handler returned message: Access denied for iam:CreateRole",
                ids["w-prod-2"]
            ))
            && out.contains("+ stackset:forwarding  (create stack set)"),
        "{}",
        text(&plan)
    );
    assert_exit(&emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]), 0);
    assert_converged(&emu, dir, lz);

    // An account moved into a target OU by hand gets its instances: through
    // AutoDeployment where it is on, through lzctl where it is off (`rules`).
    let orgs = aws_sdk_organizations::Client::new(&emu.sdk_config().await);
    let stray = support::create_account(&orgs, "stray", "aws+stray@example.com").await;
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let workloads = orgs
        .list_organizational_units_for_parent()
        .parent_id(&root)
        .send()
        .await
        .unwrap()
        .organizational_units()
        .iter()
        .find(|o| o.name() == Some("Workloads"))
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let prod_ou = orgs
        .list_organizational_units_for_parent()
        .parent_id(&workloads)
        .send()
        .await
        .unwrap()
        .organizational_units()
        .iter()
        .find(|o| o.name() == Some("prod"))
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    orgs.move_account()
        .account_id(&stray)
        .source_parent_id(&root)
        .destination_parent_id(&prod_ou)
        .send()
        .await
        .unwrap();
    let plan = emu.lzctl(dir, &["plan", "-c", lz, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let addresses = support::change_addresses(&json);
    assert_eq!(addresses, ["stackset-deploy:rules"], "{}", stdout(&plan));
    assert!(
        json["changes"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1 account in the targets without stack instances (moved in by hand, or no longer excluded): stray"),
        "{}",
        json["changes"][0]["reason"]
    );
    assert_exit(&emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]), 0);
    let rules = instances(&client, "rules").await;
    for region in [REGION, OSAKA] {
        assert_eq!(
            rules[&(stray.clone(), region.to_string())],
            ("CURRENT".to_string(), "SUCCEEDED".to_string())
        );
    }
    assert!(instances(&client, "roles")
        .await
        .contains_key(&(stray.clone(), REGION.to_string())));
    assert_converged(&emu, dir, lz);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_control_tower_stack_sets_wait_for_enrollment_and_quiet_and_leave_its_sets_alone() {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": {"remediationTypes": ["INHERITANCE_DRIFT"]},
        "controltower_home_region": REGION,
        "controltower_operation_seconds": 2.0,
        "stackset_operation_seconds": 1.0
    }));
    create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let lz = small(dir, "required", true);
    let apply = emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]);
    assert_exit(&apply, 0);

    // Never a stack set mutation while Control Tower was busy (registrations
    // and enrollments kept it busy for a while during this apply).
    let log = emu.log();
    let cfn_mutations: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| e["service"] == "cloudformation" && e["mutating"] == true)
        .collect();
    assert!(!cfn_mutations.is_empty());
    assert!(
        cfn_mutations.iter().all(|e| e["ct_busy"] == false),
        "{cfn_mutations:#?}"
    );
    assert!(
        log.iter().any(|e| e["ct_busy"] == true),
        "Control Tower was busy at some point of the apply"
    );
    assert_eq!(stackset_violations(&emu), Vec::<String>::new());

    // AutoDeployment off; the vended accounts have their instances.
    let client = cfn(&emu).await;
    let set = client
        .describe_stack_set()
        .stack_set_name("roles")
        .send()
        .await
        .unwrap();
    assert_eq!(
        set.stack_set()
            .unwrap()
            .auto_deployment()
            .unwrap()
            .enabled(),
        Some(false)
    );
    let ids = account_ids(&emu).await;
    let roles = instances(&client, "roles").await;
    for name in ["w-prod-1", "w-prod-2", "w-dev-1"] {
        assert_eq!(
            roles[&(ids[name].clone(), REGION.to_string())].0,
            "CURRENT",
            "{name}: {roles:?}"
        );
    }

    // Control Tower's own stack sets are listed as unmanaged and never touched.
    let blueprints: Vec<String> = stack_set_names(&client)
        .await
        .into_iter()
        .filter(|n| n.starts_with("AWSControlTower"))
        .collect();
    assert!(
        !blueprints.is_empty(),
        "registration deployed Control Tower's stack set"
    );
    let ops_of = |name: String| {
        let client = client.clone();
        async move {
            client
                .list_stack_set_operations()
                .stack_set_name(name)
                .send()
                .await
                .unwrap()
                .summaries()
                .len()
        }
    };
    let before = ops_of(blueprints[0].clone()).await;
    let plan = emu.lzctl(dir, &["plan", "-c", lz]);
    assert!(
        stdout(&plan).contains(&format!(
            "= stackset:{}: Control Tower's stack set (never changed)",
            blueprints[0]
        )),
        "{}",
        text(&plan)
    );

    // Control Tower busy: the update waits, then runs.
    edit(
        &dir.join(lz),
        "BackupRetentionDays: 7",
        "BackupRetentionDays: 9",
    );
    emu.clear_log();
    emu.post_json(
        "/_lzemu/controltower/activity",
        serde_json::json!({"kind": "landing_zone_update", "seconds": 8}),
    );
    let apply = emu.lzctl(
        dir,
        &["apply", "-c", lz, "--auto-approve", "--poll-interval", "1s"],
    );
    assert_exit(&apply, 0);
    assert!(
        stderr(&apply).contains("stackset:rules: waiting (Control Tower is busy"),
        "{}",
        text(&apply)
    );
    let log = emu.log();
    let updates: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| e["operation"] == "UpdateStackSet")
        .collect();
    assert_eq!(updates.len(), 1, "{log:#?}");
    assert_eq!(updates[0]["ct_busy"], false);
    assert!(
        log.iter()
            .take_while(|e| e["operation"] != "UpdateStackSet")
            .any(|e| e["ct_busy"] == true),
        "the update came after Control Tower's activity"
    );
    assert_eq!(stackset_violations(&emu), Vec::<String>::new());
    assert_eq!(ops_of(blueprints[0].clone()).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn call_as_delegated_admin_runs_the_operations_from_the_registered_account() {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": false,
        "stackset_operation_seconds": 1.0
    }));
    let orgs = create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let lz = small(dir, "absent", false);
    assert_exit(&emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]), 0);
    let ids = account_ids(&emu).await;

    // Without a registered delegated administrator, the plan is refused.
    let text_with_admin = std::fs::read_to_string(
        support::repo_root().join("tests/fixtures/stacksets/baselines.yaml"),
    )
    .unwrap()
    .replace(
        "    auto_deployment: false\n",
        "    auto_deployment: false\n    call_as: delegated_admin\n",
    );
    let config = std::fs::read_to_string(dir.join(lz))
        .unwrap()
        .replace("# BASELINES\n", &text_with_admin);
    std::fs::write(dir.join(lz), config).unwrap();
    let refused = emu.lzctl(dir, &["plan", "-c", lz]);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("no account is registered as StackSets delegated administrator"),
        "{}",
        text(&refused)
    );

    orgs.enable_aws_service_access()
        .service_principal("member.org.stacksets.cloudformation.amazonaws.com")
        .send()
        .await
        .unwrap();
    orgs.register_delegated_administrator()
        .account_id(&ids["audit"])
        .service_principal("member.org.stacksets.cloudformation.amazonaws.com")
        .send()
        .await
        .unwrap();
    emu.clear_log();
    assert_exit(&emu.lzctl(dir, &["apply", "-c", lz, "--auto-approve"]), 0);
    let log = emu.log();
    let rules_calls: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| {
            e["service"] == "cloudformation"
                && e["mutating"] == true
                && e["account"] == ids["audit"].as_str()
        })
        .collect();
    assert_eq!(
        rules_calls
            .iter()
            .map(|e| e["operation"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["CreateStackSet", "CreateStackInstances"],
        "`rules` is created by the delegated administrator: {log:#?}"
    );
    // The stack set is the organization's (the management account sees it)
    // and reaches the prod accounts.
    let client = cfn(&emu).await;
    let rules = instances(&client, "rules").await;
    assert_eq!(rules.len(), 4, "{rules:?}");
    assert_converged(&emu, dir, lz);
}
