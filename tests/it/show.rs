//! ShowBatchTask: the client (one page, and every sub-task across pages)
//! against the emulator, and the emulator's answers against the generated
//! types.

use crate::common;

use common::*;
use futures_util::TryStreamExt as _;
use iotda_batchtask::types::{self, TaskDetailStatus};
use iotda_batchtask::{Client, Credentials, Error, Signing};
use iotda_batchtask_emulator::{
    DEMO_DEVICE_COUNT, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, EmulatorHandle, Seed,
};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn demo() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::new().seed(Seed::demo()).ak_sk(AK, SK).token(TOKEN))
        .await
        .unwrap()
}

fn client_for(emulator: &EmulatorHandle, mode: Mode) -> Client {
    let builder = Client::builder(emulator.base_url()).project_id(DEMO_PROJECT_ID);
    match mode {
        Mode::Token => builder.credentials(Credentials::token(TOKEN)),
        Mode::Plain => builder.credentials(Credentials::ak_sk(AK, SK)).signing(Signing::Plain),
        Mode::Derived => builder.credentials(Credentials::ak_sk(AK, SK)).region("cn-north-4"),
    }
    .build()
    .unwrap()
}

/// Every emulator answer parses into the generated `BatchTask` and
/// serialises back to the same JSON: no field the types do not know, none
/// renamed, none of another type.
#[tokio::test]
async fn emulator_answers_round_trip_through_the_generated_types() {
    let emulator = demo().await;
    client_for(&emulator, Mode::Token)
        .stop_batch_task(DEMO_TASK_ID)
        .targets(["dev-0001", "dev-0019"])
        .send()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/v5/iot/{DEMO_PROJECT_ID}/batchtasks", emulator.base_url());
    for query in [
        "",
        "?limit=50",
        "?limit=3&offset=2",
        "?task_detail_status=Stopped",
        "?target=dev-0019",
        "?marker=000000000000000000000000",
    ] {
        let raw: Value = http
            .get(format!("{base}/{DEMO_TASK_ID}{query}"))
            .header("x-auth-token", TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let typed: types::BatchTask = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            without_empty(raw),
            "query {query:?}"
        );
    }
}

/// The generated types leave out empty arrays and maps when serialising.
fn without_empty(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| {
                    !matches!(v, Value::Array(a) if a.is_empty()) && !matches!(v, Value::Object(o) if o.is_empty())
                })
                .map(|(k, v)| (k, without_empty(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_empty).collect()),
        other => other,
    }
}

#[tokio::test]
async fn one_page_in_every_auth_mode() {
    let emulator = demo().await;
    for mode in MODES {
        let out = client_for(&emulator, mode)
            .show_batch_task(DEMO_TASK_ID)
            .send()
            .await
            .unwrap();
        let task = out.task().unwrap();
        assert_eq!(task.task_id.as_deref(), Some(DEMO_TASK_ID));
        assert_eq!(task.task_type.as_deref(), Some("firmwareUpgrade"));
        assert_eq!(
            task.task_progress.as_ref().unwrap().total,
            Some(DEMO_DEVICE_COUNT as i64)
        );
        assert_eq!(out.sub_tasks().len(), 10, "the API's default page size");
        assert_eq!(out.page().unwrap().count, Some(DEMO_DEVICE_COUNT as i64));
        assert_eq!(out.request_id().map(str::len), Some(32), "{mode:?}");
    }
}

