//! The lockout guard: after a plan's policy changes, can the principals the
//! landing zone depends on still do their work in every governed region?

use std::collections::BTreeMap;

use super::effective::{hierarchy, PolicyBook, Subject};
use super::iam;
use crate::model::{OrgState, OuPath, PolicyKind};

/// A principal lzctl protects, and the work it exists for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// Who it is.
    pub label: String,
    /// IAM role names it has in member accounts (every one is checked).
    pub role_names: Vec<String>,
    /// The actions it must keep.
    pub actions: Vec<&'static str>,
    /// Where: `false` for roles whose work is regional and happens where Control Tower
    /// deploys it (the governed regions); `true` adds us-east-1, where the requests of
    /// global services (IAM, STS, Organizations) go.
    pub global: bool,
}

/// The execution role service-managed StackSets create in every target account:
/// `stacksets-exec-` followed by 32 hexadecimal characters (CloudFormation's
/// `AWSServiceRoleForCloudFormationStackSetsOrgAdmin` assumes it). A policy that exempts a
/// made-up name such as `stacksets-exec-lzctl` does not exempt it.
pub const STACKSET_EXECUTION_ROLE_EXAMPLE: &str = "stacksets-exec-8c6f2d1e9b4a47c3a5e0f17d2b93c6a4";

/// What the stack set execution role does in member accounts: the API calls CloudFormation
/// makes for the resources that landing-zone baselines (lzctl's `baselines/`, Control
/// Tower's own stack sets, CfCT and LZA templates) typically declare: IAM roles and
/// policies (AWS::IAM::Role, ManagedPolicy, Policy), AWS Config rules and remediation
/// (AWS::Config::ConfigRule, RemediationConfiguration, ConfigurationRecorder,
/// DeliveryChannel), EventBridge rules (AWS::Events::Rule), S3 Block Public Access
/// (AWS::S3::AccountPublicAccessBlock, bucket PublicAccessBlockConfiguration), EC2 EBS
/// encryption by default (custom resource calling EnableEbsEncryptionByDefault), SSM
/// (AWS::SSM::Parameter, Document, Association), SNS topics and Lambda functions for
/// notifications, log groups. Each resource type's required permissions are listed in
/// the CloudFormation resource type schemas (`handlers.create/update/delete.permissions`).
pub const STACKSET_EXECUTION_ACTIONS: &[&str] = &[
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStacks",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:PassRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:TagRole",
    "iam:UpdateAssumeRolePolicy",
    "config:PutConfigRule",
    "config:DeleteConfigRule",
    "config:PutRemediationConfigurations",
    "config:DeleteRemediationConfiguration",
    "config:PutConfigurationRecorder",
    "config:PutDeliveryChannel",
    "config:StartConfigurationRecorder",
    "events:PutRule",
    "events:PutTargets",
    "events:DeleteRule",
    "events:RemoveTargets",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:CreateBucket",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "ec2:EnableEbsEncryptionByDefault",
    "ec2:ModifyEbsDefaultKmsKeyId",
    "ec2:GetEbsEncryptionByDefault",
    "ssm:PutParameter",
    "ssm:DeleteParameter",
    "ssm:CreateDocument",
    "ssm:CreateAssociation",
    "sns:CreateTopic",
    "sns:Subscribe",
    "lambda:CreateFunction",
    "lambda:AddPermission",
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
];

