//! Reading the live landing zone, read-only: every family's reader runs
//! concurrently (`families::observe_all`), each with as few calls as give a
//! complete picture.

use std::collections::BTreeSet;

use crate::aws::{AwsError, Clients};
use crate::config::{ControlTowerMode, Desired};
use crate::families::{Caller, Observed};
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
    /// Read the tags of policies lzctl did not create (its ownership mark
    /// for `prune`): one call per such policy, so only when `prune` is on.
    pub policy_tags: bool,
    /// Parallel requests during the walk.
    pub concurrency: usize,
}

impl ObserveScope {
    /// What to read for a config: tags only where they matter.
    pub fn for_config(desired: &Desired, concurrency: usize) -> ObserveScope {
        ObserveScope {
            declared_ous: desired.state.ous.keys().cloned().collect(),
            ous_with_tags: desired
                .state
                .ous
                .iter()
                .filter(|(_, o)| !o.tags.is_empty())
                .map(|(p, _)| p.clone())
                .collect(),
            all_ou_tags: false,
            account_tags_for: if desired.uses_account_tags {
                desired.state.accounts.keys().cloned().collect()
            } else {
                Default::default()
            },
            list_all_targets: false,
            policy_tags: desired.prune,
            expected_management_account: Some(desired.organization.management_account.clone()),
            control_tower: Some(desired.organization.control_tower),
            concurrency,
        }
    }
}

/// What every family's reader gets.
pub struct ObserveContext<'a> {
    /// Clients in the home region, as the management account.
    pub clients: &'a Clients,
    /// What to read.
    pub scope: &'a ObserveScope,
    /// The file, when there is one (snapshots can be taken without).
    pub desired: Option<&'a Desired>,
    /// Progress lines while reading (`reading OUs: 40`), on a terminal only.
    pub progress: &'a (dyn Fn(&str) + Sync),
    /// Whom lzctl acts as, once known (read once, shared by every family).
    pub caller: Option<&'a Caller>,
}

/// Why observation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
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

impl ObserveError {
    /// A hint for a person, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            ObserveError::Aws(e) => e.hint(),
            ObserveError::WrongAccount { .. } => Some(
                "use credentials of the management account the file names (--profile), or fix `organization.management_account`".into(),
            ),
            ObserveError::ControlTowerMissing => Some(
                "run in Control Tower's home region (--region), or set `control_tower: auto` or `absent`".into(),
            ),
            ObserveError::Unexpected(_) => None,
        }
    }
}

/// Classifies an SDK error of a read call.
pub(crate) fn aws_error<E, R>(
    operation: &'static str,
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> ObserveError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: crate::aws::HasStatus + std::fmt::Debug + 'static,
{
    ObserveError::Aws(AwsError::from_sdk(operation, &err))
}

/// Who is calling (GetCallerIdentity).
pub async fn caller(clients: &Clients) -> Result<Caller, ObserveError> {
    let out = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("sts:GetCallerIdentity", e))?;
    Ok(Caller {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// Reads the whole landing zone for a plan.
pub async fn observe(ctx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
    crate::families::observe_all(ctx).await
}
