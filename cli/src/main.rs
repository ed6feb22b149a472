//! `iotda-batchtask`: control IoTDA batch tasks from the command line, run
//! the emulator, or watch a demo. See `iotda-batchtask --help`.
//!
//! This file holds argument parsing, exit codes and dispatch; each command
//! lives in its own module.

#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod cmd;
mod connection;
mod dry_run;
mod guard;
mod operation;
mod output;
mod prompt;
mod render;
mod sanitize;
mod settings;
mod signals;
mod stop_warning;
mod task_options;
mod wait;
mod watch_view;

use cmd::{completions, config, create, delete, list, rollout, show, targeted, watch};
#[cfg(feature = "emulator")]
use cmd::{demo, emulator};

use output::errln;

/// Exit codes, documented in `--help` ([`EXIT_CODES`]) and docs/cli.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success: every target stopped (retried, confirmed), the task created
    /// or deleted, the report printed.
    Success = 0,
    /// A request failed (API or transport error); details on stderr.
    RequestFailed = 1,
    /// Invalid usage or input; nothing was sent.
    Usage = 2,
    /// Some targets were not stopped (retried, confirmed), or not attempted.
    TargetsFailed = 3,
    /// The outcome of some targets (or of a create or delete) is unknown:
    /// its request may have been processed and no read could tell.
    Unknown = 4,
    /// The confirmation was not given; nothing was sent.
    Declined = 5,
    /// `--wait`: the task was still Stopping or Processing at the deadline;
    /// `watch`: `--watch-timeout` passed with the task running.
    StillRunning = 6,
    /// `watch` or a guarded `--wait`: a criterion tripped and the task was stopped.
    Tripped = 7,
    /// SIGINT (Ctrl-C): the command stopped early and reported what it had.
    Interrupted = 130,
    /// stdout or stderr was closed or could not be written (`| head`): the
    /// output stopped there (see `output`).
    OutputClosed = 141,
    /// SIGTERM: as [`Exit::Interrupted`].
    Terminated = 143,
}

