//! The Organizations family: OUs, accounts, organization policies and their
//! attachments, tags. Its observed state is [`OrgState`], the backbone the
//! other families address (OU paths, account names).

mod apply;
mod attachments;
mod diff;
mod identity;
mod impact;
mod observe;
mod ordering;
pub mod simulate;
pub mod staged;
#[cfg(test)]
mod tests;

pub use diff::{
    diff, existing_addresses, implicit_policy, plan_base, targets_to_complete, working_state,
    DiffInput, ACCOUNT_MANAGEMENT_PRINCIPAL, NO_ROLLOUTS,
};
pub use observe::{complete_targets, observe_organization};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{DiffContext, DiffError, FamilyDiff, FamilyOperation, Observed, Slot};
use crate::config::Desired;
use crate::plan::{Notice, Plan};
use crate::policy::guard::{new_lockouts, protected_principals, LockoutRefused};
use crate::apply::{StepContext, StepError};
use crate::model::{Address, OrgState, OuPath, PolicyKind, Tags, Target};
use crate::observe::{ObserveContext, ObserveError};

/// Registration of the family (see `families!`).
pub struct Family;

impl super::Family for Family {
    type Desired = ();
    type Observed = OrgState;

    fn observe<'a>(ctx: &'a ObserveContext<'a>) -> BoxFuture<'a, Result<OrgState, ObserveError>> {
        Box::pin(observe::observe_for_plan(ctx))
    }

    fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
        diff::family_diff(ctx)
    }

    /// The lockout guard: applies the plan to a model of the organization
    /// and refuses it when a principal the landing zone depends on would
    /// newly be denied (unless `--allow-lockout`, then they are notices).
    /// Then says what each policy change and account move reaches.
    fn check_plan(ctx: &DiffContext<'_>, plan: &mut Plan) -> Result<(), DiffError> {
        let (before, after) = states_around(ctx.desired, ctx.observed, plan).map_err(|v| {
            DiffError::Internal(format!("modelling the organization after the plan: {v}"))
        })?;
        let protected = protected_principals(&ctx.desired.organization.break_glass_roles);
        let lockouts = new_lockouts(
            &before,
            &after,
            &protected,
            &ctx.desired.organization.governed_regions,
        );
        if !lockouts.is_empty() {
            if !ctx.options.allow_lockout {
                return Err(LockoutRefused(lockouts).into());
            }
            plan.notices.extend(lockouts.into_iter().map(|l| Notice {
                address: Address::account_named(&l.account),
                message: format!("LOCKOUT ALLOWED: {l}"),
                pending: false,
            }));
        }
        impact::annotate(plan, &before, &after);
        Ok(())
    }
}

/// The organization as the plan finds it and as it leaves it (modelled).
pub fn states_around(
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
) -> Result<(OrgState, OrgState), simulate::Violation> {
    let input = DiffInput::new(desired, observed);
    let before = plan_base(&input, &observed.organizations);
    let mut after = before.clone();
    simulate::apply_changes(&mut after, &plan.changes, &desired.limits)?;
    Ok((before, after))
}

