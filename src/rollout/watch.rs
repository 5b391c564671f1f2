//! Watching a wave: the organization trail's log files of the wave's
//! accounts, written since the wave started, read with the replay parser,
//! and the calls among them that an SCP denied.
//!
//! CloudTrail delivers gzip files of `{"Records":[...]}` under
//! `[PREFIX/]AWSLogs/o-ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`. A record
//! counts as a denial caused by an SCP when its `errorCode` is an
//! authorization failure and its `errorMessage` names a service control
//! policy (IAM writes "... with an explicit deny in a service control
//! policy" or "... because no service control policy allows ..."), its
//! `eventTime` is at or after the wave's start, and, when the message names
//! the denying policy's ARN, that policy is the one rolled out (a denial by
//! another SCP is counted apart and does not halt the rollout).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use chrono::{DateTime, Datelike, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::TrailLocation;
use crate::aws::AwsError;
use crate::policy::replay::event::{epoch_seconds, is_denial_error, map_action, Record};
use crate::policy::replay::source::RecordSplitter;

/// What IAM writes in the message of a denial by an SCP.
pub const SCP_MESSAGE: &str = "service control policy";

/// One denied call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The caller's account id.
    pub account: String,
    /// IAM action (`ec2:RunInstances`).
    pub action: String,
    /// The caller (role ARN for role sessions).
    pub principal: String,
    /// Region.
    pub region: String,
    /// `eventTime`.
    pub time: String,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WatchReport {
    /// Log files read.
    pub files: usize,
    /// Records read.
    pub records: usize,
    /// Denials by an SCP: this policy's, or one the message does not name.
    pub denials: Vec<Denial>,
    /// Denials whose message names another SCP.
    pub other_policies: usize,
}

