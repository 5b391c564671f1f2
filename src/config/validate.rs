//! Checks a configuration file and builds the desired state, collecting every
//! problem with its position instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::desired::{Desired, OrganizationSettings};
use super::diagnostic::{closest, Diagnostic, Diagnostics};
use super::model::{known_keys, ConfigFile, LimitsConfig, UnknownKeys};
use super::ou_tree::{flatten, FlatOu};
use super::regions;
use super::source::{join_index, join_key, SourceMap};
use super::targets::resolve_target;
use crate::model::path::MAX_OU_DEPTH;
use crate::model::{
    Account, OrgState, Ou, OuPath, Policy, PolicyKind, Target, MANAGED_DESCRIPTION_PREFIX,
};
use crate::policy::document::minify;
use crate::policy::limits::Limits;
use crate::policy::template::{ParamProblem, ParamType, Template, TemplateError};

/// Collects every problem of a file, each located by its field path. Family
/// config sections (`baselines:`, `detective:`) report through it too.
pub struct Checker<'a> {
    map: &'a SourceMap,
    diagnostics: Vec<Diagnostic>,
    /// Findings that do not stop a plan (`scp lint` warnings), one line each.
    warnings: Vec<String>,
}

/// What a family's config section can read besides its own YAML.
pub struct SectionInput<'a> {
    /// Directory of the file (templates are relative to it).
    pub base_dir: &'a Path,
    /// The `organization` block.
    pub organization: &'a OrganizationSettings,
    /// The OUs and accounts the file declares (to resolve targets).
    pub state: &'a OrgState,
}

impl Checker<'_> {
    /// Where a field is (its key, or its nearest declared ancestor).
    pub fn locate(&self, field: &str) -> super::source::Location {
        self.map.locate(field)
    }

    /// A warning (shown by `validate`, never stops a plan).
    pub fn warn(&mut self, field: &str, message: impl Into<String>) {
        let line = format!("{}: {}", self.map.locate(field), message.into());
        self.warnings.push(line);
    }

    /// Resolves target expressions (`Root`, OU paths, globs, account names)
    /// against the file's OUs and accounts; each miss is an error at `field`.
    pub fn resolve_targets(
        &mut self,
        field: &str,
        exprs: &[String],
        state: &OrgState,
    ) -> BTreeSet<Target> {
        let mut out = BTreeSet::new();
        for (i, expr) in exprs.iter().enumerate() {
            match resolve_target(expr, &state.ous, &state.accounts) {
                Ok(found) => out.extend(found),
                Err(message) => self.error_at_value(
                    &join_index(field, i),
                    message,
                    Some("targets are `Root`, OU paths, globs like `Companies/*/prod`, or account names".into()),
                ),
            }
        }
        out
    }

    /// An error at a field's key.
    pub fn error(&mut self, field: &str, message: impl Into<String>, hint: Option<String>) {
        self.diagnostics.push(Diagnostic {
            location: self.map.locate(field),
            field: field.to_string(),
            message: message.into(),
            hint,
        });
    }

    /// An error at a field's value.
    pub fn error_at_value(
        &mut self,
        field: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            location: self.map.locate_value(field),
            field: field.to_string(),
            message: message.into(),
            hint,
        });
    }

    /// Reports each key of `unknown` under `base`, with the closest known one.
    pub fn unknown_keys(&mut self, base: &str, unknown: &UnknownKeys, known: &[&str]) {
        for key in unknown.keys() {
            let field = join_key(base, key);
            if base.is_empty() && crate::families::SECTIONS.contains(&key.as_str()) {
                continue;
            }
            let hint = match closest(key, known.iter().copied()) {
                Some(c) => format!("did you mean `{c}`? known keys here: {}", known.join(", ")),
                None => format!("known keys here: {}", known.join(", ")),
            };
            self.error(&field, format!("unknown key `{key}`"), Some(hint));
        }
    }
}

