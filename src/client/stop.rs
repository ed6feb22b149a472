//! StopBatchTask: stop named devices' sub-tasks, or (explicitly) all of them.

use std::fmt;

use super::Client;
use crate::error::Error;
use crate::outcome::{Failed, StopReport, TargetOutcome, TargetResult};
use crate::targeted::{self, Operation};
use crate::types::{self, TaskStatus};
use crate::validation::{self, InvalidInput};

impl Client {
    /// Starts a StopBatchTask call for `task_id`. Say what to stop with
    /// [`StopBatchTask::targets`] or, explicitly, [`StopBatchTask::all`].
    pub fn stop_batch_task(&self, task_id: impl Into<String>) -> StopBatchTask {
        StopBatchTask {
            client: self.clone(),
            task_id: task_id.into(),
            selection: Selection::Unset,
            reconcile: true,
        }
    }
}

/// A StopBatchTask call being prepared; see [`Client::stop_batch_task`]. It
/// holds its own handle to the client, so its future is `'static`.
#[must_use = "nothing is sent until .send().await"]
pub struct StopBatchTask {
    client: Client,
    task_id: String,
    selection: Selection,
    reconcile: bool,
}

#[derive(Debug)]
enum Selection {
    Unset,
    Targets(Vec<String>),
    All,
    Conflict,
}

impl fmt::Debug for StopBatchTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopBatchTask")
            .field("task_id", &self.task_id)
            .field("selection", &self.selection)
            .field("reconcile", &self.reconcile)
            .finish_non_exhaustive()
    }
}

impl StopBatchTask {
    /// Stops the sub-tasks of these devices (1 to 100 distinct device IDs;
    /// repeats are dropped). May be called more than once to add more.
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

    /// Stops one device's sub-task; shorthand for `targets([device_id])`.
    pub fn target(self, device_id: impl Into<String>) -> Self {
        self.targets([device_id.into()])
    }

    /// Stops **every** sub-task that is running, waiting, or failed and
    /// waiting for a retry (body `{}`). This is the only way to send `{}`:
    /// an empty target list is an error, never a stop-everything.
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
    /// it finds; targets still running are sent again, once. With `false`,
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
    pub async fn send(self) -> Result<StopReport, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        match self.selection {
            Selection::Targets(list) => {
                let given = list.len();
                if list.is_empty() {
                    // Here the client's `all()` can be named (validation's own
                    // message cannot: it is built without the client too).
                    return Err(InvalidInput::new(
                        "targets",
                        "is empty; name at least one device, or call all() to stop every sub-task explicitly",
                    )
                    .into());
                }
                let list = validation::targets(list)?;
                let duplicates_dropped = given - list.len();
                let chunk = targeted::run_chunk(&self.client, Operation::Stop, &task_id, list, self.reconcile).await;
                let refused = chunk.requests_sent == 1
                    && chunk
                        .results
                        .iter()
                        .all(|r| matches!(r.outcome, TargetOutcome::Failed(Failed::Refused(_))));
                if refused {
                    return Err(into_error(chunk.results));
                }
                Ok(StopReport {
                    results: chunk.results,
                    request_ids: chunk.request_ids,
                    requests_sent: chunk.requests_sent,
                    reads: chunk.reads,
                    duplicates_dropped,
                    cancelled: false,
                    unexpected: chunk.unexpected,
                    task_status: None,
                })
            }
            Selection::All => stop_all(&self.client, &task_id, self.reconcile).await,
            Selection::Unset => Err(InvalidInput::new(
                "targets",
                "not given: name the devices with targets(...), or call all() to stop every \
                 running, waiting and failed-awaiting-retry sub-task",
            )
            .into()),
            Selection::Conflict => Err(InvalidInput::new("targets", "given together with all(); choose one").into()),
        }
    }
}

/// The one error every result of a wholly refused request shares.
fn into_error(results: Vec<TargetResult>) -> Error {
    let shared = results.into_iter().find_map(|r| match r.outcome {
        TargetOutcome::Failed(Failed::Refused(error)) => Some(error),
        _ => None,
    });
    // Every result held a clone of the same `Arc`; the others are dropped.
    let shared = shared.expect("a refused request has at least one target");
    std::sync::Arc::into_inner(shared).expect("the results, now dropped, held the only other references")
}

/// `{}`: stop everything. An ambiguous attempt is settled by reading the
/// task: `Stopping` or `Stopped` means the stop applied; a task still
/// running is sent `{}` again, once.
async fn stop_all(client: &Client, task_id: &types::TaskId, reconcile: bool) -> Result<StopReport, Error> {
    let mut report = StopReport::default();
    let mut resent = false;
    let started = std::time::Instant::now();
    loop {
        let (result, ids) = targeted::send_targets(client, Operation::Stop, task_id, Vec::new()).await;
        report.requests_sent += 1;
        report.request_ids.extend(ids);
        let error = match result {
            Ok((answers, request_id)) => {
                let request_id = request_id.map(std::sync::Arc::from);
                for answer in answers {
                    match answer.target.clone() {
                        Some(target) => report.results.push(TargetResult {
                            target,
                            outcome: targeted::outcome_of_answer(answer, &request_id),
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
                tracing::debug!(error = %read_error, "the read did not settle the stop of every sub-task");
                return Err(error);
            }
        };
        report.reads += 1;
        report.request_ids.extend(page.request_id().map(str::to_owned));
        let Some(status) = page.task().and_then(|t| t.status.clone()) else {
            return Err(error);
        };
        let still_running = [TaskStatus::Initializing, TaskStatus::Waitting, TaskStatus::Processing]
            .iter()
            .any(|s| s.as_str() == status);
        if still_running && !resent && started.elapsed() < client.shared.deadline {
            tracing::info!(
                status,
                "a read showed the task still running after an ambiguous stop: sending again"
            );
            resent = true;
            continue;
        }
        // Read after the lost answer: Stopping or Stopped, the stop applied;
        // still running (no resend left), or finished otherwise, it did not.
        report.task_status = Some(status);
        return Ok(report);
    }
}
