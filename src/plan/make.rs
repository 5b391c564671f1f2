//! Making a plan: every family's diff, their needs resolved against each
//! other and against what exists, a stable order, then the families' checks
//! of the whole plan.

use std::collections::BTreeSet;

use super::graph::{Cycle, UnmetNeed};
use super::{order_changes, resolve_needs, Plan, PlanSubject, PLAN_FORMAT_VERSION};
use crate::config::Desired;
use crate::families::{check_all, diff_all, DiffContext, DiffError, Observed};
use crate::model::Address;

/// How to plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Accept a plan that locks protected principals out (listed as notices).
    pub allow_lockout: bool,
}

/// Why there is no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A family refused, or its checks failed.
    #[error(transparent)]
    Diff(#[from] DiffError),
    /// A change needs what nothing provides.
    #[error(transparent)]
    UnmetNeed(#[from] Box<UnmetNeed>),
    /// Changes wait for each other.
    #[error(transparent)]
    Cycle(#[from] Cycle),
}

/// Compares the desired landing zone with the observed one.
pub fn make_plan(
    desired: &Desired,
    observed: &Observed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let ctx = DiffContext {
        desired,
        observed,
        options,
    };
    let mut changes = Vec::new();
    let mut unmanaged = Vec::new();
    let mut notices = Vec::new();
    let mut existing: BTreeSet<Address> = BTreeSet::new();
    let mut orderings = Vec::new();
    for family in diff_all(&ctx)? {
        changes.extend(family.plan.changes);
        unmanaged.extend(family.plan.unmanaged);
        notices.extend(family.plan.notices);
        existing.extend(family.existing);
        orderings.extend(family.orderings);
    }
    resolve_needs(&mut changes, &|a| existing.contains(a))?;
    let present: BTreeSet<Address> = changes.iter().map(|c| c.address.clone()).collect();
    for (change, waits_for) in orderings {
        if !present.contains(&waits_for) {
            continue;
        }
        if let Some(c) = changes.iter_mut().find(|c| c.address == change) {
            if !c.depends_on.contains(&waits_for) {
                c.depends_on.push(waits_for);
            }
        }
    }
    let changes = order_changes(changes)?;
    let org = &observed.organizations;
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        lzctl_version: env!("CARGO_PKG_VERSION").to_string(),
        config_path: desired.path.display().to_string(),
        config_digest: desired.digest.clone(),
        state_digest: observed.digest(),
        subject: PlanSubject {
            organization_id: org.organization_id.clone().unwrap_or_default(),
            management_account: org.management_account_id.clone().unwrap_or_default(),
            caller_arn: observed.caller.arn.clone(),
        },
        changes,
        unmanaged,
        notices,
    };
    check_all(&ctx, &mut plan)?;
    Ok(plan)
}
