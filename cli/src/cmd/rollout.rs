//! `iotda-batchtask rollout start|resume|status|abort`: a staged rollout
//! from a plan file, a thin layer over the library's `rollout` module (the
//! plan, the wave split, the driver): flags in, events out, exit codes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use futures_util::StreamExt as _;
use iotda_batchtask::Client;
use iotda_batchtask::rollout::{
    AdvanceIf, AtomicFileStore, CreatedBy, DEFAULT_CREATE_SETTLE_AFTER, DEFAULT_INTERVAL_SECONDS, GuardSettings, Halt,
    MAX_CREATE_SETTLE_AFTER, MAX_INTERVAL_SECONDS, MAX_PAUSE_SECONDS, Plan, PlanError, PlanState, PlanStore,
    RolloutEnd, RolloutError, RolloutEvent, RolloutReport, RolloutTaskType, WaveSpec, WaveState,
};
use iotda_batchtask::types::TaskStatus;
use iotda_batchtask::watch::StopOutcome;
use serde_json::{Value, json};

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::guard::GuardArgs;
use crate::output::{self, errln};
use crate::render;
use crate::sanitize;
use crate::signals;
use crate::task_options::TaskOptionArgs;
use crate::watch_view::{self, View};
use crate::{Exit, report};

/// Shown under `rollout --help`.
const ROLLOUT_HELP: &str = "\
`start` writes the whole plan (every wave's devices, the task options, the criteria) to --plan
before any request, then for each wave: creates its task (named rollout_<plan ID>_wave<N>),
watches it with the guard (--abort-if ...), and when it finishes with a Success share of at
least --advance-if, waits --pause and starts the next. The plan file is rewritten atomically at
every change of state; after a crash, `resume` goes on from exactly there and never creates a
wave's task twice (a create whose answer was lost is found again by listing for its name).

A tripped criterion stops that wave's task and aborts the plan (exit 7). A wave below
--advance-if halts the plan (exit 3); `resume --force-advance` goes on past it once a person
has looked. A signal ends the command and stops NO task; `resume` continues.

Example: 1% of the fleet, then 10%, 50%, all, stopping at 5% failed:
  iotda-batchtask rollout start --plan fw-2.1.0.plan.json --task-type firmwareUpgrade \\
    --package-id 32822e5744a45ede319d2c50 --targets-file fleet.txt --waves 1%,10%,50%,100% \\
    --advance-if success>=95% --abort-if failed>=5% --min-finished 20";

/// Arguments of `rollout`.
#[derive(Debug, Args)]
#[command(after_help = format!("{ROLLOUT_HELP}\n\n{CREDENTIALS_HELP}"))]
pub struct RolloutArgs {
    #[command(subcommand)]
    command: RolloutCommand,
}

#[derive(Debug, Subcommand)]
enum RolloutCommand {
    /// Write a plan of waves to --plan, then run it wave by wave.
    Start(Box<StartArgs>),
    /// Go on with a plan from exactly where it is (after a crash, a halt or a signal).
    Resume(ResumeArgs),
    /// Show every wave (devices, task, live status and counters) and what the plan does next.
    Status(StatusArgs),
    /// Stop the running wave's task and mark the plan aborted.
    Abort(AbortArgs),
}

/// `--output` of `rollout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Lines (a live view of the running wave on a terminal).
    Table,
    /// JSON Lines on stdout, one object per event, each with "event" and "wave" (from 1).
    Json,
}

/// `--plan`.
#[derive(Debug, Args)]
struct PlanArg {
    /// The plan file (JSON, rewritten atomically at every change of state).
    #[arg(long = "plan", value_name = "FILE")]
    path: PathBuf,
}

