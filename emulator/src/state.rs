//! The emulator's mutable data: tasks, their sub-tasks, and the pure
//! operations on them (stop, page through sub-tasks).

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;

use crate::seed::{Seed, SeedTask, Stoppable as _, TaskDetailStatus, TaskStatus, TaskType};

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
}

pub(crate) struct Task {
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) task_type: TaskType,
    pub(crate) status: TaskStatus,
    pub(crate) create_time: String,
    /// In creation order, so record IDs ascend.
    pub(crate) subtasks: Vec<Subtask>,
    by_target: HashMap<String, usize>,
    /// The first 12 hex digits of every record ID, for sub-tasks added later.
    record_prefix: String,
}

/// What a stop request asks for.
pub(crate) enum StopScope {
    /// `{}`: every running, waiting or failed-awaiting-retry sub-task.
    All,
    /// These targets, in request order (may repeat).
    Targets(Vec<String>),
}

/// The result of one target, before it becomes JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetOutcome {
    Stopped,
    NotInTask,
    Final(TaskDetailStatus),
}

/// Why a task refuses a stop as a whole.
pub(crate) enum StopRefusal {
    NoSuchTask,
    Type(TaskType),
    Status(TaskStatus),
}

pub(crate) struct State {
    tasks: Vec<Task>,
    index: HashMap<(String, String), usize>,
}

impl State {
    pub(crate) fn new(seed: &Seed) -> Self {
        let mut tasks = Vec::with_capacity(seed.tasks().len());
        let mut index = HashMap::new();
        for (ordinal, task) in seed.tasks().iter().enumerate() {
            index.insert((task.project_id.clone(), task.task_id.clone()), ordinal);
            tasks.push(Task::new(task, ordinal));
        }
        Self { tasks, index }
    }

    pub(crate) fn task(&self, project_id: &str, task_id: &str) -> Option<&Task> {
        let i = *self.index.get(&(project_id.to_owned(), task_id.to_owned()))?;
        self.tasks.get(i)
    }

    fn task_mut(&mut self, project_id: &str, task_id: &str) -> Option<&mut Task> {
        let i = *self.index.get(&(project_id.to_owned(), task_id.to_owned()))?;
        self.tasks.get_mut(i)
    }

    pub(crate) fn to_seed(&self) -> Seed {
        Seed {
            tasks: self.tasks.iter().map(Task::to_seed_task).collect(),
        }
    }

    /// Applies a stop. Outcomes come back in request order, one per distinct
    /// target (a repeat is answered once, at its first position).
    ///
    /// All decisions are made before anything changes, and the changes are
    /// plain assignments, so a request is applied entirely or not at all.
    pub(crate) fn stop(
        &mut self,
        project_id: &str,
        task_id: &str,
        scope: &StopScope,
    ) -> Result<Vec<(String, TargetOutcome)>, StopRefusal> {
        let task = self.task_mut(project_id, task_id).ok_or(StopRefusal::NoSuchTask)?;
        if !task.task_type.is_stoppable() {
            return Err(StopRefusal::Type(task.task_type));
        }
        if !task.status.is_stoppable() {
            return Err(StopRefusal::Status(task.status));
        }
        let mut to_stop = Vec::new();
        let mut outcomes = Vec::new();
        match scope {
            StopScope::All => {
                for (i, sub) in task.subtasks.iter().enumerate() {
                    if sub.status.is_stoppable() {
                        to_stop.push(i);
                        outcomes.push((sub.target.clone(), TargetOutcome::Stopped));
                    }
                }
            }
            StopScope::Targets(targets) => {
                let mut seen = HashSet::new();
                for target in targets {
                    if !seen.insert(target.as_str()) {
                        continue;
                    }
                    let outcome = match task.by_target.get(target) {
                        None => TargetOutcome::NotInTask,
                        Some(&i) => match task.subtasks.get(i).map(|s| s.status) {
                            Some(status) if status.is_stoppable() => {
                                to_stop.push(i);
                                TargetOutcome::Stopped
                            }
                            Some(status) => TargetOutcome::Final(status),
                            None => TargetOutcome::NotInTask,
                        },
                    };
                    outcomes.push((target.clone(), outcome));
                }
            }
        }
        for i in to_stop {
            if let Some(sub) = task.subtasks.get_mut(i) {
                sub.status = TaskDetailStatus::Stopped;
            }
        }
        // Nothing left to run: the task as a whole is stopped.
        if !task.subtasks.iter().any(|s| s.status.is_stoppable()) {
            task.status = TaskStatus::Stopped;
        }
        Ok(outcomes)
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
        let n = task.subtasks.len();
        task.subtasks.push(Subtask {
            target: device_id.to_owned(),
            status,
            record_id: format!("{}{:012x}", task.record_prefix, n + 1),
        });
        task.by_target.insert(device_id.to_owned(), n);
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

impl Task {
    fn new(seed: &SeedTask, ordinal: usize) -> Self {
        let created = FIRST_CREATE_SECOND.saturating_add(i64::try_from(ordinal).unwrap_or(i64::MAX).saturating_mul(60));
        let create_time = Timestamp::from_second(created)
            .map(iotda_batchtask::auth::format_sdk_date)
            .unwrap_or_default();
        // ObjectId-like: creation second, the task's ordinal, then the
        // sub-task's position. Unique within a task, ascending in order.
        let prefix = format!("{:08x}{:04x}", created & 0xffff_ffff, ordinal & 0xffff);
        let subtasks: Vec<Subtask> = seed
            .subtasks
            .iter()
            .enumerate()
            .map(|(n, (target, status))| Subtask {
                target: target.clone(),
                status: *status,
                record_id: format!("{prefix}{:012x}", n + 1),
            })
            .collect();
        let by_target = subtasks
            .iter()
            .enumerate()
            .map(|(i, s)| (s.target.clone(), i))
            .collect();
        Self {
            record_prefix: prefix,
            project_id: seed.project_id.clone(),
            task_id: seed.task_id.clone(),
            task_type: seed.task_type,
            status: seed.status,
            create_time,
            subtasks,
            by_target,
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
        }
    }
}
