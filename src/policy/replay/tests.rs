//! Replay tests on the fixtures in `tests/fixtures/cloudtrail/`:
//!
//! - `AWSLogs/o-exampleorg1/111111111111/CloudTrail/.../*.json.gz`: CloudTrail's gzip
//!   envelope (minified), account 111111111111;
//! - `plain/222222222222_events.json`: a pretty-printed envelope, account 222222222222;
//! - `nested/lines/events.jsonl`: JSON lines, with a blank line and a malformed record;
//! - `nested/export/part-00001`: gzip-compressed JSON lines without a `.gz` name.
//!
//! The allowed region is ap-northeast-1; the calls made elsewhere by principals other than
//! AWSControlTowerExecution, on actions outside the global-service list, are exactly the
//! six groups listed in `region_restriction_lists_exactly_the_calls_outside_the_region`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::super::iam::{Hierarchy, Level, LevelKind, NamedPolicy, PolicyDocument, PolicyKind};
use super::*;

const MGMT: &str = "999999999999";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

fn policy(name: &str, text: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.into(),
        document: PolicyDocument::parse(text).unwrap_or_else(|e| panic!("{name}: {e:?}")),
    }
}

fn full_access() -> NamedPolicy {
    policy(
        "FullAWSAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
}

const REGION_RESTRICTION: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "DenyOutsideAllowedRegions",
    "Effect": "Deny",
    "NotAction": ["iam:*", "sts:*", "organizations:*", "support:*", "route53:*",
                  "cloudfront:*", "s3:ListAllMyBuckets", "s3:GetAccountPublic*"],
    "Resource": "*",
    "Condition": {
      "StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1"]},
      "ArnNotLike": {"aws:PrincipalARN": ["arn:*:iam::*:role/AWSControlTowerExecution"]}
    }
  }]
}"#;

fn hierarchy(root_extra: Vec<NamedPolicy>) -> Hierarchy {
    let mut root = vec![full_access()];
    root.extend(root_extra);
    Hierarchy {
        kind: PolicyKind::Scp,
        management_account: Some(MGMT.into()),
        levels: vec![
            Level {
                kind: LevelKind::Root,
                name: "Root".into(),
                policies: root,
            },
            Level {
                kind: LevelKind::Ou,
                name: "Workloads".into(),
                policies: vec![full_access()],
            },
            Level {
                kind: LevelKind::Account,
                name: "member".into(),
                policies: vec![full_access()],
            },
        ],
    }
}

/// An organization of accounts 111111111111 and 222222222222 (444444444444 is not in it).
fn org(root_extra: impl Fn() -> Vec<NamedPolicy>) -> BTreeMap<String, Hierarchy> {
    ["111111111111", "222222222222"]
        .into_iter()
        .map(|a| (a.to_string(), hierarchy(root_extra())))
        .collect()
}

fn options(threads: usize) -> ReplayOptions {
    ReplayOptions {
        threads,
        management_account: Some(MGMT.into()),
        ..Default::default()
    }
}

fn region_report(threads: usize, memoize: bool) -> ReplayReport {
    let current = org(Vec::new);
    let proposed = org(|| vec![policy("region-restriction", REGION_RESTRICTION)]);
    let opts = ReplayOptions {
        memoize,
        ..options(threads)
    };
    replay(&[fixtures()], &current, &proposed, &opts).unwrap()
}

