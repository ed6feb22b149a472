//! Staged rollouts: a firmware or software upgrade sent in waves of batch
//! tasks, each wave going on only when the one before succeeded enough,
//! from a plan file that survives a crash.
//!
//! The module holds the [`Plan`] (what will be done and how far it got,
//! serialised as the plan file), the wave split ([`WaveSpec`]), the state
//! machine ([`Plan::next_action`] and the transitions that record each
//! step), persistence ([`PlanStore`], [`AtomicFileStore`]) and the driver
//! that runs a plan with the guard watching each wave
//! ([`Client::run_rollout`](crate::Client::run_rollout),
//! [`Client::abort_rollout`](crate::Client::abort_rollout)); the CLI's
//! `rollout` commands are a thin layer over it. The plan file format and
//! the driver's rules are documented in `docs/rollout.md`.
//!
//! ```
//! use iotda_batchtask::rollout::{Action, Plan, RolloutTaskType};
//!
//! let now = jiff::Timestamp::now();
//! let devices = (0..200).map(|i| format!("dev-{i}"));
//! let plan = Plan::builder(
//!     "https://iotda.cn-north-4.myhuaweicloud.com",
//!     "0123456789abcdef0123456789abcdef",
//!     RolloutTaskType::FirmwareUpgrade,
//!     devices,
//!     "1%,10%,100%".parse()?,
//! )
//! .advance_if("success>=95%".parse()?)
//! .build(now)?;
//! assert_eq!(plan.waves().iter().map(|w| w.devices.len()).collect::<Vec<_>>(), [2, 18, 180]);
//! assert_eq!(plan.next_action(now), Action::Create { wave: 0 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod criteria;
mod driver;
mod plan;
mod store;
mod waves;

use std::path::PathBuf;

pub use criteria::{AbortCriterion, AdvanceIf, MAX_CRITERIA, MAX_CRITERION_LEN};
pub use driver::{
    Aborted, CreatedBy, DEFAULT_CREATE_SETTLE_AFTER, Halt, MAX_CREATE_SETTLE_AFTER, MAX_SETTLE_LISTING, RolloutEnd,
    RolloutError, RolloutEvent, RolloutReport, RunRollout,
};
pub use plan::{
    Action, DEFAULT_INTERVAL_SECONDS, GuardSettings, MAX_INTERVAL_SECONDS, MAX_PAUSE_SECONDS, PLAN_VERSION, Plan,
    PlanBuilder, PlanState, RolloutTaskType, TaskOptions, Wave, WaveState,
};
pub use store::{AtomicFileStore, MAX_PLAN_BYTES, PlanStore};
pub use waves::WaveSpec;

use crate::validation::InvalidInput;

/// Why a plan could not be built, read, written or moved on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A value breaks a rule (the error names the field).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The plan file was written by a newer version of this crate.
    #[error("{}plan format version {found} is newer than this program supports ({supported}); use a newer iotda-batchtask", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    FutureVersion {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The file's version.
        found: u32,
        /// The newest version this crate reads ([`PLAN_VERSION`]).
        supported: u32,
    },
    /// The file is not valid plan JSON (truncated, hand-edited) or breaks
    /// one of the plan's invariants.
    #[error("{}: not a valid plan file: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column when the JSON is bad.
        detail: String,
    },
    /// The plan file is larger than [`MAX_PLAN_BYTES`] (or would be).
    #[error("{}: the plan is over {max} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        max: u64,
    },
    /// The path is not a regular file (a directory, a symbolic link, a FIFO).
    #[error("{}: not a regular file; a plan is read and written only as one", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
    },
    /// `start` found a plan file already there.
    #[error("{}: a plan file exists already; resume it, or choose another path", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The plan was made for another endpoint or project than the client's.
    #[error("the plan is for {plan}, not {given}; use the plan's endpoint and project")]
    WrongTarget {
        /// The plan's endpoint and project.
        plan: String,
        /// The client's.
        given: String,
    },
    /// A transition that the plan's state does not allow (a driver bug,
    /// or two processes on one plan).
    #[error("the plan cannot do that: {detail}")]
    Transition {
        /// What was asked and where the plan is.
        detail: String,
    },
    /// A halted wave is gone past only when a person says so.
    #[error("wave {wave} halted the plan ({reason}); resume with force_advance (--force-advance) to go on past it")]
    NeedsForce {
        /// The wave (from 1).
        wave: usize,
        /// Why it halted.
        reason: String,
    },
}
