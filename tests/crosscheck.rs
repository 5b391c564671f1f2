//! Cross-check of the SCP evaluator against an independent IAM policy simulator,
//! `@cloud-copilot/iam-simulate` (pinned in `scripts/crosscheck/package.json`).
//!
//! Generates random SCP hierarchies and requests from a fixed seed, decides each with
//! [`lzctl::policy::iam::evaluate`] (`MissingKeys::Absent`: the context is complete),
//! writes cases and verdicts as JSON lines and has `scripts/crosscheck/compare.mjs`
//! decide the same cases with the simulator. The test fails on any disagreement.
//!
//! Ignored by default: it needs node and the npm package. Run it with
//! `scripts/crosscheck-simulator.sh`, which installs the package and sets:
//!
//! - `LZCTL_CROSSCHECK_CASES` number of cases (default 2000);
//! - `LZCTL_CROSSCHECK_SEED` seed of the generator (default 1);
//! - `LZCTL_CROSSCHECK_OUT` the JSON-lines file (default under `CARGO_TARGET_TMPDIR`).
//!
//! Inputs the simulator is known to read differently from AWS (and from lzctl) are not
//! generated: epoch-seconds dates, IP addresses without a prefix length, policy variables
//! in ARN condition values and `2008-10-17` policies (which do not expand variables). See
//! `scripts/crosscheck/README.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use lzctl::policy::iam::{
    evaluate, ContextValue, DenyCause, Hierarchy, Level, LevelKind, MissingKeys, NamedPolicy,
    PolicyDocument, PolicyKind, Request, Verdict,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// The account of every request (and of every resource that names an account).
const ACCOUNT: &str = "111122223333";

/// Actions with a resource of the type the action takes (the simulator checks both
/// against its IAM dataset).
const ACTIONS: [(&str, &str); 6] = [
    ("s3:GetObject", "arn:aws:s3:::data-bucket/key1"),
    ("s3:PutObject", "arn:aws:s3:::logs-bucket/a/b"),
    (
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
    ),
    (
        "iam:CreateRole",
        "arn:aws:iam::111122223333:role/lzctl-deploy",
    ),
    ("iam:DeleteRole", "arn:aws:iam::111122223333:role/app"),
    (
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:111122223333:queue1",
    ),
];

const ACTION_PATTERNS: [&str; 12] = [
    "*",
    "s3:*",
    "s3:Get*",
    "s3:*Object",
    "ec2:*",
    "ec2:Run*",
    "iam:*",
    "iam:?reateRole",
    "iam:Delete*",
    "sqs:*",
    "iam:*Role",
    "S3:GETOBJECT",
];

const RESOURCE_PATTERNS: [&str; 10] = [
    "*",
    "arn:aws:s3:::data-bucket/*",
    "arn:aws:s3:::*-bucket/*",
    "arn:aws:iam::*:role/lzctl-*",
    "arn:aws:iam::111122223333:role/*",
    "arn:aws:ec2:*:*:instance/*",
    "arn:aws:sqs:us-east-1:111122223333:queue?",
    "arn:aws:s3:::logs-bucket/*",
    "arn:*:iam::*:role/app",
    "arn:aws:iam::${aws:PrincipalAccount}:role/*",
];

const PRINCIPALS: [&str; 3] = [
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:iam::111122223333:role/lzctl-deploy",
    "arn:aws:iam::111122223333:user/bob",
];

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-northeast-1"];

/// A condition key, the operators generated for it and the policy values to pick from.
struct KeySpec {
    key: &'static str,
    operators: &'static [&'static str],
    values: &'static [&'static str],
}

