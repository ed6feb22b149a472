//! The built-in IoTDA emulator over real HTTP on 127.0.0.1: stop semantics,
//! every refusal, ShowBatchTask paging, seeds, the gateway's authentication,
//! request IDs and concurrency.
//!
//! Run with `cargo test -p iotda-batchtask-emulator --test it emulator`.

use crate::common;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use common::{AK, INSTANCE, Mode, SECURITY_TOKEN, SK, TOKEN};
use iotda_batchtask::Signing;
use iotda_batchtask::auth::{Algorithm, Credentials, Signer};
use iotda_batchtask_emulator::Stoppable as _;
use iotda_batchtask_emulator::{
    DEMO_CREATE_DEVICES_TASK_ID, DEMO_DEVICE_COUNT, DEMO_FINISHED_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator,
    EmulatorConfig, EmulatorError, EmulatorHandle, MAX_SEED_BYTES, Seed, SeedError, SeedTask, TaskDetailStatus,
    TaskStatus, TaskType, demo_device_id, demo_subtask_status,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::{Value, json};

const P: &str = DEMO_PROJECT_ID;
const T: &str = DEMO_TASK_ID;
/// The emulator's detail for an `Authorization` that is not an AK/SK signature.
const MALFORMED: &str = "Authorization header is not a valid AK/SK signature";
const OTHER_SK: &str = "AnotherSecretKeyThatIsNotConfigured000000";

// ---------------------------------------------------------------- helpers

fn config() -> EmulatorConfig {
    EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN)
}

async fn start() -> EmulatorHandle {
    start_with(config()).await
}

async fn start_with(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config).await.expect("the emulator starts on 127.0.0.1")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

fn stop_url(h: &EmulatorHandle, project: &str, task: &str) -> String {
    format!("{}/v5/iot/{project}/batchtasks/{task}/stop", h.base_url())
}

fn show_url(h: &EmulatorHandle, project: &str, task: &str, query: &str) -> String {
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/v5/iot/{project}/batchtasks/{task}{q}", h.base_url())
}

/// A request with an optional JSON body (and `Content-Type: application/json`).
fn request(method: Method, url: &str, body: Option<&str>) -> reqwest::Request {
    let mut r = reqwest::Request::new(method, url.parse().expect("url"));
    if let Some(body) = body {
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *r.body_mut() = Some(body.to_owned().into());
    }
    r
}

fn header(mut r: reqwest::Request, name: &'static str, value: &str) -> reqwest::Request {
    r.headers_mut().insert(
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("header value"),
    );
    r
}

fn with_token(r: reqwest::Request) -> reqwest::Request {
    header(r, "x-auth-token", TOKEN)
}

fn derived() -> Algorithm {
    Algorithm::Derived {
        region: "cn-north-4".into(),
        service: "iotdm".into(),
    }
}

fn signed_with(
    mut r: reqwest::Request,
    credentials: &Credentials,
    algorithm: Algorithm,
    at: Timestamp,
) -> reqwest::Request {
    Signer::new(credentials, algorithm)
        .expect("signer")
        .sign(&mut r, at)
        .expect("signs");
    r
}

fn signed(r: reqwest::Request, algorithm: Algorithm) -> reqwest::Request {
    signed_with(r, &Credentials::ak_sk(AK, SK), algorithm, Timestamp::now())
}

struct Answer {
    status: u16,
    request_id: String,
    json: Value,
}

fn is_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Sends and checks what every response must have: a JSON content type, a
/// JSON body and a 32-hex `X-Request-Id`.
async fn send(r: reqwest::Request) -> Answer {
    send_with(&http(), r).await
}

/// [`send`] through a given client (building one per request is slow).
async fn send_with(client: &reqwest::Client, r: reqwest::Request) -> Answer {
    let response = client.execute(r).await.expect("the emulator answers");
    let status = response.status().as_u16();
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let request_id = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(is_request_id(&request_id), "{request_id}");
    let body = response.bytes().await.expect("body");
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("JSON body ({e}): {body:?}"));
    Answer {
        status,
        request_id,
        json,
    }
}

/// POSTs `body` to the demo task's stop endpoint with a valid token.
async fn stop(h: &EmulatorHandle, body: &str) -> Answer {
    send(with_token(request(Method::POST, &stop_url(h, P, T), Some(body)))).await
}

async fn show(h: &EmulatorHandle, query: &str) -> Answer {
    send(with_token(request(Method::GET, &show_url(h, P, T, query), None))).await
}

/// Asserts an IoTDA error body: exactly `error_code` and `error_msg`.
fn iotda_error(a: &Answer, status: u16, code: &str) -> String {
    assert_eq!(a.status, status, "{}", a.json);
    let object = a.json.as_object().expect("object");
    assert_eq!(object.len(), 2, "exactly error_code and error_msg: {}", a.json);
    assert_eq!(object["error_code"], code, "{}", a.json);
    object["error_msg"].as_str().expect("error_msg").to_owned()
}

/// Asserts a gateway error body: `error_code`, `error_msg` and `request_id`
/// equal to the header's.
fn gateway_error(a: &Answer, status: u16, code: &str) -> String {
    assert_eq!(a.status, status, "{}", a.json);
    let object = a.json.as_object().expect("object");
    assert_eq!(object.len(), 3, "{}", a.json);
    assert_eq!(object["error_code"], code);
    assert_eq!(object["request_id"], a.request_id.as_str());
    object["error_msg"].as_str().expect("error_msg").to_owned()
}

/// Asserts a 401 `APIGW.0301` whose detail starts with `detail`.
fn unauthorized(a: &Answer, detail: &str) {
    let msg = gateway_error(a, 401, "APIGW.0301");
    let expected = format!("Incorrect IAM authentication information: {detail}");
    assert!(msg.starts_with(&expected), "{msg:?} should start with {expected:?}");
}

fn results(a: &Answer) -> &Vec<Value> {
    assert_eq!(a.status, 200, "{}", a.json);
    a.json["targets"].as_array().expect("targets array")
}

fn success(target: &str) -> Value {
    json!({"target": target, "status": "success"})
}

fn task_seed(task_type: TaskType, status: TaskStatus, subtasks: &[(&str, TaskDetailStatus)]) -> Seed {
    Seed::new(vec![SeedTask {
        project_id: P.to_owned(),
        task_id: T.to_owned(),
        task_type,
        status,
        subtasks: subtasks.iter().map(|(d, s)| ((*d).to_owned(), *s)).collect(),
    }])
    .expect("valid seed")
}

fn stoppable_demo_devices() -> Vec<String> {
    (1..=DEMO_DEVICE_COUNT)
        .filter(|&n| demo_subtask_status(n).is_stoppable())
        .map(demo_device_id)
        .collect()
}

// ------------------------------------------------------- stop semantics

#[tokio::test]
async fn stop_all_stops_every_running_waiting_and_retrying_subtask() {
    let h = start().await;
    let a = stop(&h, "{}").await;
    let expected: Vec<Value> = stoppable_demo_devices().iter().map(|d| success(d)).collect();
    assert_eq!(expected.len(), 255);
    assert_eq!(results(&a), &expected);

    let task = h.task(P, T).expect("task");
    for n in 1..=DEMO_DEVICE_COUNT {
        let before = demo_subtask_status(n);
        let after = if before.is_stoppable() {
            TaskDetailStatus::Stopped
        } else {
            before
        };
        assert_eq!(task.subtasks[&demo_device_id(n)], after, "dev {n}");
    }
    assert_eq!(task.status, TaskStatus::Stopped, "nothing is left to run");
}

