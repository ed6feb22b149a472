//! `iotda-batchtask completions SHELL` and `iotda-batchtask man`: the
//! command's own description of itself, for shells and `man`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use clap_mangen::roff::{Roff, bold, roman};

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

/// Arguments of `man`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  iotda-batchtask man stop | man -l -
  iotda-batchtask man --dir /usr/local/share/man/man1   # then: man iotda-batchtask-stop")]
pub struct ManArgs {
    /// The command whose page to print (e.g. stop); without it, the page of iotda-batchtask itself.
    #[arg(value_name = "COMMAND")]
    command: Option<String>,
    /// Write every page instead (iotda-batchtask.1, iotda-batchtask-stop.1, ...) into this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    dir: Option<PathBuf>,
}

/// Prints one man page (roff) on stdout, or writes every page to `--dir`.
pub fn man(args: &ManArgs) -> Exit {
    let pages = pages();
    if let Some(dir) = &args.dir {
        for (name, page) in &pages {
            let path = dir.join(format!("{name}.1"));
            if let Err(e) = std::fs::write(&path, page) {
                crate::output::error(format_args!("cannot write {}: {e}", path.display()));
                return Exit::RequestFailed;
            }
        }
        crate::output::outln!("wrote {} man pages to {}", pages.len(), dir.display());
        return Exit::Success;
    }
    let wanted = match &args.command {
        Some(command) => format!("iotda-batchtask-{command}"),
        None => "iotda-batchtask".to_owned(),
    };
    match pages.into_iter().find(|(name, _)| *name == wanted) {
        Some((_, page)) => {
            crate::output::out(page);
            Exit::Success
        }
        None => {
            crate::output::error(format_args!(
                "no command {}; see iotda-batchtask --help",
                crate::sanitize::cell(args.command.as_deref().unwrap_or_default(), 64)
            ));
            Exit::Usage
        }
    }
}

/// Every man page, `(name, roff)`: the command's, then one per subcommand
/// (`iotda-batchtask-stop`, ...), as gh and cargo ship them.
pub fn pages() -> Vec<(String, String)> {
    let mut top = crate::command_for_man();
    top.build();
    let subcommands: Vec<clap::Command> = top
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned()
        .collect();
    let mut pages = vec![(top.get_name().to_owned(), page(&top, crate::EXIT_CODES, &subcommands))];
    for sub in &subcommands {
        let codes = crate::exit_codes_of(sub.get_name());
        let name = sub.get_display_name().unwrap_or(sub.get_name()).to_owned();
        pages.push((name, page(sub, codes, &[])));
    }
    pages
}

const NO_ARGS: [&str; 0] = [];

/// One page: clap_mangen's sections, then EXIT STATUS as roff `.TP`
/// items (the help text's aligned table would be refilled into ragged
/// prose) and SEE ALSO.
fn page(cmd: &clap::Command, exit_codes: &str, subcommands: &[clap::Command]) -> String {
    let man = clap_mangen::Man::new(cmd.clone()).source(format!("iotda-batchtask {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    let mut render = || -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if !subcommands.is_empty() {
            man.render_subcommands_section(&mut out)?;
        }
        if cmd.get_after_help().is_some() {
            man.render_extra_section(&mut out)?;
        }
        let mut roff = Roff::new();
        roff.control("SH", ["EXIT STATUS"]);
        for (code, text) in exit_rows(exit_codes) {
            roff.control("TP", NO_ARGS).text([bold(code)]).text([roman(text)]);
        }
        roff.control("SH", ["SEE ALSO"]);
        // Page names: not hyphenated, not spread to a justified margin.
        roff.control("nh", NO_ARGS).control("ad", ["l"]);
        let see_also: Vec<String> = if subcommands.is_empty() {
            vec!["iotda-batchtask(1)".to_owned()]
        } else {
            subcommands
                .iter()
                .map(|s| format!("{}(1)", s.get_display_name().unwrap_or(s.get_name())))
                .collect()
        };
        roff.text([roman(see_also.join(", "))]);
        roff.control("hy", NO_ARGS).control("ad", ["b"]);
        roff.to_writer(&mut out)?;
        if cmd.get_version().is_some() {
            man.render_version_section(&mut out)?;
        }
        Ok(())
    };
    render().expect("writing roff to memory cannot fail");
    // Each section rendered on its own repeats the roff preamble: keep the first.
    let text = String::from_utf8_lossy(&out).into_owned();
    let preamble = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    match text.split_once(preamble) {
        Some((before, rest)) => format!("{before}{preamble}{}", rest.replace(preamble, "")),
        None => text,
    }
}

/// The rows of an exit-code table as `--help` prints it ("  130  text",
/// continuation lines indented further): `(code, text)`.
pub fn exit_rows(table: &str) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    for line in table.lines().skip(1) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match (indent, rows.last_mut()) {
            (2, _) => {
                let (code, text) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
                rows.push((code.to_owned(), text.trim().to_owned()));
            }
            (_, Some((_, text))) => {
                text.push(' ');
                text.push_str(trimmed);
            }
            (_, None) => {}
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_rows_join_continuation_lines() {
        let rows = exit_rows("Exit codes:\n  0    done: all\n       of it\n  141  closed");
        assert_eq!(
            rows,
            [
                ("0".to_owned(), "done: all of it".to_owned()),
                ("141".to_owned(), "closed".to_owned())
            ]
        );
        assert_eq!(exit_rows(crate::EXIT_CODES).len(), crate::Exit::ALL.len());
    }

    #[test]
    fn every_command_has_a_page_with_its_options_and_exit_status() {
        let pages = pages();
        let stop = &pages
            .iter()
            .find(|(n, _)| n == "iotda-batchtask-stop")
            .expect("a stop page")
            .1;
        assert!(stop.contains("targets\\-file"), "{stop}");
        let (_, exit_status) = stop.split_once(".SH \"EXIT STATUS\"").expect("an EXIT STATUS section");
        let (exit_status, _) = exit_status.split_once(".SH \"SEE ALSO\"").expect("a SEE ALSO section");
        // One .TP item per code: man lays them out as a table, never as refilled prose.
        let items = exit_status.matches("\n.TP\n\\fB").count();
        assert_eq!(items, crate::Exit::ALL.len(), "{exit_status}");
        assert_eq!(stop.matches(".ds Aq \\(aq").count(), 1, "one preamble: {stop}");
        let emulator = &pages
            .iter()
            .find(|(n, _)| n == "iotda-batchtask-emulator")
            .expect("an emulator page")
            .1;
        assert!(!emulator.contains("\\fB143\\fR"), "{emulator}");
        for sub in crate::command().get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("iotda-batchtask-{}", sub.get_name());
            assert!(pages.iter().any(|(n, _)| *n == name), "no page {name}");
        }
    }
}
