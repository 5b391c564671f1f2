//! The apply lock: one object in S3 that every pipeline sees, written with a
//! conditional PutObject (`If-None-Match: *`), so of two applies that start
//! together exactly one gets it. The record names the holder (caller ARN,
//! host, pid, pipeline), when it was taken, the plan it carries out, and an
//! expiry that the holder's heartbeat pushes forward. A lock whose heartbeat
//! stopped is *stale*; lzctl never takes one over by itself: `lzctl lock
//! break --force` removes it, and the audit log records who did.
//!
//! Every write is conditional: the heartbeat and the release use `If-Match`
//! with the ETag of the holder's own last write, so a holder whose lock was
//! broken learns it (and stops starting changes) instead of overwriting or
//! deleting the lock of the next apply.

mod location;
mod record;

pub use location::{LocationError, LockLocation};
pub use record::{LockOwner, LockRecord};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};

use crate::apply::audit::AuditLog;
use crate::aws::waiter::{wait_for, Poll, WaitError, WaitPolicy};
use crate::aws::AwsError;

/// How long a lock lives without a heartbeat.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// Why a lock could not be taken, kept or given back.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds it.
    #[error("{location} is held by {holder}{}", waited_text(.waited))]
    Held {
        /// Where.
        location: LockLocation,
        /// The holder's record.
        holder: Box<LockRecord>,
        /// How long lzctl waited.
        waited: Duration,
    },
    /// The lock object exists but is not a record lzctl wrote.
    #[error("{location} exists but is not an lzctl lock record ({reason}); remove it with `lzctl lock break --force` if nothing else uses it")]
    Foreign {
        /// Where.
        location: LockLocation,
        /// Why it does not parse.
        reason: String,
    },
    /// There is no lock to break or show.
    #[error("{0} is not held")]
    NotHeld(LockLocation),
    /// Breaking needs `--force`.
    #[error("{location} is held by {holder}; pass --force to break it")]
    NeedsForce {
        /// Where.
        location: LockLocation,
        /// The holder's record.
        holder: Box<LockRecord>,
    },
    /// An S3 call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The audit log could not be written.
    #[error("cannot write the audit log: {0}")]
    Audit(std::io::Error),
}

fn waited_text(waited: &Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!(
            " (waited {}s; --lock-timeout sets the limit)",
            waited.as_secs()
        )
    }
}

impl LockError {
    /// A hint for a person.
    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { holder, .. } if holder.is_stale(Utc::now()) => Some(format!(
                "the holder's heartbeat stopped ({}); if that apply is dead, `lzctl lock break --force` removes the lock",
                holder.heartbeat.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            LockError::Held { .. } => Some(
                "wait for that apply to finish, or pass --lock-timeout 30m to wait for it".into(),
            ),
            LockError::Aws(e) => e.hint(),
            _ => None,
        }
    }
}

/// How to take a lock.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// Longest wait for another holder to let go (0: refuse at once).
    pub timeout: Duration,
    /// How long the lock lives without a heartbeat.
    pub ttl: Duration,
    /// Pauses between attempts while waiting.
    pub poll: WaitPolicy,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            timeout: Duration::ZERO,
            ttl: DEFAULT_TTL,
            poll: WaitPolicy {
                initial: Duration::from_millis(500),
                max_interval: Duration::from_secs(15),
                timeout: Duration::ZERO,
            },
        }
    }
}

/// The address of the lock in the audit log.
fn audit_address(location: &LockLocation) -> String {
    format!("lock:{location}")
}

/// What a conditional S3 write said.
enum Written {
    /// Done, with the new ETag.
    Ok(String, Option<String>),
    /// The condition failed: someone else's object is there (or ours is gone).
    Conflict,
}

fn is_condition_failure(e: &AwsError) -> bool {
    // 412 PreconditionFailed: the object exists (If-None-Match) or changed
    // (If-Match); 409 ConditionalRequestConflict: a concurrent conditional
    // write to the same key is in flight.
    matches!(e.status, Some(412) | Some(409))
        || matches!(
            e.code.as_deref(),
            Some("PreconditionFailed") | Some("ConditionalRequestConflict")
        )
}

fn is_missing(e: &AwsError) -> bool {
    e.status == Some(404) || matches!(e.code.as_deref(), Some("NoSuchKey") | Some("NotFound"))
}

async fn put(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    record: &LockRecord,
    if_match: Option<&str>,
) -> Result<Written, AwsError> {
    let body = serde_json::to_vec_pretty(record).expect("lock records serialize");
    let mut request = s3
        .put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .content_type("application/json")
        .body(ByteStream::from(body));
    request = match if_match {
        Some(etag) => request.if_match(etag),
        None => request.if_none_match("*"),
    };
    match request.send().await {
        Ok(out) => Ok(Written::Ok(
            out.e_tag().unwrap_or_default().to_string(),
            out.request_id().map(str::to_string),
        )),
        Err(err) => {
            let e = AwsError::from_sdk("s3:PutObject", &err);
            if is_condition_failure(&e) {
                Ok(Written::Conflict)
            } else {
                Err(e)
            }
        }
    }
}