impl Exit {
    /// Every exit code, for the check that [`EXIT_CODES`] documents each.
    #[cfg(test)]
    const ALL: [Exit; 11] = [
        Exit::Success,
        Exit::RequestFailed,
        Exit::Usage,
        Exit::TargetsFailed,
        Exit::Unknown,
        Exit::Declined,
        Exit::StillRunning,
        Exit::Tripped,
        Exit::Interrupted,
        Exit::OutputClosed,
        Exit::Terminated,
    ];

    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The one exit-code table, shown under `--help` of the tool and of every
/// command.
const EXIT_CODES: &str = "\
Exit codes:
  0    success: every target stopped/retried/confirmed, the task created/deleted, the
       report printed (show, list), the plan printed (--dry-run); watch: the task finished
       with every sub-task Success and nothing tripped; rollout: every wave finished, all Success
  1    refused or failed as a whole: no target got an answer (bad credentials, unknown task,
       service unreachable), the task not created/deleted; status, code and request id on stderr;
       watch and --wait: the task unreadable, or a tripped stop refused (the task NOT stopped);
       rollout: a wave's create refused (e.g. 10 tasks running), its task unreadable, the plan unsaved
  2    invalid usage or input (rollout: the plan file missing, invalid, newer, or for another
       endpoint or project); nothing was sent
  3    stop/retry/confirm: some targets were not stopped/retried/confirmed, or not attempted;
       watch: the task finished otherwise (Fail, PartialSuccess, stopped by someone else);
       watch and a guarded --wait: a trip found the task already finished; rollout: halted (a wave
       below --advance-if, its task stopped or deleted by someone else) or already aborted
  4    unknown: a request may have been processed and no read could tell (some targets;
       a create or delete; watch and a guarded --wait: the stop after a trip, or of a hanging
       device; rollout: a wave's create or its tripped stop)
  5    the confirmation (--all, delete on a terminal) was not given; nothing was sent
  6    --wait: the task was still Stopping or Processing when --wait-timeout passed (the
       operation's own code wins when it is not 0); watch: --watch-timeout passed, nothing stopped
  7    watch, or --wait with --abort-if: a criterion tripped and the task was stopped (a trip's
       code wins over the operation's); rollout: the wave's task was stopped, the plan aborted
  130  interrupted by SIGINT (Ctrl-C): nothing more was sent; requests in flight had a few
       seconds to finish (else unknown); the full report is still printed; show and list
       print what they fetched so far; watch and rollout end and do NOT stop a task
  141  stdout or stderr was closed (e.g. `| head`) or could not be written: the output stops there
  143  terminated by SIGTERM: as 130";

/// Find, stop, retry, confirm, create and delete Huawei Cloud IoTDA batch
/// tasks (firmware/software upgrade rollouts), with a per-device report.
#[derive(Debug, Parser)]
#[command(name = "iotda-batchtask", version, about)]
struct Cli {
    #[command(flatten)]
    globals: settings::Globals,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the project's batch tasks of one type (find a task's ID).
    List(list::ListArgs),
    /// Stop a batch task's sub-tasks: named devices, or --all.
    Stop(targeted::TargetedArgs),
    /// Re-run a batch task's failed or stopped sub-tasks: named devices, or --all.
    Retry(targeted::TargetedArgs),
    /// Dispatch the waiting sub-tasks of a task created with --need-confirm.
    Confirm(targeted::TargetedArgs),
    /// Show a batch task and its sub-tasks (what a stop did).
    Show(show::ShowArgs),
    /// Guard a rollout: watch a task, stop it when failures cross a threshold, stop hanging devices.
    Watch(watch::WatchArgs),
    /// Create a batch task (a firmware or software upgrade, ...).
    Create(create::CreateArgs),
    /// Staged rollouts: waves of upgrade tasks from a plan file, each guarded, advancing only on success.
    Rollout(rollout::RolloutArgs),
    /// Delete a finished batch task.
    Delete(delete::DeleteArgs),
    /// Run the built-in IoTDA emulator on loopback.
    #[cfg(feature = "emulator")]
    Emulator(emulator::EmulatorArgs),
    /// The operator's loop on an in-process emulator, end to end, with no set-up.
    #[cfg(feature = "emulator")]
    Demo,
    /// Show every setting, its value (secrets masked) and where it came from.
    Config(config::ConfigArgs),
    /// Print a shell completion script: bash, zsh, fish or powershell.
    Completions(completions::CompletionsArgs),
    /// Print a man page (roff): the command's, or one per command (iotda-batchtask-stop, ...).
    Man(completions::ManArgs),
}

impl Command {
    /// Whether a signal must end the command with its report (the IoTDA
    /// commands), rather than as the command itself decides: the emulator has
    /// its own shutdown on both signals; config, completions and man have
    /// nothing to report.
    fn reports_on_signals(&self) -> bool {
        match self {
            #[cfg(feature = "emulator")]
            Command::Emulator(_) => false,
            Command::Config(_) | Command::Completions(_) | Command::Man(_) => false,
            _ => true,
        }
    }
}

/// The parser: `Cli`, with its exit codes appended to each command's own
/// `after_help`, so that every `<command> --help` ends with its table
/// ([`EXIT_CODES`], or the emulator's own).
fn command() -> clap::Command {
    command_for_man().after_help(EXIT_CODES).mut_subcommands(|sub| {
        let codes = exit_codes_of(sub.get_name());
        let text = match sub.get_after_help() {
            Some(own) => format!("{own}\n\n{codes}"),
            None => codes.to_owned(),
        };
        sub.after_help(text)
    })
}

/// `Cli` with each command's own `after_help` only (the man pages render
/// the exit codes as a table of their own), and `--profile` hidden where it
/// does not apply.
fn command_for_man() -> clap::Command {
    // A global option is not copied into a command that has an option of
    // its id, so this hidden one takes its place there (and `emulator`
    // refuses a value).
    #[cfg(feature = "emulator")]
    return Cli::command().mut_subcommand("emulator", |sub| {
        sub.arg(clap::Arg::new("profile").long("profile").value_name("NAME").hide(true))
    });
    #[cfg(not(feature = "emulator"))]
    Cli::command()
}

/// The exit-code table of the command `name`.
fn exit_codes_of(name: &str) -> &'static str {
    match name {
        #[cfg(feature = "emulator")]
        "emulator" => emulator::EXIT_CODES,
        _ => EXIT_CODES,
    }
}

/// Parses arguments, runs the command, maps the outcome to an exit code.
fn main() -> ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to
            // stderr (exit 2); a closed stream is 141, as everywhere.
            return if e.print().is_err() {
                Exit::OutputClosed.into()
            } else if e.use_stderr() {
                Exit::Usage.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(&cli.globals);
    settings::set(cli.globals.clone());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(format_args!("cannot start the async runtime: {e}"));
            return Exit::RequestFailed.into();
        }
    };
    let exit = runtime.block_on(async {
        // Before any request, so that no signal ends a command unreported.
        // The emulator command has its own shutdown on both signals; the
        // local commands (config, completions, man) have nothing to report.
        if cli.command.reports_on_signals()
            && let Err(e) = signals::install()
        {
            errln!("warning: cannot handle SIGINT and SIGTERM ({e}); they will end the command without a report");
        }
        match cli.command {
            Command::List(args) => list::run(args).await,
            Command::Stop(args) => targeted::run(operation::Op::Stop, args).await,
            Command::Retry(args) => targeted::run(operation::Op::Retry, args).await,
            Command::Confirm(args) => targeted::run(operation::Op::Confirm, args).await,
            Command::Show(args) => show::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Create(args) => create::run(args).await,
            Command::Rollout(args) => rollout::run(args).await,
            Command::Delete(args) => delete::run(args).await,
            #[cfg(feature = "emulator")]
            Command::Emulator(args) => emulator::run(args).await,
            #[cfg(feature = "emulator")]
            Command::Demo => demo::run().await,
            Command::Config(args) => config::run(args),
            Command::Completions(args) => completions::completions(&args),
            Command::Man(args) => completions::man(&args),
        }
    });
    exit.into()
}

