//! `lzctl import`: the live organization written as a configuration that
//! `lzctl plan` finds already in place (no changes).
//!
//! Pure: [`render`] turns an observed landing zone into files; the command
//! (`src/commands/import.rs`) reads AWS and writes them. What is written:
//! - the OU tree, with `company_parent` and `environments` inferred where
//!   the children of one OU share the same leaf OUs (a company that differs
//!   gets its own `environments`), OU tags (lzctl's own `managed-by` and
//!   `lzctl-path` left out), and `register: false` where Control Tower has
//!   not registered an OU that lzctl would otherwise register;
//! - every account with its id, email and OU (the management account too);
//! - every customer-managed policy as a template file with its targets, and
//!   its description when it is not the policy's name. Control Tower's
//!   policies (`aws-guardrails-*`) and AWS's are named in a comment only:
//!   they stay theirs.
//!
//! With `split`, each company goes to its own file under `companies/`,
//! included by the main file.

mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::families::controltower::{is_present, registrations};
use crate::families::Observed;
use crate::model::{
    is_control_tower_policy, OrgState, OuPath, PolicyKind, Tags, Target,
    MANAGED_DESCRIPTION_PREFIX, MANAGED_TAG_KEY, PATH_TAG_KEY,
};
use yaml::{flow_list, flow_map, key, scalar};

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The region lzctl runs from (the file's home region).
    pub home_region: String,
    /// The OU whose children are the companies (default: inferred).
    pub company_parent: Option<String>,
    /// One file per company under `companies/`.
    pub split: bool,
}

/// The configuration written by an import.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// Files relative to the output directory, with their text.
    pub files: Vec<(PathBuf, String)>,
    /// Things a person should know (accounts renamed to keep names unique,
    /// policies attached nowhere).
    pub warnings: Vec<String>,
    /// Counts for the summary line: OUs, accounts, policies.
    pub counts: (usize, usize, usize),
}

/// Name of the main file.
pub const MAIN_FILE: &str = "landing-zone.yaml";

/// Tag keys lzctl writes itself; never part of a file.
fn is_internal_tag(key: &str) -> bool {
    key == MANAGED_TAG_KEY || key == PATH_TAG_KEY
}

fn user_tags(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| !is_internal_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A file name for a policy: its name with anything but letters, digits,
/// `-`, `_` and `.` replaced.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The companies' parent and the environments most of them share.
struct Companies {
    parent: OuPath,
    environments: BTreeSet<String>,
    /// Each company's environment OUs (leaf, untagged, registered like the
    /// company), by company path.
    envs_of: BTreeMap<OuPath, BTreeSet<String>>,
}

fn children_of<'a>(org: &'a OrgState, parent: &'a OuPath) -> impl Iterator<Item = &'a OuPath> {
    org.ous
        .keys()
        .filter(move |p| p.parent().as_ref() == Some(parent))
}

/// OUs Control Tower has registered (empty without Control Tower).
fn registered(observed: &Observed) -> BTreeSet<OuPath> {
    if !is_present(&observed.controltower) {
        return BTreeSet::new();
    }
    registrations(&observed.controltower, &observed.organizations)
        .into_keys()
        .collect()
}

/// Whether `path` (a child OU) would be registered by lzctl by default, but
/// is not: then the file says `register: false`.
fn needs_register_false(path: &OuPath, registered: &BTreeSet<OuPath>, governed: bool) -> bool {
    let Some(parent) = path.parent() else {
        return false;
    };
    governed && !parent.is_root() && registered.contains(&parent) && !registered.contains(path)
}

fn environment_candidates(
    org: &OrgState,
    company: &OuPath,
    registered: &BTreeSet<OuPath>,
    governed: bool,
) -> BTreeSet<String> {
    children_of(org, company)
        .filter(|env| children_of(org, env).next().is_none())
        .filter(|env| user_tags(&org.ous[*env].tags).is_empty())
        .filter(|env| !needs_register_false(env, registered, governed))
        .map(|env| env.name().to_string())
        .collect()
}

/// Picks the OU whose children share the same leaf OUs most often.
fn infer_companies(
    org: &OrgState,
    forced: Option<&OuPath>,
    registered: &BTreeSet<OuPath>,
    governed: bool,
) -> Option<Companies> {
    let mut best: Option<(usize, Companies)> = None;
    let candidates: Vec<&OuPath> = match forced {
        Some(p) => vec![p],
        None => org.ous.keys().collect(),
    };
    for parent in candidates {
        let envs_of: BTreeMap<OuPath, BTreeSet<String>> = children_of(org, parent)
            .map(|c| {
                (
                    c.clone(),
                    environment_candidates(org, c, registered, governed),
                )
            })
            .collect();
        let mut counts: BTreeMap<&BTreeSet<String>, usize> = BTreeMap::new();
        for set in envs_of.values().filter(|s| !s.is_empty()) {
            *counts.entry(set).or_default() += 1;
        }
        let Some((common, count)) = counts
            .iter()
            .max_by_key(|(set, n)| (**n, std::cmp::Reverse(set.len())))
            .map(|(s, n)| ((*s).clone(), *n))
        else {
            continue;
        };
        if forced.is_none() && count < 2 {
            continue;
        }
        if best.as_ref().is_none_or(|(n, _)| count > *n) {
            best = Some((
                count,
                Companies {
                    parent: parent.clone(),
                    environments: common,
                    envs_of,
                },
            ));
        }
    }
    best.map(|(_, c)| c)
}

/// What the file names an observed account (`name`, or `name-ID` for the
/// second of two accounts with one name).
fn account_names(org: &OrgState, warnings: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut taken: BTreeSet<String> = org
        .accounts
        .keys()
        .filter(|k| !k.contains('#'))
        .cloned()
        .collect();
    let mut out = BTreeMap::new();
    for (key, account) in &org.accounts {
        let name = match key.split_once('#') {
            None => key.clone(),
            Some((base, id)) => {
                let mut candidate = format!("{base}-{id}");
                while taken.contains(&candidate) {
                    candidate.push('_');
                }
                warnings.push(format!(
                    "account {} shares the name `{base}` with another account; it is written as `{candidate}` (file names are unique), so `plan` proposes renaming it unless you rename one of them",
                    account.id.as_deref().unwrap_or(""),
                ));
                taken.insert(candidate.clone());
                candidate
            }
        };
        out.insert(key.clone(), name);
    }
    out
}

/// One OU node of the file, written at `indent` under its name.
struct Tree<'a> {
    org: &'a OrgState,
    companies: Option<&'a Companies>,
    registered: &'a BTreeSet<OuPath>,
    governed: bool,
}

