//! One handler per operation: the Organizations calls that carry it out,
//! each recorded in the audit log. Handlers are idempotent where AWS lets
//! them be, so an interrupted apply converges when run again.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::operation::RequestId;
use aws_sdk_organizations::types::{CreateAccountState, PolicyType, Tag};

use super::audit::AuditLog;
use super::ids::IdRegistry;
use super::ApplyError;
use crate::aws::Clients;
use crate::model::{Tags, MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use crate::plan::Operation;

/// Error codes that mean the change is already in place.
const ALREADY_DONE: &[&str] = &[
    "DuplicatePolicyAttachmentException",
    "PolicyNotAttachedException",
    "PolicyTypeAlreadyEnabledException",
];

/// What a handler needs.
pub struct StepContext<'a> {
    /// Clients.
    pub clients: &'a Clients,
    /// Ids, shared by concurrent steps.
    pub ids: &'a Mutex<IdRegistry>,
    /// Audit log.
    pub audit: &'a AuditLog,
    /// Address of the change.
    pub address: &'a str,
    /// Longest wait for CreateAccount.
    pub create_account_timeout: Duration,
}

impl StepContext<'_> {
    /// Audits a call's outcome and turns an SDK error into an apply error,
    /// unless its code says the change is already in place.
    fn audited<T: RequestId, E>(
        &self,
        operation: &'static str,
        result: Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>,
    ) -> Result<Option<T>, ApplyError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match result {
            Ok(out) => {
                self.audit
                    .record(self.address, operation, out.request_id(), "ok")
                    .map_err(ApplyError::Audit)?;
                Ok(Some(out))
            }
            Err(err) => {
                let code = err.code().map(str::to_string);
                let request_id = err.request_id().map(str::to_string);
                let message =
                    aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
                let already = code.as_deref().is_some_and(|c| ALREADY_DONE.contains(&c));
                let result = if already {
                    format!("ok (already done: {})", code.unwrap_or_default())
                } else {
                    message.clone()
                };
                self.audit
                    .record(self.address, operation, request_id.as_deref(), &result)
                    .map_err(ApplyError::Audit)?;
                if already {
                    Ok(None)
                } else {
                    Err(ApplyError::Step {
                        address: self.address.to_string(),
                        operation,
                        message,
                    })
                }
            }
        }
    }

    async fn pace(&self, operation: &str) {
        self.clients.pacer.wait(operation).await;
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, IdRegistry> {
        self.ids.lock().expect("id registry lock")
    }
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value set")
        })
        .collect()
}

