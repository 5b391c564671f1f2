//! The pure comparison of desired and observed organization state. No I/O:
//! most tests of lzctl's behaviour need no AWS at all.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::attachments::{Step, TargetChange};
use super::identity::{match_accounts, rekey_accounts};
use super::ordering::add_safety_orderings;
use super::Operation;
use crate::config::{Desired, SsoUser};
use crate::families::{DiffContext, DiffError, FamilyDiff, Observed};
use crate::model::{
    Address, OrgState, OuPath, PolicyKind, Tags, Target, MANAGED_DESCRIPTION_PREFIX,
    MANAGED_TAG_KEY, MANAGED_TAG_VALUE, PATH_TAG_KEY,
};
use crate::plan::{Change, FamilyPlan, Notice, Unmanaged};
use crate::rollout::{WaveStep, WaveTarget};
use crate::policy::document::{has_allow_statement, normalize};
use crate::policy::limits::Limits;

/// Everything `diff` compares.
pub struct DiffInput<'a> {
    /// What the config asks for.
    pub desired: &'a OrgState,
    /// OU renames: new path → previous name.
    pub renames: &'a BTreeMap<OuPath, String>,
    /// Delete managed OUs and policies the config no longer names.
    pub prune: bool,
    /// Limits in force.
    pub limits: Limits,
    /// Whether account tags are managed.
    pub manage_account_tags: bool,
    /// Whether Control Tower governs the organization (account operations
    /// then count against its limits).
    pub governed: bool,
    /// Accounts Control Tower's Account Factory vends (the Control Tower
    /// family plans them; this family does not CreateAccount them).
    pub account_factory: &'a BTreeMap<String, SsoUser>,
    /// Policies whose `description` the file states; the description of an
    /// adopted policy that the file does not state is left as it is.
    pub described: &'a BTreeSet<String>,
    /// Staged rollouts by policy name.
    pub rollouts: &'a BTreeMap<String, crate::rollout::RolloutSpec>,
    /// Regions whose trail logs a rollout reads (the governed regions).
    pub regions: &'a [String],
}

/// No staged rollouts (tests, offline tools).
pub static NO_ROLLOUTS: BTreeMap<String, crate::rollout::RolloutSpec> = BTreeMap::new();

/// The policy AWS attaches to every new target when a type is enabled.
pub fn implicit_policy(kind: PolicyKind) -> Option<&'static str> {
    match kind {
        PolicyKind::Scp => Some("FullAWSAccess"),
        PolicyKind::Rcp => Some("RCPFullAWSAccess"),
        PolicyKind::Tag => None,
    }
}

impl<'a> DiffInput<'a> {
    /// The same input asking for `r`'s organization and rollouts: staged
    /// document changes written in (see `super::staged`).
    fn staging<'b>(&self, r: &'b super::staged::Rewritten) -> DiffInput<'b>
    where
        'a: 'b,
    {
        DiffInput {
            desired: &r.desired,
            rollouts: &r.rollouts,
            ..*self
        }
    }

    /// What the file asks of the organization, and whether Control Tower governs it.
    pub fn new(desired: &'a Desired, observed: &Observed) -> DiffInput<'a> {
        DiffInput::of(
            desired,
            crate::families::controltower::is_present(&observed.controltower),
        )
    }

    /// The same, saying whether Control Tower governs.
    pub fn of(desired: &'a Desired, governed: bool) -> DiffInput<'a> {
        DiffInput {
            desired: &desired.state,
            renames: &desired.renames,
            prune: desired.prune,
            limits: desired.limits,
            manage_account_tags: desired.uses_account_tags,
            governed,
            account_factory: &desired.account_factory,
            described: &desired.described_policies,
            rollouts: &desired.rollouts,
            regions: &desired.organization.governed_regions,
        }
    }
}

/// The family's diff, from the plan core's context.
pub(super) fn family_diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
    let input = DiffInput::new(ctx.desired, ctx.observed);
    let (plan, working) = diff(&input, &ctx.observed.organizations)?;
    // Renames name OUs by their old paths, everything else by the new ones.
    let mut existing = existing_addresses(&working);
    existing.extend(existing_addresses(&plan_base(
        &input,
        &ctx.observed.organizations,
    )));
    Ok(FamilyDiff {
        plan,
        existing,
        orderings: Vec::new(),
    })
}

/// The state a plan's changes apply to, in order: the observed organization
/// with accounts under the file's names (OU renames are changes of the plan).
pub fn plan_base(input: &DiffInput, observed: &OrgState) -> OrgState {
    rekey_accounts(observed, &match_accounts(input.desired, observed))
}

/// Addresses that exist in a state: the root's enabled policy types, every
/// OU, account and policy.
pub fn existing_addresses(state: &OrgState) -> BTreeSet<Address> {
    let mut out: BTreeSet<Address> = state
        .enabled_policy_types
        .iter()
        .map(|k| Address::policy_type(*k))
        .collect();
    out.extend(state.ous.keys().map(Address::ou));
    out.extend(state.accounts.keys().map(|n| Address::account_named(n)));
    out.extend(
        state
            .policies
            .iter()
            .map(|(n, p)| Address::policy(p.kind, n)),
    );
    out
}

struct Builder {
    changes: Vec<Change>,
    unmanaged: Vec<Unmanaged>,
    notices: Vec<Notice>,
    refusals: Vec<String>,
}

