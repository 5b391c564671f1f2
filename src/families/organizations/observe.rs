//! The Organizations reader. The tree is read as a pipeline: each OU's
//! children, accounts and (where needed) tags are listed as soon as the OU
//! is known, with bounded concurrency; policies with their content and
//! targets are read alongside the walk; everything paginated.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use aws_sdk_organizations::types::{
    Account as SdkAccount, AccountState, AccountStatus, CreateAccountState, PolicyType,
    PolicyTypeStatus, TargetType,
};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};

use super::diff::{targets_to_complete, DiffInput};
use crate::aws::Clients;
use crate::families::Caller;
use crate::model::path::MAX_OU_DEPTH;
use crate::model::{Account, OrgState, Ou, OuPath, Policy, PolicyKind, Tags, Target};
use crate::observe::{aws_error, caller, ObserveContext, ObserveError, ObserveScope};

/// AWS's full-access policies: attached to nearly every target, so listing
/// their targets costs a page per 20 targets.
fn is_full_access(name: &str, aws_managed: bool) -> bool {
    aws_managed && matches!(name, "FullAWSAccess" | "RCPFullAWSAccess")
}

/// What AWS says of an account's lifecycle: `State` since 2026-09-09,
/// `Status` before (read only when `State` is absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Usable.
    Active,
    /// Not usable yet.
    Pending,
    /// Suspended, closing or closed: never moved or tagged.
    Closed,
}

/// Reads an account's lifecycle.
pub fn lifecycle(account: &SdkAccount) -> Lifecycle {
    match account.state() {
        Some(AccountState::Active) => Lifecycle::Active,
        Some(AccountState::PendingActivation) => Lifecycle::Pending,
        Some(AccountState::Suspended | AccountState::PendingClosure | AccountState::Closed) => {
            Lifecycle::Closed
        }
        Some(_) => Lifecycle::Pending,
        None => match account.status() {
            Some(AccountStatus::Suspended | AccountStatus::PendingClosure) => Lifecycle::Closed,
            _ => Lifecycle::Active,
        },
    }
}

/// Reads what a plan needs: the organization, then the full attachments of
/// the targets the plan will touch.
pub(super) async fn observe_for_plan(ctx: &ObserveContext<'_>) -> Result<OrgState, ObserveError> {
    let Some(desired) = ctx.desired else {
        return read(ctx.clients, ctx.scope, ctx.caller.cloned(), ctx.progress, Extras::ALL).await;
    };
    // A policy type the file does not use is listed only when prune may
    // delete lzctl's policies of it. SCPs always are: the lockout guard
    // evaluates every SCP in force.
    let types = (!desired.prune).then(|| {
        desired
            .state
            .policies
            .values()
            .map(|p| p.kind)
            .chain([PolicyKind::Scp])
            .collect::<BTreeSet<_>>()
    });
    let extras = Extras {
        create_status: false,
        trusted_access: false,
        types,
    };
    let mut state = read(ctx.clients, ctx.scope, ctx.caller.cloned(), ctx.progress, extras).await?;
    // Read only when the plan can use them: the accounts being created when
    // the file names one AWS lacks; trusted access when the file renames an
    // account or sets up detective services.
    let missing = desired.state.accounts.iter().any(|(name, want)| {
        !state.accounts.iter().any(|(key, have)| {
            key == name
                || have.email.eq_ignore_ascii_case(&want.email)
                || (want.id.is_some() && have.id == want.id)
        })
    });
    let renamed = desired.state.accounts.iter().any(|(name, want)| {
        state
            .accounts
            .iter()
            .any(|(key, have)| key != name && have.email.eq_ignore_ascii_case(&want.email))
    });
    let trusted = renamed || desired.families.detective.is_some();
    let org = &ctx.clients.organizations;
    let (being_created, trusted) = futures::try_join!(
        async {
            if missing {
                accounts_being_created(org).await
            } else {
                Ok(BTreeSet::new())
            }
        },
        async {
            if trusted {
                trusted_services(org).await
            } else {
                Ok(BTreeSet::new())
            }
        },
    )?;
    state.accounts_being_created = being_created;
    state.trusted_services = trusted;
    let input = DiffInput::of(desired, false);
    let needed = targets_to_complete(&input, &state);
    complete_targets(ctx.clients, &mut state, &needed, ctx.scope.concurrency).await?;
    read_rollout_halts(ctx.clients, &mut state, desired).await?;
    Ok(state)
}

