//! The confirmation asked before `--all` and `delete`.
//!
//! Asked only of a person: when standard input is a terminal and `--yes`
//! was not given. With stdin a pipe, a file or /dev/null (scripts, CI, cron)
//! nothing is asked and the command proceeds, so scripts keep working; they
//! opted in by writing `--all` or `delete`.

use std::io::{BufRead as _, IsTerminal as _};

use crate::Exit;
use crate::output;
use crate::signals;

/// The longest answer read; a person types a few letters.
const MAX_ANSWER_BYTES: u64 = 256;

/// Asks `question` on a terminal. `None`: go ahead (answered yes, `--yes`,
/// or no terminal to ask). `Some(exit)`: stop here, nothing sent
/// ([`Exit::Declined`], or the signal's code).
pub async fn confirm(question: &str, yes: bool) -> Option<Exit> {
    if yes || !std::io::stdin().is_terminal() {
        return None;
    }
    output::err(format_args!("{question} [y/N] "));
    // A plain thread, not the runtime's blocking pool: a read of a terminal
    // cannot be cancelled, and the process must be free to exit on a signal
    // while it waits.
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::Read::take(std::io::stdin().lock(), MAX_ANSWER_BYTES).read_line(&mut line);
        let _ = sender.send(read.map(|_| line));
    });
    let answer = tokio::select! {
        answer = receiver => answer,
        signal = signals::first() => {
            output::errln!();
            return Some(signal.exit());
        }
    };
    match answer {
        Ok(Ok(line)) if is_yes(&line) => None,
        _ => {
            output::errln!("not confirmed: nothing was sent");
            Some(Exit::Declined)
        }
    }
}

/// `y` or `yes`, in any case, surrounded by any whitespace.
fn is_yes(answer: &str) -> bool {
    let answer = answer.trim();
    answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
}

#[cfg(test)]
mod tests {
    use super::is_yes;

    #[test]
    fn only_yes_is_yes() {
        for yes in ["y", "Y\n", " yes \r\n", "YES"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yess", "y y", "ja"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
