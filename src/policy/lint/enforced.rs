//! What AWS itself refuses, for `validate` and `plan`: of everything `scp lint` checks, the
//! problems AWS Organizations rejects a policy for (`MalformedPolicyDocumentException` on
//! CreatePolicy/UpdatePolicy, `ConstraintViolationException` for the size) are errors; the
//! rest (unknown names, region-restriction advice, style) stays warnings, as AWS accepts
//! those policies.
//!
//! ```ignore
//! let check = check_for_aws(PolicyKind::Scp, &rendered, limits.scp_max_size);
//! for e in &check.errors {
//!     // e.message, e.hint, e.pointer ("/Statement/0/Principal"), e.location ("Statement[0].Principal")
//! }
//! ```

use super::super::iam::{Location, PolicyKind, Severity};
use super::{json_pointer, lint_policy, locate, IamData, LintContext, LintFinding, LintInput};

/// Rules whose findings AWS enforces: a policy with one of them is refused by
/// CreatePolicy/UpdatePolicy. Every other rule of [`RULES`](super::RULES) is advice.
pub const AWS_ENFORCED_RULES: &[&str] = &[
    "json-syntax",
    "element-type",
    "unknown-element",
    "statement-missing",
    "effect-invalid",
    "action-missing",
    "action-conflict",
    "resource-conflict",
    "principal-conflict",
    "principal-type",
    "action-syntax",
    "empty-value",
    "condition-operator-unknown",
    "version-invalid",
    "resource-missing",
    "scp-principal",
    "rcp-not-deny",
    "rcp-principal",
    "rcp-not-action",
    "rcp-bare-star-action",
    "size-limit",
];

/// A problem AWS rejects the policy for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnforcedProblem {
    /// The lint rule id (see [`AWS_ENFORCED_RULES`]).
    pub rule: &'static str,
    /// What is wrong, e.g. "SCPs do not support Principal".
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// Where in the document: `Statement[0].Principal`, `(document)`, or a line and column
    /// for JSON syntax errors.
    pub location: Location,
    /// The same place as a JSON pointer into the document (`/Statement/0/Principal`, `""`
    /// for the whole document); `None` when the text is not JSON.
    pub pointer: Option<String>,
    /// 1-based line and column of the element in the text given, when it could be found.
    pub line_col: Option<(usize, usize)>,
}

/// The result of [`check_for_aws`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsCheck {
    /// Problems AWS enforces: the policy would be refused. `validate` reports them as errors.
    pub errors: Vec<EnforcedProblem>,
    /// Everything else `scp lint` finds, all with warning severity (AWS accepts the policy).
    pub warnings: Vec<LintFinding>,
}

fn hint(rule: &str, kind: PolicyKind) -> String {
    match rule {
        "json-syntax" => "fix the JSON of the rendered document (check the template and its parameters)".into(),
        "size-limit" => format!(
            "AWS counts every character of the minified document; split the policy or shorten it (limit: settings.limits.{}_max_size)",
            if kind == PolicyKind::Scp { "scp" } else { "rcp" }
        ),
        "scp-principal" => "remove Principal/NotPrincipal: an SCP applies to every principal of the accounts it is attached to; exempt principals with a condition on aws:PrincipalArn".into(),
        "rcp-not-deny" => "RCPs may only deny: write the statement as a Deny with conditions".into(),
        "rcp-principal" => "give every RCP statement \"Principal\": \"*\" and narrow it with conditions".into(),
        "rcp-not-action" => "list the denied actions in Action".into(),
        "rcp-bare-star-action" => "name the services' actions (e.g. \"s3:*\") instead of \"*\"".into(),
        "version-invalid" => "use \"Version\": \"2012-10-17\"".into(),
        "condition-operator-unknown" => "use an IAM condition operator such as StringEquals, ArnLike or Null".into(),
        "resource-missing" => "add \"Resource\": \"*\" (or the resources the statement is about)".into(),
        "action-syntax" => "write actions as service:Action, e.g. s3:GetObject".into(),
        _ => "fix the policy document: AWS Organizations rejects it as malformed".into(),
    }
}