/// What `read` reads beyond the tree and the policies.
struct Extras {
    /// CreateAccount requests in progress.
    create_status: bool,
    /// Service principals with trusted access.
    trusted_access: bool,
    /// Policy types to list (`None`: every enabled one).
    types: Option<BTreeSet<PolicyKind>>,
}

impl Extras {
    const ALL: Extras = Extras {
        create_status: true,
        trusted_access: true,
        types: None,
    };
}

async fn accounts_being_created(
    org: &aws_sdk_organizations::Client,
) -> Result<BTreeSet<String>, ObserveError> {
    let pages: Vec<_> = org
        .list_create_account_status()
        .states(CreateAccountState::InProgress)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("organizations:ListCreateAccountStatus", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.create_account_statuses())
        .filter_map(|s| s.account_name().map(str::to_string))
        .collect())
}

async fn trusted_services(
    org: &aws_sdk_organizations::Client,
) -> Result<BTreeSet<String>, ObserveError> {
    let pages: Vec<_> = org
        .list_aws_service_access_for_organization()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("organizations:ListAWSServiceAccessForOrganization", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.enabled_service_principals())
        .filter_map(|s| s.service_principal().map(str::to_string))
        .collect())
}

/// The halt tags of the policies the file rolls out in waves: one call per
/// such policy that exists.
async fn read_rollout_halts(
    clients: &Clients,
    state: &mut OrgState,
    desired: &crate::config::Desired,
) -> Result<(), ObserveError> {
    // A staged document change rolls out the policy's copy (see `staged`),
    // which carries the tag then.
    let ids: Vec<(String, String)> = desired
        .rollouts
        .keys()
        .flat_map(|name| [name.clone(), super::staged::staged_name(name)])
        .filter_map(|name| {
            let id = state.policies.get(&name)?.id.clone()?;
            Some((name, id))
        })
        .collect();
    let org = &clients.organizations_policies;
    let found = futures::future::try_join_all(ids.into_iter().map(|(name, id)| async move {
        let tags = read_tags(org, &id).await?;
        Ok::<_, ObserveError>(
            tags.get(crate::rollout::HALT_TAG_KEY)
                .map(|v| (name, v.clone())),
        )
    }))
    .await?;
    state.rollout_halts.extend(found.into_iter().flatten());
    Ok(())
}

/// Looks up, target by target, the attachments of partially listed policies
/// (ListPoliciesForTarget), for the targets a plan is about to change.
pub async fn complete_targets(
    clients: &Clients,
    state: &mut OrgState,
    targets: &BTreeSet<(PolicyKind, Target)>,
    concurrency: usize,
) -> Result<(), ObserveError> {
    let ids = crate::apply::ids::IdRegistry::from_state(state);
    let org = &clients.organizations_policies;
    let lookups: Vec<(PolicyKind, Target, String)> = targets
        .iter()
        .filter_map(|(kind, target)| {
            ids.target(target)
                .ok()
                .map(|id| (*kind, target.clone(), id))
        })
        .collect();
    let found: Vec<(Target, Vec<String>)> = futures::stream::iter(lookups.into_iter().map(
        |(kind, target, id)| async move {
            let pages: Vec<_> = org
                .list_policies_for_target()
                .target_id(&id)
                .filter(PolicyType::from(kind.api_name()))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("organizations:ListPoliciesForTarget", e))?;
            let names = pages
                .iter()
                .flat_map(|p| p.policies())
                .filter_map(|s| s.name().map(str::to_string))
                .collect();
            Ok::<_, ObserveError>((target, names))
        },
    ))
    .buffer_unordered(concurrency.max(1))
    .try_collect()
    .await?;
    for (target, names) in found {
        for name in names {
            if state.partially_listed.contains(&name) {
                if let Some(p) = state.policies.get_mut(&name) {
                    p.targets.insert(target.clone());
                }
            }
        }
    }
    Ok(())
}

/// Reads the organization the clients point at (snapshots, `scp` commands).
pub async fn observe_organization(
    clients: &Clients,
    scope: &ObserveScope,
) -> Result<OrgState, ObserveError> {
    read(clients, scope, None, &|_| {}, Extras::ALL).await
}

/// One listed account: id, name, email, parent, lifecycle.
type Listed = (String, String, String, OuPath, Lifecycle);

/// A policy as listed, its targets still as AWS ids.
struct RawPolicy {
    name: String,
    policy: Policy,
    targets: Vec<(TargetType, String)>,
}

