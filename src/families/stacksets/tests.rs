//! Unit tests of the StackSets family: the diff against hand-made observed
//! states, through the whole plan core (no AWS).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;
use crate::config::Desired;
use crate::families::controltower::{ControlTowerState, LandingZone, Presence};
use crate::families::Observed;
use crate::model::{Account, OrgState, Ou, MANAGED_TAG_KEY};
use crate::plan::{make_plan, Action, Plan, PlanError, PlanOptions};

const ROLE: &str = r#"
Parameters:
  AuditAccountId: { Type: String, AllowedPattern: "^[0-9]{12}$" }
  Label: { Type: String, Default: one }
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: { Statement: [] }
"#;

const RULES: &str = r#"
Resources:
  Rule:
    Type: AWS::Config::ConfigRule
    Properties: { Source: { Owner: AWS, SourceIdentifier: S3_BUCKET_VERSIONING_ENABLED } }
"#;

const CONFIG: &str = r#"version: 1
organization:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1, ap-northeast-3]
  management_account: "123456789012"
  control_tower: auto
organizational_units:
  Security: {}
  Companies:
    children:
      A: { children: { prod: {}, dev: {} } }
      B: { children: { prod: {}, dev: {} } }
accounts:
  - { name: audit, email: aws+audit@example.com, ou: Security, id: "100000000001" }
  - { name: a-prod, email: aws+a-prod@example.com, ou: Companies/A/prod, id: "200000000001" }
  - { name: a-dev, email: aws+a-dev@example.com, ou: Companies/A/dev, id: "200000000002" }
  - { name: b-prod, email: aws+b-prod@example.com, ou: Companies/B/prod, id: "200000000003" }
  - { name: b-dev, email: aws+b-dev@example.com, ou: Companies/B/dev, id: "200000000004" }
baselines:
  role:
    template: role.yaml
    parameters: { AuditAccountId: { account: audit }, Label: one }
    targets: [Companies]
    regions: [ap-northeast-1]
    capabilities: [CAPABILITY_IAM]
  prod-rules:
    template: rules.yaml
    targets: ["Companies/*/prod"]
    depends_on: [role]
"#;

fn load(dir: &Path, config: &str) -> Desired {
    std::fs::write(dir.join("role.yaml"), ROLE).unwrap();
    std::fs::write(dir.join("rules.yaml"), RULES).unwrap();
    std::fs::write(dir.join("lz.yaml"), config).unwrap();
    crate::config::load(&dir.join("lz.yaml")).unwrap_or_else(|d| panic!("{}", d.render()))
}

fn ou_id(path: &str) -> String {
    format!("ou-{}", path.to_lowercase().replace('/', "-"))
}

/// The organization exactly as the file declares it, with ids.
fn observed_org(desired: &Desired) -> OrgState {
    let mut org = OrgState {
        organization_id: Some("o-exampleorg1".into()),
        root_id: Some("r-root".into()),
        management_account_id: Some("123456789012".into()),
        ..OrgState::default()
    };
    for path in desired.state.ous.keys() {
        org.ous.insert(
            path.clone(),
            Ou {
                id: Some(ou_id(&path.to_string())),
                tags: Default::default(),
            },
        );
    }
    for (name, a) in &desired.state.accounts {
        org.accounts.insert(
            name.clone(),
            Account {
                id: a.id.clone(),
                email: a.email.clone(),
                ou: a.ou.clone(),
                tags: Default::default(),
            },
        );
    }
    org
}

fn id_of(desired: &Desired, name: &str) -> String {
    desired.state.accounts[name].id.clone().unwrap()
}

/// A stack set as lzctl would have left it for `baseline`, every instance current.
fn deployed(desired: &Desired, baseline: &str) -> StackSetState {
    let b = &desired.families.stacksets.0[baseline];
    let org = observed_org(desired);
    let mut set = StackSetState {
        id: format!("{baseline}:1"),
        description: b.description.clone(),
        template: b.template.clone(),
        parameters: b
            .parameters
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    ParamValue::Text(t) => t.clone(),
                    ParamValue::AccountId(n) => id_of(desired, n),
                    ParamValue::OrganizationId => "o-exampleorg1".into(),
                };
                (k.clone(), value)
            })
            .collect(),
        capabilities: b.capabilities.iter().cloned().collect(),
        tags: [
            (MANAGED_TAG_KEY.to_string(), "lzctl".to_string()),
            ("lzctl-baseline".to_string(), baseline.to_string()),
        ]
        .into(),
        permission_model: "SERVICE_MANAGED".into(),
        auto_deployment: true,
        managed_execution: true,
        ou_ids: b.targets.iter().map(|t| ou_id(&t.to_string())).collect(),
        regions: b.regions.iter().cloned().collect(),
        ..StackSetState::default()
    };
    for (_, a) in org.accounts.iter() {
        let Some(id) = &a.id else { continue };
        if b.targets.iter().any(|t| a.ou.starts_with(t)) {
            set.current.insert(
                id.clone(),
                b.regions.iter().cloned().collect::<BTreeSet<_>>(),
            );
        }
    }
    set
}

