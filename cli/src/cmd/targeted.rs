//! `iotda-batchtask stop`, `retry` and `confirm`: one path for the three
//! operations that act on a task's named sub-tasks (or, explicitly, all),
//! parameterised by [`Op`], as the library's own targeted path is.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use iotda_batchtask::{Client, TargetsProgress, TargetsReport};
use serde::Serialize;

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::operation::Op;
use crate::render::{self, Format, Rows};
use crate::wait::{self, WaitArgs};
use crate::{Exit, dry_run, prompt, report};

/// Arguments of `stop`, `retry` and `confirm`. Credentials come only from
/// the environment.
#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct TargetedArgs {
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
    /// Requests in flight at once when naming more than 100 devices.
    #[arg(long, default_value_t = iotda_batchtask::DEFAULT_CONCURRENCY, value_name = "N")]
    concurrency: usize,
    /// Do not read the task to settle a request whose answer was lost (a
    /// timeout, a reset, a 5xx): report its targets as unknown instead. By
    /// default each such target costs one ShowBatchTask read.
    #[arg(long)]
    no_reconcile: bool,
    /// Print the requests a real run would send (method, URL, body;
    /// credentials masked) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask before --all on a terminal (never asked without one).
    #[arg(short, long)]
    yes: bool,
    #[command(flatten)]
    wait: WaitArgs,
}

/// What to act on: exactly one of these is required.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Selection {
    /// A device whose sub-task to act on; repeat for more.
    #[arg(long = "target", value_name = "DEVICE_ID")]
    targets: Vec<String>,
    /// A file of device IDs, one per line (# comments, blank lines skipped); - for stdin.
    #[arg(long, value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// EVERY sub-task the operation applies to (stop: running, waiting and
    /// failed-awaiting-retry; retry: failed, failed-awaiting-retry and
    /// stopped; confirm: waiting). Asks first on a terminal, unless --yes.
    #[arg(long)]
    all: bool,
}

/// `--output json` with `--wait`: the report and the wait's end, in one
/// object.
#[derive(Serialize)]
struct WithWait<'a> {
    #[serde(flatten)]
    rows: &'a Rows,
    wait: &'a wait::Waited,
}

pub async fn run(op: Op, args: TargetedArgs) -> Exit {
    // Before any request: the guard's flags need --wait, and agree.
    if let Err(message) = args.wait.check() {
        crate::output::error(message);
        return Exit::Usage;
    }
    match run_inner(op, args).await {
        Ok(exit) => exit,
        Err(e) => report(&e),
    }
}

