//! Orders changes so that every change comes after what it depends on, and
//! otherwise in a fixed phase order (types, OUs, policies, accounts,
//! attachments, tags, deletions) so that plans read the same every time.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Operation};

fn phase(op: &Operation) -> u8 {
    match op {
        Operation::EnablePolicyType { .. } => 0,
        Operation::RenameOu { .. } => 1,
        Operation::CreateOu { .. } => 2,
        Operation::CreatePolicy { .. } | Operation::UpdatePolicy { .. } => 3,
        Operation::CreateAccount { .. } => 4,
        Operation::MoveAccount { .. } => 5,
        Operation::AttachPolicy { .. } | Operation::DetachPolicy { .. } => 6,
        Operation::SetTags { .. } => 7,
        Operation::DeletePolicy { .. } => 8,
        Operation::DeleteOu { .. } => 9,
    }
}

/// Topologically sorts changes (Kahn), ties broken by phase then position.
/// Dependencies on addresses outside the plan are dropped.
pub fn order_changes(changes: Vec<Change>) -> Vec<Change> {
    let index: BTreeMap<_, _> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.clone(), i))
        .collect();
    let mut waiting_on: Vec<BTreeSet<usize>> = changes
        .iter()
        .map(|c| {
            c.depends_on
                .iter()
                .filter_map(|a| index.get(a).copied())
                .collect()
        })
        .collect();
    let mut ready: BTreeSet<(u8, usize)> = BTreeSet::new();
    for (i, deps) in waiting_on.iter().enumerate() {
        if deps.is_empty() {
            ready.insert((phase(&changes[i].operation), i));
        }
    }
    let mut order = Vec::with_capacity(changes.len());
    while let Some(&(p, i)) = ready.iter().next() {
        ready.remove(&(p, i));
        order.push(i);
        for (j, deps) in waiting_on.iter_mut().enumerate() {
            if deps.remove(&i) && deps.is_empty() {
                ready.insert((phase(&changes[j].operation), j));
            }
        }
    }
    assert_eq!(order.len(), changes.len(), "plan dependencies form a cycle");
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| {
            let mut c = slots[i].take().expect("each change once");
            c.depends_on.retain(|a| index.contains_key(a));
            c
        })
        .collect()
}