/// Check a rendered policy document as AWS will when it is created or updated: the
/// grammar of `kind` and the minified size against `size_limit` (characters; 0 = the
/// type's current default). Returns the problems AWS enforces (each with a message, a hint
/// and its place in the document) and, separately, the other findings of `scp lint` as
/// warnings (names checked against the IAM dataset shipped with lzctl).
pub fn check_for_aws(kind: PolicyKind, text: &str, size_limit: usize) -> AwsCheck {
    let mut ctx = LintContext::new(IamData::built_in());
    ctx.max_size = size_limit;
    ctx.max_rcp_size = size_limit;
    let input = LintInput {
        name: String::new(),
        kind,
        text: text.to_string(),
        source: None,
    };
    let mut out = AwsCheck::default();
    for f in lint_policy(&input, &ctx) {
        if AWS_ENFORCED_RULES.contains(&f.rule) && f.severity == Severity::Error {
            out.errors.push(EnforcedProblem {
                rule: f.rule,
                hint: hint(f.rule, kind),
                pointer: json_pointer(text, &f.location),
                line_col: locate(text, &f.location),
                message: f.message,
                location: f.location,
            });
        } else {
            out.warnings.push(LintFinding {
                severity: Severity::Warning,
                ..f
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::RULES;
    use super::*;

    fn rules(c: &AwsCheck) -> (Vec<(&str, Option<&str>)>, Vec<&str>) {
        (
            c.errors
                .iter()
                .map(|e| (e.rule, e.pointer.as_deref()))
                .collect(),
            c.warnings.iter().map(|w| w.rule).collect(),
        )
    }

    #[test]
    fn scp_with_principal_is_an_error_unknown_action_a_warning() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":["s3:GetObjekt"],"Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        let c = check_for_aws(PolicyKind::Scp, text, 0);
        assert_eq!(
            rules(&c),
            (
                vec![("scp-principal", Some("/Statement/1/Principal"))],
                vec!["unknown-action"]
            )
        );
        let e = &c.errors[0];
        assert!(e.hint.contains("aws:PrincipalArn"), "{}", e.hint);
        assert_eq!(e.location.to_string(), "Statement[1].Principal");
        assert_eq!(c.warnings[0].severity, Severity::Warning);
    }

    #[test]
    fn rcps_must_deny_with_principal_star() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"*"}]}"#;
        let c = check_for_aws(PolicyKind::Rcp, text, 0);
        let (errors, _) = rules(&c);
        assert!(
            errors.contains(&("rcp-not-deny", Some("/Statement/0/Effect"))),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|(r, _)| *r == "rcp-principal"),
            "{errors:?}"
        );
    }

    #[test]
    fn size_is_checked_on_the_minified_document() {
        let pretty = "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\"Effect\": \"Deny\", \"Action\": \"s3:DeleteBucket\", \"Resource\": \"*\"}\n    ]\n}\n";
        let minified_len =
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(pretty).unwrap())
                .unwrap()
                .len();
        assert!(pretty.len() > minified_len + 20);
        let fits = check_for_aws(PolicyKind::Scp, pretty, minified_len);
        assert!(fits.errors.is_empty(), "{:?}", fits.errors);
        let over = check_for_aws(PolicyKind::Scp, pretty, minified_len - 1);
        assert_eq!(rules(&over).0, [("size-limit", Some(""))]);
        assert!(
            over.errors[0].message.contains("over the SCP limit"),
            "{}",
            over.errors[0].message
        );
    }

    #[test]
    fn json_errors_carry_a_line_and_column() {
        let c = check_for_aws(
            PolicyKind::Scp,
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n",
            0,
        );
        assert_eq!(c.errors.len(), 1, "{c:?}");
        assert_eq!(c.errors[0].rule, "json-syntax");
        assert!(c.errors[0].line_col.is_some());
        assert_eq!(c.errors[0].pointer, None);
    }

    #[test]
    fn clean_library_style_policies_have_neither() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyLeave","Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#;
        assert_eq!(check_for_aws(PolicyKind::Scp, text, 0), AwsCheck::default());
    }

    #[test]
    fn every_enforced_rule_is_a_catalogued_error_rule() {
        for id in AWS_ENFORCED_RULES {
            let r = RULES
                .iter()
                .find(|r| r.id == *id)
                .unwrap_or_else(|| panic!("{id}"));
            assert_eq!(r.severity, Severity::Error, "{id}");
        }
    }
}
