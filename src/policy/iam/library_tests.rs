//! Tests of the policy library in `scp/`: every template is well-formed, renders with its
//! defaults (and with every bool flag flipped), parses without findings, fits its size limit,
//! and the main guardrails decide the requests they exist for as intended.
//!
//! The renderer here is a minimal test-only implementation of the template format
//! (exact `{{name}}` placeholders with list splicing, `{{include:...}}`, `{{name}}`
//! interpolation, `{{if:flag}}`/`{{unless:flag}}` object members and array elements).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::context::{MissingKeys, Request};
use super::*;

const GOVERNED: [&str; 2] = ["ap-northeast-1", "ap-northeast-3"];
const ORG_ID: &str = "o-example1234";

/// The repository's `scp/` directory: from the crate root (cwd under `cargo test`), or
/// derived from this file's path when the module is mounted from elsewhere.
fn scp_dir() -> PathBuf {
    let from_file = Path::new(file!()).ancestors().nth(4).map(|p| p.join("scp"));
    for cand in [from_file, Some(PathBuf::from("scp"))]
        .into_iter()
        .flatten()
    {
        if cand.join("region-restriction.json").exists() {
            return cand;
        }
    }
    panic!(
        "cannot find the scp/ directory (cwd {:?})",
        std::env::current_dir()
    );
}

fn templates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [scp_dir(), scp_dir().join("rcp")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(
        out.len() >= 7,
        "expected the library templates, found {out:?}"
    );
    out
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

enum R {
    One(Value),
    Splice(Vec<Value>),
    Drop,
}

struct Renderer<'a> {
    params: &'a BTreeMap<String, Value>,
    dir: PathBuf,
}

impl Renderer<'_> {
    fn flag(&self, key: &str) -> Option<bool> {
        let (neg, name) = if let Some(n) = key.strip_prefix("{{if:") {
            (false, n)
        } else if let Some(n) = key.strip_prefix("{{unless:") {
            (true, n)
        } else {
            return None;
        };
        let name = name.strip_suffix("}}").unwrap();
        let v = self
            .params
            .get(name)
            .unwrap_or_else(|| panic!("unknown flag {name}"))
            .as_bool()
            .unwrap();
        Some(v != neg)
    }

    fn exact(&self, s: &str) -> Option<Value> {
        let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
        if let Some(file) = inner.strip_prefix("include:") {
            return Some(load(&self.dir.join(file.trim())));
        }
        Some(
            self.params
                .get(inner)
                .unwrap_or_else(|| panic!("unknown parameter {inner}"))
                .clone(),
        )
    }

    fn interpolate(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").unwrap() + start;
            let name = &rest[start + 2..end];
            match self.params.get(name) {
                Some(Value::String(v)) => out.push_str(v),
                Some(Value::Number(n)) => out.push_str(&n.to_string()),
                other => panic!("cannot interpolate {name}: {other:?}"),
            }
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn render(&self, v: &Value, in_array: bool) -> R {
        match v {
            Value::String(s) => match self.exact(s) {
                Some(Value::Array(items)) if in_array => R::Splice(items),
                Some(val) => R::One(val),
                None if s.contains("{{") => R::One(Value::String(self.interpolate(s))),
                None => R::One(v.clone()),
            },
            Value::Array(items) => {
                let mut out = Vec::new();
                for it in items {
                    match self.render(it, true) {
                        R::One(x) => out.push(x),
                        R::Splice(xs) => out.extend(xs),
                        R::Drop => {}
                    }
                }
                R::One(Value::Array(out))
            }
            Value::Object(m) => {
                if in_array && m.len() == 1 {
                    let (k, inner) = m.iter().next().unwrap();
                    if let Some(on) = self.flag(k) {
                        return if on {
                            self.render(inner, false)
                        } else {
                            R::Drop
                        };
                    }
                }
                let mut out = Map::new();
                for (k, val) in m {
                    if let Some(on) = self.flag(k) {
                        if on {
                            let R::One(Value::Object(merged)) = self.render(val, false) else {
                                panic!("{k} must hold an object")
                            };
                            out.extend(merged);
                        }
                        continue;
                    }
                    if let R::One(x) = self.render(val, false) {
                        out.insert(k.clone(), x);
                    }
                }
                R::One(Value::Object(out))
            }
            other => R::One(other.clone()),
        }
    }
}

