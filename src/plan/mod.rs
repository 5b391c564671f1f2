//! Plans: the ordered changes that turn the observed organization into the
//! desired one, each with a stable address and a reason.

mod attachments;
mod dependencies;
mod diff;
pub mod file;
mod order;
pub mod simulate;

pub use diff::{diff, implicit_policy, targets_to_complete, DiffInput, PlanError};

use serde::{Deserialize, Serialize};

use crate::model::{Address, OuPath, PolicyKind, Tags, Target};

/// Version of the JSON plan format.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// The small closed set of things a change does, for display and counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Something new.
    Create,
    /// Something existing changes in place.
    Update,
    /// Something is removed (only with `prune: true`, never an account).
    Delete,
}

impl Action {
    /// Terraform-style marker.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// What exactly a change does; enough to apply it without the config.
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
    },
    /// Delete an empty managed OU.
    DeleteOu {
        /// Path.
        path: OuPath,
    },
    /// Create an account with CreateAccount.
    CreateAccount {
        /// Name.
        name: String,
        /// Root email.
        email: String,
        /// Destination OU.
        ou: OuPath,
        /// Tags.
        tags: Tags,
    },
    /// Move an account between OUs.
    MoveAccount {
        /// Name.
        name: String,
        /// Current OU.
        from: OuPath,
        /// Destination OU.
        to: OuPath,
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
        /// Description now.
        old_description: String,
        /// Description wanted.
        description: String,
        /// Document now.
        old_content: String,
        /// Document wanted.
        content: String,
    },
    /// Delete a managed policy (after every detach).
    DeletePolicy {
        /// Name.
        name: String,
        /// Type.
        kind: PolicyKind,
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
    /// Add or overwrite tags of an OU or account. Keys the config does not
    /// name are left alone: other tools tag OUs too.
    SetTags {
        /// The OU or account.
        target: Target,
        /// Tags to add or overwrite.
        set: Tags,
    },
}

impl Operation {
    /// The display action of this operation.
    pub fn action(&self) -> Action {
        match self {
            Operation::EnablePolicyType { .. }
            | Operation::CreateOu { .. }
            | Operation::CreateAccount { .. }
            | Operation::CreatePolicy { .. }
            | Operation::AttachPolicy { .. } => Action::Create,
            Operation::RenameOu { .. }
            | Operation::MoveAccount { .. }
            | Operation::UpdatePolicy { .. }
            | Operation::SetTags { .. } => Action::Update,
            Operation::DeleteOu { .. }
            | Operation::DeletePolicy { .. }
            | Operation::DetachPolicy { .. } => Action::Delete,
        }
    }

    /// Short verb for display and audit logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Operation::EnablePolicyType { .. } => "enable policy type",
            Operation::CreateOu { .. } => "create OU",
            Operation::RenameOu { .. } => "rename OU",
            Operation::DeleteOu { .. } => "delete OU",
            Operation::CreateAccount { .. } => "create account",
            Operation::MoveAccount { .. } => "move account",
            Operation::CreatePolicy { .. } => "create policy",
            Operation::UpdatePolicy { .. } => "update policy",
            Operation::DeletePolicy { .. } => "delete policy",
            Operation::AttachPolicy { .. } => "attach policy",
            Operation::DetachPolicy { .. } => "detach policy",
            Operation::SetTags { .. } => "set tags",
        }
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Stable address.
    pub address: Address,
    /// Create, update or delete.
    pub action: Action,
    /// Why, in words.
    pub reason: String,
    /// Changes that must finish first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// What to do.
    #[serde(flatten)]
    pub operation: Operation,
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
    /// change to make now (an account still being created, or one that
    /// Account Factory must vend). A plan with pending notices has not converged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
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
    /// sha256 of the configuration file.
    pub config_digest: String,
    /// Digest of the observed state it was made against.
    pub state_digest: String,
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
    /// Deletions.
    pub delete: usize,
}

impl Plan {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether the organization matches the config: no changes and nothing pending.
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
                Action::Delete => s.delete += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests;
