//! Applies a plan to a model of the organization, enforcing the rules AWS
//! enforces. Tests use it to prove that a plan converges and never breaks a
//! safety rule in between.

use std::collections::BTreeSet;

use super::diff::{implicit_policy, rewrite_prefix};
use super::Operation;
use crate::families::Operation as AnyOperation;
use crate::plan::Change;
use crate::model::{Account, OrgState, Ou, Policy, PolicyKind, Target};
use crate::policy::document::has_allow_statement;
use crate::policy::limits::Limits;

/// A rule AWS (or lzctl) would have refused during the simulated apply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("step {step} ({address}): {message}")]
pub struct Violation {
    /// Position in the plan.
    pub step: usize,
    /// Change address.
    pub address: String,
    /// What broke.
    pub message: String,
}

/// Applies the Organizations changes of `changes` to `state` in order (other
/// families' changes do not touch the organization model).
pub fn apply_changes(
    state: &mut OrgState,
    changes: &[Change],
    limits: &Limits,
) -> Result<(), Violation> {
    for (step, change) in changes.iter().enumerate() {
        let AnyOperation::Organizations(op) = &change.operation else {
            continue;
        };
        apply_operation(state, op, limits).map_err(|message| Violation {
            step,
            address: change.address.to_string(),
            message,
        })?;
    }
    Ok(())
}

/// Whether a target's SCPs grant anything.
fn has_allow_path(state: &OrgState, target: &Target) -> bool {
    state
        .policies_on(target, PolicyKind::Scp)
        .iter()
        .any(|n| has_allow_statement(&state.policies[n].content))
}

/// Targets with an Allow path now.
fn granted_targets(state: &OrgState) -> BTreeSet<Target> {
    let mut all: BTreeSet<Target> = state.ous.keys().cloned().map(Target::Ou).collect();
    all.extend(state.accounts.keys().cloned().map(Target::Account));
    all.insert(Target::Root);
    all.into_iter()
        .filter(|t| has_allow_path(state, t))
        .collect()
}

fn attach_implicit(state: &mut OrgState, target: &Target) {
    for kind in state.enabled_policy_types.clone() {
        if let Some(name) = implicit_policy(kind) {
            if let Some(p) = state.policies.get_mut(name) {
                p.targets.insert(target.clone());
            }
        }
    }
}

