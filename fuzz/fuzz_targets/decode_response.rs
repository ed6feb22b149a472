//! Response decoding: a real client call against a loopback server answering
//! with the fuzz input as raw HTTP bytes.
#![no_main]

#[path = "../../tests/it/robustness/properties.rs"]
mod properties;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static HARNESS: LazyLock<properties::ResponseHarness> = LazyLock::new(properties::ResponseHarness::new);

fuzz_target!(|raw: &[u8]| {
    HARNESS.check(raw);
});
