//! Snapshot tests of what a plan looks like: human text, Markdown and JSON,
//! with digests filtered. Planned against states built here, no AWS.

use crate::support;

use lzctl::model::{Account, OrgState, Ou, OuPath};

fn config() -> lzctl::config::Desired {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal/landing-zone.yaml");
    let mut desired = lzctl::config::load(&path).expect("minimal example is valid");
    desired.path = "examples/minimal/landing-zone.yaml".into();
    desired
}

/// A fresh organization: SCPs enabled, FullAWSAccess on the root.
fn empty_org() -> OrgState {
    support::org_with_root_account("management", support::MANAGEMENT_ACCOUNT)
}

/// The minimal example applied, then changed by hand.
fn drifted_org() -> OrgState {
    let desired = config();
    let mut state = empty_org();
    for path in desired.state.ous.keys() {
        state.ous.insert(
            path.clone(),
            Ou {
                id: Some(format!("ou-{}", path.depth())),
                tags: Default::default(),
            },
        );
    }
    state.accounts.insert(
        "example-prod".into(),
        Account {
            id: Some("210987654321".into()),
            email: "aws+example-prod@example.com".into(),
            ou: OuPath::parse("Companies/Example/dev").unwrap(),
            tags: Default::default(),
        },
    );
    let mut policy = desired.state.policies["region-restriction"].clone();
    policy.id = Some("p-region".into());
    policy.content = policy.content.replace("ap-northeast-1", "us-east-1");
    state.policies.insert("region-restriction".into(), policy);
    state.ous.insert(
        OuPath::parse("Experiments").unwrap(),
        Ou {
            id: Some("ou-x".into()),
            tags: Default::default(),
        },
    );
    state
}

fn plan_for(state: &OrgState) -> lzctl::plan::Plan {
    let observed = lzctl::families::Observed::from(state.clone());
    lzctl::plan::make_plan(&config(), &observed, &lzctl::plan::PlanOptions::default())
        .expect("plan")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"[0-9a-f]{64}", "[sha256]");
    s.add_filter(r"sha256 [0-9a-f]{12}", "sha256 [digest]");
    s.add_filter(
        r#""lzctl_version": "[^"]+""#,
        r#""lzctl_version": "[version]""#,
    );
    s
}

#[test]
fn human_plan_for_an_empty_organization() {
    settings()
        .bind(|| insta::assert_snapshot!(lzctl::render::human(&plan_for(&empty_org()), false)));
}

#[test]
fn human_plan_for_drift_shows_moves_document_diff_and_unmanaged() {
    settings()
        .bind(|| insta::assert_snapshot!(lzctl::render::human(&plan_for(&drifted_org()), false)));
}

#[test]
fn markdown_summary_for_drift() {
    settings().bind(|| insta::assert_snapshot!(lzctl::render::markdown(&plan_for(&drifted_org()))));
}

#[test]
fn json_plan_is_versioned_and_complete() {
    let plan = plan_for(&empty_org());
    let json: serde_json::Value = serde_json::from_str(&lzctl::render::json(&plan)).unwrap();
    assert_eq!(json["format_version"], 2);
    assert_eq!(json["subject"]["management_account"], "123456789012");
    let account = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "account:example-prod")
        .expect("the account is created");
    assert_eq!(account["family"], "organizations");
    assert_eq!(account["operation"], "create_account");
    assert_eq!(account["after"]["ou"], "Companies/Example/prod");
    assert!(account["before"].is_null());
    settings().bind(|| insta::assert_json_snapshot!(json));
}
