//! The detective family against the emulator, checked with the real SDK
//! clients: the group example applies GuardDuty, Security Hub central
//! configuration and Config rules organization-wide; moving an account into
//! production updates exactly the production-only rules; the no-op plan's
//! calls do not grow with accounts; bad `detective:` blocks are refused
//! offline with their field and line.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::Client as Orgs;
use support::{
    as_account, create_organization, text, workspace, Emulator, MANAGEMENT_ACCOUNT, REGION,
};

const GROUP: &str = "examples/group/landing-zone.yaml";
const SMALL: &str = "small.yaml";
const OTHER: &str = "ap-northeast-3";
const REGIONS: [&str; 2] = [REGION, OTHER];

fn emulator() -> Emulator {
    Emulator::start_with(serde_json::json!({
        "controltower_landing_zone": false,
        "detective": {"config_rule_seconds": 0.3, "association_seconds": 0.3,
                      "central_configuration_seconds": 0.3},
    }))
}

fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

async fn in_region(emu: &Emulator, region: &str) -> aws_config::SdkConfig {
    emu.sdk_config()
        .await
        .into_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// OU path -> id.
async fn ou_ids(orgs: &Orgs) -> BTreeMap<String, String> {
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let mut out = BTreeMap::new();
    let mut todo = vec![(root, String::new())];
    while let Some((id, path)) = todo.pop() {
        let pages: Vec<_> = orgs
            .list_organizational_units_for_parent()
            .parent_id(&id)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
            .await;
        for page in pages {
            for ou in page.unwrap().organizational_units() {
                let p = if path.is_empty() {
                    ou.name().unwrap().to_string()
                } else {
                    format!("{path}/{}", ou.name().unwrap())
                };
                out.insert(p.clone(), ou.id().unwrap().to_string());
                todo.push((ou.id().unwrap().to_string(), p));
            }
        }
    }
    out
}

/// Account name -> id.
async fn account_ids(orgs: &Orgs) -> BTreeMap<String, String> {
    let pages: Vec<_> = orgs
        .list_accounts()
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    pages
        .into_iter()
        .flat_map(|p| p.unwrap().accounts().to_vec())
        .map(|a| (a.name().unwrap().to_string(), a.id().unwrap().to_string()))
        .collect()
}

/// Rule name -> excluded accounts, in one region, as the administrator sees them.
async fn rules(config: &aws_sdk_config::Client) -> BTreeMap<String, BTreeSet<String>> {
    let out = config
        .describe_organization_config_rules()
        .send()
        .await
        .unwrap();
    out.organization_config_rules()
        .iter()
        .map(|r| {
            (
                r.organization_config_rule_name().to_string(),
                r.excluded_accounts().iter().cloned().collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn group_example_runs_the_detective_services_from_the_audit_account() {
    let emu = emulator();
    let orgs = create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );

    let accounts = account_ids(&orgs).await;
    let audit = accounts["audit"].clone();
    let desired = lzctl::config::load(&dir.join(GROUP)).unwrap();
    let want = desired.families.detective.clone().unwrap();

    // GuardDuty: the audit account administers every governed region, ALL members.
    for region in REGIONS {
        let mgmt = aws_sdk_guardduty::Client::new(&in_region(&emu, region).await);
        let admins = mgmt
            .list_organization_admin_accounts()
            .send()
            .await
            .unwrap();
        let ids: Vec<_> = admins
            .admin_accounts()
            .iter()
            .filter_map(|a| a.admin_account_id())
            .collect();
        assert_eq!(ids, vec![audit.as_str()], "GuardDuty admin in {region}");
        let gd = aws_sdk_guardduty::Client::new(&as_account(&emu, &audit, region).await);
        let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
        let conf = gd
            .describe_organization_configuration()
            .detector_id(&detector)
            .send()
            .await
            .unwrap();
        assert_eq!(
            conf.auto_enable_organization_members().map(|m| m.as_str()),
            Some("ALL")
        );
        let features: BTreeMap<_, _> = conf
            .features()
            .iter()
            .map(|f| {
                (
                    f.name().unwrap().as_str().to_string(),
                    f.auto_enable().unwrap().as_str().to_string(),
                )
            })
            .collect();
        assert_eq!(
            features.get("RUNTIME_MONITORING").map(String::as_str),
            Some("ALL")
        );
    }

    // Security Hub: aggregator over the other region, central configuration,
    // baseline on the root, production on every Companies/*/prod OU.
    let hub = aws_sdk_securityhub::Client::new(&as_account(&emu, &audit, REGION).await);
    let aggs = hub.list_finding_aggregators().send().await.unwrap();
    let arn = aggs.finding_aggregators()[0]
        .finding_aggregator_arn()
        .unwrap();
    let agg = hub
        .get_finding_aggregator()
        .finding_aggregator_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(agg.regions(), [OTHER.to_string()]);
    let conf = hub
        .describe_organization_configuration()
        .send()
        .await
        .unwrap();
    let oc = conf.organization_configuration().unwrap();
    assert_eq!(
        (
            oc.configuration_type().unwrap().as_str(),
            oc.status().unwrap().as_str()
        ),
        ("CENTRAL", "ENABLED")
    );
    let policies: BTreeMap<String, String> = hub
        .list_configuration_policies()
        .send()
        .await
        .unwrap()
        .configuration_policy_summaries()
        .iter()
        .map(|p| (p.id().unwrap().to_string(), p.name().unwrap().to_string()))
        .collect();
    let applied = hub
        .list_configuration_policy_associations()
        .filters(
            aws_sdk_securityhub::types::AssociationFilters::builder()
                .association_type(aws_sdk_securityhub::types::AssociationType::Applied)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got: BTreeMap<String, String> = applied
        .configuration_policy_association_summaries()
        .iter()
        .map(|a| {
            (
                a.target_id().unwrap().to_string(),
                policies[a.configuration_policy_id().unwrap()].clone(),
            )
        })
        .collect();
    let ous = ou_ids(&orgs).await;
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let mut expected: BTreeMap<String, String> = ous
        .iter()
        .filter(|(p, _)| p.starts_with("Companies/") && p.ends_with("/prod"))
        .map(|(_, id)| (id.clone(), "production".to_string()))
        .collect();
    assert_eq!(expected.len(), 20);
    expected.insert(root, "baseline".into());
    assert_eq!(got, expected);

    // Config: every rule in every region; production-only rules exclude
    // exactly the accounts outside Companies/*/prod.
    let config_rules = want.config.unwrap().rules;
    let non_production: BTreeSet<String> = accounts
        .iter()
        .filter(|(name, _)| !name.ends_with("-prod"))
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(non_production.len(), accounts.len() - 20);
    for region in REGIONS {
        let config = aws_sdk_config::Client::new(&as_account(&emu, &audit, region).await);
        let have = rules(&config).await;
        assert_eq!(
            have.keys().cloned().collect::<BTreeSet<_>>(),
            config_rules.keys().cloned().collect::<BTreeSet<_>>(),
            "rules in {region}"
        );
        for (name, rule) in &config_rules {
            let expect = match rule.scope {
                lzctl::families::detective::RuleScope::All => BTreeSet::new(),
                lzctl::families::detective::RuleScope::Production => non_production.clone(),
            };
            assert_eq!(have[name], expect, "{name} in {region}");
        }
    }
    // The delegated administrators, as Organizations lists them.
    for principal in [
        "guardduty.amazonaws.com",
        "securityhub.amazonaws.com",
        "config-multiaccountsetup.amazonaws.com",
    ] {
        let listed = orgs
            .list_delegated_administrators()
            .service_principal(principal)
            .send()
            .await
            .unwrap();
        let ids: Vec<_> = listed
            .delegated_administrators()
            .iter()
            .filter_map(|d| d.id())
            .collect();
        assert_eq!(ids, vec![audit.as_str()], "{principal}");
    }

    // Converged: the next plan is empty and says what it covers.
    let plan = emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    let out = String::from_utf8_lossy(&plan.stdout);
    let total = accounts.len() * 2;
    for service in ["guardduty", "security_hub", "config"] {
        assert!(
            out.contains(&format!(
                "detective-coverage:{service}: coverage {total}/{total} account-regions"
            )),
            "{service} coverage in:\n{out}"
        );
    }
}

/// Applies the small landing zone; returns the workspace.
async fn small_landing_zone(emu: &Emulator) -> (Orgs, tempfile::TempDir) {
    let orgs = create_organization(emu).await;
    let ws = workspace();
    std::fs::copy(
        support::repo_root().join("tests/fixtures/detective/small.yaml"),
        ws.path().join(SMALL),
    )
    .unwrap();
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", SMALL, "--auto-approve"]),
        0,
    );
    (orgs, ws)
}

/// Creates an account outside the file (in the root), then moves it.
async fn extra_account(orgs: &Orgs, name: &str) -> String {
    support::create_account(orgs, name, &format!("{name}@example.com")).await
}

async fn move_to(orgs: &Orgs, id: &str, to: &str) {
    let ous = ou_ids(orgs).await;
    let parent = orgs
        .list_parents()
        .child_id(id)
        .send()
        .await
        .unwrap()
        .parents()[0]
        .id()
        .unwrap()
        .to_string();
    orgs.move_account()
        .account_id(id)
        .source_parent_id(parent)
        .destination_parent_id(&ous[to])
        .send()
        .await
        .unwrap();
}

fn plan_changes(emu: &Emulator, dir: &std::path::Path) -> Vec<(String, String)> {
    let plan = emu.lzctl(dir, &["plan", "-c", SMALL, "--json"]);
    assert_exit(&plan, 0);
    let doc: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_an_account_into_production_updates_exactly_the_production_rules() {
    let emu = emulator();
    let (orgs, ws) = small_landing_zone(&emu).await;
    let dir = ws.path();
    let accounts = account_ids(&orgs).await;
    let audit = accounts["audit"].clone();

    // An account the file does not declare arrives in a dev OU: production
    // rules exclude it too.
    let gamma = extra_account(&orgs, "gamma").await;
    move_to(&orgs, &gamma, "Companies/Alpha/dev").await;
    let production_rules = |changes: &[(String, String)]| {
        let mut want = Vec::new();
        for region in REGIONS {
            for rule in ["db-instance-backup-enabled", "rds-multi-az-support"] {
                want.push((format!("config-rule:{rule}@{region}"), "update".to_string()));
            }
        }
        let mut got = changes.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    };
    production_rules(&plan_changes(&emu, dir));
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", SMALL, "--auto-approve"]),
        0,
    );
    let config = aws_sdk_config::Client::new(&as_account(&emu, &audit, OTHER).await);
    assert!(rules(&config).await["rds-multi-az-support"].contains(&gamma));
    assert!(!rules(&config).await["s3-bucket-public-read-prohibited"].contains(&gamma));

    // Moved by hand from dev to prod: the next plan updates exactly the
    // production-only rules' exclusions, apply repairs, the plan after is empty.
    move_to(&orgs, &gamma, "Companies/Beta/prod").await;
    let plan = emu.lzctl(dir, &["plan", "-c", SMALL]);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("the production accounts changed"),
        "{}",
        text(&plan)
    );
    production_rules(&plan_changes(&emu, dir));
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", SMALL, "--auto-approve"]),
        0,
    );
    for region in REGIONS {
        let config = aws_sdk_config::Client::new(&as_account(&emu, &audit, region).await);
        let have = rules(&config).await;
        let non_production: BTreeSet<String> = ["audit", "alpha-dev", "master"]
            .iter()
            .map(|n| {
                accounts
                    .get(*n)
                    .cloned()
                    .unwrap_or_else(|| MANAGEMENT_ACCOUNT.to_string())
            })
            .collect();
        assert_eq!(have["rds-multi-az-support"], non_production, "{region}");
        assert_eq!(
            have["db-instance-backup-enabled"], non_production,
            "{region}"
        );
    }
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", SMALL, "--detailed-exitcode"]),
        0,
    );
}

/// Detective calls of one no-op plan, by operation (from the emulator's log).
fn detective_calls(emu: &Emulator, dir: &std::path::Path) -> BTreeMap<String, usize> {
    emu.clear_log();
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", SMALL, "--detailed-exitcode"]),
        0,
    );
    let mut out = BTreeMap::new();
    for e in emu.log() {
        let service = e["service"].as_str().unwrap_or("");
        let op = e["operation"].as_str().unwrap_or("");
        let counted = matches!(
            service,
            "guardduty" | "securityhub" | "config" | "cloudtrail"
        ) || (service, op) == ("organizations", "ListDelegatedAdministrators")
            || (service, op) == ("sts", "AssumeRole");
        if counted {
            *out.entry(format!("{service}:{op}")).or_default() += 1;
        }
    }
    out
}

