//! Stopping, retrying or confirming any number of devices: de-duplicate,
//! split into requests of at most 100 targets, send them with bounded
//! concurrency, settle each request as a single call does, and report every
//! target once, in input order. The three operations share this one
//! scheduler ([`BulkCall`]).
//!
//! Cancelling (see [`BulkCall::cancel_on`]) stops issuing requests; those in
//! flight get [`BulkCall::cancel_grace`] to finish, after which (or at once,
//! on [`BulkCall::abort_on`]) their targets are reported
//! [`Unknown::Interrupted`]: the operation may or may not have applied.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::{self, FutureExt};
use futures_util::stream::{self, StreamExt as _};
use tracing::Instrument as _;

use crate::Client;
use crate::error::Error;
use crate::outcome::{TargetOutcome, TargetResult, TargetsReport, Unknown};
use crate::targeted::{self, ChunkReport, Operation};
use crate::validation::{self, InvalidInput, MAX_TARGETS_PER_REQUEST};

/// Requests in flight at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The most requests a bulk call keeps in flight.
pub const MAX_CONCURRENCY: usize = 64;
/// How long requests in flight may still finish after a cancel, unless told
/// otherwise.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How far a bulk call has got; passed to [`BulkCall::on_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkProgress {
    /// Requests settled so far.
    pub requests_done: usize,
    /// Requests the call will make (one per chunk of 100 distinct targets;
    /// resends after a read are not counted).
    pub requests_total: usize,
    /// Targets with an outcome so far.
    pub targets_done: usize,
    /// Distinct targets in the call.
    pub targets_total: usize,
    /// Targets the operation applied to so far (stopped, re-run, confirmed).
    pub succeeded: usize,
}

type ProgressFn<'a> = Box<dyn Fn(&BulkProgress) + Send + Sync + 'a>;
type Signal<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A bulk stop, retry or confirm being prepared; see
/// [`Client::stop_batch_task_bulk`], [`Client::retry_batch_task_bulk`] and
/// [`Client::confirm_batch_task_bulk`]. It holds its own handle to the
/// client; `'a` is the lifetime of the callbacks and signals given to it
/// (`'static` unless they borrow).
#[must_use = "nothing is sent until .send().await"]
pub struct BulkCall<'a> {
    client: Client,
    operation: Operation,
    task_id: String,
    targets: Vec<String>,
    concurrency: usize,
    reconcile: bool,
    grace: Duration,
    progress: Option<ProgressFn<'a>>,
    cancel: Option<Signal<'a>>,
    abort: Option<Signal<'a>>,
}

/// A bulk stop: [`BulkCall`], its name before retry and confirm shared it.
pub type BulkStop<'a> = BulkCall<'a>;

impl fmt::Debug for BulkCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkCall")
            .field("operation", &self.operation.name())
            .field("task_id", &self.task_id)
            .field("targets", &self.targets.len())
            .field("concurrency", &self.concurrency)
            .field("reconcile", &self.reconcile)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a bulk stop of any number of devices of `task_id`: repeats
    /// dropped, split into requests of at most 100, sent
    /// [`DEFAULT_CONCURRENCY`] at a time, each settled like
    /// [`Client::stop_batch_task`] (reads after ambiguous attempts included),
    /// results in input order.
    ///
    /// ```no_run
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let devices = (1..=10_000).map(|i| format!("dev-{i:05}"));
    /// let report = client.stop_batch_task_bulk("61a5f4cbd86b7a1d1c2f3e4a").targets(devices).concurrency(8).send().await?;
    /// println!(
    ///     "{} stopped, {} not, {} unknown",
    ///     report.succeeded().count(),
    ///     report.failed().count(),
    ///     report.unknown().count()
    /// );
    /// # Ok(()) }
    /// ```
    pub fn stop_batch_task_bulk<'a>(&self, task_id: impl Into<String>) -> BulkCall<'a> {
        BulkCall::new(self, Operation::Stop, task_id.into())
    }

    /// Starts a bulk retry of any number of devices of `task_id`, as
    /// [`Client::stop_batch_task_bulk`] does for a stop; each request is
    /// settled like [`Client::retry_batch_task`].
    ///
    /// ```no_run
    /// # async fn demo(client: iotda_batchtask::Client, stopped: Vec<String>) -> Result<(), iotda_batchtask::Error> {
    /// let report = client.retry_batch_task_bulk("61a5f4cbd86b7a1d1c2f3e4a").targets(stopped).send().await?;
    /// println!("{} re-run, {} unknown", report.succeeded().count(), report.unknown().count());
    /// # Ok(()) }
    /// ```
    pub fn retry_batch_task_bulk<'a>(&self, task_id: impl Into<String>) -> BulkCall<'a> {
        BulkCall::new(self, Operation::Retry, task_id.into())
    }

    /// Starts a bulk confirm of any number of devices of `task_id`, as
    /// [`Client::stop_batch_task_bulk`] does for a stop; each request is
    /// settled like [`Client::confirm_batch_task`].
    pub fn confirm_batch_task_bulk<'a>(&self, task_id: impl Into<String>) -> BulkCall<'a> {
        BulkCall::new(self, Operation::Confirm, task_id.into())
    }
}

