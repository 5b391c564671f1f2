//! The `baselines:` section: name → template, typed parameters checked
//! against the template's Parameters, OU targets, regions, exclusions,
//! capabilities, dependencies and rollout preferences. Every problem is
//! reported with its field, nothing is sent to AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::template::{CfnTemplate, ParamSpec, MAX_TEMPLATE_BODY};
use super::is_control_tower_stackset;
use crate::config::model::UnknownKeys;
use crate::config::source::{join_index, join_key};
use crate::config::{closest, Checker, SectionInput};
use crate::model::{OuPath, Target, MANAGED_DESCRIPTION_PREFIX};

/// A parameter value: text, or the id of an account of the file (resolved
/// when the plan is made, or at apply for an account the same apply creates).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamValue {
    /// Literal text (lists joined with commas).
    Text(String),
    /// `{ account: NAME }`: the account's 12-digit id.
    AccountId(String),
    /// `{ organization: id }`: the organization's id (`o-...`).
    OrganizationId,
}

/// An account the file names: by name (resolved through the plan's ids) or id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRef {
    /// An account name of the file.
    Name(String),
    /// A 12-digit id.
    Id(String),
}

/// A count or a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// A number of accounts.
    Count(u32),
    /// A percentage of the accounts (per region).
    Percent(u32),
}

/// Whether regions are deployed one after another or together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionConcurrency {
    /// All regions at once.
    #[default]
    Parallel,
    /// One region after another.
    Sequential,
}

/// OperationPreferences (they do not apply to automatic deployments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// MaxConcurrentCount / MaxConcurrentPercentage.
    pub max_concurrent: Amount,
    /// FailureToleranceCount / FailureTolerancePercentage.
    pub failure_tolerance: Amount,
    /// RegionConcurrencyType.
    pub region_concurrency: RegionConcurrency,
    /// ConcurrencyMode SOFT_FAILURE_TOLERANCE (else STRICT, which lowers
    /// concurrency to failure tolerance + 1 accounts).
    pub soft_failure_tolerance: bool,
}

impl Default for Rollout {
    /// Every account of a region at once, all regions at once, and an
    /// operation that fails as soon as one instance fails: fast, and no
    /// failure goes unreported. Soft failure tolerance keeps STRICT mode
    /// from serializing accounts one by one.
    fn default() -> Self {
        Rollout {
            max_concurrent: Amount::Percent(100),
            failure_tolerance: Amount::Count(0),
            region_concurrency: RegionConcurrency::Parallel,
            soft_failure_tolerance: true,
        }
    }
}

/// As whom lzctl calls StackSets for a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallAs {
    /// The management account (CallAs SELF).
    #[default]
    SelfAccount,
    /// The account registered as StackSets delegated administrator.
    DelegatedAdmin,
}

/// One validated baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// Stack set name.
    pub name: String,
    /// The template file.
    pub template_path: PathBuf,
    /// Its text, sent as TemplateBody.
    pub template: String,
    /// Description with lzctl's prefix.
    pub description: String,
    /// Parameters given (defaults stay the template's).
    pub parameters: BTreeMap<String, ParamValue>,
    /// Parameters declared NoEcho (their values cannot be compared).
    pub no_echo: BTreeSet<String>,
    /// Target OUs, none below another (the root for `Root`).
    pub targets: Vec<OuPath>,
    /// Regions.
    pub regions: Vec<String>,
    /// Accounts left out.
    pub exclude_accounts: Vec<AccountRef>,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// Baselines deployed first.
    pub depends_on: Vec<String>,
    /// Operation preferences.
    pub rollout: Rollout,
    /// As whom.
    pub call_as: CallAs,
    /// AutoDeployment as the file states it (None: lzctl decides, see diff).
    pub auto_deployment: Option<bool>,
}

/// The validated `baselines:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baselines(pub BTreeMap<String, Baseline>);

impl Baselines {
    /// Whether any baseline runs as the delegated administrator.
    pub fn uses_delegated_admin(&self) -> bool {
        self.0.values().any(|b| b.call_as == CallAs::DelegatedAdmin)
    }
}