impl WatchReport {
    /// Denials grouped by (action, account, principal), most frequent first.
    pub fn grouped(&self) -> Vec<((String, String, String), usize)> {
        let mut groups: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for d in &self.denials {
            *groups
                .entry((d.action.clone(), d.account.clone(), d.principal.clone()))
                .or_default() += 1;
        }
        let mut out: Vec<_> = groups.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// The policy id a denial message names (`.../service_control_policy/p-xxxx`), if any.
fn named_policy(message: &str) -> Option<&str> {
    let at = message.find("service_control_policy/")? + "service_control_policy/".len();
    let rest = &message[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|id| id.starts_with("p-"))
}

/// The denials by an SCP in one log file's (decompressed or gzip) bytes, for
/// calls at or after `since` (epoch seconds). `policy_id`: the policy rolled
/// out (`p-...`), when known.
pub fn denials_in(
    bytes: &[u8],
    since: i64,
    policy_id: Option<&str>,
    report: &mut WatchReport,
) -> std::io::Result<()> {
    let mut reader: Box<dyn Read> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let mut action = String::new();
    let mut splitter = RecordSplitter::new();
    splitter.split(&mut reader, |raw| {
        report.records += 1;
        let Ok(rec) = Record::parse(raw) else { return };
        let (Some(code), Some(message)) = (rec.error_code.as_deref(), rec.error_message.as_deref())
        else {
            return;
        };
        if !is_denial_error(code) || !message.to_ascii_lowercase().contains(SCP_MESSAGE) {
            return;
        }
        let time = rec.event_time.as_deref().unwrap_or_default();
        if epoch_seconds(time).is_none_or(|t| t < since) {
            return;
        }
        if let (Some(named), Some(ours)) = (named_policy(message), policy_id) {
            if named != ours {
                report.other_policies += 1;
                return;
            }
        }
        map_action(
            rec.event_source.as_deref().unwrap_or_default(),
            rec.event_name.as_deref().unwrap_or_default(),
            &mut action,
        );
        let identity = rec.user_identity.as_ref();
        let principal = identity
            .and_then(|u| {
                u.session_context
                    .as_ref()
                    .and_then(|c| c.session_issuer.as_ref())
                    .and_then(|i| i.arn.as_deref())
                    .or(u.arn.as_deref())
            })
            .unwrap_or("unknown")
            .to_string();
        report.denials.push(Denial {
            account: identity
                .and_then(|u| u.account_id.as_deref())
                .unwrap_or_default()
                .to_string(),
            action: action.clone(),
            principal,
            region: rec.aws_region.as_deref().unwrap_or_default().to_string(),
            time: time.to_string(),
        });
    })?;
    Ok(())
}

/// What to read.
pub struct WatchRequest<'a> {
    /// The trail's bucket.
    pub trail: &'a TrailLocation,
    /// The organization id (`o-...`).
    pub organization_id: &'a str,
    /// Account ids of the wave.
    pub accounts: &'a [String],
    /// Regions whose logs are read at least (the governed ones); every
    /// other region the trail holds files of for an account is read too,
    /// since a region-restriction SCP's denials are logged in the regions
    /// it denies.
    pub regions: &'a [String],
    /// When the wave started.
    pub since: DateTime<Utc>,
    /// Now.
    pub until: DateTime<Utc>,
    /// The policy rolled out.
    pub policy_id: Option<&'a str>,
    /// Parallel S3 requests.
    pub concurrency: usize,
}

/// The key prefix under which the trail files an account's regions.
fn account_prefix(req: &WatchRequest<'_>, account: &str) -> String {
    format!(
        "{}AWSLogs/{}/{account}/CloudTrail/",
        req.trail.prefix, req.organization_id
    )
}

/// The key prefixes of the days from `since` to `until` (UTC), per account
/// and region (`regions`: each account's regions).
pub fn prefixes(
    req: &WatchRequest<'_>,
    regions: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut days = Vec::new();
    let mut day = req.since.date_naive();
    while day <= req.until.date_naive() {
        days.push(day);
        day = day.succ_opt().expect("a next day");
    }
    let mut out = Vec::new();
    for account in req.accounts {
        for region in regions.get(account).into_iter().flatten() {
            for d in &days {
                out.push(format!(
                    "{}{region}/{:04}/{:02}/{:02}/",
                    account_prefix(req, account),
                    d.year(),
                    d.month(),
                    d.day()
                ));
            }
        }
    }
    out
}

/// Each account's regions: the governed ones and every region the trail
/// holds a folder of for it (one delimited listing per account).
async fn regions_of(
    s3: &aws_sdk_s3::Client,
    req: &WatchRequest<'_>,
) -> Result<BTreeMap<String, BTreeSet<String>>, AwsError> {
    let bucket = &req.trail.bucket;
    futures::stream::iter(req.accounts.iter().cloned().map(|account| async move {
        let prefix = account_prefix(req, &account);
        let pages: Vec<_> = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .delimiter("/")
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("s3:ListObjectsV2", &e))?;
        let mut regions: BTreeSet<String> = req.regions.iter().cloned().collect();
        regions.extend(
            pages
                .iter()
                .flat_map(|p| p.common_prefixes())
                .filter_map(|c| c.prefix())
                .filter_map(|c| c.strip_prefix(prefix.as_str()))
                .map(|r| r.trim_end_matches('/').to_string())
                .filter(|r| !r.is_empty()),
        );
        Ok::<_, AwsError>((account, regions))
    }))
    .buffer_unordered(req.concurrency.max(1))
    .try_collect()
    .await
}

