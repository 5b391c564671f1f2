//! StackSets handlers. Each change starts its stack set operation(s), waits
//! on DescribeStackSetOperation (strongly consistent) through the shared
//! waiter, and when instances failed lists them (ListStackSetOperationResults,
//! FAILED) as a table of account × region × reason, shown to the person and
//! written to the audit log.

use aws_sdk_cloudformation::types::{
    AccountFilterType, AutoDeployment, CallAs, Capability, ConcurrencyMode, DeploymentTargets,
    ManagedExecution, OperationResultFilter, OperationResultFilterName, Parameter,
    PermissionModels, RegionConcurrencyType, StackSetOperationPreferences,
    StackSetOperationResultStatus, StackSetOperationStatus, Tag,
};
use aws_sdk_cloudformation::Client;
use serde_json::json;

use super::config::{AccountRef, Amount, ParamValue, RegionConcurrency, Rollout};
use super::{AccountFilter, Caller, Operation, OuRef, Scope, Spec};
use crate::apply::{StepContext, StepError};
use crate::aws::waiter::Poll;
use crate::aws::ErrorClass;
use crate::model::MANAGED_DESCRIPTION_PREFIX;

/// Carries out one operation.
pub async fn execute(ctx: &StepContext<'_>, op: &Operation) -> Result<(), StepError> {
    match op {
        Operation::CreateStackSet {
            name,
            spec,
            deploy,
            caller,
            ..
        } => {
            let cfn = client(ctx, caller).await;
            create_stack_set(ctx, &cfn, caller, name, spec).await?;
            create_instances(ctx, &cfn, caller, name, deploy, &spec.rollout).await
        }
        Operation::UpdateStackSet {
            name,
            spec,
            scope,
            caller,
            ..
        } => {
            let cfn = client(ctx, caller).await;
            update_stack_set(ctx, &cfn, caller, name, spec, scope.as_ref()).await
        }
        Operation::DeployInstances {
            name,
            scope,
            rollout,
            caller,
        } => {
            let cfn = client(ctx, caller).await;
            create_instances(ctx, &cfn, caller, name, scope, rollout).await
        }
        Operation::RetireInstances {
            name,
            batches,
            rollout,
            caller,
        } => {
            let cfn = client(ctx, caller).await;
            for scope in batches {
                delete_instances(ctx, &cfn, caller, name, scope, rollout).await?;
            }
            Ok(())
        }
        Operation::DeleteStackSet {
            name,
            instances,
            caller,
        } => {
            let cfn = client(ctx, caller).await;
            if let Some(scope) = instances {
                delete_instances(ctx, &cfn, caller, name, scope, &Rollout::default()).await?;
            }
            let deleted = ctx.audited(
                "cloudformation:DeleteStackSet",
                cfn.delete_stack_set()
                    .stack_set_name(name)
                    .call_as(call_as(caller))
                    .send()
                    .await,
            );
            match deleted {
                Err(StepError::Aws(e)) if e.class == ErrorClass::NotFound => Ok(()),
                other => other.map(|_| ()),
            }
        }
    }
}

/// The CloudFormation client of the caller: the management account's, or
/// the delegated administrator's (through the member role), in the home region.
async fn client(ctx: &StepContext<'_>, caller: &Caller) -> Client {
    match caller {
        Caller::Management => ctx.clients.cloudformation.clone(),
        Caller::DelegatedAdmin(account) => ctx
            .clients
            .in_account(account, &ctx.clients.region())
            .await
            .cloudformation
            .clone(),
    }
}

fn call_as(caller: &Caller) -> CallAs {
    match caller {
        Caller::Management => CallAs::SelfValue,
        Caller::DelegatedAdmin(_) => CallAs::DelegatedAdmin,
    }
}

fn preferences(r: &Rollout) -> StackSetOperationPreferences {
    let mut b = StackSetOperationPreferences::builder().region_concurrency_type(
        match r.region_concurrency {
            RegionConcurrency::Parallel => RegionConcurrencyType::Parallel,
            RegionConcurrency::Sequential => RegionConcurrencyType::Sequential,
        },
    );
    b = match r.max_concurrent {
        Amount::Count(n) => b.max_concurrent_count(n as i32),
        Amount::Percent(p) => b.max_concurrent_percentage(p as i32),
    };
    b = match r.failure_tolerance {
        Amount::Count(n) => b.failure_tolerance_count(n as i32),
        Amount::Percent(p) => b.failure_tolerance_percentage(p as i32),
    };
    if r.soft_failure_tolerance {
        b = b.concurrency_mode(ConcurrencyMode::SoftFailureTolerance);
    }
    b.build()
}

