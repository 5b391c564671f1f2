//! The apply lock: one object in S3 that every pipeline sees, written with a
//! conditional PutObject (`If-None-Match: *`), so of two applies that start
//! together exactly one gets it. The record names the holder (caller ARN,
//! host, pid, pipeline), when it was taken, the plan it carries out, and an
//! expiry that the holder's heartbeat pushes forward. A lock whose heartbeat
//! stopped is *stale*; lzctl never takes one over by itself: `lzctl lock
//! break --force` removes it, and the audit log records who did.
//!
//! Every write is conditional: the heartbeat, the plan digest and the
//! release use `If-Match` with the ETag of the holder's own last write, so a
//! holder whose lock was broken learns it (and stops starting changes)
//! instead of overwriting or deleting the lock of the next apply. S3 refuses
//! such a write three ways: 412 (the object changed), 404 `NoSuchKey` (it is
//! gone: broken) and 409 `ConditionalRequestConflict` (another request on
//! the key was in flight; AWS says to read the ETag again and retry). The
//! holder reads the object again after any of them and is lost only when it
//! is gone or holds another holding's record.

mod location;
mod record;

pub use location::{LocationError, LockLocation};
pub use record::{LockOwner, LockRecord};

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// How often a holder's write is sent before it gives up for now: S3 may
/// answer 409 to a write that met another in flight.
const WRITE_ATTEMPTS: u32 = 4;

/// 412 PreconditionFailed: the object exists (`If-None-Match`) or is not
/// the version named (`If-Match`).
fn is_condition_failure(e: &AwsError) -> bool {
    e.status == Some(412) || e.code.as_deref() == Some("PreconditionFailed")
}

/// 409 ConditionalRequestConflict: a conflicting write or delete of the key
/// was in flight; nothing was written, and AWS says to read the ETag again
/// and retry.
fn is_conflict(e: &AwsError) -> bool {
    e.status == Some(409) || e.code.as_deref() == Some("ConditionalRequestConflict")
}

/// 404: no such key (an `If-Match` write or delete of a key that is gone
/// answers this, not 412).
fn is_missing(e: &AwsError) -> bool {
    e.status == Some(404) || matches!(e.code.as_deref(), Some("NoSuchKey") | Some("NotFound"))
}

/// Writes `record`, `If-Match: etag` or else `If-None-Match: *`; the new
/// ETag and the request id.
async fn put(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    record: &LockRecord,
    if_match: Option<&str>,
) -> Result<(String, Option<String>), AwsError> {
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
        Ok(out) => Ok((
            out.e_tag().unwrap_or_default().to_string(),
            out.request_id().map(str::to_string),
        )),
        Err(err) => Err(AwsError::from_sdk("s3:PutObject", &err)),
    }
}

/// Deletes the lock object (`If-Match: etag` when given); the request id.
async fn delete(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    if_match: Option<&str>,
) -> Result<Option<String>, AwsError> {
    let mut request = s3
        .delete_object()
        .bucket(&location.bucket)
        .key(&location.key);
    if let Some(etag) = if_match {
        request = request.if_match(etag);
    }
    match request.send().await {
        Ok(out) => Ok(out.request_id().map(str::to_string)),
        Err(err) => Err(AwsError::from_sdk("s3:DeleteObject", &err)),
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
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::unread_body("s3:GetObject", "the lock object", e))?;
    let record: LockRecord =
        serde_json::from_slice(&bytes.into_bytes()).map_err(|e| LockError::Foreign {
            location: location.clone(),
            reason: e.to_string(),
        })?;
    Ok(Some((record, etag)))
}

/// What a write conditional on one holding's ETag came to.
enum Kept<T> {
    /// Written; what the write answered.
    Yes(T),
    /// The holding is gone: the object was deleted (`None`) or is another
    /// holding's record (an object lzctl did not write reads as an unknown
    /// holder).
    Lost(Option<Box<LockRecord>>),
}

