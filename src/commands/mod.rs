//! The commands: glue between the CLI, the library and the terminal.
//! Errors here are anyhow (the top); the library's are typed, and
//! [`hint_for`] finds the hint of whichever typed error ended a command.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

pub mod evidence;
mod import;
pub mod notify;
pub mod report;
mod schema;

use crate::apply::audit::AuditLog;
use crate::apply::gate::{AlwaysOpen, Gate};
use crate::apply::{execute_plan, ApplyOptions, ApplyReport, Progress, StopSignal};
use crate::aws::waiter::WaitPolicy;
use crate::aws::{group_repeated, load_sdk_config, AwsOptions, Clients};
use crate::cli::{AwsArgs, Command, ScpCommand, SimulateFormat};

mod lock;
use crate::config::Desired;
use crate::families::controltower::{is_present, ControlTowerGate};
use crate::families::organizations::{plan_base, states_around, DiffInput};
use crate::families::{DiffError, Observed};
use crate::model::{OrgState, PolicyKind};
use crate::observe::{ObserveContext, ObserveScope};
use crate::plan::{make_plan, Plan, PlanError, PlanOptions};
use crate::policy::effective::{find_account, find_ou, hierarchy, summarize, PolicyBook, Subject};
use crate::policy::guard::LockoutFinding;
use crate::policy::replay::{
    render_csv as render_replay_csv, render_human as render_replay_human,
    render_json as render_replay_json, replay, ReplayOptions,
};

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing (more) to change.
    Clean,
    /// A plan has changes, or a simulation finds new denials (exit 2 with
    /// --detailed-exitcode).
    Changes,
}

/// Validation failed; the diagnostics are already printed.
#[derive(Debug, thiserror::Error)]
#[error("the configuration is not valid")]
pub struct ValidationFailed;

/// The plan was refused; the reasons are already printed.
#[derive(Debug, thiserror::Error)]
#[error("the plan is refused")]
pub struct PlanRefused;

/// The user stopped an apply with Ctrl-C.
#[derive(Debug, thiserror::Error)]
#[error("apply interrupted: {done} change(s) done, {left} not started; run `lzctl apply` again to finish")]
pub struct Interrupted {
    /// Changes done.
    pub done: usize,
    /// Changes not started.
    pub left: usize,
}

/// Writes to stdout; a closed pipe (`lzctl ... | head`) ends the process
/// quietly and successfully, as the reader has what it wanted.
pub fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// The hint of the typed error behind `err`, where one helps.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<crate::aws::AwsError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::observe::ObserveError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::apply::StepError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::aws::ConnectError>() {
            return match e {
                crate::aws::ConnectError::UnknownProfile { .. } => Some(
                    "list profiles with `aws configure list-profiles`; AWS_PROFILE also names one"
                        .into(),
                ),
                crate::aws::ConnectError::UnknownRegion(_) => {
                    Some("pass a region code with --region, e.g. ap-northeast-1".into())
                }
            };
        }
    }
    None
}

