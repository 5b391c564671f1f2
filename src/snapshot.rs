//! Snapshot files: observed state recorded for offline planning.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::families::Observed;
use crate::model::OrgState;

/// Version of the snapshot format. 2: every family's observed state (1 held
/// the organization only, and is still read).
pub const SNAPSHOT_FORMAT_VERSION: u32 = 2;

/// A recorded organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT_VERSION`].
    pub format_version: u32,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// The state.
    pub state: Observed,
}

/// The first format: the organization alone.
#[derive(Deserialize)]
struct SnapshotV1 {
    state: OrgState,
}

/// Why a snapshot cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// File trouble.
    #[error("{path}: {cause}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        cause: std::io::Error,
    },
    /// Not a snapshot.
    #[error("{path} is not an lzctl snapshot (format {SNAPSHOT_FORMAT_VERSION}): {message}")]
    Format {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
}

/// Writes a snapshot.
pub fn write(state: &Observed, path: &Path) -> Result<(), SnapshotError> {
    let snapshot = Snapshot {
        format_version: SNAPSHOT_FORMAT_VERSION,
        taken_at: chrono::Utc::now().to_rfc3339(),
        state: state.clone(),
    };
    let text = serde_json::to_string_pretty(&snapshot).expect("snapshots serialize");
    std::fs::write(path, text + "\n").map_err(|cause| SnapshotError::Io {
        path: path.into(),
        cause,
    })
}

/// Reads a snapshot (format 2, or the organization of a format-1 one).
pub fn read(path: &Path) -> Result<Observed, SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(|cause| SnapshotError::Io {
        path: path.into(),
        cause,
    })?;
    let format = |message: String| SnapshotError::Format {
        path: path.into(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(1) => {
            let v1: SnapshotV1 =
                serde_json::from_value(value).map_err(|e| format(e.to_string()))?;
            Ok(Observed {
                organizations: v1.state,
                ..Observed::default()
            })
        }
        Some(2) => {
            let snapshot: Snapshot =
                serde_json::from_value(value).map_err(|e| format(e.to_string()))?;
            Ok(snapshot.state)
        }
        other => Err(format(format!(
            "format {} (this lzctl reads 1 and 2)",
            other
                .map(|v| v.to_string())
                .unwrap_or_else(|| "missing".into())
        ))),
    }
}
