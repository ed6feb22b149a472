//! `iotda-batchtask`: control IoTDA batch tasks from the command line, run
//! the emulator, or watch a demo. See `iotda-batchtask --help`.
//!
//! This file holds argument parsing, exit codes and dispatch; each command
//! lives in its own module.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod connection;
mod demo;
mod emulator;
mod render;
mod sanitize;
mod show;
mod stop;
mod targets_file;

/// Exit codes, documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every target stopped.
    Stopped = 0,
    /// A request failed (API or transport error); details on stderr.
    RequestFailed = 1,
    /// Invalid usage or input; nothing was sent.
    Usage = 2,
    /// Some targets were not stopped, or not attempted.
    TargetsFailed = 3,
    /// The outcome of some targets is unknown: their request may have been
    /// processed and no read could tell.
    Unknown = 4,
    /// Interrupted (Ctrl-C) before every request was sent; the output lists
    /// the targets not attempted.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

const EXIT_CODES: &str = "\
Exit codes:
  0    every target stopped (or the command succeeded)
  1    no target got an answer: every request was refused (bad credentials, unknown task,
       service unreachable); status, code and request id on stderr
  2    invalid usage or input; nothing was sent
  3    some targets were not stopped, or not attempted
  4    the outcome of some targets is unknown (their request may have been processed)
  130  interrupted (Ctrl-C): nothing more was sent; requests in flight had a few seconds to
       finish (else unknown), the rest are not_attempted; the report is still printed";

/// Stop Huawei Cloud IoTDA batch tasks (firmware/software upgrade rollouts).
#[derive(Debug, Parser)]
#[command(name = "iotda-batchtask", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Log the client's spans and events to stderr (`RUST_LOG` also works).
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stop a batch task's sub-tasks: named devices, or --all.
    Stop(stop::StopArgs),
    /// Show a batch task and its sub-tasks (what a stop did).
    Show(show::ShowArgs),
    /// Run the built-in IoTDA emulator on loopback.
    Emulator(emulator::EmulatorArgs),
    /// Stop tasks on an in-process emulator, end to end, with no set-up.
    Demo,
}

/// Parses arguments, runs the command, maps the outcome to an exit code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::RequestFailed.into();
        }
    };
    let exit = runtime.block_on(async {
        match cli.command {
            Command::Stop(args) => stop::run(args).await,
            Command::Show(args) => show::run(args).await,
            Command::Emulator(args) => emulator::run(args).await,
            Command::Demo => demo::run().await,
        }
    });
    exit.into()
}

fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = match (verbose, std::env::var("RUST_LOG")) {
        (_, Ok(spec)) if !spec.is_empty() => EnvFilter::new(spec),
        (true, _) => EnvFilter::new("iotda_batchtask=debug"),
        (false, _) => EnvFilter::new("warn"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints an error on stderr and picks the exit code for it.
fn report(error: &iotda_batchtask::Error) -> Exit {
    eprintln!("error: {error}");
    match error {
        iotda_batchtask::Error::InvalidInput(_) => Exit::Usage,
        _ => Exit::RequestFailed,
    }
}
