//! The policies in force for an account or OU: the chain of levels from the
//! root down, each with its attached policies, parsed once.

use std::collections::HashMap;

use super::iam::{self, Hierarchy, Level, LevelKind, NamedPolicy, PolicyDocument};
use crate::model::{OrgState, OuPath, PolicyKind, Target};

/// Maps lzctl's policy types onto the evaluator's (tag policies are not evaluated).
pub fn iam_kind(kind: PolicyKind) -> Option<iam::PolicyKind> {
    match kind {
        PolicyKind::Scp => Some(iam::PolicyKind::Scp),
        PolicyKind::Rcp => Some(iam::PolicyKind::Rcp),
        PolicyKind::Tag => None,
    }
}

/// Every SCP and RCP of a state, parsed once. Policies that do not parse are
/// kept aside with their errors.
#[derive(Debug, Default)]
pub struct PolicyBook {
    docs: HashMap<String, PolicyDocument>,
    /// Policies that do not parse, with the parser's message.
    pub unparsable: Vec<(String, String)>,
}

impl PolicyBook {
    /// Parses the SCPs and RCPs of `state`.
    pub fn new(state: &OrgState) -> PolicyBook {
        let mut book = PolicyBook::default();
        for (name, p) in &state.policies {
            if iam_kind(p.kind).is_none() {
                continue;
            }
            match PolicyDocument::parse(&p.content) {
                Ok(doc) => {
                    book.docs.insert(name.clone(), doc);
                }
                Err(e) => book.unparsable.push((name.clone(), e.to_string())),
            }
        }
        book
    }

    /// A parsed document by policy name.
    pub fn get(&self, name: &str) -> Option<&PolicyDocument> {
        self.docs.get(name)
    }
}

/// What a level is in the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An OU (its chain ends at the OU).
    Ou(OuPath),
    /// An account by name.
    Account(String),
}

/// The chain of levels for an OU or account, root first. Policies listed only
/// partially (see `OrgState::partially_listed`) count as attached everywhere
/// when `assume_partial_everywhere` is set.
pub fn hierarchy(
    state: &OrgState,
    book: &PolicyBook,
    kind: PolicyKind,
    subject: &Subject,
    assume_partial_everywhere: bool,
) -> Option<Hierarchy> {
    let iam_kind = iam_kind(kind)?;
    let (ou, account) = match subject {
        Subject::Ou(p) => (p.clone(), None),
        Subject::Account(name) => (state.accounts.get(name)?.ou.clone(), Some(name.clone())),
    };
    let level = |target: Target, level_kind: LevelKind, name: String| -> Level {
        let policies = state
            .policies
            .iter()
            .filter(|(n, p)| {
                p.kind == kind
                    && (p.targets.contains(&target)
                        || (assume_partial_everywhere && state.partially_listed.contains(*n)))
            })
            .filter_map(|(n, _)| {
                book.get(n).map(|doc| NamedPolicy {
                    name: n.clone(),
                    document: doc.clone(),
                })
            })
            .collect();
        Level {
            kind: level_kind,
            name,
            policies,
        }
    };
    let mut levels = vec![level(Target::Root, LevelKind::Root, "Root".into())];
    let mut chain = ou.ancestors();
    if !ou.is_root() {
        chain.push(ou.clone());
    }
    for p in chain {
        levels.push(level(Target::Ou(p.clone()), LevelKind::Ou, p.to_string()));
    }
    if let Some(name) = account {
        levels.push(level(
            Target::Account(name.clone()),
            LevelKind::Account,
            name,
        ));
    }
    Some(Hierarchy {
        kind: iam_kind,
        management_account: state.management_account_id.clone(),
        levels,
    })
}

