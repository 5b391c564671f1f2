//! A Markdown summary for pull-request comments: the organization named, a
//! table of counts, every change with its reason, each policy document
//! change as a `diff` block, notices; and for a refused plan, why.

use std::fmt::Write;

use serde_json::Value;

use super::human::subject_line;
use crate::plan::Plan;
use crate::policy::document::pretty;

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A document change as a fenced `diff` block.
fn document_diff(old: Option<&str>, new: Option<&str>) -> Option<String> {
    let (old, new) = (
        old.map(pretty).unwrap_or_default(),
        new.map(pretty).unwrap_or_default(),
    );
    if old == new {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::from("```diff\n");
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&hunk.to_string());
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str("```\n");
    Some(out)
}

fn content(value: &Option<Value>) -> Option<&str> {
    value.as_ref()?.get("content")?.as_str()
}

/// Renders a summary table, the changes and the document diffs.
pub fn markdown(plan: &Plan) -> String {
    let s = plan.summary();
    let mut out = String::from("### lzctl plan\n\n");
    let _ = writeln!(out, "{}\n", subject_line(&plan.subject));
    let _ = writeln!(out, "| create | update | replace | delete | unmanaged | notices |\n|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} |\n", s.create, s.update, s.replace, s.delete, plan.unmanaged.len(), plan.notices.len());
    if plan.changes.is_empty() {
        out.push_str("**No changes.** The landing zone matches the configuration.\n");
    } else {
        out.push_str("| | address | what | reason |\n|---|---|---|---|\n");
        for c in &plan.changes {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                c.action.symbol(),
                c.address,
                c.operation.verb(),
                escape(&c.reason)
            );
        }
        for c in &plan.changes {
            if let Some(diff) = document_diff(content(&c.before), content(&c.after)) {
                let _ = writeln!(out, "\n#### `{}` ({})\n", c.address, c.operation.verb());
                for line in &c.impact {
                    let _ = writeln!(out, "- {line}");
                }
                if !c.impact.is_empty() {
                    out.push('\n');
                }
                out.push_str(&diff);
            }
        }
    }
    let waves: Vec<&crate::plan::Change> = plan
        .changes
        .iter()
        .filter(|c| c.address.kind() == "rollout")
        .collect();
    if !waves.is_empty() {
        out.push_str("\n**Staged rollouts** (each wave soaks, then halts the rollout on SCP denials in its accounts)\n\n| wave | targets | accounts | soak |\n|---|---|---|---|\n");
        for c in waves {
            let after = c.after.clone().unwrap_or_default();
            let list = |key: &str| {
                after[key]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                c.address,
                escape(&list("targets")),
                escape(&list("accounts")),
                after["soak"].as_str().unwrap_or_default()
            );
        }
    }
    if !plan.notices.is_empty() {
        out.push_str("\n**Notices**\n\n");
        for n in &plan.notices {
            let _ = writeln!(out, "- `{}`: {}", n.address, escape(&n.message));
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>config `{}` sha256 {}</sub>",
        plan.config_path,
        &plan.config_digest[..plan.config_digest.len().min(12)]
    );
    out
}

/// The comment for a plan lzctl refused: what was refused and why, never an
/// empty body.
pub fn markdown_refusal(config: &str, reason: &str) -> String {
    let mut out = String::from("### lzctl plan: refused\n\n");
    let _ = writeln!(
        out,
        "lzctl refused to plan `{config}`: applying it would break a safety rule.\n"
    );
    out.push_str("```\n");
    out.push_str(reason.trim_end());
    out.push_str("\n```\n");
    out
}
