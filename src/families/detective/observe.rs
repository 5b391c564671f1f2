//! Reading the detective services: per region and per rule or policy, never
//! per account. The management account says who the delegated
//! administrators are; the administrators' own settings are read through
//! the member role.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_securityhub::types::{AssociationFilters, AssociationType, ConfigurationPolicyAssociationStatus};

use super::{
    DetectiveState, GuardDutyRegion, HubPolicy, HubState, OrgRule, Trail, CONFIG_MULTIACCOUNT,
};
use crate::aws::Clients;
use crate::config::ControlTowerMode;
use crate::observe::{aws_error, ObserveContext, ObserveError};

/// Reads what the `detective:` block covers.
pub(super) async fn observe(ctx: &ObserveContext<'_>) -> Result<DetectiveState, ObserveError> {
    let Some(desired) = ctx.desired else {
        return Ok(DetectiveState::default());
    };
    let Some(want) = &desired.families.detective else {
        return Ok(DetectiveState::default());
    };
    let home = desired.organization.home_region.clone();
    let regions = want.regions.clone();
    (ctx.progress)("reading detective services");
    let clients = ctx.clients;
    let (delegated, guardduty, security_hub, ct_config, trails) = futures::try_join!(
        delegated_admins(clients),
        async {
            let reads = regions.iter().map(|r| guardduty_region(clients, r));
            let found = futures::future::try_join_all(reads).await?;
            Ok::<_, ObserveError>(regions.iter().cloned().zip(found).collect::<BTreeMap<_, _>>())
        },
        async {
            match &want.security_hub {
                Some(hub) => security_hub(clients, &hub.aggregation_region).await,
                None => Ok(HubState::default()),
            }
        },
        control_tower_config(clients, ctx.scope.control_tower),
        async {
            if want.cloudtrail.is_some() {
                trails(&clients.in_region(&home)).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    let config_admin = ct_config
        .clone()
        .or_else(|| delegated.get(CONFIG_MULTIACCOUNT).and_then(|s| s.iter().next().cloned()));
    let config_rules = match &want.config {
        Some(_) => {
            let reads = regions
                .iter()
                .map(|r| config_rules(clients, config_admin.as_deref(), r));
            let found = futures::future::try_join_all(reads).await?;
            regions.iter().cloned().zip(found).collect()
        }
        None => BTreeMap::new(),
    };
    Ok(DetectiveState {
        checked: true,
        delegated,
        guardduty,
        security_hub,
        control_tower_config: ct_config,
        config_rules,
        trails,
    })
}

/// Delegated administrators for Config rules (Organizations).
async fn delegated_admins(
    clients: &Clients,
) -> Result<BTreeMap<String, BTreeSet<String>>, ObserveError> {
    let pages: Vec<_> = clients
        .organizations
        .list_delegated_administrators()
        .service_principal(CONFIG_MULTIACCOUNT)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("organizations:ListDelegatedAdministrators", e))?;
    let ids: BTreeSet<String> = pages
        .iter()
        .flat_map(|p| p.delegated_administrators())
        .filter_map(|d| d.id().map(str::to_string))
        .collect();
    let mut out = BTreeMap::new();
    if !ids.is_empty() {
        out.insert(CONFIG_MULTIACCOUNT.to_string(), ids);
    }
    Ok(out)
}

/// GuardDuty in one region: the administrator, then its settings.
async fn guardduty_region(clients: &Clients, region: &str) -> Result<GuardDutyRegion, ObserveError> {
    let mgmt = clients.in_region(region);
    let admins = mgmt
        .guardduty
        .list_organization_admin_accounts()
        .send()
        .await
        .map_err(|e| aws_error("guardduty:ListOrganizationAdminAccounts", e))?;
    let admin = admins
        .admin_accounts()
        .iter()
        .find_map(|a| a.admin_account_id().map(str::to_string));
    let mut out = GuardDutyRegion {
        admin: admin.clone(),
        ..GuardDutyRegion::default()
    };
    let Some(admin) = admin else {
        return Ok(out);
    };
    let gd = clients.in_account(&admin, region).await.guardduty;
    let detectors = gd
        .list_detectors()
        .send()
        .await
        .map_err(|e| aws_error("guardduty:ListDetectors", e))?;
    let Some(detector) = detectors.detector_ids().first().cloned() else {
        return Ok(out);
    };
    let (config, stats) = futures::try_join!(
        async {
            gd.describe_organization_configuration()
                .detector_id(&detector)
                .send()
                .await
                .map_err(|e| aws_error("guardduty:DescribeOrganizationConfiguration", e))
        },
        async {
            gd.get_organization_statistics()
                .send()
                .await
                .map_err(|e| aws_error("guardduty:GetOrganizationStatistics", e))
        },
    )?;
    out.detector = Some(detector);
    out.auto_enable = config
        .auto_enable_organization_members()
        .map(|m| m.as_str().to_string());
    out.features = config
        .features()
        .iter()
        .filter_map(|f| {
            Some((
                f.name()?.as_str().to_string(),
                f.auto_enable()?.as_str().to_string(),
            ))
        })
        .collect();
    out.counts = stats
        .organization_details()
        .and_then(|d| d.organization_statistics())
        .map(|s| {
            (
                s.total_accounts_count().unwrap_or_default() as u32,
                s.enabled_accounts_count().unwrap_or_default() as u32,
            )
        });
    Ok(out)
}

/// Security Hub in the aggregation (home) region.
async fn security_hub(clients: &Clients, region: &str) -> Result<HubState, ObserveError> {
    let mgmt = clients.in_region(region);
    let admins = mgmt
        .securityhub
        .list_organization_admin_accounts()
        .send()
        .await
        .map_err(|e| aws_error("securityhub:ListOrganizationAdminAccounts", e))?;
    let admin = admins
        .admin_accounts()
        .iter()
        .find_map(|a| a.account_id().map(str::to_string));
    let mut out = HubState {
        admin: admin.clone(),
        ..HubState::default()
    };
    let Some(admin) = admin else {
        return Ok(out);
    };
    let hub = clients.in_account(&admin, region).await.securityhub;
    match hub.describe_hub().send().await {
        Ok(_) => out.hub_enabled = true,
        Err(e) => {
            let err = aws_error("securityhub:DescribeHub", e);
            let not_enabled = matches!(&err, ObserveError::Aws(a)
                if matches!(a.code.as_deref(), Some("InvalidAccessException") | Some("ResourceNotFoundException")));
            if not_enabled {
                return Ok(out);
            }
            return Err(err);
        }
    }
    let aggregators = hub
        .list_finding_aggregators()
        .send()
        .await
        .map_err(|e| aws_error("securityhub:ListFindingAggregators", e))?;
    if let Some(arn) = aggregators
        .finding_aggregators()
        .iter()
        .find_map(|a| a.finding_aggregator_arn())
    {
        let agg = hub
            .get_finding_aggregator()
            .finding_aggregator_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("securityhub:GetFindingAggregator", e))?;
        out.aggregator = Some((
            arn.to_string(),
            agg.finding_aggregation_region().unwrap_or_default().to_string(),
            agg.regions().iter().cloned().collect(),
        ));
    }
    let config = hub
        .describe_organization_configuration()
        .send()
        .await
        .map_err(|e| aws_error("securityhub:DescribeOrganizationConfiguration", e))?;
    let org_config = config.organization_configuration();
    let kind = org_config
        .and_then(|c| c.configuration_type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "LOCAL".into());
    let status = org_config
        .and_then(|c| c.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let central = kind == "CENTRAL" && status == "ENABLED";
    out.configuration = Some((kind, status));
    if !central {
        return Ok(out);
    }
    let pages: Vec<_> = hub
        .list_configuration_policies()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("securityhub:ListConfigurationPolicies", e))?;
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.configuration_policy_summaries())
        .filter_map(|s| s.id().map(str::to_string))
        .collect();
    let policies = futures::future::try_join_all(ids.iter().map(|id| {
        let hub = hub.clone();
        async move {
            hub.get_configuration_policy()
                .identifier(id)
                .send()
                .await
                .map_err(|e| aws_error("securityhub:GetConfigurationPolicy", e))
        }
    }))
    .await?;
    for p in policies {
        let sh = p.configuration_policy().and_then(|c| match c {
            aws_sdk_securityhub::types::Policy::SecurityHub(s) => Some(s),
            _ => None,
        });
        let controls = sh.and_then(|s| s.security_controls_configuration());
        out.policies.insert(
            p.name().unwrap_or_default().to_string(),
            HubPolicy {
                id: p.id().unwrap_or_default().to_string(),
                description: p.description().unwrap_or_default().to_string(),
                service_enabled: sh.and_then(|s| s.service_enabled()).unwrap_or(false),
                standards: sh
                    .map(|s| s.enabled_standard_identifiers().iter().cloned().collect())
                    .unwrap_or_default(),
                disabled_controls: controls
                    .map(|c| c.disabled_security_control_identifiers().iter().cloned().collect())
                    .unwrap_or_default(),
            },
        );
    }
    let (applied, failed) = futures::try_join!(
        associations(&hub, AssociationFilters::builder().association_type(AssociationType::Applied).build()),
        associations(&hub, AssociationFilters::builder().association_status(ConfigurationPolicyAssociationStatus::Failed).build()),
    )?;
    out.associations = applied
        .iter()
        .map(|(target, policy, _)| (target.clone(), policy.clone()))
        .collect();
    out.failed = failed
        .into_iter()
        .map(|(target, _, message)| (target, message))
        .collect();
    Ok(out)
}

