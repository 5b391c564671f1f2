//! Saved plans (`--out plan.json`): the versioned JSON document.

use std::path::{Path, PathBuf};

use super::{Plan, PLAN_FORMAT_VERSION};

/// Why a saved plan cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Unreadable or unwritable.
    #[error("{path}: {cause}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        cause: std::io::Error,
    },
    /// Not a plan.
    #[error("{path} is not an lzctl plan: {message}")]
    Format {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// Written by an incompatible version.
    #[error("{path} has plan format {found}, written by another lzctl version; this lzctl reads format {PLAN_FORMAT_VERSION}: run `lzctl plan` again to make a new plan")]
    Version {
        /// File.
        path: PathBuf,
        /// Found version.
        found: u32,
    },
}

/// Writes a plan as pretty JSON.
pub fn write(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let text = serde_json::to_string_pretty(plan).expect("plans serialize");
    std::fs::write(path, text + "\n").map_err(|cause| PlanFileError::Io {
        path: path.into(),
        cause,
    })
}

/// Reads a saved plan and checks its format version.
pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|cause| PlanFileError::Io {
        path: path.into(),
        cause,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| PlanFileError::Format {
            path: path.into(),
            message: e.to_string(),
        })?;
    let found = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as u32;
    if found != PLAN_FORMAT_VERSION {
        return Err(PlanFileError::Version {
            path: path.into(),
            found,
        });
    }
    serde_json::from_value(value).map_err(|e| PlanFileError::Format {
        path: path.into(),
        message: e.to_string(),
    })
}
