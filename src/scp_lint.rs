//! `lzctl scp lint`: gathers the rendered policies of a config or of files,
//! lints them against the IAM dataset and prints the findings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::cli::LintFormat;
use crate::config::source::{join_key, SourceMap};
use crate::policy::iam;
use crate::policy::iam::{Location, Severity};
use crate::policy::lint::{
    has_errors, lint_policies, render_human, render_json, render_sarif, IamData, LintContext,
    LintFinding, LintInput, SourceRef,
};
use crate::policy::template::{ParamType, Template};

/// Global-service actions a region restriction must exempt.
const GLOBAL_SERVICE_ACTIONS: &str = include_str!("../scp/data/global-service-actions.json");

/// Lint findings include errors; they are already printed.
#[derive(Debug, thiserror::Error)]
#[error("the policies have lint errors")]
pub struct LintFailed;

/// What `scp lint` was asked to check.
pub struct LintRequest<'a> {
    /// A landing-zone file.
    pub config: Option<&'a Path>,
    /// Policy or template files.
    pub files: &'a [PathBuf],
    /// Type of the files given directly.
    pub kind: &'a str,
    /// Output format.
    pub format: LintFormat,
    /// Another dataset.
    pub iam_data: Option<&'a Path>,
}

/// Runs the lint and prints the findings; fails when any is an error.
pub fn run(request: &LintRequest) -> Result<()> {
    let loaded;
    let data = match request.iam_data {
        Some(path) => {
            loaded = IamData::load(path)?;
            &loaded
        }
        None => IamData::built_in(),
    };
    let global_actions: Vec<String> =
        serde_json::from_str(GLOBAL_SERVICE_ACTIONS).context("built-in global-service actions")?;
    let mut context = LintContext {
        global_actions,
        ..LintContext::new(data)
    };
    let mut inputs = Vec::new();
    if let Some(path) = request.config {
        let desired = crate::config::load(path).map_err(|d| {
            eprint!("{}", d.render());
            anyhow!(crate::commands::ValidationFailed)
        })?;
        context.governed_regions = desired.organization.governed_regions.clone();
        context.max_size = desired.limits.scp_max_size;
        context.max_rcp_size = desired.limits.rcp_max_size;
        context.control_tower =
            desired.organization.control_tower != crate::config::ControlTowerMode::Absent;
        context.required_exempt_principals.extend(
            desired
                .organization
                .break_glass_roles
                .iter()
                .map(|r| format!("arn:*:iam::*:role/{r}")),
        );
        let text = std::fs::read_to_string(path)?;
        let map = SourceMap::parse(path, &text);
        for (name, policy) in &desired.state.policies {
            let Some(kind) = crate::policy::effective::iam_kind(policy.kind) else {
                continue;
            };
            let at = map.locate(&join_key("policies", name));
            inputs.push(LintInput {
                name: name.clone(),
                kind,
                text: policy.content.clone(),
                source: Some(SourceRef {
                    file: path.to_path_buf(),
                    line: at.line,
                    column: at.column,
                }),
            });
        }
    }
    let default_kind = match request.kind {
        "scp" => iam::PolicyKind::Scp,
        "rcp" => iam::PolicyKind::Rcp,
        other => bail!("--kind {other}: lint checks scp and rcp policies"),
    };
    // A file that cannot be read or rendered is reported as a finding of its own; the other
    // files are still linted.
    let mut unreadable = Vec::new();
    for file in request.files {
        match file_input(file, default_kind, &context.governed_regions) {
            Ok(input) => inputs.push(input),
            Err(e) => {
                let input = LintInput {
                    name: file.display().to_string(),
                    kind: default_kind,
                    text: String::new(),
                    source: Some(SourceRef {
                        file: file.clone(),
                        line: 0,
                        column: 0,
                    }),
                };
                unreadable.push(LintFinding {
                    policy: input.name.clone(),
                    rule: "input-invalid",
                    severity: Severity::Error,
                    message: format!("{e:#}"),
                    location: Location::document(),
                });
                inputs.push(input);
            }
        }
    }
    let readable: Vec<LintInput> = inputs
        .iter()
        .filter(|i| !unreadable.iter().any(|f| f.policy == i.name))
        .cloned()
        .collect();
    let mut findings = unreadable;
    findings.extend(lint_policies(&readable, &context));
    let out = match request.format {
        LintFormat::Human => render_human(&findings, &inputs),
        LintFormat::Json => render_json(&findings),
        LintFormat::Sarif => render_sarif(&findings, &inputs),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    if has_errors(&findings) {
        return Err(LintFailed.into());
    }
    Ok(())
}

/// A policy file, or a template rendered with its defaults.
fn file_input(
    path: &Path,
    default_kind: iam::PolicyKind,
    governed: &[String],
) -> Result<LintInput> {
    let template = Template::load(path)?;
    let kind = match template.policy_type.as_deref() {
        Some("rcp") => iam::PolicyKind::Rcp,
        Some("scp") => iam::PolicyKind::Scp,
        Some(other) => bail!(
            "{}: lint checks scp and rcp policies, not {other}",
            path.display()
        ),
        None => default_kind,
    };
    let raw = std::fs::read_to_string(path)?;
    let plain = serde_json::from_str::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| v.get("lzctl_template").cloned())
        .is_none();
    // Without a config, `governed` renders as a sample region.
    let sample_regions = ["us-east-1".to_string()];
    let governed = if governed.is_empty() {
        &sample_regions[..]
    } else {
        governed
    };
    // Required parameters get a sample value of their type, so the rest of the template is checked.
    let samples: BTreeMap<String, serde_json::Value> = template
        .parameters
        .iter()
        .filter(|(_, spec)| spec.default.is_none())
        .map(|(name, spec)| (name.clone(), sample_value(spec.kind)))
        .collect();
    let params = template
        .resolve_params(&samples, governed)
        .map_err(|problems| anyhow!("{}: {problems:?}", path.display()))?;
    let text = if plain {
        raw
    } else {
        crate::policy::document::minify(&template.render(&params)?)
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = plain.then(|| SourceRef {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
    });
    Ok(LintInput {
        name,
        kind,
        text,
        source,
    })
}

fn sample_value(kind: ParamType) -> serde_json::Value {
    match kind {
        ParamType::String => serde_json::json!("o-example1234"),
        ParamType::StringList => serde_json::json!([]),
        ParamType::Bool => serde_json::json!(false),
        ParamType::Integer => serde_json::json!(0),
        ParamType::Regions => serde_json::json!(["us-east-1"]),
    }
}