pub(super) fn load(path: &Path) -> Result<Desired, Diagnostics> {
    let text = super::input::read(path).map_err(|problem| {
        let map = SourceMap::parse(path, "");
        let location = match &problem {
            super::input::InputProblem::TooDeep { line } => super::source::Location {
                file: path.to_path_buf(),
                line: *line,
                column: 1,
            },
            _ => map.locate(""),
        };
        Diagnostics {
            diagnostics: vec![Diagnostic {
                location,
                field: String::new(),
                message: problem.to_string(),
                hint: Some(problem.hint().into()),
            }],
        }
    })?;
    let map = SourceMap::parse(path, &text);
    let (file, map, digest) = match parse(path, &text, map) {
        Ok(parsed) => parsed,
        Err(mut diagnostics) => {
            diagnostics
                .sort_by_key(|d| (d.location.file.clone(), d.location.line, d.location.column));
            return Err(Diagnostics { diagnostics });
        }
    };
    let mut checker = Checker {
        map: &map,
        diagnostics: Vec::new(),
        warnings: Vec::new(),
    };
    for dup in map.duplicate_keys.clone() {
        checker.error(
            &dup,
            "key appears twice in one mapping",
            Some("remove or merge one of them".into()),
        );
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut desired = check(&mut checker, &file, &base_dir, path, &digest);
    desired.lint_warnings = std::mem::take(&mut checker.warnings);
    if checker.diagnostics.is_empty() {
        Ok(desired)
    } else {
        let mut diagnostics = checker.diagnostics;
        diagnostics.sort_by_key(|d| (d.location.file.clone(), d.location.line, d.location.column));
        Err(Diagnostics { diagnostics })
    }
}

/// The file as written, or assembled with its includes: the typed document,
/// the positions of every field, and the digest of every file read.
fn parse(
    path: &Path,
    text: &str,
    map: SourceMap,
) -> Result<(ConfigFile, SourceMap, String), Vec<Diagnostic>> {
    let syntax_error = |file: &Path, e: serde_yaml::Error| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        Diagnostic {
            location: super::source::Location {
                file: file.to_path_buf(),
                line,
                column,
            },
            field: String::new(),
            message: format!("not a valid landing-zone file: {e}"),
            hint: Some("check the YAML syntax and the type of the value at this position".into()),
        }
    };
    let file: ConfigFile = match serde_yaml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            // A key repeated in a mapping is the likelier cause; say that.
            if !map.duplicate_keys.is_empty() {
                return Err(map
                    .duplicate_keys
                    .iter()
                    .map(|dup| Diagnostic {
                        location: map.locate(dup),
                        field: dup.clone(),
                        message: "key appears twice in one mapping".into(),
                        hint: Some("remove or merge one of them".into()),
                    })
                    .collect());
            }
            return Err(vec![syntax_error(path, e)]);
        }
    };
    if file.include.is_empty() {
        return Ok((file, map, crate::digest::sha256_hex(text.as_bytes())));
    }
    let assembled = super::include::assemble(path, text, map, &file.include)?;
    let digest = crate::digest::sha256_hex(&assembled.digest_input);
    match serde_yaml::from_value::<ConfigFile>(assembled.value) {
        Ok(file) => Ok((file, assembled.map, digest)),
        Err(e) => Err(vec![syntax_error(path, e)]),
    }
}

fn check(
    c: &mut Checker,
    file: &ConfigFile,
    base_dir: &Path,
    path: &Path,
    digest: &str,
) -> Desired {
    c.unknown_keys("", &file.unknown, known_keys::TOP);
    match file.version {
        Some(1) => {}
        Some(v) => c.error_at_value(
            "version",
            format!("version {v} is not supported"),
            Some("use `version: 1`".into()),
        ),
        None => c.error(
            "version",
            "missing `version`",
            Some("add `version: 1` at the top".into()),
        ),
    }
    let organization = check_organization(c, file);
    let limits = check_limits(c, &file.settings.limits);
    c.unknown_keys("settings", &file.settings.unknown, known_keys::SETTINGS);

    let ous = check_ous(c, file);
    let accounts = check_accounts(c, file, &ous);
    let account_factory = check_account_factory(c, file, &organization);
    let mut state = OrgState {
        ous: ous
            .iter()
            .map(|(p, f)| {
                (
                    p.clone(),
                    Ou {
                        id: None,
                        tags: f.tags.clone(),
                    },
                )
            })
            .collect(),
        accounts,
        ..OrgState::default()
    };
    let mut rollouts = BTreeMap::new();
    state.policies = check_policies(
        c,
        file,
        base_dir,
        &organization,
        &limits,
        &state,
        &mut rollouts,
    );
    state.enabled_policy_types = state.policies.values().map(|p| p.kind).collect();
    check_attachment_caps(c, &state, &limits);

    let renames = ous
        .iter()
        .filter_map(|(p, f)| f.renamed_from.clone().map(|old| (p.clone(), old)))
        .collect();
    let families = crate::families::check_sections(
        c,
        &SectionInput {
            base_dir,
            organization: &organization,
            state: &state,
        },
        &file.unknown,
    );
    let registration = ous
        .keys()
        .filter_map(|p| {
            node_of(file, p)
                .and_then(|n| n.register)
                .map(|r| (p.clone(), r))
        })
        .collect();
    Desired {
        account_factory,
        company_parent: OuPath::parse(file.company_parent.as_deref().unwrap_or("Companies"))
            .unwrap_or_default(),
        described_policies: file
            .policies
            .iter()
            .filter(|(_, p)| p.description.is_some())
            .map(|(n, _)| n.clone())
            .collect(),
        rollouts,
        families,
        lint_warnings: Vec::new(),
        registration,
        path: path.to_path_buf(),
        digest: digest.to_string(),
        organization,
        limits,
        prune: file.prune,
        uses_account_tags: state.accounts.values().any(|a| !a.tags.is_empty()),
        state,
        renames,
    }
}

