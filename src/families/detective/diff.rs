//! What the detective services need: delegation, GuardDuty's organization
//! configuration per region, Security Hub central configuration, Config
//! organization rules (production-only rules exclude every non-production
//! account, computed here from the organization), the organization trail;
//! and the coverage each service reaches. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::config::{CloudTrailDesired, DetectiveDesired, RuleScope};
use super::{
    catalog, delegated_address, DetectiveState, Operation, CONFIG_MULTIACCOUNT,
    CONTROL_TOWER_TRAIL, MANAGED_MARKER, MAX_EXCLUDED_ACCOUNTS,
};
use crate::families::organizations::{working_state, DiffInput};
use crate::families::{DiffContext, DiffError, FamilyDiff};
use crate::model::{Address, OrgState, Target};
use crate::plan::{Change, Notice, Unmanaged};

/// The description lzctl gives a Config rule: its marker, severity and scope.
pub fn rule_description(severity: &str, scope: RuleScope) -> String {
    let scope = match scope {
        RuleScope::All => "all",
        RuleScope::Production => "production",
    };
    format!("{MANAGED_MARKER} severity={severity} scope={scope}")
}

/// The severity lzctl recorded in a rule's description.
pub fn severity_of(description: &str) -> Option<&str> {
    description
        .strip_prefix(MANAGED_MARKER)?
        .split_whitespace()
        .find_map(|w| w.strip_prefix("severity="))
}

/// The accounts production-only rules exclude: (ids of existing accounts,
/// file names of accounts this apply creates), and the production accounts.
pub struct Scoping {
    /// Non-production account ids.
    pub excluded: BTreeSet<String>,
    /// Non-production accounts not created yet (file names).
    pub excluded_new: BTreeSet<String>,
    /// Names of production accounts.
    pub production: BTreeSet<String>,
}

/// Which accounts are production, where the organization will be once the
/// plan ran: accounts the file declares count at their declared OU.
pub fn scoping(
    desired: &crate::config::Desired,
    want: &super::config::Production,
    working: &OrgState,
) -> Scoping {
    let mut out = Scoping {
        excluded: BTreeSet::new(),
        excluded_new: BTreeSet::new(),
        production: BTreeSet::new(),
    };
    let is_production = |name: &str, ou: &crate::model::OuPath, tags: &crate::model::Tags| {
        let by_ou = want.ous.iter().any(|p| ou.starts_with(p));
        let by_tag = want.tag.as_ref().is_some_and(|(k, v)| {
            desired
                .state
                .accounts
                .get(name)
                .and_then(|a| a.tags.get(k))
                .or_else(|| tags.get(k))
                == Some(v)
        });
        by_ou || by_tag
    };
    for (name, account) in &working.accounts {
        if !working.is_usable_account(name) {
            continue;
        }
        let ou = desired
            .state
            .accounts
            .get(name)
            .map(|a| &a.ou)
            .unwrap_or(&account.ou);
        if is_production(name, ou, &account.tags) {
            out.production.insert(name.clone());
        } else if let Some(id) = &account.id {
            out.excluded.insert(id.clone());
        }
    }
    for (name, account) in &desired.state.accounts {
        if working.accounts.contains_key(name) {
            continue;
        }
        if is_production(name, &account.ou, &account.tags) {
            out.production.insert(name.clone());
        } else {
            out.excluded_new.insert(name.clone());
        }
    }
    out
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// Parameters JSON as a map, for comparing regardless of key order.
fn params_map(text: &str) -> BTreeMap<String, serde_json::Value> {
    if text.trim().is_empty() {
        return BTreeMap::new();
    }
    serde_json::from_str(text).unwrap_or_default()
}

/// Every family diff input in one place.
struct Ctx<'a> {
    desired: &'a crate::config::Desired,
    want: &'a DetectiveDesired,
    have: &'a DetectiveState,
    working: OrgState,
    /// The administrator's account id, when it exists.
    admin_id: Option<String>,
    out: FamilyDiff,
}

