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
    /// IAM role name in every member account.
    pub role_name: String,
    /// Representative actions it must keep.
    pub actions: Vec<&'static str>,
}

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

/// Control Tower's execution role, lzctl's roles, the StackSet execution role
/// and the break-glass roles the config names.
pub fn protected_principals(break_glass_roles: &[String]) -> Vec<Protected> {
    let mut out = vec![
        Protected {
            label: "Control Tower execution role".into(),
            role_name: "AWSControlTowerExecution".into(),
            actions: vec![
                "cloudformation:CreateStack",
                "config:PutConfigurationRecorder",
                "iam:CreateRole",
                "sts:AssumeRole",
            ],
        },
        Protected {
            label: "lzctl's own role".into(),
            role_name: "lzctl-execution".into(),
            actions: vec![
                "cloudformation:CreateStack",
                "iam:PassRole",
                "sts:AssumeRole",
                "ec2:DescribeRegions",
            ],
        },
        Protected {
            label: "StackSet execution role".into(),
            role_name: "stacksets-exec-lzctl".into(),
            actions: vec![
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "config:PutConfigRule",
                "iam:CreateRole",
            ],
        },
    ];
    for role in break_glass_roles {
        out.push(Protected {
            label: format!("break-glass role {role}"),
            role_name: role.clone(),
            actions: vec![
                "ec2:RunInstances",
                "iam:AttachRolePolicy",
                "s3:PutObject",
                "sts:AssumeRole",
            ],
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
    for p in protected {
        let arn = format!("arn:aws:iam::{account_id}:role/{}", p.role_name);
        let pairs: Vec<(String, String)> = p
            .actions
            .iter()
            .flat_map(|a| {
                guarded_regions(governed)
                    .into_iter()
                    .map(move |r| (a.to_string(), r))
            })
            .collect();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, r)| (a.as_str(), r.as_str()))
            .collect();
        for l in iam::lockouts(&h, &account_id, &arn, &refs, &BTreeMap::new()) {
            out.insert((p.label.clone(), l.action, l.region), l.verdict.to_string());
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
