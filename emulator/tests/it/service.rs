//! The emulator's pure core, [`Service::respond_at`], without a socket: it
//! never panics, always answers with a request ID and a JSON body, and checks
//! `X-Sdk-Date` against a pinned clock to the second.

use crate::common;

use bytes::Bytes;
use common::{AK, SK, TOKEN};
use iotda_batchtask::auth::Signer;
use iotda_batchtask::auth::{Algorithm, Credentials};
use iotda_batchtask_emulator::Stoppable as _;
use iotda_batchtask_emulator::{
    DEMO_FINISHED_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, MAX_BODY_BYTES, Seed, Service,
    TaskDetailStatus, TaskStatus,
};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use serde_json::Value;

fn service() -> Service {
    Service::new(&EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN)).expect("valid config")
}

fn stop_path() -> String {
    format!("/v5/iot/{DEMO_PROJECT_ID}/batchtasks/{DEMO_TASK_ID}/stop")
}

/// Every answer: a known status, a 32-hex ID, and a JSON body with a JSON
/// content type, except a 204 (DeleteBatchTask), which has neither.
fn check_invariants(response: &http::Response<Bytes>) -> Value {
    let status = response.status().as_u16();
    assert!([200, 201, 204, 400, 401, 403, 404, 413].contains(&status), "{status}");
    let id = response.headers()["x-request-id"].to_str().expect("ascii");
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    if status == 204 {
        assert!(response.body().is_empty() && !response.headers().contains_key("content-type"));
        return Value::Null;
    }
    assert_eq!(response.headers()["content-type"], "application/json");
    serde_json::from_slice(response.body()).expect("JSON body")
}

/// A derived-signed stop of `body` as of `at`, as an in-memory request.
fn signed_stop(body: &'static str, at: Timestamp) -> http::Request<Bytes> {
    let algorithm = Algorithm::Derived {
        region: "cn-north-4".into(),
        service: "iotdm".into(),
    };
    let signer = Signer::new(&Credentials::ak_sk(AK, SK), algorithm).expect("signer");
    let url = format!("http://127.0.0.1:8080{}", stop_path());
    let mut request = reqwest::Request::new(reqwest::Method::POST, url.parse().expect("url"));
    request
        .headers_mut()
        .insert("content-type", http::HeaderValue::from_static("application/json"));
    *request.body_mut() = Some(body.into());
    signer.sign(&mut request, at).expect("signs");
    // As a server receives it: origin-form URI, the host in its header.
    let mut builder = http::Request::post(stop_path());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    builder.body(Bytes::from_static(body.as_bytes())).expect("request")
}

