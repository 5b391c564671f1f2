//! A short Markdown summary for pull-request comments.

use std::fmt::Write;

use crate::plan::Plan;

/// Renders a summary table and the list of changes.
pub fn markdown(plan: &Plan) -> String {
    let s = plan.summary();
    let mut out = String::from("### lzctl plan\n\n");
    let _ = writeln!(out, "| create | update | delete | unmanaged | notices |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n", s.create, s.update, s.delete, plan.unmanaged.len(), plan.notices.len());
    if plan.changes.is_empty() {
        out.push_str("No changes.\n");
    } else {
        out.push_str("<details><summary>Changes</summary>\n\n| | address | what | reason |\n|---|---|---|---|\n");
        for c in &plan.changes {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                c.action.symbol(),
                c.address,
                c.operation.verb(),
                c.reason.replace('|', "\\|")
            );
        }
        out.push_str("\n</details>\n");
    }
    for n in &plan.notices {
        let _ = writeln!(out, "\n> **{}**: {}", n.address, n.message);
    }
    let _ = writeln!(
        out,
        "\n<sub>config `{}` sha256 {}</sub>",
        plan.config_path,
        &plan.config_digest[..plan.config_digest.len().min(12)]
    );
    out
}
