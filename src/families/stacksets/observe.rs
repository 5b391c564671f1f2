//! Reading StackSets: one paginated ListStackSets; for each stack set lzctl
//! owns, DescribeStackSet and the pages of ListStackInstances. Foreign stack
//! sets (Control Tower's and others') cost nothing beyond the listing: their
//! summaries say whose they are. Calls grow with lzctl's stack sets and
//! pages, never with accounts.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{CallAs, StackSetStatus};
use futures::{StreamExt, TryStreamExt};

use super::{is_control_tower_stackset, InstanceState, StackSetState, StackSetsState};
use crate::model::MANAGED_DESCRIPTION_PREFIX;
use crate::observe::{aws_error, ObserveContext, ObserveError};

/// Reads StackSets when the file has baselines (or may prune them), or for
/// a snapshot.
pub(super) async fn observe(ctx: &ObserveContext<'_>) -> Result<StackSetsState, ObserveError> {
    let wanted = match ctx.desired {
        Some(d) => !d.families.stacksets.0.is_empty() || d.prune,
        None => true,
    };
    if !wanted {
        return Ok(StackSetsState::default());
    }
    let cfn = &ctx.clients.cloudformation;
    let uses_admin = ctx
        .desired
        .is_some_and(|d| d.families.stacksets.uses_delegated_admin());
    let (pages, delegated_admin) = futures::try_join!(
        async {
            let pages: Vec<_> = cfn
                .list_stack_sets()
                .status(StackSetStatus::Active)
                .call_as(CallAs::SelfValue)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("cloudformation:ListStackSets", e))?;
            Ok::<_, ObserveError>(pages)
        },
        async {
            if !uses_admin {
                return Ok(None);
            }
            let out = ctx
                .clients
                .organizations
                .list_delegated_administrators()
                .service_principal(super::STACKSETS_ADMIN_PRINCIPAL)
                .send()
                .await
                .map_err(|e| aws_error("organizations:ListDelegatedAdministrators", e))?;
            Ok(out
                .delegated_administrators()
                .first()
                .and_then(|a| a.id())
                .map(str::to_string))
        },
    )?;
    let mut state = StackSetsState {
        read: true,
        delegated_admin,
        ..StackSetsState::default()
    };
    let mut owned = Vec::new();
    for summary in pages.iter().flat_map(|p| p.summaries()) {
        let name = summary.stack_set_name().unwrap_or_default().to_string();
        let description = summary.description().unwrap_or_default();
        if is_control_tower_stackset(&name) {
            state
                .foreign
                .insert(name, "Control Tower's stack set (never changed)".into());
        } else if description.starts_with(MANAGED_DESCRIPTION_PREFIX) {
            owned.push(name);
        } else {
            state.foreign.insert(
                name,
                "not created by lzctl (its description lacks the `[lzctl]` prefix)".into(),
            );
        }
    }
    let concurrency = ctx.scope.concurrency.max(1);
    let read: Vec<(String, StackSetState)> = futures::stream::iter(owned.into_iter().map(
        |name| async move { Ok::<_, ObserveError>((name.clone(), read_one(cfn, &name).await?)) },
    ))
    .buffer_unordered(concurrency)
    .try_collect()
    .await?;
    state.owned = read.into_iter().collect();
    Ok(state)
}

async fn read_one(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<StackSetState, ObserveError> {
    let (described, pages) = futures::try_join!(
        async {
            cfn.describe_stack_set()
                .stack_set_name(name)
                .call_as(CallAs::SelfValue)
                .send()
                .await
                .map_err(|e| aws_error("cloudformation:DescribeStackSet", e))
        },
        async {
            let pages: Vec<_> = cfn
                .list_stack_instances()
                .stack_set_name(name)
                .call_as(CallAs::SelfValue)
                .max_results(100)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("cloudformation:ListStackInstances", e))?;
            Ok::<_, ObserveError>(pages)
        },
    )?;
    let Some(set) = described.stack_set() else {
        return Err(ObserveError::Unexpected(format!(
            "DescribeStackSet {name} returned no stack set"
        )));
    };
    let mut out = StackSetState {
        id: set.stack_set_id().unwrap_or_default().to_string(),
        description: set.description().unwrap_or_default().to_string(),
        template: set.template_body().unwrap_or_default().to_string(),
        parameters: set
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        capabilities: set
            .capabilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        tags: set
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect(),
        permission_model: set
            .permission_model()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        auto_deployment: set
            .auto_deployment()
            .and_then(|a| a.enabled())
            .unwrap_or(false),
        managed_execution: set
            .managed_execution()
            .and_then(|m| m.active())
            .unwrap_or(false),
        ou_ids: set.organizational_unit_ids().iter().cloned().collect(),
        regions: set.regions().iter().cloned().collect(),
        current: BTreeMap::new(),
        other: Vec::new(),
    };
    for i in pages.iter().flat_map(|p| p.summaries()) {
        let account = i.account().unwrap_or_default().to_string();
        let region = i.region().unwrap_or_default().to_string();
        let status = i.status().map(|s| s.as_str()).unwrap_or_default();
        let detailed = i
            .stack_instance_status()
            .and_then(|s| s.detailed_status())
            .map(|s| s.as_str())
            .unwrap_or_default();
        if status == "CURRENT" && matches!(detailed, "SUCCEEDED" | "") {
            out.current.entry(account).or_default().insert(region);
        } else {
            out.other.push(InstanceState {
                account,
                region,
                status: status.to_string(),
                detailed_status: detailed.to_string(),
                reason: i.status_reason().map(str::to_string),
            });
        }
    }
    out.other.sort();
    Ok(out)
}
