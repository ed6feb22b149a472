//! `iotda-batchtask stop`.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use iotda_batchtask::bulk::{self, BulkProgress, BulkTargetResult};
use iotda_batchtask::{Client, Credentials, InvalidInput, RetryPolicy, Signing};

use super::render::{self, Format, Rows};
use super::{Exit, report};

/// Arguments of `stop`. Credentials come only from the environment.
#[derive(Debug, Args)]
#[command(after_help = "\
Credentials come from the environment only, never from flags:
  HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK    access key pair (else CLOUD_SDK_AK, CLOUD_SDK_SK)
  HUAWEICLOUD_SDK_SECURITY_TOKEN           security token of temporary credentials
  IOTDA_AUTH_TOKEN                         an IAM token, used when no access key is set")]
pub struct StopArgs {
    /// The instance's HTTPS access address (http:// only to loopback).
    #[arg(long, env = "IOTDA_ENDPOINT", value_name = "URL")]
    endpoint: String,
    /// The project ID.
    #[arg(long, env = "HUAWEICLOUD_SDK_PROJECT_ID", value_name = "ID")]
    project_id: String,
    /// The batch task ID.
    #[arg(long, value_name = "ID")]
    task_id: String,
    #[command(flatten)]
    selection: Selection,
    /// The Instance-Id header (required by the professional edition).
    #[arg(long, env = "IOTDA_INSTANCE_ID", value_name = "ID")]
    instance_id: Option<String>,
    /// Region ID, needed for derived (V11) signing, e.g. cn-north-4.
    #[arg(long, env = "HUAWEICLOUD_SDK_REGION", value_name = "REGION")]
    region: Option<String>,
    /// AK/SK signing algorithm; auto decides like the official SDK.
    #[arg(long, value_enum, default_value_t = SigningArg::Auto)]
    signing: SigningArg,
    /// Output: a table and a summary, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Requests in flight at once when stopping more than 100 devices.
    #[arg(long, default_value_t = bulk::DEFAULT_CONCURRENCY, value_name = "N")]
    concurrency: usize,
    /// Give up on a request after this many seconds, retries included
    /// (default 60; one attempt never waits more than 30).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Retries of a request that provably was not processed (no connection,
    /// or 429/503); 0 turns them off. Other failures are never retried.
    #[arg(long, default_value_t = 2, value_name = "N")]
    retries: u32,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SigningArg {
    Auto,
    Plain,
    Derived,
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
        (Some(path), _) => Some(read_targets_file(path)?),
        (None, false) => Some(args.selection.targets.clone()),
    };
    let client = build_client(&args)?;
    let Some(targets) = targets else {
        let out = client.stop_batch_task(&args.task_id).all().send().await?;
        let rows = Rows::from_stop(&out);
        render::print(args.output, &rows);
        return Ok(if rows.all_succeeded() {
            Exit::Stopped
        } else {
            Exit::TargetsFailed
        });
    };

    let bar = progress_bar(targets.len());
    let progress_bar = bar.clone();
    let out = client
        .stop_batch_task_bulk(&args.task_id)
        .targets(targets)
        .concurrency(args.concurrency)
        .on_progress(move |p: &BulkProgress| {
            progress_bar.set_position(p.requests_done as u64);
            progress_bar.set_message(format!("{} of {} stopped", p.succeeded, p.targets_total));
        })
        .cancel_on(interrupted())
        .send()
        .await?;
    bar.finish_and_clear();
    for error in out.request_errors() {
        eprintln!("error: {error}");
    }
    let rows = Rows::from_bulk(&out);
    render::print(args.output, &rows);
    Ok(if out.cancelled() {
        Exit::Interrupted
    } else if out.requests_failed() > 0 {
        Exit::RequestFailed
    } else if out.all_succeeded() {
        Exit::Stopped
    } else {
        Exit::TargetsFailed
    })
}

fn build_client(args: &StopArgs) -> Result<Client, iotda_batchtask::Error> {
    let mut builder = Client::builder(&args.endpoint)
        .project_id(&args.project_id)
        .credentials(Credentials::from_env()?)
        .signing(match args.signing {
            SigningArg::Auto => Signing::Auto,
            SigningArg::Plain => Signing::Plain,
            SigningArg::Derived => Signing::Derived,
        });
    if let Some(id) = &args.instance_id {
        builder = builder.instance_id(id);
    }
    if let Some(region) = &args.region {
        builder = builder.region(region);
    }
    if let Some(seconds) = args.timeout {
        let timeout = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| InvalidInput::new("timeout", "must be a positive number of seconds"))?;
        builder = builder
            .deadline(timeout)
            .request_timeout(timeout.min(iotda_batchtask::DEFAULT_REQUEST_TIMEOUT));
    }
    let attempts = args
        .retries
        .checked_add(1)
        .filter(|a| *a <= 10)
        .ok_or_else(|| InvalidInput::new("retries", "must be 0 to 9"))?;
    builder
        .retry(RetryPolicy::default().with_max_attempts(attempts))
        .build()
}

fn read_targets_file(path: &std::path::Path) -> Result<Vec<String>, InvalidInput> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| InvalidInput::new("targets-file", format!("cannot read stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| InvalidInput::new("targets-file", format!("cannot read {}: {e}", path.display())))?
    };
    let targets = bulk::parse_target_list(&text)?;
    if targets.is_empty() {
        return Err(InvalidInput::new("targets-file", "lists no devices"));
    }
    Ok(targets)
}

/// A progress bar on stderr, only when stderr is a terminal and the call
/// takes more than one request.
fn progress_bar(targets: usize) -> Arc<ProgressBar> {
    let requests = targets.div_ceil(iotda_batchtask::validation::MAX_TARGETS_PER_REQUEST);
    let bar = if std::io::stderr().is_terminal() && requests > 1 {
        ProgressBar::with_draw_target(Some(requests as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} requests, {msg} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    Arc::new(bar)
}

/// Completes on the first Ctrl-C, after which no new request is sent. A
/// second Ctrl-C exits at once.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: never cancel.
        std::future::pending::<()>().await;
    }
    eprintln!("interrupted: sending no more requests; waiting for those in flight (Ctrl-C again to quit now)");
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(Exit::Interrupted as i32);
        }
    });
}

/// Converts a bulk result for rendering (kept here so `render` stays generic).
impl Rows {
    pub(super) fn from_bulk(out: &bulk::BulkOutput) -> Self {
        Rows {
            targets: out.results().to_vec(),
            request_ids: out.request_ids().to_vec(),
        }
    }

    pub(super) fn from_stop(out: &iotda_batchtask::StopOutput) -> Self {
        let targets = out
            .results()
            .iter()
            .map(|r| BulkTargetResult {
                target: r.target.clone().unwrap_or_default(),
                status: r.status.clone().unwrap_or_default(),
                error_code: r.error_code.clone(),
                error_msg: r.error_msg.clone(),
                request_id: out.request_id().map(str::to_owned),
            })
            .collect();
        Rows {
            targets,
            request_ids: out.request_id().map(str::to_owned).into_iter().collect(),
        }
    }
}
