//! The Organizations reconciler end to end: the real lzctl binary and the
//! real SDK against the local emulator, checked with an independent client.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::Client;
use support::{create_organization, text, workspace, Emulator};

const GROUP: &str = "examples/group/landing-zone.yaml";

/// An emulated organization without a Control Tower landing zone, so lzctl
/// vends accounts itself.
fn emulator() -> Emulator {
    Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}))
}

/// OU paths → id, read independently of lzctl.
async fn ou_tree(client: &Client) -> BTreeMap<String, String> {
    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let mut out = BTreeMap::new();
    let mut level = vec![(root, String::new())];
    while let Some((id, path)) = level.pop() {
        let mut token = None;
        loop {
            let page = client
                .list_organizational_units_for_parent()
                .parent_id(&id)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            for ou in page.organizational_units() {
                let p = if path.is_empty() {
                    ou.name().unwrap().to_string()
                } else {
                    format!("{path}/{}", ou.name().unwrap())
                };
                out.insert(p.clone(), ou.id().unwrap().to_string());
                level.push((ou.id().unwrap().to_string(), p));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    out
}

/// Every account as (name, id, parent path), the root included as `Root`.
/// A list, not a map: a duplicate would show up twice.
async fn all_accounts(
    client: &Client,
    tree: &BTreeMap<String, String>,
) -> Vec<(String, String, String)> {
    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let mut out = Vec::new();
    let parents = std::iter::once(("Root".to_string(), root))
        .chain(tree.iter().map(|(p, id)| (p.clone(), id.clone())));
    for (path, id) in parents {
        let pages: Vec<_> = client
            .list_accounts_for_parent()
            .parent_id(&id)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
            .await;
        for page in pages {
            for a in page.unwrap().accounts() {
                out.push((
                    a.name().unwrap().to_string(),
                    a.id().unwrap().to_string(),
                    path.clone(),
                ));
            }
        }
    }
    out
}

/// Account name → OU path, after checking that no name or id appears twice.
async fn account_parents(
    client: &Client,
    tree: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let all = all_accounts(client, tree).await;
    let ids: BTreeSet<&String> = all.iter().map(|(_, id, _)| id).collect();
    let names: BTreeSet<&String> = all.iter().map(|(n, _, _)| n).collect();
    assert_eq!(ids.len(), all.len(), "an account appears twice: {all:?}");
    assert_eq!(
        names.len(),
        all.len(),
        "two accounts share a name (a duplicate creation): {all:?}"
    );
    all.into_iter().map(|(n, _, p)| (n, p)).collect()
}

/// Policy name → its targets' ids, for policies of every type.
async fn policy_targets(client: &Client, name: &str) -> BTreeSet<String> {
    use aws_sdk_organizations::types::PolicyType;
    for kind in [
        PolicyType::ServiceControlPolicy,
        PolicyType::ResourceControlPolicy,
        PolicyType::TagPolicy,
    ] {
        let listed = client.list_policies().filter(kind).send().await.unwrap();
        if let Some(p) = listed.policies().iter().find(|p| p.name() == Some(name)) {
            let pages: Vec<_> = client
                .list_targets_for_policy()
                .policy_id(p.id().unwrap())
                .into_paginator()
                .send()
                .collect::<Vec<_>>()
                .await;
            return pages
                .into_iter()
                .flat_map(|page| {
                    page.unwrap()
                        .targets()
                        .iter()
                        .map(|t| t.target_id().unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
        }
    }
    panic!("policy {name} not found")
}

fn expected_ou_paths(config: &std::path::Path) -> BTreeSet<String> {
    let desired = lzctl::config::load(config).expect("example is valid");
    desired.state.ous.keys().map(|p| p.to_string()).collect()
}

fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

#[tokio::test(flavor = "multi_thread")]
async fn group_example_applies_exactly_and_then_plans_no_changes() {
    // The emulator lets a target lose its last SCP here (AWS would refuse),
    // so an unsafe attachment order shows up as a violation instead of an error.
    let emu = Emulator::start_with(serde_json::json!({"limits": {"scp_min_attachments": 0}}));
    let client = create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();

    let plan = emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode"]);
    assert_exit(&plan, 2);
    let apply = emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]);
    assert_exit(&apply, 0);

    let tree = ou_tree(&client).await;
    assert_eq!(
        tree.keys().cloned().collect::<BTreeSet<_>>(),
        expected_ou_paths(&dir.join(GROUP))
    );
    // Every declared account in its declared OU, nothing else but the management account.
    let desired = lzctl::config::load(&dir.join(GROUP)).unwrap();
    let mut parents = account_parents(&client, &tree).await;
    assert_eq!(
        parents.remove("master").as_deref(),
        Some("Root"),
        "the management account stays at the root"
    );
    let expected: BTreeMap<String, String> = desired
        .state
        .accounts
        .iter()
        .map(|(n, a)| (n.clone(), a.ou.to_string()))
        .collect();
    assert_eq!(parents, expected);

    // Every policy attached exactly where declared.
    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let accounts: BTreeMap<String, String> = all_accounts(&client, &tree)
        .await
        .into_iter()
        .map(|(n, id, _)| (n, id))
        .collect();
    for (name, policy) in &desired.state.policies {
        let want: BTreeSet<String> = policy
            .targets
            .iter()
            .map(|t| match t {
                lzctl::model::Target::Root => root.clone(),
                lzctl::model::Target::Ou(p) => tree[&p.to_string()].clone(),
                lzctl::model::Target::Account(n) => accounts[n].clone(),
            })
            .collect();
        assert_eq!(
            policy_targets(&client, name).await,
            want,
            "targets of {name}"
        );
    }

    let audit = std::fs::read_to_string(dir.join(".lzctl/audit.jsonl")).expect("audit log written");
    let first: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    for key in [
        "time",
        "caller",
        "address",
        "operation",
        "request_id",
        "result",
    ] {
        assert!(
            first.get(key).is_some(),
            "audit record lacks {key}: {first}"
        );
    }

    // The apply itself broke no invariant (checked before the log is cleared:
    // clearing it clears the violations too).
    let violations = emu.get_json("/_lzemu/violations");
    assert_eq!(
        violations,
        serde_json::json!([]),
        "emulator saw an invariant broken during apply"
    );
    assert!(
        emu.mutating_calls().len() > 100,
        "the apply's calls are in the log that was checked"
    );

    emu.clear_log();
    let again = emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode"]);
    assert_exit(&again, 0);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("No changes."),
        "{}",
        text(&again)
    );
    assert_eq!(
        emu.mutating_calls(),
        Vec::<String>::new(),
        "plan must not mutate anything"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_reported_with_addresses_and_repaired() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    let tree = ou_tree(&client).await;

    // Drift by hand: an OU nobody declared, an edited policy, a moved account, a detached SCP.
    client
        .create_organizational_unit()
        .parent_id(&tree["Companies"])
        .name("HandMade")
        .send()
        .await
        .unwrap();
    let scps = client
        .list_policies()
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let id_of = |name: &str| {
        scps.policies()
            .iter()
            .find(|p| p.name() == Some(name))
            .unwrap()
            .id()
            .unwrap()
            .to_string()
    };
    client.update_policy().policy_id(id_of("deny-leave-organization")).content(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*","Sid":"Edited"}]}"#).send().await.unwrap();
    let accounts = client.list_accounts().send().await.unwrap();
    let mut token = accounts.next_token().map(str::to_string);
    let mut all: Vec<_> = accounts.accounts().to_vec();
    while let Some(t) = token {
        let page = client.list_accounts().next_token(t).send().await.unwrap();
        all.extend(page.accounts().iter().cloned());
        token = page.next_token().map(str::to_string);
    }
    let moved = all
        .iter()
        .find(|a| a.name() == Some("himawari-dev"))
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    client
        .move_account()
        .account_id(&moved)
        .source_parent_id(&tree["Companies/Himawari/dev"])
        .destination_parent_id(&tree["Sandbox"])
        .send()
        .await
        .unwrap();
    client
        .detach_policy()
        .policy_id(id_of("root-lockdown"))
        .target_id(&tree["Companies"])
        .send()
        .await
        .unwrap();

    // The whole human plan, as the binary prints it against the emulator (ids and digests never appear in it).
    let human = emu.lzctl(dir, &["plan", "-c", GROUP]);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{64}", "[sha256]");
    settings.add_filter(r"\bo-[a-z0-9]{10,32}\b", "o-[organization]");
    settings.bind(|| insta::assert_snapshot!("drift_plan", String::from_utf8_lossy(&human.stdout)));

    let plan = emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode", "--json"]);
    assert_exit(&plan, 2);
    let doc: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let addresses: BTreeSet<String> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        addresses,
        BTreeSet::from([
            "scp:deny-leave-organization".to_string(),
            "account:himawari-dev".to_string(),
            "attachment:scp:root-lockdown@Companies".to_string()
        ]),
        "{doc:#}"
    );
    for change in doc["changes"].as_array().unwrap() {
        assert!(!change["reason"].as_str().unwrap().is_empty());
    }
    let unmanaged: Vec<&str> = doc["unmanaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["address"].as_str().unwrap())
        .collect();
    assert!(
        unmanaged.contains(&"ou:Companies/HandMade"),
        "{unmanaged:?}"
    );

    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode"]),
        0,
    );
    assert!(
        ou_tree(&client).await.contains_key("Companies/HandMade"),
        "the hand-made OU survives"
    );
    assert!(policy_targets(&client, "root-lockdown")
        .await
        .contains(&tree["Companies"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_midway_converges_on_the_next_run_without_duplicates() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lzctl"));
    cmd.current_dir(dir)
        .args(["apply", "-c", GROUP, "--auto-approve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in emu.env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while emu.mutating_calls().len() < 30 {
        assert!(
            std::time::Instant::now() < deadline,
            "apply made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = ou_tree(&client).await.len();
    assert!(
        partial < expected_ou_paths(&dir.join(GROUP)).len(),
        "killed before finishing ({partial} OUs)"
    );

    assert_exit(
        &emu.lzctl(dir, &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    let tree = ou_tree(&client).await;
    assert_eq!(
        tree.keys().cloned().collect::<BTreeSet<_>>(),
        expected_ou_paths(&dir.join(GROUP))
    );
    assert_eq!(
        account_parents(&client, &tree).await.len(),
        43,
        "42 declared accounts and the management account, no duplicates"
    );
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", GROUP, "--detailed-exitcode"]),
        0,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_refused_once_the_organization_changed() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let config = "examples/minimal/landing-zone.yaml";
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", config, "--out", "plan.json"]),
        0,
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 2);
    assert_eq!(saved["config_digest"].as_str().unwrap().len(), 64);
    assert_eq!(saved["subject"]["management_account"], "123456789012");

    // A plan written by an older lzctl is refused with what to do.
    let mut old = saved.clone();
    old["format_version"] = 1.into();
    std::fs::write(dir.join("old.json"), old.to_string()).unwrap();
    let refused = emu.lzctl(dir, &["apply", "old.json"]);
    assert_exit(&refused, 1);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("plan format 1")
            && String::from_utf8_lossy(&refused.stderr).contains("run `lzctl plan` again"),
        "{}",
        text(&refused)
    );

    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    client
        .create_organizational_unit()
        .parent_id(root)
        .name("Surprise")
        .send()
        .await
        .unwrap();
    let stale = emu.lzctl(dir, &["apply", "plan.json"]);
    assert_exit(&stale, 1);
    assert!(
        String::from_utf8_lossy(&stale.stderr).contains("stale"),
        "{}",
        text(&stale)
    );

    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", config, "--out", "plan.json"]),
        0,
    );
    assert_exit(&emu.lzctl(dir, &["apply", "plan.json"]), 0);
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", config, "--detailed-exitcode"]),
        0,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_allows_planning_offline() {
    let emu = emulator();
    create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let config = "examples/minimal/landing-zone.yaml";
    assert_exit(
        &emu.lzctl(dir, &["snapshot", "-c", config, "--out", "org.json"]),
        0,
    );
    emu.clear_log();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lzctl"));
    let offline = cmd
        .current_dir(dir)
        .args([
            "plan",
            "-c",
            config,
            "--snapshot",
            "org.json",
            "--detailed-exitcode",
        ])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_exit(&offline, 2);
    assert!(
        String::from_utf8_lossy(&offline.stdout).contains("+ ou:Companies/Example/prod"),
        "{}",
        text(&offline)
    );
    assert!(emu.log().is_empty(), "offline planning called AWS");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wrong_management_account_is_refused_before_any_change() {
    let emu = emulator();
    create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let config = dir.join("examples/minimal/landing-zone.yaml");
    let text_cfg = std::fs::read_to_string(&config)
        .unwrap()
        .replace("123456789012", "210987654321");
    std::fs::write(&config, text_cfg).unwrap();
    let out = emu.lzctl(
        dir,
        &[
            "apply",
            "-c",
            "examples/minimal/landing-zone.yaml",
            "--auto-approve",
        ],
    );
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to run"),
        "{}",
        text(&out)
    );
    assert_eq!(
        emu.mutating_calls(),
        vec!["organizations:CreateOrganization".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_counts_calls_by_operation() {
    let emu = emulator();
    create_organization(&emu).await;
    let ws = workspace();
    let out = emu.lzctl(ws.path(), &["plan", "-c", GROUP, "--stats"]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("organizations:ListRoots"), "{stderr}");
    let total: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("API calls: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a total");
    let sum: u64 = stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    assert_eq!(total, sum);
    assert!(total >= 5, "{stderr}");
}

/// The read budget on an organization that matches the config: two listings
/// per parent (OUs, accounts), one tag read per OU with declared tags, two
/// reads per policy and a handful of fixed calls; FullAWSAccess's targets are
/// not listed.
#[tokio::test(flavor = "multi_thread")]
async fn plan_stays_within_its_call_budget() {
    let emu = emulator();
    create_organization(&emu).await;
    let ws = workspace();
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    let out = emu.lzctl(
        ws.path(),
        &["plan", "-c", GROUP, "--stats", "--detailed-exitcode"],
    );
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let count = |op: &str| -> u64 {
        stderr
            .lines()
            .find(|l| l.trim_start().starts_with(op))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(0)
    };
    let desired = lzctl::config::load(&ws.path().join(GROUP)).unwrap();
    let parents = desired.state.ous.len() as u64 + 1;
    let tagged = desired
        .state
        .ous
        .values()
        .filter(|o| !o.tags.is_empty())
        .count() as u64;
    let policies = desired.state.policies.len() as u64;
    // The detective block: per governed region GuardDuty (4 calls) and Config
    // (2); Security Hub, CloudTrail and the delegations once (about 12).
    let regions = desired.organization.governed_regions.len() as u64;
    // StackSets: one listing, then per baseline its description and one page
    // of instances (fewer than 100 each here).
    let baselines = desired.families.stacksets.0.len() as u64;
    let budget = 2 * parents + tagged + 2 * policies + 10 + 8 * regions + 12 + (1 + 2 * baselines);
    let total: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("API calls: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(total <= budget, "{total} calls, budget {budget}:\n{stderr}");
    assert_eq!(
        count("organizations:ListTargetsForPolicy"),
        policies,
        "one listing per lzctl policy, none for FullAWSAccess:\n{stderr}"
    );
}

/// A burst of policy reads over what Organizations lets one caller have in
/// progress is answered TooManyRequestsException; the plan retries those
/// answers and still finds no changes, with no error printed.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_whose_policy_reads_are_throttled_still_finds_no_changes() {
    let emu = emulator();
    create_organization(&emu).await;
    let ws = workspace();
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", GROUP, "--auto-approve"]),
        0,
    );
    emu.post_json(
        "/_lzemu/settings",
        serde_json::json!({
            "in_progress_limits": {"organizations:ListTargetsForPolicy": 1},
            "latency_ms": {"organizations:ListTargetsForPolicy": 100}
        }),
    );
    emu.clear_log();
    let out = emu.lzctl(
        ws.path(),
        &["plan", "-c", GROUP, "--detailed-exitcode", "--stats"],
    );
    assert_exit(&out, 0);
    let refused = emu
        .log()
        .iter()
        .filter(|e| {
            e["operation"] == "ListTargetsForPolicy"
                && e["error_code"] == "TooManyRequestsException"
        })
        .count();
    assert!(refused > 0, "the burst was never throttled");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.to_lowercase().contains("error"),
        "no error surfaces:\n{stderr}"
    );
}
