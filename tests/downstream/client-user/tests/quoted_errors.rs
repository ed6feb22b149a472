//! Each compile error a downstream developer reported (quoted in the issue
//! that asked for downstream support), beside the code that now compiles and
//! does what they meant. Where another test already is that code, the comment
//! names it.
//!
//! - E0433 on the README's `.cancel_on(async { tokio::signal::ctrl_c().await; })`
//!   under the Quick start's dependencies: CI compiles the README under default
//!   features (`cargo test -p iotda-batchtask --doc` in `.ci/run`).
//! - E0451 `StopOutput { .. }`: `TargetsReport::builder()` in `tests/test_util.rs`.
//! - E0521 `tokio::spawn(client.stop_batch_task(id).all().send())` and E0597 on
//!   returning `sub_tasks()`: `tests/spawn.rs` (which spawns `.all().send()` too).
//! - `sub_tasks()` needing `futures-util`: `tests/spawn.rs` polls it with the
//!   re-exported `Stream` trait alone.

use std::time::Duration;

use iotda_batchtask::auth::{Algorithm, Signer};
use iotda_batchtask::types::{BatchTargetResult, TaskDetailStatus};
use iotda_batchtask::{ApiError, Client, Credentials, Error, HuaweiCode, TargetStatus, TimeoutKind};
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, Service};

/// E0639 `Error::Transport { .. }` (non-exhaustive): a constructor per kind.
#[test]
fn errors_are_built_with_constructors() {
    let transport = Error::transport("connection reset by peer", 1, None);
    assert!(transport.may_have_been_processed());
    let timeout = Error::timeout(TimeoutKind::Connect, Duration::from_secs(3), 1, None);
    assert!(!timeout.may_have_been_processed());
}

/// E0308 `Error::Api(ApiError { status: 404, .. })` (the variant is boxed) and
/// E0432 `use iotda_batchtask::ApiError`: a predicate, or the typed code, with
/// no guard and no box.
#[test]
fn api_errors_match_without_boxes_or_guards() {
    let error = ApiError::builder(404)
        .error_code("IOTDA.014200")
        .error_msg("The batch task does not exist.")
        .into_error();
    assert!(error.is_not_found());
    let what = match error.code() {
        Some(HuaweiCode::TaskNotFound) => "gone",
        Some(HuaweiCode::GatewayAuth | HuaweiCode::InvalidToken) => "credentials",
        Some(_) | None => "other",
    };
    assert_eq!(what, "gone");
    let api: &ApiError = error.as_api().expect("an API error");
    assert_eq!(api.status(), 404);
}

/// `TargetStatus` was `#[non_exhaustive]` beside its own catch-all: a
/// downstream `match` now needs no wildcard arm.
#[test]
fn target_status_matches_exhaustively() {
    let answer: BatchTargetResult = serde_json::from_str(r#"{"target":"dev-1","status":"paused"}"#).unwrap();
    let label = match answer.outcome() {
        TargetStatus::Success => "stopped",
        TargetStatus::Failure => "failed",
        TargetStatus::Other(other) => other,
        TargetStatus::Missing => "no status",
    };
    assert_eq!(label, "paused");
}

/// `"Rejected2".parse::<TaskDetailStatus>()` gave `Err("invalid value")`.
#[test]
fn parse_errors_name_the_value() {
    let error = "Rejected2".parse::<TaskDetailStatus>().unwrap_err();
    assert!(error.to_string().contains("Rejected2"), "{error}");
}

/// E0277 `BatchTargetResult::builder().target("dev-1")`: the generated
/// builders take owned values (`Option<String>: From<String>`), and building
/// is fallible because a builder may hold a value that failed to convert.
#[test]
fn generated_builders_take_owned_values() {
    let built: BatchTargetResult = BatchTargetResult::builder()
        .target("dev-1".to_owned())
        .status("success".to_owned())
        .try_into()
        .expect("every field converts");
    assert!(built.is_success());
}

/// `.http_client(reqwest 0.12 Client)`: "multiple different versions of crate
/// `reqwest`". The re-exported `reqwest` is the client's own.
#[test]
fn the_http_client_comes_from_the_re_export() {
    let http = iotda_batchtask::reqwest::Client::builder().build().unwrap();
    let client = Client::builder("https://iotda.cn-north-4.myhuaweicloud.com")
        .project_id("0123456789abcdef0123456789abcdef")
        .credentials(Credentials::token("t"))
        .http_client(http);
    assert!(client.build().is_ok());
}

/// `Signer::sign` needed `reqwest` 0.13 and `jiff` 1 added by hand.
#[test]
fn signing_uses_the_re_exported_crates() {
    let credentials = Credentials::ak_sk("AK", "SK");
    let signer = Signer::new(&credentials, Algorithm::Plain).unwrap();
    let url = iotda_batchtask::reqwest::Url::parse("https://iotda.example.com/v5/iot/p/batchtasks/t/stop").unwrap();
    let mut request = iotda_batchtask::reqwest::Request::new(iotda_batchtask::reqwest::Method::POST, url);
    signer
        .sign(&mut request, iotda_batchtask::jiff::Timestamp::UNIX_EPOCH)
        .unwrap();
    assert!(request.headers().contains_key("authorization"));
}

/// `Service::respond`'s own example needed `http` and `bytes` added.
#[test]
fn the_service_is_driven_with_the_re_exported_http_types() {
    use iotda_batchtask_emulator::bytes::Bytes;
    use iotda_batchtask_emulator::http::Request;

    let service = Service::new(&EmulatorConfig::new().auth_enabled(false)).unwrap();
    let path = format!("/v5/iot/{DEMO_PROJECT_ID}/batchtasks/{DEMO_TASK_ID}?limit=1");
    let response = service.respond(Request::get(path).body(Bytes::new()).unwrap());
    assert_eq!(response.status(), 200);
}
