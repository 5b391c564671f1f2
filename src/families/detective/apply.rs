//! Detective handlers. Trusted access, delegated administrators and the
//! trail run as the management account; everything else in the delegated
//! administrator account through the member role. Every poll goes through
//! the one waiter.

use aws_sdk_securityhub::types::{
    ConfigurationPolicyAssociationStatus, OrganizationConfiguration,
    OrganizationConfigurationConfigurationType, OrganizationConfigurationStatus, Policy,
    SecurityControlsConfiguration, SecurityHubPolicy, Target as HubTarget,
};

use super::Operation;
use crate::apply::{StepContext, StepError};
use crate::aws::waiter::Poll;
use crate::aws::Clients;
use crate::model::Target;

/// Carries out one operation.
pub async fn execute(ctx: &StepContext<'_>, op: &Operation) -> Result<(), StepError> {
    match op {
        Operation::TrustedAccess { principal } => {
            ctx.audited(
                "organizations:EnableAWSServiceAccess",
                ctx.clients
                    .organizations
                    .enable_aws_service_access()
                    .service_principal(principal)
                    .send()
                    .await,
            )?;
            Ok(())
        }
        Operation::RegisterDelegatedAdmin { principal, account } => {
            let id = account_id(ctx, account)?;
            let result = ctx.clients
                .organizations
                .register_delegated_administrator()
                .account_id(&id)
                .service_principal(principal)
                .send()
                .await;
            match ctx.audited("organizations:RegisterDelegatedAdministrator", result) {
                Err(StepError::Aws(e)) if e.code.as_deref() == Some("AccountAlreadyRegisteredException") => Ok(()),
                other => other.map(|_| ()),
            }
        }
        Operation::GuardDutyAdmin { region, account } => {
            let id = account_id(ctx, account)?;
            ctx.audited(
                "guardduty:EnableOrganizationAdminAccount",
                ctx.clients
                    .in_region(region)
                    .guardduty
                    .enable_organization_admin_account()
                    .admin_account_id(&id)
                    .send()
                    .await,
            )?;
            Ok(())
        }
        Operation::GuardDutyOrganization {
            region,
            account,
            auto_enable,
            features,
        } => guardduty_organization(ctx, region, account, auto_enable, features).await,
        Operation::SecurityHubAdmin { region, account } => {
            let id = account_id(ctx, account)?;
            ctx.audited(
                "securityhub:EnableOrganizationAdminAccount",
                ctx.clients
                    .in_region(region)
                    .securityhub
                    .enable_organization_admin_account()
                    .admin_account_id(&id)
                    .send()
                    .await,
            )?;
            Ok(())
        }
        Operation::SecurityHubAggregator {
            region,
            account,
            linked,
            existing,
        } => {
            let hub = admin(ctx, account, region).await?.securityhub;
            ensure_hub(ctx, &hub).await?;
            let mode = if linked.is_empty() { "NO_REGIONS" } else { "SPECIFIED_REGIONS" };
            let regions: Vec<String> = linked.iter().cloned().collect();
            match existing {
                Some(arn) => {
                    ctx.audited(
                        "securityhub:UpdateFindingAggregator",
                        hub.update_finding_aggregator()
                            .finding_aggregator_arn(arn)
                            .region_linking_mode(mode)
                            .set_regions((!regions.is_empty()).then_some(regions))
                            .send()
                            .await,
                    )?;
                }
                None => {
                    ctx.audited(
                        "securityhub:CreateFindingAggregator",
                        hub.create_finding_aggregator()
                            .region_linking_mode(mode)
                            .set_regions((!regions.is_empty()).then_some(regions))
                            .send()
                            .await,
                    )?;
                }
            }
            Ok(())
        }
        Operation::SecurityHubCentral { region, account } => {
            let hub = admin(ctx, account, region).await?.securityhub;
            let current = ctx.read(
                "securityhub:DescribeOrganizationConfiguration",
                hub.describe_organization_configuration().send().await,
            )?;
            let is_central = current
                .organization_configuration()
                .and_then(|c| c.configuration_type())
                == Some(&OrganizationConfigurationConfigurationType::Central);
            if !is_central {
                ctx.audited(
                    "securityhub:UpdateOrganizationConfiguration",
                    hub.update_organization_configuration()
                        .auto_enable(false)
                        .auto_enable_standards(aws_sdk_securityhub::types::AutoEnableStandards::None)
                        .organization_configuration(
                            OrganizationConfiguration::builder()
                                .configuration_type(OrganizationConfigurationConfigurationType::Central)
                                .build(),
                        )
                        .send()
                        .await,
                )?;
            }
            ctx.wait("Security Hub central configuration", || async {
                let out = ctx.read(
                    "securityhub:DescribeOrganizationConfiguration",
                    hub.describe_organization_configuration().send().await,
                )?;
                let config = out.organization_configuration();
                match config.and_then(|c| c.status()) {
                    Some(OrganizationConfigurationStatus::Enabled) => Ok(Poll::Done(())),
                    Some(OrganizationConfigurationStatus::Failed) => Err(StepError::Failed(format!(
                        "Security Hub reports central configuration FAILED: {}",
                        config.and_then(|c| c.status_message()).unwrap_or("no message")
                    ))),
                    Some(other) => Ok(Poll::Pending(other.as_str().to_string())),
                    None => Ok(Poll::Pending("no status yet".into())),
                }
            })
            .await
        }
        Operation::SecurityHubPolicy {
            region,
            account,
            name,
            description,
            standards,
            disabled_controls,
            existing,
        } => {
            let hub = admin(ctx, account, region).await?.securityhub;
            let policy = Policy::SecurityHub(
                SecurityHubPolicy::builder()
                    .service_enabled(true)
                    .set_enabled_standard_identifiers(Some(standards.iter().cloned().collect()))
                    .security_controls_configuration(
                        SecurityControlsConfiguration::builder()
                            .set_disabled_security_control_identifiers(Some(
                                disabled_controls.iter().cloned().collect(),
                            ))
                            .build(),
                    )
                    .build(),
            );
            match existing {
                Some(id) => {
                    ctx.audited(
                        "securityhub:UpdateConfigurationPolicy",
                        hub.update_configuration_policy()
                            .identifier(id)
                            .name(name)
                            .description(description)
                            .configuration_policy(policy)
                            .send()
                            .await,
                    )?;
                }
                None => {
                    ctx.audited(
                        "securityhub:CreateConfigurationPolicy",
                        hub.create_configuration_policy()
                            .name(name)
                            .description(description)
                            .configuration_policy(policy)
                            .send()
                            .await,
                    )?;
                }
            }
            Ok(())
        }
        Operation::SecurityHubAssociation {
            region,
            account,
            policy,
            target,
        } => associate(ctx, region, account, policy, target).await,
        Operation::SecurityHubDisassociation {
            region,
            account,
            policy_id,
            target_id,
        } => {
            let hub = admin(ctx, account, region).await?.securityhub;
            ctx.audited(
                "securityhub:StartConfigurationPolicyDisassociation",
                hub.start_configuration_policy_disassociation()
                    .configuration_policy_identifier(policy_id)
                    .target(hub_target_of_id(target_id))
                    .send()
                    .await,
            )?;
            Ok(())
        }
        Operation::ConfigRule {
            region,
            account,
            name,
            identifier,
            parameters,
            description,
            excluded,
            excluded_new,
        } => {
            let mut ids: Vec<String> = excluded.iter().cloned().collect();
            for n in excluded_new {
                ids.push(ctx.ids().account(n)?);
            }
            ids.sort();
            ids.dedup();
            let config = admin(ctx, account, region).await?.configservice;
            let mut meta = aws_sdk_config::types::OrganizationManagedRuleMetadata::builder()
                .rule_identifier(identifier)
                .description(description);
            if !parameters.is_empty() {
                meta = meta.input_parameters(parameters);
            }
            let meta = meta
                .build()
                .map_err(|e| StepError::Failed(e.to_string()))?;
            ctx.audited(
                "config:PutOrganizationConfigRule",
                config
                    .put_organization_config_rule()
                    .organization_config_rule_name(name)
                    .organization_managed_rule_metadata(meta)
                    .set_excluded_accounts(Some(ids))
                    .send()
                    .await,
            )?;
            wait_rule(ctx, &config, name).await
        }
        Operation::DeleteConfigRule {
            region,
            account,
            name,
        } => {
            let config = admin(ctx, account, region).await?.configservice;
            ctx.audited(
                "config:DeleteOrganizationConfigRule",
                config
                    .delete_organization_config_rule()
                    .organization_config_rule_name(name)
                    .send()
                    .await,
            )?;
            Ok(())
        }
        Operation::CreateTrail {
            region,
            name,
            bucket,
        } => {
            let trail = ctx.clients.in_region(region).cloudtrail;
            ctx.audited(
                "cloudtrail:CreateTrail",
                trail
                    .create_trail()
                    .name(name)
                    .s3_bucket_name(bucket)
                    .is_organization_trail(true)
                    .is_multi_region_trail(true)
                    .include_global_service_events(true)
                    .enable_log_file_validation(true)
                    .send()
                    .await,
            )?;
            ctx.audited(
                "cloudtrail:StartLogging",
                trail.start_logging().name(name).send().await,
            )?;
            Ok(())
        }
        Operation::StartLogging { region, name } => {
            ctx.audited(
                "cloudtrail:StartLogging",
                ctx.clients
                    .in_region(region)
                    .cloudtrail
                    .start_logging()
                    .name(name)
                    .send()
                    .await,
            )?;
            Ok(())
        }
    }
}

