//! The plan for a person, in the style Terraform users know.

use std::fmt::Write;

use crate::plan::{Action, Change, Operation, Plan};
use crate::policy::document::pretty;

fn paint(text: &str, action: Action, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match action {
        Action::Create => "32",
        Action::Update => "33",
        Action::Delete => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn group(op: &Operation) -> &'static str {
    match op {
        Operation::EnablePolicyType { .. } => "Organization",
        Operation::CreateOu { .. } | Operation::RenameOu { .. } | Operation::DeleteOu { .. } => {
            "Organizational units"
        }
        Operation::CreateAccount { .. } | Operation::MoveAccount { .. } => "Accounts",
        Operation::CreatePolicy { .. }
        | Operation::UpdatePolicy { .. }
        | Operation::DeletePolicy { .. } => "Policies",
        Operation::AttachPolicy { .. } | Operation::DetachPolicy { .. } => "Policy attachments",
        Operation::SetTags { .. } => "Tags",
    }
}

const GROUPS: &[&str] = &[
    "Organization",
    "Organizational units",
    "Accounts",
    "Policies",
    "Policy attachments",
    "Tags",
];

fn details(change: &Change, out: &mut String) {
    match &change.operation {
        Operation::CreateAccount { email, ou, .. } => {
            let _ = writeln!(out, "      email: {email}\n      ou:    {ou}");
        }
        Operation::UpdatePolicy {
            old_content,
            content,
            old_description,
            description,
            ..
        } => {
            if old_description != description {
                let _ = writeln!(
                    out,
                    "      description: {old_description:?} -> {description:?}"
                );
            }
            let (old, new) = (pretty(old_content), pretty(content));
            if old != new {
                let diff = similar::TextDiff::from_lines(&old, &new);
                for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
                    for line in hunk.to_string().lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
        }
        Operation::SetTags { set, .. } => {
            for (k, v) in set {
                let _ = writeln!(out, "      {k} = {v:?}");
            }
        }
        _ => {}
    }
}

/// Renders the plan. `color` adds ANSI colours to the markers.
pub fn human(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if plan.changes.is_empty() {
        match plan.pending().count() {
            0 => out.push_str("No changes. The organization matches the configuration.\n"),
            n => out.push_str(&format!("No changes lzctl can make now, but {n} item(s) do not match the configuration yet (see notices).\n")),
        }
    } else {
        out.push_str("lzctl will perform the following actions:\n");
        for g in GROUPS {
            let in_group: Vec<&Change> = plan
                .changes
                .iter()
                .filter(|c| group(&c.operation) == *g)
                .collect();
            if in_group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n  # {g}");
            for c in in_group {
                let marker = paint(
                    &format!("{} {}", c.action.symbol(), c.address),
                    c.action,
                    color,
                );
                let _ = writeln!(out, "  {marker}  ({})", c.operation.verb());
                let _ = writeln!(out, "      reason: {}", c.reason);
                details(c, &mut out);
            }
        }
    }
    if !plan.notices.is_empty() {
        out.push_str("\nNotices:\n");
        for n in &plan.notices {
            let _ = writeln!(out, "  ! {}: {}", n.address, n.message);
        }
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out, "\nUnmanaged (left alone): {}", plan.unmanaged.len());
        for u in &plan.unmanaged {
            let _ = writeln!(out, "  = {}: {}", u.address, u.reason);
        }
    }
    let s = plan.summary();
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} to delete.",
        s.create, s.update, s.delete
    );
    out
}