#[derive(Debug, Args)]
struct StartArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    plan: PlanArg,
    /// The task type of every wave: firmwareUpgrade or softwareUpgrade.
    #[arg(long, value_name = "TYPE", value_parser = parse_task_type)]
    task_type: RolloutTaskType,
    #[command(flatten)]
    options: TaskOptionArgs,
    /// The devices, one per line (# comments, blank lines skipped; repeats
    /// counted once, in first-seen order); - for stdin.
    #[arg(long, value_name = "FILE")]
    targets_file: PathBuf,
    /// Cumulative shares of the devices, in input order (1%,10%,100%), or
    /// cumulative counts (10,100,all); the last reaches every device.
    #[arg(long, value_name = "SPEC", value_parser = parse_waves)]
    waves: WaveSpec,
    /// success>=P%: a finished wave lets the next start when its Success
    /// share of finished sub-tasks (Success + Fail) is at least P.
    #[arg(long, value_name = "RULE", default_value = "success>=100%", value_parser = parse_advance_if)]
    advance_if: AdvanceIf,
    #[command(flatten)]
    guard: GuardArgs,
    /// Seconds to wait after a wave passes before the next starts.
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_PAUSE_SECONDS))]
    pause: u64,
    /// The longest pause between two polls of a wave's task.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_INTERVAL_SECONDS, value_parser = clap::value_parser!(u64).range(1..=MAX_INTERVAL_SECONDS))]
    interval: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    /// Output: lines (a live view on a terminal), or JSON Lines.
    output: Format,
}

#[derive(Debug, Args)]
struct ResumeArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    plan: PlanArg,
    /// Go on past a wave that finished below --advance-if, or whose task
    /// someone else stopped or deleted (after a person has looked).
    #[arg(long)]
    force_advance: bool,
    /// After a crash between recording a wave's create and its answer: how
    /// long after the intent a listing must find no such task before the
    /// wave is created (sooner, resume waits).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_CREATE_SETTLE_AFTER.as_secs(), value_parser = clap::value_parser!(u64).range(0..=MAX_CREATE_SETTLE_AFTER.as_secs()))]
    settle_after: u64,
    /// Output: lines (a live view on a terminal), or JSON Lines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    plan: PlanArg,
    /// Output: a table, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

#[derive(Debug, Args)]
struct AbortArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    plan: PlanArg,
    /// Do not ask first on a terminal (never asked without one).
    #[arg(short, long)]
    yes: bool,
    /// Output: lines, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

fn parse_task_type(text: &str) -> Result<RolloutTaskType, String> {
    text.parse()
        .map_err(|e: iotda_batchtask::validation::InvalidInput| e.rule().to_owned())
}

fn parse_waves(text: &str) -> Result<WaveSpec, String> {
    text.parse()
        .map_err(|e: iotda_batchtask::validation::InvalidInput| e.rule().to_owned())
}

fn parse_advance_if(text: &str) -> Result<AdvanceIf, String> {
    text.parse()
        .map_err(|e: iotda_batchtask::validation::InvalidInput| e.rule().to_owned())
}

/// The flag each plan field comes from, for errors that name it.
const FLAGS: [(&str, &str); 16] = [
    ("targets-file", "--targets-file"),
    ("waves", "--waves"),
    ("advance_if", "--advance-if"),
    ("abort_if", "--abort-if"),
    ("guard.abort_if", "--abort-if"),
    ("guard.min_finished", "--min-finished"),
    ("guard.stuck_after_seconds", "--stuck-after"),
    ("pause_seconds", "--pause"),
    ("interval_seconds", "--interval"),
    ("targets", "--targets-file"),
    ("target", "--targets-file"),
    ("task_policy.retry_count", "--retry-count"),
    ("task_policy.retry_interval", "--retry-interval"),
    ("task_ext_info", "--task-ext-info"),
    ("app_id", "--app-id"),
    ("need_confirm", "--need-confirm"),
];

/// Prints a plan error (naming the flag where there is one) and gives its
/// exit code: the plan file and the flags are input, so 2; nothing was sent.
fn plan_error(error: &PlanError) -> Exit {
    match error {
        PlanError::Invalid(invalid) => match FLAGS.iter().find(|(field, _)| *field == invalid.field()) {
            Some((_, flag)) => output::error(invalid.clone().with_field(*flag)),
            None => output::error(invalid),
        },
        other => output::error(sanitize::cell(&other.to_string(), 4096)),
    }
    Exit::Usage
}