/// An account given by file name or id, as an id.
fn account_id(ctx: &StepContext<'_>, account: &str) -> Result<String, StepError> {
    if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) {
        Ok(account.to_string())
    } else {
        Ok(ctx.ids().account(account)?)
    }
}

/// Clients in the delegated administrator account.
async fn admin(ctx: &StepContext<'_>, account: &str, region: &str) -> Result<Clients, StepError> {
    let id = account_id(ctx, account)?;
    Ok(ctx.clients.in_account(&id, region).await)
}

/// Security Hub enabled in the administrator account.
async fn ensure_hub(
    ctx: &StepContext<'_>,
    hub: &aws_sdk_securityhub::Client,
) -> Result<(), StepError> {
    if hub.describe_hub().send().await.is_ok() {
        return Ok(());
    }
    let result = hub.enable_security_hub().enable_default_standards(false).send().await;
    match ctx.audited("securityhub:EnableSecurityHub", result) {
        Err(StepError::Aws(e)) if e.code.as_deref() == Some("ResourceConflictException") => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn guardduty_organization(
    ctx: &StepContext<'_>,
    region: &str,
    account: &str,
    auto_enable: &str,
    features: &std::collections::BTreeMap<String, String>,
) -> Result<(), StepError> {
    use aws_sdk_guardduty::types::{
        AutoEnableMembers, OrgFeature, OrgFeatureStatus, OrganizationFeatureConfiguration,
    };
    let gd = admin(ctx, account, region).await?.guardduty;
    let detectors = ctx.read("guardduty:ListDetectors", gd.list_detectors().send().await)?;
    let detector = match detectors.detector_ids().first() {
        Some(d) => d.clone(),
        None => ctx
            .audited(
                "guardduty:CreateDetector",
                gd.create_detector().enable(true).send().await,
            )?
            .and_then(|o| o.detector_id().map(str::to_string))
            .ok_or_else(|| StepError::Failed("CreateDetector returned no detector id".into()))?,
    };
    let mut request = gd
        .update_organization_configuration()
        .detector_id(&detector)
        .auto_enable_organization_members(AutoEnableMembers::from(auto_enable));
    for (name, mode) in features {
        request = request.features(
            OrganizationFeatureConfiguration::builder()
                .name(OrgFeature::from(name.as_str()))
                .auto_enable(OrgFeatureStatus::from(mode.as_str()))
                .build(),
        );
    }
    ctx.audited("guardduty:UpdateOrganizationConfiguration", request.send().await)?;
    Ok(())
}

fn hub_target_of_id(id: &str) -> HubTarget {
    if id.starts_with("r-") {
        HubTarget::RootId(id.to_string())
    } else if id.starts_with("ou-") {
        HubTarget::OrganizationalUnitId(id.to_string())
    } else {
        HubTarget::AccountId(id.to_string())
    }
}

async fn associate(
    ctx: &StepContext<'_>,
    region: &str,
    account: &str,
    policy: &str,
    target: &Target,
) -> Result<(), StepError> {
    let hub = admin(ctx, account, region).await?.securityhub;
    let target_id = ctx.ids().target(target)?;
    let listed = ctx.read(
        "securityhub:ListConfigurationPolicies",
        hub.list_configuration_policies().send().await,
    )?;
    let policy_id = listed
        .configuration_policy_summaries()
        .iter()
        .find(|p| p.name() == Some(policy))
        .and_then(|p| p.id())
        .map(str::to_string)
        .ok_or_else(|| StepError::Failed(format!("configuration policy {policy} not found")))?;
    let hub_target = hub_target_of_id(&target_id);
    ctx.audited(
        "securityhub:StartConfigurationPolicyAssociation",
        hub.start_configuration_policy_association()
            .configuration_policy_identifier(&policy_id)
            .target(hub_target.clone())
            .send()
            .await,
    )?;
    let what = format!("the association of {policy} with {target}");
    ctx.wait(&what, || async {
        let out = ctx.read(
            "securityhub:GetConfigurationPolicyAssociation",
            hub.get_configuration_policy_association()
                .target(hub_target.clone())
                .send()
                .await,
        )?;
        Ok(match out.association_status() {
            Some(ConfigurationPolicyAssociationStatus::Pending) | None => Poll::Pending("PENDING".into()),
            Some(ConfigurationPolicyAssociationStatus::Failed) => {
                return Err(StepError::Failed(format!(
                    "Security Hub reports {what} FAILED: {}",
                    out.association_status_message().unwrap_or("no message")
                )))
            }
            Some(_) => Poll::Done(()),
        })
    })
    .await?;
    Ok(())
}

/// Waits while an organization rule deploys; member failures are reported
/// in the plan (lzctl does not fail the apply for an account's recorder).
async fn wait_rule(
    ctx: &StepContext<'_>,
    config: &aws_sdk_config::Client,
    name: &str,
) -> Result<(), StepError> {
    ctx.wait(&format!("Config rule {name}"), || async {
        let out = ctx.read(
            "config:DescribeOrganizationConfigRuleStatuses",
            config
                .describe_organization_config_rule_statuses()
                .organization_config_rule_names(name)
                .send()
                .await,
        )?;
        let status = out
            .organization_config_rule_statuses()
            .first()
            .map(|s| s.organization_rule_status().as_str().to_string())
            .unwrap_or_default();
        Ok(if status.ends_with("IN_PROGRESS") || status.is_empty() {
            Poll::Pending(if status.is_empty() { "no status yet".into() } else { status })
        } else {
            Poll::Done(())
        })
    })
    .await
}
