//! The emulator's mutable data: tasks, their sub-tasks, and the pure
//! operations on them, with Huawei's state rules: Stop, Retry and Confirm
//! per target, Create within the account limits, Delete of finished tasks,
//! and `Stopping` settling on reads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;

use crate::progression::{AutoRetry, Progression};
use crate::seed::{Seed, SeedTask, Stoppable as _, TaskDetailStatus, TaskStatus, TaskType};
use iotda_batchtask::types;

/// A task's state at one moment, for tests and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    /// Project ID.
    pub project_id: String,
    /// Task ID.
    pub task_id: String,
    /// Task type.
    pub task_type: TaskType,
    /// The task's status.
    pub status: TaskStatus,
    /// Each sub-task's status, by device ID.
    pub subtasks: BTreeMap<String, TaskDetailStatus>,
    /// The task's name (`{task_type}-{task_id}` for seeded tasks).
    pub task_name: String,
    /// Whether the task was created with `need_confirm: true`.
    pub need_confirm: bool,
}

impl TaskSnapshot {
    /// How many sub-tasks are in `status`.
    pub fn count(&self, status: TaskDetailStatus) -> usize {
        self.subtasks.values().filter(|s| **s == status).count()
    }
}

/// Creation time of the first seeded task (2024-10-23T00:00:00Z, the date of
/// the reference page); each later task is one minute younger. Fixed so that
/// record IDs and `create_time` are the same on every run.
const FIRST_CREATE_SECOND: i64 = 1_729_641_600;

pub(crate) struct Subtask {
    pub(crate) target: String,
    pub(crate) status: TaskDetailStatus,
    /// 24 lowercase hex, increasing with creation order (like IoTDA's record
    /// IDs, whose newer records have larger IDs).
    pub(crate) record_id: String,
    /// When (on the emulator's clock) the task's [`Progression`] next moves
    /// this sub-task; `None` when nothing will.
    next_at: Option<Duration>,
    /// Automatic retries used so far.
    retries: u32,
}

pub(crate) struct Task {
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) task_type: TaskType,
    pub(crate) status: TaskStatus,
    pub(crate) create_time: String,
    pub(crate) task_name: String,
    pub(crate) need_confirm: bool,
    /// The resource space given at creation; seeded tasks have none.
    pub(crate) app_id: Option<String>,
    /// What a create asked for that the emulator only echoes (document,
    /// filter, policy, extra information, mode); empty for seeded tasks.
    pub(crate) echo: types::Task,
    /// The task's own record ID (24 hex, larger for newer tasks), for
    /// ListBatchTasks' marker.
    pub(crate) record_id: String,
    /// In creation order, so record IDs ascend.
    pub(crate) subtasks: Vec<Subtask>,
    by_target: HashMap<String, usize>,
    /// The first 12 hex digits of every record ID, for sub-tasks added later.
    record_prefix: String,
    /// Reads left before a `Stopping` task becomes `Stopped`.
    stopping_reads_left: u32,
    /// How the sub-tasks move by themselves, and the retries they get.
    progression: Option<(Progression, Option<AutoRetry>)>,
}

/// The three operations with Stop's `BatchTargets` body and per-target answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Targeted {
    Stop,
    Retry,
    Confirm,
}

impl Targeted {
    /// The task types the operation accepts (Huawei's definitions).
    pub(crate) fn accepts_type(self, task_type: TaskType) -> bool {
        match self {
            Self::Stop | Self::Retry => matches!(task_type, TaskType::FirmwareUpgrade | TaskType::SoftwareUpgrade),
            Self::Confirm => matches!(
                task_type,
                TaskType::FirmwareUpgrade | TaskType::SoftwareUpgrade | TaskType::ModuleUpgrade
            ),
        }
    }

