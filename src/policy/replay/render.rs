//! Human, JSON and CSV renderings of a [`ReplayReport`].

use std::fmt::Write as _;

use super::aggregate::{DeniedGroup, NameCount, ReplayReport};

/// How many rows of each secondary list the human rendering shows.
const HUMAN_LIST_LIMIT: usize = 20;

/// A plain-text report for a terminal.
pub fn render_human(r: &ReplayReport) -> String {
    let t = &r.totals;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Replayed {} records from {} files ({} evaluated against current and proposed policies).",
        t.records, t.files, t.evaluated
    );
    if t.newly_denied == 0 {
        let _ = writeln!(o, "No call would newly be denied.");
    } else {
        let _ = writeln!(
            o,
            "{} calls in {} groups would newly be denied:",
            t.newly_denied,
            r.newly_denied.len()
        );
        o.push('\n');
        table(&mut o, &r.newly_denied);
    }
    o.push('\n');
    let _ = writeln!(
        o,
        "Evaluated: {} allowed under both, {} denied under both, {} newly denied, {} newly allowed, {} undecided.",
        t.allowed_both, t.denied_both, t.newly_denied, t.newly_allowed, t.undecided
    );
    let _ = writeln!(
        o,
        "Not evaluated: {} skipped, {} unmapped, {} already denied (baseline), {} from accounts without a hierarchy, {} malformed records.",
        t.skipped, t.unmapped, t.baseline_denied, t.no_hierarchy, t.malformed_records
    );
    list(&mut o, "Skipped", &r.skipped);
    list(&mut o, "Unmapped events (no IAM action)", &r.unmapped);
    list(&mut o, "Already denied (errorCode)", &r.baseline_denied);
    if !r.indeterminate.is_empty() {
        let _ = writeln!(
            o,
            "\nIndeterminate verdicts (depend on keys the records do not carry):"
        );
        for i in r.indeterminate.iter().take(HUMAN_LIST_LIMIT) {
            let _ = writeln!(
                o,
                "  {:>10}  {} policies, keys {} (e.g. {})",
                i.count,
                i.policies,
                i.missing_keys.join(", "),
                i.example_actions.join(", ")
            );
        }
        more(&mut o, r.indeterminate.len());
    }
    if !r.accounts_without_hierarchy.is_empty() {
        let _ = writeln!(
            o,
            "\nAccounts without a policy hierarchy (events not evaluated):"
        );
        for a in r.accounts_without_hierarchy.iter().take(HUMAN_LIST_LIMIT) {
            let _ = writeln!(
                o,
                "  {:>10}  {} (missing: {})",
                a.events,
                ReplayReport::account_label(&a.account, a.account_name.as_deref()),
                a.missing
            );
        }
        more(&mut o, r.accounts_without_hierarchy.len());
    }
    if !r.file_errors.is_empty() {
        let _ = writeln!(o, "\nFiles that could not be read to their end:");
        for e in &r.file_errors {
            let _ = writeln!(o, "  {}: {}", e.path, e.message);
        }
    }
    o
}

fn more(o: &mut String, len: usize) {
    if len > HUMAN_LIST_LIMIT {
        let _ = writeln!(o, "  ... and {} more", len - HUMAN_LIST_LIMIT);
    }
}

fn list(o: &mut String, title: &str, items: &[NameCount]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n{title}:");
    for i in items.iter().take(HUMAN_LIST_LIMIT) {
        let _ = writeln!(o, "  {:>10}  {}", i.count, i.name);
    }
    more(o, items.len());
}

fn table(o: &mut String, groups: &[DeniedGroup]) {
    let headers = [
        "ACCOUNT",
        "PRINCIPAL",
        "ACTION",
        "REGION",
        "COUNT",
        "FIRST",
        "LAST",
    ];
    let rows: Vec<[String; 7]> = groups
        .iter()
        .map(|g| {
            [
                ReplayReport::account_label(&g.account, g.account_name.as_deref()),
                g.principal.clone(),
                g.action.clone(),
                g.region.clone(),
                g.count.to_string(),
                g.first_seen.clone(),
                g.last_seen.clone(),
            ]
        })
        .collect();
    let mut w = headers.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |o: &mut String, cells: [&str; 7]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 4 {
                let _ = write!(s, "{:>width$}  ", c, width = w[i]);
            } else {
                let _ = write!(s, "{:<width$}  ", c, width = w[i]);
            }
        }
        o.push_str("  ");
        o.push_str(s.trim_end());
        o.push('\n');
    };
    line(o, headers);
    for (g, r) in groups.iter().zip(&rows) {
        line(
            o,
            [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]].map(|s| s.as_str()),
        );
        for d in &g.denied_by {
            let _ = writeln!(o, "      {}", d.text);
        }
        if g.currently_indeterminate > 0 {
            let _ = writeln!(
                o,
                "      ({} of these are indeterminate, not allowed, under the current policies)",
                g.currently_indeterminate
            );
        }
    }
}

/// The report as pretty-printed JSON (`format_version` tells the layout).
pub fn render_json(r: &ReplayReport) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("report serializes");
    s.push('\n');
    s
}

/// Quote a CSV field when needed (RFC 4180): fields with a comma, quote, CR or LF are put
/// in double quotes, with quotes doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Header of [`render_csv`].
pub const CSV_HEADER: &str =
    "account,account_name,principal,action,region,count,first_seen,last_seen,currently_indeterminate,denied_by,level,policy,statement";

/// One row per newly denied group (several decisions are joined with ` | `), CRLF-free
/// (`\n` line ends), RFC 4180 quoting.
pub fn render_csv(r: &ReplayReport) -> String {
    let mut o = String::new();
    o.push_str(CSV_HEADER);
    o.push('\n');
    for g in &r.newly_denied {
        let join = |f: &dyn Fn(&super::aggregate::Decision) -> String| {
            g.denied_by.iter().map(f).collect::<Vec<_>>().join(" | ")
        };
        let cells = [
            g.account.clone(),
            g.account_name.clone().unwrap_or_default(),
            g.principal.clone(),
            g.action.clone(),
            g.region.clone(),
            g.count.to_string(),
            g.first_seen.clone(),
            g.last_seen.clone(),
            g.currently_indeterminate.to_string(),
            join(&|d| d.text.clone()),
            join(&|d| d.level.clone()),
            join(&|d| d.policy.clone().unwrap_or_default()),
            join(&|d| d.statement.clone().unwrap_or_default()),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        o.push_str(&row.join(","));
        o.push('\n');
    }
    o
}
