//! The landing-zone file as written (version 1), before validation.
//!
//! Every struct keeps the keys it does not know in `unknown` instead of failing
//! on the first one, so `validate` can report all of them at once, each with
//! its position.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Extra keys a struct did not expect.
pub type UnknownKeys = BTreeMap<String, serde_yaml::Value>;

/// The whole landing-zone file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ConfigFile {
    /// Format version; only 1 exists.
    pub version: Option<u32>,
    /// Files, directories (their `*.yaml` files) or globs, relative to this
    /// file, whose contents are merged into it (main file only).
    #[serde(default)]
    pub include: Vec<String>,
    /// The organization this file governs.
    pub organization: Option<OrganizationConfig>,
    /// Tunable limits and behaviour.
    #[serde(default)]
    pub settings: SettingsConfig,
    /// Delete managed OUs and policies that the file no longer names.
    #[serde(default)]
    pub prune: bool,
    /// The child OUs every company gets (`prod`, `dev`).
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    /// The OU whose direct children are the group companies.
    #[serde(default)]
    pub company_parent: Option<String>,
    /// The OU tree below the root, keyed by OU name.
    #[serde(default)]
    pub organizational_units: BTreeMap<String, OuNode>,
    /// Accounts and the OU each belongs to.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// Organization policies keyed by policy name.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// Whether Control Tower is expected beside lzctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ControlTowerMode {
    /// Detect it.
    #[default]
    Auto,
    /// Fail when it is not there.
    Required,
    /// Never call it; the organization has no landing zone.
    Absent,
}

/// The `organization` block.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OrganizationConfig {
    /// Region lzctl and Control Tower run from.
    pub home_region: Option<String>,
    /// Regions workloads may use.
    #[serde(default)]
    pub governed_regions: Vec<String>,
    /// Expected management account id; lzctl refuses any other. A YAML
    /// value of any type, so a number gets a precise message.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::account_id")]
    pub management_account: Option<serde_yaml::Value>,
    /// Control Tower expectation.
    #[serde(default)]
    pub control_tower: ControlTowerMode,
    /// Break-glass IAM role names the lockout guard protects in every account.
    #[serde(default)]
    pub break_glass_roles: Vec<String>,
    /// Where `apply` takes its lock (`s3://BUCKET/KEY`).
    pub lock: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// The `settings` block: limits that AWS changes from time to time.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SettingsConfig {
    /// Policy size and attachment limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// Overrides of the AWS limits; unset fields take the current AWS values.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Maximum SCP size in characters.
    pub scp_max_size: Option<usize>,
    /// Maximum SCPs attached to one target.
    pub scp_max_attachments: Option<usize>,
    /// Maximum RCP size in characters.
    pub rcp_max_size: Option<usize>,
    /// Maximum RCPs attached to one target.
    pub rcp_max_attachments: Option<usize>,
    /// Maximum tag policy size in characters.
    pub tag_max_size: Option<usize>,
    /// Maximum tag policies attached to one target.
    pub tag_max_attachments: Option<usize>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// One OU in the tree; `Security:` with no value means an OU with defaults.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(from = "Option<OuConfig>")]
pub struct OuNode(pub OuConfig);

impl From<Option<OuConfig>> for OuNode {
    fn from(value: Option<OuConfig>) -> Self {
        OuNode(value.unwrap_or_default())
    }
}

/// The settings of one OU.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OuConfig {
    /// Child OUs keyed by name.
    #[serde(default)]
    pub children: BTreeMap<String, OuNode>,
    /// Tags on the OU.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// For a company: its environments instead of the group-wide list.
    pub environments: Option<Vec<String>>,
    /// The name this OU had before, to rename it in place.
    pub renamed_from: Option<String>,
    /// With Control Tower: register this OU (default: when its parent is
    /// registered, or when lzctl creates it at the top level); `false`
    /// keeps it and its subtree out of Control Tower.
    pub register: Option<bool>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// One account.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AccountConfig {
    /// Account name, unique in the file.
    pub name: Option<String>,
    /// The account's id, when it exists: its identity, whatever its name.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::account_id")]
    pub id: Option<serde_yaml::Value>,
    /// Root email address, unique in the file.
    pub email: Option<String>,
    /// OU path the account belongs to.
    pub ou: Option<String>,
    /// Tags on the account.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Vend through Control Tower's Account Factory (Service Catalog)
    /// instead of CreateAccount, for groups that need its IAM Identity
    /// Center user.
    pub account_factory: Option<AccountFactoryConfig>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// `account_factory:` of an account: the Identity Center user Account
/// Factory creates with it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AccountFactoryConfig {
    /// The user's email.
    pub sso_user_email: Option<String>,
    /// Given name.
    pub sso_user_first_name: Option<String>,
    /// Family name.
    pub sso_user_last_name: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// One organization policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `scp`, `rcp` or `tag`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Template file, relative to the config file.
    pub template: Option<PathBuf>,
    /// Template parameters.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub params: BTreeMap<String, serde_yaml::Value>,
    /// Where the policy is attached.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Description stored with the policy.
    pub description: Option<String>,
    /// Staged rollout: waves of targets and a soak between them (SCPs).
    #[serde(default)]
    #[schemars(schema_with = "super::schema::rollout")]
    pub rollout: Option<serde_yaml::Value>,
    /// Anything else.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: UnknownKeys,
}

/// Names of the keys each struct accepts, for unknown-key hints.
pub mod known_keys {
    /// Top level.
    pub const TOP: &[&str] = &[
        "version",
        "include",
        "organization",
        "settings",
        "prune",
        "environments",
        "company_parent",
        "organizational_units",
        "accounts",
        "policies",
    ];
    /// `organization`.
    pub const ORGANIZATION: &[&str] = &[
        "home_region",
        "governed_regions",
        "management_account",
        "control_tower",
        "break_glass_roles",
        "lock",
    ];
    /// `settings`.
    pub const SETTINGS: &[&str] = &["limits"];
    /// `settings.limits`.
    pub const LIMITS: &[&str] = &[
        "scp_max_size",
        "scp_max_attachments",
        "rcp_max_size",
        "rcp_max_attachments",
        "tag_max_size",
        "tag_max_attachments",
    ];
    /// An OU.
    pub const OU: &[&str] = &[
        "children",
        "tags",
        "environments",
        "renamed_from",
        "register",
    ];
    /// An account.
    pub const ACCOUNT: &[&str] = &["name", "id", "email", "ou", "tags", "account_factory"];
    /// `account_factory` of an account.
    pub const ACCOUNT_FACTORY: &[&str] = &[
        "sso_user_email",
        "sso_user_first_name",
        "sso_user_last_name",
    ];
    /// A policy.
    pub const POLICY: &[&str] = &[
        "type",
        "template",
        "params",
        "targets",
        "description",
        "rollout",
    ];
}
