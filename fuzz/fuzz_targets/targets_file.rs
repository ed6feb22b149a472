//! The CLI's targets-file parser.
#![no_main]

#[path = "../../tests/robustness/properties.rs"]
mod properties;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        properties::check_target_list(text);
    }
});
