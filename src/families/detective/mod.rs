//! The detective family: GuardDuty, Security Hub (central configuration),
//! AWS Config organization rules and the organization trail, run
//! organization-wide from a delegated administrator account.
//!
//! The management account enables trusted access and names the delegated
//! administrator (GuardDuty per governed region, Security Hub in the home
//! region, Config's `config-multiaccountsetup` principal); everything else
//! runs in the administrator account through the member role. Reading costs
//! calls per region and per rule or policy, never per account.

mod apply;
mod catalog;
pub mod compliance;
mod config;
mod diff;
mod observe;
#[cfg(test)]
mod tests;

pub use catalog::{catalog, Catalog, RuleInfo};
pub use config::{
    CloudTrailDesired, ConfigDesired, DetectiveDesired, GuardDutyDesired, HubDesired,
    HubPolicyDesired, Production, RuleDesired, RuleScope, Severity,
};

use std::collections::{BTreeMap, BTreeSet};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{DiffContext, DiffError, FamilyDiff, FamilyOperation};
use crate::apply::{StepContext, StepError};
use crate::model::{Address, Target};
use crate::observe::{ObserveContext, ObserveError};

/// Registration of the family (see `families!`).
pub struct Family;

/// Service principal of Config organization rules and conformance packs.
pub const CONFIG_MULTIACCOUNT: &str = "config-multiaccountsetup.amazonaws.com";
/// Service principal of GuardDuty.
pub const GUARDDUTY_PRINCIPAL: &str = "guardduty.amazonaws.com";
/// Service principal of Security Hub.
pub const SECURITYHUB_PRINCIPAL: &str = "securityhub.amazonaws.com";
/// What lzctl writes at the start of the descriptions of the Config rules
/// and Security Hub policies it manages (`[lzctl] severity=high`).
pub const MANAGED_MARKER: &str = "[lzctl]";
/// At most this many accounts in a Config organization rule's ExcludedAccounts.
pub const MAX_EXCLUDED_ACCOUNTS: usize = 1000;
/// Control Tower's organization trail.
pub const CONTROL_TOWER_TRAIL: &str = "aws-controltower-BaselineCloudTrail";

/// GuardDuty in one region, as its delegated administrator sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardDutyRegion {
    /// The delegated administrator (ListOrganizationAdminAccounts).
    pub admin: Option<String>,
    /// The administrator's detector.
    pub detector: Option<String>,
    /// AutoEnableOrganizationMembers (NEW, ALL, NONE).
    pub auto_enable: Option<String>,
    /// Features and their AutoEnable.
    pub features: BTreeMap<String, String>,
    /// Accounts the organization has, and those with GuardDuty enabled
    /// (GetOrganizationStatistics; not digested: it moves on its own).
    #[serde(skip)]
    pub counts: Option<(u32, u32)>,
}

/// A Security Hub configuration policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubPolicy {
    /// Id.
    pub id: String,
    /// Description (lzctl's marker first when it manages it).
    pub description: String,
    /// Whether the policy enables Security Hub.
    pub service_enabled: bool,
    /// Standards ARNs.
    pub standards: BTreeSet<String>,
    /// Disabled control ids.
    pub disabled_controls: BTreeSet<String>,
}

/// Security Hub in the home region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubState {
    /// The delegated administrator in the home region.
    pub admin: Option<String>,
    /// Whether the administrator has Security Hub enabled.
    pub hub_enabled: bool,
    /// The finding aggregator: (ARN, aggregation region, linked regions).
    pub aggregator: Option<(String, String, BTreeSet<String>)>,
    /// Organization configuration: (CENTRAL or LOCAL, status).
    pub configuration: Option<(String, String)>,
    /// Configuration policies by name.
    pub policies: BTreeMap<String, HubPolicy>,
    /// Applied associations: target id (root, OU, account) -> policy id.
    pub associations: BTreeMap<String, String>,
    /// Accounts whose association FAILED, with AWS's message (not digested).
    #[serde(skip)]
    pub failed: Vec<(String, String)>,
}

