//! Errors of the replay.
//!
//! Only problems with the inputs as given fail the whole replay (a path that does not
//! exist, a directory that cannot be listed). A file that cannot be read or decompressed,
//! or whose JSON breaks off, is reported in [`ReplayReport::file_errors`](super::ReplayReport)
//! and the replay goes on with the other files: one corrupt object in weeks of logs should
//! not hide the answer for the rest.

use std::io;
use std::path::PathBuf;

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No input path was given.
    #[error("no CloudTrail input given: pass files or directories with --events")]
    NoInputs,
    /// An input path does not exist or cannot be inspected.
    #[error("cannot read CloudTrail input {}: {source}", path.display())]
    Input {
        /// The path as given (or found while walking a directory).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A worker thread panicked (a bug).
    #[error("a replay worker failed: {0}")]
    Worker(String),
}

/// A problem with one input file; the replay goes on with the others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct FileError {
    /// The file.
    pub path: String,
    /// What went wrong (I/O, gzip or JSON error; JSON errors name the byte offset in the
    /// decompressed stream).
    pub message: String,
}