fn observed(desired: &Desired, sets: &[&str]) -> Observed {
    let mut o = Observed::from(observed_org(desired));
    o.stacksets.read = true;
    for s in sets {
        o.stacksets.owned.insert(s.to_string(), deployed(desired, s));
    }
    o
}

fn plan(desired: &Desired, observed: &Observed) -> Plan {
    make_plan(desired, observed, &PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn addresses(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| c.address.to_string()).collect()
}

fn op<'a>(plan: &'a Plan, address: &str) -> &'a Operation {
    let c = plan
        .changes
        .iter()
        .find(|c| c.address.to_string() == address)
        .unwrap_or_else(|| panic!("no change {address}: {:?}", addresses(plan)));
    match &c.operation {
        crate::families::Operation::StackSets(op) => op,
        other => panic!("not a StackSets change: {other:?}"),
    }
}

#[test]
fn new_baselines_are_created_on_their_targets_and_dependants_wait() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), CONFIG);
    let p = plan(&desired, &observed(&desired, &[]));
    assert_eq!(addresses(&p), ["stackset:role", "stackset:prod-rules"]);
    assert!(p.changes.iter().all(|c| c.action == Action::Create));
    let Operation::CreateStackSet {
        deploy, spec, caller, ..
    } = op(&p, "stackset:prod-rules")
    else {
        panic!()
    };
    assert_eq!(
        deploy.ous,
        vec![
            OuRef::Path(OuPath::parse("Companies/A/prod").unwrap()),
            OuRef::Path(OuPath::parse("Companies/B/prod").unwrap())
        ]
    );
    assert_eq!(deploy.regions, ["ap-northeast-1", "ap-northeast-3"]);
    assert_eq!(deploy.filter, AccountFilter::None);
    assert!(spec.auto_deployment, "no Control Tower: AutoDeployment on");
    assert_eq!(*caller, Caller::Management);
    let rules = &p.changes[1];
    assert_eq!(
        rules.depends_on,
        vec![stackset_address("role")],
        "depends_on orders the dependant after"
    );
    assert!(
        rules.impact[0].contains("2 accounts × 2 regions = 4 stack instances"),
        "{:?}",
        rules.impact
    );
    // The audit account id is resolved for the plan.
    let role = &p.changes[0];
    assert_eq!(
        role.after.as_ref().unwrap()["parameter AuditAccountId"],
        "100000000001"
    );
}

#[test]
fn an_unchanged_landing_zone_costs_no_operation_and_foreign_sets_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), CONFIG);
    let mut o = observed(&desired, &["role", "prod-rules"]);
    o.stacksets.foreign.insert(
        "AWSControlTowerBP-BASELINE-CLOUDWATCH".into(),
        "Control Tower's stack set (never changed)".into(),
    );
    let p = plan(&desired, &o);
    assert!(p.changes.is_empty(), "{:?}", addresses(&p));
    assert_eq!(
        p.unmanaged
            .iter()
            .map(|u| u.address.to_string())
            .collect::<Vec<_>>(),
        ["stackset:AWSControlTowerBP-BASELINE-CLOUDWATCH"]
    );
}

#[test]
fn one_parameter_edited_is_one_update_with_the_parameter_diff() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), &CONFIG.replace("Label: one", "Label: two"));
    let mut o = observed(&desired, &["role", "prod-rules"]);
    o.stacksets
        .owned
        .get_mut("role")
        .unwrap()
        .parameters
        .insert("Label".into(), "one".into());
    let p = plan(&desired, &o);
    assert_eq!(addresses(&p), ["stackset:role"]);
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.reason, "parameters changed: Label");
    assert_eq!(c.before.as_ref().unwrap()["parameter Label"], "one");
    assert_eq!(c.after.as_ref().unwrap()["parameter Label"], "two");
    assert!(c.before.as_ref().unwrap().get("content").is_none());
    let Operation::UpdateStackSet { scope, .. } = op(&p, "stackset:role") else {
        panic!()
    };
    let scope = scope.as_ref().unwrap();
    assert_eq!(scope.ous, vec![OuRef::Id(ou_id("Companies"))]);
    assert_eq!(scope.regions, ["ap-northeast-1"]);
}

