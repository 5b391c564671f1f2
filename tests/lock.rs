//! The apply lock end to end: the real lzctl binary against the emulator's
//! S3 (conditional writes) and Organizations, checked with the request log.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use lzctl::apply::audit::AuditLog;
use lzctl::lock::{HeldLock, LockError, LockLocation, LockOptions, LockOwner};
use support::{create_bucket, create_organization, text, workspace, Emulator};

const BUCKET: &str = "lzctl-state";
const LOCK: &str = "s3://lzctl-state/landing-zone.lock";

/// A config creating the OUs `names` under `Teams`, with the lock configured.
fn config(dir: &Path, file: &str, names: &[&str]) -> String {
    let children: Vec<String> = names.iter().map(|n| format!("      {n}: {{}}")).collect();
    let yaml = format!(
        "version: 1
organization:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1]
  management_account: \"123456789012\"
  control_tower: absent
  lock: {LOCK}
organizational_units:
  Teams:
    children:
{}
",
        children.join("\n")
    );
    std::fs::write(dir.join(file), yaml).unwrap();
    file.to_string()
}

async fn setup(emu: &Emulator) -> aws_sdk_s3::Client {
    create_organization(emu).await;
    bucket(emu).await
}

/// An emulator whose OU creation is slow, so that two unlocked applies
/// would overlap; the organization and the lock's bucket made.
async fn slow_ou_creation() -> Emulator {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": false,
        "hold_ms": {"organizations:CreateOrganizationalUnit": 250}
    }));
    setup(&emu).await;
    emu
}

/// The lock's bucket, and a client of it.
async fn bucket(emu: &Emulator) -> aws_sdk_s3::Client {
    create_bucket(emu, BUCKET).await
}

/// Starts `lzctl apply` of `file` that waits up to 120 s for the lock,
/// auditing to `audit_log`.
fn spawn_apply(emu: &Emulator, dir: &Path, file: &str, audit_log: &str) -> std::process::Child {
    let args = [
        "apply",
        "-c",
        file,
        "--auto-approve",
        "--lock-timeout",
        "120s",
        "--audit-log",
        audit_log,
    ];
    emu.spawn_lzctl(dir, &args)
}

/// The log entries of calls on the lock object and of Organizations mutations.
fn lock_and_org_calls(emu: &Emulator) -> Vec<(String, i64)> {
    emu.log()
        .into_iter()
        .filter_map(|e| {
            let service = e["service"].as_str().unwrap_or_default().to_string();
            let op = e["operation"].as_str().unwrap_or_default().to_string();
            let status = e["status"].as_i64().unwrap_or_default();
            if service == "s3" && op.ends_with("/lzctl-state/landing-zone.lock") {
                Some((op.split(' ').next().unwrap_or_default().to_string(), status))
            } else if service == "organizations" && e["mutating"].as_bool() == Some(true) {
                Some((format!("organizations:{op}"), status))
            } else {
                None
            }
        })
        .collect()
}

/// Organizations mutations recorded in an audit log.
fn audited_org_calls(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["operation"].as_str().map(str::to_string))
        .filter(|op| op.starts_with("organizations:"))
        .collect()
}

