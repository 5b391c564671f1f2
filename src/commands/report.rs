//! `lzctl report`: glue between the CLI, the reports library and the terminal.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::{connect, emit, load_config, observe_with, print_stats, Outcome};
use crate::aws::Clients;
use crate::cli::{AwsArgs, ReportFormat};
use crate::config::Desired;
use crate::families::detective::compliance::{
    observe_compliance, CompliancePlace, ComplianceState,
};
use crate::families::Observed;
use crate::reports::store::{Location, Store};
use crate::reports::{compare, history, model, render, webhook};

/// What `report`, `notify` and `evidence` read: the landing zone (every SCP
/// target listed) and what the detective services found.
pub(super) struct Collected {
    pub observed: Observed,
    pub compliance: ComplianceState,
}

/// Reads the landing zone, then compliance through the aggregators.
pub(super) async fn collect(
    clients: &Clients,
    desired: &Desired,
    aws: &AwsArgs,
    aggregator: Option<&str>,
) -> Result<Collected> {
    let scope = crate::observe::ObserveScope {
        list_all_targets: true,
        ..crate::observe::ObserveScope::for_config(desired, aws.concurrency)
    };
    let observed = observe_with(clients, &scope, Some(desired)).await?;
    let org = &observed.organizations;
    let admin = desired.families.detective.as_ref().and_then(|d| {
        org.accounts
            .get(&d.admin)
            .and_then(|a| a.id.clone())
            .or_else(|| (d.admin.len() == 12).then(|| d.admin.clone()))
    });
    let place = CompliancePlace {
        admin,
        management: org
            .management_account_id
            .clone()
            .or_else(|| Some(observed.caller.account.clone())),
        home_region: desired.organization.home_region.clone(),
        aggregator: aggregator.map(str::to_string),
        regions: crate::reports::model::report_regions(desired),
    };
    let compliance = observe_compliance(clients, &observed.detective, &place)
        .await
        .context("reading compliance and findings")?;
    Ok(Collected {
        observed,
        compliance,
    })
}

/// The current month (UTC), `2026-11`.
pub(super) fn this_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

/// Opens a store location; S3 needs clients.
pub(super) fn open_store(text: &str, clients: &Clients) -> Store {
    Store::open(&Location::parse(text), Some(clients)).expect("clients given")
}

/// Writes `text` to `out` or stdout.
pub(super) fn write_output(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
            Ok(())
        }
        None => emit(text),
    }
}

/// The options of one `report`.
pub struct ReportRun {
    /// The file.
    pub config: PathBuf,
    /// Format.
    pub format: ReportFormat,
    /// Output file.
    pub out: Option<PathBuf>,
    /// History location.
    pub history: Option<String>,
    /// Do not keep.
    pub no_save: bool,
    /// Month.
    pub period: Option<String>,
    /// Webhook for the summary.
    pub post: Option<String>,
    /// Aggregator name.
    pub aggregator: Option<String>,
}

/// Runs `lzctl report`.
pub async fn run(run: ReportRun, aws: &AwsArgs) -> Result<Outcome> {
    let started = Instant::now();
    let desired = load_config(&run.config)?;
    if let Some(url) = &run.post {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            bail!("--post `{url}` is not an http(s) URL");
        }
    }
    let clients = connect(aws, Some(&desired)).await?;
    let collected = collect(&clients, &desired, aws, run.aggregator.as_deref()).await?;
    let mut report = model::build(&model::ReportInput {
        desired: &desired,
        observed: &collected.observed,
        compliance: &collected.compliance,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        period: run.period.clone().unwrap_or_else(this_month),
    });
    for gap in &report.sources.gaps {
        eprintln!("warning: {gap}");
    }
    let store = run.history.as_deref().map(|h| open_store(h, &clients));
    if let Some(store) = &store {
        let (kept, warnings) = history::load(store)
            .await
            .with_context(|| format!("reading the report history {}", store.describe()))?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        if let Some(previous) = compare::previous_of(&report.period, &kept) {
            report.comparison = Some(compare::compare(&report, previous));
        } else {
            eprintln!(
                "note: {} holds no report before {}; nothing to compare with",
                store.describe(),
                report.period
            );
        }
        report.trend = compare::trend(&report, &kept, 12);
        if !run.no_save {
            let name = history::save(store, &report)
                .await
                .with_context(|| format!("keeping the report in {}", store.describe()))?;
            eprintln!(
                "kept {}{name}",
                store.describe().trim_end_matches('/').to_string() + "/"
            );
        }
    } else {
        report.trend = compare::trend(&report, &[], 12);
    }
    let text = match run.format {
        ReportFormat::Html => render::html(&report),
        ReportFormat::Markdown => render::markdown(&report),
        ReportFormat::Json => render::json(&report),
        ReportFormat::Csv => render::csv(&report),
    };
    write_output(run.out.as_deref(), &text)?;
    if let Some(url) = &run.post {
        let (text, blocks) = render::summary(&report);
        let hook = webhook::Webhook {
            url: url.clone(),
            kind: webhook::WebhookKind::Slack,
            token: None,
            channel: None,
        };
        hook.post(&text, Some(blocks))
            .await
            .context("posting the summary")?;
        eprintln!("posted the summary to {}", webhook::host_of(url));
    }
    print_stats(aws, Some(&clients), started);
    Ok(Outcome::Clean)
}