fn rollout_error(error: &RolloutError) -> Exit {
    match error {
        RolloutError::Plan(e) => plan_error(e),
        RolloutError::Request(e) => report(e),
        other => {
            output::error(sanitize::cell(&other.to_string(), 4096));
            Exit::Unknown
        }
    }
}

pub async fn run(args: RolloutArgs) -> Exit {
    match args.command {
        RolloutCommand::Start(args) => start(*args).await,
        RolloutCommand::Resume(args) => resume(args).await,
        RolloutCommand::Status(args) => status(args).await,
        RolloutCommand::Abort(args) => abort(args).await,
    }
}

/// The plan's guard as the guard's flags (for the view).
fn guard_args(guard: &GuardSettings) -> GuardArgs {
    GuardArgs {
        abort_if: guard.abort_if.iter().map(|c| c.criterion()).collect(),
        min_finished: guard.min_finished,
        count_retrying: guard.count_retrying,
        stuck_after: guard.stuck_after_seconds.map(Duration::from_secs),
    }
}

async fn start(args: StartArgs) -> Exit {
    if let Err(line) = args.guard.check() {
        output::error(line);
        return Exit::Usage;
    }
    let targets = match iotda_batchtask::targets_file::read(&args.targets_file) {
        Ok(targets) => targets,
        Err(e) => return plan_error(&PlanError::Invalid(e)),
    };
    let task = match args.options.task_options() {
        Ok(task) => task,
        Err(e) => {
            output::error(format_args!("the task options: {}", sanitize::cell(&e, 1024)));
            return Exit::Usage;
        }
    };
    let guard = GuardSettings {
        abort_if: match args.guard.abort_if.iter().map(|c| c.to_string().parse()).collect() {
            Ok(list) => list,
            Err(e) => return plan_error(&PlanError::Invalid(e)),
        },
        min_finished: args.guard.min_finished,
        count_retrying: args.guard.count_retrying,
        stuck_after_seconds: args.guard.stuck_after.map(|d| d.as_secs().max(1)),
    };
    let client = match args.connection.client().await {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let plan = Plan::builder(
        client.endpoint(),
        client.project_id(),
        args.task_type,
        targets,
        args.waves,
    )
    .task(task)
    .advance_if(args.advance_if)
    .guard(guard)
    .pause_seconds(args.pause)
    .interval_seconds(args.interval)
    .build(jiff::Timestamp::now());
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => return plan_error(&e),
    };
    let store = AtomicFileStore::new(&args.plan.path);
    if let Err(e) = store.create_new(&plan) {
        return plan_error(&e);
    }
    let sizes: Vec<String> = plan.waves().iter().map(|w| w.devices.len().to_string()).collect();
    errln!(
        "plan {} written to {}: {} in {} waves ({})",
        plan.plan_id(),
        sanitize::cell(&args.plan.path.display().to_string(), 1024),
        output::count(
            plan.waves().iter().map(|w| w.devices.len()).sum::<usize>(),
            "device",
            "devices"
        ),
        plan.waves().len(),
        sizes.join(", ")
    );
    drive(&client, store, false, DEFAULT_CREATE_SETTLE_AFTER, args.output).await
}

async fn resume(args: ResumeArgs) -> Exit {
    let client = match args.connection.client().await {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let store = AtomicFileStore::new(&args.plan.path);
    drive(
        &client,
        store,
        args.force_advance,
        Duration::from_secs(args.settle_after),
        args.output,
    )
    .await
}

/// Runs the plan in `store` to its end, showing its events.
async fn drive(client: &Client, store: AtomicFileStore, force: bool, settle_after: Duration, format: Format) -> Exit {
    let path = store.path().display().to_string();
    let plan = match store.load() {
        Ok(plan) => plan,
        Err(e) => return plan_error(&e),
    };
    let run = client
        .run_rollout(store)
        .force_advance(force)
        .create_settle_after(settle_after)
        .cancel_on(async {
            signals::first().await;
        });
    let events = match run.stream() {
        Ok(events) => events,
        Err(e) => return rollout_error(&e),
    };
    let mut shown = Shown {
        json: format == Format::Json,
        waves: plan.waves().len(),
        guard: guard_args(plan.guard()),
        views: HashMap::new(),
        wave_exits: Vec::new(),
    };
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        if let RolloutEvent::Ended(report) = event {
            return shown.ended(&report, &path);
        }
        shown.event(event);
    }
    unreachable!("the rollout stream always ends with RolloutEvent::Ended")
}

