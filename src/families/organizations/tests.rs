//! Diff and ordering tests, including the convergence property: applying a
//! plan to a model of the organization and planning again gives no changes.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::simulate::apply_plan_in_any_order;
use super::*;
use crate::families::DiffError;
use crate::model::{
    Account, OrgState, Ou, OuPath, Policy, PolicyKind, Target, MANAGED_DESCRIPTION_PREFIX,
    MANAGED_TAG_KEY, MANAGED_TAG_VALUE,
};
use crate::plan::{order_changes, Plan, PlanSubject, PLAN_FORMAT_VERSION};
use crate::policy::limits::Limits;

/// The family's diff as a plan, ordered as the plan core orders it.
fn plan_of(input: &DiffInput, observed: &OrgState) -> Result<Plan, DiffError> {
    let (family, _) = diff(input, observed)?;
    let changes =
        order_changes(family.changes).map_err(|c| DiffError::Internal(c.to_string()))?;
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        lzctl_version: "test".into(),
        config_path: "lz.yaml".into(),
        config_digest: "0".repeat(64),
        state_digest: String::new(),
        subject: PlanSubject::default(),
        changes,
        unmanaged: family.unmanaged,
        notices: family.notices,
    })
}

/// A refusal the planner may legitimately make for a random shape; anything
/// else (an internal error, a cycle) fails the property.
fn is_legitimate_refusal(e: &DiffError) -> bool {
    match e {
        DiffError::Refused(reasons) => reasons.iter().all(|r| {
            r.contains("no Allow path")
                || r.contains("the cap is")
                || r.contains("no safe order")
                || r.contains("at least one SCP")
        }),
        _ => false,
    }
}

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const DOCS: [&str; 3] = [
    ALLOW_ALL,
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}"#,
];
const OUS: [&str; 5] = ["A", "A/x", "A/y", "B", "B/x"];
const ACCOUNTS: [&str; 4] = ["a1", "a2", "a3", "a4"];
const POLICIES: [&str; 3] = ["p1", "p2", "p3"];

fn path(s: &str) -> OuPath {
    OuPath::parse(s).unwrap()
}

fn full_aws_access(targets: BTreeSet<Target>) -> Policy {
    Policy {
        id: Some("p-FullAWSAccess".into()),
        kind: PolicyKind::Scp,
        description: "AWS managed".into(),
        content: ALLOW_ALL.into(),
        targets,
        aws_managed: true,
        tags: Default::default(),
    }
}

fn all_targets(state: &OrgState) -> BTreeSet<Target> {
    let mut t: BTreeSet<Target> = state.ous.keys().cloned().map(Target::Ou).collect();
    t.extend(state.accounts.keys().cloned().map(Target::Account));
    t.insert(Target::Root);
    t
}

/// Keeps only OUs whose ancestors are present too.
fn close_tree(selected: &[bool]) -> BTreeMap<OuPath, Ou> {
    let mut ous = BTreeMap::new();
    for (i, name) in OUS.iter().enumerate() {
        let p = path(name);
        let parent_ok = p
            .parent()
            .map(|pp| pp.is_root() || ous.contains_key(&pp))
            .unwrap_or(true);
        if selected[i] && parent_ok {
            ous.insert(
                p,
                Ou {
                    id: None,
                    tags: Default::default(),
                },
            );
        }
    }
    ous
}

fn pick_ou(ous: &BTreeMap<OuPath, Ou>, choice: usize) -> OuPath {
    let keys: Vec<&OuPath> = ous.keys().collect();
    if keys.is_empty() || choice % (keys.len() + 1) == keys.len() {
        OuPath::root()
    } else {
        keys[choice % (keys.len() + 1)].clone()
    }
}

fn pick_targets(state: &OrgState, mask: u8) -> BTreeSet<Target> {
    all_targets(state)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
        .map(|(_, t)| t)
        .collect()
}

#[derive(Debug, Clone)]
struct Shape {
    ous: Vec<bool>,
    accounts: Vec<(bool, usize)>,
    policies: Vec<(bool, usize, u8)>,
    /// Observed: which OUs carry lzctl's managed tag.
    managed: Vec<bool>,
    /// Observed: which targets carry FullAWSAccess (each keeps at least one SCP).
    full_access: u16,
    /// Desired: rename `A` to `C` (with `renamed_from`).
    rename: bool,
    /// Order in which a concurrent executor happens to run the changes.
    seed: u64,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        proptest::collection::vec(any::<bool>(), OUS.len()),
        proptest::collection::vec((any::<bool>(), 0usize..8), ACCOUNTS.len()),
        proptest::collection::vec((any::<bool>(), 0usize..3, any::<u8>()), POLICIES.len()),
        proptest::collection::vec(any::<bool>(), OUS.len()),
        any::<u16>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(ous, accounts, policies, managed, full_access, rename, seed)| Shape {
                ous,
                accounts,
                policies,
                managed,
                full_access,
                rename,
                seed,
            },
        )
}