impl Builder {
    fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    fn has_delete_of(&self, path: &OuPath) -> bool {
        self.ops()
            .any(|op| matches!(op, Operation::DeleteOu { path: p } if p == path))
    }

    fn ops(&self) -> impl Iterator<Item = &Operation> {
        self.changes.iter().filter_map(|c| match &c.operation {
            crate::families::Operation::Organizations(op) => Some(op),
            _ => None,
        })
    }
}

/// The organization as the diff works on it: renames declared in the file
/// (and undoing renames made by hand) applied, accounts under the file's
/// names. Tests and `scp` commands use it to see the state the plan starts from.
pub fn working_state(input: &DiffInput, observed: &OrgState) -> OrgState {
    let mut working = plan_base(input, observed);
    for (from, to, _) in ou_renames(input, &working) {
        rewrite_prefix(&mut working, &from, &to);
    }
    working
}

/// Compares desired and observed state into the family's changes (needs and
/// safety orderings set; the plan core orders them), and the working state.
pub fn diff(input: &DiffInput, observed: &OrgState) -> Result<(FamilyPlan, OrgState), DiffError> {
    with_staging(input, observed, |input, rewritten| diff_staged(input, rewritten, observed))
}

/// Runs `f` on the input with staged document changes written in (see
/// `super::staged`), and on what was rewritten.
fn with_staging<R>(
    input: &DiffInput,
    observed: &OrgState,
    f: impl FnOnce(&DiffInput, Option<&super::staged::Rewritten>) -> R,
) -> R {
    match super::staged::rewrite(input.desired, input.rollouts, observed) {
        Some(r) => f(&input.staging(&r), Some(&r)),
        None => f(input, None),
    }
}

fn diff_staged(
    input: &DiffInput,
    rewritten: Option<&super::staged::Rewritten>,
    observed: &OrgState,
) -> Result<(FamilyPlan, OrgState), DiffError> {
    let mut b = Builder {
        changes: Vec::new(),
        unmanaged: Vec::new(),
        notices: Vec::new(),
        refusals: Vec::new(),
    };
    let desired = input.desired;
    let matches = match_accounts(desired, observed);
    b.refusals.extend(matches.refusals.iter().cloned());
    for kind in &desired.enabled_policy_types {
        if !observed.enabled_policy_types.contains(kind) {
            b.push(Change::new(
                Address::policy_type(*kind),
                format!(
                    "{} policies are used but the type is not enabled on the root",
                    kind.short_name()
                ),
                None,
                Some(json!({"type": kind.api_name(), "status": "ENABLED"})),
                Operation::EnablePolicyType { kind: *kind },
            ));
        }
    }
    let accounts_keyed = rekey_accounts(observed, &matches);
    let working = rename_ous(&mut b, input, &accounts_keyed);
    plan_ous(&mut b, input, &working);
    plan_accounts(&mut b, input, &working, &matches.renamed, observed);
    plan_policies(&mut b, input, &working);
    plan_pruned_ous(&mut b, input, &working);
    plan_attachments(&mut b, input, &working);
    if let Some(r) = rewritten {
        plan_replacements(&mut b, r, observed);
    }
    if !b.refusals.is_empty() {
        return Err(DiffError::Refused(b.refusals));
    }
    let mut changes = b.changes;
    // Needs first, so that the safety orderings see every edge when they
    // check for cycles.
    let mut existing = existing_addresses(&working);
    existing.extend(existing_addresses(&accounts_keyed));
    crate::plan::resolve_needs(&mut changes, &|a| existing.contains(a))
        .map_err(|e| DiffError::Internal(e.to_string()))?;
    add_safety_orderings(&mut changes, &working, desired);
    Ok((
        FamilyPlan {
            changes,
            unmanaged: b.unmanaged,
            notices: b.notices,
        },
        working,
    ))
}

/// The (type, target) pairs whose attachments the plan will change, or whose
/// Allow path a policy update could remove: for these the diff needs every
/// attached policy, including those observed only partially (see
/// `OrgState::partially_listed`). Empty when nothing is partial.
pub fn targets_to_complete(
    input: &DiffInput,
    observed: &OrgState,
) -> BTreeSet<(PolicyKind, Target)> {
    if observed.partially_listed.is_empty() {
        return BTreeSet::new();
    }
    with_staging(input, observed, |input, _| {
        staged_targets_to_complete(input, observed)
    })
}

fn staged_targets_to_complete(
    input: &DiffInput,
    observed: &OrgState,
) -> BTreeSet<(PolicyKind, Target)> {
    let mut out = BTreeSet::new();
    let desired = input.desired;
    let working = working_state(input, observed);
    let managed = |name: &str| {
        desired.policies.contains_key(name)
            || (input.prune
                && working
                    .policies
                    .get(name)
                    .is_some_and(|p| p.is_managed() && !p.aws_managed))
    };
    for kind in PolicyKind::ALL {
        let mut candidates: BTreeSet<&Target> = BTreeSet::new();
        for (name, p) in desired.policies.iter().chain(working.policies.iter()) {
            if p.kind == kind && managed(name) {
                candidates.extend(p.targets.iter());
            }
        }
        for target in candidates {
            if !working.has_target(target) {
                continue;
            }
            let now: BTreeSet<&String> = working
                .policies
                .iter()
                .filter(|(n, p)| p.kind == kind && managed(n) && p.targets.contains(target))
                .map(|(n, _)| n)
                .collect();
            let want: BTreeSet<&String> = desired
                .policies
                .iter()
                .filter(|(_, p)| p.kind == kind && p.targets.contains(target))
                .map(|(n, _)| n)
                .collect();
            let allow_flips = want.iter().any(|n| {
                working.policies.get(*n).is_some_and(|o| {
                    has_allow_statement(&o.content)
                        && !has_allow_statement(&desired.policies[*n].content)
                })
            });
            if now != want || allow_flips {
                out.insert((kind, target.clone()));
            }
        }
    }
    out
}

