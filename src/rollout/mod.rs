//! Staged SCP rollout. A policy may declare waves:
//!
//! ```yaml
//! policies:
//!   region-restriction:
//!     type: scp
//!     template: scp/region-restriction.json
//!     rollout:
//!       waves: [Companies/Sandbox, "Companies/*/dev", "Companies/*/prod"]
//!       soak: 30m
//!       max_denials: 0
//!       trail: s3://aws-controltower-logs-222222222222-ap-northeast-1
//! ```
//!
//! A new document for a policy that is already attached goes out the same
//! way, on a copy that takes the policy's place target by target
//! (`families::organizations::staged`).
//!
//! The plan turns the policy's new attachments into one change per wave
//! (`rollout:scp:region-restriction:wave-2`), each after the one before. A
//! wave attaches the policy to its targets (the attachment planner's safe
//! order per target, so no target ever loses its Allow path), soaks, then
//! reads the organization trail's log files of the wave's accounts written
//! since the wave started (with the replay parser) and counts the calls that
//! failed with an AccessDenied naming a service control policy. More than
//! `max_denials` halts the rollout: the wave's attachments are undone (again
//! in a safe order), the policy is tagged `lzctl-rollout-halted`, and the
//! apply fails naming the calls. Earlier waves keep the policy. A plain
//! `apply` then refuses to go on; `apply --resume` runs the halted wave again.

pub mod config;
pub mod watch;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::Target;

/// Tag key on a policy whose rollout halted; its value says where and why.
pub const HALT_TAG_KEY: &str = "lzctl-rollout-halted";

/// Where the organization trail delivers its log files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailLocation {
    /// Bucket.
    pub bucket: String,
    /// Key prefix before `AWSLogs/` (empty, or ending with `/`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

impl std::fmt::Display for TrailLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One wave as the file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// The target expressions as written.
    pub exprs: Vec<String>,
    /// What they resolve to.
    pub targets: BTreeSet<Target>,
}

/// A policy's `rollout:` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSpec {
    /// Waves, in order.
    pub waves: Vec<Wave>,
    /// How long each wave runs before its accounts' denials are counted.
    pub soak: Duration,
    /// New SCP denials tolerated per wave; more halt the rollout.
    pub max_denials: u32,
    /// The organization trail's bucket.
    pub trail: TrailLocation,
    /// The account (by name) whose member role reads the trail bucket; the
    /// caller itself when absent.
    pub trail_account: Option<String>,
}

impl RolloutSpec {
    /// The wave (0-based) a target belongs to.
    pub fn wave_of(&self, target: &Target) -> Option<usize> {
        self.waves.iter().position(|w| w.targets.contains(target))
    }
}

/// The steps of one target in a wave: what the wave does, and how it is undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveTarget {
    /// The target.
    pub target: Target,
    /// Attach and detach steps in a safe order.
    pub steps: Vec<WaveStep>,
    /// The steps that put the target back as it was, in a safe order.
    pub undo: Vec<WaveStep>,
}

/// One attachment step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", content = "policy", rename_all = "snake_case")]
pub enum WaveStep {
    /// Attach this policy.
    Attach(String),
    /// Detach this policy.
    Detach(String),
}

/// Human form of a duration as the file writes it (`30m`, `2s`, `90s`).
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The halt tag's value (`digest`: [`content_digest`] of the document): `wave 2/3 halted 2026-11-28T05:51:58Z doc 1a2b3c4d5e6f`
/// (tag values allow letters, digits, spaces and `_.:/=+-@`).
pub fn halt_tag_value(
    wave: usize,
    of: usize,
    at: chrono::DateTime<chrono::Utc>,
    digest: &str,
) -> String {
    format!(
        "wave {wave}/{of} halted {} doc {digest}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// The first 12 hex digits of the sha256 of a policy document (normalized).
pub fn content_digest(content: &str) -> String {
    let normal = crate::policy::document::normalize(content).unwrap_or_else(|| content.to_string());
    crate::digest::sha256_hex(normal.as_bytes())[..12].to_string()
}

/// A halt tag read back: the wave (1-based) and the document digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    /// The wave that halted (1-based).
    pub wave: usize,
    /// When.
    pub at: String,
    /// The document it halted with.
    pub doc: String,
}

/// Parses a halt tag's value.
pub fn parse_halt(value: &str) -> Option<Halt> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        ["wave", which, "halted", at, "doc", doc] => Some(Halt {
            wave: which.split('/').next()?.parse().ok()?,
            at: at.to_string(),
            doc: doc.to_string(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_tags_round_trip_and_fit_aws_tag_rules() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-28T05:51:58Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let digest = content_digest(r#"{"Version":"2012-10-17","Statement":[]}"#);
        let v = halt_tag_value(2, 3, at, &digest);
        assert!(v.len() <= 256);
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)),
            "{v}"
        );
        let h = parse_halt(&v).unwrap();
        assert_eq!((h.wave, h.at.as_str()), (2, "2026-11-28T05:51:58Z"));
        assert_eq!(h.doc, digest);
        assert_eq!(h.doc.len(), 12);
        assert_eq!(parse_halt("something else"), None);
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(duration_text(Duration::from_secs(1800)), "30m");
        assert_eq!(duration_text(Duration::from_secs(2)), "2s");
        assert_eq!(duration_text(Duration::from_secs(7200)), "2h");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
    }
}

/// The lines under a wave in a human plan: its targets, accounts and soak.
pub fn describe_wave(w: &crate::families::organizations::RolloutWave) -> Vec<String> {
    let targets: Vec<String> = w.targets.iter().map(|t| t.target.to_string()).collect();
    let mut lines = vec![format!(
        "wave {} of {}: {} target(s): {}",
        w.wave,
        w.of,
        targets.len(),
        targets.join(", ")
    )];
    lines.push(format!(
        "  accounts ({}): {}",
        w.accounts.len(),
        if w.accounts.is_empty() {
            "none".to_string()
        } else {
            w.accounts.join(", ")
        }
    ));
    lines.push(format!(
        "  then soak {} and read {} for SCP denials in these accounts; more than {} halt the rollout and detach the policy from this wave",
        duration_text(w.soak()),
        w.trail,
        w.max_denials
    ));
    if w.needs_resume {
        lines.push("  the rollout halted at this wave: only `lzctl apply --resume` runs it".into());
    }
    lines
}

pub mod apply;