fn build(shape: &Shape, observed: bool) -> OrgState {
    let mut state = OrgState {
        ous: close_tree(&shape.ous),
        ..OrgState::default()
    };
    for (i, (present, ou)) in shape.accounts.iter().enumerate() {
        if *present || !observed {
            let ou = pick_ou(&state.ous, *ou);
            state.accounts.insert(
                ACCOUNTS[i].into(),
                Account {
                    id: None,
                    email: format!("{}@example.com", ACCOUNTS[i]),
                    ou,
                    tags: Default::default(),
                },
            );
        }
    }
    for (i, (present, doc, mask)) in shape.policies.iter().enumerate() {
        if *present {
            let targets = pick_targets(&state, *mask);
            state.policies.insert(
                POLICIES[i].into(),
                Policy {
                    id: None,
                    kind: PolicyKind::Scp,
                    description: format!("{MANAGED_DESCRIPTION_PREFIX}{}", POLICIES[i]),
                    content: DOCS[*doc].into(),
                    targets,
                    aws_managed: false,
                    tags: Default::default(),
                },
            );
        }
    }
    state.enabled_policy_types = BTreeSet::from([PolicyKind::Scp]);
    if observed {
        for (i, name) in OUS.iter().enumerate() {
            if let Some(ou) = state.ous.get_mut(&path(name)) {
                if shape.managed[i] {
                    ou.tags.insert(
                        crate::model::MANAGED_TAG_KEY.into(),
                        crate::model::MANAGED_TAG_VALUE.into(),
                    );
                }
            }
        }
        // FullAWSAccess where the mask says, and wherever a target would otherwise have no SCP.
        let targets: BTreeSet<Target> = all_targets(&state)
            .into_iter()
            .enumerate()
            .filter(|(i, t)| {
                shape.full_access & (1 << (i % 16)) != 0
                    || state.policies.values().all(|p| !p.targets.contains(t))
            })
            .map(|(_, t)| t)
            .collect();
        state
            .policies
            .insert("FullAWSAccess".into(), full_aws_access(targets));
    }
    state
}

/// Renames `A` to `C` in a desired state, as `renamed_from: A` on `C` would.
fn with_rename(mut desired: OrgState, shape: &Shape) -> (OrgState, BTreeMap<OuPath, String>) {
    if !shape.rename || !desired.ous.contains_key(&path("A")) {
        return (desired, BTreeMap::new());
    }
    super::diff::rewrite_prefix(&mut desired, &path("A"), &path("C"));
    (desired, BTreeMap::from([(path("C"), "A".to_string())]))
}

fn input<'a>(
    desired: &'a OrgState,
    renames: &'a BTreeMap<OuPath, String>,
    prune: bool,
) -> DiffInput<'a> {
    DiffInput {
        desired,
        renames,
        prune,
        limits: Limits::default(),
        manage_account_tags: true,
        governed: false,
        account_factory: &NO_ACCOUNT_FACTORY,
        described: &NO_DESCRIPTIONS,
        rollouts: &super::diff::NO_ROLLOUTS,
        regions: &[],
    }
}

static NO_ACCOUNT_FACTORY: BTreeMap<String, crate::config::SsoUser> = BTreeMap::new();

/// No policy of these tests states its description.
static NO_DESCRIPTIONS: BTreeSet<String> = BTreeSet::new();

/// Cases of the convergence property that were planned (not refused).
static PLANNED: AtomicUsize = AtomicUsize::new(0);
/// Cases of the convergence property in all.
static CASES: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #[test]
    fn applying_a_plan_then_planning_again_gives_no_changes(wanted in shape(), observed in shape(), prune in any::<bool>()) {
        let (desired, renames) = with_rename(build(&wanted, false), &wanted);
        let mut observed = build(&observed, true);
        CASES.fetch_add(1, Ordering::Relaxed);
        match plan_of(&input(&desired, &renames, prune), &observed) {
            // Some shapes cannot be planned safely (no Allow path would be
            // left): the refusal must name such a rule, never an internal error.
            Err(e) => prop_assert!(is_legitimate_refusal(&e), "refused for another reason: {e}"),
            Ok(plan) => {
                PLANNED.fetch_add(1, Ordering::Relaxed);
                let before = observed.clone();
                if let Err(v) = apply_plan_in_any_order(&mut observed, &plan, &Limits::default(), wanted.seed) {
                    panic!("{v}\nplan: {:#?}\nobserved: {:#?}", plan.changes.iter().map(|c| (c.address.to_string(), c.depends_on.iter().map(|d| d.to_string()).collect::<Vec<_>>())).collect::<Vec<_>>(), before.policies.iter().map(|(n, p)| (n.clone(), p.content.contains("Allow"), p.targets.clone())).collect::<Vec<_>>());
                }
                let again = plan_of(&input(&desired, &renames, prune), &observed).unwrap();
                prop_assert!(again.is_empty(), "first plan: {:?}\nbefore: {:?}\nsecond plan: {:#?}", plan.changes.iter().map(|c| c.address.to_string()).collect::<Vec<_>>(), before.ous.keys().map(|k| k.to_string()).collect::<Vec<_>>(), again.changes);
            }
        }
    }

    #[test]
    fn plans_against_full_access_everywhere_are_never_refused(wanted in shape(), observed in shape(), prune in any::<bool>()) {
        let desired = build(&wanted, false);
        let observed = build(&Shape { full_access: u16::MAX, ..observed }, true);
        prop_assert!(plan_of(&input(&desired, &BTreeMap::new(), prune), &observed).is_ok());
    }
}

