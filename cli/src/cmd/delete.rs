//! `iotda-batchtask delete`: delete a finished batch task. Asks first on a
//! terminal (unless `--yes`); a lost answer is settled by reading the task,
//! never by sending the DELETE again.

use clap::Args;
use iotda_batchtask::DeleteOutcome;
use serde::Serialize;

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::dry_run;
use crate::output::{self, outln};
use crate::render::Format;
use crate::sanitize;
use crate::signals;
use crate::{Exit, prompt, report};

/// Arguments of `delete`.
#[derive(Debug, Args)]
#[command(after_help = format!(
    "Only finished tasks (Success, Fail, PartialSuccess, Stopped) can be deleted.\n\n{CREDENTIALS_HELP}"
))]
pub struct DeleteArgs {
    #[command(flatten)]
    connection: Connection,
    /// The batch task ID.
    #[arg(long, value_name = "ID")]
    task_id: String,
    /// Do not ask on a terminal (never asked without one).
    #[arg(short, long)]
    yes: bool,
    /// Do not read the task to settle a lost answer: report it unknown.
    #[arg(long)]
    no_reconcile: bool,
    /// Print the request a real run would send (credentials masked) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output: a line, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// `--output json`.
#[derive(Serialize)]
struct Json<'a> {
    /// `deleted`, `deleted_by_read`, `not_deleted` or `unknown`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn run(args: DeleteArgs) -> Exit {
    match run_inner(args).await {
        Ok(exit) => exit,
        Err(e) => report(&e),
    }
}

async fn run_inner(args: DeleteArgs) -> Result<Exit, iotda_batchtask::Error> {
    let task_id = iotda_batchtask::validation::task_id(&args.task_id)?;
    let client = args.connection.client().await?;
    if args.dry_run {
        let notes = [
            "a lost answer is settled by one ShowBatchTask read (GET .../batchtasks/{task_id}?limit=1): \
                      the DELETE is never sent twice"
                .to_owned(),
        ];
        let requests = client.delete_batch_task(task_id.as_str()).plan().await?;
        dry_run::print(args.output, &requests, &notes);
        return Ok(Exit::Success);
    }
    let shown = sanitize::cell(&args.task_id, 64);
    if let Some(exit) = prompt::confirm(&format!("Delete batch task {shown}?"), args.yes).await {
        return Ok(exit);
    }
    let call = client.delete_batch_task(task_id.as_str()).reconcile(!args.no_reconcile);
    let outcome = tokio::select! {
        outcome = call.send() => outcome?,
        signal = signals::second() => {
            output::error(format_args!(
                "interrupted ({}) while the delete was in flight: it may have been processed; check with \
                 `iotda-batchtask show --task-id {shown}`",
                signal.name()
            ));
            return Ok(signal.exit());
        }
    };
    let (name, status, request_id, error, exit) = match &outcome {
        DeleteOutcome::Deleted { request_id } => ("deleted", None, request_id.as_deref(), None, Exit::Success),
        DeleteOutcome::DeletedByRead { request_id } => {
            ("deleted_by_read", None, request_id.as_deref(), None, Exit::Success)
        }
        DeleteOutcome::NotDeleted { status, request_id } => (
            "not_deleted",
            status.as_deref(),
            request_id.as_deref(),
            None,
            Exit::RequestFailed,
        ),
        DeleteOutcome::Unknown { error } => ("unknown", None, None, Some(error.to_string()), Exit::Unknown),
        // A newer library's outcome this CLI does not know: claim nothing.
        #[allow(unreachable_patterns)]
        _ => ("unknown", None, None, None, Exit::Unknown),
    };
    if args.output == Format::Json {
        output::json(&Json {
            outcome: name,
            task_status: status,
            request_id,
            error,
        });
        return Ok(exit);
    }
    let id = |r: Option<&str>| {
        r.map_or("no request id".to_owned(), |r| {
            format!("request id {}", sanitize::cell(r, 64))
        })
    };
    match name {
        "deleted" => outln!("deleted task {shown} ({})", id(request_id)),
        "deleted_by_read" => outln!(
            "deleted task {shown} (the answer was lost; a read found no such task; {})",
            id(request_id)
        ),
        "not_deleted" => output::error(format_args!(
            "task {shown} was not deleted: the answer was lost and a read found it still there ({}; {}); \
             running the command again is safe",
            sanitize::cell(status.unwrap_or("-"), 32),
            id(request_id)
        )),
        _ => {
            if let Some(error) = &error {
                output::error(error);
            }
            output::errln!(
                "the delete may have been processed and no read could tell; check with \
                 `iotda-batchtask show --task-id {shown}`"
            );
        }
    }
    Ok(exit)
}
