//! Policy templates: a JSON document with typed parameters.
//!
//! A template file is either a plain policy (top-level `Statement`) or
//! `{"lzctl_template": 1, "description", "policy_type", "parameters", "document"}`.
//! Placeholders live in JSON strings so the file itself stays valid JSON:
//! - `"{{name}}"` becomes the parameter's typed value; inside an array a list is spliced in;
//! - `"{{include:data/file.json}}"` becomes that file's JSON (path relative to the template);
//! - `{{name}}` inside a longer string interpolates a string or integer;
//! - an object key `"{{if:flag}}"` / `"{{unless:flag}}"` merges its object value into the
//!   enclosing object when the condition holds; an array element that is an object
//!   with that single key is replaced by its value when it holds and dropped otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// A parameter's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// A string.
    String,
    /// A list of strings.
    StringList,
    /// true or false.
    Bool,
    /// A whole number.
    Integer,
    /// A list of region names, or the word `governed`.
    Regions,
}

impl ParamType {
    fn describe(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::StringList => "a list of strings",
            ParamType::Bool => "true or false",
            ParamType::Integer => "an integer",
            ParamType::Regions => "a list of regions or the word `governed`",
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// What it means.
    #[serde(default)]
    pub description: String,
    /// Value when the config gives none; without it the parameter is required.
    pub default: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    lzctl_template: u32,
    #[serde(default)]
    description: String,
    policy_type: Option<String>,
    #[serde(default)]
    parameters: BTreeMap<String, ParamSpec>,
    document: Value,
}

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it was read from.
    pub path: PathBuf,
    /// What it is for.
    pub description: String,
    /// The policy type it declares (`scp`, `rcp`, `tag`), if any.
    pub policy_type: Option<String>,
    /// Declared parameters.
    pub parameters: BTreeMap<String, ParamSpec>,
    document: Value,
}

/// Why a template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        cause: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Json {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// The wrapper object is malformed.
    #[error("{path}: not a valid lzctl template: {message}")]
    Shape {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A placeholder names no declared parameter.
    #[error("{path}: placeholder {{{{{name}}}}} names no declared parameter")]
    UndeclaredPlaceholder {
        /// File.
        path: PathBuf,
        /// Placeholder name.
        name: String,
    },
    /// A placeholder's value cannot go where it stands.
    #[error("{path}: parameter `{name}` ({kind}) cannot be used inside a string")]
    NotInterpolable {
        /// File.
        path: PathBuf,
        /// Parameter.
        name: String,
        /// Its type.
        kind: &'static str,
    },
}

/// A problem with the parameters a config passes to a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamProblem {
    /// A required parameter is not given.
    Missing {
        /// Parameter.
        name: String,
        /// Its type.
        expected: &'static str,
    },
    /// A parameter has the wrong type.
    Mistyped {
        /// Parameter.
        name: String,
        /// Its type.
        expected: &'static str,
    },
    /// The config gives a parameter the template does not declare.
    Unknown {
        /// Parameter.
        name: String,
        /// Declared names.
        declared: Vec<String>,
    },
}

impl Template {
    /// Reads a template file.
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|cause| TemplateError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| json_error(path, &e))?;
        if value.get("lzctl_template").is_none() {
            return Ok(Template {
                path: path.to_path_buf(),
                description: String::new(),
                policy_type: None,
                parameters: BTreeMap::new(),
                document: value,
            });
        }
        let file: TemplateFile =
            serde_json::from_value(value).map_err(|e| TemplateError::Shape {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if file.lzctl_template != 1 {
            return Err(TemplateError::Shape {
                path: path.to_path_buf(),
                message: format!(
                    "lzctl_template {} is not supported (only 1)",
                    file.lzctl_template
                ),
            });
        }
        Ok(Template {
            path: path.to_path_buf(),
            description: file.description,
            policy_type: file.policy_type,
            parameters: file.parameters,
            document: file.document,
        })
    }

    /// Checks the parameters a config gives and resolves them, defaults included.
    /// `governed` is what the word `governed` means for `regions` parameters.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, Value>,
        governed: &[String],
    ) -> Result<BTreeMap<String, Value>, Vec<ParamProblem>> {
        let mut problems = Vec::new();
        let mut resolved = BTreeMap::new();
        for name in given.keys() {
            if !self.parameters.contains_key(name) {
                problems.push(ParamProblem::Unknown {
                    name: name.clone(),
                    declared: self.parameters.keys().cloned().collect(),
                });
            }
        }
        for (name, spec) in &self.parameters {
            let raw = match given.get(name).or(spec.default.as_ref()) {
                Some(v) => v,
                None => {
                    problems.push(ParamProblem::Missing {
                        name: name.clone(),
                        expected: spec.kind.describe(),
                    });
                    continue;
                }
            };
            match coerce(spec.kind, raw, governed) {
                Some(v) => {
                    resolved.insert(name.clone(), v);
                }
                None => problems.push(ParamProblem::Mistyped {
                    name: name.clone(),
                    expected: spec.kind.describe(),
                }),
            }
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(problems)
        }
    }

    /// Renders the document with resolved parameters.
    pub fn render(&self, params: &BTreeMap<String, Value>) -> Result<Value, TemplateError> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let renderer = Renderer {
            template: &self.path,
            base,
            params,
        };
        let mut out = renderer.expand(&self.document)?;
        Ok(out.pop().unwrap_or(Value::Null))
    }
}

