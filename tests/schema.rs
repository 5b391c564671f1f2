//! `lzctl schema`: the JSON Schema editors use is generated from the types
//! that parse the file, accepts every example and every split file, and
//! refuses an unknown key wherever `lzctl validate` does. Completions and the
//! man page come from the CLI definition.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn lzctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lzctl"))
        .args(args)
        .output()
        .expect("run lzctl")
}

/// The schema as `lzctl schema` prints it.
fn printed_schema() -> Value {
    let out = lzctl(&["schema"]);
    assert!(out.status.success(), "{}", support::text(&out));
    serde_json::from_slice(&out.stdout).expect("lzctl schema prints JSON")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn as_json(text: &str) -> Value {
    serde_yaml::from_str(text).expect("YAML with string keys reads as JSON")
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_schema_is_draft_07_and_valid() {
    let schema = printed_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::meta::validate(&schema).expect("a valid JSON Schema");
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn every_example_and_every_split_file_validates() {
    let validator = jsonschema::validator_for(&printed_schema()).unwrap();
    let root = support::repo_root();
    // examples/ci holds pipeline definitions, not landing-zone files.
    let mut files: Vec<PathBuf> = yaml_files(&root.join("examples"))
        .into_iter()
        .filter(|f| !f.starts_with(root.join("examples/ci")))
        .collect();
    files.extend(yaml_files(&root.join("tests/fixtures/include")));
    assert!(files.len() >= 7, "{files:?}");
    for file in files {
        let instance = as_json(&std::fs::read_to_string(&file).unwrap());
        let errors = schema_errors(&validator, &instance);
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

/// A valid file with one key added at `place` (a YAML fragment inserted
/// after the line that starts with `after`).
fn with_unknown_key(after: &str, insert: &str) -> String {
    let text =
        std::fs::read_to_string(support::repo_root().join("examples/group/landing-zone.yaml"))
            .unwrap();
    let mut out = String::new();
    let mut done = false;
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if !done && line.starts_with(after) {
            out.push_str(insert);
            out.push('\n');
            done = true;
        }
    }
    assert!(done, "no line starts with {after:?}");
    out
}

#[test]
fn an_unknown_key_is_refused_by_the_schema_wherever_validate_refuses_it() {
    let validator = jsonschema::validator_for(&printed_schema()).unwrap();
    let cases = [
        ("version: 1", "prunee: true", "prunee"),
        ("organization:", "  home_regoin: ap-northeast-1", "home_regoin"),
        ("  Security:", "    tagz: { a: b }", "tagz"),
        ("accounts:", "  - { name: x, email: aws+x@example.co.jp, ou: Security, mail: y }", "mail"),
        ("  region-restriction:", "    targetz: [Root]", "targetz"),
        ("detective:", "  guarduty: {}", "guarduty"),
        ("  guardduty:", "    auto_enabled: all", "auto_enabled"),
        ("baselines:", "  extra:\n    template: ../../baselines/audit-role/template.yaml\n    targets: [Companies]\n    region: governed", "region"),
    ];
    let dir = support::workspace();
    for (after, insert, unknown) in cases {
        let text = with_unknown_key(after, insert);
        let errors = schema_errors(&validator, &as_json(&text));
        assert!(
            !errors.is_empty(),
            "the schema accepts `{insert}` after `{after}`"
        );
        assert!(
            errors.iter().any(|e| e.contains(unknown)),
            "{insert}: {errors:?}"
        );
        // `lzctl validate` refuses the same file.
        let path = dir.path().join("examples/group/unknown.yaml");
        std::fs::write(&path, &text).unwrap();
        let out = lzctl(&["validate", "-c", path.to_str().unwrap()]);
        assert!(!out.status.success(), "validate accepts `{insert}`");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unknown key"),
            "{}",
            support::text(&out)
        );
    }
}

#[test]
fn the_schema_names_exactly_the_keys_validation_knows() {
    use lzctl::config::model::known_keys;
    let schema = printed_schema();
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        n.sort();
        n
    };
    let sorted = |keys: &[&str]| -> Vec<String> {
        let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    };
    let mut top = sorted(known_keys::TOP);
    top.extend(lzctl::families::SECTIONS.iter().map(|s| s.to_string()));
    top.sort();
    assert_eq!(names(&schema), top);
    let defs = &schema["definitions"];
    assert_eq!(
        names(&defs["OrganizationConfig"]),
        sorted(known_keys::ORGANIZATION)
    );
    assert_eq!(names(&defs["LimitsConfig"]), sorted(known_keys::LIMITS));
    assert_eq!(names(&defs["OuConfig"]), sorted(known_keys::OU));
    assert_eq!(names(&defs["AccountConfig"]), sorted(known_keys::ACCOUNT));
    assert_eq!(names(&defs["PolicyConfig"]), sorted(known_keys::POLICY));
}

#[test]
fn completions_and_the_man_page_come_from_the_cli() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = lzctl(&["completions", shell]);
        assert!(out.status.success(), "{}", support::text(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in ["import", "schema", "plan", "company-parent"] {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let out = lzctl(&["man"]);
    assert!(out.status.success(), "{}", support::text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(".ie") || text.contains(".TH lzctl"),
        "{text}"
    );
    assert!(text.contains("import") && text.contains("schema"), "{text}");
}

/// Every key of the schema, at any depth, by definition.
fn schema_keys(schema: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    let mut visit = |v: &Value| {
        if let Some(props) = v["properties"].as_object() {
            keys.extend(props.keys().cloned());
        }
    };
    visit(schema);
    for def in schema["definitions"].as_object().unwrap().values() {
        visit(def);
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn the_config_reference_documents_every_key() {
    let doc = std::fs::read_to_string(support::repo_root().join("docs/config-reference.md"))
        .expect("docs/config-reference.md");
    let missing: Vec<String> = schema_keys(&printed_schema())
        .into_iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/config-reference.md lacks {missing:?}"
    );
}

/// A rollout needs the trail it watches: validate and the schema both refuse
/// one without, and both accept it with one.
#[test]
fn a_rollout_without_a_trail_is_refused_by_the_schema_as_by_validate() {
    let validator = jsonschema::validator_for(&printed_schema()).unwrap();
    let dir = support::workspace();
    let path = dir.path().join("examples/group/rollout.yaml");
    for (rollout, valid) in [
        ("    rollout: { waves: [Root], soak: 30m }", false),
        (
            "    rollout: { waves: [Root], soak: 30m, trail: s3://org-trail }",
            true,
        ),
    ] {
        let text = with_unknown_key("  region-restriction:", rollout);
        let errors = schema_errors(&validator, &as_json(&text));
        assert_eq!(errors.is_empty(), valid, "{rollout}: {errors:?}");
        std::fs::write(&path, &text).unwrap();
        let out = lzctl(&["validate", "-c", path.to_str().unwrap()]);
        assert_eq!(
            out.status.success(),
            valid,
            "{rollout}: {}",
            support::text(&out)
        );
    }
}
