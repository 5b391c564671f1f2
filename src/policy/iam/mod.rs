//! IAM policy language for organization policies (SCPs and RCPs): model, parser, grammar
//! rules and an offline evaluator.
//!
//! - [`PolicyDocument::parse`] / [`parse_lenient`]: JSON text to model, errors located as
//!   `Statement[2].Condition.StringEquals`;
//! - [`lint`] / [`check`]: per-type grammar rules ([`PolicyKind`]) as [`Finding`]s;
//! - [`evaluate`]: decide a [`Request`] against a [`Hierarchy`] of attached policies.
//!
//! The module refers to its parts only through `super::`/`self::` paths so it can be mounted
//! anywhere in a crate.

pub mod analysis;
pub mod condition;
pub mod context;
pub mod document;
pub mod error;
pub mod evaluate;
pub mod matching;
pub mod rules;
pub mod values;
pub mod variables;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod library_tests;

#[cfg(test)]
mod proptests;

pub use self::analysis::{
    check_region_restrictions, deny_summaries, region_restrictions, DenySummary, RegionChecks,
    RegionRestriction,
};
pub use self::condition::{BaseOperator, Operator, SetQualifier, Tri};
pub use self::context::{ContextValue, MissingKeys, Request};
pub use self::document::{
    parse_lenient, parse_value, Condition, Effect, ElementList, PolicyDocument, Principal,
    PrincipalValue, Statement,
};
pub use self::error::{Finding, Location, ParseError, Severity};
pub use self::evaluate::{
    evaluate, is_service_linked_role, AllowReason, DenyCause, Evaluation, Hierarchy, Level,
    LevelKind, LevelRef, NamedPolicy, StatementHit, StatementRef, Verdict,
};
pub use self::rules::{check, lint, lint_value, PolicyKind};
