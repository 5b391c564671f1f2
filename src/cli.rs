//! Command line. The doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit codes, shown after every command's help.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success; with --detailed-exitcode: no changes (plan) or no new denials (scp simulate)
  1  error: invalid configuration, usage error (unknown flag, typo), AWS error, refused plan
  2  with --detailed-exitcode only: changes present (plan), calls newly denied (scp simulate)
130  interrupted (second Ctrl-C)";

/// Provision and guard an AWS landing zone from one declarative file.
#[derive(Debug, Parser)]
#[command(name = "lzctl", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// AWS connection options shared by commands that call AWS.
#[derive(Debug, Args, Clone)]
pub struct AwsArgs {
    /// Named profile from the AWS config files.
    #[arg(long, env = "AWS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Region to call (default: the profile's, else the config's home region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Parallel read requests while observing.
    #[arg(long, default_value_t = 8, global = true)]
    pub concurrency: usize,
    /// Print the AWS calls made, by operation, and the wall time (to stderr).
    #[arg(long, global = true)]
    pub stats: bool,
    /// Longest wait for a connection to an AWS endpoint, e.g. 5s.
    #[arg(long, default_value = "5s", value_parser = parse_duration, global = true)]
    pub connect_timeout: std::time::Duration,
    /// Longest wait for one AWS call, retries included, e.g. 2m.
    #[arg(long, default_value = "2m", value_parser = parse_duration, global = true)]
    pub operation_timeout: std::time::Duration,
    /// Role lzctl assumes in member and delegated-administrator accounts.
    #[arg(long, default_value = crate::aws::DEFAULT_MEMBER_ROLE, global = true)]
    pub member_role: String,
}

/// Parses a month, `2026-11`.
pub fn parse_period(text: &str) -> Result<String, String> {
    let ok = text.len() == 7
        && text.as_bytes()[4] == b'-'
        && text[..4].chars().all(|c| c.is_ascii_digit())
        && matches!(text[5..].parse::<u32>(), Ok(1..=12));
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a month; write YYYY-MM, e.g. 2026-11"
        ))
    }
}

