//! Plans: the ordered changes that turn the observed landing zone into the
//! desired one, each with a stable address, a reason, what it needs and what
//! it provides. The plan is generic; what a change does belongs to its
//! family (`crate::families`).

pub mod file;
mod graph;
mod make;

pub use graph::{order_changes, reaches, resolve_needs};
pub use make::{make_plan, PlanError, PlanOptions};

use serde::{Deserialize, Serialize};

pub use crate::families::Operation;
use crate::model::Address;

/// Version of the JSON plan format. 2: changes carry their family, before
/// and after states, needs and provides; the plan names the organization
/// and the caller.
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// The small closed set of things a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Something new.
    Create,
    /// Something existing changes in place.
    Update,
    /// Something is removed and made anew (its identity changes).
    Replace,
    /// Something is removed (only with `prune: true`, never an account).
    Delete,
}

impl Action {
    /// Computed from the object's state before and after the change.
    pub fn from_states(before: bool, after: bool, replaced: bool) -> Action {
        match (before, after) {
            (false, _) => Action::Create,
            (true, false) => Action::Delete,
            (true, true) if replaced => Action::Replace,
            (true, true) => Action::Update,
        }
    }

    /// Terraform-style marker.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Stable address.
    pub address: Address,
    /// Create, update, replace or delete (from `before` and `after`).
    pub action: Action,
    /// Why, in words.
    pub reason: String,
    /// The object's relevant state now (absent: it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The object's relevant state after the change (absent: it is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// Addresses that must exist before this change runs: observed, or
    /// provided by another change of the plan. A need that is neither is an
    /// error, never silently skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Address>,
    /// Addresses that exist once this change has run (besides its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<Address>,
    /// Changes that must finish first (resolved from needs, plus the
    /// orderings a family's safety rules add).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// What the change reaches, in words (accounts an SCP applies to,
    /// policies an account gains and loses), set by its family.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impact: Vec<String>,
    /// What to do.
    #[serde(flatten)]
    pub operation: Operation,
}

impl Change {
    /// A change whose action follows from `before` and `after`; its needs come
    /// from the operation.
    pub fn new(
        address: Address,
        reason: impl Into<String>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
        operation: impl Into<Operation>,
    ) -> Change {
        let operation = operation.into();
        let action = Action::from_states(
            before.is_some(),
            after.is_some(),
            operation.is_replacement(),
        );
        Change {
            needs: operation.needs(),
            address,
            action,
            reason: reason.into(),
            before,
            after,
            provides: Vec::new(),
            depends_on: Vec::new(),
            impact: Vec::new(),
            operation,
        }
    }

    /// Adds addresses this change makes exist (besides its own).
    pub fn providing(mut self, addresses: impl IntoIterator<Item = Address>) -> Change {
        self.provides.extend(addresses);
        self
    }

    /// Adds changes that must finish first.
    pub fn after(mut self, addresses: impl IntoIterator<Item = Address>) -> Change {
        for a in addresses {
            if !self.depends_on.contains(&a) {
                self.depends_on.push(a);
            }
        }
        self
    }

    /// Every address that exists once this change has run: its own (unless
    /// it deletes it) and what it provides besides.
    pub fn provided(&self) -> impl Iterator<Item = &Address> {
        let own = (self.action != Action::Delete).then_some(&self.address);
        own.into_iter().chain(self.provides.iter())
    }
}

/// Something that exists but that lzctl leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    /// Address.
    pub address: Address,
    /// Why it is left alone.
    pub reason: String,
}

/// Something the plan cannot do or wants a person to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Address.
    pub address: Address,
    /// What.
    pub message: String,
    /// The organization does not match the config here, but lzctl has no
    /// change to make now (an account still being created). A plan with
    /// pending notices has not converged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// What one family's diff found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyPlan {
    /// Changes, with needs and any explicit orderings.
    pub changes: Vec<Change>,
    /// Objects left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// Things a person should know.
    pub notices: Vec<Notice>,
}

/// Whom a plan was made for: shown at the top of every plan and prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSubject {
    /// Organization id (`o-...`).
    pub organization_id: String,
    /// Management account id.
    pub management_account: String,
    /// The caller's ARN when the plan was made (empty offline).
    pub caller_arn: String,
}

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// lzctl version that made it.
    pub lzctl_version: String,
    /// Configuration file it was made from.
    pub config_path: String,
    /// sha256 of the configuration.
    pub config_digest: String,
    /// Digest of the observed state it was made against.
    pub state_digest: String,
    /// The organization and caller.
    pub subject: PlanSubject,
    /// Changes in the order they may run (dependencies first).
    pub changes: Vec<Change>,
    /// Objects left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// Things a person should know.
    pub notices: Vec<Notice>,
}

/// Counts by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Creations.
    pub create: usize,
    /// Updates.
    pub update: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletions.
    pub delete: usize,
}

impl Plan {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether the landing zone matches the config: no changes and nothing pending.
    pub fn is_converged(&self) -> bool {
        self.changes.is_empty() && self.pending().next().is_none()
    }

    /// Notices of what does not match yet but cannot be changed now.
    pub fn pending(&self) -> impl Iterator<Item = &Notice> {
        self.notices.iter().filter(|n| n.pending)
    }

    /// For each change, the positions of the changes it waits for.
    pub fn dependency_indices(&self) -> Vec<std::collections::BTreeSet<usize>> {
        let index: std::collections::HashMap<&Address, usize> = self
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (&c.address, i))
            .collect();
        self.changes
            .iter()
            .map(|c| {
                c.depends_on
                    .iter()
                    .filter_map(|a| index.get(a).copied())
                    .collect()
            })
            .collect()
    }

    /// Counts per action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
            }
        }
        s
    }
}