fn check_organization(c: &mut Checker, file: &ConfigFile) -> OrganizationSettings {
    let mut settings = OrganizationSettings {
        home_region: String::new(),
        governed_regions: Vec::new(),
        management_account: String::new(),
        control_tower: Default::default(),
        break_glass_roles: Vec::new(),
        lock: None,
    };
    let Some(org) = &file.organization else {
        c.error(
            "organization",
            "missing `organization` block",
            Some("add organization: { home_region, governed_regions, management_account }".into()),
        );
        return settings;
    };
    c.unknown_keys("organization", &org.unknown, known_keys::ORGANIZATION);
    settings.control_tower = org.control_tower;
    settings.break_glass_roles = org.break_glass_roles.clone();
    if let Some(lock) = &org.lock {
        match lock.parse::<crate::lock::LockLocation>() {
            Ok(l) => settings.lock = Some(l.to_string()),
            Err(e) => c.error_at_value(
                "organization.lock",
                e.to_string(),
                Some(
                    "a bucket every pipeline can write, e.g. the bucket of your Terraform state"
                        .into(),
                ),
            ),
        }
    }
    match &org.home_region {
        Some(r) => {
            check_region(c, "organization.home_region", r);
            settings.home_region = r.clone();
        }
        None => c.error(
            "organization",
            "missing `organization.home_region`",
            Some("for example `home_region: ap-northeast-1`".into()),
        ),
    }
    if org.governed_regions.is_empty() {
        c.error(
            "organization",
            "`organization.governed_regions` is empty",
            Some("list the regions workloads may use".into()),
        );
    }
    for (i, r) in org.governed_regions.iter().enumerate() {
        check_region(c, &join_index("organization.governed_regions", i), r);
    }
    if !settings.home_region.is_empty()
        && !org.governed_regions.is_empty()
        && !org.governed_regions.contains(&settings.home_region)
    {
        c.error_at_value(
            "organization.home_region",
            "the home region is not among the governed regions",
            Some("add it to governed_regions".into()),
        );
    }
    settings.governed_regions = org.governed_regions.clone();
    match &org.management_account {
        Some(value) => {
            if let Some(id) = account_id(c, "organization.management_account", value) {
                settings.management_account = id;
            }
        }
        None => c.error(
            "organization",
            "missing `organization.management_account`",
            Some("lzctl refuses to run against any organization but the one named here".into()),
        ),
    }
    settings
}

fn check_region(c: &mut Checker, field: &str, region: &str) {
    if !regions::is_known(region) {
        let hint = closest(region, regions::KNOWN_REGIONS.iter().copied())
            .map(|r| format!("did you mean `{r}`?"))
            .unwrap_or_else(|| "use a region code such as ap-northeast-1".into());
        c.error_at_value(field, format!("unknown region `{region}`"), Some(hint));
    }
}

fn check_limits(c: &mut Checker, cfg: &LimitsConfig) -> Limits {
    c.unknown_keys("settings.limits", &cfg.unknown, known_keys::LIMITS);
    let d = Limits::default();
    let mut limits = Limits {
        scp_max_size: cfg.scp_max_size.unwrap_or(d.scp_max_size),
        scp_max_attachments: cfg.scp_max_attachments.unwrap_or(d.scp_max_attachments),
        rcp_max_size: cfg.rcp_max_size.unwrap_or(d.rcp_max_size),
        rcp_max_attachments: cfg.rcp_max_attachments.unwrap_or(d.rcp_max_attachments),
        tag_max_size: cfg.tag_max_size.unwrap_or(d.tag_max_size),
        tag_max_attachments: cfg.tag_max_attachments.unwrap_or(d.tag_max_attachments),
    };
    for (name, value) in [
        ("scp_max_attachments", &mut limits.scp_max_attachments),
        ("rcp_max_attachments", &mut limits.rcp_max_attachments),
        ("tag_max_attachments", &mut limits.tag_max_attachments),
    ] {
        if *value == 0 {
            c.error_at_value(
                &format!("settings.limits.{name}"),
                "must be at least 1",
                None,
            );
            *value = 1;
        }
    }
    limits
}

