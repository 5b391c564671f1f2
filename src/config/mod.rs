//! The landing-zone file: loading, validation, and the desired state it describes.

mod desired;
mod diagnostic;
mod include;
pub mod input;
pub mod model;
mod ou_tree;
pub mod regions;
pub mod schema;
pub mod source;
mod targets;
mod validate;

pub use desired::{Desired, OrganizationSettings, SsoUser};
pub use diagnostic::{closest, Diagnostic, Diagnostics};
pub use include::MAX_INCLUDED_FILES;
pub use model::ControlTowerMode;
pub use targets::resolve_target;
pub use validate::{Checker, SectionInput};

use std::path::Path;

/// Reads, parses and validates a landing-zone file. Every problem is reported at
/// once; nothing here talks to AWS.
pub fn load(path: &Path) -> Result<Desired, Diagnostics> {
    validate::load(path)
}
