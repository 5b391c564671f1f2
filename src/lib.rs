//! lzctl: provision and guard an AWS landing zone from one declarative file.
//!
//! The flow: [`config::load`] gives the desired state, [`observe`] reads the
//! live organization, [`plan::diff`] compares the two into ordered changes,
//! [`render`] shows them and [`apply`] carries them out behind a gate.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod digest;
pub mod families;
pub mod import;
pub mod lock;
pub mod model;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod render;
pub mod reports;
pub mod rollout;
pub mod scp_lint;
pub mod snapshot;