/// Every value here is one the simulator reads as AWS does: dates are ISO 8601 (no epoch
/// seconds), IP values carry a prefix length and ARN values hold no policy variable.
const KEYS: [KeySpec; 9] = [
    KeySpec {
        key: "aws:RequestedRegion",
        operators: &[
            "StringEquals",
            "StringNotEquals",
            "StringLike",
            "StringNotLike",
            "StringEqualsIfExists",
            "StringNotEqualsIfExists",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
        ],
        values: &[
            "us-east-1",
            "eu-west-1",
            "ap-northeast-1",
            "us-*",
            "*-west-?",
            "US-EAST-1",
        ],
    },
    KeySpec {
        key: "aws:PrincipalTag/team",
        operators: &[
            "StringEquals",
            "StringNotEquals",
            "StringLike",
            "StringNotLike",
            "StringEqualsIfExists",
            "StringNotEqualsIfExists",
            "StringLikeIfExists",
            "StringNotLikeIfExists",
            "StringEqualsIgnoreCase",
            "Null",
        ],
        values: &["ops", "dev", "o*", "OPS", "true", "false"],
    },
    KeySpec {
        key: "aws:PrincipalArn",
        operators: &[
            "ArnLike",
            "ArnNotLike",
            "ArnEquals",
            "ArnNotEquals",
            "ArnLikeIfExists",
            "ArnNotLikeIfExists",
        ],
        values: &[
            "arn:aws:iam::*:role/app",
            "arn:aws:iam::111122223333:role/*",
            "arn:*:iam::*:role/lzctl-*",
            "arn:aws:iam::111122223333:role/app",
        ],
    },
    KeySpec {
        key: "aws:TagKeys",
        operators: &[
            "ForAnyValue:StringEquals",
            "ForAllValues:StringEquals",
            "ForAnyValue:StringNotEquals",
            "ForAllValues:StringNotEquals",
            "ForAllValues:StringLike",
            "ForAnyValue:StringLike",
            "StringEquals",
            "StringNotEquals",
            "Null",
        ],
        values: &["env", "team", "cost*", "true", "false"],
    },
    KeySpec {
        key: "aws:SourceIp",
        operators: &[
            "IpAddress",
            "NotIpAddress",
            "IpAddressIfExists",
            "NotIpAddressIfExists",
        ],
        values: &[
            "10.0.0.0/8",
            "192.0.2.0/24",
            "2001:db8::/32",
            "203.0.113.7/32",
        ],
    },
    KeySpec {
        key: "aws:CurrentTime",
        operators: &[
            "DateGreaterThan",
            "DateLessThan",
            "DateNotEquals",
            "DateEquals",
            "DateGreaterThanEquals",
            "DateLessThanEquals",
            "DateGreaterThanIfExists",
        ],
        values: &[
            "2026-01-01T00:00:00Z",
            "2020-06-01T12:00:00Z",
            "2023-11-14T22:13:20Z",
        ],
    },
    KeySpec {
        key: "aws:MultiFactorAuthPresent",
        operators: &["Bool", "BoolIfExists", "Null"],
        values: &["true", "false"],
    },
    KeySpec {
        key: "aws:MultiFactorAuthAge",
        operators: &[
            "NumericLessThan",
            "NumericGreaterThanEquals",
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThanEqualsIfExists",
            "NumericGreaterThan",
            "NumericLessThanEquals",
        ],
        values: &["3600", "60", "0"],
    },
    KeySpec {
        key: "aws:PrincipalAccount",
        operators: &["StringEquals", "StringNotEquals", "StringLike"],
        values: &[
            "111122223333",
            "444455556666",
            "1111*",
            "${aws:PrincipalAccount}",
        ],
    },
];

/// Request context values (besides `aws:RequestedRegion`), each key present with
/// probability 60%.
const CONTEXT: [(&str, &[&str]); 5] = [
    ("aws:PrincipalTag/team", &["ops", "dev", "Ops"]),
    (
        "aws:SourceIp",
        &["10.1.2.3", "192.0.2.77", "2001:db8::5", "8.8.8.8"],
    ),
    (
        "aws:CurrentTime",
        &[
            "2026-11-22T21:00:00Z",
            "2020-06-01T12:00:00Z",
            "2019-01-01T00:00:00Z",
        ],
    ),
    ("aws:MultiFactorAuthPresent", &["true", "false"]),
    ("aws:MultiFactorAuthAge", &["30", "3600", "7200"]),
];

/// The values of the multi-valued `aws:TagKeys`.
const TAG_KEYS: [&[&str]; 4] = [&["env"], &["env", "team"], &["costcenter"], &[]];

