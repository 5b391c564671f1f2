//! The StackSets family: the file's `baselines:` as service-managed
//! CloudFormation stack sets, rolled out to OUs (each with its subtree) in
//! the governed regions.
//!
//! - Ownership: lzctl's stack sets carry the description prefix `[lzctl] `
//!   (visible in ListStackSets, so foreign stack sets cost no further call)
//!   and the tag `managed-by=lzctl`. Control Tower's (`AWSControlTower*`) and
//!   every other stack set are listed as unmanaged and never touched.
//! - Plan: per stack set at most three changes, each exactly one stack set
//!   operation: `stackset-retire:NAME` (DeleteStackInstances for targets,
//!   regions or accounts that left), `stackset:NAME` (CreateStackSet with its
//!   first CreateStackInstances, or UpdateStackSet for template, parameter
//!   and setting changes and for repairs), `stackset-deploy:NAME`
//!   (CreateStackInstances for targets, regions and accounts that are new).
//!   An unchanged stack set costs no operation.
//! - Apply: every change holds the stack set's slot (never two operations
//!   on one stack set), runs behind the Control Tower gate, waits on
//!   DescribeStackSetOperation through the shared waiter, and on failure
//!   reports account × region × reason (ListStackSetOperationResults), also
//!   into the audit log. A failed stack set stops its dependants only.
//! - With Control Tower present, AutoDeployment is off (unless the file says
//!   otherwise) and lzctl deploys to accounts it vends after their
//!   enrollment (see `diff.rs`).

mod apply;
mod config;
mod diff;
mod observe;
mod template;
#[cfg(test)]
mod tests;

pub use config::{
    AccountRef, Amount, Baseline, Baselines, CallAs, ParamValue, RegionConcurrency, Rollout,
};
pub use template::{CfnTemplate, ParamSpec};

use std::collections::{BTreeMap, BTreeSet};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{DiffContext, DiffError, FamilyDiff, FamilyOperation, Slot};
use crate::apply::{StepContext, StepError};
use crate::model::{Address, OuPath};
use crate::observe::{ObserveContext, ObserveError};

/// The service principal of the StackSets delegated administrator.
pub const STACKSETS_ADMIN_PRINCIPAL: &str = "member.org.stacksets.cloudformation.amazonaws.com";

/// Name prefixes of stack sets Control Tower (and its predecessor, the
/// Landing Zone solution) owns.
pub const CONTROL_TOWER_STACKSET_PREFIXES: &[&str] =
    &["AWSControlTower", "StackSet-AWS-Landing-Zone", "AWS-Landing-Zone"];

/// Whether a stack set belongs to Control Tower.
pub fn is_control_tower_stackset(name: &str) -> bool {
    CONTROL_TOWER_STACKSET_PREFIXES
        .iter()
        .any(|p| name.starts_with(p))
}

/// Stack set operations lzctl keeps in flight at once (its own bound, not an
/// AWS quota): they mostly wait, so they do not count against
/// `--apply-concurrency`.
pub const MAX_PARALLEL_OPERATIONS: usize = 10;

/// Registration of the family (see `families!`).
pub struct Family;

/// One stack instance that is not CURRENT (or whose last operation has not
/// settled).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstanceState {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// CURRENT, OUTDATED or INOPERABLE.
    pub status: String,
    /// PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, INOPERABLE,
    /// SKIPPED_SUSPENDED_ACCOUNT, FAILED_IMPORT.
    pub detailed_status: String,
    /// Why, when AWS says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stack set lzctl owns, as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSetState {
    /// StackSetId.
    pub id: String,
    /// Description (with lzctl's prefix).
    pub description: String,
    /// TemplateBody as stored.
    pub template: String,
    /// Parameters by key.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Capabilities.
    #[serde(default)]
    pub capabilities: BTreeSet<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// SERVICE_MANAGED or SELF_MANAGED.
    pub permission_model: String,
    /// AutoDeployment enabled.
    pub auto_deployment: bool,
    /// ManagedExecution active.
    pub managed_execution: bool,
    /// OUs targeted (ids; the root id when the root is).
    #[serde(default)]
    pub ou_ids: BTreeSet<String>,
    /// Regions of the stack set.
    #[serde(default)]
    pub regions: BTreeSet<String>,
    /// CURRENT instances: account id → regions.
    #[serde(default)]
    pub current: BTreeMap<String, BTreeSet<String>>,
    /// Every other instance, in full.
    #[serde(default)]
    pub other: Vec<InstanceState>,
}