/// What `drive` shows, and the views of the waves' watches.
struct Shown {
    json: bool,
    waves: usize,
    guard: GuardArgs,
    views: HashMap<usize, View>,
    /// Each watched wave's own exit code, as `watch` would give it.
    wave_exits: Vec<(usize, Exit)>,
}

impl Shown {
    fn wave(&self, wave: usize) -> String {
        format!("wave {}/{}", wave + 1, self.waves)
    }

    fn json_line(&self, event: &str, wave: usize, mut fields: Value) {
        fields["event"] = json!(event);
        fields["wave"] = json!(wave + 1);
        output::json(&fields);
    }

    fn event(&mut self, event: RolloutEvent) {
        match event {
            RolloutEvent::Creating {
                wave,
                task_name,
                devices,
            } => {
                if self.json {
                    self.json_line("creating", wave, json!({"task_name": task_name, "devices": devices}));
                } else {
                    output::out(format!(
                        "{}: creating task {} for {}\n",
                        self.wave(wave),
                        sanitize::cell(&task_name, 128),
                        output::count(devices, "device", "devices")
                    ));
                }
            }
            RolloutEvent::Created { wave, task_id, by } => {
                let (by_name, request_id) = match &by {
                    CreatedBy::Answer { request_id } => ("answer", request_id.clone()),
                    _ => ("listing", None),
                };
                if self.json {
                    self.json_line(
                        "created",
                        wave,
                        json!({"task_id": task_id, "by": by_name, "request_id": request_id}),
                    );
                } else {
                    let how = match by {
                        CreatedBy::Answer { .. } => String::new(),
                        _ => " (found by listing for its name: its create's answer was lost)".to_owned(),
                    };
                    output::out(format!(
                        "{}: task {} created{how}\n",
                        self.wave(wave),
                        sanitize::cell(&task_id, 64)
                    ));
                }
            }
            RolloutEvent::CreateNotFound { wave } => {
                if self.json {
                    self.json_line("create_not_found", wave, json!({}));
                } else {
                    output::out(format!(
                        "{}: the create recorded before an interruption was never processed (no task has its name); \
                         creating it now, once\n",
                        self.wave(wave)
                    ));
                }
            }
            RolloutEvent::Pausing { wave, until } => {
                if self.json {
                    self.json_line("pausing", wave, json!({"until": until.to_string()}));
                } else {
                    output::out(format!("{} starts at {until} (--pause)\n", self.wave(wave)));
                }
            }
            RolloutEvent::Watch { wave, task_id, event } => {
                let json = self.json;
                let prefix = format!("{}: ", self.wave(wave));
                let guard = &self.guard;
                let view = self.views.entry(wave).or_insert_with(|| {
                    let view = View::new(&task_id, guard, json)
                        .live()
                        .with_extra("wave", json!(wave + 1))
                        .with_prefix(prefix);
                    view.announce();
                    view
                });
                view.event(&event);
            }
            RolloutEvent::WaveEnded { wave, report } => {
                let exit = watch_view::exit_of(&report, None);
                self.wave_exits.push((wave, exit));
                if let Some(mut view) = self.views.remove(&wave) {
                    view.finish();
                }
                if self.json {
                    let mut summary = serde_json::to_value(watch_view::summary_json(&report, exit, None))
                        .expect("a summary serialises");
                    summary["event"] = json!("wave_summary");
                    summary["wave"] = json!(wave + 1);
                    output::json(&summary);
                } else {
                    let text = watch_view::summary_text(&report, &sanitize::cell(&report.task_id, 64), None);
                    for line in text.lines() {
                        output::out(format!("{}: {line}\n", self.wave(wave)));
                    }
                }
            }
            RolloutEvent::Ended(_) => unreachable!("handled by the caller"),
            _ => {}
        }
    }

