//! Evidence for auditors over a period: the guardrails in force and since
//! when, the detective coverage, the compliance summary, and every change
//! lzctl made (from the audit log). Each section carries the sha256 of its
//! content (compact JSON, keys in the order written: what `jq -cj
//! '.sections[N].content'` prints), and the document the digest of the
//! section digests, so an edit to any figure shows.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::audit::{ChainCheck, ReadRecord};
use super::model::Report;
use super::render::{esc, pct};
use crate::model::{is_control_tower_policy, Address, OrgState, PolicyKind, Target};

/// The `format` of the evidence JSON.
pub const EVIDENCE_FORMAT: &str = "lzctl-evidence";
/// Its version.
pub const EVIDENCE_VERSION: u32 = 1;

/// One section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// `guardrails`, `coverage`, `compliance`, `changes`.
    pub id: String,
    /// Title.
    pub title: String,
    /// sha256 of `content` as compact JSON.
    pub digest: String,
    /// The content.
    pub content: Value,
}

impl Section {
    fn new(id: &str, title: &str, content: Value) -> Section {
        Section {
            id: id.into(),
            title: title.into(),
            digest: crate::digest::sha256_hex(
                serde_json::to_string(&content).expect("json").as_bytes(),
            ),
            content,
        }
    }
}

/// The evidence document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// [`EVIDENCE_FORMAT`].
    pub format: String,
    /// [`EVIDENCE_VERSION`].
    pub version: u32,
    /// When (RFC 3339).
    pub generated_at: String,
    /// First day (YYYY-MM-DD).
    pub from: String,
    /// Last day (YYYY-MM-DD).
    pub to: String,
    /// Organization id.
    pub organization: String,
    /// Management account.
    pub management_account: String,
    /// The audit log: where, how it is protected, the chain check.
    pub audit_log: Value,
    /// Sections.
    pub sections: Vec<Section>,
    /// sha256 of the section digests joined by newlines.
    pub digest: String,
}

/// Whether an RFC 3339 time falls in [from, to] (days, UTC).
fn in_period(time: &str, from: &str, to: &str) -> bool {
    let day = time.get(..10).unwrap_or("");
    day >= from && day <= to
}

fn owner(name: &str, aws_managed: bool, managed: bool) -> &'static str {
    if aws_managed {
        "AWS"
    } else if is_control_tower_policy(name) {
        "Control Tower"
    } else if managed {
        "lzctl"
    } else {
        "unmanaged"
    }
}

/// What evidence is built from.
pub struct EvidenceInput<'a> {
    /// The organization (every target listed).
    pub org: &'a OrgState,
    /// The current report.
    pub report: &'a Report,
    /// Kept reports.
    pub history: &'a [Report],
    /// Audit records.
    pub records: &'a [ReadRecord],
    /// The chain check.
    pub chain: &'a ChainCheck,
    /// Where the log is.
    pub audit_location: String,
    /// How it is protected.
    pub protection: String,
    /// Period.
    pub from: String,
    /// Period.
    pub to: String,
    /// Now.
    pub generated_at: String,
}

/// Builds the evidence.
/// The record that put `address` in force: the first successful audited
/// creation or attachment after the last successful detachment or deletion
/// (a policy detached and attached again is in force since the second
/// attachment). None when the audit log does not go back that far.
fn in_force_since<'r>(records: &'r [ReadRecord], address: &Address) -> Option<&'r ReadRecord> {
    let address = address.to_string();
    let ok: Vec<&ReadRecord> = records
        .iter()
        .filter(|r| r.address == address && r.result == "ok")
        .collect();
    let last_removal = ok
        .iter()
        .filter(|r| r.operation.contains("Detach") || r.operation.contains("Delete"))
        .map(|r| r.time.as_str())
        .max();
    ok.into_iter()
        .filter(|r| last_removal.is_none_or(|t| r.time.as_str() > t))
        .min_by(|a, b| a.time.cmp(&b.time))
}

