//! The lockout guard in `plan`: a policy that would deny the principals the
//! landing zone depends on is refused before anything is attached.

use crate::support;

use lzctl::families::{DiffError, Observed};
use lzctl::plan::{make_plan, PlanError, PlanOptions};

/// An organization with one workload account at the root and FullAWSAccess everywhere.
fn org() -> Observed {
    Observed {
        organizations: support::org_with_root_account("workload", "210987654321"),
        ..Observed::default()
    }
}

/// A config attaching one policy (given as a plain JSON document) to the root.
fn config_with(dir: &std::path::Path, policy: &str, extra_org: &str) -> lzctl::config::Desired {
    std::fs::write(dir.join("policy.json"), policy).unwrap();
    let yaml = format!(
        "version: 1\norganization:\n  home_region: ap-northeast-1\n  governed_regions: [ap-northeast-1]\n  management_account: \"123456789012\"\n  control_tower: absent\n{extra_org}accounts:\n  - {{ name: workload, email: workload@example.com, ou: Root }}\npolicies:\n  region:\n    type: scp\n    template: policy.json\n    targets: [Root]\n"
    );
    std::fs::write(dir.join("lz.yaml"), yaml).unwrap();
    lzctl::config::load(&dir.join("lz.yaml")).expect("valid config")
}

fn region_restriction(not_actions: &[&str], exempt: &[&str]) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyOutsideGoverned", "Effect": "Deny", "NotAction": not_actions, "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1"]}, "ArnNotLike": {"aws:PrincipalARN": exempt}}
    }]})
    .to_string()
}

fn refusal(desired: &lzctl::config::Desired) -> Vec<String> {
    match make_plan(desired, &org(), &PlanOptions::default()) {
        Ok(_) => Vec::new(),
        Err(PlanError::Diff(DiffError::Lockout(refused))) => {
            refused.0.iter().map(|f| f.to_string()).collect()
        }
        Err(other) => panic!("expected a lockout refusal, got {other}"),
    }
}

const ALL_PROTECTED: &[&str] = &[
    "arn:*:iam::*:role/AWSControlTowerExecution",
    "arn:*:iam::*:role/lzctl-*",
    "arn:*:iam::*:role/stacksets-exec-*",
    "arn:*:iam::*:role/break-glass",
];

#[test]
fn a_region_restriction_that_forgets_sts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exempt_only_control_tower = ["arn:*:iam::*:role/AWSControlTowerExecution"];
    let desired = config_with(
        dir.path(),
        &region_restriction(&["iam:*", "organizations:*"], &exempt_only_control_tower),
        "",
    );
    let found = refusal(&desired);
    assert!(
        found.iter().any(|f| f.contains("lzctl's own role")
            && f.contains("sts:AssumeRole")
            && f.contains("us-east-1")
            && f.contains("DenyOutsideGoverned")),
        "{found:#?}"
    );
}

#[test]
fn a_region_restriction_without_the_control_tower_exemption_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let desired = config_with(
        dir.path(),
        &region_restriction(
            &["iam:*", "organizations:*", "sts:*"],
            &["arn:*:iam::*:role/lzctl-*"],
        ),
        "",
    );
    let found = refusal(&desired);
    assert!(
        found
            .iter()
            .any(|f| f.contains("Control Tower execution role")
                && f.contains("cloudformation:CreateStack")),
        "{found:#?}"
    );
}

#[test]
fn break_glass_roles_named_in_the_config_are_protected() {
    let dir = tempfile::tempdir().unwrap();
    let policy = region_restriction(&["iam:*", "organizations:*", "sts:*"], &ALL_PROTECTED[..3]);
    let desired = config_with(dir.path(), &policy, "  break_glass_roles: [break-glass]\n");
    let found = refusal(&desired);
    assert!(
        found
            .iter()
            .any(|f| f.contains("break-glass role break-glass")),
        "{found:#?}"
    );
    let desired = config_with(
        dir.path(),
        &region_restriction(&["iam:*", "organizations:*", "sts:*"], ALL_PROTECTED),
        "  break_glass_roles: [break-glass]\n",
    );
    assert_eq!(refusal(&desired), Vec::<String>::new());
}

#[test]
fn allow_lockout_turns_the_refusal_into_notices() {
    let dir = tempfile::tempdir().unwrap();
    let desired = config_with(
        dir.path(),
        &region_restriction(&["iam:*"], &["arn:aws:iam::*:role/nobody"]),
        "",
    );
    let plan = make_plan(
        &desired,
        &org(),
        &PlanOptions {
            allow_lockout: true,
        },
    )
    .expect("allowed");
    assert!(
        plan.notices
            .iter()
            .any(|n| n.message.starts_with("LOCKOUT ALLOWED")),
        "{:#?}",
        plan.notices
    );
}

