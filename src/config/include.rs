//! `include:`: a configuration split across files (one per company, per
//! team), assembled into one document before validation, with every
//! position still pointing into the file it came from.
//!
//! Semantics:
//! - `include` is a list, in the main file only, of files, directories (their
//!   `*.yaml` and `*.yml` files, not recursive) or globs (`companies/*.yaml`),
//!   relative to the main file; matches are taken in name order.
//! - Mappings merge key by key at any depth (`organizational_units`,
//!   `policies`, `baselines`, a company's `children`, ...); `accounts` lists
//!   are concatenated in include order. Any other key set in two files
//!   (a scalar, a list, a policy's `targets`) is an error naming both places,
//!   except `version`, which included files may repeat.
//! - Relative template paths (`policies.*.template`, `baselines.*.template`)
//!   are relative to the file that declares them.
//! - Each file is bounded like the main file (size, nesting); at most
//!   [`MAX_INCLUDED_FILES`] files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::diagnostic::Diagnostic;
use super::model::ConfigFile;
use super::source::{join_key, Location, SourceMap};

/// Most files one configuration may include.
pub const MAX_INCLUDED_FILES: usize = 1000;

/// Keys whose values are paths relative to the file that declares them.
const PATH_FIELDS: &[(&str, &str)] = &[("policies", "template"), ("baselines", "template")];

/// The main file and its includes as one document.
pub(super) struct Assembled {
    /// The merged document.
    pub value: Value,
    /// Positions in every file.
    pub map: SourceMap,
    /// What the digest covers: every file's path and bytes, in order.
    pub digest_input: Vec<u8>,
}

fn at(file: &Path, line: usize) -> Location {
    Location {
        file: file.to_path_buf(),
        line,
        column: 1,
    }
}

fn problem(location: Location, field: &str, message: String, hint: &str) -> Diagnostic {
    Diagnostic {
        location,
        field: field.to_string(),
        message,
        hint: Some(hint.to_string()),
    }
}

/// Whether a pattern is a glob rather than a path.
fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The files one `include` entry names, in name order, or why it names none.
fn expand(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    if pattern.trim().is_empty() {
        return Err("an empty include entry".into());
    }
    let joined = base.join(pattern);
    if is_glob(pattern) {
        let text = joined.to_string_lossy().to_string();
        let paths =
            glob::glob(&text).map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
        let mut found: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(format!("`{pattern}` matches no file"));
        }
        return Ok(found);
    }
    if joined.is_dir() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&joined)
            .map_err(|e| format!("cannot read directory `{pattern}`: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_yaml(p))
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(format!("directory `{pattern}` holds no .yaml or .yml file"));
        }
        return Ok(found);
    }
    if joined.is_file() {
        return Ok(vec![joined]);
    }
    Err(format!("`{pattern}` is no file or directory"))
}

/// `accounts[3].email` of an included file is `accounts[3 + offset].email`.
fn shift_accounts(path: &str, offset: usize) -> String {
    let Some(rest) = path.strip_prefix("accounts[") else {
        return path.to_string();
    };
    let Some(close) = rest.find(']') else {
        return path.to_string();
    };
    match rest[..close].parse::<usize>() {
        Ok(i) => format!("accounts[{}]{}", i + offset, &rest[close + 1..]),
        Err(_) => path.to_string(),
    }
}

