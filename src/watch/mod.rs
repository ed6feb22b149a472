//! Guard a rollout: watch a batch task and stop it when failures cross a
//! threshold, or stop the devices that hang ([`Client::watch_batch_task`]).
//!
//! IoTDA's task policy has no abort, timeout or guard of its own; this is
//! the client-side equivalent of AWS IoT Jobs' `abortConfig` and
//! `timeoutConfig`, stopping through the same truthful path as
//! [`Client::stop_batch_task`] (reads before any resend, per-target outcomes).

mod criterion;
mod engine;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{Stream, StreamExt as _};

use crate::Client;
use crate::error::Error;
use crate::outcome::TargetsReport;
use crate::output::Status;
use crate::types::{TaskProgress, TaskStatus};
use crate::validation::{self, InvalidInput};

pub use criterion::{Criterion, Tally};

/// The default [`WatchBatchTask::interval`]: the longest pause between two polls.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// The longest [`WatchBatchTask::interval`].
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The first pause between polls (shorter when the interval is): a task
/// that was just confirmed or stopped moves quickly at first.
pub const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The default and longest [`WatchBatchTask::watch_timeout`]: 30 days.
pub const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest [`WatchBatchTask::stuck_after`]: 7 days (AWS IoT Jobs' in-progress timeout maximum).
pub const MAX_STUCK_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default [`WatchBatchTask::read_failure_budget`].
pub const DEFAULT_READ_FAILURE_BUDGET: Duration = Duration::from_secs(120);
/// The longest [`WatchBatchTask::read_failure_budget`].
pub const MAX_READ_FAILURE_BUDGET: Duration = Duration::from_secs(24 * 3600);
/// The default [`WatchBatchTask::min_finished`]: a rate is not judged on
/// fewer finished sub-tasks (one early failure is 100%).
pub const DEFAULT_MIN_FINISHED: u64 = 10;
/// After a tripped stop, how long the watch reads on for the task to settle
/// (leave `Stopping`) before it reports what it last read.
pub const SETTLE_WINDOW: Duration = Duration::from_secs(60);
/// With [`WatchBatchTask::stuck_after`], the most pages of 50 `Processing`
/// sub-tasks read per poll (1,000 devices); a larger rollout is walked over
/// several polls, continuing from the last page's marker.
pub const STUCK_PAGES_PER_POLL: usize = 20;

impl Client {
    /// Starts watching `task_id`: poll its status and counters, stop it
    /// (`.all()`) when a [`Criterion`] trips, stop devices that hang
    /// ([`WatchBatchTask::stuck_after`]), and report how the watch ended.
    ///
    /// ```no_run
    /// use iotda_batchtask::watch::{Criterion, WatchEnd};
    ///
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let report = client
    ///     .watch_batch_task("61a5f4cbd86b7a1d1c2f3e4a")
    ///     .criterion(Criterion::failed_percent(5.0)?)
    ///     .criterion(Criterion::failed_count(20)?)
    ///     .min_finished(50)
    ///     .run()
    ///     .await?;
    /// if let WatchEnd::Tripped { trip, stop } = &report.end {
    ///     println!("{trip} tripped; the stop: {stop:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch_batch_task(&self, task_id: impl Into<String>) -> WatchBatchTask {
        WatchBatchTask {
            client: self.clone(),
            task_id: task_id.into(),
            criteria: Vec::new(),
            min_finished: DEFAULT_MIN_FINISHED,
            count_retrying: false,
            stuck_after: None,
            interval: DEFAULT_INTERVAL,
            watch_timeout: MAX_WATCH_TIMEOUT,
            read_failure_budget: DEFAULT_READ_FAILURE_BUDGET,
            stop_when_blind: false,
            until_idle: false,
            cancel: None,
        }
    }
}

type Cancel = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A watch being prepared; see [`Client::watch_batch_task`]. It owns a
/// handle to the client, so its stream and future are `'static + Send`.
#[must_use = "nothing is read until .run().await or the stream is polled"]
pub struct WatchBatchTask {
    client: Client,
    task_id: String,
    criteria: Vec<Criterion>,
    min_finished: u64,
    count_retrying: bool,
    stuck_after: Option<Duration>,
    interval: Duration,
    watch_timeout: Duration,
    read_failure_budget: Duration,
    stop_when_blind: bool,
    until_idle: bool,
    cancel: Option<Cancel>,
}

