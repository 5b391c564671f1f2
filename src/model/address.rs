//! Stable addresses of the things a plan changes: `ou:Companies/A/prod`,
//! `scp:region-restriction`, `attachment:scp:region-restriction@Companies`,
//! `guardduty@ap-northeast-1`, `stackset:config-rules-prod`.
//!
//! An address is a kind, a key and optionally where the thing is: a target
//! (an attachment's OU or account), or a region and an account for kinds that
//! live per region or per account. Its text form is `kind[:key][@where]`; the
//! text is the address's identity in plans, logs and JSON. `@` and `%` in
//! keys are percent-escaped so the text form parses back to the same address.

use serde::{Deserialize, Serialize};

use super::{OuPath, PolicyKind, Target};

/// A stable, human-readable key for one object or relation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    kind: String,
    key: String,
    at: Option<String>,
}

fn escape(key: &str) -> String {
    key.replace('%', "%25").replace('@', "%40")
}

fn unescape(key: &str) -> String {
    key.replace("%40", "@").replace("%25", "%")
}

/// An AWS region code's shape: `ap-northeast-1`, `us-gov-west-1`.
fn looks_like_region(text: &str) -> bool {
    let mut parts = text.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    first.len() == 2
        && first.chars().all(|c| c.is_ascii_lowercase())
        && rest.len() >= 2
        && rest
            .last()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        && rest[..rest.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
}

fn looks_like_account(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

impl Address {
    /// An address of `kind` with `key` (`kind:key`; no `:key` when empty).
    pub fn new(kind: &str, key: &str) -> Address {
        debug_assert!(!kind.contains([':', '@']), "kind {kind:?}");
        Address {
            kind: kind.to_string(),
            key: key.to_string(),
            at: None,
        }
    }

    /// The same thing in one region (`guardduty@ap-northeast-1`).
    pub fn in_region(mut self, region: &str) -> Address {
        self.at = Some(match self.at.take() {
            Some(account) if looks_like_account(&account) => format!("{account}/{region}"),
            _ => region.to_string(),
        });
        self
    }

    /// The same thing in one account (`...@111111111111`, or with a region
    /// `...@111111111111/ap-northeast-1`).
    pub fn in_account(mut self, account: &str) -> Address {
        self.at = Some(match self.at.take() {
            Some(region) if looks_like_region(&region) => format!("{account}/{region}"),
            _ => account.to_string(),
        });
        self
    }

    /// The same relation on a target (`attachment:scp:x@Companies`).
    fn on(mut self, target: String) -> Address {
        self.at = Some(target);
        self
    }

    /// The kind (`ou`, `scp`, `attachment`, `guardduty`, ...).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The key within the kind.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The region, for kinds that live per region.
    pub fn region(&self) -> Option<&str> {
        let at = self.at.as_deref()?;
        let last = at.rsplit('/').next().unwrap_or(at);
        looks_like_region(last).then_some(last)
    }

    /// The account, for kinds that live per account.
    pub fn account(&self) -> Option<&str> {
        let at = self.at.as_deref()?;
        let first = at.split('/').next().unwrap_or(at);
        looks_like_account(first).then_some(first)
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Address {
        let (body, at) = match text.rsplit_once('@') {
            Some((body, at)) => (body, Some(at.to_string())),
            None => (text, None),
        };
        let (kind, key) = body.split_once(':').unwrap_or((body, ""));
        Address {
            kind: kind.to_string(),
            key: unescape(key),
            at,
        }
    }

    /// The organization root's policy-type switch.
    pub fn policy_type(kind: PolicyKind) -> Address {
        Address::new("policy-type", kind.short_name())
    }
    /// An OU.
    pub fn ou(path: &OuPath) -> Address {
        Address::new("ou", &path.to_string())
    }
    /// The OU and every ancestor of it (what work at `path` needs to exist).
    pub fn ou_with_ancestors(path: &OuPath) -> Vec<Address> {
        let mut out: Vec<Address> = path.ancestors().iter().map(Address::ou).collect();
        if !path.is_root() {
            out.push(Address::ou(path));
        }
        out
    }
    /// An account.
    pub fn account_named(name: &str) -> Address {
        Address::new("account", name)
    }
    /// A policy.
    pub fn policy(kind: PolicyKind, name: &str) -> Address {
        Address::new(kind.short_name(), name)
    }
    /// A policy attached to a target.
    pub fn attachment(kind: PolicyKind, name: &str, target: &Target) -> Address {
        Address::new("attachment", &format!("{}:{name}", kind.short_name()))
            .on(escape(&target.to_string()))
    }
    /// The tags of an OU or account.
    pub fn tags(of: &Address) -> Address {
        Address::new("tags", &of.to_string())
    }
    /// What a target must exist for: the root needs nothing, an OU needs its
    /// path, an account its name.
    pub fn of_target(target: &Target) -> Vec<Address> {
        match target {
            Target::Root => vec![],
            Target::Ou(path) => Address::ou_with_ancestors(path),
            Target::Account(name) => vec![Address::account_named(name)],
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind)?;
        if !self.key.is_empty() {
            write!(f, ":{}", escape(&self.key))?;
        }
        if let Some(at) = &self.at {
            write!(f, "@{at}")?;
        }
        Ok(())
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Address::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(a: &Address) {
        let text = a.to_string();
        assert_eq!(&Address::parse(&text), a, "{text}");
    }

    #[test]
    fn text_forms_read_as_people_expect_and_parse_back() {
        let ou = Address::ou(&OuPath::parse("Companies/A/prod").unwrap());
        assert_eq!(ou.to_string(), "ou:Companies/A/prod");
        let att = Address::attachment(
            PolicyKind::Scp,
            "region-restriction",
            &Target::Ou(OuPath::parse("Companies").unwrap()),
        );
        assert_eq!(
            att.to_string(),
            "attachment:scp:region-restriction@Companies"
        );
        assert_eq!(att.region(), None);
        let gd = Address::new("guardduty", "").in_region("ap-northeast-1");
        assert_eq!(gd.to_string(), "guardduty@ap-northeast-1");
        assert_eq!(gd.region(), Some("ap-northeast-1"));
        let inst = Address::new("stack-instances", "audit-role")
            .in_account("111111111111")
            .in_region("us-east-1");
        assert_eq!(
            inst.to_string(),
            "stack-instances:audit-role@111111111111/us-east-1"
        );
        assert_eq!(inst.account(), Some("111111111111"));
        assert_eq!(inst.region(), Some("us-east-1"));
        for a in [ou, att, gd, inst] {
            round_trip(&a);
        }
    }

    #[test]
    fn names_with_at_signs_and_percent_survive() {
        let odd = Address::policy(PolicyKind::Scp, "team@corp 100%");
        assert_eq!(odd.to_string(), "scp:team%40corp 100%25");
        round_trip(&odd);
        let on_odd = Address::attachment(PolicyKind::Scp, "a@b", &Target::Account("x@y".into()));
        round_trip(&on_odd);
        assert_eq!(on_odd.key(), "scp:a@b");
    }
}
