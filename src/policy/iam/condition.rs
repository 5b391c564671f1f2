//! Condition operators and their evaluation against a request context.
//!
//! Semantics (AWS IAM "Condition operators" and "multivalued context keys"):
//! - values listed for one key are ORed; for negated operators they are NORed;
//! - a key missing from the request makes positive operators false and negated ones true,
//!   except `...IfExists` (true when absent) and `Null` (tests presence);
//! - `ForAnyValue:` needs one request value to satisfy the operator and is false when the
//!   key is absent; `ForAllValues:` needs all request values to and is true when absent;
//! - without a set qualifier a multi-valued request key never matches (positive or negated
//!   operator alike): multivalued keys need `ForAnyValue:`/`ForAllValues:`.
//!
//! With [`MissingKeys::Unknown`](super::context::MissingKeys) a key not in the context (and
//! not known to be absent) makes the entry [`Tri::Unknown`], whatever the operator:
//! `Null` and `...IfExists` included, since both decide differently for an absent key and
//! for a present one.

use std::collections::BTreeSet;

use super::context::{Context, Lookup, Values};
use super::document::Condition;
use super::matching::{arn_match, arn_match_str, glob_match, wildcard_match, Tok};
use super::values::{parse_date, parse_ip, parse_number, Cidr};
use super::variables::{has_variables, resolve, Resolved};

/// Three-valued truth: known true, known false, or depends on the listed missing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tri {
    /// Certainly holds.
    Yes,
    /// Certainly does not hold.
    No,
    /// Depends on these keys (lower-cased) that the request does not carry.
    Unknown(BTreeSet<String>),
}

impl Tri {
    /// From a boolean.
    pub fn from_bool(b: bool) -> Self {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }

    /// Unknown because of one key.
    pub fn unknown(key: &str) -> Self {
        Tri::Unknown(std::iter::once(key.to_ascii_lowercase()).collect())
    }

    /// Kleene AND.
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, x) | (x, Tri::Yes) => x,
            (Tri::Unknown(mut a), Tri::Unknown(b)) => {
                a.extend(b);
                Tri::Unknown(a)
            }
        }
    }

    /// Kleene OR.
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, x) | (x, Tri::No) => x,
            (Tri::Unknown(mut a), Tri::Unknown(b)) => {
                a.extend(b);
                Tri::Unknown(a)
            }
        }
    }

    /// True when certainly true.
    pub fn is_yes(&self) -> bool {
        *self == Tri::Yes
    }
}

/// `ForAnyValue:` / `ForAllValues:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// `ForAnyValue:`.
    ForAnyValue,
    /// `ForAllValues:`.
    ForAllValues,
}

/// The base condition operators (without qualifier or `IfExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const BASES: [(&str, BaseOperator); 27] = {
    use BaseOperator::*;
    [
        ("StringEquals", StringEquals),
        ("StringNotEquals", StringNotEquals),
        ("StringEqualsIgnoreCase", StringEqualsIgnoreCase),
        ("StringNotEqualsIgnoreCase", StringNotEqualsIgnoreCase),
        ("StringLike", StringLike),
        ("StringNotLike", StringNotLike),
        ("NumericEquals", NumericEquals),
        ("NumericNotEquals", NumericNotEquals),
        ("NumericLessThan", NumericLessThan),
        ("NumericLessThanEquals", NumericLessThanEquals),
        ("NumericGreaterThan", NumericGreaterThan),
        ("NumericGreaterThanEquals", NumericGreaterThanEquals),
        ("DateEquals", DateEquals),
        ("DateNotEquals", DateNotEquals),
        ("DateLessThan", DateLessThan),
        ("DateLessThanEquals", DateLessThanEquals),
        ("DateGreaterThan", DateGreaterThan),
        ("DateGreaterThanEquals", DateGreaterThanEquals),
        ("Bool", Bool),
        ("BinaryEquals", BinaryEquals),
        ("IpAddress", IpAddress),
        ("NotIpAddress", NotIpAddress),
        ("ArnEquals", ArnEquals),
        ("ArnLike", ArnLike),
        ("ArnNotEquals", ArnNotEquals),
        ("ArnNotLike", ArnNotLike),
        ("Null", Null),
    ]
};

