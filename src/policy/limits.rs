//! AWS limits on organization policies, as settings with today's values as defaults.

use crate::model::PolicyKind;

/// Size and attachment limits per policy type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Maximum SCP size in characters (10,240 since 2026-05-15; was 5,120).
    pub scp_max_size: usize,
    /// Maximum SCPs per target (10 since 2026-05-15; was 5), FullAWSAccess and
    /// Control Tower's guardrails included.
    pub scp_max_attachments: usize,
    /// Maximum RCP size in characters.
    pub rcp_max_size: usize,
    /// Maximum RCPs per target.
    pub rcp_max_attachments: usize,
    /// Maximum tag policy size in characters.
    pub tag_max_size: usize,
    /// Maximum tag policies per target.
    pub tag_max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            scp_max_size: 10_240,
            scp_max_attachments: 10,
            rcp_max_size: 5_120,
            rcp_max_attachments: 5,
            tag_max_size: 10_000,
            tag_max_attachments: 10,
        }
    }
}

impl Limits {
    /// Maximum document size for a type.
    pub fn max_size(&self, kind: PolicyKind) -> usize {
        match kind {
            PolicyKind::Scp => self.scp_max_size,
            PolicyKind::Rcp => self.rcp_max_size,
            PolicyKind::Tag => self.tag_max_size,
        }
    }

    /// Maximum policies of a type on one target.
    pub fn max_attachments(&self, kind: PolicyKind) -> usize {
        match kind {
            PolicyKind::Scp => self.scp_max_attachments,
            PolicyKind::Rcp => self.rcp_max_attachments,
            PolicyKind::Tag => self.tag_max_attachments,
        }
    }
}
