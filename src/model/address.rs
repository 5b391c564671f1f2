//! Stable addresses of the things a plan changes: `ou:Companies/A/prod`,
//! `scp:region-restriction`, `attachment:scp:region-restriction@Companies`.

use serde::{Deserialize, Serialize};

use super::{OuPath, PolicyKind, Target};

/// A stable, human-readable key for one object or relation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(pub String);

impl Address {
    /// The organization root's policy-type switch.
    pub fn policy_type(kind: PolicyKind) -> Address {
        Address(format!("policy-type:{}", kind.short_name()))
    }
    /// An OU.
    pub fn ou(path: &OuPath) -> Address {
        Address(format!("ou:{path}"))
    }
    /// An account.
    pub fn account(name: &str) -> Address {
        Address(format!("account:{name}"))
    }
    /// A policy.
    pub fn policy(kind: PolicyKind, name: &str) -> Address {
        Address(format!("{}:{name}", kind.short_name()))
    }
    /// A policy attached to a target.
    pub fn attachment(kind: PolicyKind, name: &str, target: &Target) -> Address {
        Address(format!("attachment:{}:{name}@{target}", kind.short_name()))
    }
    /// The tags of an OU or account.
    pub fn tags(of: &Address) -> Address {
        Address(format!("tags:{}", of.0))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