fn init_tracing(globals: &settings::Globals) {
    use tracing_subscriber::EnvFilter;
    let filter = match (globals.verbose, std::env::var("RUST_LOG")) {
        (_, Ok(spec)) if !spec.is_empty() => EnvFilter::new(spec),
        (0, _) if globals.quiet => EnvFilter::new("error"),
        (0, _) => EnvFilter::new("warn"),
        (1, _) => EnvFilter::new("iotda_batchtask=debug"),
        (_, _) => EnvFilter::new("debug"),
    };
    // Colour only for a person at a terminal who has not opted out
    // (https://no-color.org: set and not empty).
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        // Its fallback for a failed write is `eprintln!`, which panics on a
        // closed stderr; a lost log line is better.
        .log_internal_errors(false)
        .with_target(false)
        .try_init();
}

/// The flag each library field comes from, where the CLI takes it from
/// that flag only, so that an error names what the user typed.
const FLAGS: [(&str, &str); 6] = [
    ("task_name", "--name"),
    ("task_policy.schedule_time", "--schedule-time"),
    ("app_id", "--app-id"),
    ("task_id", "--task-id"),
    ("target", "--target"),
    ("marker", "--marker"),
];

/// Prints an error on stderr (sanitised: it quotes the server) and picks the
/// exit code for it.
fn report(error: &iotda_batchtask::Error) -> Exit {
    if let iotda_batchtask::Error::InvalidInput(invalid) = error {
        match FLAGS.iter().find(|(field, _)| *field == invalid.field()) {
            Some((_, flag)) => output::error(invalid.clone().with_field(*flag)),
            None => output::error(invalid),
        }
        // The rule is in words; the regular expression only for -v.
        if let Some(pattern) = invalid.pattern().filter(|_| settings::get().verbose > 0) {
            errln!("  (the spec's pattern: {pattern})");
        }
        return Exit::Usage;
    }
    output::error(error);
    use iotda_batchtask::config::ConfigError;
    match error {
        iotda_batchtask::Error::InvalidInput(_) => Exit::Usage,
        // Settings missing or wrong: nothing was sent.
        iotda_batchtask::Error::Config(
            ConfigError::NothingConfigured(_) | ConfigError::Invalid(_) | ConfigError::File { .. },
        ) => Exit::Usage,
        _ => Exit::RequestFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::{EXIT_CODES, Exit, command};

    #[test]
    fn every_exit_code_is_documented_once() {
        for exit in Exit::ALL {
            let row = format!("\n  {:<4} ", exit.code());
            assert_eq!(EXIT_CODES.matches(&row).count(), 1, "{exit:?}: {EXIT_CODES}");
        }
        let rows = EXIT_CODES
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("     "))
            .count();
        assert_eq!(rows, Exit::ALL.len(), "a documented code with no Exit: {EXIT_CODES}");
    }

    #[test]
    fn every_flag_an_error_names_exists() {
        let flags: Vec<String> = command()
            .get_subcommands()
            .flat_map(|sub| {
                sub.get_arguments()
                    .filter_map(|a| a.get_long())
                    .map(|l| format!("--{l}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (field, flag) in super::FLAGS {
            assert!(flags.iter().any(|f| f == flag), "{field}: no {flag}");
        }
    }

    #[test]
    fn every_command_shows_the_exit_codes() {
        command().debug_assert();
        for sub in command().get_subcommands() {
            let help = sub.get_after_help().map(ToString::to_string).unwrap_or_default();
            let codes = super::exit_codes_of(sub.get_name());
            assert!(help.ends_with(codes), "{}: {help}", sub.get_name());
        }
        assert_ne!(super::exit_codes_of("emulator"), EXIT_CODES);
    }
}
