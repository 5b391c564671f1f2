//! One handler per Organizations operation: the calls that carry it out,
//! each recorded in the audit log. Handlers are idempotent where AWS lets
//! them be, so an interrupted apply converges when run again.

use aws_sdk_organizations::types::{CreateAccountState, PolicyType, PolicyTypeStatus, Tag};

use super::Operation;
use crate::apply::{StepContext, StepError};
use crate::aws::waiter::Poll;
use crate::model::{OuPath, Tags, PATH_TAG_KEY};

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
pub async fn execute(ctx: &StepContext<'_>, op: &Operation) -> Result<(), StepError> {
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
        Operation::RenameOu { from, to, managed } => {
            let id = ctx.ids().ou(from)?;
            ctx.audited(
                "organizations:UpdateOrganizationalUnit",
                org.update_organizational_unit()
                    .organizational_unit_id(&id)
                    .name(to.name())
                    .send()
                    .await,
            )?;
            ctx.ids().rename_ou(from, to);
            if *managed {
                let tags = Tags::from([(PATH_TAG_KEY.to_string(), to.to_string())]);
                ctx.audited(
                    "organizations:TagResource",
                    org.tag_resource()
                        .resource_id(id)
                        .set_tags(Some(sdk_tags(&tags)))
                        .send()
                        .await,
                )?;
            }
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
            ..
        } => {
            create_account(ctx, name, email, ou, tags).await?;
        }
        Operation::MoveAccount { name, from, to, .. } => {
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
        Operation::RenameAccount { name, id, .. } => {
            ctx.audited(
                "account:PutAccountName",
                ctx.clients
                    .account
                    .put_account_name()
                    .account_id(id)
                    .account_name(name)
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
            let tags = sdk_tags(&Tags::from([(
                crate::model::MANAGED_TAG_KEY.to_string(),
                crate::model::MANAGED_TAG_VALUE.to_string(),
            )]));
            let out = ctx.audited(
                "organizations:CreatePolicy",
                ctx.clients.organizations_policies.create_policy()
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
            let id = ctx.ids().policy(name)?;
            ctx.audited(
                "organizations:UpdatePolicy",
                ctx.clients.organizations_policies.update_policy()
                    .policy_id(id)
                    .description(description)
                    .content(content)
                    .send()
                    .await,
            )?;
        }
        Operation::AdoptPolicy { name, .. } => {
            let id = ctx.ids().policy(name)?;
            let tags = sdk_tags(&Tags::from([(
                crate::model::MANAGED_TAG_KEY.to_string(),
                crate::model::MANAGED_TAG_VALUE.to_string(),
            )]));
            ctx.audited(
                "organizations:TagResource",
                ctx.clients.organizations_policies.tag_resource()
                    .resource_id(id)
                    .set_tags(Some(tags))
                    .send()
                    .await,
            )?;
        }
        Operation::DeletePolicy { name, .. } => delete_policy(ctx, name).await?,
        Operation::ReplacePolicy {
            name,
            staged,
            delete,
            ..
        } => {
            let staged_id = ctx.ids().policy(staged)?;
            if *delete {
                delete_policy(ctx, name).await?;
            }
            ctx.audited(
                "organizations:UpdatePolicy",
                ctx.clients.organizations_policies.update_policy()
                    .policy_id(&staged_id)
                    .name(name)
                    .send()
                    .await,
            )?;
            ctx.ids().add_policy(name.clone(), staged_id);
        }
        Operation::AttachPolicy { policy, target, .. } => {
            let (policy_id, target_id) = {
                let ids = ctx.ids();
                (ids.policy(policy)?, ids.target(target)?)
            };
            ctx.audited(
                "organizations:AttachPolicy",
                ctx.clients.organizations_policies.attach_policy()
                    .policy_id(policy_id)
                    .target_id(target_id)
                    .send()
                    .await,
            )?;
        }
        Operation::DetachPolicy { policy, target, .. } => {
            let (policy_id, target_id) = {
                let ids = ctx.ids();
                (ids.policy(policy)?, ids.target(target)?)
            };
            ctx.audited(
                "organizations:DetachPolicy",
                ctx.clients.organizations_policies.detach_policy()
                    .policy_id(policy_id)
                    .target_id(target_id)
                    .send()
                    .await,
            )?;
        }
        Operation::RolloutWave(wave) => crate::rollout::apply::run_wave(ctx, wave).await?,
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

/// EnablePolicyType returns while the type is still PENDING_ENABLE; attaching
/// before it is ENABLED fails, so wait for the root to say so.
/// Deletes a policy (detached everywhere by then).
async fn delete_policy(ctx: &StepContext<'_>, name: &str) -> Result<(), StepError> {
    let id = ctx.ids().policy(name)?;
    ctx.audited(
        "organizations:DeletePolicy",
        ctx.clients.organizations_policies.delete_policy().policy_id(id).send().await,
    )?;
    Ok(())
}

async fn wait_until_enabled(
    ctx: &StepContext<'_>,
    root: &str,
    api_name: &str,
) -> Result<(), StepError> {
    ctx.wait(&format!("{api_name} on the root"), || async {
        let roots = ctx.read(
            "organizations:ListRoots",
            ctx.clients.organizations.list_roots().send().await,
        )?;
        let enabled = roots
            .roots()
            .iter()
            .filter(|r| r.id() == Some(root))
            .flat_map(|r| r.policy_types())
            .any(|t| {
                t.r#type().map(|ty| ty.as_str()) == Some(api_name)
                    && t.status() == Some(&PolicyTypeStatus::Enabled)
            });
        Ok(if enabled {
            Poll::Done(())
        } else {
            Poll::Pending("PENDING_ENABLE".into())
        })
    })
    .await
}

/// CreateAccount, wait for it, then move the new account from the root into its OU.
async fn create_account(
    ctx: &StepContext<'_>,
    name: &str,
    email: &str,
    ou: &OuPath,
    tags: &Tags,
) -> Result<(), StepError> {
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
        .ok_or_else(|| StepError::Failed("CreateAccount returned no status".into()))?;
    let request_id = out
        .create_account_status()
        .and_then(|s| s.id())
        .unwrap_or_default()
        .to_string();
    let account_id = ctx
        .wait(&format!("creation of account {name}"), || async {
            let status = ctx.read(
                "organizations:DescribeCreateAccountStatus",
                org.describe_create_account_status()
                    .create_account_request_id(&request_id)
                    .send()
                    .await,
            )?;
            let Some(status) = status.create_account_status() else {
                return Ok(Poll::Pending("no status yet".into()));
            };
            match status.state() {
                Some(CreateAccountState::Succeeded) => Ok(Poll::Done(Ok(status
                    .account_id()
                    .unwrap_or_default()
                    .to_string()))),
                Some(CreateAccountState::Failed) => Ok(Poll::Done(Err(status
                    .failure_reason()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_else(|| "unknown reason".into())))),
                _ => Ok(Poll::Pending("IN_PROGRESS".into())),
            }
        })
        .await?;
    let account_id = match account_id {
        Ok(id) => id,
        // An earlier attempt of this very request may have created it (its
        // answer lost on the way, the SDK retried): adopt that account.
        Err(reason) if reason == "EMAIL_ALREADY_EXISTS" => created_earlier(ctx, name)
            .await?
            .ok_or_else(|| {
                StepError::Failed(format!(
                    "account creation failed: EMAIL_ALREADY_EXISTS: {email} belongs to an account lzctl did not just create; if it is in this organization, add its `id` to the file"
                ))
            })?,
        Err(reason) => {
            return Err(StepError::Failed(format!(
                "account creation failed: {reason}"
            )))
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

/// The account a recent, successful CreateAccount of `name` made, if any.
async fn created_earlier(ctx: &StepContext<'_>, name: &str) -> Result<Option<String>, StepError> {
    let pages: Vec<_> = ctx.read(
        "organizations:ListCreateAccountStatus",
        ctx.clients
            .organizations
            .list_create_account_status()
            .states(CreateAccountState::Succeeded)
            .into_paginator()
            .send()
            .try_collect()
            .await,
    )?;
    Ok(pages
        .iter()
        .flat_map(|p| p.create_account_statuses())
        .filter(|s| s.account_name() == Some(name))
        .filter_map(|s| s.account_id().map(str::to_string))
        .next())
}