/// Parameter values: defaults (`governed` expanded), `org_id` for the required one,
/// and `overrides` on top.
fn params(tpl: &Value, overrides: &[(&str, Value)]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (name, spec) in tpl["parameters"].as_object().unwrap() {
        let v = match spec.get("default") {
            Some(Value::String(s)) if s == "governed" && spec["type"] == "regions" => Value::Array(
                GOVERNED
                    .iter()
                    .map(|r| Value::String(r.to_string()))
                    .collect(),
            ),
            Some(d) => d.clone(),
            None if name == "org_id" => Value::String(ORG_ID.into()),
            None => panic!("required parameter {name} has no test value"),
        };
        out.insert(name.clone(), v);
    }
    for (k, v) in overrides {
        out.insert(k.to_string(), v.clone());
    }
    out
}

fn render(path: &Path, overrides: &[(&str, Value)]) -> (PolicyKind, Value) {
    let tpl = load(path);
    let p = params(&tpl, overrides);
    let r = Renderer {
        params: &p,
        dir: path.parent().unwrap().to_path_buf(),
    };
    let R::One(doc) = r.render(&tpl["document"], false) else {
        panic!()
    };
    let kind = if tpl["policy_type"] == "rcp" {
        PolicyKind::Rcp
    } else {
        PolicyKind::Scp
    };
    (kind, doc)
}

fn scan(s: &str, out: &mut Vec<String>) {
    let mut rest = s;
    while let Some(a) = rest.find("{{") {
        let b = rest[a..].find("}}").expect("unclosed placeholder") + a;
        out.push(rest[a + 2..b].to_string());
        rest = &rest[b + 2..];
    }
}

fn placeholders(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => scan(s, out),
        Value::Array(items) => items.iter().for_each(|i| placeholders(i, out)),
        Value::Object(m) => {
            for (k, val) in m {
                scan(k, out);
                placeholders(val, out);
            }
        }
        _ => {}
    }
}

#[test]
fn templates_are_well_formed() {
    for path in templates() {
        let tpl = load(&path);
        let name = path.display().to_string();
        let obj = tpl.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "lzctl_template",
                "description",
                "policy_type",
                "parameters",
                "document"
            ],
            "{name}"
        );
        assert_eq!(tpl["lzctl_template"], 1, "{name}");
        assert!(
            tpl["description"].as_str().unwrap().len() > 40,
            "{name}: description"
        );
        let in_rcp_dir = path.parent().unwrap().ends_with("rcp");
        assert_eq!(
            tpl["policy_type"],
            if in_rcp_dir { "rcp" } else { "scp" },
            "{name}"
        );
        let params = tpl["parameters"].as_object().unwrap();
        for (p, spec) in params {
            let ty = spec["type"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: {p} type"));
            assert!(
                spec["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}: {p} description"
            );
            if let Some(d) = spec.get("default") {
                let ok = match ty {
                    "string" => d.is_string(),
                    "string_list" => d.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                    "bool" => d.is_boolean(),
                    "integer" => d.is_i64(),
                    "regions" => {
                        d == "governed"
                            || d.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                    }
                    other => panic!("{name}: {p}: unknown type {other}"),
                };
                assert!(ok, "{name}: {p}: default does not fit type {ty}");
            }
        }
        let mut used = Vec::new();
        placeholders(&tpl["document"], &mut used);
        for u in &used {
            let pname = u
                .strip_prefix("if:")
                .or(u.strip_prefix("unless:"))
                .unwrap_or(u);
            if let Some(file) = pname.strip_prefix("include:") {
                assert!(
                    path.parent().unwrap().join(file).exists(),
                    "{name}: include {file}"
                );
                continue;
            }
            assert!(
                params.contains_key(pname),
                "{name}: placeholder {u} has no parameter"
            );
            if u.starts_with("if:") || u.starts_with("unless:") {
                assert_eq!(params[pname]["type"], "bool", "{name}: {u} needs a bool");
            }
        }
        for p in params.keys() {
            assert!(
                used.iter().any(|u| u.ends_with(p.as_str())),
                "{name}: parameter {p} is never used"
            );
        }
    }
}

