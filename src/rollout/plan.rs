//! The plan: what a staged rollout will do, and how far it got.

use std::collections::HashSet;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::PlanError;
use super::criteria::{AbortCriterion, AdvanceIf, MAX_CRITERIA};
use super::waves::WaveSpec;
use crate::types::{self, TaskProgress};
use crate::validation::{self, InvalidInput};
use crate::{Client, CreateBatchTask, WatchBatchTask, limits};

/// The plan format this crate writes and reads. A plan with a higher
/// `version` is refused, never half-read.
pub const PLAN_VERSION: u32 = 1;

/// The longest pause between waves (30 days).
pub const MAX_PAUSE_SECONDS: u64 = 30 * 24 * 60 * 60;

/// The longest interval between two polls of a wave's task (one hour).
pub const MAX_INTERVAL_SECONDS: u64 = 60 * 60;

/// The default interval between two polls of a wave's task.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 10;

/// Hex digits in a plan ID.
const PLAN_ID_LEN: usize = 20;

/// The task types a rollout creates: upgrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutTaskType {
    /// `firmwareUpgrade`.
    #[serde(rename = "firmwareUpgrade")]
    FirmwareUpgrade,
    /// `softwareUpgrade`.
    #[serde(rename = "softwareUpgrade")]
    SoftwareUpgrade,
}

impl RolloutTaskType {
    /// The API's task type.
    pub fn task_type(self) -> types::TaskType {
        match self {
            Self::FirmwareUpgrade => types::TaskType::FirmwareUpgrade,
            Self::SoftwareUpgrade => types::TaskType::SoftwareUpgrade,
        }
    }
}

impl std::str::FromStr for RolloutTaskType {
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        match text {
            "firmwareUpgrade" => Ok(Self::FirmwareUpgrade),
            "softwareUpgrade" => Ok(Self::SoftwareUpgrade),
            _ => Err(InvalidInput::new(
                "task_type",
                "a rollout is a firmwareUpgrade or softwareUpgrade task",
            )),
        }
    }
}

/// What every wave's CreateBatchTask carries besides its name and devices:
/// the fields of [`types::NewBatchTask`] a rollout sets, serialised as on the
/// wire (absent fields are left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskOptions {
    /// The resource space (application); absent, the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<types::AppId>,
    /// The task's document, e.g. `{"package_id": "..."}`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub document: Map<String, Value>,
    /// Schedule and automatic retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_policy: Option<types::NewTaskPolicy>,
    /// Extra information sent to devices with upgrade notices.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub task_ext_info: Map<String, Value>,
    /// Gateway mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_mode: Option<types::TaskMode>,
    /// Whether every sub-task waits for ConfirmBatchTask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_confirm: Option<bool>,
}

impl TaskOptions {
    /// Checks the options by the rules CreateBatchTask applies before
    /// sending (the same limits from [`limits`]), naming the field, and
    /// refuses `task_policy.schedule_time` and `need_confirm: true`: each
    /// wave starts when the one before passed, so one start time cannot fit
    /// every wave, and a wave waiting for a confirmation would never finish.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.need_confirm == Some(true) {
            // The driver starts each wave itself; a wave whose sub-tasks wait
            // for ConfirmBatchTask would never finish.
            return Err(InvalidInput::new(
                "need_confirm",
                "is not for a rollout: each wave is started when the one before passed, and a wave waiting for \
                 ConfirmBatchTask would never finish",
            ));
        }
        if let Some(policy) = &self.task_policy {
            // Each wave is created when the one before passed; one fixed
            // start time would be in the past for every later wave.
            if policy.schedule_time.is_some() {
                return Err(InvalidInput::new(
                    "task_policy.schedule_time",
                    "is not for a rollout: each wave starts when the one before passed (use the pause)",
                ));
            }
            match (policy.retry_count, policy.retry_interval) {
                (None, None) => {}
                (Some(count), Some(interval)) => {
                    let (lo, hi) = (
                        u64::from(limits::NEW_TASK_POLICY_RETRY_COUNT_MIN),
                        u64::from(limits::NEW_TASK_POLICY_RETRY_COUNT_MAX),
                    );
                    if !(lo..=hi).contains(&count.get()) {
                        return Err(InvalidInput::new(
                            "task_policy.retry_count",
                            format!("must be {lo} to {hi}"),
                        ));
                    }
                    let (lo, hi) = (
                        i64::from(limits::NEW_TASK_POLICY_RETRY_INTERVAL_MIN),
                        i64::from(limits::NEW_TASK_POLICY_RETRY_INTERVAL_MAX),
                    );
                    if !(lo..=hi).contains(&interval) {
                        return Err(InvalidInput::new(
                            "task_policy.retry_interval",
                            format!("must be {lo} to {hi} minutes"),
                        ));
                    }
                }
                _ => {
                    return Err(InvalidInput::new(
                        "task_policy",
                        "retry_count and retry_interval go together",
                    ));
                }
            }
        }
        let max = limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN;
        let len = Value::Object(self.task_ext_info.clone()).to_string().chars().count();
        if !self.task_ext_info.is_empty() && len > max {
            return Err(InvalidInput::new(
                "task_ext_info",
                format!("is {len} characters as JSON; at most {max}"),
            ));
        }
        Ok(())
    }
}

/// The guard's settings for every wave (those of the `watch` command), the
/// criteria kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSettings {
    /// `--abort-if` criteria, in the order given.
    #[serde(default)]
    pub abort_if: Vec<AbortCriterion>,
    /// `--min-finished`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_finished: Option<u64>,
    /// `--count-retrying`.
    #[serde(default)]
    pub count_retrying: bool,
    /// `--stuck-after`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_after_seconds: Option<u64>,
}

impl GuardSettings {
    /// Checks the settings by the guard's rules, naming the field.
    fn check(&self) -> Result<(), InvalidInput> {
        if self.min_finished == Some(0) && self.abort_if.iter().any(|c| c.criterion().is_percent()) {
            return Err(InvalidInput::new(
                "guard.min_finished",
                "must be at least 1 with a failed>=P% criterion (one early failure would be 100%)",
            ));
        }
        let max = crate::watch::MAX_STUCK_AFTER.as_secs();
        if let Some(after) = self.stuck_after_seconds
            && !(1..=max).contains(&after)
        {
            return Err(InvalidInput::new(
                "guard.stuck_after_seconds",
                format!("must be 1 to {max}"),
            ));
        }
        Ok(())
    }

    /// `watch` with these settings.
    pub(crate) fn apply(&self, mut watch: WatchBatchTask) -> WatchBatchTask {
        watch = watch
            .criteria(self.abort_if.iter().map(AbortCriterion::criterion))
            .count_retrying(self.count_retrying);
        if let Some(n) = self.min_finished {
            watch = watch.min_finished(n);
        }
        if let Some(after) = self.stuck_after_seconds {
            watch = watch.stuck_after(std::time::Duration::from_secs(after));
        }
        watch
    }
}