/// Rewrites every path under `from` to lie under `to`.
pub(crate) fn rewrite_prefix(state: &mut OrgState, from: &OuPath, to: &OuPath) {
    let moved = |p: &OuPath| -> OuPath { p.rebase(from, to) };
    state.ous = std::mem::take(&mut state.ous)
        .into_iter()
        .map(|(p, ou)| (moved(&p), ou))
        .collect();
    for a in state.accounts.values_mut() {
        a.ou = moved(&a.ou);
    }
    for p in state.policies.values_mut() {
        p.targets = std::mem::take(&mut p.targets)
            .into_iter()
            .map(|t| match t {
                Target::Ou(path) => Target::Ou(moved(&path)),
                other => other,
            })
            .collect();
    }
}

/// The OU renames to make, outermost first, each applied to the state before
/// the next is looked for: (from, to, why). Renames the file declares with
/// `renamed_from`, and OUs lzctl created that someone renamed by hand (their
/// path tag still names the path the file wants).
fn ou_renames(input: &DiffInput, observed: &OrgState) -> Vec<(OuPath, OuPath, String)> {
    let mut working = observed.clone();
    let mut out = Vec::new();
    let mut wanted: Vec<&OuPath> = input.desired.ous.keys().collect();
    wanted.sort_by_key(|p| (p.depth(), (*p).clone()));
    for to in wanted {
        if working.ous.contains_key(to) {
            continue;
        }
        let declared = input
            .renames
            .get(to)
            .map(|old| to.with_name(old))
            .filter(|from| working.ous.contains_key(from));
        let by_hand = || {
            working.ous.iter().find_map(|(path, ou)| {
                (path.parent() == to.parent()
                    && ou.is_managed()
                    && ou.tags.get(PATH_TAG_KEY) == Some(&to.to_string())
                    && !input.desired.ous.contains_key(path))
                .then(|| path.clone())
            })
        };
        let (from, why) = match declared {
            Some(from) => {
                let why = format!("renamed from `{}` in the config", from.name());
                (from, why)
            }
            None => match by_hand() {
                Some(from) => {
                    let why = format!(
                        "lzctl created this OU as `{}`; it was renamed to `{}` outside lzctl and is renamed back",
                        to.name(),
                        from.name()
                    );
                    (from, why)
                }
                None => continue,
            },
        };
        rewrite_prefix(&mut working, &from, to);
        out.push((from, to.clone(), why));
    }
    out
}

fn rename_ous(b: &mut Builder, input: &DiffInput, observed: &OrgState) -> OrgState {
    let mut working = observed.clone();
    for (from, to, why) in ou_renames(input, observed) {
        let managed = working.ous.get(&from).is_some_and(|o| o.is_managed());
        // Everything under the OU exists at its new path once it is renamed.
        let descendants: Vec<Address> = working
            .ous
            .keys()
            .filter(|p| p.starts_with(&from) && **p != from)
            .map(|p| Address::ou(&p.rebase(&from, &to)))
            .collect();
        b.push(
            Change::new(
                Address::ou(&to),
                why,
                Some(json!({"name": from.name()})),
                Some(json!({"name": to.name()})),
                Operation::RenameOu {
                    from: from.clone(),
                    to: to.clone(),
                    managed,
                },
            )
            .providing(descendants),
        );
        rewrite_prefix(&mut working, &from, &to);
        if managed {
            if let Some(ou) = working.ous.get_mut(&to) {
                ou.tags.insert(PATH_TAG_KEY.into(), to.to_string());
            }
        }
    }
    working
}

fn managed_tags(tags: &Tags, path: &OuPath) -> Tags {
    let mut t = tags.clone();
    t.insert(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into());
    t.insert(PATH_TAG_KEY.into(), path.to_string());
    t
}

/// Tags in `desired` that `observed` lacks or holds with another value,
/// as (key, old value, new value).
fn tags_to_set(desired: &Tags, observed: &Tags) -> Vec<(String, Option<String>, String)> {
    desired
        .iter()
        .filter(|(k, v)| observed.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), observed.get(k).cloned(), v.clone()))
        .collect()
}

