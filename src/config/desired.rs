//! What a valid configuration asks for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::model::ControlTowerMode;
use crate::model::{OrgState, OuPath};
use crate::policy::limits::Limits;

/// The `organization` block after validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSettings {
    /// Home region.
    pub home_region: String,
    /// Governed regions.
    pub governed_regions: Vec<String>,
    /// Expected management account id.
    pub management_account: String,
    /// Control Tower expectation.
    pub control_tower: ControlTowerMode,
    /// Break-glass role names the lockout guard protects.
    #[serde(default)]
    pub break_glass_roles: Vec<String>,
    /// Where `apply` takes its lock (`s3://BUCKET/KEY`), validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
}

/// The Identity Center user Account Factory creates with an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoUser {
    /// Email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The file it came from.
    pub path: PathBuf,
    /// sha256 of the file's bytes.
    pub digest: String,
    /// The organization block.
    pub organization: OrganizationSettings,
    /// Limits in force.
    pub limits: Limits,
    /// Whether managed objects the file no longer names are deleted.
    pub prune: bool,
    /// OUs, accounts and policies as the file wants them (no ids).
    pub state: OrgState,
    /// OUs to rename in place: new path → previous name.
    pub renames: BTreeMap<OuPath, String>,
    /// Whether any account declares tags (then account tags are read).
    pub uses_account_tags: bool,
    /// OUs whose Control Tower registration the file states (`register:`).
    pub registration: BTreeMap<OuPath, bool>,
    /// `scp lint` warnings on the rendered policies (AWS would accept them).
    pub lint_warnings: Vec<String>,
    /// The OU whose direct children are the group's companies
    /// (`company_parent`, default `Companies`), wherever the file set it.
    pub company_parent: OuPath,
    /// Accounts vended through Control Tower's Account Factory, with the
    /// Identity Center user it creates for each.
    pub account_factory: BTreeMap<String, SsoUser>,
    /// Policies whose `description` the file states (others keep theirs
    /// when adopted).
    pub described_policies: std::collections::BTreeSet<String>,
    /// What the families' own sections (`baselines:`, `detective:`) ask for.
    pub families: crate::families::DesiredSections,
    /// Staged rollouts by policy name (`policies.NAME.rollout`).
    pub rollouts: BTreeMap<String, crate::rollout::RolloutSpec>,
}
