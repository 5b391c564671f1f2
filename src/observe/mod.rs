//! Reading the live organization, read-only, with as few calls as give a
//! complete picture.

mod controltower;
mod organizations;

pub use controltower::control_tower_presence;
pub use organizations::{complete_targets, observe_organization};

use std::collections::BTreeSet;

use crate::config::ControlTowerMode;
use crate::model::OuPath;

/// What to read beyond the tree, accounts and policies.
#[derive(Debug, Clone, Default)]
pub struct ObserveScope {
    /// OUs the config declares.
    pub declared_ous: BTreeSet<OuPath>,
    /// Declared OUs that declare tags (their tags are read).
    pub ous_with_tags: BTreeSet<OuPath>,
    /// Read tags of every OU, not only declared ones (snapshots).
    pub all_ou_tags: bool,
    /// Accounts whose tags are read (empty: none).
    pub account_tags_for: BTreeSet<String>,
    /// Refuse unless the caller is this management account.
    pub expected_management_account: Option<String>,
    /// Whether to look for Control Tower.
    pub control_tower: Option<ControlTowerMode>,
    /// List the targets of AWS's full-access policies too (one page per 20
    /// targets); otherwise they are looked up only where a plan needs them.
    pub list_all_targets: bool,
    /// Parallel requests during the walk.
    pub concurrency: usize,
}

/// Why observation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// An AWS call failed.
    #[error("{operation} failed: {message}")]
    Aws {
        /// Operation.
        operation: &'static str,
        /// SDK error with its causes.
        message: String,
    },
    /// The caller is not the management account the config names.
    #[error("refusing to run: the caller is account {caller} in organization {organization} (management account {management}); the configuration names management account {expected}")]
    WrongAccount {
        /// Caller account.
        caller: String,
        /// Organization id.
        organization: String,
        /// Its management account.
        management: String,
        /// Expected by the config.
        expected: String,
    },
    /// The config requires Control Tower and there is none.
    #[error("the configuration says `control_tower: required` but no landing zone was found in this region")]
    ControlTowerMissing,
    /// The organization is not one lzctl can read.
    #[error("{0}")]
    Unexpected(String),
}

pub(crate) fn aws_error<E>(operation: &'static str, err: E) -> ObserveError
where
    E: std::error::Error + Send + Sync + 'static,
{
    ObserveError::Aws {
        operation,
        message: aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    }
}