    /// The task statuses the operation accepts: Huawei forbids Stop and
    /// Confirm on finished and Stopping tasks, Retry on Success, Stopped,
    /// Stopping, Waitting and Initializing ones.
    pub(crate) fn accepts_status(self, status: TaskStatus) -> bool {
        match self {
            Self::Stop | Self::Confirm => status.is_stoppable(),
            Self::Retry => matches!(
                status,
                TaskStatus::Processing | TaskStatus::Fail | TaskStatus::PartialSuccess
            ),
        }
    }

    /// The sub-task statuses the operation acts on (what `{}` selects).
    pub(crate) fn acts_on(self, status: TaskDetailStatus) -> bool {
        match self {
            Self::Stop => status.is_stoppable(),
            Self::Retry => matches!(
                status,
                TaskDetailStatus::Fail | TaskDetailStatus::FailWaitRetry | TaskDetailStatus::Stopped
            ),
            Self::Confirm => status == TaskDetailStatus::Waitting,
        }
    }

    /// A sub-task's status once acted on.
    fn result(self) -> TaskDetailStatus {
        match self {
            Self::Stop => TaskDetailStatus::Stopped,
            Self::Retry | Self::Confirm => TaskDetailStatus::Processing,
        }
    }

    /// The verb for messages: "stopped", "retried", "confirmed".
    pub(crate) fn past(self) -> &'static str {
        match self {
            Self::Stop => "stopped",
            Self::Retry => "retried",
            Self::Confirm => "confirmed",
        }
    }
}

/// What a Stop, Retry or Confirm request asks for.
pub(crate) enum Scope {
    /// `{}`: every sub-task the operation acts on.
    All,
    /// These targets, in request order (may repeat).
    Targets(Vec<String>),
}

/// The result of one target, before it becomes JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetOutcome {
    Done,
    NotInTask,
    /// The sub-task is in a status the operation does not act on.
    Refused(TaskDetailStatus),
}

/// Why a task refuses a Stop, Retry or Confirm as a whole.
pub(crate) enum Refusal {
    NoSuchTask,
    Type(TaskType),
    Status(TaskStatus),
    /// A confirm of a task created without `need_confirm`.
    NotConfirmable,
}

/// Why a task could not be created.
pub(crate) enum CreateRefusal {
    /// The project already has this many running tasks.
    TooManyRunning(usize),
    /// The emulator holds [`MAX_TASKS`] tasks or would exceed
    /// [`MAX_SUB_TASKS`] sub-tasks.
    Full,
}

/// The most tasks the emulator holds; CreateBatchTask is refused beyond it,
/// so a long-running emulator cannot be grown without bound.
pub const MAX_TASKS: usize = 1_000;

/// The most sub-tasks the emulator holds over all its tasks; CreateBatchTask
/// is refused beyond it.
pub const MAX_SUB_TASKS: usize = 1_000_000;

/// Why a task could not be deleted.
pub(crate) enum DeleteRefusal {
    NoSuchTask,
    NotFinished(TaskStatus),
}

/// A task to create, checked by the caller.
pub(crate) struct NewTask {
    pub(crate) task_type: TaskType,
    pub(crate) task_name: String,
    pub(crate) targets: Vec<String>,
    pub(crate) need_confirm: bool,
    pub(crate) app_id: Option<String>,
    pub(crate) echo: types::Task,
}

/// The emulator's rules that configuration can change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub(crate) max_running_tasks: usize,
    pub(crate) stopping_reads: u32,
}

pub(crate) struct State {
    tasks: Vec<Task>,
    index: HashMap<(String, String), usize>,
    /// The ordinal the next created task gets (after every seeded one).
    next_ordinal: usize,
    rules: Rules,
    /// The emulator's clock as of the last [`State::advance_to`].
    now: Duration,
    /// The progression of tasks created through CreateBatchTask.
    default_progression: Option<Progression>,
}

/// Whether a task counts towards the running-tasks limit.
fn is_running(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Initializing | TaskStatus::Waitting | TaskStatus::Processing | TaskStatus::Stopping
    )
}

