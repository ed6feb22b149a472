//! The global options: `--profile`, `-q`/`--quiet`, `-v`/`--verbose`
//! (repeatable). Parsed once in `main` and read where they matter.

use std::sync::OnceLock;

use clap::Args;

/// The options every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct Globals {
    /// Take credentials only from this section of the credentials file
    /// (HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials);
    /// without it: environment, then [basic], then ECS metadata.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print only results and errors: no progress bar, no warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log to stderr: -v the client's requests, -vv everything (`RUST_LOG`
    /// also works; colours only on a terminal without `NO_COLOR`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

/// Records the parsed options (once; later calls are ignored).
pub fn set(globals: Globals) {
    let _ = GLOBALS.set(globals);
}

/// The parsed options (defaults before [`set`]).
pub fn get() -> &'static Globals {
    GLOBALS.get_or_init(Globals::default)
}