/// A tag change: before and after hold only the keys that change.
fn tag_change(address: &Address, target: Target, changes: Vec<(String, Option<String>, String)>) -> Change {
    let keys: Vec<&str> = changes.iter().map(|(k, _, _)| k.as_str()).collect();
    let reason = format!("tags {} differ from the config", keys.join(", "));
    let before: serde_json::Map<String, serde_json::Value> = changes
        .iter()
        .map(|(k, old, _)| (k.clone(), old.clone().map_or(serde_json::Value::Null, Into::into)))
        .collect();
    let after: serde_json::Map<String, serde_json::Value> = changes
        .iter()
        .map(|(k, _, new)| (k.clone(), new.clone().into()))
        .collect();
    let set: Tags = changes.into_iter().map(|(k, _, v)| (k, v)).collect();
    Change::new(
        Address::tags(address),
        reason,
        Some(before.into()),
        Some(after.into()),
        Operation::SetTags { target, set },
    )
}

fn plan_ous(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    let mut paths: Vec<&OuPath> = input.desired.ous.keys().collect();
    paths.sort_by_key(|p| (p.depth(), (*p).clone()));
    for path in paths {
        let want = &input.desired.ous[path];
        match working.ous.get(path) {
            None => {
                let tags = managed_tags(&want.tags, path);
                b.push(Change::new(
                    Address::ou(path),
                    "declared in the config, missing in the organization",
                    None,
                    Some(json!({"tags": tags})),
                    Operation::CreateOu {
                        path: path.clone(),
                        tags,
                    },
                ));
            }
            Some(have) => {
                let set = tags_to_set(&want.tags, &have.tags);
                if !set.is_empty() {
                    b.push(tag_change(&Address::ou(path), Target::Ou(path.clone()), set));
                }
            }
        }
    }
    for (path, ou) in &working.ous {
        if input.desired.ous.contains_key(path) {
            continue;
        }
        if ou.is_managed() && input.prune {
            continue; // handled by plan_pruned_ous once moves are known
        }
        let reason = if ou.is_managed() {
            "created by lzctl, no longer in the config; kept because `prune` is off"
        } else {
            "not in the config and not created by lzctl"
        };
        b.unmanaged.push(Unmanaged {
            address: Address::ou(path),
            reason: reason.into(),
        });
    }
}

fn plan_accounts(
    b: &mut Builder,
    input: &DiffInput,
    working: &OrgState,
    renamed: &[(String, String, String)],
    observed: &OrgState,
) {
    let can_rename = observed.trusted_services.contains(ACCOUNT_MANAGEMENT_PRINCIPAL);
    for (name, id, from) in renamed {
        let address = Address::account_named(name);
        if can_rename {
            b.push(Change::new(
                Address::new("account-name", name),
                format!("account {id} is named `{from}` in AWS, `{name}` in the config"),
                Some(json!({"name": from})),
                Some(json!({"name": name})),
                Operation::RenameAccount {
                    name: name.clone(),
                    id: id.clone(),
                    from: from.clone(),
                },
            ));
        } else {
            b.notices.push(Notice {
                address,
                message: format!("account {id} is named `{from}` in AWS, `{name}` in the config; lzctl renames accounts only when trusted access for AWS Account Management ({ACCOUNT_MANAGEMENT_PRINCIPAL}) is enabled, so rename it in the console or enable that access"),
                pending: false,
            });
        }
    }
    for (name, want) in &input.desired.accounts {
        let address = Address::account_named(name);
        let Some(have) = working.accounts.get(name) else {
            if input.account_factory.contains_key(name) {
                continue; // vended by Account Factory: the Control Tower family plans it
            }
            if observed.accounts_being_created.contains(name) {
                b.notices.push(Notice {
                    address,
                    message: "CreateAccount is still in progress; run again when it has finished"
                        .into(),
                    pending: true,
                });
            } else {
                b.push(Change::new(
                    address,
                    "declared in the config, missing in the organization",
                    None,
                    Some(json!({"email": want.email, "ou": want.ou.to_string(), "tags": want.tags})),
                    Operation::CreateAccount {
                        name: name.clone(),
                        email: want.email.clone(),
                        ou: want.ou.clone(),
                        tags: want.tags.clone(),
                        governed: input.governed,
                    },
                ));
            }
            continue;
        };
        if working.closed_accounts.contains(name) {
            b.notices.push(Notice {
                address,
                message: "the account is suspended, closing or closed; lzctl leaves it where it is"
                    .into(),
                pending: false,
            });
            continue;
        }
        if working.pending_accounts.contains(name) {
            b.notices.push(Notice {
                address,
                message: "the account is still PENDING_ACTIVATION; run again once AWS has activated it".into(),
                pending: true,
            });
            continue;
        }
        if !have.email.eq_ignore_ascii_case(&want.email) {
            b.notices.push(Notice {
                address: address.clone(),
                message: format!(
                    "root email is {} in AWS but {} in the config; lzctl does not change root emails",
                    have.email, want.email
                ),
                pending: false,
            });
        }
        if have.ou != want.ou {
            b.push(Change::new(
                address.clone(),
                format!("is in {}, the config puts it in {}", have.ou, want.ou),
                Some(json!({"ou": have.ou.to_string()})),
                Some(json!({"ou": want.ou.to_string()})),
                Operation::MoveAccount {
                    name: name.clone(),
                    from: have.ou.clone(),
                    to: want.ou.clone(),
                    governed: input.governed,
                },
            ));
        }
        if input.manage_account_tags {
            let set = tags_to_set(&want.tags, &have.tags);
            if !set.is_empty() {
                b.push(tag_change(&address, Target::Account(name.clone()), set));
            }
        }
    }
    for (name, have) in &working.accounts {
        if !input.desired.accounts.contains_key(name) {
            let reason = if working.management_account_id.is_some()
                && have.id == working.management_account_id
            {
                "the management account"
            } else {
                "not in the config; lzctl never closes or removes accounts"
            };
            b.unmanaged.push(Unmanaged {
                address: Address::account_named(name),
                reason: reason.into(),
            });
        }
    }
}

