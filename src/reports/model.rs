//! The compliance report: built from the observed landing zone (the
//! organization, the detective family's state and what the detective
//! services found), without any AWS call of its own.
//!
//! **Compliance rate.** The unit is one Config rule in one account and one
//! region (what the aggregator calls a rule's compliance in a source). It
//! is compliant when every resource the rule evaluated there complies,
//! non-compliant when at least one does not; rules that evaluated nothing
//! there (NOT_APPLICABLE) or could not (INSUFFICIENT_DATA) are left out.
//! rate = compliant / (compliant + non-compliant), pooled over the units of
//! an account, a company (all its accounts) or a rule; no units, no rate.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::Desired;
use crate::families::detective::compliance::ComplianceState;
use crate::families::detective::{catalog, RuleScope};
use crate::families::Observed;
use crate::model::{OrgState, OuPath, PolicyKind};
use crate::policy::effective::{hierarchy, summarize, PolicyBook, Subject};

/// The `format` of a report's JSON.
pub const REPORT_FORMAT: &str = "lzctl-compliance-report";
/// The version of a report's JSON. Readers accept this version only.
pub const REPORT_VERSION: u32 = 1;
/// The definition, as written into every report.
pub const RATE_DEFINITION: &str = "compliance rate = compliant / (compliant + non-compliant) Config rule evaluations, one evaluation per rule × account × region; a rule is non-compliant in an account and region when any resource it evaluated there is; NOT_APPLICABLE and INSUFFICIENT_DATA are left out; accounts and companies pool their evaluations";
/// The group of accounts outside every company OU.
pub const OUTSIDE_COMPANIES: &str = "(outside companies)";

/// Compliant and non-compliant evaluations, and their rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Compliant evaluations.
    pub compliant: u32,
    /// Non-compliant evaluations.
    pub non_compliant: u32,
    /// Not applicable or insufficient data (left out of the rate).
    pub excluded: u32,
    /// compliant / (compliant + non-compliant), None without evaluations.
    pub rate: Option<f64>,
}

impl Tally {
    fn add(&mut self, compliance: &str) {
        match compliance {
            "COMPLIANT" => self.compliant += 1,
            "NON_COMPLIANT" => self.non_compliant += 1,
            _ => self.excluded += 1,
        }
        self.rate = rate(self.compliant, self.non_compliant);
    }

    fn merge(&mut self, other: &Tally) {
        self.compliant += other.compliant;
        self.non_compliant += other.non_compliant;
        self.excluded += other.excluded;
        self.rate = rate(self.compliant, self.non_compliant);
    }
}

fn rate(compliant: u32, non_compliant: u32) -> Option<f64> {
    let total = compliant + non_compliant;
    (total > 0).then(|| compliant as f64 / total as f64)
}

/// Which detective services cover an account in a region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// A GuardDuty member (or the administrator) of the region's administrator.
    pub guardduty: bool,
    /// Security Hub enabled by the configuration policy in force, in a
    /// region central configuration reaches.
    pub security_hub: bool,
    /// The Config aggregator holds rule evaluations from there.
    pub config: bool,
    /// An organization trail that logs covers the region.
    pub cloudtrail: bool,
}

/// One level of an account's SCP chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardrailLevel {
    /// root, ou or account.
    pub level: String,
    /// Root, the OU path or the account name.
    pub name: String,
    /// SCPs attached there.
    pub policies: Vec<String>,
}

/// The guardrails in force for an account (as `lzctl scp effective` shows them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guardrails {
    /// The chain, root first.
    pub levels: Vec<GuardrailLevel>,
    /// What the chain denies (regions, actions, exempt principals).
    pub denies: Vec<String>,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountReport {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// OU path.
    pub ou: String,
    /// Company (or [`OUTSIDE_COMPANIES`]).
    pub company: String,
    /// Its evaluations.
    pub tally: Tally,
    /// By region.
    pub regions: BTreeMap<String, Tally>,
    /// Coverage by region.
    pub coverage: BTreeMap<String, Coverage>,
    /// Active findings by severity label.
    pub findings: BTreeMap<String, u32>,
    /// Failed Security Hub controls (distinct control × region).
    pub failed_controls: u32,
    /// SCPs in force.
    pub guardrails: Guardrails,
}