/// Runs one command.
pub async fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Validate { config, json } => validate(&config, json),
        Command::Plan {
            config,
            out,
            json,
            markdown,
            detailed_exitcode,
            snapshot,
            allow_lockout,
            verbose,
            aws,
        } => {
            let started = Instant::now();
            let desired = load_config(&config)?;
            let (observed, clients) = match &snapshot {
                Some(path) => (crate::snapshot::read(path)?, None),
                None => {
                    let clients = connect(&aws, Some(&desired)).await?;
                    (observe(&clients, &desired, &aws).await?, Some(clients))
                }
            };
            let plan = match make_plan(&desired, &observed, &PlanOptions { allow_lockout }) {
                Ok(plan) => plan,
                Err(e) => {
                    let reason = describe_plan_error(&e, verbose || json);
                    if markdown {
                        emit(&crate::render::markdown_refusal(
                            &config.display().to_string(),
                            &reason,
                        ))?;
                    } else if json {
                        emit(&(plan_error_json(&e) + "\n"))?;
                    }
                    eprintln!("error: {reason}");
                    return Err(anyhow!(PlanRefused));
                }
            };
            let text = if json {
                crate::render::json(&plan) + "\n"
            } else if markdown {
                crate::render::markdown(&plan)
            } else {
                crate::render::human(
                    &plan,
                    crate::render::use_color(std::io::stdout().is_terminal()),
                )
            };
            emit(&text)?;
            if let Some(out) = out {
                crate::plan::file::write(&plan, &out)?;
                eprintln!(
                    "Saved the plan to {}; run `lzctl apply {}` to carry it out.",
                    out.display(),
                    out.display()
                );
            }
            print_stats(&aws, clients.as_ref(), started);
            Ok(if detailed_exitcode && !plan.is_converged() {
                Outcome::Changes
            } else {
                Outcome::Clean
            })
        }
        Command::Apply {
            plan,
            config,
            auto_approve,
            audit_log,
            apply_concurrency,
            allow_lockout,
            wait_timeout,
            poll_interval,
            resume,
            lock,
            aws,
        } => {
            let options = ApplyRun {
                auto_approve,
                audit_log: &audit_log,
                allow_lockout,
                lock,
                executor: ApplyOptions {
                    resume,
                    concurrency: apply_concurrency,
                    poll: WaitPolicy {
                        initial: std::time::Duration::from_millis(500).min(poll_interval),
                        max_interval: poll_interval,
                        timeout: wait_timeout,
                    },
                    wait_timeout,
                },
            };
            apply(plan.as_deref(), config.as_deref(), &options, &aws).await
        }
        Command::Scp { command } => scp(command).await,
        Command::Import {
            out,
            company_parent,
            split,
            force,
            lock,
            aws,
        } => {
            let run = import::ImportRun {
                out: &out,
                company_parent,
                split,
                force,
                lock,
            };
            import::run(&run, &aws).await
        }
        Command::Schema => schema::schema(),
        Command::Completions { shell } => schema::completions(shell),
        Command::Man => schema::man(),
        Command::Report {
            config,
            format,
            out,
            history,
            no_save,
            period,
            post,
            aggregator,
            aws,
        } => {
            report::run(
                report::ReportRun {
                    config,
                    format,
                    out,
                    history,
                    no_save,
                    period,
                    post,
                    aggregator,
                },
                &aws,
            )
            .await
        }
        Command::Notify {
            config,
            webhook,
            webhook_kind,
            channel,
            token_env,
            state,
            routes,
            digest_every,
            flush_digest,
            baseline,
            aggregator,
            aws,
        } => {
            notify::run(
                notify::NotifyRun {
                    config,
                    webhook,
                    kind: webhook_kind,
                    channel,
                    token_env,
                    state,
                    routes,
                    digest_every,
                    flush_digest,
                    baseline,
                    aggregator,
                },
                &aws,
            )
            .await
        }
        Command::Evidence {
            config,
            from,
            to,
            audit_log,
            history,
            format,
            out,
            aggregator,
            aws,
        } => {
            evidence::run(
                evidence::EvidenceRun {
                    config,
                    from,
                    to,
                    audit_log,
                    history,
                    format,
                    out,
                    aggregator,
                },
                &aws,
            )
            .await
        }
        Command::Lock { command } => lock::run(command).await,
        Command::Snapshot { out, config, aws } => {
            let started = Instant::now();
            let desired = config.as_deref().map(load_config).transpose()?;
            let clients = connect(&aws, desired.as_ref()).await?;
            let scope = match &desired {
                Some(d) => ObserveScope {
                    list_all_targets: true,
                    ..ObserveScope::for_config(d, aws.concurrency)
                },
                None => ObserveScope {
                    all_ou_tags: true,
                    policy_tags: true,
                    concurrency: aws.concurrency,
                    ..ObserveScope::default()
                },
            };
            let state = observe_with(&clients, &scope, desired.as_ref()).await?;
            crate::snapshot::write(&state, &out)?;
            let org = &state.organizations;
            eprintln!(
                "Recorded {} OUs, {} accounts and {} policies to {}.",
                org.ous.len(),
                org.accounts.len(),
                org.policies.len(),
                out.display()
            );
            print_stats(&aws, Some(&clients), started);
            Ok(Outcome::Clean)
        }
    }
}

