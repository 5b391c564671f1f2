//! Checks of a parsed policy against the IAM dataset: unknown service prefixes, unknown
//! actions, unknown condition keys, RCP actions of services RCPs do not cover.

use serde_json::Value;

use super::super::iam::{
    BaseOperator, Effect, Finding, Location, PolicyDocument, PolicyKind, SetQualifier,
};
use super::data::{ActionStatus, IamData};

/// The raw JSON of statement `index` (the `Statement` element may be one object).
fn raw_statement(raw: &Value, index: usize) -> Option<&Value> {
    match raw.get("Statement")? {
        Value::Array(items) => items.get(index),
        v @ Value::Object(_) if index == 0 => Some(v),
        _ => None,
    }
}

/// `Action[2]` when the element is a list, `Action` when it is a single string.
fn element_location(raw: Option<&Value>, statement: usize, element: &str, pos: usize) -> Location {
    let is_list = raw
        .and_then(|s| s.get(element))
        .is_some_and(Value::is_array);
    if is_list {
        Location::statement(statement, &format!("{element}[{pos}]"))
    } else {
        Location::statement(statement, element)
    }
}

/// Dataset checks on every statement of `doc`.
pub(super) fn dataset_findings(
    doc: &PolicyDocument,
    kind: PolicyKind,
    iam: &IamData,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let source = iam.source();
    for st in &doc.statements {
        let raw = raw_statement(&doc.raw, st.index);
        let element = if st.action.not { "NotAction" } else { "Action" };
        for (pos, action) in st.action.values.iter().enumerate() {
            let loc = || element_location(raw, st.index, element, pos);
            match iam.action_status(action) {
                ActionStatus::Known | ActionStatus::Malformed => {}
                ActionStatus::UnknownService => {
                    let prefix = action.split(':').next().unwrap_or_default();
                    let hint = iam
                        .suggest_service(prefix)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    out.push(Finding::error(
                        "unknown-service",
                        loc(),
                        format!(
                            "`{action}`: no AWS service has the prefix `{prefix}`{hint} (IAM data {source})"
                        ),
                    ));
                }
                ActionStatus::UnknownAction { suggestion } => {
                    let prefix = action.split(':').next().unwrap_or_default();
                    let hint = suggestion
                        .map(|s| format!(" (did you mean `{prefix}:{s}`?)"))
                        .unwrap_or_default();
                    let what = if action.contains(['*', '?']) {
                        "matches no action of"
                    } else {
                        "is not an action of"
                    };
                    out.push(Finding::error(
                        "unknown-action",
                        loc(),
                        format!("`{action}` {what} service `{prefix}`{hint} (IAM data {source})"),
                    ));
                }
            }
            if kind == PolicyKind::Rcp && !st.action.not && st.effect == Effect::Deny {
                if let Some((prefix, _)) = action.split_once(':') {
                    if iam.has_service(prefix) && iam.rcp_supports(prefix) == Some(false) {
                        out.push(Finding::warning(
                            "rcp-unsupported-service",
                            loc(),
                            format!(
                                "`{action}`: resource control policies do not apply to `{prefix}` resources, so this has no effect"
                            ),
                        ));
                    }
                }
            }
        }
        for c in &st.conditions {
            if !iam.is_known_condition_key(&c.key) {
                let hint = iam
                    .suggest_condition_key(&c.key)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                let op = c.operator;
                let effect = if op.base == BaseOperator::Null {
                    "a request never carries it"
                } else if op.if_exists
                    || op.qualifier == Some(SetQualifier::ForAllValues)
                    || (op.base.is_negated() && op.qualifier.is_none())
                {
                    "a request never carries it, so this condition always holds"
                } else {
                    "a request never carries it, so this condition never holds"
                };
                out.push(Finding::error(
                    "unknown-condition-key",
                    Location::statement(st.index, "Condition")
                        .child(&c.operator_name)
                        .child(&c.key),
                    format!(
                        "unknown condition key `{}`{hint}: {effect} (IAM data {source})",
                        c.key
                    ),
                ));
            }
        }
    }
    out
}
