//! The plan for a person, in the style Terraform users know. Generic: what
//! changes is read from each change's before and after states; families add
//! details (a new policy's document) and impact lines (accounts reached).

use std::fmt::Write;

use serde_json::Value;

use crate::plan::{Action, Change, Plan, PlanSubject};
use crate::policy::document::pretty;

fn paint(text: &str, action: Action, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match action {
        Action::Create => "32",
        Action::Update => "33",
        Action::Replace => "35",
        Action::Delete => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The line naming whom a plan is for.
pub fn subject_line(subject: &PlanSubject) -> String {
    let mut line = format!(
        "Organization {} (management account {})",
        if subject.organization_id.is_empty() {
            "unknown"
        } else {
            &subject.organization_id
        },
        if subject.management_account.is_empty() {
            "unknown"
        } else {
            &subject.management_account
        },
    );
    if !subject.caller_arn.is_empty() {
        let _ = write!(line, ", as {}", subject.caller_arn);
    }
    line
}

/// A value as one short line.
fn short(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

/// A unified diff of two policy documents, pretty-printed.
fn document_diff(old: &str, new: &str, out: &mut String) {
    let (old, new) = (pretty(old), pretty(new));
    if old == new {
        return;
    }
    let diff = similar::TextDiff::from_lines(&old, &new);
    for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
        for line in hunk.to_string().lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
}

/// What changes between before and after, key by key.
fn state_lines(change: &Change, out: &mut String) {
    let empty = serde_json::Map::new();
    let before = change
        .before
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let after = change
        .after
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if key == "content" {
            if let (Some(Value::String(b)), Some(Value::String(a))) = (b, a) {
                document_diff(b, a, out);
            }
            continue;
        }
        match (b, a) {
            (Some(b), Some(a)) if b != a => {
                let _ = writeln!(out, "      {key}: {} -> {}", short(b), short(a));
            }
            (None, Some(a)) if change.action == Action::Create => {
                let empty = match a {
                    Value::Object(m) => m.is_empty(),
                    Value::Array(v) => v.is_empty(),
                    Value::String(s) => s.is_empty(),
                    Value::Null => true,
                    _ => false,
                };
                if !empty {
                    let _ = writeln!(out, "      {key}: {}", short(a));
                }
            }
            (None, Some(a)) => {
                let _ = writeln!(out, "      {key}: (none) -> {}", short(a));
            }
            _ => {}
        }
    }
}

fn details(change: &Change, out: &mut String) {
    state_lines(change, out);
    for line in change.operation.details() {
        let _ = writeln!(out, "    {line}");
    }
    for line in &change.impact {
        let _ = writeln!(out, "      => {line}");
    }
}

/// Renders the plan. `color` adds ANSI colours to the markers.
pub fn human(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", subject_line(&plan.subject));
    if plan.changes.is_empty() {
        match plan.pending().count() {
            0 => out.push_str("No changes. The landing zone matches the configuration.\n"),
            n => out.push_str(&format!("No changes lzctl can make now, but {n} item(s) do not match the configuration yet (see notices).\n")),
        }
    } else {
        out.push_str("lzctl will perform the following actions:\n");
        // Groups in the order of their earliest phase, so a plan reads the
        // same way whatever order the dependencies impose.
        let mut groups: Vec<(u16, &str)> = Vec::new();
        for c in &plan.changes {
            let (g, p) = (c.operation.group(), c.operation.phase());
            match groups.iter_mut().find(|(_, name)| *name == g) {
                Some(entry) => entry.0 = entry.0.min(p),
                None => groups.push((p, g)),
            }
        }
        groups.sort();
        let groups: Vec<&str> = groups.into_iter().map(|(_, g)| g).collect();
        for g in groups {
            let _ = writeln!(out, "\n  # {g}");
            for c in plan.changes.iter().filter(|c| c.operation.group() == g) {
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
    let replace = if s.replace > 0 {
        format!(", {} to replace", s.replace)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update{replace}, {} to delete.",
        s.create, s.update, s.delete
    );
    out
}
