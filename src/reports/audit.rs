//! Where the audit log lives, and reading it back with its hash chain checked.
//!
//! - A local file (`.lzctl/audit.jsonl`): appended to by `apply`.
//! - An S3 prefix (`s3://bucket/lzctl/audit/`): `apply` appends to a local
//!   spool file while it runs and, when it ends, writes the spool as a *new*
//!   object (`audit-<time>-<pid>-<random>.jsonl`, `If-None-Match: *`, the
//!   time being when it is written); it never rewrites or deletes an
//!   object, so the bucket's versioning and object lock (the team's
//!   settings) keep every record. A spool left by a crashed apply is
//!   written by the next one. The chain continues across objects: the first
//!   record of an object carries the digest of the last line of the newest
//!   object before it, read once the apply holds the lock; and an apply
//!   that holds the lock writes its object before giving the lock back, so
//!   the next holder chains to it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{Location, Store, StoreError};
use crate::aws::Clients;

/// Where `apply` writes.
pub enum AuditTarget {
    /// A local file.
    Local(PathBuf),
    /// A spool shipped to S3.
    S3 {
        /// The prefix.
        store: Store,
        /// This run's spool file.
        spool: PathBuf,
        /// The spool, locked (advisory) while this run lives, so that
        /// another run ships only the spools of runs that have ended.
        _in_use: std::fs::File,
    },
}

const SPOOL_DIR: &str = ".lzctl/audit-spool";

/// A spool not yet written to S3 (`spool-<pid>-<random>.jsonl`).
const SPOOL_PREFIX: &str = "spool-";

impl AuditTarget {
    /// Opens the location (`s3://...` or a path). For S3, first ships the
    /// spools crashed runs left.
    pub async fn open(location: &str, clients: &Clients) -> Result<AuditTarget, StoreError> {
        match Location::parse(location) {
            Location::Local(path) => Ok(AuditTarget::Local(path)),
            loc @ Location::S3 { .. } => {
                let store = Store::open(&loc, Some(clients)).expect("clients given");
                ship_spools(&store, None).await?;
                let spool = PathBuf::from(SPOOL_DIR).join(format!(
                    "{SPOOL_PREFIX}{}-{:08x}.jsonl",
                    std::process::id(),
                    rand::random::<u32>()
                ));
                let in_use = claim_spool(&spool)?;
                Ok(AuditTarget::S3 {
                    store,
                    spool,
                    _in_use: in_use,
                })
            }
        }
    }

    /// The file `AuditLog` appends to.
    pub fn local_path(&self) -> &Path {
        match self {
            AuditTarget::Local(p) => p,
            AuditTarget::S3 { spool, .. } => spool,
        }
    }

    /// sha256 of the last line of the newest object (S3), None for a local
    /// file (the file's own last line is used) or an empty log.
    async fn newest_line(&self) -> Result<Option<String>, StoreError> {
        let AuditTarget::S3 { store, .. } = self else {
            return Ok(None);
        };
        let Some(name) = store
            .list()
            .await?
            .into_iter()
            .rfind(|n| is_audit_object(n))
        else {
            return Ok(None);
        };
        Ok(store.get(&name).await?.and_then(|o| {
            String::from_utf8_lossy(&o.bytes)
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .map(|l| crate::digest::sha256_hex(l.as_bytes()))
        }))
    }

    /// Where records not yet written to their place stay (for messages):
    /// the file, or for S3 the spool directory (a spool is renamed when it
    /// is written).
    pub fn kept_in(&self) -> &Path {
        match self {
            AuditTarget::Local(p) => p,
            AuditTarget::S3 { .. } => Path::new(SPOOL_DIR),
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            AuditTarget::Local(p) => p.display().to_string(),
            AuditTarget::S3 { store, .. } => store.describe(),
        }
    }

    /// After the apply: ships this run's spool (S3). Nothing for a file.
    pub async fn finish(&self) -> Result<(), StoreError> {
        match self {
            AuditTarget::Local(_) => Ok(()),
            AuditTarget::S3 { store, spool, .. } => ship_spools(store, Some(spool)).await,
        }
    }
}

impl crate::apply::audit::ChainHead for AuditTarget {
    fn head(&self) -> futures::future::BoxFuture<'_, std::io::Result<Option<String>>> {
        Box::pin(async move {
            self.newest_line()
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
    }
}

fn is_audit_object(name: &str) -> bool {
    name.starts_with("audit-") && name.ends_with(".jsonl")
}

/// Creates this run's spool file and locks it for the run's lifetime.
fn claim_spool(spool: &Path) -> Result<std::fs::File, StoreError> {
    let io = |cause| StoreError::Io {
        path: spool.to_path_buf(),
        cause,
    };
    if let Some(dir) = spool.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spool)
        .map_err(io)?;
    file.try_lock().map_err(|e| io(e.into()))?;
    Ok(file)
}

