//! Rendering a report: a self-contained HTML page (inline CSS, SVG charts
//! drawn here: no script, no font, no request of any kind when it is
//! opened), Markdown, the versioned JSON, CSV, and the short summary posted
//! to a webhook.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::compare::RateChange;
use super::model::{severity_rank, CompanyReport, Report, Tally, OUTSIDE_COMPANIES};

/// `87.5%`, or `n/a` without evaluations.
pub fn pct(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "n/a".into(),
    }
}

/// `+12.5 pt`, `-3.0 pt`, `±0.0 pt`, or empty.
pub fn delta(change: Option<f64>) -> String {
    match change {
        Some(d) if d > 0.00005 => format!("+{:.1} pt", d * 100.0),
        Some(d) if d < -0.00005 => format!("{:.1} pt", d * 100.0),
        Some(_) => "±0.0 pt".into(),
        None => String::new(),
    }
}

/// The table cells of one problem: severity, (source,) rule or control,
/// company, account, region, resource.
fn problem_cells(p: &super::model::Problem, with_source: bool) -> String {
    let resource = format!("{} {}", p.resource_type, p.resource_id);
    let source = with_source.then_some(p.source.as_str());
    [
        Some(p.severity.as_str()),
        source,
        Some(&p.rule),
        Some(&p.company),
        Some(&p.account),
        Some(&p.region),
        Some(&resource),
    ]
    .into_iter()
    .flatten()
    .map(|cell| format!("<td>{}</td>", esc(cell)))
    .collect()
}

/// HTML-escapes text.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The versioned JSON.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
}

fn company_change<'a>(report: &'a Report, name: &str) -> Option<&'a RateChange> {
    report
        .comparison
        .as_ref()
        .and_then(|c| c.companies.iter().find(|x| x.name == name))
}

fn account_change<'a>(report: &'a Report, name: &str) -> Option<&'a RateChange> {
    report
        .comparison
        .as_ref()
        .and_then(|c| c.accounts.iter().find(|x| x.name == name))
}

/// Markdown escaping for table cells.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

const SEVERITIES: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"];

fn yes(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "OFF"
    }
}

/// Coverage of an account as `service: regions on/regions`.
fn coverage_cells(report: &Report, account: &super::model::AccountReport) -> [String; 4] {
    let n = report.sources.regions.len();
    let count = |f: &dyn Fn(&super::model::Coverage) -> bool| {
        account.coverage.values().filter(|c| f(c)).count()
    };
    [
        format!("{}/{n}", count(&|c| c.guardduty)),
        format!("{}/{n}", count(&|c| c.security_hub)),
        format!("{}/{n}", count(&|c| c.config)),
        format!("{}/{n}", count(&|c| c.cloudtrail)),
    ]
}