/// AWS tag rules: keys 1-128 characters not starting with `aws:`, values up to 256.
fn check_tags(c: &mut Checker, field: &str, tags: &BTreeMap<String, String>) {
    for (k, v) in tags {
        let f = join_key(field, k);
        if k.is_empty() || k.chars().count() > 128 || k.to_ascii_lowercase().starts_with("aws:") {
            c.error(
                &f,
                format!("tag key `{k}` is not allowed"),
                Some("tag keys are 1-128 characters and may not start with aws:".into()),
            );
        }
        if v.chars().count() > 256 {
            c.error_at_value(
                &f,
                format!("the value of tag `{k}` is longer than 256 characters"),
                None,
            );
        }
    }
}

/// A 12-digit account id from a YAML value, or an error that says what is
/// wrong with it (a number that lost its leading zeros, a wrong length).
fn account_id(c: &mut Checker, field: &str, value: &serde_yaml::Value) -> Option<String> {
    let (text, is_number) = match value {
        serde_yaml::Value::String(s) => (s.trim().to_string(), false),
        serde_yaml::Value::Number(n) => (n.to_string(), true),
        other => {
            c.error_at_value(
                field,
                format!("an account id is 12 digits, not {}", yaml_kind(other)),
                Some("write it as a quoted string, e.g. \"012345678901\"".into()),
            );
            return None;
        }
    };
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if digits == 12 && text.len() == 12 {
        return Some(text);
    }
    let hint = if is_number && digits < 12 && text.chars().all(|ch| ch.is_ascii_digit()) {
        Some("YAML read this as a number and dropped its leading zeros; quote it: \"0…\"".into())
    } else {
        Some("account ids are exactly 12 digits, e.g. \"012345678901\"".into())
    };
    c.error_at_value(
        field,
        format!(
            "`{text}` is not an account id: it has {} character(s), an id has 12 digits",
            text.chars().count()
        ),
        hint,
    );
    None
}

fn yaml_kind(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "empty",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        _ => "this value",
    }
}

fn is_valid_ou_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

fn check_ous(c: &mut Checker, file: &ConfigFile) -> BTreeMap<OuPath, FlatOu> {
    let company_parent = file
        .company_parent
        .clone()
        .unwrap_or_else(|| "Companies".into());
    let environments = file.environments.clone().unwrap_or_default();
    let flat = flatten(&file.organizational_units, &company_parent, &environments);
    let mut out: BTreeMap<OuPath, FlatOu> = BTreeMap::new();
    for ou in flat {
        if let Some(node) = node_of(file, &ou.path).filter(|_| !ou.from_environments) {
            c.unknown_keys(&ou.field, &node.unknown, known_keys::OU);
            let is_company =
                ou.path.parent().map(|p| p.to_string()) == Some(company_parent.clone());
            if node.environments.is_some() && !is_company {
                c.error(&format!("{}.environments", ou.field), format!("`environments` applies to companies, the direct children of `{company_parent}`; `{}` is not one", ou.path), Some("move the OU under the company parent, or list its children under `children`".into()));
            }
            check_tags(c, &format!("{}.tags", ou.field), &ou.tags);
        }
        let name = ou.path.name().to_string();
        if !is_valid_ou_name(&name) {
            c.error(
                &ou.field,
                format!("`{name}` is not a valid OU name"),
                Some("1-128 characters, no `/`".into()),
            );
        }
        if ou.path.depth() == 1 && name == "Root" {
            c.error(
                &ou.field,
                "an OU may not be called `Root` at the top level",
                Some("`Root` names the organization root in targets".into()),
            );
        }
        if ou.path.depth() > MAX_OU_DEPTH {
            c.error(
                &ou.field,
                format!(
                    "OU `{}` is {} levels deep; AWS allows {MAX_OU_DEPTH}",
                    ou.path,
                    ou.path.depth()
                ),
                Some("flatten the tree".into()),
            );
        }
        if let Some(old) = &ou.renamed_from {
            if !is_valid_ou_name(old) {
                c.error(
                    &format!("{}.renamed_from", ou.field),
                    format!("`{old}` is not a valid OU name"),
                    None,
                );
            }
        }
        if let Some(first) = out.get(&ou.path) {
            let hint = if ou.from_environments || first.from_environments {
                Some("the company's environments already create this OU; remove it from `children` or from the environments list".into())
            } else {
                Some("each OU path may be declared once".into())
            };
            c.error(
                &ou.field,
                format!(
                    "duplicate OU path `{}` (first declared at {})",
                    ou.path,
                    c.map.locate(&first.field)
                ),
                hint,
            );
            continue;
        }
        out.insert(ou.path.clone(), ou);
    }
    if !environments.is_empty()
        && !out.contains_key(&OuPath::parse(&company_parent).unwrap_or_default())
    {
        c.error("environments", format!("`environments` is set but the company parent OU `{company_parent}` is not declared"), Some("declare it under organizational_units, or set `company_parent`".into()));
    }
    out
}