fn json_error(path: &Path, e: &serde_json::Error) -> TemplateError {
    TemplateError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

fn coerce(kind: ParamType, raw: &Value, governed: &[String]) -> Option<Value> {
    match (kind, raw) {
        (ParamType::String, Value::String(_)) => Some(raw.clone()),
        (ParamType::Bool, Value::Bool(_)) => Some(raw.clone()),
        (ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(raw.clone()),
        (ParamType::StringList | ParamType::Regions, Value::Array(items))
            if items.iter().all(Value::is_string) =>
        {
            Some(raw.clone())
        }
        (ParamType::Regions, Value::String(word)) if word == "governed" => Some(Value::Array(
            governed.iter().cloned().map(Value::String).collect(),
        )),
        _ => None,
    }
}

struct Renderer<'a> {
    template: &'a Path,
    base: &'a Path,
    params: &'a BTreeMap<String, Value>,
}

enum Condition {
    If(String),
    Unless(String),
}

fn parse_condition(key: &str) -> Option<Condition> {
    let inner = key.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    if let Some(flag) = inner.strip_prefix("if:") {
        Some(Condition::If(flag.trim().to_string()))
    } else {
        inner
            .strip_prefix("unless:")
            .map(|flag| Condition::Unless(flag.trim().to_string()))
    }
}

impl Renderer<'_> {
    /// Expands one value into zero or more values (more only for spliced lists).
    fn expand(&self, value: &Value) -> Result<Vec<Value>, TemplateError> {
        match value {
            Value::String(s) => self.expand_string(s),
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(inner) = self.conditional_element(item)? {
                        if let Some(inner) = inner {
                            out.extend(self.expand(inner)?);
                        }
                        continue;
                    }
                    let expanded = self.expand(item)?;
                    let is_placeholder =
                        matches!(item, Value::String(s) if whole_placeholder(s).is_some());
                    for v in expanded {
                        match v {
                            Value::Array(list) if is_placeholder => out.extend(list),
                            other => out.push(other),
                        }
                    }
                }
                Ok(vec![Value::Array(out)])
            }
            Value::Object(map) => Ok(vec![Value::Object(self.expand_object(map)?)]),
            other => Ok(vec![other.clone()]),
        }
    }

    /// For `{"{{if:x}}": value}` array elements: Some(Some(value)) to keep, Some(None) to drop.
    fn conditional_element<'v>(
        &self,
        item: &'v Value,
    ) -> Result<Option<Option<&'v Value>>, TemplateError> {
        let Value::Object(map) = item else {
            return Ok(None);
        };
        if map.len() != 1 {
            return Ok(None);
        }
        let (key, inner) = map.iter().next().expect("one entry");
        match parse_condition(key) {
            Some(cond) => Ok(Some(self.holds(&cond)?.then_some(inner))),
            None => Ok(None),
        }
    }

    fn expand_object(&self, map: &Map<String, Value>) -> Result<Map<String, Value>, TemplateError> {
        let mut out = Map::new();
        for (key, value) in map {
            if let Some(cond) = parse_condition(key) {
                if self.holds(&cond)? {
                    if let Some(Value::Object(merged)) = self.expand(value)?.pop() {
                        out.extend(merged);
                    }
                }
                continue;
            }
            let key = match self.expand_string(key)?.pop() {
                Some(Value::String(k)) => k,
                _ => key.clone(),
            };
            if let Some(v) = self.expand(value)?.pop() {
                out.insert(key, v);
            }
        }
        Ok(out)
    }

    fn holds(&self, cond: &Condition) -> Result<bool, TemplateError> {
        let (flag, negate) = match cond {
            Condition::If(f) => (f, false),
            Condition::Unless(f) => (f, true),
        };
        let value = self.param(flag)?;
        Ok(value.as_bool().unwrap_or(false) != negate)
    }

    fn param(&self, name: &str) -> Result<&Value, TemplateError> {
        self.params
            .get(name)
            .ok_or_else(|| TemplateError::UndeclaredPlaceholder {
                path: self.template.to_path_buf(),
                name: name.to_string(),
            })
    }

    fn expand_string(&self, s: &str) -> Result<Vec<Value>, TemplateError> {
        if let Some(inner) = whole_placeholder(s) {
            if let Some(file) = inner.strip_prefix("include:") {
                return Ok(vec![self.include(file.trim())?]);
            }
            return Ok(vec![self.param(inner)?.clone()]);
        }
        if !s.contains("{{") {
            return Ok(vec![Value::String(s.to_string())]);
        }
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let name = rest[start + 2..start + len].trim();
            match self.param(name)? {
                Value::String(v) => out.push_str(v),
                Value::Number(n) => out.push_str(&n.to_string()),
                other => {
                    return Err(TemplateError::NotInterpolable {
                        path: self.template.to_path_buf(),
                        name: name.to_string(),
                        kind: if other.is_array() {
                            "a list"
                        } else {
                            "not a string"
                        },
                    })
                }
            }
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        Ok(vec![Value::String(out)])
    }

    fn include(&self, file: &str) -> Result<Value, TemplateError> {
        let path = self.base.join(file);
        let text = std::fs::read_to_string(&path).map_err(|cause| TemplateError::Read {
            path: path.clone(),
            cause,
        })?;
        serde_json::from_str(&text).map_err(|e| json_error(&path, &e))
    }
}

