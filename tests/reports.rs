//! `lzctl report` against the emulator: with compliance and findings seeded
//! for two months, the JSON gives exactly the seeded rates per company and
//! account (computed here independently from the seeds), the comparison
//! names the improved and the worsened companies and the new and resolved
//! non-compliance; the HTML opens in headless Chromium with every company
//! and the charts (screenshot and DOM checked), Markdown renders as tables,
//! CSV has a row per account; calls stay per page, not per account.

use crate::common;
use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{landing_zone, Lz, CONFIG, OTHER};
use support::REGION;

const S3: &str = "s3-bucket-public-read-prohibited";
const MFA: &str = "root-account-mfa-enabled";
const RDS: &str = "rds-multi-az-support";

type Seed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// October: Alpha 2/5, Beta 4/4, Gamma 1/2.
const OCTOBER: &[Seed] = &[
    (S3, "alpha-prod", REGION, "b1", "NON_COMPLIANT"),
    (S3, "alpha-prod", REGION, "b2", "COMPLIANT"),
    (MFA, "alpha-prod", REGION, "acct-ap", "COMPLIANT"),
    (RDS, "alpha-prod", REGION, "db1", "NON_COMPLIANT"),
    (S3, "alpha-dev", OTHER, "b3", "COMPLIANT"),
    (MFA, "alpha-dev", REGION, "acct-ad", "NON_COMPLIANT"),
    (S3, "beta-prod", REGION, "bp1", "COMPLIANT"),
    (MFA, "beta-prod", REGION, "acct-bp", "COMPLIANT"),
    (RDS, "beta-prod", REGION, "db2", "COMPLIANT"),
    (S3, "beta-dev", REGION, "bd1", "COMPLIANT"),
    (MFA, "beta-dev", REGION, "acct-bd", "NOT_APPLICABLE"),
    (S3, "gamma-prod", REGION, "g1", "COMPLIANT"),
    (MFA, "gamma-prod", REGION, "acct-gp", "NON_COMPLIANT"),
];

/// November: the same resources; Alpha fixed everything, Beta's bucket went
/// public, Gamma did not change.
const NOVEMBER: &[Seed] = &[
    (S3, "alpha-prod", REGION, "b1", "COMPLIANT"),
    (RDS, "alpha-prod", REGION, "db1", "COMPLIANT"),
    (MFA, "alpha-dev", REGION, "acct-ad", "COMPLIANT"),
    (S3, "beta-prod", REGION, "bp1", "NON_COMPLIANT"),
];

/// The seeds in force after applying `months` in order (later results replace earlier ones).
fn in_force(months: &[&[Seed]]) -> Vec<Seed> {
    let mut by_key: BTreeMap<(&str, &str, &str, &str), Seed> = BTreeMap::new();
    for month in months {
        for s in month.iter() {
            by_key.insert((s.0, s.1, s.2, s.3), *s);
        }
    }
    by_key.into_values().collect()
}

/// The definition, implemented independently: per rule × account × region,
/// non-compliant if any resource is, compliant if any is (and none is not),
/// else left out; pooled per account. (compliant, non-compliant) by account.
fn expected(seeds: &[Seed]) -> BTreeMap<String, (u32, u32)> {
    let mut units: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
    for (rule, account, region, _, compliance) in seeds {
        units
            .entry((rule, account, region))
            .or_default()
            .push(compliance);
    }
    let mut out: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for ((_, account, _), values) in units {
        let e = out.entry(account.to_string()).or_default();
        if values.contains(&"NON_COMPLIANT") {
            e.1 += 1;
        } else if values.contains(&"COMPLIANT") {
            e.0 += 1;
        }
    }
    out
}

fn company(account: &str) -> &'static str {
    match account.split('-').next().unwrap() {
        "alpha" => "Alpha",
        "beta" => "Beta",
        "gamma" => "Gamma",
        _ => "(outside companies)",
    }
}

