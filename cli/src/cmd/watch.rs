//! `iotda-batchtask watch`: guard a rollout. Polls the task, stops it as a
//! whole when an `--abort-if` criterion holds, stops devices that hang
//! (`--stuck-after`), and ends with a summary and an exit code that says
//! what happened (see the library's `watch` module for the engine, and
//! `watch_view` for the output).

use std::time::Duration;

use clap::{Args, ValueEnum};
use futures_util::StreamExt as _;
use iotda_batchtask::watch::{MAX_INTERVAL, MAX_WATCH_TIMEOUT, WatchEvent};

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::guard::{self, GuardArgs};
use crate::output;
use crate::signals;
use crate::watch_view::View;
use crate::{Exit, report};

/// Shown under `watch --help`.
const WATCH_HELP: &str = "\
A criterion trips only while the task runs; then every sub-task not yet finished is stopped
(StopBatchTask {}), through the same path as `stop --all` (a lost answer is settled by
reading, never by sending blind), and the task is read until it settles. A failed read never
stops anything: reads back off and retry, and a task unreadable for 120 s (or still
unreadable when --watch-timeout passes) ends the watch (exit 1). A signal (Ctrl-C,
SIGTERM) ends the watch and does NOT stop the task.

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
    #[command(flatten)]
    guard: GuardArgs,
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

fn parse_interval(text: &str) -> Result<Duration, String> {
    guard::seconds(text, MAX_INTERVAL)
}

fn parse_watch_timeout(text: &str) -> Result<Duration, String> {
    guard::seconds(text, MAX_WATCH_TIMEOUT)
}

pub async fn run(args: WatchArgs) -> Exit {
    if let Err(message) = args.guard.check() {
        output::error(message);
        return Exit::Usage;
    }
    let client = match args.connection.client().await {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let mut watch = args
        .guard
        .apply(client.watch_batch_task(&args.task_id))
        .interval(args.interval)
        .cancel_on(async {
            signals::first().await;
        });
    if let Some(timeout) = args.watch_timeout {
        watch = watch.watch_timeout(timeout);
    }
    let events = match watch.stream() {
        Ok(events) => events,
        Err(e) => return report(&e),
    };
    let mut view = View::new(&args.task_id, &args.guard, args.output == WatchFormat::Json).live();
    view.announce();
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        if let WatchEvent::Ended(report) = event {
            return view.ended(&report);
        }
        view.event(&event);
    }
    unreachable!("the watch stream always ends with WatchEvent::Ended")
}