impl Tree<'_> {
    /// Whether `path` is written through a company's environments.
    fn is_environment(&self, path: &OuPath) -> bool {
        let Some(c) = self.companies else {
            return false;
        };
        let Some(company) = path.parent() else {
            return false;
        };
        company.parent().as_ref() == Some(&c.parent)
            && c.envs_of
                .get(&company)
                .is_some_and(|e| e.contains(path.name()))
    }

    fn write(&self, out: &mut String, path: &OuPath, indent: usize) {
        let pad = " ".repeat(indent);
        let tags = user_tags(&self.org.ous[path].tags);
        let children: Vec<&OuPath> = children_of(self.org, path)
            .filter(|c| !self.is_environment(c))
            .collect();
        let company_envs = self.companies.and_then(|c| {
            (path.parent().as_ref() == Some(&c.parent))
                .then(|| c.envs_of.get(path).cloned().unwrap_or_default())
                .filter(|envs| *envs != c.environments)
        });
        let register_false = needs_register_false(path, self.registered, self.governed);
        let name = key(path.name());
        if children.is_empty() && tags.is_empty() && company_envs.is_none() && !register_false {
            out.push_str(&format!("{pad}{name}: {{}}\n"));
            return;
        }
        out.push_str(&format!("{pad}{name}:\n"));
        if !tags.is_empty() {
            out.push_str(&format!("{pad}  tags: {}\n", flow_map(&tags)));
        }
        if let Some(envs) = company_envs {
            out.push_str(&format!(
                "{pad}  environments: {}\n",
                flow_list(envs.iter().map(String::as_str))
            ));
        }
        if register_false {
            out.push_str(&format!(
                "{pad}  register: false  # not registered with Control Tower\n"
            ));
        }
        if !children.is_empty() {
            out.push_str(&format!("{pad}  children:\n"));
            for child in children {
                self.write(out, child, indent + 4);
            }
        }
    }
}

