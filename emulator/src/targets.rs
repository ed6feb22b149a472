//! The `BatchTargets` operations' shared handling (StopBatchTask,
//! RetryBatchTask, ConfirmBatchTask): the body, the task-level refusals and
//! the per-target answer. The state rules are in `state.rs`
//! ([`Targeted`](crate::state::Targeted)).

use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde_json::Value;

use crate::reply::{INVALID_INPUT, Reply, TARGET_NOT_IN_TASK};
use crate::service::{Service, check_common, invalid};
use crate::state::{Refusal, Scope, TargetOutcome, Targeted};
use iotda_batchtask::types;
use iotda_batchtask::validation::{self, InvalidInput, MAX_TARGETS_PER_REQUEST};

impl Targeted {
    /// The verb for messages: "stop", "retry", "confirm".
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Retry => "retry",
            Self::Confirm => "confirm",
        }
    }

    /// The task types it accepts, for messages.
    fn types_text(self) -> &'static str {
        match self {
            Self::Stop | Self::Retry => "firmwareUpgrade and softwareUpgrade",
            Self::Confirm => "firmwareUpgrade, softwareUpgrade and moduleUpgrade",
        }
    }
}

impl Service {
    /// Answers a Stop, Retry or Confirm.
    pub(crate) fn targeted(&self, op: Targeted, parts: &Parts, body: &[u8], project_id: &str, task_id: &str) -> Reply {
        // Everything about the request is checked before the state is locked.
        let scope = match check_common(&parts.headers, project_id, task_id).and_then(|()| parse_scope(op, parts, body))
        {
            Ok(scope) => scope,
            Err(reply) => return reply,
        };
        // One lock per request, released before the answer is built.
        let result = self.lock().apply(op, project_id, task_id, &scope);
        match result {
            Ok(outcomes) => results_json(op, &outcomes),
            Err(Refusal::NoSuchTask) => Reply::task_not_found(),
            Err(Refusal::Type(task_type)) => Reply::invalid(format!(
                "Invalid input. Only {} tasks can be {} (this task is {task_type}).",
                op.types_text(),
                op.past()
            )),
            Err(Refusal::Status(status)) => Reply::invalid(format!(
                "Invalid input. The task is {status} and cannot be {}.",
                op.past()
            )),
            Err(Refusal::NotConfirmable) => {
                Reply::invalid("Invalid input. The task was not created with need_confirm and cannot be confirmed.")
            }
        }
    }
}

/// Reads the body: none, or a JSON object whose `targets` is absent or null
/// (every sub-task the operation acts on) or an array of 1 to 100 device IDs.
fn parse_scope(op: Targeted, parts: &Parts, body: &[u8]) -> Result<Scope, Reply> {
    let mut content_types = parts.headers.get_all(CONTENT_TYPE).iter();
    match (content_types.next(), content_types.next()) {
        // No body and no type: nothing to describe, so nothing to refuse.
        (None, _) if body.is_empty() => {}
        (Some(value), None) if is_json(value.to_str().unwrap_or("")) => {}
        _ => return Err(Reply::bad_format("Content-Type must be application/json.")),
    }
    if body.is_empty() {
        return Ok(Scope::All);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Reply::bad_format(&format!("The body is not valid JSON: {e}.")))?;
    let Value::Object(mut object) = value else {
        return Err(Reply::bad_format("The body must be a JSON object."));
    };
    // Fields other than `targets` are ignored, like Jackson with unknown
    // properties allowed.
    let items = match object.remove("targets") {
        None | Some(Value::Null) => return Ok(Scope::All),
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
            format!(
                "is empty; name 1 to 100 targets, or send {{}} to {} every sub-task",
                op.verb()
            ),
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
    Ok(Scope::Targets(targets))
}

/// `application/json`, any case, parameters (e.g. `;charset=UTF-8`) allowed.
pub(crate) fn is_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
}

/// The per-target answer, in the generated `BatchTargetsResponse` shape.
fn results_json(op: Targeted, outcomes: &[(String, TargetOutcome)]) -> Reply {
    let targets = outcomes
        .iter()
        .map(|(target, outcome)| {
            let (error_code, error_msg) = match outcome {
                TargetOutcome::Done => (None, None),
                TargetOutcome::NotInTask => (
                    Some(TARGET_NOT_IN_TASK),
                    Some("Invalid input. The target is not in the task".to_owned()),
                ),
                TargetOutcome::Refused(status) => (
                    Some(INVALID_INPUT),
                    Some(format!(
                        "Invalid input. The sub-task of the target is {status} and cannot be {}.",
                        op.past()
                    )),
                ),
            };
            let mut result = types::BatchTargetResult::default();
            result.target = Some(target.clone());
            result.status = Some(if error_code.is_none() { "success" } else { "failure" }.to_owned());
            result.error_code = error_code.map(str::to_owned);
            result.error_msg = error_msg;
            result
        })
        .collect();
    let mut body = types::BatchTargetsResponse::default();
    body.targets = targets;
    // `{}` acting on nothing is answered `{"targets":[]}`.
    Reply::Ok(crate::reply::json_with_list(&body, "targets", body.targets.is_empty()))
}
