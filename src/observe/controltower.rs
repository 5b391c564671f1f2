//! Whether a Control Tower landing zone exists.

use super::{aws_error, ObserveError};
use crate::model::ControlTowerPresence;

/// Looks for a landing zone with ListLandingZones (one call).
pub async fn control_tower_presence(
    client: &aws_sdk_controltower::Client,
) -> Result<ControlTowerPresence, ObserveError> {
    let out = client
        .list_landing_zones()
        .send()
        .await
        .map_err(|e| aws_error("ListLandingZones", e))?;
    Ok(if out.landing_zones().is_empty() {
        ControlTowerPresence::Missing
    } else {
        ControlTowerPresence::Present
    })
}
