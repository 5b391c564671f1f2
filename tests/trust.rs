//! What a CCoE admin must be able to trust, end to end against the emulator:
//! account State (no Status since 2026-09-09), account identity by id or
//! email, OUs renamed by hand, answers lost on the way, and a CLI whose exit
//! codes and messages never mislead.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{create_account, create_organization, text, workspace, Emulator};

fn emulator() -> Emulator {
    Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}))
}

fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

/// A small file: one company OU with `prod`/`dev` and the accounts given.
fn config(dir: &Path, accounts: &str) -> String {
    let yaml = format!(
        "version: 1\norganization:\n  home_region: ap-northeast-1\n  governed_regions: [ap-northeast-1]\n  management_account: \"123456789012\"\n  control_tower: absent\nenvironments: [prod, dev]\norganizational_units:\n  Security: {{}}\n  Companies:\n    children:\n      Acme: {{}}\naccounts:\n{accounts}"
    );
    std::fs::write(dir.join("lz.yaml"), yaml).unwrap();
    "lz.yaml".to_string()
}

fn calls_for(emu: &Emulator, operation: &str) -> usize {
    emu.log()
        .iter()
        .filter(|e| e["service"] == "organizations" && e["operation"] == operation)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suspended_account_is_never_moved_or_tagged_and_the_plan_says_why() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let id = create_account(&client, "leaving", "leaving@example.com").await;
    emu.post_json(
        "/_lzemu/organizations/account-state",
        serde_json::json!({"account_id": id, "state": "SUSPENDED"}),
    );
    // AWS answers State and no Status: lzctl must read it from State.
    let described = client
        .describe_account()
        .account_id(&id)
        .send()
        .await
        .unwrap();
    assert!(described.account().unwrap().status().is_none());

    let ws = workspace();
    let file = config(
        ws.path(),
        "  - { name: leaving, email: leaving@example.com, ou: Companies/Acme/prod, tags: { owner: acme } }\n",
    );
    emu.clear_log();
    let plan = emu.lzctl(ws.path(), &["plan", "-c", &file]);
    assert_exit(&plan, 0);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        out.contains("account:leaving: the account is suspended"),
        "{out}"
    );
    assert!(!out.contains("~ account:leaving"), "{out}");
    let apply = emu.lzctl(ws.path(), &["apply", "-c", &file, "--auto-approve"]);
    assert_exit(&apply, 0);
    assert_eq!(calls_for(&emu, "MoveAccount"), 0);
    assert!(emu
        .log()
        .iter()
        .all(|e| e["operation"] != "TagResource" || !e.to_string().contains(&id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_accounts_with_the_same_name_are_refused_naming_both_and_nothing_moves() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let first = create_account(&client, "audit", "audit@example.com").await;
    let second = create_account(&client, "audit", "someone-else@example.com").await;
    let ws = workspace();
    let file = config(
        ws.path(),
        "  - { name: audit, email: audit@example.com, ou: Security }\n",
    );
    emu.clear_log();
    let plan = emu.lzctl(ws.path(), &["plan", "-c", &file]);
    assert_exit(&plan, 1);
    let err = String::from_utf8_lossy(&plan.stderr);
    assert!(err.contains(&first) && err.contains(&second), "{err}");
    assert!(
        err.contains("id: \\\"") || err.contains("`id"),
        "a hint to give the id: {err}"
    );
    let apply = emu.lzctl(ws.path(), &["apply", "-c", &file, "--auto-approve"]);
    assert_exit(&apply, 1);
    assert_eq!(calls_for(&emu, "MoveAccount"), 0);
    assert_eq!(emu.mutating_calls(), Vec::<String>::new());

    // Naming the account by id settles it: only that one moves.
    let file = config(
        ws.path(),
        &format!("  - {{ name: audit, id: \"{second}\", email: someone-else@example.com, ou: Security }}\n"),
    );
    let apply = emu.lzctl(ws.path(), &["apply", "-c", &file, "--auto-approve"]);
    assert_exit(&apply, 0);
    let parent = |id: String| {
        let client = client.clone();
        async move {
            client
                .list_parents()
                .child_id(id)
                .send()
                .await
                .unwrap()
                .parents()[0]
                .id()
                .unwrap()
                .to_string()
        }
    };
    assert!(parent(second.clone()).await.starts_with("ou-"));
    assert!(parent(first.clone()).await.starts_with("r-"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_changed_in_the_file_is_a_rename_never_a_create() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let id = create_account(&client, "audit-old", "audit@example.com").await;
    let ws = workspace();
    let file = config(
        ws.path(),
        "  - { name: audit, email: audit@example.com, ou: Root }\n",
    );
    // Without trusted access for Account Management: a notice, no create.
    let plan = emu.lzctl(ws.path(), &["plan", "-c", &file, "--detailed-exitcode"]);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(!out.contains("create account"), "{out}");
    assert!(out.contains("named `audit-old` in AWS"), "{out}");

    client
        .enable_aws_service_access()
        .service_principal("account.amazonaws.com")
        .send()
        .await
        .unwrap();
    let plan = emu.lzctl(ws.path(), &["plan", "-c", &file, "--detailed-exitcode"]);
    assert_exit(&plan, 2);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("~ account-name:audit"),
        "{}",
        text(&plan)
    );
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", &file, "--auto-approve"]),
        0,
    );
    let account = client
        .describe_account()
        .account_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(account.account().unwrap().name(), Some("audit"));
    assert_exit(
        &emu.lzctl(ws.path(), &["plan", "-c", &file, "--detailed-exitcode"]),
        0,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ou_renamed_by_hand_is_renamed_back_not_duplicated() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    let ws = workspace();
    let file = config(ws.path(), "  []\n");
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", &file, "--auto-approve"]),
        0,
    );
    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let children = |parent: String| {
        let client = client.clone();
        async move {
            client
                .list_organizational_units_for_parent()
                .parent_id(parent)
                .send()
                .await
                .unwrap()
                .organizational_units()
                .iter()
                .map(|o| (o.name().unwrap().to_string(), o.id().unwrap().to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let companies = children(root.clone()).await["Companies"].clone();
    let acme = children(companies).await["Acme"].clone();
    let prod = children(acme.clone()).await["prod"].clone();
    client
        .update_organizational_unit()
        .organizational_unit_id(&prod)
        .name("production")
        .send()
        .await
        .unwrap();

    let plan = emu.lzctl(ws.path(), &["plan", "-c", &file]);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(out.contains("~ ou:Companies/Acme/prod"), "{out}");
    assert!(
        out.contains("renamed to `production` outside lzctl"),
        "{out}"
    );
    assert!(!out.contains("+ ou:Companies/Acme/prod"), "{out}");
    assert_exit(
        &emu.lzctl(ws.path(), &["apply", "-c", &file, "--auto-approve"]),
        0,
    );
    let after = children(acme).await;
    assert_eq!(
        after.keys().cloned().collect::<Vec<_>>(),
        vec!["dev".to_string(), "prod".to_string()]
    );
    assert_eq!(after["prod"], prod, "the same OU, renamed back");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_lost_after_the_change_was_made_still_converge_without_duplicates() {
    let emu = emulator();
    let client = create_organization(&emu).await;
    for operation in [
        "organizations:CreateOrganizationalUnit",
        "organizations:CreatePolicy",
        "organizations:AttachPolicy",
        "organizations:CreateAccount",
    ] {
        emu.post_json(
            "/_lzemu/fail-next",
            serde_json::json!({"operation": operation, "when": "after", "code": "ServiceException", "status": 500, "count": 1}),
        );
    }
    let ws = workspace();
    let dir = ws.path();
    let file = "examples/minimal/landing-zone.yaml";
    // The first apply may stop on a lost answer; running it again finishes.
    let first = emu.lzctl(dir, &["apply", "-c", file, "--auto-approve"]);
    if first.status.code() != Some(0) {
        assert_exit(&emu.lzctl(dir, &["apply", "-c", file, "--auto-approve"]), 0);
    }
    assert_exit(
        &emu.lzctl(dir, &["plan", "-c", file, "--detailed-exitcode"]),
        0,
    );
    let faults: Vec<String> = emu
        .log()
        .iter()
        .filter(|e| e["fault"] == "fail-next:after")
        .map(|e| e["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(faults.len(), 4, "every lost answer was tried: {faults:?}");
    // Exactly one of each object.
    let accounts = client.list_accounts().send().await.unwrap();
    let names: Vec<&str> = accounts
        .accounts()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "example-prod").count(),
        1,
        "{names:?}"
    );
    let policies = client
        .list_policies()
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let region: Vec<_> = policies
        .policies()
        .iter()
        .filter(|p| p.name() == Some("region-restriction"))
        .collect();
    assert_eq!(region.len(), 1);
}

#[test]
fn a_typo_in_a_flag_exits_1_never_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .args(["plan", "-c", "x.yaml", "--detailed-exitcod"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let help = Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("2  with --detailed-exitcode"),
        "{help}"
    );
}

#[test]
fn a_misspelled_profile_is_an_error_not_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config"),
        "[profile landing-zone]\nregion = ap-northeast-1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .current_dir(support::repo_root())
        .args([
            "plan",
            "-c",
            "examples/minimal/landing-zone.yaml",
            "--profile",
            "landing-zon",
        ])
        .env("AWS_CONFIG_FILE", dir.path().join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("profile `landing-zon`") && err.contains("did you mean `landing-zone`"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // An organization with 3,000 unmanaged accounts: the plan's text is far
    // larger than a pipe's buffer, so lzctl writes after `head` has gone.
    let mut state = support::org_with_root_account("workload", "210987654321");
    for i in 0..3000 {
        state.accounts.insert(
            format!("unmanaged-{i:04}"),
            lzctl::model::Account {
                id: Some(format!("{:012}", 300000000000u64 + i)),
                email: format!("u{i}@example.com"),
                ou: lzctl::model::OuPath::root(),
                tags: Default::default(),
            },
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("org.json");
    lzctl::snapshot::write(&state.into(), &snapshot).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} plan -c examples/minimal/landing-zone.yaml --snapshot {} | head -1; echo \"status=${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_lzctl"),
            snapshot.display()
        ))
        .current_dir(support::repo_root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("Organization"), "{stdout}");
    assert!(stdout.contains("status=0"), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A server on 127.0.0.1 that answers every request with an HTML 500 page.
fn html_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let body = "<html><body><h1>500 Internal Server Error</h1></body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn lzctl_against(endpoint: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["plan", "-c", "examples/minimal/landing-zone.yaml"];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .current_dir(support::repo_root())
        .args(&args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_MAX_ATTEMPTS", "2")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

#[test]
fn an_html_answer_is_one_line_with_a_hint() {
    let port = html_server();
    let out = lzctl_against(
        &format!("http://127.0.0.1:{port}"),
        &["--operation-timeout", "20s"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("ServiceError {") && !err.contains("Unhandled("),
        "{err}"
    );
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn an_endpoint_that_never_answers_times_out_naming_it() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let out = lzctl_against(
        &format!("http://127.0.0.1:{port}"),
        &["--operation-timeout", "2s"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("--operation-timeout"), "{err}");
}