/// The convergence property proves nothing if most cases are refused: run
/// it here and count.
#[test]
fn most_convergence_cases_are_really_planned() {
    applying_a_plan_then_planning_again_gives_no_changes();
    let (planned, cases) = (PLANNED.load(Ordering::Relaxed), CASES.load(Ordering::Relaxed));
    assert!(cases >= 256, "only {cases} cases ran");
    assert!(
        planned * 2 >= cases,
        "only {planned} of {cases} cases were planned; the property checks too little"
    );
}

fn org_with(policies: &[(&str, &str, &[Target])]) -> OrgState {
    let mut state = OrgState {
        enabled_policy_types: BTreeSet::from([PolicyKind::Scp]),
        ..OrgState::default()
    };
    state.ous.insert(
        path("Companies"),
        Ou {
            id: None,
            tags: Default::default(),
        },
    );
    for (name, doc, targets) in policies {
        state.policies.insert(
            name.to_string(),
            Policy {
                id: None,
                kind: PolicyKind::Scp,
                description: format!("{MANAGED_DESCRIPTION_PREFIX}{name}"),
                content: doc.to_string(),
                targets: targets.iter().cloned().collect(),
                aws_managed: false,
                tags: Default::default(),
            },
        );
    }
    state
}

#[test]
fn replacing_the_only_allow_attaches_before_detaching() {
    let companies = Target::Ou(path("Companies"));
    let observed = org_with(&[("old-allow", ALLOW_ALL, &[Target::Root, companies.clone()])]);
    let desired = org_with(&[("new-allow", ALLOW_ALL, &[Target::Root, companies.clone()])]);
    let renames = BTreeMap::new();
    let plan = plan_of(&input(&desired, &renames, true), &observed).unwrap();
    let addresses: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    let attach = addresses
        .iter()
        .position(|a| a == "attachment:scp:new-allow@Companies")
        .unwrap();
    let detach = addresses
        .iter()
        .position(|a| a == "attachment:scp:old-allow@Companies")
        .unwrap();
    let create = addresses.iter().position(|a| a == "scp:new-allow").unwrap();
    let delete = addresses.iter().position(|a| a == "scp:old-allow").unwrap();
    assert!(
        create < attach && attach < detach && detach < delete,
        "{addresses:?}"
    );
}

#[test]
fn detaching_the_last_allow_path_is_refused() {
    let companies = Target::Ou(path("Companies"));
    let deny = DOCS[1];
    let observed = org_with(&[
        ("allow", ALLOW_ALL, std::slice::from_ref(&companies)),
        ("deny", deny, std::slice::from_ref(&companies)),
    ]);
    let desired = org_with(&[("allow", ALLOW_ALL, &[]), ("deny", deny, &[companies])]);
    let renames = BTreeMap::new();
    let err = plan_of(&input(&desired, &renames, false), &observed).unwrap_err();
    assert!(err.to_string().contains("no Allow path"), "{err}");
}

#[test]
fn unmanaged_objects_are_listed_and_left_alone() {
    let mut observed = org_with(&[]);
    observed.ous.insert(
        path("HandMade"),
        Ou {
            id: Some("ou-1".into()),
            tags: Default::default(),
        },
    );
    observed.policies.insert(
        "someone-elses".into(),
        Policy {
            id: None,
            kind: PolicyKind::Scp,
            description: "not ours".into(),
            content: DOCS[1].into(),
            targets: BTreeSet::from([Target::Root]),
            aws_managed: false,
            tags: Default::default(),
        },
    );
    let desired = org_with(&[]);
    let renames = BTreeMap::new();
    let plan = plan_of(&input(&desired, &renames, true), &observed).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    let unmanaged: Vec<String> = plan
        .unmanaged
        .iter()
        .map(|u| u.address.to_string())
        .collect();
    assert_eq!(unmanaged, vec!["ou:HandMade", "scp:someone-elses"]);
}