async fn calls_with_extra_accounts(n: usize) -> BTreeMap<String, usize> {
    let emu = emulator();
    let orgs = create_organization(&emu).await;
    for i in 0..n {
        extra_account(&orgs, &format!("extra-{i:03}")).await;
    }
    let ws = workspace();
    std::fs::copy(
        support::repo_root().join("tests/fixtures/detective/small.yaml"),
        ws.path().join(SMALL),
    )
    .unwrap();
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", SMALL, "--auto-approve"]),
        0,
    );
    detective_calls(&emu, ws.path())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_no_op_plan_makes_the_same_detective_calls_for_40_and_400_accounts() {
    let small = calls_with_extra_accounts(35).await;
    let large = calls_with_extra_accounts(395).await;
    assert!(
        small.get("guardduty:GetOrganizationStatistics") == Some(&2),
        "{small:?}"
    );
    assert!(
        small.contains_key("config:DescribeOrganizationConfigRules"),
        "{small:?}"
    );
    assert_eq!(small, large);
}

#[test]
fn bad_detective_blocks_are_refused_offline_with_field_and_line() {
    let ws = workspace();
    let dir = ws.path();
    let mut text_yaml =
        std::fs::read_to_string(support::repo_root().join("tests/fixtures/detective/small.yaml"))
            .unwrap();
    text_yaml = text_yaml
        .replace("features: [s3_data_events]", "features: [s3_data_event]")
        .replace("cis-3.0]", "cis-9.9]")
        .replace(
            "{ scope: production, severity: medium }",
            "{ scope: production, severity: urgent }",
        )
        .replace("backupRetentionPeriod: 7", "backupRetentionPeriod: seven")
        .replace(
            "\"Companies/*/prod\"] }\n  config",
            "\"Companies/*/qa\"] }\n  config",
        );
    text_yaml.push_str("      s3-bucket-publik-read: { severity: high }\n");
    std::fs::write(dir.join("bad.yaml"), &text_yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .current_dir(dir)
        .args(["validate", "-c", "bad.yaml"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let line_of = |needle: &str| text_yaml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (needle, message) in [
        (
            "s3_data_event]",
            "unknown GuardDuty feature `s3_data_event`",
        ),
        ("cis-9.9", "unknown Security Hub standard `cis-9.9`"),
        ("severity: urgent", "`urgent` is not a severity"),
        ("backupRetentionPeriod: seven", "`seven` is not a valid int"),
        ("Companies/*/qa", "Companies/*/qa"),
        (
            "s3-bucket-publik-read",
            "did you mean `s3-bucket-public-read-prohibited`?",
        ),
    ] {
        let line = line_of(needle);
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("bad.yaml:{line}:")) && err.contains(message)),
            "{message} at line {line} in:\n{err}"
        );
    }
}
