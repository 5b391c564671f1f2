//! The Control Tower gate: before every mutating step, Control Tower must be
//! quiet. It is busy when any of these holds:
//! - the landing zone is PROCESSING, or a landing-zone operation is IN_PROGRESS;
//! - an enabled baseline is UNDER_CHANGE (OU registration, account
//!   enrollment: `includeChildren`);
//! - a control operation is IN_PROGRESS;
//! - an Account Factory provisioned product is UNDER_CHANGE or PLAN_IN_PROGRESS.
//!
//! One observation (six calls, made concurrently) is shared by the steps
//! that ask within `ttl`, and concurrent askers wait for the one check in
//! flight instead of making their own. While lzctl itself runs a Control
//! Tower operation (registering an OU), that step holds the gate
//! exclusively: no other gated step starts until it has finished. Account
//! operations under Control Tower (which may start an enrollment as they
//! return) run beside each other but never beside other gated steps
//! (`rooms`), so a step never runs on an observation an account move made
//! stale.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_controltower::types::{
    ControlOperationFilter, ControlOperationStatus, EnabledBaselineFilter, EnablementStatus,
    LandingZoneOperationFilter, LandingZoneOperationStatus, LandingZoneStatus,
};
use aws_sdk_servicecatalog::types::{AccessLevelFilter, AccessLevelFilterKey, ProvisionedProductViewFilterBy};
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;

use super::rooms::{Kind, Rooms};
use super::Operation as ControlTowerOperation;
use crate::apply::gate::{Gate, GateError, GateFuture, GatePass};
use crate::aws::waiter::{wait_for, Poll, WaitError, WaitPolicy};
use crate::aws::{AwsError, Clients};
use crate::families::Operation;
use crate::plan::Change;

/// One sign that Control Tower is busy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusySign {
    /// What it is doing, in words.
    pub what: String,
    /// An account operation (an enrollment, Account Factory provisioning):
    /// Control Tower runs several of those at once, so other account
    /// operations may proceed beside it.
    pub account_level: bool,
    /// The provisioned product's name, for Account Factory provisioning.
    pub product: Option<String>,
}

/// What Control Tower is doing now, one line per busy sign (empty: quiet).
pub async fn busy_reasons(clients: &Clients, landing_zone: &str) -> Result<Vec<String>, AwsError> {
    Ok(busy_signs(clients, landing_zone)
        .await?
        .into_iter()
        .map(|s| s.what)
        .collect())
}

/// Control Tower's busy signs now.
pub async fn busy_signs(clients: &Clients, landing_zone: &str) -> Result<Vec<BusySign>, AwsError> {
    let ct = &clients.controltower;
    let sc = service_catalog(clients);
    let provisioned = |status: &'static str| {
        let sc = sc.clone();
        async move {
            let out = sc
                .search_provisioned_products()
                .access_level_filter(
                    AccessLevelFilter::builder()
                        .key(AccessLevelFilterKey::Account)
                        .value("self")
                        .build(),
                )
                .filters(
                    ProvisionedProductViewFilterBy::SearchQuery,
                    vec![format!("status:{status}")],
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("servicecatalog:SearchProvisionedProducts", &e))?;
            Ok::<Vec<BusySign>, AwsError>(
                out.provisioned_products()
                    .iter()
                    .map(|p| BusySign {
                        what: format!(
                            "Account Factory is provisioning {} ({status})",
                            p.name().unwrap_or("a product")
                        ),
                        account_level: true,
                        product: p.name().map(str::to_string),
                    })
                    .collect(),
            )
        }
    };
    let (zone, zone_ops, baselines, controls, under_change, planning) = futures::try_join!(
        async {
            ct.get_landing_zone()
                .landing_zone_identifier(landing_zone)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("controltower:GetLandingZone", &e))
        },
        async {
            ct.list_landing_zone_operations()
                .filter(
                    LandingZoneOperationFilter::builder()
                        .statuses(LandingZoneOperationStatus::InProgress)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("controltower:ListLandingZoneOperations", &e))
        },
        async {
            ct.list_enabled_baselines()
                .filter(
                    EnabledBaselineFilter::builder()
                        .statuses(EnablementStatus::UnderChange)
                        .build(),
                )
                .include_children(true)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("controltower:ListEnabledBaselines", &e))
        },
        async {
            ct.list_control_operations()
                .filter(
                    ControlOperationFilter::builder()
                        .statuses(ControlOperationStatus::InProgress)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("controltower:ListControlOperations", &e))
        },
        provisioned("UNDER_CHANGE"),
        provisioned("PLAN_IN_PROGRESS"),
    )?;
    let mut busy = Vec::new();
    let mut sign = |what: String, account_level: bool| {
        busy.push(BusySign {
            what,
            account_level,
            product: None,
        })
    };
    if zone.landing_zone().and_then(|z| z.status()) == Some(&LandingZoneStatus::Processing) {
        sign("the landing zone is PROCESSING".to_string(), false);
    }
    for op in zone_ops.landing_zone_operations() {
        sign(
            format!(
                "a landing-zone {} operation is in progress",
                op.operation_type().map(|t| t.as_str()).unwrap_or("")
            ),
            false,
        );
    }
    for b in baselines.enabled_baselines() {
        let account_level = b.parent_identifier().is_some();
        let what = if account_level {
            "an account enrollment"
        } else {
            "an OU registration"
        };
        sign(
            format!("{what} is under change ({})", b.target_identifier()),
            account_level,
        );
    }
    for op in controls.control_operations() {
        sign(
            format!(
                "a control operation ({}) is in progress on {}",
                op.operation_type().map(|t| t.as_str()).unwrap_or(""),
                op.target_identifier().unwrap_or("a target")
            ),
            false,
        );
    }
    busy.extend(under_change);
    busy.extend(planning);
    Ok(busy)
}