/// Whether DeleteBatchTask accepts a task (Huawei: finished tasks only).
fn is_finished(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Success | TaskStatus::Fail | TaskStatus::PartialSuccess | TaskStatus::Stopped
    )
}

impl State {
    /// The state of `seed`; tasks created later move by `default_progression`
    /// (the seed's own when `None`).
    pub(crate) fn new(seed: &Seed, rules: Rules, default_progression: Option<Progression>) -> Self {
        let mut tasks = Vec::with_capacity(seed.tasks().len());
        for (ordinal, task) in seed.tasks().iter().enumerate() {
            let need_confirm = seed.needs_confirm(&task.project_id, &task.task_id);
            let mut new = Task::new(task, ordinal, need_confirm);
            if let Some(progression) = seed.progression(&task.project_id, &task.task_id) {
                let retry = progression.retry_for(None, false);
                new.start_progression(progression.clone(), retry, Duration::ZERO);
            }
            tasks.push(new);
        }
        let mut state = Self {
            next_ordinal: tasks.len(),
            tasks,
            index: HashMap::new(),
            rules,
            now: Duration::ZERO,
            default_progression: default_progression.or_else(|| seed.default_progression().cloned()),
        };
        state.reindex();
        state
    }

    fn reindex(&mut self) {
        self.index = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.project_id.clone(), t.task_id.clone()), i))
            .collect();
    }

    pub(crate) fn task(&self, project_id: &str, task_id: &str) -> Option<&Task> {
        let i = *self.index.get(&(project_id.to_owned(), task_id.to_owned()))?;
        self.tasks.get(i)
    }

    fn task_mut(&mut self, project_id: &str, task_id: &str) -> Option<&mut Task> {
        let i = *self.index.get(&(project_id.to_owned(), task_id.to_owned()))?;
        self.tasks.get_mut(i)
    }

    /// How many sub-tasks all tasks hold together.
    fn sub_task_count(&self) -> usize {
        self.tasks.iter().map(|t| t.subtasks.len()).sum()
    }

    /// The project's tasks, newest first (as ListBatchTasks pages them).
    pub(crate) fn tasks_of<'a>(&'a self, project_id: &'a str) -> impl Iterator<Item = &'a Task> {
        let mut tasks: Vec<&Task> = self.tasks.iter().filter(|t| t.project_id == project_id).collect();
        tasks.sort_by(|a, b| b.record_id.cmp(&a.record_id));
        tasks.into_iter()
    }

    pub(crate) fn to_seed(&self) -> Seed {
        Seed {
            tasks: self.tasks.iter().map(Task::to_seed_task).collect(),
            need_confirm: self
                .tasks
                .iter()
                .filter(|t| t.need_confirm)
                .map(|t| (t.project_id.clone(), t.task_id.clone()))
                .collect(),
            progressions: self
                .tasks
                .iter()
                .filter_map(|t| {
                    Some((
                        (t.project_id.clone(), t.task_id.clone()),
                        t.progression.as_ref()?.0.clone(),
                    ))
                })
                .collect(),
            default_progression: self.default_progression.clone(),
        }
    }

    /// Moves every progressing task's sub-tasks up to `now` on the
    /// emulator's clock (never backwards), each transition at its own time,
    /// and lets the tasks' statuses follow.
    pub(crate) fn advance_to(&mut self, now: Duration) {
        if now <= self.now {
            return;
        }
        self.now = now;
        for task in &mut self.tasks {
            task.advance_to(now);
        }
    }

    /// Records that a client read the task (ShowBatchTask, or a
    /// ListBatchTasks page listing it), after its answer was built: a
    /// `Stopping` task settles to `Stopped` once its reads are used up.
    pub(crate) fn note_read(&mut self, project_id: &str, task_id: &str) {
        if let Some(task) = self.task_mut(project_id, task_id)
            && task.status == TaskStatus::Stopping
        {
            task.stopping_reads_left = task.stopping_reads_left.saturating_sub(1);
            if task.stopping_reads_left == 0 {
                task.status = TaskStatus::Stopped;
            }
        }
    }

    /// Applies a Stop, Retry or Confirm. Outcomes come back in request order,
    /// one per distinct target (a repeat is answered once, at its first
    /// position).
    ///
    /// All decisions are made before anything changes, and the changes are
    /// plain assignments, so a request is applied entirely or not at all.
    pub(crate) fn apply(
        &mut self,
        op: Targeted,
        project_id: &str,
        task_id: &str,
        scope: &Scope,
    ) -> Result<Vec<(String, TargetOutcome)>, Refusal> {
        let stopping_reads = self.rules.stopping_reads;
        let now = self.now;
        let task = self.task_mut(project_id, task_id).ok_or(Refusal::NoSuchTask)?;
        if !op.accepts_type(task.task_type) {
            return Err(Refusal::Type(task.task_type));
        }
        if !op.accepts_status(task.status) {
            return Err(Refusal::Status(task.status));
        }
        if op == Targeted::Confirm && !task.need_confirm {
            return Err(Refusal::NotConfirmable);
        }
        let mut to_change = Vec::new();
        let mut outcomes = Vec::new();
        match scope {
            Scope::All => {
                for (i, sub) in task.subtasks.iter().enumerate() {
                    if op.acts_on(sub.status) {
                        to_change.push(i);
                        outcomes.push((sub.target.clone(), TargetOutcome::Done));
                    }
                }
            }
            Scope::Targets(targets) => {
                let mut seen = HashSet::new();
                for target in targets {
                    if !seen.insert(target.as_str()) {
                        continue;
                    }
                    let outcome = match task.by_target.get(target) {
                        None => TargetOutcome::NotInTask,
                        Some(&i) => match task.subtasks.get(i).map(|s| s.status) {
                            Some(status) if op.acts_on(status) => {
                                to_change.push(i);
                                TargetOutcome::Done
                            }
                            Some(status) => TargetOutcome::Refused(status),
                            None => TargetOutcome::NotInTask,
                        },
                    };
                    outcomes.push((target.clone(), outcome));
                }
            }
        }
        let changed = !to_change.is_empty();
        for i in to_change {
            if let Some(sub) = task.subtasks.get_mut(i) {
                sub.status = op.result();
                sub.retries = 0;
                sub.next_at = None;
            }
            // A stop freezes; a retried or confirmed sub-task runs again.
            if op != Targeted::Stop {
                task.schedule_run(i, now);
            }
        }
        match op {
            // Nothing left to run: the task as a whole is stopped, at once or
            // after its Stopping reads.
            Targeted::Stop if !task.subtasks.iter().any(|s| s.status.is_stoppable()) => {
                if stopping_reads == 0 {
                    task.status = TaskStatus::Stopped;
                } else {
                    task.status = TaskStatus::Stopping;
                    task.stopping_reads_left = stopping_reads;
                }
            }
            // Sub-tasks run again: a finished task is running again.
            Targeted::Retry if changed => task.status = TaskStatus::Processing,
            Targeted::Confirm if changed => task.status = TaskStatus::Processing,
            _ => {}
        }
        Ok(outcomes)
    }

    /// Adds a task, unless the project already has
    /// [`Rules::max_running_tasks`] running ones. A task with targets starts
    /// Processing, its sub-tasks Processing (Waitting with `need_confirm`);
    /// a task without targets (a filter or a file the emulator cannot
    /// resolve) has no sub-tasks and is Success at once.
    pub(crate) fn create(&mut self, project_id: &str, new: NewTask) -> Result<&Task, CreateRefusal> {
        let running = self
            .tasks
            .iter()
            .filter(|t| t.project_id == project_id && is_running(t.status))
            .count();
        if running >= self.rules.max_running_tasks {
            return Err(CreateRefusal::TooManyRunning(running));
        }
        if self.tasks.len() >= MAX_TASKS || self.sub_task_count().saturating_add(new.targets.len()) > MAX_SUB_TASKS {
            return Err(CreateRefusal::Full);
        }
        let ordinal = self.next_ordinal;
        self.next_ordinal = self.next_ordinal.saturating_add(1);
        let (status, sub_status) = match (new.targets.is_empty(), new.need_confirm) {
            (true, _) => (TaskStatus::Success, TaskDetailStatus::Processing),
            (false, true) => (TaskStatus::Processing, TaskDetailStatus::Waitting),
            (false, false) => (TaskStatus::Processing, TaskDetailStatus::Processing),
        };
        let seed = SeedTask {
            project_id: project_id.to_owned(),
            task_id: String::new(),
            task_type: new.task_type,
            status,
            subtasks: BTreeMap::new(),
        };
        let mut task = Task::new(&seed, ordinal, new.need_confirm);
        // The task ID is its record ID, like IoTDA's ObjectId-style IDs; a
        // seeded task could in theory hold it, so the next free one is taken.
        let mut id = task.record_id.clone();
        let mut bump = 0u64;
        while self.index.contains_key(&(project_id.to_owned(), id.clone())) {
            bump = bump.saturating_add(1);
            id = format!("{}{bump:012x}", task.record_prefix);
        }
        task.task_id = id;
        task.task_name = new.task_name;
        task.app_id = new.app_id;
        task.echo = new.echo;
        for target in new.targets {
            task.push_sub_task(target, sub_status);
        }
        if let Some(progression) = &self.default_progression {
            let retry = progression.retry_for(task.echo.task_policy.as_ref(), true);
            task.start_progression(progression.clone(), retry, self.now);
        }
        self.index
            .insert((task.project_id.clone(), task.task_id.clone()), self.tasks.len());
        self.tasks.push(task);
        Ok(self.tasks.last().expect("a task was just pushed"))
    }

    /// Removes a finished task.
    pub(crate) fn delete(&mut self, project_id: &str, task_id: &str) -> Result<(), DeleteRefusal> {
        let i = *self
            .index
            .get(&(project_id.to_owned(), task_id.to_owned()))
            .ok_or(DeleteRefusal::NoSuchTask)?;
        let status = self.tasks.get(i).map(|t| t.status).ok_or(DeleteRefusal::NoSuchTask)?;
        if !is_finished(status) {
            return Err(DeleteRefusal::NotFinished(status));
        }
        self.tasks.remove(i);
        self.reindex();
        Ok(())
    }
}

