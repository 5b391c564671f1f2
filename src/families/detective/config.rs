//! The `detective:` block: deserialized into its own structs, every value
//! checked offline against the catalog (standards, features, managed rules
//! and their parameters, severities) and the file's OUs and accounts, each
//! problem reported with its field path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::catalog::catalog;
use crate::config::model::UnknownKeys;
use crate::config::source::{join_index, join_key};
use crate::config::{closest, Checker, SectionInput};
use crate::model::{OuPath, Target};

/// How urgent a rule's findings are (lzctl metadata for reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Act now.
    Critical,
    /// Within 2-3 business days.
    High,
    /// Planned.
    Medium,
    /// When convenient.
    Low,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            _ => None,
        }
    }
}

/// Where a Config rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleScope {
    /// Every account.
    All,
    /// Production accounts only (every other account is excluded).
    Production,
}

/// One Config rule the file asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDesired {
    /// Managed rule identifier.
    pub identifier: String,
    /// All or production only.
    pub scope: RuleScope,
    /// Severity.
    pub severity: Severity,
    /// Input parameters as JSON text (keys sorted), `""` for none.
    pub parameters: String,
}

/// Which accounts are production.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Production {
    /// OUs (with their subtrees) whose accounts are production.
    pub ous: BTreeSet<OuPath>,
    /// An account tag `key=value` that marks production accounts.
    pub tag: Option<(String, String)>,
}

/// `detective.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDesired {
    /// Production accounts.
    pub production: Production,
    /// Rules by name.
    pub rules: BTreeMap<String, RuleDesired>,
}

/// `detective.guardduty`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardDutyDesired {
    /// ALL, NEW or NONE.
    pub auto_enable: String,
    /// Feature API names.
    pub features: BTreeSet<String>,
}

/// One Security Hub configuration policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubPolicyDesired {
    /// Standard keys (`cis-3.0`).
    pub standards: Vec<String>,
    /// Disabled control ids.
    pub disabled_controls: BTreeSet<String>,
    /// Targets.
    pub targets: BTreeSet<Target>,
}

/// `detective.security_hub`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubDesired {
    /// Aggregation region.
    pub aggregation_region: String,
    /// Policies by name.
    pub policies: BTreeMap<String, HubPolicyDesired>,
}

/// `detective.cloudtrail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudTrailDesired {
    /// Adopt Control Tower's organization trail (verify it logs).
    ControlTower,
    /// Create an organization trail delivering to a bucket (in the
    /// log-archive account) that exists.
    Create {
        /// Trail name.
        name: String,
        /// Bucket.
        bucket: String,
    },
}

/// The validated `detective:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectiveDesired {
    /// The delegated administrator: an account name of the file, or an id.
    pub admin: String,
    /// Regions (governed regions by default).
    pub regions: Vec<String>,
    /// GuardDuty.
    pub guardduty: Option<GuardDutyDesired>,
    /// Security Hub.
    pub security_hub: Option<HubDesired>,
    /// Config.
    pub config: Option<ConfigDesired>,
    /// CloudTrail.
    pub cloudtrail: Option<CloudTrailDesired>,
}