#[test]
fn every_template_renders_parses_cleanly_and_fits() {
    for path in templates() {
        let tpl = load(&path);
        let flags: Vec<&String> = tpl["parameters"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, s)| s["type"] == "bool")
            .map(|(n, _)| n)
            .collect();
        // defaults, then each flag flipped, then all flags flipped
        let mut variants: Vec<Vec<(&str, Value)>> = vec![vec![]];
        for f in &flags {
            let d = tpl["parameters"][f.as_str()]["default"].as_bool().unwrap();
            variants.push(vec![(f.as_str(), Value::Bool(!d))]);
        }
        variants.push(
            flags
                .iter()
                .map(|f| {
                    (
                        f.as_str(),
                        Value::Bool(!tpl["parameters"][f.as_str()]["default"].as_bool().unwrap()),
                    )
                })
                .collect(),
        );
        variants.push(vec![(
            "exempt_principals",
            serde_json::json!(["arn:aws:iam::*:role/BreakGlass"]),
        )]);
        for over in variants {
            let (kind, doc) = render(&path, &over);
            let text = serde_json::to_string(&doc).unwrap();
            let findings = lint(&text, kind);
            if doc["Statement"].as_array().is_some_and(Vec::is_empty) {
                // every optional statement switched off: lint must refuse the empty policy
                assert!(
                    findings.iter().any(|f| f.rule == "statement-missing"),
                    "{}",
                    path.display()
                );
                continue;
            }
            assert!(
                findings.is_empty(),
                "{} {over:?}: {findings:#?}",
                path.display()
            );
            let parsed = PolicyDocument::parse(&text).unwrap();
            assert!(!parsed.statements.is_empty());
            let len = parsed.minified_len();
            assert!(
                len <= kind.default_size_limit(),
                "{}: {len} chars > {}",
                path.display(),
                kind.default_size_limit()
            );
        }
    }
}

#[test]
fn global_service_actions_data() {
    let v = load(&scp_dir().join("data/global-service-actions.json"));
    let list: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(list.len() >= 80, "{}", list.len());
    for must in [
        "iam:*",
        "organizations:*",
        "sts:*",
        "support:*",
        "route53:*",
        "cloudfront:*",
        "kms:*",
    ] {
        assert!(list.contains(&must), "{must} missing");
    }
    let mut sorted = list.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), list.len(), "duplicates");
    let doc = serde_json::json!({"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":list,"Resource":"*"}});
    assert!(lint_value(doc, PolicyKind::Scp).is_empty());
}

fn one_level(kind: PolicyKind, name: &str, doc: &Value) -> Hierarchy {
    let full = if kind == PolicyKind::Scp {
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#
    } else {
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#
    };
    let full = NamedPolicy {
        name: "FullAWSAccess".into(),
        document: PolicyDocument::parse(full).unwrap(),
    };
    let pol = NamedPolicy {
        name: name.into(),
        document: PolicyDocument::from_value(doc.clone()).unwrap(),
    };
    Hierarchy {
        kind,
        management_account: Some("999999999999".into()),
        levels: vec![
            Level {
                kind: LevelKind::Root,
                name: "Root".into(),
                policies: vec![full.clone()],
            },
            Level {
                kind: LevelKind::Ou,
                name: "Workloads".into(),
                policies: vec![full.clone(), pol],
            },
            Level {
                kind: LevelKind::Account,
                name: "111122223333".into(),
                policies: vec![full],
            },
        ],
    }
}

fn call(
    principal: &str,
    action: &str,
    resource: &str,
    region: &str,
    ctx: &[(&str, &str)],
) -> Request {
    Request {
        account: "111122223333".into(),
        principal_arn: principal.into(),
        action: action.into(),
        resource: resource.into(),
        region: region.into(),
        context: ctx
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect(),
        missing_keys: MissingKeys::Absent,
        absent_keys: vec![],
    }
}