impl StackSetState {
    /// Whether an instance exists in (account, region), whatever its status.
    pub fn has_instance(&self, account: &str, region: &str) -> bool {
        self.current
            .get(account)
            .is_some_and(|regions| regions.contains(region))
            || self
                .other
                .iter()
                .any(|i| i.account == account && i.region == region)
    }

    /// Regions with at least one instance, and the stack set's own regions.
    pub fn all_regions(&self) -> BTreeSet<String> {
        let mut out = self.regions.clone();
        out.extend(self.current.values().flatten().cloned());
        out.extend(self.other.iter().map(|i| i.region.clone()));
        out
    }

    /// Accounts with at least one instance.
    pub fn accounts(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.current.keys().cloned().collect();
        out.extend(self.other.iter().map(|i| i.account.clone()));
        out
    }

    /// Number of instances.
    pub fn instance_count(&self) -> usize {
        self.current.values().map(BTreeSet::len).sum::<usize>() + self.other.len()
    }
}

/// What lzctl reads of StackSets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSetsState {
    /// Whether StackSets were read (they are not when the file has no
    /// `baselines:` and no `prune: true`).
    #[serde(default)]
    pub read: bool,
    /// Stack sets lzctl owns, by name.
    #[serde(default)]
    pub owned: BTreeMap<String, StackSetState>,
    /// Every other stack set, by name → why it is not lzctl's.
    #[serde(default)]
    pub foreign: BTreeMap<String, String>,
    /// The account registered as StackSets delegated administrator (looked
    /// up only when a baseline runs as it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_admin: Option<String>,
}

impl super::Family for Family {
    type Desired = Baselines;
    type Observed = StackSetsState;
    const SECTION: Option<&'static str> = Some("baselines");

    fn section_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        Some(config::section_schema(generator))
    }

    fn check_config(
        checker: &mut crate::config::Checker<'_>,
        input: &crate::config::SectionInput<'_>,
        section: Option<&serde_yaml::Value>,
    ) -> Baselines {
        config::check(checker, input, section)
    }

    fn observe<'a>(
        ctx: &'a ObserveContext<'a>,
    ) -> BoxFuture<'a, Result<StackSetsState, ObserveError>> {
        Box::pin(observe::observe(ctx))
    }

    fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
        diff::diff(ctx)
    }
}

/// An OU an operation targets: by path (resolved at apply, so OUs created
/// by the same apply work) or by id (an OU that left the file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OuRef {
    /// A path of the file (`Root` for the root).
    Path(OuPath),
    /// An OU id as the stack set records it.
    Id(String),
}

impl std::fmt::Display for OuRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OuRef::Path(p) => write!(f, "{p}"),
            OuRef::Id(id) => f.write_str(id),
        }
    }
}

/// How an operation narrows its OUs to accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "accounts", rename_all = "snake_case")]
pub enum AccountFilter {
    /// Every account below the OUs.
    #[default]
    None,
    /// Every account below the OUs but these (AccountFilterType DIFFERENCE).
    Difference(Vec<AccountRef>),
    /// Only these accounts below the OUs (AccountFilterType INTERSECTION).
    Intersection(Vec<AccountRef>),
}

/// The stack instances an operation reaches: OUs × regions, narrowed by
/// an account filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// OUs (each with its subtree).
    pub ous: Vec<OuRef>,
    /// Account filter.
    #[serde(default)]
    pub filter: AccountFilter,
    /// Regions.
    pub regions: Vec<String>,
}

/// The stack set's definition as the file wants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// TemplateBody.
    pub template: String,
    /// Description (with lzctl's prefix).
    pub description: String,
    /// Parameters (account references resolved at apply).
    pub parameters: BTreeMap<String, ParamValue>,
    /// Capabilities.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Tags (the managed marker included).
    pub tags: BTreeMap<String, String>,
    /// AutoDeployment.
    pub auto_deployment: bool,
    /// Operation preferences.
    pub rollout: Rollout,
}