async fn run_inner(op: Op, args: TargetedArgs) -> Result<Exit, iotda_batchtask::Error> {
    let targets = match (&args.selection.targets_file, args.selection.all) {
        (_, true) => None,
        (Some(path), _) => Some(iotda_batchtask::targets_file::read(path)?),
        (None, false) => Some(args.selection.targets.clone()),
    };
    let client = args.connection.client().await?;
    if args.dry_run {
        let call = op.call(&client, &args.task_id).concurrency(args.concurrency);
        let call = match &targets {
            Some(targets) => call.targets(targets.iter().map(String::as_str)),
            None => call.all(),
        };
        let requests = call.plan().await?;
        let mut notes = vec![match targets {
            Some(_) => format!(
                "a lost answer is settled by ShowBatchTask reads (GET .../batchtasks/{{task_id}}?target=...), \
                 and targets a read shows still to be {} are sent again once",
                op.done()
            ),
            None => "a lost answer is settled by one ShowBatchTask read of the task (GET .../batchtasks/{task_id}?limit=1), \
                     and the body {} is sent again once if the task still accepts it"
                .to_owned(),
        }];
        if let (Op::Stop, Some(targets)) = (op, &targets) {
            notes.push(crate::stop_warning::dry_run_note(&client, &args.task_id, targets).await);
        }
        if op != Op::Stop && targets.is_some() && !args.no_reconcile {
            notes.push(format!(
                "before each request, its targets' sub-tasks are read (GET .../batchtasks/{{task_id}}?target=..., one \
                 per target), so that a lost answer is settled only by a change the {} made",
                op.name()
            ));
        }
        if args.wait.wait {
            notes.extend(args.wait.dry_run_notes());
        }
        dry_run::print_after_reads(args.output, &requests, &notes, op == Op::Stop && targets.is_some());
        return Ok(Exit::Success);
    }
    let named_stop = op == Op::Stop && targets.is_some();
    let report = match targets {
        None => {
            let question = format!(
                "{} of task {}?",
                op.everything(),
                crate::sanitize::cell(&args.task_id, 64)
            );
            if let Some(exit) = prompt::confirm(&question, args.yes).await {
                return Ok(exit);
            }
            match all(op, &client, &args).await? {
                Ok(report) => report,
                Err(exit) => return Ok(exit),
            }
        }
        Some(targets) => named(op, &client, &args, targets).await?,
    };
    if named_stop && report.succeeded().next().is_some() && crate::signals::received().is_none() {
        crate::stop_warning::warn_if_ended(&client, &args.task_id).await;
    }
    let rows = Rows::of(op, &report);
    let exit = match crate::signals::received() {
        Some(signal) if report.cancelled() => signal.exit(),
        _ => rows.exit(),
    };
    // Waiting makes sense only when the call reached the task, and not
    // after a signal asked the command to end.
    let skip_wait = matches!(exit, Exit::RequestFailed | Exit::Interrupted | Exit::Terminated)
        || crate::signals::received().is_some();
    if !args.wait.wait || skip_wait {
        render::print(args.output, &rows);
        return Ok(exit);
    }
    if args.output == Format::Table {
        render::print(args.output, &rows);
    }
    let waited = wait::until_settled(&client, &args.task_id, &args.wait, args.output == Format::Json).await;
    match args.output {
        Format::Table => crate::output::out(waited.line()),
        Format::Json => crate::output::json(&WithWait {
            rows: &rows,
            wait: &waited,
        }),
    }
    // A signal during the wait ends the command as a signal does, and a
    // tripped guard says what its stop came to; otherwise the operation's
    // own outcome comes first, then the wait's.
    Ok(match waited.exit() {
        signalled @ (Exit::Interrupted | Exit::Terminated) => signalled,
        tripped if waited.tripped() => tripped,
        wait_exit if exit == Exit::Success => wait_exit,
        _ => exit,
    })
}

/// `--all`: one request with body `{}`. `Err(exit)` when the command ends
/// without a report (interrupted, or the outcome unknown).
async fn all(
    op: Op,
    client: &Client,
    args: &TargetedArgs,
) -> Result<Result<TargetsReport, Exit>, iotda_batchtask::Error> {
    let call = op.call(client, &args.task_id).all().reconcile(!args.no_reconcile);
    let task = crate::sanitize::cell(&args.task_id, 64);
    // One request: a first signal lets it finish (within the deadline);
    // a second abandons it, and its fate is unknown.
    let result = tokio::select! {
        result = call.send() => result,
        signal = crate::signals::second() => {
            crate::output::error(format_args!(
                "interrupted ({}) while the {} of every sub-task was in flight: it may have been \
                 processed; check with `iotda-batchtask show --task-id {task}`",
                signal.name(),
                op.name(),
            ));
            return Ok(Err(signal.exit()));
        }
    };
    match result {
        Ok(report) => Ok(Ok(report)),
        Err(e) if e.may_have_been_processed() => {
            crate::output::error(&e);
            crate::output::err(format_args!(
                "the {} may have been processed and no read could tell; check with \
                 `iotda-batchtask show --task-id {task}`\n",
                op.name()
            ));
            Ok(Err(Exit::Unknown))
        }
        Err(e) => Err(e),
    }
}

/// Named targets, any number: the call splits them into requests of at most
/// 100.
async fn named(
    op: Op,
    client: &Client,
    args: &TargetedArgs,
    targets: Vec<String>,
) -> Result<TargetsReport, iotda_batchtask::Error> {
    let distinct = targets.iter().collect::<std::collections::HashSet<_>>().len();
    let bar = progress_bar(distinct);
    let progress_bar = bar.clone();
    let done = op.done();
    let report = op
        .call(client, &args.task_id)
        .targets(targets)
        .concurrency(args.concurrency)
        .reconcile(!args.no_reconcile)
        .on_progress(move |p: &TargetsProgress| {
            progress_bar.set_position(p.requests_done as u64);
            progress_bar.set_message(format!("{} of {} {done}", p.succeeded, p.targets_total));
        })
        .cancel_on(interrupted())
        .abort_on(interrupted_again())
        .send()
        .await?;
    bar.finish_and_clear();
    Ok(report)
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
