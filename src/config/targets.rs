//! Resolving policy targets: `Root`, OU paths, account names and globs.

use std::collections::BTreeMap;

use crate::model::path::glob_matches;
use crate::model::{Account, Ou, OuPath, Target};

/// Resolves one target expression against the declared OUs and accounts.
/// `ou:` and `account:` prefixes force the kind; without one a path or glob is
/// tried as OU first, then as account name. Returns an error message on no match.
pub fn resolve_target(
    expr: &str,
    ous: &BTreeMap<OuPath, Ou>,
    accounts: &BTreeMap<String, Account>,
) -> Result<Vec<Target>, String> {
    if expr == "Root" {
        return Ok(vec![Target::Root]);
    }
    let (want_ou, want_account, body) = if let Some(rest) = expr.strip_prefix("ou:") {
        (true, false, rest)
    } else if let Some(rest) = expr.strip_prefix("account:") {
        (false, true, rest)
    } else {
        (true, true, expr)
    };
    let is_glob = body.contains('*') || body.contains('?');
    let mut found = Vec::new();
    if want_ou {
        found.extend(
            ous.keys()
                .filter(|path| {
                    if is_glob {
                        glob_matches(body, path)
                    } else {
                        path.to_string() == body
                    }
                })
                .cloned()
                .map(Target::Ou),
        );
    }
    if want_account && found.is_empty() {
        found.extend(
            accounts
                .keys()
                .filter(|name| {
                    if is_glob {
                        crate::model::path::wildcard_matches(body, name)
                    } else {
                        name.as_str() == body
                    }
                })
                .cloned()
                .map(Target::Account),
        );
    }
    if found.is_empty() {
        Err(if is_glob {
            format!("target glob `{expr}` matches no OU or account")
        } else {
            format!("target `{expr}` is neither `Root`, a declared OU path nor a declared account")
        })
    } else {
        Ok(found)
    }
}