fn validate(path: &Path, json: bool) -> Result<Outcome> {
    match crate::config::load(path) {
        Ok(desired) => {
            for warning in &desired.lint_warnings {
                eprintln!("warning: {warning}");
            }
            if json {
                emit(&format!(
                    "{}\n",
                    serde_json::json!({"valid": true, "problems": [], "warnings": desired.lint_warnings})
                ))?;
            } else {
                let s = &desired.state;
                emit(&format!(
                    "{} is valid: {} OUs, {} accounts, {} policies.\n",
                    path.display(),
                    s.ous.len(),
                    s.accounts.len(),
                    s.policies.len()
                ))?;
            }
            Ok(Outcome::Clean)
        }
        Err(diagnostics) => {
            if json {
                emit(&format!(
                    "{}\n",
                    serde_json::json!({"valid": false, "problems": diagnostics.diagnostics})
                ))?;
            } else {
                eprint!("{}", diagnostics.render());
            }
            Err(anyhow!(ValidationFailed))
        }
    }
}

fn load_config(path: &Path) -> Result<Desired> {
    crate::config::load(path).map_err(|diagnostics| {
        eprint!("{}", diagnostics.render());
        anyhow!(ValidationFailed)
    })
}

async fn connect(aws: &AwsArgs, desired: Option<&Desired>) -> Result<Clients> {
    let options = AwsOptions {
        profile: aws.profile.clone(),
        region: aws.region.clone(),
        connect_timeout: aws.connect_timeout,
        operation_timeout: aws.operation_timeout,
        member_role: aws.member_role.clone(),
        // The standard variable of the AWS SDKs and CLI, as they read it.
        max_attempts: std::env::var("AWS_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(AwsOptions::default().max_attempts),
    };
    let home = desired.map(|d| d.organization.home_region.as_str());
    let config = load_sdk_config(&options, home).await?;
    Ok(Clients::with_stats(
        &config,
        crate::aws::CallStats::default(),
        &options.member_role,
    ))
}

/// Reads the landing zone for a plan, with a progress line on a terminal.
async fn observe(clients: &Clients, desired: &Desired, aws: &AwsArgs) -> Result<Observed> {
    let scope = ObserveScope::for_config(desired, aws.concurrency);
    observe_with(clients, &scope, Some(desired)).await
}

async fn observe_with(
    clients: &Clients,
    scope: &ObserveScope,
    desired: Option<&Desired>,
) -> Result<Observed> {
    let terminal = std::io::stderr().is_terminal();
    let progress = move |line: &str| {
        if terminal {
            eprint!("\r{line}\x1b[K");
        }
    };
    let ctx = ObserveContext {
        clients,
        scope,
        desired,
        progress: &progress,
        caller: None,
    };
    let observed = crate::observe::observe(&ctx).await;
    if terminal {
        eprint!("\r\x1b[K");
    }
    observed.context("reading the landing zone")
}

/// A refused plan in words; lockouts grouped by policy and statement
/// unless `verbose`.
fn describe_plan_error(e: &PlanError, verbose: bool) -> String {
    match e {
        PlanError::Diff(DiffError::Lockout(l)) if !verbose => lockout_summary(&l.0),
        other => other.to_string(),
    }
}

/// One line per denying policy statement, with counts.
pub fn lockout_summary(findings: &[LockoutFinding]) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    type Seen<'a> = (BTreeSet<&'a str>, BTreeSet<&'a str>, BTreeSet<&'a str>);
    let mut groups: BTreeMap<&str, Seen> = BTreeMap::new();
    for f in findings {
        let g = groups.entry(f.denied_by.as_str()).or_default();
        g.0.insert(&f.account);
        g.1.insert(&f.principal);
        g.2.insert(&f.action);
    }
    let sample = |set: &BTreeSet<&str>| {
        let mut names: Vec<&str> = set.iter().take(3).copied().collect();
        if set.len() > 3 {
            names.push("…");
        }
        names.join(", ")
    };
    let mut out = format!(
        "the plan would newly deny principals the landing zone depends on ({} finding(s)):\n",
        findings.len()
    );
    for (denied_by, (accounts, principals, actions)) in groups {
        out.push_str(&format!(
            "  - {denied_by}: {} account(s), {} principal(s) ({}), {} action(s) ({})\n",
            accounts.len(),
            principals.len(),
            sample(&principals),
            actions.len(),
            sample(&actions)
        ));
    }
    out.push_str("hint: exempt these principals in the policy, or pass --allow-lockout if this is intended; --verbose or --json lists every finding");
    out
}

