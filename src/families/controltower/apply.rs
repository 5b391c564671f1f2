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
        Operation::ProvisionAccount {
            name,
            email,
            ou,
            sso_user,
        } => provision_account(ctx, name, email, ou, sso_user).await,
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

/// The name of Control Tower's Account Factory product in Service Catalog.
pub const ACCOUNT_FACTORY_PRODUCT: &str = "AWS Control Tower Account Factory";

/// Vends an account through Account Factory: finds the product and its
/// active provisioning artifact, provisions it (the provision token makes a
/// retried request the same provisioning), and waits for the record.
async fn provision_account(
    ctx: &StepContext<'_>,
    name: &str,
    email: &str,
    ou: &OuPath,
    user: &crate::config::SsoUser,
) -> Result<(), StepError> {
    use aws_sdk_servicecatalog::types::{
        ProductViewFilterBy, ProvisioningArtifactGuidance, RecordStatus,
    };
    let sc = super::gate::service_catalog(ctx.clients);
    let products = ctx.read(
        "servicecatalog:SearchProducts",
        sc.search_products()
            .filters(
                ProductViewFilterBy::FullTextSearch,
                vec![ACCOUNT_FACTORY_PRODUCT.to_string()],
            )
            .send()
            .await,
    )?;
    let product = products
        .product_view_summaries()
        .iter()
        .find(|p| p.name() == Some(ACCOUNT_FACTORY_PRODUCT))
        .and_then(|p| p.product_id())
        .ok_or_else(|| {
            StepError::Failed(format!(
                "Service Catalog has no `{ACCOUNT_FACTORY_PRODUCT}` product this caller may use; share its portfolio with the role lzctl runs as"
            ))
        })?
        .to_string();
    let artifacts = ctx.read(
        "servicecatalog:ListProvisioningArtifacts",
        sc.list_provisioning_artifacts()
            .product_id(&product)
            .send()
            .await,
    )?;
    let artifact = artifacts
        .provisioning_artifact_details()
        .iter()
        .filter(|a| a.active() != Some(false))
        .filter(|a| a.guidance() != Some(&ProvisioningArtifactGuidance::Deprecated))
        .max_by_key(|a| a.created_time().map(|t| t.secs()))
        .and_then(|a| a.id())
        .ok_or_else(|| StepError::Failed("Account Factory has no active provisioning artifact".into()))?
        .to_string();
    let (ou_id, ou_name) = (ctx.ids().ou(ou)?, ou.name().to_string());
    let parameter = |key: &str, value: &str| {
        aws_sdk_servicecatalog::types::ProvisioningParameter::builder()
            .key(key)
            .value(value)
            .build()
    };
    let token = crate::digest::sha256_hex(format!("lzctl:{name}:{email}").as_bytes());
    let out = ctx
        .audited(
            "servicecatalog:ProvisionProduct",
            sc.provision_product()
                .product_id(&product)
                .provisioning_artifact_id(&artifact)
                .provisioned_product_name(name)
                .provision_token(&token[..32])
                .provisioning_parameters(parameter("AccountName", name))
                .provisioning_parameters(parameter("AccountEmail", email))
                .provisioning_parameters(parameter(
                    "ManagedOrganizationalUnit",
                    &format!("{ou_name} ({ou_id})"),
                ))
                .provisioning_parameters(parameter("SSOUserEmail", &user.email))
                .provisioning_parameters(parameter("SSOUserFirstName", &user.first_name))
                .provisioning_parameters(parameter("SSOUserLastName", &user.last_name))
                .send()
                .await,
        )?
        .ok_or_else(|| StepError::Failed("ProvisionProduct returned nothing".into()))?;
    let record = out
        .record_detail()
        .and_then(|r| r.record_id())
        .unwrap_or_default()
        .to_string();
    let account_id = ctx
        .wait(&format!("Account Factory vending {name}"), || async {
            let described = ctx.read(
                "servicecatalog:DescribeRecord",
                sc.describe_record().id(&record).send().await,
            )?;
            let detail = described.record_detail();
            match detail.and_then(|d| d.status()) {
                Some(RecordStatus::Succeeded) => Ok(Poll::Done(
                    described
                        .record_outputs()
                        .iter()
                        .find(|o| o.output_key() == Some("AccountId"))
                        .and_then(|o| o.output_value())
                        .map(str::to_string),
                )),
                Some(RecordStatus::Failed) => Err(StepError::Failed(format!(
                    "Account Factory could not vend {name}: {}",
                    detail
                        .map(|d| {
                            d.record_errors()
                                .iter()
                                .filter_map(|e| e.description())
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "no reason given".into())
                ))),
                Some(other) => Ok(Poll::Pending(other.as_str().to_string())),
                None => Ok(Poll::Pending("no status yet".into())),
            }
        })
        .await?;
    if let Some(id) = account_id {
        ctx.ids().add_account(name.to_string(), id);
    }
    Ok(())
}