pub fn build(input: &EvidenceInput<'_>) -> Evidence {
    let org = input.org;
    // Guardrails: every SCP and RCP with its targets, and since when.
    let since = |address: &Address| in_force_since(input.records, address);
    let mut guardrails = Vec::new();
    for (name, p) in &org.policies {
        if !matches!(p.kind, PolicyKind::Scp | PolicyKind::Rcp) {
            continue;
        }
        let kind = p.kind.short_name();
        let created = since(&Address::policy(p.kind, name));
        let mut targets = Vec::new();
        for t in &p.targets {
            let label = match t {
                Target::Root => "Root".to_string(),
                Target::Ou(path) => path.to_string(),
                Target::Account(a) => a.clone(),
            };
            let attached = since(&Address::attachment(p.kind, name, t)).or(created);
            targets.push(json!({
                "target": label,
                "since": attached.map(|r| r.time.clone()),
                "by": attached.map(|r| r.caller.clone()),
                "request_id": attached.and_then(|r| r.request_id.clone()),
            }));
        }
        guardrails.push(json!({
            "policy": name,
            "type": kind,
            "owner": owner(name, p.aws_managed, p.is_managed()),
            "description": p.description,
            "content_sha256": crate::digest::sha256_hex(p.content.as_bytes()),
            "since": created.map(|r| r.time.clone()),
            "targets": targets,
        }));
    }
    let guardrails = Section::new(
        "guardrails",
        "Guardrails in force (SCPs and RCPs) and since when",
        json!({
            "note": "`since` is the first successful lzctl change that created or attached the policy, from the audit log; null: in force before the audit log starts, or not made by lzctl",
            "policies": guardrails,
        }),
    );

    // Coverage, now.
    let report = input.report;
    let coverage: Vec<Value> = report
        .accounts()
        .map(|a| {
            let regions: BTreeMap<&String, Value> = a
                .coverage
                .iter()
                .map(|(r, c)| {
                    (
                        r,
                        json!({"guardduty": c.guardduty, "security_hub": c.security_hub, "config": c.config, "cloudtrail": c.cloudtrail}),
                    )
                })
                .collect();
            json!({"account": a.name, "id": a.id, "company": a.company, "regions": regions})
        })
        .collect();
    let coverage = Section::new(
        "coverage",
        "Detective coverage (now)",
        json!({"as_of": report.generated_at, "regions": report.sources.regions, "accounts": coverage}),
    );

    // Compliance: now, and the kept reports of the period.
    let tally = |t: &super::model::Tally| json!({"compliant": t.compliant, "non_compliant": t.non_compliant, "rate": pct(t.rate)});
    let summary = |r: &Report| {
        json!({
            "period": r.period,
            "generated_at": r.generated_at,
            "total": tally(&r.total),
            "companies": r.companies.iter().map(|c| json!({"company": c.name, "tally": tally(&c.tally)})).collect::<Vec<_>>(),
        })
    };
    let kept: Vec<Value> = input
        .history
        .iter()
        .filter(|r| in_period(&r.generated_at, &input.from, &input.to))
        .map(summary)
        .collect();
    let compliance = Section::new(
        "compliance",
        "Compliance summary",
        json!({
            "definition": report.definition,
            "now": summary(report),
            "accounts": report.accounts().map(|a| json!({"account": a.name, "id": a.id, "company": a.company, "tally": tally(&a.tally)})).collect::<Vec<_>>(),
            "rules": report.rules.iter().map(|r| json!({"rule": r.name, "scope": r.scope, "severity": r.severity, "tally": tally(&r.tally)})).collect::<Vec<_>>(),
            "findings_by_severity": report.findings,
            "reports_in_period": kept,
            "gaps": report.sources.gaps,
        }),
    );

    // Changes in the period.
    let changes: Vec<Value> = input
        .records
        .iter()
        .filter(|r| in_period(&r.time, &input.from, &input.to))
        .map(|r| {
            json!({
                "time": r.time, "caller": r.caller, "operation": r.operation, "address": r.address,
                "request_id": r.request_id, "result": r.result, "plan": r.plan,
                "source": format!("{}:{}", r.source, r.line),
            })
        })
        .collect();
    let plans: BTreeMap<String, usize> = input
        .records
        .iter()
        .filter(|r| in_period(&r.time, &input.from, &input.to))
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.plan.clone().unwrap_or_else(|| "(not recorded)".into()))
                .or_insert(0) += 1;
            m
        });
    let changes = Section::new(
        "changes",
        "Every change lzctl made in the period (audit log)",
        json!({"count": changes.len(), "plans": plans, "changes": changes}),
    );

    let sections = vec![guardrails, coverage, compliance, changes];
    let digest = crate::digest::sha256_hex(
        sections
            .iter()
            .map(|s| s.digest.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .as_bytes(),
    );
    Evidence {
        format: EVIDENCE_FORMAT.into(),
        version: EVIDENCE_VERSION,
        generated_at: input.generated_at.clone(),
        from: input.from.clone(),
        to: input.to.clone(),
        organization: report.organization.clone(),
        management_account: report.management_account.clone(),
        audit_log: json!({
            "location": input.audit_location,
            "protection": input.protection,
            "chain": input.chain,
        }),
        sections,
        digest,
    }
}

