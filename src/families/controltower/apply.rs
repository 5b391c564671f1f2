//! Control Tower handlers: register an OU (EnableBaseline, then wait for the
//! operation), re-register one (ResetEnabledBaseline), wait for an
//! account's enrollment. A registration that FAILED is reported with
//! Control Tower's own status message.

use aws_sdk_controltower::types::{
    BaselineOperationStatus, EnabledBaselineFilter, EnabledBaselineParameter, EnablementStatus,
};
use aws_smithy_types::Document;

use super::Operation;
use crate::apply::{StepContext, StepError};
use crate::aws::waiter::Poll;
use crate::model::OuPath;

/// Carries out one operation.
pub async fn execute(ctx: &StepContext<'_>, op: &Operation) -> Result<(), StepError> {
    match op {
        Operation::RegisterOu {
            path,
            baseline,
            version,
            identity_center,
        } => register(ctx, path, baseline, version, identity_center.as_deref()).await,
        Operation::ResetOu { path } => reset(ctx, path).await,
        Operation::AwaitEnrollment { account, ou } => await_enrollment(ctx, account, ou).await,
    }
}

/// The OU-level enabled baseline on `target`, if any: (ARN, status).
async fn enabled_on(
    ctx: &StepContext<'_>,
    target: &str,
    include_children: bool,
) -> Result<Option<(String, String, Option<String>)>, StepError> {
    let out = ctx.read(
        "controltower:ListEnabledBaselines",
        ctx.clients
            .controltower
            .list_enabled_baselines()
            .filter(
                EnabledBaselineFilter::builder()
                    .target_identifiers(target)
                    .build(),
            )
            .include_children(include_children)
            .send()
            .await,
    )?;
    Ok(out.enabled_baselines().first().map(|e| {
        let summary = e.status_summary();
        (
            e.arn().to_string(),
            summary
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            summary
                .and_then(|s| s.last_operation_identifier())
                .map(str::to_string),
        )
    }))
}

/// Waits for a baseline operation; FAILED carries Control Tower's message.
async fn wait_for_operation(ctx: &StepContext<'_>, what: &str, operation: &str) -> Result<(), StepError> {
    ctx.wait(what, || async {
        let out = ctx.read(
            "controltower:GetBaselineOperation",
            ctx.clients
                .controltower
                .get_baseline_operation()
                .operation_identifier(operation)
                .send()
                .await,
        )?;
        let op = out.baseline_operation();
        match op.and_then(|o| o.status()) {
            Some(BaselineOperationStatus::Succeeded) => Ok(Poll::Done(())),
            Some(BaselineOperationStatus::Failed) => Err(StepError::Failed(format!(
                "Control Tower reports {what} FAILED: {}",
                op.and_then(|o| o.status_message())
                    .unwrap_or("no status message")
            ))),
            Some(other) => Ok(Poll::Pending(other.as_str().to_string())),
            None => Ok(Poll::Pending("no status yet".into())),
        }
    })
    .await
}

/// Waits until the enabled baseline on `target` has settled.
async fn wait_for_enabled(
    ctx: &StepContext<'_>,
    what: &str,
    target: &str,
    include_children: bool,
) -> Result<(), StepError> {
    let last_operation = ctx
        .wait(what, || async {
            Ok(match enabled_on(ctx, target, include_children).await? {
                None => Poll::Pending("not started yet".into()),
                Some((_, status, op)) if status == EnablementStatus::Succeeded.as_str() => {
                    let _ = op;
                    Poll::Done(None)
                }
                Some((_, status, op)) if status == EnablementStatus::Failed.as_str() => {
                    Poll::Done(Some(op))
                }
                Some((_, status, _)) => Poll::Pending(status),
            })
        })
        .await?;
    match last_operation {
        None => Ok(()),
        Some(Some(operation)) => wait_for_operation(ctx, what, &operation).await,
        Some(None) => Err(StepError::Failed(format!(
            "Control Tower reports {what} FAILED"
        ))),
    }
}

async fn register(
    ctx: &StepContext<'_>,
    path: &OuPath,
    baseline: &str,
    version: &str,
    identity_center: Option<&str>,
) -> Result<(), StepError> {
    let target = ctx.ids().ou_arn(path)?;
    let what = format!("the registration of {path}");
    let mut request = ctx
        .clients
        .controltower
        .enable_baseline()
        .baseline_identifier(baseline)
        .baseline_version(version)
        .target_identifier(&target);
    if let Some(arn) = identity_center {
        request = request.parameters(
            EnabledBaselineParameter::builder()
                .key("IdentityCenterEnabledBaselineArn")
                .value(Document::String(arn.to_string()))
                .build()
                .map_err(|e| StepError::Failed(e.to_string()))?,
        );
    }
    match ctx.audited("controltower:EnableBaseline", request.send().await) {
        Ok(Some(out)) => wait_for_operation(ctx, &what, out.operation_identifier()).await,
        Ok(None) => wait_for_enabled(ctx, &what, &target, false).await,
        Err(e) => {
            // An earlier attempt may have registered it already (an answer
            // lost on the way, an apply interrupted): adopt that one.
            if enabled_on(ctx, &target, false).await?.is_some() {
                wait_for_enabled(ctx, &what, &target, false).await
            } else {
                Err(e)
            }
        }
    }
}

async fn reset(ctx: &StepContext<'_>, path: &OuPath) -> Result<(), StepError> {
    let target = ctx.ids().ou_arn(path)?;
    let what = format!("the re-registration of {path}");
    let Some((arn, _, _)) = enabled_on(ctx, &target, false).await? else {
        return Err(StepError::Failed(format!(
            "{path} is not registered with Control Tower"
        )));
    };
    let out = ctx
        .audited(
            "controltower:ResetEnabledBaseline",
            ctx.clients
                .controltower
                .reset_enabled_baseline()
                .enabled_baseline_identifier(arn)
                .send()
                .await,
        )?
        .ok_or_else(|| StepError::Failed("ResetEnabledBaseline returned nothing".into()))?;
    wait_for_operation(ctx, &what, out.operation_identifier()).await
}

async fn await_enrollment(ctx: &StepContext<'_>, account: &str, ou: &OuPath) -> Result<(), StepError> {
    let target = ctx.ids().account_arn(account)?;
    let what = format!("the enrollment of account {account} in {ou}");
    wait_for_enabled(ctx, &what, &target, true).await
}
