//! `--wait` of `stop`, `retry` and `confirm`: after the call, the library's
//! watch (the engine `watch` drives, with `until_idle`) reads the task until
//! it leaves Processing and Stopping or `--wait-timeout` passes, guarded by
//! `--abort-if`/`--stuck-after` if given, then gives its counters.

use std::time::Duration;

use clap::Args;
use futures_util::StreamExt as _;
use iotda_batchtask::Client;
use iotda_batchtask::types::TaskProgress;
use iotda_batchtask::watch::{DEFAULT_READ_FAILURE_BUDGET, WatchEnd, WatchEvent, WatchReport};
use serde::Serialize;

use crate::Exit;
use crate::guard::GuardArgs;
use crate::output::{self, errln};
use crate::render;
use crate::sanitize;
use crate::signals::{self, Signal};
use crate::watch_view::{self, View};

/// The default `--wait-timeout`, in seconds.
const DEFAULT_WAIT_SECONDS: &str = "300";

/// `--wait`, `--wait-timeout` and the guard's flags.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Then read the task until it leaves Stopping and Processing, and print
    /// its counters (exit 6 if --wait-timeout passes first); guarded, as
    /// `watch` guards a task, with --abort-if and --stuck-after.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds (at most 86400).
    #[arg(
        long,
        requires = "wait",
        value_name = "SECONDS",
        default_value = DEFAULT_WAIT_SECONDS,
        value_parser = crate::connection::parse_timeout,
        allow_negative_numbers = true
    )]
    pub wait_timeout: Duration,
    #[command(flatten, next_help_heading = "Guard of --wait (as `watch` guards a task)")]
    pub guard: GuardArgs,
}

impl WaitArgs {
    /// Refuses, before any request, a guard flag without `--wait` and guard
    /// flags that do not go together: the error line, naming the flag.
    pub fn check(&self) -> Result<(), String> {
        if !self.wait
            && let Some(flag) = self.guard.first_given()
        {
            return Err(format!("{flag} requires --wait"));
        }
        self.guard.check().map_err(str::to_owned)
    }

    /// How long a task may be unreadable before the wait gives up: the
    /// watch's default, within the wait.
    fn read_failure_budget(&self) -> Duration {
        self.wait_timeout.min(DEFAULT_READ_FAILURE_BUDGET)
    }

    /// What `--wait` would read and send, for `--dry-run`.
    pub fn dry_run_notes(&self) -> Vec<String> {
        let mut notes = vec![format!(
            "--wait then reads the task (GET .../batchtasks/{{task_id}}?limit=1: at once, then 1, 2, 4, 8 and at most \
             10 s apart) until it leaves Stopping and Processing or {} s pass; a failed read is read again, for at \
             most {} s",
            self.wait_timeout.as_secs_f64(),
            self.read_failure_budget().as_secs_f64()
        )];
        if !self.guard.abort_if.is_empty() {
            notes.push(format!(
                "--wait is guarded: {}; a trip stops every sub-task not yet finished (POST \
                 .../batchtasks/{{task_id}}/stop with {{}}) and reads the task until it settles",
                self.guard.describe()
            ));
        }
        if let Some(after) = self.guard.stuck_after {
            notes.push(format!(
                "with --stuck-after, each read is GET .../batchtasks/{{task_id}}?task_detail_status=Processing&limit=50 \
                 (one more per 50 Processing sub-tasks), and each device seen Processing longer than {} s is stopped \
                 by name (POST .../batchtasks/{{task_id}}/stop)",
                after.as_secs_f64()
            ));
        }
        notes
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The task left Stopping and Processing.
    Settled,
    /// `--wait-timeout` passed first.
    Deadline,
    /// A signal arrived.
    Interrupted,
    /// The task could not be read (`error` says why).
    ReadFailed,
    /// A guard criterion tripped (`stop` says what the stop came to).
    Tripped,
}

/// How a wait ended, and the task as last read.
#[derive(Debug, Serialize)]
pub struct Waited {
    /// How it ended.
    pub outcome: Outcome,
    /// The task's status as last read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_status: Option<String>,
    /// The task's counters as last read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_progress: Option<TaskProgress>,
    /// Reads made.
    pub reads: usize,
    /// Seconds waited.
    pub seconds: f64,
    /// Why the last read failed, or why a tripped stop was refused or is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With a guard: what it did.
    #[serde(flatten)]
    guarded: Option<Guarded>,
    #[serde(skip)]
    exit: Exit,
    #[serde(skip)]
    line: String,
}

/// The fields of a guarded wait (as `watch`'s summary names them).
#[derive(Debug, Serialize)]
struct Guarded {
    #[serde(skip_serializing_if = "Option::is_none")]
    tripped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'static str>,
    task_stopped: bool,
    stop_request_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_progress_at_trip: Option<TaskProgress>,
    timed_out_devices: Vec<String>,
}

impl Waited {
    /// The exit code of the wait alone: 0 settled, 6 the deadline, 1 a read
    /// failed, 130/143 a signal; a trip as `watch` (7, 4, 1, 3), and 4 when
    /// a hung device's stop is unknown.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// Whether a guard criterion tripped.
    pub fn tripped(&self) -> bool {
        self.outcome == Outcome::Tripped
    }