fn assert_rates(report: &serde_json::Value, seeds: &[Seed]) {
    let want = expected(seeds);
    let mut companies: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for (account, (c, n)) in &want {
        let e = companies.entry(company(account)).or_default();
        e.0 += c;
        e.1 += n;
    }
    let rate = |c: u32, n: u32| c as f64 / (c + n) as f64;
    for c in report["companies"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        for a in c["accounts"].as_array().unwrap() {
            let account = a["name"].as_str().unwrap();
            let (wc, wn) = want.get(account).copied().unwrap_or_default();
            assert_eq!(
                (
                    a["tally"]["compliant"].as_u64().unwrap() as u32,
                    a["tally"]["non_compliant"].as_u64().unwrap() as u32
                ),
                (wc, wn),
                "account {account}"
            );
            if wc + wn == 0 {
                assert!(
                    a["tally"]["rate"].is_null(),
                    "{account} has no evaluations, so no rate"
                );
            } else {
                assert!(
                    (a["tally"]["rate"].as_f64().unwrap() - rate(wc, wn)).abs() < 1e-9,
                    "{account}"
                );
            }
            assert_eq!(a["company"], name);
        }
        if let Some((wc, wn)) = companies.get(name) {
            assert!(
                (c["tally"]["rate"].as_f64().unwrap() - rate(*wc, *wn)).abs() < 1e-9,
                "company {name}: {} vs {}",
                c["tally"]["rate"],
                rate(*wc, *wn)
            );
        }
    }
}

