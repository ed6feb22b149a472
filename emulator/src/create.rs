//! `POST /v5/iot/{project_id}/batchtasks` (CreateBatchTask): the body is
//! checked against the spec (`NewBatchTask`, its patterns and
//! `iotda_batchtask::limits`), then against the account limits (at most
//! [`max_running_tasks`](crate::EmulatorConfig::max_running_tasks) running
//! tasks per project, at most 30,000 sub-tasks per task); the answer is
//! `201` with the new task.

use std::collections::HashSet;

use http::StatusCode;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde_json::{Map, Value};

use crate::page::task_model;
use crate::reply::{EMULATOR_FULL, Reply, TOO_MANY_RUNNING_TASKS};
use crate::seed::TaskType;
use crate::service::{Service, check_project, invalid};
use crate::state::{CreateRefusal, MAX_SUB_TASKS, MAX_TASKS, NewTask};
use crate::targets::is_json;
use iotda_batchtask::validation::{self, InvalidInput};
use iotda_batchtask::{limits, types};

impl Service {
    pub(crate) fn create(&self, parts: &Parts, body: &[u8], project_id: &str) -> Reply {
        let new = match check_project(&parts.headers, project_id).and_then(|()| parse(parts, body)) {
            Ok(new) => new,
            Err(reply) => return reply,
        };
        let mut state = self.lock();
        match state.create(project_id, new) {
            Ok(task) => {
                let model = task_model(task, true);
                Reply::Created(serde_json::to_vec(&model).expect("a generated type of plain values serialises"))
            }
            Err(CreateRefusal::TooManyRunning(running)) => Reply::iotda(
                StatusCode::FORBIDDEN,
                TOO_MANY_RUNNING_TASKS,
                format!(
                    "Operation not allowed. The account already has {running} batch tasks running, the most \
                     it may have at once."
                ),
            ),
            Err(CreateRefusal::Full) => Reply::iotda(
                StatusCode::FORBIDDEN,
                EMULATOR_FULL,
                format!(
                    "The emulator holds at most {MAX_TASKS} tasks and {MAX_SUB_TASKS} sub-tasks; delete finished \
                     tasks first."
                ),
            ),
        }
    }
}

/// Whether the type is one of the upgrades (the types `need_confirm`,
/// `task_mode` and `task_ext_info` apply to, per Huawei's definition).
fn is_upgrade(task_type: TaskType) -> bool {
    matches!(
        task_type,
        TaskType::FirmwareUpgrade | TaskType::SoftwareUpgrade | TaskType::ModuleUpgrade
    )
}

/// Reads and checks the body; every refusal names the field.
fn parse(parts: &Parts, body: &[u8]) -> Result<NewTask, Reply> {
    let mut content_types = parts.headers.get_all(CONTENT_TYPE).iter();
    match (content_types.next(), content_types.next()) {
        (Some(value), None) if is_json(value.to_str().unwrap_or("")) => {}
        _ => return Err(Reply::bad_format("Content-Type must be application/json.")),
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Reply::bad_format(&format!("The body is not valid JSON: {e}.")))?;
    let Value::Object(object) = value else {
        return Err(Reply::bad_format("The body must be a JSON object."));
    };
    check_fields(&object)?;
    // Every field was checked above, so this only fails on a shape the checks
    // do not cover (say, `document` not an object); serde's message says which.
    let new: types::NewBatchTask = serde_json::from_value(Value::Object(object))
        .map_err(|e| Reply::invalid(format!("Invalid input. The body is not a NewBatchTask: {e}.")))?;
    let task_type = new.task_type;
    let targets: Vec<String> = new.targets.iter().map(|t| t.to_string()).collect();
    if targets.is_empty() && new.targets_filter.is_empty() && new.document_source.is_none() {
        return Err(invalid(&InvalidInput::new(
            "targets",
            "is missing; give targets, targets_filter or document_source",
        )));
    }
    let mut seen = HashSet::new();
    if let Some(repeat) = targets.iter().find(|t| !seen.insert(t.as_str())) {
        return Err(invalid(&InvalidInput::new(
            "targets",
            format!("names {repeat} more than once"),
        )));
    }
    let need_confirm = new.need_confirm.unwrap_or(false);
    for (field, given) in [
        ("need_confirm", need_confirm),
        ("task_mode", new.task_mode.is_some()),
        ("task_ext_info", !new.task_ext_info.is_empty()),
    ] {
        if given && !is_upgrade(task_type) {
            return Err(invalid(&InvalidInput::new(
                field,
                format!("applies to upgrade tasks only (this task is {task_type})"),
            )));
        }
    }
    let task_ext_info_len = Value::Object(new.task_ext_info.clone()).to_string().chars().count();
    if task_ext_info_len > limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN {
        return Err(invalid(&InvalidInput::new(
            "task_ext_info",
            format!(
                "is {task_ext_info_len} characters as JSON; at most {} are allowed",
                limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN
            ),
        )));
    }
    let mut echo = types::Task::default();
    echo.document = new.document;
    echo.targets_filter = new.targets_filter;
    echo.task_ext_info = new.task_ext_info;
    echo.task_mode = new.task_mode.map(|m| m.to_string());
    echo.task_policy = new.task_policy.map(|p| {
        let mut policy = types::TaskPolicy::default();
        policy.retry_count = p.retry_count.and_then(|n| i64::try_from(n.get()).ok());
        policy.retry_interval = p.retry_interval;
        policy.schedule_time = p.schedule_time.map(|t| t.to_string());
        policy
    });
    Ok(NewTask {
        task_type,
        task_name: new.task_name.to_string(),
        targets,
        need_confirm,
        app_id: new.app_id.map(|a| a.to_string()),
        echo,
    })
}