enum Found {
    Children {
        path: OuPath,
        ous: Vec<(String, String)>,
        accounts: Vec<SdkAccount>,
    },
    Tags {
        target: Target,
        tags: Tags,
    },
}

async fn read(
    clients: &Clients,
    scope: &ObserveScope,
    known_caller: Option<Caller>,
    progress: &(dyn Fn(&str) + Sync),
    extras: Extras,
) -> Result<OrgState, ObserveError> {
    let org = &clients.organizations;
    let (caller, described, roots) = futures::try_join!(
        async {
            match known_caller {
                Some(c) => Ok(c),
                None => caller(clients).await,
            }
        },
        async {
            org.describe_organization()
                .send()
                .await
                .map_err(|e| aws_error("organizations:DescribeOrganization", e))
        },
        async {
            let pages: Vec<_> = org
                .list_roots()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("organizations:ListRoots", e))?;
            Ok::<_, ObserveError>(pages)
        },
    )?;
    let organization = described.organization().ok_or_else(|| {
        ObserveError::Unexpected("DescribeOrganization returned no organization".into())
    })?;
    let management = organization
        .master_account_id()
        .unwrap_or_default()
        .to_string();
    let organization_id = organization.id().unwrap_or_default().to_string();
    if let Some(expected) = &scope.expected_management_account {
        if &caller.account != expected || &management != expected {
            return Err(ObserveError::WrongAccount {
                caller: caller.account,
                organization: organization_id,
                management,
                expected: expected.clone(),
            });
        }
    }
    let root = roots
        .iter()
        .flat_map(|p| p.roots())
        .next()
        .cloned()
        .ok_or_else(|| ObserveError::Unexpected("the organization has no root".into()))?;
    let root_id = root.id().unwrap_or_default().to_string();
    let enabled_policy_types: BTreeSet<PolicyKind> = root
        .policy_types()
        .iter()
        .filter(|t| t.status() == Some(&PolicyTypeStatus::Enabled))
        .filter_map(|t| {
            t.r#type()
                .and_then(|ty| PolicyKind::from_api_name(ty.as_str()))
        })
        .collect();

    let concurrency = scope.concurrency.max(1);
    let listed_types: BTreeSet<PolicyKind> = match &extras.types {
        Some(wanted) => enabled_policy_types.intersection(wanted).copied().collect(),
        None => enabled_policy_types.clone(),
    };
    let ((ous, ou_ids, accounts, mut tags), raw_policies, being_created, trusted) = futures::try_join!(
        walk_tree(org, &root_id, scope, concurrency, progress),
        read_policies(clients, &listed_types, scope, concurrency),
        async {
            if extras.create_status {
                accounts_being_created(org).await
            } else {
                Ok(BTreeSet::new())
            }
        },
        async {
            if extras.trusted_access {
                trusted_services(org).await
            } else {
                Ok(BTreeSet::new())
            }
        },
    )?;

    let mut state = OrgState {
        organization_id: Some(organization_id),
        root_id: Some(root_id.clone()),
        management_account_id: Some(management),
        enabled_policy_types,
        ous,
        accounts_being_created: being_created,
        trusted_services: trusted,
        ..OrgState::default()
    };
    let mut account_keys: HashMap<String, String> = HashMap::new();
    // Sorted by id so that, of accounts sharing a name, the same one keeps the plain name every time.
    let mut listed = accounts;
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, name, email, ou, life) in listed {
        let key = if state.accounts.contains_key(&name) {
            format!("{name}#{id}")
        } else {
            name.clone()
        };
        account_keys.insert(id.clone(), key.clone());
        match life {
            Lifecycle::Closed => {
                state.closed_accounts.insert(key.clone());
            }
            Lifecycle::Pending => {
                state.pending_accounts.insert(key.clone());
            }
            Lifecycle::Active => {}
        }
        state.accounts.insert(
            key,
            Account {
                id: Some(id),
                email,
                ou,
                tags: Default::default(),
            },
        );
    }
    for raw in raw_policies {
        let mut policy = raw.policy;
        policy.targets = raw
            .targets
            .iter()
            .filter_map(|(kind, id)| match kind {
                TargetType::Root if *id == root_id => Some(Target::Root),
                TargetType::OrganizationalUnit => ou_ids.get(id).cloned().map(Target::Ou),
                TargetType::Account => account_keys.get(id).cloned().map(Target::Account),
                _ => None,
            })
            .collect();
        if !scope.list_all_targets && is_full_access(&raw.name, policy.aws_managed) {
            state.partially_listed.insert(raw.name.clone());
        }
        state.policies.insert(raw.name, policy);
    }
    // Account tags need the account keys; OU tags were read during the walk.
    let wanted: Vec<(Target, String)> = state
        .accounts
        .iter()
        .filter(|(key, _)| scope.account_tags_for.contains(*key))
        .filter_map(|(key, a)| a.id.clone().map(|id| (Target::Account(key.clone()), id)))
        .collect();
    let account_tags: Vec<(Target, Tags)> = futures::stream::iter(
        wanted
            .into_iter()
            .map(|(target, id)| async move { Ok::<_, ObserveError>((target, read_tags(org, &id).await?)) }),
    )
    .buffer_unordered(concurrency)
    .try_collect()
    .await?;
    tags.extend(account_tags);
    for (target, t) in tags {
        match target {
            Target::Ou(path) => {
                if let Some(ou) = state.ous.get_mut(&path) {
                    ou.tags = t;
                }
            }
            Target::Account(key) => {
                if let Some(a) = state.accounts.get_mut(&key) {
                    a.tags = t;
                }
            }
            Target::Root => {}
        }
    }
    Ok(state)
}

