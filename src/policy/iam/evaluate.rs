//! Decide a request against a hierarchy of SCPs (or RCPs): root, OUs, account.
//!
//! Rules (AWS Organizations "SCP evaluation"):
//! 1. the management account and service-linked roles (`role/aws-service-role/...`) are
//!    exempt: allowed;
//! 2. an explicit `Deny` that matches at any level denies (the first in order root ->
//!    account, policy order, statement order is reported);
//! 3. otherwise every level must have a matching `Allow`; the first level without one
//!    denies implicitly.
//!
//! With [`MissingKeys::Unknown`], statements whose
//! conditions reference keys the request does not carry are "unknown"; the verdict is
//! computed with three-valued logic and is `Indeterminate` only when those unknowns could
//! flip it (an unknown Deny when the request would otherwise be allowed, or a level whose
//! only matching Allows are unknown).

use std::collections::BTreeSet;
use std::fmt;

use super::condition::{evaluate_conditions, Tri};
use super::context::{Context, MissingKeys, Request};
use super::document::{Effect, ElementList, PolicyDocument, Principal, PrincipalValue, Statement};
use super::matching::{action_matches, resource_match, resource_match_str, wildcard_match};
use super::rules::PolicyKind;
use super::variables::{has_variables, resolve, Resolved};

/// A policy attached at a level, with the name it has in AWS or in the config.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// Policy name (e.g. `FullAWSAccess`, `lzctl-region-restriction`).
    pub name: String,
    /// The parsed document.
    pub document: PolicyDocument,
}

/// Kind of a level in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelKind {
    /// The organization root.
    Root,
    /// An organizational unit.
    Ou,
    /// The member account itself.
    Account,
}

impl LevelKind {
    /// The level's name in reports: `root`, `ou` or `account` (stable,
    /// whatever the variants are called).
    pub fn label(self) -> &'static str {
        match self {
            LevelKind::Root => "root",
            LevelKind::Ou => "ou",
            LevelKind::Account => "account",
        }
    }
}

/// One level of the path from the root to the account, with the policies attached there.
#[derive(Debug, Clone)]
pub struct Level {
    /// Root, OU or account.
    pub kind: LevelKind,
    /// Display name: `Root`, an OU path such as `Companies/Foo`, or an account id/name.
    pub name: String,
    /// Policies attached directly to this level.
    pub policies: Vec<NamedPolicy>,
}

/// The policies in force for one account: its path from the root, outermost first.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// SCP or RCP chain.
    pub kind: PolicyKind,
    /// The management account id: SCPs do not restrict its principals, RCPs do not restrict
    /// its resources.
    pub management_account: Option<String>,
    /// Root, OUs (outermost first), account.
    pub levels: Vec<Level>,
}

/// Identifies a level in a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LevelRef {
    /// Position in [`Hierarchy::levels`].
    pub index: usize,
    /// Root, OU or account.
    pub kind: LevelKind,
    /// The level's name.
    pub name: String,
}

impl fmt::Display for LevelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LevelKind::Root => write!(f, "root {}", self.name),
            LevelKind::Ou => write!(f, "OU {}", self.name),
            LevelKind::Account => write!(f, "account {}", self.name),
        }
    }
}

/// Identifies a statement in a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StatementRef {
    /// Index in the policy's `Statement` list.
    pub index: usize,
    /// Its `Sid`, if any.
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(s) => write!(f, "{s}"),
            None => write!(f, "#{}", self.index),
        }
    }
}

/// A statement that matched the request (certainly, or depending on missing keys).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatementHit {
    /// Where the policy is attached.
    pub level: LevelRef,
    /// Policy name.
    pub policy: String,
    /// The statement.
    pub statement: StatementRef,
    /// Its effect.
    pub effect: Effect,
    /// Missing keys it depends on (empty: it certainly matched).
    pub depends_on: Vec<String>,
}

