//! How a watch's events and its end are shown, for every command that
//! drives the library's watch (`watch`, and `--wait` of `stop`, `retry` and
//! `confirm`): JSON Lines, plain lines or a live view ([`View`]), the last
//! summary ([`summary_json`], [`summary_text`]) and the exit code
//! ([`exit_of`]).
//!
//! A caller that runs several watches (waves of a rollout) can add fields
//! to every JSON Lines object ([`View::with_extra`]) and a prefix to every
//! line of text ([`View::with_prefix`]).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use iotda_batchtask::types::{TaskProgress, TaskStatus};
use iotda_batchtask::watch::{Progress, StopOutcome, Tally, Trip, WatchEnd, WatchEvent, WatchReport};
use iotda_batchtask::{Error, TargetsReport};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Exit;
use crate::guard::GuardArgs;
use crate::operation::Op;
use crate::output::{self, errln};
use crate::render::{self, Rows};
use crate::sanitize;
use crate::signals;

/// Where a watch's events go: JSON Lines, plain lines, or a live view.
pub struct View {
    json: bool,
    task: String,
    guard: GuardArgs,
    /// Whether each poll is shown (`--wait` shows only what the guard did).
    polls: bool,
    bar: Option<ProgressBar>,
    /// Added to every JSON Lines object.
    extra: Map<String, Value>,
    /// Put before every line of text.
    prefix: String,
}

impl View {
    /// Plain lines on stdout (or, with `json`, one JSON object per event),
    /// one per poll, for a watch of `task_id` guarded by `guard`.
    pub fn new(task_id: &str, guard: &GuardArgs, json: bool) -> Self {
        Self {
            json,
            task: sanitize::cell(task_id, 64),
            guard: guard.clone(),
            polls: true,
            bar: None,
            extra: Map::new(),
            prefix: String::new(),
        }
    }

    /// A live view that redraws in place instead of a line per poll, when
    /// the output is text on a terminal (and not `--quiet`).
    pub fn live(mut self) -> Self {
        let live = !self.json && std::io::stdout().is_terminal() && !crate::settings::get().quiet;
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
        self.bar = bar.filter(|bar| !bar.is_hidden());
        self
    }

    /// No output per poll: only what the guard did (stuck devices, a trip,
    /// its stop).
    pub fn without_polls(mut self) -> Self {
        self.polls = false;
        self
    }

    /// Adds `key: value` to every JSON Lines object (e.g. `"wave": 2`).
    pub fn with_extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// Puts `prefix` before every line of text (e.g. `wave 2: `).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// `watching task X: <the guard in words>` on stderr, for text output.
    pub fn announce(&self) {
        if !self.json {
            errln!(
                "{}",
                self.prefixed(&format!("watching task {}: {}", self.task, self.guard.describe()))
                    .trim_end()
            );
        }
    }