#[test]
fn renames_keep_children_and_accounts() {
    let mut observed = org_with(&[]);
    observed.ous.insert(
        path("Companies/Old"),
        Ou {
            id: Some("ou-2".into()),
            tags: Default::default(),
        },
    );
    observed.ous.insert(
        path("Companies/Old/prod"),
        Ou {
            id: Some("ou-3".into()),
            tags: Default::default(),
        },
    );
    observed.accounts.insert(
        "acct".into(),
        Account {
            id: Some("111".into()),
            email: "a@example.com".into(),
            ou: path("Companies/Old/prod"),
            tags: Default::default(),
        },
    );
    let mut desired = org_with(&[]);
    desired.ous.insert(
        path("Companies/New"),
        Ou {
            id: None,
            tags: Default::default(),
        },
    );
    desired.ous.insert(
        path("Companies/New/prod"),
        Ou {
            id: None,
            tags: Default::default(),
        },
    );
    desired.accounts.insert(
        "acct".into(),
        Account {
            id: None,
            email: "a@example.com".into(),
            ou: path("Companies/New/prod"),
            tags: Default::default(),
        },
    );
    let renames = BTreeMap::from([(path("Companies/New"), "Old".to_string())]);
    let plan = plan_of(&input(&desired, &renames, false), &observed).unwrap();
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    assert_eq!(
        plan.changes[0].operation,
        Operation::RenameOu {
            from: path("Companies/Old"),
            to: path("Companies/New"),
            managed: false,
        }
        .into()
    );
}

#[test]
fn children_are_created_after_parents_and_accounts_after_their_ou() {
    let observed = org_with(&[]);
    let mut desired = org_with(&[]);
    desired.ous.insert(
        path("Companies/X"),
        Ou {
            id: None,
            tags: Default::default(),
        },
    );
    desired.ous.insert(
        path("Companies/X/prod"),
        Ou {
            id: None,
            tags: Default::default(),
        },
    );
    desired.accounts.insert(
        "x-prod".into(),
        Account {
            id: None,
            email: "x@example.com".into(),
            ou: path("Companies/X/prod"),
            tags: Default::default(),
        },
    );
    let renames = BTreeMap::new();
    let plan = plan_of(&input(&desired, &renames, false), &observed).unwrap();
    let addresses: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        addresses,
        vec!["ou:Companies/X", "ou:Companies/X/prod", "account:x-prod"]
    );
    let deps: BTreeSet<String> = plan.changes[2]
        .depends_on
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        deps,
        BTreeSet::from([
            "ou:Companies/X".to_string(),
            "ou:Companies/X/prod".to_string()
        ])
    );
}

/// Clears what observation skips (targets of FullAWSAccess), then fills it
/// back only for the targets `targets_to_complete` asks for.
fn partially_observed(full: &OrgState, input: &DiffInput) -> OrgState {
    let mut partial = full.clone();
    partial
        .policies
        .get_mut("FullAWSAccess")
        .unwrap()
        .targets
        .clear();
    partial.partially_listed = BTreeSet::from(["FullAWSAccess".to_string()]);
    for (_, target) in super::targets_to_complete(input, &partial) {
        if full.policies["FullAWSAccess"].targets.contains(&target) {
            partial
                .policies
                .get_mut("FullAWSAccess")
                .unwrap()
                .targets
                .insert(target);
        }
    }
    partial
}

proptest! {
    #[test]
    fn a_plan_from_partial_attachments_is_as_safe_as_one_from_all(desired in shape(), observed in shape(), prune in any::<bool>()) {
        // A cap of 3 makes FullAWSAccess count: a plan that forgot it would overrun the cap.
        let limits = Limits { scp_max_attachments: 3, ..Limits::default() };
        let desired = build(&desired, false);
        let observed_seed = observed.seed;
        let mut truth = build(&Shape { full_access: u16::MAX, ..observed }, true);
        let renames = BTreeMap::new();
        let input = DiffInput { limits, ..input(&desired, &renames, prune) };
        let partial = partially_observed(&truth, &input);
        let from_truth = plan_of(&input, &truth);
        let from_partial = plan_of(&input, &partial);
        prop_assert_eq!(from_truth.is_ok(), from_partial.is_ok(), "{:?} vs {:?}", from_truth, from_partial);
        if let Ok(plan) = from_partial {
            apply_plan_in_any_order(&mut truth, &plan, &limits, observed_seed).expect("no AWS rule broken on the way");
            let again = plan_of(&input, &truth).unwrap();
            prop_assert!(again.is_empty(), "second plan: {:#?}", again.changes);
        }
    }
}

#[test]
fn a_closing_account_is_never_moved() {
    let mut observed = org_with(&[]);
    observed.accounts.insert(
        "leaving".into(),
        Account {
            id: Some("333333333333".into()),
            email: "l@example.com".into(),
            ou: OuPath::root(),
            tags: Default::default(),
        },
    );
    observed.closed_accounts.insert("leaving".into());
    let mut desired = org_with(&[]);
    desired.accounts.insert(
        "leaving".into(),
        Account {
            id: None,
            email: "l@example.com".into(),
            ou: path("Companies"),
            tags: Default::default(),
        },
    );
    let renames = BTreeMap::new();
    let plan = plan_of(&input(&desired, &renames, false), &observed).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(
        plan.notices
            .iter()
            .any(|n| n.address.to_string() == "account:leaving" && n.message.contains("suspended")),
        "{:#?}",
        plan.notices
    );
}

