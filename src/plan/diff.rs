//! The pure comparison of desired and observed state. No I/O: most tests of
//! lzctl's behaviour need no AWS at all.

use std::collections::{BTreeMap, BTreeSet};

use super::attachments::{Step, TargetChange};
use super::dependencies::add_structural_dependencies;
use super::order::order_changes;
use super::{Change, Notice, Operation, Plan, Unmanaged, PLAN_FORMAT_VERSION};
use crate::model::{
    Address, OrgState, OuPath, PolicyKind, Tags, Target, MANAGED_TAG_KEY, MANAGED_TAG_VALUE,
};
use crate::policy::document::{has_allow_statement, normalize};
use crate::policy::limits::Limits;

/// Everything `diff` compares.
pub struct DiffInput<'a> {
    /// What the config asks for.
    pub desired: &'a OrgState,
    /// OU renames: new path → previous name.
    pub renames: &'a BTreeMap<OuPath, String>,
    /// Delete managed OUs and policies the config no longer names.
    pub prune: bool,
    /// Limits in force.
    pub limits: Limits,
    /// Whether lzctl may create accounts itself (Control Tower absent).
    pub account_vending: bool,
    /// Whether account tags are managed.
    pub manage_account_tags: bool,
    /// Config file path and digest, recorded in the plan.
    pub config_path: String,
    /// sha256 of the config file.
    pub config_digest: String,
}

/// A plan that would break a safety rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// Attachments that cannot be made safely.
    #[error("the plan is refused:\n{}", .0.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<String>),
}

/// The policy AWS attaches to every new target when a type is enabled.
pub fn implicit_policy(kind: PolicyKind) -> Option<&'static str> {
    match kind {
        PolicyKind::Scp => Some("FullAWSAccess"),
        PolicyKind::Rcp => Some("RCPFullAWSAccess"),
        PolicyKind::Tag => None,
    }
}

struct Builder {
    changes: Vec<Change>,
    unmanaged: Vec<Unmanaged>,
    notices: Vec<Notice>,
    refusals: Vec<String>,
}

impl Builder {
    fn push(
        &mut self,
        address: Address,
        reason: impl Into<String>,
        depends_on: Vec<Address>,
        operation: Operation,
    ) {
        self.changes.push(Change {
            address,
            action: operation.action(),
            reason: reason.into(),
            depends_on,
            operation,
        });
    }
    fn creates_policy(&self, name: &str) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(&c.operation, Operation::CreatePolicy { name: n, .. } if n == name))
    }

    fn has_delete_of(&self, path: &OuPath) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(&c.operation, Operation::DeleteOu { path: p } if p == path))
    }

    fn has(&self, address: &Address) -> bool {
        self.changes.iter().any(|c| &c.address == address)
    }
}

/// Compares desired and observed state into an ordered plan.
pub fn diff(input: &DiffInput, observed: &OrgState) -> Result<Plan, PlanError> {
    let mut b = Builder {
        changes: Vec::new(),
        unmanaged: Vec::new(),
        notices: Vec::new(),
        refusals: Vec::new(),
    };
    let desired = input.desired;
    for kind in &desired.enabled_policy_types {
        if !observed.enabled_policy_types.contains(kind) {
            b.push(
                Address::policy_type(*kind),
                format!(
                    "{} policies are used but the type is not enabled on the root",
                    kind.short_name()
                ),
                vec![],
                Operation::EnablePolicyType { kind: *kind },
            );
        }
    }
    let working = rename_ous(&mut b, input, observed);
    plan_ous(&mut b, input, &working);
    plan_accounts(&mut b, input, &working);
    plan_policies(&mut b, input, &working);
    plan_pruned_ous(&mut b, input, &working);
    plan_attachments(&mut b, input, &working);
    if !b.refusals.is_empty() {
        return Err(PlanError::Refused(b.refusals));
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        lzctl_version: env!("CARGO_PKG_VERSION").to_string(),
        config_path: input.config_path.clone(),
        config_digest: input.config_digest.clone(),
        state_digest: observed.digest(),
        changes: {
            let mut changes = b.changes;
            add_structural_dependencies(&mut changes, &working, desired);
            order_changes(changes)
        },
        unmanaged: b.unmanaged,
        notices: b.notices,
    })
}

