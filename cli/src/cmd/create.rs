//! `iotda-batchtask create`: create a batch task from flags and a device
//! file, and report truthfully whether it was created. CreateBatchTask is
//! never sent twice: a lost answer is settled by listing the tasks for a
//! settle window (the library's rule), and what is left unsettled is
//! reported unknown: never "safe to run again", since a server may create
//! the task after the client gave up.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use iotda_batchtask::types::Task;
use iotda_batchtask::{Client, CreateBatchTask, CreateOutcome};
use serde::Serialize;

use crate::cmd::list::TypeArg;
use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::dry_run;
use crate::output::{self, outln};
use crate::render::Format;
use crate::sanitize;
use crate::signals;
use crate::task_options::TaskOptionArgs;
use crate::{Exit, report};

/// Arguments of `create`.
#[derive(Debug, Args)]
#[command(after_help = format!(
    "Example: a firmware upgrade of the devices in devices.txt, each waiting for `confirm`:\n  \
     iotda-batchtask create --name fw_2_1 --task-type firmwareUpgrade --targets-file devices.txt \\\n    \
     --package-id 32822e5744a45ede319d2c50 --need-confirm\n\n{CREDENTIALS_HELP}"
))]
pub struct CreateArgs {
    #[command(flatten)]
    connection: Connection,
    /// The task's name: 1 to 128 Chinese characters, letters, digits and _.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The task type.
    #[arg(long, value_name = "TYPE", value_enum)]
    task_type: TypeArg,
    #[command(flatten)]
    targets: Targets,
    #[command(flatten)]
    options: TaskOptionArgs,
    /// When the task runs, yyyyMMdd'T'HHmmss'Z' in UTC, within 7 days; absent, at once.
    #[arg(long, value_name = "TIME")]
    schedule_time: Option<String>,
    /// Do not list the tasks, before and after, to settle a lost answer:
    /// report the task's fate unknown instead.
    #[arg(long)]
    no_reconcile: bool,
    /// After a lost answer, keep listing the tasks for the new one this many
    /// seconds (0: one listing, at once) before reporting it unknown.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = DEFAULT_SETTLE_WINDOW,
        value_parser = parse_settle_window,
        conflicts_with = "no_reconcile",
        allow_negative_numbers = true
    )]
    settle_window: Duration,
    /// Print the requests a real run would send (method, URL, body;
    /// credentials masked) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output: a line, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// What the task targets: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Targets {
    /// A target device; repeat for more.
    #[arg(long = "target", value_name = "DEVICE_ID")]
    targets: Vec<String>,
    /// A file of device IDs, one per line (# comments, blank lines skipped); - for stdin.
    #[arg(long, value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// The devices of a device group; repeat for more.
    #[arg(long = "group-id", value_name = "ID")]
    group_ids: Vec<String>,
    /// What an uploaded batch-task file lists (its file ID).
    #[arg(long, value_name = "FILE_ID")]
    document_source: Option<String>,
}

/// The default `--settle-window`, the library's.
const DEFAULT_SETTLE_WINDOW: &str = "10";
const _: () = assert!(CreateBatchTask::DEFAULT_SETTLE_WINDOW.as_secs() == 10);

/// `--settle-window`: 0 to a day, checked while parsing.
fn parse_settle_window(text: &str) -> Result<Duration, String> {
    if text.trim().parse::<f64>().is_ok_and(|s| s == 0.0) {
        return Ok(Duration::ZERO);
    }
    crate::connection::parse_timeout(text).map_err(|_| {
        format!(
            "must be a number of seconds from 0 to {}",
            iotda_batchtask::MAX_DEADLINE.as_secs()
        )
    })
}

/// `--output json`.
#[derive(Serialize)]
struct Json<'a> {
    /// `created`, `created_by_read` or `unknown`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<&'a Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn run(args: CreateArgs) -> Exit {
    match run_inner(args).await {
        Ok(exit) => exit,
        Err(e) => report(&e),
    }
}

