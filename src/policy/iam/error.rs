//! Error and finding types shared by the parser, the grammar rules and the evaluator.

use std::fmt;

/// How serious a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy would be rejected by AWS or is certainly wrong.
    Error,
    /// The policy is accepted but probably not what was meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Where in a policy document something was found.
///
/// Displays as `Statement[2].Condition.StringEquals`, `Version`, or `(document)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    /// Index of the statement (0-based, in document order), if the finding is inside one.
    pub statement: Option<usize>,
    /// Dotted element path inside the statement or document, e.g. `Condition.StringEquals`.
    pub element: Option<String>,
    /// Line and column (1-based) for JSON syntax errors.
    pub line_col: Option<(usize, usize)>,
}

impl Location {
    /// The whole document.
    pub fn document() -> Self {
        Self::default()
    }

    /// A top-level element such as `Version`.
    pub fn top(element: &str) -> Self {
        Self {
            statement: None,
            element: Some(element.to_string()),
            line_col: None,
        }
    }

    /// An element inside statement `index` (`element` may be empty for the statement itself).
    pub fn statement(index: usize, element: &str) -> Self {
        Self {
            statement: Some(index),
            element: (!element.is_empty()).then(|| element.to_string()),
            line_col: None,
        }
    }

    /// This location with `.child` appended to its element path.
    pub fn child(&self, child: &str) -> Self {
        let element = match &self.element {
            Some(e) => format!("{e}.{child}"),
            None => child.to_string(),
        };
        Self {
            statement: self.statement,
            element: Some(element),
            line_col: self.line_col,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.statement, &self.element) {
            (Some(i), Some(e)) => write!(f, "Statement[{i}].{e}"),
            (Some(i), None) => write!(f, "Statement[{i}]"),
            (None, Some(e)) => f.write_str(e),
            (None, None) => match self.line_col {
                Some((l, c)) => write!(f, "line {l} column {c}"),
                None => f.write_str("(document)"),
            },
        }
    }
}

/// One problem found in a policy: by the parser or by the per-type grammar rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `scp-principal`, `rcp-not-deny`, `condition-operator-unknown`.
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Where in the document.
    pub location: Location,
    /// Human-readable explanation.
    pub message: String,
}

impl Finding {
    /// An error-severity finding.
    pub fn error(rule: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Error,
            location,
            message: message.into(),
        }
    }

    /// A warning-severity finding.
    pub fn warning(rule: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Warning,
            location,
            message: message.into(),
        }
    }

    /// True when this finding is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} [{}]",
            self.severity, self.location, self.message, self.rule
        )
    }
}

/// A policy document could not be parsed into the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_errors(.errors))]
pub struct ParseError {
    /// Every error found (never empty), in document order.
    pub errors: Vec<Finding>,
}

fn render_errors(errors: &[Finding]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.location, e.message))
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_display() {
        assert_eq!(
            Location::statement(2, "Condition")
                .child("StringEquals")
                .to_string(),
            "Statement[2].Condition.StringEquals"
        );
        assert_eq!(Location::statement(0, "").to_string(), "Statement[0]");
        assert_eq!(Location::top("Version").to_string(), "Version");
        assert_eq!(Location::document().to_string(), "(document)");
    }

    #[test]
    fn parse_error_display_lists_all() {
        let e = ParseError {
            errors: vec![
                Finding::error("a", Location::statement(1, "Effect"), "bad"),
                Finding::error("b", Location::top("Version"), "worse"),
            ],
        };
        assert_eq!(e.to_string(), "Statement[1].Effect: bad; Version: worse");
    }
}
