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

mod plans {
    use crate::families::{DiffError, Observed};
    use crate::model::{Account, OrgState, OuPath};
    use crate::plan::{make_plan, PlanError, PlanOptions};

    fn small() -> crate::config::Desired {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/detective/small.yaml");
        crate::config::load(&path).expect("small.yaml is valid")
    }

    /// The file's organization as it exists, plus `extra` accounts in a dev OU.
    fn observed(desired: &crate::config::Desired, extra: usize) -> Observed {
        let mut org: OrgState = desired.state.clone();
        org.root_id = Some("r-abcd".into());
        org.organization_id = Some("o-abcdefghij".into());
        org.management_account_id = Some("123456789012".into());
        for (i, ou) in org.ous.values_mut().enumerate() {
            ou.id = Some(format!("ou-abcd-{i:08}"));
        }
        for (i, account) in org.accounts.values_mut().enumerate() {
            account.id = Some(format!("{:012}", 100 + i));
        }
        for i in 0..extra {
            org.accounts.insert(
                format!("extra-{i}"),
                Account {
                    id: Some(format!("{:012}", 10_000 + i)),
                    email: format!("extra-{i}@example.com"),
                    ou: OuPath::parse("Companies/Alpha/dev").unwrap(),
                    tags: Default::default(),
                },
            );
        }
        let mut observed = Observed::from(org);
        observed.detective.checked = true;
        observed
    }

    #[test]
    fn production_rules_exclude_every_non_production_account_and_say_so() {
        let desired = small();
        let plan = make_plan(&desired, &observed(&desired, 3), &PlanOptions::default()).unwrap();
        let rule = plan
            .changes
            .iter()
            .find(|c| c.address.to_string() == "config-rule:rds-multi-az-support@ap-northeast-3")
            .expect("the production rule is planned");
        let excluded = rule.after.as_ref().unwrap()["excluded_accounts"].as_array().unwrap();
        let names: Vec<&str> = excluded.iter().filter_map(|v| v.as_str()).collect();
        // alpha-dev, audit and the three extra dev accounts; no prod account.
        assert_eq!(names, ["alpha-dev", "audit", "extra-0", "extra-1", "extra-2"]);
        assert_eq!(rule.after.as_ref().unwrap()["severity"], "medium");
        let all = plan
            .changes
            .iter()
            .find(|c| c.address.to_string() == "config-rule:s3-bucket-public-read-prohibited@ap-northeast-1")
            .unwrap();
        assert_eq!(all.after.as_ref().unwrap()["excluded_accounts"], serde_json::json!([]));
        // The rule waits for the delegated administrator, which waits for trusted access.
        assert!(rule.depends_on.iter().any(|a| a.to_string() == "delegated-admin:config-multiaccountsetup.amazonaws.com"));
    }

    #[test]
    fn more_than_1000_exclusions_are_refused() {
        let desired = small();
        match make_plan(&desired, &observed(&desired, 1000), &PlanOptions::default()) {
            Err(PlanError::Diff(DiffError::Refused(reasons))) => {
                assert!(reasons.iter().any(|r| r.contains("1002 non-production accounts") && r.contains("at most 1000")), "{reasons:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