/// What an Organizations change does; enough to apply it without the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    /// Enable a policy type on the root.
    EnablePolicyType {
        /// The type.
        kind: PolicyKind,
    },
    /// Create an OU (its parent exists by then).
    CreateOu {
        /// New path.
        path: OuPath,
        /// Tags, the managed marker included.
        tags: Tags,
    },
    /// Rename an OU in place.
    RenameOu {
        /// Path as it is now.
        from: OuPath,
        /// Path after the rename (same parent).
        to: OuPath,
        /// Whether lzctl owns it (its path tag is updated too).
        managed: bool,
    },
    /// Delete an empty managed OU.
    DeleteOu {
        /// Path.
        path: OuPath,
    },
    /// Create an account with CreateAccount, then move it into its OU.
    CreateAccount {
        /// Name.
        name: String,
        /// Root email.
        email: String,
        /// Destination OU.
        ou: OuPath,
        /// Tags.
        tags: Tags,
        /// The destination is governed by Control Tower: count against its
        /// account-operation limit, one move per destination OU at a time.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        governed: bool,
    },
    /// Move an account between OUs.
    MoveAccount {
        /// Name.
        name: String,
        /// Current OU.
        from: OuPath,
        /// Destination OU.
        to: OuPath,
        /// As for CreateAccount.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        governed: bool,
    },
    /// Rename an account (Account Management PutAccountName).
    RenameAccount {
        /// The name in the file (the plan's key for the account).
        name: String,
        /// Account id.
        id: String,
        /// The name AWS has now.
        from: String,
    },
    /// Create a policy.
    CreatePolicy {
        /// Name.
        name: String,
        /// Type.
        kind: PolicyKind,
        /// Description.
        description: String,
        /// Minified document.
        content: String,
    },
    /// Change a policy's document or description.
    UpdatePolicy {
        /// Name.
        name: String,
        /// Type.
        kind: PolicyKind,
        /// Description wanted.
        description: String,
        /// Document wanted.
        content: String,
    },
    /// Record lzctl's ownership of a policy it did not create (the
    /// `managed-by=lzctl` tag; the description is left as it is).
    AdoptPolicy {
        /// Name.
        name: String,
        /// Type.
        kind: PolicyKind,
    },
    /// Delete a managed policy (after every detach).
    DeletePolicy {
        /// Name.
        name: String,
        /// Type.
        kind: PolicyKind,
    },
    /// The end of a staged document change (`crate::rollout::staged`): the
    /// staged copy, now attached wherever the policy was, takes the policy's
    /// name; the policy itself, detached everywhere by then, is deleted first.
    ReplacePolicy {
        /// The policy's name.
        name: String,
        /// Type.
        kind: PolicyKind,
        /// The staged copy's name.
        staged: String,
        /// The policy still exists (false when an earlier apply deleted it
        /// and stopped before the rename).
        delete: bool,
    },
    /// Attach a policy to a target.
    AttachPolicy {
        /// Policy name.
        policy: String,
        /// Type.
        kind: PolicyKind,
        /// Target.
        target: Target,
    },
    /// Detach a policy from a target.
    DetachPolicy {
        /// Policy name.
        policy: String,
        /// Type.
        kind: PolicyKind,
        /// Target.
        target: Target,
    },
    /// One wave of a staged SCP rollout: the attachment steps of its
    /// targets, a soak, a look at the wave's CloudTrail denials, and the
    /// undo steps when they exceed the threshold (see `crate::rollout`).
    RolloutWave(Box<RolloutWave>),
    /// Add or overwrite tags of an OU or account. Keys the config does not
    /// name are left alone: other tools tag OUs too.
    SetTags {
        /// The OU or account.
        target: Target,
        /// Tags to add or overwrite.
        set: Tags,
    },
}

/// One wave of a staged rollout, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutWave {
    /// The policy rolled out.
    pub policy: String,
    /// Its type (SCP).
    pub kind: PolicyKind,
    /// This wave (1-based) and the number of waves.
    pub wave: usize,
    /// Number of waves.
    pub of: usize,
    /// The wave's targets with their steps.
    pub targets: Vec<crate::rollout::WaveTarget>,
    /// Accounts under the targets (names), the management account left out.
    pub accounts: Vec<String>,
    /// Soak in milliseconds.
    pub soak_ms: u64,
    /// New SCP denials tolerated.
    pub max_denials: u32,
    /// The organization trail's bucket.
    pub trail: crate::rollout::TrailLocation,
    /// The account whose member role reads the trail bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_account: Option<String>,
    /// Regions whose logs are read.
    pub regions: Vec<String>,
    /// Organization id (log file paths).
    pub organization_id: String,
    /// Digest of the document rolled out (the halt tag names it).
    pub content_digest: String,
    /// The halt tag this wave picks up from (removed once the wave passes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<String>,
    /// The halt is for this very document: only `apply --resume` runs it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_resume: bool,
}

impl RolloutWave {
    /// The soak.
    pub fn soak(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.soak_ms)
    }

    /// The attachment addresses this wave makes exist.
    pub fn attached(&self) -> Vec<Address> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.steps.iter().filter_map(|s| match s {
                    crate::rollout::WaveStep::Attach(p) => {
                        Some(Address::attachment(self.kind, p, &t.target))
                    }
                    crate::rollout::WaveStep::Detach(_) => None,
                })
            })
            .collect()
    }
}