/// Why a live state change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The emulator has no such task.
    #[error("the emulator has no task {task_id} in project {project_id}")]
    NoSuchTask {
        /// The project ID asked for.
        project_id: String,
        /// The task ID asked for.
        task_id: String,
    },
    /// The task has no sub-task for this device.
    #[error("task {task_id} has no sub-task for device {device_id}")]
    NoSuchSubTask {
        /// The task ID.
        task_id: String,
        /// The device ID asked for.
        device_id: String,
    },
    /// The task already has a sub-task for this device.
    #[error("task {task_id} already has a sub-task for device {device_id}")]
    SubTaskExists {
        /// The task ID.
        task_id: String,
        /// The device ID.
        device_id: String,
    },
}

impl State {
    fn task_or_err(&mut self, project_id: &str, task_id: &str) -> Result<&mut Task, StateError> {
        self.task_mut(project_id, task_id)
            .ok_or_else(|| StateError::NoSuchTask {
                project_id: project_id.to_owned(),
                task_id: task_id.to_owned(),
            })
    }

    /// Sets one existing sub-task's status; the task's status is left alone.
    pub(crate) fn set_sub_task(
        &mut self,
        project_id: &str,
        task_id: &str,
        device_id: &str,
        status: TaskDetailStatus,
    ) -> Result<(), StateError> {
        let task = self.task_or_err(project_id, task_id)?;
        let sub = task
            .by_target
            .get(device_id)
            .copied()
            .and_then(|i| task.subtasks.get_mut(i))
            .ok_or_else(|| StateError::NoSuchSubTask {
                task_id: task_id.to_owned(),
                device_id: device_id.to_owned(),
            })?;
        sub.status = status;
        // Set by hand: the progression no longer moves it.
        sub.next_at = None;
        Ok(())
    }