/// Where one wave is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WaveState {
    /// Nothing done yet.
    Pending,
    /// A create is about to be sent, or was sent and its answer not yet
    /// recorded: recorded **before** the request, so a crash after it is
    /// settled by listing for `task_name`, never by creating again.
    Creating {
        /// When the intent was recorded.
        #[serde(with = "timestamp")]
        intent_at: Timestamp,
        /// The name the task is created with ([`Plan::wave_task_name`]).
        task_name: String,
        /// The newest task of the plan's type (and application) before the
        /// create, read just before the intent was saved: a listing after a
        /// crash walks only the tasks newer than it (`None`: there was none,
        /// or it was not read; the listing walks from the newest, bounded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        newest_before: Option<types::TaskId>,
    },
    /// The task exists.
    Created {
        /// Its ID.
        task_id: types::TaskId,
    },
    /// The guard watches the task.
    Watching {
        /// Its ID.
        task_id: types::TaskId,
    },
    /// The task finished.
    Finished {
        /// Its ID.
        task_id: types::TaskId,
        /// Its final status as read (e.g. `Success`, `PartialSuccess`).
        status: String,
        /// Its final counters as read.
        counters: TaskProgress,
        /// When the finish was recorded (the pause before the next wave
        /// counts from here).
        #[serde(with = "timestamp")]
        at: Timestamp,
    },
    /// The wave's task was stopped or deleted by someone else (seen on
    /// a poll): the plan is halted, and goes on past this wave only when a
    /// person says so ([`Plan::resume`] with `force_advance`).
    Halted {
        /// The task.
        task_id: types::TaskId,
        /// What was found, for a person.
        reason: String,
    },
    /// The wave was aborted (a criterion tripped, or `abort`).
    Aborted {
        /// The task, if one is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<types::TaskId>,
        /// Why, for a person.
        reason: String,
    },
}

impl WaveState {
    /// The wave's task, when one is known.
    pub fn task_id(&self) -> Option<&types::TaskId> {
        match self {
            Self::Created { task_id }
            | Self::Watching { task_id }
            | Self::Finished { task_id, .. }
            | Self::Halted { task_id, .. } => Some(task_id),
            Self::Aborted { task_id, .. } => task_id.as_ref(),
            Self::Pending | Self::Creating { .. } => None,
        }
    }

    /// The state's `kind`, as in the plan file (`pending`, `creating`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Creating { .. } => "creating",
            Self::Created { .. } => "created",
            Self::Watching { .. } => "watching",
            Self::Finished { .. } => "finished",
            Self::Halted { .. } => "halted",
            Self::Aborted { .. } => "aborted",
        }
    }
}

/// One wave: its devices and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// The wave's device IDs, in input order.
    pub devices: Vec<String>,
    /// Where the wave is.
    pub state: WaveState,
    /// Set when a person chose to go on past this wave although it did
    /// not meet `advance_if` ([`Plan::resume`] with `force_advance`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub forced_at: Option<Timestamp>,
}

/// Where the whole plan is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanState {
    /// Going on (or ready to, on resume).
    Running,
    /// Stopped for a person to look: resumable.
    Halted {
        /// Why.
        reason: String,
    },
    /// Ended by a tripped criterion or `abort`: final.
    Aborted {
        /// Why.
        reason: String,
    },
    /// Every wave finished and met `advance_if` (or was forced past): final.
    Done,
}

impl PlanState {
    /// The state's `kind`, as in the plan file (`running`, `halted`, `aborted`, `done`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Halted { .. } => "halted",
            Self::Aborted { .. } => "aborted",
            Self::Done => "done",
        }
    }
}

/// What the plan says to do next ([`Plan::next_action`]); a driver is a
/// loop that does it, records the result, saves the plan and asks again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Record the intent ([`Plan::begin_create`]), save, then create wave
    /// `wave`'s task (index from 0).
    Create {
        /// The wave's index.
        wave: usize,
    },
    /// A create of this wave may have been sent and its answer is not
    /// recorded: find the task by listing for `task_name`, never by
    /// creating again.
    Settle {
        /// The wave's index.
        wave: usize,
        /// The name to list for.
        task_name: String,
    },
    /// Watch wave `wave`'s task with the guard until it finishes.
    Watch {
        /// The wave's index.
        wave: usize,
        /// The task.
        task_id: types::TaskId,
    },
    /// The previous wave finished and met `advance_if`; wait until `until`,
    /// then ask again (the answer will be [`Action::Create`]).
    Pause {
        /// The wave that starts after the pause.
        wave: usize,
        /// When.
        until: Timestamp,
    },
    /// The plan is halted; nothing happens until [`Plan::resume`].
    Halted {
        /// Why.
        reason: String,
    },
    /// The plan was aborted; nothing more happens.
    Aborted {
        /// Why.
        reason: String,
    },
    /// Every wave is done.
    Done,
}

/// A staged rollout: the target, the task, every wave's devices, the
/// criteria, and the state of each wave. Serialised as the plan file
/// (`docs/rollout.md`); every way to obtain one (building it, reading it)
/// checks its invariants, so a hand-edited file that breaks one is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Unchecked")]
pub struct Plan {
    version: u32,
    plan_id: String,
    #[serde(with = "timestamp")]
    created_at: Timestamp,
    endpoint: String,
    project_id: types::ProjectId,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_id: Option<types::InstanceId>,
    task_type: RolloutTaskType,
    task: TaskOptions,
    waves_spec: String,
    advance_if: AdvanceIf,
    guard: GuardSettings,
    pause_seconds: u64,
    interval_seconds: u64,
    state: PlanState,
    waves: Vec<Wave>,
}

/// The plan as read, before its invariants are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unchecked {
    version: u32,
    plan_id: String,
    #[serde(with = "timestamp")]
    created_at: Timestamp,
    endpoint: String,
    project_id: types::ProjectId,
    #[serde(default)]
    instance_id: Option<types::InstanceId>,
    task_type: RolloutTaskType,
    task: TaskOptions,
    waves_spec: String,
    advance_if: AdvanceIf,
    guard: GuardSettings,
    pause_seconds: u64,
    interval_seconds: u64,
    state: PlanState,
    waves: Vec<Wave>,
}

impl TryFrom<Unchecked> for Plan {
    type Error = PlanError;

    fn try_from(u: Unchecked) -> Result<Self, PlanError> {
        if u.version > PLAN_VERSION {
            return Err(PlanError::FutureVersion {
                path: None,
                found: u.version,
                supported: PLAN_VERSION,
            });
        }
        if u.version != PLAN_VERSION {
            return Err(InvalidInput::new("version", format!("must be {PLAN_VERSION}")).into());
        }
        let plan = Self {
            version: u.version,
            plan_id: u.plan_id,
            created_at: u.created_at,
            endpoint: u.endpoint,
            project_id: u.project_id,
            instance_id: u.instance_id,
            task_type: u.task_type,
            task: u.task,
            waves_spec: u.waves_spec,
            advance_if: u.advance_if,
            guard: u.guard,
            pause_seconds: u.pause_seconds,
            interval_seconds: u.interval_seconds,
            state: u.state,
            waves: u.waves,
        };
        plan.check()?;
        Ok(plan)
    }
}

/// Builds a [`Plan`]; see [`Plan::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .build()"]
pub struct PlanBuilder {
    endpoint: String,
    project_id: String,
    instance_id: Option<String>,
    task_type: RolloutTaskType,
    task: TaskOptions,
    targets: Vec<String>,
    waves: WaveSpec,
    advance_if: AdvanceIf,
    guard: GuardSettings,
    pause_seconds: u64,
    interval_seconds: u64,
}

