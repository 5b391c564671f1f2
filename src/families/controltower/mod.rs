//! The Control Tower family: the landing zone as lzctl sees it, the OUs
//! registered with Control Tower (enabled AWSControlTowerBaseline), the
//! enrollment of accounts lzctl vends, and the gate that keeps lzctl from
//! racing Control Tower. Control Tower's own objects (its landing zone, its
//! controls, its OUs' registration once made) are never changed.

mod apply;
mod diff;
pub mod gate;
mod observe;
mod rooms;

pub use diff::registrations;
pub use gate::ControlTowerGate;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{DiffContext, DiffError, FamilyDiff, FamilyOperation, Slot};
use crate::apply::{StepContext, StepError};
use crate::model::{Address, OuPath};
use crate::observe::{ObserveContext, ObserveError};

/// Name of the baseline that registers an OU.
pub const CONTROL_TOWER_BASELINE: &str = "AWSControlTowerBaseline";
/// Name of the baseline that prepares Identity Center for registrations.
pub const IDENTITY_CENTER_BASELINE: &str = "IdentityCenterBaseline";
/// The remediation type that makes Control Tower enroll accounts moved into
/// a registered OU (auto-enrollment, landing zone 3.1 and later).
pub const AUTO_ENROLLMENT: &str = "INHERITANCE_DRIFT";

/// Registration of the family (see `families!`).
pub struct Family;

/// Whether lzctl found a landing zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Not checked (config says absent, or offline).
    #[default]
    NotChecked,
    /// A landing zone exists.
    Present,
    /// No landing zone.
    Missing,
}

/// The landing zone's settings lzctl depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandingZone {
    /// ARN.
    pub arn: String,
    /// Version (`3.3`).
    pub version: String,
    /// ACTIVE, PROCESSING or FAILED.
    pub status: String,
    /// IN_SYNC or DRIFTED.
    pub drift: String,
    /// Regions Control Tower governs.
    pub governed_regions: Vec<String>,
    /// Whether Control Tower enrolls accounts moved into registered OUs.
    pub auto_enrollment: bool,
    /// Name of the Security OU Control Tower made.
    pub security_ou: Option<String>,
    /// Name of the Sandbox OU Control Tower made.
    pub sandbox_ou: Option<String>,
}

/// One enabled baseline (an OU's registration, or an account's enrollment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledBaseline {
    /// ARN of the enabled baseline.
    pub arn: String,
    /// ARN of the baseline.
    pub baseline: String,
    /// Baseline version.
    pub version: String,
    /// ARN of the OU (or account) it is enabled on.
    pub target: String,
    /// SUCCEEDED, FAILED or UNDER_CHANGE.
    pub status: String,
    /// DRIFTED or IN_SYNC, when Control Tower says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
}

/// What lzctl reads of Control Tower.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlTowerState {
    /// Whether there is a landing zone.
    pub presence: Presence,
    /// The landing zone, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_zone: Option<LandingZone>,
    /// Baseline ARNs by name.
    #[serde(default)]
    pub baselines: BTreeMap<String, String>,
    /// OU-level enabled baselines (registrations and shared baselines).
    #[serde(default)]
    pub enabled: Vec<EnabledBaseline>,
    /// What Control Tower was doing when observed (shown as a notice; not
    /// part of the state's digest: apply waits for it anyway).
    #[serde(skip)]
    pub busy: Vec<String>,
    /// Account Factory provisioned products under change, by name (an
    /// account being vended; not digested).
    #[serde(skip)]
    pub provisioning: std::collections::BTreeSet<String>,
}

/// Whether Control Tower governs the organization.
pub fn is_present(state: &ControlTowerState) -> bool {
    state.presence == Presence::Present
}

impl super::Family for Family {
    type Desired = ();
    type Observed = ControlTowerState;

    fn observe<'a>(
        ctx: &'a ObserveContext<'a>,
    ) -> BoxFuture<'a, Result<ControlTowerState, ObserveError>> {
        Box::pin(observe::observe(ctx))
    }

    fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
        diff::diff(ctx)
    }
}