#[tokio::test]
async fn the_stream_follows_the_pages_to_every_sub_task() {
    let emulator = demo().await;
    let client = client_for(&emulator, Mode::Derived);
    let before = emulator.request_count();
    let all: Vec<types::TaskDetail> = client
        .show_batch_task(DEMO_TASK_ID)
        .sub_tasks()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), DEMO_DEVICE_COUNT);
    // Six full pages of 50; the empty seventh ends the stream (page.count is
    // not relied on: Huawei does not document whether it counts past a marker).
    assert_eq!(emulator.request_count() - before, 7);
    let mut targets: Vec<&str> = all.iter().map(|d| d.target.as_deref().unwrap()).collect();
    targets.sort_unstable();
    targets.dedup();
    assert_eq!(targets.len(), DEMO_DEVICE_COUNT, "no sub-task twice, none missed");

    // Small pages, a filter, and an offset on the first page only.
    client
        .stop_batch_task(DEMO_TASK_ID)
        .targets(["dev-0001", "dev-0002", "dev-0003"])
        .send()
        .await
        .unwrap();
    let stopped: Vec<types::TaskDetail> = client
        .show_batch_task(DEMO_TASK_ID)
        .status(TaskDetailStatus::Stopped)
        .limit(2)
        .sub_tasks()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stopped.len(), 3);
    assert!(stopped.iter().all(|d| d.status.as_deref() == Some("Stopped")));
    let after_offset: Vec<types::TaskDetail> = client
        .show_batch_task(DEMO_TASK_ID)
        .offset(290)
        .sub_tasks()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after_offset.len(), 10);
    let one = client
        .show_batch_task(DEMO_TASK_ID)
        .target("dev-0002")
        .send()
        .await
        .unwrap();
    assert_eq!(one.sub_tasks().len(), 1);
    assert_eq!(one.sub_tasks()[0].status.as_deref(), Some("Stopped"));
}

#[tokio::test]
async fn bad_input_is_rejected_before_sending() {
    let emulator = demo().await;
    let client = client_for(&emulator, Mode::Token);
    let cases = [
        ("task_id", client.show_batch_task("NOT-HEX")),
        ("limit", client.show_batch_task(DEMO_TASK_ID).limit(0)),
        ("limit", client.show_batch_task(DEMO_TASK_ID).limit(51)),
        ("offset", client.show_batch_task(DEMO_TASK_ID).offset(501)),
        ("marker", client.show_batch_task(DEMO_TASK_ID).marker("not-a-marker")),
        ("target", client.show_batch_task(DEMO_TASK_ID).target("dev 1")),
    ];
    for (field, call) in cases {
        let err = call.clone().send().await.unwrap_err();
        assert_eq!(err.as_invalid_input().map(|e| e.field()), Some(field), "{err}");
        let streamed: Result<Vec<_>, Error> = call.sub_tasks().try_collect().await;
        assert_eq!(streamed.unwrap_err().as_invalid_input().map(|e| e.field()), Some(field));
    }
    assert_eq!(emulator.request_count(), 0);
}

#[tokio::test]
async fn errors_are_the_same_as_for_stop() {
    let emulator = demo().await;
    let err = client_for(&emulator, Mode::Token)
        .show_batch_task("aaaaaaaaaaaaaaaaaaaaaaaa")
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.error_code()), (Some(404), Some("IOTDA.014200")));
    assert!(err.request_id().is_some());
    let bad_token = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::token("wrong"))
        .build()
        .unwrap();
    let err = bad_token.show_batch_task(DEMO_TASK_ID).send().await.unwrap_err();
    assert_eq!((err.status(), err.error_code()), (Some(401), Some("APIGW.0301")));
}

/// A server that keeps answering full pages with the same marker would make
/// a naive pager loop forever; the stream stops with an error instead.
#[tokio::test]
async fn a_marker_that_does_not_advance_ends_the_stream() {
    let server = MockServer::start().await;
    let details: Vec<Value> = (0..50)
        .map(|i| serde_json::json!({"target": format!("d{i}"), "status": "Processing"}))
        .collect();
    let page = serde_json::json!({"batchtask": {"task_id": TASK}, "task_details": details, "page": {"count": 1000, "marker": "aaaaaaaaaaaaaaaaaaaaaaaa"}});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    let client = client(&server.uri(), Mode::Token);
    let result: Result<Vec<_>, Error> = client.show_batch_task(TASK).sub_tasks().try_collect().await;
    match result {
        Err(Error::Decode { message, .. }) => assert!(message.contains("paging did not advance"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
