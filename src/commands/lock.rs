//! Glue of the apply lock: where it is, taking it around `apply`, and
//! `lzctl lock show|break`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use super::{connect, emit, load_config, ApplyRun, Outcome};
use crate::apply::audit::AuditLog;
use crate::apply::StopSignal;
use crate::aws::Clients;
use crate::cli::LockCommand;
use crate::config::Desired;
use crate::families::organizations::Operation as OrgOperation;
use crate::families::Operation;
use crate::lock::{HeldLock, LockLocation, LockOptions, LockOwner};
use crate::plan::Plan;
use crate::reports::audit::AuditTarget;

/// The lock location: the flag (or `LZCTL_LOCK`), else the file's `organization.lock`.
fn location(flag: Option<&str>, desired: Option<&Desired>) -> Result<Option<LockLocation>> {
    let text = flag
        .map(str::to_string)
        .or_else(|| desired.and_then(|d| d.organization.lock.clone()));
    text.map(|t| t.parse::<LockLocation>().map_err(|e| anyhow!(e)))
        .transpose()
}

/// Takes the lock for `apply`, or says that none is configured.
pub(super) async fn take_for_apply(
    clients: &Clients,
    desired: &Desired,
    run: &ApplyRun<'_>,
    caller: &str,
    audit: &Arc<AuditLog>,
    stop: Arc<StopSignal>,
) -> Result<Option<HeldLock>> {
    let Some(location) = location(run.lock.location.as_deref(), Some(desired))? else {
        eprintln!("warning: no lock is configured (organization.lock or --lock s3://BUCKET/KEY): nothing keeps another apply on this organization from running at the same time");
        return Ok(None);
    };
    let held = take(
        clients,
        &location,
        LockOwner::this_process("apply", caller, None),
        run.lock.lock_timeout,
        Some(audit.clone()),
        move |location| {
            stop.stop();
            eprintln!("error: the lock {location} was broken by someone else: no new change starts; the changes in flight finish");
        },
    )
    .await?;
    Ok(Some(held))
}

/// Takes the lock for `import` when one is given (`--lock`, `LZCTL_LOCK`),
/// so that it reads an organization no apply is changing.
pub(super) async fn take_for_import(
    clients: &Clients,
    lock: &crate::cli::LockArgs,
) -> Result<Option<HeldLock>> {
    let Some(location) = location(lock.location.as_deref(), None)? else {
        return Ok(None);
    };
    let caller = crate::observe::caller(clients)
        .await
        .context("finding out whom lzctl acts as")?;
    let held = take(
        clients,
        &location,
        LockOwner::this_process("import", &caller.arn, None),
        lock.lock_timeout,
        None,
        |location| eprintln!("warning: the lock {location} was broken by someone else while importing; import again once the apply is done"),
    )
    .await?;
    Ok(Some(held))
}

/// Takes the lock at `location`, saying what it waits for.
async fn take(
    clients: &Clients,
    location: &LockLocation,
    owner: LockOwner,
    timeout: std::time::Duration,
    audit: Option<Arc<AuditLog>>,
    on_lost: impl Fn(&LockLocation) + Send + Sync + 'static,
) -> Result<HeldLock> {
    let options = LockOptions {
        timeout,
        ..LockOptions::default()
    };
    let mut said = false;
    let held = crate::lock::acquire(
        &clients.s3,
        location,
        owner,
        &options,
        audit,
        |status, waited| {
            if !said || waited.as_secs() % 60 == 0 {
                eprintln!("Waiting for the lock: {status} ({}s)", waited.as_secs());
                said = true;
            }
        },
        on_lost,
    )
    .await
    .map_err(|e| {
        let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
        anyhow!("cannot take the lock: {e}{hint}")
    })?;
    eprintln!("Took the lock {location}.");
    Ok(held)
}

/// Gives the lock back; a failure is a warning (the lock expires anyway).
pub(super) async fn give_back(held: Option<HeldLock>) {
    give_back_after(held, async {}).await
}