fn plan_error_json(e: &PlanError) -> String {
    let value = match e {
        PlanError::Diff(DiffError::Lockout(l)) => {
            serde_json::json!({"refused": true, "reason": "lockout", "lockouts": l.0})
        }
        PlanError::Diff(DiffError::Refused(reasons)) => {
            serde_json::json!({"refused": true, "reason": "unsafe", "problems": reasons})
        }
        other => {
            serde_json::json!({"refused": true, "reason": "internal", "problems": [other.to_string()]})
        }
    };
    serde_json::to_string_pretty(&value).expect("json")
}

fn print_stats(aws: &AwsArgs, clients: Option<&Clients>, started: Instant) {
    if !aws.stats {
        return;
    }
    let elapsed = started.elapsed();
    match clients {
        Some(c) => {
            let counts = c.stats.snapshot();
            eprintln!(
                "API calls: {} in {:.2}s",
                c.stats.total(),
                elapsed.as_secs_f64()
            );
            for (op, n) in counts {
                eprintln!("  {op:<50} {n:>6}");
            }
        }
        None => eprintln!("API calls: 0 (offline) in {:.2}s", elapsed.as_secs_f64()),
    }
}

/// Options of one `apply`.
struct ApplyRun<'a> {
    auto_approve: bool,
    audit_log: &'a Path,
    allow_lockout: bool,
    lock: crate::cli::LockArgs,
    executor: ApplyOptions,
}

fn plan_or_refuse(desired: &Desired, observed: &Observed, allow_lockout: bool) -> Result<Plan> {
    make_plan(desired, observed, &PlanOptions { allow_lockout }).map_err(|e| {
        eprintln!("error: {}", describe_plan_error(&e, false));
        anyhow!(PlanRefused)
    })
}