/// Whether another live run holds the spool (its lock is taken).
fn in_use(spool: &Path) -> bool {
    match std::fs::File::open(spool) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Writes spool files as new objects, then removes them; `only`: just that
/// one (this run's own). Without `only`, the spools of runs still alive are
/// left to them.
async fn ship_spools(store: &Store, only: Option<&Path>) -> Result<(), StoreError> {
    let dir = Path::new(SPOOL_DIR);
    let files: Vec<PathBuf> = match only {
        Some(p) => vec![p.to_path_buf()],
        None => match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut v: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        },
    };
    for mut file in files {
        let mut name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let running = name.starts_with(SPOOL_PREFIX) && name.ends_with(".jsonl");
        if !(running || is_audit_object(&name)) || (only.is_none() && in_use(&file)) {
            continue;
        }
        if running {
            // Named when written, so that the objects list in the order
            // they were written (under the lock: the order of the applies).
            // Renamed first: a crash between the rename and the write
            // leaves a file the next run writes under the same name.
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
            name = format!("audit-{stamp}-{}", &name[SPOOL_PREFIX.len()..]);
            let named = file.with_file_name(&name);
            match std::fs::rename(&file, &named) {
                Ok(()) => file = named,
                // Written already (finish called twice).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(cause) => {
                    return Err(StoreError::Io {
                        path: file.clone(),
                        cause,
                    })
                }
            }
        }
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(cause) => return Err(StoreError::Io { path: file, cause }),
        };
        if !bytes.is_empty() {
            // An object of that name already there is this spool, shipped
            // before a crash removed the file: nothing to add.
            store.put_new(&name, &bytes).await?;
        }
        std::fs::remove_file(&file).map_err(|cause| StoreError::Io {
            path: file.clone(),
            cause,
        })?;
    }
    Ok(())
}

/// One record as read back (any version of the format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRecord {
    /// Where it was read (file or object) and its line number.
    pub source: String,
    /// Line number (1-based) in its source.
    pub line: usize,
    /// Time.
    pub time: String,
    /// Who.
    pub caller: String,
    /// Plan address.
    pub address: String,
    /// Operation.
    pub operation: String,
    /// Request id.
    pub request_id: Option<String>,
    /// Result.
    pub result: String,
    /// The plan (sha256 of its JSON), for records that carry it.
    pub plan: Option<String>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// The chain check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    /// Records read.
    pub records: usize,
    /// Records whose `prev` matches the line before.
    pub chained: usize,
    /// Records without `prev` (written before the chain existed, or the first).
    pub unchained: usize,
    /// Where the chain breaks: `source:line: reason`.
    pub broken: Vec<String>,
    /// Lines that are not records.
    pub unreadable: Vec<String>,
    /// sha256 of the last line: pin it to detect later edits or truncation.
    pub head: Option<String>,
}

/// Reads every record of the log (oldest first) and checks the chain.
pub async fn read(
    location: &str,
    clients: Option<&Clients>,
) -> Result<(Vec<ReadRecord>, ChainCheck), StoreError> {
    let mut sources: Vec<(String, String)> = Vec::new();
    match Location::parse(location) {
        Location::Local(path) => match std::fs::read_to_string(&path) {
            Ok(text) => sources.push((path.display().to_string(), text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(cause) => return Err(StoreError::Io { path, cause }),
        },
        loc @ Location::S3 { .. } => {
            let store = Store::open(&loc, clients).expect("S3 needs clients");
            for name in store
                .list()
                .await?
                .into_iter()
                .filter(|n| is_audit_object(n))
            {
                if let Some(o) = store.get(&name).await? {
                    sources.push((
                        format!("{}{name}", store.describe()),
                        String::from_utf8_lossy(&o.bytes).into_owned(),
                    ));
                }
            }
        }
    }
    let mut records = Vec::new();
    let mut check = ChainCheck::default();
    let mut prev: Option<String> = None;
    for (source, text) in &sources {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let digest = crate::digest::sha256_hex(line.as_bytes());
            let value: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    check.unreadable.push(format!("{source}:{}: {e}", i + 1));
                    prev = Some(digest);
                    continue;
                }
            };
            check.records += 1;
            match value.get("prev").and_then(|p| p.as_str()) {
                Some(p) if Some(p) == prev.as_deref() => check.chained += 1,
                Some(_) => check.broken.push(format!(
                    "{source}:{}: `prev` does not match the line before: a line before it was edited, removed or inserted",
                    i + 1
                )),
                None => {
                    check.unchained += 1;
                    // Records without `prev` predate the chain; one after
                    // chained records was inserted.
                    if check.chained > 0 {
                        check.broken.push(format!(
                            "{source}:{}: a record without `prev` after chained records",
                            i + 1
                        ));
                    }
                }
            }
            let text = |k: &str| {
                value
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            records.push(ReadRecord {
                source: source.clone(),
                line: i + 1,
                time: text("time"),
                caller: text("caller"),
                address: text("address"),
                operation: text("operation"),
                request_id: value
                    .get("request_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                result: text("result"),
                plan: value
                    .get("plan")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                details: value.get("details").cloned().filter(|d| !d.is_null()),
            });
            prev = Some(digest);
        }
    }
    check.head = prev;
    Ok((records, check))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::audit::AuditLog;

    #[tokio::test]
    async fn an_edited_line_breaks_the_chain_at_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, "arn:aws:iam::123456789012:root".into())
            .unwrap()
            .with_plan("p".into());
        for op in [
            "organizations:CreatePolicy",
            "organizations:AttachPolicy",
            "organizations:DetachPolicy",
        ] {
            log.record("scp:x", op, Some("req"), "ok").unwrap();
        }
        let location = path.display().to_string();
        let (records, check) = read(&location, None).await.unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            (check.chained, check.unchained, check.broken.len()),
            (2, 1, 0)
        );
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("AttachPolicy", "AttachPolicyX");
        std::fs::write(&path, text).unwrap();
        let (_, check) = read(&location, None).await.unwrap();
        assert_eq!(check.broken.len(), 1, "{check:?}");
        assert!(check.broken[0].contains(":3:"), "{check:?}");
    }
}
