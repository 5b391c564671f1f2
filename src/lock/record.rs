//! What the lock object holds.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the lock record format.
pub const RECORD_VERSION: u32 = 1;

/// Who takes a lock: the caller and the process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    /// `apply`, `import`.
    pub operation: String,
    /// The caller's ARN.
    pub caller: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// The CI run, when lzctl runs in one (GitHub Actions, GitLab CI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// The organization the lock guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

impl LockOwner {
    /// This process, acting as `caller`, for `operation`.
    pub fn this_process(operation: &str, caller: &str, organization: Option<String>) -> LockOwner {
        LockOwner {
            operation: operation.to_string(),
            caller: caller.to_string(),
            host: host_name(),
            pid: std::process::id(),
            pipeline: pipeline_from_env(|k| std::env::var(k).ok()),
            organization,
        }
    }
}

/// The machine's host name (Linux), else `HOSTNAME`, else `unknown`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The CI run lzctl runs in, from the variables GitHub Actions and GitLab CI set.
pub fn pipeline_from_env(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    if let (Some(server), Some(repo), Some(run)) = (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_RUN_ID"),
    ) {
        return Some(format!("{server}/{repo}/actions/runs/{run}"));
    }
    var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL"))
}

/// The lock object's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// A random token of this holding (two runs of one host and pid differ).
    pub id: String,
    /// Who holds it.
    #[serde(flatten)]
    pub owner: LockOwner,
    /// When it was taken.
    pub acquired: DateTime<Utc>,
    /// The holder's last heartbeat.
    pub heartbeat: DateTime<Utc>,
    /// When it is stale unless the heartbeat renews it.
    pub expires: DateTime<Utc>,
    /// Digest of the plan being carried out, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
}

impl LockRecord {
    /// A new record, taken at `now`.
    pub fn new(owner: LockOwner, now: DateTime<Utc>, ttl: Duration) -> LockRecord {
        use rand::Rng;
        let id: String = (0..16)
            .map(|_| format!("{:x}", rand::thread_rng().gen_range(0..16u8)))
            .collect();
        LockRecord {
            version: RECORD_VERSION,
            id,
            owner,
            acquired: now,
            heartbeat: now,
            expires: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            plan_digest: None,
        }
    }

    /// Placeholder for a holder that could not be read.
    pub fn unknown() -> LockRecord {
        let now = Utc::now();
        LockRecord {
            version: RECORD_VERSION,
            id: String::new(),
            owner: LockOwner {
                caller: "an unknown holder".into(),
                ..LockOwner::default()
            },
            acquired: now,
            heartbeat: now,
            expires: now,
            plan_digest: None,
        }
    }

    /// Renews the heartbeat at `now`.
    pub fn touch(&mut self, now: DateTime<Utc>, ttl: Duration) {
        self.heartbeat = now;
        self.expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    }

    /// Whether its heartbeat stopped: it expired before `now`.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.expires < now
    }
}

impl fmt::Display for LockRecord {
    /// `lzctl apply by arn:... on host (pid 42) since 2026-...Z, plan sha256:...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.owner;
        write!(f, "lzctl {} by {}", o.operation, o.caller)?;
        if !o.host.is_empty() {
            write!(f, " on {} (pid {})", o.host, o.pid)?;
        }
        if let Some(p) = &o.pipeline {
            write!(f, " in {p}")?;
        }
        write!(f, " since {}", super::since(self.acquired))?;
        if let Some(d) = &self.plan_digest {
            write!(f, ", plan {}", &d[..d.len().min(19)])?;
        }
        if self.is_stale(Utc::now()) {
            write!(
                f,
                "; STALE: no heartbeat since {}",
                super::since(self.heartbeat)
            )?;
        } else {
            write!(f, "; expires {} unless renewed", super::since(self.expires))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_pipeline_of_github_actions_and_gitlab() {
        let gh = |k: &str| match k {
            "GITHUB_SERVER_URL" => Some("https://github.com".to_string()),
            "GITHUB_REPOSITORY" => Some("acme/landing-zone".to_string()),
            "GITHUB_RUN_ID" => Some("42".to_string()),
            _ => None,
        };
        assert_eq!(
            pipeline_from_env(gh).as_deref(),
            Some("https://github.com/acme/landing-zone/actions/runs/42")
        );
        let gl = |k: &str| (k == "CI_JOB_URL").then(|| "https://gitlab.example/j/7".to_string());
        assert_eq!(
            pipeline_from_env(gl).as_deref(),
            Some("https://gitlab.example/j/7")
        );
        assert_eq!(pipeline_from_env(|_| None), None);
    }

    #[test]
    fn a_record_goes_stale_when_its_heartbeat_stops() {
        let t0 = Utc::now();
        let mut r = LockRecord::new(LockOwner::default(), t0, Duration::from_secs(60));
        assert!(!r.is_stale(t0 + chrono::Duration::seconds(59)));
        assert!(r.is_stale(t0 + chrono::Duration::seconds(61)));
        r.touch(t0 + chrono::Duration::seconds(50), Duration::from_secs(60));
        assert!(!r.is_stale(t0 + chrono::Duration::seconds(100)));
        let text = serde_json::to_string(&r).unwrap();
        let back: LockRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert!(text.contains("\"caller\""), "owner fields are flat: {text}");
    }
}
