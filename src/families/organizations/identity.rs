//! Which observed account each account of the file is. An account's identity
//! is its id when the file gives one, else its root email (unique in AWS and
//! compared without case), never its name alone: names repeat, and a name
//! that could mean two accounts would let lzctl move the wrong one.

use std::collections::{BTreeMap, HashMap};

use crate::model::{OrgState, Target};

/// The result of matching the file's accounts to the organization's.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountMatch {
    /// File name → observed key, for accounts that exist.
    pub matched: BTreeMap<String, String>,
    /// Accounts whose name in AWS differs from the file's: (file name, id, AWS name).
    pub renamed: Vec<(String, String, String)>,
    /// Ambiguities that make any plan unsafe.
    pub refusals: Vec<String>,
}

/// The account name behind an observed key (`audit#111111111111` for the
/// second account of a repeated name).
fn aws_name<'a>(key: &'a str, id: Option<&str>) -> &'a str {
    match id {
        Some(id) => key.strip_suffix(&format!("#{id}")).unwrap_or(key),
        None => key,
    }
}

/// Matches `desired` accounts to `observed` ones.
pub fn match_accounts(desired: &OrgState, observed: &OrgState) -> AccountMatch {
    let mut out = AccountMatch::default();
    let mut by_id: HashMap<&str, &str> = HashMap::new();
    let mut by_email: HashMap<String, &str> = HashMap::new();
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, account) in &observed.accounts {
        if let Some(id) = account.id.as_deref() {
            by_id.insert(id, key);
        }
        by_email.insert(account.email.to_ascii_lowercase(), key);
        by_name
            .entry(aws_name(key, account.id.as_deref()))
            .or_default()
            .push(key);
    }
    let id_of = |key: &str| observed.accounts[key].id.clone().unwrap_or_default();
    let email_of = |key: &str| observed.accounts[key].email.clone();
    for (name, want) in &desired.accounts {
        let named: Vec<&str> = by_name.get(name.as_str()).cloned().unwrap_or_default();
        let found = if let Some(id) = want.id.as_deref() {
            match by_id.get(id) {
                Some(key) => Some(*key),
                None => {
                    out.refusals.push(format!(
                        "account `{name}`: id {id} is not an account of this organization; hint: check the id, or remove it to create a new account"
                    ));
                    continue;
                }
            }
        } else {
            if named.len() > 1 {
                let ids: Vec<String> = named.iter().map(|k| id_of(k)).collect();
                out.refusals.push(format!(
                    "account `{name}`: {} accounts have this name ({}); hint: add `id: \"…\"` to the account in the file to say which one is meant",
                    named.len(),
                    ids.join(", ")
                ));
                continue;
            }
            let by_mail = by_email.get(&want.email.to_ascii_lowercase()).copied();
            match (by_mail, named.first()) {
                (Some(mail), Some(other)) if mail != *other => {
                    out.refusals.push(format!(
                        "account `{name}`: the name is account {} but the email {} is account {}; hint: fix the name or the email in the file, or give the intended account's `id`",
                        id_of(other),
                        want.email,
                        id_of(mail)
                    ));
                    continue;
                }
                (Some(mail), _) => Some(mail),
                (None, Some(other)) => {
                    out.refusals.push(format!(
                        "account `{name}`: no account has the email {}, but account {} has this name (email {}); hint: if it is that account, add `id: \"{}\"` to it in the file (lzctl cannot change a root email); if it is a new account, give it another name",
                        want.email,
                        id_of(other),
                        email_of(other),
                        id_of(other)
                    ));
                    continue;
                }
                (None, None) => None,
            }
        };
        if let Some(key) = found {
            let account = &observed.accounts[key];
            let current = aws_name(key, account.id.as_deref());
            if current != name {
                out.renamed.push((
                    name.clone(),
                    account.id.clone().unwrap_or_default(),
                    current.to_string(),
                ));
            }
            out.matched.insert(name.clone(), key.to_string());
        }
    }
    out
}

