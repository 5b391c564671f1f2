//! Every example validates; every broken config fails with its file, line
//! and the expected message, and `plan` on it sends nothing to AWS.

use crate::support;

use std::path::{Path, PathBuf};

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![support::repo_root().join(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
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
fn every_example_is_valid() {
    let examples = files("examples", "yaml");
    assert!(
        examples.len() >= 2,
        "examples/group and examples/minimal at least"
    );
    for path in examples {
        if let Err(d) = lzctl::config::load(&path) {
            panic!("{} does not validate:\n{}", path.display(), d.render());
        }
    }
}

#[test]
fn every_broken_config_fails_with_its_location_and_message() {
    let corpus = files("tests/fixtures/broken", "yaml");
    assert!(corpus.len() >= 15, "the corpus covers each kind of problem");
    for path in corpus {
        let (line, message) = expectation(&path);
        let diagnostics = match lzctl::config::load(&path) {
            Ok(_) => panic!("{} validated but should not", path.display()),
            Err(d) => d.diagnostics,
        };
        assert!(
            diagnostics.iter().any(|d| d.location.file == path
                && d.location.line == line
                && d.message.contains(&message)),
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
    }
}

#[test]
fn all_problems_of_a_file_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lz.yaml");
    std::fs::write(&path, "version: 1\norganization:\n  home_region: ap-northeast-9\n  governed_regions: [ap-northeast-1]\n  management_account: \"1\"\n  colour: blue\naccounts:\n  - { name: a, email: nope, ou: Nowhere }\n").unwrap();
    let d = lzctl::config::load(&path).unwrap_err().diagnostics;
    let lines: Vec<usize> = d.iter().map(|d| d.location.line).collect();
    for expected in [3, 5, 6, 8] {
        assert!(
            lines.contains(&expected),
            "no problem reported on line {expected}: {lines:?}"
        );
    }
}

#[test]
fn plan_on_a_broken_config_sends_no_request() {
    let emu = support::Emulator::start();
    for path in files("tests/fixtures/broken", "yaml") {
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
        "a broken config reached the emulator"
    );
}
