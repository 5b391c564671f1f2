//! The offline catalog the `detective:` block is validated against
//! (`data/catalog.json`): Security Hub standards, GuardDuty features, AWS
//! Config managed rules with their parameters and default severity.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// One managed Config rule.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleInfo {
    /// The managed rule identifier (`S3_BUCKET_PUBLIC_READ_PROHIBITED`).
    pub identifier: String,
    /// The Security Hub control evaluating the same thing (`S3.2`).
    #[serde(default)]
    pub control: Option<String>,
    /// That control's severity: the rule's default severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Parameter name -> type (`string`, `int`, `bool`, `csv`; `!` = required).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// The whole catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// Standard key -> ARN path.
    pub standards: BTreeMap<String, String>,
    /// Feature key -> GuardDuty API name.
    pub guardduty_features: BTreeMap<String, String>,
    /// Rule name (the managed rule's usual name) -> rule.
    pub config_rules: BTreeMap<String, RuleInfo>,
}

impl Catalog {
    /// The ARN of a standard in a region.
    pub fn standard_arn(&self, key: &str, region: &str) -> Option<String> {
        self.standards.get(key).map(|path| {
            if path.starts_with("ruleset/") {
                format!("arn:aws:securityhub:::{path}")
            } else {
                format!("arn:aws:securityhub:{region}::{path}")
            }
        })
    }

    /// A rule by its name or its identifier.
    pub fn rule(&self, name_or_identifier: &str) -> Option<&RuleInfo> {
        self.config_rules.get(name_or_identifier).or_else(|| {
            self.config_rules
                .values()
                .find(|r| r.identifier == name_or_identifier)
        })
    }
}

/// The catalog shipped with lzctl.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        serde_json::from_str(include_str!("data/catalog.json")).expect("catalog.json parses")
    })
}
