//! Dependencies between changes that follow from what each change touches.
//! The executor runs changes concurrently as soon as their dependencies are
//! done, so every ordering the plan's safety relies on must be stated here:
//! - anything at or below an OU path waits for that OU's creation or rename
//!   (ids of renamed paths exist only after the rename);
//! - an account enters an OU only after the policies attached to that OU and
//!   its ancestors in this plan are in place (a preference: dropped where it
//!   would close a cycle with a safety rule);
//! - a policy update that removes an Allow waits for the attachments that
//!   keep its targets' Allow paths; detaches that rely on an update's new
//!   Allow wait for that update.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Operation};
use crate::model::{Address, OrgState, OuPath, PolicyKind, Target};
use crate::policy::document::has_allow_statement;

/// OU paths a change needs to exist (post-rename paths).
fn needed_paths(op: &Operation) -> Vec<OuPath> {
    match op {
        Operation::CreateOu { path, .. } => path.parent().into_iter().collect(),
        Operation::RenameOu { to, .. } => to.parent().into_iter().collect(),
        Operation::CreateAccount { ou, .. } => vec![ou.clone()],
        Operation::DeleteOu { path } => vec![path.clone()],
        Operation::MoveAccount { from, to, .. } => vec![from.clone(), to.clone()],
        Operation::AttachPolicy {
            target: Target::Ou(p),
            ..
        }
        | Operation::DetachPolicy {
            target: Target::Ou(p),
            ..
        }
        | Operation::SetTags {
            target: Target::Ou(p),
            ..
        } => vec![p.clone()],
        _ => vec![],
    }
}