/// A lock left behind by an apply (pid 4242) that died an hour ago.
async fn leave_a_dead_lock(s3: &aws_sdk_s3::Client) {
    let dead = serde_json::json!({
        "version": 1, "id": "0123456789abcdef", "operation": "apply",
        "caller": "arn:aws:sts::123456789012:assumed-role/pipeline/run-41",
        "host": "runner-7", "pid": 4242,
        "pipeline": "https://github.com/acme/lz/actions/runs/41",
        "acquired": "2026-01-01T00:00:00Z", "heartbeat": "2026-01-01T00:05:00Z",
        "expires": "2026-01-01T00:15:00Z", "plan_digest": "sha256:abcdef"
    });
    s3.put_object()
        .bucket(BUCKET)
        .key("landing-zone.lock")
        .body(dead.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_started_together_never_interleave_and_the_waiter_names_the_holder() {
    let emu = slow_ou_creation().await;
    let ws = workspace();
    let dir = ws.path();
    let a = config(dir, "a.yaml", &["A1", "A2", "A3"]);
    let b = config(dir, "b.yaml", &["B1", "B2", "B3"]);
    emu.clear_log();
    let first = spawn_apply(&emu, dir, &a, "a.jsonl");
    let second = spawn_apply(&emu, dir, &b, "b.jsonl");
    let (pid_a, pid_b) = (first.id(), second.id());
    let out_a = first.wait_with_output().unwrap();
    let out_b = second.wait_with_output().unwrap();
    assert!(out_a.status.success(), "{}", text(&out_a));
    assert!(out_b.status.success(), "{}", text(&out_b));

    // One of them waited, naming the other's process.
    let (err_a, err_b) = (
        String::from_utf8_lossy(&out_a.stderr).to_string(),
        String::from_utf8_lossy(&out_b.stderr).to_string(),
    );
    let (waiter, holder_pid) = if err_a.contains("Waiting for the lock") {
        (err_a.clone(), pid_b)
    } else {
        (err_b.clone(), pid_a)
    };
    assert!(
        waiter.contains("Waiting for the lock: s3://lzctl-state/landing-zone.lock is held by lzctl apply by arn:aws:"),
        "A:\n{err_a}\nB:\n{err_b}"
    );
    assert!(
        waiter.contains(&format!("(pid {holder_pid})")),
        "the waiter names the holder's pid {holder_pid}:\n{waiter}"
    );

    // The log: every Organizations mutation happens while exactly one lock
    // is held, and each holding's mutations are one apply's, all of them.
    let calls = lock_and_org_calls(&emu);
    let mut windows: Vec<Vec<String>> = Vec::new();
    let mut held = false;
    for (op, status) in &calls {
        match (op.as_str(), *status) {
            ("PUT", 200) if !held => {
                held = true;
                windows.push(Vec::new());
            }
            ("PUT", 200) => {} // heartbeat or plan digest, by the holder
            ("GET", _) => {}   // a waiter reading the holder
            ("PUT", 412) => assert!(held, "a refused lock write while none was held: {calls:?}"),
            ("DELETE", 204) => {
                assert!(held, "{calls:?}");
                held = false;
            }
            (org, _) if org.starts_with("organizations:") => {
                assert!(held, "{org} outside a held lock: {calls:?}");
                windows.last_mut().unwrap().push(org.to_string());
            }
            other => panic!("unexpected {other:?} in {calls:?}"),
        }
    }
    assert!(!held, "a lock was never released: {calls:?}");
    assert_eq!(windows.len(), 2, "{calls:?}");
    assert!(
        calls.iter().any(|(op, s)| op == "PUT" && *s == 412),
        "the second apply found the lock taken: {calls:?}"
    );
    let (audit_a, audit_b) = (
        audited_org_calls(&dir.join("a.jsonl")),
        audited_org_calls(&dir.join("b.jsonl")),
    );
    let mut counts = vec![audit_a.len(), audit_b.len()];
    counts.sort();
    assert_eq!(
        counts,
        [3, 4],
        "Teams and three OUs by the first, three by the second: {audit_a:?} {audit_b:?}"
    );
    let mut got: Vec<usize> = windows.iter().map(Vec::len).collect();
    let mut want = vec![audit_a.len(), audit_b.len()];
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "each holding holds one apply's mutations: {windows:?}"
    );
    // The lock is free again.
    assert!(emu
        .lzctl(dir, &["lock", "show", "--lock", LOCK])
        .stdout
        .starts_with(b"s3://lzctl-state/landing-zone.lock is free"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_timeout_the_second_apply_refuses_at_once_naming_the_holder() {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": false,
        "hold_ms": {"organizations:CreateOrganizationalUnit": 700}
    }));
    setup(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let a = config(dir, "a.yaml", &["A1", "A2", "A3"]);
    let b = config(dir, "b.yaml", &["B1"]);
    emu.clear_log();
    let first = emu.spawn_lzctl(dir, &["apply", "-c", &a, "--auto-approve"]);
    let pid = first.id();
    // Wait until the first apply holds the lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lock_and_org_calls(&emu)
        .iter()
        .any(|(op, s)| op == "PUT" && *s == 200)
    {
        assert!(
            Instant::now() < deadline,
            "the first apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = emu.lzctl(dir, &["apply", "-c", &b, "--auto-approve"]);
    let out_a = first.wait_with_output().unwrap();
    assert!(out_a.status.success(), "{}", text(&out_a));
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("cannot take the lock: s3://lzctl-state/landing-zone.lock is held by lzctl apply by arn:aws:")
            && err.contains(&format!("(pid {pid})"))
            && err.contains("hint: wait for that apply to finish, or pass --lock-timeout"),
        "{err}"
    );
    // B never got to change anything: only A's OUs exist.
    let creates = lock_and_org_calls(&emu)
        .into_iter()
        .filter(|(op, _)| op == "organizations:CreateOrganizationalUnit")
        .count();
    assert_eq!(creates, 4, "Teams and A1-A3");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lock_refuses_apply_until_it_is_broken_and_the_break_is_audited() {
    let emu = Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}));
    let s3 = setup(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let a = config(dir, "a.yaml", &["A1"]);
    leave_a_dead_lock(&s3).await;

    // plan does not lock.
    let plan = emu.lzctl(dir, &["plan", "-c", &a]);
    assert!(plan.status.success(), "{}", text(&plan));

    let refused = emu.lzctl(dir, &["apply", "-c", &a, "--auto-approve"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("held by lzctl apply by arn:aws:sts::123456789012:assumed-role/pipeline/run-41 on runner-7 (pid 4242) in https://github.com/acme/lz/actions/runs/41")
            && err.contains("STALE: no heartbeat since 2026-01-01T00:05:00Z")
            && err.contains("`lzctl lock break --force`"),
        "{err}"
    );

    // import takes the lock it is given: it refuses the same way.
    let import = emu.lzctl(dir, &["import", "--out", "imported", "--lock", LOCK]);
    assert_eq!(import.status.code(), Some(1), "{}", text(&import));
    assert!(
        String::from_utf8_lossy(&import.stderr).contains("(pid 4242)"),
        "{}",
        text(&import)
    );
    assert!(!dir.join("imported").exists());

    let shown = emu.lzctl(dir, &["lock", "break", "-c", &a]);
    assert_eq!(shown.status.code(), Some(1), "{}", text(&shown));
    assert!(String::from_utf8_lossy(&shown.stderr).contains("pass --force to break it"));

    let broken = emu.lzctl(
        dir,
        &[
            "lock",
            "break",
            "-c",
            &a,
            "--force",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    assert!(broken.status.success(), "{}", text(&broken));
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["address"], "lock:s3://lzctl-state/landing-zone.lock");
    assert_eq!(line["operation"], "s3:DeleteObject");
    assert_eq!(line["result"], "ok (lock broken)");
    assert_eq!(line["details"]["broken_holder"]["pid"], 4242);

    let applied = emu.lzctl(
        dir,
        &[
            "apply",
            "-c",
            &a,
            "--auto-approve",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    assert!(applied.status.success(), "{}", text(&applied));
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"ok (lock taken)\"") && audit.contains("\"releasing the lock\""),
        "{audit}"
    );
    // The lock's records and the changes' records are one chain: each
    // line's `prev` is the digest of the line before it.
    let lines: Vec<&str> = audit.lines().collect();
    for pair in lines.windows(2) {
        let record: serde_json::Value = serde_json::from_str(pair[1]).unwrap();
        assert_eq!(
            record["prev"].as_str(),
            Some(lzctl::digest::sha256_hex(pair[0].as_bytes()).as_str()),
            "{}",
            pair[1]
        );
    }
    // And an import with the lock free takes and releases it.
    let import = emu.lzctl(dir, &["import", "--out", "imported", "--lock", LOCK]);
    assert!(import.status.success(), "{}", text(&import));
    assert!(String::from_utf8_lossy(&import.stderr).contains("Took the lock"));
    let gone = s3
        .get_object()
        .bucket(BUCKET)
        .key("landing-zone.lock")
        .send()
        .await;
    assert!(gone.is_err(), "the import left its lock behind");
}

/// Takes the lock through the library with a short life (a heartbeat every
/// 200 ms); `on_lost` gets the location when the holder finds it lost.
async fn hold(
    s3: &aws_sdk_s3::Client,
    on_lost: impl Fn(&LockLocation) + Send + Sync + 'static,
) -> HeldLock {
    let options = LockOptions {
        ttl: Duration::from_millis(600),
        ..LockOptions::default()
    };
    let owner = LockOwner::this_process(
        "apply",
        "arn:aws:sts::123456789012:assumed-role/pipeline/run-42",
        None,
    );
    lzctl::lock::acquire(
        s3,
        &LOCK.parse().unwrap(),
        owner,
        &options,
        None,
        |_, _| {},
        on_lost,
    )
    .await
    .expect("take the lock")
}

/// The lock object's record, if there is one.
async fn lock_record(s3: &aws_sdk_s3::Client) -> Option<lzctl::lock::LockRecord> {
    lzctl::lock::read(s3, &LOCK.parse().unwrap())
        .await
        .unwrap()
        .map(|(record, _)| record)
}

/// Calls on the lock object, as (method, status).
fn lock_calls(emu: &Emulator) -> Vec<(String, i64)> {
    lock_and_org_calls(emu)
        .into_iter()
        .filter(|(op, _)| !op.starts_with("organizations:"))
        .collect()
}

/// Makes the next call `METHOD` on the lock object fail with `status`;
/// `after`: the call is carried out, then its answer is lost.
fn fail_next(emu: &Emulator, method: &str, code: &str, status: u16, after: bool) {
    emu.post_json(
        "/_lzemu/fail-next",
        serde_json::json!({
            "operation": format!("s3:{method} /lzctl-state/landing-zone.lock"),
            "code": code,
            "status": status,
            "when": if after { "after" } else { "before" },
        }),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_whose_lock_is_broken_notices_at_its_next_heartbeat_and_stops() {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": false
    }));
    let s3 = bucket(&emu).await;
    let (lost_tx, mut lost_rx) = tokio::sync::mpsc::unbounded_channel();
    // As `apply` does: a lost lock sets the stop signal, no new change starts.
    let stop = std::sync::Arc::new(lzctl::apply::StopSignal::default());
    let held = hold(&s3, {
        let stop = stop.clone();
        move |location| {
            stop.stop();
            let _ = lost_tx.send(location.to_string());
        }
    })
    .await;
    held.set_plan_digest("sha256:0123").await.unwrap();
    emu.clear_log();

    let ws = workspace();
    let audit = AuditLog::open(
        &ws.path().join("audit.jsonl"),
        "arn:aws:iam::123456789012:user/operator".into(),
    )
    .unwrap();
    let broken = lzctl::lock::break_lock(&s3, &LOCK.parse().unwrap(), true, &audit)
        .await
        .unwrap();
    assert_eq!(broken.id, held.record().await.id);
    assert_eq!(broken.plan_digest.as_deref(), Some("sha256:0123"));

    let lost = tokio::time::timeout(Duration::from_secs(10), lost_rx.recv())
        .await
        .expect("on_lost ran within 10 s of the break")
        .unwrap();
    assert_eq!(lost, LOCK);
    assert!(held.is_lost() && stop.is_set());
    // Its next write met the deleted key (404 NoSuchKey, not 412): one read
    // to tell a broken lock from a conflict, then nothing more.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let calls = lock_calls(&emu);
    let after_break: Vec<(&str, i64)> = calls
        .iter()
        .skip_while(|(op, status)| !(op == "DELETE" && *status == 204))
        .skip(1)
        .map(|(op, status)| (op.as_str(), *status))
        .collect();
    assert_eq!(after_break, [("PUT", 404), ("GET", 404)], "{calls:?}");
    assert!(lost_rx.try_recv().is_err(), "on_lost ran once");
    assert!(matches!(
        held.set_plan_digest("sha256:4567").await,
        Err(LockError::NotHeld(_))
    ));

    // The next apply takes it; the broken holder's release leaves it alone.
    let next = hold(&s3, |_| {}).await;
    assert!(matches!(held.release().await, Err(LockError::NotHeld(_))));
    assert_eq!(lock_record(&s3).await.unwrap().id, next.record().await.id);
    next.release().await.unwrap();
    assert_eq!(lock_record(&s3).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_and_lost_answers_do_not_cost_the_holder_its_lock() {
    let emu = Emulator::start_unthrottled(serde_json::json!({
        "controltower_landing_zone": false
    }));
    let s3 = bucket(&emu).await;
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_lost = {
        let lost = lost.clone();
        move |_: &LockLocation| lost.store(true, std::sync::atomic::Ordering::SeqCst)
    };
    // The create lands but its answer is lost; the SDK sends it again and
    // meets its own object (412): that is our lock, not another holder's.
    fail_next(&emu, "PUT", "InternalError", 500, true);
    let held = hold(&s3, on_lost).await;
    let ours = held.record().await.id;
    assert_eq!(lock_record(&s3).await.unwrap().id, ours);

    // 409: a conflicting request was in flight; read again, still ours, retry.
    fail_next(&emu, "PUT", "ConditionalRequestConflict", 409, false);
    held.set_plan_digest("sha256:1111").await.unwrap();
    // A renewal that lands with its answer lost: the SDK's retry meets the
    // holder's own new ETag (412).
    fail_next(&emu, "PUT", "InternalError", 500, true);
    held.set_plan_digest("sha256:2222").await.unwrap();
    // The heartbeat may have met either fault instead; let it beat.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let found = lock_record(&s3).await.unwrap();
    assert_eq!(
        (found.id.as_str(), found.plan_digest.as_deref()),
        (ours.as_str(), Some("sha256:2222"))
    );

    // A conflict on the release is retried too.
    fail_next(&emu, "DELETE", "ConditionalRequestConflict", 409, false);
    held.release().await.unwrap();
    assert_eq!(lock_record(&s3).await, None);
    assert!(!lost.load(std::sync::atomic::Ordering::SeqCst));
    let calls = lock_calls(&emu);
    for refused in [("PUT", 409), ("PUT", 412), ("DELETE", 409), ("DELETE", 204)] {
        assert!(
            calls.iter().any(|(op, s)| (op.as_str(), *s) == refused),
            "{refused:?} in {calls:?}"
        );
    }
    assert_eq!(
        emu.get_json("/_lzemu/fail-next"),
        serde_json::json!([]),
        "every scheduled fault was met"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_break_is_recorded_in_an_audit_log_in_s3() {
    let emu = Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}));
    let s3 = bucket(&emu).await;
    leave_a_dead_lock(&s3).await;
    let ws = workspace();
    let broken = emu.lzctl(
        ws.path(),
        &[
            "lock",
            "break",
            "--lock",
            LOCK,
            "--force",
            "--audit-log",
            "s3://lzctl-state/audit/",
        ],
    );
    assert!(broken.status.success(), "{}", text(&broken));
    assert!(
        String::from_utf8_lossy(&broken.stdout).contains("Recorded in s3://lzctl-state/audit/"),
        "{}",
        text(&broken)
    );
    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("audit/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let body = s3
        .get_object()
        .bucket(BUCKET)
        .key(keys[0])
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&body).lines().last().unwrap()).unwrap();
    assert_eq!(line["operation"], "s3:DeleteObject");
    assert_eq!(line["result"], "ok (lock broken)");
    assert_eq!(line["details"]["broken_holder"]["pid"], 4242);
    assert_eq!(lock_record(&s3).await, None);
    // Nothing is left to ship.
    let spool = ws.path().join(".lzctl/audit-spool");
    assert!(
        std::fs::read_dir(&spool).map_or(true, |mut d| d.next().is_none()),
        "{spool:?}"
    );
}

/// Two applies started together with one audit log in S3: the one that
/// waited for the lock chains its records to the other's last, so the log
/// reads back as one unbroken chain (and not as an edit at the second apply).
#[tokio::test(flavor = "multi_thread")]
async fn two_applies_waiting_for_each_other_keep_an_s3_audit_log_one_chain() {
    let emu = slow_ou_creation().await;
    let ws = workspace();
    let dir = ws.path();
    let a = config(dir, "a.yaml", &["A1", "A2"]);
    let b = config(dir, "b.yaml", &["B1", "B2"]);
    let audit_log = "s3://lzctl-state/audit/";
    let first = spawn_apply(&emu, dir, &a, audit_log);
    let second = spawn_apply(&emu, dir, &b, audit_log);
    let out_a = first.wait_with_output().unwrap();
    let out_b = second.wait_with_output().unwrap();
    assert!(out_a.status.success(), "{}", text(&out_a));
    assert!(out_b.status.success(), "{}", text(&out_b));
    let waited = [&out_a, &out_b]
        .iter()
        .any(|o| String::from_utf8_lossy(&o.stderr).contains("Waiting for the lock"));
    assert!(waited, "one apply waited for the other");

    let clients = lzctl::aws::Clients::new(&emu.sdk_config().await);
    let (records, check) = lzctl::reports::audit::read(audit_log, Some(&clients))
        .await
        .unwrap();
    let taken = records
        .iter()
        .filter(|r| r.result == "ok (lock taken)")
        .count();
    assert_eq!(taken, 2, "{records:#?}");
    assert!(check.broken.is_empty(), "{:#?}\n{records:#?}", check.broken);
    assert_eq!(
        check.unchained, 1,
        "only the log's first record has no predecessor"
    );
    assert_eq!(check.chained + check.unchained, records.len());
}
