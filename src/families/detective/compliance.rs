//! Reading what the detective services found (read-only, for `report`,
//! `notify` and `evidence`): Config compliance through an organization
//! aggregator, Security Hub's active findings from the aggregation region,
//! and who GuardDuty and Security Hub cover.
//!
//! Calls grow with regions and pages, never with accounts × rules:
//! - per region (concurrently), one paginated
//!   DescribeAggregateComplianceByConfigRules (1,000 rule × account
//!   evaluations a page) for every rule and account;
//! - per region (concurrently), one paginated advanced query
//!   (SelectAggregateResourceConfig over `AWS::Config::ResourceCompliance`,
//!   100 resources a page) for the non-compliant resources, instead of one
//!   GetAggregateComplianceDetails call per non-compliant rule × account ×
//!   region;
//! - one paginated GetFindings (100 a page) in the aggregation region for
//!   the active findings of every account and linked region;
//! - ListMembers per GuardDuty region (50 a page) and one paginated
//!   ListConfigurationPolicyAssociations for Security Hub's coverage.
//!
//! This is not part of [`super::DetectiveState`]: compliance moves on its
//! own, and a plan must not go stale because a bucket became public.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_securityhub::types::{AwsSecurityFindingFilters, StringFilter, StringFilterComparison};
use serde::{Deserialize, Serialize};

use super::DetectiveState;
use crate::aws::Clients;
use crate::observe::{aws_error, ObserveError};

/// Control Tower's organization aggregator (landing zone 4.0 and later).
pub const CONTROL_TOWER_AGGREGATOR: &str = "aws-controltower-ConfigAggregatorForOrganizations";

/// The advanced query for non-compliant resources.
pub const NON_COMPLIANT_QUERY: &str = "SELECT accountId, awsRegion, configuration.targetResourceId, configuration.targetResourceType, configuration.configRuleList WHERE resourceType = 'AWS::Config::ResourceCompliance' AND configuration.complianceType = 'NON_COMPLIANT'";

/// The aggregator compliance is read through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorRef {
    /// Account holding it.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
}

/// One rule in one account and region, as the aggregator reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEvaluation {
    /// The organization rule's name (or the rule's own name when it is not
    /// an organization rule lzctl knows).
    pub rule: String,
    /// The name in the member account (`OrgConfigRule-<name>-<suffix>`).
    pub member_rule: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or INSUFFICIENT_DATA.
    pub compliance: String,
    /// Non-compliant resources (capped at 100 by AWS).
    pub non_compliant_resources: u32,
}

/// A resource a rule finds non-compliant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NonCompliantResource {
    /// Organization rule name (as for [`RuleEvaluation::rule`]).
    pub rule: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Resource type (`AWS::S3::Bucket`).
    pub resource_type: String,
    /// Resource id.
    pub resource_id: String,
}

/// An active Security Hub finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Finding id.
    pub id: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL.
    pub severity: String,
    /// Security control (`S3.2`), when it is a control finding.
    pub control: Option<String>,
    /// PASSED, FAILED, WARNING, NOT_AVAILABLE, when it is a control finding.
    pub compliance_status: Option<String>,
    /// Title.
    pub title: String,
    /// First resource's type.
    pub resource_type: String,
    /// First resource's id.
    pub resource_id: String,
    /// Workflow status (NEW, NOTIFIED).
    pub workflow: String,
    /// UpdatedAt (ISO 8601).
    pub updated_at: String,
}

impl Finding {
    /// A failed control check (as opposed to a threat or other finding).
    pub fn is_failed_control(&self) -> bool {
        self.control.is_some() && self.compliance_status.as_deref() == Some("FAILED")
    }
}

/// What the detective services found, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceState {
    /// The Config aggregator read (none: Config compliance is unknown).
    pub aggregator: Option<AggregatorRef>,
    /// Every rule × account × region the aggregator knows.
    pub evaluations: Vec<RuleEvaluation>,
    /// Non-compliant resources.
    pub non_compliant: Vec<NonCompliantResource>,
    /// Active findings (RecordState ACTIVE, workflow neither RESOLVED nor SUPPRESSED).
    pub findings: Vec<Finding>,
    /// GuardDuty: region -> member accounts enabled (the administrator included).
    pub guardduty_members: BTreeMap<String, BTreeSet<String>>,
    /// Security Hub: account id -> (policy id, association status).
    pub hub_associations: BTreeMap<String, (String, String)>,
    /// Why parts could not be read (shown in reports, never hidden).
    pub gaps: Vec<String>,
    /// Problem sources (`config`, `securityhub`) that could not be read this
    /// time: their problems are unknown, neither present nor resolved.
    pub unread: BTreeSet<String>,
}

