//! The request being decided and its condition context.

use std::collections::BTreeMap;

/// The value of one condition context key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    /// A single-valued key such as `aws:RequestedRegion`.
    Single(String),
    /// A multi-valued key such as `aws:TagKeys` (may be empty).
    Multi(Vec<String>),
}

impl ContextValue {
    /// The values as a slice-like list (a single value becomes a one-element list).
    pub fn values(&self) -> Vec<&str> {
        match self {
            ContextValue::Single(s) => vec![s.as_str()],
            ContextValue::Multi(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl From<&str> for ContextValue {
    fn from(s: &str) -> Self {
        ContextValue::Single(s.to_string())
    }
}

impl From<String> for ContextValue {
    fn from(s: String) -> Self {
        ContextValue::Single(s)
    }
}

impl From<Vec<&str>> for ContextValue {
    fn from(v: Vec<&str>) -> Self {
        ContextValue::Multi(v.into_iter().map(str::to_string).collect())
    }
}

/// What a condition key that the request does not carry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingKeys {
    /// The key may have been present in the real request (e.g. a CloudTrail record does not
    /// carry it): a verdict that depends on it is `Indeterminate`. Every operator on such a
    /// key is undecided, `Null` and `...IfExists` included ("unknown" is not "absent");
    /// keys listed in [`Request::absent_keys`] are treated as known-absent.
    #[default]
    Unknown,
    /// The context is complete: a missing key is absent, with AWS semantics (positive
    /// operators false, negated operators true, `IfExists` true, `ForAllValues` true,
    /// `ForAnyValue` false). Verdicts are never `Indeterminate`.
    Absent,
}

/// A request to decide: who calls what, on which resource, where, with which context.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// The caller's account id (its SCP chain is evaluated).
    pub account: String,
    /// The principal ARN (for a role session: the role ARN, not the session ARN).
    pub principal_arn: String,
    /// The IAM action, e.g. `s3:GetObject`.
    pub action: String,
    /// The resource ARN. `*` (or empty) means the request names no resource: a statement
    /// whose `Resource` covers every resource applies; an `Allow` limited to some
    /// resources applies (some resource is allowed); a `Deny` limited to some resources
    /// does not (the request is not certainly denied) and, with [`MissingKeys::Unknown`],
    /// makes the verdict depend on the pseudo-key `(resource)`.
    pub resource: String,
    /// The requested region; empty means the request carries no `aws:RequestedRegion`.
    pub region: String,
    /// Other condition keys (names compared case-insensitively); these override the
    /// keys derived from the fields above.
    #[serde(default)]
    pub context: BTreeMap<String, ContextValue>,
    /// Meaning of keys not in the context (default: [`MissingKeys::Unknown`]).
    #[serde(default)]
    pub missing_keys: MissingKeys,
    /// Keys known to be absent from the request even in [`MissingKeys::Unknown`] mode.
    #[serde(default)]
    pub absent_keys: Vec<String>,
}

/// The values of a present key, borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values<'a> {
    /// A single value.
    One(&'a str),
    /// A multi-valued key (possibly empty).
    Many(&'a [String]),
}

impl<'a> Values<'a> {
    /// Iterate over the values.
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        let (one, many) = match self {
            Values::One(s) => (Some(s), &[][..]),
            Values::Many(v) => (None, v),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }

    fn of(v: &'a ContextValue) -> Self {
        match v {
            ContextValue::Single(s) => Values::One(s),
            ContextValue::Multi(m) => Values::Many(m),
        }
    }
}

/// Lookup result for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The key has these values.
    Present(Values<'a>),
    /// The key is known to be absent.
    Absent,
    /// The key is not in the context and may or may not have been in the real request.
    Unknown,
}

/// A case-insensitive view of a [`Request`]'s condition context (borrows the request,
/// allocates nothing).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    req: &'a Request,
    variables: bool,
}

impl<'a> Context<'a> {
    /// The context of a request: explicit keys first, then the keys derived from the
    /// request's fields (`aws:RequestedRegion`, `aws:PrincipalArn`, `aws:PrincipalAccount`).
    pub fn of(req: &'a Request) -> Self {
        Self {
            req,
            variables: true,
        }
    }

    /// The same context for a policy whose `Version` does (`true`, 2012-10-17) or does not
    /// (`false`, 2008-10-17 or no Version) expand `${...}` policy variables.
    pub fn with_variables(self, variables: bool) -> Self {
        Self { variables, ..self }
    }

    /// Are `${...}` policy variables expanded?
    pub fn variables(&self) -> bool {
        self.variables
    }

    /// Look a key up (case-insensitively).
    pub fn get(&self, key: &str) -> Lookup<'a> {
        let req = self.req;
        if let Some((_, v)) = req
            .context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            return Lookup::Present(Values::of(v));
        }
        let derived = if key.eq_ignore_ascii_case("aws:RequestedRegion") {
            Some(req.region.as_str())
        } else if key.eq_ignore_ascii_case("aws:PrincipalArn") {
            Some(req.principal_arn.as_str())
        } else if key.eq_ignore_ascii_case("aws:PrincipalAccount") {
            Some(req.account.as_str())
        } else {
            None
        };
        match derived {
            Some(v) if !v.is_empty() => Lookup::Present(Values::One(v)),
            _ if self.req.missing_keys == MissingKeys::Absent => Lookup::Absent,
            _ if req.absent_keys.iter().any(|k| k.eq_ignore_ascii_case(key)) => Lookup::Absent,
            _ => Lookup::Unknown,
        }
    }

