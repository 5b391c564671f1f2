//! Continuous compliance: the report per company (`report`), notifications
//! of new non-compliance (`notify`) and evidence for auditors (`evidence`).
//!
//! Reports read the same observed model as plans (the organization, the
//! detective family's state, and what the detective services found through
//! their aggregators: `families::detective::compliance`) and the audit log;
//! they make no AWS call of their own besides storage (S3, when asked).

pub mod audit;
pub mod compare;
pub mod evidence;
pub mod history;
pub mod model;
pub mod notify;
pub mod render;
pub mod store;
pub mod webhook;
