//! Resource families. A family owns one folder: its observed types and
//! reader, a pure diff, its operations with their apply handlers, rendering
//! details, and what each change needs and provides. The plan, the
//! executor, ordering, the plan file and the renderers are generic and know
//! families only through [`Family`] and [`FamilyOperation`].
//!
//! Adding a family is its folder plus one line in the `families!` list at
//! the bottom of this file.

use std::collections::BTreeSet;
use std::fmt::Debug;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::apply::StepContext;
use crate::apply::StepError;
use crate::config::Desired;
use crate::model::Address;
use crate::observe::{ObserveContext, ObserveError};
use crate::plan::{FamilyPlan, Plan, PlanOptions};

/// What a family's diff reads.
pub struct DiffContext<'a> {
    /// What the file asks for.
    pub desired: &'a Desired,
    /// What AWS has.
    pub observed: &'a Observed,
    /// How to plan.
    pub options: &'a PlanOptions,
}

/// Why a family cannot plan.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A bug in lzctl's planner (a change needs what nothing provides, a cycle).
    #[error("{0}")]
    Internal(String),
    /// Changes that would break a safety rule, or that cannot be made safely.
    #[error("the plan is refused:\n{}", .0.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<String>),
    /// The lockout guard found principals the plan would newly deny.
    #[error(transparent)]
    Lockout(#[from] crate::policy::guard::LockoutRefused),
}

/// One resource family.
pub trait Family {
    /// What the family reads from AWS.
    type Observed: Debug + Clone + Default + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// What the family's own config section asks for (`()` without one).
    type Desired: Debug + Clone + Default + Send + Sync;

    /// The top-level key of the family's config section, if it has one.
    const SECTION: Option<&'static str> = None;

    /// Validates the family's section (absent: `None`), reporting every
    /// problem through `checker` with its field path.
    fn check_config(
        _checker: &mut crate::config::Checker<'_>,
        _input: &crate::config::SectionInput<'_>,
        _section: Option<&serde_yaml::Value>,
    ) -> Self::Desired {
        Self::Desired::default()
    }

    /// The JSON Schema of the family's section (for `lzctl schema`),
    /// generated from the types `check_config` parses it with.
    fn section_schema(_generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        None
    }

    /// Reads the family's state, read-only.
    fn observe<'a>(
        ctx: &'a ObserveContext<'a>,
    ) -> BoxFuture<'a, Result<Self::Observed, ObserveError>>;

    /// Compares desired and observed state: pure, no I/O.
    fn diff(ctx: &DiffContext<'_>) -> Result<FamilyDiff, DiffError>;

    /// Checks the whole plan once it is assembled (e.g. the lockout guard),
    /// may add notices and impact lines, or refuses the plan.
    fn check_plan(_ctx: &DiffContext<'_>, _plan: &mut Plan) -> Result<(), DiffError> {
        Ok(())
    }
}

/// A family's diff: its plan, and the addresses that exist in its view of
/// the observed state (against which the needs of every change are checked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyDiff {
    /// Changes, unmanaged objects, notices.
    pub plan: FamilyPlan,
    /// Addresses that exist now.
    pub existing: BTreeSet<Address>,
    /// Orderings across families: (change, change it must wait for). Applied
    /// where both are in the plan.
    pub orderings: Vec<(Address, Address)>,
}

/// A limit on how many changes of one sort run at once (Control Tower runs
/// one OU operation at a time; one account move per destination OU).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// What is limited, e.g. `controltower:ou-operation`.
    pub name: String,
    /// How many at once.
    pub capacity: usize,
}

/// What every family's operations tell the generic core.
pub trait FamilyOperation: Send + Sync {
    /// Short verb for display and audit logs (`attach policy`).
    fn verb(&self) -> &'static str;
    /// The heading it is shown under in a human plan.
    fn group(&self) -> &'static str;
    /// Order among independent changes of the family (lower first), so
    /// plans read the same every time.
    fn phase(&self) -> u16;
    /// Addresses that must exist before it runs.
    fn needs(&self) -> Vec<crate::model::Address>;
    /// Whether it removes an object and makes it anew.
    fn is_replacement(&self) -> bool {
        false
    }
    /// Concurrency limits it counts against.
    fn slots(&self) -> Vec<Slot> {
        Vec::new()
    }
    /// Whether it counts against the executor's `--apply-concurrency`
    /// (operations that mostly wait on a long AWS operation bound themselves
    /// with a slot instead).
    fn counts_toward_concurrency(&self) -> bool {
        true
    }
    /// Whether its failure stops only the changes that depend on it (the
    /// executor goes on with independent ones) instead of all scheduling.
    fn isolates_failure(&self) -> bool {
        false
    }
    /// Whether it must wait for Control Tower to be quiet (every mutation
    /// does; an operation that only waits on Control Tower's own work does not).
    fn gated(&self) -> bool {
        true
    }
    /// The last line of defence: a reason never to run it, whatever a plan
    /// says (it would change an object Control Tower or AWS owns).
    fn refusal(&self) -> Option<String> {
        None
    }
    /// Lines shown under the change in a human plan, beyond before/after.
    fn details(&self) -> Vec<String> {
        Vec::new()
    }
    /// Carries the operation out.
    fn apply<'a>(&'a self, ctx: &'a StepContext<'a>) -> BoxFuture<'a, Result<(), StepError>>;
}