#[tokio::test]
async fn targeted_stop_answers_each_target_once_in_request_order() {
    let h = start().await;
    // dev-0003 Processing, dev-0010 Waitting, dev-0016 FailWaitRetry,
    // dev-0018 Fail, dev-0020 Success.
    let body = r#"{"targets":["dev-0003","e495cf17-ff79-4294-8f64-4d367919d665","dev-0018","dev-0003",
                             "dev-0020","dev-0010","dev-0016"]}"#;
    let a = stop(&h, body).await;
    assert_eq!(
        results(&a),
        &vec![
            success("dev-0003"),
            json!({"target": "e495cf17-ff79-4294-8f64-4d367919d665", "status": "failure",
                   "error_code": "IOTDA.014219", "error_msg": "Invalid input. The target is not in the task"}),
            json!({"target": "dev-0018", "status": "failure", "error_code": "IOTDA.000006",
                   "error_msg": "Invalid input. The sub-task of the target is Fail and cannot be stopped."}),
            json!({"target": "dev-0020", "status": "failure", "error_code": "IOTDA.000006",
                   "error_msg": "Invalid input. The sub-task of the target is Success and cannot be stopped."}),
            success("dev-0010"),
            success("dev-0016"),
        ]
    );
    let task = h.task(P, T).expect("task");
    for (device, status) in [
        ("dev-0003", TaskDetailStatus::Stopped),
        ("dev-0010", TaskDetailStatus::Stopped),
        ("dev-0016", TaskDetailStatus::Stopped),
        ("dev-0018", TaskDetailStatus::Fail),
        ("dev-0020", TaskDetailStatus::Success),
        ("dev-0001", TaskDetailStatus::Processing),
    ] {
        assert_eq!(task.subtasks[device], status, "{device}");
    }
    assert_eq!(task.status, TaskStatus::Processing, "other sub-tasks still run");
    assert_eq!(task.count(TaskDetailStatus::Stopped), 3);
}

