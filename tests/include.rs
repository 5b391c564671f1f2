//! `include:`: a configuration split across files means the same as the one
//! file it replaces, and every problem still names the file, line and column
//! where it is written.

use crate::support;

use std::path::{Path, PathBuf};

use lzctl::config::{load, Diagnostics};

fn fixture(rel: &str) -> PathBuf {
    support::repo_root()
        .join("tests/fixtures/include")
        .join(rel)
}

/// Writes `files` (path, text) under a fresh directory; returns it.
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    std::fs::copy(fixture("deny-s3.json"), dir.path().join("deny-s3.json")).unwrap();
    dir
}

fn problems(path: &Path) -> Diagnostics {
    match load(path) {
        Ok(_) => panic!("{} should not validate", path.display()),
        Err(d) => d,
    }
}

/// (file name, line, column, message) of each problem.
fn located(d: &Diagnostics) -> Vec<(String, usize, usize, String)> {
    d.diagnostics
        .iter()
        .map(|p| {
            (
                p.location
                    .file
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string(),
                p.location.line,
                p.location.column,
                p.message.clone(),
            )
        })
        .collect()
}

const MAIN: &str = "version: 1
include: [companies/]
organization:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1]
  management_account: \"123456789012\"
  control_tower: absent
environments: [prod, dev]
organizational_units:
  Companies: {}
accounts:
  - { name: audit, email: aws+audit@example.com, ou: Companies }
";

#[test]
fn a_split_configuration_means_the_same_as_one_file() {
    let single = load(&fixture("single.yaml")).unwrap_or_else(|d| panic!("{}", d.render()));
    let split =
        load(&fixture("split/landing-zone.yaml")).unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(split.state, single.state);
    assert_eq!(split.organization, single.organization);
    // The template of the security team's file is relative to that file.
    assert_eq!(split.state.policies.len(), 1);
    assert_eq!(split.state.ous.len(), single.state.ous.len());
    assert_eq!(split.state.accounts.len(), 4);
}

#[test]
fn the_digest_covers_every_included_file() {
    let dir = workspace(&[
        ("lz.yaml", MAIN),
        (
            "companies/a.yaml",
            "organizational_units:\n  Companies:\n    children:\n      A: {}\n",
        ),
    ]);
    let before = load(&dir.path().join("lz.yaml")).unwrap().digest;
    std::fs::write(
        dir.path().join("companies/a.yaml"),
        "organizational_units:\n  Companies:\n    children:\n      A: { tags: { company: a } }\n",
    )
    .unwrap();
    let after = load(&dir.path().join("lz.yaml")).unwrap().digest;
    assert_ne!(
        before, after,
        "a saved plan must go stale when an included file changes"
    );
}

#[test]
fn a_problem_in_an_included_file_is_located_in_that_file() {
    let dir = workspace(&[
        ("lz.yaml", MAIN),
        (
            "companies/a.yaml",
            "organizational_units:\n  Companies:\n    children:\n      A: {}\naccounts:\n  - { name: a-prod, email: aws+a-prod@example.com, ou: Companies/A/prod }\n",
        ),
        (
            "companies/b.yaml",
            "organizational_units:\n  Companies:\n    children:\n      B: { tagz: { company: b } }\naccounts:\n  - name: b-prod\n    email: aws+b-prod@example.com\n    ou: Companies/B/staging\n",
        ),
    ]);
    let d = problems(&dir.path().join("lz.yaml"));
    let found = located(&d);
    assert_eq!(found.len(), 2, "{}", d.render());
    // An unknown key in a company's OU, at its key.
    assert_eq!(
        (found[0].0.as_str(), found[0].1, found[0].2),
        ("b.yaml", 4, 12),
        "{}",
        d.render()
    );
    assert!(found[0].3.contains("unknown key `tagz`"), "{}", d.render());
    // The second file's first account is the configuration's third
    // (`accounts[2]`), and its error still points at b.yaml line 8.
    assert_eq!(
        (found[1].0.as_str(), found[1].1, found[1].2),
        ("b.yaml", 8, 9)
    );
    assert_eq!(d.diagnostics[1].field, "accounts[2].ou");
    assert!(found[1].3.contains("Companies/B/staging"), "{}", d.render());
}

#[test]
fn a_key_set_in_two_files_names_both_places() {
    let dir = workspace(&[
        ("lz.yaml", MAIN),
        (
            "companies/a.yaml",
            "organizational_units:\n  Companies:\n    children:\n      A: {}\nenvironments: [prod]\n",
        ),
    ]);
    let d = problems(&dir.path().join("lz.yaml"));
    let found = located(&d);
    assert_eq!(found.len(), 1, "{}", d.render());
    assert_eq!((found[0].0.as_str(), found[0].1), ("a.yaml", 5));
    assert!(
        found[0].3.contains("`environments` is already set at")
            && found[0].3.contains("lz.yaml:8:1"),
        "{}",
        d.render()
    );
}

#[test]
fn includes_that_name_nothing_and_nested_includes_are_refused() {
    let dir = workspace(&[
        (
            "lz.yaml",
            &MAIN.replace("include: [companies/]", "include: [companies/, \"teams/*.yaml\", missing.yaml]"),
        ),
        (
            "companies/a.yaml",
            "include: [other.yaml]\norganizational_units:\n  Companies:\n    children:\n      A: {}\n",
        ),
    ]);
    let d = problems(&dir.path().join("lz.yaml"));
    let found = located(&d);
    let messages: Vec<&str> = found.iter().map(|f| f.3.as_str()).collect();
    assert!(
        found.iter().any(|f| f.0 == "lz.yaml"
            && f.1 == 2
            && f.3.contains("`teams/*.yaml` matches no file")),
        "{messages:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.0 == "lz.yaml" && f.3.contains("`missing.yaml` is no file")),
        "{messages:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.0 == "a.yaml" && f.1 == 1 && f.3.contains("only the main file")),
        "{messages:?}"
    );
}

#[test]
fn a_syntax_error_in_an_included_file_is_located_there() {
    let dir = workspace(&[
        ("lz.yaml", MAIN),
        (
            "companies/a.yaml",
            "organizational_units:\n  Companies:\n    children:\n      A: { tags: [\n",
        ),
    ]);
    let d = problems(&dir.path().join("lz.yaml"));
    let found = located(&d);
    assert_eq!(found.len(), 1, "{}", d.render());
    assert_eq!(found[0].0, "a.yaml", "{}", d.render());
    assert!(found[0].3.contains("not a valid landing-zone file"));
}

#[test]
fn family_sections_can_live_in_an_included_file() {
    let detective = "detective:\n  delegated_admin: audit\n  guardduty: { auto_enable: all }\n";
    let dir = workspace(&[("lz.yaml", MAIN), ("companies/security.yaml", detective)]);
    let desired = load(&dir.path().join("lz.yaml")).unwrap_or_else(|d| panic!("{}", d.render()));
    assert!(desired.families.detective.is_some());
    // And a mistake in it is located in that file.
    std::fs::write(
        dir.path().join("companies/security.yaml"),
        format!("{detective}  guardduty_x: {{}}\n"),
    )
    .unwrap();
    let d = problems(&dir.path().join("lz.yaml"));
    let found = located(&d);
    assert_eq!(
        (found[0].0.as_str(), found[0].1, found[0].2),
        ("security.yaml", 4, 3),
        "{}",
        d.render()
    );
}

#[test]
fn validate_and_plan_take_a_split_configuration() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .args(["validate", "-c"])
        .arg(fixture("split/landing-zone.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("4 accounts, 1 policies"),
        "{}",
        support::text(&out)
    );
}
