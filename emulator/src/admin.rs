//! The optional admin endpoint of a loopback emulator, for tests that run
//! the emulator as a process: `POST`/`DELETE /__emulator/faults`,
//! `GET`/`DELETE /__emulator/journal`. JSON in, JSON out.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, ORIGIN};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fault::Fault;
use crate::journal::{AuthMode, JournalEntry, Operation};
use crate::service::Service;

/// The path prefix of every admin route.
pub(crate) const PREFIX: &str = "/__emulator/";

/// A fault as posted: `{"action": "status"|"process_then_fail"|"delay"|
/// "reset"|"malformed_body", "status", "code", "msg", "delay_ms",
/// "operation": "StopBatchTask"|"ShowBatchTask"|"ListBatchTasks"|"RetryBatchTask"|
/// "ConfirmBatchTask"|"CreateBatchTask"|"DeleteBatchTask"|"Unknown", "task_id",
/// "times", "nth"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    action: String,
    status: Option<u16>,
    code: Option<String>,
    msg: Option<String>,
    delay_ms: Option<u64>,
    operation: Option<String>,
    task_id: Option<String>,
    times: Option<u32>,
    nth: Option<u64>,
}

impl FaultSpec {
    fn into_fault(self) -> Result<Fault, String> {
        let status = || {
            let code = self.status.ok_or("\"status\" is required for this action")?;
            StatusCode::from_u16(code).map_err(|_| format!("{code} is not an HTTP status"))
        };
        let mut fault = match self.action.as_str() {
            "status" => match (&self.code, &self.msg) {
                (Some(code), Some(msg)) => Fault::error(status()?, code.clone(), msg.clone()),
                _ => Fault::status(status()?),
            },
            "process_then_fail" => Fault::process_then_fail(status()?),
            "delay" => Fault::delay(Duration::from_millis(self.delay_ms.ok_or("\"delay_ms\" is required")?)),
            "reset" => Fault::reset(),
            "malformed_body" => Fault::malformed_body(),
            other => return Err(format!("unknown action {other:?}")),
        };
        if let Some(op) = &self.operation {
            fault = fault.on(Operation::from_name(op).ok_or_else(|| format!("unknown operation {op:?}"))?);
        }
        if let Some(task) = self.task_id {
            fault = fault.for_task(task);
        }
        match (self.times, self.nth) {
            (Some(_), Some(_)) => return Err("give \"times\" or \"nth\", not both".to_owned()),
            (Some(n), None) => fault = fault.times(n),
            (None, Some(n)) => fault = fault.nth(n),
            (None, None) => {}
        }
        Ok(fault)
    }
}

/// Whether `host` (a `Host` value: a name or address, maybe with a port) names
/// this machine's loopback: `127.0.0.1`, `localhost` or `[::1]`, any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]` or `[::1]:PORT`
        Some(rest) => match rest.split_once(']') {
            Some((addr, port)) if port.is_empty() || is_port(port) => return addr == "::1",
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
}

/// `:PORT` after a host, without the colon: 1 to 5 digits.
fn is_port(port: &str) -> bool {
    let digits = port.strip_prefix(':').unwrap_or(port);
    (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Why a request may not use the admin API, if it may not: the admin API
/// takes no credentials, so a web page must not reach it. Its `Host` must be
/// a loopback name (a DNS-rebound name is not), an `Origin` must be this
/// very host (browsers send one with every cross-origin request and every
/// POST), and `Sec-Fetch-Site`, when sent, must not say another site.
fn refusal(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let Some(host) = host.filter(|h| is_loopback_host(h)) else {
        return Some("the admin API answers only a loopback Host (127.0.0.1, localhost or [::1], any port)".to_owned());
    };
    if let Some(origin) = headers.get(ORIGIN) {
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host));
        if !same {
            return Some(format!(
                "the admin API refuses requests from another Origin (only http://{host} may call it)"
            ));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return Some("the admin API refuses requests whose Sec-Fetch-Site is not same-origin".to_owned());
    }
    None
}

/// The answer to an admin request, or `None` when its path is not an admin
/// route.
pub(crate) fn respond(service: &Service, parts: &Parts, body: &[u8]) -> Option<Response<Bytes>> {
    let route = parts.uri.path().strip_prefix(PREFIX)?;
    if let Some(reason) = refusal(&parts.headers) {
        return Some(json_response(StatusCode::FORBIDDEN, &json!({ "error": reason })));
    }
    let (status, value) = match (&parts.method, route) {
        (&Method::POST, "faults") => match serde_json::from_slice::<FaultSpec>(body)
            .map_err(|e| e.to_string())
            .and_then(FaultSpec::into_fault)
        {
            Ok(fault) => match service.inject(fault) {
                Ok(()) => (StatusCode::CREATED, json!({ "pending": service.pending_faults() })),
                Err(e) => (StatusCode::TOO_MANY_REQUESTS, json!({ "error": e.to_string() })),
            },
            Err(e) => (StatusCode::BAD_REQUEST, json!({ "error": e })),
        },
        (&Method::DELETE, "faults") => {
            service.clear_faults();
            (StatusCode::OK, json!({ "pending": 0 }))
        }
        (&Method::GET, "journal") => {
            let entries: Vec<Value> = service.journal().iter().map(entry_json).collect();
            (StatusCode::OK, Value::Array(entries))
        }
        (&Method::DELETE, "journal") => {
            service.clear_journal();
            (StatusCode::OK, json!({}))
        }
        _ => (StatusCode::NOT_FOUND, json!({ "error": "no such admin route" })),
    };
    Some(json_response(status, &value))
}

fn json_response(status: StatusCode, value: &Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// One journal entry as JSON (no secrets: the entry holds none).
fn entry_json(e: &JournalEntry) -> Value {
    let auth = match &e.auth {
        AuthMode::Token => json!({ "mode": "token" }),
        AuthMode::Signed { access_key, algorithm } => {
            json!({ "mode": "signed", "access_key": access_key, "algorithm": algorithm.name() })
        }
        AuthMode::Malformed => json!({ "mode": "malformed" }),
        _ => json!({ "mode": "none" }),
    };
    let operation = e.operation.name();
    json!({
        "method": e.method.as_str(),
        "path": e.path,
        "query": e.query,
        "body": e.body,
        "auth": auth,
        "instance_id": e.instance_id,
        "operation": operation,
        "project_id": e.project_id,
        "task_id": e.task_id,
        "status": e.status_code(),
        "response_body": e.response_body,
        "request_id": e.request_id,
        "fault_injected": e.fault_injected,
        "elapsed_ms": u64::try_from(e.elapsed.as_millis()).unwrap_or(u64::MAX),
    })
}