/// The `detective:` block: organization-wide detective services run from a
/// delegated administrator.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "DetectiveSection")]
pub(super) struct RawSection {
    /// The delegated administrator: an account name of the file or a quoted id.
    #[serde(default)]
    #[schemars(schema_with = "crate::config::schema::account_ref")]
    delegated_admin: Option<serde_yaml::Value>,
    /// `governed` (default) or a list of governed regions (the home region among them).
    #[serde(default)]
    #[schemars(schema_with = "crate::config::schema::regions")]
    regions: Option<serde_yaml::Value>,
    /// GuardDuty.
    guardduty: Option<RawGuardDuty>,
    /// Security Hub (central configuration).
    security_hub: Option<RawHub>,
    /// AWS Config organization rules.
    config: Option<RawConfig>,
    /// The organization trail.
    cloudtrail: Option<RawTrail>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// `detective.guardduty`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "GuardDuty")]
struct RawGuardDuty {
    /// `all`, `new` or `none`.
    #[schemars(regex(pattern = "^(all|new|none)$"))]
    auto_enable: Option<String>,
    /// Features: s3_data_events, runtime_monitoring, ebs_malware_protection, ...
    #[serde(default)]
    features: Vec<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// `detective.security_hub`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "SecurityHub")]
struct RawHub {
    /// `home` or a governed region.
    aggregation_region: Option<String>,
    /// Configuration policies by name.
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// One Security Hub configuration policy.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "SecurityHubPolicy")]
struct RawPolicy {
    /// Standards: aws-foundational-security-best-practices, cis-3.0, ...
    #[serde(default)]
    standards: Vec<String>,
    /// Control ids turned off (IAM.6).
    #[serde(default)]
    disabled_controls: Vec<String>,
    /// `Root` or OU paths and globs.
    #[serde(default)]
    targets: Vec<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// `detective.config`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "ConfigRules")]
struct RawConfig {
    /// Which accounts are production.
    production: Option<RawProduction>,
    /// Managed rules by name.
    #[serde(default)]
    rules: BTreeMap<String, RawRule>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// Production accounts: by OU or by account tag.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Production")]
struct RawProduction {
    /// OU paths and globs (each with its subtree).
    #[serde(default)]
    ous: Vec<String>,
    /// An account tag `key=value`.
    tag: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// One AWS Config organization rule.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "ConfigRule")]
struct RawRule {
    /// Managed rule identifier (default: from the rule name).
    identifier: Option<String>,
    /// `all` or `production`.
    #[schemars(regex(pattern = "^(all|production)$"))]
    scope: Option<String>,
    /// critical, high, medium or low.
    severity: Option<String>,
    /// Input parameters.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    parameters: BTreeMap<String, serde_yaml::Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// `detective.cloudtrail`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "CloudTrail")]
struct RawTrail {
    /// `control-tower`, or `{ name, bucket }` to create one.
    #[serde(default)]
    #[schemars(schema_with = "trail_schema")]
    organization_trail: Option<serde_yaml::Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

fn trail_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "const": "control-tower" },
            {
                "type": "object",
                "properties": { "name": { "type": "string" }, "bucket": { "type": "string" } },
                "required": ["name", "bucket"],
                "additionalProperties": false
            }
        ]
    })
}

/// The JSON Schema of the `detective:` block.
pub(super) fn section_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<RawSection>()
}

const KNOWN: &[&str] = &[
    "delegated_admin",
    "regions",
    "guardduty",
    "security_hub",
    "config",
    "cloudtrail",
];

/// Validates the section; problems go to `checker`.
pub(super) fn check(
    c: &mut Checker<'_>,
    input: &SectionInput<'_>,
    section: &serde_yaml::Value,
) -> DetectiveDesired {
    let org = input.organization;
    let mut out = DetectiveDesired {
        admin: String::new(),
        regions: org.governed_regions.clone(),
        guardduty: None,
        security_hub: None,
        config: None,
        cloudtrail: None,
    };
    let raw: RawSection = match serde_yaml::from_value(section.clone()) {
        Ok(r) => r,
        Err(e) => {
            c.error(
                "detective",
                format!("`detective` is not valid: {e}"),
                Some("see the detective block in examples/group/landing-zone.yaml".into()),
            );
            return out;
        }
    };
    c.unknown_keys("detective", &raw.unknown, KNOWN);

    // The administrator: an account of the file, or an account id.
    match &raw.delegated_admin {
        Some(serde_yaml::Value::String(s)) if input.state.accounts.contains_key(s) => {
            out.admin = s.clone()
        }
        Some(serde_yaml::Value::String(s)) if s.len() == 12 && s.chars().all(|ch| ch.is_ascii_digit()) => {
            out.admin = s.clone()
        }
        Some(serde_yaml::Value::String(s)) => {
            let hint = closest(s, input.state.accounts.keys().map(String::as_str))
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| "name an account of `accounts:` or give a 12-digit id".into());
            c.error_at_value(
                "detective.delegated_admin",
                format!("`{s}` is not an account of this file nor an account id"),
                Some(hint),
            );
        }
        Some(_) => c.error_at_value(
            "detective.delegated_admin",
            "the delegated administrator is an account name or a quoted 12-digit id",
            None,
        ),
        None => c.error(
            "detective",
            "missing `detective.delegated_admin`",
            Some("name the audit account, e.g. `delegated_admin: audit`".into()),
        ),
    }

