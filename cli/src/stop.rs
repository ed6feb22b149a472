//! `iotda-batchtask stop`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use iotda_batchtask::bulk::{self, BulkProgress};

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::render::{self, Format, Rows};
use crate::{Exit, report};

/// Arguments of `stop`. Credentials come only from the environment.
#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct StopArgs {
    #[command(flatten)]
    connection: Connection,
    /// The batch task ID.
    #[arg(long, value_name = "ID")]
    task_id: String,
    #[command(flatten)]
    selection: Selection,
    /// Output: a table and a summary, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Requests in flight at once when stopping more than 100 devices.
    #[arg(long, default_value_t = bulk::DEFAULT_CONCURRENCY, value_name = "N")]
    concurrency: usize,
    /// Do not read the task to settle a request whose answer was lost (a
    /// timeout, a reset, a 5xx): report its targets as unknown instead. By
    /// default each such target costs one ShowBatchTask read.
    #[arg(long)]
    no_reconcile: bool,
}

/// What to stop: exactly one of these is required.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Selection {
    /// A device whose sub-task to stop; repeat for more.
    #[arg(long = "target", value_name = "DEVICE_ID")]
    targets: Vec<String>,
    /// A file of device IDs, one per line (# comments, blank lines skipped); - for stdin.
    #[arg(long, value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// Stop EVERY running, waiting and failed-awaiting-retry sub-task.
    #[arg(long)]
    all: bool,
}

pub async fn run(args: StopArgs) -> Exit {
    match run_inner(args).await {
        Ok(exit) => exit,
        Err(e) => report(&e),
    }
}

async fn run_inner(args: StopArgs) -> Result<Exit, iotda_batchtask::Error> {
    let targets = match (&args.selection.targets_file, args.selection.all) {
        (_, true) => None,
        (Some(path), _) => Some(crate::targets_file::read(path)?),
        (None, false) => Some(args.selection.targets.clone()),
    };
    let client = args.connection.client().await?;
    let Some(targets) = targets else {
        let call = client
            .stop_batch_task(&args.task_id)
            .all()
            .reconcile(!args.no_reconcile);
        // One request: a first signal lets it finish (within the deadline);
        // a second abandons it, and its fate is unknown.
        let result = tokio::select! {
            result = call.send() => result,
            signal = crate::signals::second() => {
                crate::output::error(format_args!(
                    "interrupted ({}) while the stop of every sub-task was in flight: it may have been \
                     processed; check with `iotda-batchtask show --task-id {}`",
                    signal.name(),
                    crate::sanitize::cell(&args.task_id, 64)
                ));
                return Ok(signal.exit());
            }
        };
        let report = match result {
            Ok(report) => report,
            Err(e) if e.may_have_been_processed() => {
                crate::output::error(&e);
                crate::output::err(format_args!(
                    "the stop may have been processed and no read could tell; check with \
                     `iotda-batchtask show --task-id {}`\n",
                    crate::sanitize::cell(&args.task_id, 64)
                ));
                return Ok(Exit::Unknown);
            }
            Err(e) => return Err(e),
        };
        let rows = Rows::of(&report);
        render::print(args.output, &rows);
        return Ok(rows.exit());
    };

    let distinct = targets.iter().collect::<std::collections::HashSet<_>>().len();
    let bar = progress_bar(distinct);
    let progress_bar = bar.clone();
    let report = client
        .stop_batch_task_bulk(&args.task_id)
        .targets(targets)
        .concurrency(args.concurrency)
        .reconcile(!args.no_reconcile)
        .on_progress(move |p: &BulkProgress| {
            progress_bar.set_position(p.requests_done as u64);
            progress_bar.set_message(format!("{} of {} stopped", p.succeeded, p.targets_total));
        })
        .cancel_on(interrupted())
        .abort_on(interrupted_again())
        .send()
        .await?;
    bar.finish_and_clear();
    let rows = Rows::of(&report);
    render::print(args.output, &rows);
    Ok(match crate::signals::received() {
        Some(signal) if report.cancelled() => signal.exit(),
        _ => rows.exit(),
    })
}

/// A progress bar on stderr, only when stderr is a terminal and the call
/// takes more than one request.
fn progress_bar(targets: usize) -> Arc<ProgressBar> {
    let requests = targets.div_ceil(iotda_batchtask::validation::MAX_TARGETS_PER_REQUEST);
    let bar = if std::io::stderr().is_terminal() && requests > 1 && !crate::settings::get().quiet {
        ProgressBar::with_draw_target(Some(requests as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} requests, {msg} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    Arc::new(bar)
}

/// Completes on the first SIGINT or SIGTERM, after which no new request is
/// sent and those in flight get a few seconds to finish.
async fn interrupted() {
    let signal = crate::signals::first().await;
    crate::output::err(format_args!(
        "interrupted ({}): sending no more requests; waiting briefly for those in flight \
         (a second signal stops waiting; the report follows either way)\n",
        signal.name()
    ));
}

/// Completes on a second signal: requests in flight are abandoned and
/// reported unknown.
async fn interrupted_again() {
    crate::signals::second().await;
}
