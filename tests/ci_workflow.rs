//! The example pipelines (`examples/ci/`): the workflows call
//! `examples/ci/lzctl-ci.sh`, and these tests run that script, as a runner
//! would, against the emulator, with a local HTTP listener standing in for
//! the GitHub and GitLab APIs that receive the plan comment.

use crate::support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use support::{create_organization, repo_root, text, workspace, Emulator};

/// One request the stand-in API received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// A local HTTP listener answering 201 to everything, recording each request.
fn api() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default().to_string(),
            );
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            record.lock().unwrap().push(Received {
                method,
                path,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let _ = stream.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (url, seen)
}

/// Runs `lzctl-ci.sh STEP` in `dir` with the emulator's AWS settings and `env`.
fn ci(emu: &Emulator, dir: &Path, step: &str, config: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("examples/ci/lzctl-ci.sh"))
        .arg(step)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("LZCTL", env!("CARGO_BIN_EXE_lzctl"))
        .env("LZ_CONFIG", config)
        .env("LZ_LOCK_TIMEOUT", "60s");
    for var in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "PR_NUMBER",
        "CI_MERGE_REQUEST_IID",
        "AWS_PROFILE",
        "LZCTL_LOCK",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in emu.env() {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run lzctl-ci.sh")
}

fn github(api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_API_URL", api.to_string()),
        ("GITHUB_REPOSITORY", "acme/landing-zone".into()),
        ("GITHUB_TOKEN", "ghs_test_token".into()),
        ("PR_NUMBER", "7".into()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const HEAD: &str = "version: 1
organization:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1]
  management_account: \"123456789012\"
  control_tower: absent
  lock: s3://lzctl-state/landing-zone.lock
organizational_units:
  Teams:
    children:
      Payments: {}
accounts:
  - { name: workload, email: workload@example.com, ou: Teams/Payments }
";

fn with_policy(dir: &Path, name: &str, document: &str) -> String {
    std::fs::write(dir.join(format!("{name}.json")), document).unwrap();
    let file = format!("{name}.yaml");
    std::fs::write(
        dir.join(&file),
        format!("{HEAD}policies:\n  {name}:\n    type: scp\n    template: {name}.json\n    targets: [Teams]\n"),
    )
    .unwrap();
    file
}

async fn setup(emu: &Emulator) -> aws_sdk_organizations::Client {
    let orgs = create_organization(emu).await;
    support::create_bucket(emu, "lzctl-state").await;
    orgs
}

fn comment(r: &Received) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
    v["body"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn github_pull_request_gets_the_markdown_plan_and_the_merge_applies_it_under_the_lock() {
    let emu = Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}));
    let orgs = setup(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let config = with_policy(
        dir,
        "deny-leave",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
    );
    let (url, seen) = api();
    emu.clear_log();
    let gh = github(&url);
    let out = ci(&emu, dir, "plan", &config, &pairs(&gh));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        emu.mutating_calls().is_empty(),
        "plan changes nothing and takes no lock: {:?}",
        emu.mutating_calls()
    );
    let posted = seen.lock().unwrap().clone();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let r = &posted[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/repos/acme/landing-zone/issues/7/comments")
    );
    assert_eq!(r.headers["authorization"], "Bearer ghs_test_token");
    assert_eq!(r.headers["accept"], "application/vnd.github+json");
    let md = comment(r);
    assert!(md.starts_with("### lzctl plan\n"), "{md}");
    for want in [
        "`ou:Teams/Payments`",
        "`scp:deny-leave`",
        "attach policy",
        "```diff",
    ] {
        assert!(md.contains(want), "missing {want} in:\n{md}");
    }
    assert!(
        dir.join("lzctl-plan.json").exists(),
        "the plan is saved for the artifact"
    );

    // The merge: take the lock, then plan and apply.
    emu.clear_log();
    let out = ci(&emu, dir, "apply", &config, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Apply complete"),
        "{}",
        text(&out)
    );
    let roots = orgs.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap();
    let ous = orgs
        .list_organizational_units_for_parent()
        .parent_id(root)
        .send()
        .await
        .unwrap();
    assert_eq!(ous.organizational_units()[0].name(), Some("Teams"));
    let calls = emu.mutating_calls();
    assert_eq!(
        calls.first().map(String::as_str),
        Some("s3:PUT /lzctl-state/landing-zone.lock"),
        "{calls:?}"
    );
    assert_eq!(
        calls.last().map(String::as_str),
        Some("s3:DELETE /lzctl-state/landing-zone.lock"),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == "organizations:AttachPolicy"),
        "{calls:?}"
    );
    // Nothing is posted on merge.
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn lint_errors_and_lockouts_fail_the_check_with_a_comment_saying_why() {
    let emu = Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}));
    setup(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let (url, seen) = api();
    let gh = github(&url);

    let typo = with_policy(
        dir,
        "typo",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:RunInstancez","Resource":"*"}]}"#,
    );
    emu.clear_log();
    let out = ci(&emu, dir, "plan", &typo, &pairs(&gh));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        emu.log().is_empty(),
        "a lint error stops before AWS is read"
    );
    let md = comment(&seen.lock().unwrap()[0]);
    assert!(
        md.contains("lint errors")
            && md.contains("ec2:RunInstancez")
            && md.contains("did you mean `ec2:RunInstances`"),
        "{md}"
    );

    // The workload account exists, so denying everything locks it out.
    let base = with_policy(
        dir,
        "fine",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
    );
    let applied = ci(&emu, dir, "apply", &base, &[]);
    assert!(applied.status.success(), "{}", text(&applied));
    let lockout = with_policy(
        dir,
        "deny-all",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    );
    let out = ci(&emu, dir, "plan", &lockout, &pairs(&gh));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let posted = seen.lock().unwrap().clone();
    assert_eq!(posted.len(), 2, "{posted:?}");
    let md = comment(&posted[1]);
    assert!(md.starts_with("### lzctl plan: refused"), "{md}");
    assert!(
        md.contains("deny-all"),
        "the refusal names the policy:\n{md}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_merge_request_gets_the_plan_as_a_note() {
    let emu = Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}));
    setup(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let config = with_policy(
        dir,
        "deny-leave",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
    );
    let (url, seen) = api();
    let api_v4 = format!("{url}/api/v4");
    let out = ci(
        &emu,
        dir,
        "plan",
        &config,
        &[
            ("GITLAB_CI", "true"),
            ("CI_API_V4_URL", &api_v4),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "9"),
            ("GITLAB_TOKEN", "glpat-test"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let posted = seen.lock().unwrap().clone();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let r = &posted[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/v4/projects/42/merge_requests/9/notes")
    );
    assert_eq!(r.headers["private-token"], "glpat-test");
    assert!(comment(r).contains("`ou:Teams/Payments`"));
}

/// The workflows run the script's steps with the settings it reads, and get
/// AWS credentials from OIDC.
#[test]
fn the_workflows_call_the_tested_script() {
    let gh: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo_root().join("examples/ci/github-actions.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(gh["permissions"]["id-token"], "write");
    assert_eq!(gh["permissions"]["pull-requests"], "write");
    let steps = |job: &str| gh["jobs"][job]["steps"].as_sequence().unwrap().clone();
    for (job, step, condition) in [
        (
            "plan",
            "bash examples/ci/lzctl-ci.sh plan",
            "github.event_name == 'pull_request'",
        ),
        (
            "apply",
            "bash examples/ci/lzctl-ci.sh apply",
            "github.event_name == 'push'",
        ),
    ] {
        assert_eq!(gh["jobs"][job]["if"], condition);
        let steps = steps(job);
        let oidc = steps
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            })
            .unwrap_or_else(|| panic!("{job}: no OIDC credentials step"));
        assert!(oidc["with"]["role-to-assume"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::"));
        let run = steps
            .iter()
            .find(|s| s["run"].as_str() == Some(step))
            .unwrap_or_else(|| panic!("{job} runs `{step}`"));
        if job == "plan" {
            assert!(run["env"]["GITHUB_TOKEN"].is_string() && run["env"]["PR_NUMBER"].is_string());
        }
    }
    let gl: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo_root().join("examples/ci/gitlab-ci.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        gl[".lzctl"]["id_tokens"]["AWS_ID_TOKEN"]["aud"],
        "sts.amazonaws.com"
    );
    for (job, step) in [
        ("lzctl-plan", "bash examples/ci/lzctl-ci.sh plan"),
        ("lzctl-apply", "bash examples/ci/lzctl-ci.sh apply"),
    ] {
        assert_eq!(gl[job]["extends"], ".lzctl");
        assert!(
            gl[job]["script"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|s| s.as_str() == Some(step)),
            "{job}"
        );
        assert!(gl[job]["variables"]["AWS_ROLE_ARN"].is_string());
    }
}

/// The merge job plans only once it holds the lock: what the apply it waited
/// for changed meanwhile (here, `Teams` created) is in its plan, instead of
/// a plan saved before the wait being refused as stale.
#[tokio::test(flavor = "multi_thread")]
async fn a_merge_that_waits_for_another_apply_plans_what_that_apply_left() {
    let emu = Arc::new(Emulator::start_with(
        serde_json::json!({"controltower_landing_zone": false}),
    ));
    let orgs = setup(&emu).await;
    let ws = workspace();
    let dir = ws.path().to_path_buf();
    let config = with_policy(
        &dir,
        "deny-leave",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
    );
    let s3 = aws_sdk_s3::Client::new(&emu.sdk_config().await);
    let lock: lzctl::lock::LockLocation = "s3://lzctl-state/landing-zone.lock".parse().unwrap();
    let other = lzctl::lock::acquire(
        &s3,
        &lock,
        lzctl::lock::LockOwner::this_process(
            "apply",
            "arn:aws:sts::123456789012:assumed-role/pipeline/run-41",
            None,
        ),
        &lzctl::lock::LockOptions::default(),
        None,
        |_, _| {},
        |_| {},
    )
    .await
    .expect("the other apply's lock");
    emu.clear_log();
    let merge = {
        let (emu, dir) = (emu.clone(), dir.clone());
        std::thread::spawn(move || ci(&emu, &dir, "apply", &config, &[]))
    };
    // Once the merge job is waiting, the other apply creates `Teams`.
    let waiting = std::time::Instant::now();
    while !emu
        .log()
        .iter()
        .any(|e| e["operation"] == "PUT /lzctl-state/landing-zone.lock" && e["status"] == 412)
    {
        assert!(
            waiting.elapsed().as_secs() < 60,
            "the merge job never waited"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let root = orgs.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    orgs.create_organizational_unit()
        .parent_id(&root)
        .name("Teams")
        .send()
        .await
        .unwrap();
    other.release().await.unwrap();

    let out = merge.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let created: Vec<String> = emu
        .mutating_calls()
        .into_iter()
        .filter(|c| c == "organizations:CreateOrganizationalUnit")
        .collect();
    assert_eq!(
        created.len(),
        2,
        "Teams by the other apply, Payments by the merge: {created:?}"
    );
}
