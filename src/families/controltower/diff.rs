//! What lzctl asks of Control Tower: register the OUs the file wants
//! governed, enroll the accounts it creates or moves into them, and say
//! where the file and Control Tower disagree. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::{
    is_present, registration_address, ControlTowerState, EnabledBaseline, LandingZone, Operation,
    CONTROL_TOWER_BASELINE, IDENTITY_CENTER_BASELINE,
};
use crate::families::organizations::{working_state, DiffInput};
use crate::families::{DiffContext, DiffError, FamilyDiff};
use crate::model::{Address, OrgState, OuPath};
use crate::plan::{Change, Notice};

/// The AWSControlTowerBaseline version that goes with a landing zone
/// version: 3.0 for landing zones 3.0-3.1, 4.0 for 3.2-3.3, 5.0 from 4.0 on.
/// An unknown version takes what the registered OUs already use.
pub fn baseline_version(landing_zone: &str, in_use: &[&str]) -> String {
    let mut parts = landing_zone.split('.');
    let major: Option<u32> = parts.next().and_then(|p| p.parse().ok());
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    match major {
        Some(3) if minor <= 1 => "3.0".into(),
        Some(3) => "4.0".into(),
        Some(m) if m >= 4 => "5.0".into(),
        _ => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for v in in_use {
                *counts.entry(v).or_default() += 1;
            }
            counts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(v, _)| v.to_string())
                .unwrap_or_else(|| "4.0".into())
        }
    }
}

/// The OU an enabled baseline targets, by the id at the end of its ARN.
fn target_path<'a>(target: &str, paths: &HashMap<&str, &'a OuPath>) -> Option<&'a OuPath> {
    let id = target.rsplit('/').next()?;
    id.starts_with("ou-").then(|| paths.get(id).copied()).flatten()
}

/// The registrations that exist, by OU path (working-state paths).
pub fn registrations<'a>(
    ct: &'a ControlTowerState,
    working: &'a OrgState,
) -> BTreeMap<OuPath, &'a EnabledBaseline> {
    let Some(ct_baseline) = ct.baselines.get(CONTROL_TOWER_BASELINE) else {
        return BTreeMap::new();
    };
    let paths: HashMap<&str, &OuPath> = working
        .ous
        .iter()
        .filter_map(|(p, o)| o.id.as_deref().map(|id| (id, p)))
        .collect();
    ct.enabled
        .iter()
        .filter(|e| &e.baseline == ct_baseline)
        .filter_map(|e| target_path(&e.target, &paths).map(|p| (p.clone(), e)))
        .collect()
}

