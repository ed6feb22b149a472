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

/// `value` as one line of JSON on stdout, every invisible character
/// ([`sanitize::is_invisible`]) in a string escaped as `\uXXXX`: the same
/// data to a JSON parser, and nothing a terminal would act on or reorder
/// when the JSON itself is shown. serde_json escapes only `"`, `\` and
/// U+0000 to U+001F.
pub fn json(value: &impl Serialize) {
    match to_json(value) {
        Ok(text) => out(format_args!("{text}\n")),
        // Only a Serialize impl that refuses (none of ours do) gets here.
        Err(e) => error(format_args!("cannot encode the JSON output: {e}")),
    }
}

/// `value` as compact JSON with invisible characters escaped.
fn to_json(value: &impl Serialize) -> serde_json::Result<String> {
    let mut bytes = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut bytes, EscapeInvisible))?;
    Ok(String::from_utf8(bytes).expect("serde_json writes UTF-8 and the escapes are ASCII"))
}

/// serde_json's compact formatter, but escaping what
/// [`sanitize::is_invisible`] names in the unescaped parts of strings (keys
/// included); serde_json has already escaped the rest.
struct EscapeInvisible;

impl serde_json::ser::Formatter for EscapeInvisible {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut plain = 0;
        for (at, c) in fragment.char_indices() {
            if sanitize::is_invisible(c) {
                writer.write_all(&fragment.as_bytes()[plain..at])?;
                // Above U+FFFF, JSON's \u escape is a UTF-16 surrogate pair.
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                plain = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[plain..])
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
    use super::{count, to_json};

    #[test]
    fn json_escapes_invisible_characters_and_keeps_the_data() {
        let text = "a\u{202e}b\u{2066}c\u{200b}d\u{feff}e\u{2028}f\u{85}g\u{e0041}h\n\"\\ é 中";
        let value = serde_json::json!({ text: [text] });
        let json = to_json(&value).unwrap();
        assert!(!json.chars().any(crate::sanitize::is_invisible), "{json}");
        assert!(
            json.contains(r#"a\u202eb\u2066c\u200bd\ufeffe\u2028f\u0085g\udb40\udc41h\n\"\\ é 中"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap(), value);
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(0usize, "sub-task", "sub-tasks"), "0 sub-tasks");
        assert_eq!(count(1usize, "sub-task", "sub-tasks"), "1 sub-task");
        assert_eq!(count(2i64, "request", "requests"), "2 requests");
    }
}
