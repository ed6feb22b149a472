//! `GET /v5/iot/{project_id}/batchtasks/{task_id}` (ShowBatchTask): the task
//! and one page of its sub-tasks.

use http::StatusCode;
use http::request::Parts;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::reply::{LIMIT_OUT_OF_RANGE, MARKER_OUT_OF_RANGE, Reply};
use crate::seed::{SubtaskStatus, TaskStatus};
use crate::service::{Service, check_common, invalid};
use crate::state::Task;
use iotda_batchtask::validation::{self, InvalidInput};

/// The values `task_detail_status` accepts (the definition's pattern).
/// `Removed`, `DeviceInProgress` and `Rejected` never occur in the emulator,
/// so they filter everything out.
const DETAIL_STATUSES: [&str; 9] = [
    "Success",
    "Fail",
    "Processing",
    "FailWaitRetry",
    "Stopped",
    "Waitting",
    "Removed",
    "DeviceInProgress",
    "Rejected",
];

const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: i64 = 50;
const MAX_OFFSET: i64 = 500;
const DEFAULT_MARKER: &str = "ffffffffffffffffffffffff";

struct ShowQuery {
    status: Option<String>,
    target: Option<String>,
    limit: usize,
    /// Lower-case, so it compares with record IDs as text.
    marker: String,
    offset: usize,
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
            && !DETAIL_STATUSES.contains(&s.as_str())
        {
            return Err(invalid(&InvalidInput::new(
                "task_detail_status",
                format!("must be one of {}", DETAIL_STATUSES.join(", ")),
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
                if !(1..=MAX_LIMIT).contains(&n) {
                    return Err(Reply::iotda(
                        StatusCode::BAD_REQUEST,
                        LIMIT_OUT_OF_RANGE,
                        "Invalid input. The specified parameter 'limit' is out of range.",
                    ));
                }
                usize::try_from(n).unwrap_or(DEFAULT_LIMIT)
            }
        };
        let marker = match get("marker") {
            None => DEFAULT_MARKER.to_owned(),
            Some(m) if m.len() == 24 && m.bytes().all(|b| b.is_ascii_hexdigit()) => m.to_ascii_lowercase(),
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
                if !(0..=MAX_OFFSET).contains(&n) {
                    return Err(invalid(&InvalidInput::new("offset", "must be from 0 to 500")));
                }
                usize::try_from(n).unwrap_or(0)
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
    }
}

fn page_json(task: &Task, query: &ShowQuery) -> Vec<u8> {
    #[derive(Serialize)]
    struct Progress {
        total: usize,
        processing: usize,
        success: usize,
        fail: usize,
        waitting: usize,
        fail_wait_retry: usize,
        stopped: usize,
        removed: usize,
    }
    #[derive(Serialize)]
    struct BatchTask<'a> {
        task_id: &'a str,
        task_name: String,
        task_type: &'static str,
        targets: Vec<&'a str>,
        status: &'static str,
        status_desc: &'static str,
        task_progress: Progress,
        create_time: &'a str,
    }
    #[derive(Serialize)]
    struct Detail<'a> {
        target: &'a str,
        status: &'static str,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        count: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        marker: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        batchtask: BatchTask<'a>,
        task_details: Vec<Detail<'a>>,
        page: Page<'a>,
    }

    let count_of = |status: SubtaskStatus| task.subtasks.iter().filter(|s| s.status == status).count();
    let progress = Progress {
        total: task.subtasks.len(),
        processing: count_of(SubtaskStatus::Processing),
        success: count_of(SubtaskStatus::Success),
        fail: count_of(SubtaskStatus::Fail),
        waitting: count_of(SubtaskStatus::Waitting),
        fail_wait_retry: count_of(SubtaskStatus::FailWaitRetry),
        stopped: count_of(SubtaskStatus::Stopped),
        removed: 0,
    };
    // Newest record first, as IoTDA pages by descending record ID.
    let matching = || {
        task.subtasks.iter().rev().filter(|s| {
            query.status.as_deref().is_none_or(|st| st == s.status.as_str())
                && query.target.as_deref().is_none_or(|t| t == s.target)
        })
    };
    let page: Vec<_> = matching()
        .filter(|s| s.record_id.as_str() < query.marker.as_str())
        .skip(query.offset)
        .take(query.limit)
        .collect();
    let body = Body {
        batchtask: BatchTask {
            task_id: &task.task_id,
            task_name: format!("{}-{}", task.task_type, task.task_id),
            task_type: task.task_type.as_str(),
            targets: task.subtasks.iter().map(|s| s.target.as_str()).collect(),
            status: task.status.as_str(),
            status_desc: status_desc(task.status),
            task_progress: progress,
            create_time: &task.create_time,
        },
        task_details: page
            .iter()
            .map(|s| Detail {
                target: &s.target,
                status: s.status.as_str(),
            })
            .collect(),
        page: Page {
            count: matching().count(),
            marker: page.last().map(|s| s.record_id.as_str()),
        },
    };
    // Serialising strings and integers into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}