/// `{{name}}` filling a whole string → `name`.
fn whole_placeholder(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        path
    }

    fn template(dir: &Path) -> Template {
        write(dir, "data/globals.json", r#"["iam:*", "sts:*"]"#);
        let path = write(
            dir,
            "t.json",
            r#"{"lzctl_template": 1, "description": "d", "policy_type": "scp",
                "parameters": {
                  "regions": {"type": "regions", "default": "governed"},
                  "extra": {"type": "string_list", "default": []},
                  "role": {"type": "string"},
                  "keep": {"type": "bool", "default": true}
                },
                "document": {"Version": "2012-10-17", "Statement": [
                  {"Effect": "Deny", "NotAction": ["{{include:data/globals.json}}", "{{extra}}"],
                   "Resource": "*",
                   "Condition": {"StringNotEquals": {"aws:RequestedRegion": "{{regions}}"},
                                 "ArnNotLike": {"aws:PrincipalARN": "arn:*:iam::*:role/{{role}}"},
                                 "{{if:keep}}": {"Null": {"aws:AssumedRoot": "true"}}}},
                  {"{{unless:keep}}": {"Effect": "Deny", "Action": "*", "Resource": "*"}}
                ]}}"#,
        );
        Template::load(&path).unwrap()
    }

    #[test]
    fn renders_typed_values_includes_and_conditions() {
        let dir = tempfile::tempdir().unwrap();
        let t = template(dir.path());
        let given = BTreeMap::from([
            ("role".to_string(), json!("break-glass")),
            ("extra".to_string(), json!(["s3:ListAllMyBuckets"])),
        ]);
        let params = t
            .resolve_params(&given, &["ap-northeast-1".into()])
            .unwrap();
        let doc = t.render(&params).unwrap();
        let st = &doc["Statement"];
        assert_eq!(
            st.as_array().unwrap().len(),
            1,
            "unless:keep drops the second statement"
        );
        assert_eq!(
            st[0]["NotAction"],
            json!(["iam:*", "sts:*", "s3:ListAllMyBuckets"])
        );
        assert_eq!(
            st[0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"],
            json!(["ap-northeast-1"])
        );
        assert_eq!(
            st[0]["Condition"]["ArnNotLike"]["aws:PrincipalARN"],
            json!("arn:*:iam::*:role/break-glass")
        );
        assert_eq!(
            st[0]["Condition"]["Null"],
            json!({"aws:AssumedRoot": "true"})
        );
    }

    #[test]
    fn false_flag_flips_conditional_parts() {
        let dir = tempfile::tempdir().unwrap();
        let t = template(dir.path());
        let given = BTreeMap::from([
            ("role".to_string(), json!("x")),
            ("keep".to_string(), json!(false)),
        ]);
        let doc = t.render(&t.resolve_params(&given, &[]).unwrap()).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
        assert!(doc["Statement"][0]["Condition"].get("Null").is_none());
    }

    #[test]
    fn reports_missing_mistyped_and_unknown_parameters_together() {
        let dir = tempfile::tempdir().unwrap();
        let t = template(dir.path());
        let given = BTreeMap::from([
            ("keep".to_string(), json!("yes")),
            ("colour".to_string(), json!(1)),
        ]);
        let problems = t.resolve_params(&given, &[]).unwrap_err();
        assert!(problems.contains(&ParamProblem::Missing {
            name: "role".into(),
            expected: "a string"
        }));
        assert!(problems.contains(&ParamProblem::Mistyped {
            name: "keep".into(),
            expected: "true or false"
        }));
        assert!(problems
            .iter()
            .any(|p| matches!(p, ParamProblem::Unknown { name, .. } if name == "colour")));
    }

    #[test]
    fn plain_policy_files_are_templates_without_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "p.json",
            r#"{"Version":"2012-10-17","Statement":[]}"#,
        );
        let t = Template::load(&path).unwrap();
        assert!(t.parameters.is_empty());
        assert_eq!(
            t.render(&BTreeMap::new()).unwrap()["Version"],
            json!("2012-10-17")
        );
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "bad.json",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [}\n",
        );
        match Template::load(&path) {
            Err(TemplateError::Json { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }
}
