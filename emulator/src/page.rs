//! What ShowBatchTask and ListBatchTasks share: the query's paging
//! (`limit`, `marker`, `offset`, as the spec bounds them) and the `Task`
//! model both answer with (CreateBatchTask too).

use http::StatusCode;
use percent_encoding::percent_decode_str;

use crate::reply::{LIMIT_OUT_OF_RANGE, MARKER_OUT_OF_RANGE, Reply};
use crate::seed::{TaskDetailStatus, TaskStatus};
use crate::service::invalid;
use crate::state::Task;
use iotda_batchtask::types;
use iotda_batchtask::validation::InvalidInput;

/// A raw query string, read as the gateway passes it on.
pub(crate) struct Query<'a>(pub(crate) &'a str);

impl Query<'_> {
    /// The first occurrence of a parameter; an empty value counts as absent;
    /// unknown parameters are ignored.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.0
            .split('&')
            .find_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let key = percent_decode_str(key).decode_utf8_lossy();
                (key == name).then(|| percent_decode_str(value).decode_utf8_lossy().into_owned())
            })
            .filter(|v| !v.is_empty())
    }
}

/// The spec's bounds of one operation's paging parameters.
pub(crate) struct Bounds {
    pub(crate) limits: std::ops::RangeInclusive<u32>,
    pub(crate) default_limit: u32,
    pub(crate) offsets: std::ops::RangeInclusive<u32>,
}

/// `limit`, `marker` and `offset`, checked.
pub(crate) struct Paging {
    pub(crate) limit: u32,
    /// Lower-case, so it compares with record IDs as text.
    pub(crate) marker: String,
    pub(crate) offset: u32,
}

impl Paging {
    pub(crate) fn parse(query: &Query<'_>, bounds: &Bounds) -> Result<Self, Reply> {
        let limit = match query.get("limit") {
            None => bounds.default_limit,
            Some(text) => {
                let n = integer("limit", &text)?;
                let Some(n) = u32::try_from(n).ok().filter(|n| bounds.limits.contains(n)) else {
                    return Err(Reply::iotda(
                        StatusCode::BAD_REQUEST,
                        LIMIT_OUT_OF_RANGE,
                        "Invalid input. The specified parameter 'limit' is out of range.",
                    ));
                };
                n
            }
        };
        let marker = match query.get("marker") {
            None => types::Marker::default().to_ascii_lowercase(),
            Some(m) if m.parse::<types::Marker>().is_ok() => m.to_ascii_lowercase(),
            Some(_) => {
                return Err(Reply::iotda(
                    StatusCode::BAD_REQUEST,
                    MARKER_OUT_OF_RANGE,
                    "Invalid input. The specified parameter 'marker' is out of range.",
                ));
            }
        };
        let offset = match query.get("offset") {
            None => 0,
            Some(text) => {
                let n = integer("offset", &text)?;
                let Some(n) = u32::try_from(n).ok().filter(|n| bounds.offsets.contains(n)) else {
                    let rule = format!("must be from {} to {}", bounds.offsets.start(), bounds.offsets.end());
                    return Err(invalid(&InvalidInput::new("offset", rule)));
                };
                n
            }
        };
        Ok(Self { limit, marker, offset })
    }

    /// One page of `records` (newest first): those below the marker, after
    /// the offset, at most `limit`.
    pub(crate) fn page<'a, T>(&self, records: impl Iterator<Item = &'a T>, id: impl Fn(&T) -> &str) -> Vec<&'a T>
    where
        T: 'a,
    {
        records
            .filter(|r| id(r) < self.marker.as_str())
            .skip(self.offset as usize)
            .take(self.limit as usize)
            .collect()
    }
}

fn integer(name: &'static str, text: &str) -> Result<i64, Reply> {
    text.parse::<i64>()
        .map_err(|_| invalid(&InvalidInput::new(name, "must be an integer")))
}

/// A count as the spec's int64.
pub(crate) fn count(n: usize) -> Option<i64> {
    Some(i64::try_from(n).expect("the emulator holds far fewer than 2^63 records"))
}

pub(crate) fn status_desc(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Initializing => "The task is being initialized.",
        TaskStatus::Waitting => "The task is waiting to run.",
        TaskStatus::Processing => "The task is running.",
        TaskStatus::Success => "All sub-tasks succeeded.",
        TaskStatus::Fail => "The task failed.",
        TaskStatus::PartialSuccess => "Some sub-tasks succeeded.",
        TaskStatus::Stopped => "The task was stopped.",
        TaskStatus::Stopping => "The task is stopping.",
        _ => "The task's status.",
    }
}

/// The task in the spec's `Task` model. ShowBatchTask's model has no
/// `need_confirm` (Huawei's definition); List's and Create's have it.
pub(crate) fn task_model(task: &Task, with_need_confirm: bool) -> types::Task {
    let count_of = |status: TaskDetailStatus| count(task.subtasks.iter().filter(|s| s.status == status).count());
    let mut progress = types::TaskProgress::default();
    progress.total = count(task.subtasks.len());
    progress.processing = count_of(TaskDetailStatus::Processing);
    progress.success = count_of(TaskDetailStatus::Success);
    progress.fail = count_of(TaskDetailStatus::Fail);
    progress.waitting = count_of(TaskDetailStatus::Waitting);
    progress.fail_wait_retry = count_of(TaskDetailStatus::FailWaitRetry);
    progress.stopped = count_of(TaskDetailStatus::Stopped);
    progress.removed = count_of(TaskDetailStatus::Removed);
    let mut model = task.echo.clone();
    model.task_id = Some(task.task_id.clone());
    model.task_name = Some(task.task_name.clone());
    model.task_type = Some(task.task_type.as_str().to_owned());
    model.targets = task.subtasks.iter().map(|s| s.target.clone()).collect();
    model.status = Some(task.status.as_str().to_owned());
    model.status_desc = Some(status_desc(task.status).to_owned());
    model.task_progress = Some(progress);
    model.create_time = Some(task.create_time.clone());
    model.need_confirm = (with_need_confirm && task.need_confirm).then_some(true);
    model
}
