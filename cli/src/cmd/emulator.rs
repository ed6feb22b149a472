//! `iotda-batchtask emulator`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use iotda_batchtask_emulator::{DEFAULT_REGION, Emulator, EmulatorConfig, EmulatorError, Seed, shutdown_signal};

use crate::Exit;
use crate::output::{self, errln};

/// The emulator's exit codes (its `--help` and man page end with them;
/// the client's table does not apply).
pub const EXIT_CODES: &str = "\
Exit codes:
  0    stopped cleanly (Ctrl-C or SIGTERM)
  1    cannot serve: the address is in use or cannot be bound, or serving failed
  2    bad seed file or arguments (an --ak without its --sk, a non-loopback --listen
       without --allow-non-loopback); nothing was served";

/// Arguments of `emulator`. The keys and tokens given here are test
/// credentials the emulator accepts, not credentials of a real account.
#[derive(Debug, Args)]
#[command(after_help = "\
The first line on stdout is `listening on http://ADDR`, so scripts can use port 0.
Stops cleanly on Ctrl-C or SIGTERM.")]
pub struct EmulatorArgs {
    /// Address to listen on (loopback only, unless --allow-non-loopback).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,
    /// Tasks to serve, as JSON ({"tasks": [...]}); the built-in demo data without it.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Accept this access key (pair each --ak with a --sk, in order).
    #[arg(long = "ak", value_name = "AK")]
    access_keys: Vec<String>,
    /// The secret key of the --ak in the same position.
    #[arg(long = "sk", value_name = "SK")]
    secret_keys: Vec<String>,
    /// Accept this X-Auth-Token; repeat for more.
    #[arg(long = "token", value_name = "T")]
    tokens: Vec<String>,
    /// Accept every request without authentication.
    #[arg(long)]
    no_auth: bool,
    /// Allow a non-loopback --listen address (the emulator speaks plain HTTP).
    #[arg(long)]
    allow_non_loopback: bool,
    /// Serve the test-double admin endpoint without credentials:
    /// POST/DELETE /__emulator/faults, GET/DELETE /__emulator/journal (loopback --listen only).
    #[arg(long)]
    admin: bool,
    /// Region that derived (V11) signatures must be scoped to, and the
    /// name IAM's GET /v3/projects lists the seed's projects under.
    #[arg(long, default_value = DEFAULT_REGION, value_name = "REGION")]
    region: String,
    /// Also act as an ECS host's metadata service: each fetch of
    /// /openstack/latest/securitykey issues temporary credentials valid this
    /// many seconds (point clients at it with IOTDA_METADATA_ENDPOINT).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    metadata_credentials: Option<u64>,
    /// A stop that leaves nothing running makes the task Stopping for this
    /// many reads of it, then Stopped (default 0: Stopped at once): to try
    /// `stop --wait` against the emulator.
    #[arg(long, value_name = "READS", default_value_t = 0)]
    stopping_reads: u32,
    /// Tasks of a project that may run at once; CreateBatchTask beyond it is
    /// refused 403 IOTDA.014206, as IoTDA refuses an eleventh.
    #[arg(long, value_name = "N", default_value_t = iotda_batchtask_emulator::DEFAULT_MAX_RUNNING_TASKS)]
    max_running_tasks: usize,
}

pub async fn run(args: EmulatorArgs) -> Exit {
    if crate::settings::get().profile.is_some() {
        errln!("error: --profile does not apply to the emulator; its credentials are --ak/--sk and --token");
        return Exit::Usage;
    }
    if args.access_keys.len() != args.secret_keys.len() {
        errln!(
            "error: {} --ak but {} --sk; give each access key its secret key",
            args.access_keys.len(),
            args.secret_keys.len()
        );
        return Exit::Usage;
    }
    let seed = match &args.seed {
        None => Seed::demo(),
        Some(path) => match Seed::from_file(path) {
            Ok(seed) => seed,
            Err(e) => {
                // The error names the file and quotes it: sanitised.
                output::error(e);
                return Exit::Usage;
            }
        },
    };
    if args.allow_non_loopback && args.no_auth {
        // Reachable from the network and answering anyone: say so loudly,
        // whatever address was given this time.
        eprintln!(
            "warning: --allow-non-loopback with --no-auth: anyone on the network who can reach this emulator can read and stop its tasks without credentials"
        );
    }
    if !args.no_auth && args.access_keys.is_empty() && args.tokens.is_empty() {
        errln!(
            "warning: no --ak/--sk or --token given and auth is on: every request will get 401 (use --no-auth to play)"
        );
    }
    let mut config = EmulatorConfig::new()
        .seed(seed)
        .listen(args.listen)
        .allow_non_loopback(args.allow_non_loopback)
        .auth_enabled(!args.no_auth)
        .admin_endpoint(args.admin)
        .region(&args.region)
        .stopping_reads(args.stopping_reads)
        .max_running_tasks(args.max_running_tasks);
    if let Some(seconds) = args.metadata_credentials {
        config = config.temporary_credentials(std::time::Duration::from_secs(seconds));
    }
    for (ak, sk) in args.access_keys.iter().zip(&args.secret_keys) {
        config = config.ak_sk(ak, sk);
    }
    for token in &args.tokens {
        config = config.token(token);
    }
    let served = Emulator::serve_until(config, shutdown_signal(), |addr| {
        let mut stdout = std::io::stdout().lock();
        // Scripts read this line to learn the port; flush it now.
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
    })
    .await;
    match served {
        Ok(()) => Exit::Success,
        Err(e @ (EmulatorError::NonLoopback { .. } | EmulatorError::Config(_))) => {
            output::error(e);
            Exit::Usage
        }
        Err(e) => {
            output::error(e);
            Exit::RequestFailed
        }
    }
}
