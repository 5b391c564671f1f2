//! Property tests: the wildcard matcher against a naive reference, and the soundness of
//! three-valued evaluation (a determinate verdict with unknown keys holds for every way of
//! filling those keys in).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::context::{ContextValue, MissingKeys, Request};
use super::matching::{glob_match, tokens};
use super::*;

/// Naive exponential reference matcher.
fn reference(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
        Some('?') => !t.is_empty() && reference(&p[1..], &t[1..]),
        Some(c) => t.first() == Some(c) && reference(&p[1..], &t[1..]),
    }
}

/// No regression files: they would land outside this module's directory.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn glob_agrees_with_reference(p in "[ab*?]{0,8}", t in "[ab]{0,8}") {
        let pc: Vec<char> = p.chars().collect();
        let tc: Vec<char> = t.chars().collect();
        prop_assert_eq!(glob_match(&tokens(&p), &t, false), reference(&pc, &tc));
    }
}

const KEYS: [&str; 3] = ["aws:PrincipalTag/team", "aws:SourceVpc", "aws:TagKeys"];
const VALS: [&str; 3] = ["a", "b", "c"];
const OPS: [&str; 12] = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIfExists",
    "StringNotEqualsIfExists",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringEquals",
    "ForAnyValue:StringNotEquals",
    "ForAllValues:StringNotLike",
    "Null",
    "StringEqualsIgnoreCase",
];
const ACTIONS: [&str; 4] = [
    "s3:GetObject",
    "s3:PutObject",
    "ec2:RunInstances",
    "iam:CreateRole",
];
const PATTERNS: [&str; 6] = [
    "*",
    "s3:*",
    "s3:Get*",
    "ec2:*",
    "s3:*Object",
    "iam:?reateRole",
];

fn condition() -> impl Strategy<Value = (usize, usize, Vec<usize>)> {
    (
        0..OPS.len(),
        0..KEYS.len(),
        prop::collection::vec(0..VALS.len(), 1..3),
    )
}

fn statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(0..PATTERNS.len(), 1..3),
        prop::collection::vec(condition(), 0..3),
    )
        .prop_map(|(allow, not_action, pats, conds)| {
            let actions: Vec<&str> = pats.iter().map(|i| PATTERNS[*i]).collect();
            let mut cond = serde_json::Map::new();
            for (op, key, vals) in conds {
                let values: Vec<Value> = if OPS[op] == "Null" {
                    vec![json!(if vals[0] == 0 { "false" } else { "true" })]
                } else {
                    vals.iter().map(|v| json!(VALS[*v])).collect()
                };
                let entry = cond.entry(OPS[op].to_string()).or_insert_with(|| json!({}));
                entry
                    .as_object_mut()
                    .unwrap()
                    .insert(KEYS[key].to_string(), Value::Array(values));
            }
            let mut st = json!({"Effect": if allow {"Allow"} else {"Deny"}, "Resource": "*"});
            st[if not_action && !allow {
                "NotAction"
            } else {
                "Action"
            }] = json!(actions);
            if !cond.is_empty() {
                st["Condition"] = Value::Object(cond);
            }
            st
        })
}

fn hierarchy() -> impl Strategy<Value = Hierarchy> {
    prop::collection::vec(
        prop::collection::vec(prop::collection::vec(statement(), 1..3), 0..3),
        1..4,
    )
    .prop_map(|levels| {
        let n = levels.len();
        Hierarchy {
            kind: PolicyKind::Scp,
            management_account: None,
            levels: levels
                .into_iter()
                .enumerate()
                .map(|(i, pols)| Level {
                    kind: if i == 0 {
                        LevelKind::Root
                    } else if i + 1 == n {
                        LevelKind::Account
                    } else {
                        LevelKind::Ou
                    },
                    name: format!("L{i}"),
                    policies: pols
                        .into_iter()
                        .enumerate()
                        .map(|(j, stmts)| NamedPolicy {
                            name: format!("P{i}.{j}"),
                            document: PolicyDocument::from_value(
                                json!({"Version": "2012-10-17", "Statement": stmts}),
                            )
                            .expect("generated policy parses"),
                        })
                        .collect(),
                })
                .collect(),
        }
    })
}

/// A key's state: 0 absent, 1..=3 single value, 4 multi ["a","b"], 5 empty multi.
fn value_of(state: usize) -> Option<ContextValue> {
    match state {
        0 => None,
        1..=3 => Some(ContextValue::Single(VALS[state - 1].to_string())),
        4 => Some(ContextValue::Multi(vec!["a".into(), "b".into()])),
        _ => Some(ContextValue::Multi(vec![])),
    }
}

fn request(action: usize, states: &[usize]) -> Request {
    let mut r = Request {
        account: "111122223333".into(),
        principal_arn: "arn:aws:iam::111122223333:role/app".into(),
        action: ACTIONS[action].into(),
        resource: "*".into(),
        region: "ap-northeast-1".into(),
        missing_keys: MissingKeys::Absent,
        ..Default::default()
    };
    for (k, s) in KEYS.iter().zip(states) {
        if let Some(v) = value_of(*s) {
            r.context.insert(k.to_string(), v);
        }
    }
    r
}

