//! `iotda-batchtask completions SHELL` and `iotda-batchtask man`: the
//! command's own description of itself, for shells and `man`.

use clap::{Args, ValueEnum};

use crate::Exit;

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// Prints the completion script on stdout, e.g.
/// `iotda-batchtask completions bash > /etc/bash_completion.d/iotda-batchtask`.
pub fn completions(args: &CompletionsArgs) -> Exit {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::command(), "iotda-batchtask", &mut script);
    crate::output::out(String::from_utf8_lossy(&script));
    Exit::Success
}

/// Prints the man page (roff) on stdout, e.g.
/// `iotda-batchtask man > iotda-batchtask.1`.
pub fn man() -> Exit {
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(crate::command()).render(&mut page) {
        crate::output::error(format_args!("cannot render the man page: {e}"));
        return Exit::RequestFailed;
    }
    crate::output::out(String::from_utf8_lossy(&page));
    Exit::Success
}