/// One company: its accounts pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyReport {
    /// Name (the company OU's name).
    pub name: String,
    /// OU path.
    pub ou: String,
    /// Its accounts' evaluations pooled.
    pub tally: Tally,
    /// Active findings by severity label.
    pub findings: BTreeMap<String, u32>,
    /// Accounts, by name.
    pub accounts: Vec<AccountReport>,
}

/// One Config rule across the organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    /// Organization rule name.
    pub name: String,
    /// Managed rule identifier, when the file names the rule.
    pub identifier: Option<String>,
    /// all, production, or unmanaged (not in the file).
    pub scope: String,
    /// critical, high, medium, low.
    pub severity: String,
    /// Evaluations.
    pub tally: Tally,
    /// Accounts (names) where it is non-compliant.
    pub non_compliant_accounts: Vec<String>,
}

/// A non-compliant resource (or a failed control on a resource).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// `config` or `securityhub`.
    pub source: String,
    /// Rule name or control id (or the finding's title without a control).
    pub rule: String,
    /// Account name (the id when the organization has no name for it).
    pub account: String,
    /// Account id.
    pub account_id: String,
    /// Company.
    pub company: String,
    /// Region.
    pub region: String,
    /// Resource type.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: String,
    /// critical, high, medium, low, informational.
    pub severity: String,
    /// Finding title (Security Hub) or rule identifier (Config).
    pub title: String,
}

impl Problem {
    /// A stable key: the same problem in two reports or two notify runs.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.source,
            self.rule,
            self.account_id,
            self.region,
            self.resource_type,
            self.resource_id
        )
    }
}

/// A failed Security Hub control across the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedControl {
    /// Control id.
    pub control: String,
    /// Highest severity among its findings.
    pub severity: String,
    /// Failed findings.
    pub findings: u32,
    /// Accounts (names).
    pub accounts: Vec<String>,
}

/// One point of a company's trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// Period (`2026-11`).
    pub period: String,
    /// Company -> rate.
    pub rates: BTreeMap<String, Option<f64>>,
}

/// Where the figures come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources {
    /// `account/region/name` of the Config aggregator.
    pub config_aggregator: Option<String>,
    /// Security Hub's aggregation region.
    pub security_hub_region: Option<String>,
    /// Regions reported.
    pub regions: Vec<String>,
    /// What could not be read.
    pub gaps: Vec<String>,
}

/// A compliance report (versioned JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// When it was made (RFC 3339).
    pub generated_at: String,
    /// The month it reports (`2026-11`).
    pub period: String,
    /// Organization id.
    pub organization: String,
    /// Management account id.
    pub management_account: String,
    /// [`RATE_DEFINITION`].
    pub definition: String,
    /// Sources and gaps.
    pub sources: Sources,
    /// Every account pooled.
    pub total: Tally,
    /// Companies (and [`OUTSIDE_COMPANIES`] last, when it has accounts).
    pub companies: Vec<CompanyReport>,
    /// Config rules.
    pub rules: Vec<RuleReport>,
    /// Active findings by severity label, organization-wide.
    pub findings: BTreeMap<String, u32>,
    /// Failed Security Hub controls.
    pub failed_controls: Vec<FailedControl>,
    /// Non-compliant resources and failed controls.
    pub problems: Vec<Problem>,
    /// Rates of the previous reports and this one, oldest first.
    #[serde(default)]
    pub trend: Vec<TrendPoint>,
    /// The comparison with the previous month, when history has one.
    #[serde(default)]
    pub comparison: Option<super::compare::Comparison>,
}