fn report_json(lz: &Lz, period: &str, history: &Path) -> serde_json::Value {
    let out = lz.lzctl_ok(&[
        "report",
        "-c",
        CONFIG,
        "--format",
        "json",
        "--history",
        history.to_str().unwrap(),
        "--period",
        period,
        "--stats",
    ]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", support::text(&out)))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_months_of_reports_give_the_seeded_rates_and_name_the_improved_and_worsened() {
    let lz = landing_zone().await;
    let history = lz.dir().join("history");

    // October, plus what the aggregator still holds of a closed account: it
    // counts nowhere (not in the rules' tallies, not as a problem).
    let orgs = aws_sdk_organizations::Client::new(&lz.emu.sdk_config().await);
    let closed = support::create_account(&orgs, "closed-one", "aws+closed-one@example.com").await;
    orgs.close_account()
        .account_id(&closed)
        .send()
        .await
        .unwrap();
    lz.seed(OCTOBER);
    lz.emu.post_json(
        "/_lzemu/detective/compliance",
        serde_json::json!({"results": [{"rule": S3, "account": closed, "region": REGION,
            "resource_type": "AWS::S3::Bucket", "resource_id": "gone-bucket", "compliance": "NON_COMPLIANT"}]}),
    );
    let oct = report_json(&lz, "2026-10", &history);
    let gone: Vec<&serde_json::Value> = oct["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["account_id"] == closed.as_str())
        .collect();
    assert!(gone.is_empty(), "{gone:?}");
    let s3_rule = oct["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == S3)
        .unwrap();
    assert_eq!(s3_rule["tally"]["non_compliant"], 1, "{s3_rule}");
    assert_eq!(oct["format"], "lzctl-compliance-report");
    assert_eq!(oct["version"], 1);
    let names: Vec<&str> = oct["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Alpha", "Beta", "Gamma", "(outside companies)"]);
    assert_rates(&oct, &in_force(&[OCTOBER]));
    assert!(
        oct["comparison"].is_null(),
        "nothing to compare the first report with"
    );

    // November, with findings.
    lz.seed(NOVEMBER);
    lz.findings(&[
        (
            "f1",
            "alpha-prod",
            REGION,
            "CRITICAL",
            "S3.2",
            "b9",
            "ACTIVE",
        ),
        ("f2", "beta-dev", OTHER, "HIGH", "", "i-1", "ACTIVE"),
        (
            "f3",
            "gamma-prod",
            REGION,
            "MEDIUM",
            "IAM.6",
            "acct",
            "ARCHIVED",
        ),
    ]);
    lz.emu.clear_log();
    let nov = report_json(&lz, "2026-11", &history);
    assert_rates(&nov, &in_force(&[OCTOBER, NOVEMBER]));
    let c = &nov["comparison"];
    assert_eq!(c["previous_period"], "2026-10");
    assert_eq!(c["improved"], serde_json::json!(["Alpha"]));
    assert_eq!(c["worsened"], serde_json::json!(["Beta"]));
    assert_eq!(c["most_improved_company"], "Alpha");
    assert_eq!(c["lowest_company"], "Gamma");
    let alpha = c["companies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Alpha")
        .unwrap();
    assert!((alpha["change"].as_f64().unwrap() - (1.0 - 0.4)).abs() < 1e-9);
    let keys = |v: &serde_json::Value| -> BTreeSet<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["source"] == "config")
            .map(|p| {
                (
                    p["account"].as_str().unwrap().to_string(),
                    p["resource_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        keys(&c["new_problems"]),
        [("beta-prod".to_string(), "bp1".to_string())].into()
    );
    assert_eq!(
        keys(&c["resolved_problems"]),
        [
            ("alpha-dev", "acct-ad"),
            ("alpha-prod", "b1"),
            ("alpha-prod", "db1")
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    );
    // Non-compliance carries the rule's scope and severity from the file.
    let bp1 = c["new_problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["resource_id"] == "bp1")
        .unwrap();
    assert_eq!(
        (
            bp1["rule"].as_str(),
            bp1["severity"].as_str(),
            bp1["company"].as_str()
        ),
        (Some(S3), Some("critical"), Some("Beta"))
    );
    let rules: BTreeMap<&str, &serde_json::Value> = nov["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r))
        .collect();
    assert_eq!(
        (
            rules[RDS]["scope"].as_str(),
            rules[RDS]["severity"].as_str()
        ),
        (Some("production"), Some("medium"))
    );
    assert_eq!(
        rules[S3]["non_compliant_accounts"],
        serde_json::json!(["beta-prod"])
    );

    // Security Hub: active findings by severity (archived left out), failed controls.
    assert_eq!(
        nov["findings"],
        serde_json::json!({"CRITICAL": 1, "HIGH": 1})
    );
    assert_eq!(nov["failed_controls"][0]["control"], "S3.2");
    assert_eq!(
        nov["failed_controls"][0]["accounts"],
        serde_json::json!(["alpha-prod"])
    );

    // Coverage and guardrails of one account.
    let accounts: BTreeMap<&str, &serde_json::Value> = nov["companies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["accounts"].as_array().unwrap())
        .map(|a| (a["name"].as_str().unwrap(), a))
        .collect();
    let ap = accounts["alpha-prod"];
    assert_eq!(
        ap["coverage"][REGION],
        serde_json::json!({"guardduty": true, "security_hub": true, "config": true, "cloudtrail": false})
    );
    assert_eq!(
        ap["coverage"][OTHER]["config"], false,
        "no evaluations from alpha-prod in {OTHER}"
    );
    assert_eq!(accounts["alpha-dev"]["coverage"][OTHER]["config"], true);
    assert_eq!(
        accounts["audit"]["coverage"][REGION]["guardduty"], true,
        "the administrator counts"
    );
    let companies_level = ap["guardrails"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Companies")
        .unwrap();
    let scps: BTreeSet<&str> = companies_level["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        scps.contains("deny-leave-organization") && scps.contains("region-restriction"),
        "{scps:?}"
    );
    assert!(
        ap["guardrails"]["denies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().starts_with("Regions denied")),
        "{}",
        ap["guardrails"]
    );

    // The trend holds both months; history keeps both reports.
    let periods: Vec<&str> = nov["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, vec!["2026-10", "2026-11"]);
    let kept: Vec<String> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");

    // Reading is through the aggregators: no call per account, none mutating.
    let log = lz.emu.log();
    assert!(
        log.iter().all(|e| e["mutating"] == false),
        "report made a mutating call"
    );
    let count = |op: &str| log.iter().filter(|e| e["operation"] == op).count();
    // One listing and one query per region (read concurrently), whatever the
    // number of accounts and rules; one GetFindings in the aggregation region.
    assert_eq!(count("DescribeAggregateComplianceByConfigRules"), 2);
    assert_eq!(count("SelectAggregateResourceConfig"), 2);
    assert_eq!(count("GetFindings"), 1);
    assert_eq!(count("GetAggregateComplianceDetailsByConfigRule"), 0);

    // Markdown renders as tables.
    let md = lz.lzctl_ok(&[
        "report",
        "-c",
        CONFIG,
        "--format",
        "markdown",
        "--history",
        history.to_str().unwrap(),
        "--no-save",
        "--period",
        "2026-11",
    ]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("| Company | Rate | Change |"), "{md}");
    assert!(md.lines().any(|l| l.starts_with("|---|---:|")), "{md}");
    assert!(md.contains("| Alpha | 100.0% | +60.0 pt |"), "{md}");
    assert!(md.contains("| Beta | 75.0% | -25.0 pt |"), "{md}");
    assert!(md.contains("| Gamma | 50.0% | ±0.0 pt |"), "{md}");
    assert!(
        md.contains("- Improved: Alpha") && md.contains("- Worsened: Beta"),
        "{md}"
    );

    // CSV: a row per account.
    let csv = lz.lzctl_ok(&["report", "-c", CONFIG, "--format", "csv"]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("period,company,account,account_id"));
    assert_eq!(rows.len(), 1 + accounts.len());
    assert!(
        rows.iter()
            .any(|r| r.contains(",Beta,beta-prod,") && r.contains(",2,1,")),
        "{csv}"
    );

    // --post: a short summary to a Slack-compatible webhook.
    let (url, got) = one_request_listener();
    lz.lzctl_ok(&[
        "report",
        "-c",
        CONFIG,
        "--format",
        "json",
        "--out",
        lz.dir().join("out/r.json").to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
        "--no-save",
        "--period",
        "2026-11",
        "--post",
        &url,
    ]);
    let posted = got
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the summary was posted");
    let text = posted["text"].as_str().unwrap();
    assert!(
        text.contains("Compliance report 2026-11") && text.contains("81.8%"),
        "{text}"
    );
    assert!(
        text.contains("Most improved: *Alpha* (+60.0 pt)") && text.contains("Worsened: Beta"),
        "{text}"
    );
    assert!(
        text.contains("Highest compliance: *Alpha*") && text.contains("Lowest: Gamma"),
        "{text}"
    );
    assert_eq!(posted["blocks"][0]["type"], "section");

    // HTML in headless Chromium.
    let html_path = lz.dir().join("out/report.html");
    lz.lzctl_ok(&[
        "report",
        "-c",
        CONFIG,
        "--format",
        "html",
        "--out",
        html_path.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
        "--no-save",
        "--period",
        "2026-11",
    ]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("src=") && !html.contains("href=\"http") && !html.contains("url("),
        "nothing fetched"
    );
    check_in_chromium(&html_path, &["Alpha", "Beta", "Gamma"]);
}

/// Headless Chromium: a screenshot (decoded and checked not blank) and the
/// DOM (every company's section and the charts). Without Chromium the test
/// is skipped loudly, except in CI (CI=true), where it fails.
fn check_in_chromium(html: &Path, companies: &[&str]) {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|c| which(c))
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("Chromium is not installed; .ci/run installs it (apt-get install -y chromium)");
        }
        eprintln!("\n!!!!!!!! SKIPPED: headless Chromium check of the HTML report: chromium is not installed (apt-get install -y chromium) !!!!!!!!\n");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let png = html.with_extension("png");
    let url = format!("file://{}", html.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-sync",
        "--disable-component-update",
        "--hide-scrollbars",
    ];
    let run = |extra: &[String]| {
        let out = std::process::Command::new(&chromium)
            .args(common)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(out.status.success(), "chromium: {}", support::text(&out));
        out
    };
    run(&[
        format!("--screenshot={}", png.display()),
        "--window-size=1280,1600".into(),
    ]);
    let (width, height, inked, colours) =
        png_stats(&std::fs::read(&png).expect("screenshot written"));
    assert_eq!((width, height), (1280, 1600));
    // Text, tables and coloured charts: a blank page has no ink and one colour.
    assert!(
        inked > 0.02 && colours > 20,
        "the screenshot looks blank: {:.1}% of pixels inked, {colours} colours",
        inked * 100.0
    );
    eprintln!("screenshot: {:.1}% inked, {colours} colours", inked * 100.0);
    // LZCTL_KEEP_SCREENSHOT=dir keeps the page and its screenshot to look at.
    if let Some(keep) = std::env::var_os("LZCTL_KEEP_SCREENSHOT") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&png, keep.join("report.png")).unwrap();
        std::fs::copy(html, keep.join("report.html")).unwrap();
    }
    let dom = String::from_utf8(run(&["--dump-dom".into()]).stdout).unwrap();
    for c in companies {
        assert!(
            dom.contains(&format!("<section class=\"company\" id=\"company-{c}\"")),
            "company {c} not in the DOM"
        );
        assert!(
            dom.contains(&format!("<tr data-company=\"{c}\">")),
            "company {c} not in the table"
        );
    }
    for chart in ["trend-chart", "severity-chart", "company-chart"] {
        assert!(
            dom.contains(&format!("<svg id=\"{chart}\"")),
            "{chart} missing"
        );
    }
    assert!(
        dom.contains("<polyline"),
        "the trend has a line for two months"
    );
}

/// A webhook on 127.0.0.1 that takes one POST, answers `ok` and hands over its JSON body.
fn one_request_listener() -> (String, std::sync::mpsc::Receiver<serde_json::Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/services/T/B/x",
        socket.local_addr().unwrap().port()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = socket.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        tx.send(serde_json::from_slice(&body).unwrap()).unwrap();
    });
    (url, rx)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// (width, height, share of pixels that are not white, distinct colours)
/// of an 8-bit RGB or RGBA PNG, decoded (inflate, then the row filters).
fn png_stats(png: &[u8]) -> (u32, u32, f64, usize) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let mut pos = 8;
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut idat = Vec::new();
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        if kind == b"IHDR" {
            width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
            height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
            assert_eq!(data[8], 8, "8-bit samples");
            channels = match data[9] {
                2 => 3,
                6 => 4,
                other => panic!("colour type {other}"),
            };
        } else if kind == b"IDAT" {
            idat.extend_from_slice(data);
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    use std::io::Read;
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = width * channels;
    let mut image = vec![0u8; stride * height];
    let paeth = |a: i32, b: i32, c: i32| {
        let p = a + b - c;
        let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    };
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels {
                image[y * stride + x - channels] as i32
            } else {
                0
            };
            let b = if y > 0 {
                image[(y - 1) * stride + x] as i32
            } else {
                0
            };
            let c = if x >= channels && y > 0 {
                image[(y - 1) * stride + x - channels] as i32
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => paeth(a, b, c),
                f => panic!("filter {f}"),
            };
            image[y * stride + x] = (line[x] as i32 + predicted) as u8;
        }
    }
    let mut colours = std::collections::BTreeSet::new();
    let mut inked = 0usize;
    for px in image.chunks(channels) {
        if (px[0] as u32 + px[1] as u32 + px[2] as u32) < 3 * 235 {
            inked += 1;
        }
        colours.insert((px[0] >> 3, px[1] >> 3, px[2] >> 3));
    }
    (
        width as u32,
        height as u32,
        inked as f64 / (width * height) as f64,
        colours.len(),
    )
}