async fn apply(
    plan_path: Option<&Path>,
    config: Option<&Path>,
    run: &ApplyRun<'_>,
    aws: &AwsArgs,
) -> Result<Outcome> {
    let started = Instant::now();
    let saved = plan_path.map(crate::plan::file::read).transpose()?;
    let config_path = match (config, &saved) {
        (Some(c), _) => c.to_path_buf(),
        (None, Some(p)) => p.config_path.clone().into(),
        (None, None) => bail!("give a saved plan or -c FILE"),
    };
    let desired = load_config(&config_path)?;
    let clients = connect(aws, Some(&desired)).await?;
    let stop = Arc::new(StopSignal::default());
    // One audit log for the whole apply: the lock's records and the
    // changes' records chain to each other.
    let caller = crate::observe::caller(&clients)
        .await
        .context("finding out whom lzctl acts as")?;
    let audit_target = Arc::new(
        crate::reports::audit::AuditTarget::open(&run.audit_log.to_string_lossy(), &clients)
            .await
            .with_context(|| format!("opening the audit log {}", run.audit_log.display()))?,
    );
    let audit = Arc::new(
        AuditLog::open_continuing(
            audit_target.local_path(),
            caller.arn.clone(),
            Some(audit_target.clone()),
        )
        .with_context(|| format!("opening the audit log {}", run.audit_log.display()))?,
    );
    // The lock comes before the first read: a plan made on what another
    // apply is still changing would be stale at once.
    let held =
        lock::take_for_apply(&clients, &desired, run, &caller.arn, &audit, stop.clone()).await?;
    // With the lock, the chain's end was read when it was taken; without,
    // it is read now.
    audit
        .continue_chain()
        .await
        .with_context(|| format!("reading the audit log {}", run.audit_log.display()))?;
    let result = apply_locked(
        saved,
        &config_path,
        &desired,
        &clients,
        run,
        aws,
        started,
        stop,
        held.as_ref(),
        &audit,
    )
    .await;
    // The log is written before the lock is given back, so that the next
    // holder's records chain to this apply's.
    let shipped = lock::give_back_after(held, audit_target.finish())
        .await
        .with_context(|| {
        format!(
            "writing the audit log to {} (the records stay in {} and are written by the next apply)",
            audit_target.describe(),
            audit_target.kept_in().display()
        )
    });
    let outcome = result?;
    shipped?;
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    saved: Option<Plan>,
    config_path: &Path,
    desired: &Desired,
    clients: &Clients,
    run: &ApplyRun<'_>,
    aws: &AwsArgs,
    started: Instant,
    stop: Arc<StopSignal>,
    held: Option<&crate::lock::HeldLock>,
    audit: &AuditLog,
) -> Result<Outcome> {
    let (desired, clients) = (desired, clients.clone());
    let observed = observe(&clients, desired, aws).await?;
    let plan = match saved {
        Some(saved) => {
            if saved.config_digest != desired.digest {
                bail!(
                    "the plan is stale: {} changed since the plan was made; run `lzctl plan` again",
                    config_path.display()
                );
            }
            if saved.state_digest != observed.digest() {
                bail!("the plan is stale: the landing zone changed since the plan was made; run `lzctl plan` again");
            }
            // The file is data from disk: carry out only what lzctl itself plans now
            // (a hand-edited or foreign plan could name anything).
            let fresh = plan_or_refuse(desired, &observed, run.allow_lockout)?;
            if fresh.changes != saved.changes {
                bail!("the saved plan's changes differ from what this lzctl plans for the same config and landing zone; run `lzctl plan` again");
            }
            eprintln!("{}", crate::render::subject_line(&fresh.subject));
            fresh
        }
        None => {
            let plan = plan_or_refuse(desired, &observed, run.allow_lockout)?;
            emit(&crate::render::human(
                &plan,
                crate::render::use_color(std::io::stdout().is_terminal()),
            ))?;
            if plan.is_empty() {
                print_stats(aws, Some(&clients), started);
                return converged_or_pending(&plan, 0);
            }
            lock::refuse_halted_rollouts(&plan, run.executor.resume)?;
            if !run.auto_approve {
                confirm(&plan)?;
            }
            plan
        }
    };
    if plan.is_empty() {
        emit("Nothing to apply.\n")?;
        return Ok(Outcome::Clean);
    }
    lock::refuse_halted_rollouts(&plan, run.executor.resume)?;
    let plan_digest = crate::digest::sha256_hex(crate::render::json(&plan).as_bytes());
    if let Some(held) = held {
        held.set_plan_digest(&plan_digest).await?;
    }
    audit.set_plan(plan_digest);
    let progress = Arc::new(Progress::new(std::io::stderr().is_terminal()));
    let gate: Box<dyn Gate> = match &observed.controltower.landing_zone {
        Some(lz) if is_present(&observed.controltower) => {
            let report = progress.clone();
            Box::new(ControlTowerGate::new(
                clients.clone(),
                lz.arn.clone(),
                run.executor.poll,
                std::time::Duration::from_secs(1),
                Box::new(move |change, status, waited| {
                    report.waiting(
                        &change.address,
                        &format!("Control Tower is busy: {status}"),
                        waited,
                    )
                }),
            ))
        }
        _ => Box::new(AlwaysOpen),
    };
    let listener = tokio::spawn({
        let stop = stop.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop();
                eprintln!("\nStopping: no new change starts; the changes in flight finish and are recorded. Press Ctrl-C again to abort at once.");
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!(
                        "Aborted. Run `lzctl apply` again: it continues where this one stopped."
                    );
                    std::process::exit(130);
                }
            }
        }
    });
    let base = plan_base(&DiffInput::new(desired, &observed), &observed.organizations);
    let report = execute_plan(
        &clients,
        &plan,
        &base,
        gate.as_ref(),
        audit,
        &run.executor,
        &progress,
        &stop,
    )
    .await;
    listener.abort();
    print_created(&report)?;
    if report.interrupted {
        return Err(anyhow!(Interrupted {
            done: report.done.len(),
            left: report.not_started.len(),
        }));
    }
    if !report.failed.is_empty() {
        return Err(failure(&report, audit));
    }
    let applied = report.done.len();
    let after = observe(&clients, desired, aws).await?;
    let remaining = make_plan(
        desired,
        &after,
        &PlanOptions {
            allow_lockout: true,
        },
    )?;
    print_stats(aws, Some(&clients), started);
    if !remaining.is_empty() {
        eprint!("{}", crate::render::human(&remaining, false));
        bail!("applied {applied} change(s) but {} remain; the landing zone changed during apply or a change did not take effect", remaining.changes.len());
    }
    converged_or_pending(&remaining, applied)
}