impl fmt::Debug for WatchBatchTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchBatchTask")
            .field("task_id", &self.task_id)
            .field("criteria", &self.criteria)
            .field("min_finished", &self.min_finished)
            .field("count_retrying", &self.count_retrying)
            .field("stuck_after", &self.stuck_after)
            .field("interval", &self.interval)
            .field("watch_timeout", &self.watch_timeout)
            .field("read_failure_budget", &self.read_failure_budget)
            .field("stop_when_blind", &self.stop_when_blind)
            .field("until_idle", &self.until_idle)
            .finish_non_exhaustive()
    }
}

impl WatchBatchTask {
    /// Stops the task (`.all()`) when this criterion trips; any number, each
    /// evaluated at every poll while the task runs. Without any, the watch
    /// only follows the task (and stops hanging devices, if asked).
    pub fn criterion(mut self, criterion: Criterion) -> Self {
        self.criteria.push(criterion);
        self
    }

    /// Adds several criteria.
    pub fn criteria(mut self, criteria: impl IntoIterator<Item = Criterion>) -> Self {
        self.criteria.extend(criteria);
        self
    }

    /// A rate criterion is evaluated only once at least this many sub-tasks
    /// have finished (Success + Fail, + FailWaitRetry when counted); default
    /// [`DEFAULT_MIN_FINISHED`]. Must be at least 1 with a rate criterion.
    pub fn min_finished(mut self, n: u64) -> Self {
        self.min_finished = n;
        self
    }

    /// Whether `FailWaitRetry` sub-tasks count as failed (and finished);
    /// default `false`, since an automatic retry may still succeed.
    pub fn count_retrying(mut self, count: bool) -> Self {
        self.count_retrying = count;
        self
    }

    /// Stops (targeted) each device this watch has seen `Processing` for
    /// longer than `after`, and reports it timed out. IoTDA gives sub-tasks
    /// no timestamps, so the time is this watcher's own observation, from
    /// the first poll that saw the device `Processing`. Costs one extra
    /// request per 50 `Processing` sub-tasks per poll (at most
    /// [`STUCK_PAGES_PER_POLL`]). At most [`MAX_STUCK_AFTER`].
    pub fn stuck_after(mut self, after: Duration) -> Self {
        self.stuck_after = Some(after);
        self
    }

    /// The longest pause between two polls (default [`DEFAULT_INTERVAL`],
    /// at most [`MAX_INTERVAL`]). The pause starts at [`FIRST_PAUSE`] (or
    /// the interval, if shorter) and doubles up to it.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long to watch at most (default and maximum [`MAX_WATCH_TIMEOUT`]);
    /// then the watch ends with [`WatchEnd::TimedOut`], stopping nothing (or
    /// [`WatchEnd::ReadFailed`] if the reads were failing then: nothing
    /// shows the task still running).
    pub fn watch_timeout(mut self, timeout: Duration) -> Self {
        self.watch_timeout = timeout;
        self
    }

    /// How long the task may be unreadable (every poll failing) before the
    /// watch gives up with [`WatchEnd::ReadFailed`] (default
    /// [`DEFAULT_READ_FAILURE_BUDGET`]). A failed read is never taken for a
    /// failure of the rollout: reads back off and retry. A task that does
    /// not exist, or credentials refused, end the watch at once.
    pub fn read_failure_budget(mut self, budget: Duration) -> Self {
        self.read_failure_budget = budget;
        self
    }

    /// Stop the task (`.all()`) when the read-failure budget runs out,
    /// instead of ending the watch without stopping anything (default
    /// `false`). The default is deliberate: an unreadable task says nothing
    /// about the rollout (the outage may be the watcher's own network), and
    /// a stopped IoTDA task cannot be resumed, only replaced.
    pub fn stop_when_blind(mut self, stop: bool) -> Self {
        self.stop_when_blind = stop;
        self
    }

    /// Also end the watch ([`WatchEnd::Idle`]) when the task reads a status
    /// outside `Processing` and `Stopping` that is not final, e.g.
    /// `Waitting` or `Initializing` (default `false`: the watch waits for a
    /// final status). This is what `--wait` of a stop, retry or confirm
    /// waits for: a `need_confirm` task whose other sub-tasks still wait for
    /// their confirm goes back to `Waitting`, and stays there until someone
    /// confirms them. A final status still ends it as [`WatchEnd::Finished`].
    /// Criteria work as without it, on the idle read too (a trip there
    /// stops the task, its waiting sub-tasks included), and so do stuck
    /// devices.
    pub fn until_idle(mut self, idle: bool) -> Self {
        self.until_idle = idle;
        self
    }

