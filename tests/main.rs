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