/// What apply created, with the new ids.
fn print_created(report: &ApplyReport) -> Result<()> {
    if report.created.is_empty() {
        return Ok(());
    }
    let mut text = String::from("Created:\n");
    for (what, id) in &report.created {
        text.push_str(&format!("  {what}: {id}\n"));
    }
    emit(&text)
}

/// Failed steps as one error: each distinct error once, with a count and the
/// addresses it hit.
fn failure(report: &ApplyReport, audit: &AuditLog) -> anyhow::Error {
    let lines: Vec<String> = report.failed.iter().map(|(_, e)| e.to_string()).collect();
    let mut text = format!(
        "{} change(s) failed ({} done, {} not started):",
        report.failed.len(),
        report.done.len(),
        report.not_started.len()
    );
    for (line, count) in group_repeated(lines.iter().map(String::as_str)) {
        let at: Vec<String> = report
            .failed
            .iter()
            .filter(|(_, e)| e.to_string() == line)
            .map(|(a, _)| a.to_string())
            .take(3)
            .collect();
        let more = if count > 3 { ", …" } else { "" };
        text.push_str(&format!(
            "\n  {line}{} [{}{more}]",
            if count > 1 {
                format!(" ({count} changes)")
            } else {
                String::new()
            },
            at.join(", ")
        ));
    }
    text.push_str(&format!(
        "\ncompleted changes are recorded in {}; fix the cause and run apply again to continue",
        audit.path().display()
    ));
    let first = report
        .failed
        .iter()
        .find_map(|(_, e)| e.hint())
        .map(|h| format!("\nhint: {h}"))
        .unwrap_or_default();
    anyhow!("{text}{first}")
}

/// Success when nothing is pending; otherwise an error naming what is.
fn converged_or_pending(plan: &Plan, applied: usize) -> Result<Outcome> {
    let pending: Vec<String> = plan
        .pending()
        .map(|n| format!("  {}: {}", n.address, n.message))
        .collect();
    if pending.is_empty() {
        emit(&format!(
            "Apply complete: {applied} change(s). The landing zone matches the configuration.\n"
        ))?;
        return Ok(Outcome::Clean);
    }
    bail!(
        "applied {applied} change(s), but {} item(s) cannot be brought in line now:\n{}",
        pending.len(),
        pending.join("\n")
    )
}

fn confirm(plan: &Plan) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("refusing to apply without confirmation: standard input is not a terminal; pass --auto-approve");
    }
    eprintln!(
        "\nThese changes will be made in {}.",
        crate::render::subject_line(&plan.subject)
    );
    eprint!("Apply them? Only `yes` is accepted: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("apply cancelled");
    }
    Ok(())
}

