//! The dependency graph of a plan: needs resolved against what other changes
//! provide and what already exists, and a stable topological order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Change;
use crate::model::Address;

/// A change needs something that neither exists nor is made by the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{change} needs {need}, which neither exists nor is created by this plan (a bug in lzctl's planner; please report it)")]
pub struct UnmetNeed {
    /// The change.
    pub change: Address,
    /// What it needs.
    pub need: Address,
}

/// Turns every change's `needs` into `depends_on` edges on the changes that
/// provide them. A need no change provides must satisfy `exists`.
pub fn resolve_needs(
    changes: &mut [Change],
    exists: &dyn Fn(&Address) -> bool,
) -> Result<(), Box<UnmetNeed>> {
    let mut providers: HashMap<Address, Vec<Address>> = HashMap::new();
    for c in changes.iter() {
        for a in c.provided() {
            providers
                .entry(a.clone())
                .or_default()
                .push(c.address.clone());
        }
    }
    for c in changes.iter_mut() {
        for need in c.needs.clone() {
            let by: Vec<&Address> = providers
                .get(&need)
                .into_iter()
                .flatten()
                .filter(|p| **p != c.address)
                .collect();
            if by.is_empty() {
                if !exists(&need) {
                    return Err(Box::new(UnmetNeed {
                        change: c.address.clone(),
                        need,
                    }));
                }
                continue;
            }
            for p in by {
                if !c.depends_on.contains(p) {
                    c.depends_on.push(p.clone());
                }
            }
        }
    }
    Ok(())
}

/// Whether `from` depends, directly or not, on `to` (so adding `to → from`
/// would close a cycle).
pub fn reaches(changes: &[Change], from: &Address, to: &Address) -> bool {
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

/// The plan's changes form a cycle (a bug in a family's ordering rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plan's changes wait for each other in a cycle ({}); a bug in lzctl's planner, please report it", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
pub struct Cycle(pub Vec<Address>);

/// Topologically sorts changes (Kahn), ties broken by the operation's phase
/// then by position, so plans read the same every time. Edges to addresses
/// outside the plan are dropped.
pub fn order_changes(changes: Vec<Change>) -> Result<Vec<Change>, Cycle> {
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
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, deps) in waiting_on.iter().enumerate() {
        for &d in deps {
            dependants[d].push(i);
        }
    }
    let phase = |i: usize| changes[i].operation.phase();
    let mut ready: BTreeSet<(u16, usize)> = BTreeSet::new();
    for (i, deps) in waiting_on.iter().enumerate() {
        if deps.is_empty() {
            ready.insert((phase(i), i));
        }
    }
    let mut order = Vec::with_capacity(changes.len());
    while let Some(&(p, i)) = ready.iter().next() {
        ready.remove(&(p, i));
        order.push(i);
        for &j in &dependants[i] {
            if waiting_on[j].remove(&i) && waiting_on[j].is_empty() {
                ready.insert((phase(j), j));
            }
        }
    }
    if order.len() != changes.len() {
        let stuck = (0..changes.len())
            .filter(|i| !order.contains(i))
            .map(|i| changes[i].address.clone())
            .collect();
        return Err(Cycle(stuck));
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| {
            let mut c = slots[i].take().expect("each change once");
            c.depends_on.retain(|a| index.contains_key(a));
            c
        })
        .collect())
}
