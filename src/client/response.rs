//! Turning progenitor's outcome and the hooks' record into our result.

use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;

use super::generated;
use crate::error::{ApiError, Error, TimeoutKind, chain};
use crate::types;
use crate::validation::InvalidInput;

pub(super) type GeneratedResult<T> =
    Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<types::ErrorBody>>;

/// Runs a generated call within the client's deadline and maps its outcome,
/// with every request ID its attempts received (a retried 429's included),
/// for reports that must keep them all.
pub(crate) async fn complete_with_ids<T>(
    call: &generated::Client,
    send: impl std::future::Future<Output = GeneratedResult<T>>,
) -> (Result<(T, Option<String>), Error>, Vec<String>) {
    // No timer of its own: the hooks give every attempt a timeout that ends
    // at the call's deadline at the latest, never start a retry that would
    // end after it, and bound a credentials provider by it. One timer per
    // attempt, not two, is measurably cheaper on a fast network.
    let result = send.await;
    let mut record = call.inner.take_record();
    let ids = std::mem::take(&mut record.request_ids);
    (finish(result, call, record), ids)
}

/// Turns progenitor's outcome and the hooks' record into our result, and
/// records the call's figures on its request span.
fn finish<T>(
    result: GeneratedResult<T>,
    call: &generated::Client,
    mut record: super::hooks::Record,
) -> Result<(T, Option<String>), Error> {
    use progenitor_client::Error as G;

    let started = call.inner.started;
    let span = call.inner.span.get().cloned().unwrap_or_else(tracing::Span::none);
    span.record("attempts", record.attempts);
    span.record("latency_ms", started.elapsed().as_millis() as u64);
    if let Some(status) = record.status {
        span.record("status", status);
    }
    if let Some(id) = &record.request_id {
        span.record("request_id", id.as_str());
    }
    if let Some(failure) = record.failure.take() {
        return Err(failure);
    }
    let attempts = record.attempts;
    let request_id = record.request_id.take();
    let raw = || String::from_utf8_lossy(&record.body).into_owned();
    match result {
        Ok(value) => {
            // A success labelled as something other than JSON did not come
            // from IoTDA as documented (a proxy's page, say): do not trust it.
            if let Some(content_type) = value.headers().get(reqwest::header::CONTENT_TYPE)
                && !is_json(content_type)
            {
                return Err(Error::Decode {
                    status: value.status().as_u16(),
                    message: format!(
                        "the response's Content-Type is {:?}, not application/json",
                        crate::error::one_line(&String::from_utf8_lossy(content_type.as_bytes()), 100)
                    ),
                    request_id,
                    body: raw(),
                });
            }
            Ok((value.into_inner(), request_id))
        }
        Err(G::ErrorResponse(value)) => {
            let status = value.status().as_u16();
            Err(api_error(
                status,
                Some(value.into_inner()),
                &record.body,
                request_id,
                attempts,
            ))
        }
        Err(G::InvalidResponsePayload(_, e)) => {
            let status = record.status.unwrap_or_default();
            if (200..300).contains(&status) {
                Err(Error::Decode {
                    status,
                    message: chain(&e),
                    request_id,
                    body: raw(),
                })
            } else {
                // progenitor already failed to read it as an `ErrorBody`.
                Err(api_error(status, None, &record.body, request_id, attempts))
            }
        }
        Err(G::UnexpectedResponse(response)) => {
            let status = response.status().as_u16();
            if response.status().is_success() {
                Err(Error::Decode {
                    status,
                    message: format!("unexpected status {status}; the API answers 200"),
                    request_id,
                    body: raw(),
                })
            } else {
                Err(api_error_from_raw(status, &record.body, request_id, attempts))
            }
        }
        Err(G::CommunicationError(e) | G::ResponseBodyError(e) | G::InvalidUpgrade(e)) => {
            let mut error = transport_error(e, attempts, request_id, started, call.inner.shared.deadline);
            // After a failover through every endpoint: each one's failure.
            if let (Error::Transport { message, .. }, Some(all)) = (&mut error, record.endpoint_failures.take()) {
                *message = all;
            }
            Err(error)
        }
        Err(G::InvalidRequest(message) | G::Custom(message)) => Err(InvalidInput::new("request", message).into()),
    }
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

fn transport_error(
    e: reqwest::Error,
    attempts: u32,
    request_id: Option<String>,
    started: Instant,
    deadline: Duration,
) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            limit: if e.is_connect() {
                TimeoutKind::Connect
            } else if started.elapsed() >= deadline {
                // The attempt's timeout was cut short to end at the deadline.
                TimeoutKind::Deadline
            } else {
                TimeoutKind::Request
            },
            elapsed: started.elapsed(),
            attempts,
            request_id,
        }
    } else {
        Error::Transport {
            message: chain(&e),
            attempts,
            request_id,
            source: Some(e),
        }
    }
}

/// An API error for a status the spec does not list, so progenitor did not
/// read the body: read it as an `ErrorBody` if it is one.
fn api_error_from_raw(status: u16, body: &[u8], request_id: Option<String>, attempts: u32) -> Error {
    let parsed = serde_json::from_slice::<types::ErrorBody>(body).ok();
    api_error(status, parsed, body, request_id, attempts)
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
