//! One call on the wire: the request the generated builder made (see
//! [`super::hooks`]) finished and authenticated, sent with retries and
//! failover, and its final answer's body read under the size cap. What
//! happened comes back with the answer as a [`Record`], by value.
//!
//! [`Call::prepare`] removes what progenitor adds but the official SDK does
//! not send (`api-version`, `Accept`), sets `Content-Type`, `User-Agent` and
//! `Instance-Id`, then authenticates: `X-Auth-Token`, or AK/SK signing over
//! the finished request. [`Call::execute`] sends it, retrying only what
//! provably was not processed (see [`crate::retry_policy`]).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use super::{Auth, Authenticator, Shared};
use crate::error::{Error, TimeoutKind, chain};
use crate::retry_policy::Outcome;

/// The header IoTDA and the API gateway put the request ID in.
const REQUEST_ID: &str = "x-request-id";

/// One call: the client's configuration and when the call began (its
/// deadline counts from there). Holds nothing the call learns: that is
/// returned.
pub(crate) struct Call<'a> {
    shared: &'a Shared,
    pub(crate) started: Instant,
}

/// What happened on the wire during one call.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Attempts sent.
    pub(crate) attempts: u32,
    /// Status of the last attempt's response.
    pub(crate) status: Option<u16>,
    /// `X-Request-Id` of the last attempt's response.
    pub(crate) request_id: Option<String>,
    /// Every attempt's `X-Request-Id`, in order.
    pub(crate) request_ids: Vec<String>,
}