/// The JSON.
pub fn json(e: &Evidence) -> String {
    serde_json::to_string_pretty(e).expect("evidence serializes") + "\n"
}

fn table(rows: &[Value], columns: &[(&str, &str)]) -> String {
    let mut h = String::from("<table><tr>");
    for (_, title) in columns {
        let _ = write!(h, "<th>{}</th>", esc(title));
    }
    h.push_str("</tr>");
    for r in rows {
        h.push_str("<tr>");
        for (key, _) in columns {
            let v = &r[*key];
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let _ = write!(h, "<td>{}</td>", esc(&text));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    h
}

/// The self-contained HTML page.
pub fn html(e: &Evidence) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evidence {} to {}</title><style>body{{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#212529;max-width:1200px}}table{{border-collapse:collapse;font-size:13px;margin:8px 0 16px}}th,td{{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#f8f9fa}}code{{font-size:12px}}.digest{{font-family:monospace;font-size:12px;color:#495057}}.bad{{color:#c92a2a;font-weight:600}}.ok{{color:#2b8a3e;font-weight:600}}</style></head><body>",
        esc(&e.from),
        esc(&e.to)
    );
    let _ = write!(
        h,
        "<h1>Evidence {} to {}</h1><p>Organization <code>{}</code>, management account <code>{}</code>, generated {}.</p><p>Document digest <span class=\"digest\">sha256:{}</span> (sha256 of the section digests below, one per line). Each section's digest is the sha256 of its content in the JSON form of this evidence (<code>jq -cj '.sections[N].content'</code>).</p>",
        esc(&e.from),
        esc(&e.to),
        esc(&e.organization),
        esc(&e.management_account),
        esc(&e.generated_at),
        e.digest
    );
    let chain = &e.audit_log["chain"];
    let broken = chain["broken"].as_array().map(|b| b.len()).unwrap_or(0);
    let _ = write!(
        h,
        "<h2>Audit log</h2><p>{} · {}</p><p>{} record(s): {} chained, {} without a chain link; chain {}; head <span class=\"digest\">{}</span></p>",
        esc(e.audit_log["location"].as_str().unwrap_or("")),
        esc(e.audit_log["protection"].as_str().unwrap_or("")),
        chain["records"],
        chain["chained"],
        chain["unchained"],
        if broken == 0 { "<span class=\"ok\">intact</span>".to_string() } else { format!("<span class=\"bad\">BROKEN at {broken} place(s)</span>") },
        esc(chain["head"].as_str().unwrap_or("(empty)"))
    );
    for b in chain["broken"].as_array().into_iter().flatten() {
        let _ = write!(h, "<p class=\"bad\">{}</p>", esc(b.as_str().unwrap_or("")));
    }
    for s in &e.sections {
        let _ = write!(
            h,
            "<section id=\"{}\"><h2>{}</h2><p>Digest <span class=\"digest\">sha256:{}</span></p>",
            esc(&s.id),
            esc(&s.title),
            s.digest
        );
        let c = &s.content;
        match s.id.as_str() {
            "guardrails" => {
                let mut rows = Vec::new();
                for p in c["policies"].as_array().into_iter().flatten() {
                    for t in p["targets"].as_array().into_iter().flatten() {
                        rows.push(json!({"policy": p["policy"], "type": p["type"], "owner": p["owner"], "target": t["target"], "since": t["since"], "by": t["by"], "request_id": t["request_id"]}));
                    }
                }
                let _ = write!(h, "<p>{}</p>", esc(c["note"].as_str().unwrap_or("")));
                h.push_str(&table(
                    &rows,
                    &[
                        ("policy", "Policy"),
                        ("type", "Type"),
                        ("owner", "Owner"),
                        ("target", "Target"),
                        ("since", "In force since"),
                        ("by", "Attached by"),
                        ("request_id", "Request id"),
                    ],
                ));
            }
            "coverage" => {
                let mut rows = Vec::new();
                for a in c["accounts"].as_array().into_iter().flatten() {
                    for (region, cov) in a["regions"].as_object().into_iter().flatten() {
                        let on = |k: &str| {
                            if cov[k].as_bool() == Some(true) {
                                "on"
                            } else {
                                "OFF"
                            }
                        };
                        rows.push(json!({"company": a["company"], "account": a["account"], "id": a["id"], "region": region, "guardduty": on("guardduty"), "security_hub": on("security_hub"), "config": on("config"), "cloudtrail": on("cloudtrail")}));
                    }
                }
                h.push_str(&table(
                    &rows,
                    &[
                        ("company", "Company"),
                        ("account", "Account"),
                        ("id", "Id"),
                        ("region", "Region"),
                        ("guardduty", "GuardDuty"),
                        ("security_hub", "Security Hub"),
                        ("config", "Config"),
                        ("cloudtrail", "CloudTrail"),
                    ],
                ));
            }
            "compliance" => {
                let _ = write!(h, "<p>{}.</p>", esc(c["definition"].as_str().unwrap_or("")));
                let now = &c["now"];
                let _ = write!(
                    h,
                    "<p>Now ({}): {}</p>",
                    esc(now["generated_at"].as_str().unwrap_or("")),
                    esc(now["total"]["rate"].as_str().unwrap_or(""))
                );
                let rows: Vec<Value> = now["companies"].as_array().into_iter().flatten().map(|x| json!({"company": x["company"], "rate": x["tally"]["rate"], "compliant": x["tally"]["compliant"], "non_compliant": x["tally"]["non_compliant"]})).collect();
                h.push_str(&table(
                    &rows,
                    &[
                        ("company", "Company"),
                        ("rate", "Rate"),
                        ("compliant", "Compliant"),
                        ("non_compliant", "Non-compliant"),
                    ],
                ));
                let kept: Vec<Value> = c["reports_in_period"].as_array().into_iter().flatten().map(|r| json!({"period": r["period"], "generated_at": r["generated_at"], "rate": r["total"]["rate"]})).collect();
                if !kept.is_empty() {
                    h.push_str("<p>Reports kept in the period:</p>");
                    h.push_str(&table(
                        &kept,
                        &[
                            ("period", "Period"),
                            ("generated_at", "Generated"),
                            ("rate", "Rate"),
                        ],
                    ));
                }
            }
            "changes" => {
                let _ = write!(h, "<p>{} change(s).</p>", c["count"]);
                let rows: Vec<Value> = c["changes"].as_array().cloned().unwrap_or_default();
                h.push_str(&table(
                    &rows,
                    &[
                        ("time", "Time"),
                        ("caller", "Who"),
                        ("operation", "Operation"),
                        ("address", "What"),
                        ("request_id", "Request id"),
                        ("result", "Result"),
                        ("plan", "Plan (sha256)"),
                    ],
                ));
            }
            _ => {}
        }
        h.push_str("</section>");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: &str, address: &Address, operation: &str) -> ReadRecord {
        ReadRecord {
            source: "audit.jsonl".into(),
            line: 1,
            time: time.into(),
            caller: "arn:aws:iam::123456789012:role/ccoe".into(),
            address: address.to_string(),
            operation: operation.into(),
            request_id: Some(format!("req-{time}")),
            result: "ok".into(),
            plan: None,
            details: None,
        }
    }

    #[test]
    fn an_account_attachment_is_found_and_a_reattachment_counts_from_its_second_time() {
        let account = Target::Account("sj-billing@prod".into());
        let address = Address::attachment(PolicyKind::Scp, "deny-root", &account);
        let other = Address::attachment(PolicyKind::Scp, "deny-root", &Target::Root);
        let records = vec![
            record(
                "2026-01-01T00:00:00.000Z",
                &address,
                "organizations:AttachPolicy",
            ),
            record(
                "2026-02-01T00:00:00.000Z",
                &other,
                "organizations:AttachPolicy",
            ),
            record(
                "2026-03-01T00:00:00.000Z",
                &address,
                "organizations:DetachPolicy",
            ),
            record(
                "2026-04-01T00:00:00.000Z",
                &address,
                "organizations:AttachPolicy",
            ),
        ];
        let since = in_force_since(&records, &address).expect("found");
        assert_eq!(since.time, "2026-04-01T00:00:00.000Z");
        assert_eq!(
            in_force_since(&records[..1], &address).map(|r| r.time.as_str()),
            Some("2026-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn periods_compare_by_day() {
        assert!(in_period(
            "2026-11-01T00:00:00Z",
            "2026-11-01",
            "2026-11-30"
        ));
        assert!(in_period(
            "2026-11-30T23:59:59.999Z",
            "2026-11-01",
            "2026-11-30"
        ));
        assert!(!in_period(
            "2026-12-01T00:00:00Z",
            "2026-11-01",
            "2026-11-30"
        ));
    }

    #[test]
    fn a_section_digest_is_the_sha256_of_its_compact_content() {
        let s = Section::new("x", "X", json!({"b": 1, "a": [true, "é"]}));
        let compact = r#"{"b":1,"a":[true,"é"]}"#;
        assert_eq!(s.digest, crate::digest::sha256_hex(compact.as_bytes()));
    }
}
