//! `--wait` of `stop`, `retry` and `confirm`: after the call, read the task
//! (ShowBatchTask, one sub-task per page) until it leaves `Stopping` and
//! `Processing` or the `--wait-timeout` passes, then give its counters.

use std::time::{Duration, Instant};

use clap::Args;
use iotda_batchtask::types::{TaskProgress, TaskStatus};
use iotda_batchtask::{Client, ShowOutput};
use serde::Serialize;

use crate::Exit;
use crate::output::{self, errln};
use crate::render;
use crate::sanitize;
use crate::signals::{self, Signal};

/// The default `--wait-timeout`, in seconds.
const DEFAULT_WAIT_SECONDS: &str = "300";

/// The pause between two reads: short at first (a stop's `Stopping` often
/// lasts a moment), then longer, so a long rollout costs few requests.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// The statuses `--wait` waits out.
const RUNNING: [TaskStatus; 2] = [TaskStatus::Stopping, TaskStatus::Processing];

/// `--wait` and `--wait-timeout`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Then read the task until it leaves Stopping and Processing, and print
    /// its counters (exit 6 if --wait-timeout passes first).
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
    /// A read failed (`error` says why).
    ReadFailed,
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
    /// Why the last read failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    signal: Option<Signal>,
    #[serde(skip)]
    task_id: String,
}

impl Waited {
    /// The exit code of the wait alone.
    pub fn exit(&self) -> Exit {
        match (self.outcome, self.signal) {
            (_, Some(signal)) => signal.exit(),
            (Outcome::Settled, _) => Exit::Success,
            (Outcome::Deadline, _) => Exit::StillRunning,
            (Outcome::Interrupted | Outcome::ReadFailed, _) => Exit::RequestFailed,
        }
    }

    /// The wait's end and the counters, for the table output.
    pub fn line(&self) -> String {
        let status = sanitize::cell(self.task_status.as_deref().unwrap_or("-"), 32);
        let task = sanitize::cell(&self.task_id, 64);
        let mut text = match self.outcome {
            Outcome::Settled => format!("task {task} is {status} after {:.1} s", self.seconds),
            Outcome::Deadline => format!(
                "the wait timed out after {:.1} s: task {task} is still {status}",
                self.seconds
            ),
            Outcome::Interrupted => format!(
                "the wait was interrupted after {:.1} s: task {task} was {status}",
                self.seconds
            ),
            Outcome::ReadFailed => format!(
                "the wait stopped after {:.1} s: a read failed ({}); task {task} was last {status}",
                self.seconds,
                sanitize::cell(self.error.as_deref().unwrap_or(""), 4096)
            ),
        };
        text.push('\n');
        if let Some(p) = &self.task_progress {
            text.push_str(&render::progress(p));
            text.push('\n');
        }
        text
    }
}

/// The task's status and counters from a read. An answer without the task,
/// or without a status IoTDA documents, settles nothing: it is a failed
/// read, never "the task left Stopping and Processing".
fn status_of(page: &ShowOutput) -> Result<(TaskStatus, Option<TaskProgress>), String> {
    let request = page
        .request_id()
        .map_or_else(String::new, |id| format!(" (request id {id})"));
    let task = page
        .task()
        .ok_or_else(|| format!("ShowBatchTask answered without the task (no batchtask){request}"))?;
    let status = task
        .status
        .as_deref()
        .ok_or_else(|| format!("ShowBatchTask answered without the task's status{request}"))?;
    let status = status
        .parse::<TaskStatus>()
        .map_err(|_| format!("ShowBatchTask answered a task status IoTDA does not document: {status:?}{request}"))?;
    Ok((status, task.task_progress.clone()))
}

/// Reads the task until it leaves Stopping and Processing, the timeout
/// passes, a read fails, or a signal arrives. A read still in flight at the
/// deadline is abandoned (it is only a read).
pub async fn until_settled(client: &Client, task_id: &str, args: &WaitArgs) -> Waited {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + args.wait_timeout;
    let mut waited = Waited {
        outcome: Outcome::Deadline,
        task_status: None,
        task_progress: None,
        reads: 0,
        seconds: 0.0,
        error: None,
        signal: None,
        task_id: task_id.to_owned(),
    };
    errln!(
        "waiting up to {} s for task {} to leave Stopping and Processing",
        args.wait_timeout.as_secs_f64(),
        sanitize::cell(task_id, 64)
    );
    let mut pause = FIRST_PAUSE;
    loop {
        let read = client.show_batch_task(task_id).limit(1).send();
        let page = tokio::select! {
            biased;
            signal = signals::first() => {
                waited.outcome = Outcome::Interrupted;
                waited.signal = Some(signal);
                break;
            }
            () = tokio::time::sleep_until(deadline) => break,
            page = read => page,
        };
        waited.reads += 1;
        let status = match page.map_err(|e| e.to_string()).and_then(|page| status_of(&page)) {
            Ok((status, progress)) => {
                waited.task_status = Some(status.as_str().to_owned());
                waited.task_progress = progress;
                status
            }
            Err(error) => {
                waited.outcome = Outcome::ReadFailed;
                waited.error = Some(error);
                break;
            }
        };
        if !RUNNING.contains(&status) {
            waited.outcome = Outcome::Settled;
            break;
        }
        let next = tokio::time::Instant::now() + pause;
        if next >= deadline {
            // No read would come before the deadline: say so now.
            tokio::select! {
                biased;
                signal = signals::first() => {
                    waited.outcome = Outcome::Interrupted;
                    waited.signal = Some(signal);
                }
                () = tokio::time::sleep_until(deadline) => {}
            }
            break;
        }
        tokio::select! {
            biased;
            signal = signals::first() => {
                waited.outcome = Outcome::Interrupted;
                waited.signal = Some(signal);
                break;
            }
            () = tokio::time::sleep_until(next) => {}
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
    waited.seconds = started.elapsed().as_secs_f64();
    if waited.outcome == Outcome::Interrupted
        && let Some(signal) = waited.signal
    {
        output::err(format_args!("interrupted ({}): no longer waiting\n", signal.name()));
    }
    waited
}