impl Report {
    /// Every account of every company.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountReport> {
        self.companies.iter().flat_map(|c| c.accounts.iter())
    }
}

/// The company an OU path belongs to: the direct child of `parent` it is in.
pub fn company_of(ou: &OuPath, parent: &OuPath) -> Option<String> {
    if parent.is_root() || !ou.starts_with(parent) || ou.depth() <= parent.depth() {
        return None;
    }
    ou.segments().get(parent.depth()).cloned()
}

/// The file's `company_parent` (default `Companies`).
pub fn company_parent(desired: &Desired) -> OuPath {
    desired.company_parent.clone()
}

/// Severity of a rule: the file's, else the catalog's default, else medium.
pub fn rule_severity(desired: &Desired, rule: &str) -> String {
    if let Some(r) = desired
        .families
        .detective
        .as_ref()
        .and_then(|d| d.config.as_ref())
        .and_then(|c| c.rules.get(rule))
    {
        return r.severity.as_str().to_string();
    }
    catalog()
        .rule(rule)
        .and_then(|r| r.severity.clone())
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_else(|| "medium".into())
}

/// The regions reported: the detective block's, else the governed ones.
pub fn report_regions(desired: &Desired) -> Vec<String> {
    desired
        .families
        .detective
        .as_ref()
        .map(|d| d.regions.clone())
        .unwrap_or_else(|| desired.organization.governed_regions.clone())
}

/// What a report is built from.
pub struct ReportInput<'a> {
    /// The file.
    pub desired: &'a Desired,
    /// The landing zone (every SCP target listed).
    pub observed: &'a Observed,
    /// What the detective services found.
    pub compliance: &'a ComplianceState,
    /// When (RFC 3339).
    pub generated_at: String,
    /// Month (`2026-11`).
    pub period: String,
}

