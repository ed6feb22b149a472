//! Responses: IoTDA and API-gateway error bodies, and the finishing touches
//! every response gets (`X-Request-Id`, `Content-Type`).

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

/// `IOTDA.000006`: a parameter fails validation.
pub(crate) const INVALID_INPUT: &str = "IOTDA.000006";
/// `IOTDA.000008`: the request is malformed (media type, JSON).
pub(crate) const BAD_FORMAT: &str = "IOTDA.000008";
/// `IOTDA.000017`: `limit` out of range.
pub(crate) const LIMIT_OUT_OF_RANGE: &str = "IOTDA.000017";
/// `IOTDA.000018`: `marker` out of range.
pub(crate) const MARKER_OUT_OF_RANGE: &str = "IOTDA.000018";
/// `IOTDA.014200`: no such batch task.
pub(crate) const TASK_NOT_FOUND: &str = "IOTDA.014200";
/// `IOTDA.014219`: a target is not in the task (per-target, inside a 200).
pub(crate) const TARGET_NOT_IN_TASK: &str = "IOTDA.014219";
/// `IOTDA.014221`: DeleteBatchTask's only documented 403 code, used for a
/// task that has not finished (its meaning is not published).
pub(crate) const TASK_NOT_FINISHED: &str = "IOTDA.014221";
/// `IOTDA.014206`: one of CreateBatchTask's two documented 403 codes, used
/// for the account's limit of tasks processed at once (its meaning is not
/// published; an assumption listed in docs/emulator.md).
pub(crate) const TOO_MANY_RUNNING_TASKS: &str = "IOTDA.014206";
/// `EMULATOR.FULL`: the emulator's own capacity ([`MAX_TASKS`](crate::MAX_TASKS),
/// [`MAX_SUB_TASKS`](crate::MAX_SUB_TASKS)), not a Huawei code.
pub(crate) const EMULATOR_FULL: &str = "EMULATOR.FULL";

/// What a request gets, before the request ID is attached.
pub(crate) enum Reply {
    /// 200 with this JSON body.
    Ok(Vec<u8>),
    /// 201 with this JSON body.
    Created(Vec<u8>),
    /// 204 without a body.
    NoContent,
    /// An IoTDA error: `{"error_code", "error_msg"}`.
    Iotda {
        status: StatusCode,
        code: &'static str,
        msg: String,
    },
    /// An injected error, shaped like an IoTDA one.
    Injected {
        status: StatusCode,
        code: String,
        msg: String,
    },
    /// An injected 200 whose body is cut short, so not JSON.
    Malformed,
    /// An API-gateway error: `{"error_code", "error_msg", "request_id"}`.
    Gateway {
        status: StatusCode,
        code: &'static str,
        msg: String,
    },
}

impl Reply {
    pub(crate) fn iotda(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        Self::Iotda {
            status,
            code,
            msg: msg.into(),
        }
    }