/// As whom the calls are made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "as", content = "account", rename_all = "snake_case")]
pub enum Caller {
    /// The management account (CallAs SELF).
    #[default]
    Management,
    /// The StackSets delegated administrator (CallAs DELEGATED_ADMIN), by id.
    DelegatedAdmin(String),
}

/// What a StackSets change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    /// CreateStackSet, then CreateStackInstances on its targets (one stack
    /// set operation).
    CreateStackSet {
        /// Stack set name.
        name: String,
        /// Definition.
        spec: Spec,
        /// The first instances.
        deploy: Scope,
        /// As whom.
        caller: Caller,
        /// Baselines it depends on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        depends_on: Vec<String>,
    },
    /// UpdateStackSet on the instances in `scope` (all of them when none):
    /// template, parameters and settings, or a repair of instances that are
    /// not current.
    UpdateStackSet {
        /// Stack set name.
        name: String,
        /// Definition.
        spec: Spec,
        /// Instances updated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<Scope>,
        /// As whom.
        caller: Caller,
        /// Baselines it depends on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        depends_on: Vec<String>,
    },
    /// CreateStackInstances for targets, regions and accounts that are new.
    DeployInstances {
        /// Stack set name.
        name: String,
        /// Instances created (existing ones are skipped by AWS).
        scope: Scope,
        /// Preferences.
        rollout: Rollout,
        /// As whom.
        caller: Caller,
    },
    /// DeleteStackInstances for targets, regions and accounts that left
    /// (usually one batch).
    RetireInstances {
        /// Stack set name.
        name: String,
        /// One operation per batch, in order.
        batches: Vec<Scope>,
        /// Preferences.
        rollout: Rollout,
        /// As whom.
        caller: Caller,
    },
    /// DeleteStackInstances everywhere, then DeleteStackSet (`prune: true`).
    DeleteStackSet {
        /// Stack set name.
        name: String,
        /// Its instances, when it has any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instances: Option<Scope>,
        /// As whom.
        caller: Caller,
    },
}

impl Operation {
    /// The stack set's name.
    pub fn name(&self) -> &str {
        match self {
            Operation::CreateStackSet { name, .. }
            | Operation::UpdateStackSet { name, .. }
            | Operation::DeployInstances { name, .. }
            | Operation::RetireInstances { name, .. }
            | Operation::DeleteStackSet { name, .. } => name,
        }
    }
}

/// Address of a stack set.
pub fn stackset_address(name: &str) -> Address {
    Address::new("stackset", name)
}

/// Address of the change that deploys new instances of a stack set.
pub fn deploy_address(name: &str) -> Address {
    Address::new("stackset-deploy", name)
}

/// Address of the change that removes instances of a stack set.
pub fn retire_address(name: &str) -> Address {
    Address::new("stackset-retire", name)
}

fn scope_needs(scope: &Scope, needs: &mut Vec<Address>) {
    for ou in &scope.ous {
        if let OuRef::Path(p) = ou {
            needs.extend(Address::ou_with_ancestors(p));
        }
    }
    let accounts = match &scope.filter {
        AccountFilter::None => return,
        AccountFilter::Difference(a) | AccountFilter::Intersection(a) => a,
    };
    for a in accounts {
        if let AccountRef::Name(n) = a {
            needs.push(Address::account_named(n));
        }
    }
}

fn spec_needs(spec: &Spec, depends_on: &[String], needs: &mut Vec<Address>) {
    for value in spec.parameters.values() {
        if let ParamValue::AccountId(n) = value {
            needs.push(Address::account_named(n));
        }
    }
    needs.extend(depends_on.iter().map(|d| stackset_address(d)));
}

fn describe_scope(scope: &Scope) -> String {
    const SHOWN: usize = 5;
    let mut ous: Vec<String> = scope
        .ous
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect();
    if scope.ous.len() > SHOWN {
        ous.push(format!("… {} OUs in all", scope.ous.len()));
    }
    let filter = match &scope.filter {
        AccountFilter::None => String::new(),
        AccountFilter::Difference(a) => format!(", except {} account(s)", a.len()),
        AccountFilter::Intersection(a) => format!(", only {} account(s)", a.len()),
    };
    format!(
        "OUs [{}]{filter}; regions [{}]",
        ous.join(", "),
        scope.regions.join(", ")
    )
}

