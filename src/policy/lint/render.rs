//! Output of `scp lint`: human lines, a versioned JSON document, SARIF 2.1.0.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use serde_json::{json, Map, Value};

use super::super::iam::Severity;
use super::catalog::{rule_info, RULES};
use super::locate::locate;
use super::{LintFinding, LintInput};

/// Version of the JSON document [`render_json`] writes; bump it on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// SARIF schema location written into `$schema`.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn counts(findings: &[LintFinding]) -> (usize, usize, usize) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let policies: BTreeSet<&str> = findings.iter().map(|f| f.policy.as_str()).collect();
    (errors, findings.len() - errors, policies.len())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Where a finding is, as `file:line:col` (1-based, like `validate`'s diagnostics), when
/// its policy's input knows its file: the element's position in a policy file
/// ([`SourceRef::line`](super::SourceRef::line) 0), or the line where the config declares
/// the policy.
pub fn file_position(f: &LintFinding, inputs: &[LintInput]) -> Option<String> {
    let input = inputs.iter().find(|i| i.name == f.policy)?;
    let src = input.source.as_ref()?;
    let (line, col) = if src.line > 0 {
        (src.line, src.column.max(1))
    } else {
        locate(&input.text, &f.location).unwrap_or((1, 1))
    };
    Some(format!("{}:{line}:{col}", src.file.display()))
}

/// One line per finding, `file:line:col: severity[rule]: policy: Statement[0].Action[2]:
/// message` (without the position when the policy's file is not known), then a summary
/// line (`2 errors, 1 warning in 2 policies` or `no findings`).
pub fn render_human(findings: &[LintFinding], inputs: &[LintInput]) -> String {
    let mut out = String::new();
    for f in findings {
        match file_position(f, inputs) {
            Some(at) => out.push_str(&format!(
                "{at}: {}[{}]: {}: {}: {}\n",
                f.severity, f.rule, f.policy, f.location, f.message
            )),
            None => out.push_str(&format!(
                "{}: {}[{}]: {}: {}\n",
                f.policy, f.severity, f.rule, f.location, f.message
            )),
        }
    }
    let (errors, warnings, policies) = counts(findings);
    if findings.is_empty() {
        out.push_str("no findings\n");
    } else {
        out.push_str(&format!(
            "{}, {} in {}\n",
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings"),
            plural(policies, "policy", "policies")
        ));
    }
    out
}

/// A versioned JSON document:
/// `{"format":"lzctl-scp-lint","version":1,"summary":{"errors","warnings","policies"},
/// "findings":[{"policy","rule","severity","location","statement","element","message"}]}`
/// (`statement`/`element` are null for document-level findings).
pub fn render_json(findings: &[LintFinding]) -> String {
    let (errors, warnings, policies) = counts(findings);
    let items: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "policy": f.policy,
                "rule": f.rule,
                "severity": f.severity,
                "location": f.location.to_string(),
                "statement": f.location.statement,
                "element": f.location.element,
                "message": f.message,
            })
        })
        .collect();
    let doc = json!({
        "format": "lzctl-scp-lint",
        "version": JSON_FORMAT_VERSION,
        "summary": {"errors": errors, "warnings": warnings, "policies": policies},
        "findings": items,
    });
    serde_json::to_string_pretty(&doc).expect("JSON values always serialize") + "\n"
}

/// A path as a SARIF artifact URI: relative paths stay relative (forward slashes, resolved
/// against the run's working directory by the consumer); absolute ones become `file://`.
fn artifact_uri(path: &Path) -> String {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(escape_uri(&s.to_string_lossy())),
            Component::ParentDir => parts.push("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let joined = parts.join("/");
    if path.is_absolute() {
        format!("file:///{joined}")
    } else {
        joined
    }
}

fn escape_uri(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// SARIF 2.1.0 (one run, tool `lzctl`). Every rule of the catalog is listed under
/// `tool.driver.rules` (plus any other id a finding carries); each result has `ruleId`,
/// `ruleIndex`, `level`, `message.text` and one location: the config file and the line
/// that declares the policy when `inputs` knows them (`physicalLocation`; with
/// [`SourceRef::line`](super::SourceRef::line) 0, the line and column of the element in the
/// policy file), always a logical location `policy/Statement[0].Action[2]`.
pub fn render_sarif(findings: &[LintFinding], inputs: &[LintInput]) -> String {
    let mut rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": {"text": r.description},
                "defaultConfiguration": {"level": level(r.severity)},
            })
        })
        .collect();
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    for f in findings {
        if !ids.contains(&f.rule) && rule_info(f.rule).is_none() {
            ids.push(f.rule);
            rules.push(json!({
                "id": f.rule,
                "name": f.rule,
                "shortDescription": {"text": f.rule},
                "defaultConfiguration": {"level": level(f.severity)},
            }));
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut location = Map::new();
            let input = inputs.iter().find(|i| i.name == f.policy);
            if let Some((input, src)) = input.and_then(|i| Some((i, i.source.as_ref()?))) {
                let mut physical = json!({"artifactLocation": {"uri": artifact_uri(&src.file)}});
                if src.line > 0 {
                    physical["region"] = json!({"startLine": src.line});
                } else if let Some((line, column)) = locate(&input.text, &f.location) {
                    physical["region"] = json!({"startLine": line, "startColumn": column});
                }
                location.insert("physicalLocation".into(), physical);
            }
            let path = f.location.to_string();
            location.insert(
                "logicalLocations".into(),
                json!([{
                    "name": path,
                    "fullyQualifiedName": format!("{}/{}", f.policy, path),
                    "kind": "member",
                }]),
            );
            json!({
                "ruleId": f.rule,
                "ruleIndex": ids.iter().position(|id| *id == f.rule).expect("every rule id listed"),
                "level": level(f.severity),
                "message": {"text": format!("{}: {}: {}", f.policy, path, f.message)},
                "locations": [Value::Object(location)],
                "properties": {"policy": f.policy},
            })
        })
        .collect();
    let doc = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lzctl",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("JSON values always serialize") + "\n"
}