#[test]
fn region_restriction_lists_exactly_the_calls_outside_the_region() {
    let r = region_report(2, true);
    let got: Vec<(&str, &str, &str, &str, u64)> = r
        .newly_denied
        .iter()
        .map(|g| {
            (
                g.account.as_str(),
                g.principal.as_str(),
                g.action.as_str(),
                g.region.as_str(),
                g.count,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "111111111111",
                "arn:aws:iam::111111111111:role/Dev",
                "ec2:RunInstances",
                "us-east-1",
                3
            ),
            (
                "111111111111",
                "arn:aws:iam::111111111111:role/Dev",
                "lambda:GetFunction",
                "eu-west-1",
                1
            ),
            (
                "222222222222",
                "arn:aws:iam::222222222222:role/BreakGlass",
                "ec2:TerminateInstances",
                "eu-north-1",
                1
            ),
            (
                "222222222222",
                "arn:aws:iam::222222222222:role/app/Reporter",
                "cloudwatch:PutMetricData",
                "us-west-2",
                1
            ),
            (
                "222222222222",
                "arn:aws:iam::222222222222:root",
                "cloudtrail:DescribeTrails",
                "us-east-2",
                1
            ),
            (
                "222222222222",
                "arn:aws:iam::222222222222:user/alice",
                "s3:ListBucket",
                "eu-west-1",
                1
            ),
        ]
    );
    let g = &r.newly_denied[0];
    assert_eq!(g.first_seen, "2026-11-01T00:10:00Z");
    assert_eq!(g.last_seen, "2026-11-03T10:04:00Z");
    assert_eq!(g.currently_indeterminate, 0);
    assert_eq!(
        g.denied_by,
        [Decision {
            text: "denied by policy region-restriction statement DenyOutsideAllowedRegions at level root Root".into(),
            level: "root Root".into(),
            policy: Some("region-restriction".into()),
            statement: Some("DenyOutsideAllowedRegions".into()),
        }]
    );

    let t = &r.totals;
    assert_eq!(t.files, 4);
    assert_eq!(t.files_failed, 0, "{:?}", r.file_errors);
    assert_eq!(t.records, 26);
    assert_eq!(t.malformed_records, 1);
    assert_eq!(t.newly_denied, 8);
    assert_eq!(t.no_hierarchy, 1);
    assert_eq!(t.baseline_denied, 1);
    assert_eq!(t.unmapped, 2);
    assert_eq!(t.skipped, 4);
    assert_eq!(
        t.evaluated,
        t.newly_denied + t.allowed_both + t.denied_both + t.newly_allowed + t.undecided
    );
    assert_eq!(
        t.records,
        t.malformed_records
            + t.skipped
            + t.unmapped
            + t.baseline_denied
            + t.no_hierarchy
            + t.evaluated
    );
    // allowed: DescribeInstances x2 in Tokyo, CTE DescribeVpcs + CreateStack, iam:ListRoles,
    // s3:ListAllMyBuckets (renamed: global), s3:ListBucket in Tokyo, DynamoDB in Tokyo,
    // sts:AssumeRole
    assert_eq!(t.allowed_both, 9);
    assert_eq!(t.undecided + t.denied_both + t.newly_allowed, 0);

    let names = |v: &[NameCount]| -> Vec<(String, u64)> {
        v.iter().map(|n| (n.name.clone(), n.count)).collect()
    };
    assert_eq!(
        names(&r.unmapped),
        [
            ("signin:ConsoleLogin".into(), 1),
            ("sts:GetCallerIdentity".into(), 1)
        ]
    );
    assert_eq!(
        names(&r.skipped),
        [
            ("aws_service".into(), 1),
            ("management_account".into(), 1),
            ("service_event".into(), 1),
            ("service_linked_role".into(), 1)
        ]
    );
    assert_eq!(
        names(&r.baseline_denied),
        [("Client.UnauthorizedOperation".into(), 1)]
    );
    assert_eq!(
        r.accounts_without_hierarchy,
        [AccountWithoutHierarchy {
            account: "444444444444".into(),
            account_name: None,
            missing: "both",
            events: 1
        }]
    );
    assert!(r.indeterminate.is_empty(), "{:?}", r.indeterminate);
}

#[test]
fn progress_is_reported_per_file() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    let opts = ReplayOptions {
        progress: Some(Arc::new(move |p: &Progress| sink.lock().unwrap().push(*p))),
        ..options(2)
    };
    let h = hierarchy(Vec::new());
    let r = replay(&[fixtures()], &h, &h, &opts).unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by_key(|p| p.files_done);
    assert_eq!(seen.len(), 4);
    let last = seen.last().unwrap();
    assert_eq!((last.files_done, last.files_total), (4, 4));
    assert_eq!(last.file_bytes_done, last.file_bytes_total);
    assert_eq!(seen.iter().map(|p| p.records).max(), Some(r.totals.records));
}

#[test]
fn same_report_whatever_the_threads_and_memo() {
    let a = region_report(1, true);
    assert_eq!(a, region_report(4, true));
    assert_eq!(a, region_report(3, false));
}

#[test]
fn nothing_newly_denied_when_policies_do_not_change() {
    let same = org(|| vec![policy("region-restriction", REGION_RESTRICTION)]);
    let r = replay(&[fixtures()], &same, &same, &options(2)).unwrap();
    assert!(r.newly_denied.is_empty());
    assert_eq!(r.totals.denied_both, 8);
}

