//! Reading Control Tower: whether a landing zone exists, its settings, the
//! baselines, the OU-level enabled baselines (registrations), and what it is
//! doing now. A constant number of calls: none of them is per account.


use super::gate::busy_signs;
use super::{
    ControlTowerState, EnabledBaseline, LandingZone, Presence, AUTO_ENROLLMENT,
    CONTROL_TOWER_BASELINE, IDENTITY_CENTER_BASELINE,
};
use crate::config::ControlTowerMode;
use crate::observe::{aws_error, ObserveContext, ObserveError};

/// Reads Control Tower as the scope asks.
pub(super) async fn observe(ctx: &ObserveContext<'_>) -> Result<ControlTowerState, ObserveError> {
    let mode = match ctx.scope.control_tower {
        None | Some(ControlTowerMode::Absent) => return Ok(ControlTowerState::default()),
        Some(mode) => mode,
    };
    let ct = &ctx.clients.controltower;
    let zones = ct
        .list_landing_zones()
        .send()
        .await
        .map_err(|e| aws_error("controltower:ListLandingZones", e))?;
    let Some(arn) = zones.landing_zones().first().and_then(|z| z.arn()) else {
        if mode == ControlTowerMode::Required {
            return Err(ObserveError::ControlTowerMissing);
        }
        return Ok(ControlTowerState {
            presence: Presence::Missing,
            ..ControlTowerState::default()
        });
    };
    let (zone, baselines, enabled) = futures::try_join!(
        async {
            ct.get_landing_zone()
                .landing_zone_identifier(arn)
                .send()
                .await
                .map_err(|e| aws_error("controltower:GetLandingZone", e))
        },
        async {
            let pages: Vec<_> = ct
                .list_baselines()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("controltower:ListBaselines", e))?;
            Ok::<_, ObserveError>(pages)
        },
        async {
            let pages: Vec<_> = ct
                .list_enabled_baselines()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("controltower:ListEnabledBaselines", e))?;
            Ok::<_, ObserveError>(pages)
        },
    )?;
    let detail = zone.landing_zone();
    let landing_zone = detail.map(|d| {
        let manifest = document_to_json(d.manifest());
        let names = |key: &str| {
            manifest
                .pointer(&format!("/organizationStructure/{key}/name"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        LandingZone {
            arn: d.arn().unwrap_or(arn).to_string(),
            version: d.version().to_string(),
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            drift: d
                .drift_status()
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            governed_regions: manifest
                .get("governedRegions")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            auto_enrollment: d
                .remediation_types()
                .iter()
                .any(|r| r.as_str() == AUTO_ENROLLMENT),
            security_ou: names("security"),
            sandbox_ou: names("sandbox"),
        }
    });
    let baselines = baselines
        .iter()
        .flat_map(|p| p.baselines())
        .filter(|b| matches!(b.name(), CONTROL_TOWER_BASELINE | IDENTITY_CENTER_BASELINE))
        .map(|b| (b.name().to_string(), b.arn().to_string()))
        .collect();
    let enabled = enabled
        .iter()
        .flat_map(|p| p.enabled_baselines())
        .map(|e| EnabledBaseline {
            arn: e.arn().to_string(),
            baseline: e.baseline_identifier().to_string(),
            version: e.baseline_version().unwrap_or_default().to_string(),
            target: e.target_identifier().to_string(),
            status: e
                .status_summary()
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            drift: e
                .drift_status_summary()
                .and_then(|d| d.types())
                .and_then(|t| t.inheritance())
                .and_then(|i| i.status())
                .map(|s| s.as_str().to_string()),
        })
        .collect();
    let signs = busy_signs(ctx.clients, arn).await?;
    Ok(ControlTowerState {
        presence: Presence::Present,
        landing_zone,
        baselines,
        enabled,
        provisioning: signs.iter().filter_map(|s| s.product.clone()).collect(),
        busy: signs.into_iter().map(|s| s.what).collect(),
    })
}

/// A Smithy document as JSON (the landing zone manifest).
pub(super) fn document_to_json(doc: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document, Number};
    match doc {
        Document::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), document_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Document::Array(items) => items.iter().map(document_to_json).collect(),
        Document::Number(Number::PosInt(n)) => (*n).into(),
        Document::Number(Number::NegInt(n)) => (*n).into(),
        Document::Number(Number::Float(f)) => (*f).into(),
        Document::String(s) => s.clone().into(),
        Document::Bool(b) => (*b).into(),
        Document::Null => serde_json::Value::Null,
    }
}