#[test]
fn a_template_edit_carries_both_texts_for_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), CONFIG);
    let mut o = observed(&desired, &["role", "prod-rules"]);
    let old = RULES.replace("S3_BUCKET_VERSIONING_ENABLED", "S3_BUCKET_LOGGING_ENABLED");
    o.stacksets.owned.get_mut("prod-rules").unwrap().template = old.clone();
    let p = plan(&desired, &o);
    assert_eq!(addresses(&p), ["stackset:prod-rules"]);
    let c = &p.changes[0];
    assert_eq!(c.reason, "template changed");
    assert_eq!(c.before.as_ref().unwrap()["content"], old.as_str());
    assert_eq!(c.after.as_ref().unwrap()["content"], RULES);
    let human = crate::render::human(&p, false);
    assert!(
        human.contains("-    Properties: { Source: { Owner: AWS, SourceIdentifier: S3_BUCKET_LOGGING_ENABLED } }")
            && human.contains("+    Properties: { Source: { Owner: AWS, SourceIdentifier: S3_BUCKET_VERSIONING_ENABLED } }"),
        "{human}"
    );
}

#[test]
fn targets_regions_and_accounts_added_or_removed_are_one_retire_and_one_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let config = CONFIG
        .replace(
            "targets: [\"Companies/*/prod\"]",
            "targets: [\"Companies/*/prod\", Security]\n    exclude_accounts: [b-prod]",
        )
        .replace(
            "prod-rules:\n    template: rules.yaml",
            "prod-rules:\n    template: rules.yaml\n    regions: [ap-northeast-1, us-east-1]",
        );
    let desired = load(dir.path(), &config);
    let mut o = observed(&desired, &["role", "prod-rules"]);
    let set = o.stacksets.owned.get_mut("prod-rules").unwrap();
    // Observed: deployed to the prod OUs and Companies/A/dev, in Tokyo and Osaka,
    // b-prod included; a-prod lacks its Tokyo instance (moved in by hand).
    set.ou_ids = [
        ou_id("Companies/A/prod"),
        ou_id("Companies/B/prod"),
        ou_id("Companies/A/dev"),
    ]
    .into();
    set.regions = ["ap-northeast-1".into(), "ap-northeast-3".into()].into();
    set.current.clear();
    let both: BTreeSet<String> = ["ap-northeast-1".into(), "ap-northeast-3".into()].into();
    set.current.insert(id_of(&desired, "b-prod"), both.clone());
    set.current.insert(id_of(&desired, "a-dev"), both);
    set.current.insert(
        id_of(&desired, "a-prod"),
        ["ap-northeast-3".to_string()].into(),
    );
    let p = plan(&desired, &o);
    assert_eq!(
        addresses(&p),
        ["stackset-retire:prod-rules", "stackset-deploy:prod-rules"]
    );
    let Operation::RetireInstances { batches, .. } = op(&p, "stackset-retire:prod-rules") else {
        panic!()
    };
    // The dev OU leaves; Osaka leaves; b-prod is excluded now.
    assert_eq!(batches.len(), 3, "{batches:?}");
    let retire = &p.changes[0];
    assert!(
        retire.reason.contains("targets removed: Companies/A/dev (1 account with 2 stack instances)")
            && retire.reason.contains("regions removed: ap-northeast-3 (3 stack instances)")
            && retire.reason.contains("1 account leaving the baseline"),
        "{}",
        retire.reason
    );
    assert_eq!(batches[0].ous, vec![OuRef::Id(ou_id("Companies/A/dev"))]);
    assert_eq!(batches[1].regions, ["ap-northeast-3"]);
    assert_eq!(
        batches[2].filter,
        AccountFilter::Intersection(vec![AccountRef::Id(id_of(&desired, "b-prod"))])
    );
    let deploy = &p.changes[1];
    assert_eq!(
        deploy.depends_on,
        vec![retire_address("prod-rules")],
        "instances are added after the removals, never two operations at once"
    );
    assert!(deploy.reason.contains("target added: Security (1 account × 2 regions)"), "{}", deploy.reason);
    assert!(deploy.reason.contains("regions added: us-east-1"), "{}", deploy.reason);
    let Operation::DeployInstances { scope, .. } = op(&p, "stackset-deploy:prod-rules") else {
        panic!()
    };
    assert_eq!(scope.regions, ["ap-northeast-1", "us-east-1"]);
    assert_eq!(
        scope.filter,
        AccountFilter::Difference(vec![AccountRef::Name("b-prod".into())])
    );
    for c in &p.changes {
        assert!(c
            .operation
            .slots()
            .iter()
            .any(|s| s.name == "stackset:prod-rules" && s.capacity == 1));
    }
}