/// A hand-made SCP on the root, and the same policy as the file names it.
fn adoption_case(observed_description: &str, tags: &[(&str, &str)]) -> (OrgState, OrgState) {
    let mut observed = org_with(&[]);
    observed.policies.insert(
        "FullAWSAccess".into(),
        full_aws_access(BTreeSet::from([Target::Root, Target::Ou(path("Companies"))])),
    );
    observed.policies.insert(
        "hand-made".into(),
        Policy {
            id: Some("p-hand".into()),
            kind: PolicyKind::Scp,
            description: observed_description.into(),
            content: DOCS[1].into(),
            targets: BTreeSet::from([Target::Root]),
            aws_managed: false,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        },
    );
    let mut desired = org_with(&[]);
    let mut wanted = observed.policies["hand-made"].clone();
    wanted.id = None;
    wanted.tags.clear();
    wanted.description = format!("{MANAGED_DESCRIPTION_PREFIX}hand-made");
    desired.policies.insert("hand-made".into(), wanted);
    desired.enabled_policy_types = observed.enabled_policy_types.clone();
    (observed, desired)
}

#[test]
fn adopting_a_named_policy_changes_nothing_and_says_so() {
    let (observed, desired) = adoption_case("Deny S3, made by hand", &[]);
    let renames = BTreeMap::new();
    let plan = plan_of(&input(&desired, &renames, false), &observed).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.is_converged());
    let adopted: Vec<String> = plan
        .notices
        .iter()
        .filter(|n| n.message.starts_with("adopted"))
        .map(|n| n.address.to_string())
        .collect();
    assert_eq!(adopted, vec!["scp:hand-made"]);
}