fn class(v: &Verdict) -> &'static str {
    match v {
        Verdict::Allowed { .. } => "allowed",
        Verdict::Denied { .. } => "denied",
        Verdict::Indeterminate { .. } => "indeterminate",
    }
}

proptest! {
    #![proptest_config(config(400))]

    /// Unknown mode is sound: a determinate verdict there equals the verdict for every
    /// completion of the unknown keys; and complete contexts are never indeterminate.
    #[test]
    fn three_valued_evaluation_is_sound(
        h in hierarchy(),
        action in 0..ACTIONS.len(),
        states in prop::collection::vec(0usize..6, 3),
        known in prop::collection::vec(any::<bool>(), 3),
    ) {
        let full = request(action, &states);
        let complete = evaluate(&h, &full).verdict;
        prop_assert_ne!(class(&complete), "indeterminate");
        // Documented simplification: `...IfExists` and `Null` treat an unknown key as absent,
        // so soundness is only claimed for keys no such operator references.
        let mut known = known;
        for lvl in &h.levels {
            for p in &lvl.policies {
                for st in &p.document.statements {
                    for c in &st.conditions {
                        if c.operator.if_exists || c.operator.base == BaseOperator::Null {
                            let i = KEYS.iter().position(|k| k.eq_ignore_ascii_case(&c.key)).unwrap();
                            known[i] = true;
                        }
                    }
                }
            }
        }
        // hide the keys not marked known
        let mut partial = full.clone();
        partial.missing_keys = MissingKeys::Unknown;
        for (i, k) in KEYS.iter().enumerate() {
            if !known[i] {
                partial.context.remove(*k);
            } else if states[i] == 0 {
                partial.absent_keys.push(k.to_string());
            }
        }
        let guessed = evaluate(&h, &partial).verdict;
        if class(&guessed) != "indeterminate" {
            prop_assert_eq!(class(&guessed), class(&complete), "partial {:?}\ncomplete {:?}", guessed, complete);
        } else if let Verdict::Indeterminate { missing_keys, .. } = &guessed {
            // it only ever blames keys that really were hidden
            for k in missing_keys {
                let i = KEYS.iter().position(|x| x.to_ascii_lowercase() == *k).expect("known key");
                prop_assert!(!known[i]);
            }
        }
        // with nothing hidden, unknown mode is the same as absent mode
        let mut all_known = full.clone();
        all_known.missing_keys = MissingKeys::Unknown;
        all_known.absent_keys = KEYS.iter().map(|k| k.to_string()).collect();
        prop_assert_eq!(evaluate(&h, &all_known).verdict, complete);
    }

    /// Action matching is case-insensitive end to end.
    #[test]
    fn action_case_does_not_matter(h in hierarchy(), action in 0..ACTIONS.len(), states in prop::collection::vec(0usize..6, 3)) {
        let r = request(action, &states);
        let mut upper = r.clone();
        upper.action = r.action.to_uppercase();
        prop_assert_eq!(class(&evaluate(&h, &r).verdict), class(&evaluate(&h, &upper).verdict));
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Parsers of untrusted text never panic.
    #[test]
    fn value_parsers_never_panic(
        s in "\\PC{0,24}",
        t in "[0-9T:Z+\\-.é/a-f]{0,24}",
        d in "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9:.]{2,9}[+\\-Zéa ]{0,2}[0-9:éa]{0,5}",
    ) {
        for x in [&s, &t, &d] {
            let _ = super::values::parse_date(x);
            let _ = super::values::parse_number(x);
            let _ = super::values::Cidr::parse(x);
            let _ = super::values::parse_ip(x);
            let _ = Operator::parse(x);
        }
    }

    /// Lint never panics on arbitrary statement-shaped JSON.
    #[test]
    fn lint_never_panics(json in arb_json()) {
        let doc = json!({"Version": "2012-10-17", "Statement": json});
        let _ = lint_value(doc.clone(), PolicyKind::Scp);
        let _ = lint_value(doc.clone(), PolicyKind::Rcp);
        // and evaluation of whatever parses never panics either
        let (Some(parsed), _) = parse_value(doc) else { return Ok(()) };
        let h = Hierarchy {
            kind: PolicyKind::Scp,
            management_account: None,
            levels: vec![Level {
                kind: LevelKind::Root,
                name: "Root".into(),
                policies: vec![NamedPolicy { name: "p".into(), document: parsed }],
            }],
        };
        for mode in [MissingKeys::Absent, MissingKeys::Unknown] {
            let mut r = request(0, &[1, 4, 0]);
            r.missing_keys = mode;
            r.context.insert("aws:x".into(), ContextValue::Single("2020-01-01T00:00+é".into()));
            let _ = evaluate(&h, &r);
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Principal",
        "Sid",
        "StringEquals",
        "DateLessThan",
        "IpAddress",
        "Null",
        "aws:x",
        "AWS",
        "Bogus",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z:*?${}0-9./-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "Allow",
            "Deny",
            "*",
            "s3:*",
            "2020-01-01T00:00+é",
            "10.0.0.0/8"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}