/// The OU node declared at `path`.
fn node_of<'a>(file: &'a ConfigFile, path: &OuPath) -> Option<&'a super::model::OuConfig> {
    let mut nodes = &file.organizational_units;
    let mut found = None;
    for segment in path.segments() {
        let node = nodes.get(segment)?;
        found = Some(&node.0);
        nodes = &node.0.children;
    }
    found
}

fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    (6..=64).contains(&email.len())
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control())
}

/// `account_factory:` on accounts: the Identity Center user, complete and
/// valid, and Control Tower expected.
fn check_account_factory(
    c: &mut Checker,
    file: &ConfigFile,
    organization: &OrganizationSettings,
) -> BTreeMap<String, super::SsoUser> {
    let mut out = BTreeMap::new();
    for (i, a) in file.accounts.iter().enumerate() {
        let Some(af) = &a.account_factory else {
            continue;
        };
        let field = format!("{}.account_factory", join_index("accounts", i));
        c.unknown_keys(&field, &af.unknown, known_keys::ACCOUNT_FACTORY);
        if organization.control_tower == super::ControlTowerMode::Absent {
            c.error(
                &field,
                "Account Factory needs Control Tower, and `organization.control_tower` is `absent`",
                Some("set `control_tower: auto` or `required`, or remove `account_factory`".into()),
            );
        }
        if a.ou.as_deref().is_none_or(|o| o == "Root") {
            c.error(
                &field,
                "Account Factory places accounts in a registered OU, not the root",
                Some("give the account an `ou` registered with Control Tower".into()),
            );
        }
        let mut get = |key: &str, value: &Option<String>| match value {
            Some(v) if !v.trim().is_empty() => v.clone(),
            _ => {
                c.error(
                    &field,
                    format!("`{key}` is missing"),
                    Some("Account Factory creates an IAM Identity Center user: give sso_user_email, sso_user_first_name and sso_user_last_name".into()),
                );
                String::new()
            }
        };
        let user = super::SsoUser {
            email: get("sso_user_email", &af.sso_user_email),
            first_name: get("sso_user_first_name", &af.sso_user_first_name),
            last_name: get("sso_user_last_name", &af.sso_user_last_name),
        };
        if !user.email.is_empty() && !is_valid_email(&user.email) {
            c.error_at_value(
                &format!("{field}.sso_user_email"),
                format!("`{}` is not a valid email address", user.email),
                None,
            );
        }
        if let Some(name) = &a.name {
            out.insert(name.clone(), user);
        }
    }
    out
}