/// The lock's record and ETag, or `None` when there is no lock.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
) -> Result<Option<(LockRecord, String)>, LockError> {
    let out = match s3
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
    {
        Ok(out) => out,
        Err(err) => {
            let e = AwsError::from_sdk("s3:GetObject", &err);
            return if is_missing(&e) {
                Ok(None)
            } else {
                Err(e.into())
            };
        }
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    let bytes = out.body.collect().await.map_err(|e| AwsError {
        operation: "s3:GetObject".into(),
        class: crate::aws::ErrorClass::Other,
        code: None,
        message: format!("reading the lock object: {e}"),
        request_id: None,
        status: None,
    })?;
    let record: LockRecord =
        serde_json::from_slice(&bytes.into_bytes()).map_err(|e| LockError::Foreign {
            location: location.clone(),
            reason: e.to_string(),
        })?;
    Ok(Some((record, etag)))
}

/// A lock this process holds. Give it back with [`HeldLock::release`]; a
/// heartbeat keeps it alive meanwhile.
pub struct HeldLock {
    s3: aws_sdk_s3::Client,
    location: LockLocation,
    state: Arc<Mutex<(LockRecord, String)>>,
    ttl: Duration,
    lost: Arc<AtomicBool>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    audit: Option<Arc<AuditLog>>,
}

impl std::fmt::Debug for HeldLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldLock")
            .field("location", &self.location)
            .finish()
    }
}

/// Takes the lock at `location` for `owner`, waiting up to
/// `options.timeout` for another holder. `progress` gets what is waited for.
/// `on_lost` runs if the heartbeat finds the lock taken away (broken).
pub async fn acquire(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    owner: LockOwner,
    options: &LockOptions,
    audit: Option<Arc<AuditLog>>,
    progress: impl FnMut(&str, Duration),
    on_lost: impl Fn(&LockLocation) + Send + Sync + 'static,
) -> Result<HeldLock, LockError> {
    let now = Utc::now();
    let record = LockRecord::new(owner, now, options.ttl);
    let policy = options.poll.with_timeout(options.timeout);
    let attempt = || async {
        // Two tries: a holder that let go between our write and our read
        // leaves nothing to report, so write again at once.
        for _ in 0..2 {
            let mut fresh = record.clone();
            fresh.touch(Utc::now(), options.ttl);
            if let Written::Ok(etag, request_id) = put(s3, location, &fresh, None).await? {
                return Ok(Poll::Done((fresh, etag, request_id)));
            }
            if let Some((holder, _)) = read(s3, location).await? {
                return Ok(Poll::Pending(format!("{location} is held by {holder}")));
            }
        }
        Ok(Poll::Pending(format!("{location} is changing hands")))
    };
    let (record, etag, request_id) =
        match wait_for(&format!("the lock {location}"), &policy, progress, attempt).await {
            Ok(done) => done,
            Err(WaitError::Failed(e)) => return Err(e),
            Err(WaitError::TimedOut { waited, .. }) => {
                return match read(s3, location).await? {
                    Some((holder, _)) => Err(LockError::Held {
                        location: location.clone(),
                        holder: Box::new(holder),
                        waited,
                    }),
                    None => Err(LockError::Held {
                        location: location.clone(),
                        holder: Box::new(LockRecord::unknown()),
                        waited,
                    }),
                };
            }
        };
    if let Some(audit) = &audit {
        audit
            .record(
                &audit_address(location),
                "s3:PutObject",
                request_id.as_deref(),
                "ok (lock taken)",
            )
            .map_err(LockError::Audit)?;
    }
    let state = Arc::new(Mutex::new((record, etag)));
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = tokio::spawn(heartbeat(
        s3.clone(),
        location.clone(),
        state.clone(),
        options.ttl,
        lost.clone(),
        on_lost,
    ));
    Ok(HeldLock {
        s3: s3.clone(),
        location: location.clone(),
        state,
        ttl: options.ttl,
        lost,
        heartbeat: Some(heartbeat),
        audit,
    })
}

/// Pushes the expiry forward every third of the TTL while the lock is held.
async fn heartbeat(
    s3: aws_sdk_s3::Client,
    location: LockLocation,
    state: Arc<Mutex<(LockRecord, String)>>,
    ttl: Duration,
    lost: Arc<AtomicBool>,
    on_lost: impl Fn(&LockLocation) + Send + Sync + 'static,
) {
    let every = (ttl / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        let (mut record, etag) = state.lock().expect("lock state").clone();
        record.touch(Utc::now(), ttl);
        match put(&s3, &location, &record, Some(&etag)).await {
            Ok(Written::Ok(etag, _)) => *state.lock().expect("lock state") = (record, etag),
            Ok(Written::Conflict) => {
                lost.store(true, Ordering::SeqCst);
                on_lost(&location);
                return;
            }
            // A failed heartbeat is tried again at the next beat; the TTL
            // leaves room for two more.
            Err(e) => eprintln!("warning: lock heartbeat failed: {e}"),
        }
    }
}

