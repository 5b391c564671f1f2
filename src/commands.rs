//! The commands: glue between the CLI, the library and the terminal.
//! Errors here are anyhow (the top); the library's are typed.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use crate::apply::audit::AuditLog;
use crate::apply::gate::AlwaysOpen;
use crate::apply::{execute_plan, ApplyOptions, Progress};
use crate::aws::{load_sdk_config, AwsOptions, Clients};
use crate::cli::{AwsArgs, Command, ScpCommand, SimulateFormat};
use crate::config::{ControlTowerMode, Desired};
use crate::model::{Address, OuPath, PolicyKind};
use crate::model::{ControlTowerPresence, OrgState};
use crate::observe::{complete_targets, observe_organization, ObserveScope};
use crate::plan::{diff, targets_to_complete, DiffInput, Notice, Plan};
use crate::policy::effective::{hierarchy, summarize, PolicyBook, Subject};
use crate::policy::guard::{new_lockouts, protected_principals, LockoutRefused};
use crate::policy::replay::{
    render_csv as render_replay_csv, render_human as render_replay_human,
    render_json as render_replay_json, replay, ReplayOptions,
};

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing (more) to change.
    Clean,
    /// A plan has changes (exit 2 with --detailed-exitcode).
    Changes,
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
            aws,
        } => {
            let started = Instant::now();
            let desired = load_config(&config)?;
            let (observed, clients) = match &snapshot {
                Some(path) => (crate::snapshot::read(path)?, None),
                None => {
                    let clients = connect(&aws, Some(&desired)).await;
                    (observe(&clients, &desired, &aws).await?, Some(clients))
                }
            };
            let plan = make_plan(&desired, &observed, allow_lockout)?;
            let stdout = std::io::stdout();
            let text = if json {
                crate::render::json(&plan) + "\n"
            } else if markdown {
                crate::render::markdown(&plan)
            } else {
                crate::render::human(&plan, crate::render::use_color(stdout.is_terminal()))
            };
            stdout.lock().write_all(text.as_bytes())?;
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
            aws,
        } => {
            let options = ApplyRun {
                auto_approve,
                audit_log: &audit_log,
                concurrency: apply_concurrency,
                allow_lockout,
            };
            apply(plan.as_deref(), config.as_deref(), &options, &aws).await
        }
        Command::Scp { command } => scp(command).await,
        Command::Snapshot { out, config, aws } => {
            let started = Instant::now();
            let desired = config.as_deref().map(load_config).transpose()?;
            let clients = connect(&aws, desired.as_ref()).await;
            let state = match &desired {
                Some(d) => {
                    observe_organization(
                        &clients,
                        &ObserveScope {
                            list_all_targets: true,
                            ..scope_for(d, aws.concurrency)
                        },
                    )
                    .await?
                }
                None => {
                    observe_organization(
                        &clients,
                        &ObserveScope {
                            all_ou_tags: true,
                            concurrency: aws.concurrency,
                            ..ObserveScope::default()
                        },
                    )
                    .await?
                }
            };
            crate::snapshot::write(&state, &out)?;
            eprintln!(
                "Recorded {} OUs, {} accounts and {} policies to {}.",
                state.ous.len(),
                state.accounts.len(),
                state.policies.len(),
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
            if json {
                println!("{}", serde_json::json!({"valid": true, "problems": []}));
            } else {
                let s = &desired.state;
                println!(
                    "{} is valid: {} OUs, {} accounts, {} policies.",
                    path.display(),
                    s.ous.len(),
                    s.accounts.len(),
                    s.policies.len()
                );
            }
            Ok(Outcome::Clean)
        }
        Err(diagnostics) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "problems": diagnostics.diagnostics})
                );
            } else {
                eprint!("{}", diagnostics.render());
            }
            Err(anyhow!(ValidationFailed))
        }
    }
}

/// Validation failed; the diagnostics are already printed.
#[derive(Debug, thiserror::Error)]
#[error("the configuration is not valid")]
pub struct ValidationFailed;

fn load_config(path: &Path) -> Result<Desired> {
    crate::config::load(path).map_err(|diagnostics| {
        eprint!("{}", diagnostics.render());
        anyhow!(ValidationFailed)
    })
}

async fn connect(aws: &AwsArgs, desired: Option<&Desired>) -> Clients {
    let options = AwsOptions {
        profile: aws.profile.clone(),
        region: aws.region.clone(),
    };
    let home = desired.map(|d| d.organization.home_region.as_str());
    Clients::new(&load_sdk_config(&options, home).await)
}

