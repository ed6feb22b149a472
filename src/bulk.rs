//! Stopping any number of devices: de-duplicate, split into requests of at
//! most 100 targets, send them with bounded concurrency, and merge the
//! per-target results back into input order.
//!
//! Every input target appears in the output exactly once: stopped, failed
//! (with the server's code, or the code of the request that failed), or not
//! attempted (the call was cancelled before its request was sent).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::Client;
use crate::error::Error;
use crate::output::{STATUS_FAILURE, STATUS_SUCCESS, StopOutput};
use crate::types::BatchTargetResult;
use crate::validation::{self, InvalidInput, MAX_TARGETS_PER_REQUEST};

/// Requests in flight at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The most requests a bulk call keeps in flight.
pub const MAX_CONCURRENCY: usize = 64;

/// `status` of a target whose request was never sent (the call was cancelled).
pub const STATUS_NOT_ATTEMPTED: &str = "not_attempted";

/// Codes this crate puts in `error_code` when Huawei supplied none. They start
/// with `CLIENT.` so they never collide with `IOTDA.`/`APIGW.` codes.
pub mod codes {
    /// The request for this target could not be sent or answered.
    pub const TRANSPORT: &str = "CLIENT.TRANSPORT";
    /// The request for this target timed out; it may or may not have been processed.
    pub const TIMEOUT: &str = "CLIENT.TIMEOUT";
    /// The answer to this target's request was not the documented JSON.
    pub const DECODE: &str = "CLIENT.DECODE";
    /// The answer to this target's request exceeded the size cap.
    pub const RESPONSE_TOO_LARGE: &str = "CLIENT.RESPONSE_TOO_LARGE";
    /// The request succeeded but its answer had no entry for this target.
    pub const NO_RESULT: &str = "CLIENT.NO_RESULT";
    /// The call was cancelled before this target's request was sent.
    pub const CANCELLED: &str = "CLIENT.CANCELLED";
    /// Prefix of `HTTP.<status>`, for an error status without a Huawei code.
    pub const HTTP_PREFIX: &str = "HTTP.";
}

/// What happened to one target of a bulk call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkTargetResult {
    /// The device ID.
    pub target: String,
    /// `success`, `failure`, `not_attempted`, or a value from a newer server.
    pub status: String,
    /// Huawei's code, or one of [`codes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    /// The `X-Request-Id` of the request that carried this target, shared by
    /// every target of that request (one allocation per request, not per target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Arc<str>>,
}

impl BulkTargetResult {
    /// `true` only for `status: "success"`.
    pub fn is_success(&self) -> bool {
        self.status == STATUS_SUCCESS
    }

    /// `true` when the target's request was never sent.
    pub fn is_not_attempted(&self) -> bool {
        self.status == STATUS_NOT_ATTEMPTED
    }

    /// One per-target answer of a StopBatchTask response. No `status` at all
    /// is not a success: it becomes `failure`; no `target` becomes empty.
    pub fn from_answer(answer: BatchTargetResult, request_id: Option<Arc<str>>) -> Self {
        Self {
            target: answer.target.unwrap_or_default(),
            status: answer.status.unwrap_or_else(|| STATUS_FAILURE.to_owned()),
            error_code: answer.error_code,
            error_msg: answer.error_msg,
            request_id,
        }
    }

    fn failed(target: String, code: &str, message: String, request_id: Option<Arc<str>>) -> Self {
        Self {
            target,
            status: STATUS_FAILURE.to_owned(),
            error_code: Some(code.to_owned()),
            error_msg: Some(message),
            request_id,
        }
    }
}

/// How far a bulk call has got; passed to [`BulkStop::on_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkProgress {
    /// Requests answered (or failed) so far.
    pub requests_done: usize,
    /// Requests the call will make.
    pub requests_total: usize,
    /// Targets with a result so far.
    pub targets_done: usize,
    /// Distinct targets in the call.
    pub targets_total: usize,
    /// Targets stopped so far.
    pub succeeded: usize,
}

