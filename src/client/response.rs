//! Reading an operation's final answer into our result: the documented
//! success into the generated type, anything else into an error a person can
//! act on, even when the body is not the documented JSON.

use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;

use super::send::Success;
use super::wire::{Answer, Record};
use crate::error::{ApiError, Error, chain};
use crate::types;

/// What a generated builder's `send` returns.
pub(crate) type GeneratedResult<T> =
    Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<types::ErrorBody>>;

/// The answer read as the spec documents it: at its `success` status, the
/// generated type `T` and the request ID; at any other, an error.
pub(super) fn read<T: DeserializeOwned>(
    answer: Answer,
    record: &Record,
    success: Success,
) -> Result<(T, Option<String>), Error> {
    let status = answer.status.as_u16();
    let request_id = record.request_id.clone();
    let decode_error = |message: String| Error::Decode {
        status,
        message,
        request_id: record.request_id.clone(),
        body: String::from_utf8_lossy(&answer.body).into_owned(),
    };
    if status == success.status {
        let value = if success.body {
            serde_json::from_slice::<T>(&answer.body).map_err(|e| decode_error(chain(&e)))?
        } else {
            // No content: the generated type is `()`, whatever was sent.
            let unit = serde::de::value::UnitDeserializer::<serde::de::value::Error>::new();
            T::deserialize(unit).map_err(|e| decode_error(e.to_string()))?
        };
        // A success labelled as something other than JSON did not come
        // from IoTDA as documented (a proxy's page, say): do not trust it.
        if let Some(content_type) = answer.headers.get(reqwest::header::CONTENT_TYPE)
            && !is_json(content_type)
        {
            return Err(decode_error(format!(
                "the response's Content-Type is {:?}, not application/json",
                crate::error::one_line(&String::from_utf8_lossy(content_type.as_bytes()), 100)
            )));
        }
        return Ok((value, request_id));
    }
    if answer.status.is_success() {
        return Err(decode_error(format!(
            "unexpected status {status}; the API answers {}",
            success.status
        )));
    }
    // Not necessarily IoTDA's `ErrorBody` (a gateway's or a proxy's page):
    // read as one if it is one.
    let parsed = serde_json::from_slice::<types::ErrorBody>(&answer.body).ok();
    Err(api_error(status, parsed, &answer.body, request_id, record.attempts))
}

/// `application/json` or `application/<something>+json`, any parameters.
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(value) = content_type.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Builds [`Error::Api`]. Besides `error_code`/`error_msg`, reads the
/// spellings the official SDK also accepts (`errorCode`/`errorMsg`,
/// `code`/`message`, or those nested under `error`).
fn api_error(
    status: u16,
    body: Option<types::ErrorBody>,
    raw: &[u8],
    request_id: Option<String>,
    attempts: u32,
) -> Error {
    let body = body.unwrap_or_else(|| types::ErrorBody {
        encoded_authorization_message: None,
        error_code: None,
        error_msg: None,
        request_id: None,
        extra: serde_json::Map::new(),
    });
    let nested = body.extra.get("error").and_then(|v| v.as_object());
    let pick = |primary: &Option<String>, keys: [&str; 2]| {
        primary.clone().or_else(|| {
            [Some(&body.extra), nested]
                .into_iter()
                .flatten()
                .flat_map(|map| keys.iter().filter_map(move |k| map.get(*k)))
                .find_map(|v| v.as_str().map(str::to_owned))
        })
    };
    let error_code = pick(&body.error_code, ["errorCode", "code"]);
    let error_msg = pick(&body.error_msg, ["errorMsg", "message"]);
    Error::Api(Box::new(ApiError {
        status,
        request_id: request_id.or(body.request_id),
        // Without a code or message, the body as received is all there is.
        body: (error_code.is_none() && error_msg.is_none()).then(|| String::from_utf8_lossy(raw).into_owned()),
        error_code,
        error_msg,
        attempts,
    }))
}