/// Control Tower runs at most this many account operations at once
/// (Control Tower quotas; adjustable up to 10).
pub const CONTROL_TOWER_ACCOUNT_OPERATIONS: usize = 5;

/// The slot of account operations under Control Tower.
pub const ACCOUNT_OPERATION_SLOT: &str = "controltower:account-operation";

/// The slots of an account operation under Control Tower into `to`.
pub fn governed_slots(to: &OuPath) -> Vec<Slot> {
    vec![
        Slot {
            name: ACCOUNT_OPERATION_SLOT.into(),
            capacity: CONTROL_TOWER_ACCOUNT_OPERATIONS,
        },
        Slot {
            name: format!("controltower:move-into:{to}"),
            capacity: 1,
        },
    ]
}

/// Names of policies lzctl never changes, whatever a plan says.
fn is_foreign_policy(name: &str) -> bool {
    crate::model::is_control_tower_policy(name)
        || name == "FullAWSAccess"
        || name == "RCPFullAWSAccess"
}

impl FamilyOperation for Operation {
    fn verb(&self) -> &'static str {
        match self {
            Operation::EnablePolicyType { .. } => "enable policy type",
            Operation::CreateOu { .. } => "create OU",
            Operation::RenameOu { .. } => "rename OU",
            Operation::DeleteOu { .. } => "delete OU",
            Operation::CreateAccount { .. } => "create account",
            Operation::MoveAccount { .. } => "move account",
            Operation::RenameAccount { .. } => "rename account",
            Operation::CreatePolicy { .. } => "create policy",
            Operation::UpdatePolicy { .. } => "update policy",
            Operation::AdoptPolicy { .. } => "adopt policy",
            Operation::DeletePolicy { .. } => "delete policy",
            Operation::ReplacePolicy { .. } => "replace policy",
            Operation::AttachPolicy { .. } => "attach policy",
            Operation::DetachPolicy { .. } => "detach policy",
            Operation::RolloutWave(_) => "roll out wave",
            Operation::SetTags { .. } => "set tags",
        }
    }

    fn group(&self) -> &'static str {
        match self {
            Operation::EnablePolicyType { .. } => "Organization",
            Operation::CreateOu { .. }
            | Operation::RenameOu { .. }
            | Operation::DeleteOu { .. } => "Organizational units",
            Operation::CreateAccount { .. }
            | Operation::MoveAccount { .. }
            | Operation::RenameAccount { .. } => "Accounts",
            Operation::CreatePolicy { .. }
            | Operation::UpdatePolicy { .. }
            | Operation::AdoptPolicy { .. }
            | Operation::DeletePolicy { .. }
            | Operation::ReplacePolicy { .. } => "Policies",
            Operation::AttachPolicy { .. }
            | Operation::DetachPolicy { .. }
            | Operation::RolloutWave(_) => "Policy attachments",
            Operation::SetTags { .. } => "Tags",
        }
    }

    fn phase(&self) -> u16 {
        match self {
            Operation::EnablePolicyType { .. } => 0,
            Operation::RenameOu { .. } => 1,
            Operation::CreateOu { .. } => 2,
            Operation::CreatePolicy { .. }
            | Operation::UpdatePolicy { .. }
            | Operation::AdoptPolicy { .. } => 3,
            Operation::CreateAccount { .. } | Operation::RenameAccount { .. } => 4,
            Operation::MoveAccount { .. } => 5,
            Operation::AttachPolicy { .. }
            | Operation::DetachPolicy { .. }
            | Operation::RolloutWave(_) => 6,
            Operation::SetTags { .. } => 7,
            Operation::DeletePolicy { .. } | Operation::ReplacePolicy { .. } => 8,
            Operation::DeleteOu { .. } => 9,
        }
    }

    fn needs(&self) -> Vec<Address> {
        let parent_of = |path: &OuPath| {
            path.parent()
                .map(|p| Address::ou_with_ancestors(&p))
                .unwrap_or_default()
        };
        match self {
            Operation::EnablePolicyType { .. } => vec![],
            Operation::CreateOu { path, .. } => parent_of(path),
            Operation::RenameOu { from, to, .. } => {
                let mut needs = parent_of(to);
                needs.push(Address::ou(from));
                needs
            }
            Operation::DeleteOu { path } => vec![Address::ou(path)],
            Operation::CreateAccount { ou, .. } => Address::ou_with_ancestors(ou),
            Operation::MoveAccount { name, from, to, .. } => {
                let mut needs = vec![Address::account_named(name)];
                needs.extend(Address::ou_with_ancestors(from));
                needs.extend(Address::ou_with_ancestors(to));
                needs
            }
            Operation::RenameAccount { name, .. } => vec![Address::account_named(name)],
            Operation::CreatePolicy { .. } => vec![],
            Operation::UpdatePolicy { name, kind, .. }
            | Operation::AdoptPolicy { name, kind }
            | Operation::DeletePolicy { name, kind } => vec![Address::policy(*kind, name)],
            Operation::ReplacePolicy { kind, staged, .. } => vec![Address::policy(*kind, staged)],
            Operation::AttachPolicy {
                policy,
                kind,
                target,
            } => {
                let mut needs = vec![Address::policy(*kind, policy), Address::policy_type(*kind)];
                needs.extend(Address::of_target(target));
                needs
            }
            Operation::DetachPolicy {
                policy,
                kind,
                target,
            } => {
                let mut needs = vec![Address::policy(*kind, policy)];
                needs.extend(Address::of_target(target));
                needs
            }
            Operation::RolloutWave(w) => {
                let mut needs = vec![
                    Address::policy(w.kind, &w.policy),
                    Address::policy_type(w.kind),
                ];
                for t in &w.targets {
                    needs.extend(Address::of_target(&t.target));
                }
                needs
            }
            Operation::SetTags { target, .. } => Address::of_target(target),
        }
    }

    fn counts_toward_concurrency(&self) -> bool {
        // A wave mostly soaks; its order comes from the waves before it.
        !matches!(self, Operation::RolloutWave(_))
    }

    fn isolates_failure(&self) -> bool {
        // A halted rollout stops its later waves, not the rest of the plan.
        matches!(self, Operation::RolloutWave(_))
    }

    fn slots(&self) -> Vec<Slot> {
        match self {
            Operation::CreateAccount {
                ou, governed: true, ..
            } => governed_slots(ou),
            Operation::MoveAccount {
                to, governed: true, ..
            } => governed_slots(to),
            _ => vec![],
        }
    }

    fn refusal(&self) -> Option<String> {
        let name = match self {
            Operation::CreatePolicy { name, .. }
            | Operation::UpdatePolicy { name, .. }
            | Operation::AdoptPolicy { name, .. }
            | Operation::DeletePolicy { name, .. }
            | Operation::ReplacePolicy { name, .. } => name,
            Operation::AttachPolicy { policy, .. } | Operation::DetachPolicy { policy, .. } => {
                policy
            }
            Operation::RolloutWave(w) => {
                return w
                    .targets
                    .iter()
                    .flat_map(|t| t.steps.iter().chain(&t.undo))
                    .map(|s| match s {
                        crate::rollout::WaveStep::Attach(p) | crate::rollout::WaveStep::Detach(p) => p,
                    })
                    .find(|p| is_foreign_policy(p))
                    .map(|p| format!("{p} belongs to Control Tower or AWS; lzctl does not change it"));
            }
            _ => return None,
        };
        is_foreign_policy(name)
            .then(|| format!("{name} belongs to Control Tower or AWS; lzctl does not change it"))
    }

    fn details(&self) -> Vec<String> {
        match self {
            Operation::CreatePolicy { content, .. } => crate::policy::document::pretty(content)
                .lines()
                .map(|l| format!("  {l}"))
                .collect(),
            Operation::RolloutWave(w) => crate::rollout::describe_wave(w),
            _ => vec![],
        }
    }

    fn apply<'a>(&'a self, ctx: &'a StepContext<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(apply::execute(ctx, self))
    }
}