const APP: &str = "arn:aws:iam::111122223333:role/app";

#[test]
fn region_restriction_behaviour() {
    let (kind, doc) = render(
        &scp_dir().join("region-restriction.json"),
        &[
            (
                "exempt_principals",
                serde_json::json!(["arn:aws:iam::*:role/BreakGlass"]),
            ),
            (
                "extra_exempt_actions",
                serde_json::json!(["elasticloadbalancing:Describe*"]),
            ),
        ],
    );
    let h = one_level(kind, "region-restriction", &doc);
    let v = |p: &str, a: &str, r: &str| evaluate(&h, &call(p, a, "*", r, &[])).verdict;
    assert!(v(APP, "ec2:RunInstances", "ap-northeast-1").is_allowed());
    assert!(v(APP, "ec2:RunInstances", "ap-northeast-3").is_allowed());
    let denied = v(APP, "ec2:RunInstances", "us-east-1");
    assert_eq!(denied.to_string(), "denied by policy region-restriction statement DenyOutsideAllowedRegions at level OU Workloads");
    for global in [
        "sts:AssumeRole",
        "iam:CreateRole",
        "organizations:DescribeOrganization",
        "support:CreateCase",
        "s3:ListAllMyBuckets",
        "kms:Decrypt",
        "ELASTICLOADBALANCING:DescribeLoadBalancers",
    ] {
        assert!(v(APP, global, "us-east-1").is_allowed(), "{global}");
    }
    assert!(v(APP, "s3:GetObject", "us-east-1").is_denied());
    for exempt in [
        "arn:aws:iam::111122223333:role/AWSControlTowerExecution",
        "arn:aws:iam::111122223333:role/lzctl-deploy",
        "arn:aws:iam::111122223333:role/stacksets-exec-0123456789abcdef",
        "arn:aws:iam::111122223333:role/BreakGlass",
    ] {
        assert!(
            v(exempt, "ec2:RunInstances", "eu-west-1").is_allowed(),
            "{exempt}"
        );
    }
}

#[test]
fn region_restriction_passes_region_lint_and_broken_copies_fail() {
    let (_, doc) = render(&scp_dir().join("region-restriction.json"), &[]);
    let governed: Vec<String> = GOVERNED.iter().map(|s| s.to_string()).collect();
    let globals: Vec<String> =
        serde_json::from_value(load(&scp_dir().join("data/global-service-actions.json"))).unwrap();
    let checks = RegionChecks {
        governed: &governed,
        global_actions: &globals,
        exempt_principals: &[],
        control_tower: true,
    };
    let parsed = PolicyDocument::from_value(doc.clone()).unwrap();
    assert_eq!(region_restrictions(&parsed).len(), 1);
    assert!(check_region_restrictions(&parsed, &checks).is_empty());
    // forget sts:* and the Control Tower execution role: both are caught, with locations
    let mut broken = doc.clone();
    let st = &mut broken["Statement"][0];
    st["NotAction"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a != "sts:*");
    st["Condition"]["ArnNotLike"]["aws:PrincipalARN"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a != "arn:*:iam::*:role/AWSControlTowerExecution");
    let f = check_region_restrictions(&PolicyDocument::from_value(broken).unwrap(), &checks);
    let got: Vec<(String, &str)> = f.iter().map(|x| (x.location.to_string(), x.rule)).collect();
    assert_eq!(
        got,
        [
            (
                "Statement[0].NotAction".to_string(),
                "region-global-actions"
            ),
            ("Statement[0].Condition".to_string(), "region-exemption")
        ]
    );
    // an allowed region outside the governed ones
    let (_, doc) = render(
        &scp_dir().join("region-restriction.json"),
        &[("allowed_regions", serde_json::json!(["us-east-1"]))],
    );
    let f = check_region_restrictions(&PolicyDocument::from_value(doc).unwrap(), &checks);
    assert_eq!(
        f.iter().map(|x| x.rule).collect::<Vec<_>>(),
        ["region-not-governed"]
    );
}