/// The final answer, its body read in full.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl<'a> Call<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            started: Instant::now(),
        }
    }

    /// When the call must end. The builder caps the deadline at
    /// MAX_DEADLINE, so this cannot overflow; if an `Instant` ever could not
    /// hold it, the deadline is as good as never and the request timeout
    /// still bounds each attempt.
    fn deadline(&self) -> Option<Instant> {
        self.started.checked_add(self.shared.deadline)
    }

    /// Final touches and authentication, after progenitor built the request.
    pub(crate) async fn prepare(&self, request: &mut reqwest::Request) -> Result<(), Error> {
        self.finish(request);
        self.authenticate(request, 0).await
    }

    /// The headers every request carries besides authentication: what
    /// [`prepare`](Self::prepare) adds before signing, and all a plan shows
    /// by value (it names the authentication's headers without computing them).
    pub(crate) fn finish(&self, request: &mut reqwest::Request) {
        let headers = request.headers_mut();
        headers.remove(HeaderName::from_static("api-version"));
        headers.remove(ACCEPT);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
        // Every operation takes the instance's ID; it is added here, once,
        // rather than by each operation (it is signed with the rest).
        if let Some(id) = &self.shared.instance_id {
            let value = HeaderValue::from_str(id.as_str())
                .expect("a validated instance ID is visible ASCII, a legal header value");
            headers.insert(HeaderName::from_static("instance-id"), value);
        }
    }

    /// Sets `X-Auth-Token`, or signs the finished request (again, for a
    /// retry, after `attempts`).
    async fn authenticate(&self, request: &mut reqwest::Request, attempts: u32) -> Result<(), Error> {
        let current;
        let auth = match &self.shared.auth {
            Auth::Fixed(auth) => auth,
            // What is current now: a retry or a later request of a long call
            // signs with refreshed credentials.
            Auth::Provided(cache) => {
                // A provider is the one step without a timeout of its own
                // (it may be the caller's code): the call's deadline bounds it.
                current = match self.deadline() {
                    Some(deadline) => tokio::time::timeout_at(deadline.into(), cache.get())
                        .await
                        .map_err(|_| Error::Timeout {
                            limit: TimeoutKind::Deadline,
                            elapsed: self.started.elapsed(),
                            attempts,
                            request_id: None,
                        })??,
                    None => cache.get().await?,
                };
                &*current
            }
        };
        match auth {
            Authenticator::Token(token) => {
                request
                    .headers_mut()
                    .insert(HeaderName::from_static("x-auth-token"), token.clone());
            }
            Authenticator::Signed { signer, .. } => {
                signer.sign(request, jiff::Timestamp::now()).map_err(|e| {
                    Error::from(crate::validation::InvalidInput::new(
                        "request",
                        format!("cannot be signed: {e}"),
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Sends the request, retrying only what provably was not processed (see
    /// [`crate::retry_policy`]), and reads the final answer's body under the
    /// cap: the answer or the error that ended the call, and what happened.
    pub(crate) async fn execute(&self, request: reqwest::Request) -> (Result<Answer, Error>, Record) {
        let deadline = self.deadline();
        let mut record = Record::default();
        let mut request = request;
        // Connect failures of this round over the endpoints, in order.
        let mut failures: Vec<String> = Vec::new();
        loop {
            record.attempts += 1;
            let attempt = record.attempts;
            // A new attempt: nothing of the last one's answer applies to it.
            record.status = None;
            record.request_id = None;
            // Bodies here are in memory, so the clone for a retry is cheap.
            let spare = (attempt < self.shared.retry.max_attempts())
                .then(|| request.try_clone())
                .flatten();
            let limit = deadline.map_or(self.shared.request_timeout, |deadline| {
                self.shared
                    .request_timeout
                    .min(deadline.saturating_duration_since(Instant::now()))
            });
            *request.timeout_mut() = Some(limit);
            let failover = has_fallbacks(self.shared).then(|| request.try_clone()).flatten();
            let mut response = match self.shared.http.execute(request).await {
                Ok(response) => response,
                Err(e) => {
                    // Set when every endpoint failed: the error says how each
                    // did (a retry, if the policy allows one, starts a new round).
                    let mut every_endpoint = None;
                    if e.is_connect()
                        && let Some(next) = failover
                    {
                        match self.fail_over(next, &e, &mut failures, attempt).await {
                            Some(next) => {
                                request = next;
                                continue;
                            }
                            None => {
                                every_endpoint = Some(format!("no endpoint could be reached: {}", failures.join("; ")));
                                failures.clear();
                            }
                        }
                    }
                    let outcome = if e.is_connect() {
                        Outcome::ConnectFailed
                    } else {
                        Outcome::Other
                    };
                    if let Some((wait, next)) = self.retry_with(attempt, outcome, deadline, spare).await {
                        tracing::info!(attempt, error = %chain(&e), wait_ms = wait.as_millis() as u64, "retrying: no connection was made, nothing was sent");
                        tokio::time::sleep(wait).await;
                        request = next;
                        continue;
                    }
                    tracing::debug!(attempt, error = %chain(&e), "attempt failed");
                    let mut error = self.transport_error(e, &record);
                    if let (Error::Transport { message, .. }, Some(all)) = (&mut error, every_endpoint) {
                        *message = all;
                    }
                    return (Err(error), record);
                }
            };
            let status = response.status();
            record.status = Some(status.as_u16());
            record.request_id = request_id(response.headers());
            if let Some(id) = &record.request_id {
                record.request_ids.push(id.clone());
            }
            if let Some((wait, next)) = self
                .retry_with(attempt, Outcome::Status(status, response.headers()), deadline, spare)
                .await
            {
                tracing::info!(
                    attempt,
                    status = status.as_u16(),
                    request_id = record.request_id.as_deref().unwrap_or(""),
                    wait_ms = wait.as_millis() as u64,
                    "retrying: the server refused the request before processing it"
                );
                drop(response);
                tokio::time::sleep(wait).await;
                request = next;
                continue;
            }
            tracing::debug!(attempt, status = status.as_u16(), "attempt answered");
            let answer = match read_capped(&mut response, self.shared.max_response_bytes).await {
                Ok(Some(body)) => Ok(Answer {
                    status,
                    headers: std::mem::take(response.headers_mut()),
                    body,
                }),
                Ok(None) => Err(Error::ResponseTooLarge {
                    status: status.as_u16(),
                    limit: self.shared.max_response_bytes,
                    request_id: record.request_id.clone(),
                }),
                Err(e) => Err(self.transport_error(e, &record)),
            };
            return (answer, record);
        }
    }

    /// A failure of the transport (or a timeout) after what `record` says
    /// happened, as our error.
    pub(crate) fn transport_error(&self, e: reqwest::Error, record: &Record) -> Error {
        let (attempts, request_id) = (record.attempts, record.request_id.clone());
        let elapsed = self.started.elapsed();
        if e.is_timeout() {
            Error::Timeout {
                limit: if e.is_connect() {
                    TimeoutKind::Connect
                } else if elapsed >= self.shared.deadline {
                    // The attempt's timeout was cut short to end at the deadline.
                    TimeoutKind::Deadline
                } else {
                    TimeoutKind::Request
                },
                elapsed,
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

    /// The wait and the re-signed request for another attempt, when the
    /// policy allows one and it can start before the deadline.
    async fn retry_with(
        &self,
        attempt: u32,
        outcome: Outcome<'_>,
        deadline: Option<Instant>,
        spare: Option<reqwest::Request>,
    ) -> Option<(Duration, reqwest::Request)> {
        let wait = self.shared.retry.delay(attempt, outcome)?;
        if Instant::now()
            .checked_add(wait)
            .is_none_or(|at| deadline.is_some_and(|deadline| at >= deadline))
        {
            tracing::debug!(attempt, "not retrying: the deadline would pass first");
            return None;
        }
        let mut next = spare?;
        // On the endpoint in use now (a failover may have moved it).
        let _ = self.move_to_current(&mut next);
        // A fresh X-Sdk-Date and signature; the old one may be near expiry.
        if let Err(e) = self.authenticate(&mut next, attempt).await {
            tracing::debug!(attempt, error = %e, "not retrying: the request could not be signed again");
            return None;
        }
        Some((wait, next))
    }
}

/// Whether the client has endpoints to fail over to.
fn has_fallbacks(shared: &Shared) -> bool {
    shared.endpoints.len() > 1
}

impl Call<'_> {
    /// After `error` (a connect failure) on the endpoint in use: moves the
    /// client to the next endpoint not yet tried in this round and returns
    /// `request` re-signed for it, or `None` when every endpoint has failed.
    /// Nothing was sent, so this is safe for any method.
    async fn fail_over(
        &self,
        mut request: reqwest::Request,
        error: &reqwest::Error,
        failures: &mut Vec<String>,
        attempts: u32,
    ) -> Option<reqwest::Request> {
        let shared = self.shared;
        let failed = shared.current_endpoint.load(std::sync::atomic::Ordering::Relaxed);
        failures.push(format!("{}: {}", shared.endpoints.get(failed)?, chain(error)));
        if failures.len() >= shared.endpoints.len() {
            return None;
        }
        let next = (failed + 1) % shared.endpoints.len();
        // Sticky: later calls start here. A concurrent call's move wins if it came first.
        let _ = shared.current_endpoint.compare_exchange(
            failed,
            next,
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        );
        tracing::info!(from = %shared.endpoints[failed], to = %shared.endpoint(), error = %chain(error), "endpoint unreachable, failing over");
        self.move_to_current(&mut request)?;
        self.authenticate(&mut request, attempts).await.ok()?;
        Some(request)
    }

    /// Points `request` at the endpoint in use, keeping path and query.
    fn move_to_current(&self, request: &mut reqwest::Request) -> Option<()> {
        let url = request.url().as_str().to_owned();
        let base = self.shared.endpoints.iter().find(|base| {
            url.strip_prefix(base.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
        })?;
        let rest = &url[base.len()..];
        let moved = reqwest::Url::parse(&format!("{}{rest}", self.shared.endpoint())).ok()?;
        *request.url_mut() = moved;
        Some(())
    }
}

/// Reads at most `cap` bytes; `None` when the body is larger. A declared
/// `Content-Length` over the cap is refused before reading anything. A body
/// that arrives in one chunk (the usual case) is returned without a copy.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> reqwest::Result<Option<Bytes>> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Ok(None);
    }
    let Some(first) = response.chunk().await? else {
        return Ok(Some(Bytes::new()));
    };
    if first.len() > cap {
        return Ok(None);
    }
    let Some(second) = response.chunk().await? else {
        return Ok(Some(first));
    };
    if first.len() + second.len() > cap {
        return Ok(None);
    }
    let mut buf = BytesMut::with_capacity(first.len() + second.len());
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while let Some(chunk) = response.chunk().await? {
        if buf.len() + chunk.len() > cap {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf.freeze()))
}

/// The `X-Request-Id` header, when present and printable.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