/// One baseline: a CloudFormation template deployed as a service-managed
/// stack set to OUs.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Baseline")]
pub(super) struct BaselineConfig {
    /// The CloudFormation template, relative to the file.
    template: Option<PathBuf>,
    /// Description of the stack set (lzctl adds its prefix).
    description: Option<String>,
    /// Template parameters: text, lists, `{ account: NAME }` or `{ organization: id }`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    parameters: BTreeMap<String, Value>,
    /// OU paths and globs; each OU with its subtree.
    #[serde(default)]
    targets: Vec<String>,
    /// `governed` (default) or a list of regions.
    #[serde(default)]
    #[schemars(schema_with = "crate::config::schema::regions")]
    regions: Option<Value>,
    /// Accounts (names or ids) left out.
    #[serde(default)]
    exclude_accounts: Vec<String>,
    /// CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND.
    #[serde(default)]
    capabilities: Vec<String>,
    /// Baselines deployed first.
    #[serde(default)]
    depends_on: Vec<String>,
    /// Operation preferences.
    rollout: Option<RolloutConfig>,
    /// `self` (default) or `delegated_admin`.
    #[schemars(regex(pattern = "^(self|delegated_admin)$"))]
    call_as: Option<String>,
    /// AutoDeployment (default: on without Control Tower).
    auto_deployment: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// OperationPreferences of a baseline's stack set operations.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Rollout")]
struct RolloutConfig {
    /// Accounts at once per region: a count or a percentage (default 100%).
    #[serde(default)]
    #[schemars(schema_with = "crate::config::schema::amount")]
    max_concurrent: Option<Value>,
    /// Failed accounts tolerated per region: a count or a percentage (default 0).
    #[serde(default)]
    #[schemars(schema_with = "crate::config::schema::amount")]
    failure_tolerance: Option<Value>,
    /// `parallel` (default) or `sequential`.
    #[schemars(regex(pattern = "^(parallel|sequential)$"))]
    region_concurrency: Option<String>,
    /// ConcurrencyMode SOFT_FAILURE_TOLERANCE (default true).
    soft_failure_tolerance: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    unknown: UnknownKeys,
}

/// The JSON Schema of the `baselines:` section.
pub(super) fn section_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<BTreeMap<String, BaselineConfig>>()
}

const KNOWN: &[&str] = &[
    "template",
    "description",
    "parameters",
    "targets",
    "regions",
    "exclude_accounts",
    "capabilities",
    "depends_on",
    "rollout",
    "call_as",
    "auto_deployment",
];
const ROLLOUT_KNOWN: &[&str] = &[
    "max_concurrent",
    "failure_tolerance",
    "region_concurrency",
    "soft_failure_tolerance",
];
const CAPABILITIES: &[&str] = &[
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];
/// Longest stack set description AWS accepts.
const MAX_DESCRIPTION: usize = 1024;

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= 128
}

/// Validates the section.
pub(super) fn check(
    c: &mut Checker<'_>,
    input: &SectionInput<'_>,
    section: Option<&Value>,
) -> Baselines {
    let Some(section) = section else {
        return Baselines::default();
    };
    let entries: BTreeMap<String, Value> = match serde_yaml::from_value(section.clone()) {
        Ok(e) => e,
        Err(_) => {
            c.error_at_value(
                "baselines",
                "`baselines` is a mapping of baseline name to its settings",
                Some("baselines:\n  audit-role:\n    template: baselines/audit-role/template.yaml\n    targets: [Companies]".into()),
            );
            return Baselines::default();
        }
    };
    let names: Vec<String> = entries.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (name, value) in &entries {
        let field = join_key("baselines", name);
        if !is_valid_name(name) {
            c.error(
                &field,
                format!("`{name}` is not a valid stack set name"),
                Some("start with a letter; letters, digits and `-`, at most 128 characters".into()),
            );
            continue;
        }
        if is_control_tower_stackset(name) {
            c.error(
                &field,
                format!("`{name}` is a stack set name Control Tower owns"),
                Some("lzctl never changes Control Tower's stack sets; choose another name".into()),
            );
            continue;
        }
        let cfg: BaselineConfig = match serde_yaml::from_value(value.clone()) {
            Ok(cfg) => cfg,
            Err(e) => {
                c.error_at_value(
                    &field,
                    format!("baseline `{name}` is not valid: {e}"),
                    Some(format!("known keys: {}", KNOWN.join(", "))),
                );
                continue;
            }
        };
        c.unknown_keys(&field, &cfg.unknown, KNOWN);
        if let Some(b) = check_one(c, input, &field, name, &cfg, &names) {
            out.insert(name.clone(), b);
        }
    }
    check_cycles(c, &out);
    Baselines(out)
}