/// What to read for a config: tags only where they matter.
pub fn scope_for(desired: &Desired, concurrency: usize) -> ObserveScope {
    ObserveScope {
        declared_ous: desired.state.ous.keys().cloned().collect(),
        ous_with_tags: desired
            .state
            .ous
            .iter()
            .filter(|(_, o)| !o.tags.is_empty())
            .map(|(p, _)| p.clone())
            .collect(),
        all_ou_tags: false,
        account_tags_for: if desired.uses_account_tags {
            desired.state.accounts.keys().cloned().collect()
        } else {
            Default::default()
        },
        list_all_targets: false,
        expected_management_account: Some(desired.organization.management_account.clone()),
        control_tower: Some(desired.organization.control_tower),
        concurrency,
    }
}

/// Reads what a plan for `desired` needs: the organization, then the full
/// attachments of the targets the plan will touch.
async fn observe(clients: &Clients, desired: &Desired, aws: &AwsArgs) -> Result<OrgState> {
    let mut state = observe_organization(clients, &scope_for(desired, aws.concurrency))
        .await
        .context("reading the organization")?;
    let needed = targets_to_complete(&diff_input(desired, &state), &state);
    complete_targets(clients, &mut state, &needed, aws.concurrency)
        .await
        .context("reading the attachments of the targets to change")?;
    Ok(state)
}

/// Diffs a config against a state, then runs the lockout guard on the state
/// the plan leads to. With `allow_lockout`, lockouts become notices.
pub fn make_plan(desired: &Desired, observed: &OrgState, allow_lockout: bool) -> Result<Plan> {
    let mut plan = diff(&diff_input(desired, observed), observed)?;
    let mut after = observed.clone();
    crate::plan::simulate::apply_plan(&mut after, &plan, &desired.limits)
        .context("modelling the organization after the plan")?;
    let protected = protected_principals(&desired.organization.break_glass_roles);
    let lockouts = new_lockouts(
        observed,
        &after,
        &protected,
        &desired.organization.governed_regions,
    );
    if !lockouts.is_empty() {
        if !allow_lockout {
            return Err(LockoutRefused(lockouts).into());
        }
        plan.notices.extend(lockouts.into_iter().map(|l| Notice {
            address: Address::account(&l.account),
            message: format!("LOCKOUT ALLOWED: {l}"),
            pending: false,
        }));
    }
    Ok(plan)
}

fn diff_input<'a>(desired: &'a Desired, observed: &OrgState) -> DiffInput<'a> {
    DiffInput {
        desired: &desired.state,
        renames: &desired.renames,
        prune: desired.prune,
        limits: desired.limits,
        account_vending: observed.control_tower != ControlTowerPresence::Present
            && desired.organization.control_tower != ControlTowerMode::Required,
        manage_account_tags: desired.uses_account_tags,
        config_path: desired.path.display().to_string(),
        config_digest: desired.digest.clone(),
    }
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
    concurrency: usize,
    allow_lockout: bool,
}

async fn apply(
    plan_path: Option<&Path>,
    config: Option<&Path>,
    run: &ApplyRun<'_>,
    aws: &AwsArgs,
) -> Result<Outcome> {
    let ApplyRun {
        auto_approve,
        audit_log,
        concurrency,
        allow_lockout,
    } = *run;
    let started = Instant::now();
    let saved = plan_path.map(crate::plan::file::read).transpose()?;
    let config_path = match (config, &saved) {
        (Some(c), _) => c.to_path_buf(),
        (None, Some(p)) => p.config_path.clone().into(),
        (None, None) => bail!("give a saved plan or -c FILE"),
    };
    let desired = load_config(&config_path)?;
    let clients = connect(aws, Some(&desired)).await;
    let observed = observe(&clients, &desired, aws).await?;
    let plan = match saved {
        Some(saved) => {
            if saved.config_digest != desired.digest {
                bail!(
                    "the plan is stale: {} changed since the plan was made; run `lzctl plan` again",
                    config_path.display()
                );
            }
            if saved.state_digest != observed.digest() {
                bail!("the plan is stale: the organization changed since the plan was made; run `lzctl plan` again");
            }
            // The file is data from disk: carry out only what lzctl itself plans now
            // (a hand-edited or foreign plan could name anything).
            let fresh = make_plan(&desired, &observed, allow_lockout)?;
            if fresh.changes != saved.changes {
                bail!("the saved plan's changes differ from what this lzctl plans for the same config and organization; run `lzctl plan` again");
            }
            saved
        }
        None => {
            let plan = make_plan(&desired, &observed, allow_lockout)?;
            print!(
                "{}",
                crate::render::human(
                    &plan,
                    crate::render::use_color(std::io::stdout().is_terminal())
                )
            );
            if plan.is_empty() {
                print_stats(aws, Some(&clients), started);
                return converged_or_pending(&plan, 0);
            }
            if !auto_approve {
                confirm()?;
            }
            plan
        }
    };
    if plan.is_empty() {
        println!("Nothing to apply.");
        return Ok(Outcome::Clean);
    }
    let caller = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map(|c| c.arn().unwrap_or_default().to_string())
        .unwrap_or_default();
    let audit = AuditLog::open(audit_log, caller)
        .with_context(|| format!("opening the audit log {}", audit_log.display()))?;
    let progress = Progress::new(std::io::stderr().is_terminal());
    let options = ApplyOptions {
        concurrency,
        ..ApplyOptions::default()
    };
    let applied = execute_plan(
        &clients,
        &plan,
        &observed,
        &AlwaysOpen,
        &audit,
        &options,
        &progress,
    )
    .await
    .with_context(|| {
        format!(
            "apply stopped; completed changes are recorded in {}; run apply again to continue",
            audit.path().display()
        )
    })?;
    let after = observe(&clients, &desired, aws).await?;
    let remaining = make_plan(&desired, &after, true)?;
    print_stats(aws, Some(&clients), started);
    if !remaining.is_empty() {
        eprint!("{}", crate::render::human(&remaining, false));
        bail!("applied {applied} change(s) but {} remain; the organization changed during apply or a change did not take effect", remaining.changes.len());
    }
    converged_or_pending(&remaining, applied)
}