    fn ended(&mut self, report: &RolloutReport, path: &str) -> Exit {
        for (_, mut view) in self.views.drain() {
            view.finish();
        }
        let signal = signals::received();
        let exit = exit_of(report, signal);
        let (outcome, reason) = end_words(report, signal, path);
        if self.json {
            output::json(&json!({
                "event": "summary",
                "plan_id": report.plan.plan_id(),
                "plan_state": report.plan.state().kind(),
                "outcome": outcome,
                "reason": reason,
                "wave": report.plan.current_wave().map(|(w, _)| w + 1),
                "waves": waves_json(&report.plan),
                "exit_code": exit.code(),
            }));
        } else {
            output::out(format!("{}\n", reason));
        }
        exit
    }
}

/// The run's exit code: `watch`'s table, for the plan.
fn exit_of(report: &RolloutReport, signal: Option<signals::Signal>) -> Exit {
    let stuck_unknown = report.last_watch.as_ref().is_some_and(|w| w.stuck_unknown());
    let exit = match &report.end {
        RolloutEnd::Done => {
            let all_success = report.plan.waves().iter().all(
                |w| matches!(&w.state, WaveState::Finished { status, .. } if status == TaskStatus::Success.as_str()),
            );
            if all_success {
                Exit::Success
            } else {
                Exit::TargetsFailed
            }
        }
        RolloutEnd::Aborted { wave: Some(_) } => Exit::Tripped,
        RolloutEnd::Aborted { wave: None } => Exit::TargetsFailed,
        RolloutEnd::Halted { halt, .. } => match halt {
            Halt::CreateUnknown { .. } | Halt::CreateUnsettled { .. } => Exit::Unknown,
            Halt::StopNotConfirmed { stop } => watch_view::trip_exit(stop),
            Halt::CreateRefused { .. } | Halt::Unreadable { .. } => Exit::RequestFailed,
            Halt::WatchTimedOut => Exit::StillRunning,
            _ => Exit::TargetsFailed,
        },
        RolloutEnd::Cancelled => signal.map_or(Exit::Interrupted, signals::Signal::exit),
        RolloutEnd::ChangedElsewhere => Exit::TargetsFailed,
        RolloutEnd::PlanRefused { .. } => Exit::RequestFailed,
        _ => Exit::RequestFailed,
    };
    match exit {
        Exit::Success | Exit::TargetsFailed if stuck_unknown => Exit::Unknown,
        exit => exit,
    }
}

/// `outcome` (a word) and the sentence that ends the text output.
fn end_words(report: &RolloutReport, signal: Option<signals::Signal>, path: &str) -> (&'static str, String) {
    let plan = &report.plan;
    let path = sanitize::cell(path, 1024);
    let resume = format!("`iotda-batchtask rollout resume --plan {path}`");
    let reason_of = |state: &PlanState| match state {
        PlanState::Halted { reason } | PlanState::Aborted { reason } => sanitize::cell(reason, 4096),
        _ => String::new(),
    };
    match &report.end {
        RolloutEnd::Done => (
            "done",
            format!("rollout done: every one of the {} waves passed", plan.waves().len()),
        ),
        RolloutEnd::Aborted { wave: Some(_) } => (
            "aborted",
            format!(
                "rollout ABORTED: {}; no later wave was started",
                reason_of(plan.state())
            ),
        ),
        RolloutEnd::Aborted { wave: None } => (
            "aborted",
            format!("the plan was already aborted: {}", reason_of(plan.state())),
        ),
        RolloutEnd::Halted { halt, .. } => {
            let next = match halt {
                Halt::BelowAdvanceIf | Halt::TaskGone | Halt::AlreadyHalted => {
                    format!("look, then {} with --force-advance to go on past it, or abort", resume)
                }
                Halt::StopNotConfirmed {
                    stop: StopOutcome::Refused { .. },
                } => {
                    format!("the wave's task was NOT stopped; check it, then {resume} or abort")
                }
                _ => format!("{resume} to go on"),
            };
            ("halted", format!("rollout halted: {}; {next}", reason_of(plan.state())))
        }
        RolloutEnd::Cancelled => (
            "interrupted",
            format!(
                "interrupted ({}): the rollout stops here; NO task was stopped; {resume} goes on",
                signal.map_or("signal", signals::Signal::name)
            ),
        ),
        RolloutEnd::SaveFailed { error } => (
            "save_failed",
            format!(
                "the plan could not be saved ({}); nothing more was sent; {resume} goes on from the last state saved",
                sanitize::cell(&error.to_string(), 4096)
            ),
        ),
        RolloutEnd::PlanRefused { error } => (
            "plan_refused",
            format!(
                "the plan refused a step ({}); nothing more was sent; {resume} goes on from the last state saved",
                sanitize::cell(&error.to_string(), 4096)
            ),
        ),
        RolloutEnd::ChangedElsewhere => (
            "changed_elsewhere",
            format!(
                "the plan file was changed by another process (it is now {}); this run ends without saving over it",
                plan.state().kind()
            ),
        ),
        _ => ("ended", "the rollout ended".to_owned()),
    }
}

