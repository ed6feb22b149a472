//! `iotda-batchtask watch`: guard a rollout. Polls the task, stops it as a
//! whole when an `--abort-if` criterion holds, stops devices that hang
//! (`--stuck-after`), and ends with a summary and an exit code that says
//! what happened (see the library's `watch` module for the engine).

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use iotda_batchtask::types::{TaskProgress, TaskStatus};
use iotda_batchtask::watch::{
    Criterion, MAX_INTERVAL, MAX_STUCK_AFTER, MAX_WATCH_TIMEOUT, Progress, StopOutcome, Tally, Trip, WatchEnd,
    WatchEvent, WatchReport,
};
use iotda_batchtask::{Error, TargetsReport};
use serde::Serialize;
use serde_json::{Value, json};

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::operation::Op;
use crate::output::{self, errln};
use crate::render::{self, Rows};
use crate::sanitize;
use crate::signals;
use crate::{Exit, report};

/// Shown under `watch --help`.
const WATCH_HELP: &str = "\
A criterion trips only while the task runs; then every sub-task not yet finished is stopped
(StopBatchTask {}), through the same path as `stop --all` (a lost answer is settled by
reading, never by sending blind), and the task is read until it settles. A failed read never
stops anything: reads back off and retry, and a task unreadable for 120 s ends the watch
(exit 1). A signal (Ctrl-C, SIGTERM) ends the watch and does NOT stop the task.

Watch exit codes: 0 finished, every sub-task Success, nothing tripped; 3 finished otherwise;
6 --watch-timeout passed (nothing stopped); 7 a criterion tripped and the task was stopped;
4 tripped and the stop's outcome is unknown; 1 tripped and the stop refused (NOT stopped), or
the task unreadable; 2 bad input; 130/143 a signal ended the watch (the task NOT stopped).";

/// Arguments of `watch`.
#[derive(Debug, Args)]
#[command(after_help = format!("{WATCH_HELP}\n\n{CREDENTIALS_HELP}"))]
pub struct WatchArgs {
    #[command(flatten)]
    connection: Connection,
    /// The batch task ID.
    #[arg(long, value_name = "ID")]
    task_id: String,
    /// Stop the whole task when this holds: failed>=N (a count, N >= 1) or
    /// failed>=P% (a share of finished sub-tasks, 0 < P <= 100); repeat for more.
    #[arg(long = "abort-if", value_name = "CRITERION", value_parser = parse_criterion)]
    abort_if: Vec<Criterion>,
    /// Judge a failed>=P% criterion only once this many sub-tasks have
    /// finished (Success + Fail, + FailWaitRetry with --count-retrying); default 10.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true
    )]
    min_finished: Option<u64>,
    /// Count FailWaitRetry sub-tasks (awaiting an automatic retry) as failed.
    #[arg(long)]
    count_retrying: bool,
    /// Stop (targeted) each device seen Processing longer than this, and
    /// report it timed out (at most 604800, 7 days).
    #[arg(long, value_name = "SECONDS", value_parser = parse_stuck_after, allow_negative_numbers = true)]
    stuck_after: Option<Duration>,
    /// The longest pause between polls; the first pauses are shorter (at most 3600).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "10",
        value_parser = parse_interval,
        allow_negative_numbers = true
    )]
    interval: Duration,
    /// End the watch after this long, stopping nothing (exit 6); default and
    /// at most 2592000 (30 days).
    #[arg(long, value_name = "SECONDS", value_parser = parse_watch_timeout, allow_negative_numbers = true)]
    watch_timeout: Option<Duration>,
    /// Output: a live view on a terminal (plain lines otherwise), or JSON Lines.
    #[arg(long, value_enum, default_value_t = WatchFormat::Table)]
    output: WatchFormat,
}

/// `--output` of `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WatchFormat {
    /// A live view on a terminal; plain lines when stdout is not one.
    Table,
    /// JSON Lines on stdout, one object per event, each with "event":
    /// progress, stuck, tripped, stop, and a last summary.
    Json,
}

fn parse_criterion(text: &str) -> Result<Criterion, String> {
    text.parse::<Criterion>().map_err(|e| e.rule().to_owned())
}