/// Sends `write` (given the ETag to match) for the holding `id` whose last
/// known ETag is `etag`. A refusal does not by itself mean the holding is
/// lost, so the object is read again: still the record of `id` means the
/// refusal was a 409 (a conflicting request was in flight) or this
/// holding's own earlier attempt that landed while its answer was lost (the
/// SDK's retry then meets a new ETag): take that ETag and send again. Gone
/// (404 on AWS, not 412) or another holding's record: lost.
async fn write_as_holder<T, Fut>(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    id: &str,
    etag: &mut String,
    mut write: impl FnMut(String) -> Fut,
) -> Result<Kept<T>, LockError>
where
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 0;
    loop {
        let refused = match write(etag.clone()).await {
            Ok(answer) => return Ok(Kept::Yes(answer)),
            Err(e) if is_condition_failure(&e) || is_conflict(&e) || is_missing(&e) => e,
            Err(e) => return Err(e.into()),
        };
        match read(s3, location).await {
            Ok(Some((found, found_etag))) if found.id == id => *etag = found_etag,
            Ok(found) => return Ok(Kept::Lost(found.map(|(record, _)| Box::new(record)))),
            Err(LockError::Foreign { .. }) => {
                return Ok(Kept::Lost(Some(Box::new(LockRecord::unknown()))))
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
        if attempt == WRITE_ATTEMPTS {
            return Err(refused.into());
        }
        if is_conflict(&refused) {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }
}

/// The holder's last write: its record and the object's ETag.
struct Holding {
    record: LockRecord,
    etag: String,
}

/// What the holder and its heartbeat share. Every write of the holder
/// happens while `holding` is locked, so two of them never race on one ETag.
struct Shared {
    s3: aws_sdk_s3::Client,
    location: LockLocation,
    ttl: Duration,
    holding: tokio::sync::Mutex<Holding>,
    lost: AtomicBool,
    on_lost: Box<dyn Fn(&LockLocation) + Send + Sync>,
}

impl Shared {
    /// Writes the record again, changed by `change`, with a new expiry.
    async fn renew(&self, change: impl FnOnce(&mut LockRecord)) -> Result<Kept<()>, LockError> {
        let mut holding = self.holding.lock().await;
        let mut record = holding.record.clone();
        change(&mut record);
        record.touch(Utc::now(), self.ttl);
        let Holding { record: ours, etag } = &mut *holding;
        let (s3, location, next) = (&self.s3, &self.location, &record);
        let written = write_as_holder(s3, location, &ours.id, etag, |etag| async move {
            put(s3, location, next, Some(&etag)).await
        })
        .await?;
        match written {
            Kept::Yes((etag, _)) => {
                *holding = Holding { record, etag };
                Ok(Kept::Yes(()))
            }
            Kept::Lost(holder) => {
                self.mark_lost();
                Ok(Kept::Lost(holder))
            }
        }
    }

    /// Notes that the lock was taken away; `on_lost` runs the first time.
    fn mark_lost(&self) {
        if !self.lost.swap(true, Ordering::SeqCst) {
            (self.on_lost)(&self.location);
        }
    }
}

/// A lock this process holds. Give it back with [`HeldLock::release`]; a
/// heartbeat keeps it alive meanwhile.
pub struct HeldLock {
    shared: Arc<Shared>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    audit: Option<Arc<AuditLog>>,
}

impl std::fmt::Debug for HeldLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldLock")
            .field("location", &self.shared.location)
            .finish()
    }
}