/// The roles Control Tower creates in enrolled member accounts and what they do (AWS
/// Control Tower User Guide, "Roles and accounts" and "Optional: Create the
/// AWSControlTowerExecution role"; the mandatory control "Disallow changes to IAM roles
/// set up by AWS Control Tower" protects `aws-controltower-*` and `AWSControlTowerExecution`):
/// - `AWSControlTowerExecution`: full administrator, assumed from the management account
///   to deploy the baseline stack sets and enroll the account;
/// - `aws-controltower-AdministratorExecutionRole`, `aws-controltower-ReadOnlyExecutionRole`:
///   assumed from the audit account (its `aws-controltower-AuditAdministratorRole` and
///   `aws-controltower-AuditReadOnlyRole`) for cross-account administration and review;
/// - `aws-controltower-ConfigRecorderRole`: the AWS Config recorder's role;
/// - `aws-controltower-ForwardSnsNotificationRole`: the Lambda function forwarding
///   Config/Security Hub notifications to the audit account's SNS topics.
///
/// The recorder and the notification forwarder work in the governed regions, where Control
/// Tower deploys AWS Config; the others are checked in us-east-1 too.
pub const CONTROL_TOWER_ROLES: &[(&str, &[&str])] = &[
    (
        "AWSControlTowerExecution",
        &[
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:PassRole",
            "config:PutConfigurationRecorder",
            "config:PutDeliveryChannel",
            "config:StartConfigurationRecorder",
            "config:PutConfigRule",
            "cloudtrail:CreateTrail",
            "events:PutRule",
            "events:PutTargets",
            "lambda:CreateFunction",
            "sns:CreateTopic",
            "sns:Subscribe",
            "logs:CreateLogGroup",
            "s3:PutBucketPolicy",
            "sts:AssumeRole",
        ],
    ),
    // Region-bound work of these two (ec2:Describe*, config:Describe* ...) is meant to stop
    // outside the governed regions, Control Tower's own Region deny control does not exempt
    // them: only the work that must go on everywhere is checked.
    (
        "aws-controltower-AdministratorExecutionRole",
        &[
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "sts:AssumeRole",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "aws-controltower-ReadOnlyExecutionRole",
        &[
            "iam:GetRole",
            "iam:ListRoles",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "aws-controltower-ConfigRecorderRole",
        &[
            "config:PutEvaluations",
            "s3:PutObject",
            "s3:GetBucketAcl",
            "sns:Publish",
            "ec2:DescribeInstances",
            "iam:GetRole",
        ],
    ),
    (
        "aws-controltower-ForwardSnsNotificationRole",
        &["sns:Publish", "logs:CreateLogStream", "logs:PutLogEvents"],
    ),
];

/// The regions a protected principal must keep working in: every governed
/// region, and us-east-1, where global services (IAM, STS, Organizations)
/// receive their requests and where Control Tower and StackSets keep
/// organization-wide resources.
fn guarded_regions(governed: &[String]) -> Vec<String> {
    let mut regions = governed.to_vec();
    if !regions.iter().any(|r| r == "us-east-1") {
        regions.push("us-east-1".to_string());
    }
    regions
}

/// Control Tower's roles, lzctl's role, the StackSet execution role and the break-glass
/// roles the config names, each with the actions it really uses.
pub fn protected_principals(break_glass_roles: &[String]) -> Vec<Protected> {
    let mut out: Vec<Protected> = CONTROL_TOWER_ROLES
        .iter()
        .map(|(role, actions)| Protected {
            label: if *role == "AWSControlTowerExecution" {
                "Control Tower execution role".into()
            } else {
                format!("Control Tower role {role}")
            },
            role_names: vec![role.to_string()],
            actions: actions.to_vec(),
            global: !matches!(
                *role,
                "aws-controltower-ConfigRecorderRole"
                    | "aws-controltower-ForwardSnsNotificationRole"
            ),
        })
        .collect();
    out.push(Protected {
        label: "lzctl's own role".into(),
        role_names: vec!["lzctl-execution".into()],
        actions: vec![
            "cloudformation:CreateStack",
            "cloudformation:CreateStackInstances",
            "iam:PassRole",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "sts:AssumeRole",
            "ec2:DescribeRegions",
            "organizations:DescribeOrganization",
        ],
        global: true,
    });
    out.push(Protected {
        label: "StackSet execution role".into(),
        role_names: vec![STACKSET_EXECUTION_ROLE_EXAMPLE.into()],
        actions: STACKSET_EXECUTION_ACTIONS.to_vec(),
        global: true,
    });
    for role in break_glass_roles {
        out.push(Protected {
            label: format!("break-glass role {role}"),
            role_names: vec![role.clone()],
            actions: vec![
                "ec2:RunInstances",
                "iam:AttachRolePolicy",
                "iam:PutRolePolicy",
                "s3:PutObject",
                "sts:AssumeRole",
            ],
            global: true,
        });
    }
    out
}

/// A protected principal that the plan would newly deny.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockoutFinding {
    /// Account name.
    pub account: String,
    /// Who.
    pub principal: String,
    /// What.
    pub action: String,
    /// Where.
    pub region: String,
    /// The denying policy, statement and level.
    pub denied_by: String,
}

impl std::fmt::Display for LockoutFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} in {}: {} in {} would be {}",
            self.principal, self.account, self.action, self.region, self.denied_by
        )
    }
}