fn check_accounts(
    c: &mut Checker,
    file: &ConfigFile,
    ous: &BTreeMap<OuPath, FlatOu>,
) -> BTreeMap<String, Account> {
    let mut accounts = BTreeMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut emails: HashMap<String, String> = HashMap::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for (i, a) in file.accounts.iter().enumerate() {
        let field = join_index("accounts", i);
        c.unknown_keys(&field, &a.unknown, known_keys::ACCOUNT);
        check_tags(c, &format!("{field}.tags"), &a.tags);
        let name = match &a.name {
            Some(n) if !n.trim().is_empty() && n.len() <= 50 => n.clone(),
            Some(n) => {
                c.error_at_value(
                    &format!("{field}.name"),
                    format!("`{n}` is not a valid account name"),
                    Some("1-50 characters".into()),
                );
                continue;
            }
            None => {
                c.error(
                    &field,
                    "account without `name`",
                    Some("every account needs a unique name".into()),
                );
                continue;
            }
        };
        if let Some(first) = names.get(&name) {
            c.error_at_value(
                &format!("{field}.name"),
                format!(
                    "duplicate account name `{name}` (first at {})",
                    c.map.locate(first)
                ),
                Some("account names identify accounts; make them unique".into()),
            );
        } else {
            names.insert(name.clone(), format!("{field}.name"));
        }
        let email = match &a.email {
            Some(e) if is_valid_email(e) => {
                let key = e.to_ascii_lowercase();
                if let Some(first) = emails.get(&key) {
                    c.error_at_value(
                        &format!("{field}.email"),
                        format!(
                            "duplicate account email `{e}` (first at {})",
                            c.map.locate(first)
                        ),
                        Some("AWS requires a distinct root email per account".into()),
                    );
                } else {
                    emails.insert(key, format!("{field}.email"));
                }
                e.clone()
            }
            Some(e) => {
                c.error_at_value(
                    &format!("{field}.email"),
                    format!("`{e}` is not a valid email address"),
                    Some("6-64 characters, like aws+name@example.co.jp".into()),
                );
                String::new()
            }
            None => {
                c.error(
                    &field,
                    format!("account `{name}` has no `email`"),
                    Some("CreateAccount needs the root email".into()),
                );
                String::new()
            }
        };
        let ou = match &a.ou {
            Some(text) => match OuPath::try_from(text.clone()) {
                Ok(p) if p.is_root() || ous.contains_key(&p) => p,
                _ => {
                    let paths: Vec<String> = ous.keys().map(ToString::to_string).collect();
                    let hint = closest(text, paths.iter().map(String::as_str))
                        .map(|p| format!("did you mean `{p}`?"))
                        .unwrap_or_else(|| {
                            "use a path declared under organizational_units, or `Root`".into()
                        });
                    c.error_at_value(
                        &format!("{field}.ou"),
                        format!("account `{name}` is in unknown OU `{text}`"),
                        Some(hint),
                    );
                    OuPath::root()
                }
            },
            None => {
                c.error(
                    &field,
                    format!("account `{name}` has no `ou`"),
                    Some("give the OU path, e.g. `ou: Companies/SompoJapan/prod`".into()),
                );
                OuPath::root()
            }
        };
        let id =
            a.id.as_ref()
                .and_then(|v| account_id(c, &format!("{field}.id"), v));
        if let Some(id) = &id {
            if let Some(first) = ids.get(id) {
                c.error_at_value(
                    &format!("{field}.id"),
                    format!(
                        "duplicate account id `{id}` (first at {})",
                        c.map.locate(first)
                    ),
                    Some("each account appears once".into()),
                );
            } else {
                ids.insert(id.clone(), format!("{field}.id"));
            }
        }
        accounts.insert(
            name,
            Account {
                id,
                email,
                ou,
                tags: a.tags.clone(),
            },
        );
    }
    accounts
}