impl Ctx<'_> {
    fn notice(&mut self, address: Address, message: String, pending: bool) {
        self.out.plan.notices.push(Notice {
            address,
            message,
            pending,
        });
    }

    fn push(&mut self, change: Change) {
        self.out.plan.changes.push(change);
    }

    fn exists(&mut self, address: Address) {
        self.out.existing.insert(address);
    }

    fn account_name(&self, id: &str) -> String {
        self.working
            .accounts
            .iter()
            .find(|(_, a)| a.id.as_deref() == Some(id))
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// The id of a target, when it exists.
    fn target_id(&self, target: &Target) -> Option<String> {
        match target {
            Target::Root => self.working.root_id.clone(),
            Target::Ou(path) => self.working.ous.get(path).and_then(|o| o.id.clone()),
            Target::Account(name) => self.working.accounts.get(name).and_then(|a| a.id.clone()),
        }
    }

    /// Active accounts (names).
    fn active_accounts(&self) -> Vec<String> {
        self.working
            .accounts
            .keys()
            .filter(|n| self.working.is_usable_account(n))
            .cloned()
            .collect()
    }
}

/// The family's diff.
pub(super) fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError> {
    let Some(want) = &ctx.desired.families.detective else {
        return Ok(FamilyDiff::default());
    };
    let have = &ctx.observed.detective;
    if !have.checked {
        // Offline (a snapshot without detective state): nothing to compare.
        return Ok(FamilyDiff::default());
    }
    let working = working_state(&DiffInput::new(ctx.desired, ctx.observed), &ctx.observed.organizations);
    let admin_id = if is_account_id(&want.admin) {
        Some(want.admin.clone())
    } else {
        working.accounts.get(&want.admin).and_then(|a| a.id.clone())
    };
    let mut c = Ctx {
        desired: ctx.desired,
        want,
        have,
        working,
        admin_id,
        out: FamilyDiff::default(),
    };
    let mut refusals = Vec::new();
    guardduty(&mut c);
    security_hub(&mut c);
    config_rules(&mut c, ctx, &mut refusals);
    cloudtrail(&mut c, ctx);
    coverage(&mut c);
    if !refusals.is_empty() {
        return Err(DiffError::Refused(refusals));
    }
    Ok(c.out)
}

fn guardduty(c: &mut Ctx<'_>) {
    let Some(gd) = c.want.guardduty.clone() else {
        return;
    };
    for region in c.want.regions.clone() {
        let have = c.have.guardduty.get(&region).cloned().unwrap_or_default();
        let admin_addr = Address::new("guardduty-admin", "").in_region(&region);
        let ours = have.admin.is_some() && have.admin == c.admin_id;
        match &have.admin {
            Some(other) if !ours => {
                let name = c.account_name(other);
                c.notice(
                    admin_addr,
                    format!("GuardDuty's delegated administrator here is {name}, not {}; lzctl does not replace it (disable it from the management account first)", c.want.admin),
                    true,
                );
                continue;
            }
            Some(_) => c.exists(admin_addr.clone()),
            None => c.push(Change::new(
                admin_addr.clone(),
                format!("{} becomes GuardDuty's delegated administrator in {region}", c.want.admin),
                None,
                Some(json!({"admin": c.want.admin})),
                Operation::GuardDutyAdmin {
                    region: region.clone(),
                    account: c.want.admin.clone(),
                },
            )),
        }
        // Listed features follow the members' auto-enable; others are left
        // as they are (turning a feature off is not lzctl's to decide).
        let mut features: BTreeMap<String, String> = gd
            .features
            .iter()
            .map(|f| (f.clone(), gd.auto_enable.clone()))
            .collect();
        let unlisted: Vec<String> = have
            .features
            .iter()
            .filter(|(name, mode)| !gd.features.contains(*name) && mode.as_str() != "NONE")
            .map(|(name, _)| name.clone())
            .collect();
        if c.desired.prune {
            for name in &unlisted {
                features.insert(name.clone(), "NONE".into());
            }
        }
        let wanted_state = json!({"auto_enable": gd.auto_enable, "features": features});
        let have_features: BTreeMap<String, String> = features
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    have.features.get(k).cloned().unwrap_or_else(|| "NONE".into()),
                )
            })
            .collect();
        let address = Address::new("guardduty", "").in_region(&region);
        let same = ours
            && have.detector.is_some()
            && have.auto_enable.as_deref() == Some(gd.auto_enable.as_str())
            && have_features == features;
        if same {
            c.exists(address.clone());
        } else {
            let before = (ours && have.detector.is_some()).then(|| {
                json!({"auto_enable": have.auto_enable.clone().unwrap_or_else(|| "NONE".into()), "features": have_features})
            });
            c.push(Change::new(
                address.clone(),
                if before.is_none() {
                    format!("GuardDuty is not configured for the organization in {region}")
                } else {
                    format!("GuardDuty's organization configuration in {region} differs from the file")
                },
                before,
                Some(wanted_state),
                Operation::GuardDutyOrganization {
                    region: region.clone(),
                    account: c.want.admin.clone(),
                    auto_enable: gd.auto_enable.clone(),
                    features,
                },
            ));
        }
        if !c.desired.prune && !unlisted.is_empty() {
            c.notice(
                address,
                format!(
                    "features the file does not list stay as they are: {} (prune: true turns them off)",
                    unlisted.join(", ")
                ),
                false,
            );
        }
    }
}

