//! The poller behind [`WatchBatchTask`]: one read per poll (plus one per 50
//! `Processing` sub-tasks with `stuck_after`), criteria evaluated on each
//! read, the stop through the targeted path, events sent to the stream as
//! they happen.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::stream::{Stream, StreamExt as _};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::{
    Cancel, Criterion, FIRST_PAUSE, Progress, SETTLE_WINDOW, STUCK_PAGES_PER_POLL, StopOutcome, StuckStop, Tally, Trip,
    WatchBatchTask, WatchEnd, WatchEvent, WatchReport,
};
use crate::client::MAX_PAGE_SIZE;
use crate::error::Error;
use crate::outcome::TargetsReport;
use crate::output::Status;
use crate::types::{TaskDetailStatus, TaskProgress, TaskStatus};
use crate::{Client, ShowOutput};

/// The watch as a stream of its events, the report last.
pub(super) fn stream(watch: WatchBatchTask) -> impl Stream<Item = WatchEvent> + Send + 'static {
    let (tx, rx) = unbounded_channel();
    crate::event_stream::events(rx, Box::pin(Engine::new(watch, tx).run()), |report| {
        WatchEvent::Ended(Box::new(report))
    })
}

/// One poll's read.
struct Read {
    status: TaskStatus,
    counters: TaskProgress,
    request_id: Option<String>,
    /// With `stuck_after`: devices read `Processing`, whether the walk
    /// reached its last page, and where to go on from if not.
    processing: Option<Walked>,
}

struct Walked {
    devices: Vec<String>,
    complete: bool,
    resume: Option<String>,
    pages: usize,
}

/// The most pages of one walk cycle over several polls: as many sub-tasks as
/// one walk may yield (`MAX_WALK_SUB_TASKS`). A server paging on past it is
/// not paging through one task; the cycle ends there, so that what the
/// watcher remembers stays bounded.
const MAX_CYCLE_PAGES: usize = crate::client::MAX_WALK_SUB_TASKS / MAX_PAGE_SIZE as usize;

enum Raced<T> {
    Done(T),
    Deadline,
    Cancelled,
}

struct Engine {
    /// The watch as configured (validated).
    watch: WatchBatchTask,
    tx: UnboundedSender<WatchEvent>,
    started: Instant,
    deadline: Instant,
    pause: Duration,
    report: WatchReport,
    /// When this watcher first saw each device `Processing` (IoTDA gives
    /// sub-tasks no timestamps).
    first_seen: HashMap<String, Instant>,
    /// Devices seen `Processing` in the walk cycle under way.
    cycle_seen: HashSet<String>,
    /// Devices already stopped for hanging (never stopped twice).
    attempted: HashSet<String>,
    resume_marker: Option<String>,
    /// Pages read in the walk cycle under way.
    cycle_pages: usize,
}

impl Engine {
    fn new(watch: WatchBatchTask, tx: UnboundedSender<WatchEvent>) -> Self {
        let started = Instant::now();
        // `validate` capped the timeout at 30 days; far from overflowing.
        let deadline = started
            .checked_add(watch.watch_timeout)
            .expect("a watch timeout of at most 30 days fits an Instant");
        Self {
            report: WatchReport {
                task_id: watch.task_id.clone(),
                end: WatchEnd::TimedOut,
                status: None,
                counters: None,
                counters_at_trip: None,
                stop_request_ids: Vec::new(),
                stuck: Vec::new(),
                polls: 0,
                read_failures: 0,
                elapsed: Duration::ZERO,
            },
            pause: FIRST_PAUSE.min(watch.interval),
            watch,
            tx,
            started,
            deadline,
            first_seen: HashMap::new(),
            cycle_seen: HashSet::new(),
            attempted: HashSet::new(),
            resume_marker: None,
            cycle_pages: 0,
        }
    }

    async fn run(mut self) -> WatchReport {
        let end = self.watch().await;
        self.report.end = end;
        self.report.elapsed = self.started.elapsed();
        self.report
    }

    fn emit(&self, event: WatchEvent) {
        // The receiver lives in the stream that polls this engine; if the
        // stream is gone, so is this engine.
        let _ = self.tx.send(event);
    }