/// Makes relative template paths of an included file relative to the main
/// file's directory.
fn rebase_paths(value: &mut Value, rel_dir: &Path) {
    if rel_dir.as_os_str().is_empty() {
        return;
    }
    let Value::Mapping(top) = value else { return };
    for (section, field) in PATH_FIELDS {
        let Some(Value::Mapping(entries)) = top.get_mut(*section) else {
            continue;
        };
        for (_, entry) in entries.iter_mut() {
            if let Value::Mapping(entry) = entry {
                if let Some(Value::String(p)) = entry.get_mut(*field) {
                    if Path::new(p.as_str()).is_relative() {
                        *p = rel_dir.join(p.as_str()).to_string_lossy().to_string();
                    }
                }
            }
        }
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Merges `from` into `into`; returns the field paths set in both.
fn merge(into: &mut Mapping, from: Mapping, path: &str, conflicts: &mut Vec<String>) {
    for (key, value) in from {
        let field = join_key(path, &key_text(&key));
        match into.get_mut(&key) {
            None => {
                into.insert(key, value);
            }
            Some(existing) => match (existing, value) {
                (Value::Mapping(a), Value::Mapping(b)) => merge(a, b, &field, conflicts),
                (existing @ Value::Null, b @ Value::Mapping(_)) => *existing = b,
                (Value::Mapping(_), Value::Null) => {}
                (Value::Sequence(a), Value::Sequence(b)) if field == "accounts" => a.extend(b),
                (a, b) if field == "version" && *a == b => {}
                _ => conflicts.push(field),
            },
        }
    }
}

/// Assembles `main` (already read and parsed, with `include` entries) and
/// the files it includes. Problems are returned, each at its position.
pub(super) fn assemble(
    main: &Path,
    text: &str,
    map: SourceMap,
    includes: &[String],
) -> Result<Assembled, Vec<Diagnostic>> {
    let base = main.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut problems = Vec::new();
    let mut value: Value = serde_yaml::from_str(text).unwrap_or(Value::Null);
    if let Value::Mapping(m) = &mut value {
        m.remove("include");
    }
    let mut merged_map = map;
    let mut digest_input = text.as_bytes().to_vec();
    let main_canonical = main.canonicalize().unwrap_or_else(|_| main.to_path_buf());
    let mut seen: BTreeSet<PathBuf> = BTreeSet::from([main_canonical]);
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    for (i, pattern) in includes.iter().enumerate() {
        let field = format!("include[{i}]");
        match expand(&base, pattern) {
            Ok(found) => {
                for f in found {
                    let canonical = f.canonicalize().unwrap_or_else(|_| f.clone());
                    if seen.insert(canonical) {
                        files.push((i, f));
                    }
                }
            }
            Err(message) => problems.push(problem(
                merged_map.locate_value(&field),
                &field,
                message,
                "include lists files, directories (their .yaml files) or globs such as `companies/*.yaml`, relative to this file",
            )),
        }
    }
    if files.len() > MAX_INCLUDED_FILES {
        problems.push(problem(
            merged_map.locate("include"),
            "include",
            format!(
                "{} files are included; at most {MAX_INCLUDED_FILES} are read",
                files.len()
            ),
            "check the globs; a group's configuration fits in far fewer files",
        ));
        return Err(problems);
    }
    for (_, file) in files {
        let included_text = match super::input::read(&file) {
            Ok(t) => t,
            Err(e) => {
                let line = match e {
                    super::input::InputProblem::TooDeep { line } => line,
                    _ => 1,
                };
                problems.push(problem(at(&file, line), "", e.to_string(), e.hint()));
                continue;
            }
        };
        let included_map = SourceMap::parse(&file, &included_text);
        // Typed problems with their position in this file.
        let parsed: ConfigFile = match serde_yaml::from_str(&included_text) {
            Ok(p) => p,
            Err(e) => {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((1, 1));
                problems.push(problem(
                    Location {
                        file: file.clone(),
                        line,
                        column,
                    },
                    "",
                    format!("not a valid landing-zone file: {e}"),
                    "check the YAML syntax and the type of the value at this position",
                ));
                continue;
            }
        };
        if !parsed.include.is_empty() {
            problems.push(problem(
                included_map.locate("include"),
                "include",
                "only the main file may include others".into(),
                "list every file in the main file's `include`",
            ));
        }
        let mut part: Value = serde_yaml::from_str(&included_text).unwrap_or(Value::Null);
        let rel_dir = file
            .parent()
            .map(|p| p.strip_prefix(&base).unwrap_or(p).to_path_buf())
            .unwrap_or_default();
        rebase_paths(&mut part, &rel_dir);
        let part = match part {
            Value::Mapping(m) => m,
            Value::Null => Mapping::new(),
            _ => {
                problems.push(problem(
                    at(&file, 1),
                    "",
                    "an included file is a mapping of top-level keys".into(),
                    "write it like the main file, e.g. `organizational_units:` or `accounts:`",
                ));
                continue;
            }
        };
        let offset = match &value {
            Value::Mapping(m) => match m.get("accounts") {
                Some(Value::Sequence(s)) => s.len(),
                _ => 0,
            },
            _ => 0,
        };
        let mut conflicts = Vec::new();
        if !matches!(value, Value::Mapping(_)) {
            value = Value::Mapping(Mapping::new());
        }
        if let Value::Mapping(into) = &mut value {
            merge(into, part, "", &mut conflicts);
        }
        for field in conflicts {
            let first = merged_map.locate(&field);
            problems.push(problem(
                included_map.locate(&field),
                &field,
                format!("`{field}` is already set at {first}"),
                "set each key in one file: mappings merge across files and `accounts` lists are joined, other values are not",
            ));
        }
        digest_input.push(0);
        digest_input.extend(file.to_string_lossy().as_bytes());
        digest_input.push(0);
        digest_input.extend(included_text.as_bytes());
        merged_map.absorb(included_map, |p| shift_accounts(p, offset));
    }
    if problems.is_empty() {
        Ok(Assembled {
            value,
            map: merged_map,
            digest_input,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_paths_of_an_included_file_follow_the_earlier_ones() {
        assert_eq!(shift_accounts("accounts[2].email", 5), "accounts[7].email");
        assert_eq!(shift_accounts("accounts", 5), "accounts");
        assert_eq!(shift_accounts("policies.a", 5), "policies.a");
    }

    #[test]
    fn mappings_merge_accounts_join_and_other_keys_conflict() {
        let mut a: Mapping = serde_yaml::from_str(
            "version: 1\norganizational_units:\n  Companies:\n    children:\n      A: {}\naccounts: [{name: a}]\nprune: false\n",
        )
        .unwrap();
        let b: Mapping = serde_yaml::from_str(
            "version: 1\norganizational_units:\n  Companies:\n    children:\n      B: {}\naccounts: [{name: b}]\nprune: true\n",
        )
        .unwrap();
        let mut conflicts = Vec::new();
        merge(&mut a, b, "", &mut conflicts);
        assert_eq!(conflicts, vec!["prune".to_string()]);
        let companies = &a["organizational_units"]["Companies"]["children"];
        assert!(companies.get("A").is_some() && companies.get("B").is_some());
        assert_eq!(a["accounts"].as_sequence().unwrap().len(), 2);
    }
}