/// Carries out one operation.
pub async fn execute(ctx: &StepContext<'_>, op: &Operation) -> Result<(), ApplyError> {
    refuse_foreign_objects(ctx, op)?;
    let org = &ctx.clients.organizations;
    match op {
        Operation::EnablePolicyType { kind } => {
            let root = ctx.ids().root().to_string();
            ctx.audited(
                "organizations:EnablePolicyType",
                org.enable_policy_type()
                    .root_id(&root)
                    .policy_type(PolicyType::from(kind.api_name()))
                    .send()
                    .await,
            )?;
            wait_until_enabled(ctx, &root, kind.api_name()).await?;
        }
        Operation::CreateOu { path, tags } => {
            let parent = ctx.ids().ou(&path.parent().unwrap_or_default())?;
            let out = ctx.audited(
                "organizations:CreateOrganizationalUnit",
                org.create_organizational_unit()
                    .parent_id(parent)
                    .name(path.name())
                    .set_tags(Some(sdk_tags(tags)))
                    .send()
                    .await,
            )?;
            if let Some(id) = out.and_then(|o| {
                o.organizational_unit()
                    .and_then(|u| u.id().map(str::to_string))
            }) {
                ctx.ids().add_ou(path.clone(), id);
            }
        }
        Operation::RenameOu { from, to } => {
            let id = ctx.ids().ou(from)?;
            ctx.audited(
                "organizations:UpdateOrganizationalUnit",
                org.update_organizational_unit()
                    .organizational_unit_id(id)
                    .name(to.name())
                    .send()
                    .await,
            )?;
            ctx.ids().rename_ou(from, to);
        }
        Operation::DeleteOu { path } => {
            let id = ctx.ids().ou(path)?;
            ctx.audited(
                "organizations:DeleteOrganizationalUnit",
                org.delete_organizational_unit()
                    .organizational_unit_id(id)
                    .send()
                    .await,
            )?;
            ctx.ids().remove_ou(path);
        }
        Operation::CreateAccount {
            name,
            email,
            ou,
            tags,
        } => {
            create_account(ctx, name, email, ou, tags).await?;
        }
        Operation::MoveAccount { name, from, to } => {
            let (id, source, dest) = {
                let ids = ctx.ids();
                (ids.account(name)?, ids.ou(from)?, ids.ou(to)?)
            };
            ctx.audited(
                "organizations:MoveAccount",
                org.move_account()
                    .account_id(id)
                    .source_parent_id(source)
                    .destination_parent_id(dest)
                    .send()
                    .await,
            )?;
        }
        Operation::CreatePolicy {
            name,
            kind,
            description,
            content,
        } => {
            ctx.pace("CreatePolicy").await;
            let tags = sdk_tags(&Tags::from([(
                MANAGED_TAG_KEY.to_string(),
                MANAGED_TAG_VALUE.to_string(),
            )]));
            let out = ctx.audited(
                "organizations:CreatePolicy",
                org.create_policy()
                    .name(name)
                    .r#type(PolicyType::from(kind.api_name()))
                    .description(description)
                    .content(content)
                    .set_tags(Some(tags))
                    .send()
                    .await,
            )?;
            if let Some(id) = out.and_then(|o| {
                o.policy()
                    .and_then(|p| p.policy_summary())
                    .and_then(|s| s.id().map(str::to_string))
            }) {
                ctx.ids().add_policy(name.clone(), id);
            }
        }
        Operation::UpdatePolicy {
            name,
            description,
            content,
            ..
        } => {
            ctx.pace("UpdatePolicy").await;
            let id = ctx.ids().policy(name)?;
            ctx.audited(
                "organizations:UpdatePolicy",
                org.update_policy()
                    .policy_id(id)
                    .description(description)
                    .content(content)
                    .send()
                    .await,
            )?;
        }
        Operation::DeletePolicy { name, .. } => {
            ctx.pace("DeletePolicy").await;
            let id = ctx.ids().policy(name)?;
            ctx.audited(
                "organizations:DeletePolicy",
                org.delete_policy().policy_id(id).send().await,
            )?;
        }
        Operation::AttachPolicy { policy, target, .. } => {
            ctx.pace("AttachPolicy").await;
            let (policy_id, target_id) = {
                let ids = ctx.ids();
                (ids.policy(policy)?, ids.target(target)?)
            };
            ctx.audited(
                "organizations:AttachPolicy",
                org.attach_policy()
                    .policy_id(policy_id)
                    .target_id(target_id)
                    .send()
                    .await,
            )?;
        }
        Operation::DetachPolicy { policy, target, .. } => {
            ctx.pace("DetachPolicy").await;
            let (policy_id, target_id) = {
                let ids = ctx.ids();
                (ids.policy(policy)?, ids.target(target)?)
            };
            ctx.audited(
                "organizations:DetachPolicy",
                org.detach_policy()
                    .policy_id(policy_id)
                    .target_id(target_id)
                    .send()
                    .await,
            )?;
        }
        Operation::SetTags { target, set } => {
            let id = ctx.ids().target(target)?;
            ctx.audited(
                "organizations:TagResource",
                org.tag_resource()
                    .resource_id(id)
                    .set_tags(Some(sdk_tags(set)))
                    .send()
                    .await,
            )?;
        }
    }
    Ok(())
}

