//! The audit log: one JSON line per mutating AWS call.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// One mutating call.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339 time.
    pub time: String,
    /// The caller's account and ARN.
    pub caller: &'a str,
    /// Plan address.
    pub address: &'a str,
    /// API operation (`organizations:AttachPolicy`).
    pub operation: &'a str,
    /// AWS request id, when AWS answered.
    pub request_id: Option<&'a str>,
    /// `ok`, or the error.
    pub result: &'a str,
    /// Structured detail of the outcome (a stack set operation's failures
    /// by account and region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a serde_json::Value>,
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    caller: String,
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Opens (creating directories) for appending.
    pub fn open(path: &Path, caller: String) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            caller,
            file: Mutex::new(file),
        })
    }

    /// Where it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record; a failure to write is reported, never ignored.
    pub fn record(
        &self,
        address: &str,
        operation: &str,
        request_id: Option<&str>,
        result: &str,
    ) -> std::io::Result<()> {
        self.record_details(address, operation, request_id, result, None)
    }

    /// Appends one record with structured details.
    pub fn record_details(
        &self,
        address: &str,
        operation: &str,
        request_id: Option<&str>,
        result: &str,
        details: Option<&serde_json::Value>,
    ) -> std::io::Result<()> {
        let record = AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            caller: &self.caller,
            address,
            operation,
            request_id,
            result,
            details,
        };
        let mut line = serde_json::to_string(&record).expect("records serialize");
        line.push('\n');
        let mut file = self.file.lock().expect("audit lock");
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}