/// A number of seconds above 0 and at most `max`.
fn seconds(text: &str, max: Duration) -> Result<Duration, String> {
    let range = || format!("must be a number of seconds above 0 and at most {}", max.as_secs());
    let value: f64 = text.trim().parse().map_err(|_| range())?;
    if !value.is_finite() || value <= 0.0 || value > max.as_secs_f64() {
        return Err(range());
    }
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(range)
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    seconds(text, MAX_INTERVAL)
}

fn parse_stuck_after(text: &str) -> Result<Duration, String> {
    seconds(text, MAX_STUCK_AFTER)
}

fn parse_watch_timeout(text: &str) -> Result<Duration, String> {
    seconds(text, MAX_WATCH_TIMEOUT)
}

pub async fn run(args: WatchArgs) -> Exit {
    if args.min_finished == Some(0) && args.abort_if.iter().any(|c| c.is_percent()) {
        output::error(
            "--min-finished: must be at least 1 with a failed>=P% --abort-if (one early failure would be 100%)",
        );
        return Exit::Usage;
    }
    let client = match args.connection.client().await {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let mut watch = client
        .watch_batch_task(&args.task_id)
        .criteria(args.abort_if.iter().copied())
        .count_retrying(args.count_retrying)
        .interval(args.interval)
        .cancel_on(async {
            signals::first().await;
        });
    if let Some(n) = args.min_finished {
        watch = watch.min_finished(n);
    }
    if let Some(after) = args.stuck_after {
        watch = watch.stuck_after(after);
    }
    if let Some(timeout) = args.watch_timeout {
        watch = watch.watch_timeout(timeout);
    }
    let events = match watch.stream() {
        Ok(events) => events,
        Err(e) => return report(&e),
    };
    let mut view = View::new(&args);
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        if let WatchEvent::Ended(report) = event {
            return view.ended(&report);
        }
        view.event(&event);
    }
    unreachable!("the watch stream always ends with WatchEvent::Ended")
}

/// Where events go: JSON Lines, plain lines, or a live view.
struct View {
    format: WatchFormat,
    task: String,
    criteria: Vec<Criterion>,
    min_finished: Option<u64>,
    stuck_after: Option<Duration>,
    bar: Option<ProgressBar>,
}

impl View {
    fn new(args: &WatchArgs) -> Self {
        let live =
            args.output == WatchFormat::Table && std::io::stdout().is_terminal() && !crate::settings::get().quiet;
        let bar = live.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        // indicatif draws nothing on a terminal it cannot drive (TERM unset
        // or dumb): plain lines there, never silence.
        let bar = bar.filter(|bar| !bar.is_hidden());
        let view = View {
            format: args.output,
            task: sanitize::cell(&args.task_id, 64),
            criteria: args.abort_if.clone(),
            min_finished: args.min_finished,
            stuck_after: args.stuck_after,
            bar,
        };
        if view.format == WatchFormat::Table {
            errln!("watching task {}: {}", view.task, view.guard());
        }
        view
    }

    /// The criteria in words.
    fn guard(&self) -> String {
        let mut text = if self.criteria.is_empty() {
            "no --abort-if: nothing will stop the task".to_owned()
        } else {
            let list: Vec<String> = self.criteria.iter().map(ToString::to_string).collect();
            let min = self
                .min_finished
                .unwrap_or(iotda_batchtask::watch::DEFAULT_MIN_FINISHED);
            let mut text = format!("stop the task if {}", list.join(" or "));
            if self.criteria.iter().any(|c| c.is_percent()) {
                text.push_str(&format!(" (a rate once {min} have finished)"));
            }
            text
        };
        if let Some(after) = self.stuck_after {
            text.push_str(&format!(
                "; stop devices Processing longer than {} s",
                after.as_secs_f64()
            ));
        }
        text
    }