async fn associations(
    hub: &aws_sdk_securityhub::Client,
    filters: AssociationFilters,
) -> Result<Vec<(String, String, String)>, ObserveError> {
    let pages: Vec<_> = hub
        .list_configuration_policy_associations()
        .filters(filters)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("securityhub:ListConfigurationPolicyAssociations", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.configuration_policy_association_summaries())
        .map(|a| {
            (
                a.target_id().unwrap_or_default().to_string(),
                a.configuration_policy_id().unwrap_or_default().to_string(),
                a.association_status_message().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// The account Control Tower runs Config from (landing zone 4.0 and later
/// with `config.enabled` in its manifest).
async fn control_tower_config(
    clients: &Clients,
    mode: Option<ControlTowerMode>,
) -> Result<Option<String>, ObserveError> {
    if matches!(mode, None | Some(ControlTowerMode::Absent)) {
        return Ok(None);
    }
    let ct = &clients.controltower;
    let zones = ct
        .list_landing_zones()
        .send()
        .await
        .map_err(|e| aws_error("controltower:ListLandingZones", e))?;
    let Some(arn) = zones.landing_zones().first().and_then(|z| z.arn()) else {
        return Ok(None);
    };
    let zone = ct
        .get_landing_zone()
        .landing_zone_identifier(arn)
        .send()
        .await
        .map_err(|e| aws_error("controltower:GetLandingZone", e))?;
    let Some(detail) = zone.landing_zone() else {
        return Ok(None);
    };
    let major: u32 = detail
        .version()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 4 {
        return Ok(None);
    }
    let manifest = document_to_json(detail.manifest());
    let config = manifest.get("config");
    let enabled = config
        .and_then(|c| c.get("enabled"))
        .and_then(|e| e.as_bool())
        .unwrap_or(false);
    Ok(enabled
        .then(|| {
            config
                .and_then(|c| c.get("accountId"))
                .and_then(|a| a.as_str())
                .map(str::to_string)
        })
        .flatten())
}

/// Config organization rules of one region, and their statuses.
async fn config_rules(
    clients: &Clients,
    admin: Option<&str>,
    region: &str,
) -> Result<BTreeMap<String, OrgRule>, ObserveError> {
    let config = match admin {
        Some(a) => clients.in_account(a, region).await.configservice,
        None => clients.in_region(region).configservice,
    };
    let (rules, statuses) = futures::try_join!(
        async {
            let pages: Vec<_> = config
                .describe_organization_config_rules()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("config:DescribeOrganizationConfigRules", e))?;
            Ok::<_, ObserveError>(pages)
        },
        async {
            let pages: Vec<_> = config
                .describe_organization_config_rule_statuses()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("config:DescribeOrganizationConfigRuleStatuses", e))?;
            Ok::<_, ObserveError>(pages)
        },
    )?;
    let status: BTreeMap<String, (String, String)> = statuses
        .iter()
        .flat_map(|p| p.organization_config_rule_statuses())
        .map(|s| {
            (
                s.organization_config_rule_name().to_string(),
                (
                    s.organization_rule_status().as_str().to_string(),
                    s.error_message().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect();
    Ok(rules
        .iter()
        .flat_map(|p| p.organization_config_rules())
        .map(|r| {
            let meta = r.organization_managed_rule_metadata();
            (
                r.organization_config_rule_name().to_string(),
                OrgRule {
                    identifier: meta.map(|m| m.rule_identifier().to_string()).unwrap_or_default(),
                    parameters: meta
                        .and_then(|m| m.input_parameters())
                        .unwrap_or_default()
                        .to_string(),
                    description: meta
                        .and_then(|m| m.description())
                        .unwrap_or_default()
                        .to_string(),
                    excluded: r.excluded_accounts().iter().cloned().collect(),
                    status: status.get(r.organization_config_rule_name()).cloned(),
                },
            )
        })
        .collect())
}

/// Organization trails the management account sees, with their status.
async fn trails(clients: &Clients) -> Result<Vec<Trail>, ObserveError> {
    let ct = &clients.cloudtrail;
    let described = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| aws_error("cloudtrail:DescribeTrails", e))?;
    let mut out = Vec::new();
    for t in described.trail_list() {
        if !t.is_organization_trail().unwrap_or(false) {
            continue;
        }
        let arn = t.trail_arn().unwrap_or_default().to_string();
        let status = ct
            .get_trail_status()
            .name(&arn)
            .send()
            .await
            .map_err(|e| aws_error("cloudtrail:GetTrailStatus", e))?;
        out.push(Trail {
            name: t.name().unwrap_or_default().to_string(),
            arn,
            home_region: t.home_region().unwrap_or_default().to_string(),
            organization: true,
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            bucket: t.s3_bucket_name().unwrap_or_default().to_string(),
            logging: status.is_logging().unwrap_or(false),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A Smithy document (the landing zone manifest) as JSON.
fn document_to_json(doc: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document, Number};
    match doc {
        Document::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), document_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Document::Array(items) => items.iter().map(document_to_json).collect(),
        Document::Number(Number::PosInt(n)) => (*n).into(),
        Document::Number(Number::NegInt(n)) => (*n).into(),
        Document::Number(Number::Float(f)) => (*f).into(),
        Document::String(s) => s.clone().into(),
        Document::Bool(b) => (*b).into(),
        Document::Null => serde_json::Value::Null,
    }
}