/// Why an allowed request is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowReason {
    /// Every level has a matching Allow and no Deny matched.
    Policies,
    /// The caller (SCP) or the resource owner (RCP) is the management account, which
    /// organization policies do not restrict.
    ManagementAccount,
    /// The caller is a service-linked role, which SCPs/RCPs do not restrict.
    ServiceLinkedRole,
}

/// What denied a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyCause {
    /// An explicit Deny statement.
    Statement {
        /// Policy name.
        policy: String,
        /// The statement.
        statement: StatementRef,
    },
    /// No Allow statement matched at the level.
    NoAllow,
}

/// The decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The request passes the policies.
    Allowed {
        /// Why.
        reason: AllowReason,
    },
    /// The request is denied.
    Denied {
        /// The level that denied.
        level: LevelRef,
        /// The statement, or the absence of an Allow.
        cause: DenyCause,
    },
    /// The outcome depends on condition keys the request does not carry.
    Indeterminate {
        /// Keys (lower-cased) whose values would decide.
        missing_keys: Vec<String>,
        /// The statements whose match depends on them.
        statements: Vec<StatementHit>,
    },
}

impl Verdict {
    /// True for `Allowed`.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed { .. })
    }

    /// True for `Denied`.
    pub fn is_denied(&self) -> bool {
        matches!(self, Verdict::Denied { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allowed {
                reason: AllowReason::Policies,
            } => f.write_str("allowed"),
            Verdict::Allowed {
                reason: AllowReason::ManagementAccount,
            } => f.write_str("allowed (management account: not subject to organization policies)"),
            Verdict::Allowed {
                reason: AllowReason::ServiceLinkedRole,
            } => f.write_str("allowed (service-linked role: not subject to organization policies)"),
            Verdict::Denied {
                level,
                cause: DenyCause::Statement { policy, statement },
            } => {
                write!(
                    f,
                    "denied by policy {policy} statement {statement} at level {level}"
                )
            }
            Verdict::Denied {
                level,
                cause: DenyCause::NoAllow,
            } => {
                write!(f, "denied: no Allow statement matches at level {level}")
            }
            Verdict::Indeterminate { missing_keys, .. } => {
                write!(
                    f,
                    "indeterminate: depends on missing condition keys {}",
                    missing_keys.join(", ")
                )
            }
        }
    }
}

/// A verdict plus every statement that matched (certainly or possibly), for explanations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evaluation {
    /// The decision.
    pub verdict: Verdict,
    /// Matching statements, in evaluation order (root first).
    pub matched: Vec<StatementHit>,
}

impl Evaluation {
    /// Everything that denies the request, as `(level, cause)` pairs in evaluation order:
    /// every explicit Deny statement that certainly matched (all of them, not only the
    /// first one that [`Verdict::Denied`] names), or, when none did, the level without a
    /// matching Allow. Empty unless the verdict is `Denied`.
    pub fn denials(&self) -> Vec<(LevelRef, DenyCause)> {
        let Verdict::Denied { level, cause } = &self.verdict else {
            return Vec::new();
        };
        let explicit: Vec<(LevelRef, DenyCause)> = self
            .matched
            .iter()
            .filter(|h| h.effect == Effect::Deny && h.depends_on.is_empty())
            .map(|h| {
                (
                    h.level.clone(),
                    DenyCause::Statement {
                        policy: h.policy.clone(),
                        statement: h.statement.clone(),
                    },
                )
            })
            .collect();
        if explicit.is_empty() {
            vec![(level.clone(), cause.clone())]
        } else {
            explicit
        }
    }
}

/// The account id of a resource ARN (`arn:aws:s3:::bucket` has none).
fn resource_account(resource: &str) -> Option<&str> {
    let acct = resource.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
}

/// True for a service-linked role ARN (`arn:...:iam::ACCOUNT:role/aws-service-role/...`).
pub fn is_service_linked_role(principal_arn: &str) -> bool {
    principal_arn.contains(":role/aws-service-role/")
}