/// The service principal of AWS Account Management, whose trusted access
/// lets the management account rename member accounts.
pub const ACCOUNT_MANAGEMENT_PRINCIPAL: &str = "account.amazonaws.com";

fn plan_policies(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    for (name, want) in &input.desired.policies {
        let address = Address::policy(want.kind, name);
        match working.policies.get(name) {
            None => b.push(Change::new(
                address,
                "declared in the config, missing in the organization",
                None,
                Some(json!({"description": want.description, "content": want.content})),
                Operation::CreatePolicy {
                    name: name.clone(),
                    kind: want.kind,
                    description: want.description.clone(),
                    content: want.content.clone(),
                },
            )),
            Some(have) if have.aws_managed || have.kind != want.kind => b.refusals.push(format!(
                "policy `{name}` exists as an {} {} policy; lzctl will not take it over",
                if have.aws_managed {
                    "AWS-managed"
                } else {
                    "other-type"
                },
                have.kind.short_name()
            )),
            Some(have) => {
                // lzctl's own policies carry its description prefix; an
                // adopted one keeps its description unless the file states one.
                let want_description = if have.is_created_by_lzctl() {
                    want.description.clone()
                } else if input.described.contains(name) {
                    want.description
                        .strip_prefix(MANAGED_DESCRIPTION_PREFIX)
                        .unwrap_or(&want.description)
                        .to_string()
                } else {
                    have.description.clone()
                };
                let content_differs = normalize(&have.content) != normalize(&want.content);
                let description_differs = have.description != want_description;
                if content_differs && input.rollouts.contains_key(name) && !have.targets.is_empty() {
                    // A document change not staged on a copy (see
                    // `super::staged` for when it is): said plainly, since a
                    // reader who declared waves would assume otherwise.
                    let targets = have.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    let message = match super::staged::copy_of(name) {
                        Some(policy) => format!(
                            "{name} carries a staged document change of {policy} that the file changed again: its newer document reaches where the copy is already attached ({targets}) at once"
                        ),
                        None => format!(
                            "the new document of {name} reaches where it is already attached ({targets}) at once, not in waves: lzctl stages a new document only for a policy it created, on a copy named `NAME (staged)` of at most {} characters",
                            crate::model::MAX_POLICY_NAME_LEN
                        ),
                    };
                    b.notices.push(Notice { address: address.clone(), message, pending: false });
                }
                if content_differs || description_differs {
                    let reason = if content_differs {
                        "the document differs from the rendered template"
                    } else {
                        "the description differs from the config"
                    };
                    b.push(Change::new(
                        address.clone(),
                        reason,
                        Some(json!({"description": have.description, "content": have.content})),
                        Some(json!({"description": want_description, "content": want.content})),
                        Operation::UpdatePolicy {
                            name: name.clone(),
                            kind: want.kind,
                            description: want_description,
                            content: want.content.clone(),
                        },
                    ));
                }
                if !have.is_managed() {
                    adopt_policy(b, input, name, want.kind, address);
                }
            }
        }
    }
    for (name, have) in &working.policies {
        if input.desired.policies.contains_key(name) || have.aws_managed {
            continue;
        }
        let address = Address::policy(have.kind, name);
        if have.is_managed() && input.prune {
            b.push(Change::new(
                address,
                "managed by lzctl, no longer in the config, and `prune` is on",
                Some(json!({"description": have.description, "content": have.content})),
                None,
                Operation::DeletePolicy {
                    name: name.clone(),
                    kind: have.kind,
                },
            ));
        } else {
            let reason = if crate::model::is_control_tower_policy(name) {
                "owned by Control Tower; never changed"
            } else if have.is_managed() {
                "managed by lzctl, no longer in the config; kept because `prune` is off"
            } else {
                "not in the config and not created by lzctl"
            };
            b.unmanaged.push(Unmanaged {
                address,
                reason: reason.into(),
            });
        }
    }
}

/// A policy the file names that lzctl did not create: it is lzctl's while the
/// file names it, and nothing about it changes. With `prune` on, lzctl also
/// records the adoption with its `managed-by` tag (never by rewriting the
/// description), so that `prune` may delete the policy once the file drops
/// it; without `prune` the tag would have no use and is neither read nor
/// written.
fn adopt_policy(b: &mut Builder, input: &DiffInput, name: &str, kind: PolicyKind, address: Address) {
    if input.prune {
        let tag = json!({MANAGED_TAG_KEY: MANAGED_TAG_VALUE});
        b.push(Change::new(
            Address::tags(&address),
            "adopted: named by the config, not created by lzctl; `prune` is on, so lzctl records its ownership with a tag (the description stays)",
            Some(json!({MANAGED_TAG_KEY: null})),
            Some(tag),
            Operation::AdoptPolicy {
                name: name.to_string(),
                kind,
            },
        ));
    } else {
        b.notices.push(Notice {
            address,
            message: "adopted: named by the config, not created by lzctl; lzctl manages it while the config names it, and changes neither its description nor its tags".into(),
            pending: false,
        });
    }
}

