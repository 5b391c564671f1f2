//! Table-driven tests of condition operators, the hierarchy evaluator and the grammar rules.

use super::condition::{evaluate_conditions, Tri};
use super::context::{Context, ContextValue, MissingKeys, Request};
use super::*;

/// Build a request with AWS (complete-context) semantics.
fn req(action: &str, resource: &str, region: &str, ctx: &[(&str, ContextValue)]) -> Request {
    Request {
        account: "111122223333".into(),
        principal_arn: "arn:aws:iam::111122223333:role/app".into(),
        action: action.into(),
        resource: resource.into(),
        region: region.into(),
        context: ctx
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        missing_keys: MissingKeys::Absent,
        absent_keys: vec![],
    }
}

fn s(v: &str) -> ContextValue {
    ContextValue::Single(v.into())
}

fn m(v: &[&str]) -> ContextValue {
    ContextValue::Multi(v.iter().map(|x| x.to_string()).collect())
}

fn cond_result(condition: &str, ctx: &[(&str, ContextValue)], mode: MissingKeys) -> Tri {
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{condition}}}}}"#
    );
    let doc = PolicyDocument::parse(&text).unwrap_or_else(|e| panic!("{condition}: {e}"));
    let mut r = req("s3:GetObject", "*", "ap-northeast-1", ctx);
    r.missing_keys = mode;
    evaluate_conditions(&doc.statements[0].conditions, &Context::of(&r))
}