    async fn watch(&mut self) -> WatchEnd {
        // Since when, and with what last error, every read has failed.
        let mut failing: Option<(Instant, Arc<Error>)> = None;
        // At the deadline: still running as last read, or unreadable then
        // (which says nothing about whether it still runs).
        let timed_out = |failing: &Option<(Instant, Arc<Error>)>| match failing {
            Some((_, error)) => WatchEnd::ReadFailed { error: error.clone() },
            None => WatchEnd::TimedOut,
        };
        loop {
            let walk = self.watch.stuck_after.map(|_| self.resume_marker.clone());
            let read = read(&self.watch.client, &self.watch.task_id, walk);
            let read = match race(&mut self.watch.cancel, self.deadline, read).await {
                Raced::Done(read) => read,
                Raced::Deadline => return timed_out(&failing),
                Raced::Cancelled => return WatchEnd::Cancelled,
            };
            match read {
                Ok(read) => {
                    failing = None;
                    let status = read.status;
                    self.progress(&read, self.pause);
                    if is_final(status) {
                        return WatchEnd::Finished { status };
                    }
                    // A task being stopped by someone else is left to it.
                    if is_running(status)
                        && let Some(criterion) = self.first_tripped(&read.counters)
                    {
                        return self.trip(Trip::Criterion(criterion), Some(read.counters)).await;
                    }
                    if self.watch.until_idle && !matches!(status, TaskStatus::Processing | TaskStatus::Stopping) {
                        return WatchEnd::Idle { status };
                    }
                    if is_running(status)
                        && let Some(walked) = read.processing
                    {
                        self.stuck(walked).await;
                    }
                }
                Err(error) => {
                    self.report.read_failures += 1;
                    tracing::debug!(error = %error, "a watch read failed; reading again after a pause");
                    let error = Arc::new(error);
                    if fatal(&error) {
                        return WatchEnd::ReadFailed { error };
                    }
                    let since = failing.as_ref().map_or_else(Instant::now, |(since, _)| *since);
                    failing = Some((since, error.clone()));
                    if since.elapsed() >= self.watch.read_failure_budget {
                        if self.watch.stop_when_blind {
                            return self.trip(Trip::Blind, None).await;
                        }
                        return WatchEnd::ReadFailed { error };
                    }
                }
            }
            let next = Instant::now() + self.pause;
            let wait = tokio::time::sleep_until(next.min(self.deadline));
            match race(&mut self.watch.cancel, self.deadline, wait).await {
                Raced::Done(()) if next < self.deadline => {}
                Raced::Done(()) | Raced::Deadline => return timed_out(&failing),
                Raced::Cancelled => return WatchEnd::Cancelled,
            }
            self.pause = (self.pause * 2).min(self.watch.interval);
        }
    }

    fn progress(&mut self, read: &Read, next_poll_in: Duration) {
        self.report.polls += 1;
        self.report.status = Some(Status::Known(read.status));
        self.report.counters = Some(read.counters.clone());
        self.emit(WatchEvent::Progress(Progress {
            status: Status::Known(read.status),
            counters: read.counters.clone(),
            tally: Tally::of(&read.counters, self.watch.count_retrying),
            at: jiff::Timestamp::now(),
            elapsed: self.started.elapsed(),
            next_poll_in,
            request_id: read.request_id.clone(),
        }));
    }

    fn first_tripped(&self, counters: &TaskProgress) -> Option<Criterion> {
        self.watch
            .criteria
            .iter()
            .copied()
            .find(|c| c.tripped(counters, self.watch.count_retrying, self.watch.min_finished) == Some(true))
    }