    // Regions: governed (default) or a subset of the governed regions.
    match &raw.regions {
        None => {}
        Some(serde_yaml::Value::String(s)) if s == "governed" => {}
        Some(serde_yaml::Value::Sequence(items)) => {
            let mut regions = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let field = join_index("detective.regions", i);
                match item.as_str() {
                    Some(r) if org.governed_regions.iter().any(|g| g == r) => {
                        regions.push(r.to_string())
                    }
                    Some(r) => c.error_at_value(
                        &field,
                        format!("`{r}` is not a governed region"),
                        Some(format!(
                            "detective services run in governed regions: {}",
                            org.governed_regions.join(", ")
                        )),
                    ),
                    None => c.error_at_value(&field, "a region is a string", None),
                }
            }
            if !org.home_region.is_empty() && !regions.contains(&org.home_region) {
                c.error(
                    "detective.regions",
                    "the home region must be one of the detective regions",
                    Some(format!("add {}", org.home_region)),
                );
            }
            out.regions = regions;
        }
        Some(_) => c.error_at_value(
            "detective.regions",
            "`regions` is `governed` or a list of governed regions",
            None,
        ),
    }

    let cat = catalog();
    if let Some(gd) = &raw.guardduty {
        c.unknown_keys("detective.guardduty", &gd.unknown, &["auto_enable", "features"]);
        let auto_enable = match gd.auto_enable.as_deref().unwrap_or("all") {
            "all" => "ALL",
            "new" => "NEW",
            "none" => "NONE",
            other => {
                c.error_at_value(
                    "detective.guardduty.auto_enable",
                    format!("`{other}` is not all, new or none"),
                    Some("`all` enables existing and new member accounts".into()),
                );
                "ALL"
            }
        };
        let mut features = BTreeSet::new();
        for (i, f) in gd.features.iter().enumerate() {
            match cat.guardduty_features.get(f) {
                Some(api) => {
                    features.insert(api.clone());
                }
                None => {
                    let hint = closest(f, cat.guardduty_features.keys().map(String::as_str))
                        .map(|k| format!("did you mean `{k}`?"))
                        .unwrap_or_else(|| {
                            format!(
                                "known features: {}",
                                cat.guardduty_features.keys().cloned().collect::<Vec<_>>().join(", ")
                            )
                        });
                    c.error_at_value(
                        &join_index("detective.guardduty.features", i),
                        format!("unknown GuardDuty feature `{f}`"),
                        Some(hint),
                    );
                }
            }
        }
        if features.contains("RUNTIME_MONITORING") && features.contains("EKS_RUNTIME_MONITORING") {
            c.error(
                "detective.guardduty.features",
                "runtime_monitoring and eks_runtime_monitoring exclude each other",
                Some("runtime_monitoring already covers EKS; keep only it".into()),
            );
        }
        out.guardduty = Some(GuardDutyDesired {
            auto_enable: auto_enable.to_string(),
            features,
        });
    }

    if let Some(hub) = &raw.security_hub {
        c.unknown_keys(
            "detective.security_hub",
            &hub.unknown,
            &["aggregation_region", "policies"],
        );
        let region = match hub.aggregation_region.as_deref() {
            None | Some("home") => org.home_region.clone(),
            Some(r) if out.regions.iter().any(|g| g == r) => r.to_string(),
            Some(r) => {
                c.error_at_value(
                    "detective.security_hub.aggregation_region",
                    format!("`{r}` is not one of the detective regions"),
                    Some("use `home` or a governed region".into()),
                );
                org.home_region.clone()
            }
        };
        let mut policies = BTreeMap::new();
        let mut claimed: BTreeMap<Target, String> = BTreeMap::new();
        for (name, p) in &hub.policies {
            let base = join_key("detective.security_hub.policies", name);
            c.unknown_keys(&base, &p.unknown, &["standards", "disabled_controls", "targets"]);
            if name.is_empty() || name.len() > 128 {
                c.error(&base, "a policy name is 1-128 characters", None);
            }
            for (i, s) in p.standards.iter().enumerate() {
                if !cat.standards.contains_key(s) {
                    let hint = closest(s, cat.standards.keys().map(String::as_str))
                        .map(|k| format!("did you mean `{k}`?"))
                        .unwrap_or_else(|| {
                            format!(
                                "known standards: {}",
                                cat.standards.keys().cloned().collect::<Vec<_>>().join(", ")
                            )
                        });
                    c.error_at_value(
                        &join_index(&join_key(&base, "standards"), i),
                        format!("unknown Security Hub standard `{s}`"),
                        Some(hint),
                    );
                }
            }
            for (i, control) in p.disabled_controls.iter().enumerate() {
                if !is_control_id(control) {
                    c.error_at_value(
                        &join_index(&join_key(&base, "disabled_controls"), i),
                        format!("`{control}` is not a Security Hub control id"),
                        Some("control ids look like `IAM.6` or `CloudTrail.1`".into()),
                    );
                }
            }
            if p.targets.is_empty() {
                c.error(
                    &base,
                    "a policy needs `targets`",
                    Some("e.g. `targets: [Root]` or `targets: [\"Companies/*/prod\"]`".into()),
                );
            }
            let targets = c.resolve_targets(&join_key(&base, "targets"), &p.targets, input.state);
            for t in &targets {
                if let Some(other) = claimed.insert(t.clone(), name.clone()) {
                    c.error(
                        &join_key(&base, "targets"),
                        format!("{t} is a target of policies `{other}` and `{name}`"),
                        Some("one configuration policy applies to a target; an OU's policy overrides its parent's".into()),
                    );
                }
            }
            policies.insert(
                name.clone(),
                HubPolicyDesired {
                    standards: p.standards.clone(),
                    disabled_controls: p.disabled_controls.iter().cloned().collect(),
                    targets,
                },
            );
        }
        out.security_hub = Some(HubDesired {
            aggregation_region: region,
            policies,
        });
    }

