//! `lzctl evidence` against the emulator: it lists every audited change of
//! the applies made earlier in the test (who, when, what, request id, plan),
//! the guardrails with since when, coverage and compliance, each section
//! with a digest that matches its content; an edited audit log is detected;
//! an audit log and report history kept under S3 prefixes work the same.

use crate::common;
use crate::support;

use std::collections::BTreeSet;

use common::{landing_zone, CONFIG};
use support::REGION;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn change_keys(records: &[serde_json::Value]) -> BTreeSet<(String, String, String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["time"].as_str().unwrap().to_string(),
                r["operation"].as_str().unwrap().to_string(),
                r["address"].as_str().unwrap().to_string(),
                r["request_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_lists_every_audited_change_with_digests_and_detects_edits() {
    let lz = landing_zone().await;
    let log_path = lz.dir().join(".lzctl/audit.jsonl");

    // A second apply: one more attachment.
    let config = lz.dir().join(CONFIG);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen(
        "    targets: [Companies]\n  region-restriction:",
        "    targets: [Companies, Security]\n  region-restriction:",
        1,
    );
    std::fs::write(&config, text).unwrap();
    lz.lzctl_ok(&["apply", "-c", CONFIG, "--auto-approve"]);
    lz.seed(&[(
        "s3-bucket-public-read-prohibited",
        "alpha-prod",
        REGION,
        "b1",
        "NON_COMPLIANT",
    )]);

    let audited = lines(&log_path);
    assert!(
        audited.len() > 10,
        "the applies were audited: {}",
        audited.len()
    );
    let out = lz.lzctl_ok(&["evidence", "-c", CONFIG, "--format", "json"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (e["format"].as_str(), e["version"].as_u64()),
        (Some("lzctl-evidence"), Some(1))
    );
    let section = |id: &str| {
        e["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };

    // Every audited change, with who, when, what, request id and plan.
    let changes = section("changes");
    let listed = changes["content"]["changes"].as_array().unwrap().clone();
    assert_eq!(listed.len(), audited.len());
    assert_eq!(change_keys(&listed), change_keys(&audited));
    for c in &listed {
        assert!(c["caller"].as_str().unwrap().starts_with("arn:aws:"), "{c}");
        assert_eq!(
            c["plan"].as_str().map(str::len),
            Some(64),
            "plan digest on {c}"
        );
    }
    let plans: BTreeSet<&str> = listed.iter().map(|c| c["plan"].as_str().unwrap()).collect();
    assert_eq!(plans.len(), 2, "two applies, two plans");

    // The chain is intact; the head is the last line's digest.
    let chain = &e["audit_log"]["chain"];
    assert_eq!(chain["broken"], serde_json::json!([]));
    assert_eq!(
        chain["chained"].as_u64().unwrap() as usize,
        audited.len() - 1
    );
    let raw = std::fs::read_to_string(&log_path).unwrap();
    let last = raw.lines().last().unwrap();
    assert_eq!(
        chain["head"].as_str().unwrap(),
        lzctl::digest::sha256_hex(last.as_bytes())
    );
    assert!(e["audit_log"]["protection"]
        .as_str()
        .unwrap()
        .contains("hash chain"));

    // Guardrails and since when: the new attachment's time is its AttachPolicy.
    let guardrails = section("guardrails");
    let policy = guardrails["content"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "deny-leave-organization")
        .unwrap()
        .clone();
    let security = policy["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "Security")
        .unwrap()
        .clone();
    let attach = audited
        .iter()
        .find(|r| {
            r["address"] == "attachment:scp:deny-leave-organization@Security" && r["result"] == "ok"
        })
        .unwrap_or_else(|| panic!("no attachment record in {audited:#?}"));
    assert_eq!(security["since"], attach["time"]);
    assert_eq!(security["request_id"], attach["request_id"]);
    let full = guardrails["content"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "FullAWSAccess")
        .unwrap()
        .clone();
    assert_eq!(full["owner"], "AWS");

    // Coverage and compliance are there.
    let coverage = section("coverage");
    assert!(coverage["content"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["account"] == "alpha-prod"));
    let compliance = section("compliance");
    let alpha = compliance["content"]["now"]["companies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["company"] == "Alpha")
        .unwrap()
        .clone();
    assert_eq!(alpha["tally"]["rate"], "0.0%");

    // Each digest is the sha256 of its section's compact content; the
    // document digest covers them.
    let mut digests = Vec::new();
    for s in e["sections"].as_array().unwrap() {
        let compact = serde_json::to_string(&s["content"]).unwrap();
        assert_eq!(
            s["digest"].as_str().unwrap(),
            lzctl::digest::sha256_hex(compact.as_bytes()),
            "section {}",
            s["id"]
        );
        digests.push(s["digest"].as_str().unwrap().to_string());
    }
    assert_eq!(
        e["digest"].as_str().unwrap(),
        lzctl::digest::sha256_hex(digests.join("\n").as_bytes())
    );

    // HTML lists the same request ids.
    let html = lz.lzctl_ok(&["evidence", "-c", CONFIG, "--format", "html"]);
    let html = String::from_utf8(html.stdout).unwrap();
    for r in &audited {
        if let Some(id) = r["request_id"].as_str() {
            assert!(html.contains(id), "request id {id} missing from the HTML");
        }
    }
    assert!(
        html.contains("chain <span class=\"ok\">intact</span>"),
        "{html}"
    );
    // The page shows each section's digest (recomputed: the figures are the same).
    let guardrails_digest = section("guardrails")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        html.contains(&format!("sha256:{guardrails_digest}")),
        "{html}"
    );

    // An edited record breaks the chain at the next one.
    let edited = raw.replacen("\"result\":\"ok\"", "\"result\":\"okay\"", 1);
    std::fs::write(&log_path, edited).unwrap();
    let out = lz.lzctl_ok(&["evidence", "-c", CONFIG, "--format", "json"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        e["audit_log"]["chain"]["broken"].as_array().unwrap().len(),
        1
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("hash chain is broken"));
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_and_report_history_under_s3_prefixes() {
    let lz = landing_zone().await;
    let s3 = support::create_bucket(&lz.emu, "ccoe-records").await;
    // An apply whose audit log is an S3 prefix.
    let config = lz.dir().join(CONFIG);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen(
            "    targets: [Companies]\n  region-restriction:",
            "    targets: [Companies, Security]\n  region-restriction:",
            1,
        ),
    )
    .unwrap();
    lz.lzctl_ok(&[
        "apply",
        "-c",
        CONFIG,
        "--auto-approve",
        "--audit-log",
        "s3://ccoe-records/audit/",
    ]);
    let objects = s3
        .list_objects_v2()
        .bucket("ccoe-records")
        .prefix("audit/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "one new object per apply: {keys:?}");
    assert!(keys[0].starts_with("audit/audit-") && keys[0].ends_with(".jsonl"));
    assert!(
        !lz.dir()
            .join(".lzctl/audit-spool")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "the spool was shipped"
    );
    let out = lz.lzctl_ok(&[
        "evidence",
        "-c",
        CONFIG,
        "--format",
        "json",
        "--audit-log",
        "s3://ccoe-records/audit/",
    ]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = e["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "changes")
        .unwrap()["content"]["changes"]
        .clone();
    let ops: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, vec!["organizations:AttachPolicy"], "{changes}");
    assert!(changes[0]["source"]
        .as_str()
        .unwrap()
        .starts_with("s3://ccoe-records/audit/audit-"));
    assert_eq!(e["audit_log"]["chain"]["broken"], serde_json::json!([]));
    assert!(e["audit_log"]["protection"]
        .as_str()
        .unwrap()
        .contains("Object Lock"));

    // Report history in S3: kept as new objects, compared across months.
    for period in ["2026-10", "2026-11"] {
        lz.lzctl_ok(&[
            "report",
            "-c",
            CONFIG,
            "--format",
            "json",
            "--history",
            "s3://ccoe-records/reports",
            "--period",
            period,
        ]);
    }
    let out = lz.lzctl_ok(&[
        "report",
        "-c",
        CONFIG,
        "--format",
        "json",
        "--history",
        "s3://ccoe-records/reports",
        "--period",
        "2026-12",
        "--no-save",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["comparison"]["previous_period"], "2026-11");
    assert_eq!(r["trend"].as_array().unwrap().len(), 3);
    let kept = s3
        .list_objects_v2()
        .bucket("ccoe-records")
        .prefix("reports/")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.contents().len(), 2);
}
