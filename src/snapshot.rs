//! Snapshot files: observed state recorded for offline planning.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::OrgState;

/// Version of the snapshot format.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// A recorded organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT_VERSION`].
    pub format_version: u32,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// The state.
    pub state: OrgState,
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
pub fn write(state: &OrgState, path: &Path) -> Result<(), SnapshotError> {
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

/// Reads a snapshot.
pub fn read(path: &Path) -> Result<OrgState, SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(|cause| SnapshotError::Io {
        path: path.into(),
        cause,
    })?;
    let snapshot: Snapshot = serde_json::from_str(&text).map_err(|e| SnapshotError::Format {
        path: path.into(),
        message: e.to_string(),
    })?;
    if snapshot.format_version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotError::Format {
            path: path.into(),
            message: format!("format {}", snapshot.format_version),
        });
    }
    Ok(snapshot.state)
}
