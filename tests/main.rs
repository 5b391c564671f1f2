//! The integration tests, linked as one test binary.
//!
//! Each module was once a test crate of its own, and each of those linked the
//! whole AWS SDK again: 23 binaries of about 100 MB that filled a CI disk
//! while linking (lld died with SIGBUS). One binary links once. nextest still
//! runs every test in its own process, so tests that start their own emulator
//! or set environment variables do not share state.
//!
//! Run one module with `cargo nextest run --test integration -E 'test(/^lock::/)'`
//! or `cargo test --test integration lock::`.

mod support;

#[path = "fixtures/reports/common.rs"]
mod common;

mod ci_workflow;
mod controltower;
mod controltower_smoke;
mod crosscheck;
mod detective;
mod evidence;
mod import;
mod include;
mod lock;
mod lockout_guard;
mod notify;
mod org_reconcile;
mod plan_output;
mod reports;
mod retry_policy;
mod rollout;
mod schema;
mod scp_cli;
mod stacksets;
mod stacksets_baselines;
mod stacksets_config;
mod trust;
mod validate_corpus;

/// With `autotests = false` (Cargo.toml), a file in `tests/` that is not a
/// module here is never compiled: this fails instead of its tests being lost
/// without a word.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let dir = support::repo_root().join("tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("rs") || stem == "main" {
            continue;
        }
        assert!(
            main.lines().any(|l| l.trim() == format!("mod {stem};")),
            "tests/{stem}.rs is not a module of tests/main.rs, so its tests never run: add `mod {stem};` there"
        );
        checked += 1;
    }
    assert!(
        checked > 20,
        "only {checked} test files found in {}",
        dir.display()
    );
}
