//! The audit log: one JSON line per mutating AWS call.
//!
//! Protection: the file is only ever appended to, and every record carries
//! `prev`, the sha256 of the line before it (as written, without its
//! newline), so editing or removing a line breaks the chain at the next one
//! (`lzctl evidence` checks it and prints the digest of the last line, the
//! head, for an auditor to pin). Records written before the chain existed
//! have no `prev` and are still read. Records also carry the plan they
//! belong to (`plan`: the sha256 of the applied plan's JSON).

use std::io::{BufRead, Write};
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
    /// The plan being applied (sha256 of its JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<&'a str>,
    /// sha256 of the previous line (None for the first line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<&'a str>,
}

/// Where a log continues a chain kept elsewhere (an S3 log's newest
/// object): read just before the first record, not at open, because an
/// apply can wait for the lock in between while the holder adds to it.
pub trait ChainHead: Send + Sync {
    /// sha256 of the chain's last line, None when it is empty.
    fn head(&self) -> futures::future::BoxFuture<'_, std::io::Result<Option<String>>>;
}

/// An append-only JSON-lines file.
pub struct AuditLog {
    path: PathBuf,
    caller: String,
    /// The chain this file continues, if kept elsewhere.
    continues: Option<std::sync::Arc<dyn ChainHead>>,
    /// Set once the plan is known (records of the lock taken before it
    /// carry none).
    plan: std::sync::OnceLock<String>,
    /// The file and where the next record chains to.
    file: Mutex<(std::fs::File, Chain)>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("continues", &self.continues.is_some())
            .finish()
    }
}

/// What the next record's `prev` is.
#[derive(Debug)]
enum Chain {
    /// Nothing written yet: the file's last line then, else this digest.
    Continues(Option<String>),
    /// The digest of the last line this log wrote.
    Last(String),
}

/// sha256 of the last non-empty line of a file (None: empty or missing).
pub fn last_line_digest(path: &Path) -> std::io::Result<Option<String>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut last = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if !line.trim().is_empty() {
            last = Some(line);
        }
    }
    Ok(last.map(|l| crate::digest::sha256_hex(l.as_bytes())))
}

impl AuditLog {
    /// Opens (creating directories) for appending; the chain continues from
    /// the file's last line, read at the first record, not now: an apply
    /// may wait for the lock in between while another one appends.
    pub fn open(path: &Path, caller: String) -> std::io::Result<AuditLog> {
        AuditLog::open_continuing(path, caller, None)
    }

    /// Opens for appending a file that continues the chain `continues`
    /// (when the file is still empty at the first record): see
    /// [`AuditLog::continue_chain`].
    pub fn open_continuing(
        path: &Path,
        caller: String,
        continues: Option<std::sync::Arc<dyn ChainHead>>,
    ) -> std::io::Result<AuditLog> {
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
            continues,
            plan: std::sync::OnceLock::new(),
            file: Mutex::new((file, Chain::Continues(None))),
        })
    }

    /// Reads where the first record chains to, from the chain this file
    /// continues; nothing once a record is written. Call it where the
    /// chain's head can no longer move: with the apply lock held.
    pub async fn continue_chain(&self) -> std::io::Result<()> {
        let Some(continues) = &self.continues else {
            return Ok(());
        };
        if !self.writes_nothing_yet() {
            return Ok(());
        }
        let head = continues.head().await?;
        let mut guard = self.file.lock().expect("audit lock");
        if let Chain::Continues(before) = &mut guard.1 {
            *before = head;
        }
        Ok(())
    }

    fn writes_nothing_yet(&self) -> bool {
        matches!(self.file.lock().expect("audit lock").1, Chain::Continues(_))
    }

    /// Records the plan these calls carry out.
    pub fn with_plan(self, plan: String) -> AuditLog {
        self.set_plan(plan);
        self
    }

    /// Records the plan the calls from now on carry out (the first plan
    /// set stays: one apply carries out one plan).
    pub fn set_plan(&self, plan: String) {
        let _ = self.plan.set(plan);
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
        let mut guard = self.file.lock().expect("audit lock");
        let (file, chain) = &mut *guard;
        let prev = match chain {
            Chain::Continues(before) => last_line_digest(&self.path)?.or(before.take()),
            Chain::Last(digest) => Some(digest.clone()),
        };
        let record = AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            caller: &self.caller,
            address,
            operation,
            request_id,
            result,
            details,
            plan: self.plan.get().map(String::as_str),
            prev: prev.as_deref(),
        };
        let line = serde_json::to_string(&record).expect("records serialize");
        file.write_all(format!("{line}\n").as_bytes())?;
        file.flush()?;
        *chain = Chain::Last(crate::digest::sha256_hex(line.as_bytes()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_chain_to_the_line_before_across_reopenings_and_old_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        // A line in the format before the chain.
        let old = r#"{"time":"2026-01-01T00:00:00.000Z","caller":"c","address":"a","operation":"organizations:CreatePolicy","request_id":null,"result":"ok"}"#;
        std::fs::write(&path, format!("{old}\n")).unwrap();
        let log = AuditLog::open(&path, "arn".into())
            .unwrap()
            .with_plan("p1".into());
        log.record("x", "organizations:AttachPolicy", Some("r1"), "ok")
            .unwrap();
        drop(log);
        let log = AuditLog::open(&path, "arn".into()).unwrap();
        log.record("y", "organizations:DetachPolicy", None, "ok")
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        let third: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(second["prev"], crate::digest::sha256_hex(old.as_bytes()));
        assert_eq!(second["plan"], "p1");
        assert_eq!(
            third["prev"],
            crate::digest::sha256_hex(lines[1].as_bytes())
        );
        assert!(third.get("plan").is_none());
    }
}