impl BaseOperator {
    /// Is this a negated operator (`...Not...`, `NotIpAddress`)?
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// The operator's name as AWS spells it.
    pub fn name(self) -> &'static str {
        BASES
            .iter()
            .find(|(_, b)| *b == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// A full condition operator such as `ForAllValues:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    /// Set qualifier, if any.
    pub qualifier: Option<SetQualifier>,
    /// The base operator.
    pub base: BaseOperator,
    /// `...IfExists` suffix.
    pub if_exists: bool,
}

impl Operator {
    /// Parse an operator name (case-insensitive); `None` if it is not an IAM operator.
    pub fn parse(name: &str) -> Option<Operator> {
        let lower = name.to_ascii_lowercase();
        let (qualifier, rest) = if let Some(r) = lower.strip_prefix("foranyvalue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = lower.strip_prefix("forallvalues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, lower.as_str())
        };
        let (rest, if_exists) = match rest.strip_suffix("ifexists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let base = BASES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(rest))
            .map(|(_, b)| *b)?;
        if base == BaseOperator::Null && (if_exists || qualifier.is_some()) {
            return None;
        }
        Some(Operator {
            qualifier,
            base,
            if_exists,
        })
    }
}

/// A policy value prepared for comparison.
enum PolicyVal<'a> {
    /// With variables resolved (string and ARN operators).
    Pattern(Vec<Tok>),
    /// As written: typed operators, or string/ARN values without variables.
    Text(&'a str),
}

/// Does the request value `c` satisfy the positive form of `base` for policy value `p`?
fn positive_match(base: BaseOperator, c: &str, p: &PolicyVal<'_>) -> bool {
    use BaseOperator::*;
    match (base, p) {
        (StringEquals | StringNotEquals, PolicyVal::Text(t)) => c == *t,
        (StringEqualsIgnoreCase | StringNotEqualsIgnoreCase, PolicyVal::Text(t)) => {
            c.eq_ignore_ascii_case(t) || (!c.is_ascii() && c.to_lowercase() == t.to_lowercase())
        }
        (StringLike | StringNotLike, PolicyVal::Text(t)) => wildcard_match(t, c, false),
        (ArnEquals | ArnLike | ArnNotEquals | ArnNotLike, PolicyVal::Text(t)) => {
            arn_match_str(t, c)
        }
        (StringEquals | StringNotEquals | StringLike | StringNotLike, PolicyVal::Pattern(t)) => {
            glob_match(t, c, false)
        }
        (StringEqualsIgnoreCase | StringNotEqualsIgnoreCase, PolicyVal::Pattern(t)) => {
            glob_match(t, c, true)
        }
        (ArnEquals | ArnLike | ArnNotEquals | ArnNotLike, PolicyVal::Pattern(t)) => arn_match(t, c),
        (_, PolicyVal::Text(p)) => typed_match(base, c, p),
        _ => false,
    }
}

fn typed_match(base: BaseOperator, c: &str, p: &str) -> bool {
    use BaseOperator::*;
    match base {
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => match (parse_number(c), parse_number(p)) {
            (Some(c), Some(p)) => compare(base, c.partial_cmp(&p)),
            _ => false,
        },
        DateEquals
        | DateNotEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => match (parse_date(c), parse_date(p)) {
            (Some(c), Some(p)) => compare(base, Some(c.cmp(&p))),
            _ => false,
        },
        Bool => c.eq_ignore_ascii_case(p),
        BinaryEquals => c == p,
        IpAddress | NotIpAddress => match (parse_ip(c), Cidr::parse(p)) {
            (Some(ip), Some(net)) => net.contains(&ip),
            _ => false,
        },
        _ => false,
    }
}

fn compare(base: BaseOperator, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use BaseOperator::*;
    let Some(o) = ord else { return false };
    match base {
        NumericEquals | NumericNotEquals | DateEquals | DateNotEquals => o == Equal,
        NumericLessThan | DateLessThan => o == Less,
        NumericLessThanEquals | DateLessThanEquals => o != Greater,
        NumericGreaterThan | DateGreaterThan => o == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// Prepare the policy values of a condition: resolve variables for string and ARN operators.
/// Values whose variable is absent are dropped (they match nothing).
fn policy_values<'a>(cond: &'a Condition, ctx: &Context<'_>) -> Result<Vec<PolicyVal<'a>>, Tri> {
    use BaseOperator::*;
    let mut out = Vec::with_capacity(cond.values.len());
    let mut unknown = None;
    for v in &cond.values {
        let wildcards = match cond.operator.base {
            _ if !has_variables(v) || !ctx.variables() => {
                out.push(PolicyVal::Text(v));
                continue;
            }
            StringLike | StringNotLike | ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => true,
            StringEquals | StringNotEquals | StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                false
            }
            _ => {
                out.push(PolicyVal::Text(v));
                continue;
            }
        };
        match resolve(v, ctx, wildcards) {
            Resolved::Pattern(t) => out.push(PolicyVal::Pattern(t)),
            Resolved::Absent(_) => {}
            Resolved::Unknown(k) => unknown = Some(Tri::unknown(&k)),
        }
    }
    match unknown {
        Some(u) => Err(u),
        None => Ok(out),
    }
}

/// Evaluate one condition entry (`operator -> key -> values`) against the context.
pub fn evaluate_condition(cond: &Condition, ctx: &Context<'_>) -> Tri {
    let op = cond.operator;
    let negated = op.base.is_negated();
    let lookup = ctx.get(&cond.key);
    if op.base == BaseOperator::Null {
        // `Null` tests presence: a key the request may or may not carry decides nothing.
        let present = match lookup {
            Lookup::Present(_) => true,
            Lookup::Absent => false,
            Lookup::Unknown => return Tri::unknown(&cond.key),
        };
        let hit = cond.values.iter().any(|v| {
            (v.eq_ignore_ascii_case("true") && !present)
                || (v.eq_ignore_ascii_case("false") && present)
        });
        return Tri::from_bool(hit);
    }
    let ctx_values: Vec<&str> = match lookup {
        Lookup::Present(v) => v.iter().collect(),
        // `...IfExists` holds when the key is absent, but an unknown key may be present
        // with a value that fails the test: every operator is undecided on it.
        Lookup::Unknown => return Tri::unknown(&cond.key),
        Lookup::Absent => {
            return Tri::from_bool(match (op.if_exists, op.qualifier) {
                (true, _) => true,
                (false, Some(SetQualifier::ForAllValues)) => true,
                (false, Some(SetQualifier::ForAnyValue)) => false,
                (false, None) => negated,
            })
        }
    };
    let pvals = match policy_values(cond, ctx) {
        Ok(p) => p,
        Err(t) => return t,
    };
    let any_p = |c: &str| pvals.iter().any(|p| positive_match(op.base, c, p));
    if op.qualifier.is_none() && matches!(lookup, Lookup::Present(Values::Many(_))) {
        // A multivalued key needs a set operator: without one the condition never matches,
        // negated operators included (AWS, as confirmed by the cloud-copilot simulator).
        return Tri::No;
    }
    let result = match (op.qualifier, negated) {
        (None, false) | (Some(SetQualifier::ForAnyValue), false) => {
            ctx_values.iter().any(|c| any_p(c))
        }
        (None, true) => !ctx_values.iter().any(|c| any_p(c)),
        (Some(SetQualifier::ForAnyValue), true) => ctx_values.iter().any(|c| !any_p(c)),
        (Some(SetQualifier::ForAllValues), false) => ctx_values.iter().all(|c| any_p(c)),
        (Some(SetQualifier::ForAllValues), true) => ctx_values.iter().all(|c| !any_p(c)),
    };
    Tri::from_bool(result)
}

/// Evaluate all condition entries of a statement (ANDed).
pub fn evaluate_conditions(conds: &[Condition], ctx: &Context<'_>) -> Tri {
    conds.iter().fold(Tri::Yes, |acc, c| {
        if acc == Tri::No {
            acc
        } else {
            acc.and(evaluate_condition(c, ctx))
        }
    })
}

/// Check a condition's values for its operator's type (numbers, dates, CIDRs, booleans).
/// Returns a message for each value that can never match.
pub fn invalid_values(cond: &Condition) -> Vec<String> {
    use BaseOperator::*;
    let mut bad = Vec::new();
    for v in &cond.values {
        let ok = match cond.operator.base {
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => parse_number(v).is_some(),
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => parse_date(v).is_some() || v.contains("${"),
            Bool | Null => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            IpAddress | NotIpAddress => Cidr::parse(v).is_some(),
            _ => true,
        };
        if !ok {
            bad.push(format!(
                "`{v}` is not a valid value for {}",
                cond.operator.base.name()
            ));
        }
    }
    bad
}