    /// Appends a sub-task, with the next record ID.
    pub(crate) fn add_sub_task(
        &mut self,
        project_id: &str,
        task_id: &str,
        device_id: &str,
        status: TaskDetailStatus,
    ) -> Result<(), StateError> {
        let task = self.task_or_err(project_id, task_id)?;
        if task.by_target.contains_key(device_id) {
            return Err(StateError::SubTaskExists {
                task_id: task_id.to_owned(),
                device_id: device_id.to_owned(),
            });
        }
        task.push_sub_task(device_id.to_owned(), status);
        Ok(())
    }

    /// Sets a task's own status; its sub-tasks are left alone.
    pub(crate) fn set_task_status(
        &mut self,
        project_id: &str,
        task_id: &str,
        status: TaskStatus,
    ) -> Result<(), StateError> {
        self.task_or_err(project_id, task_id)?.status = status;
        Ok(())
    }
}

/// A progressing task's status from its sub-tasks: Processing while any is
/// Waitting, Processing or FailWaitRetry; then Success when all succeeded,
/// Fail when none did, PartialSuccess otherwise. A task without sub-tasks
/// keeps `current`.
fn follow(subtasks: &[Subtask], current: TaskStatus) -> TaskStatus {
    if subtasks.is_empty() {
        return current;
    }
    if subtasks.iter().any(|s| s.status.is_stoppable()) {
        return TaskStatus::Processing;
    }
    let succeeded = subtasks
        .iter()
        .filter(|s| s.status == TaskDetailStatus::Success)
        .count();
    match succeeded {
        0 => TaskStatus::Fail,
        n if n == subtasks.len() => TaskStatus::Success,
        _ => TaskStatus::PartialSuccess,
    }
}

