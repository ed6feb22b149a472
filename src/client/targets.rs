//! The one builder of StopBatchTask, RetryBatchTask and ConfirmBatchTask:
//! any number of named devices' sub-tasks, or (explicitly) all of them,
//! through the one targeted path (`crate::targeted`). Each operation's entry
//! point is in its own file (`stop.rs`, `retry.rs`, `confirm.rs`).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::Client;
use super::plan::PlannedRequest;
use crate::error::Error;
use crate::outcome::{Failed, TargetOutcome, TargetsReport};
use crate::targeted::schedule::{self, Schedule};
use crate::targeted::{Operation, chunk, every};
use crate::validation::{self, InvalidInput};

/// Requests in flight at once unless told otherwise
/// ([`BatchTargetsCall::concurrency`]).
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The most requests a call keeps in flight.
pub const MAX_CONCURRENCY: usize = 64;
/// How long requests in flight may still finish after a cancel, unless told
/// otherwise ([`BatchTargetsCall::cancel_grace`]).
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How far a call has got; passed to [`BatchTargetsCall::on_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetsProgress {
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

/// A StopBatchTask, RetryBatchTask or ConfirmBatchTask call being prepared;
/// see [`Client::stop_batch_task`], [`Client::retry_batch_task`] and
/// [`Client::confirm_batch_task`].
///
/// Any number of targets: repeats are dropped, the rest split into requests
/// of at most 100, sent [`DEFAULT_CONCURRENCY`] at a time, each settled by
/// reads after an ambiguous attempt, results in input order. Or
/// [`all`](Self::all): `{}`, every sub-task the operation acts on. The three
/// operations share the body, the per-target answer, the validation, the
/// outcome model ([`crate::outcome`]) and the reads that settle a lost
/// answer. It holds its own handle to the client; `'a` is the lifetime of
/// the callbacks and signals given to it, so its future is `'static` unless
/// they borrow.
///
/// ```no_run
/// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
/// let devices = (1..=10_000).map(|i| format!("dev-{i:05}"));
/// let report = client.stop_batch_task("61a5f4cbd86b7a1d1c2f3e4a").targets(devices).concurrency(8).send().await?;
/// println!(
///     "{} stopped, {} not, {} unknown",
///     report.succeeded().count(),
///     report.failed().count(),
///     report.unknown().count()
/// );
/// # Ok(()) }
/// ```
#[must_use = "nothing is sent until .send().await"]
pub struct BatchTargetsCall<'a> {
    client: Client,
    operation: Operation,
    task_id: String,
    selection: Selection,
    schedule: Schedule<'a>,
}

#[derive(Debug)]
enum Selection {
    Unset,
    Targets(Vec<String>),
    All,
    Conflict,
}

impl fmt::Debug for BatchTargetsCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchTargetsCall")
            .field("operation", &self.operation.name())
            .field("task_id", &self.task_id)
            .field("selection", &self.selection)
            .field("reconcile", &self.schedule.reconcile)
            .field("concurrency", &self.schedule.concurrency)
            .finish_non_exhaustive()
    }
}

impl<'a> BatchTargetsCall<'a> {
    pub(super) fn new(client: &Client, operation: Operation, task_id: String) -> Self {
        Self {
            client: client.clone(),
            operation,
            task_id,
            selection: Selection::Unset,
            schedule: Schedule {
                reconcile: true,
                concurrency: DEFAULT_CONCURRENCY,
                grace: DEFAULT_CANCEL_GRACE,
                progress: None,
                cancel: None,
                abort: None,
            },
        }
    }

    /// The operation this call performs.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Acts on the sub-tasks of these devices (any number of device IDs;
    /// repeats are dropped, the first occurrence kept). May be called more
    /// than once to add more.
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

    /// Acts on **every** sub-task the operation applies to (body `{}`;
    /// [`Operation::everything`] says which). This is the only way to send
    /// `{}`: an empty target list is an error, never an everything.
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
    /// (see the table in [`crate::outcome`]). A retry or confirm also reads
    /// its targets before sending, so that a state that was already so is
    /// never taken for this call's doing. With `false`, no read is made and
    /// such targets are reported [`Unknown`](TargetOutcome::Unknown).
    pub fn reconcile(mut self, reconcile: bool) -> Self {
        self.schedule.reconcile = reconcile;
        self
    }

