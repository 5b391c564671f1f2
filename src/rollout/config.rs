//! Validation of a policy's `rollout:` block.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{RolloutSpec, TrailLocation, Wave};
use crate::config::source::{join_index, join_key};
use crate::config::Checker;
use crate::model::{OrgState, Target};

/// Keys a `rollout:` block accepts.
pub const KNOWN: &[&str] = &["waves", "soak", "max_denials", "trail", "trail_account"];

/// The soak when the file gives none.
pub const DEFAULT_SOAK: Duration = Duration::from_secs(30 * 60);

fn strings(value: &serde_yaml::Value) -> Option<Vec<String>> {
    match value {
        serde_yaml::Value::String(s) => Some(vec![s.clone()]),
        serde_yaml::Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// Parses `s3://bucket[/prefix]`.
pub fn parse_trail(text: &str) -> Result<TrailLocation, String> {
    let rest = text
        .strip_prefix("s3://")
        .ok_or_else(|| format!("`{text}` is not an s3:// location"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(format!("`{bucket}` is not a valid S3 bucket name"));
    }
    let prefix = prefix.trim_matches('/');
    Ok(TrailLocation {
        bucket: bucket.to_string(),
        prefix: if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
    })
}

/// Checks the `rollout:` of policy `name` (field `field`), whose targets are
/// `targets` (empty when the file gives none: the waves are the targets).
/// Returns the spec and the targets the policy ends up with.
pub fn check(
    c: &mut Checker<'_>,
    field: &str,
    value: &serde_yaml::Value,
    targets: &BTreeSet<Target>,
    state: &OrgState,
) -> Option<(RolloutSpec, BTreeSet<Target>)> {
    let Some(map) = value.as_mapping() else {
        c.error_at_value(
            field,
            "`rollout` is a mapping",
            Some("write `rollout: { waves: [Companies/Sandbox, \"Companies/*/prod\"], soak: 30m, trail: s3://BUCKET }`".into()),
        );
        return None;
    };
    let get = |key: &str| map.get(serde_yaml::Value::String(key.into()));
    let unknown: crate::config::model::UnknownKeys = map
        .iter()
        .filter_map(|(k, v)| {
            let k = k.as_str()?;
            (!KNOWN.contains(&k)).then(|| (k.to_string(), v.clone()))
        })
        .collect();
    c.unknown_keys(field, &unknown, KNOWN);
    let mut ok = true;

    let waves_field = format!("{field}.waves");
    let mut waves = Vec::new();
    match get("waves").and_then(serde_yaml::Value::as_sequence) {
        Some(items) if !items.is_empty() => {
            let mut seen: BTreeSet<Target> = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let wave_field = join_index(&waves_field, i);
                let Some(exprs) = strings(item) else {
                    c.error_at_value(
                        &wave_field,
                        "a wave is a target or a list of targets",
                        Some(
                            "e.g. \"Companies/*/dev\" or [Companies/A/prod, Companies/B/prod]"
                                .into(),
                        ),
                    );
                    ok = false;
                    continue;
                };
                let resolved = if item.is_sequence() {
                    c.resolve_targets(&wave_field, &exprs, state)
                } else {
                    match crate::config::resolve_target(&exprs[0], &state.ous, &state.accounts) {
                        Ok(found) => found.into_iter().collect(),
                        Err(message) => {
                            c.error_at_value(&wave_field, message, Some("waves name targets as `targets` does: Root, OU paths, globs, account names".into()));
                            BTreeSet::new()
                        }
                    }
                };
                if resolved.is_empty() {
                    ok = false;
                }
                for t in &resolved {
                    if !targets.is_empty() && !targets.contains(t) {
                        c.error_at_value(
                            &wave_field,
                            format!("{t} is in a wave but not among the policy's targets"),
                            Some("a rollout stages the policy's own targets; add it to `targets` or leave `targets` out".into()),
                        );
                        ok = false;
                    }
                    if !seen.insert(t.clone()) {
                        c.error_at_value(
                            &wave_field,
                            format!("{t} is in two waves"),
                            Some("each target belongs to one wave".into()),
                        );
                        ok = false;
                    }
                }
                waves.push(Wave {
                    exprs,
                    targets: resolved,
                });
            }
            for t in targets {
                if !seen.contains(t) {
                    c.error(
                        &waves_field,
                        format!("target {t} is in no wave"),
                        Some("put every target of the policy in one wave".into()),
                    );
                    ok = false;
                }
            }
        }
        _ => {
            c.error(
                &waves_field,
                "a rollout needs `waves`: a list of targets or lists of targets, first wave first",
                Some(
                    "e.g. waves: [Companies/Sandbox, \"Companies/*/dev\", \"Companies/*/prod\"]"
                        .into(),
                ),
            );
            ok = false;
        }
    }

    let soak = match get("soak") {
        None => DEFAULT_SOAK,
        Some(v) => match v.as_str().map(crate::cli::parse_duration) {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                c.error_at_value(&format!("{field}.soak"), e, None);
                ok = false;
                DEFAULT_SOAK
            }
            None => match v.as_u64() {
                Some(secs) => Duration::from_secs(secs),
                None => {
                    c.error_at_value(
                        &format!("{field}.soak"),
                        "`soak` is a duration",
                        Some("e.g. 30m, 2h or 90s".into()),
                    );
                    ok = false;
                    DEFAULT_SOAK
                }
            },
        },
    };

    let max_denials = match get("max_denials") {
        None => 0,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => n,
            None => {
                c.error_at_value(
                    &format!("{field}.max_denials"),
                    "`max_denials` is a whole number (denials tolerated per wave)",
                    None,
                );
                ok = false;
                0
            }
        },
    };

    let trail = match get("trail").map(|v| v.as_str().map(parse_trail)) {
        Some(Some(Ok(t))) => Some(t),
        Some(Some(Err(e))) => {
            c.error_at_value(
                &format!("{field}.trail"),
                e,
                Some("the organization trail's bucket, e.g. s3://aws-controltower-logs-222222222222-ap-northeast-1".into()),
            );
            None
        }
        Some(None) => {
            c.error_at_value(
                &format!("{field}.trail"),
                "`trail` is an s3:// location",
                None,
            );
            None
        }
        None => {
            c.error(
                &join_key(field, "trail"),
                "a rollout watches the organization trail: give `trail: s3://BUCKET[/PREFIX]`",
                Some("the bucket the organization trail delivers to (Control Tower: aws-controltower-logs-LOGARCHIVE-HOMEREGION)".into()),
            );
            None
        }
    };

    let trail_account = match get("trail_account") {
        None => None,
        Some(v) => match v.as_str() {
            Some(name) if state.accounts.contains_key(name) => Some(name.to_string()),
            _ => {
                c.error_at_value(
                    &format!("{field}.trail_account"),
                    "`trail_account` names an account declared in the file",
                    Some("the account that owns the trail bucket, e.g. log-archive".into()),
                );
                ok = false;
                None
            }
        },
    };

    let trail = trail?;
    if !ok {
        return None;
    }
    let all: BTreeSet<Target> = waves
        .iter()
        .flat_map(|w| w.targets.iter().cloned())
        .collect();
    Some((
        RolloutSpec {
            waves,
            soak,
            max_denials,
            trail,
            trail_account,
        },
        all,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_locations_take_an_optional_prefix() {
        let t = parse_trail("s3://org-logs").unwrap();
        assert_eq!((t.bucket.as_str(), t.prefix.as_str()), ("org-logs", ""));
        let t = parse_trail("s3://org-logs/ct/").unwrap();
        assert_eq!(t.prefix, "ct/");
        assert!(parse_trail("org-logs").is_err());
        assert!(parse_trail("s3://Org_Logs").is_err());
    }
}