    /// Stops the task (`{}`), reads until it settles, and says what the stop came to.
    async fn trip(&mut self, trip: Trip, counters: Option<TaskProgress>) -> WatchEnd {
        tracing::info!(%trip, task_id = self.watch.task_id, "the watch tripped: stopping every sub-task");
        self.report.counters_at_trip.clone_from(&counters);
        self.emit(WatchEvent::Tripped { trip, counters });
        let result = self
            .watch
            .client
            .stop_batch_task(self.watch.task_id.clone())
            .all()
            .send()
            .await
            .map_err(Arc::new);
        self.report.stop_request_ids = match &result {
            Ok(report) => report.request_ids().to_vec(),
            Err(error) => error.request_id().map(str::to_owned).into_iter().collect(),
        };
        self.emit(WatchEvent::Stop { report: result.clone() });
        let refused = matches!(&result, Err(error) if !error.may_have_been_processed());
        let last = self.settle(refused).await;
        WatchEnd::Tripped {
            trip,
            stop: stop_outcome(result, last),
        }
    }

    /// Reads after a stop until the task reaches a final status (or, when
    /// the stop was refused, until a read shows it still running), for at
    /// most [`SETTLE_WINDOW`] and while reads have not failed for longer
    /// than the read-failure budget (or in a way no pause heals); the last
    /// status read.
    async fn settle(&mut self, refused: bool) -> Option<Status<TaskStatus>> {
        let until = Instant::now() + SETTLE_WINDOW;
        let mut pause = FIRST_PAUSE.min(self.watch.interval);
        let mut last = None;
        let mut failing_since: Option<Instant> = None;
        loop {
            let read = match race(
                &mut self.watch.cancel,
                until,
                read(&self.watch.client, &self.watch.task_id, None),
            )
            .await
            {
                Raced::Done(read) => read,
                Raced::Deadline | Raced::Cancelled => return last,
            };
            let next = Instant::now() + pause;
            match read {
                Ok(read) => {
                    failing_since = None;
                    let status = read.status;
                    self.progress(&read, pause);
                    last = Some(Status::Known(status));
                    if is_final(status) || (refused && is_running(status)) || next >= until {
                        return last;
                    }
                }
                Err(error) => {
                    tracing::debug!(error = %error, "a read after the stop failed");
                    self.report.read_failures += 1;
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if fatal(&error) || next >= until || since.elapsed() >= self.watch.read_failure_budget {
                        return last;
                    }
                }
            }
            if let Raced::Deadline | Raced::Cancelled =
                race(&mut self.watch.cancel, until, tokio::time::sleep_until(next)).await
            {
                return last;
            }
            pause = (pause * 2).min(self.watch.interval);
        }
    }

    /// Records the devices read `Processing` and stops (targeted) those seen
    /// so for longer than `stuck_after`, once each.
    async fn stuck(&mut self, walked: Walked) {
        let after = self.watch.stuck_after.expect("a walk is read only with stuck_after");
        let now = Instant::now();
        for device in &walked.devices {
            self.first_seen.entry(device.clone()).or_insert(now);
            self.cycle_seen.insert(device.clone());
        }
        self.cycle_pages += walked.pages;
        if walked.complete || self.cycle_pages >= MAX_CYCLE_PAGES {
            // A device not read Processing in a whole walk has left it.
            let seen = std::mem::take(&mut self.cycle_seen);
            self.first_seen.retain(|device, _| seen.contains(device));
            self.cycle_pages = 0;
            self.resume_marker = None;
        } else {
            self.resume_marker = walked.resume;
        }
        let due: Vec<String> = walked
            .devices
            .into_iter()
            .filter(|d| !self.attempted.contains(d))
            .filter(|d| self.first_seen.get(d).is_some_and(|t| now.duration_since(*t) >= after))
            .collect();
        if due.is_empty() {
            return;
        }
        tracing::info!(
            devices = due.len(),
            "stopping devices seen Processing longer than stuck_after"
        );
        self.attempted.extend(due.iter().cloned());
        let report = self
            .watch
            .client
            .stop_batch_task(self.watch.task_id.clone())
            .targets(due.clone())
            .send()
            .await
            .map_err(Arc::new);
        self.emit(WatchEvent::Stuck {
            devices: due.clone(),
            report: report.clone(),
        });
        self.report.stuck.push(StuckStop { devices: due, report });
    }
}

