//! Policy document model and parser (IAM JSON grammar as used by SCPs and RCPs).
//!
//! The parser works on a `serde_json::Value`, checks every element and reports all
//! problems it finds with a [`Location`] such as `Statement[2].Condition.StringEquals`.

use serde_json::Value;

use super::condition::Operator;
use super::error::{Finding, Location, ParseError};

/// `Effect` of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: a list of patterns, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementList {
    /// True for the `Not...` form.
    pub not: bool,
    /// The patterns, in document order (a single string becomes a one-element list).
    pub values: Vec<String>,
}

/// The value of `Principal`/`NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalValue {
    /// `"*"` (or `{"AWS": "*"}`).
    Any,
    /// `{"AWS": [...], "Service": [...], ...}`: principal type to identifiers.
    Typed(Vec<(String, Vec<String>)>),
}

/// `Principal` or `NotPrincipal` of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// True for `NotPrincipal`.
    pub not: bool,
    /// The principals named.
    pub value: PrincipalValue,
}

/// One `operator -> key -> values` entry of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The parsed operator.
    pub operator: Operator,
    /// The operator exactly as written in the document.
    pub operator_name: String,
    /// The condition key as written (compare case-insensitively).
    pub key: String,
    /// Values, stringified (`true`, `42`), in document order; ORed.
    pub values: Vec<String>,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Position in the document's `Statement` list (0-based).
    pub index: usize,
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal`/`NotPrincipal`, if present.
    pub principal: Option<Principal>,
    /// `Action` or `NotAction`.
    pub action: ElementList,
    /// `Resource` or `NotResource`; `None` when absent (reported by the rules).
    pub resource: Option<ElementList>,
    /// Condition entries; all must hold (AND).
    pub conditions: Vec<Condition>,
}

/// A parsed policy document (SCP, RCP or any IAM-grammar policy).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    /// `Version`, if present.
    pub version: Option<String>,
    /// `Id`, if present.
    pub id: Option<String>,
    /// The statements that parsed without error (all of them when parsing succeeded).
    pub statements: Vec<Statement>,
    /// The document as JSON, exactly as given (key order kept).
    pub raw: Value,
}

impl PolicyDocument {
    /// Parse a policy from JSON text; fails with every structural error found.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let (doc, findings) = parse_lenient(text);
        let errors: Vec<Finding> = findings.into_iter().filter(|f| f.is_error()).collect();
        match doc {
            Some(doc) if errors.is_empty() => Ok(doc),
            _ => Err(ParseError { errors }),
        }
    }

    /// Parse a policy from an already-decoded JSON value.
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        let (doc, findings) = parse_value(value);
        let errors: Vec<Finding> = findings.into_iter().filter(|f| f.is_error()).collect();
        match doc {
            Some(doc) if errors.is_empty() => Ok(doc),
            _ => Err(ParseError { errors }),
        }
    }

    /// The document minified (no insignificant whitespace), as it should be uploaded.
    pub fn minified(&self) -> String {
        self.raw.to_string()
    }

    /// Number of characters of the minified document (what the size limits count).
    pub fn minified_len(&self) -> usize {
        self.minified().chars().count()
    }
}

/// Parse as much as possible: the document (statements with errors left out) and all findings.
///
/// Returns `None` for the document only when the text is not JSON or not a JSON object.
pub fn parse_lenient(text: &str) -> (Option<PolicyDocument>, Vec<Finding>) {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => parse_value(v),
        Err(e) => {
            let mut loc = Location::document();
            loc.line_col = Some((e.line(), e.column()));
            (
                None,
                vec![Finding::error(
                    "json-syntax",
                    loc,
                    format!("invalid JSON: {e}"),
                )],
            )
        }
    }
}

/// Like [`parse_lenient`] for an already-decoded JSON value.
pub fn parse_value(value: Value) -> (Option<PolicyDocument>, Vec<Finding>) {
    let mut out = Vec::new();
    let Some(obj) = value.as_object() else {
        out.push(Finding::error(
            "element-type",
            Location::document(),
            "policy must be a JSON object",
        ));
        return (None, out);
    };
    let mut version = None;
    let mut id = None;
    let mut statements = Vec::new();
    let mut saw_statement = false;
    for (k, v) in obj {
        match k.as_str() {
            "Version" => version = string_elem(v, &Location::top("Version"), &mut out),
            "Id" => id = string_elem(v, &Location::top("Id"), &mut out),
            "Statement" => {
                saw_statement = true;
                match v {
                    Value::Array(items) => {
                        if items.is_empty() {
                            out.push(Finding::error(
                                "statement-missing",
                                Location::top("Statement"),
                                "Statement is an empty list",
                            ));
                        }
                        for (i, s) in items.iter().enumerate() {
                            if let Some(st) = parse_statement(i, s, &mut out) {
                                statements.push(st);
                            }
                        }
                    }
                    Value::Object(_) => {
                        if let Some(st) = parse_statement(0, v, &mut out) {
                            statements.push(st);
                        }
                    }
                    _ => out.push(Finding::error(
                        "element-type",
                        Location::top("Statement"),
                        "Statement must be an object or a list of objects",
                    )),
                }
            }
            other => out.push(Finding::error(
                "unknown-element",
                Location::top(other),
                format!("unknown top-level element `{other}` (expected Version, Id, Statement)"),
            )),
        }
    }
    if !saw_statement {
        out.push(Finding::error(
            "statement-missing",
            Location::document(),
            "policy has no Statement",
        ));
    }
    let doc = PolicyDocument {
        version,
        id,
        statements,
        raw: value,
    };
    (Some(doc), out)
}

fn string_elem(v: &Value, loc: &Location, out: &mut Vec<Finding>) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            out.push(Finding::error(
                "element-type",
                loc.clone(),
                "must be a string",
            ));
            None
        }
    }
}

/// A string or a non-empty list of strings.
fn string_list(v: &Value, loc: &Location, out: &mut Vec<Finding>) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => {
            if items.is_empty() {
                out.push(Finding::error(
                    "empty-value",
                    loc.clone(),
                    "list must not be empty",
                ));
                return None;
            }
            let mut vals = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, it) in items.iter().enumerate() {
                match it {
                    Value::String(s) => vals.push(s.clone()),
                    _ => {
                        out.push(Finding::error(
                            "element-type",
                            loc.child(&format!("[{i}]")),
                            "list items must be strings",
                        ));
                        ok = false;
                    }
                }
            }
            ok.then_some(vals)
        }
        _ => {
            out.push(Finding::error(
                "element-type",
                loc.clone(),
                "must be a string or a list of strings",
            ));
            None
        }
    }
}

fn parse_statement(index: usize, v: &Value, out: &mut Vec<Finding>) -> Option<Statement> {
    let here = Location::statement(index, "");
    let Some(obj) = v.as_object() else {
        out.push(Finding::error(
            "element-type",
            here,
            "statement must be a JSON object",
        ));
        return None;
    };
    let before = out.iter().filter(|f| f.is_error()).count();
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<Principal> = None;
    let mut action: Option<ElementList> = None;
    let mut resource: Option<ElementList> = None;
    let mut conditions = Vec::new();
    for (k, val) in obj {
        let loc = Location::statement(index, k);
        match k.as_str() {
            "Sid" => sid = string_elem(val, &loc, out),
            "Effect" => match val.as_str() {
                Some("Allow") => effect = Some(Effect::Allow),
                Some("Deny") => effect = Some(Effect::Deny),
                _ => out.push(Finding::error(
                    "effect-invalid",
                    loc,
                    format!("Effect must be \"Allow\" or \"Deny\", found {val}"),
                )),
            },
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    out.push(Finding::error(
                        "principal-conflict",
                        loc.clone(),
                        "a statement may have Principal or NotPrincipal, not both",
                    ));
                }
                if let Some(p) = parse_principal(val, &loc, out) {
                    principal = Some(Principal {
                        not: k == "NotPrincipal",
                        value: p,
                    });
                }
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    out.push(Finding::error(
                        "action-conflict",
                        loc.clone(),
                        "a statement may have Action or NotAction, not both",
                    ));
                }
                if let Some(values) = string_list(val, &loc, out) {
                    for (i, a) in values.iter().enumerate() {
                        check_action_syntax(a, &loc, i, values.len(), out);
                    }
                    action = Some(ElementList {
                        not: k == "NotAction",
                        values,
                    });
                }
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    out.push(Finding::error(
                        "resource-conflict",
                        loc.clone(),
                        "a statement may have Resource or NotResource, not both",
                    ));
                }
                if let Some(values) = string_list(val, &loc, out) {
                    resource = Some(ElementList {
                        not: k == "NotResource",
                        values,
                    });
                }
            }
            "Condition" => conditions = parse_condition_block(val, &loc, out),
            other => out.push(Finding::error(
                "unknown-element",
                loc,
                format!("unknown statement element `{other}`"),
            )),
        }
    }
    if effect.is_none() && !obj.contains_key("Effect") {
        out.push(Finding::error(
            "effect-invalid",
            Location::statement(index, ""),
            "statement has no Effect",
        ));
    }
    if action.is_none() && !obj.contains_key("Action") && !obj.contains_key("NotAction") {
        out.push(Finding::error(
            "action-missing",
            Location::statement(index, ""),
            "statement has neither Action nor NotAction",
        ));
    }
    let after = out.iter().filter(|f| f.is_error()).count();
    if after > before {
        return None;
    }
    Some(Statement {
        index,
        sid,
        effect: effect?,
        principal,
        action: action?,
        resource,
        conditions,
    })
}

fn check_action_syntax(a: &str, loc: &Location, i: usize, n: usize, out: &mut Vec<Finding>) {
    if a == "*" {
        return;
    }
    let item = if n > 1 {
        loc.child(&format!("[{i}]"))
    } else {
        loc.clone()
    };
    let ok = match a.split_once(':') {
        Some((svc, name)) => {
            !svc.is_empty()
                && !name.is_empty()
                && svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '-' | '_' | '.'))
        }
        None => false,
    };
    if !ok {
        out.push(Finding::error(
            "action-syntax",
            item,
            format!(
                "`{a}` is not an action (expected `service:Action` with wildcards only in the action name, or `*`)"
            ),
        ));
    }
}

fn parse_principal(v: &Value, loc: &Location, out: &mut Vec<Finding>) -> Option<PrincipalValue> {
    match v {
        Value::String(s) if s == "*" => Some(PrincipalValue::Any),
        Value::Object(m) => {
            let mut typed = Vec::new();
            for (ty, ids) in m {
                let l = loc.child(ty);
                if !matches!(
                    ty.as_str(),
                    "AWS" | "Service" | "Federated" | "CanonicalUser"
                ) {
                    out.push(Finding::error(
                        "principal-type",
                        l.clone(),
                        format!("unknown principal type `{ty}` (expected AWS, Service, Federated, CanonicalUser)"),
                    ));
                }
                if let Some(list) = string_list(ids, &l, out) {
                    typed.push((ty.clone(), list));
                }
            }
            if typed.len() == 1 && typed[0].0 == "AWS" && typed[0].1 == ["*"] {
                return Some(PrincipalValue::Any);
            }
            Some(PrincipalValue::Typed(typed))
        }
        _ => {
            out.push(Finding::error(
                "element-type",
                loc.clone(),
                "must be \"*\" or an object such as {\"AWS\": [...]}",
            ));
            None
        }
    }
}

fn parse_condition_block(v: &Value, loc: &Location, out: &mut Vec<Finding>) -> Vec<Condition> {
    let Some(ops) = v.as_object() else {
        out.push(Finding::error(
            "element-type",
            loc.clone(),
            "Condition must be an object",
        ));
        return Vec::new();
    };
    let mut conds = Vec::new();
    for (op_name, keys) in ops {
        let l = loc.child(op_name);
        let Some(operator) = Operator::parse(op_name) else {
            out.push(Finding::error(
                "condition-operator-unknown",
                l,
                format!("unknown condition operator `{op_name}`"),
            ));
            continue;
        };
        let Some(keys) = keys.as_object() else {
            out.push(Finding::error(
                "element-type",
                l,
                "operator value must be an object of key -> values",
            ));
            continue;
        };
        if keys.is_empty() {
            out.push(Finding::error(
                "empty-value",
                l.clone(),
                "operator has no condition keys",
            ));
        }
        for (key, vals) in keys {
            let kl = l.child(key);
            if let Some(values) = condition_values(vals, &kl, out) {
                conds.push(Condition {
                    operator,
                    operator_name: op_name.clone(),
                    key: key.clone(),
                    values,
                });
            }
        }
    }
    conds
}

fn condition_values(v: &Value, loc: &Location, out: &mut Vec<Finding>) -> Option<Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match v {
        Value::Array(items) => {
            if items.is_empty() {
                out.push(Finding::error(
                    "empty-value",
                    loc.clone(),
                    "condition value list must not be empty",
                ));
                return None;
            }
            let vals: Option<Vec<String>> = items.iter().map(scalar).collect();
            if vals.is_none() {
                out.push(Finding::error(
                    "element-type",
                    loc.clone(),
                    "condition values must be strings, booleans or numbers",
                ));
            }
            vals
        }
        other => {
            let s = scalar(other);
            if s.is_none() {
                out.push(Finding::error(
                    "element-type",
                    loc.clone(),
                    "condition value must be a string, boolean, number or a list of them",
                ));
            }
            s.map(|s| vec![s])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(text: &str) -> Vec<(String, &'static str)> {
        parse_lenient(text)
            .1
            .into_iter()
            .map(|f| (f.location.to_string(), f.rule))
            .collect()
    }

    #[test]
    fn parses_single_statement_object_and_lists() {
        let d = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(d.statements.len(), 1);
        assert_eq!(d.statements[0].action.values, vec!["s3:*"]);
        assert!(!d.statements[0].action.not);
        assert_eq!(d.version.as_deref(), Some("2012-10-17"));
    }

    #[test]
    fn parses_condition_values_of_all_scalar_types() {
        let d = PolicyDocument::parse(
            r#"{"Statement":[{"Sid":"A","Effect":"Allow","NotAction":["iam:*"],"NotResource":"arn:aws:s3:::x",
               "Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":[10, 2.5]},
               "StringEquals":{"aws:PrincipalTag/team":"ops"}}}]}"#,
        )
        .unwrap();
        let s = &d.statements[0];
        assert!(s.action.not);
        assert!(s.resource.as_ref().unwrap().not);
        assert_eq!(s.conditions.len(), 3);
        assert_eq!(s.conditions[0].values, vec!["false"]);
        assert_eq!(s.conditions[1].values, vec!["10", "2.5"]);
        assert_eq!(s.sid.as_deref(), Some("A"));
    }

    #[test]
    fn errors_point_into_the_document_and_are_all_reported() {
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Permit","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}},
            {"Effect":"Deny","Action":["s3:*", 5],"Resource":"*","Condition":{"StringEquals":{"k":{"x":1}}}}
        ]}"#;
        let got = rules_of(text);
        assert!(
            got.contains(&("Statement[1].Effect".into(), "effect-invalid")),
            "{got:?}"
        );
        assert!(got.contains(&(
            "Statement[2].Condition.StringEqualz".into(),
            "condition-operator-unknown"
        )));
        assert!(got.contains(&("Statement[3].Action.[1]".into(), "element-type")));
        assert!(got.contains(&(
            "Statement[3].Condition.StringEquals.k".into(),
            "element-type"
        )));
        let err = PolicyDocument::parse(text).unwrap_err();
        assert_eq!(err.errors.len(), 4);
        // the good statement still parses in lenient mode, with its index kept
        let (doc, _) = parse_lenient(text);
        assert_eq!(
            doc.unwrap()
                .statements
                .iter()
                .map(|s| s.index)
                .collect::<Vec<_>>(),
            vec![0]
        );
    }

    #[test]
    fn structural_errors() {
        assert_eq!(
            rules_of("{"),
            vec![("line 1 column 1".to_string(), "json-syntax")]
        );
        assert_eq!(rules_of("[]")[0].1, "element-type");
        assert!(rules_of(r#"{"Version":"2012-10-17"}"#)
            .iter()
            .any(|r| r.1 == "statement-missing"));
        let r = rules_of(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:*","NotAction":"x:y","Resource":"*","Foo":1}}"#,
        );
        assert!(
            r.contains(&("Statement[0].NotAction".into(), "action-conflict")),
            "{r:?}"
        );
        assert!(r.contains(&("Statement[0].Foo".into(), "unknown-element")));
        let r = rules_of(r#"{"Statement":{"Effect":"Deny","Resource":"*"}}"#);
        assert_eq!(r, vec![("Statement[0]".into(), "action-missing")]);
        let r =
            rules_of(r#"{"Statement":{"Effect":"Deny","Action":"s3 GetObject","Resource":"*"}}"#);
        assert_eq!(r, vec![("Statement[0].Action".into(), "action-syntax")]);
        let r = rules_of(
            r#"{"Statement":{"Effect":"Deny","Action":["*:Get*","s3:Get*"],"Resource":"*"}}"#,
        );
        assert_eq!(r, vec![("Statement[0].Action.[0]".into(), "action-syntax")]);
        let r = rules_of(r#"{"Statement":{"Effect":"Deny","Action":[],"Resource":"*"}}"#);
        assert!(r.contains(&("Statement[0].Action".into(), "empty-value")));
    }

    #[test]
    fn principal_forms() {
        let d = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(
            d.statements[0].principal.as_ref().unwrap().value,
            PrincipalValue::Any
        );
        assert_eq!(
            d.statements[1].principal.as_ref().unwrap().value,
            PrincipalValue::Any
        );
        assert!(d.statements[2].principal.as_ref().unwrap().not);
        let r = rules_of(
            r#"{"Statement":{"Effect":"Deny","Principal":"me","Action":"s3:*","Resource":"*"}}"#,
        );
        assert_eq!(r, vec![("Statement[0].Principal".into(), "element-type")]);
    }

    #[test]
    fn minified_length_counts_characters() {
        let d = PolicyDocument::parse(
            "{ \"Statement\" : { \"Effect\":\"Deny\", \"Action\":\"s3:*\", \"Resource\":\"*\" } }",
        )
        .unwrap();
        assert_eq!(
            d.minified(),
            r#"{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}"#
        );
        assert_eq!(d.minified_len(), d.minified().len());
    }
}
