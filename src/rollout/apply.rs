//! Carrying out one wave: attach, soak, watch, and undo on denials.

use aws_sdk_organizations::types::Tag;
use chrono::Utc;

use super::watch::{scan, WatchReport, WatchRequest};
use super::{halt_tag_value, WaveStep, HALT_TAG_KEY};
use crate::apply::{StepContext, StepError};
use crate::families::organizations::RolloutWave;
use crate::model::Target;

/// How many denied calls an error message names.
const NAMED_CALLS: usize = 10;

async fn step(ctx: &StepContext<'_>, target: &Target, step: &WaveStep) -> Result<(), StepError> {
    let (policy, attach) = match step {
        WaveStep::Attach(p) => (p, true),
        WaveStep::Detach(p) => (p, false),
    };
    let (policy_id, target_id) = {
        let ids = ctx.ids();
        (ids.policy(policy)?, ids.target(target)?)
    };
    let org = &ctx.clients.organizations_policies;
    if attach {
        ctx.audited(
            "organizations:AttachPolicy",
            org.attach_policy()
                .policy_id(policy_id)
                .target_id(target_id)
                .send()
                .await,
        )?;
    } else {
        ctx.audited(
            "organizations:DetachPolicy",
            org.detach_policy()
                .policy_id(policy_id)
                .target_id(target_id)
                .send()
                .await,
        )?;
    }
    Ok(())
}

/// The undo steps of every target, last target first.
async fn undo(ctx: &StepContext<'_>, w: &RolloutWave) -> Result<(), StepError> {
    for t in w.targets.iter().rev() {
        for s in &t.undo {
            step(ctx, &t.target, s).await?;
        }
    }
    Ok(())
}

/// The denied calls, grouped, as lines.
pub fn named_calls(report: &WatchReport, names: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let grouped = report.grouped();
    let mut lines: Vec<String> = grouped
        .iter()
        .take(NAMED_CALLS)
        .map(|((action, account, principal), n)| {
            let who = names(account).map_or(account.clone(), |name| format!("{name} ({account})"));
            format!("{action} by {principal} in {who}: {n} call(s)")
        })
        .collect();
    if grouped.len() > NAMED_CALLS {
        lines.push(format!(
            "... and {} more kinds of call",
            grouped.len() - NAMED_CALLS
        ));
    }
    lines
}

