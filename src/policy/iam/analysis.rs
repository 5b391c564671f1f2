//! Higher-level reading of policies: region restrictions and what each Deny statement
//! covers, for `scp lint` (region checks) and `scp effective` (readable summaries).

use super::condition::{BaseOperator, Tri};
use super::context::{Context, MissingKeys, Request};
use super::document::{Effect, PolicyDocument, Statement};
use super::error::{Finding, Location};
use super::evaluate::{evaluate, statement_applies, Hierarchy, Verdict};
use super::matching::action_matches;

/// The Control Tower execution role every region restriction must exempt.
pub const CONTROL_TOWER_EXECUTION_ROLE: &str = "AWSControlTowerExecution";

/// A Deny statement that restricts regions with `aws:RequestedRegion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionRestriction<'a> {
    /// The statement.
    pub statement: &'a Statement,
    /// The operator name as written (e.g. `StringNotEquals`).
    pub operator: String,
    /// Regions (or region patterns) outside of which the statement denies.
    pub allowed_regions: Vec<String>,
}

fn is_principal_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("aws:PrincipalArn")
}

/// Keys about the caller, which a region restriction may use besides `aws:RequestedRegion`
/// to exempt (or select) principals.
fn is_principal_scope_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "aws:principalarn" | "aws:principalaccount" | "aws:principaltype" | "aws:userid"
    ) || k.starts_with("aws:principaltag/")
        || k == "aws:principalisawsservice"
        || k == "aws:principalservicename"
}

/// Is this region-conditioned Deny a region restriction in the Control Tower sense: it
/// denies broadly (`NotAction`, or an `Action` with a wildcard) and its conditions are the
/// region alone (plus exemptions of principals)? A data-perimeter statement that also
/// requires `aws:SourceVpc`, or a Deny of a few named regional actions, is not.
pub fn is_region_restriction(st: &Statement) -> bool {
    let broad = st.action.not
        || st.action.values.iter().any(|a| {
            a == "*"
                || a.split_once(':')
                    .is_some_and(|(_, n)| n.contains(['*', '?']))
        });
    let region_alone = st.conditions.iter().all(|c| {
        c.key.eq_ignore_ascii_case("aws:RequestedRegion") || is_principal_scope_key(&c.key)
    });
    broad && region_alone
}

/// Find the region restrictions of a document: Deny statements with a
/// `StringNotEquals`/`StringNotLike` (optionally `IfExists`) on `aws:RequestedRegion`.
pub fn region_restrictions(doc: &PolicyDocument) -> Vec<RegionRestriction<'_>> {
    let mut out = Vec::new();
    for st in &doc.statements {
        if st.effect != Effect::Deny {
            continue;
        }
        for c in &st.conditions {
            let op = c.operator;
            if op.qualifier.is_none()
                && matches!(
                    op.base,
                    BaseOperator::StringNotEquals | BaseOperator::StringNotLike
                )
                && c.key.eq_ignore_ascii_case("aws:RequestedRegion")
            {
                out.push(RegionRestriction {
                    statement: st,
                    operator: c.operator_name.clone(),
                    allowed_regions: c.values.clone(),
                });
            }
        }
    }
    out
}

/// What [`check_region_restrictions`] checks a region restriction against.
#[derive(Debug, Clone, Default)]
pub struct RegionChecks<'a> {
    /// The landing zone's governed regions: allowed regions must be among them.
    pub governed: &'a [String],
    /// Global-service action patterns every region restriction's `NotAction` must cover
    /// (normally `scp/data/global-service-actions.json`).
    pub global_actions: &'a [String],
    /// Principal ARNs the restriction must exempt; with `control_tower`, the Control Tower
    /// execution role is checked too (as
    /// `arn:aws:iam::123456789012:role/AWSControlTowerExecution`).
    pub exempt_principals: &'a [String],
    /// Control Tower is (or may be) present: its execution role must stay exempt.
    pub control_tower: bool,
}