    /// The wait's end and the counters, for the table output.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// A wait the watch refused to start (it validates what the call before
    /// it already sent, so this is not expected): nothing was read.
    fn refused(error: &iotda_batchtask::Error) -> Self {
        Self {
            outcome: Outcome::ReadFailed,
            task_status: None,
            task_progress: None,
            reads: 0,
            seconds: 0.0,
            error: Some(error.to_string()),
            guarded: None,
            exit: Exit::RequestFailed,
            line: format!("the wait did not start: {}\n", sanitize::cell(&error.to_string(), 4096)),
        }
    }

    fn of(report: &WatchReport, guarded: bool, signal: Option<Signal>) -> Self {
        let (outcome, exit) = match &report.end {
            WatchEnd::Finished { .. } | WatchEnd::Idle { .. } => (Outcome::Settled, Exit::Success),
            WatchEnd::TimedOut => (Outcome::Deadline, Exit::StillRunning),
            WatchEnd::Cancelled => (Outcome::Interrupted, signal.map_or(Exit::Interrupted, Signal::exit)),
            WatchEnd::Tripped { stop, .. } => (Outcome::Tripped, watch_view::trip_exit(stop)),
            _ => (Outcome::ReadFailed, Exit::RequestFailed),
        };
        let waited = Self {
            outcome,
            task_status: report.status.as_ref().map(ToString::to_string),
            task_progress: report.counters.clone(),
            reads: report.polls + report.read_failures,
            seconds: report.elapsed.as_secs_f64(),
            error: watch_view::end_error(&report.end),
            guarded: guarded.then(|| Guarded {
                tripped: match &report.end {
                    WatchEnd::Tripped { trip, .. } => Some(watch_view::trip_name(*trip)),
                    _ => None,
                },
                stop: match &report.end {
                    WatchEnd::Tripped { stop, .. } => Some(watch_view::stop_name(stop)),
                    _ => None,
                },
                task_stopped: report.task_stopped(),
                stop_request_ids: report.stop_request_ids.clone(),
                task_progress_at_trip: report.counters_at_trip.clone(),
                timed_out_devices: watch_view::timed_out_devices(report)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            }),
            exit: watch_view::with_stuck_unknown(exit, report),
            line: String::new(),
        };
        Self {
            line: waited.text(report),
            ..waited
        }
    }

    fn text(&self, report: &WatchReport) -> String {
        let status = sanitize::cell(self.task_status.as_deref().unwrap_or("-"), 32);
        let task = sanitize::cell(&report.task_id, 64);
        let mut text = match (self.outcome, &report.end) {
            (_, WatchEnd::Tripped { trip, stop }) => format!(
                "{trip} tripped after {:.1} s: {}",
                self.seconds,
                watch_view::stop_words(stop, &task, &status)
            ),
            (Outcome::Settled, _) => format!("task {task} is {status} after {:.1} s", self.seconds),
            (Outcome::Deadline, _) => format!(
                "the wait timed out after {:.1} s: task {task} is still {status}",
                self.seconds
            ),
            (Outcome::Interrupted, _) => format!(
                "the wait was interrupted after {:.1} s: task {task} was {status}",
                self.seconds
            ),
            _ => format!(
                "the wait stopped after {:.1} s: a read failed ({}); task {task} was last {status}",
                self.seconds,
                sanitize::cell(self.error.as_deref().unwrap_or(""), 4096)
            ),
        };
        text.push('\n');
        if self.tripped() {
            text.push_str(&watch_view::details_text(report));
            return text;
        }
        if let Some(p) = &self.task_progress {
            text.push_str(&render::progress(p));
            text.push('\n');
        }
        if let Some(guarded) = self.guarded.as_ref().filter(|g| !g.timed_out_devices.is_empty()) {
            let devices: Vec<String> = guarded
                .timed_out_devices
                .iter()
                .map(|d| sanitize::cell(d, 128))
                .collect();
            text.push_str(&format!("timed out (stopped for hanging): {}\n", devices.join(", ")));
        }
        text
    }
}

/// Reads the task until it leaves Stopping and Processing, the timeout
/// passes, the task cannot be read (for the read-failure budget, or at all:
/// not found, credentials refused), a guard trips, or a signal arrives. With
/// `json` false, what the guard does is printed as it happens.
pub async fn until_settled(client: &Client, task_id: &str, args: &WaitArgs, json: bool) -> Waited {
    let guard = if args.guard.is_set() {
        format!("; {}", args.guard.describe())
    } else {
        String::new()
    };
    errln!(
        "waiting up to {} s for task {} to leave Stopping and Processing{guard}",
        args.wait_timeout.as_secs_f64(),
        sanitize::cell(task_id, 64)
    );
    let watch = args
        .guard
        .apply(client.watch_batch_task(task_id))
        .until_idle(true)
        .watch_timeout(args.wait_timeout)
        .read_failure_budget(args.read_failure_budget())
        .cancel_on(async {
            signals::first().await;
        });
    let events = match watch.stream() {
        Ok(events) => events,
        Err(e) => return Waited::refused(&e),
    };
    // Only what the guard does, as plain lines: the table's own line follows.
    let mut view = (!json).then(|| View::new(task_id, &args.guard, false).without_polls());
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        let WatchEvent::Ended(report) = event else {
            if let Some(view) = view.as_mut() {
                view.event(&event);
            }
            continue;
        };
        let signal = signals::received();
        let waited = Waited::of(&report, args.guard.is_set(), signal);
        if let (Outcome::Interrupted, Some(signal)) = (waited.outcome, signal) {
            output::err(format_args!("interrupted ({}): no longer waiting\n", signal.name()));
        }
        return waited;
    }
    unreachable!("the watch stream always ends with WatchEvent::Ended")
}