/// Builds the report (no comparison, no trend: see `compare`).
pub fn build(input: &ReportInput<'_>) -> Report {
    let desired = input.desired;
    let org: &OrgState = &input.observed.organizations;
    let detective = &input.observed.detective;
    let found = input.compliance;
    let regions = report_regions(desired);
    let parent = company_parent(desired);

    // Accounts by id.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (name, a) in &org.accounts {
        if let Some(id) = &a.id {
            names.insert(id.clone(), name.clone());
        }
    }
    let company_of_id = |id: &str| -> String {
        names
            .get(id)
            .and_then(|n| org.accounts.get(n))
            .and_then(|a| company_of(&a.ou, &parent))
            .unwrap_or_else(|| OUTSIDE_COMPANIES.to_string())
    };
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    // The accounts a report counts: in the organization and usable. The
    // aggregator keeps a closed account's results for a while; they count
    // nowhere (rates, rules, problems), as the account tallies leave it out.
    let counted: BTreeSet<&str> = org
        .accounts
        .iter()
        .filter(|(name, _)| {
            !org.closed_accounts.contains(*name) && !org.pending_accounts.contains(*name)
        })
        .filter_map(|(_, a)| a.id.as_deref())
        .collect();

    // Evaluations by account, region and rule (only regions reported).
    let mut by_account: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_account_region: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, Tally> = BTreeMap::new();
    let mut rule_accounts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &found.evaluations {
        if !regions.contains(&e.region) || !counted.contains(e.account.as_str()) {
            continue;
        }
        by_account
            .entry(e.account.clone())
            .or_default()
            .add(&e.compliance);
        by_account_region
            .entry((e.account.clone(), e.region.clone()))
            .or_default()
            .add(&e.compliance);
        by_rule
            .entry(e.rule.clone())
            .or_default()
            .add(&e.compliance);
        if e.compliance == "NON_COMPLIANT" {
            rule_accounts
                .entry(e.rule.clone())
                .or_default()
                .insert(name_of(&e.account));
        }
    }

    // Findings.
    let findings: Vec<_> = found
        .findings
        .iter()
        .filter(|f| regions.contains(&f.region) && counted.contains(f.account.as_str()))
        .collect();
    let mut findings_by_account: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut findings_total: BTreeMap<String, u32> = BTreeMap::new();
    let mut failed_by_account: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut failed: BTreeMap<String, FailedControl> = BTreeMap::new();
    for f in &findings {
        *findings_by_account
            .entry(f.account.clone())
            .or_default()
            .entry(f.severity.clone())
            .or_default() += 1;
        *findings_total.entry(f.severity.clone()).or_default() += 1;
        if f.is_failed_control() {
            let control = f.control.clone().unwrap_or_default();
            failed_by_account
                .entry(f.account.clone())
                .or_default()
                .insert((control.clone(), f.region.clone()));
            let entry = failed.entry(control.clone()).or_insert(FailedControl {
                control,
                severity: f.severity.clone(),
                findings: 0,
                accounts: Vec::new(),
            });
            entry.findings += 1;
            if severity_rank(&f.severity) < severity_rank(&entry.severity) {
                entry.severity = f.severity.clone();
            }
            let name = name_of(&f.account);
            if !entry.accounts.contains(&name) {
                entry.accounts.push(name);
            }
        }
    }

    // Coverage inputs.
    let hub_regions: BTreeSet<String> = detective
        .security_hub
        .aggregator
        .as_ref()
        .map(|(_, region, linked)| {
            let mut all = linked.clone();
            all.insert(region.clone());
            all
        })
        .unwrap_or_default();
    let hub_policy_enabled: BTreeMap<&str, bool> = detective
        .security_hub
        .policies
        .values()
        .map(|p| (p.id.as_str(), p.service_enabled))
        .collect();
    let evaluated: BTreeSet<(String, String)> = found
        .evaluations
        .iter()
        .map(|e| (e.account.clone(), e.region.clone()))
        .collect();
    let trails: Vec<_> = detective
        .trails
        .iter()
        .filter(|t| t.organization && t.logging)
        .collect();

    let book = PolicyBook::new(org);
    let mut companies: BTreeMap<String, CompanyReport> = BTreeMap::new();
    for (name, account) in &org.accounts {
        let Some(id) = account.id.clone() else {
            continue;
        };
        if org.closed_accounts.contains(name) || org.pending_accounts.contains(name) {
            continue;
        }
        let company = company_of(&account.ou, &parent).unwrap_or_else(|| OUTSIDE_COMPANIES.into());
        let mut coverage = BTreeMap::new();
        let mut region_tallies = BTreeMap::new();
        for region in &regions {
            let hub = found.hub_associations.get(&id);
            coverage.insert(
                region.clone(),
                Coverage {
                    guardduty: found
                        .guardduty_members
                        .get(region)
                        .is_some_and(|m| m.contains(&id)),
                    security_hub: hub_regions.contains(region)
                        && hub.is_some_and(|(policy, status)| {
                            status != "FAILED"
                                && hub_policy_enabled
                                    .get(policy.as_str())
                                    .copied()
                                    .unwrap_or(false)
                        }),
                    config: evaluated.contains(&(id.clone(), region.clone())),
                    cloudtrail: trails
                        .iter()
                        .any(|t| t.multi_region || &t.home_region == region),
                },
            );
            region_tallies.insert(
                region.clone(),
                by_account_region
                    .get(&(id.clone(), region.clone()))
                    .copied()
                    .unwrap_or_default(),
            );
        }
        let guardrails = hierarchy(
            org,
            &book,
            PolicyKind::Scp,
            &Subject::Account(name.clone()),
            false,
        )
        .map(|h| Guardrails {
            levels: h
                .levels
                .iter()
                .map(|l| GuardrailLevel {
                    level: l.kind.label().to_string(),
                    name: l.name.clone(),
                    policies: l.policies.iter().map(|p| p.name.clone()).collect(),
                })
                .collect(),
            denies: summarize(&h)
                .lines()
                .skip_while(|l| !l.trim().is_empty())
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect(),
        })
        .unwrap_or_default();
        let report = AccountReport {
            name: name.clone(),
            id: id.clone(),
            ou: account.ou.to_string(),
            company: company.clone(),
            tally: by_account.get(&id).copied().unwrap_or_default(),
            regions: region_tallies,
            coverage,
            findings: findings_by_account.get(&id).cloned().unwrap_or_default(),
            failed_controls: failed_by_account
                .get(&id)
                .map(|s| s.len() as u32)
                .unwrap_or(0),
            guardrails,
        };
        let entry = companies
            .entry(company.clone())
            .or_insert_with(|| CompanyReport {
                name: company.clone(),
                ou: if company == OUTSIDE_COMPANIES {
                    String::new()
                } else {
                    parent.child(&company).to_string()
                },
                tally: Tally::default(),
                findings: BTreeMap::new(),
                accounts: Vec::new(),
            });
        entry.tally.merge(&report.tally);
        for (sev, n) in &report.findings {
            *entry.findings.entry(sev.clone()).or_default() += n;
        }
        entry.accounts.push(report);
    }
    // Company OUs without accounts still appear.
    for path in desired.state.ous.keys() {
        if path.parent().as_ref() == Some(&parent) {
            companies
                .entry(path.name().to_string())
                .or_insert_with(|| CompanyReport {
                    name: path.name().to_string(),
                    ou: path.to_string(),
                    tally: Tally::default(),
                    findings: BTreeMap::new(),
                    accounts: Vec::new(),
                });
        }
    }
    let mut total = Tally::default();
    for c in companies.values() {
        total.merge(&c.tally);
    }
    let outside = companies.remove(OUTSIDE_COMPANIES);
    let mut companies: Vec<CompanyReport> = companies.into_values().collect();
    companies.extend(outside);

    // Rules: the file's, then any other rule the aggregator reports.
    let file_rules = desired
        .families
        .detective
        .as_ref()
        .and_then(|d| d.config.as_ref())
        .map(|c| c.rules.clone())
        .unwrap_or_default();
    let mut rule_names: BTreeSet<String> = file_rules.keys().cloned().collect();
    rule_names.extend(by_rule.keys().cloned());
    let rules = rule_names
        .into_iter()
        .map(|name| {
            let file = file_rules.get(&name);
            RuleReport {
                identifier: file.map(|r| r.identifier.clone()),
                scope: match file.map(|r| r.scope) {
                    Some(RuleScope::All) => "all".into(),
                    Some(RuleScope::Production) => "production".into(),
                    None => "unmanaged".into(),
                },
                severity: rule_severity(desired, &name),
                tally: by_rule.get(&name).copied().unwrap_or_default(),
                non_compliant_accounts: rule_accounts
                    .get(&name)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
                name,
            }
        })
        .collect();

    // Problems: non-compliant resources and failed controls.
    let mut problems: BTreeSet<Problem> = BTreeSet::new();
    for r in &found.non_compliant {
        if !regions.contains(&r.region) || !counted.contains(r.account.as_str()) {
            continue;
        }
        problems.insert(Problem {
            source: "config".into(),
            rule: r.rule.clone(),
            account: name_of(&r.account),
            account_id: r.account.clone(),
            company: company_of_id(&r.account),
            region: r.region.clone(),
            resource_type: r.resource_type.clone(),
            resource_id: r.resource_id.clone(),
            severity: rule_severity(desired, &r.rule),
            title: file_rules
                .get(&r.rule)
                .map(|x| x.identifier.clone())
                .unwrap_or_else(|| r.rule.clone()),
        });
    }
    for f in findings.iter().filter(|f| f.is_failed_control()) {
        problems.insert(Problem {
            source: "securityhub".into(),
            rule: f.control.clone().unwrap_or_default(),
            account: name_of(&f.account),
            account_id: f.account.clone(),
            company: company_of_id(&f.account),
            region: f.region.clone(),
            resource_type: f.resource_type.clone(),
            resource_id: f.resource_id.clone(),
            severity: f.severity.to_ascii_lowercase(),
            title: f.title.clone(),
        });
    }

    let mut gaps = found.gaps.clone();
    if desired.families.detective.is_none() {
        gaps.push("the file has no `detective:` block: coverage and rules are not read".into());
    }
    Report {
        format: REPORT_FORMAT.into(),
        version: REPORT_VERSION,
        generated_at: input.generated_at.clone(),
        period: input.period.clone(),
        organization: org.organization_id.clone().unwrap_or_default(),
        management_account: org.management_account_id.clone().unwrap_or_default(),
        definition: RATE_DEFINITION.into(),
        sources: Sources {
            config_aggregator: found
                .aggregator
                .as_ref()
                .map(|a| format!("{}/{}/{}", a.account, a.region, a.name)),
            security_hub_region: detective
                .security_hub
                .aggregator
                .as_ref()
                .map(|(_, r, _)| r.clone()),
            regions,
            gaps,
        },
        total,
        companies,
        rules,
        findings: findings_total,
        failed_controls: failed.into_values().collect(),
        problems: problems.into_iter().collect(),
        trend: Vec::new(),
        comparison: None,
    }
}