fn wave_step(step: &Step) -> WaveStep {
    match step {
        Step::Attach(p) => WaveStep::Attach(p.clone()),
        Step::Detach(p) => WaveStep::Detach(p.clone()),
    }
}

fn plan_attachments(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    let desired = input.desired;
    let mut waves: BTreeMap<(String, usize), Vec<WaveTarget>> = BTreeMap::new();
    let pruned: BTreeSet<String> = b
        .ops()
        .filter_map(|op| match op {
            Operation::DeletePolicy { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let grants = |name: &str| -> bool {
        if let Some(p) = desired.policies.get(name) {
            return has_allow_statement(&p.content);
        }
        match working.policies.get(name) {
            Some(p) => has_allow_statement(&p.content),
            None => Some(name) == implicit_policy(PolicyKind::Scp),
        }
    };
    for kind in PolicyKind::ALL {
        let managed: BTreeSet<&String> = desired
            .policies
            .iter()
            .filter(|(_, p)| p.kind == kind)
            .map(|(n, _)| n)
            .chain(pruned.iter().filter(|n| working.policies[*n].kind == kind))
            .collect();
        let mut targets: BTreeSet<Target> = BTreeSet::new();
        for name in &managed {
            if let Some(p) = desired.policies.get(*name) {
                targets.extend(p.targets.iter().cloned());
            }
            if let Some(p) = working.policies.get(*name) {
                targets.extend(p.targets.iter().cloned());
            }
        }
        for target in targets {
            if let Target::Ou(path) = &target {
                if b.has_delete_of(path) {
                    continue; // AWS drops the attachments of a deleted OU
                }
            }
            if let Target::Account(name) = &target {
                if !working.is_usable_account(name) {
                    continue; // suspended, closing or not yet active: left alone
                }
            }
            let current = current_attachments(working, kind, &target);
            let wanted: BTreeSet<String> = current
                .iter()
                .filter(|n| !managed.contains(n))
                .cloned()
                .chain(
                    desired
                        .policies
                        .iter()
                        .filter(|(_, p)| p.kind == kind && p.targets.contains(&target))
                        .map(|(n, _)| n.clone()),
                )
                .collect();
            let granted_before = current.iter().any(|n| {
                working
                    .policies
                    .get(n)
                    .is_some_and(|p| has_allow_statement(&p.content))
            });
            if kind == PolicyKind::Scp && granted_before && !wanted.iter().any(|n| grants(n)) {
                b.refusals.push(format!("scp policies on {target}: after the policy updates no attached SCP would grant anything (no Allow path left)"));
                continue;
            }
            if current == wanted {
                continue;
            }
            let change = TargetChange {
                kind,
                current: current.clone(),
                wanted: wanted.clone(),
                cap: input.limits.max_attachments(kind),
                grants: &grants,
            };
            let steps = match change.steps() {
                Ok(steps) => steps,
                Err(why) => {
                    b.refusals
                        .push(format!("{} policies on {target}: {why}", kind.short_name()));
                    continue;
                }
            };
            // A target that a staged policy reaches in this plan changes in
            // that policy's wave: every step of the target travels with it.
            let staged = input.rollouts.iter().find_map(|(name, spec)| {
                let attaches = steps.iter().any(|s| matches!(s, Step::Attach(p) if p == name));
                let wave = spec.wave_of(&target)?;
                attaches.then(|| (name.clone(), wave))
            });
            if let Some(key) = staged.filter(|_| kind == PolicyKind::Scp) {
                let undo = TargetChange {
                    kind,
                    current: wanted,
                    wanted: current,
                    cap: input.limits.max_attachments(kind),
                    grants: &grants,
                };
                match undo.steps() {
                    Ok(undo) => waves.entry(key).or_default().push(WaveTarget {
                        target: target.clone(),
                        steps: steps.iter().map(wave_step).collect(),
                        undo: undo.iter().map(wave_step).collect(),
                    }),
                    Err(why) => b.refusals.push(format!(
                        "scp policies on {target}: a halted rollout could not be undone safely: {why}"
                    )),
                }
                continue;
            }
            let mut previous: Option<Address> = None;
            for step in steps {
                let (policy, attach) = match &step {
                    Step::Attach(p) => (p.clone(), true),
                    Step::Detach(p) => (p.clone(), false),
                };
                let address = Address::attachment(kind, &policy, &target);
                // The address names policy and target; the relation has no other state.
                let relation = json!({});
                let change = if attach {
                    Change::new(
                        address.clone(),
                        format!("the config attaches {policy} to {target}"),
                        None,
                        Some(relation),
                        Operation::AttachPolicy {
                            policy: policy.clone(),
                            kind,
                            target: target.clone(),
                        },
                    )
                } else {
                    let reason = if pruned.contains(&policy) {
                        format!("{policy} is pruned; detached before deletion")
                    } else {
                        format!("attached in AWS, the config does not target {target}")
                    };
                    Change::new(
                        address.clone(),
                        reason,
                        Some(relation),
                        None,
                        Operation::DetachPolicy {
                            policy: policy.clone(),
                            kind,
                            target: target.clone(),
                        },
                    )
                };
                // Steps on one target run in the order that keeps it safe.
                b.push(change.after(previous.take()));
                previous = Some(address);
            }
        }
    }
    plan_waves(b, input, working, waves);
    // A pruned policy is deleted after every detach of it.
    let detaches: Vec<(String, Address)> = b
        .changes
        .iter()
        .flat_map(|c| match &c.operation {
            crate::families::Operation::Organizations(Operation::DetachPolicy { policy, .. }) => {
                vec![(policy.clone(), c.address.clone())]
            }
            crate::families::Operation::Organizations(Operation::RolloutWave(w)) => w
                .targets
                .iter()
                .flat_map(|t| &t.steps)
                .filter_map(|s| match s {
                    WaveStep::Detach(p) => Some((p.clone(), c.address.clone())),
                    WaveStep::Attach(_) => None,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    for change in &mut b.changes {
        if let crate::families::Operation::Organizations(Operation::DeletePolicy { name, .. }) =
            &change.operation
        {
            let deps: Vec<Address> = detaches
                .iter()
                .filter(|(p, _)| p == name)
                .map(|(_, a)| a.clone())
                .collect();
            for d in deps {
                if !change.depends_on.contains(&d) {
                    change.depends_on.push(d);
                }
            }
        }
    }
}

/// Policies on a target now; a target that does not exist yet (or a type not
/// enabled yet) will carry what AWS attaches by itself.
fn current_attachments(working: &OrgState, kind: PolicyKind, target: &Target) -> BTreeSet<String> {
    if working.has_target(target) && working.enabled_policy_types.contains(&kind) {
        return working.policies_on(target, kind);
    }
    implicit_policy(kind)
        .filter(|name| working.policies.contains_key(*name) || kind == PolicyKind::Scp)
        .map(|name| BTreeSet::from([name.to_string()]))
        .unwrap_or_default()
}

fn plan_pruned_ous(b: &mut Builder, input: &DiffInput, working: &OrgState) {
    if !input.prune {
        return;
    }
    let mut candidates: Vec<&OuPath> = working
        .ous
        .iter()
        .filter(|(p, ou)| ou.is_managed() && !input.desired.ous.contains_key(*p))
        .map(|(p, _)| p)
        .collect();
    candidates.sort_by_key(|p| std::cmp::Reverse(p.depth()));
    let mut deleted: BTreeSet<OuPath> = BTreeSet::new();
    for path in candidates {
        let staying: Vec<&String> = working
            .accounts
            .iter()
            .filter(|(name, a)| {
                a.ou == *path
                    && input
                        .desired
                        .accounts
                        .get(*name)
                        .map(|d| d.ou == *path || !working.is_usable_account(name))
                        .unwrap_or(true)
            })
            .map(|(n, _)| n)
            .collect();
        let kept_children: Vec<&OuPath> = working
            .ous
            .keys()
            .filter(|c| c.parent().as_ref() == Some(path) && !deleted.contains(*c))
            .collect();
        let address = Address::ou(path);
        if !staying.is_empty() || !kept_children.is_empty() {
            b.unmanaged.push(Unmanaged {
                address,
                reason: format!("managed by lzctl and pruned from the config, but kept: it still holds {} account(s) and {} OU(s)", staying.len(), kept_children.len()),
            });
            continue;
        }
        let moves_out: Vec<Address> = b
            .changes
            .iter()
            .filter(|c| matches!(&c.operation, crate::families::Operation::Organizations(Operation::MoveAccount { from, .. }) if from == path))
            .map(|c| c.address.clone())
            .collect();
        let children: Vec<Address> = working
            .ous
            .keys()
            .filter(|c| c.parent().as_ref() == Some(path))
            .map(Address::ou)
            .collect();
        b.push(
            Change::new(
                address,
                "created by lzctl, no longer in the config, and `prune` is on",
                Some(json!({"path": path.to_string()})),
                None,
                Operation::DeleteOu { path: path.clone() },
            )
            .after(moves_out)
            .after(children),
        );
        deleted.insert(path.clone());
    }
}

/// The end of each staged document change: once every change on the policy
/// and its copy is done, the copy takes the policy's name. The copy's
/// creation says what it is for.
fn plan_replacements(b: &mut Builder, r: &super::staged::Rewritten, observed: &OrgState) {
    for s in &r.stagings {
        let touches = |c: &Change| match &c.operation {
            crate::families::Operation::Organizations(op) => match op {
                Operation::RolloutWave(w) => w.policy == s.staged,
                Operation::AttachPolicy { policy, .. } | Operation::DetachPolicy { policy, .. } => {
                    policy == &s.staged || policy == &s.policy
                }
                Operation::CreatePolicy { name, .. } | Operation::UpdatePolicy { name, .. } => {
                    name == &s.staged
                }
                _ => false,
            },
            _ => false,
        };
        let before: Vec<Address> = b.changes.iter().filter(|c| touches(c)).map(|c| c.address.clone()).collect();
        let copy_address = Address::policy(s.kind, &s.staged);
        for c in b.changes.iter_mut().filter(|c| c.address == copy_address) {
            if matches!(&c.operation, crate::families::Operation::Organizations(Operation::CreatePolicy { .. })) {
                c.reason = format!(
                    "{} has `rollout:` and a new document while attached: this copy carries the new document, attached in its place wave by wave",
                    s.policy
                );
            }
        }
        let want = &r.desired.policies[&s.staged];
        let old = observed.policies.get(&s.policy);
        // Not the policy's own address: the detaches of the policy need
        // that, and must not wait for the change that ends them.
        b.push(
            Change::new(
                Address::new("rollout", &format!("{}:{}:replace", s.kind.short_name(), s.policy)),
                format!(
                    "the new document of {} reaches its targets wave by wave on `{}`, which then takes its name",
                    s.policy, s.staged
                ),
                old.map(|p| json!({"description": p.description, "content": p.content})),
                Some(json!({"description": want.description, "content": want.content})),
                Operation::ReplacePolicy {
                    name: s.policy.clone(),
                    kind: s.kind,
                    staged: s.staged.clone(),
                    delete: s.delete,
                },
            )
            .after(before),
        );
    }
}

/// One change per wave of each staged policy, each after the wave before it.
fn plan_waves(
    b: &mut Builder,
    input: &DiffInput,
    working: &OrgState,
    mut waves: BTreeMap<(String, usize), Vec<WaveTarget>>,
) {
    let management = working.management_account_id.clone();
    for (policy, spec) in input.rollouts {
        let Some(desired) = input.desired.policies.get(policy) else {
            continue;
        };
        let digest = crate::rollout::content_digest(&desired.content);
        let halt = working
            .rollout_halts
            .get(policy)
            .map(|v| (v.clone(), crate::rollout::parse_halt(v)));
        let mut previous: Option<Address> = None;
        // The wave (1-based) a resume would start from.
        let mut first_left: Option<usize> = None;
        for (i, _) in spec.waves.iter().enumerate() {
            let Some(targets) = waves.remove(&(policy.clone(), i)) else {
                continue;
            };
            let first = first_left.is_none();
            first_left.get_or_insert(i + 1);
            // Accounts as the plan leaves them: those the file places, and
            // those it does not name but that exist (left where they are).
            let mut accounts: BTreeSet<String> = BTreeSet::new();
            for t in &targets {
                accounts.extend(input.desired.accounts_under(&t.target).cloned());
                accounts.extend(
                    working
                        .accounts_under(&t.target)
                        .filter(|n| !input.desired.accounts.contains_key(*n))
                        .cloned(),
                );
            }
            accounts.retain(|n| {
                working.is_usable_account(n)
                    && !(management.is_some()
                        && working.accounts.get(n).and_then(|a| a.id.clone()) == management)
            });
            let (resumes, needs_resume) = match (&halt, first) {
                (Some((value, parsed)), true) => {
                    let same = parsed.as_ref().is_some_and(|h| h.doc == digest);
                    (Some(value.clone()), same)
                }
                _ => (None, false),
            };
            let wave = super::RolloutWave {
                policy: policy.clone(),
                kind: PolicyKind::Scp,
                wave: i + 1,
                of: spec.waves.len(),
                targets,
                accounts: accounts.into_iter().collect(),
                soak_ms: spec.soak.as_millis() as u64,
                max_denials: spec.max_denials,
                trail: spec.trail.clone(),
                trail_account: spec.trail_account.clone(),
                regions: input.regions.to_vec(),
                organization_id: working.organization_id.clone().unwrap_or_default(),
                content_digest: digest.clone(),
                resumes,
                needs_resume,
            };
            let address = Address::new("rollout", &format!("scp:{policy}:wave-{}", i + 1));
            let targets_text: Vec<String> = wave.targets.iter().map(|t| t.target.to_string()).collect();
            let reason = format!(
                "the config rolls {policy} out in waves: wave {} of {} attaches it to {} ({} account(s)), then soaks {}",
                wave.wave,
                wave.of,
                targets_text.join(", "),
                wave.accounts.len(),
                crate::rollout::duration_text(spec.soak)
            );
            let after = json!({
                "wave": wave.wave,
                "of": wave.of,
                "targets": targets_text,
                "accounts": wave.accounts,
                "soak": crate::rollout::duration_text(spec.soak),
                "max_denials": wave.max_denials,
            });
            let provided = wave.attached();
            b.push(
                Change::new(address.clone(), reason, None, Some(after), Operation::RolloutWave(Box::new(wave)))
                    .providing(provided)
                    .after(previous.take()),
            );
            previous = Some(address);
        }
        if let Some((value, parsed)) = &halt {
            let same = parsed.as_ref().is_some_and(|h| h.doc == digest);
            let halted_wave = parsed.as_ref().map(|h| h.wave);
            let message = match first_left {
                None => format!("the rollout of {policy} is tagged `{}: {value}` but has no wave left to run; remove the tag", crate::rollout::HALT_TAG_KEY),
                Some(left) if same && halted_wave.is_some_and(|h| h != left) => format!(
                    "the rollout of {policy} halted ({value}), but the first wave left is now wave {left}: the waves or the policy's attachments changed since; `lzctl apply --resume` runs from wave {left}, a plain apply refuses"
                ),
                Some(_) if same => format!("the rollout of {policy} halted ({value}); `lzctl apply --resume` runs the halted wave again, a plain apply refuses"),
                Some(_) => format!("the rollout of {policy} halted ({value}) with an earlier document; this plan rolls the new one out"),
            };
            b.notices.push(Notice {
                address: Address::policy(PolicyKind::Scp, policy),
                message,
                pending: false,
            });
        }
    }
}