/// Success when nothing is pending; otherwise an error naming what is.
fn converged_or_pending(plan: &Plan, applied: usize) -> Result<Outcome> {
    let pending: Vec<String> = plan
        .pending()
        .map(|n| format!("  {}: {}", n.address, n.message))
        .collect();
    if pending.is_empty() {
        println!(
            "Apply complete: {applied} change(s). The organization matches the configuration."
        );
        return Ok(Outcome::Clean);
    }
    bail!(
        "applied {applied} change(s), but {} item(s) cannot be brought in line now:\n{}",
        pending.len(),
        pending.join("\n")
    )
}

fn confirm() -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("refusing to apply without confirmation: standard input is not a terminal; pass --auto-approve");
    }
    eprint!("Apply these changes? Only `yes` is accepted: ");
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
            aws,
        } => {
            let desired = load_config(&config)?;
            let now = full_state(&desired, snapshot.as_deref(), &aws).await?;
            let plan = make_plan(&desired, &now, true)?;
            let mut after = now.clone();
            crate::plan::simulate::apply_plan(&mut after, &plan, &desired.limits)
                .context("modelling the organization after the plan")?;
            let (current, proposed) = (account_hierarchies(&now), account_hierarchies(&after));
            let options = ReplayOptions {
                threads,
                management_account: now.management_account_id.clone(),
                organization_id: now.organization_id.clone(),
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
            print!("{out}");
            if !report.file_errors.is_empty() {
                bail!(
                    "{} input file(s) could not be read to the end; the report is incomplete",
                    report.file_errors.len()
                );
            }
            Ok(Outcome::Clean)
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
            let mut state = full_state(&desired, snapshot.as_deref(), &aws).await?;
            if proposed {
                let plan = make_plan(&desired, &state, true)?;
                crate::plan::simulate::apply_plan(&mut state, &plan, &desired.limits)
                    .context("modelling the organization after the plan")?;
            }
            let subject = match (&account, &ou) {
                (Some(name), _) => Subject::Account(name.clone()),
                (None, Some(path)) => {
                    Subject::Ou(OuPath::try_from(path.clone()).map_err(|e| anyhow!(e))?)
                }
                (None, None) => bail!("give --account NAME or --ou PATH"),
            };
            let book = PolicyBook::new(&state);
            let h = hierarchy(&state, &book, PolicyKind::Scp, &subject, false)
                .ok_or_else(|| anyhow!("{subject:?} is not in the organization"))?;
            println!(
                "SCPs in force for {} ({}):",
                account.or(ou).unwrap_or_default(),
                if proposed { "after the plan" } else { "now" }
            );
            print!("{}", summarize(&h));
            for (name, err) in &book.unparsable {
                eprintln!("warning: policy {name} does not parse: {err}");
            }
            Ok(Outcome::Clean)
        }
    }
}

/// The organization with every attachment (FullAWSAccess included), from a
/// snapshot or from AWS.
async fn full_state(desired: &Desired, snapshot: Option<&Path>, aws: &AwsArgs) -> Result<OrgState> {
    match snapshot {
        Some(path) => Ok(crate::snapshot::read(path)?),
        None => {
            let clients = connect(aws, Some(desired)).await;
            observe_organization(
                &clients,
                &ObserveScope {
                    list_all_targets: true,
                    ..scope_for(desired, aws.concurrency)
                },
            )
            .await
            .context("reading the organization")
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