/// Markdown: tables a pull request, wiki or chat renders.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Compliance report {}\n", report.period);
    let _ = writeln!(
        out,
        "Organization `{}`, generated {}. Overall compliance: **{}**{}.\n",
        report.organization,
        report.generated_at,
        pct(report.total.rate),
        report
            .comparison
            .as_ref()
            .map(|c| format!(" ({} since {})", delta(c.total.change), c.previous_period))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "_{}._\n", report.definition);
    if let Some(c) = &report.comparison {
        let _ = writeln!(out, "## Since {}\n", c.previous_period);
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let _ = writeln!(out, "- Improved: {}", list(&c.improved));
        let _ = writeln!(out, "- Worsened: {}", list(&c.worsened));
        if let Some(x) = &c.most_improved_company {
            let _ = writeln!(out, "- Most improved company: **{x}**");
        }
        if let Some(x) = &c.most_improved_account {
            let _ = writeln!(out, "- Most improved account: **{x}**");
        }
        if let Some(x) = &c.lowest_company {
            let _ = writeln!(out, "- Lowest company: {x}");
        }
        if let Some(x) = &c.lowest_account {
            let _ = writeln!(out, "- Lowest account: {x}");
        }
        let _ = writeln!(
            out,
            "- New non-compliance: {}; resolved: {}\n",
            c.new_problems.len(),
            c.resolved_problems.len()
        );
    }
    let _ = writeln!(out, "## Companies\n");
    let _ = writeln!(
        out,
        "| Company | Rate | Change | Compliant | Non-compliant | Accounts | Critical | High |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for c in &report.companies {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&c.name),
            pct(c.tally.rate),
            company_change(report, &c.name)
                .map(|x| delta(x.change))
                .unwrap_or_default(),
            c.tally.compliant,
            c.tally.non_compliant,
            c.accounts.len(),
            c.findings.get("CRITICAL").copied().unwrap_or(0),
            c.findings.get("HIGH").copied().unwrap_or(0),
        );
    }
    let _ = writeln!(out, "\n## Accounts\n");
    let _ = writeln!(out, "| Company | Account | Id | Rate | Change | GuardDuty | Security Hub | Config | CloudTrail | Findings | Failed controls | SCPs |");
    let _ = writeln!(out, "|---|---|---|---:|---:|---|---|---|---|---:|---:|---|");
    for c in &report.companies {
        for a in &c.accounts {
            let [gd, sh, cf, ct] = coverage_cells(report, a);
            let scps: Vec<String> = a
                .guardrails
                .levels
                .iter()
                .flat_map(|l| l.policies.clone())
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {gd} | {sh} | {cf} | {ct} | {} | {} | {} |",
                md(&c.name),
                md(&a.name),
                a.id,
                pct(a.tally.rate),
                account_change(report, &a.name)
                    .map(|x| delta(x.change))
                    .unwrap_or_default(),
                a.findings.values().sum::<u32>(),
                a.failed_controls,
                md(&scps.join(", ")),
            );
        }
    }
    let _ = writeln!(out, "\n## Config rules\n");
    let _ = writeln!(
        out,
        "| Rule | Scope | Severity | Rate | Non-compliant accounts |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---|");
    for r in &report.rules {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md(&r.name),
            r.scope,
            r.severity,
            pct(r.tally.rate),
            md(&r.non_compliant_accounts.join(", "))
        );
    }
    let _ = writeln!(out, "\n## Security Hub\n");
    let _ = writeln!(out, "| Severity | Active findings |");
    let _ = writeln!(out, "|---|---:|");
    for s in SEVERITIES {
        let _ = writeln!(
            out,
            "| {s} | {} |",
            report.findings.get(s).copied().unwrap_or(0)
        );
    }
    if !report.failed_controls.is_empty() {
        let _ = writeln!(out, "\n| Failed control | Severity | Findings | Accounts |");
        let _ = writeln!(out, "|---|---|---:|---|");
        for f in &report.failed_controls {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                md(&f.control),
                f.severity,
                f.findings,
                md(&f.accounts.join(", "))
            );
        }
    }
    if !report.sources.gaps.is_empty() {
        let _ = writeln!(out, "\n## Gaps\n");
        for g in &report.sources.gaps {
            let _ = writeln!(out, "- {}", md(g));
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// CSV: one row per account.
pub fn csv(report: &Report) -> String {
    let mut out = String::from("period,company,account,account_id,ou,compliant,non_compliant,excluded,rate,previous_rate,change,guardduty_regions,securityhub_regions,config_regions,cloudtrail_regions,findings_critical,findings_high,findings_medium,findings_low,failed_controls\n");
    let r4 = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_default();
    for c in &report.companies {
        for a in &c.accounts {
            let change = account_change(report, &a.name);
            let [gd, sh, cf, ct] = coverage_cells(report, a);
            let sev = |s: &str| a.findings.get(s).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{gd},{sh},{cf},{ct},{},{},{},{},{}",
                report.period,
                csv_field(&c.name),
                csv_field(&a.name),
                a.id,
                csv_field(&a.ou),
                a.tally.compliant,
                a.tally.non_compliant,
                a.tally.excluded,
                r4(a.tally.rate),
                r4(change.and_then(|x| x.previous)),
                r4(change.and_then(|x| x.change)),
                sev("CRITICAL"),
                sev("HIGH"),
                sev("MEDIUM"),
                sev("LOW"),
                a.failed_controls
            );
        }
    }
    out
}

/// The short summary posted with `--post` (Slack `text` + `blocks`).
pub fn summary(report: &Report) -> (String, serde_json::Value) {
    let mut lines = vec![format!(
        "*Compliance report {}*: {} overall{}",
        report.period,
        pct(report.total.rate),
        report
            .comparison
            .as_ref()
            .map(|c| format!(" ({} since {})", delta(c.total.change), c.previous_period))
            .unwrap_or_default()
    )];
    let mut ranked: Vec<&CompanyReport> = report
        .companies
        .iter()
        .filter(|c| c.name != OUTSIDE_COMPANIES && c.tally.rate.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        b.tally
            .rate
            .unwrap()
            .total_cmp(&a.tally.rate.unwrap())
            .then(a.name.cmp(&b.name))
    });
    if let Some(top) = ranked.first() {
        lines.push(format!(
            ":trophy: Highest compliance: *{}* ({})",
            top.name,
            pct(top.tally.rate)
        ));
    }
    if let Some(c) = &report.comparison {
        if let Some(best) = &c.most_improved_company {
            let d = c
                .companies
                .iter()
                .find(|x| &x.name == best)
                .and_then(|x| x.change);
            lines.push(format!(
                ":chart_with_upwards_trend: Most improved: *{best}* ({})",
                delta(d)
            ));
        }
        if !c.worsened.is_empty() {
            lines.push(format!("Worsened: {}", c.worsened.join(", ")));
        }
        lines.push(format!(
            "New non-compliance: {}, resolved: {}",
            c.new_problems.len(),
            c.resolved_problems.len()
        ));
    }
    if let Some(low) = ranked.last().filter(|_| ranked.len() > 1) {
        lines.push(format!("Lowest: {} ({})", low.name, pct(low.tally.rate)));
    }
    let crit = report.findings.get("CRITICAL").copied().unwrap_or(0);
    let high = report.findings.get("HIGH").copied().unwrap_or(0);
    lines.push(format!("Active findings: {crit} critical, {high} high"));
    let text = lines.join("\n");
    let blocks =
        serde_json::json!([{ "type": "section", "text": { "type": "mrkdwn", "text": text } }]);
    (text, blocks)
}