/// Takes the lock at `location` for `owner`, waiting up to
/// `options.timeout` for another holder. `progress` gets what is waited for.
/// `on_lost` runs (once) when a write of the holder finds the lock taken
/// away: deleted by `lzctl lock break`, or replaced by another holder.
pub async fn acquire(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    owner: LockOwner,
    options: &LockOptions,
    audit: Option<Arc<AuditLog>>,
    progress: impl FnMut(&str, Duration),
    on_lost: impl Fn(&LockLocation) + Send + Sync + 'static,
) -> Result<HeldLock, LockError> {
    let record = LockRecord::new(owner, Utc::now(), options.ttl);
    let policy = options.poll.with_timeout(options.timeout);
    let attempt = || try_take(s3, location, &record, options.ttl);
    let (record, etag, request_id) =
        match wait_for(&format!("the lock {location}"), &policy, progress, attempt).await {
            Ok(done) => done,
            Err(WaitError::Failed(e)) => return Err(e),
            Err(WaitError::TimedOut { waited, .. }) => {
                let holder = read(s3, location).await?.map(|(holder, _)| holder);
                return Err(LockError::Held {
                    location: location.clone(),
                    holder: Box::new(holder.unwrap_or_else(LockRecord::unknown)),
                    waited,
                });
            }
        };
    if let Some(audit) = &audit {
        // Now that no other apply can add to the chain, read where it ends.
        audit.continue_chain().await.map_err(LockError::Audit)?;
        audit
            .record(
                &audit_address(location),
                "s3:PutObject",
                request_id.as_deref(),
                "ok (lock taken)",
            )
            .map_err(LockError::Audit)?;
    }
    let shared = Arc::new(Shared {
        s3: s3.clone(),
        location: location.clone(),
        ttl: options.ttl,
        holding: tokio::sync::Mutex::new(Holding { record, etag }),
        lost: AtomicBool::new(false),
        on_lost: Box::new(on_lost),
    });
    let heartbeat = tokio::spawn(heartbeat(shared.clone()));
    Ok(HeldLock {
        shared,
        heartbeat: Some(heartbeat),
        audit,
    })
}

/// One attempt at creating the lock object with `record`'s holding: the
/// record as written, its ETag and the request id, or who holds it.
async fn try_take(
    s3: &aws_sdk_s3::Client,
    location: &LockLocation,
    record: &LockRecord,
    ttl: Duration,
) -> Result<Poll<(LockRecord, String, Option<String>)>, LockError> {
    // Two tries: a holder that let go between our write and our read
    // leaves nothing to report, so write again at once.
    for _ in 0..2 {
        let mut fresh = record.clone();
        fresh.touch(Utc::now(), ttl);
        match put(s3, location, &fresh, None).await {
            Ok((etag, request_id)) => return Ok(Poll::Done((fresh, etag, request_id))),
            // 412: someone's object is there; 409: a write was in flight.
            Err(e) if is_condition_failure(&e) || is_conflict(&e) => {}
            Err(e) => return Err(e.into()),
        }
        match read(s3, location).await? {
            // Our own write landed but its answer was lost, and the SDK's
            // retry was refused by it: the lock is ours.
            Some((mine, etag)) if mine.id == record.id => {
                return Ok(Poll::Done((mine, etag, None)));
            }
            Some((holder, _)) => {
                return Ok(Poll::Pending(format!("{location} is held by {holder}")));
            }
            None => {}
        }
    }
    Ok(Poll::Pending(format!("{location} is changing hands")))
}

/// Pushes the expiry forward every third of the TTL until the lock is found
/// lost (or the task is stopped by the release).
async fn heartbeat(shared: Arc<Shared>) {
    let every = (shared.ttl / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        if shared.lost.load(Ordering::SeqCst) {
            return;
        }
        match shared.renew(|_| {}).await {
            Ok(Kept::Yes(())) => {}
            Ok(Kept::Lost(_)) => return,
            // A failed heartbeat is tried again at the next beat; the TTL
            // leaves room for two more.
            Err(e) => eprintln!("warning: lock heartbeat failed: {e}"),
        }
    }
}

impl HeldLock {
    /// Where it is.
    pub fn location(&self) -> &LockLocation {
        &self.shared.location
    }

    /// The record as last written.
    pub async fn record(&self) -> LockRecord {
        self.shared.holding.lock().await.record.clone()
    }

