//! OU paths: `Companies/SompoJapan/prod`. Names repeat under different
//! parents, so a path, never a name, identifies an OU.

use serde::{Deserialize, Serialize};

/// Maximum OU nesting below the root that AWS allows.
pub const MAX_OU_DEPTH: usize = 5;

/// A slash-separated OU path from the root; the empty path is the root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub struct OuPath(Vec<String>);

/// Why a string is not an OU path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OuPathError {
    /// `a//b` or a trailing slash.
    #[error("OU path {0:?} has an empty segment")]
    EmptySegment(String),
}

impl OuPath {
    /// The root.
    pub fn root() -> OuPath {
        OuPath(Vec::new())
    }

    /// Parses `A/B/C`; the empty string is the root.
    pub fn parse(text: &str) -> Result<OuPath, OuPathError> {
        if text.is_empty() {
            return Ok(OuPath::root());
        }
        let segments: Vec<String> = text.split('/').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return Err(OuPathError::EmptySegment(text.to_string()));
        }
        Ok(OuPath(segments))
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of OU levels below the root.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// The last segment (the OU's own name); empty for the root.
    pub fn name(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or("")
    }

    /// The parent path, None for the root.
    pub fn parent(&self) -> Option<OuPath> {
        if self.is_root() {
            None
        } else {
            Some(OuPath(self.0[..self.0.len() - 1].to_vec()))
        }
    }

    /// The path of a child named `name`.
    pub fn child(&self, name: &str) -> OuPath {
        let mut segments = self.0.clone();
        segments.push(name.to_string());
        OuPath(segments)
    }

    /// The same path with its last segment renamed.
    pub fn with_name(&self, name: &str) -> OuPath {
        self.parent().unwrap_or_default().child(name)
    }

    /// Segments from the top.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Whether `self` equals `other` or lies below it.
    pub fn starts_with(&self, other: &OuPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The same path with the prefix `from` replaced by `to`; unchanged when
    /// `self` does not lie at or below `from` (for OU renames).
    pub fn rebase(&self, from: &OuPath, to: &OuPath) -> OuPath {
        if !self.starts_with(from) {
            return self.clone();
        }
        let mut segments = to.0.clone();
        segments.extend_from_slice(&self.0[from.depth()..]);
        OuPath(segments)
    }

    /// Every ancestor from the top down, excluding the root and `self`.
    pub fn ancestors(&self) -> Vec<OuPath> {
        (1..self.0.len())
            .map(|n| OuPath(self.0[..n].to_vec()))
            .collect()
    }
}

impl std::fmt::Display for OuPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_root() {
            f.write_str("Root")
        } else {
            f.write_str(&self.0.join("/"))
        }
    }
}

impl TryFrom<String> for OuPath {
    type Error = OuPathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == "Root" {
            return Ok(OuPath::root());
        }
        OuPath::parse(&value)
    }
}

impl From<OuPath> for String {
    fn from(value: OuPath) -> Self {
        value.to_string()
    }
}

/// Matches an OU path against a glob: `*` matches one segment (or part of one),
/// `**` any number of segments.
pub fn glob_matches(pattern: &str, path: &OuPath) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
    match_segments(&pattern, &segments)
}

fn match_segments(pattern: &[&str], segments: &[&str]) -> bool {
    match pattern.split_first() {
        None => segments.is_empty(),
        Some((&"**", rest)) => {
            (0..=segments.len()).any(|skip| match_segments(rest, &segments[skip..]))
        }
        Some((first, rest)) => match segments.split_first() {
            Some((segment, remaining)) => {
                wildcard_matches(first, segment) && match_segments(rest, remaining)
            }
            None => false,
        },
    }
}

/// `*` (any run) and `?` (one character) inside one segment.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> OuPath {
        OuPath::parse(text).unwrap()
    }

    #[test]
    fn parses_and_navigates() {
        let p = path("Companies/SompoJapan/prod");
        assert_eq!(p.depth(), 3);
        assert_eq!(p.name(), "prod");
        assert_eq!(p.parent().unwrap(), path("Companies/SompoJapan"));
        assert_eq!(
            p.ancestors(),
            vec![path("Companies"), path("Companies/SompoJapan")]
        );
        assert!(p.starts_with(&path("Companies")));
        assert!(!path("CompaniesX").starts_with(&path("Companies")));
        assert_eq!(
            OuPath::parse("a//b"),
            Err(OuPathError::EmptySegment("a//b".into()))
        );
        assert_eq!(OuPath::root().to_string(), "Root");
        assert_eq!(
            p.rebase(&path("Companies"), &path("Groups/Co")),
            path("Groups/Co/SompoJapan/prod")
        );
        assert_eq!(p.rebase(&path("Other"), &path("X")), p);
    }

    #[test]
    fn globs_match_per_segment() {
        assert!(glob_matches("Companies/*/prod", &path("Companies/A/prod")));
        assert!(!glob_matches("Companies/*/prod", &path("Companies/A/dev")));
        assert!(!glob_matches(
            "Companies/*/prod",
            &path("Companies/A/B/prod")
        ));
        assert!(glob_matches(
            "Companies/**/prod",
            &path("Companies/A/B/prod")
        ));
        assert!(glob_matches("Companies/**", &path("Companies")));
        assert!(glob_matches("Comp*/S?mpo*", &path("Companies/SompoJapan")));
    }
}