#[test]
fn an_adopted_policy_keeps_its_description_unless_the_file_states_one() {
    let (observed, desired) = adoption_case("Deny S3, made by hand", &[]);
    let renames = BTreeMap::new();
    let stated = BTreeSet::from(["hand-made".to_string()]);
    let plan = plan_of(
        &DiffInput {
            described: &stated,
            ..input(&desired, &renames, false)
        },
        &observed,
    )
    .unwrap();
    // The file states `description: hand-made`: written as such, without lzctl's prefix.
    let ops: Vec<&Operation> = plan.changes.iter().filter_map(|c| match &c.operation {
        crate::families::Operation::Organizations(op) => Some(op),
        _ => None,
    }).collect();
    assert_eq!(ops.len(), 1, "{ops:#?}");
    match ops[0] {
        Operation::UpdatePolicy { description, .. } => assert_eq!(description, "hand-made"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_policy_lzctl_created_keeps_its_prefix_and_is_not_adopted() {
    let (observed, desired) = adoption_case(&format!("{MANAGED_DESCRIPTION_PREFIX}hand-made"), &[]);
    let renames = BTreeMap::new();
    for prune in [false, true] {
        let plan = plan_of(&input(&desired, &renames, prune), &observed).unwrap();
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
        assert!(plan.notices.is_empty(), "{:#?}", plan.notices);
    }
}

#[test]
fn with_prune_adoption_is_recorded_by_a_tag_and_then_the_policy_can_be_pruned() {
    let (observed, desired) = adoption_case("Deny S3, made by hand", &[]);
    let renames = BTreeMap::new();
    let plan = plan_of(&input(&desired, &renames, true), &observed).unwrap();
    let ops: Vec<String> = plan.changes.iter().map(|c| format!("{} {}", c.operation.verb(), c.address)).collect();
    assert_eq!(ops, vec!["adopt policy tags:scp:hand-made"]);
    // After the tag, the same plan is empty, and dropping the policy from
    // the file deletes it (detached first, FullAWSAccess stays).
    let mut after = observed.clone();
    super::simulate::apply_changes(&mut after, &plan.changes, &Limits::default()).unwrap();
    assert_eq!(after.policies["hand-made"].tags[MANAGED_TAG_KEY], MANAGED_TAG_VALUE);
    let again = plan_of(&input(&desired, &renames, true), &after).unwrap();
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    let mut dropped = desired.clone();
    dropped.policies.clear();
    let prune = plan_of(&input(&dropped, &renames, true), &after).unwrap();
    let verbs: Vec<&str> = prune.changes.iter().map(|c| c.operation.verb()).collect();
    assert_eq!(verbs, vec!["detach policy", "delete policy"]);
    // An untagged hand-made policy the file never named is never pruned.
    let untouched = plan_of(&input(&dropped, &renames, true), &observed).unwrap();
    assert!(untouched.changes.is_empty(), "{:#?}", untouched.changes);
}

mod rollout_waves {
    use super::*;
    use crate::plan::Change;
    use crate::rollout::{RolloutSpec, TrailLocation, Wave, WaveStep};

    fn policy(content: &str, targets: &[Target], managed: bool) -> Policy {
        Policy {
            id: managed.then(|| "p-x".to_string()),
            kind: PolicyKind::Scp,
            description: format!("{MANAGED_DESCRIPTION_PREFIX}x"),
            content: content.into(),
            targets: targets.iter().cloned().collect(),
            aws_managed: false,
            tags: Tags::new(),
        }
    }

    /// Observed: OUs A, B, C with FullAWSAccess; `old` (a deny) on C.
    fn observed() -> OrgState {
        let mut s = OrgState {
            root_id: Some("r-1".into()),
            organization_id: Some("o-abc".into()),
            ..OrgState::default()
        };
        s.enabled_policy_types.insert(PolicyKind::Scp);
        for ou in ["A", "B", "C"] {
            s.ous.insert(path(ou), Ou { id: Some(format!("ou-{ou}")), tags: Default::default() });
        }
        s.accounts.insert(
            "b1".into(),
            Account { id: Some("222222222222".into()), email: "b1@x".into(), ou: path("B"), tags: Default::default() },
        );
        s.policies.insert("FullAWSAccess".into(), full_aws_access(all_targets(&s)));
        s.policies.insert("old".into(), policy(DOCS[1], &[Target::Ou(path("C"))], true));
        s
    }

    fn spec() -> RolloutSpec {
        let wave = |ous: &[&str]| Wave {
            exprs: ous.iter().map(|s| s.to_string()).collect(),
            targets: ous.iter().map(|o| Target::Ou(path(o))).collect(),
        };
        RolloutSpec {
            waves: vec![wave(&["A"]), wave(&["B", "C"])],
            soak: std::time::Duration::from_secs(60),
            max_denials: 0,
            trail: TrailLocation { bucket: "logs".into(), prefix: String::new() },
            trail_account: None,
        }
    }

    #[test]
    fn attachments_become_ordered_waves_with_their_accounts_and_safe_undo_steps() {
        let observed = observed();
        let mut desired = OrgState::default();
        for ou in ["A", "B", "C"] {
            desired.ous.insert(path(ou), Ou { id: None, tags: Default::default() });
        }
        desired.accounts.insert(
            "b1".into(),
            Account { id: None, email: "b1@x".into(), ou: path("B"), tags: Default::default() },
        );
        let targets: Vec<Target> = ["A", "B", "C"].iter().map(|o| Target::Ou(path(o))).collect();
        desired.policies.insert("new".into(), policy(DOCS[2], &targets, false));
        desired.enabled_policy_types.insert(PolicyKind::Scp);
        let rollouts = BTreeMap::from([("new".to_string(), spec())]);
        let renames = BTreeMap::new();
        // prune: `old`, no longer in the file, is detached and deleted.
        let input = DiffInput { rollouts: &rollouts, regions: &[], ..input(&desired, &renames, true) };
        let plan = plan_of(&input, &observed).unwrap();
        let waves: Vec<(&Change, &RolloutWave)> = plan
            .changes
            .iter()
            .filter_map(|c| match &c.operation {
                crate::families::Operation::Organizations(Operation::RolloutWave(w)) => Some((c, w.as_ref())),
                _ => None,
            })
            .collect();
        assert_eq!(waves.len(), 2, "{:#?}", plan.changes);
        assert!(
            !plan.changes.iter().any(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::AttachPolicy { .. } | Operation::DetachPolicy { .. }))),
            "every step of a staged target is in its wave"
        );
        let (c1, w1) = waves[0];
        let (c2, w2) = waves[1];
        assert_eq!((w1.wave, w2.wave, w2.of), (1, 2, 2));
        assert!(c2.depends_on.contains(&c1.address), "wave 2 waits for wave 1");
        assert_eq!(w2.accounts, vec!["b1".to_string()]);
        assert_eq!(w2.organization_id, "o-abc");
        let delete = plan.changes.iter().find(|c| c.address.to_string() == "scp:old").unwrap();
        assert!(delete.depends_on.contains(&c2.address), "old is deleted after the wave that detaches it");
        // C: the wave replaces `old` with `new`; the undo puts `old` back
        // before taking `new` off.
        let c = w2.targets.iter().find(|t| t.target == Target::Ou(path("C"))).unwrap();
        assert_eq!(c.steps, vec![WaveStep::Attach("new".into()), WaveStep::Detach("old".into())]);
        assert_eq!(c.undo, vec![WaveStep::Attach("old".into()), WaveStep::Detach("new".into())]);
        let a = &w1.targets[0];
        assert_eq!((a.steps.clone(), a.undo.clone()), (vec![WaveStep::Attach("new".into())], vec![WaveStep::Detach("new".into())]));
        // Carried out in any order the dependencies allow, no target loses its Allow path.
        let mut state = observed.clone();
        state.policies.insert("new".into(), policy(DOCS[2], &[], true));
        let creates: Vec<_> = plan.changes.iter().filter(|c| !matches!(&c.operation, crate::families::Operation::Organizations(Operation::CreatePolicy { .. }))).cloned().collect();
        let rest = Plan { changes: creates, ..plan.clone() };
        for seed in 0..8 {
            let mut s = state.clone();
            apply_plan_in_any_order(&mut s, &rest, &Limits::default(), seed).unwrap();
            assert_eq!(s.policies["new"].targets, targets.iter().cloned().collect());
        }
    }

    #[test]
    fn a_halted_rollout_marks_its_next_wave_as_needing_resume_only_for_the_same_document() {
        let mut observed = observed();
        observed.policies.insert("new".into(), policy(DOCS[2], &[Target::Ou(path("A"))], true));
        let desired = desired_new_document();
        let rollouts = BTreeMap::from([("new".to_string(), spec())]);
        let renames = BTreeMap::new();
        let at = chrono::Utc::now();
        for (doc, needs) in [(DOCS[2], true), (DOCS[0], false)] {
            let mut obs = observed.clone();
            obs.rollout_halts.insert(
                "new".into(),
                crate::rollout::halt_tag_value(2, 2, at, &crate::rollout::content_digest(doc)),
            );
            let input = DiffInput { rollouts: &rollouts, regions: &[], ..input(&desired, &renames, false) };
            let plan = plan_of(&input, &obs).unwrap();
            let waves: Vec<&RolloutWave> = plan
                .changes
                .iter()
                .filter_map(|c| match &c.operation {
                    crate::families::Operation::Organizations(Operation::RolloutWave(w)) => Some(w.as_ref()),
                    _ => None,
                })
                .collect();
            assert_eq!(waves.len(), 1, "wave 1 is done (A has the policy)");
            assert_eq!(waves[0].wave, 2);
            assert_eq!(waves[0].needs_resume, needs, "halted with {doc}");
            assert!(waves[0].resumes.is_some());
            assert_eq!(plan.notices.len(), 1);
            assert!(plan.notices[0].message.contains("runs the halted wave again") == needs, "{}", plan.notices[0].message);
        }
        // Halted at wave 1, which someone has since finished by hand: a
        // resume would start at wave 2, and the notice says so.
        let mut obs = observed.clone();
        obs.rollout_halts.insert(
            "new".into(),
            crate::rollout::halt_tag_value(1, 2, at, &crate::rollout::content_digest(DOCS[2])),
        );
        let input = DiffInput { rollouts: &rollouts, regions: &[], ..input(&desired, &renames, false) };
        let plan = plan_of(&input, &obs).unwrap();
        assert_eq!(plan.notices.len(), 1);
        assert!(plan.notices[0].message.contains("the first wave left is now wave 2"), "{}", plan.notices[0].message);
    }

    fn rolled_out(c: &Change) -> Option<&RolloutWave> {
        match &c.operation {
            crate::families::Operation::Organizations(Operation::RolloutWave(w)) => Some(w.as_ref()),
            _ => None,
        }
    }

    /// `new` wanted with DOCS[2] on A, B and C, `old` kept on C.
    fn desired_new_document() -> OrgState {
        let mut desired = OrgState::default();
        for ou in ["A", "B", "C"] {
            desired.ous.insert(path(ou), Ou { id: None, tags: Default::default() });
        }
        desired.accounts.insert("b1".into(), Account { id: None, email: "b1@x".into(), ou: path("B"), tags: Default::default() });
        let targets: Vec<Target> = ["A", "B", "C"].iter().map(|o| Target::Ou(path(o))).collect();
        desired.policies.insert("new".into(), policy(DOCS[2], &targets, false));
        desired.policies.insert("old".into(), policy(DOCS[1], &[Target::Ou(path("C"))], false));
        desired.enabled_policy_types.insert(PolicyKind::Scp);
        desired
    }

    #[test]
    fn a_new_document_for_an_attached_rolled_out_policy_goes_out_wave_by_wave_on_a_copy() {
        // `new` has DOCS[0] on A and C; the file wants DOCS[2] on A, B and C.
        let mut observed = observed();
        observed.policies.insert("new".into(), policy(DOCS[0], &[Target::Ou(path("A")), Target::Ou(path("C"))], true));
        let desired = desired_new_document();
        let rollouts = BTreeMap::from([("new".to_string(), spec())]);
        let renames = BTreeMap::new();
        let input = DiffInput { rollouts: &rollouts, regions: &[], ..input(&desired, &renames, false) };
        let plan = plan_of(&input, &observed).unwrap();
        let copy = "new (staged)";
        assert!(
            !plan.changes.iter().any(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::UpdatePolicy { .. }))),
            "no document reaches a target at once: {:#?}",
            plan.changes
        );
        let create = plan.changes.iter().find(|c| c.address.to_string() == format!("scp:{copy}")).unwrap();
        assert!(matches!(&create.operation, crate::families::Operation::Organizations(Operation::CreatePolicy { content, .. }) if content == DOCS[2]));
        let waves: Vec<&RolloutWave> = plan.changes.iter().filter_map(rolled_out).collect();
        assert_eq!(waves.len(), 2);
        assert!(waves.iter().all(|w| w.policy == copy));
        let step = |w: &RolloutWave, ou: &str| w.targets.iter().find(|t| t.target == Target::Ou(path(ou))).cloned().unwrap();
        let a = step(waves[0], "A");
        assert_eq!(a.steps, vec![WaveStep::Attach(copy.into()), WaveStep::Detach("new".into())]);
        assert_eq!(a.undo, vec![WaveStep::Attach("new".into()), WaveStep::Detach(copy.into())]);
        assert_eq!(step(waves[1], "B").steps, vec![WaveStep::Attach(copy.into())]);
        let replace = plan.changes.iter().find(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::ReplacePolicy { .. }))).unwrap();
        assert_eq!(replace.address.to_string(), "rollout:scp:new:replace");
        let wave_2 = plan.changes.iter().find(|c| rolled_out(c).is_some_and(|w| w.wave == 2)).unwrap();
        assert!(replace.depends_on.contains(&wave_2.address), "the copy takes the name after the last wave");
        assert!(matches!(&replace.operation, crate::families::Operation::Organizations(Operation::ReplacePolicy { delete: true, .. })));

        // Carried out in any order the dependencies allow: every target keeps
        // its Allow path, and the end is the file's organization.
        let mut start = observed.clone();
        start.policies.insert(copy.into(), policy(DOCS[2], &[], true));
        let rest = Plan {
            changes: plan.changes.iter().filter(|c| c.address != create.address).cloned().collect(),
            ..plan.clone()
        };
        let mut end = start.clone();
        for seed in 0..8 {
            end = start.clone();
            apply_plan_in_any_order(&mut end, &rest, &Limits::default(), seed).unwrap();
            assert!(!end.policies.contains_key(copy));
            assert_eq!(end.policies["new"].content, DOCS[2]);
            assert_eq!(end.policies["new"].targets, desired.policies["new"].targets);
        }
        let again = plan_of(&input, &end).unwrap();
        assert!(again.changes.is_empty(), "{:#?}", again.changes);

        // Interrupted after wave 1: the copy is found and wave 2 goes on.
        let mut after_wave_1 = observed.clone();
        after_wave_1.policies.insert("new".into(), policy(DOCS[0], &[Target::Ou(path("C"))], true));
        after_wave_1.policies.insert(copy.into(), policy(DOCS[2], &[Target::Ou(path("A"))], true));
        let plan = plan_of(&input, &after_wave_1).unwrap();
        let waves: Vec<&RolloutWave> = plan.changes.iter().filter_map(rolled_out).collect();
        assert_eq!(waves.iter().map(|w| w.wave).collect::<Vec<_>>(), vec![2], "{:#?}", plan.changes);
        assert!(!plan.changes.iter().any(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::CreatePolicy { .. }))));

        // The file changed again mid-rollout: the copy takes the newer
        // document where it already is, and the plan says so.
        let mut edited = after_wave_1.clone();
        edited.policies.get_mut(copy).unwrap().content = DOCS[1].into();
        let plan = plan_of(&input, &edited).unwrap();
        assert!(plan.changes.iter().any(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::UpdatePolicy { name, content, .. }) if name == copy && content == DOCS[2])));
        assert!(plan.notices.iter().any(|n| n.message.contains("carries a staged document change of new") && n.message.contains("(A)")), "{:?}", plan.notices);

        // Interrupted between the delete and the rename: only the rename is left.
        let mut deleted = observed.clone();
        deleted.policies.remove("new");
        deleted.policies.insert(copy.into(), policy(DOCS[2], &desired.policies["new"].targets.iter().cloned().collect::<Vec<_>>(), true));
        let plan = plan_of(&input, &deleted).unwrap();
        assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
        assert!(matches!(&plan.changes[0].operation, crate::families::Operation::Organizations(Operation::ReplacePolicy { delete: false, .. })));
    }

    #[test]
    fn a_new_document_is_not_staged_without_rollout_and_said_to_reach_an_adopted_policys_targets_at_once() {
        let desired = desired_new_document();
        let renames = BTreeMap::new();
        let staged = BTreeMap::from([("new".to_string(), spec())]);
        let mut lzctls = observed();
        lzctls.policies.insert("new".into(), policy(DOCS[0], &[Target::Ou(path("A"))], true));
        let mut adopted = lzctls.clone();
        adopted.policies.get_mut("new").unwrap().description = "made by hand".into();
        for (observed, rollouts, says) in [(&lzctls, &super::diff::NO_ROLLOUTS, false), (&adopted, &staged, true)] {
            let input = DiffInput { rollouts, regions: &[], ..input(&desired, &renames, false) };
            let plan = plan_of(&input, observed).unwrap();
            assert!(plan.changes.iter().any(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::UpdatePolicy { name, .. }) if name == "new")));
            assert!(!plan.changes.iter().any(|c| c.address.to_string().contains("staged")));
            let notice = plan.notices.iter().find(|n| n.message.contains("at once, not in waves"));
            assert_eq!(notice.is_some(), says, "{:?}", plan.notices);
            if let Some(n) = notice {
                assert_eq!(n.address.to_string(), "scp:new");
                assert!(n.message.contains("(A)"), "{}", n.message);
            }
        }
    }
}