fn check_policies(
    c: &mut Checker,
    file: &ConfigFile,
    base_dir: &Path,
    org: &OrganizationSettings,
    limits: &Limits,
    state: &OrgState,
    rollouts: &mut BTreeMap<String, crate::rollout::RolloutSpec>,
) -> BTreeMap<String, Policy> {
    let mut policies = BTreeMap::new();
    for (name, p) in &file.policies {
        let field = join_key("policies", name);
        c.unknown_keys(&field, &p.unknown, known_keys::POLICY);
        if crate::model::is_control_tower_policy(name)
            || name == "FullAWSAccess"
            || name == "RCPFullAWSAccess"
        {
            c.error(
                &field,
                format!("`{name}` is a name owned by AWS or Control Tower"),
                Some("lzctl never changes those policies; choose another name".into()),
            );
            continue;
        }
        if name.is_empty() || name.len() > crate::model::MAX_POLICY_NAME_LEN {
            c.error(&field, "policy names are 1-128 characters", None);
        }
        let kind = match p.kind.as_deref().map(PolicyKind::from_short_name) {
            Some(Some(k)) => k,
            Some(None) => {
                c.error_at_value(
                    &format!("{field}.type"),
                    format!("unknown policy type `{}`", p.kind.as_deref().unwrap_or("")),
                    Some("use scp, rcp or tag".into()),
                );
                continue;
            }
            None => {
                c.error(
                    &field,
                    format!("policy `{name}` has no `type`"),
                    Some("add `type: scp` (or rcp, tag)".into()),
                );
                continue;
            }
        };
        let Some(template_rel) = &p.template else {
            c.error(
                &field,
                format!("policy `{name}` has no `template`"),
                Some("point `template` at a JSON file under scp/".into()),
            );
            continue;
        };
        let mut targets = BTreeSet::new();
        if p.targets.is_empty() && p.rollout.is_none() {
            c.error(
                &field,
                format!("policy `{name}` has no `targets`"),
                Some("list where it is attached, e.g. [Root]".into()),
            );
        }
        for (i, expr) in p.targets.iter().enumerate() {
            match resolve_target(expr, &state.ous, &state.accounts) {
                Ok(found) => {
                    // The management account may be declared (placed, tagged);
                    // SCPs and RCPs never apply to it, so naming it is a mistake.
                    let management = found.iter().find(|t| match t {
                        Target::Account(a) => {
                            !org.management_account.is_empty()
                                && state.accounts[a].id.as_deref()
                                    == Some(org.management_account.as_str())
                        }
                        _ => false,
                    });
                    if let (Some(t), PolicyKind::Scp | PolicyKind::Rcp) = (management, kind) {
                        c.error_at_value(
                            &join_index(&format!("{field}.targets"), i),
                            format!("{t} is the management account; {} policies do not apply to it", kind.short_name()),
                            Some("remove it from the targets (it is exempt from SCPs and RCPs by AWS)".into()),
                        );
                    }
                    targets.extend(found)
                }
                Err(message) => {
                    c.error_at_value(
                        &join_index(&format!("{field}.targets"), i),
                        message,
                        Some(
                            "use Root, an OU path such as Companies/*/prod, or an account name"
                                .into(),
                        ),
                    );
                }
            }
        }
        if let Some(rollout) = &p.rollout {
            let rollout_field = format!("{field}.rollout");
            if kind != PolicyKind::Scp {
                c.error(
                    &rollout_field,
                    format!(
                        "a staged rollout is for SCPs; `{name}` is a {} policy",
                        kind.short_name()
                    ),
                    Some("remove `rollout`".into()),
                );
            } else if let Some((spec, all)) =
                crate::rollout::config::check(c, &rollout_field, rollout, &targets, state)
            {
                targets = all;
                rollouts.insert(name.clone(), spec);
            }
        }
        let Some(content) =
            render_policy(c, &field, base_dir.join(template_rel), p, kind, org, limits)
        else {
            continue;
        };
        let description = format!(
            "{MANAGED_DESCRIPTION_PREFIX}{}",
            p.description.clone().unwrap_or_else(|| name.clone())
        );
        policies.insert(
            name.clone(),
            Policy {
                id: None,
                kind,
                description,
                content,
                targets,
                aws_managed: false,
                tags: Default::default(),
            },
        );
    }
    policies
}