fn security_hub(c: &mut Ctx<'_>) {
    let Some(hub) = c.want.security_hub.clone() else {
        return;
    };
    let region = hub.aggregation_region.clone();
    let have = c.have.security_hub.clone();
    let cat = catalog();
    let admin_addr = Address::new("securityhub-admin", "").in_region(&region);
    let ours = have.admin.is_some() && have.admin == c.admin_id;
    match &have.admin {
        Some(other) if !ours => {
            let name = c.account_name(other);
            c.notice(
                admin_addr,
                format!("Security Hub's delegated administrator is {name}, not {}; lzctl does not replace it", c.want.admin),
                true,
            );
            return;
        }
        Some(_) => c.exists(admin_addr),
        None => c.push(Change::new(
            admin_addr,
            format!("{} becomes Security Hub's delegated administrator", c.want.admin),
            None,
            Some(json!({"admin": c.want.admin})),
            Operation::SecurityHubAdmin {
                region: region.clone(),
                account: c.want.admin.clone(),
            },
        )),
    }
    // The finding aggregator links every other detective region.
    let linked: BTreeSet<String> = c
        .want
        .regions
        .iter()
        .filter(|r| **r != region)
        .cloned()
        .collect();
    let agg_addr = Address::new("securityhub-aggregator", "").in_region(&region);
    let agg = if ours && have.hub_enabled { have.aggregator.clone() } else { None };
    match agg {
        Some((_, agg_region, _)) if agg_region != region => {
            c.notice(
                agg_addr,
                format!("the finding aggregator is in {agg_region}, the file wants {region}; delete it there first (lzctl does not move it)"),
                true,
            );
            return;
        }
        Some((_, _, have_linked)) if have_linked == linked => c.exists(agg_addr),
        other => c.push(Change::new(
            agg_addr,
            "findings of every detective region are aggregated in the home region",
            other.as_ref().map(|(_, _, l)| json!({"linked_regions": l})),
            Some(json!({"linked_regions": linked})),
            Operation::SecurityHubAggregator {
                region: region.clone(),
                account: c.want.admin.clone(),
                linked: linked.clone(),
                existing: other.map(|(arn, _, _)| arn),
            },
        )),
    }
    let central_addr = Address::new("securityhub-central", "").in_region(&region);
    let (kind, status) = have.configuration.clone().unwrap_or_default();
    if ours && kind == "CENTRAL" && status == "ENABLED" {
        c.exists(central_addr);
    } else if ours && kind == "CENTRAL" && status == "PENDING" {
        c.push(Change::new(
            central_addr,
            "central configuration is still PENDING; lzctl waits for ENABLED",
            Some(json!({"configuration": "CENTRAL PENDING"})),
            Some(json!({"configuration": "CENTRAL ENABLED"})),
            Operation::SecurityHubCentral {
                region: region.clone(),
                account: c.want.admin.clone(),
            },
        ));
    } else {
        c.push(Change::new(
            central_addr,
            "configuration policies need central configuration",
            (ours && !kind.is_empty()).then(|| json!({"configuration": format!("{kind} {status}")})),
            Some(json!({"configuration": "CENTRAL ENABLED"})),
            Operation::SecurityHubCentral {
                region: region.clone(),
                account: c.want.admin.clone(),
            },
        ));
    }
    // Policies.
    let mut ids: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (name, p) in &hub.policies {
        let standards: BTreeSet<String> = p
            .standards
            .iter()
            .filter_map(|s| cat.standard_arn(s, &region))
            .collect();
        let description = format!("{MANAGED_MARKER} policy {name}");
        let address = Address::new("securityhub-policy", name).in_region(&region);
        let existing = have.policies.get(name).filter(|_| ours);
        ids.insert(name.clone(), existing.map(|e| e.id.clone()));
        let after = json!({"standards": p.standards, "disabled_controls": p.disabled_controls});
        match existing {
            Some(e)
                if e.service_enabled
                    && e.standards == standards
                    && e.disabled_controls == p.disabled_controls
                    && e.description == description =>
            {
                c.exists(address)
            }
            other => {
                let before = other.map(|e| {
                    let keys: Vec<String> = e
                        .standards
                        .iter()
                        .map(|arn| {
                            cat.standards
                                .iter()
                                .find(|(_, path)| arn.ends_with(path.as_str()))
                                .map(|(k, _)| k.clone())
                                .unwrap_or_else(|| arn.clone())
                        })
                        .collect();
                    json!({"standards": keys, "disabled_controls": e.disabled_controls})
                });
                c.push(Change::new(
                    address,
                    if before.is_some() {
                        format!("configuration policy {name} differs from the file")
                    } else {
                        format!("configuration policy {name} does not exist")
                    },
                    before,
                    Some(after),
                    Operation::SecurityHubPolicy {
                        region: region.clone(),
                        account: c.want.admin.clone(),
                        name: name.clone(),
                        description,
                        standards,
                        disabled_controls: p.disabled_controls.clone(),
                        existing: other.map(|e| e.id.clone()),
                    },
                ));
            }
        }
    }
    // Associations: one policy per target; the nearest applied one wins.
    let mut wanted_targets = BTreeSet::new();
    for (name, p) in &hub.policies {
        for target in &p.targets {
            let address = Address::new("securityhub-association", &target.to_string()).in_region(&region);
            let target_id = c.target_id(target);
            if let Some(id) = &target_id {
                wanted_targets.insert(id.clone());
            }
            let applied = target_id
                .as_ref()
                .and_then(|id| have.associations.get(id))
                .filter(|_| ours);
            let policy_id = ids.get(name).cloned().flatten();
            if applied.is_some() && applied == policy_id.as_ref() {
                c.exists(address);
                continue;
            }
            let before = applied.map(|pid| {
                let current = have
                    .policies
                    .iter()
                    .find(|(_, p)| &p.id == pid)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_else(|| pid.clone());
                json!({"policy": current})
            });
            c.push(Change::new(
                address,
                format!("{target} gets configuration policy {name}"),
                before,
                Some(json!({"policy": name})),
                Operation::SecurityHubAssociation {
                    region: region.clone(),
                    account: c.want.admin.clone(),
                    policy: name.clone(),
                    target: target.clone(),
                },
            ));
        }
    }
    if ours {
        for (target_id, policy_id) in &have.associations {
            if wanted_targets.contains(target_id) {
                continue;
            }
            let address = Address::new("securityhub-association", target_id).in_region(&region);
            let managed = have
                .policies
                .values()
                .any(|p| &p.id == policy_id && p.description.starts_with(MANAGED_MARKER));
            if c.desired.prune && managed {
                c.push(Change::new(
                    address,
                    "the file no longer associates a policy with this target (prune)",
                    Some(json!({"policy": policy_id})),
                    None,
                    Operation::SecurityHubDisassociation {
                        region: region.clone(),
                        account: c.want.admin.clone(),
                        policy_id: policy_id.clone(),
                        target_id: target_id.clone(),
                    },
                ));
            } else {
                c.out.plan.unmanaged.push(Unmanaged {
                    address,
                    reason: "a configuration policy association the file does not name".into(),
                });
            }
        }
        for (target_id, message) in have.failed.clone() {
            let name = c.account_name(&target_id);
            c.notice(
                Address::new("securityhub-association", &name).in_region(&region),
                format!("the configuration policy association FAILED for {name}: {message}"),
                false,
            );
        }
    }
}

