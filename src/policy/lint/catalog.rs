//! Every rule id `scp lint` can report, with its usual severity and a one-line description
//! (for SARIF `tool.driver.rules` and for documentation). Rule ids are stable: tools that
//! filter or suppress findings key on them.

use super::super::iam::Severity;

/// One lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// Stable id, e.g. `unknown-action`.
    pub id: &'static str,
    /// The severity its findings normally have (a few rules report both).
    pub severity: Severity,
    /// One-line description.
    pub description: &'static str,
}

const fn rule(id: &'static str, severity: Severity, description: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        description,
    }
}

use Severity::{Error as E, Warning as W};

/// All rules, grammar rules of the `iam` module first, then the rules of this module.
pub const RULES: &[RuleInfo] = &[
    rule("json-syntax", E, "The policy is not valid JSON."),
    rule("element-type", E, "A policy element has the wrong JSON type."),
    rule("unknown-element", E, "An element IAM policies do not have."),
    rule("statement-missing", E, "The policy has no statements."),
    rule("effect-invalid", E, "Effect is neither Allow nor Deny."),
    rule("action-missing", E, "A statement has neither Action nor NotAction."),
    rule("action-conflict", E, "A statement has both Action and NotAction."),
    rule("resource-conflict", E, "A statement has both Resource and NotResource."),
    rule("principal-conflict", E, "A statement has both Principal and NotPrincipal."),
    rule("principal-type", E, "A Principal of an unsupported form."),
    rule("action-syntax", E, "An action is not of the form service:Action."),
    rule("empty-value", E, "An element or condition has an empty value."),
    rule("condition-operator-unknown", E, "A condition operator IAM does not know."),
    rule("version-missing", W, "No Version: policy variables are not expanded."),
    rule("version-invalid", E, "Version is not 2012-10-17."),
    rule("version-old", W, "Version 2008-10-17 does not support policy variables."),
    rule("resource-missing", E, "A statement has neither Resource nor NotResource."),
    rule("duplicate-sid", W, "Two statements share a Sid."),
    rule("sid-syntax", W, "A Sid with characters other than ASCII letters and digits."),
    rule("condition-value-invalid", W, "A condition value that cannot be valid for its operator."),
    rule("scp-principal", E, "SCPs do not support Principal or NotPrincipal."),
    rule("scp-allow-not-action", W, "Allow with NotAction allows every action not listed, future ones included."),
    rule("rcp-not-deny", E, "RCPs may only contain Deny statements."),
    rule("rcp-principal", E, "RCP statements need Principal \"*\"."),
    rule("rcp-not-action", E, "RCPs do not support NotAction."),
    rule("rcp-bare-star-action", E, "RCPs do not allow the bare \"*\" action."),
    rule("size-limit", E, "The minified policy is longer than the size limit of its type."),
    rule("unknown-service", E, "An action names a service prefix that no AWS service has."),
    rule("unknown-action", E, "An action (or action pattern) that the service does not have."),
    rule("unknown-condition-key", E, "A condition key that neither the global keys nor any service has."),
    rule("rcp-unsupported-service", W, "An RCP action of a service whose resources RCPs do not cover."),
    rule("region-not-governed", W, "A region restriction allows a region that is not governed."),
    rule("region-global-actions", E, "A region restriction (a broad Deny conditioned on the region alone) does not exempt the global-service actions."),
    rule("region-exemption", E, "A region restriction denies a principal that must stay exempt (e.g. AWSControlTowerExecution when Control Tower is present)."),
    rule("input-invalid", E, "A policy file that cannot be read or rendered (the other files are still linted)."),
];

/// The rule with this id, if it is in [`RULES`].
pub fn rule_info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}
