//! AWS ids of the objects a plan names, from observation and from what apply creates.

use std::collections::HashMap;

use crate::model::{OrgState, OuPath, Target};

/// Path/name → id lookups, updated as changes create and rename things.
#[derive(Debug, Clone, Default)]
pub struct IdRegistry {
    organization: String,
    management_account: String,
    root: String,
    ous: HashMap<OuPath, String>,
    accounts: HashMap<String, String>,
    policies: HashMap<String, String>,
    created: Vec<(String, String)>,
}

/// A name the plan uses that has no id.
#[derive(Debug, thiserror::Error)]
#[error("no id known for {0}; was the plan made against this organization?")]
pub struct UnknownId(pub String);

impl IdRegistry {
    /// From an observed state.
    pub fn from_state(state: &OrgState) -> IdRegistry {
        IdRegistry {
            organization: state.organization_id.clone().unwrap_or_default(),
            management_account: state.management_account_id.clone().unwrap_or_default(),
            root: state.root_id.clone().unwrap_or_default(),
            ous: state
                .ous
                .iter()
                .filter_map(|(p, o)| o.id.clone().map(|id| (p.clone(), id)))
                .collect(),
            accounts: state
                .accounts
                .iter()
                .filter_map(|(n, a)| a.id.clone().map(|id| (n.clone(), id)))
                .collect(),
            policies: state
                .policies
                .iter()
                .filter_map(|(n, p)| p.id.clone().map(|id| (n.clone(), id)))
                .collect(),
            created: Vec::new(),
        }
    }

    /// The root id.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The organization id (`o-...`).
    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// ARN of an OU (or of the root), as Control Tower names targets.
    pub fn ou_arn(&self, path: &OuPath) -> Result<String, UnknownId> {
        let id = self.ou(path)?;
        let kind = if path.is_root() { "root" } else { "ou" };
        Ok(format!(
            "arn:aws:organizations::{}:{kind}/{}/{id}",
            self.management_account, self.organization
        ))
    }

    /// ARN of an account, as Control Tower names enrolled accounts.
    pub fn account_arn(&self, name: &str) -> Result<String, UnknownId> {
        let id = self.account(name)?;
        Ok(format!(
            "arn:aws:organizations::{}:account/{}/{id}",
            self.management_account, self.organization
        ))
    }

    /// Id of an OU (the root for the empty path).
    pub fn ou(&self, path: &OuPath) -> Result<String, UnknownId> {
        if path.is_root() {
            return Ok(self.root.clone());
        }
        self.ous
            .get(path)
            .cloned()
            .ok_or_else(|| UnknownId(format!("OU {path}")))
    }

    /// Id of an account.
    pub fn account(&self, name: &str) -> Result<String, UnknownId> {
        self.accounts
            .get(name)
            .cloned()
            .ok_or_else(|| UnknownId(format!("account {name}")))
    }

    /// The name of an account, by id (for messages).
    pub fn account_name(&self, id: &str) -> Option<String> {
        self.accounts
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(n, _)| n.clone())
    }

    /// Id of a policy.
    pub fn policy(&self, name: &str) -> Result<String, UnknownId> {
        self.policies
            .get(name)
            .cloned()
            .ok_or_else(|| UnknownId(format!("policy {name}")))
    }

    /// Id of a target.
    pub fn target(&self, target: &Target) -> Result<String, UnknownId> {
        match target {
            Target::Root => Ok(self.root.clone()),
            Target::Ou(p) => self.ou(p),
            Target::Account(n) => self.account(n),
        }
    }

    /// Records a created OU.
    pub fn add_ou(&mut self, path: OuPath, id: String) {
        self.created.push((format!("OU {path}"), id.clone()));
        self.ous.insert(path, id);
    }

    /// What apply created, with the new ids, in order.
    pub fn created(&self) -> Vec<(String, String)> {
        self.created.clone()
    }

    /// Records a renamed OU and everything below it.
    pub fn rename_ou(&mut self, from: &OuPath, to: &OuPath) {
        let moved: Vec<(OuPath, String)> = self
            .ous
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, id)| (p.clone(), id.clone()))
            .collect();
        for (p, id) in moved {
            self.ous.remove(&p);
            self.ous.insert(p.rebase(from, to), id);
        }
    }

    /// Forgets a deleted OU.
    pub fn remove_ou(&mut self, path: &OuPath) {
        self.ous.remove(path);
    }

    /// Records a created account.
    pub fn add_account(&mut self, name: String, id: String) {
        self.created.push((format!("account {name}"), id.clone()));
        self.accounts.insert(name, id);
    }

    /// Records a created policy.
    pub fn add_policy(&mut self, name: String, id: String) {
        self.created.push((format!("policy {name}"), id.clone()));
        self.policies.insert(name, id);
    }
}
