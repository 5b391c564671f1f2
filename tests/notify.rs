//! `lzctl notify` against a local webhook listener: each new non-compliance
//! is sent once and its resolution once; nothing is sent twice across two
//! overlapping runs, or after a run is killed in the middle of sending;
//! medium problems wait for the digest; slack-api edits the original
//! message and replies in its thread.

use crate::common;
use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{landing_zone, Lz, CONFIG, OTHER};
use support::REGION;

const S3: &str = "s3-bucket-public-read-prohibited";
const MFA: &str = "root-account-mfa-enabled";
const RDS: &str = "rds-multi-az-support";

/// A webhook receiver on 127.0.0.1 that records every request.
struct Listener {
    url: String,
    /// (path, body) of every request, in arrival order.
    received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    /// Delay before answering, ms.
    delay_ms: Arc<AtomicU64>,
    /// Answer the Nth request (0-based) only after this long, ms.
    hold: Arc<Mutex<Option<(usize, u64)>>>,
}

impl Listener {
    fn start() -> Listener {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", socket.local_addr().unwrap().port());
        let received: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let hold: Arc<Mutex<Option<(usize, u64)>>> = Arc::default();
        let (r, d, h) = (received.clone(), delay_ms.clone(), hold.clone());
        std::thread::spawn(move || {
            for stream in socket.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, d, h) = (r.clone(), d.clone(), h.clone());
                std::thread::spawn(move || serve(stream, r, d, h));
            }
        });
        Listener {
            url,
            received,
            delay_ms,
            hold,
        }
    }

    fn texts(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

fn serve(
    stream: std::net::TcpStream,
    received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    delay: Arc<AtomicU64>,
    hold: Arc<Mutex<Option<(usize, u64)>>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let index = {
            let mut r = received.lock().unwrap();
            r.push((path.clone(), value));
            r.len() - 1
        };
        let mut wait = delay.load(Ordering::SeqCst);
        if let Some((n, ms)) = *hold.lock().unwrap() {
            if n == index {
                wait = ms;
            }
        }
        std::thread::sleep(Duration::from_millis(wait));
        let answer = if path.ends_with("/chat.postMessage") || path.ends_with("/chat.update") {
            format!("{{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1700000000.{index:06}\"}}")
        } else {
            "ok".to_string()
        };
        let _ = write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        let _ = writer.flush();
    }
}

fn notify_cmd(lz: &Lz, webhook: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lzctl"));
    cmd.current_dir(lz.dir())
        .args(["notify", "-c", CONFIG, "--webhook", webhook])
        .args(extra)
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !extra.contains(&"--state") {
        cmd.args(["--state", ".lzctl/notify.json"]);
    }
    for (k, v) in lz.emu.env() {
        cmd.env(k, v);
    }
    cmd
}

fn notify(lz: &Lz, webhook: &str, extra: &[&str]) -> std::process::Output {
    let out = notify_cmd(lz, webhook, extra).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    out
}