#[test]
fn management_account_unset_means_its_events_are_evaluated() {
    // Without the option, the management account's events go through the evaluator, which
    // exempts it through the hierarchy's management_account.
    let current = org(Vec::new);
    let proposed = org(|| vec![policy("region-restriction", REGION_RESTRICTION)]);
    let mut with_mgmt = current.clone();
    with_mgmt.insert(MGMT.into(), hierarchy(Vec::new()));
    let mut proposed_mgmt = proposed.clone();
    proposed_mgmt.insert(
        MGMT.into(),
        hierarchy(vec![policy("region-restriction", REGION_RESTRICTION)]),
    );
    let r = replay(
        &[fixtures()],
        &with_mgmt,
        &proposed_mgmt,
        &ReplayOptions::default(),
    )
    .unwrap();
    assert_eq!(r.totals.newly_denied, 8);
    assert!(!r.skipped.iter().any(|s| s.name == "management_account"));
}

/// Memo keys must carry every condition key a policy reads: a time-based Deny decides
/// differently for two calls that differ only in their time.
#[test]
fn memo_distinguishes_condition_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for (i, t) in [
        "2026-11-01T11:00:00Z",
        "2026-11-01T13:00:00Z",
        "2026-11-01T14:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        lines.push_str(&format!(
            r#"{{"eventTime":"{t}","eventSource":"ec2.amazonaws.com","eventName":"StopInstances","awsRegion":"ap-northeast-1","sourceIPAddress":"198.51.100.{i}","eventType":"AwsApiCall","userIdentity":{{"type":"AssumedRole","accountId":"111111111111","arn":"arn:aws:sts::111111111111:assumed-role/Ops/x","sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::111111111111:role/Ops"}}}}}}}}"#
        ));
        lines.push('\n');
    }
    std::fs::write(dir.path().join("calls.jsonl"), &lines).unwrap();
    let freeze = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"ChangeFreeze","Effect":"Deny","Action":"ec2:Stop*","Resource":"*",
         "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-01T12:00:00Z"}}},
        {"Sid":"TeamOnly","Effect":"Deny","Action":"ec2:StopInstances","Resource":"*",
         "Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"ops"}}}]}"#;
    let current = org(Vec::new);
    let proposed = org(|| vec![policy("freeze", freeze)]);
    for memoize in [true, false] {
        let opts = ReplayOptions {
            memoize,
            ..options(1)
        };
        let r = replay(&[dir.path().to_path_buf()], &current, &proposed, &opts).unwrap();
        assert_eq!(r.totals.evaluated, 3);
        assert_eq!(r.totals.newly_denied, 2, "memoize {memoize}");
        assert_eq!(r.newly_denied.len(), 1);
        assert_eq!(r.newly_denied[0].first_seen, "2026-11-01T13:00:00Z");
        assert_eq!(
            r.newly_denied[0].denied_by[0].statement.as_deref(),
            Some("ChangeFreeze")
        );
        // before the freeze, the verdict depends on the principal's tag
        assert_eq!(r.totals.undecided, 1);
        assert_eq!(
            r.indeterminate,
            [IndeterminateCount {
                policies: "proposed",
                missing_keys: vec!["aws:principaltag/team".into()],
                count: 1,
                example_actions: vec!["ec2:StopInstances".into()],
            }]
        );
    }
}

#[test]
fn gzip_detected_by_magic_and_broken_files_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rec = r#"{"eventTime":"2026-11-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","accountId":"111111111111","arn":"arn:aws:iam::111111111111:user/a"}}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    write!(gz, r#"{{"Records":[{rec},{rec}]}}"#).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(dir.path().join("a.json"), &bytes).unwrap(); // gzip, misleading name
    std::fs::write(dir.path().join("b.json.gz"), format!("{rec}\n")).unwrap(); // plain
    std::fs::write(dir.path().join("c.json.gz"), &bytes[..bytes.len() / 2]).unwrap(); // cut
    let h = hierarchy(Vec::new());
    let r = replay(&[dir.path().to_path_buf()], &h, &h, &options(2)).unwrap();
    assert_eq!(r.totals.files, 3);
    assert_eq!(r.totals.files_failed, 1);
    assert_eq!(r.file_errors.len(), 1);
    assert!(r.file_errors[0].path.ends_with("c.json.gz"));
    assert!(r.totals.evaluated >= 3, "{:?}", r.totals);
    assert_eq!(r.totals.allowed_both, r.totals.evaluated);

    let missing = replay(&[dir.path().join("nope")], &h, &h, &options(1));
    assert!(matches!(missing, Err(ReplayError::Input { .. })));
    assert!(matches!(
        replay(&[], &h, &h, &options(1)),
        Err(ReplayError::NoInputs)
    ));
}

