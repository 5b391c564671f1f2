//! Organization policies: templates, limits and document handling.

pub mod document;
pub mod iam;
pub mod limits;
pub mod template;
