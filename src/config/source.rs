//! Where each key and value of a YAML document sits in its file.
//!
//! serde_yaml gives typed values but no positions for them; validation needs a
//! `file:line:column` for every field it complains about. This module walks the
//! YAML event stream once and records the position of every node by its path
//! (`accounts[3].email`, `organizational_units.Companies.children.Foo`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A position in a source file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The file the position refers to.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Positions of keys and values, addressed by field path: of one YAML file,
/// or of a file and the files it includes (each position names its file).
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<PathBuf>,
    keys: HashMap<String, (usize, usize, usize)>,
    values: HashMap<String, (usize, usize, usize)>,
    /// Keys that appear twice in one mapping, with the path of the second one.
    pub duplicate_keys: Vec<String>,
}

impl SourceMap {
    /// Builds the map from YAML text. Syntax errors are left to serde_yaml,
    /// which reports them with a position; this returns what it saw until then.
    pub fn parse(file: &Path, text: &str) -> SourceMap {
        let mut recorder = Recorder {
            map: SourceMap {
                files: vec![file.to_path_buf()],
                ..SourceMap::default()
            },
            stack: Vec::new(),
        };
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut recorder, false);
        recorder.map
    }

    /// The (first) file this map describes.
    pub fn file(&self) -> &Path {
        self.files
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new(""))
    }

    /// Location of the key of `path` (for mapping entries) or of its value.
    /// Falls back to the closest recorded ancestor, then to line 1.
    pub fn locate(&self, path: &str) -> Location {
        let mut probe = path.to_string();
        loop {
            if let Some(&(file, line, column)) =
                self.keys.get(&probe).or_else(|| self.values.get(&probe))
            {
                return self.at(file, line, column);
            }
            match parent_path(&probe) {
                Some(parent) => probe = parent,
                None => return self.at(0, 1, 1),
            }
        }
    }

    /// Location of the value of `path` (the item after the colon).
    pub fn locate_value(&self, path: &str) -> Location {
        match self.values.get(path) {
            Some(&(file, line, column)) => self.at(file, line, column),
            None => self.locate(path),
        }
    }

    /// Whether `path` is recorded (as a key or a value).
    pub fn contains(&self, path: &str) -> bool {
        self.keys.contains_key(path) || self.values.contains_key(path)
    }

    /// Adds the positions of another file's map, each path passed through
    /// `rename` (an included file's `accounts[0]` is the merged file's
    /// `accounts[n]`). Paths already recorded keep their first position.
    pub fn absorb(&mut self, other: SourceMap, rename: impl Fn(&str) -> String) {
        let offset = self.files.len();
        self.files.extend(other.files);
        for (path, (file, line, column)) in other.keys {
            self.keys
                .entry(rename(&path))
                .or_insert((file + offset, line, column));
        }
        for (path, (file, line, column)) in other.values {
            self.values
                .entry(rename(&path))
                .or_insert((file + offset, line, column));
        }
        self.duplicate_keys
            .extend(other.duplicate_keys.iter().map(|p| rename(p)));
    }

    fn at(&self, file: usize, line: usize, column: usize) -> Location {
        Location {
            file: self.files.get(file).cloned().unwrap_or_default(),
            line,
            column,
        }
    }
}

/// The path one level up: `a.b[2]` → `a.b`, `a.b` → `a`.
fn parent_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(open) = path.rfind('[') {
            return Some(path[..open].to_string());
        }
    }
    match path.rfind('.') {
        Some(dot) => Some(path[..dot].to_string()),
        None => Some(String::new()),
    }
}

/// Joins a mapping key onto a path. Keys with dots are quoted so paths stay unambiguous.
pub fn join_key(path: &str, key: &str) -> String {
    let key = if key.contains('.') || key.contains('[') {
        format!("\"{key}\"")
    } else {
        key.to_string()
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a sequence index onto a path.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

enum Frame {
    Mapping {
        path: String,
        pending_key: Option<String>,
        seen: std::collections::HashSet<String>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

struct Recorder {
    map: SourceMap,
    stack: Vec<Frame>,
}

impl Recorder {
    /// Decides the path of the node starting now, recording key positions on the way.
    /// Returns None when the node is a mapping key (scalar keys only are tracked).
    fn next_node_path(&mut self, ev: &Event, mark: Marker) -> Option<String> {
        let pos = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Sequence { path, next }) => {
                let p = join_index(path, *next);
                *next += 1;
                Some(p)
            }
            Some(Frame::Mapping {
                path,
                pending_key,
                seen,
            }) => match pending_key.take() {
                Some(key) => Some(join_key(path, &key)),
                None => {
                    let key = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => String::from("?"),
                    };
                    let full = join_key(path, &key);
                    if !seen.insert(key.clone()) {
                        self.map.duplicate_keys.push(full.clone());
                    } else {
                        self.map.keys.insert(full, (0, pos.0, pos.1));
                    }
                    *pending_key = Some(key);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = (mark.line(), mark.col() + 1);
        match &ev {
            Event::Scalar(..) | Event::Alias(..) => {
                if let Some(path) = self.next_node_path(&ev, mark) {
                    self.map.values.entry(path).or_insert((0, pos.0, pos.1));
                }
            }
            Event::MappingStart(..) => {
                let path = self.next_node_path(&ev, mark).unwrap_or_default();
                self.map
                    .values
                    .entry(path.clone())
                    .or_insert((0, pos.0, pos.1));
                self.stack.push(Frame::Mapping {
                    path,
                    pending_key: None,
                    seen: Default::default(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.next_node_path(&ev, mark).unwrap_or_default();
                self.map
                    .values
                    .entry(path.clone())
                    .or_insert((0, pos.0, pos.1));
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version: 1\norganization:\n  home_region: ap-northeast-1\naccounts:\n  - name: a\n    email: a@example.com\n  - name: b\n    email: b@example.com\n";

    #[test]
    fn records_keys_and_sequence_items_with_one_based_positions() {
        let map = SourceMap::parse(Path::new("lz.yaml"), DOC);
        assert_eq!(map.locate("version").line, 1);
        let region = map.locate("organization.home_region");
        assert_eq!((region.line, region.column), (3, 3));
        let value = map.locate_value("organization.home_region");
        assert_eq!((value.line, value.column), (3, 16));
        let email = map.locate("accounts[1].email");
        assert_eq!((email.line, email.column), (8, 5));
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let map = SourceMap::parse(Path::new("lz.yaml"), DOC);
        assert_eq!(map.locate("accounts[1].tags.team").line, 7);
        assert_eq!(map.locate("nothing.here").line, 1);
    }

    #[test]
    fn reports_duplicate_keys() {
        let map = SourceMap::parse(Path::new("lz.yaml"), "a: 1\nb: 2\na: 3\n");
        assert_eq!(map.duplicate_keys, vec!["a".to_string()]);
    }
}