async fn scp(command: ScpCommand) -> Result<Outcome> {
    match command {
        ScpCommand::Simulate {
            config,
            events,
            snapshot,
            format,
            threads,
            detailed_exitcode,
            aws,
        } => {
            let desired = load_config(&config)?;
            let observed = full_state(&desired, snapshot.as_deref(), &aws).await?;
            let (now, after) = proposed_states(&desired, &observed)?;
            let (current, proposed) = (account_hierarchies(&now), account_hierarchies(&after));
            let options = ReplayOptions {
                threads,
                management_account: now.management_account_id.clone(),
                organization_id: now.organization_id.clone(),
                account_names: now
                    .accounts
                    .iter()
                    .filter_map(|(name, a)| a.id.clone().map(|id| (id, name.clone())))
                    .collect(),
                ..ReplayOptions::default()
            };
            let report =
                tokio::task::spawn_blocking(move || replay(&events, &current, &proposed, &options))
                    .await??;
            let out = match format {
                SimulateFormat::Human => render_replay_human(&report),
                SimulateFormat::Json => render_replay_json(&report),
                SimulateFormat::Csv => render_replay_csv(&report),
            };
            emit(&out)?;
            if !report.file_errors.is_empty() {
                bail!(
                    "{} input file(s) could not be read to the end; the report is incomplete",
                    report.file_errors.len()
                );
            }
            Ok(if detailed_exitcode && report.has_new_denials() {
                Outcome::Changes
            } else {
                Outcome::Clean
            })
        }
        ScpCommand::Lint {
            config,
            files,
            kind,
            format,
            iam_data,
        } => {
            let request = crate::scp_lint::LintRequest {
                config: config.as_deref(),
                files: &files,
                kind: &kind,
                format,
                iam_data: iam_data.as_deref(),
            };
            crate::scp_lint::run(&request)?;
            Ok(Outcome::Clean)
        }
        ScpCommand::Effective {
            config,
            account,
            ou,
            proposed,
            snapshot,
            aws,
        } => {
            let desired = load_config(&config)?;
            let observed = full_state(&desired, snapshot.as_deref(), &aws).await?;
            let (now, after) = proposed_states(&desired, &observed)?;
            let state = if proposed { after } else { now };
            let subject = match (&account, &ou) {
                (Some(name), _) => find_account(&state, name)?,
                (None, Some(path)) => find_ou(&state, path)?,
                (None, None) => bail!("give --account NAME or --ou PATH"),
            };
            let book = PolicyBook::new(&state);
            let h = hierarchy(&state, &book, PolicyKind::Scp, &subject, false)
                .ok_or_else(|| anyhow!("{subject:?} is not in the organization"))?;
            emit(&format!(
                "SCPs in force for {} ({}):\n{}",
                account.or(ou).unwrap_or_default(),
                if proposed { "after the plan" } else { "now" },
                summarize(&h)
            ))?;
            for (name, err) in &book.unparsable {
                eprintln!("warning: policy {name} does not parse: {err}");
            }
            Ok(Outcome::Clean)
        }
    }
}

/// The organization as the plan finds it and as it would leave it.
fn proposed_states(desired: &Desired, observed: &Observed) -> Result<(OrgState, OrgState)> {
    let plan = make_plan(
        desired,
        observed,
        &PlanOptions {
            allow_lockout: true,
        },
    )?;
    states_around(desired, observed, &plan)
        .map_err(|v| anyhow!("modelling the organization after the plan: {v}"))
}

/// The landing zone with every attachment (FullAWSAccess included), from a
/// snapshot or from AWS.
async fn full_state(desired: &Desired, snapshot: Option<&Path>, aws: &AwsArgs) -> Result<Observed> {
    match snapshot {
        Some(path) => Ok(crate::snapshot::read(path)?),
        None => {
            let clients = connect(aws, Some(desired)).await?;
            let scope = ObserveScope {
                list_all_targets: true,
                ..ObserveScope::for_config(desired, aws.concurrency)
            };
            observe_with(&clients, &scope, Some(desired)).await
        }
    }
}

/// The SCP chain of every member account with an id.
fn account_hierarchies(
    state: &OrgState,
) -> std::collections::BTreeMap<String, crate::policy::iam::Hierarchy> {
    let book = PolicyBook::new(state);
    state
        .accounts
        .iter()
        .filter_map(|(name, a)| {
            let id = a.id.clone()?;
            hierarchy(
                state,
                &book,
                PolicyKind::Scp,
                &Subject::Account(name.clone()),
                false,
            )
            .map(|h| (id, h))
        })
        .collect()
}