/// A readable summary of what a chain denies.
pub fn summarize(h: &Hierarchy) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for level in &h.levels {
        let names: Vec<&str> = level.policies.iter().map(|p| p.name.as_str()).collect();
        let _ = writeln!(
            out,
            "  {:<8} {:<40} {}",
            format!("{:?}", level.kind).to_lowercase(),
            level.name,
            if names.is_empty() {
                "(no policy: nothing is allowed below this level)".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    let mut regions: Vec<String> = Vec::new();
    let mut services: Vec<String> = Vec::new();
    let mut exempt: Vec<String> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    for level in &h.levels {
        for p in &level.policies {
            for s in iam::deny_summaries(&p.document) {
                let label = format!(
                    "{} ({}{})",
                    p.name,
                    s.sid
                        .clone()
                        .unwrap_or_else(|| format!("statement {}", s.index)),
                    if s.other_conditions.is_empty() {
                        String::new()
                    } else {
                        format!("; when {}", s.other_conditions.join(" and "))
                    }
                );
                if !s.allowed_regions.is_empty() {
                    regions.push(format!(
                        "outside {} except {} actions [{}]",
                        s.allowed_regions.join(", "),
                        if s.all_actions_except {
                            s.actions.len().to_string()
                        } else {
                            "all but the listed".into()
                        },
                        label
                    ));
                } else if s.all_actions_except {
                    services.push(format!(
                        "everything except {} action pattern(s) [{label}]",
                        s.actions.len()
                    ));
                } else {
                    services.push(format!("{} [{label}]", s.actions.join(", ")));
                }
                exempt.extend(s.exempt_principals.iter().cloned());
                if s.allowed_regions.is_empty() && !s.other_conditions.is_empty() {
                    other.push(label);
                }
            }
        }
    }
    exempt.sort();
    exempt.dedup();
    let _ = writeln!(
        out,
        "\nRegions denied:  {}",
        if regions.is_empty() {
            "none".into()
        } else {
            regions.join("; ")
        }
    );
    let _ = writeln!(
        out,
        "Actions denied:  {}",
        if services.is_empty() {
            "none".into()
        } else {
            services.join("; ")
        }
    );
    let _ = writeln!(
        out,
        "Exempt:          {}",
        if exempt.is_empty() {
            "nobody".into()
        } else {
            exempt.join(", ")
        }
    );
    out
}

/// An account or OU the organization does not have, with the closest names it does have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{given}` is not in the organization{}", did_you_mean(.suggestions))]
pub struct UnknownSubject {
    /// `account` or `OU`.
    pub what: &'static str,
    /// What was asked for.
    pub given: String,
    /// Known names (accounts) or paths (OUs) spelled closely, best first (at most 3).
    pub suggestions: Vec<String>,
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        many => format!(
            " (did you mean {}?)",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Candidates close to `given` (case-insensitive Jaro-Winkler above 0.8, or a case-only
/// difference), best first, at most 3.
fn closest(given: &str, candidates: impl IntoIterator<Item = String>) -> Vec<String> {
    let g = given.to_lowercase();
    let candidates: Vec<String> = candidates.into_iter().collect();
    let same: Vec<String> = candidates
        .iter()
        .filter(|c| c.to_lowercase() == g)
        .cloned()
        .collect();
    if !same.is_empty() {
        return same;
    }
    let mut scored: Vec<(f64, String)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&g, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// The account `scp effective --account` names: by account name, or by account id. An
/// unknown one is an [`UnknownSubject`] with did-you-mean suggestions.
pub fn find_account(state: &OrgState, given: &str) -> Result<Subject, UnknownSubject> {
    if state.accounts.contains_key(given) {
        return Ok(Subject::Account(given.to_string()));
    }
    if let Some((name, _)) = state
        .accounts
        .iter()
        .find(|(_, a)| a.id.as_deref() == Some(given))
    {
        return Ok(Subject::Account(name.clone()));
    }
    Err(UnknownSubject {
        what: "account",
        given: given.to_string(),
        suggestions: closest(given, state.accounts.keys().cloned()),
    })
}

/// The OU `scp effective --ou` names by path (`Root`, `Companies/Foo/prod`). An unknown
/// path is an [`UnknownSubject`] with the closest paths.
pub fn find_ou(state: &OrgState, given: &str) -> Result<Subject, UnknownSubject> {
    let unknown = || UnknownSubject {
        what: "OU",
        given: given.to_string(),
        suggestions: closest(
            given,
            std::iter::once("Root".to_string()).chain(state.ous.keys().map(|p| p.to_string())),
        ),
    };
    let path = OuPath::try_from(given.to_string()).map_err(|_| unknown())?;
    if path.is_root() || state.ous.contains_key(&path) {
        Ok(Subject::Ou(path))
    } else {
        Err(unknown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> OrgState {
        let yaml = r#"
enabled_policy_types: []
ous:
  Companies: {}
  Companies/Himawari: {}
  Companies/Himawari/prod: {}
accounts:
  payments-prod: { id: "111122223333", email: p@example.com, ou: Companies/Himawari/prod }
  payments-dev: { id: "444455556666", email: d@example.com, ou: Companies/Himawari/prod }
policies: {}
"#;
        serde_yaml::from_str(yaml).expect("a state")
    }

    #[test]
    fn accounts_by_name_or_id_and_suggestions() {
        let s = state();
        assert_eq!(
            find_account(&s, "payments-prod"),
            Ok(Subject::Account("payments-prod".into()))
        );
        assert_eq!(
            find_account(&s, "444455556666"),
            Ok(Subject::Account("payments-dev".into()))
        );
        let e = find_account(&s, "payments-prd").unwrap_err();
        assert_eq!(e.suggestions[0], "payments-prod");
        assert!(
            e.to_string().starts_with(
                "account `payments-prd` is not in the organization (did you mean `payments-prod`"
            ),
            "{e}"
        );
        assert!(find_account(&s, "zzz").unwrap_err().suggestions.is_empty());
    }

    #[test]
    fn ous_by_path_and_suggestions() {
        let s = state();
        assert!(matches!(find_ou(&s, "Root"), Ok(Subject::Ou(p)) if p.is_root()));
        assert!(find_ou(&s, "Companies/Himawari").is_ok());
        let e = find_ou(&s, "companies/himawari/prod").unwrap_err();
        assert_eq!(e.suggestions[0], "Companies/Himawari/prod");
        assert_eq!(
            e.to_string(),
            "OU `companies/himawari/prod` is not in the organization (did you mean `Companies/Himawari/prod`?)"
        );
    }
}