/// Every wave as JSON: devices, state, task, reason.
fn waves_json(plan: &Plan) -> Vec<Value> {
    plan.waves()
        .iter()
        .enumerate()
        .map(|(i, wave)| {
            let mut value = json!({
                "wave": i + 1,
                "devices": wave.devices.len(),
                "state": wave.state.kind(),
                "task_id": wave.state.task_id().map(|t| t.to_string()),
            });
            if let WaveState::Finished { status, counters, .. } = &wave.state {
                value["task_status"] = json!(status);
                value["task_progress"] = json!(counters);
            }
            if wave.forced_at.is_some() {
                value["forced"] = json!(true);
            }
            value
        })
        .collect()
}

/// What the plan does next, in words.
fn next_words(plan: &Plan) -> String {
    use iotda_batchtask::rollout::Action;
    match plan.next_action(jiff::Timestamp::now()) {
        Action::Create { wave } => format!("create wave {}'s task", wave + 1),
        Action::Settle { wave, task_name } => format!(
            "find wave {}'s task by listing for {} (its create's answer was not recorded), never creating it twice",
            wave + 1,
            sanitize::cell(&task_name, 128)
        ),
        Action::Watch { wave, task_id } => format!(
            "watch wave {}'s task {} with the guard",
            wave + 1,
            sanitize::cell(&task_id, 64)
        ),
        Action::Pause { wave, until } => format!("start wave {} at {until}", wave + 1),
        Action::Halted { reason } => format!("nothing until resumed (halted: {})", sanitize::cell(&reason, 4096)),
        Action::Aborted { reason } => format!("nothing (aborted: {})", sanitize::cell(&reason, 4096)),
        _ => "nothing: every wave is done".to_owned(),
    }
}

/// The plan for `status` and `abort`: loaded and checked against the client.
async fn load_checked(connection: &Connection, path: &PathBuf) -> Result<(Client, AtomicFileStore, Plan), Exit> {
    let store = AtomicFileStore::new(path);
    let plan = store.load().map_err(|e| plan_error(&e))?;
    let client = connection.client().await.map_err(|e| report(&e))?;
    plan.check_target(client.endpoint(), client.project_id())
        .map_err(|e| plan_error(&e))?;
    Ok((client, store, plan))
}

