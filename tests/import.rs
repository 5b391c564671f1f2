//! `lzctl import` end to end against the emulator: an organization made by
//! hand (with Control Tower) and one made by lzctl are imported, and the
//! plan of the written configuration changes nothing, rewrites no
//! description, and costs the calls a plan of the original file costs. The
//! calls lzctl makes are all allowed by the IAM policies in docs/iam/.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_sdk_organizations::types::{PolicyType, Tag};
use aws_sdk_organizations::Client;
use support::{
    control_tower_baseline, create_organization, register_ou, text, workspace, Emulator,
    MANAGEMENT_ACCOUNT,
};

const DENY_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoBucketDeletion","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
const DENY_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["ec2:DeleteVpc"],"Resource":"*"}]}"#;
const TAGS: &str = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"}}}}"#;

fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

/// Calls by `service:Operation`, of the management account only (throttled
/// answers left out: their retries are counted).
fn calls(emu: &Emulator) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in emu.answered_log() {
        if e["account"]
            .as_str()
            .is_some_and(|a| a != MANAGEMENT_ACCOUNT)
        {
            continue;
        }
        let op = format!(
            "{}:{}",
            e["service"].as_str().unwrap_or(""),
            e["operation"].as_str().unwrap_or("")
        );
        *out.entry(op).or_default() += 1;
    }
    out
}

async fn create_ou(client: &Client, parent: &str, name: &str) -> String {
    client
        .create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .send()
        .await
        .unwrap()
        .organizational_unit()
        .unwrap()
        .id()
        .unwrap()
        .to_string()
}

async fn create_account(client: &Client, name: &str, root: &str, to: &str) -> String {
    let id = support::create_account(client, name, &format!("aws+{name}@example.com")).await;
    client
        .move_account()
        .account_id(&id)
        .source_parent_id(root)
        .destination_parent_id(to)
        .send()
        .await
        .unwrap();
    id
}

async fn create_policy(
    client: &Client,
    name: &str,
    kind: PolicyType,
    description: &str,
    content: &str,
    targets: &[&str],
) -> String {
    let id = client
        .create_policy()
        .name(name)
        .r#type(kind)
        .description(description)
        .content(content)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .policy_summary()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    for t in targets {
        client
            .attach_policy()
            .policy_id(&id)
            .target_id(*t)
            .send()
            .await
            .unwrap();
    }
    id
}