    if let Some(cfg) = &raw.config {
        c.unknown_keys("detective.config", &cfg.unknown, &["production", "rules"]);
        let mut production = Production::default();
        let mut production_given = false;
        if let Some(p) = &cfg.production {
            c.unknown_keys("detective.config.production", &p.unknown, &["ous", "tag"]);
            let targets = c.resolve_targets("detective.config.production.ous", &p.ous, input.state);
            for t in targets {
                match t {
                    Target::Ou(path) => {
                        production.ous.insert(path);
                    }
                    other => c.error(
                        "detective.config.production.ous",
                        format!("{other} is not an OU"),
                        Some("production is given by OUs (with their subtrees) or by an account tag".into()),
                    ),
                }
            }
            if let Some(tag) = &p.tag {
                match tag.split_once('=') {
                    Some((k, v)) if !k.is_empty() => {
                        production.tag = Some((k.to_string(), v.to_string()))
                    }
                    _ => c.error_at_value(
                        "detective.config.production.tag",
                        format!("`{tag}` is not `key=value`"),
                        Some("e.g. `tag: environment=production`".into()),
                    ),
                }
            }
            production_given = !p.ous.is_empty() || p.tag.is_some();
        }
        let mut rules = BTreeMap::new();
        for (name, r) in &cfg.rules {
            let base = join_key("detective.config.rules", name);
            c.unknown_keys(
                &base,
                &r.unknown,
                &["identifier", "scope", "severity", "parameters"],
            );
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                c.error(
                    &base,
                    format!("`{name}` is not a valid organization rule name"),
                    Some("1-64 letters, digits, `-` and `_`".into()),
                );
            }
            let info = match r.identifier.as_deref() {
                Some(id) => cat.rule(id),
                None => cat.rule(name),
            };
            let Some(info) = info else {
                let asked = r.identifier.as_deref().unwrap_or(name);
                let hint = closest(asked, cat.config_rules.keys().map(String::as_str))
                    .map(|k| format!("did you mean `{k}`?"))
                    .unwrap_or_else(|| {
                        "name the rule after an AWS Config managed rule, or give `identifier:`".into()
                    });
                c.error(
                    &base,
                    format!("`{asked}` is not an AWS Config managed rule lzctl knows"),
                    Some(hint),
                );
                continue;
            };
            let scope = match r.scope.as_deref() {
                None | Some("all") => RuleScope::All,
                Some("production") => RuleScope::Production,
                Some(other) => {
                    c.error_at_value(
                        &join_key(&base, "scope"),
                        format!("`{other}` is not all or production"),
                        None,
                    );
                    RuleScope::All
                }
            };
            if scope == RuleScope::Production && !production_given {
                c.error(
                    &join_key(&base, "scope"),
                    "a production-only rule needs `detective.config.production`",
                    Some("say which accounts are production: `production: { ous: [\"Companies/*/prod\"] }`".into()),
                );
            }
            let severity = match r.severity.as_deref() {
                Some(s) => match Severity::parse(s) {
                    Some(sev) => sev,
                    None => {
                        c.error_at_value(
                            &join_key(&base, "severity"),
                            format!("`{s}` is not a severity"),
                            Some("critical (act now), high (2-3 business days), medium (planned), low".into()),
                        );
                        Severity::Medium
                    }
                },
                None => match info.severity.as_deref().and_then(Severity::parse) {
                    Some(sev) => sev,
                    None => {
                        c.error(
                            &base,
                            "this rule needs a `severity`",
                            Some("no Security Hub control gives it a default: critical, high, medium or low".into()),
                        );
                        Severity::Medium
                    }
                },
            };
            let parameters = check_parameters(c, &join_key(&base, "parameters"), info, &r.parameters);
            rules.insert(
                name.clone(),
                RuleDesired {
                    identifier: info.identifier.clone(),
                    scope,
                    severity,
                    parameters,
                },
            );
        }
        out.config = Some(ConfigDesired { production, rules });
    }

    if let Some(trail) = &raw.cloudtrail {
        c.unknown_keys("detective.cloudtrail", &trail.unknown, &["organization_trail"]);
        out.cloudtrail = match &trail.organization_trail {
            None => None,
            Some(serde_yaml::Value::String(s)) if s == "control-tower" => {
                Some(CloudTrailDesired::ControlTower)
            }
            Some(serde_yaml::Value::Mapping(m)) => {
                let get = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_string);
                for key in m.keys() {
                    if !matches!(key.as_str(), Some("name") | Some("bucket")) {
                        c.error(
                            "detective.cloudtrail.organization_trail",
                            format!("unknown key `{}`", key.as_str().unwrap_or("?")),
                            Some("known keys here: name, bucket".into()),
                        );
                    }
                }
                match (get("name"), get("bucket")) {
                    (Some(name), Some(bucket)) => Some(CloudTrailDesired::Create { name, bucket }),
                    _ => {
                        c.error(
                            "detective.cloudtrail.organization_trail",
                            "a trail lzctl creates needs `name` and `bucket`",
                            Some("the bucket is in the log-archive account and lets CloudTrail write".into()),
                        );
                        None
                    }
                }
            }
            Some(_) => {
                c.error_at_value(
                    "detective.cloudtrail.organization_trail",
                    "`organization_trail` is `control-tower` or { name, bucket }",
                    None,
                );
                None
            }
        };
    }
    out
}