fn config_rules(c: &mut Ctx<'_>, ctx: &DiffContext<'_>, refusals: &mut Vec<String>) {
    let Some(cfg) = c.want.config.clone() else {
        return;
    };
    // With Control Tower 4.0 running Config, its account is the Config
    // administrator; lzctl adopts it.
    let mut account = c.want.admin.clone();
    let mut admin_id = c.admin_id.clone();
    if let Some(ct) = &c.have.control_tower_config {
        if Some(ct) != c.admin_id.as_ref() {
            c.notice(
                Address::new("config-admin", ""),
                format!(
                    "Control Tower runs AWS Config with {} as its delegated administrator; lzctl deploys the organization rules from it (not {})",
                    c.account_name(ct),
                    c.want.admin
                ),
                false,
            );
        }
        account = ct.clone();
        admin_id = Some(ct.clone());
    }
    let trusted = Address::new("trusted-access", CONFIG_MULTIACCOUNT);
    if ctx
        .observed
        .organizations
        .trusted_services
        .contains(CONFIG_MULTIACCOUNT)
    {
        c.exists(trusted);
    } else {
        c.push(Change::new(
            trusted,
            "Config organization rules need trusted access for config-multiaccountsetup",
            None,
            Some(json!({"enabled": true})),
            Operation::TrustedAccess {
                principal: CONFIG_MULTIACCOUNT.into(),
            },
        ));
    }
    let delegated = delegated_address(CONFIG_MULTIACCOUNT);
    let registered = c
        .have
        .delegated
        .get(CONFIG_MULTIACCOUNT)
        .cloned()
        .unwrap_or_default();
    let is_registered = admin_id.as_ref().is_some_and(|id| registered.contains(id));
    if is_registered {
        c.exists(delegated);
    } else {
        c.push(Change::new(
            delegated,
            format!("{account} deploys Config organization rules as delegated administrator"),
            None,
            Some(json!({"admin": account})),
            Operation::RegisterDelegatedAdmin {
                principal: CONFIG_MULTIACCOUNT.into(),
                account: account.clone(),
            },
        ));
    }
    let scope = scoping(c.desired, &cfg.production, &c.working);
    let excluded_count = scope.excluded.len() + scope.excluded_new.len();
    if cfg.rules.values().any(|r| r.scope == RuleScope::Production)
        && excluded_count > MAX_EXCLUDED_ACCOUNTS
    {
        refusals.push(format!(
            "production-only Config rules would exclude {excluded_count} non-production accounts; AWS allows at most {MAX_EXCLUDED_ACCOUNTS} ExcludedAccounts per organization rule (deploy them as a conformance pack or StackSet to the production OUs instead)"
        ));
        return;
    }
    let id_names: BTreeMap<String, String> = c
        .working
        .accounts
        .iter()
        .filter_map(|(n, a)| a.id.clone().map(|id| (id, n.clone())))
        .collect();
    let names_of = |ids: &BTreeSet<String>| -> Vec<String> {
        ids.iter()
            .map(|id| id_names.get(id).cloned().unwrap_or_else(|| id.clone()))
            .collect()
    };
    for region in c.want.regions.clone() {
        let have_rules = c.have.config_rules.get(&region).cloned().unwrap_or_default();
        for (name, rule) in &cfg.rules {
            let description = rule_description(rule.severity.as_str(), rule.scope);
            let (excluded, excluded_new) = match rule.scope {
                RuleScope::All => (BTreeSet::new(), BTreeSet::new()),
                RuleScope::Production => (scope.excluded.clone(), scope.excluded_new.clone()),
            };
            let address = Address::new("config-rule", name).in_region(&region);
            let existing = have_rules.get(name);
            let same = existing.is_some_and(|e| {
                e.identifier == rule.identifier
                    && params_map(&e.parameters) == params_map(&rule.parameters)
                    && e.description == description
                    && e.excluded == excluded
                    && excluded_new.is_empty()
            });
            if let Some(e) = existing {
                if let Some((status, message)) = &e.status {
                    if status.ends_with("FAILED") {
                        c.notice(
                            address.clone(),
                            format!("the rule's deployment is {status}: {message}"),
                            false,
                        );
                    }
                }
            }
            if same {
                c.exists(address);
                continue;
            }
            let state = |identifier: &str, params: &str, description: &str, excluded: Vec<String>| {
                json!({
                    "identifier": identifier,
                    "parameters": params_map(params),
                    "severity": severity_of(description).unwrap_or("(not lzctl's)"),
                    "excluded_accounts": excluded,
                })
            };
            let mut after_excluded = names_of(&excluded);
            after_excluded.extend(excluded_new.iter().cloned());
            after_excluded.sort();
            let before = existing.map(|e| {
                let mut names = names_of(&e.excluded);
                names.sort();
                state(&e.identifier, &e.parameters, &e.description, names)
            });
            let reason = match existing {
                None => format!("the {} rule is not deployed in {region}", rule.severity.as_str()),
                Some(e) if e.excluded != excluded || !excluded_new.is_empty() => {
                    "the production accounts changed: the rule's exclusions follow".to_string()
                }
                Some(_) => "the rule differs from the file".to_string(),
            };
            c.push(Change::new(
                address,
                reason,
                before,
                Some(state(&rule.identifier, &rule.parameters, &description, after_excluded)),
                Operation::ConfigRule {
                    region: region.clone(),
                    account: account.clone(),
                    name: name.clone(),
                    identifier: rule.identifier.clone(),
                    parameters: rule.parameters.clone(),
                    description,
                    excluded,
                    excluded_new,
                },
            ));
        }
        for (name, have) in &have_rules {
            if cfg.rules.contains_key(name) {
                continue;
            }
            let address = Address::new("config-rule", name).in_region(&region);
            if c.desired.prune && have.description.starts_with(MANAGED_MARKER) {
                c.push(Change::new(
                    address,
                    "the file no longer names this rule (prune)",
                    Some(json!({"identifier": have.identifier})),
                    None,
                    Operation::DeleteConfigRule {
                        region: region.clone(),
                        account: account.clone(),
                        name: name.clone(),
                    },
                ));
            } else {
                c.out.plan.unmanaged.push(Unmanaged {
                    address,
                    reason: if have.description.starts_with(MANAGED_MARKER) {
                        "an lzctl rule the file no longer names (prune: true deletes it)".into()
                    } else {
                        "a Config organization rule lzctl did not make".into()
                    },
                });
            }
        }
    }
}