/// What a Control Tower change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    /// Register an OU: EnableBaseline of AWSControlTowerBaseline on it, then
    /// wait for the operation.
    RegisterOu {
        /// The OU.
        path: OuPath,
        /// ARN of AWSControlTowerBaseline.
        baseline: String,
        /// Its version for this landing zone.
        version: String,
        /// The enabled IdentityCenterBaseline, passed as a parameter when
        /// Identity Center is enabled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity_center: Option<String>,
    },
    /// Re-register an OU (ResetEnabledBaseline): retries a failed
    /// registration, or enrolls accounts moved in without auto-enrollment.
    ResetOu {
        /// The OU.
        path: OuPath,
    },
    /// Vend an account through Control Tower's Account Factory (Service
    /// Catalog ProvisionProduct): Control Tower creates it in the OU, enrolls
    /// it and creates its IAM Identity Center user.
    ProvisionAccount {
        /// Account name (also the provisioned product's name).
        name: String,
        /// Root email.
        email: String,
        /// Registered destination OU.
        ou: OuPath,
        /// The Identity Center user.
        sso_user: crate::config::SsoUser,
    },
    /// Wait until Control Tower has enrolled an account that lzctl created
    /// or moved into a registered OU (auto-enrollment).
    AwaitEnrollment {
        /// The account (file name).
        account: String,
        /// The registered OU it arrives in.
        ou: OuPath,
    },
}

/// Control Tower runs one OU operation at a time (a quota, not adjustable).
fn ou_operation_slot() -> Slot {
    Slot {
        name: "controltower:ou-operation".into(),
        capacity: 1,
    }
}

/// Address of an OU's registration.
pub fn registration_address(path: &OuPath) -> Address {
    Address::new("ct-registration", &path.to_string())
}

impl FamilyOperation for Operation {
    fn verb(&self) -> &'static str {
        match self {
            Operation::RegisterOu { .. } => "register OU with Control Tower",
            Operation::ResetOu { .. } => "re-register OU with Control Tower",
            Operation::AwaitEnrollment { .. } => "wait for Control Tower enrollment",
            Operation::ProvisionAccount { .. } => "vend account with Account Factory",
        }
    }

    fn group(&self) -> &'static str {
        "Control Tower"
    }

    fn phase(&self) -> u16 {
        match self {
            Operation::RegisterOu { .. } => 0,
            Operation::ResetOu { .. } => 1,
            Operation::AwaitEnrollment { .. } => 2,
            Operation::ProvisionAccount { .. } => 3,
        }
    }

    fn needs(&self) -> Vec<Address> {
        match self {
            Operation::RegisterOu { path, .. } => {
                let mut needs = Address::ou_with_ancestors(path);
                if let Some(parent) = path.parent().filter(|p| !p.is_root()) {
                    needs.push(registration_address(&parent));
                }
                needs
            }
            Operation::ResetOu { path } => {
                let mut needs = Address::ou_with_ancestors(path);
                needs.push(registration_address(path));
                needs
            }
            Operation::AwaitEnrollment { account, ou } => {
                vec![Address::account_named(account), registration_address(ou)]
            }
            Operation::ProvisionAccount { ou, .. } => {
                let mut needs = Address::ou_with_ancestors(ou);
                needs.push(registration_address(ou));
                needs
            }
        }
    }

    fn slots(&self) -> Vec<Slot> {
        match self {
            Operation::RegisterOu { .. } | Operation::ResetOu { .. } => vec![ou_operation_slot()],
            Operation::AwaitEnrollment { .. } => vec![],
            Operation::ProvisionAccount { ou, .. } => {
                crate::families::organizations::governed_slots(ou)
            }
        }
    }

    fn gated(&self) -> bool {
        // Waiting for Control Tower's own enrollment must not wait for
        // Control Tower to be quiet: the enrollment is what keeps it busy.
        !matches!(self, Operation::AwaitEnrollment { .. })
    }

    fn apply<'a>(&'a self, ctx: &'a StepContext<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(apply::execute(ctx, self))
    }
}