/// Reads the wave's log files written since it started and collects the SCP denials.
pub async fn scan(
    s3: &aws_sdk_s3::Client,
    req: &WatchRequest<'_>,
) -> Result<WatchReport, AwsError> {
    let since = req.since.timestamp();
    let bucket = &req.trail.bucket;
    let regions = regions_of(s3, req).await?;
    let listed: Vec<Vec<String>> = futures::stream::iter(prefixes(req, &regions).into_iter().map(
        |prefix| async move {
            let pages: Vec<_> = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| AwsError::from_sdk("s3:ListObjectsV2", &e))?;
            Ok::<_, AwsError>(
                pages
                    .iter()
                    .flat_map(|p| p.contents())
                    // A file written before the wave started holds only older calls.
                    .filter(|o| o.last_modified().is_none_or(|t| t.secs() >= since))
                    .filter_map(|o| o.key().map(str::to_string))
                    .collect(),
            )
        },
    ))
    .buffer_unordered(req.concurrency.max(1))
    .try_collect()
    .await?;
    let keys: Vec<String> = listed.into_iter().flatten().collect();
    let bodies: Vec<Vec<u8>> = futures::stream::iter(keys.into_iter().map(|key| async move {
        let key = key.as_str();
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:GetObject", &e))?;
        let bytes = out.body.collect().await.map_err(|e| {
            AwsError::unread_body("s3:GetObject", &format!("s3://{bucket}/{key}"), e)
        })?;
        Ok::<_, AwsError>(bytes.into_bytes().to_vec())
    }))
    .buffer_unordered(req.concurrency.max(1))
    .try_collect()
    .await?;
    let mut report = WatchReport {
        files: bodies.len(),
        ..WatchReport::default()
    };
    for body in &bodies {
        if let Err(e) = denials_in(body, since, req.policy_id, &mut report) {
            eprintln!("warning: a CloudTrail file of the wave could not be read to its end: {e}");
        }
    }
    report.denials.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(code: &str, message: &str, time: &str) -> serde_json::Value {
        serde_json::json!({
            "eventVersion": "1.10",
            "eventTime": time,
            "eventSource": "ec2.amazonaws.com",
            "eventName": "RunInstances",
            "awsRegion": "us-west-2",
            "errorCode": code,
            "errorMessage": message,
            "userIdentity": {
                "type": "AssumedRole",
                "accountId": "222222222222",
                "arn": "arn:aws:sts::222222222222:assumed-role/app/session",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::222222222222:role/app"}}
            }
        })
    }

    fn gz(records: &[serde_json::Value]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(
            serde_json::json!({"Records": records})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        e.finish().unwrap()
    }

    const SCP: &str = "User: arn:aws:sts::222222222222:assumed-role/app/session is not authorized to perform: ec2:RunInstances with an explicit deny in a service control policy";

    #[test]
    fn counts_scp_denials_since_the_wave_started_and_nothing_else() {
        let since = epoch_seconds("2026-11-28T06:00:00Z").unwrap();
        let file = gz(&[
            record("Client.UnauthorizedOperation", SCP, "2026-11-28T06:01:00Z"),
            // before the wave: the baseline, not new
            record("Client.UnauthorizedOperation", SCP, "2026-11-28T05:59:59Z"),
            // denied by an IAM policy, not an SCP
            record("AccessDenied", "User: x is not authorized to perform: s3:GetObject because no identity-based policy allows the s3:GetObject action", "2026-11-28T06:02:00Z"),
            // another failure
            record("InvalidParameterValue", "bad AMI", "2026-11-28T06:03:00Z"),
        ]);
        let mut report = WatchReport::default();
        denials_in(&file, since, None, &mut report).unwrap();
        assert_eq!(report.records, 4);
        assert_eq!(report.denials.len(), 1, "{report:?}");
        let d = &report.denials[0];
        assert_eq!(d.action, "ec2:RunInstances");
        assert_eq!(d.principal, "arn:aws:iam::222222222222:role/app");
        assert_eq!(d.account, "222222222222");
    }

    #[test]
    fn a_denial_naming_another_policy_is_counted_apart() {
        let since = 0;
        let named = |id: &str| {
            format!("{SCP}: arn:aws:organizations::111111111111:policy/o-abc/service_control_policy/{id}")
        };
        let file = gz(&[
            record("AccessDenied", &named("p-ours1234"), "2026-11-28T06:01:00Z"),
            record("AccessDenied", &named("p-other999"), "2026-11-28T06:01:00Z"),
        ]);
        let mut report = WatchReport::default();
        denials_in(&file, since, Some("p-ours1234"), &mut report).unwrap();
        assert_eq!((report.denials.len(), report.other_policies), (1, 1));
    }

    #[test]
    fn prefixes_cover_every_day_account_and_region() {
        let trail = TrailLocation {
            bucket: "logs".into(),
            prefix: "ct/".into(),
        };
        let accounts = vec!["222222222222".to_string()];
        let regions = vec!["ap-northeast-1".to_string(), "us-east-1".to_string()];
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let req = WatchRequest {
            trail: &trail,
            organization_id: "o-abc",
            accounts: &accounts,
            regions: &regions,
            since: t("2026-11-28T23:50:00Z"),
            until: t("2026-11-29T00:10:00Z"),
            policy_id: None,
            concurrency: 1,
        };
        let by_account = BTreeMap::from([(
            "222222222222".to_string(),
            regions.iter().cloned().collect::<BTreeSet<_>>(),
        )]);
        let p = prefixes(&req, &by_account);
        assert_eq!(p.len(), 4);
        assert!(p.contains(
            &"ct/AWSLogs/o-abc/222222222222/CloudTrail/us-east-1/2026/11/29/".to_string()
        ));
    }
}
