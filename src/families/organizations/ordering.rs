//! Orderings between Organizations changes that needs (what must exist)
//! cannot express, because they are about safety, not existence. The
//! executor runs changes concurrently as soon as their dependencies are done,
//! so every ordering the plan's safety relies on is stated here:
//! - a policy update that removes an Allow waits for the attachments (or the
//!   other updates) that keep its targets' Allow paths, or for the target's
//!   deletion; detaches that rely on an update's new Allow wait for it;
//! - a policy still attached to an OU is deleted after the OU;
//! - preferences, dropped where they would close a cycle with a safety rule:
//!   an account enters an OU only after the policies attached to that OU
//!   and its ancestors in this plan are in place; new attachments get a
//!   policy's updated document.

use std::collections::BTreeMap;

use super::Operation;
use crate::families::Operation as AnyOperation;
use crate::model::{Address, OrgState, OuPath, PolicyKind, Target};
use crate::plan::{reaches, Change};
use crate::policy::document::has_allow_statement;

fn org_op(change: &Change) -> Option<&Operation> {
    match &change.operation {
        AnyOperation::Organizations(op) => Some(op),
        _ => None,
    }
}

/// The path and every ancestor of it, outermost first.
fn with_ancestors(path: &OuPath) -> Vec<OuPath> {
    let mut out = path.ancestors();
    if !path.is_root() {
        out.push(path.clone());
    }
    out
}

/// Adds the orderings above to `changes`. `working` is the observed state
/// (renames applied) and `desired` the config's.
pub fn add_safety_orderings(changes: &mut [Change], working: &OrgState, desired: &OrgState) {
    let mut attaches_on: BTreeMap<Target, Vec<(String, Address)>> = BTreeMap::new();
    let mut detaches_on: BTreeMap<Target, Vec<Address>> = BTreeMap::new();
    let mut updated: BTreeMap<String, Address> = BTreeMap::new();
    let mut ou_deleted: BTreeMap<OuPath, Address> = BTreeMap::new();
    for c in changes.iter() {
        match org_op(c) {
            Some(Operation::RolloutWave(w)) => {
                for t in &w.targets {
                    for step in &t.steps {
                        match step {
                            crate::rollout::WaveStep::Attach(p) => attaches_on
                                .entry(t.target.clone())
                                .or_default()
                                .push((p.clone(), c.address.clone())),
                            crate::rollout::WaveStep::Detach(_) => detaches_on
                                .entry(t.target.clone())
                                .or_default()
                                .push(c.address.clone()),
                        }
                    }
                }
            }
            Some(Operation::AttachPolicy { policy, target, .. }) => attaches_on
                .entry(target.clone())
                .or_default()
                .push((policy.clone(), c.address.clone())),
            Some(Operation::DetachPolicy { target, .. }) => detaches_on
                .entry(target.clone())
                .or_default()
                .push(c.address.clone()),
            Some(Operation::UpdatePolicy { name, .. }) => {
                updated.insert(name.clone(), c.address.clone());
            }
            Some(Operation::DeleteOu { path }) => {
                ou_deleted.insert(path.clone(), c.address.clone());
            }
            _ => {}
        }
    }
    let content_now = |name: &str| -> &str {
        working
            .policies
            .get(name)
            .map(|p| p.content.as_str())
            .unwrap_or_default()
    };
    let mut safety: Vec<(usize, Address)> = Vec::new();
    let mut preferred: Vec<(usize, Address)> = Vec::new();
    let position = |changes: &[Change], a: &Address| changes.iter().position(|x| &x.address == a);
    for (i, c) in changes.iter().enumerate() {
        let Some(op) = org_op(c) else { continue };
        match op {
            Operation::CreateAccount { ou: to, .. } | Operation::MoveAccount { to, .. } => {
                let guarded = std::iter::once(Target::Root)
                    .chain(with_ancestors(to).into_iter().map(Target::Ou));
                for t in guarded {
                    for (_, dep) in attaches_on.get(&t).into_iter().flatten() {
                        preferred.push((i, dep.clone()));
                    }
                }
            }
            Operation::AttachPolicy { policy, .. } => {
                if let Some(dep) = updated.get(policy) {
                    preferred.push((i, dep.clone()));
                }
            }
            Operation::RolloutWave(w) => {
                // A wave attaches the updated document, so its soak watches it.
                for t in &w.targets {
                    for step in &t.steps {
                        if let crate::rollout::WaveStep::Attach(p) = step {
                            if let Some(dep) = updated.get(p) {
                                safety.push((i, dep.clone()));
                            }
                        }
                    }
                }
            }
            Operation::DeletePolicy { name, .. } => {
                // A policy still attached to an OU cannot be deleted: wait for the OU's deletion.
                let targets = working
                    .policies
                    .get(name)
                    .into_iter()
                    .chain(desired.policies.get(name))
                    .flat_map(|p| p.targets.iter());
                for t in targets {
                    if let Target::Ou(p) = t {
                        if let Some(dep) = ou_deleted.get(p) {
                            safety.push((i, dep.clone()));
                        }
                    }
                }
            }
            Operation::UpdatePolicy {
                name,
                kind: PolicyKind::Scp,
                content,
                ..
            } => {
                let (had, has) = (
                    has_allow_statement(content_now(name)),
                    has_allow_statement(content),
                );
                if had && !has {
                    // Where it is attached now, the Allow it gave must be replaced first.
                    let now = working
                        .policies
                        .get(name)
                        .map(|p| p.targets.clone())
                        .unwrap_or_default();
                    for t in now {
                        for (policy, dep) in attaches_on.get(&t).into_iter().flatten() {
                            if policy != name {
                                safety.push((i, dep.clone()));
                            }
                        }
                        // Or for another policy already there to start granting.
                        for (q, dep) in &updated {
                            let q_there = working
                                .policies
                                .get(q)
                                .is_some_and(|p| p.targets.contains(&t));
                            let q_will_grant = desired
                                .policies
                                .get(q)
                                .is_some_and(|p| has_allow_statement(&p.content));
                            if q != name
                                && q_there
                                && !has_allow_statement(content_now(q))
                                && q_will_grant
                            {
                                safety.push((i, dep.clone()));
                            }
                        }
                        // Or for the target to be gone.
                        if let Target::Ou(p) = &t {
                            if let Some(dep) = ou_deleted.get(p) {
                                safety.push((i, dep.clone()));
                            }
                        }
                    }
                } else if has && !had {
                    // Where it will be attached, detaches may rely on its new Allow.
                    let after = desired
                        .policies
                        .get(name)
                        .map(|p| p.targets.clone())
                        .unwrap_or_default();
                    for t in after {
                        for dep in detaches_on.get(&t).into_iter().flatten() {
                            if let Some(j) = position(changes, dep) {
                                safety.push((j, c.address.clone()));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (i, dep) in safety.into_iter().chain(preferred) {
        if !changes[i].depends_on.contains(&dep) && !reaches(changes, &dep, &changes[i].address) {
            changes[i].depends_on.push(dep);
        }
    }
}