/// A group made by hand under Control Tower: Security and Sandbox
/// registered, an OU added under Security outside Control Tower, three
/// companies (one with a staging OU), a tagged company OU, accounts, SCPs
/// (one on an account) and a tag policy, none of them marked by lzctl.
async fn hand_made_group(emu: &Emulator) -> (Client, BTreeMap<&'static str, String>) {
    let client = create_organization(emu).await;
    let (ct, baseline) = control_tower_baseline(emu).await;
    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let mut ids = BTreeMap::new();
    for name in ["Security", "Sandbox"] {
        let ou = create_ou(&client, &root, name).await;
        let arn = format!("arn:aws:organizations::{MANAGEMENT_ACCOUNT}:ou/o-x/{ou}");
        let arn = client
            .describe_organizational_unit()
            .organizational_unit_id(&ou)
            .send()
            .await
            .map(|o| o.organizational_unit().unwrap().arn().unwrap().to_string())
            .unwrap_or(arn);
        register_ou(emu, &ct, &baseline, arn).await;
        ids.insert(name, ou);
    }
    let extra = create_ou(&client, &ids["Security"], "Forensics").await;
    let workloads = create_ou(&client, &root, "Workloads").await;
    client
        .tag_resource()
        .resource_id(&workloads)
        .tags(Tag::builder().key("owner").value("ccoe").build().unwrap())
        .send()
        .await
        .unwrap();
    let audit = create_account(&client, "audit", &root, &ids["Security"]).await;
    create_account(&client, "forensics", &root, &extra).await;
    for (company, envs) in [
        ("Alpha", &["prod", "dev"][..]),
        ("Beta", &["prod", "dev"][..]),
        ("Gamma", &["prod", "dev", "staging"][..]),
    ] {
        let c = create_ou(&client, &workloads, company).await;
        client
            .tag_resource()
            .resource_id(&c)
            .tags(
                Tag::builder()
                    .key("company")
                    .value(company.to_lowercase())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        for env in envs {
            let e = create_ou(&client, &c, env).await;
            create_account(
                &client,
                &format!("{}-{env}", company.to_lowercase()),
                &root,
                &e,
            )
            .await;
        }
    }
    // SCPs may be enabled already (Control Tower enables them).
    for kind in [PolicyType::ServiceControlPolicy, PolicyType::TagPolicy] {
        let _ = client
            .enable_policy_type()
            .root_id(&root)
            .policy_type(kind)
            .send()
            .await;
    }
    let s3 = create_policy(
        &client,
        "deny-s3-delete",
        PolicyType::ServiceControlPolicy,
        "Made by hand: no bucket deletion",
        DENY_S3,
        &[&workloads],
    )
    .await;
    create_policy(
        &client,
        "deny-vpc-delete",
        PolicyType::ServiceControlPolicy,
        "",
        DENY_EC2,
        &[&audit],
    )
    .await;
    create_policy(
        &client,
        "cost-center",
        PolicyType::TagPolicy,
        "Cost centers",
        TAGS,
        &[&root],
    )
    .await;
    ids.insert("deny-s3-delete", s3);
    (client, ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_made_organization_is_imported_and_plans_no_change() {
    let emu = Emulator::start_with(serde_json::json!({
        "controltower_landing_zone": {"manifest": {"governedRegions": ["ap-northeast-1", "ap-northeast-3"]}},
        "controltower_home_region": "ap-northeast-1",
        "controltower_operation_seconds": 0,
    }));
    let (client, ids) = hand_made_group(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    for split in [false, true] {
        let out = dir.path().join(if split { "split" } else { "one" });
        let out_text = out.to_string_lossy().to_string();
        let mut args = vec!["import", "--out", out_text.as_str()];
        if split {
            args.push("--split");
        }
        emu.clear_log();
        let import = emu.lzctl(dir.path(), &args);
        assert_exit(&import, 0);
        assert!(
            emu.mutating_calls().is_empty(),
            "import is read-only: {:?}",
            emu.mutating_calls()
        );
        let main = std::fs::read_to_string(out.join("landing-zone.yaml")).unwrap();
        assert!(main.contains("company_parent: Workloads"), "{main}");
        assert!(main.contains("environments: [dev, prod]"), "{main}");
        assert!(main.contains("register: false"), "{main}");
        assert!(
            main.contains("governed_regions: [ap-northeast-1, ap-northeast-3]"),
            "{main}"
        );

        emu.clear_log();
        let config = out.join("landing-zone.yaml");
        let plan = emu.lzctl(
            dir.path(),
            &[
                "plan",
                "-c",
                &config.to_string_lossy(),
                "--detailed-exitcode",
            ],
        );
        assert_exit(&plan, 0);
        assert!(
            emu.mutating_calls().is_empty(),
            "{:?}",
            emu.mutating_calls()
        );
        let stdout = String::from_utf8_lossy(&plan.stdout);
        for adopted in ["deny-s3-delete", "deny-vpc-delete", "cost-center"] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.contains(adopted) && l.contains("adopted")),
                "the plan names {adopted} as adopted:\n{stdout}"
            );
        }
    }

    // A change to an adopted policy's document keeps its description.
    let config = dir.path().join("one/landing-zone.yaml");
    std::fs::write(
        dir.path().join("one/policies/scp/deny-s3-delete.json"),
        DENY_S3.replace("s3:DeleteBucket", "s3:DeleteBucketPolicy"),
    )
    .unwrap();
    let apply = emu.lzctl(
        dir.path(),
        &["apply", "-c", &config.to_string_lossy(), "--auto-approve"],
    );
    assert_exit(&apply, 0);
    let policy = client
        .describe_policy()
        .policy_id(&ids["deny-s3-delete"])
        .send()
        .await
        .unwrap();
    let policy = policy.policy().unwrap();
    assert_eq!(
        policy.policy_summary().unwrap().description(),
        Some("Made by hand: no bucket deletion")
    );
    assert!(policy.content().unwrap().contains("s3:DeleteBucketPolicy"));

    // With prune on, adoption is recorded by a tag, once.
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text_before.replace("version: 1\n", "version: 1\nprune: true\n"),
    )
    .unwrap();
    let plan = emu.lzctl(
        dir.path(),
        &[
            "plan",
            "-c",
            &config.to_string_lossy(),
            "--detailed-exitcode",
        ],
    );
    assert_exit(&plan, 2);
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(stdout.matches("adopt policy").count(), 3, "{stdout}");
    let apply = emu.lzctl(
        dir.path(),
        &["apply", "-c", &config.to_string_lossy(), "--auto-approve"],
    );
    assert_exit(&apply, 0);
    let tags = client
        .list_tags_for_resource()
        .resource_id(&ids["deny-s3-delete"])
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "managed-by" && t.value() == "lzctl"));
    let again = emu.lzctl(
        dir.path(),
        &[
            "plan",
            "-c",
            &config.to_string_lossy(),
            "--detailed-exitcode",
        ],
    );
    assert_exit(&again, 0);
}