    /// A line above the live view, or on stdout.
    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| output::out(text)),
            None => output::out(text),
        }
    }

    fn event(&mut self, event: &WatchEvent) {
        match self.format {
            WatchFormat::Json => output::json(&json_of(event)),
            WatchFormat::Table => self.table(event),
        }
    }

    fn table(&mut self, event: &WatchEvent) {
        match event {
            WatchEvent::Progress(p) => match &self.bar {
                Some(bar) => bar.set_message(self.live(p)),
                None => output::out(format!("{}\n", self.plain(p))),
            },
            WatchEvent::Stuck { devices, report } => {
                let mut text = format!(
                    "stuck: stopping {} seen Processing longer than {} s\n",
                    output::count(devices.len(), "device", "devices"),
                    self.stuck_after.map_or(0.0, |d| d.as_secs_f64())
                );
                text.push_str(&stop_text(report));
                self.line(&text);
            }
            WatchEvent::Tripped { trip, counters } => {
                let tally = counters.as_ref().map(|c| format!(" ({})", progress_line(c)));
                self.line(&format!(
                    "TRIPPED: {}{}: stopping every sub-task of task {} not yet finished\n",
                    trip,
                    tally.unwrap_or_default(),
                    self.task
                ));
            }
            WatchEvent::Stop { report: Ok(report) } if report.results().is_empty() => self.line(&format!(
                "stop: every sub-task not yet finished: answered ({})\n",
                request_ids(report.request_ids())
            )),
            WatchEvent::Stop { report } => self.line(&format!("stop:\n{}", stop_text(report))),
            _ => {}
        }
    }

    /// One plain line per poll.
    fn plain(&self, p: &Progress) -> String {
        format!(
            "{} {} {}; {}",
            p.at.strftime("%H:%M:%S"),
            sanitize::cell(&p.status.to_string(), 32),
            render::progress(&p.counters),
            self.rate(p.tally)
        )
    }

    /// The live view: status, counts per state, rate against the threshold,
    /// elapsed, next poll.
    fn live(&self, p: &Progress) -> String {
        format!(
            "task {} {} (watching {:.0} s, next poll in {:.1} s)\n  {}\n  {}",
            self.task,
            sanitize::cell(&p.status.to_string(), 32),
            p.elapsed.as_secs_f64(),
            p.next_poll_in.as_secs_f64(),
            render::progress(&p.counters),
            self.rate(p.tally)
        )
    }

    fn rate(&self, tally: Option<Tally>) -> String {
        let Some(t) = tally else {
            return "failed: the read had no success/fail counters".to_owned();
        };
        let mut text = format!("failed {} of {} finished", t.failed, t.finished);
        if t.finished > 0 {
            #[allow(clippy::cast_precision_loss)] // a display, sub-task counts are small
            let rate = t.failed as f64 * 100.0 / t.finished as f64;
            text.push_str(&format!(" ({rate:.2}%)"));
        }
        if !self.criteria.is_empty() {
            let list: Vec<String> = self.criteria.iter().map(ToString::to_string).collect();
            text.push_str(&format!("; abort if {}", list.join(" or ")));
        }
        text
    }

    fn ended(&mut self, report: &WatchReport) -> Exit {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let signal = signals::received();
        let exit = exit_of(report, signal);
        match self.format {
            WatchFormat::Json => output::json(&summary_json(report, exit, signal)),
            WatchFormat::Table => output::out(summary_text(report, &self.task, signal)),
        }
        exit
    }
}

/// The exit code of a watch: see `WATCH_HELP`.
fn exit_of(report: &WatchReport, signal: Option<signals::Signal>) -> Exit {
    let exit = match &report.end {
        WatchEnd::Finished {
            status: TaskStatus::Success,
        } => Exit::Success,
        WatchEnd::Finished { .. } => Exit::TargetsFailed,
        WatchEnd::Tripped { stop, .. } => match stop {
            StopOutcome::Stopped { .. } => Exit::Tripped,
            StopOutcome::FinishedFirst { .. } => Exit::TargetsFailed,
            StopOutcome::Unknown { .. } | StopOutcome::AnsweredStillRunning { .. } => Exit::Unknown,
            _ => Exit::RequestFailed,
        },
        WatchEnd::TimedOut => Exit::StillRunning,
        WatchEnd::Cancelled => signal.map_or(Exit::Interrupted, signals::Signal::exit),
        _ => Exit::RequestFailed,
    };
    // A hung device's stop whose outcome is unknown outweighs "finished".
    match exit {
        Exit::Success | Exit::TargetsFailed | Exit::StillRunning if report.stuck_unknown() => Exit::Unknown,
        exit => exit,
    }
}

