//! Validation findings: what is wrong, where, and what to do about it.

use serde::Serialize;

use super::source::Location;

/// One problem found in the configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where it is.
    pub location: Location,
    /// The field path (`accounts[3].email`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: {}", self.location, self.message)?;
        if !self.field.is_empty() {
            write!(f, " (field `{}`)", self.field)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// All problems of one configuration, in file order.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("{} problem(s) in the configuration", .diagnostics.len())]
pub struct Diagnostics {
    /// The problems.
    pub diagnostics: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Renders every problem, one block each, and a count.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.to_string());
            out.push('\n');
        }
        out.push_str(&format!(
            "{} problem(s) found; nothing was sent to AWS\n",
            self.diagnostics.len()
        ));
        out
    }
}

/// The closest candidate to a misspelled word, for `did you mean` hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