fn cloudtrail(c: &mut Ctx<'_>, ctx: &DiffContext<'_>) {
    let Some(trail) = c.want.cloudtrail.clone() else {
        return;
    };
    let home = c.desired.organization.home_region.clone();
    match trail {
        CloudTrailDesired::ControlTower => {
            let address = Address::new("cloudtrail", CONTROL_TOWER_TRAIL);
            if !crate::families::controltower::is_present(&ctx.observed.controltower) {
                c.notice(
                    address,
                    "the file adopts Control Tower's organization trail, but there is no Control Tower landing zone; give `organization_trail: { name, bucket }` to have lzctl create one".into(),
                    false,
                );
                return;
            }
            match c.have.trails.iter().find(|t| t.name == CONTROL_TOWER_TRAIL) {
                None => c.notice(
                    address,
                    "Control Tower's organization trail is missing; repair the landing zone in Control Tower".into(),
                    true,
                ),
                Some(t) if !t.logging => c.notice(
                    address,
                    "Control Tower's organization trail is not logging; start it again (it is Control Tower's, lzctl leaves it alone)".into(),
                    true,
                ),
                Some(_) => {}
            }
        }
        CloudTrailDesired::Create { name, bucket } => {
            let address = Address::new("cloudtrail", &name);
            match c.have.trails.iter().find(|t| t.name == name) {
                None => c.push(Change::new(
                    address,
                    "no organization trail: lzctl creates one delivering to the log archive",
                    None,
                    Some(json!({"bucket": bucket, "logging": true})),
                    Operation::CreateTrail {
                        region: home,
                        name,
                        bucket,
                    },
                )),
                Some(t) if !t.logging => c.push(Change::new(
                    address,
                    "the organization trail is not logging",
                    Some(json!({"logging": false})),
                    Some(json!({"logging": true})),
                    Operation::StartLogging { region: home, name },
                )),
                Some(t) => {
                    if t.bucket != bucket {
                        c.notice(
                            address,
                            format!("the trail delivers to {}, the file says {bucket}; lzctl does not move its logs", t.bucket),
                            false,
                        );
                    }
                }
            }
        }
    }
}