/// `IAM.6`, `CloudTrail.1`, `S3.2`.
fn is_control_id(text: &str) -> bool {
    match text.split_once('.') {
        Some((service, number)) => {
            !service.is_empty()
                && service.chars().all(|ch| ch.is_ascii_alphanumeric())
                && service.chars().next().is_some_and(|ch| ch.is_ascii_uppercase())
                && !number.is_empty()
                && number.chars().all(|ch| ch.is_ascii_digit())
        }
        None => false,
    }
}

/// Checks a rule's parameters against the catalog; returns the JSON text
/// AWS takes (every value a string, keys sorted), `""` for none.
fn check_parameters(
    c: &mut Checker<'_>,
    field: &str,
    info: &super::catalog::RuleInfo,
    given: &BTreeMap<String, serde_yaml::Value>,
) -> String {
    let mut out = BTreeMap::new();
    for (key, value) in given {
        let f = join_key(field, key);
        let Some(kind) = info.parameters.get(key) else {
            let hint = if info.parameters.is_empty() {
                format!("{} takes no parameters", info.identifier)
            } else {
                format!(
                    "{} takes: {}",
                    info.identifier,
                    info.parameters.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            c.error(&f, format!("unknown parameter `{key}`"), Some(hint));
            continue;
        };
        let text = match value {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Sequence(items) if kind.starts_with("csv") => items
                .iter()
                .map(|i| match i {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            _ => {
                c.error_at_value(&f, "a parameter value is a string, number or boolean", None);
                continue;
            }
        };
        let ok = match kind.trim_end_matches('!') {
            "int" => text.parse::<i64>().is_ok(),
            "bool" => text == "true" || text == "false",
            _ => !text.is_empty(),
        };
        if !ok {
            c.error_at_value(
                &f,
                format!("`{text}` is not a valid {} for `{key}`", kind.trim_end_matches('!')),
                None,
            );
        }
        out.insert(key.clone(), serde_json::Value::String(text));
    }
    for (key, kind) in &info.parameters {
        if kind.ends_with('!') && !out.contains_key(key) && !given.contains_key(key) {
            c.error(
                field,
                format!("{} needs the parameter `{key}`", info.identifier),
                None,
            );
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&out).expect("parameters serialize")
    }
}
