//! Where reports, notification state and audit logs are kept: a local
//! directory, or an S3 prefix for a team. Both give the same three
//! guarantees the callers rely on:
//! - `put_new` never replaces an object (S3: `If-None-Match: *`; local: a
//!   hard link that fails when the name exists);
//! - `put_if` replaces an object only when it is still the version read
//!   (S3: `If-Match: <ETag>`, or `If-None-Match: *` when there was none;
//!   local: a lock file held while comparing and renaming);
//! - a reader sees a whole object or none (S3 objects; local temp + rename).
//!
//! The S3 client is built only for `s3://` locations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aws::{AwsError, BusyErrorsRetried, Clients};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A local file.
    #[error("{path}: {cause}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        cause: std::io::Error,
    },
    /// S3.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The local lock could not be had in time.
    #[error("{0} is locked by another lzctl (remove the .lock file if no lzctl runs)")]
    Locked(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |cause| StoreError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// A location as the user writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Local(PathBuf),
    /// `s3://bucket/prefix/`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix (empty, or ending with `/`).
        prefix: String,
    },
}

impl Location {
    /// Parses `s3://bucket/prefix` or a path.
    pub fn parse(text: &str) -> Location {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let mut prefix = prefix.trim_start_matches('/').to_string();
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Location::S3 {
                    bucket: bucket.to_string(),
                    prefix,
                }
            }
            None => Location::Local(PathBuf::from(text)),
        }
    }

    /// A single object (`s3://bucket/dir/state.json`, `dir/state.json`):
    /// its folder as a location, and its name.
    pub fn parse_object(text: &str) -> (Location, String) {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, "state.json"));
                let (prefix, name) = match key.rsplit_once('/') {
                    Some((p, n)) => (format!("{p}/"), n.to_string()),
                    None => (String::new(), key.to_string()),
                };
                (
                    Location::S3 {
                        bucket: bucket.to_string(),
                        prefix,
                    },
                    name,
                )
            }
            None => {
                let path = PathBuf::from(text);
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "state.json".into());
                (Location::Local(dir), name)
            }
        }
    }

    /// Whether it needs AWS.
    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3 { .. })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// An object and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Content.
    pub bytes: Vec<u8>,
    /// S3 ETag, or the sha256 of a local file.
    pub version: String,
}

/// A store.
#[derive(Debug, Clone)]
pub enum Store {
    /// A local directory.
    Local(PathBuf),
    /// An S3 prefix.
    S3 {
        /// Client.
        client: aws_sdk_s3::Client,
        /// Bucket.
        bucket: String,
        /// Prefix.
        prefix: String,
    },
}

/// An S3 client from lzctl's clients (same credentials, call counting and
/// retries); path-style addressing when an endpoint URL is set (local S3).
pub fn s3_client(clients: &Clients) -> aws_sdk_s3::Client {
    let config = &clients.config;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .interceptor(clients.stats.clone())
            .retry_classifier(BusyErrorsRetried)
            .force_path_style(config.endpoint_url().is_some())
            .build(),
    )
}

impl Store {
    /// A store at a location (`clients` is needed for S3 only).
    pub fn open(location: &Location, clients: Option<&Clients>) -> Option<Store> {
        match location {
            Location::Local(p) => Some(Store::Local(p.clone())),
            Location::S3 { bucket, prefix } => clients.map(|c| Store::S3 {
                client: s3_client(c),
                bucket: bucket.clone(),
                prefix: prefix.clone(),
            }),
        }
    }

    /// Names of the objects (relative to the location), sorted.
    pub async fn list(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Local(dir) => {
                let mut out = Vec::new();
                let entries = match std::fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(io(dir)(e)),
                };
                for entry in entries {
                    let entry = entry.map_err(io(dir))?;
                    if entry.file_type().map_err(io(dir))?.is_file() {
                        out.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                out.sort();
                Ok(out)
            }
            Store::S3 {
                client,
                bucket,
                prefix,
            } => {
                let pages: Vec<_> = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3:ListObjectsV2", &e))?;
                let mut out: Vec<String> = pages
                    .iter()
                    .flat_map(|p| p.contents())
                    .filter_map(|o| o.key())
                    .filter_map(|k| k.strip_prefix(prefix.as_str()))
                    .filter(|k| !k.is_empty() && !k.contains('/'))
                    .map(str::to_string)
                    .collect();
                out.sort();
                Ok(out)
            }
        }
    }