    /// 400 `IOTDA.000006`.
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::iotda(StatusCode::BAD_REQUEST, INVALID_INPUT, msg)
    }

    /// 400 `IOTDA.000008`.
    pub(crate) fn bad_format(detail: &str) -> Self {
        Self::iotda(
            StatusCode::BAD_REQUEST,
            BAD_FORMAT,
            format!("Invalid input. The request format is invalid. {detail}"),
        )
    }

    /// 404 `IOTDA.014200`.
    pub(crate) fn task_not_found() -> Self {
        Self::iotda(StatusCode::NOT_FOUND, TASK_NOT_FOUND, "The batch task does not exist.")
    }

    /// 401 `APIGW.0301` with the gateway's detail.
    pub(crate) fn unauthorized(detail: &str) -> Self {
        Self::Gateway {
            status: StatusCode::UNAUTHORIZED,
            code: "APIGW.0301",
            msg: format!("Incorrect IAM authentication information: {detail}"),
        }
    }

    /// 404 `APIGW.0101`: no such route or method.
    pub(crate) fn no_such_api() -> Self {
        Self::Gateway {
            status: StatusCode::NOT_FOUND,
            code: "APIGW.0101",
            msg: "The API does not exist or has not been published in the environment.".to_owned(),
        }
    }

    /// 413 `APIG.0201`: body over the limit.
    pub(crate) fn too_large() -> Self {
        Self::Gateway {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "APIG.0201",
            msg: "Request entity too large.".to_owned(),
        }
    }

    /// 400 `APIG.0201`: the body could not be read at all.
    pub(crate) fn request_error() -> Self {
        Self::Gateway {
            status: StatusCode::BAD_REQUEST,
            code: "APIG.0201",
            msg: "API request error.".to_owned(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Ok(_) | Self::Malformed => StatusCode::OK,
            Self::Created(_) => StatusCode::CREATED,
            Self::NoContent => StatusCode::NO_CONTENT,
            Self::Iotda { status, .. } | Self::Injected { status, .. } | Self::Gateway { status, .. } => *status,
        }
    }

    /// The HTTP response, with `Content-Type: application/json` and
    /// `X-Request-Id: request_id`.
    pub(crate) fn into_response(self, request_id: &str) -> Response<Bytes> {
        #[derive(Serialize)]
        struct IotdaError<'a> {
            error_code: &'a str,
            error_msg: &'a str,
        }
        #[derive(Serialize)]
        struct GatewayError<'a> {
            error_code: &'a str,
            error_msg: &'a str,
            request_id: &'a str,
        }
        let status = self.status();
        // Serialising these plain structs cannot fail; an empty body would be
        // the harmless fallback.
        let body = match self {
            // The answer's own body moves, not copied.
            Self::Ok(body) | Self::Created(body) => body,
            Self::NoContent => Vec::new(),
            Self::Malformed => br#"{"targets":[{"target":"#.to_vec(),
            Self::Injected { code, msg, .. } => serde_json::to_vec(&IotdaError {
                error_code: &code,
                error_msg: &msg,
            })
            .unwrap_or_default(),
            Self::Iotda { code, msg, .. } => serde_json::to_vec(&IotdaError {
                error_code: code,
                error_msg: &msg,
            })
            .unwrap_or_default(),
            Self::Gateway { code, msg, .. } => serde_json::to_vec(&GatewayError {
                error_code: code,
                error_msg: &msg,
                request_id,
            })
            .unwrap_or_default(),
        };
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if status != StatusCode::NO_CONTENT {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-request-id", id);
        }
        response
    }
}

/// `body` as JSON with its `list` field written as `[]` when empty: the
/// generated types omit an empty list, but the API sends one.
pub(crate) fn json_with_list<T: Serialize>(body: &T, list: &str, list_is_empty: bool) -> Vec<u8> {
    const WHY: &str = "a generated type of strings and integers serialises";
    if !list_is_empty {
        // The usual case, without building a `Value` tree first: the
        // generated types declare their fields in key order, so the bytes
        // are those of the `Value` path below (a test holds this).
        return serde_json::to_vec(body).expect(WHY);
    }
    let mut value = serde_json::to_value(body).expect(WHY);
    if let Some(object) = value.as_object_mut() {
        object
            .entry(list)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use iotda_batchtask::types;

    use super::json_with_list;

    /// The fast path writes what a `Value` (keys sorted) would: the
    /// generated types must keep declaring their fields in key order.
    #[test]
    fn the_fast_path_writes_the_bytes_of_the_value_path() {
        let mut result = types::BatchTargetResult::default();
        result.target = Some("dev-1".to_owned());
        result.status = Some("failure".to_owned());
        result.error_code = Some("IOTDA.000006".to_owned());
        result.error_msg = Some("Invalid input.".to_owned());
        let mut body = types::BatchTargetsResponse::default();
        body.targets = vec![result];
        let slow = serde_json::to_value(&body).expect("serialises").to_string();
        assert_eq!(
            String::from_utf8(json_with_list(&body, "targets", false)).expect("UTF-8"),
            slow
        );

        let mut detail = types::TaskDetail::default();
        detail.target = Some("dev-1".to_owned());
        detail.status = Some("Stopped".to_owned());
        let mut page = types::Page::default();
        page.count = Some(1);
        page.marker = Some("5f1".to_owned());
        let mut task = types::Task::default();
        task.task_id = Some("61a5f4cbd86b7a1d1c2f3e4a".to_owned());
        task.status = Some("Processing".to_owned());
        task.task_type = Some("firmwareUpgrade".to_owned());
        let mut show = types::BatchTask::default();
        show.batchtask = Some(task);
        show.task_details = vec![detail];
        show.page = Some(page);
        let slow = serde_json::to_value(&show).expect("serialises").to_string();
        assert_eq!(
            String::from_utf8(json_with_list(&show, "task_details", false)).expect("UTF-8"),
            slow
        );
    }

    #[test]
    fn an_empty_list_is_written_as_an_empty_array() {
        let body = types::BatchTargetsResponse::default();
        assert_eq!(json_with_list(&body, "targets", true), br#"{"targets":[]}"#);
    }
}
