//! Showing a plan: human text, JSON, Markdown. Renderers only read the plan.

mod human;
mod markdown;

pub use human::{human, subject_line};
pub use markdown::{markdown, markdown_refusal};

use crate::plan::Plan;

/// The plan as the versioned JSON document (the same as a saved plan).
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("plans serialize")
}

/// Whether output should be coloured: a terminal and no NO_COLOR.
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
