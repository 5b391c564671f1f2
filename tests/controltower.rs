//! lzctl beside Control Tower, end to end against the emulator: OUs are
//! registered before their accounts arrive, vended accounts are enrolled,
//! one OU operation at a time, nothing mutates while Control Tower is busy,
//! and planning reads Control Tower with a constant number of calls.

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_controltower::types::EnabledBaselineFilter;
use support::{
    control_tower_baseline, create_organization, register_ou, text, workspace, Emulator,
};

const GROUP: &str = "examples/group/landing-zone.yaml";
const POLL: &[&str] = &["--poll-interval", "300ms"];

fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

/// A landing zone with auto-enrollment whose operations take `seconds`.
fn emulator(seconds: f64) -> Emulator {
    Emulator::start_with(serde_json::json!({
        "controltower_landing_zone": {
            "remediationTypes": ["INHERITANCE_DRIFT"],
            "manifest": {"governedRegions": ["ap-northeast-1", "ap-northeast-3"]}
        },
        "controltower_home_region": "ap-northeast-1",
        "controltower_operation_seconds": seconds,
    }))
}

struct Tower {
    orgs: aws_sdk_organizations::Client,
    ct: aws_sdk_controltower::Client,
    baseline: String,
}

/// An organization as Control Tower leaves it: Security and Sandbox OUs,
/// registered.
async fn control_tower_organization(emu: &Emulator) -> Tower {
    let orgs = create_organization(emu).await;
    let (ct, baseline) = control_tower_baseline(emu).await;
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    for name in ["Security", "Sandbox"] {
        let ou = orgs
            .create_organizational_unit()
            .parent_id(&root)
            .name(name)
            .send()
            .await
            .unwrap();
        let arn = ou.organizational_unit().unwrap().arn().unwrap().to_string();
        register_ou(emu, &ct, &baseline, arn).await;
    }
    Tower { orgs, ct, baseline }
}

/// Enabled baselines by target ARN: (status, parent).
async fn enabled(tower: &Tower) -> BTreeMap<String, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    let mut pages = tower
        .ct
        .list_enabled_baselines()
        .include_children(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for e in page.unwrap().enabled_baselines() {
            out.insert(
                e.target_identifier().to_string(),
                (
                    e.status_summary()
                        .and_then(|s| s.status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    e.parent_identifier().map(str::to_string),
                ),
            );
        }
    }
    out
}