/// Lint region restrictions: `region-not-governed` (warning: an allowed region outside the
/// governed ones), `region-global-actions` (only for a real region restriction, see
/// [`is_region_restriction`]: error when its `NotAction` does not exempt a global-service
/// action, warning when its wildcard `Action` covers global-service actions),
/// `region-exemption` (error: a principal that must be exempt, e.g. the Control Tower
/// execution role when Control Tower is present, is denied).
pub fn check_region_restrictions(doc: &PolicyDocument, checks: &RegionChecks<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for rr in region_restrictions(doc) {
        let st = rr.statement;
        let i = st.index;
        let cond_loc = Location::statement(i, "Condition")
            .child(&rr.operator)
            .child("aws:RequestedRegion");
        if !checks.governed.is_empty() {
            for r in &rr.allowed_regions {
                if !checks.governed.iter().any(|g| g == r) {
                    out.push(Finding::warning(
                        "region-not-governed",
                        cond_loc.clone(),
                        format!(
                            "allowed region {r} is not a governed region ({})",
                            checks.governed.join(", ")
                        ),
                    ));
                }
            }
        }
        if !is_region_restriction(st) || checks.global_actions.is_empty() {
            // not a region restriction of everything: global services are not its concern
        } else if !st.action.not {
            let covered: Vec<&str> = checks
                .global_actions
                .iter()
                .filter(|g| st.action.values.iter().any(|p| action_matches(p, g)))
                .map(String::as_str)
                .collect();
            if !covered.is_empty() {
                let shown: Vec<&str> = covered.iter().take(5).copied().collect();
                out.push(Finding::warning(
                    "region-global-actions",
                    Location::statement(i, "Action"),
                    format!(
                        "region restriction denies global-service actions ({}{}) outside the allowed regions; exempt global services with NotAction instead",
                        shown.join(", "),
                        if covered.len() > shown.len() {
                            format!(" and {} more", covered.len() - shown.len())
                        } else {
                            String::new()
                        }
                    ),
                ));
            }
        } else {
            let missing: Vec<&str> = checks
                .global_actions
                .iter()
                .filter(|g| !st.action.values.iter().any(|p| action_matches(p, g)))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                out.push(Finding::error(
                    "region-global-actions",
                    Location::statement(i, "NotAction"),
                    format!(
                        "NotAction does not exempt global-service actions {}: calls to them are denied outside the allowed regions",
                        missing.join(", ")
                    ),
                ));
            }
        }
        let outside = "zz-nowhere-1";
        let mut principals: Vec<String> = Vec::new();
        if checks.control_tower {
            principals.push(format!(
                "arn:aws:iam::123456789012:role/{CONTROL_TOWER_EXECUTION_ROLE}"
            ));
        }
        principals.extend(checks.exempt_principals.iter().cloned());
        for p in principals {
            let req = Request {
                account: "123456789012".into(),
                principal_arn: p.clone(),
                action: "ec2:RunInstances".into(),
                resource: "*".into(),
                region: outside.into(),
                missing_keys: MissingKeys::Absent,
                ..Default::default()
            };
            if statement_applies(st, &req, &Context::of(&req)) == Tri::Yes {
                out.push(Finding::error(
                    "region-exemption",
                    Location::statement(i, "Condition"),
                    format!("{p} is not exempt: it would be denied outside the allowed regions"),
                ));
            }
        }
    }
    out
}

/// One (action, region) a protected principal could no longer perform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lockout {
    /// The action denied.
    pub action: String,
    /// The region of the request.
    pub region: String,
    /// The denying verdict (policy, statement and level, or the level without an Allow).
    pub verdict: Verdict,
}

/// For the lockout guard: decide every `(action, region)` pair for `principal_arn` in
/// `account` against `h` (complete context, no specific resource) and return the denied
/// ones. Extra context keys (e.g. `aws:PrincipalTag/...`) can be given in `context`.
pub fn lockouts(
    h: &Hierarchy,
    account: &str,
    principal_arn: &str,
    pairs: &[(&str, &str)],
    context: &std::collections::BTreeMap<String, super::context::ContextValue>,
) -> Vec<Lockout> {
    let mut out = Vec::new();
    for (action, region) in pairs {
        let req = Request {
            account: account.to_string(),
            principal_arn: principal_arn.to_string(),
            action: action.to_string(),
            resource: "*".into(),
            region: region.to_string(),
            context: context.clone(),
            missing_keys: MissingKeys::Absent,
            absent_keys: Vec::new(),
        };
        let verdict = evaluate(h, &req).verdict;
        if verdict.is_denied() {
            out.push(Lockout {
                action: action.to_string(),
                region: region.to_string(),
                verdict,
            });
        }
    }
    out
}

/// A readable account of one Deny statement, for `scp effective`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DenySummary {
    /// Statement index.
    pub index: usize,
    /// Sid, if any.
    pub sid: Option<String>,
    /// Actions denied, or (when `all_actions_except`) the actions exempted.
    pub actions: Vec<String>,
    /// True for `NotAction`: every action except `actions` is denied.
    pub all_actions_except: bool,
    /// Regions outside of which the statement denies (empty: everywhere).
    pub allowed_regions: Vec<String>,
    /// Principal patterns exempted through `ArnNotLike`/`StringNotLike`/`...NotEquals` on
    /// `aws:PrincipalArn`.
    pub exempt_principals: Vec<String>,
    /// Other conditions, as `Operator key [values]`.
    pub other_conditions: Vec<String>,
}