struct Gen(StdRng);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0.gen_range(0..n)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    fn condition(&mut self) -> (String, String, Value) {
        let spec = &KEYS[self.below(KEYS.len())];
        let op = self.pick(spec.operators);
        let mut values: Vec<Value> = if op == "Null" {
            vec![json!(self.pick(&["true", "false"]))]
        } else {
            (0..1 + self.below(2))
                .map(|_| json!(self.pick(spec.values)))
                .collect()
        };
        let value = if values.len() == 1 && self.chance(50) {
            values.remove(0)
        } else {
            Value::Array(values)
        };
        (op.to_string(), spec.key.to_string(), value)
    }

    fn statement(&mut self) -> Value {
        let effect = if self.chance(60) { "Allow" } else { "Deny" };
        let mut st = Map::new();
        if self.chance(30) {
            st.insert("Sid".into(), json!(format!("S{}", self.below(100))));
        }
        st.insert("Effect".into(), json!(effect));
        let actions: Vec<&str> = (0..1 + self.below(2))
            .map(|_| self.pick(&ACTION_PATTERNS))
            .collect();
        let action_element = if self.chance(20) {
            "NotAction"
        } else {
            "Action"
        };
        let action_value = if actions.len() == 1 && self.chance(50) {
            json!(actions[0])
        } else {
            json!(actions)
        };
        st.insert(action_element.into(), action_value);
        let resources: Vec<&str> = (0..1 + self.below(2))
            .map(|_| self.pick(&RESOURCE_PATTERNS))
            .collect();
        let resource_element = if self.chance(15) {
            "NotResource"
        } else {
            "Resource"
        };
        let resource_value = if self.chance(40) {
            json!("*")
        } else {
            json!(resources)
        };
        st.insert(resource_element.into(), resource_value);
        if self.chance(55) {
            let mut cond = Map::new();
            for _ in 0..1 + self.below(2) {
                let (op, key, value) = self.condition();
                if let Value::Object(block) = cond.entry(op).or_insert_with(|| json!({})) {
                    block.insert(key, value);
                }
            }
            st.insert("Condition".into(), Value::Object(cond));
        }
        Value::Object(st)
    }

    /// One case: the JSON record (without verdict) and the hierarchy and request.
    fn case(&mut self, index: usize) -> (Map<String, Value>, Hierarchy, Request) {
        let full_access = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        });
        let nlevels = 1 + self.below(4);
        let mut levels_json = Vec::new();
        let mut levels = Vec::new();
        for li in 0..nlevels {
            let mut policies = Vec::new();
            if self.chance(75) {
                policies.push(("FullAWSAccess".to_string(), full_access.clone()));
            }
            for pi in 0..self.below(3) {
                let statements: Vec<Value> =
                    (0..1 + self.below(3)).map(|_| self.statement()).collect();
                policies.push((
                    format!("p{li}{pi}"),
                    json!({"Version": "2012-10-17", "Statement": statements}),
                ));
            }
            levels_json.push(Value::Array(
                policies
                    .iter()
                    .map(|(name, policy)| json!({"name": name, "policy": policy}))
                    .collect(),
            ));
            let kind = if li + 1 == nlevels && nlevels > 1 {
                LevelKind::Account
            } else if li == 0 {
                LevelKind::Root
            } else {
                LevelKind::Ou
            };
            levels.push(Level {
                kind,
                name: format!("L{li}"),
                policies: policies
                    .into_iter()
                    .map(|(name, policy)| {
                        let text = policy.to_string();
                        let document = PolicyDocument::parse(&text)
                            .unwrap_or_else(|e| panic!("case {index}: {text}: {e:?}"));
                        NamedPolicy { name, document }
                    })
                    .collect(),
            });
        }
        let hierarchy = Hierarchy {
            kind: PolicyKind::Scp,
            management_account: None,
            levels,
        };

        let (action, resource) = self.pick(&ACTIONS);
        let principal = self.pick(&PRINCIPALS);
        let region = self.pick(&REGIONS);
        let mut context = Map::new();
        context.insert("aws:RequestedRegion".into(), json!(region));
        for (key, values) in CONTEXT {
            if self.chance(60) {
                context.insert(key.into(), json!(self.pick(values)));
            }
        }
        if self.chance(60) {
            context.insert("aws:TagKeys".into(), json!(self.pick(&TAG_KEYS)));
        }

        let request = Request {
            account: ACCOUNT.into(),
            principal_arn: principal.into(),
            action: action.into(),
            resource: resource.into(),
            region: region.into(),
            context: context
                .iter()
                .filter(|(k, _)| k.as_str() != "aws:RequestedRegion")
                .map(|(k, v)| (k.clone(), context_value(v)))
                .collect(),
            missing_keys: MissingKeys::Absent,
            absent_keys: vec![],
        };
        let mut record = Map::new();
        record.insert("case".into(), json!(index));
        record.insert("account".into(), json!(ACCOUNT));
        record.insert("levels".into(), Value::Array(levels_json));
        record.insert("principal".into(), json!(principal));
        record.insert("action".into(), json!(action));
        record.insert("resource".into(), json!(resource));
        record.insert("context".into(), Value::Object(context));
        (record, hierarchy, request)
    }
}

