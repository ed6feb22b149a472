//! Hostile input, property-tested: the same properties the cargo-fuzz targets
//! check (see fuzz/), run with proptest so CI covers them on every change.

mod properties;

use std::sync::LazyLock;

use iotda_batchtask_emulator::{EmulatorConfig, Service};
use proptest::prelude::*;

static HARNESS: LazyLock<properties::ResponseHarness> = LazyLock::new(properties::ResponseHarness::new);

/// Raw HTTP answers: mostly well-formed heads with arbitrary statuses,
/// headers and bodies, sometimes arbitrary bytes.
fn raw_response() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        Just(br#"{"targets":[{"target":"dev-1","status":"success"},{"target":"dev-2","status":"failure","error_code":"IOTDA.014219"}]}"#.to_vec()),
        Just(br#"{"error_code":"APIGW.0301","error_msg":"x\r\ny","request_id":"r"}"#.to_vec()),
        Just(br#"{"targets":[{"target":"dev-1","status":"\u001b[31mred"}],"targets":[]}"#.to_vec()),
        prop::collection::vec(any::<u8>(), 0..256),
        "\\PC{0,200}".prop_map(String::into_bytes),
    ];
    let status = prop_oneof![
        Just(200u16),
        Just(400),
        Just(401),
        Just(404),
        Just(429),
        Just(500),
        Just(502),
        Just(503),
        100u16..600
    ];
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("text/html".to_owned()),
        Just("application/json;charset=UTF-8".to_owned()),
        "[ -~]{0,20}",
    ];
    let framed =
        (status, content_type, body, any::<bool>(), "[ -~]{0,32}").prop_map(|(status, ct, body, chunked, id)| {
            let mut out = format!("HTTP/1.1 {status} X\r\ncontent-type: {ct}\r\nx-request-id: {id}\r\n").into_bytes();
            if chunked {
                out.extend_from_slice(format!("transfer-encoding: chunked\r\n\r\n{:x}\r\n", body.len()).as_bytes());
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n0\r\n\r\n");
            } else {
                out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(&body);
            }
            out
        });
    prop_oneof![4 => framed, 1 => prop::collection::vec(any::<u8>(), 0..512)]
}

fn header_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            "[a-zA-Z_-]{1,12}|authorization|host|x-sdk-date|content-type",
            "\\PC{0,24}",
        ),
        0..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// `validation::target` is hand-written for speed; the spec's DeviceId
    /// pattern is the rule it must agree with.
    #[test]
    fn the_target_check_is_the_specs_device_id_pattern(id in "[a-zA-Z0-9_-]{0,130}|[a-z0-9_ .\n-]{0,8}|\\PC{0,20}") {
        let by_check = iotda_batchtask::validation::target(0, &id).is_ok();
        let by_spec = id.parse::<iotda_batchtask::types::DeviceId>().is_ok();
        prop_assert_eq!(by_check, by_spec, "{:?}", id);
    }

    /// De-duplication detects repeats by sorting and filters by hashing;
    /// either way the result is the first occurrences, in input order.
    #[test]
    fn deduplication_keeps_first_occurrences_in_order(
        ids in prop::collection::vec("[a-c]{1,2}", 0..40),
        sorted in any::<bool>(),
    ) {
        let mut ids = ids;
        if sorted {
            ids.sort();
        }
        let mut expected: Vec<String> = Vec::new();
        for id in &ids {
            if !expected.contains(id) {
                expected.push(id.clone());
            }
        }
        prop_assert_eq!(iotda_batchtask::validation::unique_targets(ids).unwrap(), expected);
    }

    #[test]
    fn response_decoding_never_panics_or_hangs(raw in raw_response()) {
        HARNESS.check(&raw);
    }

    #[test]
    fn signing_is_total_deterministic_and_verifiable(
        method in "[A-Z]{1,7}|\\PC{0,5}",
        path in "(/[\\PC&&[^?#]]{0,10}){0,4}",
        query in "[a-z0-9=&%+~ ]{0,30}",
        headers in header_pairs(),
        body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        properties::check_signing(&method, &path, &query, &headers, &body);
    }

    #[test]
    fn emulator_never_panics_or_corrupts_state(
        requests in prop::collection::vec((
            prop_oneof![Just(b"POST".to_vec()), Just(b"GET".to_vec()), Just(b"DELETE".to_vec()), prop::collection::vec(any::<u8>(), 0..6)],
            prop_oneof![
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a/stop".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a?limit=3&offset=2&task_detail_status=Stopped".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4c/stop".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4e/retry".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4d/confirm".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4b".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks?task_type=firmwareUpgrade&limit=2".to_owned()),
                Just("/v5/iot/0123456789abcdef0123456789abcdef/batchtasks".to_owned()),
                "/[\\PC&&[^ ]]{0,60}",
            ],
            prop_oneof![
                Just(vec![("content-type".to_owned(), "application/json".to_owned())]),
                header_pairs(),
            ],
            prop_oneof![
                Just(b"{}".to_vec()),
                Just(br#"{"task_name":"t1","task_type":"firmwareUpgrade","targets":["dev-0001","dev-0002"],"document":{"package_id":"p"}}"#.to_vec()),
                "\\{\"targets\":\\[(\"dev-0[0-9]{3}\",){0,5}\"dev-0[0-9]{3}\"\\]\\}".prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..64),
            ],
        ), 1..12)
    ) {
        let service = Service::new(&EmulatorConfig::new().auth_enabled(false)).unwrap();
        for (method, uri, headers, body) in requests {
            properties::check_emulator(&service, &method, &uri, &headers, &body);
        }
    }

    #[test]
    fn emulator_with_auth_changes_nothing_for_unsigned_requests(
        uri in "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a(/stop)?",
        headers in header_pairs(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let service = Service::new(&EmulatorConfig::new().ak_sk("HPUAEXAMPLEAK0000001", "secret")).unwrap();
        let before = service.snapshot();
        properties::check_emulator(&service, b"POST", &uri, &headers, &body);
        prop_assert_eq!(before, service.snapshot());
    }
}