/// The (type, target) pairs whose attachments the plan will change, or whose
/// Allow path a policy update could remove: for these the diff needs every
/// attached policy, including those observed only partially (see
/// `OrgState::partially_listed`). Empty when nothing is partial.
pub fn targets_to_complete(
    input: &DiffInput,
    observed: &OrgState,
) -> BTreeSet<(PolicyKind, Target)> {
    let mut out = BTreeSet::new();
    if observed.partially_listed.is_empty() {
        return out;
    }
    let desired = input.desired;
    let managed = |name: &str| {
        desired.policies.contains_key(name)
            || (input.prune
                && observed
                    .policies
                    .get(name)
                    .is_some_and(|p| p.is_managed() && !p.aws_managed))
    };
    for kind in PolicyKind::ALL {
        let mut candidates: BTreeSet<&Target> = BTreeSet::new();
        for (name, p) in desired.policies.iter().chain(observed.policies.iter()) {
            if p.kind == kind && managed(name) {
                candidates.extend(p.targets.iter());
            }
        }
        for target in candidates {
            if !observed.has_target(target) {
                continue;
            }
            let now: BTreeSet<&String> = observed
                .policies
                .iter()
                .filter(|(n, p)| p.kind == kind && managed(n) && p.targets.contains(target))
                .map(|(n, _)| n)
                .collect();
            let want: BTreeSet<&String> = desired
                .policies
                .iter()
                .filter(|(_, p)| p.kind == kind && p.targets.contains(target))
                .map(|(n, _)| n)
                .collect();
            let allow_flips = want.iter().any(|n| {
                observed.policies.get(*n).is_some_and(|o| {
                    has_allow_statement(&o.content)
                        && !has_allow_statement(&desired.policies[*n].content)
                })
            });
            if now != want || allow_flips {
                out.insert((kind, target.clone()));
            }
        }
    }
    out
}

/// Rewrites every path under `from` to lie under `to`.
pub(crate) fn rewrite_prefix(state: &mut OrgState, from: &OuPath, to: &OuPath) {
    let moved = |p: &OuPath| -> OuPath { p.rebase(from, to) };
    state.ous = std::mem::take(&mut state.ous)
        .into_iter()
        .map(|(p, ou)| (moved(&p), ou))
        .collect();
    for a in state.accounts.values_mut() {
        a.ou = moved(&a.ou);
    }
    for p in state.policies.values_mut() {
        p.targets = std::mem::take(&mut p.targets)
            .into_iter()
            .map(|t| match t {
                Target::Ou(path) => Target::Ou(moved(&path)),
                other => other,
            })
            .collect();
    }
}

fn rename_ous(b: &mut Builder, input: &DiffInput, observed: &OrgState) -> OrgState {
    let mut working = observed.clone();
    let mut renames: Vec<(&OuPath, &String)> = input.renames.iter().collect();
    renames.sort_by_key(|(p, _)| p.depth());
    for (to, old_name) in renames {
        let from = to.with_name(old_name);
        if working.ous.contains_key(to) || !working.ous.contains_key(&from) {
            continue;
        }
        let mut depends_on = Vec::new();
        if let Some(parent) = to.parent() {
            if b.has(&Address::ou(&parent)) {
                depends_on.push(Address::ou(&parent));
            }
        }
        b.push(
            Address::ou(to),
            format!("renamed from `{old_name}` in the config"),
            depends_on,
            Operation::RenameOu {
                from: from.clone(),
                to: to.clone(),
            },
        );
        rewrite_prefix(&mut working, &from, to);
    }
    working
}

fn managed_tags(tags: &Tags) -> Tags {
    let mut t = tags.clone();
    t.insert(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into());
    t
}

