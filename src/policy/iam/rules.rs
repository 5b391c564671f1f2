//! Grammar rules per policy type (SCP, RCP), reported as [`Finding`]s with stable rule ids.
//!
//! | rule id | severity | what |
//! |---|---|---|
//! | `json-syntax`, `element-type`, `unknown-element`, `statement-missing`, `effect-invalid`, `action-missing`, `action-conflict`, `resource-conflict`, `principal-conflict`, `principal-type`, `action-syntax`, `empty-value`, `condition-operator-unknown` | error | structural (from the parser) |
//! | `version-missing` | warning | no `Version` (policy variables are not expanded) |
//! | `version-invalid` | error | `Version` other than `2012-10-17`/`2008-10-17` |
//! | `version-old` | warning | `2008-10-17` |
//! | `resource-missing` | error | neither `Resource` nor `NotResource` |
//! | `duplicate-sid` | warning | two statements with the same `Sid` |
//! | `sid-syntax` | warning | `Sid` with characters other than ASCII letters and digits |
//! | `condition-value-invalid` | warning | value that cannot be a number/date/CIDR/boolean for its operator |
//! | `scp-principal` | error | `Principal`/`NotPrincipal` in an SCP |
//! | `scp-allow-not-action` | warning | `Allow` with `NotAction` in an SCP |
//! | `rcp-not-deny` | error | `Allow` statement in an RCP |
//! | `rcp-principal` | error | RCP statement without `Principal: "*"` (or with `NotPrincipal`) |
//! | `rcp-not-action` | error | `NotAction` in an RCP |
//! | `rcp-bare-star-action` | error | `Action: "*"` in an RCP |

use std::collections::HashMap;

use super::condition::invalid_values;
use super::document::{parse_lenient, parse_value, Effect, PolicyDocument, PrincipalValue};
use super::error::{Finding, Location};

/// Which organization policy type a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Service control policy.
    Scp,
    /// Resource control policy.
    Rcp,
}

impl PolicyKind {
    /// Default maximum minified size in characters (SCP 10,240 since 2026-05-15; RCP 5,120).
    /// Keep this a default: the caller's configuration may override it.
    pub fn default_size_limit(self) -> usize {
        match self {
            PolicyKind::Scp => 10_240,
            PolicyKind::Rcp => 5_120,
        }
    }

    /// The Organizations API policy type name.
    pub fn api_name(self) -> &'static str {
        match self {
            PolicyKind::Scp => "SERVICE_CONTROL_POLICY",
            PolicyKind::Rcp => "RESOURCE_CONTROL_POLICY",
        }
    }
}

/// Parse `text` and apply all grammar rules for `kind`; returns every finding (parser errors
/// included), in document order. An empty result means the policy is clean.
pub fn lint(text: &str, kind: PolicyKind) -> Vec<Finding> {
    let (doc, mut findings) = parse_lenient(text);
    if let Some(doc) = doc {
        findings.extend(check(&doc, kind));
    }
    sort(findings)
}

/// Like [`lint`] for an already-decoded JSON value.
pub fn lint_value(value: serde_json::Value, kind: PolicyKind) -> Vec<Finding> {
    let (doc, mut findings) = parse_value(value);
    if let Some(doc) = doc {
        findings.extend(check(&doc, kind));
    }
    sort(findings)
}

fn sort(mut f: Vec<Finding>) -> Vec<Finding> {
    f.sort_by_key(|x| {
        (
            x.location.statement.map_or(0, |s| s + 1),
            x.location.element.clone(),
        )
    });
    f
}

/// The per-type rules on a parsed document (statements that failed to parse are skipped;
/// their errors come from the parser).
pub fn check(doc: &PolicyDocument, kind: PolicyKind) -> Vec<Finding> {
    let mut out = Vec::new();
    match doc.version.as_deref() {
        None => out.push(Finding::warning(
            "version-missing",
            Location::top("Version"),
            "no Version: add \"Version\": \"2012-10-17\" (policy variables need it)",
        )),
        Some("2012-10-17") => {}
        Some("2008-10-17") => out.push(Finding::warning(
            "version-old",
            Location::top("Version"),
            "Version 2008-10-17 does not support policy variables; use 2012-10-17",
        )),
        Some(v) => out.push(Finding::error(
            "version-invalid",
            Location::top("Version"),
            format!("Version must be 2012-10-17, found {v:?}"),
        )),
    }
    let mut sids: HashMap<&str, usize> = HashMap::new();
    for st in &doc.statements {
        let i = st.index;
        if let Some(sid) = &st.sid {
            if let Some(first) = sids.insert(sid.as_str(), i) {
                out.push(Finding::warning(
                    "duplicate-sid",
                    Location::statement(i, "Sid"),
                    format!("Sid {sid:?} already used by Statement[{first}]"),
                ));
            }
            if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push(Finding::warning(
                    "sid-syntax",
                    Location::statement(i, "Sid"),
                    "Sid should contain only ASCII letters and digits",
                ));
            }
        }
        if st.resource.is_none() {
            out.push(Finding::error(
                "resource-missing",
                Location::statement(i, ""),
                "statement has neither Resource nor NotResource",
            ));
        }
        for c in &st.conditions {
            for msg in invalid_values(c) {
                out.push(Finding::warning(
                    "condition-value-invalid",
                    Location::statement(i, "Condition")
                        .child(&c.operator_name)
                        .child(&c.key),
                    msg,
                ));
            }
        }
        let pel = |p: &super::document::Principal| if p.not { "NotPrincipal" } else { "Principal" };
        match kind {
            PolicyKind::Scp => {
                if let Some(p) = &st.principal {
                    out.push(Finding::error(
                        "scp-principal",
                        Location::statement(i, pel(p)),
                        format!("SCPs do not support {}", pel(p)),
                    ));
                }
                if st.effect == Effect::Allow && st.action.not {
                    out.push(Finding::warning(
                        "scp-allow-not-action",
                        Location::statement(i, "NotAction"),
                        "Allow with NotAction allows every action not listed, including future ones",
                    ));
                }
            }
            PolicyKind::Rcp => {
                if st.effect != Effect::Deny {
                    out.push(Finding::error(
                        "rcp-not-deny",
                        Location::statement(i, "Effect"),
                        "RCPs may only contain Deny statements (RCPFullAWSAccess is managed by AWS)",
                    ));
                }
                match &st.principal {
                    Some(p) if p.not => out.push(Finding::error(
                        "rcp-principal",
                        Location::statement(i, "NotPrincipal"),
                        "RCPs do not support NotPrincipal; use Principal \"*\" with conditions",
                    )),
                    Some(p) if p.value == PrincipalValue::Any => {}
                    Some(_) => out.push(Finding::error(
                        "rcp-principal",
                        Location::statement(i, "Principal"),
                        "RCP Principal must be \"*\"; restrict principals with conditions",
                    )),
                    None => out.push(Finding::error(
                        "rcp-principal",
                        Location::statement(i, ""),
                        "RCP statements need \"Principal\": \"*\"",
                    )),
                }
                if st.action.not {
                    out.push(Finding::error(
                        "rcp-not-action",
                        Location::statement(i, "NotAction"),
                        "RCPs do not support NotAction",
                    ));
                } else if st.action.values.iter().any(|a| a == "*") {
                    out.push(Finding::error(
                        "rcp-bare-star-action",
                        Location::statement(i, "Action"),
                        "RCPs do not allow the bare \"*\" action; name service actions such as s3:*",
                    ));
                }
            }
        }
    }
    out
}