#[test]
fn lockout_guard_helper_finds_the_forgotten_exemption() {
    let ct = "arn:aws:iam::111122223333:role/AWSControlTowerExecution";
    let pairs = [
        ("cloudformation:CreateStack", "ap-northeast-1"),
        ("ec2:DescribeVpcs", "us-west-2"),
        ("sts:AssumeRole", "us-east-1"),
    ];
    let none = BTreeMap::new();
    let (kind, doc) = render(&scp_dir().join("region-restriction.json"), &[]);
    assert!(lockouts(
        &one_level(kind, "region", &doc),
        "111122223333",
        ct,
        &pairs,
        &none
    )
    .is_empty());
    let mut broken = doc.clone();
    broken["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalARN"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a != "arn:*:iam::*:role/AWSControlTowerExecution");
    let found = lockouts(
        &one_level(kind, "region", &broken),
        "111122223333",
        ct,
        &pairs,
        &none,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].action.as_str(), found[0].region.as_str()),
        ("ec2:DescribeVpcs", "us-west-2")
    );
    assert_eq!(
        found[0].verdict.to_string(),
        "denied by policy region statement DenyOutsideAllowedRegions at level OU Workloads"
    );
}

#[test]
fn root_lockdown_behaviour() {
    let root = "arn:aws:iam::111122223333:root";
    let path = scp_dir().join("root-lockdown.json");
    let (kind, doc) = render(&path, &[]);
    let h = one_level(kind, "root-lockdown", &doc);
    assert!(evaluate(
        &h,
        &call(root, "s3:DeleteBucketPolicy", "*", "ap-northeast-1", &[])
    )
    .verdict
    .is_denied());
    assert!(evaluate(
        &h,
        &call(
            root,
            "s3:DeleteBucketPolicy",
            "*",
            "ap-northeast-1",
            &[("aws:AssumedRoot", "true")]
        )
    )
    .verdict
    .is_allowed());
    assert!(evaluate(
        &h,
        &call(APP, "s3:DeleteBucketPolicy", "*", "ap-northeast-1", &[])
    )
    .verdict
    .is_allowed());
    let (kind, doc) = render(&path, &[("allow_centralized_root", Value::Bool(false))]);
    let h = one_level(kind, "root-lockdown", &doc);
    assert!(evaluate(
        &h,
        &call(
            root,
            "s3:DeleteBucketPolicy",
            "*",
            "ap-northeast-1",
            &[("aws:AssumedRoot", "true")]
        )
    )
    .verdict
    .is_denied());
}

