//! The `baselines:` section is checked before anything is sent: every broken
//! file in tests/fixtures/stacksets/broken fails with its line, message and
//! a hint, and `plan` on it makes no request.

use crate::support;

use std::path::{Path, PathBuf};

fn broken() -> Vec<PathBuf> {
    let dir = support::repo_root().join("tests/fixtures/stacksets/broken");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    out.sort();
    out
}

/// `# expect LINE: text` on the first line of each broken config.
fn expectation(path: &Path) -> (usize, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap();
    let rest = first
        .strip_prefix("# expect ")
        .unwrap_or_else(|| panic!("{} lacks `# expect LINE: text`", path.display()));
    let (line, message) = rest.split_once(": ").unwrap();
    (line.parse().unwrap(), message.to_string())
}

#[test]
fn every_broken_baseline_fails_with_its_line_message_and_hint() {
    let corpus = broken();
    assert!(corpus.len() >= 15, "the corpus covers each kind of problem");
    for path in corpus {
        let (line, message) = expectation(&path);
        let diagnostics = match lzctl::config::load(&path) {
            Ok(_) => panic!("{} validated but should not", path.display()),
            Err(d) => d.diagnostics,
        };
        assert!(
            diagnostics
                .iter()
                .any(|d| d.location.line == line && d.message.contains(&message)),
            "{}: expected `{message}` at line {line}, got:\n{}",
            path.display(),
            diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            diagnostics.iter().all(|d| d.hint.is_some()),
            "{}: every problem has a hint",
            path.display()
        );
        assert!(
            diagnostics.iter().all(|d| d.field.starts_with("baselines")),
            "{}: only the baseline is wrong",
            path.display()
        );
    }
}

#[test]
fn the_group_example_declares_five_baselines_with_typed_parameters() {
    let desired =
        lzctl::config::load(&support::repo_root().join("examples/group/landing-zone.yaml"))
            .unwrap();
    let baselines = &desired.families.stacksets.0;
    assert_eq!(
        baselines.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "audit-event-bus",
            "audit-role",
            "config-rules-prod",
            "corrective-controls",
            "event-forwarding"
        ]
    );
    assert_eq!(
        baselines["audit-role"].parameters["AuditAccountId"],
        lzctl::families::stacksets::ParamValue::AccountId("audit".into())
    );
    // `Companies/*/prod` resolves to every company's prod OU (20 of them).
    assert_eq!(baselines["config-rules-prod"].targets.len(), 20);
    assert_eq!(
        baselines["event-forwarding"].regions,
        ["ap-northeast-1", "ap-northeast-3"]
    );
}

#[test]
fn plan_on_a_broken_baseline_sends_no_request() {
    let emu = support::Emulator::start();
    for path in broken() {
        let out = emu.lzctl(
            &support::repo_root(),
            &["plan", "-c", path.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1), "{}", support::text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was sent to AWS"));
    }
    assert_eq!(
        emu.log(),
        Vec::<serde_json::Value>::new(),
        "a broken baseline reached the emulator"
    );
}
