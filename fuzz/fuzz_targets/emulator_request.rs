//! The emulator's request handling: arbitrary request sequences never panic
//! and never corrupt its state.
#![no_main]

#[path = "../../tests/it/robustness/properties.rs"]
mod properties;

use iotda_batchtask_emulator::{EmulatorConfig, Service};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Request {
    method: Vec<u8>,
    /// Appended to a valid stop or show path most of the time, so the fuzzer
    /// reaches the handlers, not only the router.
    route: u8,
    uri_tail: String,
    headers: Vec<(String, String)>,
    json: bool,
    body: Vec<u8>,
}

const ROUTES: [&str; 3] = [
    "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a/stop",
    "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a",
    "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4c/stop",
];

fuzz_target!(|requests: Vec<Request>| {
    let Ok(service) = Service::new(&EmulatorConfig::new().auth_enabled(false)) else { return };
    for r in requests.into_iter().take(16) {
        let uri = match ROUTES.get(usize::from(r.route % 4)) {
            Some(route) => format!("{route}{}", r.uri_tail),
            None => r.uri_tail,
        };
        let mut headers = r.headers;
        if r.json {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        properties::check_emulator(&service, &r.method, &uri, &headers, &r.body);
    }
});