/// Coverage per service: accounts x regions reached, out of all of them.
fn coverage(c: &mut Ctx<'_>) {
    let accounts = c.active_accounts();
    let total_accounts = accounts.len();
    let regions = c.want.regions.clone();
    let total = total_accounts * regions.len();
    let mut lines: Vec<(String, usize, String)> = Vec::new();
    if c.want.guardduty.is_some() {
        let mut covered = 0;
        let mut parts = Vec::new();
        for r in &regions {
            let here = c.have.guardduty.get(r);
            let n = match here.and_then(|g| g.counts).filter(|_| here.and_then(|g| g.admin.clone()) == c.admin_id) {
                // members enabled, plus the administrator's own detector
                Some((_, enabled)) => (enabled as usize + 1).min(total_accounts),
                None => 0,
            };
            covered += n;
            parts.push(format!("{r} {n}/{total_accounts}"));
        }
        lines.push(("guardduty".into(), covered, parts.join(", ")));
    }
    if let Some(hub) = &c.want.security_hub {
        let have = &c.have.security_hub;
        let central = have.configuration.as_ref().is_some_and(|(k, s)| k == "CENTRAL" && s == "ENABLED");
        let failed: BTreeSet<&String> = have.failed.iter().map(|(t, _)| t).collect();
        let mut enabled = 0;
        if central {
            for name in &accounts {
                let Some(account) = c.working.accounts.get(name) else { continue };
                let Some(id) = &account.id else { continue };
                let mut chain: Vec<String> = vec![id.clone()];
                let mut path = account.ou.clone();
                loop {
                    if let Some(ou_id) = c.working.ous.get(&path).and_then(|o| o.id.clone()) {
                        chain.push(ou_id);
                    }
                    match path.parent() {
                        Some(p) => path = p,
                        None => break,
                    }
                }
                if let Some(root) = &c.working.root_id {
                    chain.push(root.clone());
                }
                let policy = chain.iter().find_map(|t| have.associations.get(t));
                let on = policy.is_some_and(|pid| have.policies.values().any(|p| &p.id == pid && p.service_enabled));
                if on && !failed.contains(id) {
                    enabled += 1;
                }
            }
        }
        let linked = have
            .aggregator
            .as_ref()
            .map(|(_, region, linked)| {
                regions
                    .iter()
                    .filter(|r| *r == region || linked.contains(*r))
                    .count()
            })
            .unwrap_or(0);
        let _ = &hub.aggregation_region;
        lines.push((
            "security_hub".into(),
            enabled * linked,
            format!("{enabled}/{total_accounts} accounts under a policy that enables Security Hub, in {linked} linked region(s)"),
        ));
    }
    if let Some(cfg) = &c.want.config {
        let scope = scoping(c.desired, &cfg.production, &c.working);
        let mut covered = 0;
        let mut parts = Vec::new();
        for r in &regions {
            let have = c.have.config_rules.get(r);
            let mut n = 0;
            for name in &accounts {
                let id = c.working.accounts.get(name).and_then(|a| a.id.clone()).unwrap_or_default();
                let production = scope.production.contains(name);
                let ok = cfg.rules.iter().all(|(rule_name, rule)| {
                    if rule.scope == RuleScope::Production && !production {
                        return true;
                    }
                    have.and_then(|h| h.get(rule_name)).is_some_and(|h| !h.excluded.contains(&id))
                });
                if ok {
                    n += 1;
                }
            }
            covered += n;
            parts.push(format!("{r} {n}/{total_accounts}"));
        }
        lines.push((
            "config".into(),
            covered,
            format!("{} (an account counts where every rule meant for it runs); {} production account(s)", parts.join(", "), scope.production.len()),
        ));
    }
    if let Some(trail) = &c.want.cloudtrail {
        let name = match trail {
            CloudTrailDesired::ControlTower => CONTROL_TOWER_TRAIL.to_string(),
            CloudTrailDesired::Create { name, .. } => name.clone(),
        };
        let on = c
            .have
            .trails
            .iter()
            .any(|t| t.name == name && t.logging && t.multi_region && t.organization);
        lines.push((
            "cloudtrail".into(),
            if on { total } else { 0 },
            format!("organization trail {name} {}", if on { "logging in every region" } else { "not logging" }),
        ));
    }
    for (service, covered, detail) in lines {
        c.notice(
            Address::new("detective-coverage", &service),
            format!("coverage {covered}/{total} account-regions: {detail}"),
            false,
        );
    }
}