/// (condition block, context, missing-key mode, expected result)
type CondCase = (
    &'static str,
    Vec<(&'static str, ContextValue)>,
    MissingKeys,
    Tri,
);

/// (policy text, kind, expected (location, rule, severity) findings)
type RuleCase = (
    &'static str,
    PolicyKind,
    Vec<(&'static str, &'static str, Severity)>,
);

#[test]
fn condition_operator_table() {
    use MissingKeys::Absent as A;
    let y = Tri::Yes;
    let n = Tri::No;
    let u = |k: &str| Tri::unknown(k);
    #[rustfmt::skip]
    let cases: Vec<CondCase> = vec![
        // strings: case-sensitive equality, OR over values, NOR for negated
        (r#"{"StringEquals":{"aws:PrincipalTag/team":["ops","dev"]}}"#, vec![("aws:PrincipalTag/team", s("dev"))], A, y.clone()),
        (r#"{"StringEquals":{"aws:PrincipalTag/team":"ops"}}"#, vec![("aws:PrincipalTag/team", s("OPS"))], A, n.clone()),
        (r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ops"}}"#, vec![("aws:PrincipalTag/team", s("OPS"))], A, y.clone()),
        (r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"ops"}}"#, vec![("aws:PrincipalTag/team", s("OPS"))], A, n.clone()),
        (r#"{"StringNotEquals":{"aws:RequestedRegion":["ap-northeast-1","ap-northeast-3"]}}"#, vec![], A, n.clone()),
        (r#"{"StringNotEquals":{"aws:RequestedRegion":["us-east-1"]}}"#, vec![], A, y.clone()),
        (r#"{"StringEquals":{"aws:x":"a*"}}"#, vec![("aws:x", s("abc"))], A, n.clone()),
        (r#"{"StringLike":{"aws:x":"a*c"}}"#, vec![("aws:x", s("abbc"))], A, y.clone()),
        (r#"{"StringLike":{"aws:x":"a?c"}}"#, vec![("aws:x", s("abbc"))], A, n.clone()),
        (r#"{"StringNotLike":{"aws:x":["x*","a*"]}}"#, vec![("aws:x", s("abbc"))], A, n.clone()),
        (r#"{"StringLike":{"aws:x":"a${*}"}}"#, vec![("aws:x", s("ab"))], A, n.clone()),
        (r#"{"StringLike":{"aws:x":"a${*}"}}"#, vec![("aws:x", s("a*"))], A, y.clone()),
        // key names are case-insensitive
        (r#"{"StringEquals":{"AWS:REQUESTEDREGION":"ap-northeast-1"}}"#, vec![], A, y.clone()),
        // missing key: positive false, negated true, IfExists true, Null
        (r#"{"StringEquals":{"aws:missing":"a"}}"#, vec![], A, n.clone()),
        (r#"{"StringNotEquals":{"aws:missing":"a"}}"#, vec![], A, y.clone()),
        (r#"{"StringNotLike":{"aws:missing":"a"}}"#, vec![], A, y.clone()),
        (r#"{"ArnNotLike":{"aws:missing":"arn:*:iam::*:role/x"}}"#, vec![], A, y.clone()),
        (r#"{"NumericNotEquals":{"aws:missing":"1"}}"#, vec![], A, y.clone()),
        (r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, vec![], A, y.clone()),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, vec![], A, n.clone()),
        (r#"{"StringEqualsIfExists":{"aws:missing":"a"}}"#, vec![], A, y.clone()),
        (r#"{"StringEqualsIfExists":{"aws:x":"a"}}"#, vec![("aws:x", s("b"))], A, n.clone()),
        (r#"{"StringNotEqualsIfExists":{"aws:x":"a"}}"#, vec![("aws:x", s("a"))], A, n.clone()),
        (r#"{"Null":{"aws:missing":"true"}}"#, vec![], A, y.clone()),
        (r#"{"Null":{"aws:missing":"false"}}"#, vec![], A, n.clone()),
        (r#"{"Null":{"aws:x":"true"}}"#, vec![("aws:x", s("1"))], A, n.clone()),
        (r#"{"Null":{"aws:x":false}}"#, vec![("aws:x", s("1"))], A, y.clone()),
        // set operators
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![], A, y.clone()),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![], A, n.clone()),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![("aws:TagKeys", m(&["a","b"]))], A, y.clone()),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![("aws:TagKeys", m(&["a","c"]))], A, n.clone()),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#, vec![("aws:TagKeys", m(&[]))], A, y.clone()),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![("aws:TagKeys", m(&["x","b"]))], A, y.clone()),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#, vec![("aws:TagKeys", m(&["x","y"]))], A, n.clone()),
        (r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}"#, vec![("aws:TagKeys", m(&["a","y"]))], A, y.clone()),
        (r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["a"]}}"#, vec![("aws:TagKeys", m(&["a","y"]))], A, n.clone()),
        (r#"{"ForAllValues:StringLike":{"aws:TagKeys":["env*"]}}"#, vec![("aws:TagKeys", m(&["env","envx"]))], A, y.clone()),
        // a multivalued key without a set operator never matches, negated or not
        (r#"{"StringEquals":{"aws:TagKeys":"a"}}"#, vec![("aws:TagKeys", m(&["x","a"]))], A, n.clone()),
        (r#"{"StringNotEquals":{"aws:TagKeys":"z"}}"#, vec![("aws:TagKeys", m(&["x","a"]))], A, n.clone()),
        (r#"{"StringNotEquals":{"aws:TagKeys":"z"}}"#, vec![("aws:TagKeys", m(&[]))], A, n.clone()),
        // set operators accept a single-valued key as a one-element set
        (r#"{"ForAllValues:StringEquals":{"aws:x":["a","b"]}}"#, vec![("aws:x", s("a"))], A, y.clone()),
        (r#"{"ForAnyValue:StringEquals":{"aws:x":["a","b"]}}"#, vec![("aws:x", s("c"))], A, n.clone()),
        (r#"{"StringNotEquals":{"aws:TagKeys":"a"}}"#, vec![("aws:TagKeys", m(&["x","a"]))], A, n.clone()),
        (r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"a"}}"#, vec![], A, y.clone()),
        // numbers
        (r#"{"NumericLessThan":{"s3:max-keys":10}}"#, vec![("s3:max-keys", s("9"))], A, y.clone()),
        (r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, vec![("s3:max-keys", s("10"))], A, n.clone()),
        (r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#, vec![("s3:max-keys", s("10"))], A, y.clone()),
        (r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, vec![("s3:max-keys", s("10.5"))], A, y.clone()),
        (r#"{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}"#, vec![("s3:max-keys", s("9"))], A, n.clone()),
        (r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, vec![("s3:max-keys", s("10.0"))], A, y.clone()),
        (r#"{"NumericNotEquals":{"s3:max-keys":["10","11"]}}"#, vec![("s3:max-keys", s("11"))], A, n.clone()),
        (r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, vec![("s3:max-keys", s("ten"))], A, n.clone()),
        // dates, ISO 8601 and epoch
        (r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, vec![("aws:CurrentTime", s("2026-11-22T21:00:00Z"))], A, y.clone()),
        (r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, vec![("aws:CurrentTime", s("2026-11-22T21:00:00Z"))], A, n.clone()),
        (r#"{"DateEquals":{"aws:EpochTime":"1577836800"}}"#, vec![("aws:EpochTime", s("2020-01-01T00:00:00Z"))], A, y.clone()),
        (r#"{"DateLessThanEquals":{"aws:CurrentTime":"2020-01-01T09:00:00+09:00"}}"#, vec![("aws:CurrentTime", s("2020-01-01T00:00:00Z"))], A, y.clone()),
        (r#"{"DateNotEquals":{"aws:CurrentTime":"2020-01-01"}}"#, vec![("aws:CurrentTime", s("2020-01-01T00:00:00Z"))], A, n.clone()),
        (r#"{"DateGreaterThanEquals":{"aws:CurrentTime":1577836800}}"#, vec![("aws:CurrentTime", s("2020-01-01T00:00:01Z"))], A, y.clone()),
        // bool, binary
        (r#"{"Bool":{"aws:SecureTransport":false}}"#, vec![("aws:SecureTransport", s("false"))], A, y.clone()),
        (r#"{"Bool":{"aws:SecureTransport":"false"}}"#, vec![("aws:SecureTransport", s("TRUE"))], A, n.clone()),
        (r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#, vec![], A, y.clone()),
        (r#"{"BinaryEquals":{"aws:x":"QmluYXJ5"}}"#, vec![("aws:x", s("QmluYXJ5"))], A, y.clone()),
        (r#"{"BinaryEquals":{"aws:x":"QmluYXJ5"}}"#, vec![("aws:x", s("QmluYXJ6"))], A, n.clone()),
        // IP addresses, v4 and v6
        (r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}"#, vec![("aws:SourceIp", s("2001:db8::1"))], A, y.clone()),
        (r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#, vec![("aws:SourceIp", s("192.0.3.1"))], A, n.clone()),
        (r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#, vec![("aws:SourceIp", s("192.0.3.1"))], A, y.clone()),
        (r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#, vec![("aws:SourceIp", s("192.0.2.9"))], A, n.clone()),
        // ARNs
        (r#"{"ArnLike":{"aws:PrincipalArn":"arn:*:iam::*:role/app"}}"#, vec![], A, y.clone()),
        (r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app"}}"#, vec![], A, y.clone()),
        (r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*"}}"#, vec![], A, n.clone()),
        (r#"{"ArnNotLike":{"aws:PrincipalARN":["arn:*:iam::*:role/AWSControlTowerExecution","arn:*:iam::*:role/app"]}}"#, vec![], A, n.clone()),
        (r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/other"}}"#, vec![], A, y.clone()),
        (r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/A*"}}"#, vec![], A, n.clone()),
        // policy variables in condition values
        (r#"{"StringEquals":{"aws:ResourceAccount":"${aws:PrincipalAccount}"}}"#, vec![("aws:ResourceAccount", s("111122223333"))], A, y.clone()),
        (r#"{"StringNotEquals":{"aws:ResourceAccount":"${aws:PrincipalAccount}"}}"#, vec![("aws:ResourceAccount", s("999988887777"))], A, y.clone()),
        (r#"{"StringEquals":{"aws:x":"${aws:nokey}"}}"#, vec![("aws:x", s(""))], A, n.clone()),
        // several operators and keys are ANDed
        (r#"{"StringEquals":{"aws:a":"1","aws:b":"2"}}"#, vec![("aws:a", s("1")), ("aws:b", s("3"))], A, n.clone()),
        (r#"{"StringEquals":{"aws:a":"1"},"StringLike":{"aws:b":"*"}}"#, vec![("aws:a", s("1")), ("aws:b", s("3"))], A, y.clone()),
        // unknown mode: a missing key makes every operator unknown, Null and IfExists too
        (r#"{"StringNotEquals":{"aws:SourceVpc":"vpc-1"}}"#, vec![], MissingKeys::Unknown, u("aws:sourcevpc")),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}"#, vec![], MissingKeys::Unknown, u("aws:tagkeys")),
        (r#"{"StringNotEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}"#, vec![], MissingKeys::Unknown, u("aws:sourcevpc")),
        (r#"{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}"#, vec![], MissingKeys::Unknown, u("aws:sourcevpc")),
        (r#"{"Null":{"aws:AssumedRoot":"true"}}"#, vec![], MissingKeys::Unknown, u("aws:assumedroot")),
        (r#"{"Null":{"aws:PrincipalTag/team":"false"}}"#, vec![], MissingKeys::Unknown, u("aws:principaltag/team")),
        // ... but a present key decides them as usual
        (r#"{"Null":{"aws:AssumedRoot":"true"}}"#, vec![("aws:AssumedRoot", s("true"))], MissingKeys::Unknown, n.clone()),
        (r#"{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}"#, vec![("aws:SourceVpc", s("vpc-1"))], MissingKeys::Unknown, y.clone()),
        (r#"{"StringEquals":{"aws:a":"1","aws:b":"2"}}"#, vec![("aws:a", s("0"))], MissingKeys::Unknown, n.clone()),
        (r#"{"StringEquals":{"aws:x":"${aws:username}"}}"#, vec![("aws:x", s("bob"))], MissingKeys::Unknown, u("aws:username")),
    ];
    let mut failures = Vec::new();
    for (i, (cond, ctx, mode, want)) in cases.iter().enumerate() {
        let got = cond_result(cond, ctx, *mode);
        if &got != want {
            failures.push(format!(
                "case {i}: {cond} with {ctx:?} ({mode:?}): got {got:?}, want {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn operator_names() {
    for (name, ok) in [
        ("StringEquals", true),
        ("stringequals", true),
        ("ForAnyValue:StringLikeIfExists", true),
        ("ForAllValues:ArnNotLike", true),
        ("NumericGreaterThanEqualsIfExists", true),
        ("Null", true),
        ("NullIfExists", false),
        ("ForAnyValue:Null", false),
        ("StringEqualz", false),
        ("ForSomeValues:StringEquals", false),
        ("IpAddressIfExists", true),
    ] {
        assert_eq!(Operator::parse(name).is_some(), ok, "{name}");
    }
    let op = Operator::parse("ForAllValues:StringNotLikeIfExists").unwrap();
    assert_eq!(op.qualifier, Some(SetQualifier::ForAllValues));
    assert_eq!(op.base, BaseOperator::StringNotLike);
    assert!(op.if_exists && op.base.is_negated());
}

// ---------------------------------------------------------------- hierarchy evaluation

const FULL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn pol(name: &str, text: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.into(),
        document: PolicyDocument::parse(text).unwrap_or_else(|e| panic!("{name}: {e}")),
    }
}

fn hier(root: Vec<NamedPolicy>, ou: Vec<NamedPolicy>, account: Vec<NamedPolicy>) -> Hierarchy {
    Hierarchy {
        kind: PolicyKind::Scp,
        management_account: Some("999999999999".into()),
        levels: vec![
            Level {
                kind: LevelKind::Root,
                name: "Root".into(),
                policies: root,
            },
            Level {
                kind: LevelKind::Ou,
                name: "Companies/Foo".into(),
                policies: ou,
            },
            Level {
                kind: LevelKind::Account,
                name: "111122223333".into(),
                policies: account,
            },
        ],
    }
}

fn region_deny(extra_not_actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyOutsideRegions","Effect":"Deny",
        "NotAction":["iam:*","organizations:*","sts:*","support:*","route53:*","cloudfront:*"{extra_not_actions}],
        "Resource":"*","Condition":{{"StringNotEquals":{{"aws:RequestedRegion":["ap-northeast-1","ap-northeast-3"]}},
        "ArnNotLike":{{"aws:PrincipalARN":["arn:*:iam::*:role/AWSControlTowerExecution","arn:*:iam::*:role/lzctl-*"]}}}}}}]}}"#
    )
}

#[test]
fn explicit_deny_wins_and_names_policy_statement_level() {
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL), pol("region", &region_deny(""))],
        vec![pol("FullAWSAccess", FULL)],
    );
    let e = evaluate(&h, &req("ec2:RunInstances", "*", "us-east-1", &[]));
    assert_eq!(
        e.verdict.to_string(),
        "denied by policy region statement DenyOutsideRegions at level OU Companies/Foo"
    );
    match &e.verdict {
        Verdict::Denied {
            level,
            cause: DenyCause::Statement { policy, statement },
        } => {
            assert_eq!(level.index, 1);
            assert_eq!(policy, "region");
            assert_eq!(statement.index, 0);
        }
        v => panic!("{v:?}"),
    }
    // allowed region, global service, exempt role
    assert!(
        evaluate(&h, &req("ec2:RunInstances", "*", "ap-northeast-3", &[]))
            .verdict
            .is_allowed()
    );
    assert!(evaluate(&h, &req("IAM:CreateRole", "*", "us-east-1", &[]))
        .verdict
        .is_allowed());
    let mut r = req("ec2:RunInstances", "*", "eu-west-1", &[]);
    r.principal_arn = "arn:aws:iam::111122223333:role/AWSControlTowerExecution".into();
    assert!(evaluate(&h, &r).verdict.is_allowed());
    r.principal_arn = "arn:aws:iam::111122223333:role/lzctl-deployer".into();
    assert!(evaluate(&h, &r).verdict.is_allowed());
    // forgetting sts:* locks out a non-exempt role calling STS in us-east-1
    let h2 = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![
            pol("FullAWSAccess", FULL),
            pol("region", &region_deny("").replace(r#""sts:*","#, "")),
        ],
        vec![pol("FullAWSAccess", FULL)],
    );
    assert!(evaluate(&h2, &req("sts:AssumeRole", "*", "us-east-1", &[]))
        .verdict
        .is_denied());
    assert!(evaluate(&h, &req("sts:AssumeRole", "*", "us-east-1", &[]))
        .verdict
        .is_allowed());
}

#[test]
fn implicit_deny_names_the_level_without_allow() {
    let allow_s3 = r#"{"Version":"2012-10-17","Statement":[{"Sid":"S3Only","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("s3-only", allow_s3)],
        vec![pol("FullAWSAccess", FULL)],
    );
    let v = evaluate(&h, &req("ec2:RunInstances", "*", "ap-northeast-1", &[])).verdict;
    assert_eq!(
        v.to_string(),
        "denied: no Allow statement matches at level OU Companies/Foo"
    );
    assert!(
        evaluate(&h, &req("s3:GetObject", "*", "ap-northeast-1", &[]))
            .verdict
            .is_allowed()
    );
    // a level with no policies at all has no Allow
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL)],
        vec![],
    );
    match evaluate(&h, &req("s3:GetObject", "*", "ap-northeast-1", &[])).verdict {
        Verdict::Denied {
            level,
            cause: DenyCause::NoAllow,
        } => assert_eq!(level.kind, LevelKind::Account),
        v => panic!("{v:?}"),
    }
}

#[test]
fn allow_with_conditions_resources_and_not_action() {
    let cond_allow = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::team-${aws:PrincipalAccount}-*"},
        {"Effect":"Allow","NotAction":["s3:*","ec2:*"],"Resource":"*"},
        {"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"ap-northeast-1"}}}]}"#;
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("scoped", cond_allow)],
        vec![pol("FullAWSAccess", FULL)],
    );
    let ok = |a: &str, res: &str, region: &str| {
        evaluate(&h, &req(a, res, region, &[])).verdict.is_allowed()
    };
    assert!(ok(
        "s3:GetObject",
        "arn:aws:s3:::team-111122223333-logs",
        "ap-northeast-1"
    ));
    assert!(!ok(
        "s3:GetObject",
        "arn:aws:s3:::team-444455556666-logs",
        "ap-northeast-1"
    ));
    assert!(ok("lambda:InvokeFunction", "*", "eu-west-1"));
    assert!(ok("ec2:RunInstances", "*", "ap-northeast-1"));
    assert!(!ok("ec2:RunInstances", "*", "ap-northeast-3"));
}

#[test]
fn not_resource_deny() {
    let p = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyLogs","Effect":"Deny","Action":"s3:PutObject","NotResource":["arn:aws:s3:::logs-*/*"]}]}"#;
    let h = hier(
        vec![pol("FullAWSAccess", FULL), pol("only-logs", p)],
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL)],
    );
    assert!(evaluate(
        &h,
        &req(
            "s3:PutObject",
            "arn:aws:s3:::logs-a/x",
            "ap-northeast-1",
            &[]
        )
    )
    .verdict
    .is_allowed());
    assert!(evaluate(
        &h,
        &req("s3:PutObject", "arn:aws:s3:::data/x", "ap-northeast-1", &[])
    )
    .verdict
    .is_denied());
}

#[test]
fn exemptions() {
    let deny_all =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    let h = hier(vec![pol("deny", deny_all)], vec![], vec![]);
    let mut r = req("ec2:RunInstances", "*", "us-east-1", &[]);
    assert!(evaluate(&h, &r).verdict.is_denied());
    r.principal_arn = "arn:aws:iam::111122223333:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty".into();
    assert_eq!(
        evaluate(&h, &r).verdict,
        Verdict::Allowed {
            reason: AllowReason::ServiceLinkedRole
        }
    );
    let mut r = req("ec2:RunInstances", "*", "us-east-1", &[]);
    r.account = "999999999999".into();
    r.principal_arn = "arn:aws:iam::999999999999:role/admin".into();
    assert_eq!(
        evaluate(&h, &r).verdict,
        Verdict::Allowed {
            reason: AllowReason::ManagementAccount
        }
    );
}

#[test]
fn indeterminate_only_when_the_missing_key_could_flip_the_verdict() {
    let vpc_deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"VpcOnly","Effect":"Deny","Action":"s3:*","Resource":"*",
        "Condition":{"StringNotEquals":{"aws:SourceVpc":"vpc-1"}}}]}"#;
    let h = hier(
        vec![pol("FullAWSAccess", FULL), pol("vpc", vpc_deny)],
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL)],
    );
    let mut r = req("s3:GetObject", "*", "ap-northeast-1", &[]);
    r.missing_keys = MissingKeys::Unknown;
    match evaluate(&h, &r).verdict {
        Verdict::Indeterminate {
            missing_keys,
            statements,
        } => {
            assert_eq!(missing_keys, vec!["aws:sourcevpc"]);
            assert_eq!(statements[0].statement.sid.as_deref(), Some("VpcOnly"));
        }
        v => panic!("{v:?}"),
    }
    // with AWS semantics the absent key makes StringNotEquals true: denied
    r.missing_keys = MissingKeys::Absent;
    assert!(evaluate(&h, &r).verdict.is_denied());
    // known-absent keys are absent even in unknown mode
    r.missing_keys = MissingKeys::Unknown;
    r.absent_keys = vec!["AWS:SourceVpc".into()];
    assert!(evaluate(&h, &r).verdict.is_denied());
    // the key present decides
    r.absent_keys.clear();
    r.context.insert("aws:SourceVpc".into(), "vpc-1".into());
    assert!(evaluate(&h, &r).verdict.is_allowed());
    // an unknown deny does not matter when the action is denied anyway (implicitly)
    let h2 = hier(
        vec![pol("vpc", vpc_deny)],
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL)],
    );
    let mut r = req("s3:GetObject", "*", "ap-northeast-1", &[]);
    r.missing_keys = MissingKeys::Unknown;
    assert!(matches!(
        evaluate(&h2, &r).verdict,
        Verdict::Denied {
            cause: DenyCause::NoAllow,
            ..
        }
    ));
    // an unrelated action is allowed regardless of the missing key
    let mut r = req("ec2:DescribeInstances", "*", "ap-northeast-1", &[]);
    r.missing_keys = MissingKeys::Unknown;
    assert!(evaluate(&h, &r).verdict.is_allowed());
    // a certain deny elsewhere wins over an unknown one
    let h3 = hier(
        vec![pol("FullAWSAccess", FULL), pol("vpc", vpc_deny)],
        vec![pol("FullAWSAccess", FULL), pol("region", &region_deny(""))],
        vec![pol("FullAWSAccess", FULL)],
    );
    let mut r = req("s3:GetObject", "*", "eu-west-1", &[]);
    r.missing_keys = MissingKeys::Unknown;
    assert!(matches!(
        evaluate(&h3, &r).verdict,
        Verdict::Denied {
            cause: DenyCause::Statement { .. },
            ..
        }
    ));
    // an Allow that depends on a missing key at one level makes the verdict indeterminate
    let cond_allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/tier":"gold"}}}]}"#;
    let h4 = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("gold", cond_allow)],
        vec![pol("FullAWSAccess", FULL)],
    );
    let mut r = req("s3:GetObject", "*", "ap-northeast-1", &[]);
    r.missing_keys = MissingKeys::Unknown;
    assert!(matches!(
        evaluate(&h4, &r).verdict,
        Verdict::Indeterminate { .. }
    ));
    r.missing_keys = MissingKeys::Absent;
    assert!(matches!(
        evaluate(&h4, &r).verdict,
        Verdict::Denied {
            cause: DenyCause::NoAllow,
            ..
        }
    ));
}

#[test]
fn rcp_principal_matching() {
    let rcp = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":["s3:*"],"Resource":"*",
        "Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-example1234"},"BoolIfExists":{"aws:PrincipalIsAWSService":"false"}}}]}"#;
    let full_rcp = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    let mut h = hier(
        vec![pol("RCPFullAWSAccess", full_rcp), pol("org-only", rcp)],
        vec![pol("RCPFullAWSAccess", full_rcp)],
        vec![pol("RCPFullAWSAccess", full_rcp)],
    );
    h.kind = PolicyKind::Rcp;
    let outsider = req(
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        "ap-northeast-1",
        &[("aws:PrincipalOrgID", s("o-other"))],
    );
    assert!(evaluate(&h, &outsider).verdict.is_denied());
    let insider = req(
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        "ap-northeast-1",
        &[("aws:PrincipalOrgID", s("o-example1234"))],
    );
    assert!(evaluate(&h, &insider).verdict.is_allowed());
    let service = req(
        "s3:PutObject",
        "arn:aws:s3:::b/k",
        "ap-northeast-1",
        &[("aws:PrincipalIsAWSService", s("true"))],
    );
    assert!(evaluate(&h, &service).verdict.is_allowed());
    // Principal naming an account only applies to that account's principals
    let acct = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"444455556666"},"Action":"s3:*","Resource":"*"}]}"#;
    let h = hier(
        vec![pol("full", full_rcp), pol("acct", acct)],
        vec![pol("full", full_rcp)],
        vec![pol("full", full_rcp)],
    );
    assert!(
        evaluate(&h, &req("s3:GetObject", "*", "ap-northeast-1", &[]))
            .verdict
            .is_allowed()
    );
    // RCPs do not restrict resources of the management account
    let mut h_mgmt = hier(
        vec![pol("RCPFullAWSAccess", full_rcp), pol("org-only", rcp)],
        vec![pol("RCPFullAWSAccess", full_rcp)],
        vec![pol("RCPFullAWSAccess", full_rcp)],
    );
    h_mgmt.kind = PolicyKind::Rcp;
    let mgmt_key = req(
        "s3:GetObject",
        "arn:aws:s3:ap-northeast-1:999999999999:accesspoint/ap",
        "ap-northeast-1",
        &[("aws:PrincipalOrgID", s("o-other"))],
    );
    assert_eq!(
        evaluate(&h_mgmt, &mgmt_key).verdict,
        Verdict::Allowed {
            reason: AllowReason::ManagementAccount
        }
    );
    let member_key = req(
        "s3:GetObject",
        "arn:aws:s3:ap-northeast-1:111122223333:accesspoint/ap",
        "ap-northeast-1",
        &[("aws:PrincipalOrgID", s("o-other"))],
    );
    assert!(evaluate(&h_mgmt, &member_key).verdict.is_denied());
    let notp = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}]}"#;
    let h = hier(
        vec![pol("full", full_rcp), pol("notp", notp)],
        vec![pol("full", full_rcp)],
        vec![pol("full", full_rcp)],
    );
    assert!(
        evaluate(&h, &req("s3:GetObject", "*", "ap-northeast-1", &[]))
            .verdict
            .is_allowed()
    );
}

#[test]
fn matched_statements_are_reported_in_order() {
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL), pol("region", &region_deny(""))],
        vec![pol("FullAWSAccess", FULL)],
    );
    let e = evaluate(&h, &req("ec2:RunInstances", "*", "us-east-1", &[]));
    let names: Vec<(usize, &str, Effect)> = e
        .matched
        .iter()
        .map(|m| (m.level.index, m.policy.as_str(), m.effect))
        .collect();
    assert_eq!(
        names,
        vec![
            (0, "FullAWSAccess", Effect::Allow),
            (1, "FullAWSAccess", Effect::Allow),
            (1, "region", Effect::Deny),
            (2, "FullAWSAccess", Effect::Allow)
        ]
    );
}

// ---------------------------------------------------------------- grammar rules

fn rule_hits(text: &str, kind: PolicyKind) -> Vec<(String, &'static str, Severity)> {
    lint(text, kind)
        .into_iter()
        .map(|f| (f.location.to_string(), f.rule, f.severity))
        .collect()
}

#[test]
fn grammar_rules_per_type() {
    use Severity::*;
    #[rustfmt::skip]
    let cases: Vec<RuleCase> = vec![
        (FULL, PolicyKind::Scp, vec![]),
        (r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Scp, vec![("Statement[1].Principal", "scp-principal", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Scp, vec![("Statement[0].NotPrincipal", "scp-principal", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#,
            PolicyKind::Scp, vec![("Statement[0].NotAction", "scp-allow-not-action", Warning)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Rcp, vec![("Statement[0].Effect", "rcp-not-deny", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Rcp, vec![("Statement[0]", "rcp-principal", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Rcp, vec![("Statement[0].Principal", "rcp-principal", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","NotAction":"s3:Get*","Resource":"*"}}"#,
            PolicyKind::Rcp, vec![("Statement[0].NotAction", "rcp-not-action", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
            PolicyKind::Rcp, vec![("Statement[0].Action", "rcp-bare-star-action", Error)]),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Rcp, vec![]),
        (r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEqualsX":{"a":"b"}}}]}"#,
            PolicyKind::Scp, vec![("Statement[0].Condition.StringEqualsX", "condition-operator-unknown", Error)]),
        (r#"{"Statement":{"Effect":"Deny","Action":"s3:*"}}"#,
            PolicyKind::Scp, vec![("Version", "version-missing", Warning), ("Statement[0]", "resource-missing", Error)]),
        (r#"{"Version":"2012-10-18","Statement":[{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Scp, vec![("Version", "version-invalid", Error), ("Statement[1].Sid", "duplicate-sid", Warning)]),
        (r#"{"Version":"2012-10-17","Statement":{"Sid":"bad-sid","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"},"NumericLessThan":{"a":"x"}}}}"#,
            PolicyKind::Scp, vec![("Statement[0].Condition.IpAddress.aws:SourceIp", "condition-value-invalid", Warning),
                                  ("Statement[0].Condition.NumericLessThan.a", "condition-value-invalid", Warning),
                                  ("Statement[0].Sid", "sid-syntax", Warning)]),
    ];
    for (text, kind, want) in cases {
        let mut got = rule_hits(text, kind);
        got.sort();
        let mut want: Vec<(String, &str, Severity)> = want
            .into_iter()
            .map(|(l, r, s)| (l.to_string(), r, s))
            .collect();
        want.sort();
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn parse_error_message_points_into_document() {
    let err = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"*"},
        {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":null}}}]}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Statement[2].Condition.StringEquals.aws:x: "),
        "{err}"
    );
}

#[test]
fn request_without_resource() {
    let deny_some = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ProtectRoles","Effect":"Deny","Action":"iam:DeleteRole","Resource":"arn:*:iam::*:role/lzctl-*"}]}"#;
    let deny_not = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyLogs","Effect":"Deny","Action":"s3:PutObject","NotResource":"arn:aws:s3:::logs/*"}]}"#;
    let allow_some = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::data/*"}]}"#;
    let h = hier(
        vec![
            pol("FullAWSAccess", FULL),
            pol("protect", deny_some),
            pol("logs", deny_not),
        ],
        vec![pol("some", allow_some)],
        vec![pol("FullAWSAccess", FULL)],
    );
    // complete context: a Deny limited to some resources does not deny "any resource",
    // an Allow limited to some resources does allow it
    assert!(
        evaluate(&h, &req("iam:DeleteRole", "*", "ap-northeast-1", &[]))
            .verdict
            .is_allowed()
    );
    assert!(
        evaluate(&h, &req("s3:PutObject", "", "ap-northeast-1", &[]))
            .verdict
            .is_allowed()
    );
    // but a named resource is decided exactly
    let named = req(
        "iam:DeleteRole",
        "arn:aws:iam::111122223333:role/lzctl-x",
        "ap-northeast-1",
        &[],
    );
    assert!(evaluate(&h, &named).verdict.is_denied());
    let named = req(
        "iam:DeleteRole",
        "arn:aws:iam::111122223333:role/other",
        "ap-northeast-1",
        &[],
    );
    assert!(matches!(
        evaluate(&h, &named).verdict,
        Verdict::Denied {
            cause: DenyCause::NoAllow,
            ..
        }
    ));
    // unknown mode: the verdict depends on the resource
    let mut r = req("iam:DeleteRole", "*", "ap-northeast-1", &[]);
    r.missing_keys = MissingKeys::Unknown;
    match evaluate(&h, &r).verdict {
        Verdict::Indeterminate { missing_keys, .. } => assert_eq!(missing_keys, ["(resource)"]),
        v => panic!("{v:?}"),
    }
}

#[test]
fn variables_only_with_version_2012() {
    let with = |version: &str| {
        format!(
            r#"{{{version}"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home-${{aws:PrincipalAccount}}/*"}}]}}"#
        )
    };
    let mine = req(
        "s3:GetObject",
        "arn:aws:s3:::home-111122223333/k",
        "ap-northeast-1",
        &[],
    );
    let literal = req(
        "s3:GetObject",
        "arn:aws:s3:::home-${aws:PrincipalAccount}/k",
        "ap-northeast-1",
        &[],
    );
    for (version, expands) in [
        (r#""Version":"2012-10-17","#, true),
        (r#""Version":"2008-10-17","#, false),
        ("", false),
    ] {
        let h = hier(
            vec![pol("FullAWSAccess", FULL)],
            vec![pol("home", &with(version))],
            vec![pol("FullAWSAccess", FULL)],
        );
        assert_eq!(
            evaluate(&h, &mine).verdict.is_allowed(),
            expands,
            "{version}"
        );
        assert_eq!(
            evaluate(&h, &literal).verdict.is_allowed(),
            !expands,
            "{version}"
        );
    }
}

#[test]
fn resource_variables_expand_only_in_the_resource_part() {
    let p = |res: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"{res}"}}]}}"#
        )
    };
    let check = |res: &str, target: &str| {
        let h = hier(
            vec![pol("FullAWSAccess", FULL)],
            vec![pol("p", &p(res))],
            vec![pol("FullAWSAccess", FULL)],
        );
        evaluate(&h, &req("iam:GetRole", target, "us-east-1", &[]))
            .verdict
            .is_allowed()
    };
    assert!(check(
        "arn:aws:iam::111122223333:role/${aws:PrincipalAccount}-*",
        "arn:aws:iam::111122223333:role/111122223333-x"
    ));
    assert!(!check(
        "arn:aws:iam::${aws:PrincipalAccount}:role/*",
        "arn:aws:iam::111122223333:role/x"
    ));
    // in an S3 ARN the bucket/key is the resource part
    assert!(check(
        "arn:aws:s3:::b/${aws:PrincipalAccount}/*",
        "arn:aws:s3:::b/111122223333/k"
    ));
}

/// What a verdict is, for the documented-semantics table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Allow,
    Deny,
    Undecided,
}

fn kind_of(v: &Verdict) -> V {
    match v {
        Verdict::Allowed { .. } => V::Allow,
        Verdict::Denied { .. } => V::Deny,
        Verdict::Indeterminate { .. } => V::Undecided,
    }
}

/// Cases from AWS's documented semantics ("IAM JSON policy elements: Condition operators",
/// "Condition with multiple context keys or values", the `aws:AssumedRoot` global key and
/// the SCP evaluation page), decided as a CloudTrail replay decides them: keys the record
/// does not carry are unknown (`MissingKeys::Unknown`), keys it tells are absent are in
/// `absent_keys`. An unknown key must never turn into a verdict, whatever the operator.
#[test]
fn documented_semantics_in_replay_mode() {
    let deny = |cond: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"D","Effect":"Deny","Action":"*","Resource":"*","Condition":{cond}}}]}}"#
        )
    };
    let root_lockdown = deny(
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:*:iam::*:root"},"Null":{"aws:AssumedRoot":"true"}}"#,
    );
    let role = "arn:aws:iam::111122223333:role/app";
    let root = "arn:aws:iam::111122223333:root";
    // (what, deny policy, principal, region, present keys, absent keys, expected)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, String, &str, &str, Vec<(&str, &str)>, Vec<&str>, V)> = vec![
        (
            "negated operator on an unknown key",
            deny(r#"{"StringNotEquals":{"aws:SourceVpc":"vpc-1"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec![],
            V::Undecided,
        ),
        (
            "Null on an unknown key",
            deny(r#"{"Null":{"aws:PrincipalTag/team":"true"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec![],
            V::Undecided,
        ),
        (
            "Null false on an unknown key",
            deny(r#"{"Null":{"aws:PrincipalTag/team":"false"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec![],
            V::Undecided,
        ),
        (
            "negated IfExists on an unknown key",
            deny(r#"{"StringNotEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec![],
            V::Undecided,
        ),
        (
            "positive IfExists on an unknown key",
            deny(r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec![],
            V::Undecided,
        ),
        (
            "Null on a key known to be absent",
            deny(r#"{"Null":{"aws:PrincipalTag/team":"true"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec!["aws:PrincipalTag/team"],
            V::Deny,
        ),
        (
            "IfExists on a key known to be absent",
            deny(r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec!["aws:PrincipalTag/team"],
            V::Deny,
        ),
        (
            "IfExists on a present key that fails",
            deny(r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}"#),
            role,
            "ap-northeast-1",
            vec![("aws:PrincipalTag/team", "red")],
            vec![],
            V::Allow,
        ),
        (
            "ForAllValues on an absent key",
            deny(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec!["aws:TagKeys"],
            V::Deny,
        ),
        (
            "ForAnyValue on an absent key",
            deny(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}"#),
            role,
            "ap-northeast-1",
            vec![],
            vec!["aws:TagKeys"],
            V::Allow,
        ),
        (
            "centralized root session (aws:AssumedRoot present)",
            root_lockdown.clone(),
            root,
            "us-east-1",
            vec![("aws:AssumedRoot", "true")],
            vec![],
            V::Allow,
        ),
        (
            "root credentials (aws:AssumedRoot absent)",
            root_lockdown.clone(),
            root,
            "us-east-1",
            vec![],
            vec!["aws:AssumedRoot"],
            V::Deny,
        ),
        (
            "root, record silent about aws:AssumedRoot",
            root_lockdown.clone(),
            root,
            "us-east-1",
            vec![],
            vec![],
            V::Undecided,
        ),
        (
            "a role: ArnLike fails whatever aws:AssumedRoot is",
            root_lockdown,
            role,
            "us-east-1",
            vec![],
            vec![],
            V::Allow,
        ),
        (
            "region outside the allowed ones",
            region_deny(""),
            role,
            "eu-west-1",
            vec![],
            vec![],
            V::Deny,
        ),
        (
            "region inside the allowed ones",
            region_deny(""),
            role,
            "ap-northeast-3",
            vec![],
            vec![],
            V::Allow,
        ),
    ];
    let mut failures = Vec::new();
    for (what, policy, principal, region, present, absent, want) in &cases {
        let h = hier(
            vec![pol("FullAWSAccess", FULL), pol("guard", policy)],
            vec![pol("FullAWSAccess", FULL)],
            vec![pol("FullAWSAccess", FULL)],
        );
        let mut r = req("s3:PutObject", "*", region, &[]);
        r.principal_arn = principal.to_string();
        r.missing_keys = MissingKeys::Unknown;
        r.context = present.iter().map(|(k, v)| (k.to_string(), s(v))).collect();
        r.absent_keys = absent.iter().map(|k| k.to_string()).collect();
        let got = evaluate(&h, &r).verdict;
        if kind_of(&got) != *want {
            failures.push(format!("{what}: got {got}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn denials_name_every_denying_policy() {
    let deny_all = |sid: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{sid}","Effect":"Deny","Action":"s3:*","Resource":"*"}}]}}"#
        )
    };
    let h = hier(
        vec![pol("FullAWSAccess", FULL), pol("a", &deny_all("A"))],
        vec![pol("FullAWSAccess", FULL), pol("b", &deny_all("B"))],
        vec![pol("FullAWSAccess", FULL), pol("region", &region_deny(""))],
    );
    let e = evaluate(&h, &req("s3:GetObject", "*", "eu-west-1", &[]));
    let names: Vec<String> = e
        .denials()
        .iter()
        .map(|(level, cause)| match cause {
            DenyCause::Statement { policy, statement } => format!("{level}/{policy}/{statement}"),
            DenyCause::NoAllow => format!("{level}/no-allow"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "root Root/a/A",
            "OU Companies/Foo/b/B",
            "account 111122223333/region/DenyOutsideRegions"
        ]
    );
    // an implicit deny names the level without an Allow
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![],
        vec![pol("FullAWSAccess", FULL)],
    );
    let e = evaluate(&h, &req("s3:GetObject", "*", "eu-west-1", &[]));
    assert!(matches!(e.denials()[..], [(_, DenyCause::NoAllow)]));
    // nothing for an allowed request
    let h = hier(
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL)],
        vec![pol("FullAWSAccess", FULL)],
    );
    assert!(evaluate(&h, &req("s3:GetObject", "*", "eu-west-1", &[]))
        .denials()
        .is_empty());
}
