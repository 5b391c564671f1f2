//! `lzctl scp lint` and `lzctl scp effective` through the real binary, offline.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

fn lzctl(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_library_template_lints_clean() {
    let mut args = vec!["scp", "lint"];
    let files: Vec<String> = std::fs::read_dir(repo().join("scp"))
        .unwrap()
        .chain(std::fs::read_dir(repo().join("scp/rcp")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(files.len() >= 7);
    args.extend(files.iter().map(String::as_str));
    let out = lzctl(repo(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).to_lowercase().contains("no findings"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_broken_policy_is_flagged_with_locations_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("broken.json");
    std::fs::write(&policy, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegoin":"us-east-1"}}},{"Effect":"Deny","Action":["s3:GetObjekt"],"Resource":"*","Principal":"*"}]}"#).unwrap();
    let human = lzctl(dir.path(), &["scp", "lint", "broken.json"]);
    assert_eq!(human.status.code(), Some(1));
    let text = stdout(&human);
    for expected in [
        "unknown-condition-key",
        "Statement[0].Condition.StringEquals.aws:RequestedRegoin",
        "unknown-action",
        "Statement[1].Action",
        "scp-principal",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    let sarif = lzctl(
        dir.path(),
        &["scp", "lint", "broken.json", "--format", "sarif"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let rules: Vec<&str> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"unknown-action") && rules.contains(&"scp-principal"),
        "{rules:?}"
    );
    let json = lzctl(
        dir.path(),
        &["scp", "lint", "broken.json", "--format", "json"],
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&json.stdout).is_ok());
}

#[test]
fn a_config_whose_region_restriction_forgets_sts_fails_lint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("region.json"), r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyOutside","Effect":"Deny","NotAction":["iam:*","organizations:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["ap-northeast-1"]},"ArnNotLike":{"aws:PrincipalARN":["arn:*:iam::*:role/AWSControlTowerExecution"]}}}]}"#).unwrap();
    std::fs::write(dir.path().join("lz.yaml"), "version: 1\norganization:\n  home_region: ap-northeast-1\n  governed_regions: [ap-northeast-1]\n  management_account: \"123456789012\"\npolicies:\n  region:\n    type: scp\n    template: region.json\n    targets: [Root]\n").unwrap();
    let out = lzctl(dir.path(), &["scp", "lint", "-c", "lz.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("region-global-actions") && stdout(&out).contains("sts:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn effective_shows_each_level_and_what_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("examples/minimal/landing-zone.yaml");
    // An organization that already matches the minimal example: FullAWSAccess everywhere plus the region restriction on the root.
    let desired = lzctl::config::load(&config).unwrap();
    let mut state = desired.state.clone();
    state.management_account_id = Some("123456789012".into());
    let everywhere: std::collections::BTreeSet<lzctl::model::Target> =
        std::iter::once(lzctl::model::Target::Root)
            .chain(state.ous.keys().cloned().map(lzctl::model::Target::Ou))
            .chain(
                state
                    .accounts
                    .keys()
                    .cloned()
                    .map(lzctl::model::Target::Account),
            )
            .collect();
    state
        .policies
        .insert("FullAWSAccess".into(), support::full_aws_access(everywhere));
    lzctl::snapshot::write(&state.clone().into(), &dir.path().join("org.json")).unwrap();
    let out = lzctl(
        dir.path(),
        &[
            "scp",
            "effective",
            "-c",
            config.to_str().unwrap(),
            "--account",
            "example-prod",
            "--snapshot",
            "org.json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for expected in [
        "Root",
        "Companies/Example/prod",
        "example-prod",
        "region-restriction",
        "outside ap-northeast-1",
        "AWSControlTowerExecution",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

/// The minimal example's organization before its region restriction: the
/// CloudTrail fixtures' accounts in it, FullAWSAccess everywhere.
fn org_before_region_restriction(dir: &Path) -> std::path::PathBuf {
    use lzctl::model::{Account, OuPath, PolicyKind, Target};
    let config = repo().join("examples/minimal/landing-zone.yaml");
    let desired = lzctl::config::load(&config).unwrap();
    let mut state = lzctl::model::OrgState {
        management_account_id: Some("999999999999".into()),
        ..Default::default()
    };
    state.enabled_policy_types.insert(PolicyKind::Scp);
    state.ous = desired.state.ous.clone();
    state.accounts.insert(
        "example-prod".into(),
        Account {
            id: Some("111111111111".into()),
            email: "aws+example-prod@example.com".into(),
            ou: OuPath::parse("Companies/Example/prod").unwrap(),
            tags: Default::default(),
        },
    );
    state.accounts.insert(
        "other".into(),
        Account {
            id: Some("222222222222".into()),
            email: "o@example.com".into(),
            ou: OuPath::parse("Companies/Example/dev").unwrap(),
            tags: Default::default(),
        },
    );
    let everywhere = std::iter::once(Target::Root)
        .chain(state.ous.keys().cloned().map(Target::Ou))
        .chain(state.accounts.keys().cloned().map(Target::Account))
        .collect();
    state
        .policies
        .insert("FullAWSAccess".into(), support::full_aws_access(everywhere));
    let path = dir.join("org.json");
    lzctl::snapshot::write(&state.clone().into(), &path).unwrap();
    path
}

#[test]
fn simulate_lists_calls_outside_the_governed_regions_that_the_plan_would_deny() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = org_before_region_restriction(dir.path());
    let config = repo().join("examples/minimal/landing-zone.yaml");
    let events = repo().join("tests/fixtures/cloudtrail");
    let args = [
        "scp",
        "simulate",
        "-c",
        config.to_str().unwrap(),
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--format",
        "json",
    ];
    let out = lzctl(dir.path(), &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = report["newly_denied"]
        .as_array()
        .unwrap_or_else(|| panic!("no newly_denied in {report:#}"));
    assert!(!groups.is_empty(), "{report:#}");
    for g in groups {
        assert_ne!(
            g["region"], "ap-northeast-1",
            "a call inside the governed region was denied: {g}"
        );
        assert!(
            !g["principal"]
                .as_str()
                .unwrap()
                .contains("AWSControlTowerExecution"),
            "an exempt role was denied: {g}"
        );
        assert!(
            ["111111111111", "222222222222"].contains(&g["account"].as_str().unwrap()),
            "{g}"
        );
    }
    let csv = lzctl(dir.path(), &[&args[..8], &["--format", "csv"]].concat());
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout).lines().count(),
        groups.len() + 1,
        "a header and one row per group"
    );
}

#[test]
fn an_invalid_file_is_reported_and_the_others_are_still_linted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-broken.json"), "{ this is not json").unwrap();
    std::fs::write(
        dir.path().join("b-typo.json"),
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Deny\", \"Action\": \"s3:GetObjekt\", \"Resource\": \"*\"}\n  ]\n}\n",
    )
    .unwrap();
    let out = lzctl(dir.path(), &["scp", "lint", "a-broken.json", "b-typo.json"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("a-broken.json:1:1: error[input-invalid]"),
        "{text}"
    );
    // the second file was linted, and its finding names file:line:col
    assert!(
        text.contains("b-typo.json:4:24: error[unknown-action]: b-typo: Statement[0].Action"),
        "{text}"
    );
}

#[test]
fn the_control_tower_exemption_is_required_only_with_control_tower() {
    let dir = tempfile::tempdir().unwrap();
    let globals =
        std::fs::read_to_string(repo().join("scp/data/global-service-actions.json")).unwrap();
    std::fs::write(dir.path().join("region.json"), format!(r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyOutside","Effect":"Deny","NotAction":{globals},"Resource":"*","Condition":{{"StringNotEquals":{{"aws:RequestedRegion":["ap-northeast-1"]}},"ArnNotLike":{{"aws:PrincipalARN":["arn:*:iam::*:role/lzctl-*"]}}}}}}]}}"#)).unwrap();
    for (mode, finding) in [("absent", false), ("auto", true), ("required", true)] {
        std::fs::write(dir.path().join("lz.yaml"), format!("version: 1\norganization:\n  home_region: ap-northeast-1\n  governed_regions: [ap-northeast-1]\n  management_account: \"123456789012\"\n  control_tower: {mode}\npolicies:\n  region:\n    type: scp\n    template: region.json\n    targets: [Root]\n")).unwrap();
        let out = lzctl(dir.path(), &["scp", "lint", "-c", "lz.yaml"]);
        let text = stdout(&out);
        assert_eq!(
            text.contains("region-exemption") && text.contains("AWSControlTowerExecution"),
            finding,
            "control_tower: {mode}\n{text}"
        );
        assert_eq!(
            out.status.code(),
            Some(if finding { 1 } else { 0 }),
            "{text}"
        );
        if finding {
            // the finding points at the policy's declaration in the config
            assert!(
                text.contains("lz.yaml:8:3: error[region-exemption]"),
                "{text}"
            );
        }
    }
}