/// Tags in `desired` that `observed` lacks or holds with another value.
fn tags_to_set(desired: &Tags, observed: &Tags) -> Tags {
    desired
        .iter()
        .filter(|(k, v)| observed.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn plan_ous(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    let mut paths: Vec<&OuPath> = input.desired.ous.keys().collect();
    paths.sort_by_key(|p| (p.depth(), (*p).clone()));
    for path in paths {
        let want = &input.desired.ous[path];
        match working.ous.get(path) {
            None => {
                b.push(
                    Address::ou(path),
                    "declared in the config, missing in the organization",
                    vec![],
                    Operation::CreateOu {
                        path: path.clone(),
                        tags: managed_tags(&want.tags),
                    },
                );
            }
            Some(have) => {
                let set = tags_to_set(&want.tags, &have.tags);
                if !set.is_empty() {
                    let address = Address::ou(path);
                    let keys: Vec<&str> = set.keys().map(String::as_str).collect();
                    let deps = if b.has(&address) {
                        vec![address.clone()]
                    } else {
                        vec![]
                    };
                    b.push(
                        Address::tags(&address),
                        format!("tags {} differ from the config", keys.join(", ")),
                        deps,
                        Operation::SetTags {
                            target: Target::Ou(path.clone()),
                            set,
                        },
                    );
                }
            }
        }
    }
    for (path, ou) in &working.ous {
        if input.desired.ous.contains_key(path) {
            continue;
        }
        if ou.is_managed() && input.prune {
            continue; // handled by plan_pruned_ous once moves are known
        }
        let reason = if ou.is_managed() {
            "created by lzctl, no longer in the config; kept because `prune` is off"
        } else {
            "not in the config and not created by lzctl"
        };
        b.unmanaged.push(Unmanaged {
            address: Address::ou(path),
            reason: reason.into(),
        });
    }
}

fn plan_accounts(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    for (name, want) in &input.desired.accounts {
        let address = Address::account(name);
        match working.accounts.get(name) {
            None if working.accounts_being_created.contains(name) => b.notices.push(Notice {
                address,
                message: "CreateAccount is still in progress; run again when it has finished".into(),
                pending: true,
            }),
            None if !input.account_vending => b.notices.push(Notice {
                address,
                message: "account is missing; with Control Tower present, accounts are vended through Account Factory, which lzctl does not drive yet: create it there".into(),
                pending: true,
            }),
            None => {
                b.push(address, "declared in the config, missing in the organization", vec![], Operation::CreateAccount { name: name.clone(), email: want.email.clone(), ou: want.ou.clone(), tags: want.tags.clone() });
            }
            Some(_) if working.closed_accounts.contains(name) => b.notices.push(Notice {
                address,
                message: "the account is suspended or being closed; lzctl leaves it where it is".into(),
                pending: false,
            }),
            Some(have) => {
                if !have.email.eq_ignore_ascii_case(&want.email) {
                    b.notices.push(Notice { address: address.clone(), message: format!("root email is {} in AWS but {} in the config; Organizations cannot change it", have.email, want.email), pending: false });
                }
                if have.ou != want.ou {
                    b.push(address.clone(), format!("is in {}, the config puts it in {}", have.ou, want.ou), vec![], Operation::MoveAccount { name: name.clone(), from: have.ou.clone(), to: want.ou.clone() });
                }
                if input.manage_account_tags {
                    let set = tags_to_set(&want.tags, &have.tags);
                    if !set.is_empty() {
                        let keys: Vec<&str> = set.keys().map(String::as_str).collect();
                        b.push(Address::tags(&address), format!("tags {} differ from the config", keys.join(", ")), vec![], Operation::SetTags { target: Target::Account(name.clone()), set });
                    }
                }
            }
        }
    }
    for (name, have) in &working.accounts {
        if !input.desired.accounts.contains_key(name) {
            let reason = if working.management_account_id.is_some()
                && have.id == working.management_account_id
            {
                "the management account"
            } else {
                "not in the config; lzctl never closes or removes accounts"
            };
            b.unmanaged.push(Unmanaged {
                address: Address::account(name),
                reason: reason.into(),
            });
        }
    }
}

fn plan_policies(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    for (name, want) in &input.desired.policies {
        let address = Address::policy(want.kind, name);
        match working.policies.get(name) {
            None => b.push(
                address,
                "declared in the config, missing in the organization",
                vec![],
                Operation::CreatePolicy {
                    name: name.clone(),
                    kind: want.kind,
                    description: want.description.clone(),
                    content: want.content.clone(),
                },
            ),
            Some(have) if have.aws_managed || have.kind != want.kind => b.refusals.push(format!(
                "policy `{name}` exists as an {} {} policy; lzctl will not take it over",
                if have.aws_managed {
                    "AWS-managed"
                } else {
                    "other-type"
                },
                have.kind.short_name()
            )),
            Some(have) => {
                let content_differs = normalize(&have.content) != normalize(&want.content);
                let description_differs = have.description != want.description;
                if content_differs || description_differs {
                    let reason = match (content_differs, description_differs) {
                        (true, _) => "the document differs from the rendered template",
                        (false, true) => {
                            "the description differs (lzctl marks the policies it manages)"
                        }
                        _ => unreachable!(),
                    };
                    b.push(
                        address,
                        reason,
                        vec![],
                        Operation::UpdatePolicy {
                            name: name.clone(),
                            kind: want.kind,
                            old_description: have.description.clone(),
                            description: want.description.clone(),
                            old_content: have.content.clone(),
                            content: want.content.clone(),
                        },
                    );
                }
            }
        }
    }
    for (name, have) in &working.policies {
        if input.desired.policies.contains_key(name) || have.aws_managed {
            continue;
        }
        let address = Address::policy(have.kind, name);
        if have.is_managed() && input.prune {
            b.push(
                address,
                "managed by lzctl, no longer in the config, and `prune` is on",
                vec![],
                Operation::DeletePolicy {
                    name: name.clone(),
                    kind: have.kind,
                },
            );
        } else {
            let reason = if crate::model::is_control_tower_policy(name) {
                "owned by Control Tower; never changed"
            } else if have.is_managed() {
                "managed by lzctl, no longer in the config; kept because `prune` is off"
            } else {
                "not in the config and not created by lzctl"
            };
            b.unmanaged.push(Unmanaged {
                address,
                reason: reason.into(),
            });
        }
    }
}

fn plan_attachments(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    let desired = input.desired;
    let pruned: BTreeSet<String> = b
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::DeletePolicy { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let grants = |name: &str| -> bool {
        if let Some(p) = desired.policies.get(name) {
            return has_allow_statement(&p.content);
        }
        match working.policies.get(name) {
            Some(p) => has_allow_statement(&p.content),
            None => Some(name) == implicit_policy(PolicyKind::Scp),
        }
    };
    for kind in PolicyKind::ALL {
        let managed: BTreeSet<&String> = desired
            .policies
            .iter()
            .filter(|(_, p)| p.kind == kind)
            .map(|(n, _)| n)
            .chain(pruned.iter().filter(|n| working.policies[*n].kind == kind))
            .collect();
        let mut targets: BTreeSet<Target> = BTreeSet::new();
        for name in &managed {
            if let Some(p) = desired.policies.get(*name) {
                targets.extend(p.targets.iter().cloned());
            }
            if let Some(p) = working.policies.get(*name) {
                targets.extend(p.targets.iter().cloned());
            }
        }
        for target in targets {
            if let Target::Ou(path) = &target {
                if b.has_delete_of(path) {
                    continue; // AWS drops the attachments of a deleted OU
                }
            }
            let current = current_attachments(working, kind, &target);
            let wanted: BTreeSet<String> = current
                .iter()
                .filter(|n| !managed.contains(n))
                .cloned()
                .chain(
                    desired
                        .policies
                        .iter()
                        .filter(|(_, p)| p.kind == kind && p.targets.contains(&target))
                        .map(|(n, _)| n.clone()),
                )
                .collect();
            let granted_before = current.iter().any(|n| {
                working
                    .policies
                    .get(n)
                    .is_some_and(|p| has_allow_statement(&p.content))
            });
            if kind == PolicyKind::Scp && granted_before && !wanted.iter().any(|n| grants(n)) {
                b.refusals.push(format!("scp policies on {target}: after the policy updates no attached SCP would grant anything (no Allow path left)"));
                continue;
            }
            if current == wanted {
                continue;
            }
            let change = TargetChange {
                kind,
                current,
                wanted,
                cap: input.limits.max_attachments(kind),
                grants: &grants,
            };
            let steps = match change.steps() {
                Ok(steps) => steps,
                Err(why) => {
                    b.refusals
                        .push(format!("{} policies on {target}: {why}", kind.short_name()));
                    continue;
                }
            };
            let mut previous: Option<Address> = None;
            for step in steps {
                let (policy, attach) = match &step {
                    Step::Attach(p) => (p.clone(), true),
                    Step::Detach(p) => (p.clone(), false),
                };
                let address = Address::attachment(kind, &policy, &target);
                let mut deps: Vec<Address> = previous.iter().cloned().collect();
                // Hard requirements only: the policy and its type must exist.
                // Waiting for an update of the policy is a preference (dependencies.rs).
                if attach {
                    if b.creates_policy(&policy) {
                        deps.push(Address::policy(kind, &policy));
                    }
                    if b.has(&Address::policy_type(kind)) {
                        deps.push(Address::policy_type(kind));
                    }
                }
                let (reason, operation) = if attach {
                    (
                        format!("the config attaches {policy} to {target}"),
                        Operation::AttachPolicy {
                            policy,
                            kind,
                            target: target.clone(),
                        },
                    )
                } else if pruned.contains(&policy) {
                    (
                        format!("{policy} is pruned; detached before deletion"),
                        Operation::DetachPolicy {
                            policy,
                            kind,
                            target: target.clone(),
                        },
                    )
                } else {
                    (
                        format!("attached in AWS, the config does not target {target}"),
                        Operation::DetachPolicy {
                            policy,
                            kind,
                            target: target.clone(),
                        },
                    )
                };
                b.push(address.clone(), reason, deps, operation);
                previous = Some(address);
            }
        }
    }
    // A pruned policy is deleted after every detach of it.
    let detaches: Vec<(String, Address)> = b
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::DetachPolicy { policy, .. } => Some((policy.clone(), c.address.clone())),
            _ => None,
        })
        .collect();
    for change in &mut b.changes {
        if let Operation::DeletePolicy { name, .. } = &change.operation {
            change.depends_on.extend(
                detaches
                    .iter()
                    .filter(|(p, _)| p == name)
                    .map(|(_, a)| a.clone()),
            );
        }
    }
}

/// Policies on a target now; a target that does not exist yet (or a type not
/// enabled yet) will carry what AWS attaches by itself.
fn current_attachments(working: &OrgState, kind: PolicyKind, target: &Target) -> BTreeSet<String> {
    if working.has_target(target) && working.enabled_policy_types.contains(&kind) {
        return working.policies_on(target, kind);
    }
    implicit_policy(kind)
        .filter(|name| working.policies.contains_key(*name) || kind == PolicyKind::Scp)
        .map(|name| BTreeSet::from([name.to_string()]))
        .unwrap_or_default()
}

fn plan_pruned_ous(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    if !input.prune {
        return;
    }
    let mut candidates: Vec<&OuPath> = working
        .ous
        .iter()
        .filter(|(p, ou)| ou.is_managed() && !input.desired.ous.contains_key(*p))
        .map(|(p, _)| p)
        .collect();
    candidates.sort_by_key(|p| std::cmp::Reverse(p.depth()));
    let mut deleted: BTreeSet<OuPath> = BTreeSet::new();
    for path in candidates {
        let staying: Vec<&String> = working
            .accounts
            .iter()
            .filter(|(name, a)| {
                a.ou == *path
                    && input
                        .desired
                        .accounts
                        .get(*name)
                        .map(|d| d.ou == *path)
                        .unwrap_or(true)
            })
            .map(|(n, _)| n)
            .collect();
        let kept_children: Vec<&OuPath> = working
            .ous
            .keys()
            .filter(|c| c.parent().as_ref() == Some(path) && !deleted.contains(*c))
            .collect();
        let address = Address::ou(path);
        if !staying.is_empty() || !kept_children.is_empty() {
            b.unmanaged.push(Unmanaged {
                address,
                reason: format!("managed by lzctl and pruned from the config, but kept: it still holds {} account(s) and {} OU(s)", staying.len(), kept_children.len()),
            });
            continue;
        }
        let mut deps: Vec<Address> = b
            .changes
            .iter()
            .filter(|c| matches!(&c.operation, Operation::MoveAccount { from, .. } if from == path))
            .map(|c| c.address.clone())
            .collect();
        deps.extend(
            working
                .ous
                .keys()
                .filter(|c| c.parent().as_ref() == Some(path))
                .map(Address::ou),
        );
        b.push(
            address,
            "created by lzctl, no longer in the config, and `prune` is on",
            deps,
            Operation::DeleteOu { path: path.clone() },
        );
        deleted.insert(path.clone());
    }
}
