//! Reading a landing-zone file before any YAML parser sees it: bounded in
//! size and nesting so that a hostile or broken file is rejected in
//! milliseconds (serde_yaml takes tens of seconds and gigabytes on a deeply
//! nested or huge document), with a precise message for the usual mistakes:
//! a byte-order mark (accepted), a binary file, a file saved as Shift_JIS.

use std::path::Path;

/// Largest landing-zone file lzctl reads: a group of 350 accounts takes
/// about 60 KB, so this leaves room for fifteen times that.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// Deepest nesting of mappings and lists accepted; the deepest real key
/// path (organizational_units, five OU levels, children, tags) is about 15.
pub const MAX_NESTING: usize = 64;

/// Why a file cannot be read as a landing-zone file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputProblem {
    /// Cannot be read.
    #[error("cannot read the configuration: {0}")]
    Unreadable(String),
    /// Too large.
    #[error(
        "the file is {size} bytes; a landing-zone file may be at most {MAX_CONFIG_BYTES} bytes"
    )]
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// Contains NUL bytes.
    #[error("this is a binary file, not YAML text")]
    Binary,
    /// Not UTF-8.
    #[error("the file is not UTF-8 text (invalid byte at offset {offset}){}", if *.looks_like_shift_jis { "; it looks like Shift_JIS" } else { "" })]
    NotUtf8 {
        /// First invalid byte.
        offset: usize,
        /// Whether the bytes look like Shift_JIS.
        looks_like_shift_jis: bool,
    },
    /// Nested too deep.
    #[error("line {line} is nested more than {MAX_NESTING} levels deep")]
    TooDeep {
        /// 1-based line.
        line: usize,
    },
}

impl InputProblem {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            InputProblem::Unreadable(_) => "pass the landing-zone file with -c FILE",
            InputProblem::TooLarge { .. } => "check that this is the landing-zone file; a group's whole landing zone fits in far less",
            InputProblem::Binary => "pass the landing-zone YAML file with -c FILE",
            InputProblem::NotUtf8 { .. } => "save the file as UTF-8 (for example `iconv -f SHIFT_JIS -t UTF-8`)",
            InputProblem::TooDeep { .. } => "a landing-zone file is a few levels deep; look for unbalanced [ or { or a runaway list",
        }
    }
}

/// Reads `path` as bounded UTF-8 text without a byte-order mark.
pub fn read(path: &Path) -> Result<String, InputProblem> {
    let size = std::fs::metadata(path)
        .map_err(|e| InputProblem::Unreadable(e.to_string()))?
        .len();
    if size > MAX_CONFIG_BYTES as u64 {
        return Err(InputProblem::TooLarge { size });
    }
    let bytes = std::fs::read(path).map_err(|e| InputProblem::Unreadable(e.to_string()))?;
    text_of(bytes)
}

/// The checks of [`read`] on bytes already in memory.
pub fn text_of(bytes: Vec<u8>) -> Result<String, InputProblem> {
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(InputProblem::TooLarge {
            size: bytes.len() as u64,
        });
    }
    if bytes.contains(&0) {
        return Err(InputProblem::Binary);
    }
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        InputProblem::NotUtf8 {
            offset,
            looks_like_shift_jis: looks_like_shift_jis(&e.as_bytes()[offset..]),
        }
    })?;
    check_nesting(&text)?;
    Ok(text)
}

/// Shift_JIS double-byte characters: a lead byte 0x81-0x9F or 0xE0-0xEF
/// followed by a trail byte 0x40-0xFC (not 0x7F).
fn looks_like_shift_jis(bytes: &[u8]) -> bool {
    match bytes {
        [lead, trail, ..] => {
            (matches!(lead, 0x81..=0x9F) || matches!(lead, 0xE0..=0xEF))
                && matches!(trail, 0x40..=0xFC)
                && *trail != 0x7F
        }
        _ => false,
    }
}

/// A cheap bound on nesting: flow collections (`[`, `{`) outside quotes and
/// comments, plus block indentation levels and `- ` items on one line.
fn check_nesting(text: &str) -> Result<(), InputProblem> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if flow == 0 && !rest.is_empty() && !rest.starts_with('#') {
            while indents.last().is_some_and(|top| *top >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let mut dashes = 0;
        let mut probe = rest;
        while let Some(after) = probe
            .strip_prefix("- ")
            .or_else(|| probe.strip_prefix("? "))
        {
            dashes += 1;
            probe = after.trim_start_matches(' ');
        }
        flow = scan_flow(rest, flow);
        if indents.len() + dashes + flow > MAX_NESTING {
            return Err(InputProblem::TooDeep { line: number + 1 });
        }
    }
    Ok(())
}

/// Flow depth after one line, skipping quoted text and comments.
fn scan_flow(line: &str, mut depth: usize) -> usize {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '#' if previous == ' ' || previous == '\t' => break,
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        previous = c;
        if depth > MAX_NESTING {
            break;
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let text = text_of(b"\xEF\xBB\xBFversion: 1\n".to_vec()).unwrap();
        assert_eq!(text, "version: 1\n");
    }

    #[test]
    fn shift_jis_is_named() {
        let mut bytes = b"version: 1\n# ".to_vec();
        bytes.extend([0x89, 0xEF, 0x8E, 0xD0]); // 会社 in Shift_JIS
        let err = text_of(bytes).unwrap_err();
        assert!(
            matches!(
                err,
                InputProblem::NotUtf8 {
                    looks_like_shift_jis: true,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("Shift_JIS"));
    }

    #[test]
    fn binary_files_are_named() {
        assert_eq!(
            text_of(vec![0x7f, b'E', b'L', b'F', 0, 1]),
            Err(InputProblem::Binary)
        );
    }

    #[test]
    fn deep_flow_nesting_is_rejected_at_once() {
        let text = format!("x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        assert_eq!(
            text_of(text.into_bytes()),
            Err(InputProblem::TooDeep { line: 1 })
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn deep_block_nesting_is_rejected() {
        let text = format!("x:\n{}y\n", "- ".repeat(200));
        assert_eq!(
            text_of(text.into_bytes()),
            Err(InputProblem::TooDeep { line: 2 })
        );
        let indented: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(matches!(
            text_of(indented.into_bytes()),
            Err(InputProblem::TooDeep { .. })
        ));
    }

    #[test]
    fn brackets_in_quotes_and_comments_do_not_count() {
        let text = format!(
            "a: \"{}\" # {}\nb: '{}'\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100)
        );
        assert!(text_of(text.into_bytes()).is_ok());
    }

    #[test]
    fn the_examples_pass() {
        for example in [
            "examples/group/landing-zone.yaml",
            "examples/minimal/landing-zone.yaml",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(example);
            read(&path).unwrap_or_else(|e| panic!("{example}: {e}"));
        }
    }
}