/// The merged answer of a bulk call.
#[derive(Debug)]
pub struct BulkOutput {
    results: Vec<BulkTargetResult>,
    request_ids: Vec<String>,
    request_errors: Vec<Error>,
    requests_sent: usize,
    duplicates_dropped: usize,
    cancelled: bool,
}

impl BulkOutput {
    /// One result per distinct input target, in input order.
    pub fn results(&self) -> &[BulkTargetResult] {
        &self.results
    }

    /// Consumes the output, returning the results.
    pub fn into_results(self) -> Vec<BulkTargetResult> {
        self.results
    }

    /// Request IDs of every answered request, in request order.
    pub fn request_ids(&self) -> &[String] {
        &self.request_ids
    }

    /// The errors of requests that failed, in request order. Their targets
    /// are failures carrying the error's code and message.
    pub fn request_errors(&self) -> &[Error] {
        &self.request_errors
    }

    /// Requests sent.
    pub fn requests_sent(&self) -> usize {
        self.requests_sent
    }

    /// Requests that ended in an error (their targets are failures).
    pub fn requests_failed(&self) -> usize {
        self.request_errors.len()
    }

    /// Repeated targets dropped from the input.
    pub fn duplicates_dropped(&self) -> usize {
        self.duplicates_dropped
    }

    /// Whether the call was cancelled before every request was sent.
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }

    /// Targets stopped.
    pub fn succeeded(&self) -> impl Iterator<Item = &BulkTargetResult> {
        self.results.iter().filter(|r| r.is_success())
    }

    /// Targets not stopped, whatever the reason (not-attempted ones included).
    pub fn failed(&self) -> impl Iterator<Item = &BulkTargetResult> {
        self.results.iter().filter(|r| !r.is_success())
    }

    /// Targets whose request was never sent.
    pub fn not_attempted(&self) -> impl Iterator<Item = &BulkTargetResult> {
        self.results.iter().filter(|r| r.is_not_attempted())
    }

    /// `true` when every target was stopped.
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(BulkTargetResult::is_success)
    }
}

type ProgressFn<'a> = Box<dyn Fn(&BulkProgress) + Send + Sync + 'a>;
type CancelFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A bulk stop being prepared; see [`Client::stop_batch_task_bulk`].
#[must_use = "nothing is sent until .send().await"]
pub struct BulkStop<'a> {
    client: &'a Client,
    task_id: String,
    targets: Vec<String>,
    concurrency: usize,
    progress: Option<ProgressFn<'a>>,
    cancel: Option<CancelFuture<'a>>,
}

impl fmt::Debug for BulkStop<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkStop")
            .field("task_id", &self.task_id)
            .field("targets", &self.targets.len())
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a bulk stop of any number of devices of `task_id`: repeats
    /// dropped, split into requests of at most 100, sent
    /// [`DEFAULT_CONCURRENCY`] at a time, results merged in input order.
    ///
    /// ```no_run
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let devices = (1..=10_000).map(|i| format!("dev-{i:05}"));
    /// let out = client.stop_batch_task_bulk("61a5f4cbd86b7a1d1c2f3e4a").targets(devices).concurrency(8).send().await?;
    /// println!("{} stopped, {} not", out.succeeded().count(), out.failed().count());
    /// # Ok(()) }
    /// ```
    pub fn stop_batch_task_bulk(&self, task_id: impl Into<String>) -> BulkStop<'_> {
        BulkStop {
            client: self,
            task_id: task_id.into(),
            targets: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            progress: None,
            cancel: None,
        }
    }
}