/// Summarise the Deny statements of a document.
pub fn deny_summaries(doc: &PolicyDocument) -> Vec<DenySummary> {
    doc.statements
        .iter()
        .filter(|s| s.effect == Effect::Deny)
        .map(|st| {
            let mut sum = DenySummary {
                index: st.index,
                sid: st.sid.clone(),
                actions: st.action.values.clone(),
                all_actions_except: st.action.not,
                allowed_regions: Vec::new(),
                exempt_principals: Vec::new(),
                other_conditions: Vec::new(),
            };
            for c in &st.conditions {
                let op = c.operator;
                if op.qualifier.is_none()
                    && op.base.is_negated()
                    && c.key.eq_ignore_ascii_case("aws:RequestedRegion")
                {
                    sum.allowed_regions.extend(c.values.iter().cloned());
                } else if op.qualifier.is_none() && op.base.is_negated() && is_principal_key(&c.key)
                {
                    sum.exempt_principals.extend(c.values.iter().cloned());
                } else {
                    sum.other_conditions
                        .push(format!("{} {} {:?}", c.operator_name, c.key, c.values));
                }
            }
            sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(not_action: &str, principals: &str) -> PolicyDocument {
        PolicyDocument::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"R","Effect":"Deny","NotAction":{not_action},"Resource":"*",
            "Condition":{{"StringNotEquals":{{"aws:RequestedRegion":["ap-northeast-1","eu-west-1"]}},
            "ArnNotLike":{{"aws:PrincipalARN":{principals}}}}}}}]}}"#
        ))
        .unwrap()
    }

    fn rules(f: &[Finding]) -> Vec<(String, &'static str)> {
        f.iter().map(|x| (x.location.to_string(), x.rule)).collect()
    }

    #[test]
    fn finds_and_checks_region_restrictions() {
        let governed = vec!["ap-northeast-1".to_string(), "ap-northeast-3".to_string()];
        let globals: Vec<String> = ["iam:*", "sts:*", "s3:GetBucketLocation"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let good = doc(
            r#"["iam:*","sts:*","s3:Get*"]"#,
            r#"["arn:*:iam::*:role/AWSControlTowerExecution","arn:*:iam::*:role/BreakGlass"]"#,
        );
        assert_eq!(region_restrictions(&good).len(), 1);
        assert_eq!(
            region_restrictions(&good)[0].allowed_regions,
            ["ap-northeast-1", "eu-west-1"]
        );
        let exempt = vec!["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        let checks = RegionChecks {
            governed: &governed,
            global_actions: &globals,
            exempt_principals: &exempt,
            control_tower: true,
        };
        assert_eq!(
            rules(&check_region_restrictions(&good, &checks)),
            [(
                "Statement[0].Condition.StringNotEquals.aws:RequestedRegion".to_string(),
                "region-not-governed"
            )]
        );
        // forgetting sts:* and the Control Tower execution role
        let bad = doc(
            r#"["iam:*","s3:Get*"]"#,
            r#"["arn:*:iam::*:role/BreakGlass"]"#,
        );
        let f = check_region_restrictions(&bad, &checks);
        let r = rules(&f);
        assert!(
            r.contains(&(
                "Statement[0].NotAction".to_string(),
                "region-global-actions"
            )),
            "{r:?}"
        );
        assert!(
            r.contains(&("Statement[0].Condition".to_string(), "region-exemption")),
            "{r:?}"
        );
        assert!(f.iter().any(|x| x.message.contains("sts:*")));
        assert!(f
            .iter()
            .any(|x| x.message.contains("AWSControlTowerExecution")));
    }

    #[test]
    fn summaries() {
        let d = doc(
            r#"["iam:*"]"#,
            r#"["arn:*:iam::*:role/AWSControlTowerExecution"]"#,
        );
        let s = &deny_summaries(&d)[0];
        assert!(s.all_actions_except);
        assert_eq!(s.allowed_regions, ["ap-northeast-1", "eu-west-1"]);
        assert_eq!(
            s.exempt_principals,
            ["arn:*:iam::*:role/AWSControlTowerExecution"]
        );
        assert!(s.other_conditions.is_empty());
        assert_eq!(s.sid.as_deref(), Some("R"));
    }
}
