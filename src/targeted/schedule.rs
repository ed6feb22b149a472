//! Any number of validated, distinct targets: split into requests of at most
//! 100, sent with bounded concurrency, each settled by [`chunk::run`], and
//! reported once, in input order.
//!
//! A cancel stops issuing requests; those in flight get the cancel grace to
//! finish, after which (or at once, on an abort) their targets are reported
//! [`Unknown::Interrupted`]: the operation may or may not have applied.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::{self, FutureExt};
use futures_util::stream::{self, StreamExt as _};
use tracing::Instrument as _;

use super::Operation;
use super::chunk::{self, ChunkReport};
use crate::Client;
use crate::client::TargetsProgress;
use crate::outcome::{TargetOutcome, TargetResult, TargetsReport, Unknown};
use crate::types;
use crate::validation::MAX_TARGETS_PER_REQUEST;

pub(crate) type ProgressFn<'a> = Box<dyn Fn(&TargetsProgress) + Send + Sync + 'a>;
pub(crate) type Signal<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// How a call's requests are scheduled: the builder's options.
pub(crate) struct Schedule<'a> {
    pub(crate) reconcile: bool,
    pub(crate) concurrency: usize,
    pub(crate) grace: Duration,
    pub(crate) progress: Option<ProgressFn<'a>>,
    pub(crate) cancel: Option<Signal<'a>>,
    pub(crate) abort: Option<Signal<'a>>,
}

/// `targets` split into requests of at most [`MAX_TARGETS_PER_REQUEST`],
/// in order: what [`run`] sends and a plan shows.
pub(crate) fn chunks(targets: Vec<String>) -> Vec<Vec<String>> {
    // The targets move into their chunks (no copy).
    let mut rest = targets.into_iter().peekable();
    let mut chunks: Vec<Vec<String>> = Vec::new();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(MAX_TARGETS_PER_REQUEST).collect());
    }
    chunks
}

/// Sends `targets` (distinct, valid, at least one) and reports every one.
pub(crate) async fn run(
    client: &Client,
    operation: Operation,
    task_id: &types::TaskId,
    targets: Vec<String>,
    schedule: Schedule<'_>,
) -> TargetsReport {
    let chunks = chunks(targets);
    let mut progress = TargetsProgress {
        requests_done: 0,
        requests_total: chunks.len(),
        targets_done: 0,
        targets_total: chunks.iter().map(Vec::len).sum(),
        succeeded: 0,
    };
    let (targets, requests) = (progress.targets_total, chunks.len());
    let Schedule {
        reconcile,
        concurrency,
        grace,
        progress: on_progress,
        cancel,
        abort,
    } = schedule;
    let mut note = |report: &ChunkReport| {
        progress.requests_done += 1;
        progress.targets_done += report.outcomes.len();
        progress.succeeded += report
            .outcomes
            .iter()
            .filter(|outcome| matches!(outcome, TargetOutcome::Succeeded(_)))
            .count();
        if let Some(on_progress) = &on_progress {
            on_progress(&progress);
        }
    };

    // One request and nothing to cancel it: no scheduler to run.
    if chunks.len() == 1 && cancel.is_none() && abort.is_none() {
        let settled = chunk::run(client, operation, task_id, &chunks[0], reconcile).await;
        note(&settled);
        return assemble(chunks, vec![Some(settled)], 1, false);
    }

    let span = match operation {
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

    // Each request borrows its chunk; the strings move into the report at the end.
    let chunks_sent = &chunks;
    let run = move |index: usize| async move {
        (
            index,
            chunk::run(client, operation, task_id, &chunks_sent[index], reconcile).await,
        )
    };
    // Per-chunk reports, by chunk index; `None` = not settled.
    let mut done: Vec<Option<ChunkReport>> = (0..chunks.len()).map(|_| None).collect();
    // Chunks handed out so far (they go out in order).
    let issued = AtomicUsize::new(0);
    let cancel = cancel.map(FutureExt::shared);
    let never = || future::pending().boxed();
    // A cancel stops *issuing*; the requests in flight may still finish
    // (their outcome is then known) until an abort, or until the grace
    // after the cancel is over.
    let stop_issuing = cancel.clone().map_or_else(never, FutureExt::boxed);
    let grace_over = cancel
        .clone()
        .map_or_else(never, |cancel| cancel.then(move |()| tokio::time::sleep(grace)).boxed());
    let stop_waiting = future::select(abort.unwrap_or_else(never), grace_over);
    // By index, not `chunks.iter()`: a closure over borrowed items would
    // make the `send` future fail the `Send` check (rust-lang/rust#102211).
    let mut settled = stream::iter(0..chunks.len())
        .take_until(stop_issuing)
        .map(|index| {
            issued.store(index + 1, Ordering::Relaxed);
            run(index)
        })
        .buffer_unordered(concurrency)
        .take_until(stop_waiting);
    async {
        while let Some((index, report)) = settled.next().await {
            note(&report);
            done[index] = Some(report);
        }
    }
    .instrument(span)
    .await;
    let stopped_waiting = settled.is_stopped();
    drop(settled);
    let issued = issued.load(Ordering::Relaxed);
    let cancelled = stopped_waiting || cancel.as_ref().is_some_and(|cancel| cancel.peek().is_some());
    assemble(chunks, done, issued, cancelled)
}

/// The report, once: each settled chunk's outcomes; a chunk issued but not
/// settled is interrupted, one never issued not attempted.
fn assemble(chunks: Vec<Vec<String>>, done: Vec<Option<ChunkReport>>, issued: usize, cancelled: bool) -> TargetsReport {
    let abandoned = done[..issued].iter().any(Option::is_none);
    if abandoned {
        tracing::info!("interrupted: requests still in flight were abandoned; their targets are unknown");
    }
    let mut report = TargetsReport {
        results: Vec::with_capacity(chunks.iter().map(Vec::len).sum()),
        // A signal after the last request went out cancelled nothing.
        cancelled: cancelled && (issued < chunks.len() || abandoned),
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
                let outcome = if index < issued {
                    report.requests_sent += 1;
                    TargetOutcome::Unknown(Unknown::Interrupted)
                } else {
                    TargetOutcome::NotAttempted
                };
                report.results.extend(chunk.into_iter().map(|target| TargetResult {
                    target,
                    outcome: outcome.clone(),
                }));
            }
        }
    }
    report
}