fn check_one(
    c: &mut Checker<'_>,
    input: &SectionInput<'_>,
    field: &str,
    name: &str,
    cfg: &BaselineConfig,
    names: &[String],
) -> Option<Baseline> {
    let regions = check_regions(c, field, cfg.regions.as_ref(), input);
    let targets = check_targets(c, field, &cfg.targets, input);
    let exclude_accounts = check_exclusions(c, field, &cfg.exclude_accounts, input);
    let depends_on = check_depends_on(c, field, name, &cfg.depends_on, names);
    let rollout = check_rollout(c, field, cfg.rollout.as_ref());
    let call_as = match cfg.call_as.as_deref() {
        None | Some("self") => CallAs::SelfAccount,
        Some("delegated_admin") => CallAs::DelegatedAdmin,
        Some(other) => {
            c.error_at_value(
                &format!("{field}.call_as"),
                format!("unknown call_as `{other}`"),
                Some("use `self` (the management account) or `delegated_admin` (the account registered as StackSets delegated administrator)".into()),
            );
            CallAs::SelfAccount
        }
    };
    let description = format!(
        "{MANAGED_DESCRIPTION_PREFIX}{}",
        cfg.description.clone().unwrap_or_else(|| name.to_string())
    );
    if description.chars().count() > MAX_DESCRIPTION {
        c.error_at_value(
            &format!("{field}.description"),
            format!(
                "description is {} characters with lzctl's prefix; AWS allows {MAX_DESCRIPTION}",
                description.chars().count()
            ),
            Some("shorten it".into()),
        );
    }
    let mut capabilities = Vec::new();
    for (i, cap) in cfg.capabilities.iter().enumerate() {
        if CAPABILITIES.contains(&cap.as_str()) {
            if !capabilities.contains(cap) {
                capabilities.push(cap.clone());
            }
        } else {
            let hint = closest(cap, CAPABILITIES.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("one of {}", CAPABILITIES.join(", ")));
            c.error_at_value(
                &join_index(&format!("{field}.capabilities"), i),
                format!("unknown capability `{cap}`"),
                Some(hint),
            );
        }
    }
    capabilities.sort();

    let template_field = format!("{field}.template");
    let Some(rel) = &cfg.template else {
        c.error(
            field,
            format!("baseline `{name}` has no `template`"),
            Some("point `template` at a CloudFormation template, e.g. baselines/audit-role/template.yaml (relative to this file)".into()),
        );
        return None;
    };
    let path = input.base_dir.join(rel);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            c.error_at_value(
                &template_field,
                format!("cannot read template {}: {e}", path.display()),
                Some("paths are relative to the configuration file".into()),
            );
            return None;
        }
    };
    if text.len() > MAX_TEMPLATE_BODY {
        c.error_at_value(
            &template_field,
            format!(
                "template {} is {} bytes; CloudFormation accepts at most {MAX_TEMPLATE_BODY} as a TemplateBody",
                path.display(),
                text.len()
            ),
            Some("split it into two baselines".into()),
        );
        return None;
    }
    let template = match CfnTemplate::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            c.error_at_value(
                &template_field,
                format!("template {} is not a CloudFormation template: {e}", path.display()),
                Some("templates are YAML or JSON with `Resources` (and `Parameters`)".into()),
            );
            return None;
        }
    };
    for (cap, why) in template.needed_capabilities() {
        let covered = capabilities.iter().any(|c| c == cap)
            || (cap == "CAPABILITY_IAM" && capabilities.iter().any(|c| c == "CAPABILITY_NAMED_IAM"));
        if !covered {
            c.error(
                &format!("{field}.capabilities"),
                format!(
                    "template {} needs {cap}: {why}; CloudFormation would refuse it",
                    path.display()
                ),
                Some(format!("add `capabilities: [{cap}]`")),
            );
        }
    }
    if regions.len() > 1 {
        let named = template.region_independent_iam_names();
        if !named.is_empty() {
            c.error(
                &format!("{field}.regions"),
                format!(
                    "template {} names IAM resources that exist once per account ({}), but the baseline deploys to {} regions: every region after the first would fail with the name in use",
                    path.display(),
                    named.join(", "),
                    regions.len()
                ),
                Some("deploy it to one region (`regions: [ap-northeast-1]`), or put ${AWS::Region} in the name".into()),
            );
        }
    }
    let parameters = check_parameters(c, field, &cfg.parameters, &template, &path, input);
    let no_echo = template
        .parameters
        .iter()
        .filter(|(_, p)| p.no_echo)
        .map(|(n, _)| n.clone())
        .collect();
    if targets.is_empty() {
        return None;
    }
    Some(Baseline {
        name: name.to_string(),
        template_path: path,
        template: text,
        description,
        parameters,
        no_echo,
        targets,
        regions,
        exclude_accounts,
        capabilities,
        depends_on,
        rollout,
        call_as,
        auto_deployment: cfg.auto_deployment,
    })
}