impl PlanBuilder {
    /// The `Instance-Id` the tasks are created under.
    pub fn instance_id(mut self, instance_id: impl Into<String>) -> Self {
        self.instance_id = Some(instance_id.into());
        self
    }

    /// The task options every wave's create carries.
    pub fn task(mut self, task: TaskOptions) -> Self {
        self.task = task;
        self
    }

    /// When a finished wave lets the next start (default `success>=100%`).
    pub fn advance_if(mut self, rule: AdvanceIf) -> Self {
        self.advance_if = rule;
        self
    }

    /// The guard's settings, kept as written.
    pub fn guard(mut self, guard: GuardSettings) -> Self {
        self.guard = guard;
        self
    }

    /// Seconds to wait after a wave finished before creating the next
    /// (default 0, at most [`MAX_PAUSE_SECONDS`]).
    pub fn pause_seconds(mut self, seconds: u64) -> Self {
        self.pause_seconds = seconds;
        self
    }

    /// Seconds between two polls of a wave's task (default
    /// [`DEFAULT_INTERVAL_SECONDS`], 1 to [`MAX_INTERVAL_SECONDS`]).
    pub fn interval_seconds(mut self, seconds: u64) -> Self {
        self.interval_seconds = seconds;
        self
    }

    /// Checks everything, splits the targets (de-duplicated, first
    /// occurrence kept) and builds the plan, every wave pending, made at
    /// `created_at` (pass `jiff::Timestamp::now()`).
    ///
    /// The plan ID is derived, not random: the first 20 hex digits of the
    /// SHA-256 of the creation time (to the nanosecond), the endpoint, the
    /// project, the instance, the task type and options, and every device
    /// in order. The same inputs at another instant give another ID.
    pub fn build(self, created_at: Timestamp) -> Result<Plan, PlanError> {
        let unique = validation::unique_targets(self.targets)?;
        let waves = self.waves.split(&unique)?;
        let endpoint = validation::endpoint(&self.endpoint)?.base_url;
        let project_id = validation::project_id(&self.project_id)?;
        let instance_id = self.instance_id.as_deref().map(validation::instance_id).transpose()?;
        let mut hash = Sha256::new();
        let task = serde_json::to_string(&self.task).expect("task options serialise");
        for part in [
            created_at.as_nanosecond().to_string().as_str(),
            endpoint.as_str(),
            project_id.as_str(),
            instance_id.as_deref().map_or("", String::as_str),
            self.task_type.task_type().as_str(),
            task.as_str(),
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        for device in &unique {
            hash.update(device.as_bytes());
            hash.update([0]);
        }
        let mut plan_id = hex::encode(hash.finalize());
        plan_id.truncate(PLAN_ID_LEN);
        let plan = Plan {
            version: PLAN_VERSION,
            plan_id,
            created_at,
            endpoint,
            project_id,
            instance_id,
            task_type: self.task_type,
            task: self.task,
            waves_spec: self.waves.to_string(),
            advance_if: self.advance_if,
            guard: self.guard,
            pause_seconds: self.pause_seconds,
            interval_seconds: self.interval_seconds,
            state: PlanState::Running,
            waves: waves
                .into_iter()
                .map(|devices| Wave {
                    devices,
                    state: WaveState::Pending,
                    forced_at: None,
                })
                .collect(),
        };
        plan.check()?;
        Ok(plan)
    }
}

/// How the waves stand: the index of the first wave not yet passed, and
/// whether every wave before it passed.
enum Position {
    /// Waves `..current` passed; `current` is the first that has not.
    At(usize),
    /// Every wave passed.
    AllPassed,
}

impl Plan {
    /// Starts a plan: `endpoint` and `project_id` as the client uses them,
    /// the task type, the targets (device IDs) and the waves.
    pub fn builder(
        endpoint: impl Into<String>,
        project_id: impl Into<String>,
        task_type: RolloutTaskType,
        targets: impl IntoIterator<Item = impl Into<String>>,
        waves: WaveSpec,
    ) -> PlanBuilder {
        PlanBuilder {
            endpoint: endpoint.into(),
            project_id: project_id.into(),
            instance_id: None,
            task_type,
            task: TaskOptions::default(),
            targets: targets.into_iter().map(Into::into).collect(),
            waves,
            advance_if: AdvanceIf::default(),
            guard: GuardSettings::default(),
            pause_seconds: 0,
            interval_seconds: DEFAULT_INTERVAL_SECONDS,
        }
    }

    /// The plan's ID: 20 lowercase hex digits.
    pub fn plan_id(&self) -> &str {
        &self.plan_id
    }
    /// When the plan was made.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// The endpoint, normalised as the client normalises it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    /// The project.
    pub fn project_id(&self) -> &types::ProjectId {
        &self.project_id
    }
    /// The instance, if any.
    pub fn instance_id(&self) -> Option<&types::InstanceId> {
        self.instance_id.as_ref()
    }
    /// The task type.
    pub fn task_type(&self) -> RolloutTaskType {
        self.task_type
    }
    /// The options every wave's create carries.
    pub fn task(&self) -> &TaskOptions {
        &self.task
    }
    /// `--waves` as given (normalised).
    pub fn waves_spec(&self) -> &str {
        &self.waves_spec
    }
    /// When a finished wave lets the next start.
    pub fn advance_if(&self) -> AdvanceIf {
        self.advance_if
    }
    /// The guard's settings, as written.
    pub fn guard(&self) -> &GuardSettings {
        &self.guard
    }
    /// Seconds between a wave's finish and the next wave's create.
    pub fn pause_seconds(&self) -> u64 {
        self.pause_seconds
    }
    /// Seconds between two polls of a wave's task.
    pub fn interval_seconds(&self) -> u64 {
        self.interval_seconds
    }
    /// The plan's state.
    pub fn state(&self) -> &PlanState {
        &self.state
    }
    /// The waves, in order.
    pub fn waves(&self) -> &[Wave] {
        &self.waves
    }

    /// The name of wave `wave`'s task (index from 0): `rollout_<plan ID>_wave<N>`
    /// with N from 1, within CreateBatchTask's name rules (letters, digits,
    /// `_`, at most [`limits::TASK_NAME_MAX_LEN`]). A create whose answer
    /// was lost is found again by listing for this name.
    pub fn wave_task_name(&self, wave: usize) -> String {
        format!("rollout_{}_wave{}", self.plan_id, wave + 1)
    }

    /// Refuses a plan made for another endpoint or project than the
    /// client's: acting on it would create or stop tasks elsewhere.
    pub fn check_target(&self, endpoint: &str, project_id: &str) -> Result<(), PlanError> {
        let endpoint = validation::endpoint(endpoint)?.base_url;
        if endpoint != self.endpoint || !project_id.eq_ignore_ascii_case(&self.project_id) {
            return Err(PlanError::WrongTarget {
                plan: format!("{} project {}", self.endpoint, *self.project_id),
                given: format!("{endpoint} project {project_id}"),
            });
        }
        Ok(())
    }