#[test]
fn renderers() {
    let r = region_report(2, true);
    let human = render_human(&r);
    assert!(
        human.contains("8 calls in 6 groups would newly be denied"),
        "{human}"
    );
    assert!(human.contains("arn:aws:iam::222222222222:role/app/Reporter"));
    assert!(
        human.contains("denied by policy region-restriction statement DenyOutsideAllowedRegions")
    );
    assert!(human.contains("sts:GetCallerIdentity"));

    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["format_version"], REPORT_FORMAT_VERSION);
    assert_eq!(json["newly_denied"].as_array().unwrap().len(), 6);
    assert_eq!(json["newly_denied"][0]["count"], 3);
    assert_eq!(json["totals"]["newly_denied"], 8);

    let csv = render_csv(&r);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0], render::CSV_HEADER);
    assert!(lines[1].starts_with(
        "111111111111,,arn:aws:iam::111111111111:role/Dev,ec2:RunInstances,us-east-1,3,2026-11-01T00:10:00Z,2026-11-03T10:04:00Z,0,"
    ));
    assert!(r.has_new_denials());
    assert_eq!(render::csv_field("a,b"), "\"a,b\"");
    assert_eq!(render::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(render::csv_field("line\nbreak"), "\"line\nbreak\"");
    assert_eq!(render::csv_field("plain"), "plain");
}

/// Many records in one gzip envelope: all found, none held at once (the splitter's
/// buffer is checked in `source::tests::buffer_stays_bounded`).
#[test]
fn large_gzip_envelope_streams() {
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(dir.path().join("big.json.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    gz.write_all(b"{\"Records\":[").unwrap();
    let n = 20_000;
    for i in 0..n {
        let region = if i % 4 == 0 {
            "us-east-1"
        } else {
            "ap-northeast-1"
        };
        if i > 0 {
            gz.write_all(b",").unwrap();
        }
        write!(
            gz,
            r#"{{"eventTime":"2026-11-01T00:00:{:02}Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"{region}","sourceIPAddress":"10.0.{}.{}","userIdentity":{{"type":"AssumedRole","accountId":"111111111111","sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::111111111111:role/R{}"}}}}}}}}"#,
            i % 60,
            (i / 256) % 256,
            i % 256,
            i % 7
        )
        .unwrap();
    }
    gz.write_all(b"]}").unwrap();
    gz.finish().unwrap();
    let current = org(Vec::new);
    let proposed = org(|| vec![policy("region-restriction", REGION_RESTRICTION)]);
    let r = replay(
        &[dir.path().to_path_buf()],
        &current,
        &proposed,
        &options(2),
    )
    .unwrap();
    assert_eq!(r.totals.records, n);
    assert_eq!(r.totals.newly_denied, n / 4);
    assert_eq!(r.newly_denied.len(), 7);
}

/// A hierarchy reduced to one action decides every request with that action as the full
/// hierarchy does (`worker::reduce_for_action`, used on memo misses).
#[test]
fn reduced_hierarchies_decide_as_the_full_ones() {
    use super::super::iam::{evaluate, MissingKeys, Request};
    let odd = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"NoS3Deletes","Effect":"Deny","Action":["s3:Delete*","S3:PutBucket?olicy"],"Resource":"*"},
        {"Sid":"OnlyTagged","Effect":"Allow","NotAction":["ec2:Run*"],"Resource":"*"},
        {"Sid":"RunWithTag","Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
         "Condition":{"StringEquals":{"aws:PrincipalTag/team":"ops"}}}]}"#;
    let mut h = hierarchy(vec![policy("region-restriction", REGION_RESTRICTION)]);
    h.levels[1].policies = vec![policy("odd", odd)];
    let actions = [
        "ec2:RunInstances",
        "EC2:runinstances",
        "ec2:DescribeInstances",
        "iam:CreateRole",
        "sts:AssumeRole",
        "s3:DeleteObject",
        "s3:PutBucketPolicy",
        "s3:ListAllMyBuckets",
        "s3:GetAccountPublicAccessBlock",
        "cloudfront:GetDistribution",
        "kms:Decrypt",
    ];
    let principals = [
        "arn:aws:iam::111111111111:role/Dev",
        "arn:aws:iam::111111111111:role/AWSControlTowerExecution",
        "arn:aws:iam::111111111111:root",
    ];
    for action in actions {
        let reduced = worker::reduce_for_action(&h, action);
        for principal in principals {
            for region in ["ap-northeast-1", "us-east-1", ""] {
                for team in [None, Some("ops"), Some("dev")] {
                    let mut req = Request {
                        account: "111111111111".into(),
                        principal_arn: principal.into(),
                        action: action.into(),
                        resource: "*".into(),
                        region: region.into(),
                        missing_keys: MissingKeys::Unknown,
                        ..Default::default()
                    };
                    if let Some(t) = team {
                        req.context.insert("aws:PrincipalTag/team".into(), t.into());
                    }
                    assert_eq!(
                        evaluate(&reduced, &req).verdict,
                        evaluate(&h, &req).verdict,
                        "{action} {principal} {region} {team:?}"
                    );
                }
            }
        }
    }
}