/// Applies one operation as AWS would, or says why AWS would refuse it.
pub fn apply_operation(
    state: &mut OrgState,
    op: &Operation,
    limits: &Limits,
) -> Result<(), String> {
    match op {
        Operation::EnablePolicyType { kind } => {
            state.enabled_policy_types.insert(*kind);
            if let Some(name) = implicit_policy(*kind) {
                let mut targets: BTreeSet<Target> =
                    state.ous.keys().cloned().map(Target::Ou).collect();
                targets.extend(state.accounts.keys().cloned().map(Target::Account));
                targets.insert(Target::Root);
                let p = state
                    .policies
                    .entry(name.to_string())
                    .or_insert_with(|| Policy {
                        id: None,
                        kind: *kind,
                        description: "AWS managed".into(),
                        content: crate::model::AWS_FULL_ACCESS_DOCUMENT.into(),
                        targets: BTreeSet::new(),
                        aws_managed: true,
                        tags: Default::default(),
                    });
                p.targets.extend(targets);
            }
        }
        Operation::CreateOu { path, tags } => {
            let parent = path.parent().ok_or("cannot create the root")?;
            if !parent.is_root() && !state.ous.contains_key(&parent) {
                return Err(format!("parent {parent} does not exist"));
            }
            if state.ous.contains_key(path) {
                return Err(format!("{path} already exists"));
            }
            state.ous.insert(
                path.clone(),
                Ou {
                    id: None,
                    tags: tags.clone(),
                },
            );
            attach_implicit(state, &Target::Ou(path.clone()));
        }
        Operation::RenameOu { from, to, .. } => {
            if !state.ous.contains_key(from) || state.ous.contains_key(to) {
                return Err(format!("cannot rename {from} to {to}"));
            }
            rewrite_prefix(state, from, to);
        }
        Operation::DeleteOu { path } => {
            if !state.ous.contains_key(path) {
                return Err(format!("{path} does not exist"));
            }
            if state.accounts.values().any(|a| a.ou == *path)
                || state.ous.keys().any(|p| p.parent().as_ref() == Some(path))
            {
                return Err(format!("{path} is not empty"));
            }
            state.ous.remove(path);
            for p in state.policies.values_mut() {
                p.targets.remove(&Target::Ou(path.clone()));
            }
        }
        Operation::CreateAccount {
            name,
            email,
            ou,
            tags,
            ..
        } => {
            if !ou.is_root() && !state.ous.contains_key(ou) {
                return Err(format!("OU {ou} does not exist"));
            }
            state.accounts.insert(
                name.clone(),
                Account {
                    id: None,
                    email: email.clone(),
                    ou: ou.clone(),
                    tags: tags.clone(),
                },
            );
            attach_implicit(state, &Target::Account(name.clone()));
        }
        Operation::MoveAccount { name, from, to, .. } => {
            if !to.is_root() && !state.ous.contains_key(to) {
                return Err(format!("destination {to} does not exist"));
            }
            let account = state.accounts.get_mut(name).ok_or("no such account")?;
            if account.ou != *from {
                return Err(format!("account is in {}, not {from}", account.ou));
            }
            account.ou = to.clone();
        }
        Operation::RenameAccount { .. } => {}
        Operation::CreatePolicy {
            name,
            kind,
            description,
            content,
        } => {
            if state.policies.contains_key(name) {
                return Err("duplicate policy".into());
            }
            state.policies.insert(
                name.clone(),
                Policy {
                    id: None,
                    kind: *kind,
                    description: description.clone(),
                    content: content.clone(),
                    targets: BTreeSet::new(),
                    aws_managed: false,
                    tags: Default::default(),
                },
            );
        }
        Operation::UpdatePolicy {
            name,
            description,
            content,
            ..
        } => {
            let p = state.policies.get(name).ok_or("no such policy")?;
            if p.aws_managed {
                return Err("AWS-managed policies cannot be changed".into());
            }
            let p = state.policies.get_mut(name).expect("checked above");
            p.description = description.clone();
            p.content = content.clone();
        }
        Operation::ReplacePolicy {
            name,
            staged,
            delete,
            ..
        } => {
            if *delete {
                let old = state.policies.remove(name).ok_or("no such policy")?;
                if !old.targets.is_empty() {
                    return Err("a replaced policy must be detached everywhere first".into());
                }
            } else if state.policies.contains_key(name) {
                return Err("duplicate policy".into());
            }
            let p = state.policies.remove(staged).ok_or("no staged copy")?;
            state.policies.insert(name.clone(), p);
        }
        Operation::AdoptPolicy { name, .. } => {
            let p = state.policies.get_mut(name).ok_or("no such policy")?;
            p.tags.insert(
                crate::model::MANAGED_TAG_KEY.into(),
                crate::model::MANAGED_TAG_VALUE.into(),
            );
        }
        Operation::DeletePolicy { name, .. } => {
            let p = state.policies.get(name).ok_or("no such policy")?;
            if !p.targets.is_empty() {
                return Err("policy is still attached".into());
            }
            state.policies.remove(name);
        }
        Operation::AttachPolicy {
            policy,
            kind,
            target,
        } => {
            if !state.enabled_policy_types.contains(kind) {
                return Err("policy type not enabled".into());
            }
            if !state.has_target(target) {
                return Err(format!("target {target} does not exist"));
            }
            if state.policies_on(target, *kind).len() >= limits.max_attachments(*kind) {
                return Err(format!(
                    "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED on {target}"
                ));
            }
            state
                .policies
                .get_mut(policy)
                .ok_or("no such policy")?
                .targets
                .insert(target.clone());
        }
        Operation::DetachPolicy {
            policy,
            kind,
            target,
        } => {
            let on = state.policies_on(target, *kind);
            if kind.requires_one_attached() && on.len() <= 1 {
                return Err(format!(
                    "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED on {target}"
                ));
            }
            state
                .policies
                .get_mut(policy)
                .ok_or("no such policy")?
                .targets
                .remove(target);
        }
        Operation::RolloutWave(w) => {
            // The model assumes every wave passes: the plan's end state.
            for t in &w.targets {
                for step in &t.steps {
                    let op = match step {
                        crate::rollout::WaveStep::Attach(p) => Operation::AttachPolicy {
                            policy: p.clone(),
                            kind: w.kind,
                            target: t.target.clone(),
                        },
                        crate::rollout::WaveStep::Detach(p) => Operation::DetachPolicy {
                            policy: p.clone(),
                            kind: w.kind,
                            target: t.target.clone(),
                        },
                    };
                    apply_operation(state, &op, limits)?;
                }
            }
        }
        Operation::SetTags { target, set } => {
            let tags = match target {
                Target::Ou(p) => &mut state.ous.get_mut(p).ok_or("no such OU")?.tags,
                Target::Account(n) => &mut state.accounts.get_mut(n).ok_or("no such account")?.tags,
                Target::Root => return Err("root tags are not managed".into()),
            };
            tags.extend(set.clone());
        }
    }
    Ok(())
}

/// Applies the changes of `plan` in an order chosen by `seed` among those the
/// dependencies allow, as the concurrent executor may.
pub fn apply_plan_in_any_order(
    state: &mut OrgState,
    plan: &crate::plan::Plan,
    limits: &Limits,
    seed: u64,
) -> Result<(), Violation> {
    let mut waiting = plan.dependency_indices();
    let mut done = vec![false; plan.changes.len()];
    let mut granted = granted_targets(state);
    let mut rng = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for step in 0..plan.changes.len() {
        let ready: Vec<usize> = (0..plan.changes.len())
            .filter(|i| !done[*i] && waiting[*i].is_empty())
            .collect();
        assert!(!ready.is_empty(), "dependency cycle");
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = ready[(rng >> 33) as usize % ready.len()];
        let change = &plan.changes[i];
        if let AnyOperation::Organizations(op) = &change.operation {
            apply_operation(state, op, limits).map_err(|message| Violation {
                step,
                address: change.address.to_string(),
                message,
            })?;
        }
        // A target that had an Allow path at the start keeps one at every step (renamed and deleted ones are re-keyed or gone).
        granted = granted
            .into_iter()
            .filter(|t| state.has_target(t))
            .collect::<BTreeSet<_>>();
        if matches!(
            change.operation,
            AnyOperation::Organizations(Operation::RenameOu { .. })
        ) {
            granted = granted_targets(state).union(&granted).cloned().collect();
        }
        if let Some(lost) = granted.iter().find(|t| !has_allow_path(state, t)) {
            return Err(Violation {
                step,
                address: change.address.to_string(),
                message: format!("{lost} lost its Allow path"),
            });
        }
        done[i] = true;
        for deps in waiting.iter_mut() {
            deps.remove(&i);
        }
    }
    Ok(())
}