/// Whom lzctl acts as; not part of the observed state's digest, so a saved
/// plan applies from another session of the same role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// Account id.
    pub account: String,
    /// ARN.
    pub arn: String,
}

macro_rules! families {
    ($($module:ident => $Variant:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// What a change does, by family.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "family", rename_all = "snake_case")]
        pub enum Operation {
            $(
                #[allow(missing_docs)]
                $Variant($module::Operation),
            )+
        }

        $(
            impl From<$module::Operation> for Operation {
                fn from(op: $module::Operation) -> Operation {
                    Operation::$Variant(op)
                }
            }
        )+

        impl Operation {
            /// The family's own operation.
            pub fn as_family(&self) -> &(dyn FamilyOperation + 'static) {
                match self {
                    $(Operation::$Variant(op) => op,)+
                }
            }

            /// The family's name.
            pub fn family(&self) -> &'static str {
                match self {
                    $(Operation::$Variant(_) => stringify!($module),)+
                }
            }

            /// Order among independent changes: by family, then the family's phase.
            pub fn phase(&self) -> u16 {
                let family = [$(stringify!($module)),+]
                    .iter()
                    .position(|f| *f == self.family())
                    .unwrap_or_default() as u16;
                family * 1000 + self.as_family().phase()
            }
        }

        /// The observed landing zone, by family.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct Observed {
            /// Whom lzctl acts as (not digested).
            #[serde(default)]
            pub caller: Caller,
            $(
                #[allow(missing_docs)]
                #[serde(default)]
                pub $module: <$module::Family as Family>::Observed,
            )+
        }

        impl Observed {
            /// A stable digest of what was observed, for stale-plan detection.
            pub fn digest(&self) -> String {
                let canonical = serde_json::to_vec(&($(&self.$module,)+)).expect("state serializes");
                crate::digest::sha256_hex(&canonical)
            }
        }

        /// What each family's config section asks for.
        #[derive(Debug, Clone, Default)]
        pub struct DesiredSections {
            $(
                #[allow(missing_docs)]
                pub $module: <$module::Family as Family>::Desired,
            )+
        }

        /// The top-level config keys the families read.
        pub const SECTIONS: &[&str] = &{
            const ALL: [Option<&str>; [$(stringify!($module)),+].len()] =
                [$(<$module::Family as Family>::SECTION),+];
            const COUNT: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < ALL.len() {
                    if ALL[i].is_some() {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };
            let mut out = [""; COUNT];
            let (mut i, mut j) = (0, 0);
            while i < ALL.len() {
                if let Some(key) = ALL[i] {
                    out[j] = key;
                    j += 1;
                }
                i += 1;
            }
            out
        };

        /// Validates every family's section of the file.
        pub fn check_sections(
            checker: &mut crate::config::Checker<'_>,
            input: &crate::config::SectionInput<'_>,
            top: &crate::config::model::UnknownKeys,
        ) -> DesiredSections {
            DesiredSections {
                $(
                    $module: <$module::Family as Family>::check_config(
                        checker,
                        input,
                        <$module::Family as Family>::SECTION.and_then(|key| top.get(key)),
                    ),
                )+
            }
        }

        /// Each family's section key with its JSON Schema.
        pub fn section_schemas(
            generator: &mut schemars::SchemaGenerator,
        ) -> Vec<(&'static str, schemars::Schema)> {
            let mut out = Vec::new();
            $(
                if let (Some(key), Some(schema)) = (
                    <$module::Family as Family>::SECTION,
                    <$module::Family as Family>::section_schema(generator),
                ) {
                    out.push((key, schema));
                }
            )+
            out
        }

        /// Every family's diff, in registration order.
        pub fn diff_all(ctx: &DiffContext<'_>) -> Result<Vec<FamilyDiff>, DiffError> {
            Ok(vec![$(<$module::Family as Family>::diff(ctx)?,)+])
        }

        /// Every family's checks of the assembled plan.
        pub fn check_all(ctx: &DiffContext<'_>, plan: &mut Plan) -> Result<(), DiffError> {
            $(<$module::Family as Family>::check_plan(ctx, plan)?;)+
            Ok(())
        }

        /// Reads every family concurrently.
        pub async fn observe_all(ctx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
            let caller = match ctx.caller {
                Some(c) => c.clone(),
                None => crate::observe::caller(ctx.clients).await?,
            };
            let ctx = ObserveContext { caller: Some(&caller), ..*ctx };
            let ($($module,)+) = futures::try_join!($(<$module::Family as Family>::observe(&ctx),)+)?;
            Ok(Observed { caller, $($module,)+ })
        }
    };
}

impl From<crate::model::OrgState> for Observed {
    /// An observed landing zone with only an organization (no Control Tower).
    fn from(organizations: crate::model::OrgState) -> Observed {
        Observed {
            organizations,
            ..Observed::default()
        }
    }
}

impl std::ops::Deref for Operation {
    type Target = dyn FamilyOperation;
    fn deref(&self) -> &Self::Target {
        self.as_family()
    }
}

families! {
    organizations => Organizations,
    controltower => ControlTower,
    stacksets => StackSets,
    detective => Detective,
}