/// A Service Catalog client on the clients' configuration.
pub fn service_catalog(clients: &Clients) -> aws_sdk_servicecatalog::Client {
    crate::aws::service_client!(aws_sdk_servicecatalog, &clients.config, clients.stats)
}

/// The gate in front of every mutating step when Control Tower is present.
pub struct ControlTowerGate {
    clients: Clients,
    landing_zone: String,
    poll: WaitPolicy,
    ttl: Duration,
    last: Mutex<Option<(Instant, u64, Vec<BusySign>)>>,
    /// Bumped whenever an observation must not be reused (a step changed
    /// something); an observation from an older generation is stale.
    generation: std::sync::atomic::AtomicU64,
    exclusive: Arc<RwLock<()>>,
    rooms: Arc<Rooms>,
    report: WaitReport,
}

/// Told what a waiting step waits for, and for how long.
pub type WaitReport = Box<dyn Fn(&Change, &str, Duration) + Send + Sync>;

impl ControlTowerGate {
    /// A gate for the landing zone `landing_zone`. `poll.timeout` is how long
    /// a step waits for Control Tower at most (`--wait-timeout`); `ttl` how
    /// long one observation is shared; `report` is told what a waiting step
    /// waits for.
    pub fn new(
        clients: Clients,
        landing_zone: String,
        poll: WaitPolicy,
        ttl: Duration,
        report: WaitReport,
    ) -> ControlTowerGate {
        ControlTowerGate {
            clients,
            landing_zone,
            poll,
            ttl,
            last: Mutex::new(None),
            generation: Default::default(),
            exclusive: Arc::new(RwLock::new(())),
            rooms: Default::default(),
            report,
        }
    }

    /// Control Tower's busy signs, from the shared observation when it is fresh.
    async fn observe(&self) -> Result<Vec<BusySign>, AwsError> {
        let mut last = self.last.lock().await;
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        if let Some((at, seen, busy)) = &*last {
            if at.elapsed() <= self.ttl && *seen == generation {
                return Ok(busy.clone());
            }
        }
        let busy = busy_signs(&self.clients, &self.landing_zone).await?;
        *last = Some((Instant::now(), generation, busy.clone()));
        Ok(busy)
    }

    async fn quiet(&self, change: &Change) -> Result<(), GateError> {
        // Control Tower runs several account operations at once (one per
        // OU; lzctl's own order keeps to that): an account creation or move
        // does not wait for other accounts' enrollments.
        let account_operation = is_account_operation(change);
        wait_for(
            "Control Tower to finish its work",
            &self.poll,
            |status, waited| (self.report)(change, status, waited),
            || async {
                let busy: Vec<String> = self
                    .observe()
                    .await?
                    .into_iter()
                    .filter(|s| !(account_operation && s.account_level))
                    .map(|s| s.what)
                    .collect();
                Ok::<_, AwsError>(if busy.is_empty() {
                    Poll::Done(())
                } else {
                    Poll::Pending(busy.join("; "))
                })
            },
        )
        .await
        .map_err(|e| match e {
            WaitError::TimedOut { waited, last, .. } => GateError::Timeout {
                what: format!("Control Tower ({last})"),
                waited_secs: waited.as_secs(),
            },
            WaitError::Failed(e) => GateError::Check(e.to_string()),
        })
    }
}

/// Whether a change creates or moves an account under Control Tower.
fn is_account_operation(change: &Change) -> bool {
    change
        .operation
        .slots()
        .iter()
        .any(|s| s.name == crate::families::organizations::ACCOUNT_OPERATION_SLOT)
}

/// Whether a change starts Control Tower work of its own (and so must run
/// alone).
fn starts_control_tower_work(change: &Change) -> bool {
    matches!(
        change.operation,
        Operation::ControlTower(
            ControlTowerOperation::RegisterOu { .. } | ControlTowerOperation::ResetOu { .. }
        )
    )
}

impl Gate for ControlTowerGate {
    fn wait_until_clear<'a>(&'a self, change: &'a Change) -> GateFuture<'a> {
        Box::pin(async move {
            let pass = if starts_control_tower_work(change) {
                GatePass::hold(self.exclusive.clone().write_owned().await)
            } else {
                let shared = self.exclusive.clone().read_owned().await;
                let kind = if is_account_operation(change) {
                    Kind::Accounts
                } else {
                    Kind::Others
                };
                GatePass::hold((shared, self.rooms.enter(kind).await))
            };
            self.quiet(change).await?;
            Ok(pass)
        })
    }

    fn forget(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
