//! `lzctl scp lint`, the library part: check rendered organization policies (SCPs, RCPs)
//! and report findings as human lines, JSON or SARIF.
//!
//! [`lint_policy`] combines
//! - the grammar rules of the `iam` module ([`iam::lint`]: parse errors, no Principal in
//!   SCPs, RCPs Deny-only with `Principal: "*"`, no NotAction, no bare `*`, Allow with
//!   NotAction, ...);
//! - `size-limit`: the minified document against the type's size limit;
//! - `unknown-service`, `unknown-action`, `unknown-condition-key` (and the warning
//!   `rcp-unsupported-service`): names checked against the IAM dataset
//!   `scp/data/iam-actions.json` ([`IamData`]);
//! - for SCPs, region restrictions ([`iam::check_region_restrictions`]):
//!   `region-not-governed`, `region-global-actions` (e.g. `sts:*` missing from the
//!   NotAction), `region-exemption` (e.g. AWSControlTowerExecution denied).
//!
//! ```ignore
//! let iam = IamData::load(Path::new("scp/data/iam-actions.json"))?;
//! let ctx = LintContext {
//!     governed_regions: vec!["eu-west-1".into()],
//!     global_actions: load_string_list(Path::new("scp/data/global-service-actions.json"))?,
//!     ..LintContext::new(&iam)
//! };
//! let input = LintInput { name: "region".into(), kind: PolicyKind::Scp, text: minified,
//!     source: Some(SourceRef { file: "lzctl.yaml".into(), line: 42, column: 3 }) };
//! let findings = lint_policies(std::slice::from_ref(&input), &ctx);
//! std::fs::write("lint.sarif", render_sarif(&findings, &[input]))?;
//! print!("{}", render_human(&findings, &[input]));
//! let failed = has_errors(&findings);
//! ```
//!
//! The module reaches the IAM module only as `super::iam` (mounted as `policy::lint` next to
//! `policy::iam`).

mod catalog;
mod checks;
mod data;
mod enforced;
mod locate;
mod render;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use super::iam::{self, Finding, Location, PolicyKind, Severity};

pub use self::catalog::{rule_info, RuleInfo, RULES};
pub use self::data::{load_string_list, ActionStatus, IamData, LintError};
pub use self::enforced::{check_for_aws, AwsCheck, EnforcedProblem, AWS_ENFORCED_RULES};
pub use self::locate::{json_pointer, locate};
pub use self::render::{
    file_position, render_human, render_json, render_sarif, JSON_FORMAT_VERSION, SARIF_SCHEMA,
};

/// The Control Tower execution role as an ARN pattern; every region restriction must exempt it.
pub const CONTROL_TOWER_EXECUTION_ARN: &str = "arn:*:iam::*:role/AWSControlTowerExecution";

/// Where a policy is declared (for SARIF and editors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// The config (or policy) file.
    pub file: PathBuf,
    /// 1-based line where the policy is declared (e.g. in the config). 0 means `file` is
    /// the policy document itself and [`LintInput::text`] its exact text: SARIF results
    /// and human lines then point at each finding's element in it (see [`locate`]).
    pub line: usize,
    /// 1-based column of the declaration on `line` (0: unknown, shown as 1).
    pub column: usize,
}

/// One policy to lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintInput {
    /// The policy's name (as in the config), used in every finding.
    pub name: String,
    /// SCP or RCP.
    pub kind: PolicyKind,
    /// The rendered policy text (minified, as it would be uploaded; any JSON works).
    pub text: String,
    /// Where the policy is declared, if known.
    pub source: Option<SourceRef>,
}

/// What policies are linted against.
#[derive(Debug, Clone)]
pub struct LintContext<'a> {
    /// The landing zone's governed regions: a region restriction's allowed regions must be
    /// among them (no check when empty).
    pub governed_regions: Vec<String>,
    /// Maximum minified SCP size in characters; 0 means the default (10,240).
    pub max_size: usize,
    /// Maximum minified RCP size in characters; 0 means the default (5,120).
    pub max_rcp_size: usize,
    /// The IAM dataset.
    pub iam: &'a IamData,
    /// Global-service action patterns a region restriction must exempt
    /// (`scp/data/global-service-actions.json`; no check when empty).
    pub global_actions: Vec<String>,
    /// ARN patterns a region restriction must never deny, e.g.
    /// [`CONTROL_TOWER_EXECUTION_ARN`], lzctl's role, break-glass roles. Each is tried as a
    /// representative ARN (partition `aws`, account `123456789012`, other wildcards `x`).
    /// With `control_tower`, the Control Tower execution role is checked even when this is
    /// empty.
    pub required_exempt_principals: Vec<String>,
    /// Control Tower is present or may be (`organization.control_tower: auto|required`):
    /// a region restriction must exempt its execution role. `false` (`absent`): no
    /// organization has that role to lock out, and no `region-exemption` finding names it.
    pub control_tower: bool,
}