impl<'a> BulkCall<'a> {
    fn new(client: &Client, operation: Operation, task_id: String) -> Self {
        BulkCall {
            client: client.clone(),
            operation,
            task_id,
            targets: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            reconcile: true,
            grace: DEFAULT_CANCEL_GRACE,
            progress: None,
            cancel: None,
            abort: None,
        }
    }

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

    /// Whether to settle ambiguous attempts by reading (default `true`); see
    /// [`BatchTargetsCall::reconcile`](crate::BatchTargetsCall::reconcile).
    pub fn reconcile(mut self, reconcile: bool) -> Self {
        self.reconcile = reconcile;
        self
    }

    /// Called after each request is settled (from the task awaiting `send`).
    pub fn on_progress(mut self, f: impl Fn(&BulkProgress) + Send + Sync + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// When `signal` completes, no further request is sent; requests in flight
    /// get [`cancel_grace`](Self::cancel_grace) to finish, and targets never
    /// sent come back [`NotAttempted`](TargetOutcome::NotAttempted).
    /// (Dropping the `send` future instead aborts everything, with no report.)
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'a) -> Self {
        self.cancel = Some(Box::pin(signal));
        self
    }

    /// When `signal` completes, requests in flight are abandoned at once and
    /// their targets reported [`Unknown::Interrupted`]; nothing more is sent.
    /// (A second Ctrl-C, say.)
    pub fn abort_on(mut self, signal: impl Future<Output = ()> + Send + 'a) -> Self {
        self.abort = Some(Box::pin(signal));
        self
    }