fn check_regions(
    c: &mut Checker<'_>,
    field: &str,
    value: Option<&Value>,
    input: &SectionInput<'_>,
) -> Vec<String> {
    let governed = || input.organization.governed_regions.clone();
    let f = format!("{field}.regions");
    match value {
        None => governed(),
        Some(Value::String(s)) if s == "governed" => governed(),
        Some(Value::Sequence(items)) if !items.is_empty() => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let at = join_index(&f, i);
                match item.as_str() {
                    Some(r) if crate::config::regions::is_known(r) => {
                        if !input.organization.governed_regions.iter().any(|g| g == r) {
                            c.warn(&at, format!("region `{r}` is not a governed region"));
                        }
                        if !out.iter().any(|o: &String| o == r) {
                            out.push(r.to_string());
                        }
                    }
                    Some(r) => {
                        let hint = closest(r, crate::config::regions::KNOWN_REGIONS.iter().copied())
                            .map(|k| format!("did you mean `{k}`?"))
                            .unwrap_or_else(|| "use a region code such as ap-northeast-1".into());
                        c.error_at_value(&at, format!("unknown region `{r}`"), Some(hint));
                    }
                    None => c.error_at_value(
                        &at,
                        "a region is a string",
                        Some("for example `ap-northeast-1`".into()),
                    ),
                }
            }
            out
        }
        Some(_) => {
            c.error_at_value(
                &f,
                "`regions` is `governed` or a non-empty list of regions",
                Some("for example `regions: governed` or `regions: [ap-northeast-1]`".into()),
            );
            governed()
        }
    }
}

fn check_targets(
    c: &mut Checker<'_>,
    field: &str,
    exprs: &[String],
    input: &SectionInput<'_>,
) -> Vec<OuPath> {
    let f = format!("{field}.targets");
    if exprs.is_empty() {
        c.error(
            field,
            "a baseline needs `targets`",
            Some("list OU paths or globs, e.g. `targets: [Companies]` or `[\"Companies/*/prod\"]`; each OU includes its subtree".into()),
        );
        return Vec::new();
    }
    let mut paths: BTreeSet<OuPath> = BTreeSet::new();
    for (i, expr) in exprs.iter().enumerate() {
        let found = c.resolve_targets(&f, std::slice::from_ref(expr), input.state);
        for t in found {
            match t {
                Target::Root => {
                    paths.insert(OuPath::root());
                }
                Target::Ou(p) => {
                    paths.insert(p);
                }
                Target::Account(a) => c.error_at_value(
                    &join_index(&f, i),
                    format!("`{a}` is an account; a baseline targets OUs (each with its subtree)"),
                    Some("target the OU the account is in, and list the others in `exclude_accounts`".into()),
                ),
            }
        }
    }
    // An OU below another target adds nothing: keep the outermost.
    let all: Vec<OuPath> = paths.iter().cloned().collect();
    paths
        .into_iter()
        .filter(|p| !all.iter().any(|q| q != p && p.starts_with(q)))
        .collect()
}

