//! What the baselines ask of StackSets. Pure: no I/O.
//!
//! Scope: a baseline wants a stack instance in every usable account below
//! its target OUs (where the plan leaves the account), in each of its
//! regions, except excluded accounts and accounts that are suspended,
//! closing, closed or not yet active (left out with AccountFilterType
//! DIFFERENCE rather than failing the operation), and never in the
//! management account (service-managed stack sets skip it).
//!
//! AutoDeployment against Control Tower enrollment: with Control Tower
//! present, AutoDeployment would deploy to a vended account the moment it
//! is moved into its OU, which is also the moment Control Tower starts
//! enrolling it (its execution role, Config recorder and its own stack sets
//! are not there yet). So with Control Tower present lzctl turns
//! AutoDeployment off (unless the baseline sets `auto_deployment`) and
//! deploys to arriving accounts itself: the deploy change waits for the
//! account's `ct-enrollment` (or the OU's `ct-reset`) change, and like every
//! stack set change it passes the Control Tower gate, which is closed while
//! any enrollment runs. Accounts that arrive outside lzctl (moved by hand,
//! Account Factory) are found by the next plan as accounts in the targets
//! without instances. Without Control Tower, AutoDeployment stays on.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::config::{AccountRef, Baseline, CallAs, ParamValue};
use super::{
    deploy_address, retire_address, stackset_address, AccountFilter, Caller, InstanceState,
    Operation, OuRef, Scope, Spec, StackSetState,
};
use crate::families::controltower::is_present;
use crate::families::organizations::{working_state, DiffInput};
use crate::families::{DiffContext, DiffError, FamilyDiff};
use crate::model::{Address, OrgState, OuPath, MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use crate::plan::{Change, Notice, Unmanaged};

/// Tag naming the baseline a stack set was made for.
pub const BASELINE_TAG_KEY: &str = "lzctl-baseline";

/// At most this many instances are named one by one in a plan.
const LISTED: usize = 20;

/// One account as the plan sees it.
#[derive(Debug, Clone)]
struct AccountView {
    id: Option<String>,
    /// Where it is now (None: the plan creates it).
    now: Option<OuPath>,
    /// Where the plan leaves it.
    after: OuPath,
    /// Active (not suspended, closing, closed or pending activation).
    usable: bool,
}

/// The organization as the plan leaves it, as far as stack sets care.
struct OrgView {
    organization: Option<String>,
    accounts: BTreeMap<String, AccountView>,
    name_of: BTreeMap<String, String>,
    ou_id: BTreeMap<OuPath, String>,
    ou_path: BTreeMap<String, OuPath>,
}

impl OrgView {
    fn new(ctx: &DiffContext<'_>) -> OrgView {
        let input = DiffInput::new(ctx.desired, ctx.observed);
        let observed = &ctx.observed.organizations;
        let working: OrgState = working_state(&input, observed);
        let management = observed.management_account_id.clone();
        let mut accounts = BTreeMap::new();
        for (name, a) in &working.accounts {
            if a.id.is_some() && a.id == management {
                continue;
            }
            let usable = working.is_usable_account(name);
            let after = match ctx.desired.state.accounts.get(name) {
                Some(want) if usable => want.ou.clone(),
                _ => a.ou.clone(),
            };
            accounts.insert(
                name.clone(),
                AccountView {
                    id: a.id.clone(),
                    now: Some(a.ou.clone()),
                    after,
                    usable,
                },
            );
        }
        for (name, want) in &ctx.desired.state.accounts {
            if accounts.contains_key(name)
                || working.accounts.contains_key(name)
                || observed.accounts_being_created.contains(name)
            {
                continue;
            }
            accounts.insert(
                name.clone(),
                AccountView {
                    id: None,
                    now: None,
                    after: want.ou.clone(),
                    usable: true,
                },
            );
        }
        let name_of = accounts
            .iter()
            .filter_map(|(n, a)| a.id.clone().map(|id| (id, n.clone())))
            .collect();
        let mut ou_id: BTreeMap<OuPath, String> = working
            .ous
            .iter()
            .filter_map(|(p, o)| o.id.clone().map(|id| (p.clone(), id)))
            .collect();
        if let Some(root) = &working.root_id {
            ou_id.insert(OuPath::root(), root.clone());
        }
        let ou_path = ou_id.iter().map(|(p, id)| (id.clone(), p.clone())).collect();
        OrgView {
            organization: observed.organization_id.clone(),
            accounts,
            name_of,
            ou_id,
            ou_path,
        }
    }

    /// `id (name)` for a person.
    fn label(&self, id: &str) -> String {
        match self.name_of.get(id) {
            Some(n) => format!("{id} ({n})"),
            None => id.to_string(),
        }
    }
}

fn in_scope(path: &OuPath, targets: &[OuPath]) -> bool {
    targets.iter().any(|t| path.starts_with(t))
}

/// The baseline's view of one account.
struct Wanted<'a> {
    baseline: &'a Baseline,
    excluded_names: BTreeSet<&'a str>,
    excluded_ids: BTreeSet<&'a str>,
}