fn violations(emu: &Emulator) -> Vec<serde_json::Value> {
    emu.get_json("/_lzemu/violations")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_group_example_is_registered_enrolled_and_never_races_control_tower() {
    let emu = emulator(0.3);
    let tower = control_tower_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    emu.clear_log();
    let plan = emu.lzctl(dir, &["plan", "-c", GROUP]);
    assert_exit(&plan, 0);
    assert_eq!(
        emu.mutating_calls(),
        Vec::<String>::new(),
        "plan mutates nothing"
    );
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(out.contains("+ ct-registration:Companies "), "{out}");
    assert!(out.contains("+ ct-enrollment:audit "), "{out}");
    assert!(
        !out.contains("ct-registration:Security"),
        "already registered: {out}"
    );

    emu.clear_log();
    let apply = emu.lzctl(
        dir,
        &[&["apply", "-c", GROUP, "--auto-approve"], POLL].concat(),
    );
    assert_exit(&apply, 0);
    assert_eq!(
        violations(&emu),
        Vec::<serde_json::Value>::new(),
        "no race with Control Tower"
    );

    // Every OU registered, every account enrolled under its OU's registration.
    let registrations = enabled(&tower).await;
    let ous: Vec<_> = registrations
        .iter()
        .filter(|(t, _)| t.contains(":ou/"))
        .collect();
    assert_eq!(ous.len(), 64, "every declared OU is registered");
    assert!(
        ous.iter().all(|(_, (status, _))| status == "SUCCEEDED"),
        "{ous:?}"
    );
    let accounts: Vec<_> = registrations
        .iter()
        .filter(|(t, _)| t.contains(":account/"))
        .collect();
    assert_eq!(accounts.len(), 42, "every vended account is enrolled");
    assert!(accounts
        .iter()
        .all(|(_, (status, parent))| status == "SUCCEEDED" && parent.is_some()));

    // Registration before arrival, one OU operation at a time.
    let log = emu.log();
    let seq_of = |pred: &dyn Fn(&serde_json::Value) -> bool| -> Vec<i64> {
        log.iter()
            .filter(|e| pred(e))
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    };
    let registrations_started = seq_of(&|e| e["operation"] == "EnableBaseline");
    let first_move = seq_of(&|e| e["operation"] == "MoveAccount")
        .into_iter()
        .min()
        .unwrap();
    assert!(registrations_started.len() >= 62);
    assert!(
        registrations_started
            .iter()
            .filter(|s| **s > first_move)
            .count()
            < registrations_started.len(),
        "some OUs registered before the first account moved"
    );
    let conflicts: Vec<_> = log
        .iter()
        .filter(|e| e["error_code"] == "ConflictException")
        .map(|e| e["operation"].clone())
        .collect();
    assert_eq!(
        conflicts,
        Vec::<serde_json::Value>::new(),
        "never two OU operations at once"
    );

    emu.clear_log();
    let again = emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode"]);
    assert_exit(&again, 0);
    assert_eq!(emu.mutating_calls(), Vec::<String>::new());
    let _ = tower.baseline;
}

/// A file with one company, its environments and one account per environment.
fn small_config(dir: &std::path::Path, company: &str) -> String {
    let yaml = format!(
        "version: 1\norganization:\n  home_region: ap-northeast-1\n  governed_regions: [ap-northeast-1, ap-northeast-3]\n  management_account: \"123456789012\"\n  control_tower: required\nenvironments: [prod, dev]\norganizational_units:\n  Security: {{}}\n  Sandbox: {{}}\n  Companies:\n    children:\n      {company}: {{}}\naccounts:\n  - {{ name: {company}-prod, email: {company}-prod@example.com, ou: Companies/{company}/prod }}\n  - {{ name: {company}-dev, email: {company}-dev@example.com, ou: Companies/{company}/dev }}\npolicies:\n  deny-leave:\n    type: scp\n    template: scp.json\n    targets: [Companies]\n"
    );
    std::fs::write(
        dir.join("scp.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("lz.yaml"), yaml).unwrap();
    "lz.yaml".into()
}

/// Starts Control Tower activity of `kind` while an apply runs, at a moment
/// picked from the apply's own progress, and checks that no mutation reached
/// the emulator after lzctl could have seen the activity.
async fn apply_beside(kind: &str, start_after: Duration) {
    let emu = emulator(0.5);
    let _tower = control_tower_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let file = small_config(dir, "Acme");
    emu.clear_log();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lzctl"));
    child
        .current_dir(dir)
        .args([
            "apply",
            "-c",
            &file,
            "--auto-approve",
            "--poll-interval",
            "300ms",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in emu.env() {
        child.env(k, v);
    }
    let running = child.spawn().unwrap();
    std::thread::sleep(start_after);
    let started = emu.get_json("/_lzemu/clock")["now"].as_f64().unwrap();
    let activity = emu.post_json(
        "/_lzemu/controltower/activity",
        serde_json::json!({"kind": kind, "seconds": 3}),
    );
    assert!(activity.get("operationIdentifier").is_some(), "{activity}");
    let out = running.wait_with_output().unwrap();
    assert_exit(&out, 0);
    if std::env::var_os("LZCTL_TEST_SHOW").is_some() {
        eprintln!("{}", text(&out));
    }
    // lzctl shares one observation of Control Tower for up to 1 s: a call
    // within that window of the activity's start could not have known.
    let late: Vec<_> = violations(&emu)
        .into_iter()
        .filter(|v| {
            let seq = v["seq"].as_i64().unwrap();
            emu.log()
                .iter()
                .find(|e| e["seq"].as_i64() == Some(seq))
                .and_then(|e| e["time"].as_str().map(str::to_string))
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(&t)
                        .unwrap()
                        .timestamp_millis() as f64
                        / 1000.0
                        > started + 1.5
                })
                .unwrap_or(true)
        })
        .collect();
    assert_eq!(
        late,
        Vec::<serde_json::Value>::new(),
        "{kind}: mutations while Control Tower was busy"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Control Tower is busy"),
        "{kind}: apply said what it waited for:\n{}",
        text(&out)
    );
    let again = emu.lzctl(dir, &["plan", "-c", &file, "--detailed-exitcode"]);
    assert_exit(&again, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_for_a_landing_zone_update() {
    apply_beside("landing_zone_update", Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_for_an_ou_registration() {
    apply_beside("register_ou", Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_for_a_control_operation() {
    apply_beside("control_operation", Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_for_account_factory_provisioning() {
    apply_beside("account_factory", Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_registration_is_reported_with_control_towers_message() {
    let emu = emulator(0.3);
    let _tower = control_tower_organization(&emu).await;
    emu.post_json(
        "/_lzemu/settings",
        serde_json::json!({"controltower_fail_targets": {"Acme": "AWS Control Tower cannot register this OU: a test failure"}}),
    );
    let ws = workspace();
    let file = small_config(ws.path(), "Acme");
    let out = emu.lzctl(
        ws.path(),
        &[&["apply", "-c", &file, "--auto-approve"], POLL].concat(),
    );
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ct-registration:Companies/Acme") && err.contains("a test failure"),
        "{err}"
    );
    // Its children were never registered, its accounts never moved in.
    assert!(!emu.log().iter().any(|e| e["operation"] == "MoveAccount"));
}

#[tokio::test(flavor = "multi_thread")]
async fn planning_reads_control_tower_with_calls_that_do_not_grow_with_accounts() {
    let emu = emulator(0.3);
    let _tower = control_tower_organization(&emu).await;
    let ws = workspace();
    let file = small_config(ws.path(), "Acme");
    assert_exit(
        &emu.lzctl(
            ws.path(),
            &[&["apply", "-c", &file, "--auto-approve"], POLL].concat(),
        ),
        0,
    );
    let ct_calls = |emu: &Emulator| -> usize {
        emu.log()
            .iter()
            .filter(|e| e["service"] == "controltower" || e["service"] == "servicecatalog")
            .count()
    };
    emu.clear_log();
    assert_exit(
        &emu.lzctl(ws.path(), &["plan", "-c", &file, "--detailed-exitcode"]),
        0,
    );
    let small = ct_calls(&emu);
    // 60 more accounts in the organization.
    let client = create_organization_client(&emu).await;
    for i in 0..60 {
        client
            .create_account()
            .account_name(format!("extra-{i}"))
            .email(format!("extra-{i}@example.com"))
            .send()
            .await
            .unwrap();
    }
    emu.clear_log();
    let started = Instant::now();
    assert_exit(
        &emu.lzctl(ws.path(), &["plan", "-c", &file, "--detailed-exitcode"]),
        0,
    );
    let _ = started.elapsed();
    assert_eq!(
        ct_calls(&emu),
        small,
        "Control Tower calls do not grow with accounts"
    );
    assert!(emu.mutating_calls().is_empty());
}

async fn create_organization_client(emu: &Emulator) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&emu.sdk_config().await)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enrollment_is_visible_per_account() {
    let emu = emulator(0.3);
    let tower = control_tower_organization(&emu).await;
    let ws = workspace();
    let file = small_config(ws.path(), "Acme");
    assert_exit(
        &emu.lzctl(
            ws.path(),
            &[&["apply", "-c", &file, "--auto-approve"], POLL].concat(),
        ),
        0,
    );
    let accounts = tower.orgs.list_accounts().send().await.unwrap();
    let prod = accounts
        .accounts()
        .iter()
        .find(|a| a.name() == Some("Acme-prod"))
        .unwrap();
    let listed = tower
        .ct
        .list_enabled_baselines()
        .filter(
            EnabledBaselineFilter::builder()
                .target_identifiers(prod.arn().unwrap())
                .build(),
        )
        .include_children(true)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.enabled_baselines().len(), 1);
    assert_eq!(
        listed.enabled_baselines()[0].baseline_identifier(),
        tower.baseline
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_auto_enrollment_the_ou_is_reset_once_after_its_accounts_arrive() {
    let emu = Emulator::start_with(serde_json::json!({
        "controltower_landing_zone": {"remediationTypes": [],
            "manifest": {"governedRegions": ["ap-northeast-1", "ap-northeast-3"]}},
        "controltower_home_region": "ap-northeast-1",
        "controltower_operation_seconds": 0.3,
    }));
    let tower = control_tower_organization(&emu).await;
    let ws = workspace();
    let file = small_config(ws.path(), "Acme");
    let plan = emu.lzctl(ws.path(), &["plan", "-c", &file]);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        out.contains("+ ct-registration:Companies/Acme/prod"),
        "{out}"
    );
    assert!(out.contains("~ ct-reset:Companies/Acme/prod"), "{out}");
    assert!(!out.contains("ct-enrollment:"), "no auto-enrollment: {out}");
    emu.clear_log();
    assert_exit(
        &emu.lzctl(
            ws.path(),
            &[&["apply", "-c", &file, "--auto-approve"], POLL].concat(),
        ),
        0,
    );
    let log = emu.log();
    let resets: Vec<i64> = log
        .iter()
        .filter(|e| e["operation"] == "ResetEnabledBaseline")
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(resets.len(), 2, "one reset per OU accounts arrived in");
    let last_move = log
        .iter()
        .filter(|e| e["operation"] == "MoveAccount")
        .map(|e| e["seq"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(
        resets.iter().all(|r| *r > last_move),
        "resets come after the moves"
    );
    let enrolled = enabled(&tower)
        .await
        .into_iter()
        .filter(|(t, (status, parent))| {
            t.contains(":account/") && status == "SUCCEEDED" && parent.is_some()
        })
        .count();
    assert_eq!(enrolled, 2, "both accounts enrolled by the resets");
    assert_eq!(violations(&emu), Vec::<serde_json::Value>::new());
    assert_exit(
        &emu.lzctl(ws.path(), &["plan", "-c", &file, "--detailed-exitcode"]),
        0,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_can_be_vended_through_account_factory() {
    let emu = emulator(0.3);
    let tower = control_tower_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let file = small_config(dir, "Acme");
    // Acme-prod is vended by Account Factory, with its Identity Center user.
    let text_of = std::fs::read_to_string(dir.join(&file)).unwrap().replace(
        "  - { name: Acme-prod, email: Acme-prod@example.com, ou: Companies/Acme/prod }",
        "  - { name: Acme-prod, email: Acme-prod@example.com, ou: Companies/Acme/prod,\n      account_factory: { sso_user_email: owner@example.com, sso_user_first_name: Aki, sso_user_last_name: Sato } }",
    );
    std::fs::write(dir.join(&file), text_of).unwrap();
    let plan = emu.lzctl(dir, &["plan", "-c", &file]);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        out.contains("+ account:Acme-prod  (vend account with Account Factory)"),
        "{}",
        text(&plan)
    );
    assert!(
        out.contains("+ account:Acme-dev  (create account)"),
        "{out}"
    );
    emu.clear_log();
    assert_exit(
        &emu.lzctl(
            dir,
            &[&["apply", "-c", &file, "--auto-approve"], POLL].concat(),
        ),
        0,
    );
    let log = emu.log();
    assert_eq!(
        log.iter()
            .filter(|e| e["operation"] == "ProvisionProduct")
            .count(),
        1
    );
    let created: Vec<_> = log
        .iter()
        .filter(|e| e["service"] == "organizations" && e["operation"] == "CreateAccount")
        .collect();
    assert_eq!(created.len(), 1, "only Acme-dev goes through CreateAccount");
    let accounts = tower.orgs.list_accounts().send().await.unwrap();
    let prod = accounts
        .accounts()
        .iter()
        .find(|a| a.name() == Some("Acme-prod"))
        .expect("Account Factory created it");
    let parents = tower
        .orgs
        .list_parents()
        .child_id(prod.id().unwrap())
        .send()
        .await
        .unwrap();
    let ou = tower
        .orgs
        .describe_organizational_unit()
        .organizational_unit_id(parents.parents()[0].id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ou.organizational_unit().unwrap().name(), Some("prod"));
    assert_eq!(violations(&emu), Vec::<serde_json::Value>::new());
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", &file, "--detailed-exitcode"]),
        0,
    );
}