    /// The CreateBatchTask call of wave `wave`: its name, its devices and
    /// the plan's task options, reading on a lost answer (the default). The
    /// client must be for the plan's endpoint and project
    /// ([`check_target`](Self::check_target)).
    pub fn create_call(&self, client: &Client, wave: usize) -> Result<CreateBatchTask, PlanError> {
        let devices = &self
            .waves
            .get(wave)
            .ok_or_else(|| InvalidInput::new("wave", format!("the plan has {} waves", self.waves.len())))?
            .devices;
        let task = &self.task;
        let mut call = client
            .create_batch_task(self.wave_task_name(wave), self.task_type.task_type())
            .targets(devices.iter().cloned());
        if let Some(app_id) = &task.app_id {
            call = call.app_id(app_id.to_string());
        }
        if !task.document.is_empty() {
            call = call.document(task.document.clone());
        }
        if let Some(policy) = &task.task_policy
            && let (Some(count), Some(interval)) = (policy.retry_count, policy.retry_interval)
        {
            // Both were checked against the spec's (small) limits.
            let count = u32::try_from(count.get()).expect("retry_count is checked to be at most 5");
            let interval = u32::try_from(interval).expect("retry_interval is checked to be 0 to 1440");
            call = call.retry(count, interval);
        }
        if !task.task_ext_info.is_empty() {
            call = call.task_ext_info(task.task_ext_info.clone());
        }
        if task.task_mode.is_some() {
            call = call.gateway_mode();
        }
        if let Some(confirm) = task.need_confirm {
            call = call.need_confirm(confirm);
        }
        Ok(call)
    }

    /// Whether wave `i` lets the next start.
    fn passed(&self, i: usize) -> bool {
        let wave = &self.waves[i];
        match &wave.state {
            WaveState::Finished { counters, .. } => wave.forced_at.is_some() || self.advance_if.met_by(counters),
            WaveState::Halted { .. } => wave.forced_at.is_some(),
            _ => false,
        }
    }

    fn position(&self) -> Position {
        (0..self.waves.len())
            .find(|&i| !self.passed(i))
            .map_or(Position::AllPassed, Position::At)
    }

    /// The first wave that has not passed, and its state (`None`: every
    /// wave passed).
    pub fn current_wave(&self) -> Option<(usize, &WaveState)> {
        match self.position() {
            Position::At(i) => Some((i, &self.waves[i].state)),
            Position::AllPassed => None,
        }
    }

    /// What to do next, at `now`: a pure function of the plan and the time
    /// (the pause before a wave counts from the previous wave's finish; a
    /// wave forced past starts the next at once).
    pub fn next_action(&self, now: Timestamp) -> Action {
        match &self.state {
            PlanState::Halted { reason } => return Action::Halted { reason: reason.clone() },
            PlanState::Aborted { reason } => return Action::Aborted { reason: reason.clone() },
            PlanState::Done => return Action::Done,
            PlanState::Running => {}
        }
        let Position::At(wave) = self.position() else {
            // Running with every wave passed is refused by `check`.
            return Action::Done;
        };
        match &self.waves[wave].state {
            WaveState::Pending => match self.pause_end(wave) {
                Some(until) if now < until => Action::Pause { wave, until },
                _ => Action::Create { wave },
            },
            WaveState::Creating { task_name, .. } => Action::Settle {
                wave,
                task_name: task_name.clone(),
            },
            WaveState::Created { task_id } | WaveState::Watching { task_id } => Action::Watch {
                wave,
                task_id: task_id.clone(),
            },
            // A running plan's current wave is never finished below the
            // share, halted or aborted (`check` refuses it); say so rather
            // than act.
            other => Action::Halted {
                reason: format!("wave {} is {} but the plan is running", wave + 1, other.kind()),
            },
        }
    }

    /// When wave `wave` may be created, if it must wait for a pause.
    fn pause_end(&self, wave: usize) -> Option<Timestamp> {
        let previous = self.waves.get(wave.checked_sub(1)?)?;
        if previous.forced_at.is_some() {
            return None;
        }
        let WaveState::Finished { at, .. } = previous.state else {
            return None;
        };
        let pause = SignedDuration::from_secs(i64::try_from(self.pause_seconds).ok()?);
        at.checked_add(pause).ok()
    }

    fn transition_error(&self, wave: usize, to: &str) -> PlanError {
        let from = self.waves.get(wave).map_or("absent", |w| w.state.kind());
        PlanError::Transition {
            detail: format!(
                "wave {} cannot become {to}: it is {from} and the plan's next action is {:?}",
                wave + 1,
                self.next_action(Timestamp::MAX)
            ),
        }
    }

    /// Records the intent to create wave `wave`'s task, at `at`, with the
    /// newest task listed before it (see [`WaveState::Creating`]): save the
    /// plan after this and **before** sending. Only when the next action is
    /// [`Action::Create`] of this wave (the pause is the driver's to keep).
    pub fn begin_create(
        &mut self,
        wave: usize,
        at: Timestamp,
        newest_before: Option<types::TaskId>,
    ) -> Result<String, PlanError> {
        if !matches!(self.next_action(Timestamp::MAX), Action::Create { wave: w } if w == wave) {
            return Err(self.transition_error(wave, "creating"));
        }
        let task_name = self.wave_task_name(wave);
        self.waves[wave].state = WaveState::Creating {
            intent_at: at,
            task_name: task_name.clone(),
            newest_before,
        };
        Ok(task_name)
    }

    /// Records that wave `wave`'s task exists (created, or found by listing).
    pub fn created(&mut self, wave: usize, task_id: types::TaskId) -> Result<(), PlanError> {
        if !matches!(self.wave_state(wave), Some(WaveState::Creating { .. })) || self.state != PlanState::Running {
            return Err(self.transition_error(wave, "created"));
        }
        self.waves[wave].state = WaveState::Created { task_id };
        Ok(())
    }

    /// Records that the guard watches wave `wave`'s task.
    pub fn watching(&mut self, wave: usize) -> Result<(), PlanError> {
        match self.wave_state(wave) {
            Some(WaveState::Created { task_id }) if self.state == PlanState::Running => {
                self.waves[wave].state = WaveState::Watching {
                    task_id: task_id.clone(),
                };
                Ok(())
            }
            _ => Err(self.transition_error(wave, "watching")),
        }
    }

    /// Records that wave `wave`'s task finished with `status` and
    /// `counters`, at `at`. Below `advance_if` the plan halts (resume needs
    /// `force_advance`); the last wave meeting it makes the plan done.
    pub fn finished(
        &mut self,
        wave: usize,
        status: impl Into<String>,
        counters: TaskProgress,
        at: Timestamp,
    ) -> Result<(), PlanError> {
        let task_id = match self.wave_state(wave) {
            Some(WaveState::Created { task_id } | WaveState::Watching { task_id })
                if self.state == PlanState::Running =>
            {
                task_id.clone()
            }
            _ => return Err(self.transition_error(wave, "finished")),
        };
        let met = self.advance_if.met_by(&counters);
        let count = |v: Option<i64>| v.unwrap_or(0);
        let reason = format!(
            "wave {} finished with {} Success of {} finished (Success + Fail), below {}",
            wave + 1,
            count(counters.success),
            count(counters.success) + count(counters.fail),
            self.advance_if
        );
        self.waves[wave].state = WaveState::Finished {
            task_id,
            status: status.into(),
            counters,
            at,
        };
        if !met {
            self.state = PlanState::Halted { reason };
        } else if wave + 1 == self.waves.len() {
            self.state = PlanState::Done;
        }
        Ok(())
    }