/// Renders the observed landing zone as configuration files.
pub fn render(observed: &Observed, options: &ImportOptions) -> Imported {
    let org = &observed.organizations;
    let mut warnings = Vec::new();
    let governed = is_present(&observed.controltower);
    let registered = registered(observed);
    let forced = options
        .company_parent
        .as_deref()
        .and_then(|p| OuPath::parse(p).ok());
    if let (Some(p), Some(text)) = (&forced, &options.company_parent) {
        if !org.ous.contains_key(p) {
            warnings.push(format!(
                "--company-parent {text} is not an OU of this organization; no environments are inferred"
            ));
        }
    }
    let companies = infer_companies(
        org,
        forced.as_ref().filter(|p| org.ous.contains_key(*p)),
        &registered,
        governed,
    );
    let names = account_names(org, &mut warnings);
    let tree = Tree {
        org,
        companies: companies.as_ref(),
        registered: &registered,
        governed,
    };
    let lz = observed
        .controltower
        .landing_zone
        .as_ref()
        .filter(|_| governed);
    let mut governed_regions: Vec<String> =
        lz.map(|lz| lz.governed_regions.clone()).unwrap_or_default();
    if !governed_regions.contains(&options.home_region) {
        governed_regions.insert(0, options.home_region.clone());
    }

    let mut main = String::new();
    main.push_str(&format!(
        "# Imported by `lzctl import` from organization {} (management account {}).\n# `lzctl plan -c {MAIN_FILE}` shows no changes for what is written here.\n",
        org.organization_id.as_deref().unwrap_or("?"),
        org.management_account_id.as_deref().unwrap_or("?"),
    ));
    if let Some(lz) = lz {
        main.push_str(&format!(
            "#\n# Control Tower {} governs [{}]. Its objects stay its own and lzctl never\n# changes them: its OUs' registration, and its policies{}.\n",
            lz.version,
            lz.governed_regions.join(", "),
            {
                let ct: Vec<&String> = org.policies.keys().filter(|n| is_control_tower_policy(n)).collect();
                if ct.is_empty() {
                    String::new()
                } else {
                    format!(" ({} aws-guardrails-* and AWSControlTower* policies)", ct.len())
                }
            }
        ));
    }
    main.push_str("version: 1\n");
    let split = options.split && companies.is_some();
    if split {
        main.push_str("include: [companies/]\n");
    }
    main.push_str("organization:\n");
    main.push_str(&format!(
        "  home_region: {}\n",
        scalar(&options.home_region)
    ));
    main.push_str(&format!(
        "  governed_regions: {}\n",
        flow_list(governed_regions.iter().map(String::as_str))
    ));
    main.push_str(&format!(
        "  management_account: \"{}\"\n",
        org.management_account_id.as_deref().unwrap_or("")
    ));
    main.push_str("  control_tower: auto\n");
    if let Some(c) = &companies {
        main.push_str(&format!(
            "company_parent: {}\n",
            scalar(&c.parent.to_string())
        ));
        main.push_str(&format!(
            "environments: {}\n",
            flow_list(c.environments.iter().map(String::as_str))
        ));
    }
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let company_paths: Vec<OuPath> = match (&companies, split) {
        (Some(c), true) => children_of(org, &c.parent).cloned().collect(),
        _ => Vec::new(),
    };
    let in_company = |ou: &OuPath| company_paths.iter().find(|c| ou.starts_with(c)).cloned();

    // The tree: in the main file everything but the companies' subtrees
    // when split; each company's subtree in its own file.
    let roots: Vec<&OuPath> = org.ous.keys().filter(|p| p.depth() == 1).collect();
    if !roots.is_empty() {
        main.push_str("organizational_units:\n");
        if split {
            let parent = &companies.as_ref().expect("split needs companies").parent;
            let mut trimmed = String::new();
            for root in &roots {
                write_without(&tree, &mut trimmed, root, 2, parent);
            }
            main.push_str(&trimmed);
        } else {
            for root in &roots {
                tree.write(&mut main, root, 2);
            }
        }
    }
    let mut main_accounts = Vec::new();
    let mut company_accounts: BTreeMap<OuPath, Vec<String>> = BTreeMap::new();
    for (key, account) in &org.accounts {
        let mut fields = vec![
            ("name", scalar(&names[key])),
            (
                "id",
                format!("\"{}\"", account.id.as_deref().unwrap_or_default()),
            ),
            ("email", scalar(&account.email)),
            (
                "ou",
                if account.ou.is_root() {
                    "Root".to_string()
                } else {
                    scalar(&account.ou.to_string())
                },
            ),
        ];
        let tags = user_tags(&account.tags);
        if !tags.is_empty() {
            fields.push(("tags", flow_map(&tags)));
        }
        let line = format!(
            "  - {{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        match in_company(&account.ou) {
            Some(company) => company_accounts.entry(company).or_default().push(line),
            None => main_accounts.push(line),
        }
    }
    if !main_accounts.is_empty() {
        main.push_str("accounts:\n");
        for line in &main_accounts {
            main.push_str(line);
            main.push('\n');
        }
    }

    let mut policies = 0;
    let mut policy_text = String::new();
    for (name, policy) in &org.policies {
        if policy.aws_managed || is_control_tower_policy(name) {
            continue;
        }
        if policy.targets.is_empty() {
            warnings.push(format!(
                "policy `{name}` is attached nowhere; it is not written (a policy of the file has targets) and stays unmanaged"
            ));
            continue;
        }
        let template = PathBuf::from("policies")
            .join(policy.kind.short_name())
            .join(format!("{}.json", file_stem(name)));
        files.push((
            template.clone(),
            template_text(policy.kind, &policy.content),
        ));
        let targets: Vec<String> = policy
            .targets
            .iter()
            .map(|t| match t {
                Target::Root => "Root".to_string(),
                Target::Ou(p) => p.to_string(),
                Target::Account(k) => {
                    format!(
                        "account:{}",
                        names.get(k).cloned().unwrap_or_else(|| k.clone())
                    )
                }
            })
            .collect();
        policy_text.push_str(&format!("  {}:\n", key(name)));
        policy_text.push_str(&format!("    type: {}\n", policy.kind.short_name()));
        policy_text.push_str(&format!(
            "    template: {}\n",
            scalar(&template.to_string_lossy())
        ));
        let description = policy
            .description
            .strip_prefix(MANAGED_DESCRIPTION_PREFIX)
            .unwrap_or(&policy.description);
        if !description.is_empty() && description != name {
            policy_text.push_str(&format!("    description: {}\n", scalar(description)));
        }
        policy_text.push_str(&format!(
            "    targets: {}\n",
            flow_list(targets.iter().map(String::as_str))
        ));
        policies += 1;
    }
    if !policy_text.is_empty() {
        main.push_str("policies:\n");
        main.push_str(&policy_text);
    }

    if split {
        let parent = &companies.as_ref().expect("split").parent;
        for company in &company_paths {
            let mut text = format!(
                "# Company {} (imported). Included by ../{MAIN_FILE}.\norganizational_units:\n",
                company.name()
            );
            // The wrappers down to the company parent, then the company.
            let segments: Vec<&str> = parent.segments().iter().map(String::as_str).collect();
            for (depth, segment) in segments.iter().enumerate() {
                let pad = " ".repeat(2 + depth * 4);
                text.push_str(&format!("{pad}{}:\n{pad}  children:\n", key(segment)));
            }
            tree.write(&mut text, company, 2 + segments.len() * 4);
            if let Some(lines) = company_accounts.get(company) {
                text.push_str("accounts:\n");
                for line in lines {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            files.push((
                PathBuf::from("companies").join(format!("{}.yaml", file_stem(company.name()))),
                text,
            ));
        }
    }
    files.insert(0, (PathBuf::from(MAIN_FILE), main));
    Imported {
        files,
        warnings,
        counts: (org.ous.len(), org.accounts.len(), policies),
    }
}

/// Writes `path`'s subtree leaving out the children of `parent` (they are
/// in their own files); `parent` itself is written as an empty node or with
/// its own details.
fn write_without(tree: &Tree, out: &mut String, path: &OuPath, indent: usize, parent: &OuPath) {
    if path == parent {
        // Only the parent's own tags; its children come from the companies' files.
        let pad = " ".repeat(indent);
        let tags = user_tags(&tree.org.ous[path].tags);
        if tags.is_empty() {
            out.push_str(&format!("{pad}{}: {{}}\n", key(path.name())));
        } else {
            out.push_str(&format!(
                "{pad}{}:\n{pad}  tags: {}\n",
                key(path.name()),
                flow_map(&tags)
            ));
        }
        return;
    }
    if !parent.starts_with(path) {
        tree.write(out, path, indent);
        return;
    }
    let pad = " ".repeat(indent);
    out.push_str(&format!("{pad}{}:\n", key(path.name())));
    let tags = user_tags(&tree.org.ous[path].tags);
    if !tags.is_empty() {
        out.push_str(&format!("{pad}  tags: {}\n", flow_map(&tags)));
    }
    out.push_str(&format!("{pad}  children:\n"));
    for child in children_of(tree.org, path) {
        write_without(tree, out, child, indent + 4, parent);
    }
}

/// A policy's document as a template: plain JSON for SCPs and RCPs, the
/// wrapper (with its type) for tag policies, which have no `Statement`.
fn template_text(kind: PolicyKind, content: &str) -> String {
    let document: serde_json::Value =
        serde_json::from_str(content).unwrap_or(serde_json::Value::String(content.into()));
    let value = match kind {
        PolicyKind::Scp | PolicyKind::Rcp if document.get("Statement").is_some() => document,
        _ => serde_json::json!({
            "lzctl_template": 1,
            "policy_type": kind.short_name(),
            "document": document,
        }),
    };
    serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n"
}

#[cfg(test)]
mod tests;