    /// Whether a write found the lock taken away (broken, or another's).
    pub fn is_lost(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// Records the digest of the plan being carried out in the lock, so a
    /// waiting pipeline sees what the holder is doing.
    pub async fn set_plan_digest(&self, digest: &str) -> Result<(), LockError> {
        let written = self
            .shared
            .renew(|record| record.plan_digest = Some(digest.to_string()))
            .await?;
        match written {
            Kept::Yes(()) => Ok(()),
            Kept::Lost(holder) => Err(self.lost_error(holder)),
        }
    }

    fn lost_error(&self, holder: Option<Box<LockRecord>>) -> LockError {
        match holder {
            Some(holder) => LockError::Held {
                location: self.shared.location.clone(),
                holder,
                waited: Duration::ZERO,
            },
            None => LockError::NotHeld(self.shared.location.clone()),
        }
    }

    /// Gives the lock back: deletes the object if it is still ours.
    pub async fn release(self) -> Result<(), LockError> {
        self.release_after(async {}).await.0
    }

    /// Gives the lock back, recording it in the audit log first and then
    /// running `before_delete` (writing the log where the next holder
    /// reads it) while the lock is still ours: the next holder's records
    /// then chain to this holder's last one, the release included.
    pub async fn release_after<T>(
        mut self,
        before_delete: impl std::future::Future<Output = T>,
    ) -> (Result<(), LockError>, T) {
        let shared = self.shared.clone();
        // With the holding locked no write of the heartbeat is in flight;
        // the heartbeat is stopped and awaited before the delete is sent,
        // so none of its writes lands after it.
        let mut holding = shared.holding.lock().await;
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
            let _ = heartbeat.await;
        }
        let Holding { record, etag } = &mut *holding;
        let (s3, location) = (&shared.s3, &shared.location);
        let recorded = match &self.audit {
            Some(audit) => audit
                .record(
                    &audit_address(location),
                    "s3:DeleteObject",
                    None,
                    "releasing the lock",
                )
                .map_err(LockError::Audit),
            None => Ok(()),
        };
        let before = before_delete.await;
        let written = write_as_holder(s3, location, &record.id, etag, |etag| async move {
            delete(s3, location, Some(&etag)).await
        })
        .await;
        let released = match written {
            Ok(Kept::Yes(_)) => recorded,
            // Not ours any more (broken and maybe taken by another apply):
            // left alone.
            Ok(Kept::Lost(_)) => Err(LockError::NotHeld(location.clone())),
            Err(e) => Err(e),
        };
        (released, before)
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
///
/// Only the holding that was read is removed: if its holder renews it
/// meanwhile the delete is sent again for the same holding, but a lock
/// released and taken anew (another record `id`) stays.
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
    let outcome = if etag.is_empty() {
        delete(s3, location, None)
            .await
            .map(Kept::Yes)
            .map_err(LockError::from)
    } else {
        let mut etag = etag;
        write_as_holder(s3, location, &holder.id, &mut etag, |etag| async move {
            delete(s3, location, Some(&etag)).await
        })
        .await
    };
    let (request_id, result) = match &outcome {
        Ok(Kept::Yes(request_id)) => (request_id.clone(), "ok (lock broken)".to_string()),
        Ok(Kept::Lost(Some(now))) => (None, format!("not broken: now held by {now}")),
        Ok(Kept::Lost(None)) => (None, "not broken: released meanwhile".to_string()),
        Err(LockError::Aws(e)) => (e.request_id.clone(), e.to_string()),
        Err(e) => (None, e.to_string()),
    };
    let details = serde_json::to_value(&holder).expect("records serialize");
    audit
        .record_details(
            &audit_address(location),
            "s3:DeleteObject",
            request_id.as_deref(),
            &result,
            Some(&serde_json::json!({"broken_holder": details})),
        )
        .map_err(LockError::Audit)?;
    match outcome? {
        Kept::Yes(_) => Ok(holder),
        Kept::Lost(Some(now)) => Err(LockError::Held {
            location: location.clone(),
            holder: now,
            waited: Duration::ZERO,
        }),
        Kept::Lost(None) => Err(LockError::NotHeld(location.clone())),
    }
}

/// When a record was last renewed, as text.
pub fn since(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