impl<'a> Wanted<'a> {
    fn new(baseline: &'a Baseline) -> Wanted<'a> {
        let mut excluded_names = BTreeSet::new();
        let mut excluded_ids = BTreeSet::new();
        for r in &baseline.exclude_accounts {
            match r {
                AccountRef::Name(n) => excluded_names.insert(n.as_str()),
                AccountRef::Id(id) => excluded_ids.insert(id.as_str()),
            };
        }
        Wanted {
            baseline,
            excluded_names,
            excluded_ids,
        }
    }

    fn excluded(&self, name: &str, a: &AccountView) -> bool {
        self.excluded_names.contains(name)
            || a.id.as_deref().is_some_and(|id| self.excluded_ids.contains(id))
    }

    /// Whether the baseline wants instances in the account once the plan ran.
    fn after(&self, name: &str, a: &AccountView) -> bool {
        a.usable && !self.excluded(name, a) && in_scope(&a.after, &self.baseline.targets)
    }

    /// Whether the account is below the targets now.
    fn now(&self, a: &AccountView) -> bool {
        a.now
            .as_ref()
            .is_some_and(|p| in_scope(p, &self.baseline.targets))
    }

    /// The DIFFERENCE list: excluded accounts and unusable accounts below
    /// the targets.
    fn difference(&self, org: &OrgView) -> Vec<AccountRef> {
        let mut out: Vec<AccountRef> = self.baseline.exclude_accounts.clone();
        for a in org.accounts.values() {
            if let Some(id) = &a.id {
                let below = in_scope(&a.after, &self.baseline.targets)
                    || a.now
                        .as_ref()
                        .is_some_and(|p| in_scope(p, &self.baseline.targets));
                if !a.usable && below && !out.contains(&AccountRef::Id(id.clone())) {
                    out.push(AccountRef::Id(id.clone()));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn filter(&self, org: &OrgView) -> AccountFilter {
        let d = self.difference(org);
        if d.is_empty() {
            AccountFilter::None
        } else {
            AccountFilter::Difference(d)
        }
    }

    /// Accounts wanted once the plan ran.
    fn count_after(&self, org: &OrgView) -> usize {
        org.accounts
            .iter()
            .filter(|(n, a)| self.after(n, a))
            .count()
    }
}

fn spec_of(b: &Baseline, auto_deployment: bool, extra_tags: &BTreeMap<String, String>) -> Spec {
    let mut tags = extra_tags.clone();
    tags.insert(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into());
    tags.insert(BASELINE_TAG_KEY.into(), b.name.clone());
    Spec {
        template: b.template.clone(),
        description: b.description.clone(),
        parameters: b.parameters.clone(),
        capabilities: b.capabilities.clone(),
        tags,
        auto_deployment,
        rollout: b.rollout.clone(),
    }
}

fn short_digest(text: &str) -> String {
    format!("sha256:{}", &crate::digest::sha256_hex(text.as_bytes())[..12])
}

/// A parameter's value as the plan can know it.
fn param_text(v: &ParamValue, org: &OrgView) -> String {
    match v {
        ParamValue::Text(t) => t.clone(),
        ParamValue::AccountId(n) => org
            .accounts
            .get(n)
            .and_then(|a| a.id.clone())
            .unwrap_or_else(|| format!("(id of account {n}, known after apply)")),
        ParamValue::OrganizationId => org
            .organization
            .clone()
            .unwrap_or_else(|| "(organization id, known after apply)".into()),
    }
}

/// The comparable definition, key by key (before/after of a change).
fn definition(
    template: &str,
    with_content: bool,
    parameters: &BTreeMap<String, String>,
    capabilities: &[String],
    description: &str,
    auto_deployment: bool,
    managed_execution: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("template".into(), json!(short_digest(template)));
    if with_content {
        m.insert("content".into(), json!(template));
    }
    for (k, v) in parameters {
        m.insert(format!("parameter {k}"), json!(v));
    }
    m.insert("capabilities".into(), json!(capabilities.join(",")));
    m.insert("description".into(), json!(description));
    m.insert("auto_deployment".into(), json!(auto_deployment));
    m.insert("managed_execution".into(), json!(managed_execution));
    m
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

pub(super) fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
    let desired = &ctx.desired.families.stacksets;
    let observed = &ctx.observed.stacksets;
    let mut out = FamilyDiff::default();
    if !observed.read {
        if !desired.0.is_empty() {
            out.plan.notices.push(Notice {
                address: Address::new("stacksets", ""),
                message: "StackSets were not read (a snapshot taken without baselines?); take the snapshot again with this file".into(),
                pending: true,
            });
        }
        return Ok(out);
    }
    for (name, why) in &observed.foreign {
        out.plan.unmanaged.push(Unmanaged {
            address: stackset_address(name),
            reason: why.clone(),
        });
    }
    out.existing
        .extend(observed.owned.keys().map(|n| stackset_address(n)));
    let mut refusals = Vec::new();
    for name in desired.0.keys() {
        if observed.foreign.contains_key(name) && !observed.owned.contains_key(name) {
            refusals.push(format!(
                "a stack set named `{name}` exists but lzctl did not create it (its description lacks `[lzctl]`); lzctl will not take it over: rename the baseline, or delete that stack set"
            ));
        }
    }
    let org = OrgView::new(ctx);
    for (name, set) in &observed.owned {
        if desired.0.contains_key(name) {
            continue;
        }
        if ctx.desired.prune {
            let instances = (set.instance_count() > 0).then(|| Scope {
                ous: set.ou_ids.iter().cloned().map(OuRef::Id).collect(),
                filter: AccountFilter::None,
                regions: set.all_regions().into_iter().collect(),
            });
            out.plan.changes.push(Change::new(
                stackset_address(name),
                format!(
                    "lzctl created it and the file no longer names it (prune: true): {} removed",
                    plural(set.instance_count(), "stack instance")
                ),
                Some(json!({"instances": set.instance_count()})),
                None,
                Operation::DeleteStackSet {
                    name: name.clone(),
                    instances,
                    caller: Caller::Management,
                },
            ));
        } else {
            out.plan.unmanaged.push(Unmanaged {
                address: stackset_address(name),
                reason: "lzctl created it but the file no longer names it (`prune: true` deletes it)"
                    .into(),
            });
        }
    }
    let ct_present = is_present(&ctx.observed.controltower);
    let mut by_baseline: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (name, b) in &desired.0 {
        let caller = match b.call_as {
            CallAs::SelfAccount => Caller::Management,
            CallAs::DelegatedAdmin => match &observed.delegated_admin {
                Some(a) => Caller::DelegatedAdmin(a.clone()),
                None => {
                    refusals.push(format!(
                        "baseline `{name}` has `call_as: delegated_admin` but no account is registered as StackSets delegated administrator (service principal {})",
                        super::STACKSETS_ADMIN_PRINCIPAL
                    ));
                    continue;
                }
            },
        };
        let auto = b.auto_deployment.unwrap_or(!ct_present);
        if ct_present && b.auto_deployment == Some(true) {
            out.plan.notices.push(Notice {
                address: stackset_address(name),
                message: "auto_deployment: true with Control Tower present: AWS deploys to an account the moment it enters the OU, before Control Tower has enrolled it".into(),
                pending: false,
            });
        }
        let start = out.plan.changes.len();
        let planned = match observed.owned.get(name) {
            None => plan_new(b, caller, auto, &org, ct_present),
            Some(set) => plan_existing(b, set, caller, auto, &org, ct_present, &mut refusals),
        };
        out.plan.changes.extend(planned.changes);
        out.plan.notices.extend(planned.notices);
        out.orderings.extend(planned.orderings);
        by_baseline.insert(name.clone(), (start..out.plan.changes.len()).collect());
    }
    if !refusals.is_empty() {
        return Err(DiffError::Refused(refusals));
    }
    // depends_on: every change of a baseline after every change of those it
    // depends on (a failed one then stops its dependants, not the others).
    for (name, b) in &desired.0 {
        let firsts: Vec<Address> = b
            .depends_on
            .iter()
            .flat_map(|d| by_baseline.get(d).into_iter().flatten())
            .map(|i| out.plan.changes[*i].address.clone())
            .collect();
        for i in by_baseline.get(name).into_iter().flatten() {
            let change = &mut out.plan.changes[*i];
            for a in &firsts {
                if !change.depends_on.contains(a) {
                    change.depends_on.push(a.clone());
                }
            }
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Planned {
    changes: Vec<Change>,
    notices: Vec<Notice>,
    orderings: Vec<(Address, Address)>,
}

/// Orderings that make a deploy wait for accounts arriving in its targets:
/// their move or creation, and with Control Tower their enrollment.
fn arrival_orderings(
    change: &Address,
    arriving: &[(String, OuPath)],
    ct_present: bool,
    out: &mut Vec<(Address, Address)>,
) {
    for (name, dest) in arriving {
        out.push((change.clone(), Address::account_named(name)));
        if ct_present {
            out.push((change.clone(), Address::new("ct-enrollment", name)));
            out.push((change.clone(), Address::new("ct-reset", &dest.to_string())));
        }
    }
}

fn plan_new(
    b: &Baseline,
    caller: Caller,
    auto: bool,
    org: &OrgView,
    ct_present: bool,
) -> Planned {
    let mut planned = Planned::default();
    let wanted = Wanted::new(b);
    let accounts = wanted.count_after(org);
    let arriving: Vec<(String, OuPath)> = org
        .accounts
        .iter()
        .filter(|(n, a)| wanted.after(n, a) && !wanted.now(a))
        .map(|(n, a)| (n.clone(), a.after.clone()))
        .collect();
    let spec = spec_of(b, auto, &BTreeMap::new());
    let params: BTreeMap<String, String> = b
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), param_text(v, org)))
        .collect();
    let mut after = definition(
        &b.template,
        false,
        &params,
        &b.capabilities,
        &b.description,
        auto,
        true,
    );
    after.insert(
        "targets".into(),
        json!(b.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    );
    after.insert("regions".into(), json!(b.regions.join(", ")));
    let address = stackset_address(&b.name);
    let mut reason = format!(
        "the file adds baseline `{}`: {} × {}",
        b.name,
        plural(accounts, "account"),
        plural(b.regions.len(), "region")
    );
    if ct_present && !auto {
        reason.push_str("; AutoDeployment off: Control Tower is present, lzctl deploys to new accounts after their enrollment");
    }
    let mut change = Change::new(
        address.clone(),
        reason,
        None,
        Some(Value::Object(after)),
        Operation::CreateStackSet {
            name: b.name.clone(),
            spec,
            deploy: Scope {
                ous: b.targets.iter().cloned().map(OuRef::Path).collect(),
                filter: wanted.filter(org),
                regions: b.regions.clone(),
            },
            caller,
            depends_on: b.depends_on.clone(),
        },
    );
    change.impact.push(format!(
        "reaches {} × {} = {}",
        plural(accounts, "account"),
        plural(b.regions.len(), "region"),
        plural(accounts * b.regions.len(), "stack instance")
    ));
    arrival_orderings(&address, &arriving, ct_present, &mut planned.orderings);
    planned.changes.push(change);
    planned
}

/// The kept target OU (by id) an account lies below.
fn covering_ou(org: &OrgView, path: &OuPath, kept: &BTreeSet<String>) -> Option<String> {
    kept.iter()
        .find(|id| org.ou_path.get(*id).is_some_and(|p| path.starts_with(p)))
        .cloned()
}

/// The regions where an account has an instance of the stack set.
fn instance_regions(set: &StackSetState, id: &str) -> Vec<String> {
    let mut out: Vec<String> = set
        .current
        .get(id)
        .map(|r| r.iter().cloned().collect())
        .unwrap_or_default();
    out.extend(
        set.other
            .iter()
            .filter(|i| i.account == id)
            .map(|i| i.region.clone()),
    );
    out
}

fn instance_line(org: &OrgView, i: &InstanceState) -> String {
    let mut line = format!(
        "{} in {}: {}/{}",
        org.label(&i.account),
        i.region,
        i.status,
        i.detailed_status
    );
    if let Some(r) = &i.reason {
        line.push_str(&format!(": {r}"));
    }
    line
}

#[allow(clippy::too_many_arguments)]
fn plan_existing(
    b: &Baseline,
    set: &StackSetState,
    caller: Caller,
    auto: bool,
    org: &OrgView,
    ct_present: bool,
    refusals: &mut Vec<String>,
) -> Planned {
    let mut planned = Planned::default();
    let name = &b.name;
    if set.permission_model != "SERVICE_MANAGED" {
        refusals.push(format!(
            "stack set `{name}` is {}; baselines are SERVICE_MANAGED and a stack set's permission model cannot change: delete it, or rename the baseline",
            set.permission_model
        ));
        return planned;
    }
    let wanted = Wanted::new(b);
    let regions: BTreeSet<String> = b.regions.iter().cloned().collect();
    let have_regions = set.all_regions();
    let new_regions: Vec<String> = regions.difference(&have_regions).cloned().collect();
    let removed_regions: Vec<String> = have_regions.difference(&regions).cloned().collect();
    let kept_regions: BTreeSet<String> = regions.intersection(&have_regions).cloned().collect();
    let desired_ids: BTreeMap<&OuPath, Option<&String>> =
        b.targets.iter().map(|t| (t, org.ou_id.get(t))).collect();
    let new_targets: Vec<&OuPath> = desired_ids
        .iter()
        .filter(|(_, id)| id.is_none_or(|id| !set.ou_ids.contains(id)))
        .map(|(p, _)| *p)
        .collect();
    let wanted_ids: BTreeSet<&String> = desired_ids.values().flatten().copied().collect();
    let removed_ous: Vec<String> = set
        .ou_ids
        .iter()
        .filter(|id| !wanted_ids.contains(id))
        .cloned()
        .collect();
    let kept_ous: BTreeSet<String> = set
        .ou_ids
        .iter()
        .filter(|id| wanted_ids.contains(id))
        .cloned()
        .collect();
    let has_instances = |id: &str| set.current.contains_key(id) || set.other.iter().any(|i| i.account == id);

    // ---- instances that are not current
    let mut repairs: Vec<&InstanceState> = Vec::new();
    let mut running = 0usize;
    for i in &set.other {
        let Some(name) = org.name_of.get(&i.account) else {
            continue; // an account outside the organization's view
        };
        let a = &org.accounts[name];
        if !a.usable || i.detailed_status == "SKIPPED_SUSPENDED_ACCOUNT" {
            continue;
        }
        if matches!(i.detailed_status.as_str(), "RUNNING" | "PENDING") {
            running += 1;
            continue;
        }
        if i.status == "INOPERABLE" || i.detailed_status == "INOPERABLE" {
            planned.notices.push(Notice {
                address: stackset_address(name),
                message: format!(
                    "{} is INOPERABLE (a DeleteStackInstances failed): delete the instance with RetainStacks and remove its stack by hand",
                    instance_line(org, i)
                ),
                pending: false,
            });
            continue;
        }
        if wanted.after(name, a) && wanted.now(a) && kept_regions.contains(&i.region) {
            repairs.push(i);
        }
    }
    // Instances AWS is deploying now (AutoDeployment, an operation in
    // flight) are neither missing nor to repair; the plan says nothing of
    // them, so it reads the same whatever the moment.
    let _ = running;

    // ---- accounts: missing, arriving, leaving
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new(); // name -> regions
    let mut arriving: Vec<(String, OuPath)> = Vec::new();
    let mut leaving: BTreeMap<String, (String, OuPath)> = BTreeMap::new(); // id -> (name, now)
    let mut outside = 0usize;
    for (n, a) in &org.accounts {
        let want_after = wanted.after(n, a);
        let below_now = wanted.now(a);
        match &a.id {
            Some(id) if want_after && below_now => {
                let gaps: Vec<String> = b
                    .regions
                    .iter()
                    .filter(|r| !set.has_instance(id, r))
                    .cloned()
                    .collect();
                if !gaps.is_empty() {
                    missing.insert(n.clone(), gaps);
                }
            }
            _ if want_after => arriving.push((n.clone(), a.after.clone())),
            Some(id) if has_instances(id) && a.usable => {
                let now = a.now.clone().unwrap_or_default();
                if below_now && (wanted.excluded(n, a) || !auto) {
                    leaving.insert(id.clone(), (n.clone(), now));
                } else if !below_now {
                    outside += 1;
                }
            }
            _ => {}
        }
    }
    if outside > 0 && removed_ous.is_empty() {
        planned.notices.push(Notice {
            address: stackset_address(name),
            message: format!(
                "{} outside the baseline's targets still {} stack instances (moved out by hand?); lzctl leaves them alone",
                plural(outside, "account"),
                if outside == 1 { "has" } else { "have" }
            ),
            pending: false,
        });
    }

    let filter = wanted.filter(org);
    let after_count = wanted.count_after(org);
    let mut addresses: Vec<Address> = Vec::new();

    // ---- retire: targets, regions and accounts that left
    let mut retire_batches = Vec::new();
    let mut retire_reasons = Vec::new();
    if !removed_ous.is_empty() {
        // Accounts below a removed OU that another target still covers keep
        // their instances.
        let mut keep: Vec<AccountRef> = Vec::new();
        let (mut gone_accounts, mut gone_instances) = (0usize, 0usize);
        for (n, a) in &org.accounts {
            let (Some(id), Some(now)) = (&a.id, &a.now) else { continue };
            let under_removed = removed_ous
                .iter()
                .any(|ou| org.ou_path.get(ou).is_some_and(|p| now.starts_with(p)));
            if under_removed && wanted.after(n, a) && has_instances(id) {
                keep.push(AccountRef::Id(id.clone()));
            } else if under_removed && has_instances(id) {
                gone_accounts += 1;
                gone_instances += instance_regions(set, id).len();
            }
        }
        retire_batches.push(Scope {
            ous: removed_ous.iter().cloned().map(OuRef::Id).collect(),
            filter: if keep.is_empty() {
                AccountFilter::None
            } else {
                AccountFilter::Difference(keep)
            },
            regions: have_regions.iter().cloned().collect(),
        });
        let names: Vec<String> = removed_ous
            .iter()
            .map(|id| org.ou_path.get(id).map(ToString::to_string).unwrap_or_else(|| id.clone()))
            .collect();
        retire_reasons.push(format!(
            "targets removed: {} ({} with {})",
            names.join(", "),
            plural(gone_accounts, "account"),
            plural(gone_instances, "stack instance")
        ));
    }
    if !removed_regions.is_empty() && !kept_ous.is_empty() {
        retire_batches.push(Scope {
            ous: kept_ous.iter().cloned().map(OuRef::Id).collect(),
            filter: AccountFilter::None,
            regions: removed_regions.clone(),
        });
        let gone: usize = set
            .accounts()
            .iter()
            .map(|id| {
                instance_regions(set, id)
                    .iter()
                    .filter(|r| removed_regions.contains(r))
                    .count()
            })
            .sum();
        retire_reasons.push(format!(
            "regions removed: {} ({})",
            removed_regions.join(", "),
            plural(gone, "stack instance")
        ));
    }
    if !leaving.is_empty() && !kept_ous.is_empty() && !kept_regions.is_empty() {
        let ids: Vec<AccountRef> = leaving.keys().cloned().map(AccountRef::Id).collect();
        let ous: BTreeSet<String> = leaving
            .values()
            .filter_map(|(_, now)| covering_ou(org, now, &kept_ous))
            .collect();
        if !ous.is_empty() {
            retire_batches.push(Scope {
                ous: ous.into_iter().map(OuRef::Id).collect(),
                filter: AccountFilter::Intersection(ids),
                regions: kept_regions.iter().cloned().collect(),
            });
            let names: Vec<&str> = leaving.values().map(|(n, _)| n.as_str()).collect();
            retire_reasons.push(format!(
                "{} leaving the baseline (excluded, or moved out by this plan with AutoDeployment off): {}",
                plural(names.len(), "account"),
                names.join(", ")
            ));
        }
    }
    if !retire_batches.is_empty() {
        let address = retire_address(name);
        planned.changes.push(Change::new(
            address.clone(),
            retire_reasons.join("; "),
            Some(json!({"instances": set.instance_count()})),
            None,
            Operation::RetireInstances {
                name: name.clone(),
                batches: retire_batches,
                rollout: b.rollout.clone(),
                caller: caller.clone(),
            },
        ));
        // An account the plan moves out waits until its instances are gone.
        for (n, _) in leaving.values() {
            planned
                .orderings
                .push((Address::account_named(n), address.clone()));
        }
        addresses.push(address);
    }

    // ---- update: definition changed, or instances to repair
    let extra_tags: BTreeMap<String, String> = set
        .tags
        .iter()
        .filter(|(k, _)| k.as_str() != MANAGED_TAG_KEY && k.as_str() != BASELINE_TAG_KEY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let spec = spec_of(b, auto, &extra_tags);
    let mut want_params: BTreeMap<String, String> = BTreeMap::new();
    let mut have_params: BTreeMap<String, String> = BTreeMap::new();
    let keys: BTreeSet<&String> = b.parameters.keys().chain(set.parameters.keys()).collect();
    for k in keys {
        if b.no_echo.contains(k) {
            continue;
        }
        want_params.insert(
            k.clone(),
            b.parameters
                .get(k)
                .map(|v| param_text(v, org))
                .unwrap_or_else(|| "(template default)".into()),
        );
        have_params.insert(
            k.clone(),
            set.parameters
                .get(k)
                .cloned()
                .unwrap_or_else(|| "(template default)".into()),
        );
    }
    let have_caps: Vec<String> = set.capabilities.iter().cloned().collect();
    let template_changed = set.template != b.template;
    let before = definition(
        &set.template,
        template_changed,
        &have_params,
        &have_caps,
        &set.description,
        set.auto_deployment,
        set.managed_execution,
    );
    let after = definition(
        &b.template,
        template_changed,
        &want_params,
        &b.capabilities,
        &b.description,
        auto,
        true,
    );
    let tags_changed = [MANAGED_TAG_KEY, BASELINE_TAG_KEY]
        .iter()
        .any(|k| set.tags.get(*k) != spec.tags.get(*k));
    let changed_keys: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k) && k.as_str() != "content")
        .collect();
    let definition_changed = !changed_keys.is_empty() || tags_changed;
    if definition_changed || !repairs.is_empty() {
        let mut why = Vec::new();
        if template_changed {
            why.push("template changed".to_string());
        }
        let params: Vec<String> = changed_keys
            .iter()
            .filter_map(|k| k.strip_prefix("parameter "))
            .map(str::to_string)
            .collect();
        if !params.is_empty() {
            why.push(format!("parameters changed: {}", params.join(", ")));
        }
        let settings: Vec<&str> = changed_keys
            .iter()
            .filter(|k| !k.starts_with("parameter ") && k.as_str() != "template")
            .map(|k| k.as_str())
            .collect();
        if !settings.is_empty() {
            why.push(format!("settings changed: {}", settings.join(", ")));
        }
        if tags_changed {
            why.push("lzctl's tags are missing".into());
        }
        if !repairs.is_empty() {
            why.push(format!(
                "{} to repair (not current)",
                plural(repairs.len(), "stack instance")
            ));
        }
        let scope = if definition_changed {
            (!kept_ous.is_empty() && !kept_regions.is_empty()).then(|| Scope {
                ous: kept_ous.iter().cloned().map(OuRef::Id).collect(),
                filter: filter.clone(),
                regions: kept_regions.iter().cloned().collect(),
            })
        } else {
            let ids: BTreeSet<&String> = repairs.iter().map(|i| &i.account).collect();
            let ous: BTreeSet<String> = ids
                .iter()
                .filter_map(|id| org.name_of.get(*id))
                .filter_map(|n| org.accounts[n].now.as_ref())
                .filter_map(|now| covering_ou(org, now, &kept_ous))
                .collect();
            let regions: BTreeSet<String> = repairs.iter().map(|i| i.region.clone()).collect();
            Some(Scope {
                ous: ous.into_iter().map(OuRef::Id).collect(),
                filter: AccountFilter::Intersection(
                    ids.into_iter().cloned().map(AccountRef::Id).collect(),
                ),
                regions: regions.into_iter().collect(),
            })
        };
        let address = stackset_address(name);
        let mut change = Change::new(
            address.clone(),
            why.join("; "),
            Some(Value::Object(before)),
            Some(Value::Object(after)),
            Operation::UpdateStackSet {
                name: name.clone(),
                spec: spec.clone(),
                scope,
                caller: caller.clone(),
                depends_on: b.depends_on.clone(),
            },
        )
        .after(addresses.clone());
        for i in repairs.iter().take(LISTED) {
            change.impact.push(format!("repair {}", instance_line(org, i)));
        }
        if repairs.len() > LISTED {
            change
                .impact
                .push(format!("… and {} more", repairs.len() - LISTED));
        }
        if definition_changed {
            change.impact.push(format!(
                "updates {} × {} (every current instance of the kept targets)",
                plural(set.accounts().len(), "account"),
                plural(kept_regions.len(), "region")
            ));
        }
        planned.changes.push(change);
        addresses.push(address);
    }

    // ---- deploy: targets, regions and accounts that are new
    let arriving_deployed: Vec<(String, OuPath)> = arriving
        .iter()
        .filter(|(_, dest)| {
            !auto
                || !set.ou_ids.iter().any(|id| {
                    org.ou_path
                        .get(id)
                        .is_some_and(|p| dest.starts_with(p))
                })
        })
        .cloned()
        .collect();
    if !new_targets.is_empty() || !new_regions.is_empty() || !missing.is_empty() || !arriving_deployed.is_empty() {
        let mut why = Vec::new();
        for t in &new_targets {
            let n = org
                .accounts
                .iter()
                .filter(|(n, a)| wanted.after(n, a) && a.after.starts_with(t))
                .count();
            why.push(format!(
                "target added: {t} ({} × {})",
                plural(n, "account"),
                plural(b.regions.len(), "region")
            ));
        }
        if !new_regions.is_empty() {
            why.push(format!(
                "regions added: {} ({} each)",
                new_regions.join(", "),
                plural(after_count, "account")
            ));
        }
        let stray: Vec<&String> = missing
            .keys()
            .filter(|n| {
                let a = &org.accounts[*n];
                !new_targets.iter().any(|t| a.after.starts_with(t))
            })
            .collect();
        let stray_missing: Vec<(&String, &Vec<String>)> = stray
            .iter()
            .map(|n| (*n, &missing[*n]))
            .filter(|(_, gaps)| gaps.iter().any(|r| !new_regions.contains(r)))
            .collect();
        if !stray_missing.is_empty() {
            let names: Vec<&str> = stray_missing.iter().take(LISTED).map(|(n, _)| n.as_str()).collect();
            why.push(format!(
                "{} in the targets without stack instances (moved in by hand, or no longer excluded): {}{}",
                plural(stray_missing.len(), "account"),
                names.join(", "),
                if stray_missing.len() > LISTED { ", …" } else { "" }
            ));
        }
        if !arriving_deployed.is_empty() {
            let names: Vec<&str> = arriving_deployed.iter().take(LISTED).map(|(n, _)| n.as_str()).collect();
            why.push(format!(
                "{} arriving in the targets{}: {}{}",
                plural(arriving_deployed.len(), "account"),
                if ct_present {
                    ", deployed once Control Tower has enrolled them"
                } else {
                    ""
                },
                names.join(", "),
                if arriving_deployed.len() > LISTED { ", …" } else { "" }
            ));
        }
        let mut deploy_regions: BTreeSet<String> = new_regions.iter().cloned().collect();
        if !new_targets.is_empty() || !arriving_deployed.is_empty() {
            deploy_regions.extend(b.regions.iter().cloned());
        }
        for gaps in missing.values() {
            deploy_regions.extend(gaps.iter().cloned());
        }
        let instances: usize = missing.values().map(Vec::len).sum::<usize>()
            + arriving_deployed.len() * b.regions.len();
        let address = deploy_address(name);
        let mut change = Change::new(
            address.clone(),
            why.join("; "),
            None,
            Some(json!({
                "targets": b.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                "regions": deploy_regions.iter().cloned().collect::<Vec<_>>().join(", "),
            })),
            Operation::DeployInstances {
                name: name.clone(),
                scope: Scope {
                    ous: b.targets.iter().cloned().map(OuRef::Path).collect(),
                    filter: filter.clone(),
                    regions: deploy_regions.into_iter().collect(),
                },
                rollout: b.rollout.clone(),
                caller: caller.clone(),
            },
        )
        .after(addresses.clone());
        change.impact.push(format!(
            "creates {} (existing instances are left as they are)",
            plural(instances, "stack instance")
        ));
        arrival_orderings(&address, &arriving_deployed, ct_present, &mut planned.orderings);
        planned.changes.push(change);
    }
    planned
}