#[test]
fn the_library_region_restriction_passes_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scp/region-restriction.json"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scp/data/global-service-actions.json"),
        dir.path().join("data/global-service-actions.json"),
    )
    .unwrap();
    let desired = config_with(dir.path(), &template, "");
    assert_eq!(refusal(&desired), Vec::<String>::new());
}

/// The roles a region restriction must exempt, with the StackSet execution roles as
/// StackSets name them.
const REALISTIC_EXEMPTIONS: &[&str] = &[
    "arn:*:iam::*:role/AWSControlTowerExecution",
    "arn:*:iam::*:role/lzctl-*",
    "arn:*:iam::*:role/stacksets-exec-*",
];

#[test]
fn exempting_a_made_up_stack_set_role_name_is_refused() {
    // StackSets name the execution role stacksets-exec-<32 hex>, not stacksets-exec-lzctl.
    let dir = tempfile::tempdir().unwrap();
    let exempt = [
        "arn:*:iam::*:role/AWSControlTowerExecution",
        "arn:*:iam::*:role/lzctl-*",
        "arn:*:iam::*:role/stacksets-exec-lzctl",
    ];
    let desired = config_with(
        dir.path(),
        &region_restriction(&["iam:*", "organizations:*", "sts:*"], &exempt),
        "",
    );
    let found = refusal(&desired);
    assert!(
        found
            .iter()
            .any(|f| f.contains("StackSet execution role (stacksets-exec-")
                && f.contains("config:PutConfigRule")
                && f.contains("us-east-1")),
        "{found:#?}"
    );
    // with the real pattern, nothing is locked out
    let desired = config_with(
        dir.path(),
        &region_restriction(&["iam:*", "organizations:*", "sts:*"], REALISTIC_EXEMPTIONS),
        "",
    );
    assert_eq!(refusal(&desired), Vec::<String>::new());
}

#[test]
fn denying_put_role_policy_to_all_but_one_role_is_refused() {
    // Baselines create IAM roles with inline policies: the StackSet execution role and
    // Control Tower's execution role need iam:PutRolePolicy.
    let dir = tempfile::tempdir().unwrap();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyLzctlWritesInlinePolicies", "Effect": "Deny",
        "Action": "iam:PutRolePolicy", "Resource": "*",
        "Condition": {"ArnNotLike": {"aws:PrincipalARN": "arn:*:iam::*:role/lzctl-*"}}
    }]})
    .to_string();
    let desired = config_with(dir.path(), &policy, "");
    let found = refusal(&desired);
    for who in ["Control Tower execution role", "StackSet execution role"] {
        assert!(
            found.iter().any(|f| f.starts_with(who)
                && f.contains("iam:PutRolePolicy")
                && f.contains("OnlyLzctlWritesInlinePolicies")),
            "{who}: {found:#?}"
        );
    }
    assert!(
        !found.iter().any(|f| f.starts_with("lzctl's own role")),
        "{found:#?}"
    );
}

#[test]
fn control_tower_roles_in_member_accounts_are_protected() {
    // Guarding AWS Config by denying config:Put* to all but AWSControlTowerExecution stops
    // Control Tower's own Config recorder role in the governed region.
    let dir = tempfile::tempdir().unwrap();
    let protect_config = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "ProtectConfig", "Effect": "Deny", "Action": ["config:Put*", "sns:Publish"],
        "Resource": "*",
        "Condition": {"ArnNotLike": {"aws:PrincipalARN": ["arn:*:iam::*:role/AWSControlTowerExecution", "arn:*:iam::*:role/lzctl-*", "arn:*:iam::*:role/stacksets-exec-*"]}}
    }]})
    .to_string();
    let desired = config_with(dir.path(), &protect_config, "");
    let found = refusal(&desired);
    for (role, action) in [
        (
            "aws-controltower-ConfigRecorderRole",
            "config:PutEvaluations",
        ),
        ("aws-controltower-ForwardSnsNotificationRole", "sns:Publish"),
    ] {
        assert!(
            found
                .iter()
                .any(|f| f.contains(role) && f.contains(action) && f.contains("ap-northeast-1")),
            "{role}: {found:#?}"
        );
    }
    // IAM work of the audit account's administration role is checked in every region
    let deny_iam = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "NoRoleChanges", "Effect": "Deny", "Action": ["iam:CreateRole", "iam:AttachRolePolicy"],
        "Resource": "*",
        "Condition": {"ArnNotLike": {"aws:PrincipalARN": ["arn:*:iam::*:role/AWSControlTowerExecution", "arn:*:iam::*:role/lzctl-*", "arn:*:iam::*:role/stacksets-exec-*"]}}
    }]})
    .to_string();
    let desired = config_with(dir.path(), &deny_iam, "");
    let found = refusal(&desired);
    assert!(
        found.iter().any(
            |f| f.contains("aws-controltower-AdministratorExecutionRole")
                && f.contains("iam:CreateRole")
                && f.contains("us-east-1")
        ),
        "{found:#?}"
    );
}
