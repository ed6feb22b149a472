//! Reading per-target results and statuses.
//!
//! `BatchTargetResult.status` is a plain string in the spec (as in Huawei's
//! own definition), so a value a newer server adds still parses; these helpers
//! classify it without ever treating an unknown value as success. The same
//! holds for the task and sub-task statuses and the task type, read typed
//! through [`Status`].

use std::fmt;
use std::str::FromStr;

use crate::types::{BatchTargetResult, Task, TaskDetail, TaskDetailStatus, TaskStatus, TaskType};

/// The documented `status` of a successful target.
pub const STATUS_SUCCESS: &str = "success";
/// The documented `status` of a failed target.
pub const STATUS_FAILURE: &str = "failure";

/// What one raw per-target answer says. Exhaustive: a value a newer server
/// adds is [`TargetStatus::Other`], so a `match` needs no wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStatus<'a> {
    /// `"success"`: the target's sub-task was stopped.
    Success,
    /// `"failure"`: see `error_code` and `error_msg`.
    Failure,
    /// A value this crate does not know (from a newer server). Not a success.
    Other(&'a str),
    /// No `status` field at all. Not a success.
    Missing,
}

impl BatchTargetResult {
    /// Classifies `status`.
    pub fn outcome(&self) -> TargetStatus<'_> {
        match self.status.as_deref() {
            Some(STATUS_SUCCESS) => TargetStatus::Success,
            Some(STATUS_FAILURE) => TargetStatus::Failure,
            Some(other) => TargetStatus::Other(other),
            None => TargetStatus::Missing,
        }
    }

    /// `true` only for `status: "success"`.
    pub fn is_success(&self) -> bool {
        self.outcome() == TargetStatus::Success
    }
}

/// A status field read against the values this crate knows.
///
/// The status fields of the generated response types ([`Task::status`],
/// [`Task::task_type`], [`TaskDetail::status`]) stay plain strings, so a
/// value a newer server adds still decodes. Their accessors of the same name
/// (`task.status()`, ...) give this instead: [`Status::Known`] with the
/// generated enumeration for a documented value, [`Status::Unknown`] with the
/// value as received otherwise. Match on it; an unknown value is never
/// mistaken for a known one.
///
/// ```
/// use iotda_batchtask::output::Status;
/// use iotda_batchtask::types::{TaskDetail, TaskDetailStatus};
///
/// let detail: TaskDetail = serde_json::from_str(r#"{"target":"dev-1","status":"Stopped"}"#).unwrap();
/// assert_eq!(detail.status(), Some(Status::Known(TaskDetailStatus::Stopped)));
///
/// let newer: TaskDetail = serde_json::from_str(r#"{"status":"Paused"}"#).unwrap();
/// assert_eq!(newer.status(), Some(Status::Unknown("Paused".to_owned())));
/// assert_eq!(newer.status().unwrap().to_string(), "Paused");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status<T> {
    /// A documented value.
    Known(T),
    /// A value this crate does not know (from a newer server), as received.
    Unknown(String),
}

impl<T: FromStr> Status<T> {
    /// Reads `value`: [`Status::Known`] when it is one of `T`'s values
    /// (exactly as spelled on the wire, `Waitting` included), else
    /// [`Status::Unknown`].
    pub fn parse(value: &str) -> Self {
        value
            .parse()
            .map_or_else(|_| Self::Unknown(value.to_owned()), Self::Known)
    }
}

impl<T> Status<T> {
    /// The documented value, if it is one.
    pub fn known(&self) -> Option<&T> {
        match self {
            Self::Known(known) => Some(known),
            Self::Unknown(_) => None,
        }
    }

    /// The value as received, for [`Status::Unknown`].
    pub fn unknown(&self) -> Option<&str> {
        match self {
            Self::Known(_) => None,
            Self::Unknown(value) => Some(value),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Status<T> {
    /// The wire form, known or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(known) => known.fmt(f),
            Self::Unknown(value) => f.write_str(value),
        }
    }
}

impl Task {
    /// The task's status, typed; `None` when the field is absent. See [`Status`].
    pub fn status(&self) -> Option<Status<TaskStatus>> {
        self.status.as_deref().map(Status::parse)
    }

    /// The task's type, typed; `None` when the field is absent. See [`Status`].
    pub fn task_type(&self) -> Option<Status<TaskType>> {
        self.task_type.as_deref().map(Status::parse)
    }
}

impl TaskDetail {
    /// The sub-task's status, typed; `None` when the field is absent. See [`Status`].
    pub fn status(&self) -> Option<Status<TaskDetailStatus>> {
        self.status.as_deref().map(Status::parse)
    }
}
