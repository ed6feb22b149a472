//! `POST /v5/iot/{project_id}/batchtasks/{task_id}/stop` (StopBatchTask).

use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde::Serialize;
use serde_json::Value;

use crate::reply::{INVALID_INPUT, Reply, TARGET_NOT_IN_TASK};
use crate::service::{Service, check_common, invalid};
use crate::state::{StopRefusal, StopScope, TargetOutcome};
use iotda_batchtask::validation::{self, InvalidInput, MAX_TARGETS_PER_REQUEST};

impl Service {
    pub(crate) fn stop(&self, parts: &Parts, body: &[u8], project_id: &str, task_id: &str) -> Reply {
        // Everything about the request is checked before the state is locked.
        let scope = match check_common(&parts.headers, project_id, task_id).and_then(|()| parse_scope(parts, body)) {
            Ok(scope) => scope,
            Err(reply) => return reply,
        };
        // One lock per request, released before the answer is built.
        let result = self.lock().stop(project_id, task_id, &scope);
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            Err(StopRefusal::NoSuchTask) => return Reply::task_not_found(),
            Err(StopRefusal::Type(task_type)) => {
                return Reply::invalid(format!(
                    "Invalid input. Only firmwareUpgrade and softwareUpgrade tasks can be stopped \
                     (this task is {task_type})."
                ));
            }
            Err(StopRefusal::Status(status)) => {
                return Reply::invalid(format!("Invalid input. The task is {status} and cannot be stopped."));
            }
        };
        results_json(&outcomes)
    }
}

/// Reads the body: none, or a JSON object whose `targets` is absent or null
/// (stop everything) or an array of 1 to 100 device IDs.
fn parse_scope(parts: &Parts, body: &[u8]) -> Result<StopScope, Reply> {
    let mut content_types = parts.headers.get_all(CONTENT_TYPE).iter();
    match (content_types.next(), content_types.next()) {
        // No body and no type: nothing to describe, so nothing to refuse.
        (None, _) if body.is_empty() => {}
        (Some(value), None) if is_json(value.to_str().unwrap_or("")) => {}
        _ => return Err(Reply::bad_format("Content-Type must be application/json.")),
    }
    if body.is_empty() {
        return Ok(StopScope::All);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Reply::bad_format(&format!("The body is not valid JSON: {e}.")))?;
    let Value::Object(mut object) = value else {
        return Err(Reply::bad_format("The body must be a JSON object."));
    };
    // Fields other than `targets` are ignored, like Jackson with unknown
    // properties allowed.
    let items = match object.remove("targets") {
        None | Some(Value::Null) => return Ok(StopScope::All),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Reply::bad_format("targets must be an array of strings.")),
    };
    let mut targets = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => targets.push(s),
            _ => return Err(Reply::bad_format("targets must be an array of strings.")),
        }
    }
    if targets.is_empty() {
        return Err(invalid(&InvalidInput::new(
            "targets",
            "is empty; name 1 to 100 targets, or send {} to stop every sub-task",
        )));
    }
    if targets.len() > MAX_TARGETS_PER_REQUEST {
        return Err(invalid(&InvalidInput::new(
            "targets",
            format!(
                "has {} items; at most {MAX_TARGETS_PER_REQUEST} are allowed",
                targets.len()
            ),
        )));
    }
    for (i, target) in targets.iter().enumerate() {
        validation::target(i, target).map_err(|e| invalid(&e))?;
    }
    Ok(StopScope::Targets(targets))
}

/// `application/json`, any case, parameters (e.g. `;charset=UTF-8`) allowed.
fn is_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
}

fn results_json(outcomes: &[(String, TargetOutcome)]) -> Reply {
    #[derive(Serialize)]
    struct TargetResult<'a> {
        target: &'a str,
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_msg: Option<String>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        targets: Vec<TargetResult<'a>>,
    }
    let targets = outcomes
        .iter()
        .map(|(target, outcome)| {
            let (error_code, error_msg) = match outcome {
                TargetOutcome::Stopped => (None, None),
                TargetOutcome::NotInTask => (
                    Some(TARGET_NOT_IN_TASK),
                    Some("Invalid input. The target is not in the task".to_owned()),
                ),
                TargetOutcome::Final(status) => (
                    Some(INVALID_INPUT),
                    Some(format!(
                        "Invalid input. The sub-task of the target is {status} and cannot be stopped."
                    )),
                ),
            };
            TargetResult {
                target,
                status: if error_code.is_none() { "success" } else { "failure" },
                error_code,
                error_msg,
            }
        })
        .collect();
    // Serialising strings into a Vec cannot fail.
    Reply::Ok(serde_json::to_vec(&Body { targets }).unwrap_or_default())
}
