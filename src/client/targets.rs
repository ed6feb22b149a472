//! The builder StopBatchTask, RetryBatchTask and ConfirmBatchTask share:
//! named devices' sub-tasks, or (explicitly) all of them, through the one
//! targeted path (`crate::targeted`). Each operation's entry point is in its
//! own file (`stop.rs`, `retry.rs`, `confirm.rs`).

use std::fmt;

use super::Client;
use crate::error::Error;
use crate::outcome::{Failed, TargetOutcome, TargetResult, TargetsReport};
use crate::targeted::{self, Operation, TaskVerdict};
use crate::types;
use crate::validation::{self, InvalidInput};

/// A StopBatchTask, RetryBatchTask or ConfirmBatchTask call being prepared;
/// see [`Client::stop_batch_task`], [`Client::retry_batch_task`] and
/// [`Client::confirm_batch_task`]. The three share the body (`{}` or at most
/// 100 targets), the per-target answer, the validation, the outcome model
/// ([`crate::outcome`]) and the reads that settle a lost answer. It holds its
/// own handle to the client, so its future is `'static`.
#[must_use = "nothing is sent until .send().await"]
pub struct BatchTargetsCall {
    client: Client,
    operation: Operation,
    task_id: String,
    selection: Selection,
    reconcile: bool,
}

/// A StopBatchTask call: [`BatchTargetsCall`], the name it had before retry
/// and confirm shared it.
pub type StopBatchTask = BatchTargetsCall;

impl BatchTargetsCall {
    pub(super) fn new(client: &Client, operation: Operation, task_id: String) -> Self {
        Self {
            client: client.clone(),
            operation,
            task_id,
            selection: Selection::Unset,
            reconcile: true,
        }
    }
}

#[derive(Debug)]
enum Selection {
    Unset,
    Targets(Vec<String>),
    All,
    Conflict,
}

impl fmt::Debug for BatchTargetsCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchTargetsCall")
            .field("operation", &self.operation.name())
            .field("task_id", &self.task_id)
            .field("selection", &self.selection)
            .field("reconcile", &self.reconcile)
            .finish_non_exhaustive()
    }
}

impl BatchTargetsCall {
    /// Acts on the sub-tasks of these devices (1 to 100 distinct device IDs;
    /// repeats are dropped). May be called more than once to add more. More
    /// than 100: the bulk calls ([`Client::stop_batch_task_bulk`] and its
    /// siblings) split them.
    pub fn targets<I, S>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let new = targets.into_iter().map(Into::into);
        self.selection = match self.selection {
            Selection::Unset => Selection::Targets(new.collect()),
            Selection::Targets(mut old) => {
                old.extend(new);
                Selection::Targets(old)
            }
            Selection::All | Selection::Conflict => Selection::Conflict,
        };
        self
    }

    /// Acts on one device's sub-task; shorthand for `targets([device_id])`.
    pub fn target(self, device_id: impl Into<String>) -> Self {
        self.targets([device_id.into()])
    }

    /// Acts on **every** sub-task the operation applies to (body `{}`):
    /// a stop, every running, waiting, or failed-awaiting-retry sub-task; a
    /// retry, every failed, failed-awaiting-retry or stopped one; a confirm,
    /// every waiting one. This is the only way to send `{}`: an empty target
    /// list is an error, never an everything.
    pub fn all(mut self) -> Self {
        self.selection = match self.selection {
            Selection::Unset | Selection::All => Selection::All,
            Selection::Targets(_) | Selection::Conflict => Selection::Conflict,
        };
        self
    }

    /// Whether to settle an ambiguous attempt by reading (default `true`).
    ///
    /// When a request may have been processed but no answer says so (a
    /// timeout or reset after sending, a 5xx, an unreadable answer), the call
    /// reads each such target's sub-task with ShowBatchTask (one read per
    /// target; for [`all`](Self::all), one read of the task) and reports what
    /// it finds; targets the operation still applies to are sent again, once
    /// (see the table in [`crate::outcome`]). With `false`,
    /// such targets are reported [`Unknown`](TargetOutcome::Unknown) and no
    /// extra request is made.
    pub fn reconcile(mut self, reconcile: bool) -> Self {
        self.reconcile = reconcile;
        self
    }

    /// Validates, sends, settles, and reports per target.
    ///
    /// `Err` when nothing was learned about any target: invalid input
    /// (nothing sent), or the request refused as a whole before processing
    /// (an unknown task, bad credentials, no connection), or, for
    /// [`all`](Self::all), an ambiguous failure no read could settle
    /// ([`Error::may_have_been_processed`] tells which). Otherwise every
    /// named target has its outcome in the report, unknown ones included.
    pub async fn send(self) -> Result<TargetsReport, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        match self.selection {
            Selection::Targets(list) => {
                let given = list.len();
                if list.is_empty() {
                    // Here the client's `all()` can be named (validation's own
                    // message cannot: it is built without the client too).
                    return Err(InvalidInput::new(
                        "targets",
                        "is empty; name at least one device, or call all() to act on every sub-task explicitly",
                    )
                    .into());
                }
                let list = validation::targets(list)?;
                let duplicates_dropped = given - list.len();
                let chunk = targeted::run_chunk(&self.client, self.operation, &task_id, &list, self.reconcile).await;
                let refused = chunk.requests_sent == 1
                    && chunk
                        .outcomes
                        .iter()
                        .all(|outcome| matches!(outcome, TargetOutcome::Failed(Failed::Refused(_))));
                if refused {
                    return Err(into_error(chunk.outcomes));
                }
                Ok(TargetsReport {
                    results: list
                        .into_iter()
                        .zip(chunk.outcomes)
                        .map(|(target, outcome)| TargetResult { target, outcome })
                        .collect(),
                    request_ids: chunk.request_ids,
                    requests_sent: chunk.requests_sent,
                    reads: chunk.reads,
                    duplicates_dropped,
                    unexpected: chunk.unexpected,
                    ..TargetsReport::default()
                })
            }
            Selection::All => all(&self.client, self.operation, &task_id, self.reconcile).await,
            Selection::Unset => Err(InvalidInput::new(
                "targets",
                match self.operation {
                    Operation::Stop => {
                        "not given: name the devices with targets(...), or call all() to stop every \
                         running, waiting and failed-awaiting-retry sub-task"
                    }
                    Operation::Retry => {
                        "not given: name the devices with targets(...), or call all() to retry every \
                         failed, failed-awaiting-retry and stopped sub-task"
                    }
                    Operation::Confirm => {
                        "not given: name the devices with targets(...), or call all() to confirm every \
                         waiting sub-task"
                    }
                },
            )
            .into()),
            Selection::Conflict => Err(InvalidInput::new("targets", "given together with all(); choose one").into()),
        }
    }
}