    /// Reads an object, None when it does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Versioned>, StoreError> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(Versioned {
                        version: crate::digest::sha256_hex(&bytes),
                        bytes,
                    })),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io(&path)(e)),
                }
            }
            Store::S3 {
                client,
                bucket,
                prefix,
            } => {
                let out = client
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{name}"))
                    .send()
                    .await;
                match out {
                    Ok(o) => {
                        let version = o.e_tag().unwrap_or_default().to_string();
                        let bytes = o.body.collect().await.map_err(|e| {
                            AwsError::unread_body(
                                "s3:GetObject",
                                &format!("s3://{bucket}/{prefix}{name}"),
                                e,
                            )
                        })?;
                        Ok(Some(Versioned {
                            bytes: bytes.into_bytes().to_vec(),
                            version,
                        }))
                    }
                    Err(e) => {
                        let err = AwsError::from_sdk("s3:GetObject", &e);
                        if err.code.as_deref() == Some("NoSuchKey") || err.status == Some(404) {
                            Ok(None)
                        } else {
                            Err(err.into())
                        }
                    }
                }
            }
        }
    }

    /// Writes a new object; false when the name exists (nothing written).
    pub async fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        match self {
            Store::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let path = dir.join(name);
                let tmp = temp_name(dir, name);
                std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
                let linked = std::fs::hard_link(&tmp, &path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(io(&path)(e)),
                }
            }
            Store::S3 { .. } => match self.s3_put(name, bytes, None).await? {
                Ok(_) => Ok(true),
                Err(Conflict) => Ok(false),
            },
        }
    }

    /// Replaces an object only if it is still at `expected` (None: only if
    /// it does not exist). Ok(Err(Conflict)) when someone else wrote first.
    pub async fn put_if(
        &self,
        name: &str,
        bytes: &[u8],
        expected: Option<&str>,
    ) -> Result<Result<String, Conflict>, StoreError> {
        match self {
            Store::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let path = dir.join(name);
                let _lock = LocalLock::acquire(&dir.join(format!("{name}.lock"))).await?;
                let now = match std::fs::read(&path) {
                    Ok(b) => Some(crate::digest::sha256_hex(&b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(io(&path)(e)),
                };
                if now.as_deref() != expected {
                    return Ok(Err(Conflict));
                }
                let tmp = temp_name(dir, name);
                std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
                std::fs::rename(&tmp, &path).map_err(io(&path))?;
                Ok(Ok(crate::digest::sha256_hex(bytes)))
            }
            Store::S3 { .. } => self.s3_put(name, bytes, Some(expected)).await,
        }
    }

    /// PutObject with a condition: `None` = `If-None-Match: *`;
    /// `Some(None)` = the same (the object was absent when read);
    /// `Some(Some(etag))` = `If-Match: etag`.
    async fn s3_put(
        &self,
        name: &str,
        bytes: &[u8],
        expected: Option<Option<&str>>,
    ) -> Result<Result<String, Conflict>, StoreError> {
        let Store::S3 {
            client,
            bucket,
            prefix,
        } = self
        else {
            unreachable!("s3_put on a local store")
        };
        let mut request = client
            .put_object()
            .bucket(bucket)
            .key(format!("{prefix}{name}"))
            .body(bytes.to_vec().into());
        request = match expected.flatten() {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(o) => Ok(Ok(o.e_tag().unwrap_or_default().to_string())),
            Err(e) => {
                let err = AwsError::from_sdk("s3:PutObject", &e);
                let conflict = matches!(
                    err.code.as_deref(),
                    Some("PreconditionFailed")
                        | Some("ConditionalRequestConflict")
                        | Some("NoSuchKey")
                ) || matches!(err.status, Some(409) | Some(412));
                if conflict {
                    Ok(Err(Conflict))
                } else {
                    Err(err.into())
                }
            }
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Local(p) => p.display().to_string(),
            Store::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }
}

/// Someone else wrote the object since it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

fn temp_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// An exclusive lock file (created with O_EXCL), removed on drop. A lock
/// older than two minutes is taken to be left by a crashed run.
struct LocalLock(PathBuf);

impl LocalLock {
    async fn acquire(path: &Path) -> Result<LocalLock, StoreError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(LocalLock(path.to_path_buf())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(120));
                    if stale {
                        eprintln!(
                            "warning: removing {} left by a run that did not finish",
                            path.display()
                        );
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    if std::time::Instant::now() > deadline {
                        return Err(StoreError::Locked(path.to_path_buf()));
                    }
                    // The lock is held for one read-compare-rename: milliseconds.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(io(path)(e)),
            }
        }
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://team-bucket/lzctl/reports"),
            Location::S3 {
                bucket: "team-bucket".into(),
                prefix: "lzctl/reports/".into()
            }
        );
        assert_eq!(
            Location::parse("s3://b"),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("reports"),
            Location::Local("reports".into())
        );
        let (loc, name) = Location::parse_object("s3://b/notify/state.json");
        assert_eq!(
            loc,
            Location::S3 {
                bucket: "b".into(),
                prefix: "notify/".into()
            }
        );
        assert_eq!(name, "state.json");
        let (loc, name) = Location::parse_object("state.json");
        assert_eq!(
            (loc, name.as_str()),
            (Location::Local(".".into()), "state.json")
        );
    }

    #[tokio::test]
    async fn local_writes_are_conditional() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(dir.path().to_path_buf());
        assert!(store.put_new("a.json", b"1").await.unwrap());
        assert!(
            !store.put_new("a.json", b"2").await.unwrap(),
            "put_new never replaces"
        );
        assert_eq!(store.get("a.json").await.unwrap().unwrap().bytes, b"1");
        assert_eq!(
            store.put_if("s.json", b"x", Some("nope")).await.unwrap(),
            Err(Conflict)
        );
        let v1 = store.put_if("s.json", b"x", None).await.unwrap().unwrap();
        assert_eq!(
            store.put_if("s.json", b"y", None).await.unwrap(),
            Err(Conflict)
        );
        let v2 = store
            .put_if("s.json", b"y", Some(&v1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.put_if("s.json", b"z", Some(&v1)).await.unwrap(),
            Err(Conflict)
        );
        assert_eq!(store.get("s.json").await.unwrap().unwrap().version, v2);
        assert_eq!(store.list().await.unwrap(), vec!["a.json", "s.json"]);
    }
}