/// A Config organization rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRule {
    /// Managed rule identifier.
    pub identifier: String,
    /// Input parameters (JSON text as AWS keeps it).
    pub parameters: String,
    /// Description.
    pub description: String,
    /// Excluded account ids.
    pub excluded: BTreeSet<String>,
    /// Deployment status and message (not digested: it moves on its own).
    #[serde(skip)]
    pub status: Option<(String, String)>,
}

/// A trail as DescribeTrails and GetTrailStatus show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Home region.
    pub home_region: String,
    /// Organization trail.
    pub organization: bool,
    /// Multi-region.
    pub multi_region: bool,
    /// Bucket.
    pub bucket: String,
    /// Whether it is logging.
    pub logging: bool,
}

/// What lzctl reads of the detective services.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectiveState {
    /// Whether it was read (the file has a `detective:` block).
    pub checked: bool,
    /// Delegated administrators by service principal (Organizations).
    pub delegated: BTreeMap<String, BTreeSet<String>>,
    /// GuardDuty by region.
    pub guardduty: BTreeMap<String, GuardDutyRegion>,
    /// Security Hub.
    pub security_hub: HubState,
    /// The account Control Tower runs Config from (landing zone 4.0 `config`).
    pub control_tower_config: Option<String>,
    /// Config organization rules by region, then name.
    pub config_rules: BTreeMap<String, BTreeMap<String, OrgRule>>,
    /// Trails the management account sees in the home region.
    pub trails: Vec<Trail>,
}

impl super::Family for Family {
    type Desired = Option<DetectiveDesired>;
    type Observed = DetectiveState;
    const SECTION: Option<&'static str> = Some("detective");

    fn section_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        Some(config::section_schema(generator))
    }

    fn check_config(
        checker: &mut crate::config::Checker<'_>,
        input: &crate::config::SectionInput<'_>,
        section: Option<&serde_yaml::Value>,
    ) -> Self::Desired {
        section.map(|s| config::check(checker, input, s))
    }

    fn observe<'a>(
        ctx: &'a ObserveContext<'a>,
    ) -> BoxFuture<'a, Result<DetectiveState, ObserveError>> {
        Box::pin(observe::observe(ctx))
    }

    fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
        diff::diff(ctx)
    }
}

/// Where a Security Hub association applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HubTarget(pub Target);

/// What a detective change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    /// EnableAWSServiceAccess for a service principal (management account).
    TrustedAccess {
        /// Service principal.
        principal: String,
    },
    /// RegisterDelegatedAdministrator (management account).
    RegisterDelegatedAdmin {
        /// Service principal.
        principal: String,
        /// Account (file name, or id).
        account: String,
    },
    /// GuardDuty EnableOrganizationAdminAccount in a region.
    GuardDutyAdmin {
        /// Region.
        region: String,
        /// Account (file name, or id).
        account: String,
    },
    /// In the administrator: a detector, then UpdateOrganizationConfiguration.
    GuardDutyOrganization {
        /// Region.
        region: String,
        /// Account (file name, or id).
        account: String,
        /// ALL, NEW or NONE.
        auto_enable: String,
        /// Feature API names and their AutoEnable.
        features: BTreeMap<String, String>,
    },
    /// Security Hub EnableOrganizationAdminAccount in the home region.
    SecurityHubAdmin {
        /// Region.
        region: String,
        /// Account.
        account: String,
    },
    /// Security Hub in the administrator, then its finding aggregator.
    SecurityHubAggregator {
        /// Aggregation region.
        region: String,
        /// Account.
        account: String,
        /// Linked regions.
        linked: BTreeSet<String>,
        /// The aggregator to update, when one exists.
        existing: Option<String>,
    },
    /// UpdateOrganizationConfiguration to CENTRAL, then wait for ENABLED.
    SecurityHubCentral {
        /// Region.
        region: String,
        /// Account.
        account: String,
    },
    /// Create or update a configuration policy.
    SecurityHubPolicy {
        /// Region.
        region: String,
        /// Account.
        account: String,
        /// Name.
        name: String,
        /// Description (with severity-free marker).
        description: String,
        /// Standards ARNs.
        standards: BTreeSet<String>,
        /// Disabled control ids.
        disabled_controls: BTreeSet<String>,
        /// The policy's id when it exists.
        existing: Option<String>,
    },
    /// StartConfigurationPolicyAssociation, then wait for its status.
    SecurityHubAssociation {
        /// Region.
        region: String,
        /// Account.
        account: String,
        /// Policy name.
        policy: String,
        /// Target.
        target: Target,
    },
    /// StartConfigurationPolicyDisassociation (prune).
    SecurityHubDisassociation {
        /// Region.
        region: String,
        /// Account.
        account: String,
        /// Policy id.
        policy_id: String,
        /// Target id.
        target_id: String,
    },
    /// PutOrganizationConfigRule, then wait while it deploys.
    ConfigRule {
        /// Region.
        region: String,
        /// Account (the Config administrator).
        account: String,
        /// Rule name.
        name: String,
        /// Managed rule identifier.
        identifier: String,
        /// Input parameters (JSON).
        parameters: String,
        /// Description (marker and severity).
        description: String,
        /// Excluded account ids.
        excluded: BTreeSet<String>,
        /// Excluded accounts this apply creates (file names, ids at apply time).
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        excluded_new: BTreeSet<String>,
    },
    /// DeleteOrganizationConfigRule (prune).
    DeleteConfigRule {
        /// Region.
        region: String,
        /// Account.
        account: String,
        /// Rule name.
        name: String,
    },
    /// CreateTrail (organization, multi-region) and StartLogging.
    CreateTrail {
        /// Region (home).
        region: String,
        /// Name.
        name: String,
        /// Bucket in the log-archive account.
        bucket: String,
    },
    /// StartLogging on an existing trail lzctl created.
    StartLogging {
        /// Region (home).
        region: String,
        /// Name.
        name: String,
    },
}