    /// The missing-key mode.
    pub fn mode(&self) -> MissingKeys {
        self.req.missing_keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_case_insensitive_and_overridable() {
        let mut req = Request {
            account: "111122223333".into(),
            principal_arn: "arn:aws:iam::111122223333:role/x".into(),
            action: "s3:GetObject".into(),
            resource: "*".into(),
            region: "ap-northeast-1".into(),
            ..Default::default()
        };
        req.context
            .insert("AWS:PrincipalTag/Team".into(), "ops".into());
        let c = Context::of(&req);
        assert_eq!(
            c.get("aws:requestedREGION"),
            Lookup::Present(Values::One("ap-northeast-1"))
        );
        assert_eq!(
            c.get("aws:PrincipalARN"),
            Lookup::Present(Values::One("arn:aws:iam::111122223333:role/x"))
        );
        assert_eq!(
            c.get("aws:PrincipalAccount"),
            Lookup::Present(Values::One("111122223333"))
        );
        assert_eq!(
            c.get("aws:principaltag/team"),
            Lookup::Present(Values::One("ops"))
        );
        assert_eq!(c.get("aws:SourceIp"), Lookup::Unknown);
        req.absent_keys.push("AWS:SourceIp".into());
        assert_eq!(Context::of(&req).get("aws:sourceip"), Lookup::Absent);
        req.missing_keys = MissingKeys::Absent;
        assert_eq!(Context::of(&req).get("aws:Other"), Lookup::Absent);
        req.context
            .insert("aws:RequestedRegion".into(), "us-east-1".into());
        assert_eq!(
            Context::of(&req).get("aws:requestedregion"),
            Lookup::Present(Values::One("us-east-1"))
        );
        req.context
            .insert("aws:TagKeys".into(), vec!["a", "b"].into());
        let vals: Vec<&str> = match Context::of(&req).get("AWS:TAGKEYS") {
            Lookup::Present(v) => v.iter().collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(vals, ["a", "b"]);
    }

    #[test]
    fn empty_region_means_no_key() {
        let req = Request {
            region: String::new(),
            missing_keys: MissingKeys::Absent,
            ..Default::default()
        };
        assert_eq!(Context::of(&req).get("aws:RequestedRegion"), Lookup::Absent);
    }
}