/// Runs `before` (writing the audit log where the next holder reads it),
/// then gives the lock back; without a lock, just runs `before`.
pub(super) async fn give_back_after<T>(
    held: Option<HeldLock>,
    before: impl std::future::Future<Output = T>,
) -> T {
    let Some(held) = held else {
        return before.await;
    };
    let location = held.location().clone();
    let (released, done) = held.release_after(before).await;
    if let Err(e) = released {
        eprintln!("warning: could not release the lock {location}: {e}");
    }
    done
}

/// A plain apply refuses a plan that would run a rollout wave that halted
/// on denials for the same document; `--resume` lets it.
pub(super) fn refuse_halted_rollouts(plan: &Plan, resume: bool) -> Result<()> {
    if resume {
        return Ok(());
    }
    let halted: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::Organizations(OrgOperation::RolloutWave(w)) if w.needs_resume => {
                Some(format!(
                    "  {}: {}",
                    c.address,
                    w.resumes.as_deref().unwrap_or("halted")
                ))
            }
            _ => None,
        })
        .collect();
    if halted.is_empty() {
        return Ok(());
    }
    bail!(
        "a staged rollout halted on access denials and this plan would run its wave again:\n{}\nfix the denied callers (or the policy), then run `lzctl apply --resume`",
        halted.join("\n")
    )
}

/// `lzctl lock show|break`.
pub(super) async fn run(command: LockCommand) -> Result<Outcome> {
    match command {
        LockCommand::Show {
            config,
            location: flag,
            aws,
        } => {
            let (location, clients) = resolve(config.as_deref(), flag.as_deref(), &aws).await?;
            match crate::lock::read(&clients.s3, &location).await? {
                Some((record, _)) => {
                    emit(&format!("{location} is held by {record}\n"))?;
                }
                None => emit(&format!("{location} is free\n"))?,
            }
            Ok(Outcome::Clean)
        }
        LockCommand::Break {
            config,
            location: flag,
            force,
            audit_log,
            aws,
        } => {
            let (location, clients) = resolve(config.as_deref(), flag.as_deref(), &aws).await?;
            break_lock(&location, &clients, force, &audit_log.to_string_lossy()).await
        }
    }
}

/// `lzctl lock break`: the break is recorded in the audit log `audit_log`
/// (a path or `s3://BUCKET/PREFIX/`, chained as `apply` chains it).
async fn break_lock(
    location: &LockLocation,
    clients: &Clients,
    force: bool,
    audit_log: &str,
) -> Result<Outcome> {
    let caller = crate::observe::caller(clients).await?;
    let target = Arc::new(
        AuditTarget::open(audit_log, clients)
            .await
            .with_context(|| format!("opening the audit log {audit_log}"))?,
    );
    let audit = AuditLog::open_continuing(
        target.local_path(),
        caller.arn.clone(),
        Some(target.clone()),
    )
    .with_context(|| format!("opening the audit log {audit_log}"))?;
    audit
        .continue_chain()
        .await
        .with_context(|| format!("reading the audit log {audit_log}"))?;
    let broken = crate::lock::break_lock(&clients.s3, location, force, &audit).await;
    let shipped = target.finish().await.with_context(|| {
        format!(
            "writing the audit log to {} (the records stay in {} and are written by the next apply or break)",
            target.describe(),
            target.kept_in().display()
        )
    });
    match broken {
        Ok(holder) => {
            shipped?;
            emit(&format!(
                "Broke the lock {location} held by {holder}.\nRecorded in {}.\n",
                target.describe()
            ))?;
            Ok(Outcome::Clean)
        }
        Err(e) => {
            if let Err(not_shipped) = shipped {
                eprintln!("warning: {not_shipped:#}");
            }
            let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
            Err(anyhow!("{e}{hint}"))
        }
    }
}

async fn resolve(
    config: Option<&Path>,
    flag: Option<&str>,
    aws: &crate::cli::AwsArgs,
) -> Result<(LockLocation, Clients)> {
    let desired = config.map(load_config).transpose()?;
    let location = location(flag, desired.as_ref())?.ok_or_else(|| {
        anyhow!("the file names no lock (organization.lock); give --lock s3://BUCKET/KEY")
    })?;
    let clients = connect(aws, desired.as_ref()).await?;
    Ok((location, clients))
}