/// The checks serde's messages would not name a field for: required fields,
/// patterns, the target count and the retry policy's ranges.
fn check_fields(object: &Map<String, Value>) -> Result<(), Reply> {
    let string = |name: &'static str| -> Result<Option<&str>, Reply> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(&InvalidInput::new(name, "must be a string"))),
        }
    };
    let Some(name) = string("task_name")? else {
        return Err(invalid(&InvalidInput::new("task_name", "is required")));
    };
    if name.parse::<types::TaskName>().is_err() {
        return Err(invalid(&InvalidInput::new(
            "task_name",
            format!("must match {}", limits::TASK_NAME_PATTERN),
        )));
    }
    let Some(task_type) = string("task_type")? else {
        return Err(invalid(&InvalidInput::new("task_type", "is required")));
    };
    if !limits::TASK_TYPE_VALUES.contains(&task_type) {
        return Err(invalid(&InvalidInput::new(
            "task_type",
            format!("must be one of {}", limits::TASK_TYPE_VALUES.join(", ")),
        )));
    }
    if let Some(app_id) = string("app_id")?
        && app_id.parse::<types::AppId>().is_err()
    {
        return Err(invalid(&InvalidInput::new(
            "app_id",
            format!("must match {}", limits::APP_ID_PATTERN),
        )));
    }
    if let Some(mode) = string("task_mode")?
        && !limits::TASK_MODE_VALUES.contains(&mode)
    {
        return Err(invalid(&InvalidInput::new(
            "task_mode",
            format!("must be one of {}", limits::TASK_MODE_VALUES.join(", ")),
        )));
    }
    match object.get("targets") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            // Counted first: the spec's maxItems is also Huawei's 30,000
            // sub-tasks per task.
            if items.len() > limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS {
                return Err(invalid(&InvalidInput::new(
                    "targets",
                    format!(
                        "has {} items; a task has at most {} sub-tasks",
                        items.len(),
                        limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS
                    ),
                )));
            }
            for (i, item) in items.iter().enumerate() {
                let Value::String(target) = item else {
                    return Err(invalid(&InvalidInput::new(format!("targets[{i}]"), "must be a string")));
                };
                validation::target(i, target).map_err(|e| invalid(&e))?;
            }
        }
        Some(_) => return Err(invalid(&InvalidInput::new("targets", "must be an array of device IDs"))),
    }
    match object.get("task_policy") {
        None | Some(Value::Null) => {}
        Some(Value::Object(policy)) => check_policy(policy)?,
        Some(_) => return Err(invalid(&InvalidInput::new("task_policy", "must be an object"))),
    }
    Ok(())
}

/// `retry_count` and `retry_interval` within their ranges, each requiring
/// the other; `schedule_time` in its pattern.
fn check_policy(policy: &Map<String, Value>) -> Result<(), Reply> {
    let integer = |name: &'static str, min: u32, max: u32| -> Result<Option<i64>, Reply> {
        match policy.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (i64::from(min)..=i64::from(max)).contains(&n) => Ok(Some(n)),
                _ => Err(invalid(&InvalidInput::new(
                    format!("task_policy.{name}"),
                    format!("must be an integer from {min} to {max}"),
                ))),
            },
        }
    };
    let count = integer(
        "retry_count",
        limits::NEW_TASK_POLICY_RETRY_COUNT_MIN,
        limits::NEW_TASK_POLICY_RETRY_COUNT_MAX,
    )?;
    let interval = integer(
        "retry_interval",
        limits::NEW_TASK_POLICY_RETRY_INTERVAL_MIN,
        limits::NEW_TASK_POLICY_RETRY_INTERVAL_MAX,
    )?;
    match (count, interval) {
        (Some(_), None) => {
            return Err(invalid(&InvalidInput::new(
                "task_policy.retry_interval",
                "is required with retry_count",
            )));
        }
        (None, Some(_)) => {
            return Err(invalid(&InvalidInput::new(
                "task_policy.retry_count",
                "is required with retry_interval",
            )));
        }
        _ => {}
    }
    match policy.get("schedule_time") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.parse::<types::ScheduleTime>().is_ok() => Ok(()),
        Some(_) => Err(invalid(&InvalidInput::new(
            "task_policy.schedule_time",
            format!("must match {}", limits::SCHEDULE_TIME_PATTERN),
        ))),
    }
}
