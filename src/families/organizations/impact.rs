//! What a change reaches, in words: the accounts an organization policy
//! applies to, and the policies an account gains and loses when it moves.
//! Computed on the organization before and after the plan.

use std::collections::BTreeSet;

use super::Operation;
use crate::families::Operation as AnyOperation;
use crate::model::{OrgState, PolicyKind, Target};
use crate::plan::Plan;

/// The policies of `kind` in force for an account: on the root, on every OU
/// of its path, on the account itself.
fn in_force(state: &OrgState, account: &str, kind: PolicyKind) -> BTreeSet<String> {
    let Some(a) = state.accounts.get(account) else {
        return BTreeSet::new();
    };
    let mut levels = vec![Target::Root];
    levels.extend(a.ou.ancestors().into_iter().map(Target::Ou));
    if !a.ou.is_root() {
        levels.push(Target::Ou(a.ou.clone()));
    }
    levels.push(Target::Account(account.to_string()));
    // Policies whose targets were listed only in part (FullAWSAccess) say
    // nothing reliable about one account: left out.
    levels
        .iter()
        .flat_map(|t| state.policies_on(t, kind))
        .filter(|p| !state.partially_listed.contains(p))
        .collect()
}

fn reach(state: &OrgState, name: &str) -> (usize, Vec<String>) {
    let Some(p) = state.policies.get(name) else {
        return (0, Vec::new());
    };
    let accounts: BTreeSet<String> = p
        .targets
        .iter()
        .flat_map(|t| state.accounts_under(t).cloned())
        .collect();
    (
        accounts.len(),
        p.targets.iter().map(ToString::to_string).collect(),
    )
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "nothing".into()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Sets each change's impact lines.
pub fn annotate(plan: &mut Plan, before: &OrgState, after: &OrgState) {
    for change in &mut plan.changes {
        let AnyOperation::Organizations(op) = &change.operation else {
            continue;
        };
        change.impact = match op {
            Operation::CreatePolicy { name, .. } => {
                let (n, targets) = reach(after, name);
                vec![format!(
                    "attached to {}; applies to {n} account(s)",
                    if targets.is_empty() {
                        "nothing yet".to_string()
                    } else {
                        targets.join(", ")
                    }
                )]
            }
            Operation::UpdatePolicy { name, .. } => {
                let (n, _) = reach(after, name);
                vec![format!("the new document applies to {n} account(s)")]
            }
            Operation::MoveAccount { name, .. } => {
                let mut lines = Vec::new();
                for kind in PolicyKind::ALL {
                    let (was, will) = (in_force(before, name, kind), in_force(after, name, kind));
                    let gains: BTreeSet<String> = will.difference(&was).cloned().collect();
                    let loses: BTreeSet<String> = was.difference(&will).cloned().collect();
                    if !gains.is_empty() || !loses.is_empty() {
                        lines.push(format!(
                            "{} policies: gains {}; loses {}",
                            kind.short_name(),
                            list(&gains),
                            list(&loses)
                        ));
                    }
                }
                lines
            }
            Operation::AttachPolicy { target, .. } | Operation::DetachPolicy { target, .. } => {
                let n = after.accounts_under(target).count();
                vec![format!("{target} holds {n} account(s)")]
            }
            _ => Vec::new(),
        };
    }
}

