//! Organization state, the same types for what the file wants and what AWS has.
//!
//! Observed state carries AWS ids; desired state leaves them empty. Both are
//! keyed by what a person writes: OU paths, account names, policy names.

mod address;
pub mod path;

pub use address::Address;
pub use path::{OuPath, OuPathError};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Tags as key → value.
pub type Tags = BTreeMap<String, String>;

/// Tag key lzctl puts on the OUs and policies it creates, and on policies it
/// adopts under `prune` (policies it creates also carry the description prefix).
pub const MANAGED_TAG_KEY: &str = "managed-by";
/// Tag key holding the path lzctl created an OU at, so an OU renamed by hand
/// is recognised and renamed back instead of duplicated.
pub const PATH_TAG_KEY: &str = "lzctl-path";
/// Value of [`MANAGED_TAG_KEY`].
pub const MANAGED_TAG_VALUE: &str = "lzctl";
/// The document of AWS's FullAWSAccess and RCPFullAWSAccess policies (fixed by AWS).
pub const AWS_FULL_ACCESS_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
/// Name prefixes of the policies Control Tower owns; lzctl never creates or changes them.
pub const CONTROL_TOWER_POLICY_PREFIXES: &[&str] = &["aws-guardrails-", "AWSControlTower"];

/// Whether a policy name belongs to Control Tower.
pub fn is_control_tower_policy(name: &str) -> bool {
    CONTROL_TOWER_POLICY_PREFIXES
        .iter()
        .any(|p| name.starts_with(p))
}

/// Prefix of the description of policies lzctl manages.
pub const MANAGED_DESCRIPTION_PREFIX: &str = "[lzctl] ";

/// Organization policy types lzctl manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Service control policy.
    Scp,
    /// Resource control policy.
    Rcp,
    /// Tag policy.
    Tag,
}

impl PolicyKind {
    /// Every kind, in display order.
    pub const ALL: [PolicyKind; 3] = [PolicyKind::Scp, PolicyKind::Rcp, PolicyKind::Tag];

    /// The Organizations API name of the type.
    pub fn api_name(self) -> &'static str {
        match self {
            PolicyKind::Scp => "SERVICE_CONTROL_POLICY",
            PolicyKind::Rcp => "RESOURCE_CONTROL_POLICY",
            PolicyKind::Tag => "TAG_POLICY",
        }
    }

    /// The short name used in the config and in addresses.
    pub fn short_name(self) -> &'static str {
        match self {
            PolicyKind::Scp => "scp",
            PolicyKind::Rcp => "rcp",
            PolicyKind::Tag => "tag",
        }
    }

    /// Parses the short name used in the config.
    pub fn from_short_name(name: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.short_name() == name)
    }

    /// Parses the Organizations API name.
    pub fn from_api_name(name: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.api_name() == name)
    }

    /// Whether a target must always keep at least one policy of this type.
    pub fn requires_one_attached(self) -> bool {
        matches!(self, PolicyKind::Scp)
    }
}

/// Where a policy is attached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Target {
    /// The organization root.
    Root,
    /// An OU by path.
    Ou(OuPath),
    /// An account by name.
    Account(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Root => f.write_str("Root"),
            Target::Ou(path) => write!(f, "{path}"),
            Target::Account(name) => write!(f, "account:{name}"),
        }
    }
}

/// An organizational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ou {
    /// AWS id (`ou-...`), observed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags on the OU.
    #[serde(default)]
    pub tags: Tags,
}

impl Ou {
    /// Whether lzctl created this OU.
    pub fn is_managed(&self) -> bool {
        self.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
    }
}

/// A member account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// 12-digit id, observed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Root email.
    pub email: String,
    /// The OU the account is in (`Root` is the empty path).
    pub ou: OuPath,
    /// Tags; observed only when the config uses account tags.
    #[serde(default)]
    pub tags: Tags,
}

/// Organizations' longest policy name (the `PolicyName` shape).
pub const MAX_POLICY_NAME_LEN: usize = 128;