/// Where to read compliance from.
#[derive(Debug, Clone, Default)]
pub struct CompliancePlace {
    /// The detective administrator's account id.
    pub admin: Option<String>,
    /// The management account id.
    pub management: Option<String>,
    /// Home region (aggregators are looked for there).
    pub home_region: String,
    /// An aggregator name given by the user.
    pub aggregator: Option<String>,
    /// Regions to read (each read on its own, concurrently; empty: all at once).
    pub regions: Vec<String>,
}

/// Reads compliance, findings and coverage.
pub async fn observe_compliance(
    clients: &Clients,
    state: &DetectiveState,
    place: &CompliancePlace,
) -> Result<ComplianceState, ObserveError> {
    let mut out = ComplianceState::default();
    let org_rules: BTreeSet<String> = state
        .config_rules
        .values()
        .flat_map(|rules| rules.keys().cloned())
        .collect();
    let ((aggregator, misses), findings, members, associations) = futures::try_join!(
        find_aggregator(clients, state, place),
        hub_findings(clients, state),
        guardduty_members(clients, state),
        hub_associations(clients, state),
    )?;
    match aggregator {
        Some(agg) => {
            let config = if Some(&agg.account) == place.management.as_ref() {
                clients.in_region(&agg.region).configservice
            } else {
                clients
                    .in_account(&agg.account, &agg.region)
                    .await
                    .configservice
            };
            // One listing per region, concurrently: the same pages, a third
            // of the rounds of waiting for three regions.
            let regions: Vec<Option<&str>> = if place.regions.is_empty() {
                vec![None]
            } else {
                place.regions.iter().map(|r| Some(r.as_str())).collect()
            };
            let reads = regions.iter().map(|region| {
                let config = &config;
                let (name, rules) = (&agg.name, &org_rules);
                async move {
                    futures::try_join!(
                        aggregate_compliance(config, name, rules, *region),
                        non_compliant_resources(config, name, rules, *region),
                    )
                }
            });
            for (evaluations, resources) in futures::future::try_join_all(reads).await? {
                out.evaluations.extend(evaluations);
                out.non_compliant.extend(resources);
            }
            out.aggregator = Some(agg);
        }
        None => {
            let looked = match &place.aggregator {
                Some(name) => format!("no organization Config aggregator named `{name}`"),
                None => "no organization Config aggregator".to_string(),
            };
            let errors = if misses.is_empty() {
                String::new()
            } else {
                format!("; not readable: {}", misses.join("; "))
            };
            out.gaps.push(format!(
                "{looked} found in {} (looked in the detective administrator, Control Tower's Config account and the management account{errors}): Config compliance is unknown",
                place.home_region
            ));
            out.unread.insert("config".into());
        }
    }
    match findings {
        Some(f) => out.findings = f,
        None => {
            out.gaps.push(
                "Security Hub has no administrator with a hub in the aggregation region: findings are unknown".into(),
            );
            out.unread.insert("securityhub".into());
        }
    }
    out.guardduty_members = members;
    out.hub_associations = associations;
    Ok(out)
}

/// The organization aggregator: the one named, else Control Tower's, else
/// the first organization aggregator of the administrator, Control Tower's
/// Config account or the management account. Also returns, one line each,
/// why an account could not be asked (it is skipped, not fatal).
async fn find_aggregator(
    clients: &Clients,
    state: &DetectiveState,
    place: &CompliancePlace,
) -> Result<(Option<AggregatorRef>, Vec<String>), ObserveError> {
    let mut misses = Vec::new();
    let mut accounts: Vec<String> = Vec::new();
    for a in [
        state.control_tower_config.clone(),
        state
            .delegated
            .get("config.amazonaws.com")
            .and_then(|s| s.iter().next().cloned()),
        place.admin.clone(),
        place.management.clone(),
    ]
    .into_iter()
    .flatten()
    {
        if !accounts.contains(&a) {
            accounts.push(a);
        }
    }
    let region = &place.home_region;
    for account in accounts {
        let config = if Some(&account) == place.management.as_ref() {
            clients.in_region(region).configservice
        } else {
            clients.in_account(&account, region).await.configservice
        };
        let pages: Result<Vec<_>, _> = config
            .describe_configuration_aggregators()
            .into_paginator()
            .send()
            .try_collect()
            .await;
        let pages = match pages {
            Ok(p) => p,
            // An account that cannot be reached or has no Config: look
            // further, and say why if nothing is found.
            Err(e) => {
                let error = aws_error("config:DescribeConfigurationAggregators", e);
                misses.push(format!("{account}: {error}"));
                continue;
            }
        };
        let found: Vec<(String, bool)> = pages
            .iter()
            .flat_map(|p| p.configuration_aggregators())
            .filter_map(|a| {
                Some((
                    a.configuration_aggregator_name()?.to_string(),
                    a.organization_aggregation_source().is_some(),
                ))
            })
            .collect();
        let pick = match &place.aggregator {
            Some(name) => found.iter().find(|(n, _)| n == name),
            None => found
                .iter()
                .find(|(n, org)| *org && n == CONTROL_TOWER_AGGREGATOR)
                .or_else(|| found.iter().find(|(_, org)| *org)),
        };
        if let Some((name, _)) = pick {
            let found = AggregatorRef {
                account,
                region: region.clone(),
                name: name.clone(),
            };
            return Ok((Some(found), misses));
        }
    }
    Ok((None, misses))
}