#[test]
fn suspended_accounts_are_left_out_with_difference_and_never_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), CONFIG);
    let mut o = observed(&desired, &[]);
    o.organizations.closed_accounts.insert("b-dev".into());
    let p = plan(&desired, &o);
    let Operation::CreateStackSet { deploy, .. } = op(&p, "stackset:role") else {
        panic!()
    };
    assert_eq!(
        deploy.filter,
        AccountFilter::Difference(vec![AccountRef::Id(id_of(&desired, "b-dev"))])
    );
    assert!(p.changes[0].impact[0].contains("3 accounts"), "{:?}", p.changes[0].impact);

    // An OUTDATED instance of a suspended account is not a repair.
    let mut o = observed(&desired, &["role", "prod-rules"]);
    o.organizations.closed_accounts.insert("b-dev".into());
    let role = o.stacksets.owned.get_mut("role").unwrap();
    role.current.remove(&id_of(&desired, "b-dev"));
    role.other.push(InstanceState {
        account: id_of(&desired, "b-dev"),
        region: "ap-northeast-1".into(),
        status: "OUTDATED".into(),
        detailed_status: "SKIPPED_SUSPENDED_ACCOUNT".into(),
        reason: None,
    });
    assert!(plan(&desired, &o).changes.is_empty());
}

#[test]
fn failed_instances_are_repaired_with_the_reason_and_running_ones_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), CONFIG);
    let mut o = observed(&desired, &["role", "prod-rules"]);
    let role = o.stacksets.owned.get_mut("role").unwrap();
    let a_dev = id_of(&desired, "a-dev");
    role.current.remove(&a_dev);
    role.other.push(InstanceState {
        account: a_dev.clone(),
        region: "ap-northeast-1".into(),
        status: "OUTDATED".into(),
        detailed_status: "FAILED".into(),
        reason: Some("Role lzctl-x already exists".into()),
    });
    let b_dev = id_of(&desired, "b-dev");
    role.current.remove(&b_dev);
    role.other.push(InstanceState {
        account: b_dev,
        region: "ap-northeast-1".into(),
        status: "OUTDATED".into(),
        detailed_status: "RUNNING".into(),
        reason: None,
    });
    let p = plan(&desired, &o);
    assert_eq!(addresses(&p), ["stackset:role"]);
    let c = &p.changes[0];
    assert_eq!(c.reason, "1 stack instance to repair (not current)");
    assert_eq!(
        c.impact,
        ["repair 200000000002 (a-dev) in ap-northeast-1: OUTDATED/FAILED: Role lzctl-x already exists"]
    );
    let Operation::UpdateStackSet { scope, .. } = op(&p, "stackset:role") else {
        panic!()
    };
    let scope = scope.as_ref().unwrap();
    assert_eq!(scope.filter, AccountFilter::Intersection(vec![AccountRef::Id(a_dev)]));
    assert_eq!(scope.ous, vec![OuRef::Id(ou_id("Companies"))]);
    assert_eq!(scope.regions, ["ap-northeast-1"]);
}

fn with_control_tower(o: &mut Observed, auto_enrollment: bool) {
    o.controltower = ControlTowerState {
        presence: Presence::Present,
        landing_zone: Some(LandingZone {
            arn: "arn:aws:controltower:ap-northeast-1:123456789012:landingzone/1".into(),
            version: "3.3".into(),
            status: "ACTIVE".into(),
            drift: "IN_SYNC".into(),
            governed_regions: vec!["ap-northeast-1".into(), "ap-northeast-3".into()],
            auto_enrollment,
            security_ou: Some("Security".into()),
            sandbox_ou: None,
        }),
        baselines: BTreeMap::new(),
        enabled: Vec::new(),
        busy: Vec::new(),
        provisioning: Default::default(),
    };
}