fn context_value(v: &Value) -> ContextValue {
    match v {
        Value::Array(items) => ContextValue::Multi(
            items
                .iter()
                .map(|x| x.as_str().expect("string").to_string())
                .collect(),
        ),
        other => ContextValue::Single(other.as_str().expect("string").to_string()),
    }
}

/// The verdict in the simulator's vocabulary.
fn simulator_term(v: &Verdict) -> &'static str {
    match v {
        Verdict::Allowed { .. } => "Allowed",
        Verdict::Denied {
            cause: DenyCause::Statement { .. },
            ..
        } => "ExplicitlyDenied",
        Verdict::Denied {
            cause: DenyCause::NoAllow,
            ..
        } => "ImplicitlyDenied",
        Verdict::Indeterminate { .. } => "Indeterminate",
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={s:?} is not a valid value")),
        _ => default,
    }
}

#[test]
#[ignore = "needs node and @cloud-copilot/iam-simulate: run scripts/crosscheck-simulator.sh"]
fn evaluator_agrees_with_iam_simulate() {
    let cases: usize = env_or("LZCTL_CROSSCHECK_CASES", 2000);
    let seed: u64 = env_or("LZCTL_CROSSCHECK_SEED", 1);
    let out: PathBuf = env_or(
        "LZCTL_CROSSCHECK_OUT",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("crosscheck-cases.jsonl"),
    );
    assert!(cases > 0, "LZCTL_CROSSCHECK_CASES must be positive");

    let started = Instant::now();
    let mut gen = Gen(StdRng::seed_from_u64(seed));
    let mut lines = String::new();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for index in 0..cases {
        let (mut record, hierarchy, request) = gen.case(index);
        let verdict = evaluate(&hierarchy, &request).verdict;
        let term = simulator_term(&verdict);
        assert_ne!(
            term, "Indeterminate",
            "case {index}: MissingKeys::Absent must decide"
        );
        *counts.entry(term).or_default() += 1;
        record.insert("lzctl".into(), json!(term));
        record.insert("explain".into(), json!(verdict.to_string()));
        lines.push_str(&Value::Object(record).to_string());
        lines.push('\n');
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).expect("create the output directory");
    }
    std::fs::write(&out, lines).expect("write the cases");
    let generated = started.elapsed();
    println!(
        "lzctl: {cases} cases (seed {seed}) generated and evaluated in {:.2}s, verdicts {counts:?}, written to {}",
        generated.as_secs_f64(),
        out.display()
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/crosscheck/compare.mjs");
    let started = Instant::now();
    let output = Command::new("node")
        .arg(&script)
        .arg(&out)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    println!(
        "simulator: finished in {:.2}s",
        started.elapsed().as_secs_f64()
    );

    let summary: Value = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("crosscheck-summary "))
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| {
            panic!(
                "compare.mjs gave no summary (exit {}); was the package installed?",
                output.status
            )
        });
    let field = |k: &str| summary[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(field("cases"), cases as u64, "cases read by compare.mjs");
    assert_eq!(field("errors"), 0, "simulator errors: {summary}");
    assert_eq!(field("disagree"), 0, "disagreements: {summary}");
    assert_eq!(field("agree"), cases as u64, "agreement: {summary}");
    assert!(output.status.success(), "compare.mjs: {}", output.status);
}