pub(super) fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
    let ct = &ctx.observed.controltower;
    let mut out = FamilyDiff::default();
    if !is_present(ct) {
        for name in ctx.desired.account_factory.keys() {
            if !ctx.observed.organizations.accounts.contains_key(name) {
                out.plan.notices.push(Notice {
                    address: Address::account_named(name),
                    message: "the file vends this account with Account Factory, but no Control Tower landing zone was found".into(),
                    pending: true,
                });
            }
        }
        return Ok(out);
    }
    let Some(lz) = &ct.landing_zone else {
        return Ok(out);
    };
    let desired = ctx.desired;
    let input = DiffInput::new(desired, ctx.observed);
    let working = working_state(&input, &ctx.observed.organizations);
    let notices = &mut out.plan.notices;
    let here = Address::new("controltower", "");
    for busy in &ct.busy {
        notices.push(Notice {
            address: here.clone(),
            message: format!("Control Tower is busy now ({busy}); apply waits until it is quiet"),
            pending: false,
        });
    }
    landing_zone_notices(lz, &desired.organization.governed_regions, &here, notices);
    let refusals = control_tower_ous(lz, desired);
    if !refusals.is_empty() {
        return Err(DiffError::Refused(refusals));
    }

    let registered = registrations(ct, &working);
    out.existing
        .extend(registered.keys().map(registration_address));
    let Some(baseline) = ct.baselines.get(CONTROL_TOWER_BASELINE) else {
        return Ok(out);
    };
    let in_use: Vec<&str> = registered.values().map(|e| e.version.as_str()).collect();
    let version = baseline_version(&lz.version, &in_use);
    let identity_center = ct.baselines.get(IDENTITY_CENTER_BASELINE).and_then(|ic| {
        ct.enabled
            .iter()
            .find(|e| &e.baseline == ic)
            .map(|e| e.arn.clone())
    });

    // Registrations, outermost first so a parent is known before its children.
    let mut will_register: BTreeSet<OuPath> = BTreeSet::new();
    let mut paths: Vec<&OuPath> = desired.state.ous.keys().collect();
    paths.sort_by_key(|p| (p.depth(), (*p).clone()));
    for path in paths {
        let governed_parent = |p: &OuPath| registered.contains_key(p) || will_register.contains(p);
        if let Some(existing) = registered.get(path) {
            match existing.status.as_str() {
                "FAILED" => out.plan.changes.push(Change::new(
                    Address::new("ct-reset", &path.to_string()),
                    "its registration with Control Tower FAILED; registering it again",
                    Some(json!({"status": "FAILED"})),
                    Some(json!({"status": "SUCCEEDED"})),
                    Operation::ResetOu { path: path.clone() },
                )),
                _ if existing.drift.as_deref() == Some("DRIFTED") => out.plan.notices.push(Notice {
                    address: registration_address(path),
                    message: "Control Tower reports this OU's registration as drifted; re-register it in Control Tower (lzctl does not reset it on its own)".into(),
                    pending: false,
                }),
                _ => {}
            }
            continue;
        }
        let parent = path.parent().unwrap_or_default();
        let wanted = match desired.registration.get(path) {
            Some(explicit) => *explicit,
            None if parent.is_root() => !working.ous.contains_key(path),
            None => governed_parent(&parent),
        };
        if !wanted {
            continue;
        }
        if !parent.is_root() && !governed_parent(&parent) {
            out.plan.notices.push(Notice {
                address: registration_address(path),
                message: format!("the file asks to register {path}, but its parent {parent} is not registered with Control Tower; register the parent first"),
                pending: true,
            });
            continue;
        }
        out.plan.changes.push(Change::new(
            registration_address(path),
            if working.ous.contains_key(path) {
                "the OU is not registered with Control Tower".to_string()
            } else {
                "a new OU under Control Tower's governance is registered before accounts arrive"
                    .to_string()
            },
            None,
            Some(json!({"baseline": CONTROL_TOWER_BASELINE, "version": version})),
            Operation::RegisterOu {
                path: path.clone(),
                baseline: baseline.clone(),
                version: version.clone(),
                identity_center: identity_center.clone(),
            },
        ));
        will_register.insert(path.clone());
    }

    // Accounts that arrive in governed OUs. Control Tower runs one account
    // operation per OU at a time: an account moves in after the previous
    // one's enrollment there has finished.
    let mut resets: BTreeMap<OuPath, Vec<Address>> = BTreeMap::new();
    let mut last_enrollment: BTreeMap<OuPath, Address> = BTreeMap::new();
    for (name, want) in &desired.state.accounts {
        if desired.account_factory.contains_key(name) && !working.accounts.contains_key(name) {
            continue; // Account Factory vends and enrolls it (below)
        }
        let dest = &want.ou;
        if !(registered.contains_key(dest) || will_register.contains(dest)) {
            continue;
        }
        let arriving = match working.accounts.get(name) {
            None => !ctx.observed.organizations.accounts_being_created.contains(name),
            Some(have) => have.ou != *dest && working.is_usable_account(name),
        };
        if !arriving {
            continue;
        }
        let account = Address::account_named(name);
        out.orderings
            .push((account.clone(), registration_address(dest)));
        if lz.auto_enrollment {
            let enrollment = Address::new("ct-enrollment", name);
            out.plan.changes.push(Change::new(
                enrollment.clone(),
                format!("Control Tower enrolls accounts that arrive in {dest}; lzctl waits for it"),
                None,
                Some(json!({"enrolled_in": dest.to_string()})),
                Operation::AwaitEnrollment {
                    account: name.clone(),
                    ou: dest.clone(),
                },
            ));
            out.orderings.push((enrollment.clone(), account.clone()));
            if let Some(previous) = last_enrollment.insert(dest.clone(), enrollment) {
                out.orderings.push((account, previous));
            }
        } else {
            resets.entry(dest.clone()).or_default().push(account);
        }
    }
    // Accounts Account Factory vends: one provisioning per OU at a time, as
    // for the accounts lzctl moves in.
    for (name, user) in &desired.account_factory {
        if working.accounts.contains_key(name) {
            continue;
        }
        let address = Address::account_named(name);
        if ct.provisioning.contains(name) {
            out.plan.notices.push(Notice {
                address,
                message: "Account Factory is vending this account now; run again when it has finished".into(),
                pending: true,
            });
            continue;
        }
        let want = &desired.state.accounts[name];
        let dest = &want.ou;
        if !(registered.contains_key(dest) || will_register.contains(dest)) {
            out.plan.notices.push(Notice {
                address,
                message: format!("Account Factory vends only into registered OUs, and {dest} is not registered (or `register: false`)"),
                pending: true,
            });
            continue;
        }
        out.plan.changes.push(Change::new(
            address.clone(),
            "declared in the config with `account_factory`, missing in the organization",
            None,
            Some(json!({"email": want.email, "ou": dest.to_string(), "sso_user_email": user.email})),
            Operation::ProvisionAccount {
                name: name.clone(),
                email: want.email.clone(),
                ou: dest.clone(),
                sso_user: user.clone(),
            },
        ));
        if let Some(previous) = last_enrollment.insert(dest.clone(), address.clone()) {
            out.orderings.push((address, previous));
        }
    }
    for (dest, accounts) in resets {
        let reset = Address::new("ct-reset", &dest.to_string());
        if out.plan.changes.iter().any(|c| c.address == reset) {
            for a in accounts {
                out.orderings.push((reset.clone(), a));
            }
            continue;
        }
        out.plan.changes.push(Change::new(
            reset.clone(),
            format!(
                "{} account(s) arrive in {dest} and auto-enrollment is off: re-registering the OU enrolls them",
                accounts.len()
            ),
            Some(json!({"enrolled": false})),
            Some(json!({"enrolled": true})),
            Operation::ResetOu { path: dest.clone() },
        ));
        for a in accounts {
            out.orderings.push((reset.clone(), a));
        }
    }
    Ok(out)
}