impl Task {
    fn new(seed: &SeedTask, ordinal: usize, need_confirm: bool) -> Self {
        let created = FIRST_CREATE_SECOND.saturating_add(i64::try_from(ordinal).unwrap_or(i64::MAX).saturating_mul(60));
        let create_time = Timestamp::from_second(created)
            .map(iotda_batchtask_signing::format_sdk_date)
            .unwrap_or_default();
        // ObjectId-like: creation second, the task's ordinal, then the
        // sub-task's position (0 for the task itself). Unique within a task,
        // ascending in order.
        let prefix = format!("{:08x}{:04x}", created & 0xffff_ffff, ordinal & 0xffff);
        let mut task = Self {
            record_id: format!("{prefix}{:012x}", 0),
            record_prefix: prefix,
            project_id: seed.project_id.clone(),
            task_id: seed.task_id.clone(),
            task_type: seed.task_type,
            status: seed.status,
            create_time,
            task_name: format!("{}-{}", seed.task_type, seed.task_id),
            need_confirm,
            app_id: None,
            echo: types::Task::default(),
            subtasks: Vec::with_capacity(seed.subtasks.len()),
            by_target: HashMap::with_capacity(seed.subtasks.len()),
            stopping_reads_left: 0,
            progression: None,
        };
        for (target, status) in &seed.subtasks {
            task.push_sub_task(target.clone(), *status);
        }
        task
    }

    /// Appends a sub-task with the next record ID.
    fn push_sub_task(&mut self, target: String, status: TaskDetailStatus) {
        let n = self.subtasks.len();
        self.by_target.insert(target.clone(), n);
        self.subtasks.push(Subtask {
            target,
            status,
            record_id: format!("{}{:012x}", self.record_prefix, n + 1),
            next_at: None,
            retries: 0,
        });
    }