/// The account a change acts on, when it is created in the plan.
fn needed_account(op: &Operation) -> Option<&str> {
    match op {
        Operation::AttachPolicy {
            target: Target::Account(n),
            ..
        }
        | Operation::DetachPolicy {
            target: Target::Account(n),
            ..
        }
        | Operation::SetTags {
            target: Target::Account(n),
            ..
        }
        | Operation::MoveAccount { name: n, .. } => Some(n),
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

/// Adds the dependencies above to `changes`. `working` is the observed state
/// (renames applied) and `desired` the config's.
pub fn add_structural_dependencies(changes: &mut [Change], working: &OrgState, desired: &OrgState) {
    let mut ou_made: BTreeMap<OuPath, Address> = BTreeMap::new();
    let mut account_made: BTreeMap<String, Address> = BTreeMap::new();
    let mut attaches_on: BTreeMap<Target, Vec<(String, Address)>> = BTreeMap::new();
    let mut detaches_on: BTreeMap<Target, Vec<Address>> = BTreeMap::new();
    for c in changes.iter() {
        match &c.operation {
            Operation::CreateOu { path, .. } => {
                ou_made.insert(path.clone(), c.address.clone());
            }
            Operation::RenameOu { to, .. } => {
                ou_made.insert(to.clone(), c.address.clone());
            }
            Operation::CreateAccount { name, .. } => {
                account_made.insert(name.clone(), c.address.clone());
            }
            Operation::AttachPolicy { policy, target, .. } => attaches_on
                .entry(target.clone())
                .or_default()
                .push((policy.clone(), c.address.clone())),
            Operation::DetachPolicy { target, .. } => detaches_on
                .entry(target.clone())
                .or_default()
                .push(c.address.clone()),
            _ => {}
        }
    }
    let targets_of = |name: &str| -> BTreeSet<Target> {
        // Every target the policy has now or will have.
        working
            .policies
            .get(name)
            .into_iter()
            .chain(desired.policies.get(name))
            .flat_map(|p| p.targets.iter().cloned())
            .collect()
    };
    // Safety rules first; preferences are added only where they close no cycle
    // with what safety requires.
    let mut extra: Vec<(usize, Address)> = Vec::new();
    let mut preferred: Vec<(usize, Address)> = Vec::new();
    let updated: BTreeMap<&str, Address> = changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::UpdatePolicy { name, .. } => Some((name.as_str(), c.address.clone())),
            _ => None,
        })
        .collect();
    for (i, c) in changes.iter().enumerate() {
        for path in needed_paths(&c.operation) {
            for a in with_ancestors(&path) {
                if let Some(dep) = ou_made.get(&a).filter(|d| **d != c.address) {
                    extra.push((i, dep.clone()));
                }
            }
        }
        if let Some(dep) = needed_account(&c.operation)
            .and_then(|n| account_made.get(n))
            .filter(|d| **d != c.address)
        {
            extra.push((i, dep.clone()));
        }
        if let Operation::CreateAccount { ou: to, .. } | Operation::MoveAccount { to, .. } =
            &c.operation
        {
            let guarded =
                std::iter::once(Target::Root).chain(with_ancestors(to).into_iter().map(Target::Ou));
            for t in guarded {
                for (_, dep) in attaches_on.get(&t).into_iter().flatten() {
                    preferred.push((i, dep.clone()));
                }
            }
        }
        if let Operation::AttachPolicy { policy, .. } = &c.operation {
            // New targets get the updated document, not the old one.
            if let Some(dep) = updated.get(policy.as_str()) {
                preferred.push((i, dep.clone()));
            }
        }
        if let Operation::DeletePolicy { name, .. } = &c.operation {
            // A policy still attached to an OU cannot be deleted: wait for the OU's deletion.
            for t in targets_of(name) {
                if let Target::Ou(p) = t {
                    if let Some(j) = changes.iter().position(
                        |x| matches!(&x.operation, Operation::DeleteOu { path } if *path == p),
                    ) {
                        extra.push((i, changes[j].address.clone()));
                    }
                }
            }
        }
        if let Operation::UpdatePolicy {
            name,
            kind: PolicyKind::Scp,
            old_content,
            content,
            ..
        } = &c.operation
        {
            let (had, has) = (
                has_allow_statement(old_content),
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
                            extra.push((i, dep.clone()));
                        }
                    }
                    // Or for another policy already there to start granting.
                    for other in changes.iter() {
                        if let Operation::UpdatePolicy {
                            name: q,
                            old_content: qo,
                            content: qn,
                            ..
                        } = &other.operation
                        {
                            let q_there = working
                                .policies
                                .get(q)
                                .is_some_and(|p| p.targets.contains(&t));
                            if q != name
                                && q_there
                                && !has_allow_statement(qo)
                                && has_allow_statement(qn)
                            {
                                extra.push((i, other.address.clone()));
                            }
                        }
                    }
                    // Or for the target to be gone.
                    if let Target::Ou(p) = &t {
                        if let Some(del) = changes.iter().find(
                            |x| matches!(&x.operation, Operation::DeleteOu { path } if path == p),
                        ) {
                            extra.push((i, del.address.clone()));
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
                        if let Some(j) = changes.iter().position(|x| &x.address == dep) {
                            extra.push((j, c.address.clone()));
                        }
                    }
                }
            }
        }
    }
    for (i, dep) in extra.into_iter().chain(preferred) {
        if !changes[i].depends_on.contains(&dep) && !reaches(changes, &dep, &changes[i].address) {
            changes[i].depends_on.push(dep);
        }
    }
}

/// Whether `from` depends, directly or not, on `to` (adding `to → from` would close a cycle).
fn reaches(changes: &[Change], from: &Address, to: &Address) -> bool {
    let by_address: BTreeMap<&Address, &Change> = changes.iter().map(|c| (&c.address, c)).collect();
    let mut stack = vec![from];
    let mut seen: BTreeSet<&Address> = BTreeSet::new();
    while let Some(a) = stack.pop() {
        if a == to {
            return true;
        }
        if seen.insert(a) {
            if let Some(c) = by_address.get(a) {
                stack.extend(c.depends_on.iter());
            }
        }
    }
    false
}