/// The one error every outcome of a wholly refused request shares.
fn into_error(outcomes: Vec<TargetOutcome>) -> Error {
    let shared = outcomes.into_iter().find_map(|outcome| match outcome {
        TargetOutcome::Failed(Failed::Refused(error)) => Some(error),
        _ => None,
    });
    // Every result held a clone of the same `Arc`; the others are dropped.
    let shared = shared.expect("a refused request has at least one target");
    std::sync::Arc::into_inner(shared).expect("the results, now dropped, held the only other references")
}

/// `{}`: every sub-task. An ambiguous attempt is settled by reading the
/// task ([`Operation::task_verdict`]): applied, or not; a task that still
/// accepts the call is sent `{}` again, once (it acts only on the sub-tasks
/// still waiting for it, so a processed first attempt is not repeated).
async fn all(
    client: &Client,
    operation: Operation,
    task_id: &types::TaskId,
    reconcile: bool,
) -> Result<TargetsReport, Error> {
    let mut report = TargetsReport::default();
    let mut resent = false;
    let started = std::time::Instant::now();
    loop {
        let (result, ids) = targeted::send_targets(client, operation, task_id, Vec::new()).await;
        report.requests_sent += 1;
        report.request_ids.extend(ids);
        let error = match result {
            Ok((answers, request_id)) => {
                let request_id = request_id.map(std::sync::Arc::from);
                for answer in answers {
                    match answer.target.clone() {
                        Some(target) => report.results.push(TargetResult {
                            target,
                            outcome: targeted::outcome_of_answer(Some(answer), &request_id),
                        }),
                        None => report.unexpected.push(answer),
                    }
                }
                return Ok(report);
            }
            Err(error) if !reconcile || !error.may_have_been_processed() => return Err(error),
            Err(error) => error,
        };
        let page = match client.show_batch_task(task_id.as_str()).limit(1).send().await {
            Ok(page) => page,
            Err(read_error) => {
                tracing::debug!(error = %read_error, "the read did not settle the call on every sub-task");
                return Err(error);
            }
        };
        report.reads += 1;
        report.request_ids.extend(page.request_id().map(str::to_owned));
        let Some(task) = page.task() else { return Err(error) };
        let Some(verdict) = operation.task_verdict(task) else {
            return Err(error);
        };
        let status = task.status.clone();
        if verdict == TaskVerdict::Pending && !resent && started.elapsed() < client.shared.deadline {
            tracing::info!(
                status,
                operation = operation.name(),
                "a read showed the call not yet applied after an ambiguous attempt: sending again"
            );
            resent = true;
            continue;
        }
        // Read after the lost answer: what the task shows is the report.
        report.task_status = status;
        report.applied = Some(verdict == TaskVerdict::Applied);
        return Ok(report);
    }
}