#[test]
fn protective_templates_behaviour() {
    let (kind, doc) = render(&scp_dir().join("protect-lzctl.json"), &[]);
    let h = one_level(kind, "protect-lzctl", &doc);
    let role = "arn:aws:iam::111122223333:role/lzctl-deploy";
    assert!(
        evaluate(&h, &call(APP, "iam:DeleteRole", role, "us-east-1", &[]))
            .verdict
            .is_denied()
    );
    assert!(evaluate(
        &h,
        &call(
            APP,
            "iam:DeleteRole",
            "arn:aws:iam::111122223333:role/other",
            "us-east-1",
            &[]
        )
    )
    .verdict
    .is_allowed());
    assert!(evaluate(
        &h,
        &call(
            "arn:aws:iam::111122223333:role/stacksets-exec-abc",
            "iam:UpdateAssumeRolePolicy",
            role,
            "us-east-1",
            &[]
        )
    )
    .verdict
    .is_allowed());
    let ss = "arn:aws:cloudformation:ap-northeast-1:111122223333:stackset/lzctl-baseline:0a1b2c3d-1111-2222-3333-444455556666";
    assert!(evaluate(
        &h,
        &call(
            APP,
            "cloudformation:DeleteStackSet",
            ss,
            "ap-northeast-1",
            &[]
        )
    )
    .verdict
    .is_denied());
    let stack = "arn:aws:cloudformation:ap-northeast-1:111122223333:stack/StackSet-lzctl-baseline-0a1b/0a1b2c3d";
    assert!(evaluate(
        &h,
        &call(
            APP,
            "cloudformation:DeleteStack",
            stack,
            "ap-northeast-1",
            &[]
        )
    )
    .verdict
    .is_denied());

    let (kind, doc) = render(&scp_dir().join("protect-security-services.json"), &[]);
    let h = one_level(kind, "protect-security-services", &doc);
    assert!(evaluate(
        &h,
        &call(APP, "cloudtrail:StopLogging", "*", "ap-northeast-1", &[])
    )
    .verdict
    .is_denied());
    assert!(evaluate(
        &h,
        &call(APP, "guardduty:DeleteDetector", "*", "ap-northeast-1", &[])
    )
    .verdict
    .is_denied());
    assert!(evaluate(
        &h,
        &call(APP, "guardduty:GetFindings", "*", "ap-northeast-1", &[])
    )
    .verdict
    .is_allowed());
    let ct = "arn:aws:iam::111122223333:role/aws-controltower-AdministratorExecutionRole";
    assert!(evaluate(
        &h,
        &call(
            ct,
            "config:StopConfigurationRecorder",
            "*",
            "ap-northeast-1",
            &[]
        )
    )
    .verdict
    .is_allowed());

    let (kind, doc) = render(&scp_dir().join("deny-leave-organization.json"), &[]);
    let h = one_level(kind, "deny-leave", &doc);
    assert!(evaluate(
        &h,
        &call(
            APP,
            "organizations:LeaveOrganization",
            "*",
            "us-east-1",
            &[]
        )
    )
    .verdict
    .is_denied());
}

#[test]
fn rcp_outside_org_behaviour() {
    let (kind, doc) = render(&scp_dir().join("rcp/deny-outside-org-access.json"), &[]);
    assert_eq!(kind, PolicyKind::Rcp);
    let h = one_level(kind, "deny-outside-org", &doc);
    let obj = "arn:aws:s3:::data/key";
    let outsider = call(
        "arn:aws:iam::444455556666:role/x",
        "s3:GetObject",
        obj,
        "ap-northeast-1",
        &[("aws:PrincipalOrgID", "o-other")],
    );
    assert!(evaluate(&h, &outsider).verdict.is_denied());
    let anonymous = call("", "s3:GetObject", obj, "ap-northeast-1", &[]);
    assert!(evaluate(&h, &anonymous).verdict.is_denied());
    let insider = call(
        APP,
        "s3:GetObject",
        obj,
        "ap-northeast-1",
        &[("aws:PrincipalOrgID", ORG_ID)],
    );
    assert!(evaluate(&h, &insider).verdict.is_allowed());
    let tagged = call(
        "arn:aws:iam::444455556666:role/x",
        "s3:GetObject",
        obj,
        "ap-northeast-1",
        &[
            ("aws:PrincipalOrgID", "o-other"),
            ("aws:ResourceTag/dp:exclude:identity", "true"),
        ],
    );
    assert!(evaluate(&h, &tagged).verdict.is_allowed());
    let service_for_us = call(
        "",
        "s3:PutObject",
        obj,
        "ap-northeast-1",
        &[
            ("aws:PrincipalIsAWSService", "true"),
            ("aws:SourceAccount", "111122223333"),
            ("aws:SourceOrgID", ORG_ID),
        ],
    );
    assert!(evaluate(&h, &service_for_us).verdict.is_allowed());
    let service_for_them = call(
        "",
        "s3:PutObject",
        obj,
        "ap-northeast-1",
        &[
            ("aws:PrincipalIsAWSService", "true"),
            ("aws:SourceAccount", "444455556666"),
            ("aws:SourceOrgID", "o-other"),
        ],
    );
    assert!(evaluate(&h, &service_for_them).verdict.is_denied());
    // a service without source context (e.g. CloudTrail delivery without SourceAccount) passes
    let service_plain = call(
        "",
        "s3:PutObject",
        obj,
        "ap-northeast-1",
        &[("aws:PrincipalIsAWSService", "true")],
    );
    assert!(evaluate(&h, &service_plain).verdict.is_allowed());
}