/// Accounts that share an OU and account-level policies share a verdict.
fn representatives(state: &OrgState) -> BTreeMap<(OuPath, Vec<String>), String> {
    let mut groups = BTreeMap::new();
    for (name, account) in &state.accounts {
        if (state.management_account_id.is_some() && account.id == state.management_account_id)
            || state.closed_accounts.contains(name)
        {
            continue;
        }
        let own: Vec<String> = state
            .policies
            .iter()
            .filter(|(_, p)| {
                p.targets
                    .contains(&crate::model::Target::Account(name.clone()))
            })
            .map(|(n, _)| n.clone())
            .collect();
        groups
            .entry((account.ou.clone(), own))
            .or_insert_with(|| name.clone());
    }
    groups
}

fn denials(
    state: &OrgState,
    book: &PolicyBook,
    account: &str,
    protected: &[Protected],
    governed: &[String],
) -> BTreeMap<(String, String, String), String> {
    let mut out = BTreeMap::new();
    let Some(h) = hierarchy(
        state,
        book,
        PolicyKind::Scp,
        &Subject::Account(account.to_string()),
        true,
    ) else {
        return out;
    };
    let account_id = state.accounts[account]
        .id
        .clone()
        .unwrap_or_else(|| "000000000000".into());
    let everywhere = guarded_regions(governed);
    for p in protected {
        let regions = if p.global { &everywhere[..] } else { governed };
        let pairs: Vec<(&str, &str)> = p
            .actions
            .iter()
            .flat_map(|a| regions.iter().map(move |r| (*a, r.as_str())))
            .collect();
        for role in &p.role_names {
            let arn = format!("arn:aws:iam::{account_id}:role/{role}");
            let who = if p.role_names.len() > 1 || !p.label.contains(role.as_str()) {
                format!("{} ({role})", p.label)
            } else {
                p.label.clone()
            };
            for l in iam::lockouts(&h, &account_id, &arn, &pairs, &BTreeMap::new()) {
                out.insert((who.clone(), l.action, l.region), l.verdict.to_string());
            }
        }
    }
    out
}

/// Lockouts present after the plan (`after`) and not before it (`before`).
/// SCPs listed only partially are taken as attached everywhere: the guard is
/// about Deny statements; Allow paths are kept by the attachment planner.
pub fn new_lockouts(
    before: &OrgState,
    after: &OrgState,
    protected: &[Protected],
    governed: &[String],
) -> Vec<LockoutFinding> {
    let (book_before, book_after) = (PolicyBook::new(before), PolicyBook::new(after));
    let mut findings = Vec::new();
    for account in representatives(after).into_values() {
        let was = if before.accounts.contains_key(&account) {
            denials(before, &book_before, &account, protected, governed)
        } else {
            BTreeMap::new()
        };
        for ((principal, action, region), denied_by) in
            denials(after, &book_after, &account, protected, governed)
        {
            if !was.contains_key(&(principal.clone(), action.clone(), region.clone())) {
                findings.push(LockoutFinding {
                    account: account.clone(),
                    principal,
                    action,
                    region,
                    denied_by,
                });
            }
        }
    }
    findings
}

/// A plan refused because it would lock protected principals out.
#[derive(Debug, thiserror::Error)]
#[error("the plan would lock out {} protected principal action(s):\n{}\nhint: exempt these principals in the policy, or pass --allow-lockout if this is intended", .0.len(), .0.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
pub struct LockoutRefused(pub Vec<LockoutFinding>);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action the guard checks is one IAM has: a misspelt one would be allowed by any
    /// policy and hide a lockout.
    #[test]
    fn protected_actions_are_real_iam_actions() {
        let iam = super::super::lint::IamData::built_in();
        let unknown: Vec<String> = protected_principals(&["break-glass".into()])
            .iter()
            .flat_map(|p| p.actions.iter())
            .filter(|a| !iam.is_known_action(a))
            .map(|a| a.to_string())
            .collect();
        assert!(unknown.is_empty(), "{unknown:?}");
        let suffix = STACKSET_EXECUTION_ROLE_EXAMPLE
            .strip_prefix("stacksets-exec-")
            .unwrap();
        assert_eq!(suffix.len(), 32);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
