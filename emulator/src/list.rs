//! `GET /v5/iot/{project_id}/batchtasks` (ListBatchTasks): one page of the
//! project's tasks, newest first, filtered by `task_type` (required, as
//! Huawei's definition says), `status` and `app_id`.

use http::request::Parts;

use crate::page::{Bounds, Paging, Query, count, task_model};
use crate::reply::Reply;
use crate::service::{Service, check_project, invalid};
use iotda_batchtask::validation::InvalidInput;
use iotda_batchtask::{limits, types};

/// The query's paging limits, from the spec.
const BOUNDS: Bounds = Bounds {
    limits: limits::LIST_BATCH_TASKS_LIMIT_MIN..=limits::LIST_BATCH_TASKS_LIMIT_MAX,
    default_limit: limits::LIST_BATCH_TASKS_LIMIT_DEFAULT,
    offsets: limits::LIST_BATCH_TASKS_OFFSET_MIN..=limits::LIST_BATCH_TASKS_OFFSET_MAX,
};

struct ListQuery {
    task_type: String,
    status: Option<String>,
    app_id: Option<String>,
    paging: Paging,
}

impl Service {
    pub(crate) fn list(&self, parts: &Parts, project_id: &str) -> Reply {
        let query = match check_project(&parts.headers, project_id)
            .and_then(|()| ListQuery::parse(parts.uri.query().unwrap_or("")))
        {
            Ok(query) => query,
            Err(reply) => return reply,
        };
        let mut state = self.lock();
        let matching = || {
            state.tasks_of(project_id).filter(|t| {
                t.task_type.as_str() == query.task_type
                    && query.status.as_deref().is_none_or(|s| s == t.status.as_str())
                    && query.app_id.as_deref().is_none_or(|a| Some(a) == t.app_id.as_deref())
            })
        };
        let tasks: Vec<_> = matching().collect();
        let page = query.paging.page(tasks.iter().copied(), |t| t.record_id.as_str());
        let mut body = types::Tasks::default();
        body.batchtasks = page.iter().map(|t| task_model(t, true)).collect();
        let mut page_info = types::Page::default();
        page_info.count = count(tasks.len());
        page_info.marker = page.last().map(|t| t.record_id.clone());
        body.page = Some(page_info);
        let listed: Vec<String> = page.iter().map(|t| t.task_id.clone()).collect();
        // The API sends `[]` for an empty page.
        let json = crate::reply::json_with_list(&body, "batchtasks", body.batchtasks.is_empty());
        // After the answer: each Stopping task listed is reported so, then settles.
        for task_id in listed {
            state.note_read(project_id, &task_id);
        }
        Reply::Ok(json)
    }
}

impl ListQuery {
    fn parse(raw: &str) -> Result<Self, Reply> {
        let query = Query(raw);
        let Some(task_type) = query.get("task_type") else {
            return Err(invalid(&InvalidInput::new(
                "task_type",
                "is required (Huawei's definition marks it mandatory)",
            )));
        };
        if !limits::TASK_TYPE_VALUES.contains(&task_type.as_str()) {
            return Err(invalid(&InvalidInput::new(
                "task_type",
                format!("must be one of {}", limits::TASK_TYPE_VALUES.join(", ")),
            )));
        }
        let status = query.get("status");
        if let Some(s) = &status
            && !limits::TASK_STATUS_VALUES.contains(&s.as_str())
        {
            return Err(invalid(&InvalidInput::new(
                "status",
                format!("must be one of {}", limits::TASK_STATUS_VALUES.join(", ")),
            )));
        }
        let app_id = query.get("app_id");
        if let Some(a) = &app_id
            && a.parse::<types::AppId>().is_err()
        {
            return Err(invalid(&InvalidInput::new(
                "app_id",
                format!("must match {}", limits::APP_ID_PATTERN),
            )));
        }
        let paging = Paging::parse(&query, &BOUNDS)?;
        Ok(Self {
            task_type,
            status,
            app_id,
            paging,
        })
    }
}