#[tokio::test]
async fn a_target_stopped_before_is_a_failure_naming_its_state() {
    let h = start().await;
    assert_eq!(
        results(&stop(&h, r#"{"targets":["dev-0001"]}"#).await),
        &vec![success("dev-0001")]
    );
    let again = stop(&h, r#"{"targets":["dev-0001"]}"#).await;
    assert_eq!(
        results(&again),
        &vec![
            json!({"target": "dev-0001", "status": "failure", "error_code": "IOTDA.000006",
                     "error_msg": "Invalid input. The sub-task of the target is Stopped and cannot be stopped."})
        ]
    );
}

#[tokio::test]
async fn stopping_the_last_running_subtask_stops_the_task_which_then_refuses_stops() {
    let seed = task_seed(
        TaskType::SoftwareUpgrade,
        TaskStatus::Processing,
        &[
            ("a", TaskDetailStatus::Processing),
            ("b", TaskDetailStatus::Waitting),
            ("c", TaskDetailStatus::Success),
        ],
    );
    let h = start_with(config().seed(seed)).await;
    stop(&h, r#"{"targets":["a"]}"#).await;
    assert_eq!(h.task(P, T).expect("task").status, TaskStatus::Processing);
    stop(&h, r#"{"targets":["b"]}"#).await;
    let task = h.task(P, T).expect("task");
    assert_eq!(task.status, TaskStatus::Stopped);
    assert_eq!(task.subtasks["c"], TaskDetailStatus::Success);

    let msg = iotda_error(&stop(&h, "{}").await, 400, "IOTDA.000006");
    assert_eq!(msg, "Invalid input. The task is Stopped and cannot be stopped.");
}

#[tokio::test]
async fn an_empty_body_is_treated_like_an_empty_object() {
    let h = start().await;
    // No bytes and no Content-Type at all.
    let a = send(with_token(request(Method::POST, &stop_url(&h, P, T), None))).await;
    assert_eq!(results(&a).len(), 255);
    assert_eq!(h.task(P, T).expect("task").status, TaskStatus::Stopped);
}

#[tokio::test]
async fn unknown_json_fields_are_ignored_and_null_targets_means_all() {
    let h = start().await;
    let a = stop(&h, r#"{"targets":["dev-0001"],"comment":"x","nested":{"a":[1,2]}}"#).await;
    assert_eq!(results(&a), &vec![success("dev-0001")]);
    let a = stop(&h, r#"{"targets":null,"other":1}"#).await;
    assert_eq!(results(&a).len(), 254);
}

#[tokio::test]
async fn content_type_parameters_are_accepted() {
    let h = start().await;
    let r = request(Method::POST, &stop_url(&h, P, T), Some(r#"{"targets":["dev-0001"]}"#));
    let r = header(r, "content-type", "Application/JSON; charset=UTF-8");
    assert_eq!(results(&send(with_token(r)).await), &vec![success("dev-0001")]);
}

#[tokio::test]
async fn exactly_100_targets_are_accepted() {
    let h = start().await;
    let targets: Vec<String> = (1..=100).map(demo_device_id).collect();
    let a = stop(&h, &json!({ "targets": targets }).to_string()).await;
    assert_eq!(results(&a).len(), 100);
}

// ------------------------------------------------------------ refusals

/// Sends `r` and asserts an IoTDA error with `code` and an unchanged state.
async fn refused(h: &EmulatorHandle, r: reqwest::Request, status: u16, code: &str) -> String {
    let before = h.snapshot();
    let msg = iotda_error(&send(r).await, status, code);
    assert_eq!(h.snapshot(), before, "a refused request changes nothing");
    msg
}

fn stop_req(h: &EmulatorHandle, body: &str) -> reqwest::Request {
    with_token(request(Method::POST, &stop_url(h, P, T), Some(body)))
}

#[tokio::test]
async fn invalid_project_id_is_400_000006() {
    let h = start().await;
    for project in ["0123456789abcdef0123456789abcdef0", "xyz", "0123%20"] {
        let r = with_token(request(Method::POST, &stop_url(&h, project, T), Some("{}")));
        let msg = refused(&h, r, 400, "IOTDA.000006").await;
        assert!(msg.starts_with("Invalid input. project_id"), "{msg}");
    }
}

#[tokio::test]
async fn invalid_task_id_is_400_000006() {
    let h = start().await;
    for task in ["61A5F4CBD86B7A1D1C2F3E4A", "61a5f4cbd86b7a1d1c2f3e4a0", "task-1"] {
        let r = with_token(request(Method::POST, &stop_url(&h, P, task), Some("{}")));
        let msg = refused(&h, r, 400, "IOTDA.000006").await;
        assert!(msg.starts_with("Invalid input. task_id"), "{msg}");
    }
}

#[tokio::test]
async fn unknown_task_or_project_is_404_014200() {
    let h = start().await;
    for (project, task) in [(P, "61a5f4cbd86b7a1d1c2f3e49"), ("abcdef", T)] {
        let r = with_token(request(Method::POST, &stop_url(&h, project, task), Some("{}")));
        let msg = refused(&h, r, 404, "IOTDA.014200").await;
        assert_eq!(msg, "The batch task does not exist.");
        let r = with_token(request(Method::GET, &show_url(&h, project, task, ""), None));
        refused(&h, r, 404, "IOTDA.014200").await;
    }
}

#[tokio::test]
async fn wrong_content_type_is_400_000008() {
    let h = start().await;
    for content_type in ["text/plain", "application/jsonx", "application/x-www-form-urlencoded"] {
        let r = header(
            stop_req(&h, r#"{"targets":["dev-0001"]}"#),
            "content-type",
            content_type,
        );
        let msg = refused(&h, r, 400, "IOTDA.000008").await;
        assert!(msg.contains("Content-Type must be application/json"), "{msg}");
    }
    // A body without any Content-Type.
    let mut r = stop_req(&h, "{}");
    r.headers_mut().remove(CONTENT_TYPE);
    refused(&h, r, 400, "IOTDA.000008").await;
}

#[tokio::test]
async fn malformed_json_is_400_000008() {
    let h = start().await;
    for body in ["{", "targets", "[\"dev-0001\"]", "null", " "] {
        refused(&h, stop_req(&h, body), 400, "IOTDA.000008").await;
    }
}

#[tokio::test]
async fn targets_that_are_not_an_array_of_strings_are_400_000008() {
    let h = start().await;
    for body in [
        r#"{"targets":"dev-0001"}"#,
        r#"{"targets":{"dev-0001":true}}"#,
        r#"{"targets":["dev-0001",1]}"#,
        r#"{"targets":[null]}"#,
    ] {
        let msg = refused(&h, stop_req(&h, body), 400, "IOTDA.000008").await;
        assert!(msg.contains("targets must be an array of strings"), "{msg}");
    }
}

#[tokio::test]
async fn more_than_100_targets_is_400_000006() {
    let h = start().await;
    let targets: Vec<String> = (1..=101).map(demo_device_id).collect();
    let msg = refused(
        &h,
        stop_req(&h, &json!({ "targets": targets }).to_string()),
        400,
        "IOTDA.000006",
    )
    .await;
    assert!(msg.contains("101"), "{msg}");
}

#[tokio::test]
async fn an_empty_target_list_is_400_000006() {
    let h = start().await;
    let msg = refused(&h, stop_req(&h, r#"{"targets":[]}"#), 400, "IOTDA.000006").await;
    assert!(msg.starts_with("Invalid input. targets is empty"), "{msg}");
}

#[tokio::test]
async fn a_target_that_is_not_a_device_id_is_400_000006() {
    let too_long = "d".repeat(129);
    let h = start().await;
    for bad in ["", "dev 0001", "dev/0001", "dev\n0001", too_long.as_str()] {
        let body = json!({ "targets": ["dev-0001", bad] }).to_string();
        let msg = refused(&h, stop_req(&h, &body), 400, "IOTDA.000006").await;
        assert!(msg.starts_with("Invalid input. targets[1]"), "{msg}");
    }
}

#[tokio::test]
async fn instance_id_must_match_its_pattern() {
    let h = start().await;
    for bad in ["1A7FFC5C", "1a7ffc5c-d89c-44dd-8265-b1653d951ce0-extra", "x"] {
        let r = header(stop_req(&h, "{}"), "instance-id", bad);
        let msg = refused(&h, r, 400, "IOTDA.000006").await;
        assert!(msg.starts_with("Invalid input. Instance-Id"), "{msg}");
    }
    let r = header(stop_req(&h, r#"{"targets":["dev-0001"]}"#), "instance-id", INSTANCE);
    assert_eq!(results(&send(r).await), &vec![success("dev-0001")]);
}

#[tokio::test]
async fn only_upgrade_tasks_can_be_stopped() {
    let h = start().await;
    let r = with_token(request(
        Method::POST,
        &stop_url(&h, P, DEMO_CREATE_DEVICES_TASK_ID),
        Some("{}"),
    ));
    let msg = refused(&h, r, 400, "IOTDA.000006").await;
    assert_eq!(
        msg,
        "Invalid input. Only firmwareUpgrade and softwareUpgrade tasks can be stopped (this task is createDevices)."
    );
}

#[tokio::test]
async fn finished_or_stopping_tasks_cannot_be_stopped() {
    let h = start().await;
    let r = with_token(request(
        Method::POST,
        &stop_url(&h, P, DEMO_FINISHED_TASK_ID),
        Some("{}"),
    ));
    let msg = refused(&h, r, 400, "IOTDA.000006").await;
    assert_eq!(msg, "Invalid input. The task is Success and cannot be stopped.");

    for status in [
        TaskStatus::Success,
        TaskStatus::Fail,
        TaskStatus::PartialSuccess,
        TaskStatus::Stopped,
        TaskStatus::Stopping,
    ] {
        let seed = task_seed(
            TaskType::FirmwareUpgrade,
            status,
            &[("a", TaskDetailStatus::Processing)],
        );
        let h = start_with(config().seed(seed)).await;
        let msg = refused(&h, stop_req(&h, r#"{"targets":["a"]}"#), 400, "IOTDA.000006").await;
        assert_eq!(
            msg,
            format!("Invalid input. The task is {status} and cannot be stopped.")
        );
    }
    // Initializing and Waitting tasks can be stopped.
    for status in [TaskStatus::Initializing, TaskStatus::Waitting] {
        let seed = task_seed(TaskType::FirmwareUpgrade, status, &[("a", TaskDetailStatus::Waitting)]);
        let h = start_with(config().seed(seed)).await;
        assert_eq!(results(&stop(&h, "{}").await), &vec![success("a")]);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404_apigw_0101() {
    let h = start().await;
    let base = h.base_url();
    let cases = [
        (Method::GET, stop_url(&h, P, T)),
        (Method::PUT, stop_url(&h, P, T)),
        (Method::POST, show_url(&h, P, T, "")),
        (Method::PUT, show_url(&h, P, T, "")),
        (Method::POST, format!("{}/", stop_url(&h, P, T))),
        (Method::POST, format!("{base}/v5/iot/{P}/batchtasks//stop")),
        (Method::GET, format!("{base}/v5/iot/{P}/batchtasks/{T}/retry")),
        (Method::DELETE, format!("{base}/v5/iot/{P}/batchtasks/{T}/confirm")),
        (Method::POST, format!("{base}/v5/iot/{P}/batchtasks/{T}/resume")),
        (Method::DELETE, format!("{base}/v5/iot/{P}/batchtasks")),
        (Method::GET, format!("{base}/v5/iot/{P}/batchtasks/")),
        (Method::GET, format!("{base}/")),
    ];
    for (method, url) in cases {
        let before = h.snapshot();
        // Routing comes before authentication, as at the gateway.
        let a = send(request(method.clone(), &url, Some("{}"))).await;
        let msg = gateway_error(&a, 404, "APIGW.0101");
        assert_eq!(
            msg, "The API does not exist or has not been published in the environment.",
            "{method} {url}"
        );
        assert_eq!(h.snapshot(), before);
    }
}

#[tokio::test]
async fn a_body_over_1_mib_is_413() {
    let h = start().await;
    let before = h.snapshot();
    let body = format!(r#"{{"targets":["dev-0001"],"pad":"{}"}}"#, "x".repeat(1024 * 1024));
    let a = send(stop_req(&h, &body)).await;
    assert_eq!(gateway_error(&a, 413, "APIG.0201"), "Request entity too large.");
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn request_ids_are_unique_across_many_requests_and_outcomes() {
    let h = start().await;
    let client = http();
    let mut ids = HashSet::new();
    for i in 0..200 {
        let r = match i % 5 {
            0 => stop_req(&h, r#"{"targets":["dev-0001"]}"#),
            1 => request(Method::POST, &stop_url(&h, P, T), Some("{}")), // 401
            2 => request(Method::GET, &format!("{}/nope", h.base_url()), None), // 404
            3 => stop_req(&h, "{"),                                      // 400
            _ => with_token(request(Method::GET, &show_url(&h, P, T, "limit=1"), None)),
        };
        let a = send_with(&client, r).await;
        assert!(ids.insert(a.request_id.clone()), "repeated id {}", a.request_id);
    }
    assert_eq!(h.request_count(), 200);
}

// ------------------------------------------------------- ShowBatchTask

#[tokio::test]
async fn show_returns_the_task_and_its_newest_sub_tasks_first() {
    let h = start().await;
    let a = show(&h, "").await;
    assert_eq!(a.status, 200, "{}", a.json);
    let task = &a.json["batchtask"];
    assert_eq!(task["task_id"], T);
    assert_eq!(task["task_type"], "firmwareUpgrade");
    assert_eq!(task["status"], "Processing");
    assert!(task["task_name"].is_string() && task["status_desc"].is_string());
    assert_eq!(task["targets"].as_array().expect("targets").len(), 300);
    let create_time = task["create_time"].as_str().expect("create_time");
    assert!(
        jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", create_time).is_ok(),
        "{create_time}"
    );
    assert_eq!(
        task["task_progress"],
        json!({"total": 300, "processing": 135, "success": 30, "fail": 15, "waitting": 90,
               "fail_wait_retry": 30, "stopped": 0, "removed": 0})
    );
    let details = a.json["task_details"].as_array().expect("task_details");
    assert_eq!(details.len(), 10, "default limit");
    assert_eq!(details[0], json!({"target": "dev-0300", "status": "Success"}));
    assert_eq!(details[9], json!({"target": "dev-0291", "status": "Waitting"}));
    assert_eq!(a.json["page"]["count"], 300);
    let marker = a.json["page"]["marker"].as_str().expect("marker");
    assert!(
        marker.len() == 24 && marker.bytes().all(|b| b.is_ascii_hexdigit()),
        "{marker}"
    );

    // Record IDs are stable: the same query gives the same marker.
    assert_eq!(show(&h, "").await.json["page"]["marker"], marker);
}

fn targets_of(a: &Answer) -> Vec<String> {
    a.json["task_details"]
        .as_array()
        .expect("task_details")
        .iter()
        .map(|d| d["target"].as_str().expect("target").to_owned())
        .collect()
}

#[tokio::test]
async fn show_pages_through_every_sub_task_by_marker_and_offset() {
    let h = start().await;
    let expected: Vec<String> = (1..=DEMO_DEVICE_COUNT).rev().map(demo_device_id).collect();

    // By marker, 50 at a time.
    let mut all = Vec::new();
    let mut marker = None;
    for _ in 0..10 {
        let query = match &marker {
            None => "limit=50".to_owned(),
            Some(m) => format!("limit=50&marker={m}"),
        };
        let a = show(&h, &query).await;
        assert_eq!(a.json["page"]["count"], 300);
        let page = targets_of(&a);
        if page.is_empty() {
            assert!(a.json["page"].get("marker").is_none(), "an empty page has no marker");
            break;
        }
        all.extend(page);
        marker = Some(a.json["page"]["marker"].as_str().expect("marker").to_owned());
    }
    assert_eq!(all, expected);

    // By offset.
    let a = show(&h, "limit=5&offset=10").await;
    assert_eq!(targets_of(&a), expected[10..15]);
    let a = show(&h, "limit=50&offset=500").await;
    assert!(targets_of(&a).is_empty());

    // Marker and offset together; an upper-case marker works too.
    let first = show(&h, "limit=20").await;
    let m = first.json["page"]["marker"].as_str().expect("marker").to_uppercase();
    let a = show(&h, &format!("limit=3&offset=2&marker={m}")).await;
    assert_eq!(targets_of(&a), expected[22..25]);
    // The default marker is the largest possible.
    let a = show(&h, "limit=3&marker=ffffffffffffffffffffffff").await;
    assert_eq!(targets_of(&a), expected[..3]);
}

#[tokio::test]
async fn show_filters_by_sub_task_status_and_target() {
    let h = start().await;
    let a = show(&h, "task_detail_status=Fail&limit=50").await;
    assert_eq!(a.json["page"]["count"], 15);
    assert_eq!(targets_of(&a).len(), 15);
    assert!(
        a.json["task_details"]
            .as_array()
            .expect("details")
            .iter()
            .all(|d| d["status"] == "Fail")
    );
    assert_eq!(targets_of(&a)[0], "dev-0298");

    let a = show(&h, "target=dev-0007").await;
    assert_eq!(a.json["page"]["count"], 1);
    assert_eq!(
        a.json["task_details"],
        json!([{"target": "dev-0007", "status": "Processing"}])
    );

    let a = show(&h, "target=dev-0007&task_detail_status=Waitting").await;
    assert_eq!(a.json["page"]["count"], 0);

    for status in ["Removed", "DeviceInProgress", "Rejected", "Stopped"] {
        let a = show(&h, &format!("task_detail_status={status}")).await;
        assert_eq!(a.json["page"], json!({"count": 0}), "{status}");
    }

    // Stops show up.
    stop(&h, r#"{"targets":["dev-0007","dev-0010"]}"#).await;
    let a = show(&h, "task_detail_status=Stopped").await;
    assert_eq!(targets_of(&a), ["dev-0010", "dev-0007"]);
    assert_eq!(a.json["batchtask"]["task_progress"]["stopped"], 2);
}

#[tokio::test]
async fn show_rejects_invalid_query_parameters() {
    let h = start().await;
    for (query, code) in [
        ("limit=0", "IOTDA.000017"),
        ("limit=51", "IOTDA.000017"),
        ("limit=-1", "IOTDA.000017"),
        ("limit=ten", "IOTDA.000006"),
        ("marker=xyz", "IOTDA.000018"),
        ("marker=fffffffffffffffffffffffff", "IOTDA.000018"),
        ("marker=gggggggggggggggggggggggg", "IOTDA.000018"),
        ("offset=501", "IOTDA.000006"),
        ("offset=-1", "IOTDA.000006"),
        ("offset=1.5", "IOTDA.000006"),
        ("task_detail_status=Running", "IOTDA.000006"),
        ("task_detail_status=success", "IOTDA.000006"),
        ("target=dev%200001", "IOTDA.000006"),
    ] {
        let r = with_token(request(Method::GET, &show_url(&h, P, T, query), None));
        let msg = iotda_error(&send(r).await, 400, code);
        if code == "IOTDA.000017" {
            assert_eq!(msg, "Invalid input. The specified parameter 'limit' is out of range.");
        }
        if code == "IOTDA.000018" {
            assert_eq!(msg, "Invalid input. The specified parameter 'marker' is out of range.");
        }
    }
    // Limits at the edges are fine.
    assert_eq!(targets_of(&show(&h, "limit=1").await).len(), 1);
    assert_eq!(targets_of(&show(&h, "limit=50&offset=0").await).len(), 50);
}

// ------------------------------------------------------------- seeds

const SEED: &str = r#"{"tasks": [{"project_id": "0123456789abcdef0123456789abcdef",
    "task_id": "61a5f4cbd86b7a1d1c2f3e4a", "task_type": "firmwareUpgrade", "status": "Processing",
    "subtasks": {"dev-0001": "Processing", "dev-0002": "Waitting", "dev-0003": "Success"}}]}"#;

fn seed_error(json: &str) -> String {
    Seed::from_json(json).expect_err("refused").to_string()
}

#[test]
fn the_documented_seed_shape_parses() {
    let seed = Seed::from_json(SEED).expect("valid");
    let task = &seed.tasks()[0];
    assert_eq!(task.task_type, TaskType::FirmwareUpgrade);
    assert_eq!(task.status, TaskStatus::Processing);
    assert_eq!(
        task.subtasks.keys().map(String::as_str).collect::<Vec<_>>(),
        ["dev-0001", "dev-0002", "dev-0003"]
    );
    assert_eq!(Seed::from_json(&seed.to_json()).expect("round trip"), seed);
    // Serde's own entry point checks the same rules.
    assert_eq!(serde_json::from_str::<Seed>(SEED).expect("serde"), seed);
    assert!(serde_json::from_str::<Seed>(&SEED.replace("\"Waitting\"", "\"Waiting\"")).is_err());
}

#[test]
fn seed_errors_name_the_problem_and_where_it_is() {
    assert_eq!(
        seed_error(&SEED.replace(r#""dev-0001": "Processing""#, r#""dev-0001": "Runing""#)),
        r#"tasks[0].subtasks["dev-0001"]: unknown sub-task status "Runing" (expected one of Success, Fail, Processing, FailWaitRetry, Stopped, Waitting, Removed, DeviceInProgress, Rejected)"#
    );
    let task = &SEED[r#"{"tasks": ["#.len()..SEED.len() - 2];
    assert_eq!(
        seed_error(&format!(r#"{{"tasks": [{task}, {task}]}}"#)),
        "tasks[1]: duplicate task 61a5f4cbd86b7a1d1c2f3e4a in project 0123456789abcdef0123456789abcdef"
    );
    let e = seed_error(&SEED.replace("0123456789abcdef0123456789abcdef", "project-1"));
    assert!(
        e.starts_with(r#"tasks[0].project_id: "project-1" must be 1 to 32 hexadecimal characters"#),
        "{e}"
    );
    let e = seed_error(&SEED.replace("61a5f4cbd86b7a1d1c2f3e4a", "61A5"));
    assert!(
        e.starts_with(r#"tasks[0].task_id: "61A5" must be 1 to 24 characters"#),
        "{e}"
    );
    let e = seed_error(&SEED.replace("firmwareUpgrade", "firmwareUpdate"));
    assert!(
        e.starts_with(r#"tasks[0].task_type: unknown task_type "firmwareUpdate" (expected one of firmwareUpgrade, softwareUpgrade, moduleUpgrade, createDevices"#),
        "{e}"
    );
    assert_eq!(
        seed_error(&SEED.replace(r#""status": "Processing""#, r#""status": "Running""#)),
        r#"tasks[0].status: unknown task status "Running" (expected one of Initializing, Waitting, Processing, Success, Fail, PartialSuccess, Stopped, Stopping)"#
    );
    let e = seed_error(&SEED.replace("\"dev-0002\"", "\"dev 0002\""));
    assert!(
        e.starts_with(r#"tasks[0].subtasks["dev 0002"]: not a device ID: contains ' '"#),
        "{e}"
    );
    let e = seed_error(&SEED.replace("\"task_type\"", "\"name\": \"x\", \"task_type\""));
    assert!(e.contains("unknown field `name`") && e.contains("line"), "{e}");
    let e = seed_error(&SEED.replace("\"dev-0003\"", "\"dev-0001\""));
    assert!(e.contains(r#"duplicate sub-task "dev-0001""#), "{e}");
    let e = seed_error(r#"{"tasks": [{"project_id": "0123"}]}"#);
    assert!(e.contains("missing field"), "{e}");
}

#[test]
fn seed_files_are_read_and_their_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("seed.json");
    std::fs::write(&good, SEED).expect("write");
    assert_eq!(
        Seed::from_file(&good).expect("valid"),
        Seed::from_json(SEED).expect("valid")
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, SEED.replace("Waitting", "Waiting")).expect("write");
    let e = Seed::from_file(&bad).expect_err("refused");
    assert!(matches!(e, SeedError::InFile { .. }));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("seed file {}: ", bad.display())) && text.contains(r#"subtasks["dev-0002"]"#),
        "{text}"
    );

    let e = Seed::from_file(dir.path().join("missing.json")).expect_err("refused");
    assert!(matches!(e, SeedError::Read { .. }), "{e}");
}

/// Issue 22: `--seed /dev/zero` grew to 1.5 GB and a FIFO hung. Only a
/// regular file of at most `MAX_SEED_BYTES` is read; the error names the
/// file and the limit.
#[test]
fn seed_files_are_bounded_and_must_be_regular_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Sparse: a byte over the limit costs no disk.
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(MAX_SEED_BYTES + 1))
        .expect("sparse file");
    let e = Seed::from_file(&big).expect_err("refused").to_string();
    assert!(
        e.contains(&big.display().to_string()) && e.contains("larger than 64 MiB"),
        "{e}"
    );
    // Exactly at the limit is read (and is then not a seed: all NUL bytes).
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(MAX_SEED_BYTES))
        .expect("sparse file");
    let e = Seed::from_file(&big).expect_err("refused").to_string();
    assert!(e.contains("not a seed"), "{e}");

    #[cfg(unix)]
    for path in [std::path::Path::new("/dev/zero"), dir.path()] {
        let e = Seed::from_file(path).expect_err("refused").to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("not a regular file"),
            "{e}"
        );
    }
}

/// A FIFO is refused without being opened (opening one blocks until a
/// writer comes). Should it be opened, a writer is offered until the call
/// returns, so a regression fails this test instead of hanging it.
#[cfg(unix)]
#[test]
fn a_fifo_as_the_seed_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("seed.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Seed::from_file(&path).map_err(|e| e.to_string()));
    });
    let result = loop {
        // Opening read-write never blocks on Linux, and wakes a reader
        // blocked in open; closing it again gives that reader EOF.
        drop(std::fs::OpenOptions::new().read(true).write(true).open(&fifo));
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(result) => break result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(e) => panic!("the reading thread ended without an answer: {e}"),
        }
    };
    let e = result.expect_err("refused");
    assert!(
        e.contains(&fifo.display().to_string()) && e.contains("not a regular file"),
        "{e}"
    );
}

#[test]
fn the_demo_seed_is_valid() {
    let demo = Seed::demo();
    assert_eq!(Seed::from_json(&demo.to_json()).expect("demo is valid"), demo);
    let tasks = demo.tasks();
    assert_eq!(tasks.len(), 5);
    assert!(tasks.iter().all(|t| t.project_id == DEMO_PROJECT_ID));

    let upgrade = &tasks[0];
    assert_eq!(
        (upgrade.task_id.as_str(), upgrade.task_type),
        (DEMO_TASK_ID, TaskType::FirmwareUpgrade)
    );
    assert_eq!(upgrade.status, TaskStatus::Processing);
    assert_eq!(upgrade.subtasks.len(), DEMO_DEVICE_COUNT);
    assert_eq!(upgrade.subtasks.keys().next().map(String::as_str), Some("dev-0001"));
    assert_eq!(upgrade.subtasks.keys().last().map(String::as_str), Some("dev-0300"));
    let count = |s| upgrade.subtasks.values().filter(|v| **v == s).count();
    assert!(count(TaskDetailStatus::Processing) > count(TaskDetailStatus::Success));
    assert!(count(TaskDetailStatus::Waitting) > count(TaskDetailStatus::Fail));
    for s in [
        TaskDetailStatus::FailWaitRetry,
        TaskDetailStatus::Success,
        TaskDetailStatus::Fail,
    ] {
        assert!(count(s) > 0, "{s}");
    }

    assert_eq!(tasks[1].task_id, DEMO_FINISHED_TASK_ID);
    assert_eq!(
        (tasks[1].task_type, tasks[1].status),
        (TaskType::SoftwareUpgrade, TaskStatus::Success)
    );
    assert_eq!(tasks[2].task_id, DEMO_CREATE_DEVICES_TASK_ID);
    assert_eq!(
        (tasks[2].task_type, tasks[2].status),
        (TaskType::CreateDevices, TaskStatus::Processing)
    );
}

// ----------------------------------------------------------- lifecycle

#[tokio::test]
async fn a_non_loopback_address_is_refused() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8080"] {
        let config = config().listen(addr.parse().expect("addr"));
        match Emulator::start(config).await {
            Err(EmulatorError::NonLoopback { addr: refused }) => assert_eq!(refused.to_string(), addr),
            other => panic!("{addr}: expected NonLoopback, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_invalid_configuration_is_refused() {
    for config in [
        config().region("CN North"),
        config().ak_sk("AK with spaces", SK),
        config().ak_sk(AK, SK).ak_sk(AK, OTHER_SK),
        config().token(" padded "),
        config().header_read_timeout(Duration::ZERO),
        config().max_connections(0),
    ] {
        assert!(matches!(Emulator::start(config).await, Err(EmulatorError::Config(_))));
    }
}

#[tokio::test]
async fn shutdown_stops_the_server_and_drop_does_too() {
    let h = start().await;
    let addr = h.addr();
    assert_eq!(h.base_url(), format!("http://127.0.0.1:{}", addr.port()));
    stop(&h, "{}").await;
    tokio::time::timeout(Duration::from_secs(10), h.shutdown())
        .await
        .expect("shutdown is bounded");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );

    let h = start().await;
    let addr = h.addr();
    drop(h);
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "dropping the handle stops the server");
}

/// Runs `Emulator::serve_until` (no auth) on a task; returns the bound
/// address, the sender that tells it to stop, and the task.
async fn serve_until_spawned() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), iotda_batchtask_emulator::EmulatorError>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(Emulator::serve_until(
        config().auth_enabled(false),
        async move {
            let _ = rx.await;
        },
        move |addr| {
            let _ = addr_tx.send(addr);
        },
    ));
    let addr = tokio::time::timeout(Duration::from_secs(10), addr_rx)
        .await
        .expect("listening in time")
        .expect("address");
    (addr, tx, server)
}

/// Tells a [`serve_until_spawned`] server to stop; it must end cleanly within `limit`.
async fn stop_within(
    tx: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), iotda_batchtask_emulator::EmulatorError>>,
    limit: Duration,
) {
    tx.send(()).expect("server waits");
    tokio::time::timeout(limit, server)
        .await
        .expect("stops in time")
        .expect("no panic")
        .expect("no error");
}

#[tokio::test]
async fn serve_until_reports_the_address_then_runs_until_told_to_stop() {
    let (addr, tx, server) = serve_until_spawned().await;
    let url = format!("http://{addr}/v5/iot/{P}/batchtasks/{T}");
    assert_eq!(send(request(Method::GET, &url, None)).await.status, 200);
    stop_within(tx, server, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn serve_until_ends_within_the_grace_period_despite_a_stalled_client() {
    use tokio::io::AsyncWriteExt as _;

    let (addr, tx, server) = serve_until_spawned().await;
    // Declares a 100-byte body, sends 5 bytes, and keeps the connection open.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let head =
        format!("POST /v5/iot/{P}/batchtasks/{T}/stop HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100\r\n\r\n{{\"tar");
    stalled.write_all(head.as_bytes()).await.expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = std::time::Instant::now();
    // Within the 5 s grace, not when the client gives up (never).
    stop_within(tx, server, Duration::from_secs(8)).await;
    assert!(
        asked.elapsed() >= Duration::from_secs(4),
        "it waited for the in-flight request first"
    );
    assert!(
        read_until_closed(&mut stalled, Duration::from_secs(10)).await.is_some(),
        "the stalled connection is closed once the grace period is over"
    );
}

// -------------------------------------------------------- hostile clients

/// Auth off, so a raw request needs no credentials.
fn open_config() -> EmulatorConfig {
    config().auth_enabled(false)
}

/// A complete ShowBatchTask request head (no body) for a raw connection.
fn raw_show(addr: std::net::SocketAddr) -> String {
    format!("GET /v5/iot/{P}/batchtasks/{T} HTTP/1.1\r\nhost: {addr}\r\n\r\n")
}

/// Reads until the server closes the connection (end of stream or a reset)
/// and returns what arrived, or `None` if it is still open after `limit`.
async fn read_until_closed<R: tokio::io::AsyncRead + Unpin>(stream: &mut R, limit: Duration) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;

    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok().map(|()| got)
}

/// Reads one response with a `content-length` from a raw connection and
/// returns its status line.
async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;

    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .expect("a content-length")
                    .trim()
                    .parse()
                    .expect("a number");
                if got.len() >= end + 4 + length {
                    return head.lines().next().unwrap_or_default().to_owned();
                }
            }
            let n = stream.read(&mut buf).await.expect("reads");
            assert_ne!(n, 0, "closed mid-response: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a response in time")
}

/// A ShowBatchTask through a fresh reqwest client: the server still serves.
async fn still_serves(h: &EmulatorHandle) {
    assert_eq!(
        send(request(Method::GET, &show_url(h, P, T, ""), None)).await.status,
        200
    );
}

#[tokio::test]
async fn a_slowloris_head_is_cut_off_after_the_header_read_timeout() {
    use tokio::io::AsyncWriteExt as _;

    let timeout = Duration::from_millis(300);
    let h = start_with(open_config().header_read_timeout(timeout)).await;
    let started = std::time::Instant::now();
    let (mut rd, mut wr) = tokio::net::TcpStream::connect(h.addr())
        .await
        .expect("connects")
        .into_split();
    wr.write_all(format!("GET /v5/iot/{P}/batchtasks/{T} HTTP/1.1\r\nhost: {}\r\n", h.addr()).as_bytes())
        .await
        .expect("sent");
    // Keeps trickling header lines, never ending the head.
    let drip = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if wr.write_all(b"x-drip: 1\r\n").await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        closed = read_until_closed(&mut rd, Duration::from_secs(10)) => {
            let got = closed.expect("the slow head is cut off");
            assert!(!String::from_utf8_lossy(&got).contains(" 200 "), "never answered");
        }
        () = drip => {}
    }
    assert!(started.elapsed() >= timeout, "not before the timeout");
    still_serves(&h).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    use tokio::io::AsyncWriteExt as _;

    let timeout = Duration::from_millis(300);
    let h = start_with(open_config().header_read_timeout(timeout)).await;
    let mut conn = tokio::net::TcpStream::connect(h.addr()).await.expect("connects");
    // Keep-alive works: two requests on one connection.
    for _ in 0..2 {
        conn.write_all(raw_show(h.addr()).as_bytes()).await.expect("sent");
        assert_eq!(read_response(&mut conn).await, "http/1.1 200 ok");
    }
    let last_sent = std::time::Instant::now();
    conn.write_all(raw_show(h.addr()).as_bytes()).await.expect("sent");
    assert_eq!(read_response(&mut conn).await, "http/1.1 200 ok");
    let rest = read_until_closed(&mut conn, Duration::from_secs(10))
        .await
        .expect("the idle connection is closed");
    assert!(
        rest.is_empty(),
        "nothing more was sent: {}",
        String::from_utf8_lossy(&rest)
    );
    assert!(last_sent.elapsed() >= timeout, "not before the timeout");
    still_serves(&h).await;
}

#[tokio::test]
async fn over_the_connection_limit_new_connections_are_closed_and_served_ones_keep_going() {
    use tokio::io::AsyncWriteExt as _;

    const LIMIT: usize = 8;
    // Long enough for the steps below on a loaded machine, short enough to wait out.
    let timeout = Duration::from_secs(4);
    let h = start_with(open_config().header_read_timeout(timeout).max_connections(LIMIT)).await;
    let mut served = tokio::net::TcpStream::connect(h.addr()).await.expect("connects");
    served.write_all(raw_show(h.addr()).as_bytes()).await.expect("sent");
    assert_eq!(read_response(&mut served).await, "http/1.1 200 ok");
    // Connections are accepted in order, so these take the other permits.
    let mut idle = Vec::new();
    for _ in 1..LIMIT {
        idle.push(tokio::net::TcpStream::connect(h.addr()).await.expect("connects"));
    }

    // One more is accepted and closed unanswered.
    let mut extra = tokio::net::TcpStream::connect(h.addr())
        .await
        .expect("the kernel accepts it");
    let _ = extra.write_all(raw_show(h.addr()).as_bytes()).await;
    let got = read_until_closed(&mut extra, Duration::from_secs(10))
        .await
        .expect("closed at once, not after the header timeout");
    assert!(got.is_empty(), "no response: {}", String::from_utf8_lossy(&got));

    // The connection being served still is.
    served.write_all(raw_show(h.addr()).as_bytes()).await.expect("sent");
    assert_eq!(read_response(&mut served).await, "http/1.1 200 ok");

    // Once the idle ones time out, a newcomer is served.
    for mut conn in idle {
        assert!(
            read_until_closed(&mut conn, timeout + Duration::from_secs(10))
                .await
                .is_some(),
            "idle connections time out"
        );
    }
    drop(served);
    let mut answered = false;
    for _ in 0..100 {
        let mut conn = tokio::net::TcpStream::connect(h.addr()).await.expect("connects");
        if conn.write_all(raw_show(h.addr()).as_bytes()).await.is_ok()
            && let Ok(Ok(head)) = tokio::time::timeout(Duration::from_secs(10), async {
                use tokio::io::AsyncReadExt as _;
                let mut buf = [0u8; 64];
                conn.read(&mut buf)
                    .await
                    .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
            })
            .await
            && head.starts_with("HTTP/1.1 200")
        {
            answered = true;
            break;
        }
        // The server may not have noticed the closed `served` yet.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "a well-behaved client is served once the limit frees up");
}

#[tokio::test]
async fn a_head_larger_than_the_connection_buffer_is_refused() {
    use iotda_batchtask_emulator::MAX_CONNECTION_BUFFER_BYTES;
    use tokio::io::AsyncWriteExt as _;

    // Far longer than the test: the connection is not closed by the timeout.
    let h = start_with(open_config().header_read_timeout(Duration::from_secs(120))).await;
    let mut big = tokio::net::TcpStream::connect(h.addr()).await.expect("connects");
    let head = format!(
        "GET /v5/iot/{P}/batchtasks/{T} HTTP/1.1\r\nhost: {}\r\nx-pad: ",
        h.addr()
    );
    let _ = big.write_all(head.as_bytes()).await;
    // The server may close mid-write; that is the point.
    let _ = big.write_all(&vec![b'a'; MAX_CONNECTION_BUFFER_BYTES + 4096]).await;
    let got = read_until_closed(&mut big, Duration::from_secs(10))
        .await
        .expect("an oversized head closes the connection");
    // The 431 may be lost to the reset that closing over unread data causes.
    let got = String::from_utf8_lossy(&got);
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 431"), "{got}");
    still_serves(&h).await;
}

#[tokio::test]
async fn partial_heads_are_held_on_at_most_the_connection_limit() {
    use iotda_batchtask_emulator::MAX_CONNECTION_BUFFER_BYTES;
    use tokio::io::AsyncWriteExt as _;

    const LIMIT: usize = 8;
    // Far longer than the test: nothing here is closed by the timeout.
    let h = start_with(
        open_config()
            .header_read_timeout(Duration::from_secs(120))
            .max_connections(LIMIT),
    )
    .await;
    // Three times the limit of partial heads, each just under the buffer:
    // LIMIT connections hold one (so at most LIMIT buffers of
    // MAX_CONNECTION_BUFFER_BYTES), every other one is closed at once.
    let head = format!(
        "GET /v5/iot/{P}/batchtasks/{T} HTTP/1.1\r\nhost: {}\r\nx-pad: ",
        h.addr()
    );
    let partial = [head.as_bytes(), &vec![b'a'; MAX_CONNECTION_BUFFER_BYTES - 2048]].concat();
    let mut watching = tokio::task::JoinSet::new();
    for _ in 0..3 * LIMIT {
        let mut conn = tokio::net::TcpStream::connect(h.addr()).await.expect("connects");
        // A refused connection may already be closed.
        let _ = conn.write_all(&partial).await;
        watching.spawn(async move { read_until_closed(&mut conn, Duration::from_secs(60)).await });
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        for _ in 0..2 * LIMIT {
            let got = watching
                .join_next()
                .await
                .expect("a connection")
                .expect("no panic")
                .expect("closed");
            assert!(got.is_empty(), "no response: {}", String::from_utf8_lossy(&got));
        }
    })
    .await
    .expect("every connection over the limit is closed promptly");
    // The held ones cannot close (no timeout, no full buffer) unless the limit is wrong.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        watching.try_join_next().is_none(),
        "exactly the limit hold a partial head"
    );
    assert_eq!(watching.len(), LIMIT);

    // Dropping them gives their permits back, as the server sees them close.
    watching.shutdown().await;
    let client = http();
    let mut served = false;
    for _ in 0..100 {
        if let Ok(response) = client.get(show_url(&h, P, T, "")).send().await
            && response.status() == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "served again once the partial heads are gone");
}

// ---------------------------------------------------------- authentication

#[tokio::test]
async fn the_client_authenticates_in_every_mode() {
    let h = start().await;
    for (mode, device) in [
        (Mode::Token, "dev-0001"),
        (Mode::Plain, "dev-0002"),
        (Mode::Derived, "dev-0003"),
    ] {
        let out = common::client(&h.base_url(), mode)
            .stop_batch_task(T)
            .targets([device])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(out.all_succeeded(), "{mode:?}: {out:?}");
        assert!(out.request_ids().first().is_some_and(|id| is_request_id(id)));
        assert_eq!(h.task(P, T).expect("task").subtasks[device], TaskDetailStatus::Stopped);
    }
}

#[tokio::test]
async fn signed_requests_verify_plain_derived_and_temporary() {
    let h = start().await;
    let body = r#"{"targets":["dev-0001"]}"#;
    let a = send(signed(
        request(Method::POST, &stop_url(&h, P, T), Some(body)),
        Algorithm::Plain,
    ))
    .await;
    assert_eq!(results(&a), &vec![success("dev-0001")]);
    let body = r#"{"targets":["dev-0002"]}"#;
    let a = send(signed(
        request(Method::POST, &stop_url(&h, P, T), Some(body)),
        derived(),
    ))
    .await;
    assert_eq!(results(&a), &vec![success("dev-0002")]);
    // Temporary credentials: X-Security-Token is sent and signed.
    let body = r#"{"targets":["dev-0003"]}"#;
    let r = request(Method::POST, &stop_url(&h, P, T), Some(body));
    let r = signed_with(
        r,
        &Credentials::temporary(AK, SK, SECURITY_TOKEN),
        derived(),
        Timestamp::now(),
    );
    assert_eq!(results(&send(r).await), &vec![success("dev-0003")]);
    // A signed GET with a query (canonicalised by the signer).
    let r = signed(
        request(Method::GET, &show_url(&h, P, T, "limit=2&offset=1"), None),
        Algorithm::Plain,
    );
    assert_eq!(targets_of(&send(r).await), ["dev-0299", "dev-0298"]);
    // The client through `Signing::Auto` (derived on loopback).
    let client = iotda_batchtask::Client::builder(h.base_url())
        .project_id(P)
        .credentials(Credentials::ak_sk(AK, SK))
        .signing(Signing::Auto)
        .region("cn-north-4")
        .build()
        .expect("client");
    let out = client
        .stop_batch_task(T)
        .target("dev-0004")
        .send()
        .await
        .expect("stops");
    assert!(out.results()[0].is_success());
}

/// Sends `r` and asserts a 401 with `detail` and an unchanged state.
async fn rejected(h: &EmulatorHandle, r: reqwest::Request, detail: &str) {
    let before = h.snapshot();
    unauthorized(&send(r).await, detail);
    assert_eq!(h.snapshot(), before, "a rejected request changes nothing");
}

fn stop_body() -> Option<&'static str> {
    Some(r#"{"targets":["dev-0001"]}"#)
}

#[tokio::test]
async fn a_forged_signature_is_401() {
    let h = start().await;
    for algorithm in [Algorithm::Plain, derived()] {
        let mut r = signed(request(Method::POST, &stop_url(&h, P, T), stop_body()), algorithm);
        let auth = r.headers()["authorization"].to_str().expect("ascii").to_owned();
        let last = auth.chars().last().expect("non-empty");
        let flipped = format!("{}{}", &auth[..auth.len() - 1], if last == '0' { '1' } else { '0' });
        r.headers_mut()
            .insert("authorization", HeaderValue::from_str(&flipped).expect("ascii"));
        rejected(&h, r, "verify aksk signature fail").await;
    }
    // Signed with a secret key the emulator does not know for this AK.
    let r = request(Method::POST, &stop_url(&h, P, T), stop_body());
    let r = signed_with(r, &Credentials::ak_sk(AK, OTHER_SK), Algorithm::Plain, Timestamp::now());
    rejected(&h, r, "verify aksk signature fail").await;
}

#[tokio::test]
async fn a_signature_replayed_with_another_body_is_401() {
    let h = start().await;
    let mut r = signed(
        request(Method::POST, &stop_url(&h, P, T), Some(r#"{"targets":["dev-0001"]}"#)),
        derived(),
    );
    *r.body_mut() = Some(r#"{}"#.into());
    rejected(&h, r, "verify aksk signature fail").await;
}

#[tokio::test]
async fn a_signature_replayed_on_another_path_or_query_is_401() {
    let h = start().await;
    let original = signed(
        request(Method::POST, &stop_url(&h, P, DEMO_FINISHED_TASK_ID), stop_body()),
        Algorithm::Plain,
    );
    let mut replay = request(Method::POST, &stop_url(&h, P, T), stop_body());
    *replay.headers_mut() = original.headers().clone();
    rejected(&h, replay, "verify aksk signature fail").await;

    let original = signed(request(Method::GET, &show_url(&h, P, T, "limit=5"), None), derived());
    let mut replay = request(Method::GET, &show_url(&h, P, T, "limit=50"), None);
    *replay.headers_mut() = original.headers().clone();
    unauthorized(&send(replay).await, "verify aksk signature fail");
}

#[tokio::test]
async fn a_stale_or_future_sdk_date_is_401() {
    let h = start().await;
    for offset in [SignedDuration::from_mins(-20), SignedDuration::from_mins(20)] {
        for algorithm in [Algorithm::Plain, derived()] {
            let at = Timestamp::now() + offset;
            let r = request(Method::POST, &stop_url(&h, P, T), stop_body());
            let r = signed_with(r, &Credentials::ak_sk(AK, SK), algorithm, at);
            rejected(&h, r, "verify aksk signature fail").await;
        }
    }
    // Within the allowed skew is fine.
    let r = request(Method::POST, &stop_url(&h, P, T), stop_body());
    let r = signed_with(
        r,
        &Credentials::ak_sk(AK, SK),
        derived(),
        Timestamp::now() - SignedDuration::from_mins(10),
    );
    assert_eq!(send(r).await.status, 200);
}

#[tokio::test]
async fn an_unknown_access_key_is_401() {
    let h = start().await;
    let r = request(Method::POST, &stop_url(&h, P, T), stop_body());
    let r = signed_with(
        r,
        &Credentials::ak_sk("UNKNOWNAK0000000", SK),
        derived(),
        Timestamp::now(),
    );
    let before = h.snapshot();
    let a = send(r).await;
    let msg = gateway_error(&a, 401, "APIGW.0301");
    assert_eq!(
        msg,
        "Incorrect IAM authentication information: Get secretKey failed,ak:******,err:ak not exist"
    );
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn a_wrong_token_is_401() {
    let h = start().await;
    let r = header(
        request(Method::POST, &stop_url(&h, P, T), stop_body()),
        "x-auth-token",
        "not-the-token",
    );
    rejected(&h, r, "decrypt token fail").await;
}

#[tokio::test]
async fn a_token_in_the_wrong_header_is_401() {
    let h = start().await;
    let r = request(Method::POST, &stop_url(&h, P, T), stop_body());
    let r = header(r, "authorization", &format!("Bearer {TOKEN}"));
    let before = h.snapshot();
    let msg = gateway_error(&send(r).await, 401, "APIGW.0301");
    assert_eq!(msg, format!("Incorrect IAM authentication information: {MALFORMED}"));
    assert_eq!(h.snapshot(), before);

    let r = header(
        request(Method::POST, &stop_url(&h, P, T), stop_body()),
        "x-subject-token",
        TOKEN,
    );
    rejected(&h, r, "x-auth-token not found").await;
}

#[tokio::test]
async fn signed_headers_without_host_are_401() {
    let h = start().await;
    let mut r = signed(
        request(Method::POST, &stop_url(&h, P, T), stop_body()),
        Algorithm::Plain,
    );
    let auth = r.headers()["authorization"]
        .to_str()
        .expect("ascii")
        .replace("host;", "");
    assert!(auth.contains("SignedHeaders=content-type;x-sdk-date,"), "{auth}");
    r = header(r, "authorization", &auth);
    // Refused for the missing host itself, not for the signature.
    rejected(&h, r, "verify aksk signature fail, host is not a signed header").await;
}

#[tokio::test]
async fn signed_header_values_changed_after_signing_are_401() {
    let h = start().await;
    for algorithm in [Algorithm::Plain, derived()] {
        let r = signed(
            request(Method::POST, &stop_url(&h, P, T), stop_body()),
            algorithm.clone(),
        );
        rejected(
            &h,
            header(r, "content-type", "application/json; charset=utf-8"),
            "verify aksk signature fail",
        )
        .await;
        let mut r = signed(request(Method::POST, &stop_url(&h, P, T), stop_body()), algorithm);
        r.headers_mut()
            .append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        rejected(&h, r, "verify aksk signature fail").await;
    }
}

#[tokio::test]
async fn an_unsigned_security_token_or_a_foreign_scope_is_401() {
    let h = start().await;
    let r = signed(request(Method::POST, &stop_url(&h, P, T), stop_body()), derived());
    rejected(
        &h,
        header(r, "x-security-token", SECURITY_TOKEN),
        "verify aksk signature fail",
    )
    .await;

    let other_region = Algorithm::Derived {
        region: "cn-south-1".into(),
        service: "iotdm".into(),
    };
    let r = signed(request(Method::POST, &stop_url(&h, P, T), stop_body()), other_region);
    rejected(&h, r, "verify aksk signature fail").await;

    let other_service = Algorithm::Derived {
        region: "cn-north-4".into(),
        service: "iotda".into(),
    };
    let r = signed(request(Method::POST, &stop_url(&h, P, T), stop_body()), other_service);
    rejected(&h, r, "verify aksk signature fail").await;
}

#[tokio::test]
async fn missing_credentials_are_401_before_any_validation() {
    let h = start().await;
    rejected(
        &h,
        request(Method::POST, &stop_url(&h, P, T), stop_body()),
        "x-auth-token not found",
    )
    .await;
    // Even an invalid request is refused by authentication first.
    rejected(
        &h,
        request(Method::POST, &stop_url(&h, P, "BAD"), Some("{")),
        "x-auth-token not found",
    )
    .await;
    rejected(
        &h,
        request(Method::GET, &show_url(&h, P, T, "limit=0"), None),
        "x-auth-token not found",
    )
    .await;
    let r = header(
        request(Method::POST, &stop_url(&h, P, T), stop_body()),
        "authorization",
        "garbage",
    );
    rejected(&h, r, MALFORMED).await;
}

#[tokio::test]
async fn with_auth_disabled_everything_is_accepted() {
    let h = start_with(EmulatorConfig::new().auth_enabled(false)).await;
    let a = send(request(Method::POST, &stop_url(&h, P, T), stop_body())).await;
    assert_eq!(results(&a), &vec![success("dev-0001")]);
    let r = header(
        request(Method::POST, &stop_url(&h, P, T), Some(r#"{"targets":["dev-0002"]}"#)),
        "x-auth-token",
        "anything",
    );
    assert_eq!(send(r).await.status, 200);
}

// ------------------------------------------------------------ concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overlapping_stops_stop_each_sub_task_exactly_once() {
    const DEVICES: usize = 400;
    const CLIENTS: usize = 16;
    const PER_CLIENT: usize = 100;
    const COVERED: usize = 18 * (CLIENTS - 1) + PER_CLIENT;
    let device = |i: usize| format!("d-{i:03}");
    let initial = |i: usize| match i % 4 {
        0 => TaskDetailStatus::Processing,
        1 => TaskDetailStatus::Waitting,
        2 => TaskDetailStatus::FailWaitRetry,
        _ => TaskDetailStatus::Success,
    };
    let seed = Seed::new(vec![SeedTask {
        project_id: P.to_owned(),
        task_id: T.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks: (0..DEVICES).map(|i| (device(i), initial(i))).collect(),
    }])
    .expect("valid seed");
    let h = start_with(config().seed(seed)).await;
    let url = stop_url(&h, P, T);

    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        let url = url.clone();
        // Client k covers devices 18k..18k+99, so neighbours overlap by 82;
        // devices from COVERED on are left running, so the task stays
        // Processing and no request is refused as a whole.
        let targets: Vec<String> = (0..PER_CLIENT).map(|j| device(k * 18 + j)).collect();
        clients.push(tokio::spawn(async move {
            let client = http();
            let mut answers = Vec::new();
            for chunk in targets.chunks(PER_CLIENT / 2) {
                // Each request repeats its first target at the end; it is answered once.
                let mut body = chunk.to_vec();
                body.push(chunk[0].clone());
                let body = json!({ "targets": body }).to_string();
                answers.push(send_with(&client, with_token(request(Method::POST, &url, Some(&body)))).await);
            }
            answers
        }));
    }
    let mut stopped_by_requests = Vec::new();
    let mut failures = 0;
    for client in clients {
        let answers = tokio::time::timeout(Duration::from_secs(30), client)
            .await
            .expect("bounded")
            .expect("no panic");
        for a in answers {
            for r in results(&a) {
                match r["status"].as_str() {
                    Some("success") => stopped_by_requests.push(r["target"].as_str().expect("target").to_owned()),
                    Some("failure") => {
                        failures += 1;
                        assert_eq!(r["error_code"], "IOTDA.000006", "{r}");
                    }
                    other => panic!("unexpected status {other:?}"),
                }
            }
        }
    }
    let unique: BTreeSet<String> = stopped_by_requests.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        stopped_by_requests.len(),
        "no target is reported stopped twice"
    );

    let task = h.task(P, T).expect("task");
    assert_eq!(task.subtasks.len(), DEVICES);
    let now_stopped: BTreeSet<String> = task
        .subtasks
        .iter()
        .filter(|(_, s)| **s == TaskDetailStatus::Stopped)
        .map(|(d, _)| d.clone())
        .collect();
    assert_eq!(unique, now_stopped, "exactly the reported sub-tasks were stopped");
    let expected: BTreeSet<String> = (0..COVERED)
        .filter(|i| initial(*i).is_stoppable())
        .map(device)
        .collect();
    assert_eq!(now_stopped, expected);
    for i in (0..DEVICES).filter(|i| !expected.contains(&device(*i))) {
        assert_eq!(
            task.subtasks[&device(i)],
            initial(i),
            "untouched and final sub-tasks keep their state"
        );
    }
    assert_eq!(
        failures,
        CLIENTS * PER_CLIENT - expected.len(),
        "every other answer is a failure"
    );
    assert_eq!(task.status, TaskStatus::Processing, "devices past {COVERED} still run");
    assert_eq!(h.request_count(), (CLIENTS * 2) as u64);
}