fn check_exclusions(
    c: &mut Checker<'_>,
    field: &str,
    names: &[String],
    input: &SectionInput<'_>,
) -> Vec<AccountRef> {
    let f = format!("{field}.exclude_accounts");
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if input.state.accounts.contains_key(n) {
            out.push(AccountRef::Name(n.clone()));
        } else if n.len() == 12 && n.chars().all(|ch| ch.is_ascii_digit()) {
            out.push(AccountRef::Id(n.clone()));
        } else {
            let hint = closest(n, input.state.accounts.keys().map(String::as_str))
                .map(|k| format!("did you mean `{k}`?"))
                .unwrap_or_else(|| "use an account name of this file or a 12-digit id".into());
            c.error_at_value(
                &join_index(&f, i),
                format!("`{n}` is neither an account of this file nor an account id"),
                Some(hint),
            );
        }
    }
    out
}

fn check_depends_on(
    c: &mut Checker<'_>,
    field: &str,
    name: &str,
    deps: &[String],
    names: &[String],
) -> Vec<String> {
    let f = format!("{field}.depends_on");
    let mut out = Vec::new();
    for (i, d) in deps.iter().enumerate() {
        if d == name {
            c.error_at_value(
                &join_index(&f, i),
                "a baseline cannot depend on itself",
                Some("remove it from `depends_on`".into()),
            );
        } else if names.contains(d) {
            out.push(d.clone());
        } else {
            let hint = closest(d, names.iter().map(String::as_str))
                .map(|k| format!("did you mean `{k}`?"))
                .unwrap_or_else(|| format!("baselines: {}", names.join(", ")));
            c.error_at_value(
                &join_index(&f, i),
                format!("`{d}` is not a baseline of this file"),
                Some(hint),
            );
        }
    }
    out
}

fn check_cycles(c: &mut Checker<'_>, baselines: &BTreeMap<String, Baseline>) {
    // Depth-first: a baseline met again on the current path closes a cycle.
    fn visit<'a>(
        name: &'a str,
        all: &'a BTreeMap<String, Baseline>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = path.iter().position(|p| *p == name) {
            let mut cycle: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        path.push(name);
        for d in all.get(name).map(|b| b.depends_on.as_slice()).unwrap_or_default() {
            if let Some(cycle) = visit(d, all, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for name in baselines.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(name, baselines, &mut path, &mut done) {
            c.error(
                &format!("{}.depends_on", join_key("baselines", &cycle[0])),
                format!("baselines depend on each other in a cycle: {}", cycle.join(" -> ")),
                Some("remove one of the dependencies".into()),
            );
            return;
        }
    }
}

fn amount(c: &mut Checker<'_>, field: &str, value: &Value, min: u32) -> Option<Amount> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().map(|n| Amount::Count(n.min(u32::MAX as u64) as u32)),
        Value::String(s) => match s.trim().strip_suffix('%') {
            Some(p) => p.trim().parse::<u32>().ok().filter(|p| *p <= 100).map(Amount::Percent),
            None => s.trim().parse::<u32>().ok().map(Amount::Count),
        },
        _ => None,
    };
    match parsed {
        Some(Amount::Count(n) | Amount::Percent(n)) if n < min => {
            c.error_at_value(
                field,
                format!("must be at least {min}"),
                Some("a count (`5`) or a percentage (`10%`)".into()),
            );
            None
        }
        Some(a) => Some(a),
        None => {
            c.error_at_value(
                field,
                "expected a count (`5`) or a percentage (`10%`, at most 100%)",
                Some("max_concurrent is at least 1; failure_tolerance may be 0".into()),
            );
            None
        }
    }
}

