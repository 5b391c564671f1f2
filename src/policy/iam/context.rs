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
    /// carry it): a verdict that depends on it is `Indeterminate`. Only operators that are
    /// neither `...IfExists` nor `Null` make a statement depend on a missing key; keys listed
    /// in [`Request::absent_keys`] are treated as known-absent.
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
    /// The resource ARN, or `*` when the action has no resource.
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

/// Lookup result for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The key has this value.
    Present(&'a ContextValue),
    /// The key is known to be absent.
    Absent,
    /// The key is not in the context and may or may not have been in the real request.
    Unknown,
}

/// A case-insensitive view of a [`Request`]'s condition context.
#[derive(Debug, Clone)]
pub struct Context {
    values: BTreeMap<String, ContextValue>,
    absent: Vec<String>,
    mode: MissingKeys,
}

impl Context {
    /// Build the context of a request: derived keys (`aws:RequestedRegion`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`) then the explicit ones.
    pub fn of(req: &Request) -> Self {
        let mut values = BTreeMap::new();
        if !req.region.is_empty() {
            values.insert(
                "aws:requestedregion".to_string(),
                ContextValue::Single(req.region.clone()),
            );
        }
        if !req.principal_arn.is_empty() {
            values.insert(
                "aws:principalarn".to_string(),
                ContextValue::Single(req.principal_arn.clone()),
            );
        }
        if !req.account.is_empty() {
            values.insert(
                "aws:principalaccount".to_string(),
                ContextValue::Single(req.account.clone()),
            );
        }
        for (k, v) in &req.context {
            values.insert(k.to_ascii_lowercase(), v.clone());
        }
        let absent = req
            .absent_keys
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        Self {
            values,
            absent,
            mode: req.missing_keys,
        }
    }

    /// Look a key up (case-insensitively).
    pub fn get(&self, key: &str) -> Lookup<'_> {
        let k = key.to_ascii_lowercase();
        match self.values.get(&k) {
            Some(v) => Lookup::Present(v),
            None if self.mode == MissingKeys::Absent || self.absent.contains(&k) => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    /// The missing-key mode.
    pub fn mode(&self) -> MissingKeys {
        self.mode
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
            Lookup::Present(&"ap-northeast-1".into())
        );
        assert_eq!(
            c.get("aws:PrincipalARN"),
            Lookup::Present(&"arn:aws:iam::111122223333:role/x".into())
        );
        assert_eq!(
            c.get("aws:PrincipalAccount"),
            Lookup::Present(&"111122223333".into())
        );
        assert_eq!(
            c.get("aws:principaltag/team"),
            Lookup::Present(&"ops".into())
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
            Lookup::Present(&"us-east-1".into())
        );
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
