//! IAM policy language for organization policies (SCPs and RCPs): model, parser, grammar
//! rules and an offline evaluator.
//!
//! - [`PolicyDocument::parse`] / [`parse_lenient`]: JSON text to model, errors located as
//!   `Statement[2].Condition.StringEquals`;
//! - [`lint`] / [`check`]: per-type grammar rules ([`PolicyKind`]) as [`Finding`]s;
//! - [`evaluate()`]: decide a [`Request`] against a [`Hierarchy`] of attached policies.
//!
//! - [`check_region_restrictions`] / [`deny_summaries`]: region-restriction lint and
//!   readable summaries of Deny statements.
//!
//! ```ignore
//! let doc = PolicyDocument::parse(text)?;                 // Err(ParseError) lists every error
//! let findings = lint(text, PolicyKind::Scp);             // parse errors + grammar rules
//! let h = Hierarchy { kind: PolicyKind::Scp, management_account: Some(mgmt.into()),
//!     levels: vec![Level { kind: LevelKind::Root, name: "Root".into(),
//!                          policies: vec![NamedPolicy { name: "FullAWSAccess".into(), document: doc }] },
//!                  /* OUs outermost first, then the account */] };
//! let req = Request { account, principal_arn, action: "ec2:RunInstances".into(),
//!     resource: "*".into(), region: "us-east-1".into(),
//!     missing_keys: MissingKeys::Absent, ..Default::default() };
//! println!("{}", evaluate(&h, &req).verdict);
//! // "denied by policy region statement DenyOutsideAllowedRegions at level OU Companies/Foo"
//! ```
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
    check_region_restrictions, deny_summaries, lockouts, region_restrictions, DenySummary, Lockout,
    RegionChecks, RegionRestriction,
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
