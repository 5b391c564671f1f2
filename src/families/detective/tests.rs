//! Unit tests of the detective family's pure parts.

use super::diff::{rule_description, severity_of};
use super::{catalog, RuleScope};

#[test]
fn the_catalog_parses_and_every_default_severity_is_known() {
    let cat = catalog();
    assert!(cat.config_rules.len() >= 30);
    for (name, rule) in &cat.config_rules {
        if let Some(sev) = &rule.severity {
            assert!(
                ["critical", "high", "medium", "low"].contains(&sev.as_str()),
                "{name}: {sev}"
            );
            assert!(rule.control.is_some(), "{name} has a severity but no control");
        }
        for kind in rule.parameters.values() {
            assert!(
                ["string", "int", "bool", "csv"].contains(&kind.trim_end_matches('!')),
                "{name}: {kind}"
            );
        }
    }
    assert_eq!(
        cat.standard_arn("cis-3.0", "ap-northeast-1").as_deref(),
        Some("arn:aws:securityhub:ap-northeast-1::standards/cis-aws-foundations-benchmark/v/3.0.0")
    );
    assert_eq!(
        cat.standard_arn("cis-1.2", "ap-northeast-1").as_deref(),
        Some("arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0")
    );
    assert_eq!(
        cat.rule("RDS_MULTI_AZ_SUPPORT").map(|r| r.identifier.as_str()),
        Some("RDS_MULTI_AZ_SUPPORT")
    );
}

#[test]
fn severity_travels_in_the_rule_description() {
    let d = rule_description("critical", RuleScope::Production);
    assert_eq!(d, "[lzctl] severity=critical scope=production");
    assert_eq!(severity_of(&d), Some("critical"));
    assert_eq!(severity_of("someone else's rule"), None);
}
