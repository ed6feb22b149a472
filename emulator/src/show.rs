//! `GET /v5/iot/{project_id}/batchtasks/{task_id}` (ShowBatchTask): the task
//! and one page of its sub-tasks.

use http::request::Parts;

use crate::page::{Bounds, Paging, Query, count, task_model};
use crate::reply::Reply;
use crate::service::{Service, check_common, invalid};
use crate::state::Task;
use iotda_batchtask::validation::{self, InvalidInput};
use iotda_batchtask::{limits, types};

/// The query's limits, from the spec. `task_detail_status` accepts every
/// value of `TaskDetailStatus`; `Removed`, `DeviceInProgress` and `Rejected`
/// never occur in the emulator, so they filter everything out.
const BOUNDS: Bounds = Bounds {
    limits: limits::SHOW_BATCH_TASK_LIMIT_MIN..=limits::SHOW_BATCH_TASK_LIMIT_MAX,
    default_limit: limits::SHOW_BATCH_TASK_LIMIT_DEFAULT,
    offsets: limits::SHOW_BATCH_TASK_OFFSET_MIN..=limits::SHOW_BATCH_TASK_OFFSET_MAX,
};

struct ShowQuery {
    status: Option<String>,
    target: Option<String>,
    paging: Paging,
}

impl Service {
    pub(crate) fn show(&self, parts: &Parts, project_id: &str, task_id: &str) -> Reply {
        let query = match check_common(&parts.headers, project_id, task_id)
            .and_then(|()| ShowQuery::parse(parts.uri.query().unwrap_or("")))
        {
            Ok(query) => query,
            Err(reply) => return reply,
        };
        let mut state = self.lock();
        let Some(task) = state.task(project_id, task_id) else {
            return Reply::task_not_found();
        };
        let body = page_json(task, &query);
        // After the answer: a Stopping task is reported so, then settles.
        state.note_read(project_id, task_id);
        Reply::Ok(body)
    }
}

impl ShowQuery {
    fn parse(raw: &str) -> Result<Self, Reply> {
        let query = Query(raw);
        let status = query.get("task_detail_status");
        if let Some(s) = &status
            && !limits::TASK_DETAIL_STATUS_VALUES.contains(&s.as_str())
        {
            return Err(invalid(&InvalidInput::new(
                "task_detail_status",
                format!("must be one of {}", limits::TASK_DETAIL_STATUS_VALUES.join(", ")),
            )));
        }
        let target = query.get("target");
        if let Some(t) = &target {
            validation::target(0, t).map_err(|e| invalid(&InvalidInput::new("target", e.rule().to_owned())))?;
        }
        let paging = Paging::parse(&query, &BOUNDS)?;
        Ok(Self { status, target, paging })
    }
}

fn page_json(task: &Task, query: &ShowQuery) -> Vec<u8> {
    // Newest record first, as IoTDA pages by descending record ID.
    let matching = || {
        task.subtasks.iter().rev().filter(|s| {
            query.status.as_deref().is_none_or(|st| st == s.status.as_str())
                && query.target.as_deref().is_none_or(|t| t == s.target)
        })
    };
    let page = query.paging.page(matching(), |s| s.record_id.as_str());
    let mut body = types::BatchTask::default();
    body.batchtask = Some(task_model(task, false));
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
    page_info.count = count(matching().count());
    page_info.marker = page.last().map(|s| s.record_id.clone());
    body.page = Some(page_info);
    // The API sends `[]` for an empty page.
    crate::reply::json_with_list(&body, "task_details", body.task_details.is_empty())
}