/// `outcome` and, on a trip, `stop` of the summary.
fn outcome_names(end: &WatchEnd) -> (&'static str, Option<&'static str>) {
    match end {
        WatchEnd::Finished { .. } => ("finished", None),
        WatchEnd::Tripped { stop, .. } => (
            "tripped",
            Some(match stop {
                StopOutcome::Stopped { .. } => "stopped",
                StopOutcome::FinishedFirst { .. } => "finished_first",
                StopOutcome::Refused { .. } => "refused",
                StopOutcome::AnsweredStillRunning { .. } => "answered_still_running",
                _ => "unknown",
            }),
        ),
        WatchEnd::TimedOut => ("timed_out", None),
        WatchEnd::Cancelled => ("interrupted", None),
        _ => ("read_failed", None),
    }
}

fn progress_line(c: &TaskProgress) -> String {
    render::progress(c)
}

/// `request id X` / `request ids X, Y` / `no request id`, sanitised.
fn request_ids(ids: &[String]) -> String {
    let ids: Vec<String> = ids.iter().map(|id| sanitize::cell(id, 64)).collect();
    match ids.len() {
        0 => "no request id".to_owned(),
        1 => format!("request id {}", ids[0]),
        _ => format!("request ids {}", ids.join(", ")),
    }
}

/// A stop's report as the `stop` command prints it, or its error.
fn stop_text(report: &Result<TargetsReport, std::sync::Arc<Error>>) -> String {
    match report {
        Ok(report) => render::table(&Rows::of(Op::Stop, report)),
        Err(error) => format!(
            "the stop failed: {}{}\n",
            sanitize::cell(&error.to_string(), 4096),
            if error.may_have_been_processed() {
                " (it may have been processed)"
            } else {
                " (refused; nothing stopped)"
            }
        ),
    }
}

/// A stop's report as JSON fields.
fn stop_json(report: &Result<TargetsReport, std::sync::Arc<Error>>) -> Value {
    match report {
        Ok(report) => serde_json::to_value(Rows::of(Op::Stop, report)).unwrap_or(Value::Null),
        Err(error) => json!({
            "error": error.to_string(),
            "error_code": error.error_code(),
            "may_have_been_processed": error.may_have_been_processed(),
            "request_ids": error.request_id().into_iter().collect::<Vec<_>>(),
        }),
    }
}

/// One JSON Lines object per event.
fn json_of(event: &WatchEvent) -> Value {
    let tally = |t: Option<Tally>| t.map(|t| json!({"failed": t.failed, "finished": t.finished}));
    let mut value = match event {
        WatchEvent::Progress(p) => json!({
            "event": "progress",
            "status": p.status.to_string(),
            "task_progress": p.counters,
            "tally": tally(p.tally),
            "request_id": p.request_id,
            "at": p.at.to_string(),
            "elapsed_seconds": p.elapsed.as_secs_f64(),
            "next_poll_seconds": p.next_poll_in.as_secs_f64(),
        }),
        WatchEvent::Stuck { devices, report } => {
            let mut value = stop_json(report);
            value["event"] = json!("stuck");
            value["devices"] = json!(devices);
            value
        }
        WatchEvent::Tripped { trip, counters } => json!({
            "event": "tripped",
            "criterion": trip_name(*trip),
            "task_progress": counters,
        }),
        WatchEvent::Stop { report } => {
            let mut value = stop_json(report);
            value["event"] = json!("stop");
            value["all"] = json!(true);
            value
        }
        _ => json!({"event": "other"}),
    };
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
    value
}

fn trip_name(trip: Trip) -> String {
    match trip {
        Trip::Criterion(c) => c.to_string(),
        _ => "blind".to_owned(),
    }
}

/// The last JSON Lines object.
#[derive(Serialize)]
struct Summary<'a> {
    event: &'static str,
    task_id: &'a str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tripped: Option<String>,
    task_stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_progress: Option<&'a TaskProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_progress_at_trip: Option<&'a TaskProgress>,
    stop_request_ids: &'a [String],
    timed_out_devices: Vec<&'a str>,
    polls: usize,
    read_failures: usize,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<&'static str>,
    exit_code: u8,
}

fn end_error(end: &WatchEnd) -> Option<String> {
    match end {
        WatchEnd::ReadFailed { error }
        | WatchEnd::Tripped {
            stop: StopOutcome::Refused { error, .. } | StopOutcome::Unknown { error, .. },
            ..
        } => Some(error.to_string()),
        _ => None,
    }
}