/// Calls of the Organizations family (what import writes); the other
/// families' sections (`baselines:`, `detective:`) are not imported, and
/// their reads (delegated administrators, the role assumed in the audit
/// account) go with them.
fn organization_calls(all: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    all.iter()
        .filter(|(op, _)| op.starts_with("organizations:") || op.starts_with("sts:"))
        .filter(|(op, _)| {
            // Read for the detective section, which import does not write.
            !matches!(
                op.as_str(),
                "organizations:ListDelegatedAdministrators"
                    | "organizations:ListAWSServiceAccessForOrganization"
                    | "sts:AssumeRole"
            )
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// IAM actions a policy file allows.
fn allowed(path: &Path) -> BTreeSet<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for statement in doc["Statement"].as_array().unwrap() {
        match &statement["Action"] {
            serde_json::Value::String(a) => {
                out.insert(a.to_ascii_lowercase());
            }
            serde_json::Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter_map(|a| a.as_str())
                    .map(str::to_ascii_lowercase),
            ),
            _ => {}
        }
    }
    out
}

fn not_allowed(calls: &BTreeMap<String, usize>, allowed: &BTreeSet<String>) -> Vec<String> {
    calls
        .keys()
        .filter(|op| !allowed.contains(&op.to_ascii_lowercase()))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organization_lzctl_made_is_imported_and_planned_with_the_same_calls() {
    let emu = Emulator::start_with(serde_json::json!({"controltower_landing_zone": false}));
    create_organization(&emu).await;
    let ws = workspace();
    let dir = ws.path();
    let group = "examples/group/landing-zone.yaml";
    emu.clear_log();
    let apply = emu.lzctl(dir, &["apply", "-c", group, "--auto-approve"]);
    assert_exit(&apply, 0);
    let apply_calls = calls(&emu);

    emu.clear_log();
    let plan = emu.lzctl(dir, &["plan", "-c", group, "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    let normal = calls(&emu);

    let import = emu.lzctl(dir, &["import", "--out", "imported"]);
    assert_exit(&import, 0);
    emu.clear_log();
    let plan = emu.lzctl(
        dir,
        &[
            "plan",
            "-c",
            "imported/landing-zone.yaml",
            "--detailed-exitcode",
        ],
    );
    assert_exit(&plan, 0);
    assert!(
        emu.mutating_calls().is_empty(),
        "{:?}",
        emu.mutating_calls()
    );
    let after_import = calls(&emu);
    assert_eq!(
        organization_calls(&after_import),
        organization_calls(&normal)
    );
    // Nothing about lzctl's own policies reads as an adoption or a rewrite.
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(!stdout.contains("adopted"), "{stdout}");
    let imported = std::fs::read_to_string(dir.join("imported/landing-zone.yaml")).unwrap();
    assert!(imported.contains("environments: [dev, prod]"), "{imported}");
    assert!(
        imported.contains("environments: [dev, prod, staging]"),
        "{imported}"
    );

    // docs/iam: the plan's calls are read-only and allowed by the plan
    // policy; the apply's by plan + apply.
    let root = support::repo_root();
    let plan_policy = allowed(&root.join("docs/iam/lzctl-plan.json"));
    let mut apply_policy = plan_policy.clone();
    apply_policy.extend(allowed(&root.join("docs/iam/lzctl-apply.json")));
    let mut plans = normal.clone();
    plans.extend(after_import);
    assert_eq!(not_allowed(&plans, &plan_policy), Vec::<String>::new());
    assert_eq!(
        not_allowed(&apply_calls, &apply_policy),
        Vec::<String>::new()
    );
}