    /// How long requests in flight may still finish after a cancel (default
    /// [`DEFAULT_CANCEL_GRACE`]); then they are abandoned as on
    /// [`abort_on`](Self::abort_on).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Validates everything, then sends. The only errors are
    /// [`Error::InvalidInput`], before anything is sent: a request that fails
    /// gives its own targets their outcome and does not stop the others.
    pub async fn send(self) -> Result<TargetsReport, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(InvalidInput::new("concurrency", format!("must be 1 to {MAX_CONCURRENCY}")).into());
        }
        let given = self.targets.len();
        let targets = validation::unique_targets(self.targets)?;
        if targets.is_empty() {
            return Err(InvalidInput::new("targets", "is empty; name at least one device").into());
        }
        let duplicates_dropped = given - targets.len();
        // The targets move into their chunks (no copy).
        let mut rest = targets.into_iter().peekable();
        let mut chunks: Vec<Vec<String>> = Vec::new();
        while rest.peek().is_some() {
            chunks.push(rest.by_ref().take(MAX_TARGETS_PER_REQUEST).collect());
        }
        let mut progress = BulkProgress {
            requests_done: 0,
            requests_total: chunks.len(),
            targets_done: 0,
            targets_total: chunks.iter().map(Vec::len).sum(),
            succeeded: 0,
        };
        let (targets, requests, concurrency) = (progress.targets_total, chunks.len(), self.concurrency);
        let span = match self.operation {
            Operation::Stop => tracing::info_span!(
                target: "iotda_batchtask::client",
                "iotda.stop_batch_task_bulk",
                task_id = task_id.as_str(),
                targets,
                requests,
                concurrency,
            ),
            Operation::Retry => tracing::info_span!(
                target: "iotda_batchtask::client",
                "iotda.retry_batch_task_bulk",
                task_id = task_id.as_str(),
                targets,
                requests,
                concurrency,
            ),
            Operation::Confirm => tracing::info_span!(
                target: "iotda_batchtask::client",
                "iotda.confirm_batch_task_bulk",
                task_id = task_id.as_str(),
                targets,
                requests,
                concurrency,
            ),
        };

        let client = &self.client;
        let task_id = &task_id;
        let (reconcile, operation) = (self.reconcile, self.operation);
        // Each request borrows its chunk; the strings move into the report at the end.
        let chunks_sent = &chunks;
        let run = move |index: usize| async move {
            (
                index,
                targeted::run_chunk(client, operation, task_id, &chunks_sent[index], reconcile).await,
            )
        };
        // Per-chunk reports, by chunk index; `None` = not settled.
        let mut done: Vec<Option<ChunkReport>> = (0..chunks.len()).map(|_| None).collect();
        // Chunks handed out so far (they go out in order).
        let issued = AtomicUsize::new(0);
        let cancel = self.cancel.map(FutureExt::shared);
        let grace = self.grace;
        let never = || future::pending().boxed();
        // A cancel stops *issuing*; the requests in flight may still finish
        // (their outcome is then known) until an abort, or until the grace
        // after the cancel is over.
        let stop_issuing = cancel.clone().map_or_else(never, FutureExt::boxed);
        let grace_over = cancel
            .clone()
            .map_or_else(never, |cancel| cancel.then(move |()| tokio::time::sleep(grace)).boxed());
        let stop_waiting = future::select(self.abort.unwrap_or_else(never), grace_over);
        // By index, not `chunks.iter()`: a closure over borrowed items would
        // make the `send` future fail the `Send` check (rust-lang/rust#102211).
        let mut settled = stream::iter(0..chunks.len())
            .take_until(stop_issuing)
            .map(|index| {
                issued.store(index + 1, Ordering::Relaxed);
                run(index)
            })
            .buffer_unordered(self.concurrency)
            .take_until(stop_waiting);
        async {
            while let Some((index, report)) = settled.next().await {
                progress.requests_done += 1;
                progress.targets_done += report.outcomes.len();
                progress.succeeded += report
                    .outcomes
                    .iter()
                    .filter(|outcome| matches!(outcome, TargetOutcome::Succeeded(_)))
                    .count();
                if let Some(report) = &self.progress {
                    report(&progress);
                }
                done[index] = Some(report);
            }
        }
        .instrument(span)
        .await;
        let stopped_waiting = settled.is_stopped();
        drop(settled);
        let next = issued.load(Ordering::Relaxed);
        let abandoned = done[..next].iter().any(Option::is_none);
        if abandoned {
            tracing::info!("interrupted: requests still in flight were abandoned; their targets are unknown");
        }
        let cancelled = stopped_waiting || cancel.as_ref().is_some_and(|cancel| cancel.peek().is_some());

        let mut report = TargetsReport {
            results: Vec::with_capacity(progress.targets_total),
            duplicates_dropped,
            // A signal after the last request went out cancelled nothing.
            cancelled: cancelled && (next < chunks.len() || abandoned),
            ..TargetsReport::default()
        };
        for (index, (chunk, settled)) in chunks.into_iter().zip(done).enumerate() {
            match settled {
                Some(settled) => {
                    // The chunk's own strings move into the report.
                    report.results.extend(
                        chunk
                            .into_iter()
                            .zip(settled.outcomes)
                            .map(|(target, outcome)| TargetResult { target, outcome }),
                    );
                    report.request_ids.extend(settled.request_ids);
                    report.requests_sent += settled.requests_sent;
                    report.reads += settled.reads;
                    report.unexpected.extend(settled.unexpected);
                }
                None => {
                    let outcome = if index < next {
                        TargetOutcome::Unknown(Unknown::Interrupted)
                    } else {
                        TargetOutcome::NotAttempted
                    };
                    if index < next {
                        report.requests_sent += 1;
                    }
                    report.results.extend(chunk.into_iter().map(|target| TargetResult {
                        target,
                        outcome: outcome.clone(),
                    }));
                }
            }
        }
        Ok(report)
    }
}