/// Where the file and the landing zone disagree, and the landing zone's health.
fn landing_zone_notices(lz: &LandingZone, governed: &[String], here: &Address, notices: &mut Vec<Notice>) {
    let file: BTreeSet<&str> = governed.iter().map(String::as_str).collect();
    let tower: BTreeSet<&str> = lz.governed_regions.iter().map(String::as_str).collect();
    if !tower.is_empty() && file != tower {
        notices.push(Notice {
            address: here.clone(),
            message: format!(
                "governed regions differ: the file says [{}], Control Tower governs [{}]; lzctl does not change Control Tower's regions (update the landing zone, or the file)",
                file.iter().copied().collect::<Vec<_>>().join(", "),
                tower.iter().copied().collect::<Vec<_>>().join(", ")
            ),
            pending: false,
        });
    }
    if lz.drift == "DRIFTED" {
        notices.push(Notice {
            address: here.clone(),
            message: "Control Tower reports landing-zone drift; repair it in Control Tower".into(),
            pending: false,
        });
    }
    if lz.status == "FAILED" {
        notices.push(Notice {
            address: here.clone(),
            message: "the landing zone's last operation FAILED; apply waits for it to be healthy".into(),
            pending: false,
        });
    }
}

/// Control Tower's own OUs (Security, Sandbox) are never renamed by lzctl.
fn control_tower_ous(lz: &LandingZone, desired: &crate::config::Desired) -> Vec<String> {
    let mut refusals = Vec::new();
    for name in lz.security_ou.iter().chain(lz.sandbox_ou.iter()) {
        for (path, old) in &desired.renames {
            if old == name && path.depth() == 1 {
                refusals.push(format!(
                    "OU `{name}` belongs to Control Tower; the file renames it to `{}`, which lzctl refuses (rename it through Control Tower)",
                    path.name()
                ));
            }
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_versions_follow_the_landing_zone() {
        assert_eq!(baseline_version("3.0", &[]), "3.0");
        assert_eq!(baseline_version("3.1", &[]), "3.0");
        assert_eq!(baseline_version("3.2", &[]), "4.0");
        assert_eq!(baseline_version("3.3", &[]), "4.0");
        assert_eq!(baseline_version("4.0", &[]), "5.0");
        assert_eq!(baseline_version("next", &["4.0", "5.0", "5.0"]), "5.0");
    }
}
