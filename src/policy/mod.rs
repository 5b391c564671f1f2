//! Organization policies: templates, limits and document handling.

pub mod document;
pub mod effective;
pub mod guard;
pub mod iam;
pub mod limits;
pub mod lint;
pub mod replay;
pub mod template;