    /// Halts the plan where it is, for a person to look (a listing that
    /// could not settle a lost create, reads failing for too long): the
    /// current wave keeps its state, so [`resume`](Self::resume) goes on
    /// exactly from there (settling, watching) without `force_advance`.
    pub fn halt(&mut self, reason: impl Into<String>) -> Result<(), PlanError> {
        let Position::At(wave) = self.position() else {
            return Err(PlanError::Transition {
                detail: "every wave is done; nothing to halt".to_owned(),
            });
        };
        if self.state != PlanState::Running {
            return Err(self.transition_error(wave, "halted"));
        }
        self.state = PlanState::Halted { reason: reason.into() };
        Ok(())
    }

    /// Records that wave `wave`'s create was refused before it was
    /// processed (nothing was created: e.g. IOTDA.014206, too many running
    /// tasks): the wave is pending again and the plan halted, intact;
    /// [`resume`](Self::resume) creates it then. Never for a lost answer:
    /// that is settled by listing.
    pub fn not_created(&mut self, wave: usize, reason: impl Into<String>) -> Result<(), PlanError> {
        if !matches!(self.wave_state(wave), Some(WaveState::Creating { .. })) || self.state != PlanState::Running {
            return Err(self.transition_error(wave, "pending (not created)"));
        }
        self.waves[wave].state = WaveState::Pending;
        self.state = PlanState::Halted { reason: reason.into() };
        Ok(())
    }

    /// Records that wave `wave`'s create, recorded but unanswered (a crash),
    /// was never processed: a listing long enough after the intent found no
    /// task with its name. The wave is pending again and the plan goes on
    /// (the next action creates it, once).
    pub fn create_not_found(&mut self, wave: usize) -> Result<(), PlanError> {
        if !matches!(self.wave_state(wave), Some(WaveState::Creating { .. })) || self.state != PlanState::Running {
            return Err(self.transition_error(wave, "pending (create not found)"));
        }
        self.waves[wave].state = WaveState::Pending;
        Ok(())
    }

    /// Records that wave `wave`'s task was stopped or deleted by someone
    /// else (`reason` says what was found): the wave is halted with its
    /// task, and so is the plan; going on past it takes `force_advance`.
    pub fn task_gone(&mut self, wave: usize, reason: impl Into<String>) -> Result<(), PlanError> {
        let task_id = match self.wave_state(wave) {
            Some(WaveState::Created { task_id } | WaveState::Watching { task_id })
                if self.state == PlanState::Running =>
            {
                task_id.clone()
            }
            _ => return Err(self.transition_error(wave, "halted")),
        };
        let reason = reason.into();
        self.waves[wave].state = WaveState::Halted {
            task_id,
            reason: reason.clone(),
        };
        self.state = PlanState::Halted { reason };
        Ok(())
    }

    /// Aborts the plan (a criterion tripped and the task was stopped, or
    /// `abort`). The current wave, if its task exists and has not finished,
    /// is marked aborted with it; a create in flight (not settled) is
    /// refused: settle it first, so a task that may exist is not forgotten.
    pub fn abort(&mut self, reason: impl Into<String>) -> Result<(), PlanError> {
        let reason = reason.into();
        match &self.state {
            PlanState::Running | PlanState::Halted { .. } => {}
            PlanState::Aborted { .. } | PlanState::Done => {
                return Err(PlanError::Transition {
                    detail: format!("the plan is already {}", self.state_name()),
                });
            }
        }
        if let Position::At(wave) = self.position() {
            match &self.waves[wave].state {
                // Nothing begun, or finished: the record stays as it is.
                WaveState::Pending | WaveState::Finished { .. } => {}
                WaveState::Creating { .. } => return Err(self.transition_error(wave, "aborted")),
                state => {
                    self.waves[wave].state = WaveState::Aborted {
                        task_id: state.task_id().cloned(),
                        reason: reason.clone(),
                    };
                }
            }
        }
        self.state = PlanState::Aborted { reason };
        Ok(())
    }

    /// Continues a halted plan, at `at`, from exactly where it is. A wave
    /// that finished below `advance_if`, or whose task was stopped or
    /// deleted by someone else, is gone past only with `force_advance` (a
    /// person has looked; the next wave then starts without a pause);
    /// without it the error says why. A running plan is left as it is; an
    /// aborted or done one is refused.
    pub fn resume(&mut self, force_advance: bool, at: Timestamp) -> Result<(), PlanError> {
        let reason = match &self.state {
            PlanState::Running => return Ok(()),
            PlanState::Halted { reason } => reason.clone(),
            PlanState::Aborted { .. } | PlanState::Done => {
                return Err(PlanError::Transition {
                    detail: format!("the plan is {}; there is nothing to resume", self.state_name()),
                });
            }
        };
        let Position::At(wave) = self.position() else {
            unreachable!("`check` refuses a halted plan with every wave passed")
        };
        if matches!(
            self.waves[wave].state,
            WaveState::Finished { .. } | WaveState::Halted { .. }
        ) {
            if !force_advance {
                return Err(PlanError::NeedsForce { wave: wave + 1, reason });
            }
            self.waves[wave].forced_at = Some(at);
        }
        self.state = if matches!(self.position(), Position::AllPassed) {
            PlanState::Done
        } else {
            PlanState::Running
        };
        Ok(())
    }

    fn wave_state(&self, wave: usize) -> Option<&WaveState> {
        self.waves.get(wave).map(|w| &w.state)
    }

    fn state_name(&self) -> &'static str {
        self.state.kind()
    }