fn summary_json<'a>(report: &'a WatchReport, exit: Exit, signal: Option<signals::Signal>) -> Summary<'a> {
    let (outcome, stop) = outcome_names(&report.end);
    let tripped = match &report.end {
        WatchEnd::Tripped { trip, .. } => Some(trip_name(*trip)),
        _ => None,
    };
    Summary {
        event: "summary",
        task_id: &report.task_id,
        outcome,
        stop,
        tripped,
        task_stopped: report.task_stopped(),
        task_status: report.status.as_ref().map(ToString::to_string),
        task_progress: report.counters.as_ref(),
        task_progress_at_trip: report.counters_at_trip.as_ref(),
        stop_request_ids: &report.stop_request_ids,
        timed_out_devices: report
            .stuck
            .iter()
            .flat_map(|s| s.devices.iter().map(String::as_str))
            .collect(),
        polls: report.polls,
        read_failures: report.read_failures,
        seconds: report.elapsed.as_secs_f64(),
        error: end_error(&report.end),
        signal: matches!(report.end, WatchEnd::Cancelled)
            .then(|| signal.map(signals::Signal::name))
            .flatten(),
        exit_code: exit.code(),
    }
}

fn summary_text(report: &WatchReport, task: &str, signal: Option<signals::Signal>) -> String {
    let status = report
        .status
        .as_ref()
        .map_or_else(|| "-".to_owned(), |s| sanitize::cell(&s.to_string(), 32));
    let secs = report.elapsed.as_secs_f64();
    let mut text = match &report.end {
        WatchEnd::Finished { .. } => format!("task {task} finished {status} after {secs:.1} s; nothing tripped"),
        WatchEnd::Tripped { trip, stop } => {
            let what = match stop {
                StopOutcome::Stopped { .. } => format!("the task was STOPPED (it is {status})"),
                StopOutcome::FinishedFirst { status, .. } => format!(
                    "the task had already finished ({}); the stop did not act",
                    sanitize::cell(&status.to_string(), 32)
                ),
                StopOutcome::Refused { error, .. } => format!(
                    "the stop was refused ({}): the task was NOT stopped",
                    sanitize::cell(&error.to_string(), 4096)
                ),
                StopOutcome::AnsweredStillRunning { status } => format!(
                    "the stop was answered, but the task still reads {} a minute later: nothing shows it stopped; \
                     check with `iotda-batchtask show --task-id {task}`",
                    sanitize::cell(&status.to_string(), 32)
                ),
                _ => format!(
                    "the stop's outcome is unknown: it may have been processed and no read could tell; check with \
                     `iotda-batchtask show --task-id {task}`"
                ),
            };
            format!("{trip} tripped after {secs:.1} s: {what}")
        }
        WatchEnd::TimedOut => {
            format!("--watch-timeout passed after {secs:.1} s: task {task} is still {status}; nothing was stopped")
        }
        WatchEnd::ReadFailed { error } => format!(
            "the watch ended after {secs:.1} s: task {task} could not be read ({}); nothing was stopped",
            sanitize::cell(&error.to_string(), 4096)
        ),
        WatchEnd::Cancelled => format!(
            "interrupted ({}) after {secs:.1} s: no longer watching; task {task} was NOT stopped (it was {status})",
            signal.map_or("signal", signals::Signal::name)
        ),
        _ => format!("the watch ended after {secs:.1} s"),
    };
    text.push('\n');
    if let Some(c) = &report.counters_at_trip {
        text.push_str(&format!("at the trip: {}\n", render::progress(c)));
    }
    if let Some(c) = &report.counters {
        text.push_str(&format!("last read: {}\n", render::progress(c)));
    }
    if !report.stop_request_ids.is_empty() {
        let ids: Vec<String> = report
            .stop_request_ids
            .iter()
            .map(|id| sanitize::cell(id, 64))
            .collect();
        text.push_str(&format!("stop request ids: {}\n", ids.join(", ")));
    }
    let timed_out: Vec<String> = report
        .stuck
        .iter()
        .flat_map(|s| s.devices.iter().map(|d| sanitize::cell(d, 128)))
        .collect();
    if !timed_out.is_empty() {
        text.push_str(&format!("timed out (stopped for hanging): {}\n", timed_out.join(", ")));
    }
    text
}