async fn read_tags(org: &aws_sdk_organizations::Client, id: &str) -> Result<Tags, ObserveError> {
    let pages: Vec<_> = org
        .list_tags_for_resource()
        .resource_id(id)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("organizations:ListTagsForResource", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.tags())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// Whether an OU's tags are read: OUs the config declares with tags (to diff
/// them) and OUs it does not name (to tell lzctl's own from others'); a
/// declared OU without tags needs no call.
fn wants_tags(scope: &ObserveScope, path: &OuPath) -> bool {
    scope.all_ou_tags || !scope.declared_ous.contains(path) || scope.ous_with_tags.contains(path)
}

type Walked = (
    BTreeMap<OuPath, Ou>,
    HashMap<String, OuPath>,
    Vec<Listed>,
    Vec<(Target, Tags)>,
);

/// The tree as a pipeline: every listing starts as soon as its OU is known.
async fn walk_tree(
    org: &aws_sdk_organizations::Client,
    root_id: &str,
    scope: &ObserveScope,
    concurrency: usize,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Walked, ObserveError> {
    let mut ous: BTreeMap<OuPath, Ou> = BTreeMap::new();
    let mut ou_ids: HashMap<String, OuPath> = HashMap::new();
    let mut accounts: Vec<Listed> = Vec::new();
    let mut tags: Vec<(Target, Tags)> = Vec::new();
    let mut queue: VecDeque<BoxFuture<'_, Result<Found, ObserveError>>> = VecDeque::new();
    let mut running = FuturesUnordered::new();
    queue.push_back(Box::pin(list_children(org, root_id.to_string(), OuPath::root())));
    loop {
        while running.len() < concurrency {
            match queue.pop_front() {
                Some(task) => running.push(task),
                None => break,
            }
        }
        let Some(found) = running.next().await else {
            break;
        };
        match found? {
            Found::Children {
                path,
                ous: children,
                accounts: listed,
            } => {
                for (id, name) in children {
                    let child = path.child(&name);
                    ou_ids.insert(id.clone(), child.clone());
                    ous.insert(
                        child.clone(),
                        Ou {
                            id: Some(id.clone()),
                            tags: Default::default(),
                        },
                    );
                    if wants_tags(scope, &child) {
                        let (target, tag_id) = (Target::Ou(child.clone()), id.clone());
                        queue.push_back(Box::pin(async move {
                            Ok(Found::Tags {
                                target,
                                tags: read_tags(org, &tag_id).await?,
                            })
                        }));
                    }
                    queue.push_back(Box::pin(list_children(org, id, child)));
                }
                for a in listed {
                    accounts.push((
                        a.id().unwrap_or_default().to_string(),
                        a.name().unwrap_or_default().to_string(),
                        a.email().unwrap_or_default().to_string(),
                        path.clone(),
                        lifecycle(&a),
                    ));
                }
                progress(&format!(
                    "reading the organization: {} OUs, {} accounts",
                    ous.len(),
                    accounts.len()
                ));
            }
            Found::Tags { target, tags: t } => tags.push((target, t)),
        }
    }
    Ok((ous, ou_ids, accounts, tags))
}

/// The child OUs and the accounts of one parent.
async fn list_children(
    org: &aws_sdk_organizations::Client,
    id: String,
    path: OuPath,
) -> Result<Found, ObserveError> {
    let (children, accounts) = futures::try_join!(
        async {
            if path.depth() >= MAX_OU_DEPTH {
                return Ok(Vec::new());
            }
            let pages: Vec<_> = org
                .list_organizational_units_for_parent()
                .parent_id(&id)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("organizations:ListOrganizationalUnitsForParent", e))?;
            Ok::<_, ObserveError>(
                pages
                    .iter()
                    .flat_map(|p| p.organizational_units())
                    .map(|ou| {
                        (
                            ou.id().unwrap_or_default().to_string(),
                            ou.name().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        },
        async {
            let pages: Vec<_> = org
                .list_accounts_for_parent()
                .parent_id(&id)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("organizations:ListAccountsForParent", e))?;
            Ok::<_, ObserveError>(
                pages
                    .iter()
                    .flat_map(|p| p.accounts().iter().cloned())
                    .collect(),
            )
        },
    )?;
    Ok(Found::Children {
        path,
        ous: children,
        accounts,
    })
}

/// Policies of the enabled types, with content and targets (targets of AWS's
/// full-access policies only when asked: they are attached nearly everywhere).
async fn read_policies(
    clients: &Clients,
    enabled: &BTreeSet<PolicyKind>,
    scope: &ObserveScope,
    concurrency: usize,
) -> Result<Vec<RawPolicy>, ObserveError> {
    // Policy targets are what AWS throttles first: they go through the
    // client with a retry partition of its own.
    let (org, targets_client) = (&clients.organizations, &clients.organizations_policies);
    let list_all_targets = scope.list_all_targets;
    let policy_tags = scope.policy_tags;
    let listed: Vec<Vec<(PolicyKind, aws_sdk_organizations::types::PolicySummary)>> =
        futures::future::try_join_all(enabled.iter().map(|kind| async move {
            let pages: Vec<_> = org
                .list_policies()
                .filter(PolicyType::from(kind.api_name()))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("organizations:ListPolicies", e))?;
            Ok::<_, ObserveError>(
                pages
                    .iter()
                    .flat_map(|p| p.policies().iter().cloned())
                    .map(|s| (*kind, s))
                    .collect(),
            )
        }))
        .await?;
    futures::stream::iter(listed.into_iter().flatten().map(|(kind, summary)| async move {
        let id = summary.id().unwrap_or_default().to_string();
        let name = summary.name().unwrap_or_default().to_string();
        let aws_managed = summary.aws_managed();
        let full_access = is_full_access(&name, aws_managed);
        let content = async {
            if full_access {
                return Ok(crate::model::AWS_FULL_ACCESS_DOCUMENT.to_string());
            }
            let described = org
                .describe_policy()
                .policy_id(&id)
                .send()
                .await
                .map_err(|e| aws_error("organizations:DescribePolicy", e))?;
            Ok::<_, ObserveError>(
                described
                    .policy()
                    .and_then(|p| p.content())
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        let targets = async {
            if full_access && !list_all_targets {
                return Ok(Vec::new());
            }
            let pages: Vec<_> = targets_client
                .list_targets_for_policy()
                .policy_id(&id)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("organizations:ListTargetsForPolicy", e))?;
            Ok::<_, ObserveError>(
                pages
                    .iter()
                    .flat_map(|p| p.targets())
                    .filter_map(|t| Some((t.r#type()?.clone(), t.target_id()?.to_string())))
                    .collect(),
            )
        };
        // Ownership of a policy lzctl did not create is its tag; read only
        // when it decides something (`prune`), one call per such policy.
        let description = summary.description().unwrap_or_default().to_string();
        let tags = async {
            if !policy_tags
                || aws_managed
                || crate::model::is_control_tower_policy(&name)
                || description.starts_with(crate::model::MANAGED_DESCRIPTION_PREFIX)
            {
                return Ok(Tags::new());
            }
            read_tags(org, &id).await
        };
        let (content, targets, tags) = futures::try_join!(content, targets, tags)?;
        Ok::<_, ObserveError>(RawPolicy {
            name,
            policy: Policy {
                id: Some(id),
                kind,
                description,
                content,
                targets: BTreeSet::new(),
                aws_managed,
                tags,
            },
            targets,
        })
    }))
    .buffer_unordered(concurrency)
    .try_collect()
    .await
}