    /// Checks every invariant a plan holds (a hand-edited file may break
    /// them): the error names the field.
    fn check(&self) -> Result<(), PlanError> {
        let invalid = |field: &str, rule: String| -> PlanError { InvalidInput::new(field.to_owned(), rule).into() };
        if self.plan_id.len() != PLAN_ID_LEN
            || !self
                .plan_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid(
                "plan_id",
                format!("must be {PLAN_ID_LEN} lowercase hex digits"),
            ));
        }
        if validation::endpoint(&self.endpoint)?.base_url != self.endpoint {
            return Err(invalid("endpoint", "is not normalised (no trailing '/')".to_owned()));
        }
        self.task.validate()?;
        self.waves_spec.parse::<WaveSpec>()?;
        if self.guard.abort_if.len() > MAX_CRITERIA {
            return Err(invalid(
                "guard.abort_if",
                format!("has more than {MAX_CRITERIA} criteria"),
            ));
        }
        self.guard.check()?;
        if self.pause_seconds > MAX_PAUSE_SECONDS {
            return Err(invalid("pause_seconds", format!("must be at most {MAX_PAUSE_SECONDS}")));
        }
        if !(1..=MAX_INTERVAL_SECONDS).contains(&self.interval_seconds) {
            return Err(invalid(
                "interval_seconds",
                format!("must be 1 to {MAX_INTERVAL_SECONDS}"),
            ));
        }
        if self.waves.is_empty() {
            return Err(invalid("waves", "is empty".to_owned()));
        }
        let total: usize = self.waves.iter().map(|w| w.devices.len()).sum();
        let mut seen = HashSet::with_capacity(total);
        let max = limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS;
        for (i, wave) in self.waves.iter().enumerate() {
            let field = || format!("waves[{i}]");
            if wave.devices.is_empty() || wave.devices.len() > max {
                return Err(invalid(&field(), format!("must have 1 to {max} devices")));
            }
            for device in &wave.devices {
                validation::target(0, device)
                    .map_err(|e| invalid(&format!("waves[{i}].devices"), e.rule().to_owned()))?;
                if !seen.insert(device.as_str()) {
                    return Err(invalid(
                        &format!("waves[{i}].devices"),
                        "names a device that is in an earlier wave; a device is in exactly one wave".to_owned(),
                    ));
                }
            }
            if let WaveState::Creating { task_name, .. } = &wave.state
                && *task_name != self.wave_task_name(i)
            {
                return Err(invalid(
                    &format!("waves[{i}].task_name"),
                    format!("must be {}", self.wave_task_name(i)),
                ));
            }
            if wave.forced_at.is_some() && !matches!(wave.state, WaveState::Finished { .. } | WaveState::Halted { .. })
            {
                return Err(invalid(
                    &format!("waves[{i}].forced_at"),
                    "is only for a finished or halted wave".to_owned(),
                ));
            }
        }
        // Passed waves, then at most one current wave, then pending ones.
        let current = match self.position() {
            Position::At(i) => Some(i),
            Position::AllPassed => None,
        };
        if let Some(c) = current
            && let Some(j) = (c + 1..self.waves.len()).find(|&j| self.waves[j].state != WaveState::Pending)
        {
            return Err(invalid(
                &format!("waves[{j}].state"),
                format!("must be pending while wave {} has not passed", c + 1),
            ));
        }
        let state = current.map(|c| &self.waves[c].state);
        let consistent = match (&self.state, state) {
            (PlanState::Done, None) => true,
            (PlanState::Done, Some(_)) | (_, None) => false,
            (PlanState::Running, Some(s)) => matches!(
                s,
                WaveState::Pending
                    | WaveState::Creating { .. }
                    | WaveState::Created { .. }
                    | WaveState::Watching { .. }
            ),
            (PlanState::Halted { .. }, Some(s)) => !matches!(s, WaveState::Aborted { .. }),
            (PlanState::Aborted { .. }, Some(s)) => matches!(
                s,
                WaveState::Pending | WaveState::Finished { .. } | WaveState::Aborted { .. }
            ),
        };
        if !consistent {
            return Err(invalid(
                "state",
                format!(
                    "the plan is {} but {}",
                    self.state_name(),
                    match (current, state) {
                        (Some(c), Some(s)) => format!("wave {} is {}", c + 1, s.kind()),
                        _ => "every wave is done".to_owned(),
                    }
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan {} ({} waves, {})",
            self.plan_id,
            self.waves.len(),
            self.state_name()
        )
    }
}

/// RFC 3339 timestamps in the plan file (jiff's own format).
mod timestamp {
    use jiff::Timestamp;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(at)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    pub(super) mod option {
        use jiff::Timestamp;
        use serde::{Deserialize as _, Deserializer, Serializer};

        pub(in super::super) fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.collect_str(at),
                None => s.serialize_none(),
            }
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Option::<std::borrow::Cow<'de, str>>::deserialize(d)?
                .map(|text| text.parse().map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn task(n: u8) -> types::TaskId {
        validation::task_id(&format!("{n:024x}")).unwrap()
    }

    fn counters(success: i64, fail: i64) -> TaskProgress {
        TaskProgress {
            success: Some(success),
            fail: Some(fail),
            total: Some(success + fail),
            ..TaskProgress::default()
        }
    }

    /// Three waves of 1, 2 and 3 devices, 60 s apart, advancing at 90%.
    fn plan() -> Plan {
        Plan::builder(
            "http://127.0.0.1:8080/",
            "0123456789ABCDEF",
            RolloutTaskType::FirmwareUpgrade,
            ["a", "b", "b", "c", "d", "e", "f"],
            "1,3,all".parse().unwrap(),
        )
        .advance_if("success>=90%".parse().unwrap())
        .pause_seconds(60)
        .build(at(0))
        .unwrap()
    }

    /// Runs wave `wave` from pending to finished with these counters.
    fn run_wave(plan: &mut Plan, wave: usize, success: i64, fail: i64, finished_at: Timestamp) {
        plan.begin_create(wave, finished_at, None).unwrap();
        plan.created(wave, task(wave as u8 + 1)).unwrap();
        plan.watching(wave).unwrap();
        plan.finished(wave, "Success", counters(success, fail), finished_at)
            .unwrap();
    }

    fn roundtrip(plan: &Plan) -> Plan {
        let json = serde_json::to_string(plan).unwrap();
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    #[test]
    fn a_plan_splits_its_deduplicated_targets_and_names_its_tasks() {
        let plan = plan();
        let waves: Vec<Vec<&str>> = plan
            .waves()
            .iter()
            .map(|w| w.devices.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(waves, [vec!["a"], vec!["b", "c"], vec!["d", "e", "f"]]);
        assert_eq!(plan.endpoint(), "http://127.0.0.1:8080");
        assert_eq!(plan.plan_id().len(), PLAN_ID_LEN);
        let name = plan.wave_task_name(2);
        assert_eq!(name, format!("rollout_{}_wave3", plan.plan_id()));
        assert!(name.parse::<types::TaskName>().is_ok(), "a valid CreateBatchTask name");
        assert_eq!(roundtrip(&plan), plan);
    }

    #[test]
    fn the_plan_id_is_derived_from_the_inputs_and_the_time() {
        let build = |devices: &[&str], created: Timestamp| {
            Plan::builder(
                "http://127.0.0.1:8080",
                "0123456789abcdef",
                RolloutTaskType::FirmwareUpgrade,
                devices.iter().copied(),
                "all".parse().unwrap(),
            )
            .build(created)
            .unwrap()
            .plan_id()
            .to_owned()
        };
        assert_eq!(build(&["a"], at(0)), build(&["a"], at(0)));
        assert_ne!(build(&["a"], at(0)), build(&["a"], at(1)));
        assert_ne!(build(&["a"], at(0)), build(&["b"], at(0)));
    }

    #[test]
    fn every_transition_of_a_rollout_that_succeeds() {
        let mut plan = plan();
        assert_eq!(plan.next_action(at(0)), Action::Create { wave: 0 });
        let name = plan.begin_create(0, at(1), None).unwrap();
        assert_eq!(name, plan.wave_task_name(0));
        assert_eq!(
            plan.next_action(at(1)),
            Action::Settle {
                wave: 0,
                task_name: name
            }
        );
        plan.created(0, task(1)).unwrap();
        assert_eq!(
            plan.next_action(at(2)),
            Action::Watch {
                wave: 0,
                task_id: task(1)
            }
        );
        plan.watching(0).unwrap();
        assert_eq!(
            plan.next_action(at(3)),
            Action::Watch {
                wave: 0,
                task_id: task(1)
            }
        );
        plan.finished(0, "Success", counters(1, 0), at(100)).unwrap();
        assert_eq!(plan.state(), &PlanState::Running);
        // The pause counts from the finish.
        assert_eq!(
            plan.next_action(at(100)),
            Action::Pause {
                wave: 1,
                until: at(160)
            }
        );
        assert_eq!(
            plan.next_action(at(159)),
            Action::Pause {
                wave: 1,
                until: at(160)
            }
        );
        assert_eq!(plan.next_action(at(160)), Action::Create { wave: 1 });
        run_wave(&mut plan, 1, 2, 0, at(200));
        assert_eq!(plan.next_action(at(260)), Action::Create { wave: 2 });
        // 9 of 10 is exactly 90%: the last wave passes and the plan is done.
        plan.begin_create(2, at(260), None).unwrap();
        plan.created(2, task(3)).unwrap();
        plan.finished(2, "PartialSuccess", counters(9, 1), at(300)).unwrap();
        assert_eq!(plan.state(), &PlanState::Done);
        assert_eq!(plan.next_action(at(300)), Action::Done);
        assert_eq!(roundtrip(&plan), plan);
    }

    #[test]
    fn a_wave_below_advance_if_halts_until_forced() {
        let mut plan = plan();
        run_wave(&mut plan, 0, 1, 0, at(10));
        plan.begin_create(1, at(70), None).unwrap();
        plan.created(1, task(2)).unwrap();
        plan.finished(1, "PartialSuccess", counters(8, 2), at(80)).unwrap();
        let Action::Halted { reason } = plan.next_action(at(1000)) else {
            panic!("{:?}", plan.next_action(at(1000)))
        };
        assert!(
            reason.contains("wave 2 finished with 8 Success of 10 finished"),
            "{reason}"
        );
        assert_eq!(roundtrip(&plan), plan);
        // Nothing moves while halted.
        assert!(matches!(
            plan.begin_create(2, at(1000), None),
            Err(PlanError::Transition { .. })
        ));
        let err = plan.resume(false, at(1000)).unwrap_err();
        assert!(matches!(err, PlanError::NeedsForce { wave: 2, .. }), "{err}");
        assert!(err.to_string().contains("--force-advance"));
        plan.resume(true, at(1000)).unwrap();
        // Forced: the next wave starts at once, no pause.
        assert_eq!(plan.next_action(at(1000)), Action::Create { wave: 2 });
        assert_eq!(roundtrip(&plan), plan);
    }

    #[test]
    fn forcing_past_the_last_wave_finishes_the_plan() {
        let mut plan = plan();
        run_wave(&mut plan, 0, 1, 0, at(10));
        run_wave(&mut plan, 1, 2, 0, at(80));
        run_wave(&mut plan, 2, 1, 2, at(200));
        assert!(matches!(plan.state(), PlanState::Halted { .. }));
        plan.resume(true, at(300)).unwrap();
        assert_eq!(plan.state(), &PlanState::Done);
        assert_eq!(plan.next_action(at(300)), Action::Done);
        assert!(matches!(plan.resume(true, at(301)), Err(PlanError::Transition { .. })));
    }

    #[test]
    fn a_refused_create_halts_and_resumes_as_pending() {
        let mut plan = plan();
        // IOTDA.014206 (too many running tasks): nothing was created.
        plan.begin_create(0, at(1), None).unwrap();
        assert!(plan.not_created(1, "x").is_err(), "only the wave being created");
        plan.not_created(0, "IOTDA.014206: 10 tasks are running").unwrap();
        assert_eq!(plan.waves()[0].state, WaveState::Pending);
        assert_eq!(
            plan.next_action(at(2)),
            Action::Halted {
                reason: "IOTDA.014206: 10 tasks are running".to_owned()
            }
        );
        assert_eq!(roundtrip(&plan), plan);
        assert!(plan.not_created(0, "again").is_err(), "nothing in flight");
        plan.resume(false, at(3)).unwrap();
        assert_eq!(plan.next_action(at(3)), Action::Create { wave: 0 });
    }

    #[test]
    fn a_halt_keeps_the_wave_where_it_is() {
        let mut plan = plan();
        // A lost create that listing could not settle: halted while
        // creating, and resumed by settling again, never by creating.
        let name = plan.begin_create(0, at(1), None).unwrap();
        plan.halt("the create's answer was lost and listing did not find the task")
            .unwrap();
        assert!(matches!(plan.next_action(at(2)), Action::Halted { .. }));
        assert_eq!(roundtrip(&plan), plan);
        assert!(plan.halt("twice").is_err());
        plan.resume(false, at(3)).unwrap();
        assert_eq!(
            plan.next_action(at(3)),
            Action::Settle {
                wave: 0,
                task_name: name
            }
        );
        // While watching: resumed by watching again.
        plan.created(0, task(1)).unwrap();
        plan.watching(0).unwrap();
        plan.halt("reads failed for 10 minutes").unwrap();
        assert_eq!(roundtrip(&plan), plan);
        plan.resume(false, at(4)).unwrap();
        assert_eq!(
            plan.next_action(at(4)),
            Action::Watch {
                wave: 0,
                task_id: task(1)
            }
        );
    }

    #[test]
    fn a_task_stopped_by_someone_else_halts_and_needs_force() {
        let mut plan = plan();
        plan.begin_create(0, at(1), None).unwrap();
        assert!(plan.task_gone(0, "x").is_err(), "no task yet");
        plan.created(0, task(1)).unwrap();
        plan.watching(0).unwrap();
        plan.task_gone(0, "the task was stopped by someone else").unwrap();
        assert_eq!(plan.waves()[0].state.task_id(), Some(&task(1)));
        assert_eq!(roundtrip(&plan), plan);
        assert!(matches!(
            plan.resume(false, at(5)),
            Err(PlanError::NeedsForce { wave: 1, .. })
        ));
        plan.resume(true, at(5)).unwrap();
        assert_eq!(plan.next_action(at(5)), Action::Create { wave: 1 });
        assert_eq!(roundtrip(&plan), plan);
    }

    #[test]
    fn abort_marks_the_current_wave_and_is_final() {
        let mut plan = plan();
        plan.begin_create(0, at(1), None).unwrap();
        assert!(
            matches!(plan.abort("x"), Err(PlanError::Transition { .. })),
            "a create in flight is settled before aborting"
        );
        plan.created(0, task(1)).unwrap();
        plan.watching(0).unwrap();
        plan.abort("failed>=5% tripped; the task was stopped").unwrap();
        assert_eq!(
            plan.waves()[0].state,
            WaveState::Aborted {
                task_id: Some(task(1)),
                reason: "failed>=5% tripped; the task was stopped".to_owned()
            }
        );
        assert!(matches!(plan.next_action(at(2)), Action::Aborted { .. }));
        assert_eq!(roundtrip(&plan), plan);
        assert!(matches!(plan.resume(true, at(3)), Err(PlanError::Transition { .. })));
        assert!(matches!(plan.abort("again"), Err(PlanError::Transition { .. })));
    }

    #[test]
    fn abort_during_a_pause_leaves_the_next_wave_pending() {
        let mut plan = plan();
        run_wave(&mut plan, 0, 1, 0, at(10));
        plan.abort("by hand").unwrap();
        assert_eq!(plan.waves()[1].state, WaveState::Pending);
        assert_eq!(roundtrip(&plan), plan);
    }

    #[test]
    fn abort_of_a_halted_plan_keeps_a_finished_waves_record() {
        let mut plan = plan();
        run_wave(&mut plan, 0, 0, 1, at(10));
        assert!(matches!(plan.state(), PlanState::Halted { .. }));
        plan.abort("by hand").unwrap();
        assert!(matches!(plan.waves()[0].state, WaveState::Finished { .. }));
        assert!(matches!(plan.next_action(at(11)), Action::Aborted { .. }));
        assert_eq!(roundtrip(&plan), plan);
        // A task stopped by someone else, then aborted: aborted with its task.
        let mut plan = self::plan();
        plan.begin_create(0, at(1), None).unwrap();
        plan.created(0, task(1)).unwrap();
        plan.task_gone(0, "deleted").unwrap();
        plan.abort("by hand").unwrap();
        assert_eq!(plan.waves()[0].state.task_id(), Some(&task(1)));
        assert!(matches!(plan.waves()[0].state, WaveState::Aborted { .. }));
        assert_eq!(roundtrip(&plan), plan);
    }

    #[test]
    fn out_of_order_transitions_are_refused() {
        let mut plan = plan();
        assert!(plan.created(0, task(1)).is_err());
        assert!(plan.watching(0).is_err());
        assert!(plan.finished(0, "Success", counters(1, 0), at(1)).is_err());
        assert!(plan.begin_create(1, at(1), None).is_err(), "wave 2 before wave 1");
        assert!(plan.begin_create(9, at(1), None).is_err());
        plan.begin_create(0, at(1), None).unwrap();
        assert!(plan.begin_create(0, at(1), None).is_err(), "never two intents");
        assert!(plan.watching(0).is_err());
    }

    #[test]
    fn bad_inputs_are_refused_before_a_plan_exists() {
        let build = |endpoint: &str, project: &str, targets: Vec<&str>, waves: &str| {
            Plan::builder(
                endpoint,
                project,
                RolloutTaskType::SoftwareUpgrade,
                targets,
                waves.parse().unwrap(),
            )
            .build(at(0))
        };
        let field = |r: Result<Plan, PlanError>| match r {
            Err(PlanError::Invalid(e)) => e.field().to_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(build("http://127.0.0.1:1", "abc", vec![], "all")), "targets");
        assert_eq!(
            field(build("http://127.0.0.1:1", "abc", vec!["a b"], "all")),
            "targets[0]"
        );
        assert_eq!(field(build("http://example.com", "abc", vec!["a"], "all")), "endpoint");
        assert_eq!(
            field(build("http://127.0.0.1:1", "xyz", vec!["a"], "all")),
            "project_id"
        );
        assert_eq!(field(build("http://127.0.0.1:1", "abc", vec!["a"], "1,all")), "waves");
        let interval = Plan::builder(
            "http://127.0.0.1:1",
            "abc",
            RolloutTaskType::FirmwareUpgrade,
            ["a"],
            "all".parse().unwrap(),
        )
        .interval_seconds(0)
        .build(at(0));
        assert_eq!(field(interval), "interval_seconds");
        let pause = Plan::builder(
            "http://127.0.0.1:1",
            "abc",
            RolloutTaskType::FirmwareUpgrade,
            ["a"],
            "all".parse().unwrap(),
        )
        .pause_seconds(MAX_PAUSE_SECONDS + 1)
        .build(at(0));
        assert_eq!(field(pause), "pause_seconds");
        let options = TaskOptions {
            task_policy: Some(types::NewTaskPolicy {
                retry_count: std::num::NonZeroU64::new(6),
                retry_interval: Some(1),
                schedule_time: None,
            }),
            ..TaskOptions::default()
        };
        let retry = Plan::builder(
            "http://127.0.0.1:1",
            "abc",
            RolloutTaskType::FirmwareUpgrade,
            ["a"],
            "all".parse().unwrap(),
        )
        .task(options)
        .build(at(0));
        assert_eq!(field(retry), "task_policy.retry_count");
        let scheduled: TaskOptions =
            serde_json::from_value(serde_json::json!({"task_policy": {"schedule_time": "20260102T030405Z"}})).unwrap();
        let scheduled = Plan::builder(
            "http://127.0.0.1:1",
            "abc",
            RolloutTaskType::FirmwareUpgrade,
            ["a"],
            "all".parse().unwrap(),
        )
        .task(scheduled)
        .build(at(0));
        assert_eq!(field(scheduled), "task_policy.schedule_time");
    }

    #[test]
    fn hand_edited_invariants_are_refused_on_read() {
        let mut done = plan();
        run_wave(&mut done, 0, 1, 0, at(10));
        let json = serde_json::to_value(&done).unwrap();
        let refused = |edit: &dyn Fn(&mut Value)| {
            let mut value = json.clone();
            edit(&mut value);
            serde_json::from_value::<Plan>(value).unwrap_err().to_string()
        };
        // A device moved into a second wave.
        let err = refused(&|v| v["waves"][2]["devices"][0] = "a".into());
        assert!(err.contains("in an earlier wave"), "{err}");
        // A later wave begun while an earlier one has not passed.
        let err = refused(&|v| {
            v["waves"][2]["state"] = serde_json::json!({"kind": "created", "task_id": "00000000000000000000000f"})
        });
        assert!(err.contains("must be pending"), "{err}");
        // A creating wave under another name (it could not be found again).
        let err = refused(&|v| {
            v["waves"][1]["state"] =
                serde_json::json!({"kind": "creating", "intent_at": "2027-01-01T00:00:00Z", "task_name": "other"})
        });
        assert!(err.contains("task_name"), "{err}");
        // Done while a wave is pending.
        let err = refused(&|v| v["state"] = serde_json::json!({"kind": "done"}));
        assert!(err.contains("the plan is done but wave 2 is pending"), "{err}");
        // An unknown field (a typo) and an invalid advance_if.
        assert!(refused(&|v| v["pause_secs"] = 1.into()).contains("unknown field"));
        assert!(refused(&|v| v["advance_if"] = "success>=200%".into()).contains("advance_if"));
        assert!(refused(&|v| v["guard"]["abort_if"] = serde_json::json!(["failed >= 5%"])).contains("abort_if"));
        assert!(refused(&|v| v["plan_id"] = "ABC".into()).contains("plan_id"));
        assert!(refused(&|v| v["version"] = 0.into()).contains("version"));
        let err = refused(&|v| v["version"] = 2.into());
        assert!(
            err.contains("version 2 is newer than this program supports (1)"),
            "{err}"
        );
    }

    #[test]
    fn check_target_refuses_another_endpoint_or_project() {
        let plan = plan();
        plan.check_target("http://127.0.0.1:8080/", "0123456789abcdef").unwrap();
        for (endpoint, project) in [
            ("http://127.0.0.1:8081", "0123456789abcdef"),
            ("http://127.0.0.1:8080", "0123456789abcdee"),
        ] {
            let err = plan.check_target(endpoint, project).unwrap_err();
            assert!(matches!(err, PlanError::WrongTarget { .. }), "{err}");
        }
    }
}
