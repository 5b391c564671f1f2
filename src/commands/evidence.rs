//! `lzctl evidence`: glue between the CLI, the evidence builder, the audit
//! log and the terminal.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};

use super::report::{collect, open_store, write_output};
use super::{connect, load_config, print_stats, Outcome};
use crate::cli::{AwsArgs, EvidenceFormat};
use crate::reports::store::Location;
use crate::reports::{audit, evidence, history, model};

/// The options of one `evidence`.
pub struct EvidenceRun {
    /// The file.
    pub config: PathBuf,
    /// First day.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
    /// Audit log location.
    pub audit_log: String,
    /// Kept reports.
    pub history: Option<String>,
    /// Format.
    pub format: EvidenceFormat,
    /// Output file.
    pub out: Option<PathBuf>,
    /// Aggregator.
    pub aggregator: Option<String>,
}

fn day(text: &str, flag: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow!("{flag} `{text}` is not a date; write YYYY-MM-DD, e.g. 2026-11-01"))
}

/// How the audit log at a location is protected.
pub fn protection(location: &Location) -> String {
    match location {
        Location::Local(_) => "a local JSON-lines file lzctl only appends to; every record carries the sha256 of the line before it (a hash chain), so an edited, removed or inserted line breaks the chain at the next record; pin the head digest below (or keep the file in write-once storage) to detect truncation".into(),
        Location::S3 { .. } => "an S3 prefix where lzctl only writes new objects (If-None-Match: *), one per apply, never rewriting or deleting one; records are hash-chained across objects; bucket versioning and S3 Object Lock (the team's settings) keep every version against deletion".into(),
    }
}

/// Runs `lzctl evidence`.
pub async fn run(run: EvidenceRun, aws: &AwsArgs) -> Result<Outcome> {
    let started = Instant::now();
    let today = chrono::Utc::now().date_naive();
    let to = match &run.to {
        Some(t) => day(t, "--to")?,
        None => today,
    };
    let from = match &run.from {
        Some(f) => day(f, "--from")?,
        None => to - chrono::Duration::days(30),
    };
    if from > to {
        return Err(anyhow!("--from {from} is after --to {to}"));
    }
    let desired = load_config(&run.config)?;
    let clients = connect(aws, Some(&desired)).await?;
    let (records, chain) = audit::read(&run.audit_log, Some(&clients))
        .await
        .with_context(|| format!("reading the audit log {}", run.audit_log))?;
    if !chain.broken.is_empty() {
        eprintln!(
            "warning: the audit log's hash chain is broken at {} place(s): {}",
            chain.broken.len(),
            chain.broken.join("; ")
        );
    }
    let collected = collect(&clients, &desired, aws, run.aggregator.as_deref()).await?;
    let now = chrono::Utc::now();
    let report = model::build(&model::ReportInput {
        desired: &desired,
        observed: &collected.observed,
        compliance: &collected.compliance,
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        period: now.format("%Y-%m").to_string(),
    });
    let kept = match &run.history {
        Some(h) => {
            let store = open_store(h, &clients);
            let (kept, warnings) = history::load(&store).await?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            kept
        }
        None => Vec::new(),
    };
    let e = evidence::build(&evidence::EvidenceInput {
        org: &collected.observed.organizations,
        report: &report,
        history: &kept,
        records: &records,
        chain: &chain,
        audit_location: Location::parse(&run.audit_log).to_string(),
        protection: protection(&Location::parse(&run.audit_log)),
        from: from.to_string(),
        to: to.to_string(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let text = match run.format {
        EvidenceFormat::Html => evidence::html(&e),
        EvidenceFormat::Json => evidence::json(&e),
    };
    write_output(run.out.as_deref(), &text)?;
    eprintln!("evidence digest sha256:{}", e.digest);
    print_stats(aws, Some(&clients), started);
    Ok(Outcome::Clean)
}