/// What a tripped stop came to, from its result and the last status read
/// after it (see [`StopOutcome`]).
fn stop_outcome(result: Result<TargetsReport, Arc<Error>>, last: Option<Status<TaskStatus>>) -> StopOutcome {
    let last_known = last.as_ref().and_then(Status::known).copied();
    match result {
        Ok(report) if report.applied() == Some(false) => {
            // The read after the lost answer showed the task finished, not stopped.
            let status = last
                .filter(|s| s.known().is_some_and(|s| is_final(*s)))
                .or_else(|| report.task_status().map(Status::parse))
                .expect("a report with applied() set carries the status read");
            StopOutcome::FinishedFirst { status, refusal: None }
        }
        // Answered, yet every read since shows the task running: the answer
        // alone does not make it stopped.
        Ok(_) if last_known.is_some_and(is_running) => StopOutcome::AnsweredStillRunning {
            status: last.expect("a known status was read"),
        },
        Ok(_) => StopOutcome::Stopped { status: last },
        Err(error) => {
            let refused = !error.may_have_been_processed();
            match last_known {
                Some(s @ (TaskStatus::Stopped | TaskStatus::Stopping)) if !refused => StopOutcome::Stopped {
                    status: Some(Status::Known(s)),
                },
                Some(s) if is_final(s) || (refused && s == TaskStatus::Stopping) => StopOutcome::FinishedFirst {
                    status: Status::Known(s),
                    refusal: refused.then_some(error),
                },
                _ if refused => StopOutcome::Refused { error, status: last },
                _ => StopOutcome::Unknown { error, status: last },
            }
        }
    }
}

/// Runs `fut` unless `cancel` fires or `deadline` passes first (checked in that order).
async fn race<T>(cancel: &mut Option<Cancel>, deadline: Instant, fut: impl Future<Output = T>) -> Raced<T> {
    let mut fut = pin!(fut);
    let mut sleep = pin!(tokio::time::sleep_until(deadline));
    std::future::poll_fn(|cx| {
        if let Some(signal) = cancel.as_mut()
            && signal.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Raced::Cancelled);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Raced::Deadline);
        }
        fut.as_mut().poll(cx).map(Raced::Done)
    })
    .await
}

/// One poll. Without a walk, one ShowBatchTask of one sub-task; with one
/// (`Some(resume marker)`), pages of `Processing` sub-tasks, the first of
/// which carries the task, at most [`STUCK_PAGES_PER_POLL`].
async fn read(client: &Client, task_id: &str, walk: Option<Option<String>>) -> Result<Read, Error> {
    let Some(resume) = walk else {
        let page = client.show_batch_task(task_id).limit(1).send().await?;
        let (status, counters) = task_of(&page)?;
        return Ok(Read {
            status,
            counters,
            request_id: page.request_id().map(str::to_owned),
            processing: None,
        });
    };
    let mut call = client
        .show_batch_task(task_id)
        .status(TaskDetailStatus::Processing)
        .limit(MAX_PAGE_SIZE);
    if let Some(marker) = resume {
        call = call.marker(marker);
    }
    let mut pages = pin!(call.pages());
    let first = pages.next().await.expect("a walk yields its first page or its error")?;
    let (status, counters) = task_of(&first)?;
    let request_id = first.request_id().map(str::to_owned);
    let mut walked = Walked {
        devices: Vec::new(),
        complete: false,
        resume: None,
        pages: 0,
    };
    let mut seen = HashSet::new();
    let mut page = Some(first);
    let mut read_pages = 0;
    while let Some(this) = page.take() {
        read_pages += 1;
        walked.pages = read_pages;
        walked.resume = this.page().and_then(|p| p.marker.clone());
        for detail in this.sub_tasks() {
            // The filter is the server's; the status is checked here too. A
            // target no stop could name (not a device ID) is left out, so it
            // cannot make the refusal of a stop of the devices beside it.
            if detail.status.as_deref() == Some(TaskDetailStatus::Processing.as_str())
                && let Some(target) = &detail.target
                && crate::validation::target(0, target).is_ok()
                && seen.insert(target.clone())
            {
                walked.devices.push(target.clone());
            }
        }
        if read_pages >= STUCK_PAGES_PER_POLL {
            break;
        }
        match pages.next().await {
            None => {
                walked.complete = true;
                walked.resume = None;
            }
            Some(Ok(next)) => page = Some(next),
            Some(Err(error)) => {
                // The poll itself succeeded; the rest of the walk waits for the next one.
                tracing::debug!(error = %error, "a page of Processing sub-tasks failed");
                walked.resume = None;
            }
        }
    }
    Ok(Read {
        status,
        counters,
        request_id,
        processing: Some(walked),
    })
}

