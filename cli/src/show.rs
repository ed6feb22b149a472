//! `iotda-batchtask show`: what a stop did.

use crate::sanitize;
use clap::Args;
use futures_util::TryStreamExt as _;
use iotda_batchtask::MAX_PAGE_SIZE;
use iotda_batchtask::types::{Task, TaskDetail, TaskDetailStatus};
use serde::Serialize;

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::render::{self, Format};
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
    /// Only sub-tasks in this status (Success, Fail, Processing, FailWaitRetry, Stopped, Waitting, Removed, ...).
    #[arg(long, value_name = "S")]
    status: Option<TaskDetailStatus>,
    /// Only this device's sub-task.
    #[arg(long, value_name = "DEVICE_ID")]
    target: Option<String>,
    /// Output: the task, a table of sub-tasks and a summary, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// `--output json`.
#[derive(Serialize)]
struct Json<'a> {
    batchtask: Option<&'a Task>,
    task_details: &'a [TaskDetail],
    request_ids: &'a [String],
}

pub async fn run(args: ShowArgs) -> Exit {
    match run_inner(args).await {
        Ok(()) => Exit::Stopped,
        Err(e) => report(&e),
    }
}

async fn run_inner(args: ShowArgs) -> Result<(), iotda_batchtask::Error> {
    let client = args.connection.client()?;
    let mut call = client.show_batch_task(&args.task_id);
    if let Some(status) = args.status {
        call = call.status(status);
    }
    if let Some(target) = &args.target {
        call = call.target(target);
    }
    // The first page carries the task; when it is full, the stream pages on from its marker.
    let first = call.clone().limit(MAX_PAGE_SIZE).send().await?;
    let mut details = first.sub_tasks().to_vec();
    let marker = first.page().and_then(|p| p.marker.clone());
    if let (true, Some(marker)) = (details.len() == MAX_PAGE_SIZE as usize, marker) {
        let rest: Vec<TaskDetail> = call.marker(marker).sub_tasks().try_collect().await?;
        details.extend(rest);
    }
    let request_ids: Vec<String> = first.request_id().map(str::to_owned).into_iter().collect();
    match args.output {
        Format::Json => {
            let json = Json {
                batchtask: first.task(),
                task_details: &details,
                request_ids: &request_ids,
            };
            if let Ok(text) = serde_json::to_string(&json) {
                println!("{text}");
            }
        }
        Format::Table => print!("{}", table(first.task(), &details)),
    }
    Ok(())
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
            let n = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
            out.push_str(&format!(
                "progress: total {}, processing {}, waitting {}, fail_wait_retry {}, success {}, fail {}, stopped {}, removed {}\n",
                n(p.total),
                n(p.processing),
                n(p.waitting),
                n(p.fail_wait_retry),
                n(p.success),
                n(p.fail),
                n(p.stopped),
                n(p.removed)
            ));
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
    out.push_str(&format!("{} sub-tasks\n", details.len()));
    out
}