impl<'a> BulkStop<'a> {
    /// Adds targets (any number; repeats are dropped, first occurrence kept).
    pub fn targets<I, S>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.targets.extend(targets.into_iter().map(Into::into));
        self
    }

    /// Requests in flight at once, 1 to [`MAX_CONCURRENCY`].
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// Called after each request completes (from the task awaiting `send`).
    pub fn on_progress(mut self, f: impl Fn(&BulkProgress) + Send + Sync + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// When `signal` completes, no further request is sent; requests in flight
    /// finish, and targets never sent come back as `not_attempted`. (Dropping
    /// the `send` future instead aborts requests in flight, with no report.)
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'a) -> Self {
        self.cancel = Some(Box::pin(signal));
        self
    }

    /// Validates everything, then sends. The only errors are
    /// [`Error::InvalidInput`], before anything is sent; a request that fails
    /// marks its own targets as failed and does not stop the others.
    pub async fn send(self) -> Result<BulkOutput, Error> {
        validation::task_id(&self.task_id)?;
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(InvalidInput::new("concurrency", format!("must be 1 to {MAX_CONCURRENCY}")).into());
        }
        let given = self.targets.len();
        let targets = validation::unique_targets(self.targets)?;
        if targets.is_empty() {
            return Err(InvalidInput::new("targets", "is empty; name at least one device").into());
        }
        let chunks: Vec<&[String]> = targets.chunks(MAX_TARGETS_PER_REQUEST).collect();
        let mut progress = BulkProgress {
            requests_done: 0,
            requests_total: chunks.len(),
            targets_done: 0,
            targets_total: targets.len(),
            succeeded: 0,
        };
        let span = tracing::info_span!(
            "iotda.stop_batch_task_bulk",
            task_id = self.task_id.as_str(),
            targets = targets.len(),
            requests = chunks.len(),
            concurrency = self.concurrency,
        );

        // Per-chunk outcomes, by chunk index; `None` = never sent.
        let mut outcomes: Vec<Option<Result<StopOutput, Error>>> = (0..chunks.len()).map(|_| None).collect();
        let mut in_flight = FuturesUnordered::new();
        let mut next = 0;
        let mut cancel = self.cancel;
        let mut cancelled = false;
        // A small scheduler rather than `buffer_unordered`: on cancel it stops
        // *issuing* requests but lets those in flight finish, so every sent
        // request's outcome is known and reported.
        std::future::poll_fn(|cx| {
            loop {
                if let Some(signal) = cancel.as_mut()
                    && signal.as_mut().poll(cx).is_ready()
                {
                    cancelled = true;
                    cancel = None;
                }
                while !cancelled && next < chunks.len() && in_flight.len() < self.concurrency {
                    in_flight.push(send_chunk(self.client, &self.task_id, next, chunks[next]));
                    next += 1;
                }
                match in_flight.poll_next_unpin(cx) {
                    Poll::Ready(Some((index, result))) => {
                        progress.requests_done += 1;
                        progress.targets_done += chunks[index].len();
                        progress.succeeded += result.as_ref().map_or(0, |out: &StopOutput| out.succeeded().count());
                        if let Some(report) = &self.progress {
                            report(&progress);
                        }
                        outcomes[index] = Some(result);
                    }
                    // Empty only when nothing is left to send (or sending stopped).
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .instrument(span)
        .await;

        // The requests borrow the targets; with them gone, the merge can
        // move each target into its result instead of copying it.
        drop(in_flight);
        // A signal after the last request went out cancelled nothing.
        let cancelled = cancelled && next < chunks.len();
        drop(chunks);
        let duplicates_dropped = given - targets.len();
        Ok(merge(targets, outcomes, duplicates_dropped, cancelled))
    }
}

async fn send_chunk(
    client: &Client,
    task_id: &str,
    index: usize,
    chunk: &[String],
) -> (usize, Result<StopOutput, Error>) {
    (
        index,
        client
            .stop_batch_task(task_id)
            .checked_targets(chunk.to_vec())
            .send()
            .await,
    )
}

/// Lays every chunk's outcome over its targets (`targets`, split into
/// chunks of [`MAX_TARGETS_PER_REQUEST`] as sent), in input order. Targets
/// and the answers' fields are moved into the results, not copied.
fn merge(
    mut targets: Vec<String>,
    outcomes: Vec<Option<Result<StopOutput, Error>>>,
    duplicates_dropped: usize,
    cancelled: bool,
) -> BulkOutput {
    let mut results = Vec::with_capacity(targets.len());
    let mut request_ids = Vec::with_capacity(outcomes.len());
    let mut request_errors = Vec::new();
    let mut requests_sent = 0;
    // Each target moves out of its chunk into its result (`take` leaves an
    // empty, unallocated String), so no chunk is copied into a list of its own.
    for (outcome, chunk) in outcomes.into_iter().zip(targets.chunks_mut(MAX_TARGETS_PER_REQUEST)) {
        let Some(outcome) = outcome else {
            for target in chunk {
                results.push(BulkTargetResult {
                    target: std::mem::take(target),
                    status: STATUS_NOT_ATTEMPTED.to_owned(),
                    error_code: Some(codes::CANCELLED.to_owned()),
                    error_msg: Some("the call was cancelled before this request was sent".to_owned()),
                    request_id: None,
                });
            }
            continue;
        };
        requests_sent += 1;
        let sent_id = match &outcome {
            Ok(out) => out.request_id(),
            Err(error) => error.request_id(),
        };
        request_ids.extend(sent_id.map(str::to_owned));
        let request_id: Option<Arc<str>> = sent_id.map(Arc::from);
        match outcome {
            Ok(out) => {
                let answers = answers_by_target(chunk, out.into_results());
                for (target, answer) in chunk.iter_mut().zip(answers) {
                    results.push(result_for(std::mem::take(target), answer, &request_id));
                }
            }
            Err(error) => {
                let code = error_code_of(&error);
                let message = error.to_string();
                for target in chunk {
                    let failed =
                        BulkTargetResult::failed(std::mem::take(target), &code, message.clone(), request_id.clone());
                    results.push(failed);
                }
                request_errors.push(error);
            }
        }
    }
    BulkOutput {
        results,
        request_ids,
        request_errors,
        requests_sent,
        duplicates_dropped,
        cancelled,
    }
}

/// The result of `target`, from its answer (none: the server left it out).
fn result_for(target: String, answer: Option<BatchTargetResult>, request_id: &Option<Arc<str>>) -> BulkTargetResult {
    match answer {
        Some(answer) => BulkTargetResult {
            target,
            ..BulkTargetResult::from_answer(answer, request_id.clone())
        },
        None => BulkTargetResult::failed(
            target,
            codes::NO_RESULT,
            "the answer had no result for this target".to_owned(),
            request_id.clone(),
        ),
    }
}

/// For each target of `chunk` (distinct device IDs), its answer: the first
/// result naming it; results for targets not asked for are ignored.
fn answers_by_target(chunk: &[String], answers: Vec<BatchTargetResult>) -> Vec<Option<BatchTargetResult>> {
    // The usual case: one answer per target, in request order. No matching;
    // the collect reuses the answers' allocation.
    let in_order = answers.len() >= chunk.len()
        && chunk
            .iter()
            .zip(&answers)
            .all(|(target, answer)| answer.target.as_deref() == Some(target.as_str()));
    if in_order {
        return answers.into_iter().take(chunk.len()).map(Some).collect();
    }
    let position: HashMap<&str, usize> = chunk.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let mut slots: Vec<Option<BatchTargetResult>> = (0..chunk.len()).map(|_| None).collect();
    for answer in answers {
        let slot = answer.target.as_deref().and_then(|t| position.get(t)).copied();
        if let Some(i) = slot
            && slots[i].is_none()
        {
            slots[i] = Some(answer);
        }
    }
    slots
}

/// The code a failed request gives its targets.
fn error_code_of(error: &Error) -> String {
    match error {
        Error::Api(api) => api
            .error_code
            .clone()
            .unwrap_or_else(|| format!("{}{}", codes::HTTP_PREFIX, api.status)),
        Error::Timeout { .. } => codes::TIMEOUT.to_owned(),
        Error::Decode { .. } => codes::DECODE.to_owned(),
        Error::ResponseTooLarge { .. } => codes::RESPONSE_TOO_LARGE.to_owned(),
        _ => codes::TRANSPORT.to_owned(),
    }
}