/// The organization rule a member rule name belongs to
/// (`OrgConfigRule-<name>-<suffix>` -> `<name>`).
pub fn org_rule_of(member_rule: &str, org_rules: &BTreeSet<String>) -> String {
    if let Some(rest) = member_rule.strip_prefix("OrgConfigRule-") {
        // The longest organization rule name that prefixes `rest` followed by `-`.
        if let Some(found) = org_rules
            .iter()
            .filter(|r| rest.len() > r.len() && rest.starts_with(r.as_str()) && rest[r.len()..].starts_with('-'))
            .max_by_key(|r| r.len())
        {
            return found.clone();
        }
        if let Some((name, _suffix)) = rest.rsplit_once('-') {
            return name.to_string();
        }
    }
    member_rule.to_string()
}

async fn aggregate_compliance(
    config: &aws_sdk_config::Client,
    aggregator: &str,
    org_rules: &BTreeSet<String>,
    region: Option<&str>,
) -> Result<Vec<RuleEvaluation>, ObserveError> {
    let filters = region.map(|r| {
        aws_sdk_config::types::ConfigRuleComplianceFilters::builder()
            .aws_region(r)
            .build()
    });
    let pages: Vec<_> = config
        .describe_aggregate_compliance_by_config_rules()
        .configuration_aggregator_name(aggregator)
        .set_filters(filters)
        .limit(1000)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("config:DescribeAggregateComplianceByConfigRules", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.aggregate_compliance_by_config_rules())
        .filter_map(|c| {
            let member = c.config_rule_name()?.to_string();
            let compliance = c.compliance();
            Some(RuleEvaluation {
                rule: org_rule_of(&member, org_rules),
                member_rule: member,
                account: c.account_id()?.to_string(),
                region: c.aws_region()?.to_string(),
                compliance: compliance
                    .and_then(|x| x.compliance_type())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "INSUFFICIENT_DATA".into()),
                non_compliant_resources: compliance
                    .and_then(|x| x.compliance_contributor_count())
                    .map(|n| n.capped_count().max(0) as u32)
                    .unwrap_or(0),
            })
        })
        .collect())
}

async fn non_compliant_resources(
    config: &aws_sdk_config::Client,
    aggregator: &str,
    org_rules: &BTreeSet<String>,
    region: Option<&str>,
) -> Result<Vec<NonCompliantResource>, ObserveError> {
    let expression = match region {
        Some(r) => format!("{NON_COMPLIANT_QUERY} AND awsRegion = '{r}'"),
        None => NON_COMPLIANT_QUERY.to_string(),
    };
    let pages: Vec<_> = config
        .select_aggregate_resource_config()
        .configuration_aggregator_name(aggregator)
        .expression(expression)
        .limit(100)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("config:SelectAggregateResourceConfig", e))?;
    let mut out = BTreeSet::new();
    for row in pages.iter().flat_map(|p| p.results()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(row) else {
            continue;
        };
        let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
        let conf = &v["configuration"];
        for r in conf["configRuleList"].as_array().into_iter().flatten() {
            if r["complianceType"].as_str() != Some("NON_COMPLIANT") {
                continue;
            }
            out.insert(NonCompliantResource {
                rule: org_rule_of(r["configRuleName"].as_str().unwrap_or_default(), org_rules),
                account: text(&v["accountId"]),
                region: text(&v["awsRegion"]),
                resource_type: text(&conf["targetResourceType"]),
                resource_id: text(&conf["targetResourceId"]),
            });
        }
    }
    Ok(out.into_iter().collect())
}