/// The observed state with matched accounts under the file's names, so the
/// diff compares like with like. Unmatched accounts whose key a file name
/// takes are re-keyed `name#id`.
pub fn rekey_accounts(observed: &OrgState, matches: &AccountMatch) -> OrgState {
    let mut state = observed.clone();
    let mut new_key: BTreeMap<String, String> = matches
        .matched
        .iter()
        .map(|(file, key)| (key.clone(), file.clone()))
        .collect();
    for (key, account) in &observed.accounts {
        if new_key.contains_key(key) {
            continue;
        }
        if matches.matched.contains_key(key) {
            let id = account.id.clone().unwrap_or_default();
            new_key.insert(key.clone(), format!("{key}#{id}"));
        }
    }
    if new_key.iter().all(|(from, to)| from == to) {
        return state;
    }
    let rename = |key: &String| new_key.get(key).cloned().unwrap_or_else(|| key.clone());
    state.accounts = std::mem::take(&mut state.accounts)
        .into_iter()
        .map(|(k, a)| (rename(&k), a))
        .collect();
    for set in [
        &mut state.closed_accounts,
        &mut state.pending_accounts,
    ] {
        *set = std::mem::take(set).iter().map(rename).collect();
    }
    for p in state.policies.values_mut() {
        p.targets = std::mem::take(&mut p.targets)
            .into_iter()
            .map(|t| match t {
                Target::Account(k) => Target::Account(rename(&k)),
                other => other,
            })
            .collect();
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Account, OuPath};

    fn account(id: Option<&str>, email: &str, ou: &str) -> Account {
        Account {
            id: id.map(str::to_string),
            email: email.into(),
            ou: OuPath::parse(ou).unwrap(),
            tags: Default::default(),
        }
    }

    fn org(accounts: &[(&str, Account)]) -> OrgState {
        OrgState {
            accounts: accounts
                .iter()
                .map(|(k, a)| (k.to_string(), a.clone()))
                .collect(),
            ..OrgState::default()
        }
    }

    #[test]
    fn email_decides_and_a_different_name_is_a_rename() {
        let observed = org(&[("audit-old", account(Some("111111111111"), "A@x.com", "Security"))]);
        let desired = org(&[("audit", account(None, "a@X.com", "Security"))]);
        let m = match_accounts(&desired, &observed);
        assert!(m.refusals.is_empty(), "{:?}", m.refusals);
        assert_eq!(m.matched["audit"], "audit-old");
        assert_eq!(
            m.renamed,
            vec![("audit".into(), "111111111111".into(), "audit-old".into())]
        );
        let working = rekey_accounts(&observed, &m);
        assert!(working.accounts.contains_key("audit"));
        assert!(!working.accounts.contains_key("audit-old"));
    }

    #[test]
    fn two_accounts_with_the_file_name_are_refused_naming_both_ids() {
        let observed = org(&[
            ("audit", account(Some("111111111111"), "a@x.com", "Security")),
            ("audit#222222222222", account(Some("222222222222"), "b@x.com", "Sandbox")),
        ]);
        let desired = org(&[("audit", account(None, "a@x.com", "Security"))]);
        let m = match_accounts(&desired, &observed);
        assert_eq!(m.refusals.len(), 1);
        assert!(m.refusals[0].contains("111111111111") && m.refusals[0].contains("222222222222"));
        assert!(m.matched.is_empty());
    }

    #[test]
    fn an_id_in_the_file_settles_a_repeated_name() {
        let observed = org(&[
            ("audit", account(Some("111111111111"), "a@x.com", "Security")),
            ("audit#222222222222", account(Some("222222222222"), "b@x.com", "Sandbox")),
        ]);
        let desired = org(&[("audit", account(Some("222222222222"), "b@x.com", "Sandbox"))]);
        let m = match_accounts(&desired, &observed);
        assert!(m.refusals.is_empty());
        assert_eq!(m.matched["audit"], "audit#222222222222");
        let working = rekey_accounts(&observed, &m);
        assert_eq!(working.accounts["audit"].id.as_deref(), Some("222222222222"));
        assert_eq!(
            working.accounts["audit#111111111111"].id.as_deref(),
            Some("111111111111")
        );
    }

    #[test]
    fn a_name_and_an_email_of_different_accounts_are_refused() {
        let observed = org(&[
            ("audit", account(Some("111111111111"), "a@x.com", "Security")),
            ("logs", account(Some("222222222222"), "b@x.com", "Security")),
        ]);
        let desired = org(&[("audit", account(None, "b@x.com", "Security"))]);
        let m = match_accounts(&desired, &observed);
        assert_eq!(m.refusals.len(), 1, "{:?}", m.refusals);
        assert!(m.refusals[0].contains("111111111111") && m.refusals[0].contains("222222222222"));
    }

    #[test]
    fn a_known_name_with_an_unknown_email_is_not_created_again() {
        let observed = org(&[("audit", account(Some("111111111111"), "a@x.com", "Security"))]);
        let desired = org(&[("audit", account(None, "new@x.com", "Security"))]);
        let m = match_accounts(&desired, &observed);
        assert_eq!(m.refusals.len(), 1);
        assert!(m.refusals[0].contains("id: \"111111111111\""));
    }

    #[test]
    fn a_new_account_matches_nothing() {
        let observed = org(&[("audit", account(Some("111111111111"), "a@x.com", "Security"))]);
        let desired = org(&[("logs", account(None, "logs@x.com", "Security"))]);
        let m = match_accounts(&desired, &observed);
        assert!(m.refusals.is_empty() && m.matched.is_empty());
    }
}
