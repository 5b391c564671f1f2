//! `lzctl notify`: glue between the CLI, the notification engine and the webhook.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use super::report::collect;
use super::{connect, emit, load_config, print_stats, Outcome};
use crate::cli::AwsArgs;
use crate::reports::model::{self, Problem};
use crate::reports::notify::{self, Entry, Routes, Sender};
use crate::reports::store::{Location, Store};
use crate::reports::webhook::{Posted, Webhook, WebhookError, WebhookKind};

/// The options of one `notify`.
pub struct NotifyRun {
    /// The file.
    pub config: PathBuf,
    /// Webhook URL.
    pub webhook: String,
    /// Its kind.
    pub kind: WebhookKind,
    /// Channel (slack-api).
    pub channel: Option<String>,
    /// Token variable (slack-api).
    pub token_env: String,
    /// State object.
    pub state: String,
    /// Routes.
    pub routes: Vec<String>,
    /// Digest interval.
    pub digest_every: Duration,
    /// Send the digest now.
    pub flush_digest: bool,
    /// Record without sending.
    pub baseline: bool,
    /// Aggregator name.
    pub aggregator: Option<String>,
}

fn emoji(severity: &str) -> &'static str {
    match severity {
        "critical" => ":rotating_light:",
        "high" => ":red_circle:",
        "medium" => ":large_orange_circle:",
        _ => ":large_blue_circle:",
    }
}

/// The lines that name a problem.
pub fn describe(p: &Problem) -> String {
    let what = if p.source == "config" {
        format!("Config rule `{}`", p.rule)
    } else if p.title.is_empty() || p.title == p.rule {
        format!("Security Hub `{}`", p.rule)
    } else {
        format!("Security Hub `{}` ({})", p.rule, p.title)
    };
    format!(
        "{what}\nAccount: {} ({}), company {}\nRegion: {}\nResource: {} {}",
        p.account, p.account_id, p.company, p.region, p.resource_type, p.resource_id
    )
}

struct WebhookSender(Webhook);

impl Sender for WebhookSender {
    async fn open(&self, p: &Problem) -> Result<Posted, WebhookError> {
        let text = format!(
            "{} *{}* new non-compliance\n{}",
            emoji(&p.severity),
            p.severity.to_ascii_uppercase(),
            describe(p)
        );
        self.0.post(&text, None).await
    }

    async fn resolve(&self, e: &Entry, now: &str) -> Result<Posted, WebhookError> {
        let p = &e.problem;
        let text = format!(
            ":white_check_mark: *Resolved* ({} since {})\n{}",
            p.severity.to_ascii_uppercase(),
            e.sent_at.as_deref().unwrap_or(&e.first_seen),
            describe(p)
        );
        let edited = format!(
            ":white_check_mark: ~{} new non-compliance~ resolved at {now}\n{}",
            p.severity.to_ascii_uppercase(),
            describe(p)
        );
        self.0.resolve(&e.posted, &text, &edited).await
    }

    async fn digest(
        &self,
        opened: &[Problem],
        resolved: &[Problem],
    ) -> Result<Posted, WebhookError> {
        let mut text = format!(
            ":memo: *Compliance digest*: {} new, {} resolved",
            opened.len(),
            resolved.len()
        );
        for p in opened {
            text.push_str(&format!(
                "\n• new {} `{}` in {} ({}) {} {} {}",
                p.severity, p.rule, p.account, p.company, p.region, p.resource_type, p.resource_id
            ));
        }
        for p in resolved {
            text.push_str(&format!(
                "\n• resolved {} `{}` in {} ({}) {} {} {}",
                p.severity, p.rule, p.account, p.company, p.region, p.resource_type, p.resource_id
            ));
        }
        self.0.post(&text, None).await
    }
}

/// Runs `lzctl notify`.
pub async fn run(run: NotifyRun, aws: &AwsArgs) -> Result<Outcome> {
    let started = Instant::now();
    let routes = Routes::parse(&run.routes).map_err(|e| anyhow!("--route {e}"))?;
    if !(run.webhook.starts_with("https://") || run.webhook.starts_with("http://")) {
        return Err(anyhow!("--webhook `{}` is not an http(s) URL", run.webhook));
    }
    let token = match run.kind {
        WebhookKind::SlackApi => Some(std::env::var(&run.token_env).map_err(|_| {
            anyhow!(
                "--webhook-kind slack-api needs a bot token in ${}",
                run.token_env
            )
        })?),
        WebhookKind::Slack => None,
    };
    let desired = load_config(&run.config)?;
    let clients = connect(aws, Some(&desired)).await?;
    let collected = collect(&clients, &desired, aws, run.aggregator.as_deref()).await?;
    let now = chrono::Utc::now();
    let report = model::build(&model::ReportInput {
        desired: &desired,
        observed: &collected.observed,
        compliance: &collected.compliance,
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        period: now.format("%Y-%m").to_string(),
    });
    for gap in &report.sources.gaps {
        eprintln!("warning: {gap}");
    }
    for source in &collected.compliance.unread {
        eprintln!("warning: {source} could not be read: its problems are neither opened nor resolved this run");
    }
    let problems = model::notify_problems(&report, &collected.compliance);
    let (location, name) = Location::parse_object(&run.state);
    let store = Store::open(&location, Some(&clients)).expect("clients given");
    let every = chrono::Duration::from_std(run.digest_every).unwrap_or(chrono::Duration::hours(24));
    let flush = run.flush_digest;
    let due = move |last: Option<&str>| {
        flush
            || match last.and_then(|l| chrono::DateTime::parse_from_rfc3339(l).ok()) {
                Some(t) => now.signed_duration_since(t) >= every,
                None => true,
            }
    };
    let settings = notify::Run {
        id: format!(
            "{}-{}-{:08x}",
            now.format("%Y%m%dT%H%M%SZ"),
            std::process::id(),
            rand::random::<u32>()
        ),
        now: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        routes: &routes,
        digest_due: &due,
        baseline: run.baseline,
        unread: &collected.compliance.unread,
    };
    let sender = WebhookSender(Webhook {
        url: run.webhook.clone(),
        kind: run.kind,
        token,
        channel: run.channel.clone(),
    });
    let out = notify::run(&store, &name, &problems, &settings, &sender)
        .await
        .with_context(|| format!("notifying (state {}{name})", store.describe()))?;
    if !out.unconfirmed.is_empty() {
        eprintln!(
            "warning: {} message(s) claimed by another run and not confirmed (that run is still sending, or it crashed); they are not sent again (at most once):\n  {}",
            out.unconfirmed.len(),
            out.unconfirmed.join("\n  ")
        );
    }
    emit(&format!(
        "notify: {} problem(s) now; sent {} new, {} resolved, {} digest(s); {} waiting for the digest{}{}\n",
        problems.len(),
        out.opened.len(),
        out.resolved.len(),
        out.digests.len(),
        out.queued,
        if out.baselined > 0 {
            format!("; {} recorded as already notified (--baseline)", out.baselined)
        } else {
            String::new()
        },
        if out.conflicts > 0 {
            format!("; {} write conflict(s) with another run", out.conflicts)
        } else {
            String::new()
        }
    ))?;
    print_stats(aws, Some(&clients), started);
    Ok(Outcome::Clean)
}