    /// `text` with the prefix before each of its lines.
    fn prefixed(&self, text: &str) -> String {
        if self.prefix.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            out.push_str(&self.prefix);
            out.push_str(line);
        }
        out
    }

    /// A line above the live view, or on stdout.
    fn line(&self, text: &str) {
        let text = self.prefixed(text);
        match &self.bar {
            Some(bar) => bar.suspend(|| output::out(&text)),
            None => output::out(text),
        }
    }

    /// One JSON Lines object, with the extra fields.
    fn json_line(&self, value: &impl Serialize) {
        output::json(&self.extended(value));
    }

    /// `value` (a JSON object) with the extra fields after its own.
    fn extended<'a, T: Serialize>(&'a self, value: &'a T) -> Extended<'a, T> {
        Extended {
            value,
            extra: &self.extra,
        }
    }

    /// Shows one event (not [`WatchEvent::Ended`]: see [`View::ended`]).
    pub fn event(&mut self, event: &WatchEvent) {
        if matches!(event, WatchEvent::Progress(_)) && !self.polls {
            return;
        }
        if self.json {
            self.json_line(&json_of(event));
        } else {
            self.table(event);
        }
    }

    fn table(&mut self, event: &WatchEvent) {
        match event {
            WatchEvent::Progress(p) => match &self.bar {
                Some(bar) => bar.set_message(self.prefixed(&self.live_text(p))),
                None => self.line(&format!("{}\n", self.plain(p))),
            },
            WatchEvent::Stuck { devices, report } => {
                let mut text = format!(
                    "stuck: stopping {} seen Processing longer than {} s\n",
                    output::count(devices.len(), "device", "devices"),
                    self.guard.stuck_after.map_or(0.0, |d| d.as_secs_f64())
                );
                text.push_str(&stop_text(report));
                self.line(&text);
            }
            WatchEvent::Tripped { trip, counters } => {
                let tally = counters.as_ref().map(|c| format!(" ({})", render::progress(c)));
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
    fn live_text(&self, p: &Progress) -> String {
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
        if !self.guard.abort_if.is_empty() {
            text.push_str(&format!("; abort if {}", self.guard.criteria_text()));
        }
        text
    }

    /// Clears the live view, if any.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Clears the live view, shows the summary (the last JSON Lines object,
    /// or text) and returns the watch's exit code ([`exit_of`]).
    pub fn ended(&mut self, report: &WatchReport) -> Exit {
        self.finish();
        let signal = signals::received();
        let exit = exit_of(report, signal);
        if self.json {
            self.json_line(&summary_json(report, exit, signal));
        } else {
            output::out(self.prefixed(&summary_text(report, &self.task, signal)));
        }
        exit
    }
}

/// A JSON object and the fields a caller adds to every line.
#[derive(Serialize)]
struct Extended<'a, T: Serialize> {
    #[serde(flatten)]
    value: &'a T,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// The exit code of a watch: see `watch --help`.
pub fn exit_of(report: &WatchReport, signal: Option<signals::Signal>) -> Exit {
    let exit = match &report.end {
        WatchEnd::Finished {
            status: TaskStatus::Success,
        } => Exit::Success,
        WatchEnd::Finished { .. } => Exit::TargetsFailed,
        WatchEnd::Tripped { stop, .. } => trip_exit(stop),
        WatchEnd::TimedOut => Exit::StillRunning,
        WatchEnd::Cancelled => signal.map_or(Exit::Interrupted, signals::Signal::exit),
        // Only with `until_idle` (`--wait`): the task left Processing and Stopping.
        WatchEnd::Idle { .. } => Exit::Success,
        _ => Exit::RequestFailed,
    };
    with_stuck_unknown(exit, report)
}

/// The exit code of a trip, by what its stop came to: 7 stopped, 3 the task
/// had finished first, 4 unknown (or answered and still running), 1 refused.
pub fn trip_exit(stop: &StopOutcome) -> Exit {
    match stop {
        StopOutcome::Stopped { .. } => Exit::Tripped,
        StopOutcome::FinishedFirst { .. } => Exit::TargetsFailed,
        StopOutcome::Unknown { .. } | StopOutcome::AnsweredStillRunning { .. } => Exit::Unknown,
        _ => Exit::RequestFailed,
    }
}

/// A hung device's stop whose outcome is unknown outweighs "finished" (0,
/// 3) and "still running" (6): exit 4.
pub fn with_stuck_unknown(exit: Exit, report: &WatchReport) -> Exit {
    match exit {
        Exit::Success | Exit::TargetsFailed | Exit::StillRunning if report.stuck_unknown() => Exit::Unknown,
        exit => exit,
    }
}

/// `outcome` and, on a trip, `stop` of the summary.
fn outcome_names(end: &WatchEnd) -> (&'static str, Option<&'static str>) {
    match end {
        WatchEnd::Finished { .. } => ("finished", None),
        WatchEnd::Tripped { stop, .. } => ("tripped", Some(stop_name(stop))),
        WatchEnd::TimedOut => ("timed_out", None),
        WatchEnd::Idle { .. } => ("idle", None),
        WatchEnd::Cancelled => ("interrupted", None),
        _ => ("read_failed", None),
    }
}

/// `stop` of a summary: what a tripped stop came to.
pub fn stop_name(stop: &StopOutcome) -> &'static str {
    match stop {
        StopOutcome::Stopped { .. } => "stopped",
        StopOutcome::FinishedFirst { .. } => "finished_first",
        StopOutcome::Refused { .. } => "refused",
        StopOutcome::AnsweredStillRunning { .. } => "answered_still_running",
        _ => "unknown",
    }
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
fn stop_text(report: &Result<TargetsReport, Arc<Error>>) -> String {
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
fn stop_json(report: &Result<TargetsReport, Arc<Error>>) -> Value {
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
pub fn json_of(event: &WatchEvent) -> Value {
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

/// The criterion as written, or `blind`.
pub fn trip_name(trip: Trip) -> String {
    match trip {
        Trip::Criterion(c) => c.to_string(),
        _ => "blind".to_owned(),
    }
}

/// The last JSON Lines object.
#[derive(Serialize)]
pub struct Summary<'a> {
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

/// The error a watch ended with: an unreadable task, or a tripped stop
/// refused or of unknown outcome.
pub fn end_error(end: &WatchEnd) -> Option<String> {
    match end {
        WatchEnd::ReadFailed { error }
        | WatchEnd::Tripped {
            stop: StopOutcome::Refused { error, .. } | StopOutcome::Unknown { error, .. },
            ..
        } => Some(error.to_string()),
        _ => None,
    }
}

/// The devices stopped for hanging.
pub fn timed_out_devices(report: &WatchReport) -> Vec<&str> {
    report
        .stuck
        .iter()
        .flat_map(|s| s.devices.iter().map(String::as_str))
        .collect()
}

/// The summary of a watch, for JSON.
pub fn summary_json<'a>(report: &'a WatchReport, exit: Exit, signal: Option<signals::Signal>) -> Summary<'a> {
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
        timed_out_devices: timed_out_devices(report),
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

/// What a tripped stop came to, in words (`task` sanitised, `status` the
/// task's as last read, sanitised).
pub fn stop_words(stop: &StopOutcome, task: &str, status: &str) -> String {
    match stop {
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
    }
}

/// The counters at the trip and after, the stop's request IDs and the
/// devices timed out, one line each (those there are).
pub fn details_text(report: &WatchReport) -> String {
    let mut text = String::new();
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
    let timed_out: Vec<String> = timed_out_devices(report)
        .into_iter()
        .map(|d| sanitize::cell(d, 128))
        .collect();
    if !timed_out.is_empty() {
        text.push_str(&format!("timed out (stopped for hanging): {}\n", timed_out.join(", ")));
    }
    text
}

/// The summary of a watch, for text (`task` sanitised).
pub fn summary_text(report: &WatchReport, task: &str, signal: Option<signals::Signal>) -> String {
    let status = report
        .status
        .as_ref()
        .map_or_else(|| "-".to_owned(), |s| sanitize::cell(&s.to_string(), 32));
    let secs = report.elapsed.as_secs_f64();
    let mut text = match &report.end {
        WatchEnd::Finished { .. } => format!("task {task} finished {status} after {secs:.1} s; nothing tripped"),
        WatchEnd::Tripped { trip, stop } => {
            format!("{trip} tripped after {secs:.1} s: {}", stop_words(stop, task, &status))
        }
        WatchEnd::TimedOut => {
            format!("--watch-timeout passed after {secs:.1} s: task {task} is still {status}; nothing was stopped")
        }
        WatchEnd::Idle { .. } => {
            format!("task {task} is {status} after {secs:.1} s (neither Processing nor Stopping); nothing tripped")
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
    text.push_str(&details_text(report));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_and_the_prefix_reach_every_line() {
        let view = View::new("61a5f4cbd86b7a1d1c2f3e4a", &GuardArgs::default(), true)
            .with_extra("wave", json!(2))
            .with_prefix("wave 2: ");
        assert_eq!(view.prefixed("a\nb\n"), "wave 2: a\nwave 2: b\n");
        let event = json_of(&WatchEvent::Tripped {
            trip: Trip::Criterion("failed>=5%".parse().unwrap()),
            counters: None,
        });
        let line = serde_json::to_value(view.extended(&event)).unwrap();
        assert_eq!(line, json!({"event": "tripped", "criterion": "failed>=5%", "wave": 2}));
    }
}
