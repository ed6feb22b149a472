//! A targets file: one device ID per line, `#` comments and blank lines
//! skipped. The CLI's `--targets-file` and library callers read it with the
//! same [`read`] (or [`parse`] for text already in memory), so a list that
//! works for one works for the other:
//!
//! ```no_run
//! // Then e.g. `client.stop_batch_task(task_id).targets(targets)`.
//! let targets = iotda_batchtask::targets_file::read("devices.txt")?;
//! println!("{} devices", targets.len());
//! # Ok::<(), iotda_batchtask::InvalidInput>(())
//! ```
//!
//! Bounded so that a wrong path cannot hang or exhaust the tool: at most
//! [`MAX_BYTES`] are read, a line is at most [`MAX_LINE_BYTES`], and only a
//! regular file (or `-`, standard input) is opened: a FIFO with no writer
//! would block forever and a device such as `/dev/zero` never ends.

use std::io::Read;
use std::path::Path;

use crate::validation::{self, InvalidInput};

/// The largest targets file read (64 MiB: over 400,000 device IDs of 128 bytes).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The longest line, comment included.
pub const MAX_LINE_BYTES: usize = 4096;

const FIELD: &str = "targets-file";

/// Reads and parses the file at `path` (`-` for standard input).
pub fn read(path: impl AsRef<Path>) -> Result<Vec<String>, InvalidInput> {
    let path = path.as_ref();
    let text = if path.as_os_str() == "-" {
        read_bounded(std::io::stdin().lock(), "stdin")?
    } else {
        let shown = path.display();
        let bytes = crate::bounded_read::read_small_file(path, MAX_BYTES).map_err(|e| {
            InvalidInput::new(
                FIELD,
                match e.kind() {
                    std::io::ErrorKind::InvalidInput => format!(
                        "{shown} is not a regular file (a pipe or device could block or never end); use - to read standard input"
                    ),
                    std::io::ErrorKind::InvalidData => too_large(&shown.to_string()),
                    _ => format!("cannot read {shown}: {e}"),
                },
            )
        })?;
        text_of(bytes, &shown.to_string())?
    };
    let targets = parse(&text)?;
    if targets.is_empty() {
        return Err(InvalidInput::new(FIELD, "lists no devices"));
    }
    Ok(targets)
}

/// Standard input, bounded as a file is.
fn read_bounded(source: impl Read, name: &str) -> Result<String, InvalidInput> {
    let mut bytes = Vec::new();
    source
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InvalidInput::new(FIELD, format!("cannot read {name}: {e}")))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(InvalidInput::new(FIELD, too_large(name)));
    }
    text_of(bytes, name)
}

fn too_large(name: &str) -> String {
    format!(
        "{name} is larger than {} MiB; split the list",
        MAX_BYTES / (1024 * 1024)
    )
}

fn text_of(bytes: Vec<u8>, name: &str) -> Result<String, InvalidInput> {
    String::from_utf8(bytes).map_err(|e| {
        InvalidInput::new(
            FIELD,
            format!(
                "{name} is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Parses a targets list: one device ID per line; blank lines and `#`
/// comments (whole-line or trailing; a device ID cannot contain `#`) are
/// skipped, surrounding whitespace and a UTF-8 byte-order mark are ignored.
/// Errors name the line. Repeats are kept (the call drops them).
pub fn parse(text: &str) -> Result<Vec<String>, InvalidInput> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut targets = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let field = || format!("targets file line {}", number + 1);
        if line.len() > MAX_LINE_BYTES {
            return Err(InvalidInput::new(
                field(),
                format!("is longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
        let content = line.split_once('#').map_or(line, |(before, _)| before).trim();
        if content.is_empty() {
            continue;
        }
        validation::target(targets.len(), content).map_err(|e| InvalidInput::new(field(), e.rule().to_owned()))?;
        targets.push(content.to_owned());
    }
    Ok(targets)
}

/// The parser's property, shared by the unit tests and the cargo-fuzz
/// target `targets_file`: it never panics, everything it returns is a valid
/// device ID, and parsing its own output gives the same list.
#[doc(hidden)] // public for the fuzz target only
pub fn check_parse(text: &str) {
    if let Ok(targets) = parse(text) {
        for (i, t) in targets.iter().enumerate() {
            assert!(validation::target(i, t).is_ok(), "{t:?}");
        }
        assert_eq!(parse(&targets.join("\n")).expect("its own output parses"), targets);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn comments_blanks_and_bom() {
        let targets = parse("\u{feff}# canary ring\ndev-1\n\ndev-2  # flaky\r\ndev-1\n").unwrap();
        assert_eq!(targets, ["dev-1", "dev-2", "dev-1"]);
        let err = parse("dev-1\n\ndev 2\n").unwrap_err();
        assert_eq!(err.field(), "targets file line 3");
        assert!(parse("").unwrap().is_empty());
        let long = format!("dev-1 #{}", "x".repeat(MAX_LINE_BYTES));
        assert_eq!(parse(&long).unwrap_err().field(), "targets file line 1");
    }

    #[test]
    fn reads_a_file_with_comments_as_the_cli_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.txt");
        std::fs::write(&path, "# canary ring\ndev-1\n\ndev-2  # flaky\n").unwrap();
        assert_eq!(read(&path).unwrap(), ["dev-1", "dev-2"]);
        std::fs::write(&path, "# nothing yet\n").unwrap();
        assert_eq!(read(&path).unwrap_err().rule(), "lists no devices");
    }

    #[test]
    fn reads_are_bounded() {
        let big = std::io::repeat(b'a').take(MAX_BYTES + 10);
        let err = read_bounded(big, "big").unwrap_err();
        assert!(err.rule().contains("larger than 64 MiB"), "{err}");
        let err = read_bounded(&b"dev-1\n\xff"[..], "bin").unwrap_err();
        assert!(err.rule().contains("not UTF-8"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_what_is_not_a_regular_file() {
        // A FIFO with no writer would block `open` itself.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        for path in [Path::new("/dev/zero"), Path::new("/"), fifo.as_path()] {
            let err = read(path).unwrap_err();
            assert!(err.rule().contains("not a regular file"), "{}: {err}", path.display());
        }
    }

    proptest! {
        #[test]
        fn parses_totally(text in "(\\PC{0,20}(\r?\n)?){0,10}|[a-z0-9_# -]{0,60}") {
            check_parse(&text);
        }
    }
}