async fn run_inner(args: CreateArgs) -> Result<Exit, iotda_batchtask::Error> {
    let targets = match &args.targets.targets_file {
        Some(path) => Some(iotda_batchtask::targets_file::read(path)?),
        None if !args.targets.targets.is_empty() => Some(args.targets.targets.clone()),
        None => None,
    };
    let client = args.connection.client().await?;
    let call = call(&client, &args, targets);
    if args.dry_run {
        // The library's own plan: what `send` would send.
        let requests = call.plan().await?;
        let mut notes = Vec::new();
        if !args.no_reconcile {
            notes.push(format!(
                "the first request reads the newest task of this type; if the create's answer is then lost, \
                 the tasks created since are listed (GET, 50 a page) to find this name, for up to {} s: the \
                 create is never sent twice",
                args.settle_window.as_secs_f64()
            ));
        }
        dry_run::print(args.output, &requests, &notes);
        return Ok(Exit::Success);
    }
    // One POST: a signal lets it finish (its fate is what the report says);
    // a second signal abandons it, and then nobody knows.
    let outcome = tokio::select! {
        outcome = call.send() => outcome?,
        signal = signals::second() => {
            output::error(format_args!(
                "interrupted ({}) while the create was in flight: the task may have been created; \
                 check with `iotda-batchtask list --task-type {}`",
                signal.name(),
                args.task_type.0.as_str()
            ));
            return Ok(signal.exit());
        }
    };
    Ok(print(&args, &outcome))
}

/// The library call the arguments describe.
fn call(client: &Client, args: &CreateArgs, targets: Option<Vec<String>>) -> CreateBatchTask {
    let mut call = client
        .create_batch_task(&args.name, args.task_type.0)
        .reconcile(!args.no_reconcile)
        .settle_window(args.settle_window);
    if let Some(targets) = targets {
        call = call.targets(targets);
    }
    if !args.targets.group_ids.is_empty() {
        call = call.group_ids(args.targets.group_ids.clone());
    }
    if let Some(source) = &args.targets.document_source {
        call = call.document_source(source);
    }
    if let Some(time) = &args.schedule_time {
        call = call.schedule_time(time);
    }
    args.options.apply(call)
}

/// Prints the outcome and gives its exit code.
fn print(args: &CreateArgs, outcome: &CreateOutcome) -> Exit {
    let (name, task, request_id, error, exit) = match outcome {
        CreateOutcome::Created { task, request_id } => {
            ("created", Some(&**task), request_id.as_deref(), None, Exit::Success)
        }
        CreateOutcome::CreatedByRead { task } => ("created_by_read", Some(&**task), None, None, Exit::Success),
        CreateOutcome::Unknown { error } => ("unknown", None, None, Some(error), Exit::Unknown),
        // A newer library's outcome this CLI does not know: claim nothing.
        #[allow(unreachable_patterns)]
        _ => ("unknown", None, None, None, Exit::Unknown),
    };
    if args.output == Format::Json {
        output::json(&Json {
            outcome: name,
            task,
            request_id,
            error: error.map(ToString::to_string),
        });
        return exit;
    }
    let shown_name = sanitize::cell(&args.name, 128);
    let task_type = args.task_type.0.as_str();
    match (name, task) {
        (_, Some(task)) => {
            let text = |v: &Option<String>| sanitize::cell(v.as_deref().unwrap_or("-"), 64);
            let how = match request_id {
                Some(id) => format!("request id {}", sanitize::cell(id, 64)),
                None if name == "created_by_read" => "the answer was lost; listing the tasks found it".to_owned(),
                None => "no request id".to_owned(),
            };
            outln!(
                "created task {} ({shown_name}, {task_type}, {}; {how})",
                text(&task.task_id),
                text(&task.status)
            );
        }
        _ => {
            if let Some(error) = error {
                output::error(error);
            }
            // Never "safe to run again": a server can create the task after
            // the client gave up, and a second create starts a second rollout.
            output::errln!(
                "the task may have been created (the server may still be working on the request) and no read \
                 could tell; look for {shown_name} with `iotda-batchtask list --task-type {task_type}` before \
                 creating it again"
            );
        }
    }
    exit
}