/// Parses `90s`, `30m`, `2h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 90s, 30m or 2h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use ms, s, m or h"
            ))
        }
    };
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a landing-zone file offline and report every problem.
    Validate {
        /// The landing-zone file.
        #[arg(short, long)]
        config: PathBuf,
        /// Report problems as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Compare the organization with the file and show what would change.
    Plan {
        /// The landing-zone file.
        #[arg(short, long)]
        config: PathBuf,
        /// Save the plan (with digests of config and observed state) for `apply`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the versioned JSON plan instead of text.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print a Markdown summary for pull-request comments.
        #[arg(long)]
        markdown: bool,
        /// Exit 0 when nothing changes, 2 when something would, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan against a recorded snapshot instead of AWS (offline). Such a plan
        /// is for review and cannot be saved with --out: apply observes again.
        #[arg(long, conflicts_with = "out")]
        snapshot: Option<PathBuf>,
        /// Accept a plan that locks protected principals out (they are listed as notices).
        #[arg(long)]
        allow_lockout: bool,
        /// Show every locked-out principal and action, not one line per policy statement.
        #[arg(long)]
        verbose: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Carry out a saved plan, or plan and apply a file after confirmation.
    Apply {
        /// A plan saved with `plan --out`.
        plan: Option<PathBuf>,
        /// The landing-zone file (plans first, then asks).
        #[arg(short, long, required_unless_present = "plan")]
        config: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Where mutating calls are recorded: a JSON-lines file, or
        /// s3://bucket/prefix/ (one new object per apply, hash-chained).
        #[arg(long, default_value = ".lzctl/audit.jsonl")]
        audit_log: PathBuf,
        /// Changes applied at once.
        #[arg(long, default_value_t = 4)]
        apply_concurrency: usize,
        /// Accept a plan that locks protected principals out.
        #[arg(long)]
        allow_lockout: bool,
        /// Longest wait for Control Tower to be quiet, and for one long
        /// operation (account creation, OU registration), e.g. 60m.
        #[arg(long, default_value = "60m", value_parser = parse_duration)]
        wait_timeout: std::time::Duration,
        /// Longest pause between two polls of a long operation, e.g. 30s.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        poll_interval: std::time::Duration,
        /// Run the wave of a staged SCP rollout that halted on denials again,
        /// and the waves after it.
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// The lock `apply` takes: show who holds it, or break a stale one.
    Lock {
        /// What to do.
        #[command(subcommand)]
        command: LockCommand,
    },
    /// Review organization policies before they are attached.
    Scp {
        /// What to review.
        #[command(subcommand)]
        command: ScpCommand,
    },
    /// Read the live organization (read-only) and write a configuration
    /// directory that `plan` finds in place: the OU tree with environments
    /// inferred, accounts with their ids, every customer-managed policy as a
    /// template with its targets. Control Tower's objects are referenced, not copied.
    Import {
        /// Directory to write (landing-zone.yaml, policies/, companies/).
        #[arg(long)]
        out: PathBuf,
        /// The OU whose children are the companies (default: inferred from the tree).
        #[arg(long)]
        company_parent: Option<String>,
        /// Write each company to its own file under companies/, included by the main file.
        #[arg(long)]
        split: bool,
        /// Overwrite the files of an earlier import.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Print the JSON Schema of the landing-zone file, for editors (YAML
    /// language servers: `# yaml-language-server: $schema=lzctl.schema.json`).
    Schema,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Compliance per company, account and region: detective coverage, the
    /// SCPs in force, Config compliance per rule, Security Hub findings, and
    /// the change since the previous month's report.
    ///
    /// Compliance rate = compliant / (compliant + non-compliant) Config rule
    /// evaluations, one per rule × account × region; NOT_APPLICABLE and
    /// INSUFFICIENT_DATA are left out. Read through the Config aggregator and
    /// Security Hub's aggregation region: calls grow with pages, not accounts.
    Report {
        /// The landing-zone file.
        #[arg(short, long)]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where reports are kept and compared: a directory or s3://bucket/prefix.
        #[arg(long, env = "LZCTL_REPORT_HISTORY")]
        history: Option<String>,
        /// Compare with the history but do not keep this report.
        #[arg(long, requires = "history")]
        no_save: bool,
        /// The month this report stands for (YYYY-MM; default: this month, UTC).
        #[arg(long, value_parser = parse_period)]
        period: Option<String>,
        /// Post a short summary to this Slack-compatible incoming webhook.
        #[arg(long)]
        post: Option<String>,
        /// The Config aggregator to read (default: Control Tower's, else the
        /// first organization aggregator found).
        #[arg(long)]
        aggregator: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Send one message per new non-compliance or active finding, and one
    /// when it is resolved; run it on a schedule. The state of what was sent
    /// is kept with conditional writes, so overlapping runs never send twice.
    Notify {
        /// The landing-zone file.
        #[arg(short, long)]
        config: PathBuf,
        /// The webhook (Slack incoming webhook URL, or the Slack Web API base
        /// URL with --webhook-kind slack-api).
        #[arg(long, env = "LZCTL_NOTIFY_WEBHOOK")]
        webhook: String,
        /// What the webhook is.
        #[arg(long, value_enum, default_value_t = crate::reports::webhook::WebhookKind::Slack)]
        webhook_kind: crate::reports::webhook::WebhookKind,
        /// Channel for slack-api.
        #[arg(long, required_if_eq("webhook_kind", "slack-api"))]
        channel: Option<String>,
        /// Environment variable holding the bot token for slack-api.
        #[arg(long, default_value = "SLACK_BOT_TOKEN")]
        token_env: String,
        /// Where the state of what was sent is kept: a file or s3://bucket/key.
        #[arg(
            long,
            default_value = ".lzctl/notify-state.json",
            env = "LZCTL_NOTIFY_STATE"
        )]
        state: String,
        /// Route of a severity: `SEVERITY=now|digest|off` (repeatable).
        /// Default: critical=now, high=now, medium=digest, low=digest,
        /// informational=off.
        #[arg(long = "route", value_name = "SEVERITY=ROUTE")]
        routes: Vec<String>,
        /// How often the digest is sent, e.g. 24h.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        digest_every: std::time::Duration,
        /// Send the digest now, whenever the last one was sent.
        #[arg(long)]
        flush_digest: bool,
        /// Record the current problems as already notified, sending nothing
        /// (for the first run against an organization with a backlog).
        #[arg(long)]
        baseline: bool,
        /// The Config aggregator to read.
        #[arg(long)]
        aggregator: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Evidence for auditors over a period: the guardrails in force and
    /// since when, detective coverage, the compliance summary and every
    /// change lzctl made (from the audit log), each section with a digest.
    Evidence {
        /// The landing-zone file.
        #[arg(short, long)]
        config: PathBuf,
        /// First day of the period (YYYY-MM-DD, UTC; default: 30 days ago).
        #[arg(long)]
        from: Option<String>,
        /// Last day of the period (YYYY-MM-DD, UTC; default: today).
        #[arg(long)]
        to: Option<String>,
        /// The audit log: a JSON-lines file or s3://bucket/prefix/.
        #[arg(long, default_value = ".lzctl/audit.jsonl", env = "LZCTL_AUDIT_LOG")]
        audit_log: String,
        /// Kept reports to summarize over the period (directory or s3://...).
        #[arg(long, env = "LZCTL_REPORT_HISTORY")]
        history: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EvidenceFormat::Html)]
        format: EvidenceFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The Config aggregator to read.
        #[arg(long)]
        aggregator: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Record the observed organization to a file for offline review.
    Snapshot {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// The landing-zone file (checks the management account, scopes tags).
        #[arg(short, long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A self-contained HTML page with charts (no network needed to view it).
    Html,
    /// Markdown tables.
    Markdown,
    /// The versioned JSON document (what history keeps).
    Json,
    /// One row per account.
    Csv,
}

/// Output formats of `evidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvidenceFormat {
    /// A self-contained HTML page.
    Html,
    /// The versioned JSON document.
    Json,
}

/// Where and how long `apply` takes its lock.
#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    /// The lock object, s3://BUCKET/KEY (default: `organization.lock` in the file).
    #[arg(long = "lock", env = "LZCTL_LOCK", value_name = "S3_URL")]
    pub location: Option<String>,
    /// Longest wait for another apply's lock, e.g. 30m (0: refuse at once,
    /// naming the holder).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

/// `lzctl lock ...`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Who holds the lock, since when, and whether it is stale.
    Show {
        /// The landing-zone file (its `organization.lock`).
        #[arg(short, long, required_unless_present = "location")]
        config: Option<std::path::PathBuf>,
        /// The lock object, s3://BUCKET/KEY.
        #[arg(long = "lock", env = "LZCTL_LOCK", value_name = "S3_URL")]
        location: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Remove the lock of an apply that died (recorded in the audit log).
    Break {
        /// The landing-zone file (its `organization.lock`).
        #[arg(short, long, required_unless_present = "location")]
        config: Option<std::path::PathBuf>,
        /// The lock object, s3://BUCKET/KEY.
        #[arg(long = "lock", env = "LZCTL_LOCK", value_name = "S3_URL")]
        location: Option<String>,
        /// Break it; without this lzctl only shows the holder.
        #[arg(long)]
        force: bool,
        /// Where the break is recorded: a JSON-lines file or s3://bucket/prefix/.
        #[arg(long, default_value = ".lzctl/audit.jsonl")]
        audit_log: PathBuf,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// Output formats of `scp lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    /// One line per finding.
    Human,
    /// A versioned JSON document.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

/// Output formats of `scp simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimulateFormat {
    /// A readable report.
    Human,
    /// A versioned JSON document.
    Json,
    /// One row per group of newly denied calls.
    Csv,
}

/// `lzctl scp ...`
#[derive(Debug, Subcommand)]
pub enum ScpCommand {
    /// Replay CloudTrail records against the SCPs in force and those the config
    /// proposes, and report the calls that would newly be denied.
    Simulate {
        /// The landing-zone file (the proposed policies).
        #[arg(short, long)]
        config: PathBuf,
        /// CloudTrail files or directories (gzip as CloudTrail writes them, JSON, JSON lines).
        #[arg(long = "events", required = true, num_args = 1..)]
        events: Vec<PathBuf>,
        /// Read the organization from a snapshot instead of AWS.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SimulateFormat::Human)]
        format: SimulateFormat,
        /// Worker threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Exit 0 when no call would newly be denied, 2 when some would, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Check the policies of a config (or policy files) offline: grammar per
    /// type, size, unknown services, actions and condition keys, region
    /// restrictions that forget global services or required exemptions.
    Lint {
        /// The landing-zone file whose policies to check.
        #[arg(short, long, required_unless_present = "files")]
        config: Option<PathBuf>,
        /// Policy or template files (rendered with their defaults).
        files: Vec<PathBuf>,
        /// Policy type of the files given directly, when their template does not say.
        #[arg(long, default_value = "scp")]
        kind: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
        /// IAM actions dataset to check against (default: the one built into lzctl).
        #[arg(long)]
        iam_data: Option<PathBuf>,
    },
    /// The SCPs in force for an account or OU, level by level, and what they deny.
    Effective {
        /// The landing-zone file.
        #[arg(short, long)]
        config: PathBuf,
        /// An account name.
        #[arg(long, conflicts_with = "ou", required_unless_present = "ou")]
        account: Option<String>,
        /// An OU path.
        #[arg(long)]
        ou: Option<String>,
        /// Show the policies as they will be after the plan.
        #[arg(long)]
        proposed: bool,
        /// Read the organization from a snapshot instead of AWS.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        #[command(flatten)]
        aws: AwsArgs,
    },
}