    /// When `signal` completes, the watch ends ([`WatchEnd::Cancelled`])
    /// without stopping the task; a stop already in flight is finished and
    /// reported. Dropping the stream or future ends it too.
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cancel = Some(Box::pin(signal));
        self
    }

    /// Validates everything, sending nothing: the checks [`stream`](Self::stream) makes.
    pub fn validate(&self) -> Result<(), Error> {
        validation::task_id(&self.task_id)?;
        let within = |field: &'static str, d: Duration, max: Duration| {
            if d.is_zero() || d > max {
                return Err(InvalidInput::new(
                    field,
                    format!("must be above 0 and at most {} s", max.as_secs()),
                ));
            }
            Ok(())
        };
        within("interval", self.interval, MAX_INTERVAL)?;
        within("watch_timeout", self.watch_timeout, MAX_WATCH_TIMEOUT)?;
        within("read_failure_budget", self.read_failure_budget, MAX_READ_FAILURE_BUDGET)?;
        if let Some(after) = self.stuck_after {
            within("stuck_after", after, MAX_STUCK_AFTER)?;
        }
        if self.min_finished == 0 && self.criteria.iter().any(|c| c.is_percent()) {
            return Err(InvalidInput::new(
                "min_finished",
                "must be at least 1 with a failure-rate criterion (one early failure would be 100%)",
            )
            .into());
        }
        Ok(())
    }

    /// The watch as a stream of [`WatchEvent`]s, whose last item is
    /// [`WatchEvent::Ended`] with the report. Validated first: `Err` means
    /// nothing was sent.
    pub fn stream(self) -> Result<impl Stream<Item = WatchEvent> + Send + 'static, Error> {
        self.validate()?;
        Ok(engine::stream(self).boxed())
    }

    /// Runs the watch to its end and returns the report (the stream, drained).
    pub async fn run(self) -> Result<WatchReport, Error> {
        let mut events = std::pin::pin!(self.stream()?);
        while let Some(event) = events.next().await {
            if let WatchEvent::Ended(report) = event {
                return Ok(*report);
            }
        }
        unreachable!("the watch stream always ends with WatchEvent::Ended")
    }
}

/// What a watch saw or did, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A successful poll.
    Progress(Progress),
    /// Devices seen `Processing` longer than `stuck_after`, and their
    /// targeted stop (its per-target outcomes, or the error that refused it
    /// as a whole).
    Stuck {
        /// The devices, timed out.
        devices: Vec<String>,
        /// The stop's report, or why it was refused as a whole.
        report: Result<TargetsReport, Arc<Error>>,
    },
    /// A criterion tripped (or the task was unreadable past the budget with
    /// [`WatchBatchTask::stop_when_blind`]): the task is about to be stopped.
    Tripped {
        /// Why.
        trip: Trip,
        /// The counters of the poll that tripped it (`None` when blind).
        counters: Option<TaskProgress>,
    },
    /// The stop of every sub-task (`.all()`) after a trip returned: its
    /// report, or the error it ended with (a refusal, or an outcome no
    /// read could settle). [`WatchEnd::Tripped`] says what it came to.
    Stop {
        /// The stop's report, or its error.
        report: Result<TargetsReport, Arc<Error>>,
    },
    /// The last event: how the watch ended.
    Ended(Box<WatchReport>),
}

/// One poll: the task's status and every `task_progress` counter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Progress {
    /// The task's status.
    pub status: Status<TaskStatus>,
    /// The counters as read (`None` fields were absent).
    pub counters: TaskProgress,
    /// The failed and finished sub-tasks as the criteria count them (`None`
    /// when a counter they need was absent).
    pub tally: Option<Tally>,
    /// When the answer arrived.
    pub at: jiff::Timestamp,
    /// Time since the watch started.
    pub elapsed: Duration,
    /// The pause before the next poll (if the watch goes on).
    pub next_poll_in: Duration,
    /// The `X-Request-Id` of the read.
    pub request_id: Option<String>,
}

/// Why a watch stopped the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trip {
    /// This criterion tripped.
    Criterion(Criterion),
    /// The task could not be read for longer than the read-failure budget,
    /// and [`WatchBatchTask::stop_when_blind`] asked for a stop then.
    Blind,
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Criterion(c) => c.fmt(f),
            Self::Blind => f.write_str("unreadable past the read-failure budget"),
        }
    }
}

