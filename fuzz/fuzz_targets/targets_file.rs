//! The targets-file parser (the library's, which the CLI uses).
#![no_main]

use iotda_batchtask::targets_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        targets_file::check_parse(text);
    }
});