impl<'a> LintContext<'a> {
    /// Defaults: no governed regions, the current size limits, no global-action list, and
    /// the Control Tower execution role as the required exemption.
    pub fn new(iam: &'a IamData) -> Self {
        LintContext {
            governed_regions: Vec::new(),
            max_size: 0,
            max_rcp_size: 0,
            iam,
            global_actions: Vec::new(),
            required_exempt_principals: vec![CONTROL_TOWER_EXECUTION_ARN.to_string()],
            control_tower: true,
        }
    }

    /// The size limit that applies to `kind`.
    pub fn size_limit(&self, kind: PolicyKind) -> usize {
        let set = match kind {
            PolicyKind::Scp => self.max_size,
            PolicyKind::Rcp => self.max_rcp_size,
        };
        if set == 0 {
            kind.default_size_limit()
        } else {
            set
        }
    }
}

/// One problem found in one policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LintFinding {
    /// The policy's name ([`LintInput::name`]).
    pub policy: String,
    /// Stable rule id (see [`RULES`]).
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Human-readable explanation.
    pub message: String,
    /// Where in the document: displays as `Statement[0].Action[2]`,
    /// `Statement[1].Condition.StringNotEquals.aws:RequestedRegion` or `(document)`.
    pub location: Location,
}

impl LintFinding {
    fn from_finding(policy: &str, f: Finding) -> Self {
        LintFinding {
            policy: policy.to_string(),
            rule: f.rule,
            severity: f.severity,
            message: f.message,
            location: f.location,
        }
    }
}

/// True when any finding is an error (the CLI's exit status).
pub fn has_errors(findings: &[LintFinding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// A concrete ARN that the ARN pattern `pattern` matches, for trying exemptions.
fn representative_arn(pattern: &str) -> String {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    if parts.len() != 6 {
        return pattern.replace(['*', '?'], "x");
    }
    let fill = |p: &str, with: &str| {
        if p.contains(['*', '?']) {
            with.to_string()
        } else {
            p.to_string()
        }
    };
    [
        parts[0].to_string(),
        fill(parts[1], "aws"),
        fill(parts[2], "iam"),
        parts[3].replace(['*', '?'], ""),
        fill(parts[4], "123456789012"),
        parts[5].replace(['*', '?'], "x"),
    ]
    .join(":")
}

/// Lint one policy: grammar, size, dataset names and (SCPs) region restrictions. Findings
/// are sorted by statement and element; an empty result means the policy is clean.
pub fn lint_policy(input: &LintInput, ctx: &LintContext<'_>) -> Vec<LintFinding> {
    let mut found: Vec<Finding> = iam::lint(&input.text, input.kind);
    let (doc, _) = iam::parse_lenient(&input.text);
    if let Some(doc) = doc {
        let limit = ctx.size_limit(input.kind);
        let size = doc.minified_len();
        if size > limit {
            found.push(Finding::error(
                "size-limit",
                Location::document(),
                format!(
                    "minified policy is {size} characters, over the {} limit of {limit} by {}",
                    match input.kind {
                        PolicyKind::Scp => "SCP",
                        PolicyKind::Rcp => "RCP",
                    },
                    size - limit
                ),
            ));
        }
        found.extend(checks::dataset_findings(&doc, input.kind, ctx.iam));
        if input.kind == PolicyKind::Scp {
            let builtin = representative_arn(&format!(
                "arn:aws:iam::123456789012:role/{}",
                iam::analysis::CONTROL_TOWER_EXECUTION_ROLE
            ));
            let mut exempt: Vec<String> = Vec::new();
            for p in &ctx.required_exempt_principals {
                let arn = representative_arn(p);
                // the Control Tower role is checked (or not) by `control_tower`
                if arn != builtin && !exempt.contains(&arn) {
                    exempt.push(arn);
                }
            }
            let checks = iam::RegionChecks {
                governed: &ctx.governed_regions,
                global_actions: &ctx.global_actions,
                exempt_principals: &exempt,
                control_tower: ctx.control_tower,
            };
            found.extend(iam::check_region_restrictions(&doc, &checks));
        }
    }
    let mut out: Vec<LintFinding> = Vec::with_capacity(found.len());
    for f in found {
        let f = LintFinding::from_finding(&input.name, f);
        if !out.contains(&f) {
            out.push(f);
        }
    }
    // Stable: document-level findings first, then by statement, element path, rule.
    out.sort_by_cached_key(|f| {
        (
            f.location.statement.map_or(0, |s| s + 1),
            f.location.element.as_deref().map(padded_numbers),
        )
    });
    out
}

/// `Action[2]` sorts before `Action[10]`: numbers zero-padded for comparison.
fn padded_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut digits = String::new();
    for c in s.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            out.push_str(&format!("{:0>10}", digits));
            digits.clear();
        }
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// Lint several policies; findings in input order.
pub fn lint_policies(inputs: &[LintInput], ctx: &LintContext<'_>) -> Vec<LintFinding> {
    inputs.iter().flat_map(|i| lint_policy(i, ctx)).collect()
}