/// How many received messages name `resource` with `marker` in their text.
fn times(texts: &[String], marker: &str, resource: &str) -> usize {
    texts
        .iter()
        .filter(|t| t.contains(marker) && t.contains(&format!(" {resource}")))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_problem_and_resolution_is_sent_once_across_overlapping_and_crashed_runs() {
    let lz = landing_zone().await;
    let hook = Listener::start();

    // Round 1: two critical/high problems, a medium one (digest), a compliant one.
    lz.seed(&[
        (S3, "alpha-prod", REGION, "open-1", "NON_COMPLIANT"),
        (MFA, "beta-dev", REGION, "acct-bd", "NON_COMPLIANT"),
        (RDS, "gamma-prod", REGION, "db-1", "NON_COMPLIANT"),
        (S3, "gamma-prod", OTHER, "fine", "COMPLIANT"),
    ]);
    lz.findings(&[(
        "f-crit",
        "alpha-dev",
        OTHER,
        "CRITICAL",
        "",
        "i-123",
        "ACTIVE",
    )]);
    let out = notify(&lz, &hook.url, &[]);
    let texts = hook.texts();
    assert_eq!(texts.len(), 3, "{texts:#?}\n{}", support::text(&out));
    assert_eq!(times(&texts, "new non-compliance", "open-1"), 1);
    assert_eq!(times(&texts, "new non-compliance", "acct-bd"), 1);
    assert_eq!(times(&texts, "new non-compliance", "i-123"), 1);
    let s3 = texts.iter().find(|t| t.contains("open-1")).unwrap();
    assert!(
        s3.contains("*CRITICAL*")
            && s3.contains(S3)
            && s3.contains("alpha-prod")
            && s3.contains("company Alpha")
            && s3.contains(REGION),
        "{s3}"
    );
    // Again: nothing new.
    notify(&lz, &hook.url, &[]);
    assert_eq!(hook.count(), 3);
    // The digest carries the medium problem, once.
    notify(&lz, &hook.url, &["--flush-digest"]);
    notify(&lz, &hook.url, &["--flush-digest"]);
    let texts = hook.texts();
    assert_eq!(texts.len(), 4, "{texts:#?}");
    assert!(
        texts[3].contains("Compliance digest") && texts[3].contains("db-1"),
        "{}",
        texts[3]
    );

    // Round 2: two overlapping runs, six new problems, a slow webhook.
    let new: Vec<String> = (1..=6).map(|i| format!("overlap-{i}")).collect();
    let seeds: Vec<(&str, &str, &str, &str, &str)> = new
        .iter()
        .map(|r| (S3, "beta-prod", REGION, r.as_str(), "NON_COMPLIANT"))
        .collect();
    lz.seed(&seeds);
    hook.delay_ms.store(600, Ordering::SeqCst);
    let a = notify_cmd(&lz, &hook.url, &[]).spawn().unwrap();
    let b = notify_cmd(&lz, &hook.url, &[]).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        support::text(&a),
        support::text(&b)
    );
    let texts = hook.texts();
    for r in &new {
        assert_eq!(
            times(&texts, "new non-compliance", r),
            1,
            "{r} sent {} times",
            times(&texts, "new non-compliance", r)
        );
    }
    assert_eq!(texts.len(), 4 + 6);
    // Both runs were sending at the same time: each sent some, neither all.
    let sent = |o: &std::process::Output| -> usize {
        let text = String::from_utf8_lossy(&o.stdout);
        let after = text.split("sent ").nth(1).unwrap_or_default();
        after
            .split(' ')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0)
    };
    assert!(
        sent(&a) > 0 && sent(&b) > 0 && sent(&a) + sent(&b) == 6,
        "the runs did not share the work:\n{}\n{}",
        support::text(&a),
        support::text(&b)
    );

    // Round 3: a run killed while the webhook holds its second message.
    hook.delay_ms.store(0, Ordering::SeqCst);
    let crash: Vec<String> = (1..=4).map(|i| format!("crash-{i}")).collect();
    let seeds: Vec<(&str, &str, &str, &str, &str)> = crash
        .iter()
        .map(|r| (S3, "gamma-prod", REGION, r.as_str(), "NON_COMPLIANT"))
        .collect();
    lz.seed(&seeds);
    let before = hook.count();
    *hook.hold.lock().unwrap() = Some((before + 1, 60_000));
    let mut child = notify_cmd(&lz, &hook.url, &[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while hook.count() < before + 2 {
        assert!(
            Instant::now() < deadline,
            "the run did not reach its second message"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the crash"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, the claim stays
    child.wait().unwrap();
    *hook.hold.lock().unwrap() = None;
    let after = notify(&lz, &hook.url, &[]);
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("not sent again"),
        "{}",
        support::text(&after)
    );
    let texts = hook.texts();
    for r in &crash {
        assert_eq!(times(&texts, "new non-compliance", r), 1, "{r}: {texts:#?}");
    }
    assert_eq!(texts.len(), before + 4);

    // Round 4: everything resolved: one resolution per sent problem, once.
    let mut fixed: Vec<(&str, &str, &str, &str, &str)> = vec![
        (S3, "alpha-prod", REGION, "open-1", "COMPLIANT"),
        (MFA, "beta-dev", REGION, "acct-bd", "COMPLIANT"),
        (RDS, "gamma-prod", REGION, "db-1", "COMPLIANT"),
    ];
    fixed.extend(
        new.iter()
            .map(|r| (S3, "beta-prod", REGION, r.as_str(), "COMPLIANT")),
    );
    fixed.extend(
        crash
            .iter()
            .map(|r| (S3, "gamma-prod", REGION, r.as_str(), "COMPLIANT")),
    );
    lz.seed(&fixed);
    lz.findings(&[(
        "f-crit",
        "alpha-dev",
        OTHER,
        "CRITICAL",
        "",
        "i-123",
        "ARCHIVED",
    )]);
    let before = hook.count();
    notify(&lz, &hook.url, &[]);
    notify(&lz, &hook.url, &[]);
    let texts = hook.texts();
    let resolved = &texts[before..];
    for r in ["open-1", "acct-bd", "i-123"]
        .iter()
        .map(|s| s.to_string())
        .chain(new.clone())
        .chain(crash.clone())
    {
        assert_eq!(
            times(resolved, "Resolved", &r),
            1,
            "resolution of {r}: {resolved:#?}"
        );
    }
    assert_eq!(resolved.len(), 3 + 6 + 4, "{resolved:#?}");
    // The medium problem's resolution goes to the digest.
    notify(&lz, &hook.url, &["--flush-digest"]);
    let last = hook.texts().last().unwrap().clone();
    assert!(
        last.contains("Compliance digest")
            && last.contains("resolved medium")
            && last.contains("db-1"),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_api_edits_the_original_message_and_replies_in_its_thread() {
    let lz = landing_zone().await;
    let hook = Listener::start();
    lz.seed(&[(S3, "alpha-prod", REGION, "api-1", "NON_COMPLIANT")]);
    let api = ["--webhook-kind", "slack-api", "--channel", "C1"];
    let mut cmd = notify_cmd(&lz, &hook.url, &api);
    cmd.env("SLACK_BOT_TOKEN", "xoxb-test");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", support::text(&out));
    lz.seed(&[(S3, "alpha-prod", REGION, "api-1", "COMPLIANT")]);
    let mut cmd = notify_cmd(&lz, &hook.url, &api);
    cmd.env("SLACK_BOT_TOKEN", "xoxb-test");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", support::text(&out));
    let got = hook.received.lock().unwrap().clone();
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec!["/chat.postMessage", "/chat.update", "/chat.postMessage"]
    );
    let ts = "1700000000.000000";
    assert_eq!(got[1].1["ts"], ts, "the edit names the original message");
    assert!(got[1].1["text"].as_str().unwrap().contains("resolved"));
    assert_eq!(got[2].1["thread_ts"], ts, "the reply is in its thread");
    assert_eq!(got[0].1["channel"], "C1");
    // Without a token it refuses before reading anything.
    let out = notify_cmd(&lz, &hook.url, &api)
        .env_remove("SLACK_BOT_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SLACK_BOT_TOKEN"));
}

#[tokio::test(flavor = "multi_thread")]
async fn state_in_s3_with_conditional_writes_keeps_overlapping_runs_from_sending_twice() {
    let lz = landing_zone().await;
    let s3 = support::create_bucket(&lz.emu, "ccoe-notify").await;
    let hook = Listener::start();
    let names: Vec<String> = (1..=5).map(|i| format!("s3state-{i}")).collect();
    let seeds: Vec<(&str, &str, &str, &str, &str)> = names
        .iter()
        .map(|r| (S3, "alpha-dev", REGION, r.as_str(), "NON_COMPLIANT"))
        .collect();
    lz.seed(&seeds);
    hook.delay_ms.store(400, Ordering::SeqCst);
    let state = ["--state", "s3://ccoe-notify/notify/state.json"];
    lz.emu.clear_log();
    let runs: Vec<_> = (0..3)
        .map(|_| notify_cmd(&lz, &hook.url, &state).spawn().unwrap())
        .collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", support::text(&out));
    }
    let texts = hook.texts();
    for r in &names {
        assert_eq!(times(&texts, "new non-compliance", r), 1, "{r}: {texts:#?}");
    }
    assert_eq!(texts.len(), 5);
    // Every state write was conditional, and the races were refused by S3.
    let puts: Vec<serde_json::Value> = lz
        .emu
        .log()
        .into_iter()
        .filter(|e| {
            e["service"] == "s3"
                && e["operation"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("PUT") || o == "PutObject")
        })
        .collect();
    assert!(puts.len() >= 10, "claims and confirmations: {puts:#?}");
    // The state object holds the five problems as sent.
    let obj = s3
        .get_object()
        .bucket("ccoe-notify")
        .key("notify/state.json")
        .send()
        .await
        .unwrap();
    let body = obj.body.collect().await.unwrap().into_bytes();
    let stored: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stored["format"], "lzctl-notify-state");
    let sent = stored["problems"]
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["status"] == "sent")
        .count();
    assert_eq!(sent, 5);
    // Once more: nothing new.
    notify(&lz, &hook.url, &state);
    assert_eq!(hook.count(), 5);
}