/// The library's `root-lockdown` template rendered with its defaults.
fn root_lockdown() -> NamedPolicy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scp/root-lockdown.json");
    let t = super::super::template::Template::load(&path).unwrap();
    let params = t.resolve_params(&BTreeMap::new(), &[]).unwrap();
    policy("root-lockdown", &t.render(&params).unwrap().to_string())
}

fn write_lines(dir: &Path, records: &[String]) -> PathBuf {
    let path = dir.join("calls.jsonl");
    std::fs::write(&path, records.join("\n")).unwrap();
    path
}

/// A root call in account 111111111111; `session` is the `sessionContext` JSON, if any.
fn root_call(name: &str, session: Option<&str>) -> String {
    let session = session
        .map(|s| format!(r#","sessionContext":{s}"#))
        .unwrap_or_default();
    format!(
        r#"{{"eventTime":"2026-11-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"{name}","awsRegion":"ap-northeast-1","sourceIPAddress":"203.0.113.9","eventType":"AwsApiCall","userIdentity":{{"type":"Root","principalId":"111111111111","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111"{session}}}}}"#
    )
}

/// Centralized root access (sts:AssumeRoot) is what `root-lockdown` is written to keep
/// working: such sessions must not be reported as newly denied, while a root user with
/// its own credentials is.
#[test]
fn centralized_root_sessions_pass_root_lockdown() {
    let dir = tempfile::tempdir().unwrap();
    let assumed = r#"{"attributes":{"creationDate":"2026-11-01T00:00:00Z","mfaAuthenticated":"false"},"assumedRoot":"true"}"#;
    let path = write_lines(
        dir.path(),
        &[
            root_call("DeleteBucketPolicy", Some(assumed)),
            root_call("DeleteBucketPolicy", Some(assumed)),
            root_call("PutBucketPolicy", None),
        ],
    );
    let current = org(Vec::new);
    let proposed = org(|| vec![root_lockdown()]);
    let r = replay(&[path], &current, &proposed, &options(1)).unwrap();
    assert_eq!(r.totals.evaluated, 3, "{:?}", r.totals);
    assert_eq!(r.totals.allowed_both, 2, "{:?}", r.totals);
    assert_eq!(r.totals.newly_denied, 1, "{:?}", r.newly_denied);
    assert_eq!(r.newly_denied[0].action, "s3:PutBucketPolicy");
    assert!(r.indeterminate.is_empty(), "{:?}", r.indeterminate);
}

fn user_call(source: &str, name: &str) -> String {
    format!(
        r#"{{"eventTime":"2026-11-01T00:00:00Z","eventSource":"{source}","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.9","eventType":"AwsApiCall","userIdentity":{{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","userName":"alice"}}}}"#
    )
}

/// An event whose action is not in the IAM dataset is unmapped, never evaluated; the
/// known irregular names are mapped to the action IAM authorizes.
#[test]
fn unknown_actions_are_unmapped_and_irregular_names_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_lines(
        dir.path(),
        &[
            user_call("s3.amazonaws.com", "DeleteBucketPublicAccessBlock"),
            user_call("s3.amazonaws.com", "DeleteBucketReplication"),
            user_call("macie.amazonaws.com", "GetFindings"),
            user_call("autoscaling.amazonaws.com", "RegisterScalableTarget"),
            user_call("autoscaling.amazonaws.com", "PutScalingPolicy"),
            user_call("health.amazonaws.com", "DescribeEvents"),
            user_call("apigateway.amazonaws.com", "CreateRestApi"),
            user_call("ec2.amazonaws.com", "NoSuchOperation"),
            user_call("ec2.amazonaws.com", "NoSuchOperation"),
        ],
    );
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Everything","Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    let current = org(Vec::new);
    let proposed = org(|| vec![policy("deny-all", deny)]);
    let r = replay(&[path], &current, &proposed, &options(1)).unwrap();
    let actions: Vec<&str> = r.newly_denied.iter().map(|g| g.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "application-autoscaling:RegisterScalableTarget",
            "health:DescribeEvents",
            "macie2:GetFindings",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutReplicationConfiguration",
        ]
    );
    let unmapped: Vec<(&str, u64)> = r
        .unmapped
        .iter()
        .map(|n| (n.name.as_str(), n.count))
        .collect();
    assert_eq!(
        unmapped,
        [
            ("ec2:NoSuchOperation", 2),
            ("apigateway:CreateRestApi", 1),
            ("autoscaling:PutScalingPolicy", 1),
        ]
    );
    assert_eq!(r.totals.unmapped, 4);
    assert_eq!(r.totals.evaluated, 5);
}