#[test]
fn with_control_tower_new_accounts_get_instances_only_after_their_enrollment() {
    let dir = tempfile::tempdir().unwrap();
    let config = CONFIG.replace(
        "  - { name: b-dev, email: aws+b-dev@example.com, ou: Companies/B/dev, id: \"200000000004\" }",
        "  - { name: b-dev, email: aws+b-dev@example.com, ou: Companies/B/dev, id: \"200000000004\" }\n  - { name: c-prod, email: aws+c-prod@example.com, ou: Companies/B/prod }",
    );
    let desired = load(dir.path(), &config);
    let mut o = observed(&desired, &["role", "prod-rules"]);
    o.organizations.accounts.remove("c-prod");
    for set in o.stacksets.owned.values_mut() {
        set.auto_deployment = false;
    }
    with_control_tower(&mut o, true);
    let diff = diff::diff(&crate::families::DiffContext {
        desired: &desired,
        observed: &o,
        options: &PlanOptions::default(),
    })
    .unwrap();
    let deploys: Vec<&crate::plan::Change> = diff
        .plan
        .changes
        .iter()
        .filter(|c| c.address.kind() == "stackset-deploy")
        .collect();
    assert_eq!(deploys.len(), 2, "both baselines cover Companies/B/prod");
    for d in &deploys {
        assert!(d.reason.contains("1 account arriving in the targets, deployed once Control Tower has enrolled them: c-prod"), "{}", d.reason);
        assert!(diff
            .orderings
            .contains(&(d.address.clone(), crate::model::Address::new("ct-enrollment", "c-prod"))));
        assert!(diff
            .orderings
            .contains(&(d.address.clone(), crate::model::Address::account_named("c-prod"))));
        let crate::families::Operation::StackSets(Operation::DeployInstances { .. }) = &d.operation
        else {
            panic!()
        };
    }
    // No definition change: AutoDeployment stays off with Control Tower.
    assert!(diff.plan.changes.iter().all(|c| c.address.kind() != "stackset"));

    // Without Control Tower the same stack sets get AutoDeployment back.
    let mut o = observed(&desired, &["role", "prod-rules"]);
    o.organizations.accounts.remove("c-prod");
    for set in o.stacksets.owned.values_mut() {
        set.auto_deployment = false;
    }
    let p = plan(&desired, &o);
    let role = p
        .changes
        .iter()
        .find(|c| c.address.to_string() == "stackset:role")
        .unwrap();
    assert_eq!(role.reason, "settings changed: auto_deployment");
    assert!(
        p.changes.iter().all(|c| c.address.kind() != "stackset-deploy"),
        "AutoDeployment deploys to the new account: {:?}",
        addresses(&p)
    );
}

#[test]
fn a_foreign_stack_set_with_a_baselines_name_is_refused_and_prune_deletes_lzctls_own() {
    let dir = tempfile::tempdir().unwrap();
    let desired = load(dir.path(), CONFIG);
    let mut o = observed(&desired, &["prod-rules"]);
    o.stacksets
        .foreign
        .insert("role".into(), "not created by lzctl".into());
    match make_plan(&desired, &o, &PlanOptions::default()) {
        Err(PlanError::Diff(crate::families::DiffError::Refused(r))) => {
            assert!(r[0].contains("`role` exists but lzctl did not create it"), "{r:?}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    let desired = load(dir.path(), &format!("prune: true\n{CONFIG}"));
    let mut o = observed(&desired, &["role", "prod-rules"]);
    let mut old = deployed(&desired, "role");
    old.description = "[lzctl] old".into();
    o.stacksets.owned.insert("old".into(), old);
    let p = plan(&desired, &o);
    assert_eq!(addresses(&p), ["stackset:old"]);
    assert_eq!(p.changes[0].action, Action::Delete);
    let Operation::DeleteStackSet { instances, .. } = op(&p, "stackset:old") else {
        panic!()
    };
    assert_eq!(instances.as_ref().unwrap().ous, vec![OuRef::Id(ou_id("Companies"))]);
}

#[test]
fn operations_refuse_control_tower_stack_sets_and_isolate_failures() {
    let op = Operation::DeployInstances {
        name: "AWSControlTowerBP-BASELINE-ROLES".into(),
        scope: Scope::default(),
        rollout: Rollout::default(),
        caller: Caller::Management,
    };
    assert!(op.refusal().unwrap().contains("belongs to Control Tower"));
    assert!(op.isolates_failure());
    assert!(!op.counts_toward_concurrency());
}
