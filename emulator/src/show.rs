//! `GET /v5/iot/{project_id}/batchtasks/{task_id}` (ShowBatchTask): the task
//! and one page of its sub-tasks.

use http::StatusCode;
use http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::reply::{LIMIT_OUT_OF_RANGE, MARKER_OUT_OF_RANGE, Reply};
use crate::seed::{TaskDetailStatus, TaskStatus};
use crate::service::{Service, check_common, invalid};
use crate::state::Task;
use iotda_batchtask::validation::{self, InvalidInput};
use iotda_batchtask::{limits, types};

/// The query's limits, from the spec. `task_detail_status` accepts every
/// value of `TaskDetailStatus`; `Removed`, `DeviceInProgress` and `Rejected`
/// never occur in the emulator, so they filter everything out.
const DEFAULT_LIMIT: u32 = limits::SHOW_BATCH_TASK_LIMIT_DEFAULT;
const LIMITS: std::ops::RangeInclusive<u32> = limits::SHOW_BATCH_TASK_LIMIT_MIN..=limits::SHOW_BATCH_TASK_LIMIT_MAX;
const OFFSETS: std::ops::RangeInclusive<u32> = limits::SHOW_BATCH_TASK_OFFSET_MIN..=limits::SHOW_BATCH_TASK_OFFSET_MAX;

struct ShowQuery {
    status: Option<String>,
    target: Option<String>,
    limit: u32,
    /// Lower-case, so it compares with record IDs as text.
    marker: String,
    offset: u32,
}

impl Service {
    pub(crate) fn show(&self, parts: &Parts, project_id: &str, task_id: &str) -> Reply {
        let query = match check_common(&parts.headers, project_id, task_id)
            .and_then(|()| ShowQuery::parse(parts.uri.query().unwrap_or("")))
        {
            Ok(query) => query,
            Err(reply) => return reply,
        };
        let state = self.lock();
        match state.task(project_id, task_id) {
            Some(task) => Reply::Ok(page_json(task, &query)),
            None => Reply::task_not_found(),
        }
    }
}

impl ShowQuery {
    /// Parses the raw query. The first occurrence of a parameter counts; an
    /// empty value counts as absent; unknown parameters are ignored.
    fn parse(raw: &str) -> Result<Self, Reply> {
        let get = |name: &str| {
            {
                raw.split('&').find_map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let key = percent_decode_str(key).decode_utf8_lossy();
                    (key == name).then(|| percent_decode_str(value).decode_utf8_lossy().into_owned())
                })
            }
            .filter(|v| !v.is_empty())
        };

        let status = get("task_detail_status");
        if let Some(s) = &status
            && !limits::TASK_DETAIL_STATUS_VALUES.contains(&s.as_str())
        {
            return Err(invalid(&InvalidInput::new(
                "task_detail_status",
                format!("must be one of {}", limits::TASK_DETAIL_STATUS_VALUES.join(", ")),
            )));
        }
        let target = get("target");
        if let Some(t) = &target {
            validation::target(0, t).map_err(|e| invalid(&InvalidInput::new("target", e.rule().to_owned())))?;
        }
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => {
                let n = integer("limit", &text)?;
                let Some(n) = u32::try_from(n).ok().filter(|n| LIMITS.contains(n)) else {
                    return Err(Reply::iotda(
                        StatusCode::BAD_REQUEST,
                        LIMIT_OUT_OF_RANGE,
                        "Invalid input. The specified parameter 'limit' is out of range.",
                    ));
                };
                n
            }
        };
        let marker = match get("marker") {
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
        let offset = match get("offset") {
            None => 0,
            Some(text) => {
                let n = integer("offset", &text)?;
                let Some(n) = u32::try_from(n).ok().filter(|n| OFFSETS.contains(n)) else {
                    let rule = format!("must be from {} to {}", OFFSETS.start(), OFFSETS.end());
                    return Err(invalid(&InvalidInput::new("offset", rule)));
                };
                n
            }
        };
        Ok(Self {
            status,
            target,
            limit,
            marker,
            offset,
        })
    }
}

fn integer(name: &'static str, text: &str) -> Result<i64, Reply> {
    text.parse::<i64>()
        .map_err(|_| invalid(&InvalidInput::new(name, "must be an integer")))
}

fn status_desc(status: TaskStatus) -> &'static str {
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

fn page_json(task: &Task, query: &ShowQuery) -> Vec<u8> {
    let count_of = |status: TaskDetailStatus| {
        let n = task.subtasks.iter().filter(|s| s.status == status).count();
        Some(i64::try_from(n).expect("a task holds far fewer than 2^63 sub-tasks"))
    };
    let mut progress = types::TaskProgress::default();
    progress.total = Some(i64::try_from(task.subtasks.len()).expect("a task holds far fewer than 2^63 sub-tasks"));
    progress.processing = count_of(TaskDetailStatus::Processing);
    progress.success = count_of(TaskDetailStatus::Success);
    progress.fail = count_of(TaskDetailStatus::Fail);
    progress.waitting = count_of(TaskDetailStatus::Waitting);
    progress.fail_wait_retry = count_of(TaskDetailStatus::FailWaitRetry);
    progress.stopped = count_of(TaskDetailStatus::Stopped);
    progress.removed = count_of(TaskDetailStatus::Removed);
    // Newest record first, as IoTDA pages by descending record ID.
    let matching = || {
        task.subtasks.iter().rev().filter(|s| {
            query.status.as_deref().is_none_or(|st| st == s.status.as_str())
                && query.target.as_deref().is_none_or(|t| t == s.target)
        })
    };
    let page: Vec<_> = matching()
        .filter(|s| s.record_id.as_str() < query.marker.as_str())
        .skip(query.offset as usize)
        .take(query.limit as usize)
        .collect();
    let mut batchtask = types::Task::default();
    batchtask.task_id = Some(task.task_id.clone());
    batchtask.task_name = Some(format!("{}-{}", task.task_type, task.task_id));
    batchtask.task_type = Some(task.task_type.as_str().to_owned());
    batchtask.targets = task.subtasks.iter().map(|s| s.target.clone()).collect();
    batchtask.status = Some(task.status.as_str().to_owned());
    batchtask.status_desc = Some(status_desc(task.status).to_owned());
    batchtask.task_progress = Some(progress);
    batchtask.create_time = Some(task.create_time.clone());
    let mut body = types::BatchTask::default();
    body.batchtask = Some(batchtask);
    body.task_details = page
        .iter()
        .map(|s| {
            let mut detail = types::TaskDetail::default();
            detail.target = Some(s.target.clone());
            detail.status = Some(s.status.as_str().to_owned());
            detail
        })
        .collect();
    let mut page_info = types::Page::default();
    page_info.count = Some(i64::try_from(matching().count()).expect("a task holds far fewer than 2^63 sub-tasks"));
    page_info.marker = page.last().map(|s| s.record_id.clone());
    body.page = Some(page_info);
    let mut value = serde_json::to_value(&body).expect("a generated type of strings and integers serialises");
    // The generated type omits an empty list; the API sends `[]` for an empty page.
    if let Some(object) = value.as_object_mut() {
        object
            .entry("task_details")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    value.to_string().into_bytes()
}