async fn status(args: StatusArgs) -> Exit {
    let (client, _store, plan) = match load_checked(&args.connection, &args.plan.path).await {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let mut rows = Vec::new();
    let mut waves = waves_json(&plan);
    let mut exit = Exit::Success;
    for (i, wave) in plan.waves().iter().enumerate() {
        let live = match wave.state.task_id() {
            Some(task_id) => Some(client.show_batch_task(task_id.to_string()).limit(1).send().await),
            None => None,
        };
        let (status, counters) = match &live {
            Some(Ok(page)) => {
                let task = page.task();
                let status = task.and_then(|t| t.status.clone()).unwrap_or_else(|| "-".to_owned());
                let counters = task.and_then(|t| t.task_progress.clone());
                waves[i]["live"] =
                    json!({"task_status": status, "task_progress": counters, "request_id": page.request_id()});
                (sanitize::cell(&status, 32), counters.map(|c| render::progress(&c)))
            }
            Some(Err(error)) => {
                exit = Exit::RequestFailed;
                waves[i]["live"] = json!({"error": error.to_string()});
                ("unreadable".to_owned(), Some(sanitize::cell(&error.to_string(), 512)))
            }
            None => ("-".to_owned(), None),
        };
        rows.push(format!(
            "wave {}/{}  {}  {}  task {}  {}{}",
            i + 1,
            plan.waves().len(),
            output::count(wave.devices.len(), "device", "devices"),
            wave.state.kind(),
            wave.state.task_id().map_or("-".to_owned(), |t| sanitize::cell(t, 64)),
            status,
            counters.map(|c| format!("  {c}")).unwrap_or_default()
        ));
    }
    let next = next_words(&plan);
    if args.output == Format::Json {
        output::json(&json!({
            "plan_id": plan.plan_id(),
            "plan_state": plan.state().kind(),
            "reason": match plan.state() {
                PlanState::Halted { reason } | PlanState::Aborted { reason } => Some(reason.as_str()),
                _ => None,
            },
            "task_type": plan.task_type().task_type().as_str(),
            "waves_spec": plan.waves_spec(),
            "advance_if": plan.advance_if().to_string(),
            "abort_if": plan.guard().abort_if.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "waves": waves,
            "next": next,
        }));
    } else {
        let mut text = format!(
            "plan {} ({}): {} in {} waves ({}), advance if {}\n",
            plan.plan_id(),
            plan.state().kind(),
            plan.task_type().task_type().as_str(),
            plan.waves().len(),
            sanitize::cell(plan.waves_spec(), 256),
            plan.advance_if()
        );
        if let PlanState::Halted { reason } | PlanState::Aborted { reason } = plan.state() {
            text.push_str(&format!("why: {}\n", sanitize::cell(reason, 4096)));
        }
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
        text.push_str(&format!("next: {next}\n"));
        output::out(text);
    }
    exit
}

async fn abort(args: AbortArgs) -> Exit {
    let (client, store, plan) = match load_checked(&args.connection, &args.plan.path).await {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let question = format!(
        "abort plan {} and stop its running wave's task (every sub-task not yet finished)?",
        plan.plan_id()
    );
    if let Some(exit) = crate::prompt::confirm(&question, args.yes).await {
        return exit;
    }
    let aborted = match client.abort_rollout(&store, "aborted by `rollout abort`").await {
        Ok(aborted) => aborted,
        Err(e) => return rollout_error(&e),
    };
    let (stop, exit) = match (&aborted.task_id, &aborted.stop) {
        (Some(task), Some(Ok(report))) => (
            format!(
                "task {} stopped (every sub-task not yet finished; request ids {})",
                sanitize::cell(task, 64),
                report
                    .request_ids()
                    .iter()
                    .map(|id| sanitize::cell(id, 64))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Exit::Success,
        ),
        (Some(task), Some(Err(error))) if error.may_have_been_processed() => (
            format!(
                "the stop of task {} may have been processed and no read could tell ({}); check with \
                 `iotda-batchtask show --task-id {}`",
                sanitize::cell(task, 64),
                sanitize::cell(&error.to_string(), 4096),
                sanitize::cell(task, 64)
            ),
            Exit::Unknown,
        ),
        (Some(task), Some(Err(error))) => (
            format!(
                "the stop of task {} was refused ({}): it was NOT stopped (it may have finished)",
                sanitize::cell(task, 64),
                sanitize::cell(&error.to_string(), 4096)
            ),
            Exit::TargetsFailed,
        ),
        _ => ("no wave's task was running".to_owned(), Exit::Success),
    };
    if args.output == Format::Json {
        output::json(&json!({
            "plan_id": aborted.plan.plan_id(),
            "plan_state": aborted.plan.state().kind(),
            "task_id": aborted.task_id,
            "stop": stop,
            "exit_code": exit.code(),
        }));
    } else {
        output::out(format!("plan {} aborted; {stop}\n", aborted.plan.plan_id()));
    }
    exit
}
