//! Every write to stdout and stderr goes through here, so that a closed
//! stream never panics (`println!` does, on `| head` or a reader that quit).
//!
//! A failed write ends the process at once with [`Exit::OutputClosed`]
//! (141 = 128 + SIGPIPE, the code git and a shell report for a command
//! killed by SIGPIPE) and writes nothing more: whoever reads the output has
//! gone, so there is no one left to tell. Only an error other than a broken
//! pipe on stdout (a full disk, say) is worth one line on stderr.
//!
//! Use [`outln!`]/[`errln!`] like `println!`/`eprintln!`, [`out`]/[`err`]
//! for text that carries its own newlines, [`json`] for one JSON object on
//! a line, and [`error`] for an `error: ...` line made of text from the
//! network (it is sanitised).

use std::fmt::Display;
use std::io::{self, Write};

use serde::Serialize;

use crate::Exit;
use crate::sanitize;

/// An error line is cut here: long enough for any message IoTDA sends, short
/// enough that a hostile body cannot flood the terminal.
const MAX_ERROR_LINE: usize = 4096;

/// Writes `text` to stdout as is, and flushes it (so a partial report is out
/// before a signal or an error ends the command).
pub fn out(text: impl Display) {
    let stdout = io::stdout();
    let mut stdout = stdout.lock();
    if let Err(e) = write!(stdout, "{text}").and_then(|()| stdout.flush()) {
        closed(Stream::Stdout, &e);
    }
}

/// Writes `text` to stderr as is.
pub fn err(text: impl Display) {
    let stderr = io::stderr();
    let mut stderr = stderr.lock();
    if let Err(e) = write!(stderr, "{text}").and_then(|()| stderr.flush()) {
        closed(Stream::Stderr, &e);
    }
}

/// `value` as one line of JSON on stdout.
pub fn json(value: &impl Serialize) {
    match serde_json::to_string(value) {
        Ok(text) => out(format_args!("{text}\n")),
        // Only a Serialize impl that refuses (none of ours do) gets here.
        Err(e) => error(format_args!("cannot encode the JSON output: {e}")),
    }
}

/// `error: <message>` on stderr, the message sanitised: error messages quote
/// what the server sent (codes, messages, bodies, markers).
pub fn error(message: impl Display) {
    errln!("error: {}", sanitize::cell(&message.to_string(), MAX_ERROR_LINE));
}

/// `n` and the noun, singular for 1: `1 sub-task`, `2 sub-tasks`.
pub fn count<N: Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let noun = if n == N::from(1) { one } else { many };
    format!("{n} {noun}")
}

/// `println!` that never panics: see the module documentation.
macro_rules! outln {
    () => {
        $crate::output::out("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics: see the module documentation.
macro_rules! errln {
    () => {
        $crate::output::err("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Ends the process after a failed write; see the module documentation.
fn closed(stream: Stream, error: &io::Error) -> ! {
    if stream == Stream::Stdout && error.kind() != io::ErrorKind::BrokenPipe {
        // Best effort, and `let _`: stderr may be gone as well.
        let _ = writeln!(io::stderr(), "error: cannot write to stdout: {error}");
    }
    std::process::exit(i32::from(Exit::OutputClosed.code()))
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(0usize, "sub-task", "sub-tasks"), "0 sub-tasks");
        assert_eq!(count(1usize, "sub-task", "sub-tasks"), "1 sub-task");
        assert_eq!(count(2i64, "request", "requests"), "2 requests");
    }
}