fn account_ids(ctx: &StepContext<'_>, refs: &[AccountRef]) -> Result<Vec<String>, StepError> {
    let ids = ctx.ids();
    refs.iter()
        .map(|r| match r {
            AccountRef::Id(id) => Ok(id.clone()),
            AccountRef::Name(n) => ids.account(n).map_err(StepError::from),
        })
        .collect()
}

/// OUs × account filter as DeploymentTargets, with the ids known now.
fn targets(ctx: &StepContext<'_>, scope: &Scope) -> Result<DeploymentTargets, StepError> {
    let ous = {
        let ids = ctx.ids();
        scope
            .ous
            .iter()
            .map(|o| match o {
                OuRef::Path(p) => ids.ou(p).map_err(StepError::from),
                OuRef::Id(id) => Ok(id.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut b = DeploymentTargets::builder().set_organizational_unit_ids(Some(ous));
    match &scope.filter {
        AccountFilter::None => {}
        AccountFilter::Difference(refs) => {
            b = b
                .set_accounts(Some(account_ids(ctx, refs)?))
                .account_filter_type(AccountFilterType::Difference);
        }
        AccountFilter::Intersection(refs) => {
            b = b
                .set_accounts(Some(account_ids(ctx, refs)?))
                .account_filter_type(AccountFilterType::Intersection);
        }
    }
    Ok(b.build())
}

fn parameters(ctx: &StepContext<'_>, spec: &Spec) -> Result<Vec<Parameter>, StepError> {
    let ids = ctx.ids();
    spec.parameters
        .iter()
        .map(|(k, v)| {
            let value = match v {
                ParamValue::Text(t) => t.clone(),
                ParamValue::AccountId(n) => ids.account(n)?,
                ParamValue::OrganizationId => ids.organization().to_string(),
            };
            Ok(Parameter::builder()
                .parameter_key(k)
                .parameter_value(value)
                .build())
        })
        .collect()
}

fn tags(spec: &Spec) -> Vec<Tag> {
    spec.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn capabilities(spec: &Spec) -> Vec<Capability> {
    spec.capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect()
}

async fn create_stack_set(
    ctx: &StepContext<'_>,
    cfn: &Client,
    caller: &Caller,
    name: &str,
    spec: &Spec,
) -> Result<(), StepError> {
    let request = cfn
        .create_stack_set()
        .stack_set_name(name)
        .description(&spec.description)
        .template_body(&spec.template)
        .set_parameters(Some(parameters(ctx, spec)?))
        .set_capabilities(Some(capabilities(spec)))
        .set_tags(Some(tags(spec)))
        .permission_model(PermissionModels::ServiceManaged)
        .auto_deployment(
            AutoDeployment::builder()
                .enabled(spec.auto_deployment)
                .retain_stacks_on_account_removal(false)
                .build(),
        )
        .managed_execution(ManagedExecution::builder().active(true).build())
        .call_as(call_as(caller));
    match ctx.audited("cloudformation:CreateStackSet", request.send().await) {
        Ok(_) => Ok(()),
        Err(StepError::Aws(e)) if e.code.as_deref() == Some("NameAlreadyExistsException") => {
            // An earlier attempt (an answer lost, a busy retry) created it:
            // carry on only with lzctl's own.
            let described = ctx.read(
                "cloudformation:DescribeStackSet",
                cfn.describe_stack_set()
                    .stack_set_name(name)
                    .call_as(call_as(caller))
                    .send()
                    .await,
            )?;
            let ours = described
                .stack_set()
                .and_then(|s| s.description())
                .is_some_and(|d| d.starts_with(MANAGED_DESCRIPTION_PREFIX));
            if ours {
                Ok(())
            } else {
                Err(StepError::Refused(format!(
                    "a stack set named {name} appeared that lzctl did not create"
                )))
            }
        }
        Err(e) => Err(e),
    }
}

async fn create_instances(
    ctx: &StepContext<'_>,
    cfn: &Client,
    caller: &Caller,
    name: &str,
    scope: &Scope,
    rollout: &Rollout,
) -> Result<(), StepError> {
    let out = ctx
        .audited(
            "cloudformation:CreateStackInstances",
            cfn.create_stack_instances()
                .stack_set_name(name)
                .deployment_targets(targets(ctx, scope)?)
                .set_regions(Some(scope.regions.clone()))
                .operation_preferences(preferences(rollout))
                .call_as(call_as(caller))
                .send()
                .await,
        )?
        .ok_or_else(|| StepError::Failed("CreateStackInstances returned nothing".into()))?;
    let id = out.operation_id().unwrap_or_default().to_string();
    await_operation(ctx, cfn, caller, name, &id, "CreateStackInstances").await
}

async fn update_stack_set(
    ctx: &StepContext<'_>,
    cfn: &Client,
    caller: &Caller,
    name: &str,
    spec: &Spec,
    scope: Option<&Scope>,
) -> Result<(), StepError> {
    let mut request = cfn
        .update_stack_set()
        .stack_set_name(name)
        .description(&spec.description)
        .template_body(&spec.template)
        .set_parameters(Some(parameters(ctx, spec)?))
        .set_capabilities(Some(capabilities(spec)))
        .set_tags(Some(tags(spec)))
        .permission_model(PermissionModels::ServiceManaged)
        .auto_deployment(
            AutoDeployment::builder()
                .enabled(spec.auto_deployment)
                .retain_stacks_on_account_removal(false)
                .build(),
        )
        .managed_execution(ManagedExecution::builder().active(true).build())
        .operation_preferences(preferences(&spec.rollout))
        .call_as(call_as(caller));
    if let Some(scope) = scope {
        request = request
            .deployment_targets(targets(ctx, scope)?)
            .set_regions(Some(scope.regions.clone()));
    }
    let out = ctx
        .audited("cloudformation:UpdateStackSet", request.send().await)?
        .ok_or_else(|| StepError::Failed("UpdateStackSet returned nothing".into()))?;
    let id = out.operation_id().unwrap_or_default().to_string();
    await_operation(ctx, cfn, caller, name, &id, "UpdateStackSet").await
}

async fn delete_instances(
    ctx: &StepContext<'_>,
    cfn: &Client,
    caller: &Caller,
    name: &str,
    scope: &Scope,
    rollout: &Rollout,
) -> Result<(), StepError> {
    let out = ctx
        .audited(
            "cloudformation:DeleteStackInstances",
            cfn.delete_stack_instances()
                .stack_set_name(name)
                .deployment_targets(targets(ctx, scope)?)
                .set_regions(Some(scope.regions.clone()))
                .retain_stacks(false)
                .operation_preferences(preferences(rollout))
                .call_as(call_as(caller))
                .send()
                .await,
        )?
        .ok_or_else(|| StepError::Failed("DeleteStackInstances returned nothing".into()))?;
    let id = out.operation_id().unwrap_or_default().to_string();
    await_operation(ctx, cfn, caller, name, &id, "DeleteStackInstances").await
}

/// One failed stack instance of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailure {
    /// Account id.
    pub account: String,
    /// Account name, when lzctl knows it.
    pub account_name: Option<String>,
    /// Region.
    pub region: String,
    /// FAILED.
    pub status: String,
    /// CloudFormation's reason.
    pub reason: String,
}

/// The failures as a table: account × region × status × reason.
pub fn failure_table(failures: &[InstanceFailure]) -> String {
    let label = |f: &InstanceFailure| match &f.account_name {
        Some(n) => format!("{} ({n})", f.account),
        None => f.account.clone(),
    };
    let width = failures
        .iter()
        .map(|f| label(f).len())
        .max()
        .unwrap_or(0)
        .max("ACCOUNT".len());
    let region_width = failures
        .iter()
        .map(|f| f.region.len())
        .max()
        .unwrap_or(0)
        .max("REGION".len());
    let mut out = format!(
        "  {:<width$}  {:<region_width$}  {:<9}  REASON\n",
        "ACCOUNT", "REGION", "STATUS"
    );
    for f in failures {
        out.push_str(&format!(
            "  {:<width$}  {:<region_width$}  {:<9}  {}\n",
            label(f),
            f.region,
            f.status,
            f.reason
        ));
    }
    out.trim_end().to_string()
}

/// Waits for an operation; failed instances are listed, recorded and, when
/// the operation failed (past its failure tolerance), returned as the error.
async fn await_operation(
    ctx: &StepContext<'_>,
    cfn: &Client,
    caller: &Caller,
    name: &str,
    operation_id: &str,
    call: &str,
) -> Result<(), StepError> {
    let what = format!("stack set {name}: {call} operation {operation_id}");
    let (status, reason, failed) = ctx
        .wait(&what, || async {
            let out = ctx.read(
                "cloudformation:DescribeStackSetOperation",
                cfn.describe_stack_set_operation()
                    .stack_set_name(name)
                    .operation_id(operation_id)
                    .call_as(call_as(caller))
                    .send()
                    .await,
            )?;
            let op = out.stack_set_operation();
            Ok(match op.and_then(|o| o.status()) {
                Some(
                    s @ (StackSetOperationStatus::Succeeded
                    | StackSetOperationStatus::Failed
                    | StackSetOperationStatus::Stopped),
                ) => Poll::Done((
                    s.clone(),
                    op.and_then(|o| o.status_reason()).map(str::to_string),
                    op.and_then(|o| o.status_details())
                        .and_then(|d| d.failed_stack_instances_count())
                        .unwrap_or(0),
                )),
                Some(other) => Poll::Pending(other.as_str().to_string()),
                None => Poll::Pending("no status yet".into()),
            })
        })
        .await?;
    let succeeded = status == StackSetOperationStatus::Succeeded;
    if succeeded && failed == 0 {
        return Ok(());
    }
    let failures = failed_instances(ctx, cfn, caller, name, operation_id, failed).await?;
    let details = json!({
        "stack_set": name,
        "operation_id": operation_id,
        "call": call,
        "status": status.as_str(),
        "status_reason": reason,
        "failures": failures.iter().map(|f| json!({
            "account": f.account,
            "account_name": f.account_name,
            "region": f.region,
            "status": f.status,
            "reason": f.reason,
        })).collect::<Vec<_>>(),
    });
    let summary = format!(
        "{}: {} stack instance(s) failed",
        status.as_str(),
        failures.len()
    );
    ctx.audit
        .record_details(
            &ctx.address.to_string(),
            "cloudformation:DescribeStackSetOperation",
            None,
            &summary,
            Some(&details),
        )
        .map_err(StepError::Audit)?;
    let table = failure_table(&failures);
    if succeeded {
        ctx.progress.note(
            ctx.address,
            &format!(
                "{call} operation {operation_id} SUCCEEDED within its failure tolerance, but {} stack instance(s) failed:\n{table}",
                failures.len()
            ),
        );
        return Ok(());
    }
    let reason = reason.unwrap_or_else(|| format!("{} stack instance(s) failed", failures.len()));
    Err(StepError::Failed(format!(
        "stack set {name}: {call} operation {operation_id} {} ({reason}):\n{table}",
        status.as_str(),
    )))
}

/// The FAILED results of an operation. ListStackSetOperationResults is
/// eventually consistent: read again (through the waiter) until it lists
/// as many failures as DescribeStackSetOperation counted.
async fn failed_instances(
    ctx: &StepContext<'_>,
    cfn: &Client,
    caller: &Caller,
    name: &str,
    operation_id: &str,
    expected: i32,
) -> Result<Vec<InstanceFailure>, StepError> {
    let mut attempts = 0u32;
    ctx.wait(&format!("the results of operation {operation_id}"), || {
        attempts += 1;
        let last_try = attempts >= 5;
        async move {
            let pages: Vec<_> = cfn
                .list_stack_set_operation_results()
                .stack_set_name(name)
                .operation_id(operation_id)
                .filters(
                    OperationResultFilter::builder()
                        .name(OperationResultFilterName::OperationResultStatus)
                        .values(StackSetOperationResultStatus::Failed.as_str())
                        .build(),
                )
                .call_as(call_as(caller))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    StepError::from(crate::aws::AwsError::from_sdk(
                        "cloudformation:ListStackSetOperationResults",
                        &e,
                    ))
                })?;
            let failures: Vec<InstanceFailure> = {
                let ids = ctx.ids();
                pages
                    .iter()
                    .flat_map(|p| p.summaries())
                    .filter(|r| r.status() == Some(&StackSetOperationResultStatus::Failed))
                    .map(|r| {
                        let account = r.account().unwrap_or_default().to_string();
                        InstanceFailure {
                            account_name: ids.account_name(&account),
                            account,
                            region: r.region().unwrap_or_default().to_string(),
                            status: "FAILED".into(),
                            reason: r.status_reason().unwrap_or("no reason given").to_string(),
                        }
                    })
                    .collect()
            };
            Ok(if failures.len() as i32 >= expected || last_try {
                Poll::Done(failures)
            } else {
                Poll::Pending(format!(
                    "{} of {expected} failures listed so far",
                    failures.len()
                ))
            })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_table_names_account_region_and_reason() {
        let table = failure_table(&[
            InstanceFailure {
                account: "210987654321".into(),
                account_name: Some("kaede-dev".into()),
                region: "ap-northeast-1".into(),
                status: "FAILED".into(),
                reason: "Resource handler returned message: AccessDenied".into(),
            },
            InstanceFailure {
                account: "111111111111".into(),
                account_name: None,
                region: "ap-northeast-3".into(),
                status: "FAILED".into(),
                reason: "timeout".into(),
            },
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("ACCOUNT") && lines[0].contains("REASON"));
        assert!(lines[1].contains("210987654321 (kaede-dev)"));
        assert!(lines[1].contains("ap-northeast-1"));
        assert!(lines[1].ends_with("AccessDenied"));
        assert!(lines[2].contains("111111111111"));
        // Columns line up.
        assert_eq!(lines[1].find("ap-northeast-1"), lines[2].find("ap-northeast-3"));
    }
}