#[test]
fn the_sdk_date_may_be_off_by_exactly_the_allowed_skew_and_no_more() {
    let signed_at: Timestamp = "2024-10-23T12:00:00Z".parse().expect("time");
    let svc = service();
    let skew = SignedDuration::from_mins(15);
    let one = SignedDuration::from_secs(1);
    for (now, ok) in [
        (signed_at + skew, true),
        (signed_at - skew, true),
        (signed_at + skew + one, false),
        (signed_at - skew - one, false),
    ] {
        let before = svc.snapshot();
        let response = svc.respond_at(signed_stop(r#"{"targets":["dev-0300"]}"#, signed_at), now);
        let body = check_invariants(&response);
        if ok {
            assert_eq!(response.status(), 200, "{body}");
        } else {
            assert_eq!(response.status(), 401, "{body}");
            let msg = body["error_msg"].as_str().expect("msg");
            assert!(msg.contains("verify aksk signature fail"), "{msg}");
            assert_eq!(svc.snapshot(), before);
        }
    }
}

#[test]
fn the_host_may_come_from_the_uri_authority() {
    let svc = service();
    let at: Timestamp = "2024-10-23T12:00:00Z".parse().expect("time");
    let mut request = signed_stop(r#"{"targets":["dev-0001"]}"#, at);
    request.headers_mut().remove("host");
    *request.uri_mut() = format!("http://127.0.0.1:8080{}", stop_path()).parse().expect("uri");
    assert_eq!(svc.respond_at(request, at).status(), 200);
}

#[test]
fn the_body_limit_is_exactly_1_mib() {
    let svc = Service::new(&EmulatorConfig::new().auth_enabled(false)).expect("config");
    let request = |len: usize| {
        let mut body = br#"{"targets":["dev-0001"],"pad":""#.to_vec();
        body.resize(len - 2, b'x');
        body.extend_from_slice(br#""}"#);
        http::Request::post(stop_path())
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .expect("request")
    };
    assert_eq!(svc.respond(request(MAX_BODY_BYTES)).status(), 200);
    let response = svc.respond(request(MAX_BODY_BYTES + 1));
    assert_eq!(response.status(), 413);
    assert_eq!(check_invariants(&response)["error_code"], "APIG.0201");
}

#[test]
fn a_repeated_instance_id_or_authorization_header_is_refused() {
    let svc = service();
    let request = http::Request::post(stop_path())
        .header("content-type", "application/json")
        .header("x-auth-token", TOKEN)
        .header("instance-id", "abc")
        .header("instance-id", "abd")
        .body(Bytes::from_static(b"{}"))
        .expect("request");
    assert_eq!(svc.respond(request).status(), 400);
    let request = http::Request::post(stop_path())
        .header("x-auth-token", TOKEN)
        .header("x-auth-token", TOKEN)
        .body(Bytes::new())
        .expect("request");
    assert_eq!(svc.respond(request).status(), 401);
    assert_eq!(
        svc.task(DEMO_PROJECT_ID, DEMO_TASK_ID)
            .expect("task")
            .count(TaskDetailStatus::Stopped),
        0
    );
}

#[test]
fn the_state_can_be_dumped_as_a_seed_and_reloaded() {
    let svc = Service::new(&EmulatorConfig::new().auth_enabled(false)).expect("config");
    let request = http::Request::post(stop_path())
        .header("content-type", "application/json")
        .body(Bytes::from_static(br#"{"targets":["dev-0001"]}"#))
        .expect("request");
    assert_eq!(svc.respond(request).status(), 200);
    let dumped = Seed::from_json(&svc.snapshot().to_json()).expect("valid");
    let reloaded = Service::new(&EmulatorConfig::new().seed(dumped)).expect("config");
    let task = reloaded.task(DEMO_PROJECT_ID, DEMO_TASK_ID).expect("task");
    assert_eq!(task.subtasks["dev-0001"], TaskDetailStatus::Stopped);
}

fn arbitrary_request() -> impl Strategy<Value = http::Request<Bytes>> {
    let methods = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("DELETE"),
        Just("HEAD"),
        Just("PATCH")
    ];
    let segment = prop_oneof![
        Just(DEMO_PROJECT_ID.to_owned()),
        Just(DEMO_TASK_ID.to_owned()),
        "[a-zA-Z0-9%._~-]{0,40}",
    ];
    let path = prop_oneof![
        (
            segment.clone(),
            segment.clone(),
            prop_oneof![Just("stop"), Just("retry"), Just("confirm")]
        )
            .prop_map(|(p, t, op)| format!("/v5/iot/{p}/batchtasks/{t}/{op}")),
        (segment.clone(), segment.clone()).prop_map(|(p, t)| format!("/v5/iot/{p}/batchtasks/{t}")),
        segment.prop_map(|p| format!("/v5/iot/{p}/batchtasks")),
        "/[a-z0-9/]{0,30}",
    ];
    let query = prop_oneof![
        Just(String::new()),
        "(limit|offset|marker|target|task_detail_status|task_type|status|app_id|x)=[a-zA-Z0-9%+-]{0,30}(&(limit|offset|marker)=[0-9a-fA-F-]{0,26})?"
            .prop_map(|q| format!("?{q}")),
    ];
    let body = prop_oneof![
        Just(Vec::new()),
        Just(b"{}".to_vec()),
        Just(br#"{"targets":["dev-0001","dev-0002","nope"]}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
        "\\{\"targets\":\\[(\"[a-z0-9 -]{0,8}\",?){0,4}\\]\\}".prop_map(String::into_bytes),
        Just(
            br#"{"task_name":"t1","task_type":"firmwareUpgrade","targets":["dev-0001"],"need_confirm":true}"#.to_vec()
        ),
    ];
    let headers = proptest::collection::vec(
        (
            prop_oneof![
                Just("content-type"),
                Just("authorization"),
                Just("x-auth-token"),
                Just("x-sdk-date"),
                Just("instance-id"),
                Just("x-security-token"),
            ],
            prop_oneof![
                Just("application/json".to_owned()),
                Just(TOKEN.to_owned()),
                Just(format!(
                    "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={}",
                    "0".repeat(64)
                )),
                Just(format!(
                    "V11-HMAC-SHA256 Credential={AK}/20241023/cn-north-4/iotdm, SignedHeaders=host;x-foo, Signature={}",
                    "a".repeat(64)
                )),
                Just("20241023T120000Z".to_owned()),
                "[ -~]{0,40}",
            ],
        ),
        0..5,
    );
    (methods, path, query, headers, body).prop_map(|(method, path, query, headers, body)| {
        let mut builder = http::Request::builder().method(method).uri(format!("{path}{query}"));
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder.body(Bytes::from(body)).unwrap_or_else(|_| {
            // A URI the http crate rejects: fall back to a fixed one.
            http::Request::new(Bytes::new())
        })
    })
}

/// The property of `any_request_gets_a_well_formed_answer` over one sequence
/// of requests, with and without authentication.
fn answers_are_well_formed(requests: &[http::Request<Bytes>]) -> Result<(), TestCaseError> {
    for auth in [true, false] {
        let svc = Service::new(&EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN).auth_enabled(auth)).expect("config");
        let mut ids = std::collections::HashSet::new();
        for request in requests {
            let response = svc.respond_at(request.clone(), "2024-10-23T12:00:00Z".parse().expect("time"));
            let body = check_invariants(&response);
            prop_assert!(ids.insert(response.headers()["x-request-id"].clone()));
            // Success is any 2xx (201 from CreateBatchTask, 204 without a
            // body from DeleteBatchTask), never carrying an error code;
            // everything else is an error with IoTDA's or the gateway's code.
            if response.status().is_success() {
                prop_assert!(body.get("error_code").is_none(), "{}", body);
            } else {
                let code = body["error_code"].as_str().unwrap_or("");
                prop_assert!(code.starts_with("IOTDA.") || code.starts_with("APIG"), "{}", body);
            }
            // The state stays consistent: the demo task (seeded
            // Processing, with sub-tasks to run) is Stopped exactly when
            // nothing is left to run, unless it was deleted once Stopped.
            if let Some(task) = svc.task(DEMO_PROJECT_ID, DEMO_TASK_ID) {
                let running = task.subtasks.values().any(|s| s.is_stoppable());
                prop_assert_eq!(task.status == TaskStatus::Stopped, !running, "{:?}", task.status);
            }
        }
        prop_assert_eq!(svc.request_count(), requests.len() as u64);
    }
    Ok(())
}

/// Issue 22: the property once drew a valid CreateBatchTask (`201 Created`)
/// and took it for an error; a DeleteBatchTask of a finished task is `204`
/// with no body at all. Both are successes, without `error_code`.
#[test]
fn created_and_deleted_answers_are_successes_not_errors() {
    let create = http::Request::post(format!("/v5/iot/{DEMO_PROJECT_ID}/batchtasks"))
        .header("content-type", "application/json")
        .body(Bytes::from_static(
            br#"{"task_name":"t1","task_type":"firmwareUpgrade","targets":["dev-0001"],"need_confirm":true}"#,
        ))
        .expect("request");
    let delete = http::Request::delete(format!("/v5/iot/{DEMO_PROJECT_ID}/batchtasks/{DEMO_FINISHED_TASK_ID}"))
        .body(Bytes::new())
        .expect("request");
    // Unauthenticated, the first pass answers 401; the second (no auth) 201 and 204.
    let svc = Service::new(&EmulatorConfig::new().auth_enabled(false)).expect("config");
    assert_eq!(svc.respond(create.clone()).status(), 201);
    assert_eq!(svc.respond(delete.clone()).status(), 204);
    answers_are_well_formed(&[create, delete]).expect("2xx answers are successes");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_a_well_formed_answer(requests in proptest::collection::vec(arbitrary_request(), 1..4)) {
        answers_are_well_formed(&requests)?;
    }
}
