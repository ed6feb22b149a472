//! `iotda-batchtask show`: what a stop did.

use std::sync::OnceLock;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use futures_util::StreamExt as _;
use iotda_batchtask::MAX_PAGE_SIZE;
use iotda_batchtask::types::{Task, TaskDetail, TaskDetailStatus};
use serde::Serialize;

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::output::{self, errln};
use crate::render;
use crate::sanitize;
use crate::signals::{self, Signal};
use crate::{Exit, report};

/// Arguments of `show`.
#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct ShowArgs {
    #[command(flatten)]
    connection: Connection,
    /// The batch task ID.
    #[arg(long, value_name = "ID")]
    task_id: String,
    /// Only sub-tasks in this status (any letter case).
    #[arg(long, value_name = "S", value_enum, ignore_case = true)]
    status: Option<StatusArg>,
    /// Only this device's sub-task.
    #[arg(long, value_name = "DEVICE_ID")]
    target: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
    output: ShowFormat,
}

/// `--output` of `show` (`stop`'s has another JSON shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShowFormat {
    /// The task, its progress counters, one line per sub-task (TARGET,
    /// STATUS, ERROR CODE, MESSAGE) and a count.
    Table,
    /// One object on stdout, nothing else there: {"batchtask": {"task_id",
    /// "task_type", "status", "task_progress", ...}, "task_details":
    /// [{"target", "status", "output", "error": {"error_code", "error_msg"}}],
    /// "request_ids": [one per page]}; absent fields are left out.
    Json,
}

/// `--status`: the spec's sub-task statuses, listed in `--help` from the
/// generated list rather than restated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatusArg(TaskDetailStatus);

impl ValueEnum for StatusArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: OnceLock<Vec<StatusArg>> = OnceLock::new();
        ALL.get_or_init(|| TaskDetailStatus::ALL.into_iter().map(StatusArg).collect())
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `--output json`.
#[derive(Serialize)]
struct Json<'a> {
    batchtask: Option<&'a Task>,
    task_details: &'a [TaskDetail],
    request_ids: &'a [String],
}

pub async fn run(args: ShowArgs) -> Exit {
    let walk = match walk(&args).await {
        Ok(walk) => walk,
        Err(e) => return report(&e),
    };
    if let Some(signal) = walk.interrupted {
        errln!(
            "interrupted ({}): showing the {} fetched so far",
            signal.name(),
            output::count(walk.details.len(), "sub-task", "sub-tasks")
        );
    }
    match args.output {
        ShowFormat::Json => output::json(&Json {
            batchtask: walk.task.as_ref(),
            task_details: &walk.details,
            request_ids: &walk.request_ids,
        }),
        ShowFormat::Table => output::out(table(walk.task.as_ref(), &walk.details)),
    }
    walk.interrupted.map_or(Exit::Success, Signal::exit)
}

/// What the pages said, up to the last page or the first signal.
#[derive(Default)]
struct Walk {
    /// From the first page.
    task: Option<Task>,
    details: Vec<TaskDetail>,
    /// One per page that carried one.
    request_ids: Vec<String>,
    interrupted: Option<Signal>,
}

/// Every page, through the library's bounded walk (one deadline, a cap on
/// pages and sub-tasks, markers that must advance). A signal abandons the
/// page in flight (a read, safe to drop) and keeps what came before.
async fn walk(args: &ShowArgs) -> Result<Walk, iotda_batchtask::Error> {
    let client = args.connection.client().await?;
    let mut call = client.show_batch_task(&args.task_id).limit(MAX_PAGE_SIZE);
    if let Some(StatusArg(status)) = args.status {
        call = call.status(status);
    }
    if let Some(target) = &args.target {
        call = call.target(target);
    }
    let mut walk = Walk::default();
    let mut pages = std::pin::pin!(call.pages());
    loop {
        let page = tokio::select! {
            // A signal wins over a page that is ready at the same moment.
            biased;
            signal = signals::first() => {
                walk.interrupted = Some(signal);
                return Ok(walk);
            }
            page = pages.next() => page,
        };
        let Some(page) = page.transpose()? else {
            return Ok(walk);
        };
        walk.request_ids.extend(page.request_id().map(str::to_owned));
        let response = page.into_inner();
        if walk.task.is_none() {
            walk.task = response.batchtask;
        }
        walk.details.extend(response.task_details);
    }
}

/// The task's line, its progress counters, then one row per sub-task.
fn table(task: Option<&Task>, details: &[TaskDetail]) -> String {
    let text = |v: &Option<String>, max| sanitize::cell(v.as_deref().unwrap_or("-"), max);
    let mut out = String::new();
    if let Some(task) = task {
        out.push_str(&format!(
            "task {} ({}, {})\n",
            text(&task.task_id, 32),
            text(&task.task_type, 32),
            text(&task.status, 32)
        ));
        if let Some(p) = &task.task_progress {
            out.push_str(&render::progress(p));
            out.push('\n');
        }
        out.push('\n');
    }
    let rows: Vec<[String; 4]> = details
        .iter()
        .map(|d| {
            let error = d.error.as_ref();
            [
                text(&d.target, 128),
                text(&d.status, 32),
                text(&error.and_then(|e| e.error_code.clone()), 40),
                text(&error.and_then(|e| e.error_msg.clone()), 160),
            ]
        })
        .collect();
    out.push_str(&render::columns(&rows));
    out.push_str(&output::count(details.len(), "sub-task", "sub-tasks"));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_accepted_in_any_case() {
        for status in TaskDetailStatus::ALL {
            let name = status.as_str();
            for typed in [name.to_owned(), name.to_ascii_lowercase(), name.to_ascii_uppercase()] {
                assert_eq!(StatusArg::from_str(&typed, true), Ok(StatusArg(status)), "{typed}");
            }
        }
        assert!(StatusArg::from_str("Runing", true).is_err());
    }
}
