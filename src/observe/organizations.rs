//! The Organizations reader: the tree level by level with bounded
//! concurrency, accounts per parent, policies per type with content and
//! targets, tags only where they matter. Everything paginated.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_organizations::types::{
    AccountStatus, CreateAccountState, PolicyType, PolicyTypeStatus, TargetType,
};
use futures::{StreamExt, TryStreamExt};

use super::{aws_error, control_tower_presence, ObserveError, ObserveScope};
use crate::aws::Clients;
use crate::config::ControlTowerMode;
use crate::model::path::MAX_OU_DEPTH;
use crate::model::{
    Account, ControlTowerPresence, OrgState, Ou, OuPath, Policy, PolicyKind, Target,
};

/// AWS's full-access policies: attached to nearly every target, so listing
/// their targets costs a page per 20 targets.
fn is_full_access(name: &str, aws_managed: bool) -> bool {
    aws_managed && matches!(name, "FullAWSAccess" | "RCPFullAWSAccess")
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
    let org = &clients.organizations;
    let lookups: Vec<(PolicyKind, Target, String)> = targets
        .iter()
        .filter_map(|(kind, target)| {
            ids.target(target)
                .ok()
                .map(|id| (*kind, target.clone(), id))
        })
        .collect();
    let pacer = &clients.pacer;
    let found: Vec<(Target, Vec<String>)> = futures::stream::iter(lookups.into_iter().map(|(kind, target, id)| async move {
        pacer.wait("ListPoliciesForTarget").await;
        let pages = org.list_policies_for_target().target_id(&id).filter(PolicyType::from(kind.api_name())).into_paginator().send().try_collect().await.map_err(|e| aws_error("ListPoliciesForTarget", e))?;
        let names = pages
            .iter()
            .flat_map(|p: &aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput| p.policies().to_vec())
            .filter_map(|s| s.name().map(str::to_string))
            .collect();
        Ok::<_, ObserveError>((target, names))
    }))
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

struct Walked {
    ous: BTreeMap<OuPath, Ou>,
    ou_ids: HashMap<String, OuPath>,
    accounts: Vec<(String, String, String, OuPath)>,
    /// Ids of accounts that are suspended or being closed.
    closed: BTreeSet<String>,
}

/// Reads the organization the clients point at.
pub async fn observe_organization(
    clients: &Clients,
    scope: &ObserveScope,
) -> Result<OrgState, ObserveError> {
    let org = &clients.organizations;
    let caller = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("GetCallerIdentity", e))?;
    let caller = caller.account().unwrap_or_default().to_string();
    let described = org
        .describe_organization()
        .send()
        .await
        .map_err(|e| aws_error("DescribeOrganization", e))?;
    let organization = described.organization().ok_or_else(|| {
        ObserveError::Unexpected("DescribeOrganization returned no organization".into())
    })?;
    let management = organization
        .master_account_id()
        .unwrap_or_default()
        .to_string();
    let organization_id = organization.id().unwrap_or_default().to_string();
    if let Some(expected) = &scope.expected_management_account {
        if &caller != expected || &management != expected {
            return Err(ObserveError::WrongAccount {
                caller,
                organization: organization_id,
                management,
                expected: expected.clone(),
            });
        }
    }

    let roots = org
        .list_roots()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListRoots", e))?;
    let roots: Vec<_> = roots
        .iter()
        .flat_map(
            |p: &aws_sdk_organizations::operation::list_roots::ListRootsOutput| p.roots().to_vec(),
        )
        .collect();
    let root = roots
        .into_iter()
        .next()
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
    let walked = walk_tree(org, &root_id, concurrency).await?;
    let mut state = OrgState {
        organization_id: Some(organization_id),
        root_id: Some(root_id.clone()),
        management_account_id: Some(management),
        enabled_policy_types,
        ous: walked.ous,
        ..OrgState::default()
    };
    let mut account_ids: HashMap<String, String> = HashMap::new();
    // Sorted by id so that, of accounts sharing a name, the same one keeps the plain name every time.
    let mut listed = walked.accounts;
    listed.sort();
    for (id, name, email, ou) in listed {
        let key = if state.accounts.contains_key(&name) {
            format!("{name}#{id}")
        } else {
            name.clone()
        };
        account_ids.insert(id.clone(), key.clone());
        if walked.closed.contains(&id) {
            state.closed_accounts.insert(key.clone());
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

    state.policies = read_policies(
        org,
        &root_id,
        &walked.ou_ids,
        &account_ids,
        concurrency,
        scope.list_all_targets,
        &clients.pacer,
    )
    .await?;
    state.partially_listed = state
        .policies
        .iter()
        .filter(|(name, p)| !scope.list_all_targets && is_full_access(name, p.aws_managed))
        .map(|(name, _)| name.clone())
        .collect();
    read_tags(clients, scope, &mut state, concurrency).await?;

    let in_progress = org
        .list_create_account_status()
        .states(CreateAccountState::InProgress)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListCreateAccountStatus", e))?;
    let in_progress: Vec<_> = in_progress.iter().flat_map(|p: &aws_sdk_organizations::operation::list_create_account_status::ListCreateAccountStatusOutput| p.create_account_statuses().to_vec()).collect();
    state.accounts_being_created = in_progress
        .iter()
        .filter_map(|s| s.account_name().map(str::to_string))
        .collect();

    state.control_tower = match scope.control_tower {
        None | Some(ControlTowerMode::Absent) => ControlTowerPresence::NotChecked,
        Some(mode) => {
            let presence = control_tower_presence(&clients.controltower).await?;
            if mode == ControlTowerMode::Required && presence != ControlTowerPresence::Present {
                return Err(ObserveError::ControlTowerMissing);
            }
            presence
        }
    };
    Ok(state)
}

async fn walk_tree(
    org: &aws_sdk_organizations::Client,
    root_id: &str,
    concurrency: usize,
) -> Result<Walked, ObserveError> {
    let mut walked = Walked {
        ous: BTreeMap::new(),
        ou_ids: HashMap::new(),
        accounts: Vec::new(),
        closed: BTreeSet::new(),
    };
    let mut level: Vec<(String, OuPath)> = vec![(root_id.to_string(), OuPath::root())];
    while !level.is_empty() {
        let results: Vec<_> = futures::stream::iter(level.into_iter().map(|(id, path)| async move {
            let children = if path.depth() < MAX_OU_DEPTH {
                org.list_organizational_units_for_parent().parent_id(&id).into_paginator().send().try_collect().await.map_err(|e| aws_error("ListOrganizationalUnitsForParent", e))?.iter().flat_map(|p: &aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput| p.organizational_units().to_vec()).collect()
            } else {
                Vec::new()
            };
            let accounts = org.list_accounts_for_parent().parent_id(&id).into_paginator().send().try_collect().await.map_err(|e| aws_error("ListAccountsForParent", e))?;
            let accounts: Vec<_> = accounts.iter().flat_map(|p: &aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput| p.accounts().to_vec()).collect();
            Ok::<_, ObserveError>((path, children, accounts))
        }))
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
        let mut next = Vec::new();
        for (path, children, accounts) in results {
            for ou in children {
                let child = path.child(ou.name().unwrap_or_default());
                let id = ou.id().unwrap_or_default().to_string();
                walked.ou_ids.insert(id.clone(), child.clone());
                walked.ous.insert(
                    child.clone(),
                    Ou {
                        id: Some(id.clone()),
                        tags: Default::default(),
                    },
                );
                next.push((id, child));
            }
            for a in accounts {
                if matches!(
                    a.status(),
                    Some(AccountStatus::Suspended | AccountStatus::PendingClosure)
                ) {
                    walked.closed.insert(a.id().unwrap_or_default().to_string());
                }
                walked.accounts.push((
                    a.id().unwrap_or_default().to_string(),
                    a.name().unwrap_or_default().to_string(),
                    a.email().unwrap_or_default().to_string(),
                    path.clone(),
                ));
            }
        }
        level = next;
    }
    Ok(walked)
}

async fn read_policies(
    org: &aws_sdk_organizations::Client,
    root_id: &str,
    ou_ids: &HashMap<String, OuPath>,
    account_ids: &HashMap<String, String>,
    concurrency: usize,
    list_all_targets: bool,
    pacer: &crate::aws::Pacer,
) -> Result<BTreeMap<String, Policy>, ObserveError> {
    let mut summaries = Vec::new();
    for kind in PolicyKind::ALL {
        let listed = org
            .list_policies()
            .filter(PolicyType::from(kind.api_name()))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListPolicies", e))?;
        let listed: Vec<_> = listed
            .iter()
            .flat_map(
                |p: &aws_sdk_organizations::operation::list_policies::ListPoliciesOutput| {
                    p.policies().to_vec()
                },
            )
            .collect();
        summaries.extend(listed.into_iter().map(|s| (kind, s)));
    }
    let policies: Vec<(String, Policy)> = futures::stream::iter(summaries.into_iter().map(|(kind, summary)| async move {
        let id = summary.id().unwrap_or_default().to_string();
        let aws_managed = summary.aws_managed();
        let content = if aws_managed && matches!(summary.name(), Some("FullAWSAccess" | "RCPFullAWSAccess")) {
            crate::model::AWS_FULL_ACCESS_DOCUMENT.to_string()
        } else {
            let described = org.describe_policy().policy_id(&id).send().await.map_err(|e| aws_error("DescribePolicy", e))?;
            described.policy().and_then(|p| p.content()).unwrap_or_default().to_string()
        };
        let name = summary.name().unwrap_or_default();
        let listed = if list_all_targets || !is_full_access(name, aws_managed) {
            pacer.wait("ListTargetsForPolicy").await;
            org.list_targets_for_policy().policy_id(&id).into_paginator().send().try_collect().await.map_err(|e| aws_error("ListTargetsForPolicy", e))?
        } else {
            Vec::new()
        };
        let listed: Vec<_> = listed.iter().flat_map(|p: &aws_sdk_organizations::operation::list_targets_for_policy::ListTargetsForPolicyOutput| p.targets().to_vec()).collect();
        let targets = listed
            .iter()
            .filter_map(|t| {
                let target_id = t.target_id()?;
                match t.r#type()? {
                    TargetType::Root if target_id == root_id => Some(Target::Root),
                    TargetType::OrganizationalUnit => ou_ids.get(target_id).cloned().map(Target::Ou),
                    TargetType::Account => account_ids.get(target_id).cloned().map(Target::Account),
                    _ => None,
                }
            })
            .collect();
        let policy = Policy { id: Some(id), kind, description: summary.description().unwrap_or_default().to_string(), content, targets, aws_managed };
        Ok::<_, ObserveError>((summary.name().unwrap_or_default().to_string(), policy))
    }))
    .buffer_unordered(concurrency)
    .try_collect()
    .await?;
    Ok(policies.into_iter().collect())
}

async fn read_tags(
    clients: &Clients,
    scope: &ObserveScope,
    state: &mut OrgState,
    concurrency: usize,
) -> Result<(), ObserveError> {
    let org = &clients.organizations;
    // Tags of OUs the config declares (to diff them) and of OUs it does not
    // name (to tell lzctl's own from others'); a declared OU without tags
    // needs no call.
    let mut wanted: Vec<(Target, String)> = state
        .ous
        .iter()
        .filter(|(path, _)| {
            scope.all_ou_tags
                || !scope.declared_ous.contains(*path)
                || scope.ous_with_tags.contains(*path)
        })
        .filter_map(|(path, ou)| ou.id.clone().map(|id| (Target::Ou(path.clone()), id)))
        .collect();
    wanted.extend(
        state
            .accounts
            .iter()
            .filter(|(name, _)| scope.account_tags_for.contains(*name))
            .filter_map(|(name, a)| a.id.clone().map(|id| (Target::Account(name.clone()), id))),
    );
    let tagged: Vec<(Target, BTreeMap<String, String>)> = futures::stream::iter(wanted.into_iter().map(|(target, id)| async move {
        let tags = org.list_tags_for_resource().resource_id(&id).into_paginator().send().try_collect().await.map_err(|e| aws_error("ListTagsForResource", e))?;
        let tags: Vec<_> = tags.iter().flat_map(|p: &aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceOutput| p.tags().to_vec()).collect();
        Ok::<_, ObserveError>((target, tags.into_iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()))
    }))
    .buffer_unordered(concurrency)
    .try_collect()
    .await?;
    for (target, tags) in tagged {
        match target {
            Target::Ou(path) => state.ous.get_mut(&path).expect("walked").tags = tags,
            Target::Account(name) => state.accounts.get_mut(&name).expect("walked").tags = tags,
            Target::Root => {}
        }
    }
    Ok(())
}