    /// Requests in flight at once, 1 to [`MAX_CONCURRENCY`] (default
    /// [`DEFAULT_CONCURRENCY`]).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.schedule.concurrency = requests;
        self
    }

    /// Called after each request is settled (from the task awaiting `send`).
    pub fn on_progress(mut self, f: impl Fn(&TargetsProgress) + Send + Sync + 'a) -> Self {
        self.schedule.progress = Some(Box::new(f));
        self
    }

    /// When `signal` completes, no further request is sent; requests in flight
    /// get [`cancel_grace`](Self::cancel_grace) to finish, and targets never
    /// sent come back [`NotAttempted`](TargetOutcome::NotAttempted).
    /// (Dropping the `send` future instead aborts everything, with no report.)
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'a) -> Self {
        self.schedule.cancel = Some(Box::pin(signal));
        self
    }

    /// When `signal` completes, requests in flight are abandoned at once and
    /// their targets reported [`Unknown::Interrupted`](crate::outcome::Unknown::Interrupted);
    /// nothing more is sent. (A second Ctrl-C, say.)
    pub fn abort_on(mut self, signal: impl Future<Output = ()> + Send + 'a) -> Self {
        self.schedule.abort = Some(Box::pin(signal));
        self
    }

    /// How long requests in flight may still finish after a cancel (default
    /// [`DEFAULT_CANCEL_GRACE`]); then they are abandoned as on
    /// [`abort_on`](Self::abort_on).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.schedule.grace = grace;
        self
    }

    /// The requests [`send`](Self::send) would start with, validated as it
    /// validates, sending nothing: one POST per 100 distinct targets, or one
    /// `{}` for [`all`](Self::all). Reads that settle a lost answer, and a
    /// retry's or confirm's reads before sending, are not listed.
    pub async fn plan(&self) -> Result<Vec<PlannedRequest>, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        if !(1..=MAX_CONCURRENCY).contains(&self.schedule.concurrency) {
            return Err(InvalidInput::new("concurrency", format!("must be 1 to {MAX_CONCURRENCY}")).into());
        }
        let chunks = match &self.selection {
            Selection::All => vec![Vec::new()],
            Selection::Targets(list) => {
                let targets = validation::unique_targets(list.iter().map(String::as_str))?;
                if targets.is_empty() {
                    return Err(InvalidInput::new("targets", "is empty; name at least one device").into());
                }
                schedule::chunks(targets)
            }
            Selection::Unset | Selection::Conflict => return Err(unselected(self.operation, &self.selection)),
        };
        let auth = self.client.current_auth().await?;
        let mut plan = Vec::with_capacity(chunks.len());
        for targets in chunks {
            let built = chunk::request(&self.client, self.operation, &task_id, targets).await;
            plan.push(self.client.planned(&auth, built)?);
        }
        Ok(plan)
    }

    /// Validates everything, sends, settles, and reports per target.
    ///
    /// `Err` when nothing was learned about any target: invalid input
    /// (nothing sent), or every request refused as a whole before processing
    /// (an unknown task, bad credentials, no connection: the first refusal is
    /// the error), or, for [`all`](Self::all), an ambiguous failure no read
    /// could settle ([`Error::may_have_been_processed`] tells which).
    /// Otherwise every named target has its outcome in the report, unknown
    /// ones included: a request that fails gives its own targets their
    /// outcome and does not stop the others.
    pub async fn send(self) -> Result<TargetsReport, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        if !(1..=MAX_CONCURRENCY).contains(&self.schedule.concurrency) {
            return Err(InvalidInput::new("concurrency", format!("must be 1 to {MAX_CONCURRENCY}")).into());
        }
        match self.selection {
            Selection::Targets(list) => {
                let given = list.len();
                let targets = validation::unique_targets(list)?;
                if targets.is_empty() {
                    // Here the client's `all()` can be named (validation's own
                    // message cannot: it is built without the client too).
                    return Err(InvalidInput::new(
                        "targets",
                        "is empty; name at least one device, or call all() to act on every sub-task explicitly",
                    )
                    .into());
                }
                let duplicates_dropped = given - targets.len();
                let mut report = schedule::run(&self.client, self.operation, &task_id, targets, self.schedule).await;
                report.duplicates_dropped = duplicates_dropped;
                wholly_refused(report)
            }
            Selection::All => every::run(&self.client, self.operation, &task_id, self.schedule.reconcile).await,
            unset_or_conflict => Err(unselected(self.operation, &unset_or_conflict)),
        }
    }
}

/// The refusal of a call that names no targets, or names them together
/// with `all()`.
fn unselected(operation: Operation, selection: &Selection) -> Error {
    let rule = match selection {
        Selection::Conflict => "given together with all(); choose one".to_owned(),
        _ => format!(
            "not given: name the devices with targets(...), or call all() to {} {}",
            operation.path_segment(),
            operation.everything()
        ),
    };
    InvalidInput::new("targets", rule).into()
}

/// The report, or, when every target's request was refused as a whole
/// before processing, the first refusal: nothing was learned about any
/// target.
fn wholly_refused(report: TargetsReport) -> Result<TargetsReport, Error> {
    let refused = |outcome: &TargetOutcome| matches!(outcome, TargetOutcome::Failed(Failed::Refused(_)));
    if !report.results.iter().all(|result| refused(&result.outcome)) {
        return Ok(report);
    }
    let first = report.results.into_iter().find_map(|result| match result.outcome {
        TargetOutcome::Failed(Failed::Refused(error)) => Some(error),
        _ => None,
    });
    // The other results, now dropped, held the only other references to it.
    let first = first.expect("a report has at least one target");
    Err(std::sync::Arc::into_inner(first).expect("the results, now dropped, held the only other references"))
}
