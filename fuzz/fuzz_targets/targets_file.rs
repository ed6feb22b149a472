//! The CLI's targets-file parser.
#![no_main]

#[path = "../../cli/src/targets_file.rs"]
#[allow(dead_code)] // the file reader is the command's, not the fuzz target's
mod targets_file;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        targets_file::check_parse(text);
    }
});