impl HeldLock {
    /// Where it is.
    pub fn location(&self) -> &LockLocation {
        &self.location
    }

    /// The record as last written.
    pub fn record(&self) -> LockRecord {
        self.state.lock().expect("lock state").0.clone()
    }

    /// Whether the heartbeat found the lock broken by someone else.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Records the digest of the plan being carried out in the lock, so a
    /// waiting pipeline sees what the holder is doing.
    pub async fn set_plan_digest(&self, digest: &str) -> Result<(), LockError> {
        let (mut record, etag) = self.state.lock().expect("lock state").clone();
        record.plan_digest = Some(digest.to_string());
        record.touch(Utc::now(), self.ttl);
        match put(&self.s3, &self.location, &record, Some(&etag)).await? {
            Written::Ok(etag, _) => {
                *self.state.lock().expect("lock state") = (record, etag);
                Ok(())
            }
            Written::Conflict => {
                self.lost.store(true, Ordering::SeqCst);
                Err(self.lost_error().await)
            }
        }
    }

    async fn lost_error(&self) -> LockError {
        match read(&self.s3, &self.location).await {
            Ok(Some((holder, _))) => LockError::Held {
                location: self.location.clone(),
                holder: Box::new(holder),
                waited: Duration::ZERO,
            },
            _ => LockError::NotHeld(self.location.clone()),
        }
    }

    /// Gives the lock back (deletes the object if it is still ours).
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        let etag = self.state.lock().expect("lock state").1.clone();
        let result = self
            .s3
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .if_match(etag)
            .send()
            .await;
        let outcome = match result {
            Ok(out) => Ok(out.request_id().map(str::to_string)),
            Err(err) => Err(AwsError::from_sdk("s3:DeleteObject", &err)),
        };
        let address = audit_address(&self.location);
        match outcome {
            Ok(request_id) => {
                if let Some(audit) = &self.audit {
                    audit
                        .record(
                            &address,
                            "s3:DeleteObject",
                            request_id.as_deref(),
                            "ok (lock released)",
                        )
                        .map_err(LockError::Audit)?;
                }
                Ok(())
            }
            // Not ours any more (broken and maybe taken by another apply):
            // leave it alone.
            Err(e) if is_condition_failure(&e) || is_missing(&e) => {
                Err(LockError::NotHeld(self.location.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

/// Removes the lock whoever holds it, after showing the holder; records it in
/// the audit log with the holder's record. Without `force` only says who holds it.
pub async fn break_lock(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    force: bool,
    audit: &AuditLog,
) -> Result<LockRecord, LockError> {
    let (holder, etag) = match read(s3, location).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(LockError::NotHeld(location.clone())),
        // Not a record of ours: breaking it with --force still removes it.
        Err(LockError::Foreign { .. }) if force => (LockRecord::unknown(), String::new()),
        Err(e) => return Err(e),
    };
    if !force {
        return Err(LockError::NeedsForce {
            location: location.clone(),
            holder: Box::new(holder),
        });
    }
    let mut request = s3
        .delete_object()
        .bucket(&location.bucket)
        .key(&location.key);
    if !etag.is_empty() {
        // Only the lock that was shown: a lock taken meanwhile stays.
        request = request.if_match(etag);
    }
    let result = request.send().await;
    let details = serde_json::to_value(&holder).expect("records serialize");
    match result {
        Ok(out) => {
            audit
                .record_details(
                    &audit_address(location),
                    "s3:DeleteObject",
                    out.request_id(),
                    "ok (lock broken)",
                    Some(&serde_json::json!({"broken_holder": details})),
                )
                .map_err(LockError::Audit)?;
            Ok(holder)
        }
        Err(err) => {
            let e = AwsError::from_sdk("s3:DeleteObject", &err);
            audit
                .record_details(
                    &audit_address(location),
                    "s3:DeleteObject",
                    e.request_id.as_deref(),
                    &e.to_string(),
                    Some(&serde_json::json!({"broken_holder": details})),
                )
                .map_err(LockError::Audit)?;
            if is_condition_failure(&e) {
                // Released or taken anew since it was read.
                return match read(s3, location).await? {
                    Some((now, _)) => Err(LockError::Held {
                        location: location.clone(),
                        holder: Box::new(now),
                        waited: Duration::ZERO,
                    }),
                    None => Err(LockError::NotHeld(location.clone())),
                };
            }
            Err(e.into())
        }
    }
}

/// When a record was last renewed, as text.
pub fn since(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