/// Active findings of every account and linked region, from the
/// administrator in the aggregation region (None: no hub to ask).
async fn hub_findings(
    clients: &Clients,
    state: &DetectiveState,
) -> Result<Option<Vec<Finding>>, ObserveError> {
    let hub = &state.security_hub;
    let (Some(admin), true) = (&hub.admin, hub.hub_enabled) else {
        return Ok(None);
    };
    let region = hub
        .aggregator
        .as_ref()
        .map(|(_, r, _)| r.clone())
        .unwrap_or_default();
    if region.is_empty() {
        return Ok(None);
    }
    let client = clients.in_account(admin, &region).await.securityhub;
    let eq = |v: &str| {
        StringFilter::builder()
            .comparison(StringFilterComparison::Equals)
            .value(v)
            .build()
    };
    let not = |v: &str| {
        StringFilter::builder()
            .comparison(StringFilterComparison::NotEquals)
            .value(v)
            .build()
    };
    let filters = AwsSecurityFindingFilters::builder()
        .record_state(eq("ACTIVE"))
        .workflow_status(not("RESOLVED"))
        .workflow_status(not("SUPPRESSED"))
        .build();
    let pages: Vec<_> = client
        .get_findings()
        .filters(filters)
        .max_results(100)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("securityhub:GetFindings", e))?;
    let mut out: Vec<Finding> = pages
        .iter()
        .flat_map(|p| p.findings())
        .map(|f| {
            let resource = f.resources().first();
            Finding {
                id: f.id().unwrap_or_default().to_string(),
                account: f.aws_account_id().unwrap_or_default().to_string(),
                region: f.region().unwrap_or_default().to_string(),
                severity: f
                    .severity()
                    .and_then(|s| s.label())
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_else(|| "INFORMATIONAL".into()),
                control: f
                    .compliance()
                    .and_then(|c| c.security_control_id())
                    .map(str::to_string),
                compliance_status: f
                    .compliance()
                    .and_then(|c| c.status())
                    .map(|s| s.as_str().to_string()),
                title: f.title().unwrap_or_default().to_string(),
                resource_type: resource
                    .and_then(|r| r.r#type())
                    .unwrap_or_default()
                    .to_string(),
                resource_id: resource.and_then(|r| r.id()).unwrap_or_default().to_string(),
                workflow: f
                    .workflow()
                    .and_then(|w| w.status())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "NEW".into()),
                updated_at: f.updated_at().unwrap_or_default().to_string(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(Some(out))
}

/// GuardDuty members per region, from each region's administrator.
async fn guardduty_members(
    clients: &Clients,
    state: &DetectiveState,
) -> Result<BTreeMap<String, BTreeSet<String>>, ObserveError> {
    let reads = state.guardduty.iter().map(|(region, gd)| async move {
        let (Some(admin), Some(detector)) = (&gd.admin, &gd.detector) else {
            return Ok::<_, ObserveError>((region.clone(), BTreeSet::new()));
        };
        let client = clients.in_account(admin, region).await.guardduty;
        let pages: Vec<_> = client
            .list_members()
            .detector_id(detector)
            .only_associated("true")
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("guardduty:ListMembers", e))?;
        let mut members: BTreeSet<String> = pages
            .iter()
            .flat_map(|p| p.members())
            .filter(|m| {
                m.relationship_status()
                    .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
            })
            .filter_map(|m| m.account_id().map(str::to_string))
            .collect();
        members.insert(admin.clone());
        Ok((region.clone(), members))
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// The configuration policy in force for every account (central configuration).
async fn hub_associations(
    clients: &Clients,
    state: &DetectiveState,
) -> Result<BTreeMap<String, (String, String)>, ObserveError> {
    let hub = &state.security_hub;
    let central = matches!(&hub.configuration, Some((kind, status)) if kind == "CENTRAL" && status == "ENABLED");
    let (Some(admin), Some((_, region, _)), true) = (&hub.admin, &hub.aggregator, central) else {
        return Ok(BTreeMap::new());
    };
    let client = clients.in_account(admin, region).await.securityhub;
    let pages: Vec<_> = client
        .list_configuration_policy_associations()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("securityhub:ListConfigurationPolicyAssociations", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.configuration_policy_association_summaries())
        .filter(|a| a.target_type().map(|t| t.as_str()) == Some("ACCOUNT"))
        .filter_map(|a| {
            Some((
                a.target_id()?.to_string(),
                (
                    a.configuration_policy_id().unwrap_or_default().to_string(),
                    a.association_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                ),
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_rule_names_map_back_to_organization_rules() {
        let rules: BTreeSet<String> = ["s3-bucket-public-read-prohibited", "s3-bucket-public"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            org_rule_of("OrgConfigRule-s3-bucket-public-read-prohibited-ab12cd34", &rules),
            "s3-bucket-public-read-prohibited"
        );
        assert_eq!(
            org_rule_of("OrgConfigRule-s3-bucket-public-x1y2z3w4", &rules),
            "s3-bucket-public"
        );
        assert_eq!(org_rule_of("OrgConfigRule-other-rule-q1w2e3r4", &rules), "other-rule");
        assert_eq!(org_rule_of("securityhub-s3-1", &rules), "securityhub-s3-1");
    }
}