/// An organization policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// AWS id (`p-...`), observed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Policy type.
    pub kind: PolicyKind,
    /// Description stored with the policy.
    pub description: String,
    /// Minified JSON document.
    pub content: String,
    /// Where it is attached.
    pub targets: BTreeSet<Target>,
    /// Whether AWS owns it (FullAWSAccess and friends).
    #[serde(default)]
    pub aws_managed: bool,
    /// Tags on the policy. Observed only where ownership matters (with
    /// `prune`, for policies without lzctl's description prefix); the
    /// desired state names none.
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

impl Policy {
    /// Whether lzctl owns this policy for `prune`: it created it (the
    /// description prefix, set only on policies lzctl creates) or recorded
    /// its adoption with the `managed-by=lzctl` tag.
    pub fn is_managed(&self) -> bool {
        self.is_created_by_lzctl()
            || self.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
    }

    /// Whether lzctl created this policy (its description starts with
    /// lzctl's prefix); free to tell, as ListPolicies returns descriptions.
    pub fn is_created_by_lzctl(&self) -> bool {
        self.description.starts_with(MANAGED_DESCRIPTION_PREFIX)
    }
}

/// An organization: the desired one or the observed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OrgState {
    /// Organization id, observed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Root id, observed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_id: Option<String>,
    /// Management account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_account_id: Option<String>,
    /// Policy types enabled on the root.
    pub enabled_policy_types: BTreeSet<PolicyKind>,
    /// OUs by path.
    pub ous: BTreeMap<OuPath, Ou>,
    /// Accounts by name.
    pub accounts: BTreeMap<String, Account>,
    /// Policies by name.
    pub policies: BTreeMap<String, Policy>,
    /// Account names whose CreateAccount is still in progress (observed only).
    #[serde(default)]
    pub accounts_being_created: BTreeSet<String>,
    /// Accounts AWS reports as SUSPENDED, PENDING_CLOSURE or CLOSED (by
    /// name): lzctl never moves or tags them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub closed_accounts: BTreeSet<String>,
    /// Accounts AWS reports as PENDING_ACTIVATION (by name): not usable yet.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pending_accounts: BTreeSet<String>,
    /// Service principals with trusted access to the organization.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub trusted_services: BTreeSet<String>,
    /// Policies whose targets were not all listed (AWS's full-access policies,
    /// attached nearly everywhere): their `targets` hold only what was looked
    /// up target by target. See `plan::targets_to_complete`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub partially_listed: BTreeSet<String>,
    /// Halt tags (`lzctl-rollout-halted`) of policies with a staged rollout,
    /// by policy name: where their rollout stopped (observed only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rollout_halts: BTreeMap<String, String>,
}

impl OrgState {
    /// Whether the target exists in this state.
    pub fn has_target(&self, target: &Target) -> bool {
        match target {
            Target::Root => true,
            Target::Ou(path) => self.ous.contains_key(path),
            Target::Account(name) => self.accounts.contains_key(name),
        }
    }

    /// The policies of one kind attached to a target, by name.
    pub fn policies_on(&self, target: &Target, kind: PolicyKind) -> BTreeSet<String> {
        self.policies
            .iter()
            .filter(|(_, p)| p.kind == kind && p.targets.contains(target))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The accounts under a target (the whole subtree of an OU), by name.
    pub fn accounts_under<'a>(&'a self, target: &'a Target) -> impl Iterator<Item = &'a String> {
        self.accounts
            .iter()
            .filter(move |(name, a)| match target {
                Target::Root => true,
                Target::Ou(p) => a.ou == *p || a.ou.starts_with(p),
                Target::Account(n) => n == *name,
            })
            .map(|(name, _)| name)
    }

    /// Whether an account can be changed (not closed, not pending activation).
    pub fn is_usable_account(&self, name: &str) -> bool {
        !self.closed_accounts.contains(name) && !self.pending_accounts.contains(name)
    }
}