/// Runs one wave.
pub async fn run_wave(ctx: &StepContext<'_>, w: &RolloutWave) -> Result<(), StepError> {
    if w.needs_resume && !ctx.options.resume {
        return Err(StepError::Refused(format!(
            "the rollout of {} halted at wave {}; run `lzctl apply --resume` to run it again",
            w.policy, w.wave
        )));
    }
    let started = Utc::now();
    for (done, t) in w.targets.iter().enumerate() {
        for s in &t.steps {
            if let Err(e) = step(ctx, &t.target, s).await {
                // A wave is all or nothing: the targets it reached (this one
                // included, whose steps are safe to undo when half done) go
                // back, so none keeps the policy unwatched.
                let reached = RolloutWave {
                    targets: w.targets[..=done].to_vec(),
                    ..w.clone()
                };
                return Err(match undo(ctx, &reached).await {
                    Ok(()) => e,
                    Err(u) => StepError::Failed(format!(
                        "{e}; the wave's targets reached so far were NOT detached again ({u})"
                    )),
                });
            }
        }
    }
    ctx.progress.note(
        ctx.address,
        &format!(
            "wave {}/{} attached to {} target(s), {} account(s); soaking {}",
            w.wave,
            w.of,
            w.targets.len(),
            w.accounts.len(),
            super::duration_text(w.soak())
        ),
    );
    // One pause, not a poll: nothing is asked of AWS until the soak is over.
    tokio::time::sleep(w.soak()).await;

    let (account_ids, policy_id, names) = {
        let ids = ctx.ids();
        let account_ids: Vec<String> = w
            .accounts
            .iter()
            .filter_map(|n| ids.account(n).ok())
            .collect();
        let names: std::collections::BTreeMap<String, String> = w
            .accounts
            .iter()
            .filter_map(|n| ids.account(n).ok().map(|id| (id, n.clone())))
            .collect();
        (account_ids, ids.policy(&w.policy).ok(), names)
    };
    let clients = match &w.trail_account {
        Some(name) => {
            let id = ctx.ids().account(name)?;
            ctx.clients.in_account(&id, &ctx.clients.region()).await
        }
        None => ctx.clients.clone(),
    };
    let request = WatchRequest {
        trail: &w.trail,
        organization_id: &w.organization_id,
        accounts: &account_ids,
        regions: &w.regions,
        since: started,
        until: Utc::now(),
        policy_id: policy_id.as_deref(),
        concurrency: 8,
    };
    let report = match scan(&clients.s3, &request).await {
        Ok(report) => report,
        Err(e) => {
            // Without the trail nothing shows the wave is safe: take it back.
            let undone = undo(ctx, w).await;
            return Err(StepError::Failed(format!(
                "cannot read the organization trail {} to watch wave {} of {}: {e}; the wave was {}",
                w.trail,
                w.wave,
                w.policy,
                match undone {
                    Ok(()) => "detached again".to_string(),
                    Err(u) => format!("NOT detached again ({u})"),
                }
            )));
        }
    };
    if report.files == 0 {
        eprintln!(
            "warning: wave {} of {}: no trail file of its accounts was written to {} since the wave started; nothing shows it is safe or unsafe (check `trail`, and make `soak` longer than CloudTrail's delivery delay, up to 15 minutes)",
            w.wave, w.policy, w.trail
        );
    }
    let denials = report.denials.len();
    let calls = named_calls(&report, &|id| names.get(id).cloned());
    let details = serde_json::json!({
        "policy": w.policy,
        "wave": w.wave,
        "of": w.of,
        "files": report.files,
        "records": report.records,
        "denials": denials,
        "other_policies": report.other_policies,
        "max_denials": w.max_denials,
        "calls": calls,
    });
    if denials as u64 <= u64::from(w.max_denials) {
        ctx.audit
            .record_details(
                &ctx.address.to_string(),
                "lzctl:WatchWave",
                None,
                "ok",
                Some(&details),
            )
            .map_err(StepError::Audit)?;
        if w.resumes.is_some() {
            if let Some(id) = &policy_id {
                ctx.audited(
                    "organizations:UntagResource",
                    ctx.clients
                        .organizations_policies
                        .untag_resource()
                        .resource_id(id)
                        .tag_keys(HALT_TAG_KEY)
                        .send()
                        .await,
                )?;
            }
        }
        return Ok(());
    }
    ctx.audit
        .record_details(
            &ctx.address.to_string(),
            "lzctl:WatchWave",
            None,
            &format!(
                "halt: {denials} SCP denial(s), at most {} tolerated",
                w.max_denials
            ),
            Some(&details),
        )
        .map_err(StepError::Audit)?;
    let undone = undo(ctx, w).await;
    if let Some(id) = &policy_id {
        let tag = Tag::builder()
            .key(HALT_TAG_KEY)
            .value(halt_tag_value(w.wave, w.of, started, &w.content_digest))
            .build()
            .expect("key and value set");
        ctx.audited(
            "organizations:TagResource",
            ctx.clients
                .organizations_policies
                .tag_resource()
                .resource_id(id)
                .tags(tag)
                .send()
                .await,
        )?;
    }
    let undone = match undone {
        Ok(()) => format!(
            "{} is detached from wave {} again; the waves before keep it",
            w.policy, w.wave
        ),
        Err(e) => format!(
            "detaching {} from wave {} again FAILED: {e}",
            w.policy, w.wave
        ),
    };
    Err(StepError::Failed(format!(
        "rollout of {} halted after wave {} of {}: {denials} call(s) denied by an SCP in the wave's accounts since {} (at most {} tolerated); {undone}; `lzctl apply --resume` runs the wave again once the callers are fixed.\n    denied calls:\n      {}",
        w.policy,
        w.wave,
        w.of,
        started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        w.max_denials,
        calls.join("\n      ")
    )))
}