fn render_policy(
    c: &mut Checker,
    field: &str,
    template_path: PathBuf,
    p: &super::model::PolicyConfig,
    kind: PolicyKind,
    org: &OrganizationSettings,
    limits: &Limits,
) -> Option<String> {
    let template_field = format!("{field}.template");
    let template = match Template::load(&template_path) {
        Ok(t) => t,
        Err(TemplateError::Read { path, cause }) => {
            c.error_at_value(
                &template_field,
                format!("cannot read template {}: {cause}", path.display()),
                Some("paths are relative to the configuration file".into()),
            );
            return None;
        }
        Err(e) => {
            c.error_at_value(
                &template_field,
                e.to_string(),
                Some("fix the template file".into()),
            );
            return None;
        }
    };
    if let Some(declared) = &template.policy_type {
        if declared != kind.short_name() {
            c.error_at_value(
                &format!("{field}.type"),
                format!(
                    "template {} is a `{declared}` template but the policy is `{}`",
                    template_path.display(),
                    kind.short_name()
                ),
                Some(format!("set `type: {declared}`")),
            );
        }
    }
    let given: BTreeMap<String, serde_json::Value> = p
        .params
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    let params = match template.resolve_params(&given, &org.governed_regions) {
        Ok(params) => params,
        Err(problems) => {
            for problem in problems {
                match problem {
                    ParamProblem::Missing { name, expected } => c.error(
                        &format!("{field}.params"),
                        format!("missing template parameter `{name}` ({expected})"),
                        Some(describe_param(&template, &name)),
                    ),
                    ParamProblem::Mistyped { name, expected } => c.error_at_value(
                        &format!("{field}.params.{name}"),
                        format!("template parameter `{name}` must be {expected}"),
                        Some(describe_param(&template, &name)),
                    ),
                    ParamProblem::Unknown { name, declared } => {
                        let hint = match closest(&name, declared.iter().map(String::as_str)) {
                            Some(cand) => format!(
                                "did you mean `{cand}`? the template declares: {}",
                                declared.join(", ")
                            ),
                            None => format!(
                                "the template declares: {}",
                                if declared.is_empty() {
                                    "no parameters".into()
                                } else {
                                    declared.join(", ")
                                }
                            ),
                        };
                        c.error(
                            &format!("{field}.params.{name}"),
                            format!(
                                "template {} has no parameter `{name}`",
                                template_path.display()
                            ),
                            Some(hint),
                        );
                    }
                }
            }
            return None;
        }
    };
    // Every `regions` parameter names real regions.
    for (name, spec) in &template.parameters {
        if spec.kind != ParamType::Regions {
            continue;
        }
        if let Some(serde_json::Value::Array(given)) = params.get(name) {
            for (i, r) in given.iter().enumerate() {
                if let Some(r) = r.as_str().filter(|r| !regions::is_known(r)) {
                    check_region(c, &join_index(&format!("{field}.params.{name}"), i), r);
                }
            }
        }
    }
    let description_len =
        MANAGED_DESCRIPTION_PREFIX.len() + p.description.as_deref().map(str::len).unwrap_or(0);
    if description_len > 512 {
        c.error_at_value(
            &format!("{field}.description"),
            format!(
                "description is {description_len} characters with lzctl's prefix; AWS allows 512"
            ),
            Some("shorten it".into()),
        );
    }
    let rendered = match template.render(&params) {
        Ok(v) => v,
        Err(e) => {
            c.error_at_value(
                &template_field,
                format!("template does not render: {e}"),
                None,
            );
            return None;
        }
    };
    if !rendered.is_object() || rendered.get("Statement").is_none() && kind != PolicyKind::Tag {
        c.error_at_value(
            &template_field,
            "the rendered policy is not a JSON object with `Statement`",
            Some("policy documents are {\"Version\": \"2012-10-17\", \"Statement\": [...]}".into()),
        );
        return None;
    }
    let content = minify(&rendered);
    let max = limits.max_size(kind);
    match crate::policy::effective::iam_kind(kind) {
        // What AWS would refuse (grammar per type, size) is an error here,
        // before anything is sent; the rest of `scp lint` stays a warning.
        Some(iam_kind) => {
            let checked = crate::policy::lint::check_for_aws(iam_kind, &content, max);
            for problem in checked.errors {
                c.error_at_value(
                    &template_field,
                    format!(
                        "{} (at {} of the rendered policy)",
                        problem.message, problem.location
                    ),
                    Some(problem.hint),
                );
            }
            c.warnings.extend(checked.warnings.into_iter().map(|w| {
                format!(
                    "{}: {field}: {} (at {}; rule {})",
                    c.map.locate_value(&template_field),
                    w.message,
                    w.location,
                    w.rule
                )
            }));
        }
        None if content.len() > max => {
            c.error_at_value(&template_field, format!("policy is {} characters minified; the {} limit is {max}", content.len(), kind.short_name()), Some("split it into two policies or shorten lists (the limit is a setting: settings.limits)".into()));
        }
        None => {}
    }
    Some(content)
}

fn describe_param(template: &Template, name: &str) -> String {
    match template.parameters.get(name) {
        Some(spec) if !spec.description.is_empty() => format!("`{name}`: {}", spec.description),
        _ => format!("see {}", template.path.display()),
    }
}

fn check_attachment_caps(c: &mut Checker, state: &OrgState, limits: &Limits) {
    let mut counts: BTreeMap<(PolicyKind, Target), Vec<&str>> = BTreeMap::new();
    for (name, p) in &state.policies {
        for t in &p.targets {
            counts.entry((p.kind, t.clone())).or_default().push(name);
        }
    }
    for ((kind, target), names) in counts {
        // Every target also carries AWS's FullAWSAccess SCP unless replaced.
        let implicit = usize::from(crate::families::organizations::implicit_policy(kind).is_some());
        let cap = limits.max_attachments(kind);
        if names.len() + implicit > cap {
            let field = join_key("policies", names[names.len() - 1]);
            c.error(&format!("{field}.targets"), format!("{} {} policies would be attached to {target} ({}{}); the cap is {cap}", names.len() + implicit, kind.short_name(), names.join(", "), match crate::families::organizations::implicit_policy(kind) { Some(p) => format!(" + {p}"), None => String::new() }), Some("merge policies or attach some one level up (the cap is a setting: settings.limits)".into()));
        }
    }
}