/// Address of the delegated administrator registration for a principal.
pub fn delegated_address(principal: &str) -> Address {
    Address::new("delegated-admin", principal)
}

impl Operation {
    fn admin(&self) -> Option<&str> {
        match self {
            Operation::TrustedAccess { .. }
            | Operation::CreateTrail { .. }
            | Operation::StartLogging { .. } => None,
            Operation::RegisterDelegatedAdmin { account, .. }
            | Operation::GuardDutyAdmin { account, .. }
            | Operation::GuardDutyOrganization { account, .. }
            | Operation::SecurityHubAdmin { account, .. }
            | Operation::SecurityHubAggregator { account, .. }
            | Operation::SecurityHubCentral { account, .. }
            | Operation::SecurityHubPolicy { account, .. }
            | Operation::SecurityHubAssociation { account, .. }
            | Operation::SecurityHubDisassociation { account, .. }
            | Operation::ConfigRule { account, .. }
            | Operation::DeleteConfigRule { account, .. } => Some(account),
        }
    }
}

/// The address of an account given by file name or id (ids need nothing).
fn account_needs(account: &str) -> Vec<Address> {
    if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) {
        Vec::new()
    } else {
        vec![Address::account_named(account)]
    }
}

impl FamilyOperation for Operation {
    fn verb(&self) -> &'static str {
        match self {
            Operation::TrustedAccess { .. } => "enable trusted access",
            Operation::RegisterDelegatedAdmin { .. } => "register delegated administrator",
            Operation::GuardDutyAdmin { .. } => "designate GuardDuty administrator",
            Operation::GuardDutyOrganization { .. } => "configure GuardDuty for the organization",
            Operation::SecurityHubAdmin { .. } => "designate Security Hub administrator",
            Operation::SecurityHubAggregator { .. } => "set the Security Hub finding aggregator",
            Operation::SecurityHubCentral { .. } => "turn on Security Hub central configuration",
            Operation::SecurityHubPolicy { .. } => "set Security Hub configuration policy",
            Operation::SecurityHubAssociation { .. } => "associate configuration policy",
            Operation::SecurityHubDisassociation { .. } => "disassociate configuration policy",
            Operation::ConfigRule { .. } => "put Config organization rule",
            Operation::DeleteConfigRule { .. } => "delete Config organization rule",
            Operation::CreateTrail { .. } => "create organization trail",
            Operation::StartLogging { .. } => "start logging",
        }
    }

    fn group(&self) -> &'static str {
        match self {
            Operation::TrustedAccess { .. } | Operation::RegisterDelegatedAdmin { .. } => {
                "Detective services: delegation"
            }
            Operation::GuardDutyAdmin { .. } | Operation::GuardDutyOrganization { .. } => {
                "GuardDuty"
            }
            Operation::SecurityHubAdmin { .. }
            | Operation::SecurityHubAggregator { .. }
            | Operation::SecurityHubCentral { .. }
            | Operation::SecurityHubPolicy { .. }
            | Operation::SecurityHubAssociation { .. }
            | Operation::SecurityHubDisassociation { .. } => "Security Hub",
            Operation::ConfigRule { .. } | Operation::DeleteConfigRule { .. } => {
                "AWS Config rules"
            }
            Operation::CreateTrail { .. } | Operation::StartLogging { .. } => "CloudTrail",
        }
    }

    fn phase(&self) -> u16 {
        match self {
            Operation::TrustedAccess { .. } => 0,
            Operation::RegisterDelegatedAdmin { .. } => 1,
            Operation::GuardDutyAdmin { .. } => 2,
            Operation::GuardDutyOrganization { .. } => 3,
            Operation::SecurityHubAdmin { .. } => 4,
            Operation::SecurityHubAggregator { .. } => 5,
            Operation::SecurityHubCentral { .. } => 6,
            Operation::SecurityHubPolicy { .. } => 7,
            Operation::SecurityHubDisassociation { .. } => 8,
            Operation::SecurityHubAssociation { .. } => 9,
            Operation::ConfigRule { .. } => 10,
            Operation::DeleteConfigRule { .. } => 11,
            Operation::CreateTrail { .. } | Operation::StartLogging { .. } => 12,
        }
    }

    fn needs(&self) -> Vec<Address> {
        let mut needs = self.admin().map(account_needs).unwrap_or_default();
        match self {
            Operation::TrustedAccess { .. } => {}
            Operation::RegisterDelegatedAdmin { principal, .. } => {
                needs.push(Address::new("trusted-access", principal));
            }
            Operation::GuardDutyAdmin { .. } | Operation::SecurityHubAdmin { .. } => {}
            Operation::GuardDutyOrganization { region, .. } => {
                needs.push(Address::new("guardduty-admin", "").in_region(region));
            }
            Operation::SecurityHubAggregator { region, .. } => {
                needs.push(Address::new("securityhub-admin", "").in_region(region));
            }
            Operation::SecurityHubCentral { region, .. } => {
                needs.push(Address::new("securityhub-aggregator", "").in_region(region));
            }
            Operation::SecurityHubPolicy { region, .. } => {
                needs.push(Address::new("securityhub-central", "").in_region(region));
            }
            Operation::SecurityHubAssociation {
                region,
                policy,
                target,
                ..
            } => {
                needs.push(Address::new("securityhub-policy", policy).in_region(region));
                needs.extend(Address::of_target(target));
            }
            Operation::SecurityHubDisassociation { region, .. } => {
                needs.push(Address::new("securityhub-central", "").in_region(region));
            }
            Operation::ConfigRule { excluded_new, .. } => {
                needs.push(delegated_address(CONFIG_MULTIACCOUNT));
                needs.extend(excluded_new.iter().map(|n| Address::account_named(n)));
            }
            Operation::DeleteConfigRule { .. } => {
                needs.push(delegated_address(CONFIG_MULTIACCOUNT));
            }
            Operation::CreateTrail { .. } | Operation::StartLogging { .. } => {}
        }
        needs
    }

    fn gated(&self) -> bool {
        // Organizations changes (trusted access, delegated administrators,
        // which the services' own designation calls register) wait for
        // Control Tower to be quiet; the services' own settings do not race it.
        matches!(
            self,
            Operation::TrustedAccess { .. }
                | Operation::RegisterDelegatedAdmin { .. }
                | Operation::GuardDutyAdmin { .. }
                | Operation::SecurityHubAdmin { .. }
        )
    }

    fn details(&self) -> Vec<String> {
        match self {
            Operation::ConfigRule {
                excluded_new,
                excluded,
                ..
            } if !excluded_new.is_empty() => vec![format!(
                "excludes {} account(s) lzctl creates in this apply, besides {} existing",
                excluded_new.len(),
                excluded.len()
            )],
            _ => Vec::new(),
        }
    }

    fn apply<'a>(&'a self, ctx: &'a StepContext<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(apply::execute(ctx, self))
    }
}
