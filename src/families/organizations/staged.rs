//! Staged document changes. Waves stage where a policy is attached, and a
//! new document for an attached policy would otherwise reach every target at
//! once. So a policy with `rollout:` whose document changes while it is
//! attached gets a copy with the new document (`NAME (staged)`); the waves
//! attach the copy in the policy's place, target by target, soaking and
//! watching as for any staged attachment. After the last wave the policy,
//! detached everywhere by then, is deleted and the copy takes its name
//! ([`Operation::ReplacePolicy`](super::Operation::ReplacePolicy)).
//!
//! It is done by rewriting what the diff is asked for, so the attachment
//! planner's safe order, the waves, their undo and the halt tag work
//! unchanged. An interrupted apply is picked up from what exists: the copy
//! is found by its name, and while it exists the change goes on.

use std::collections::BTreeMap;

use crate::model::{OrgState, Policy, PolicyKind};
use crate::policy::document::normalize;
use crate::rollout::RolloutSpec;

/// What a staged copy's name adds to the policy's.
pub const STAGED_SUFFIX: &str = " (staged)";

/// The policy whose staged copy `name` is, if it is one.
pub fn copy_of(name: &str) -> Option<&str> {
    name.strip_suffix(STAGED_SUFFIX)
}

/// The name of a policy's staged copy.
pub fn staged_name(policy: &str) -> String {
    format!("{policy}{STAGED_SUFFIX}")
}

/// One document change carried out in waves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staging {
    /// The policy.
    pub policy: String,
    /// Its staged copy.
    pub staged: String,
    /// Type (SCP).
    pub kind: PolicyKind,
    /// The policy still exists and is deleted at the end.
    pub delete: bool,
}

/// What the diff is asked for once staged document changes are written in.
#[derive(Debug, Clone)]
pub struct Rewritten {
    /// The file's organization, with each staged policy's copy in its place.
    pub desired: OrgState,
    /// Rollouts, keyed by the copy for a staged policy.
    pub rollouts: BTreeMap<String, RolloutSpec>,
    /// The staged changes.
    pub stagings: Vec<Staging>,
}

/// Rewrites `desired` and `rollouts` for the document changes to stage;
/// `None` when there are none.
///
/// A change is staged when the policy has `rollout:`, lzctl created it, its
/// document differs, it is attached somewhere, and its copy's name is free
/// and short enough; and always while its copy exists (an earlier apply
/// began it). The copy wants the file's document, description and targets;
/// the policy, while it exists, keeps what it has and wants no target.
pub fn rewrite(
    desired: &OrgState,
    rollouts: &BTreeMap<String, RolloutSpec>,
    observed: &OrgState,
) -> Option<Rewritten> {
    let mut out: Option<Rewritten> = None;
    for (name, want) in &desired.policies {
        if want.kind != PolicyKind::Scp {
            continue;
        }
        let staged = staged_name(name);
        let have = observed.policies.get(name);
        let copy = observed
            .policies
            .get(&staged)
            .filter(|c| c.kind == want.kind && c.is_created_by_lzctl());
        let begins = || {
            rollouts.contains_key(name)
                && staged.len() <= crate::model::MAX_POLICY_NAME_LEN
                && !desired.policies.contains_key(&staged)
                && !observed.policies.contains_key(&staged)
                && have.is_some_and(|h| {
                    h.kind == want.kind
                        && h.is_created_by_lzctl()
                        && !h.targets.is_empty()
                        && normalize(&h.content) != normalize(&want.content)
                })
        };
        if copy.is_none() && !begins() {
            continue;
        }
        let r = out.get_or_insert_with(|| Rewritten {
            desired: desired.clone(),
            rollouts: rollouts.clone(),
            stagings: Vec::new(),
        });
        r.desired.policies.insert(
            staged.clone(),
            Policy {
                id: None,
                ..want.clone()
            },
        );
        match have {
            Some(h) => {
                r.desired.policies.insert(
                    name.clone(),
                    Policy {
                        id: None,
                        targets: Default::default(),
                        content: h.content.clone(),
                        description: h.description.clone(),
                        ..want.clone()
                    },
                );
            }
            None => {
                r.desired.policies.remove(name);
            }
        }
        if let Some(spec) = r.rollouts.remove(name) {
            r.rollouts.insert(staged.clone(), spec);
        }
        r.stagings.push(Staging {
            policy: name.clone(),
            staged,
            kind: want.kind,
            delete: have.is_some(),
        });
    }
    out
}