fn principal_matches(p: &Principal, req: &Request) -> bool {
    let hit = match &p.value {
        PrincipalValue::Any => true,
        PrincipalValue::Typed(types) => types.iter().any(|(ty, ids)| {
            ids.iter().any(|id| {
                if ty != "AWS" {
                    return id == &req.principal_arn;
                }
                if id == "*" {
                    return true;
                }
                if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
                    return *id == req.account;
                }
                if let Some(acct) = id.strip_suffix(":root").and_then(|r| r.rsplit(':').next()) {
                    if id.starts_with("arn:") && acct.len() == 12 {
                        return acct == req.account;
                    }
                }
                wildcard_match(id, &req.principal_arn, false)
            })
        }),
    };
    hit != p.not
}

fn action_hit(list: &ElementList, action: &str) -> bool {
    list.values.iter().any(|p| action_matches(p, action)) != list.not
}

/// Resolve the policy variables of a `Resource` pattern. AWS expands variables only in the
/// resource part of an ARN (after the fifth colon); before it `${...}` stays literal text.
fn resolve_resource(pattern: &str, ctx: &Context<'_>) -> Resolved {
    let Some(cut) = pattern.match_indices(':').nth(4).map(|(i, _)| i + 1) else {
        return resolve(pattern, ctx, true);
    };
    let (prefix, rest) = pattern.split_at(cut);
    match resolve(rest, ctx, true) {
        Resolved::Pattern(t) => {
            let mut all = resolve(prefix, &ctx.with_variables(false), true).into_tokens();
            all.extend(t);
            Resolved::Pattern(all)
        }
        other => other,
    }
}

/// Pseudo condition key reported when a verdict depends on which resource was meant.
pub const RESOURCE_KEY: &str = "(resource)";

/// Resource matching when the request names no resource (`*` or empty).
fn any_resource_hit(list: &ElementList, effect: Effect, ctx: &Context<'_>) -> Tri {
    let star = list.values.iter().any(|p| p == "*");
    match (list.not, star) {
        (false, true) => Tri::Yes,
        (true, true) => Tri::No,
        // the element covers some resources but not all
        _ if effect == Effect::Allow => Tri::Yes,
        _ if ctx.mode() == MissingKeys::Unknown => Tri::unknown(RESOURCE_KEY),
        _ => Tri::No,
    }
}

fn resource_hit(
    list: Option<&ElementList>,
    effect: Effect,
    resource: &str,
    ctx: &Context<'_>,
) -> Tri {
    let Some(list) = list else { return Tri::Yes };
    if resource.is_empty() || resource == "*" {
        return any_resource_hit(list, effect, ctx);
    }
    let mut acc = Tri::No;
    for p in &list.values {
        if !has_variables(p) || !ctx.variables() {
            if resource_match_str(p, resource) {
                acc = Tri::Yes;
                break;
            }
            continue;
        }
        let t = match resolve_resource(p, ctx) {
            Resolved::Pattern(tokens) => Tri::from_bool(resource_match(&tokens, resource)),
            Resolved::Absent(_) => Tri::No,
            Resolved::Unknown(k) => Tri::unknown(&k),
        };
        acc = acc.or(t);
        if acc.is_yes() {
            break;
        }
    }
    if list.not {
        match acc {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            u => u,
        }
    } else {
        acc
    }
}

/// Does a statement apply to the request? (principal, action, resource, conditions)
pub fn statement_applies(st: &Statement, req: &Request, ctx: &Context<'_>) -> Tri {
    if let Some(p) = &st.principal {
        if !principal_matches(p, req) {
            return Tri::No;
        }
    }
    if !action_hit(&st.action, &req.action) {
        return Tri::No;
    }
    let r = resource_hit(st.resource.as_ref(), st.effect, &req.resource, ctx);
    if r == Tri::No {
        return Tri::No;
    }
    r.and(evaluate_conditions(&st.conditions, ctx))
}