/// `denied_by` names every policy that denies a call, not only the first one.
#[test]
fn denied_by_lists_every_denying_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_lines(
        dir.path(),
        &[user_call("ec2.amazonaws.com", "RunInstances")],
    );
    let deny = |sid: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{sid}","Effect":"Deny","Action":"ec2:*","Resource":"*"}}]}}"#
        )
    };
    let current = org(Vec::new);
    let proposed = org(|| {
        vec![
            policy("region-restriction", REGION_RESTRICTION),
            policy("no-ec2", &deny("NoEc2")),
        ]
    });
    let r = replay(&[path], &current, &proposed, &options(1)).unwrap();
    let by: Vec<(Option<&str>, Option<&str>)> = r.newly_denied[0]
        .denied_by
        .iter()
        .map(|d| (d.policy.as_deref(), d.statement.as_deref()))
        .collect();
    assert_eq!(
        by,
        [
            (Some("no-ec2"), Some("NoEc2")),
            (
                Some("region-restriction"),
                Some("DenyOutsideAllowedRegions")
            ),
        ]
    );
}

/// Account names given to the replay appear next to the ids in every format; a replay
/// without new denials says so (for `--detailed-exitcode`).
#[test]
fn account_names_in_every_format() {
    let current = org(Vec::new);
    let proposed = org(|| vec![policy("region-restriction", REGION_RESTRICTION)]);
    let opts = ReplayOptions {
        account_names: [
            ("111111111111".to_string(), "payments-prod".to_string()),
            ("444444444444".to_string(), "outsider".to_string()),
        ]
        .into_iter()
        .collect(),
        ..options(2)
    };
    let r = replay(&[fixtures()], &current, &proposed, &opts).unwrap();
    assert_eq!(
        r.newly_denied[0].account_name.as_deref(),
        Some("payments-prod")
    );
    assert_eq!(
        r.accounts_without_hierarchy[0].account_name.as_deref(),
        Some("outsider")
    );
    let human = render_human(&r);
    assert!(human.contains("111111111111 (payments-prod)"), "{human}");
    assert!(human.contains("444444444444 (outsider)"), "{human}");
    // accounts without a name keep the id alone
    assert!(human.contains("\n  222222222222  "), "{human}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["newly_denied"][0]["account_name"], "payments-prod");
    assert_eq!(
        json["newly_denied"].as_array().unwrap().last().unwrap()["account_name"],
        serde_json::Value::Null
    );
    let csv = render_csv(&r);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("111111111111,payments-prod,arn:"),
        "{csv}"
    );

    let same = replay(&[fixtures()], &current, &current, &opts).unwrap();
    assert!(!same.has_new_denials());
    assert!(r.has_new_denials());
}
