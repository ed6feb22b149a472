//! The signer's canonicalisation: arbitrary method, path, query, headers and
//! body never panic, and signing is deterministic and verifiable.
#![no_main]

#[path = "../../tests/it/robustness/properties.rs"]
mod properties;

use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    properties::check_signing(&input.method, &input.path, &input.query, &input.headers, &input.body);
});
