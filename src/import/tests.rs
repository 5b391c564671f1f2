//! Import without AWS: an observed organization rendered, written, loaded
//! back as a configuration and planned against the same organization gives
//! no change.

use std::collections::BTreeSet;

use super::*;
use crate::model::{Account, Ou, Policy};
use crate::plan::{make_plan, PlanOptions};

const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":["s3:DeleteBucket"],"Resource":"*"}]}"#;
const TAG_POLICY: &str = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"}}}}"#;

fn p(s: &str) -> OuPath {
    OuPath::parse(s).unwrap()
}

fn ou(id: &str, tags: &[(&str, &str)]) -> Ou {
    Ou {
        id: Some(id.into()),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A group made by hand: three companies share prod and dev, one also has
/// staging, one company has a tagged prod OU, Security at the top, a policy
/// per kind, one attached to an account, two accounts with one name.
fn hand_made() -> Observed {
    let mut org = OrgState {
        organization_id: Some("o-example".into()),
        root_id: Some("r-root".into()),
        management_account_id: Some("123456789012".into()),
        enabled_policy_types: BTreeSet::from([PolicyKind::Scp, PolicyKind::Tag]),
        ..OrgState::default()
    };
    let mut n = 0;
    let mut add = |org: &mut OrgState, path: &str, tags: &[(&str, &str)]| {
        n += 1;
        org.ous.insert(p(path), ou(&format!("ou-{n}"), tags));
    };
    add(&mut org, "Security", &[]);
    add(&mut org, "Group", &[("owner", "ccoe")]);
    add(&mut org, "Group/Companies", &[]);
    for (c, envs) in [
        ("Alpha", &["prod", "dev"][..]),
        ("Beta", &["prod", "dev"][..]),
        ("Gamma", &["prod", "dev", "staging"][..]),
        ("Delta", &["prod", "dev"][..]),
    ] {
        add(
            &mut org,
            &format!("Group/Companies/{c}"),
            &[("company", &c.to_lowercase())],
        );
        for e in envs {
            add(&mut org, &format!("Group/Companies/{c}/{e}"), &[]);
        }
    }
    // Delta's prod carries a tag: it is written as a child, not an environment.
    org.ous
        .get_mut(&p("Group/Companies/Delta/prod"))
        .unwrap()
        .tags
        .insert("tier".into(), "gold".into());
    // An OU lzctl made once: its own tags are not part of the file.
    org.ous
        .get_mut(&p("Group/Companies/Alpha/dev"))
        .unwrap()
        .tags
        .extend([
            (MANAGED_TAG_KEY.to_string(), "lzctl".to_string()),
            (
                PATH_TAG_KEY.to_string(),
                "Group/Companies/Alpha/dev".to_string(),
            ),
        ]);
    let accounts = [
        ("management", "123456789012", ""),
        ("audit", "200000000001", "Security"),
        ("alpha-prod", "200000000002", "Group/Companies/Alpha/prod"),
        ("shared", "200000000003", "Group/Companies/Beta/dev"),
        (
            "shared#200000000004",
            "200000000004",
            "Group/Companies/Gamma/staging",
        ),
    ];
    for (key, id, at) in accounts {
        org.accounts.insert(
            key.into(),
            Account {
                id: Some(id.into()),
                email: format!("aws+{id}@example.com"),
                ou: OuPath::parse(at).unwrap(),
                tags: Default::default(),
            },
        );
    }
    let policy = |kind, description: &str, content: &str, targets: Vec<Target>| Policy {
        id: Some("p-x".into()),
        kind,
        description: description.into(),
        content: content.into(),
        targets: targets.into_iter().collect(),
        aws_managed: false,
        tags: Default::default(),
    };
    org.policies.insert(
        "FullAWSAccess".into(),
        Policy {
            aws_managed: true,
            ..policy(
                PolicyKind::Scp,
                "AWS",
                crate::model::AWS_FULL_ACCESS_DOCUMENT,
                vec![Target::Root],
            )
        },
    );
    org.policies.insert(
        "deny-s3-delete".into(),
        policy(
            PolicyKind::Scp,
            "Made by hand: no bucket deletion",
            DENY,
            vec![
                Target::Ou(p("Group/Companies")),
                Target::Account("shared#200000000004".into()),
            ],
        ),
    );
    org.policies.insert(
        "lzctl-made".into(),
        policy(
            PolicyKind::Scp,
            "[lzctl] lzctl-made",
            DENY,
            vec![Target::Ou(p("Security"))],
        ),
    );
    org.policies.insert(
        "cost-center".into(),
        policy(PolicyKind::Tag, "", TAG_POLICY, vec![Target::Root]),
    );
    org.policies.insert(
        "aws-guardrails-abc".into(),
        policy(
            PolicyKind::Scp,
            "Control Tower",
            DENY,
            vec![Target::Ou(p("Security"))],
        ),
    );
    org.policies
        .insert("detached".into(), policy(PolicyKind::Scp, "", DENY, vec![]));
    Observed::from(org)
}

fn write(imported: &Imported) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in &imported.files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

fn options(split: bool) -> ImportOptions {
    ImportOptions {
        home_region: "ap-northeast-1".into(),
        company_parent: None,
        split,
    }
}

#[test]
fn the_imported_file_plans_no_change_against_what_it_was_read_from() {
    for split in [false, true] {
        let observed = hand_made();
        let imported = render(&observed, &options(split));
        let dir = write(&imported);
        let main = &imported.files[0].1;
        let desired = crate::config::load(&dir.path().join(MAIN_FILE))
            .unwrap_or_else(|d| panic!("{}\n{main}", d.render()));
        let plan = make_plan(&desired, &observed, &PlanOptions::default())
            .unwrap_or_else(|e| panic!("{e}\n{main}"));
        assert!(
            plan.changes.is_empty(),
            "split={split}: {:#?}\n{main}",
            plan.changes
        );
        assert!(plan.is_converged());
        // The hand-made policies are adopted as they are.
        let mut adopted: Vec<String> = plan
            .notices
            .iter()
            .filter(|n| n.message.starts_with("adopted"))
            .map(|n| n.address.to_string())
            .collect();
        adopted.sort();
        assert_eq!(adopted, vec!["scp:deny-s3-delete", "tag:cost-center"]);
        // Every account is declared, the management account included.
        assert_eq!(desired.state.accounts.len(), 5);
        assert!(plan
            .unmanaged
            .iter()
            .all(|u| !u.address.to_string().starts_with("account")));
    }
}

#[test]
fn environments_are_inferred_and_a_company_that_differs_keeps_its_own() {
    let imported = render(&hand_made(), &options(false));
    let main = &imported.files[0].1;
    assert!(main.contains("company_parent: Group/Companies\n"), "{main}");
    assert!(main.contains("environments: [dev, prod]\n"), "{main}");
    // Gamma has staging too; Delta's prod is tagged, so it is a child.
    assert!(
        main.contains("environments: [dev, prod, staging]"),
        "{main}"
    );
    assert!(main.contains("environments: [dev]"), "{main}");
    assert!(main.contains("tags: { tier: gold }"), "{main}");
    assert!(
        !main.contains(MANAGED_TAG_KEY) && !main.contains(PATH_TAG_KEY),
        "{main}"
    );
}

#[test]
fn policies_become_templates_and_control_tower_and_aws_keep_theirs() {
    let imported = render(&hand_made(), &options(false));
    let main = &imported.files[0].1;
    let names: Vec<String> = imported
        .files
        .iter()
        .map(|(p, _)| p.to_string_lossy().to_string())
        .collect();
    assert!(
        names.contains(&"policies/scp/deny-s3-delete.json".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"policies/tag/cost-center.json".to_string()),
        "{names:?}"
    );
    assert!(
        !main.contains("aws-guardrails-abc:") && !main.contains("FullAWSAccess"),
        "{main}"
    );
    // A description that is not the name is kept as it is; lzctl's prefix is not written.
    assert!(
        main.contains("description: \"Made by hand: no bucket deletion\""),
        "{main}"
    );
    assert!(!main.contains("[lzctl]"), "{main}");
    // The second `shared` gets a unique name, and targets follow it.
    assert!(main.contains("account:shared-200000000004"), "{main}");
    assert_eq!(imported.warnings.len(), 2, "{:?}", imported.warnings);
    assert!(imported
        .warnings
        .iter()
        .any(|w| w.contains("`detached` is attached nowhere")));
}

#[test]
fn split_writes_one_file_per_company() {
    let imported = render(&hand_made(), &options(true));
    let names: Vec<String> = imported
        .files
        .iter()
        .map(|(p, _)| p.to_string_lossy().to_string())
        .collect();
    for company in ["Alpha", "Beta", "Gamma", "Delta"] {
        assert!(
            names.contains(&format!("companies/{company}.yaml")),
            "{names:?}"
        );
    }
    assert!(imported.files[0].1.contains("include: [companies/]"));
    let beta = &imported
        .files
        .iter()
        .find(|(p, _)| p.ends_with("Beta.yaml"))
        .unwrap()
        .1;
    assert!(beta.contains("name: shared,"), "{beta}");
}