/// Order of severities, most severe first.
pub fn severity_rank(severity: &str) -> u8 {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// What `notify` watches: the report's problems (non-compliant resources,
/// failed controls) and every other active finding (threats, checks
/// without a control) that is not a pass.
pub fn notify_problems(report: &Report, compliance: &ComplianceState) -> Vec<Problem> {
    let mut out: BTreeSet<Problem> = report.problems.iter().cloned().collect();
    let accounts: BTreeMap<&str, &AccountReport> =
        report.accounts().map(|a| (a.id.as_str(), a)).collect();
    for f in &compliance.findings {
        if f.is_failed_control()
            || !report.sources.regions.contains(&f.region)
            || matches!(
                f.compliance_status.as_deref(),
                Some("PASSED") | Some("NOT_AVAILABLE")
            )
        {
            continue;
        }
        // Only the accounts the report counts (not closed, not gone).
        let Some(account) = accounts.get(f.account.as_str()) else {
            continue;
        };
        out.insert(Problem {
            source: "securityhub".into(),
            rule: f.control.clone().unwrap_or_else(|| f.title.clone()),
            account: account.name.clone(),
            account_id: f.account.clone(),
            company: account.company.clone(),
            region: f.region.clone(),
            resource_type: f.resource_type.clone(),
            resource_id: f.resource_id.clone(),
            severity: f.severity.to_ascii_lowercase(),
            title: f.title.clone(),
        });
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_pool_evaluations_and_leave_out_not_applicable() {
        let mut t = Tally::default();
        for c in [
            "COMPLIANT",
            "COMPLIANT",
            "NON_COMPLIANT",
            "NOT_APPLICABLE",
            "INSUFFICIENT_DATA",
        ] {
            t.add(c);
        }
        assert_eq!((t.compliant, t.non_compliant, t.excluded), (2, 1, 2));
        assert!((t.rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        let mut other = Tally::default();
        other.add("NOT_APPLICABLE");
        assert_eq!(other.rate, None, "no evaluations, no rate");
        other.merge(&t);
        assert!((other.rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn companies_are_the_direct_children_of_the_company_parent() {
        let parent = OuPath::parse("Companies").unwrap();
        let ou = |p: &str| OuPath::parse(p).unwrap();
        assert_eq!(
            company_of(&ou("Companies/Alpha/prod"), &parent).as_deref(),
            Some("Alpha")
        );
        assert_eq!(
            company_of(&ou("Companies/Alpha"), &parent).as_deref(),
            Some("Alpha")
        );
        assert_eq!(company_of(&ou("Companies"), &parent), None);
        assert_eq!(company_of(&ou("Security"), &parent), None);
        assert_eq!(company_of(&OuPath::root(), &parent), None);
    }
}