fn keys_of(t: &Tri) -> Vec<String> {
    match t {
        Tri::Unknown(k) => k.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Decide `req` against the hierarchy `h`.
pub fn evaluate(h: &Hierarchy, req: &Request) -> Evaluation {
    // SCPs restrict the caller's account; RCPs the account owning the resource (taken from
    // the resource ARN when it names one, else the request's account).
    let governed_account = match h.kind {
        PolicyKind::Scp => req.account.as_str(),
        PolicyKind::Rcp => resource_account(&req.resource).unwrap_or(req.account.as_str()),
    };
    if h.management_account.as_deref() == Some(governed_account) && !governed_account.is_empty() {
        return Evaluation {
            verdict: Verdict::Allowed {
                reason: AllowReason::ManagementAccount,
            },
            matched: vec![],
        };
    }
    if is_service_linked_role(&req.principal_arn) {
        return Evaluation {
            verdict: Verdict::Allowed {
                reason: AllowReason::ServiceLinkedRole,
            },
            matched: vec![],
        };
    }
    let ctx = Context::of(req);
    let mut matched = Vec::new();
    let mut first_deny: Option<(LevelRef, DenyCause)> = None;
    let mut unknown_denies: Vec<StatementHit> = Vec::new();
    let mut level_allow: Vec<(LevelRef, Tri, Vec<StatementHit>)> = Vec::new();
    for (li, level) in h.levels.iter().enumerate() {
        let lref = LevelRef {
            index: li,
            kind: level.kind,
            name: level.name.clone(),
        };
        let mut allow = Tri::No;
        let mut unknown_allows = Vec::new();
        for pol in &level.policies {
            let ctx = ctx.with_variables(pol.document.version.as_deref() == Some("2012-10-17"));
            for st in &pol.document.statements {
                let t = statement_applies(st, req, &ctx);
                if t == Tri::No {
                    continue;
                }
                let hit = StatementHit {
                    level: lref.clone(),
                    policy: pol.name.clone(),
                    statement: StatementRef {
                        index: st.index,
                        sid: st.sid.clone(),
                    },
                    effect: st.effect,
                    depends_on: keys_of(&t),
                };
                matched.push(hit.clone());
                match (st.effect, &t) {
                    (Effect::Deny, Tri::Yes) => {
                        if first_deny.is_none() {
                            first_deny = Some((
                                lref.clone(),
                                DenyCause::Statement {
                                    policy: pol.name.clone(),
                                    statement: hit.statement.clone(),
                                },
                            ));
                        }
                    }
                    (Effect::Deny, _) => unknown_denies.push(hit),
                    (Effect::Allow, _) => {
                        if !t.is_yes() {
                            unknown_allows.push(hit);
                        }
                        allow = allow.or(t);
                    }
                }
            }
        }
        level_allow.push((lref, allow, unknown_allows));
    }
    if let Some((level, cause)) = first_deny {
        return Evaluation {
            verdict: Verdict::Denied { level, cause },
            matched,
        };
    }
    if let Some((lref, _, _)) = level_allow.iter().find(|(_, t, _)| *t == Tri::No) {
        return Evaluation {
            verdict: Verdict::Denied {
                level: lref.clone(),
                cause: DenyCause::NoAllow,
            },
            matched,
        };
    }
    let mut keys = BTreeSet::new();
    let mut statements = Vec::new();
    for hit in unknown_denies {
        keys.extend(hit.depends_on.iter().cloned());
        statements.push(hit);
    }
    for (_, t, hits) in level_allow {
        if t != Tri::Yes {
            for hit in hits {
                keys.extend(hit.depends_on.iter().cloned());
                statements.push(hit);
            }
        }
    }
    let verdict = if statements.is_empty() {
        Verdict::Allowed {
            reason: AllowReason::Policies,
        }
    } else {
        Verdict::Indeterminate {
            missing_keys: keys.into_iter().collect(),
            statements,
        }
    };
    Evaluation { verdict, matched }
}