// ------------------------------------------------------------------ HTML

const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

fn severity_color(s: &str) -> &'static str {
    match s {
        "CRITICAL" => "#8b0000",
        "HIGH" => "#d9480f",
        "MEDIUM" => "#f08c00",
        "LOW" => "#1971c2",
        _ => "#868e96",
    }
}

fn rate_class(rate: Option<f64>) -> &'static str {
    match rate {
        Some(r) if r >= 0.95 => "good",
        Some(r) if r >= 0.8 => "fair",
        Some(_) => "poor",
        None => "none",
    }
}

/// The trend of every company's rate (one line each), 0-100 %.
fn trend_chart(report: &Report) -> String {
    let companies: Vec<&str> = report.companies.iter().map(|c| c.name.as_str()).collect();
    let points = &report.trend;
    let (w, h, left, top, bottom) = (760.0, 300.0, 48.0, 16.0, 40.0);
    let right_legend = 170.0;
    let plot_w = w - left - right_legend;
    let plot_h = h - top - bottom;
    let n = points.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |r: f64| top + plot_h * (1.0 - r);
    let mut svg = format!(
        "<svg id=\"trend-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Compliance rate per company by month\">"
    );
    for pctl in [0, 25, 50, 75, 100] {
        let yy = y(pctl as f64 / 100.0);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"#dee2e6\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#495057\">{pctl}%</text>",
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
    }
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#495057\">{}</text>",
            x(i),
            h - bottom + 18.0,
            esc(&p.period)
        );
    }
    for (ci, name) in companies.iter().enumerate() {
        let color = PALETTE[ci % PALETTE.len()];
        let coords: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.rates.get(*name).copied().flatten().map(|r| (x(i), y(r))))
            .collect();
        if coords.len() > 1 {
            let d: Vec<String> = coords
                .iter()
                .map(|(a, b)| format!("{a:.1},{b:.1}"))
                .collect();
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\" points=\"{}\"/>",
                d.join(" ")
            );
        }
        for (a, b) in &coords {
            let _ = write!(
                svg,
                "<circle cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"4\" fill=\"{color}\"/>"
            );
        }
        let ly = top + 14.0 * ci as f64 + 6.0;
        let lx = w - right_legend + 12.0;
        let _ = write!(
            svg,
            "<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#212529\">{}</text>",
            ly - 9.0,
            lx + 14.0,
            ly,
            esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The current rate of every company as horizontal bars.
fn company_bars(report: &Report) -> String {
    let row = 24.0;
    let (left, bar_w) = (170.0, 460.0);
    let h = row * report.companies.len() as f64 + 24.0;
    let w = left + bar_w + 80.0;
    let mut svg = format!(
        "<svg id=\"company-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Compliance rate per company\">"
    );
    for (i, c) in report.companies.iter().enumerate() {
        let yy = 8.0 + row * i as f64;
        let r = c.tally.rate.unwrap_or(0.0);
        let color = match rate_class(c.tally.rate) {
            "good" => "#2f9e44",
            "fair" => "#f08c00",
            "poor" => "#c92a2a",
            _ => "#adb5bd",
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#212529\">{}</text><rect x=\"{left}\" y=\"{yy}\" width=\"{bar_w}\" height=\"16\" fill=\"#f1f3f5\"/><rect x=\"{left}\" y=\"{yy}\" width=\"{:.1}\" height=\"16\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#212529\">{}</text>",
            left - 8.0,
            yy + 12.0,
            esc(&c.name),
            bar_w * r,
            left + bar_w + 6.0,
            yy + 12.0,
            pct(c.tally.rate)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Active findings and non-compliant resources by severity, as bars.
fn severity_chart(report: &Report) -> String {
    let mut config: BTreeMap<String, u32> = BTreeMap::new();
    for p in report.problems.iter().filter(|p| p.source == "config") {
        *config.entry(p.severity.to_ascii_uppercase()).or_default() += 1;
    }
    let max = SEVERITIES
        .iter()
        .map(|s| {
            report
                .findings
                .get(*s)
                .copied()
                .unwrap_or(0)
                .max(config.get(*s).copied().unwrap_or(0))
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, h, left, top, bottom) = (520.0, 240.0, 40.0, 20.0, 44.0);
    let plot_h = h - top - bottom;
    let group = (w - left - 20.0) / SEVERITIES.len() as f64;
    let bar = group * 0.35;
    let mut svg = format!(
        "<svg id=\"severity-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Findings and non-compliant resources by severity\">"
    );
    let _ = write!(
        svg,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#adb5bd\"/>",
        w - 10.0,
        top + plot_h,
        top + plot_h
    );
    for (i, s) in SEVERITIES.iter().enumerate() {
        let gx = left + group * i as f64 + group * 0.12;
        for (j, (value, opacity)) in [
            (report.findings.get(*s).copied().unwrap_or(0), "1"),
            (config.get(*s).copied().unwrap_or(0), "0.45"),
        ]
        .into_iter()
        .enumerate()
        {
            let bh = plot_h * value as f64 / max;
            let bx = gx + bar * j as f64 + 2.0 * j as f64;
            let _ = write!(
                svg,
                "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"{}\" fill-opacity=\"{opacity}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#212529\">{value}</text>",
                top + plot_h - bh,
                severity_color(s),
                bx + bar / 2.0,
                top + plot_h - bh - 3.0
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#495057\">{}</text>",
            gx + bar,
            top + plot_h + 16.0,
            s.to_ascii_lowercase()
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{}\" font-size=\"11\" fill=\"#495057\">solid: active Security Hub findings · pale: non-compliant Config resources</text>",
        h - 6.0
    );
    svg.push_str("</svg>");
    svg
}

const CSS: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#212529;max-width:1200px}h1{margin-bottom:4px}h2{border-bottom:1px solid #dee2e6;padding-bottom:4px;margin-top:32px}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f8f9fa}td.num{text-align:right}.good{color:#2b8a3e;font-weight:600}.fair{color:#e67700;font-weight:600}.poor{color:#c92a2a;font-weight:600}.none{color:#868e96}.off{color:#c92a2a;font-weight:600}.muted{color:#868e96;font-size:12px}.cards{display:flex;gap:16px;flex-wrap:wrap}.card{border:1px solid #dee2e6;border-radius:6px;padding:10px 16px;min-width:150px}.card b{font-size:22px;display:block}.charts{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}details{margin:4px 0}code{font-size:12px}";

fn rate_cell(rate: Option<f64>) -> String {
    format!("<td class=\"num {}\">{}</td>", rate_class(rate), pct(rate))
}

fn tally_cells(t: &Tally) -> String {
    format!(
        "{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
        rate_cell(t.rate),
        t.compliant,
        t.non_compliant,
        t.excluded
    )
}

/// The self-contained HTML page.
pub fn html(report: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Compliance report {}</title><style>{CSS}</style></head><body>",
        esc(&report.period)
    );
    let _ = write!(
        h,
        "<h1>Compliance report {}</h1><p class=\"muted\">Organization <code>{}</code> · management account <code>{}</code> · generated {} · regions {} · Config aggregator {} · Security Hub region {}</p>",
        esc(&report.period),
        esc(&report.organization),
        esc(&report.management_account),
        esc(&report.generated_at),
        esc(&report.sources.regions.join(", ")),
        esc(report.sources.config_aggregator.as_deref().unwrap_or("none")),
        esc(report.sources.security_hub_region.as_deref().unwrap_or("none")),
    );
    let total_change = report
        .comparison
        .as_ref()
        .map(|c| delta(c.total.change))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<div class=\"cards\"><div class=\"card\">Overall compliance<b class=\"{}\">{}</b>{}</div><div class=\"card\">Companies<b>{}</b></div><div class=\"card\">Accounts<b>{}</b></div><div class=\"card\">Active findings<b>{}</b></div><div class=\"card\">Non-compliant resources<b>{}</b></div></div>",
        rate_class(report.total.rate),
        pct(report.total.rate),
        esc(&total_change),
        report.companies.iter().filter(|c| c.name != OUTSIDE_COMPANIES).count(),
        report.accounts().count(),
        report.findings.values().sum::<u32>(),
        report.problems.iter().filter(|p| p.source == "config").count(),
    );
    let _ = write!(h, "<p class=\"muted\">{}.</p>", esc(&report.definition));
    let _ = write!(
        h,
        "<h2>Trend and severity</h2><div class=\"charts\"><figure><figcaption>Compliance rate per company, by month</figcaption>{}</figure><figure><figcaption>By severity</figcaption>{}</figure></div><figure><figcaption>Compliance rate per company, now</figcaption>{}</figure>",
        trend_chart(report),
        severity_chart(report),
        company_bars(report)
    );
    if let Some(c) = &report.comparison {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                esc(&v.join(", "))
            }
        };
        let _ = write!(
            h,
            "<h2 id=\"comparison\">Since {}</h2><ul><li>Improved: <span id=\"improved\">{}</span></li><li>Worsened: <span id=\"worsened\">{}</span></li><li>Most improved company: <b>{}</b>; most improved account: <b>{}</b></li><li>Lowest company: {}; lowest account: {}</li><li>New non-compliance: {}; resolved: {}</li></ul>",
            esc(&c.previous_period),
            list(&c.improved),
            list(&c.worsened),
            esc(c.most_improved_company.as_deref().unwrap_or("none")),
            esc(c.most_improved_account.as_deref().unwrap_or("none")),
            esc(c.lowest_company.as_deref().unwrap_or("none")),
            esc(c.lowest_account.as_deref().unwrap_or("none")),
            c.new_problems.len(),
            c.resolved_problems.len()
        );
        if !c.new_problems.is_empty() || !c.resolved_problems.is_empty() {
            h.push_str("<table><tr><th></th><th>Severity</th><th>Rule or control</th><th>Company</th><th>Account</th><th>Region</th><th>Resource</th></tr>");
            for (label, list) in [("new", &c.new_problems), ("resolved", &c.resolved_problems)] {
                for p in list.iter() {
                    let _ = write!(h, "<tr><td>{label}</td>{}</tr>", problem_cells(p, false));
                }
            }
            h.push_str("</table>");
        }
    }
    h.push_str("<h2>Companies</h2><table id=\"companies\"><tr><th>Company</th><th>Rate</th><th>Compliant</th><th>Non-compliant</th><th>Not applicable</th><th>Change</th><th>Accounts</th><th>Critical</th><th>High</th><th>Medium</th><th>Low</th></tr>");
    for c in &report.companies {
        let _ = write!(
            h,
            "<tr data-company=\"{}\"><td><a href=\"#company-{}\">{}</a></td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td>",
            esc(&c.name),
            esc(&c.name),
            esc(&c.name),
            tally_cells(&c.tally),
            esc(&company_change(report, &c.name).map(|x| delta(x.change)).unwrap_or_default()),
            c.accounts.len()
        );
        for s in ["CRITICAL", "HIGH", "MEDIUM", "LOW"] {
            let _ = write!(
                h,
                "<td class=\"num\">{}</td>",
                c.findings.get(s).copied().unwrap_or(0)
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    for c in &report.companies {
        let _ = write!(
            h,
            "<section class=\"company\" id=\"company-{}\" data-company=\"{}\"><h2>{} <span class=\"{}\">{}</span></h2><p class=\"muted\">OU {}</p>",
            esc(&c.name),
            esc(&c.name),
            esc(&c.name),
            rate_class(c.tally.rate),
            pct(c.tally.rate),
            esc(if c.ou.is_empty() { "(none)" } else { &c.ou })
        );
        h.push_str("<table><tr><th>Account</th><th>Id</th><th>OU</th><th>Rate</th><th>Compliant</th><th>Non-compliant</th><th>Not applicable</th><th>Change</th>");
        for r in &report.sources.regions {
            let _ = write!(
                h,
                "<th>{} <span class=\"muted\">GD·SH·Config·Trail</span></th>",
                esc(r)
            );
        }
        h.push_str("<th>Findings</th><th>Failed controls</th><th>SCPs in force</th></tr>");
        for a in &c.accounts {
            let _ = write!(
                h,
                "<tr data-account=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td>{}<td class=\"num\">{}</td>",
                esc(&a.name),
                esc(&a.name),
                esc(&a.id),
                esc(&a.ou),
                tally_cells(&a.tally),
                esc(&account_change(report, &a.name).map(|x| delta(x.change)).unwrap_or_default())
            );
            for r in &report.sources.regions {
                let cov = a.coverage.get(r).copied().unwrap_or_default();
                let cell = |b: bool| {
                    format!(
                        "<span class=\"{}\">{}</span>",
                        if b { "good" } else { "off" },
                        yes(b)
                    )
                };
                let _ = write!(
                    h,
                    "<td>{} · {} · {} · {} <span class=\"muted\">({})</span></td>",
                    cell(cov.guardduty),
                    cell(cov.security_hub),
                    cell(cov.config),
                    cell(cov.cloudtrail),
                    pct(a.regions.get(r).and_then(|t| t.rate))
                );
            }
            let findings: Vec<String> = SEVERITIES
                .iter()
                .filter_map(|s| {
                    a.findings
                        .get(*s)
                        .map(|n| format!("{n} {}", s.to_ascii_lowercase()))
                })
                .collect();
            let mut scps = String::new();
            for l in &a.guardrails.levels {
                let _ = write!(
                    scps,
                    "{} <code>{}</code>: {}<br>",
                    esc(&l.level),
                    esc(&l.name),
                    esc(&l.policies.join(", "))
                );
            }
            if !a.guardrails.denies.is_empty() {
                let _ = write!(
                    scps,
                    "<details><summary>denies</summary>{}</details>",
                    esc(&a.guardrails.denies.join("\n")).replace('\n', "<br>")
                );
            }
            let _ = write!(
                h,
                "<td>{}</td><td class=\"num\">{}</td><td>{scps}</td></tr>",
                esc(&findings.join(", ")),
                a.failed_controls
            );
        }
        h.push_str("</table></section>");
    }
    h.push_str("<h2>Config rules</h2><table id=\"rules\"><tr><th>Rule</th><th>Identifier</th><th>Scope</th><th>Severity</th><th>Rate</th><th>Compliant</th><th>Non-compliant</th><th>Not applicable</th><th>Non-compliant in</th></tr>");
    let mut rules: Vec<_> = report.rules.iter().collect();
    rules.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then(a.name.cmp(&b.name))
    });
    for r in rules {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            esc(&r.name),
            esc(r.identifier.as_deref().unwrap_or("")),
            esc(&r.scope),
            esc(&r.severity),
            tally_cells(&r.tally),
            esc(&r.non_compliant_accounts.join(", "))
        );
    }
    h.push_str("</table><h2>Security Hub</h2><table><tr><th>Failed control</th><th>Severity</th><th>Findings</th><th>Accounts</th></tr>");
    for f in &report.failed_controls {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&f.control),
            esc(&f.severity),
            f.findings,
            esc(&f.accounts.join(", "))
        );
    }
    h.push_str("</table>");
    if !report.problems.is_empty() {
        let _ = write!(h, "<h2>Non-compliant resources and failed controls ({})</h2><table><tr><th>Severity</th><th>Source</th><th>Rule or control</th><th>Company</th><th>Account</th><th>Region</th><th>Resource</th></tr>", report.problems.len());
        let mut problems: Vec<_> = report.problems.iter().collect();
        problems.sort_by(|a, b| {
            severity_rank(&a.severity)
                .cmp(&severity_rank(&b.severity))
                .then(a.cmp(b))
        });
        for p in problems {
            let _ = write!(h, "<tr>{}</tr>", problem_cells(p, true));
        }
        h.push_str("</table>");
    }
    if !report.sources.gaps.is_empty() {
        h.push_str("<h2>Gaps</h2><ul>");
        for g in &report.sources.gaps {
            let _ = write!(h, "<li>{}</li>", esc(g));
        }
        h.push_str("</ul>");
    }
    let _ = writeln!(
        h,
        "<p class=\"muted\">lzctl {} · report format {} v{}</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        report.format,
        report.version
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_changes() {
        assert_eq!(pct(Some(0.875)), "87.5%");
        assert_eq!(pct(None), "n/a");
        assert_eq!(delta(Some(0.125)), "+12.5 pt");
        assert_eq!(delta(Some(-0.03)), "-3.0 pt");
        assert_eq!(delta(Some(0.0)), "±0.0 pt");
        assert_eq!(
            esc("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