impl FamilyOperation for Operation {
    fn verb(&self) -> &'static str {
        match self {
            Operation::CreateStackSet { .. } => "create stack set",
            Operation::UpdateStackSet { .. } => "update stack set",
            Operation::DeployInstances { .. } => "create stack instances",
            Operation::RetireInstances { .. } => "delete stack instances",
            Operation::DeleteStackSet { .. } => "delete stack set",
        }
    }

    fn group(&self) -> &'static str {
        "StackSets (baselines)"
    }

    fn phase(&self) -> u16 {
        match self {
            Operation::CreateStackSet { .. } => 0,
            Operation::RetireInstances { .. } => 1,
            Operation::UpdateStackSet { .. } => 2,
            Operation::DeployInstances { .. } => 3,
            Operation::DeleteStackSet { .. } => 4,
        }
    }

    fn needs(&self) -> Vec<Address> {
        let mut needs = Vec::new();
        match self {
            Operation::CreateStackSet {
                spec,
                deploy,
                depends_on,
                ..
            } => {
                spec_needs(spec, depends_on, &mut needs);
                scope_needs(deploy, &mut needs);
            }
            Operation::UpdateStackSet {
                name,
                spec,
                scope,
                depends_on,
                ..
            } => {
                needs.push(stackset_address(name));
                spec_needs(spec, depends_on, &mut needs);
                if let Some(scope) = scope {
                    scope_needs(scope, &mut needs);
                }
            }
            Operation::DeployInstances { name, scope, .. } => {
                needs.push(stackset_address(name));
                scope_needs(scope, &mut needs);
            }
            Operation::RetireInstances { name, batches, .. } => {
                needs.push(stackset_address(name));
                for b in batches {
                    scope_needs(b, &mut needs);
                }
            }
            Operation::DeleteStackSet { name, .. } => needs.push(stackset_address(name)),
        }
        needs.sort();
        needs.dedup();
        needs
    }

    fn slots(&self) -> Vec<Slot> {
        vec![
            Slot {
                name: format!("stackset:{}", self.name()),
                capacity: 1,
            },
            Slot {
                name: "stacksets:operations".into(),
                capacity: MAX_PARALLEL_OPERATIONS,
            },
        ]
    }

    fn counts_toward_concurrency(&self) -> bool {
        false
    }

    fn isolates_failure(&self) -> bool {
        true
    }

    fn refusal(&self) -> Option<String> {
        let name = self.name();
        is_control_tower_stackset(name)
            .then(|| format!("{name} belongs to Control Tower; lzctl does not change it"))
    }

    fn details(&self) -> Vec<String> {
        match self {
            Operation::CreateStackSet { deploy, caller, .. } => {
                let mut out = vec![format!("CreateStackInstances: {}", describe_scope(deploy))];
                if let Caller::DelegatedAdmin(a) = caller {
                    out.push(format!("as the StackSets delegated administrator {a}"));
                }
                out
            }
            Operation::UpdateStackSet { scope, .. } => vec![match scope {
                Some(s) => format!("UpdateStackSet: {}", describe_scope(s)),
                None => "UpdateStackSet: every instance".to_string(),
            }],
            Operation::DeployInstances { scope, .. } => {
                vec![format!("CreateStackInstances: {}", describe_scope(scope))]
            }
            Operation::RetireInstances { batches, .. } => batches
                .iter()
                .map(|b| format!("DeleteStackInstances: {}", describe_scope(b)))
                .collect(),
            Operation::DeleteStackSet { instances, .. } => {
                let mut out = Vec::new();
                if let Some(s) = instances {
                    out.push(format!("DeleteStackInstances: {}", describe_scope(s)));
                }
                out.push("DeleteStackSet".into());
                out
            }
        }
    }

    fn apply<'a>(&'a self, ctx: &'a StepContext<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(apply::execute(ctx, self))
    }
}