/// What the stop after a trip came to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StopOutcome {
    /// The task was stopped: the stop was answered, or a read after a lost
    /// answer showed the task `Stopping` or `Stopped`. `status` is the last
    /// status read after it (`Stopping` if it had not settled within
    /// [`SETTLE_WINDOW`]).
    Stopped {
        /// The task's status as last read after the stop.
        status: Option<Status<TaskStatus>>,
    },
    /// The stop was answered, but every read after it within
    /// [`SETTLE_WINDOW`] still shows the task running: nothing shows it
    /// stopped, so it is not reported stopped.
    AnsweredStillRunning {
        /// The task's status as last read.
        status: Status<TaskStatus>,
    },
    /// The task finished on its own before the stop could act (the stop was
    /// refused, e.g. `IOTDA.000006`, or a read after its lost answer showed
    /// the task finished, not stopped). Nothing is left running.
    FinishedFirst {
        /// The task's final status.
        status: Status<TaskStatus>,
        /// The stop's refusal, if it was refused.
        refusal: Option<Arc<Error>>,
    },
    /// The stop was refused as a whole and the task is still running: it
    /// was **not** stopped.
    Refused {
        /// The refusal.
        error: Arc<Error>,
        /// The task's status as last read.
        status: Option<Status<TaskStatus>>,
    },
    /// The stop may have been processed and no read could tell.
    Unknown {
        /// The stop's error.
        error: Arc<Error>,
        /// The task's status as last read, if any read succeeded.
        status: Option<Status<TaskStatus>>,
    },
}

/// How a watch ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchEnd {
    /// The task reached a final status (`Success`, `Fail`,
    /// `PartialSuccess`, or `Stopped` by someone else) with nothing tripped.
    Finished {
        /// The final status.
        status: TaskStatus,
    },
    /// A criterion tripped (or the watch went blind, with
    /// [`WatchBatchTask::stop_when_blind`]), and the task was stopped, or not.
    Tripped {
        /// Why.
        trip: Trip,
        /// What the stop came to.
        stop: StopOutcome,
    },
    /// [`WatchBatchTask::watch_timeout`] passed with the task still running
    /// (as last read; reads failing at the deadline end it
    /// [`ReadFailed`](Self::ReadFailed) instead); nothing was stopped.
    TimedOut,
    /// With [`WatchBatchTask::until_idle`]: the task read a status that is
    /// neither running (`Processing`, `Stopping`) nor final, e.g. `Waitting`
    /// (a `need_confirm` task waiting for another confirm); nothing was
    /// stopped.
    Idle {
        /// The status read.
        status: TaskStatus,
    },
    /// The task could not be read for longer than the read-failure budget
    /// (or does not exist, or the credentials were refused, or the reads
    /// were failing when the watch timeout passed); nothing was stopped.
    ReadFailed {
        /// The last read's error.
        error: Arc<Error>,
    },
    /// [`WatchBatchTask::cancel_on`] fired; the task was not stopped.
    Cancelled,
}

/// The report of a watch: why it ended, what it read, what it stopped.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WatchReport {
    /// The task watched.
    pub task_id: String,
    /// How it ended.
    pub end: WatchEnd,
    /// The task's status as last read.
    pub status: Option<Status<TaskStatus>>,
    /// The counters as last read (after the stop and its settling, on a trip).
    pub counters: Option<TaskProgress>,
    /// The counters of the poll that tripped a criterion.
    pub counters_at_trip: Option<TaskProgress>,
    /// Every request ID of the stop after a trip (its answers and reads).
    pub stop_request_ids: Vec<String>,
    /// Devices stopped for hanging (`stuck_after`), and their stops' reports.
    pub stuck: Vec<StuckStop>,
    /// Successful polls.
    pub polls: usize,
    /// Failed reads.
    pub read_failures: usize,
    /// How long the watch took.
    pub elapsed: Duration,
}

/// One targeted stop of devices seen `Processing` longer than `stuck_after`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StuckStop {
    /// The devices, timed out by this watcher's observation.
    pub devices: Vec<String>,
    /// The stop's report, or why it was refused as a whole.
    pub report: Result<TargetsReport, Arc<Error>>,
}

impl WatchReport {
    /// Whether the watch stopped the whole task (a trip whose stop took effect).
    pub fn task_stopped(&self) -> bool {
        matches!(
            self.end,
            WatchEnd::Tripped {
                stop: StopOutcome::Stopped { .. },
                ..
            }
        )
    }

    /// Whether any stuck device's stop has an unknown outcome (its request
    /// may have been processed and no read could tell).
    pub fn stuck_unknown(&self) -> bool {
        self.stuck.iter().any(|s| match &s.report {
            Ok(report) => report.unknown().next().is_some(),
            Err(error) => error.may_have_been_processed(),
        })
    }
}