/// The task's documented status and its counters; an answer without them
/// settles nothing and is a failed read.
fn task_of(page: &ShowOutput) -> Result<(TaskStatus, TaskProgress), Error> {
    let unusable = |message: String| Error::Decode {
        status: 200,
        message,
        request_id: page.request_id().map(str::to_owned),
        body: String::new(),
    };
    let task = page
        .task()
        .ok_or_else(|| unusable("ShowBatchTask answered without the task (no batchtask)".to_owned()))?;
    let status = task
        .status
        .as_deref()
        .ok_or_else(|| unusable("ShowBatchTask answered without the task's status".to_owned()))?;
    let status = status.parse::<TaskStatus>().map_err(|_| {
        unusable(format!(
            "ShowBatchTask answered a task status IoTDA does not document: {:?}",
            crate::error::one_line(status, 64)
        ))
    })?;
    Ok((status, task.task_progress.clone().unwrap_or_default()))
}

/// `Success`, `Fail`, `PartialSuccess`, `Stopped`: nothing more will run.
fn is_final(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Success | TaskStatus::Fail | TaskStatus::PartialSuccess | TaskStatus::Stopped
    )
}

/// `Initializing`, `Waitting`, `Processing`: a stop is still accepted.
fn is_running(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Initializing | TaskStatus::Waitting | TaskStatus::Processing
    )
}

/// Errors no pause will heal: the task does not exist, the credentials are
/// refused, the settings are wrong.
fn fatal(error: &Error) -> bool {
    error.is_not_found() || error.is_auth() || matches!(error, Error::InvalidInput(_) | Error::Config(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(status: TaskStatus) -> Option<Status<TaskStatus>> {
        Some(Status::Known(status))
    }

    fn error(status: u16) -> Arc<Error> {
        Arc::new(Error::Api(Box::new(crate::error::ApiError {
            status,
            error_code: Some("IOTDA.000006".to_owned()),
            error_msg: None,
            request_id: None,
            body: None,
            attempts: 1,
        })))
    }

    #[test]
    fn a_tripped_stop_is_stopped_only_on_its_answer_or_a_read_that_shows_it() {
        use StopOutcome as O;
        use TaskStatus as T;
        let answered = || Ok(TargetsReport::default());
        // The stop's result, the last status read after it, the outcome.
        type Case = (
            Result<TargetsReport, Arc<Error>>,
            Option<Status<TaskStatus>>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (answered(), known(T::Stopped), "stopped"),
            (answered(), known(T::Stopping), "stopped"),
            (answered(), None, "stopped"),
            // Answered, but still running after the settling reads.
            (answered(), known(T::Processing), "answered_still_running"),
            (Err(error(500)), known(T::Stopped), "stopped"),
            (Err(error(500)), known(T::PartialSuccess), "finished_first"),
            (Err(error(500)), known(T::Processing), "unknown"),
            (Err(error(500)), None, "unknown"),
            (Err(error(400)), known(T::Success), "finished_first"),
            (Err(error(400)), known(T::Stopped), "finished_first"),
            (Err(error(400)), known(T::Processing), "refused"),
            (Err(error(403)), None, "refused"),
        ];
        for (result, last, expected) in cases {
            let what = format!("{result:?} {last:?}");
            let outcome = stop_outcome(result, last);
            let name = match outcome {
                O::Stopped { .. } => "stopped",
                O::AnsweredStillRunning { .. } => "answered_still_running",
                O::FinishedFirst { .. } => "finished_first",
                O::Refused { .. } => "refused",
                O::Unknown { .. } => "unknown",
            };
            assert_eq!(name, expected, "{what}");
        }
    }
}