    /// Sets the task moving from `start`: sub-task `i` is dispatched (or, if
    /// already Processing, starts its run) at `start + i × dispatch_every`;
    /// Waitting sub-tasks of a `need_confirm` task wait for the confirm;
    /// a FailWaitRetry one retries after the interval, if retries are left.
    fn start_progression(&mut self, progression: Progression, retry: Option<AutoRetry>, start: Duration) {
        let mut at = start;
        for sub in &mut self.subtasks {
            sub.next_at = match sub.status {
                TaskDetailStatus::Waitting if !self.need_confirm => Some(at),
                TaskDetailStatus::Processing if !progression.hangs(&sub.target) => {
                    Some(at.saturating_add(progression.run_for))
                }
                // Seeded while waiting for its first retry.
                TaskDetailStatus::FailWaitRetry => retry.map(|r| at.saturating_add(r.interval)),
                _ => None,
            };
            at = at.saturating_add(progression.dispatch_every);
        }
        self.progression = Some((progression, retry));
    }

    /// Sub-task `i` (retried or confirmed at `now`) runs again.
    fn schedule_run(&mut self, i: usize, now: Duration) {
        let Some((progression, _)) = &self.progression else {
            return;
        };
        if let Some(sub) = self.subtasks.get_mut(i)
            && !progression.hangs(&sub.target)
        {
            sub.next_at = Some(now.saturating_add(progression.run_for));
        }
    }

    /// Applies every transition due by `now`, in time order per sub-task,
    /// then lets the task's status follow if anything moved.
    fn advance_to(&mut self, now: Duration) {
        let Some((progression, retry)) = &self.progression else {
            return;
        };
        let mut moved = false;
        for sub in &mut self.subtasks {
            if sub.next_at.is_none_or(|at| at > now) {
                continue;
            }
            let (hangs, fails) = (progression.hangs(&sub.target), progression.fails(&sub.target));
            let runs_at = |from: Duration| (!hangs).then(|| from.saturating_add(progression.run_for));
            while let Some(at) = sub.next_at.filter(|at| *at <= now) {
                moved = true;
                (sub.status, sub.next_at) = match sub.status {
                    TaskDetailStatus::Waitting => (TaskDetailStatus::Processing, runs_at(at)),
                    TaskDetailStatus::Processing if fails => match retry {
                        Some(r) if sub.retries < r.count => {
                            (TaskDetailStatus::FailWaitRetry, Some(at.saturating_add(r.interval)))
                        }
                        _ => (TaskDetailStatus::Fail, None),
                    },
                    TaskDetailStatus::Processing => (TaskDetailStatus::Success, None),
                    TaskDetailStatus::FailWaitRetry => {
                        sub.retries = sub.retries.saturating_add(1);
                        (TaskDetailStatus::Processing, runs_at(at))
                    }
                    // Stopped, finished or set by hand: nothing moves it.
                    other => (other, None),
                };
            }
        }
        if moved && !matches!(self.status, TaskStatus::Stopping | TaskStatus::Stopped) {
            self.status = follow(&self.subtasks, self.status);
        }
    }

    fn to_seed_task(&self) -> SeedTask {
        SeedTask {
            project_id: self.project_id.clone(),
            task_id: self.task_id.clone(),
            task_type: self.task_type,
            status: self.status,
            subtasks: self.subtasks.iter().map(|s| (s.target.clone(), s.status)).collect(),
        }
    }

    pub(crate) fn snapshot(&self) -> TaskSnapshot {
        let seed = self.to_seed_task();
        TaskSnapshot {
            project_id: seed.project_id,
            task_id: seed.task_id,
            task_type: seed.task_type,
            status: seed.status,
            subtasks: seed.subtasks,
            task_name: self.task_name.clone(),
            need_confirm: self.need_confirm,
        }
    }
}