fn check_rollout(c: &mut Checker<'_>, field: &str, cfg: Option<&RolloutConfig>) -> Rollout {
    let mut out = Rollout::default();
    let Some(cfg) = cfg else {
        return out;
    };
    let f = format!("{field}.rollout");
    c.unknown_keys(&f, &cfg.unknown, ROLLOUT_KNOWN);
    if let Some(v) = &cfg.max_concurrent {
        if let Some(a) = amount(c, &format!("{f}.max_concurrent"), v, 1) {
            out.max_concurrent = a;
        }
    }
    if let Some(v) = &cfg.failure_tolerance {
        if let Some(a) = amount(c, &format!("{f}.failure_tolerance"), v, 0) {
            out.failure_tolerance = a;
        }
    }
    match cfg.region_concurrency.as_deref() {
        None | Some("parallel") => {}
        Some("sequential") => out.region_concurrency = RegionConcurrency::Sequential,
        Some(other) => c.error_at_value(
            &format!("{f}.region_concurrency"),
            format!("unknown region_concurrency `{other}`"),
            Some("use `parallel` or `sequential`".into()),
        ),
    }
    if let Some(soft) = cfg.soft_failure_tolerance {
        out.soft_failure_tolerance = soft;
    }
    if !out.soft_failure_tolerance {
        let tolerance = match out.failure_tolerance {
            Amount::Count(n) => format!("{}", n + 1),
            Amount::Percent(p) => format!("{p}% + 1"),
        };
        c.warn(
            &f,
            format!("with soft_failure_tolerance: false (STRICT), AWS runs at most failure_tolerance + 1 = {tolerance} account(s) at once per region, whatever max_concurrent says"),
        );
    }
    out
}

/// A YAML scalar as CloudFormation receives it.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn describe(spec: &ParamSpec, name: &str, path: &std::path::Path) -> String {
    let mut out = format!("`{name}` ({})", spec.kind);
    if !spec.description.is_empty() {
        out.push_str(&format!(": {}", spec.description));
    }
    if !spec.allowed_values.is_empty() {
        out.push_str(&format!("; allowed: {}", spec.allowed_values.join(", ")));
    }
    out.push_str(&format!(" (declared in {})", path.display()));
    out
}

fn check_parameters(
    c: &mut Checker<'_>,
    field: &str,
    given: &BTreeMap<String, Value>,
    template: &CfnTemplate,
    path: &std::path::Path,
    input: &SectionInput<'_>,
) -> BTreeMap<String, ParamValue> {
    let f = format!("{field}.parameters");
    let declared: Vec<&str> = template.parameters.keys().map(String::as_str).collect();
    let mut out = BTreeMap::new();
    for (name, value) in given {
        let at = join_key(&f, name);
        let Some(spec) = template.parameters.get(name) else {
            let hint = match closest(name, declared.iter().copied()) {
                Some(k) => format!("did you mean `{k}`? the template declares: {}", declared.join(", ")),
                None if declared.is_empty() => "the template declares no parameters".into(),
                None => format!("the template declares: {}", declared.join(", ")),
            };
            c.error(
                &at,
                format!("template {} has no parameter `{name}`", path.display()),
                Some(hint),
            );
            continue;
        };
        if let Some(v) = check_value(c, &at, name, value, spec, path, input) {
            out.insert(name.clone(), v);
        }
    }
    for (name, spec) in &template.parameters {
        if spec.default.is_none() && !given.contains_key(name) {
            c.error(
                &f,
                format!("missing template parameter `{name}` ({})", spec.kind),
                Some(describe(spec, name, path)),
            );
        }
    }
    out
}