/// The last line of defence of "never touch Control Tower's or AWS's own
/// policies": whatever a plan says, no change to them is sent.
fn refuse_foreign_objects(ctx: &StepContext<'_>, op: &Operation) -> Result<(), ApplyError> {
    let name = match op {
        Operation::CreatePolicy { name, .. }
        | Operation::UpdatePolicy { name, .. }
        | Operation::DeletePolicy { name, .. } => name,
        Operation::AttachPolicy { policy, .. } | Operation::DetachPolicy { policy, .. } => policy,
        _ => return Ok(()),
    };
    if crate::model::is_control_tower_policy(name)
        || name == "FullAWSAccess"
        || name == "RCPFullAWSAccess"
    {
        return Err(ApplyError::Step {
            address: ctx.address.into(),
            operation: "refused",
            message: format!("{name} belongs to Control Tower or AWS; lzctl does not change it"),
        });
    }
    Ok(())
}

/// EnablePolicyType returns while the type is still PENDING_ENABLE; attaching
/// before it is ENABLED fails, so wait for the root to say so.
async fn wait_until_enabled(
    ctx: &StepContext<'_>,
    root: &str,
    api_name: &str,
) -> Result<(), ApplyError> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let roots = ctx
            .clients
            .organizations
            .list_roots()
            .send()
            .await
            .map_err(|e| ApplyError::Step {
                address: ctx.address.into(),
                operation: "organizations:ListRoots",
                message: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
            })?;
        let enabled = roots
            .roots()
            .iter()
            .filter(|r| r.id() == Some(root))
            .flat_map(|r| r.policy_types())
            .any(|t| {
                t.r#type().map(|ty| ty.as_str()) == Some(api_name)
                    && t.status() == Some(&aws_sdk_organizations::types::PolicyTypeStatus::Enabled)
            });
        if enabled {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(ApplyError::Step {
                address: ctx.address.into(),
                operation: "organizations:EnablePolicyType",
                message: format!("{api_name} is still not ENABLED on the root after 120 s"),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// CreateAccount, wait for it, then move the new account from the root into its OU.
async fn create_account(
    ctx: &StepContext<'_>,
    name: &str,
    email: &str,
    ou: &crate::model::OuPath,
    tags: &Tags,
) -> Result<(), ApplyError> {
    let org = &ctx.clients.organizations;
    let out = ctx
        .audited(
            "organizations:CreateAccount",
            org.create_account()
                .account_name(name)
                .email(email)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await,
        )?
        .ok_or_else(|| ApplyError::Step {
            address: ctx.address.into(),
            operation: "organizations:CreateAccount",
            message: "no status returned".into(),
        })?;
    let request_id = out
        .create_account_status()
        .and_then(|s| s.id())
        .unwrap_or_default()
        .to_string();
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    let account_id = loop {
        let status = org
            .describe_create_account_status()
            .create_account_request_id(&request_id)
            .send()
            .await
            .map_err(|e| ApplyError::Step {
                address: ctx.address.into(),
                operation: "organizations:DescribeCreateAccountStatus",
                message: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
            })?;
        let status = status.create_account_status().cloned().unwrap_or_else(|| {
            aws_sdk_organizations::types::CreateAccountStatus::builder().build()
        });
        match status.state() {
            Some(CreateAccountState::Succeeded) => {
                break status.account_id().unwrap_or_default().to_string()
            }
            Some(CreateAccountState::Failed) => {
                return Err(ApplyError::Step {
                    address: ctx.address.into(),
                    operation: "organizations:CreateAccount",
                    message: format!(
                        "account creation failed: {}",
                        status
                            .failure_reason()
                            .map(|r| r.as_str())
                            .unwrap_or("unknown reason")
                    ),
                })
            }
            _ if started.elapsed() > ctx.create_account_timeout => {
                return Err(ApplyError::Step {
                    address: ctx.address.into(),
                    operation: "organizations:CreateAccount",
                    message: "still in progress; run apply again later to finish".into(),
                })
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    };
    ctx.ids().add_account(name.to_string(), account_id.clone());
    if !ou.is_root() {
        let (root, dest) = {
            let ids = ctx.ids();
            (ids.root().to_string(), ids.ou(ou)?)
        };
        ctx.audited(
            "organizations:MoveAccount",
            org.move_account()
                .account_id(account_id)
                .source_parent_id(root)
                .destination_parent_id(dest)
                .send()
                .await,
        )?;
    }
    Ok(())
}