fn check_value(
    c: &mut Checker<'_>,
    at: &str,
    name: &str,
    value: &Value,
    spec: &ParamSpec,
    path: &std::path::Path,
    input: &SectionInput<'_>,
) -> Option<ParamValue> {
    let mistyped = |c: &mut Checker<'_>, what: String| {
        c.error_at_value(
            at,
            format!("template parameter `{name}` {what}"),
            Some(describe(spec, name, path)),
        );
    };
    // `{ organization: id }`: the organization's id, known once observed.
    if let Value::Mapping(m) = value {
        if m.len() == 1 && m.get("organization").and_then(Value::as_str) == Some("id") {
            if spec.is_list() || spec.is_number() {
                mistyped(c, format!("is {}, not an organization id", spec.kind));
                return None;
            }
            return Some(ParamValue::OrganizationId);
        }
    }
    // `{ account: NAME }`: the id of an account of the file.
    if let Value::Mapping(m) = value {
        let account = m.get("account").and_then(Value::as_str);
        match account {
            Some(a) if m.len() == 1 && input.state.accounts.contains_key(a) => {
                if spec.is_list() || spec.is_number() {
                    mistyped(c, format!("is {}, not an account id", spec.kind));
                    return None;
                }
                return Some(ParamValue::AccountId(a.to_string()));
            }
            Some(a) if m.len() == 1 => {
                let hint = closest(a, input.state.accounts.keys().map(String::as_str))
                    .map(|k| format!("did you mean `{k}`?"))
                    .unwrap_or_else(|| "name an account declared under `accounts`".into());
                c.error_at_value(at, format!("`{a}` is not an account of this file"), Some(hint));
                return None;
            }
            _ => {
                mistyped(
                    c,
                    "takes a value, a list, `{ account: NAME }` or `{ organization: id }`".into(),
                );
                return None;
            }
        }
    }
    let items: Vec<String> = match value {
        Value::Sequence(items) => {
            if !spec.is_list() {
                mistyped(c, format!("is {}, not a list", spec.kind));
                return None;
            }
            let mut out = Vec::new();
            for item in items {
                match text_of(item) {
                    Some(t) => out.push(t),
                    None => {
                        mistyped(c, "takes a list of plain values".into());
                        return None;
                    }
                }
            }
            out
        }
        other => match text_of(other) {
            Some(t) if spec.is_list() => t.split(',').map(|s| s.trim().to_string()).collect(),
            Some(t) => vec![t],
            None => {
                mistyped(c, format!("must be {}", spec.kind));
                return None;
            }
        },
    };
    let mut ok = true;
    for item in &items {
        if spec.is_number() && item.parse::<f64>().is_err() {
            mistyped(c, format!("must be a number, not `{item}`"));
            ok = false;
            continue;
        }
        if !spec.allowed_values.is_empty() && !spec.allowed_values.contains(item) {
            mistyped(c, format!("does not allow `{item}`"));
            ok = false;
            continue;
        }
        if let Some(pattern) = &spec.allowed_pattern {
            match regex_lite::Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) if !re.is_match(item) => {
                    mistyped(c, format!("`{item}` does not match its AllowedPattern `{pattern}`"));
                    ok = false;
                }
                Ok(_) => {}
                Err(_) => c.warn(
                    at,
                    format!("the AllowedPattern of `{name}` could not be checked here"),
                ),
            }
        }
        if spec.kind == "String" {
            let len = item.chars().count() as u64;
            if spec.min_length.is_some_and(|m| len < m) || spec.max_length.is_some_and(|m| len > m) {
                mistyped(
                    c,
                    format!(
                        "is {len} characters; the template allows {}-{}",
                        spec.min_length.unwrap_or(0),
                        spec.max_length.map(|m| m.to_string()).unwrap_or_else(|| "any".into())
                    ),
                );
                ok = false;
            }
        }
        if let Ok(n) = item.parse::<f64>() {
            if spec.is_number()
                && (spec.min_value.is_some_and(|m| n < m) || spec.max_value.is_some_and(|m| n > m))
            {
                mistyped(
                    c,
                    format!(
                        "is {n}; the template allows {} to {}",
                        spec.min_value.map(|m| m.to_string()).unwrap_or_else(|| "any".into()),
                        spec.max_value.map(|m| m.to_string()).unwrap_or_else(|| "any".into())
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then(|| ParamValue::Text(items.join(",")))
}
