//! The operator's loop beyond stop and show, against canned servers on 127.0.0.1
//! (wiremock): retry and confirm through the shared targeted path (answers,
//! lost answers settled by reading, `{}` settled by reading the task, bulk),
//! ListBatchTasks (one page, the bounded walk over every page), DeleteBatchTask
//! and CreateBatchTask (validation before I/O, never resent, a lost answer
//! settled by reading).

use futures_util::TryStreamExt as _;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use iotda_batchtask::outcome::{Failed, Succeeded, TargetOutcome};
use iotda_batchtask::types::{TaskStatus, TaskType};
use iotda_batchtask::{Client, CreateOutcome, DeleteOutcome, Error};

const TASKS_PATH: &str = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks";

fn task_path() -> String {
    format!("{TASKS_PATH}/{TASK}")
}

fn op_path(op: &str) -> String {
    format!("{TASKS_PATH}/{TASK}/{op}")
}

fn client(server: &MockServer) -> Client {
    crate::common::client(&server.uri(), Mode::Token)
}

/// A 500 from IoTDA: the request may have been processed.
fn lost() -> ResponseTemplate {
    ResponseTemplate::new(500).set_body_json(json!({"error_code": "IOTDA.000000", "error_msg": "internal"}))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(body)
        .insert_header("X-Request-Id", "rid-ok")
}

/// A ShowBatchTask answer with one sub-task of `target` in `status`.
fn sub_task(target: &str, status: &str) -> ResponseTemplate {
    ok(json!({
        "batchtask": {"task_id": TASK, "status": "Processing"},
        "task_details": [{"target": target, "status": status}],
        "page": {"count": 1, "marker": "5c90fa7d3c4e4405e8525079"}
    }))
}

async fn requests_to(server: &MockServer, verb: &str, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn retry_and_confirm_send_the_targets_to_their_own_path_and_report_each() {
    for op in ["retry", "confirm"] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(op_path(op)))
            .and(body_json(json!({"targets": ["dev-1", "dev-2"]})))
            .respond_with(ok(json!({"targets": [
                {"target": "dev-1", "status": "success"},
                {"target": "dev-2", "status": "failure", "error_code": "IOTDA.014219", "error_msg": "not in the task"}
            ]})))
            .expect(1)
            .mount(&server)
            .await;
        let client = client(&server);
        let call = match op {
            "retry" => client.retry_batch_task(TASK),
            _ => client.confirm_batch_task(TASK),
        };
        let report = call.targets(["dev-1", "dev-2", "dev-1"]).send().await.unwrap();
        assert_eq!(report.duplicates_dropped(), 1, "{op}");
        assert!(matches!(
            report.results()[0].outcome,
            TargetOutcome::Succeeded(Succeeded::Answered { .. })
        ));
        match &report.results()[1].outcome {
            TargetOutcome::Failed(Failed::Answered { error_code, .. }) => {
                assert_eq!(error_code.as_deref(), Some("IOTDA.014219"), "{op}")
            }
            other => panic!("{op}: {other:?}"),
        }
        assert_eq!(report.request_ids(), ["rid-ok"]);
    }
}

#[tokio::test]
async fn a_lost_retry_is_settled_by_reading_and_resent_only_for_targets_still_to_retry() {
    let server = MockServer::start().await;
    let retry = op_path("retry");
    Mock::given(method("POST"))
        .and(path(&retry))
        .respond_with(lost())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(&retry))
        .and(body_json(json!({"targets": ["dev-2"]})))
        .respond_with(ok(json!({"targets": [{"target": "dev-2", "status": "success"}]})))
        .mount(&server)
        .await;
    // Before sending: all three failed or stopped (the retry acts on them).
    for (target, status) in [("dev-1", "Fail"), ("dev-2", "Stopped"), ("dev-3", "Fail")] {
        Mock::given(method("GET"))
            .and(path(task_path()))
            .and(query_param("target", target))
            .respond_with(sub_task(target, status))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    // After the lost answer: dev-1 is running again (the retry applied);
    // dev-2 is still stopped; dev-3 succeeded since (counted as re-run);
    // dev-4 has no sub-task.
    for (target, status) in [("dev-1", "Waitting"), ("dev-2", "Stopped"), ("dev-3", "Success")] {
        Mock::given(method("GET"))
            .and(path(task_path()))
            .and(query_param("target", target))
            .respond_with(sub_task(target, status))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(task_path()))
        .and(query_param("target", "dev-4"))
        .respond_with(ok(json!({"batchtask": {"task_id": TASK}, "task_details": []})))
        .mount(&server)
        .await;

    let report = client(&server)
        .retry_batch_task(TASK)
        .targets(["dev-1", "dev-2", "dev-3", "dev-4"])
        .send()
        .await
        .unwrap();
    let outcomes: Vec<&TargetOutcome> = report.results().iter().map(|r| &r.outcome).collect();
    assert!(matches!(
        outcomes[0],
        TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
    ));
    assert!(matches!(
        outcomes[1],
        TargetOutcome::Succeeded(Succeeded::Answered { .. })
    ));
    assert!(matches!(
        outcomes[2],
        TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
    ));
    assert!(matches!(
        outcomes[3],
        TargetOutcome::Failed(Failed::ConfirmedByRead { status: None, .. })
    ));
    assert_eq!(report.requests_sent(), 2);
    assert_eq!(report.reads(), 8, "4 before sending, 4 after the lost answer");
    assert_eq!(requests_to(&server, "POST", &retry).await.len(), 2);
}

#[tokio::test]
async fn a_lost_confirm_of_a_waiting_sub_task_is_resent_and_a_dispatched_one_is_not() {
    let server = MockServer::start().await;
    let confirm = op_path("confirm");
    Mock::given(method("POST"))
        .and(path(&confirm))
        .respond_with(lost())
        .mount(&server)
        .await;
    // Before sending both wait; after the lost answer dev-1 has been
    // dispatched and dev-2 still waits.
    for (target, status) in [("dev-1", "Waitting"), ("dev-2", "Waitting")] {
        Mock::given(method("GET"))
            .and(path(task_path()))
            .and(query_param("target", target))
            .respond_with(sub_task(target, status))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    for (target, status) in [("dev-1", "Processing"), ("dev-2", "Waitting")] {
        Mock::given(method("GET"))
            .and(path(task_path()))
            .and(query_param("target", target))
            .respond_with(sub_task(target, status))
            .mount(&server)
            .await;
    }
    let report = client(&server)
        .confirm_batch_task(TASK)
        .targets(["dev-1", "dev-2"])
        .send()
        .await
        .unwrap();
    assert!(report.results()[0].is_success(), "{:?}", report.results()[0]);
    // Still waiting when read after the resend was lost too: not confirmed,
    // as the read shows, and not sent a third time.
    assert!(
        matches!(
            &report.results()[1].outcome,
            TargetOutcome::Failed(Failed::ConfirmedByRead { status: Some(s), .. }) if s == "Waitting"
        ),
        "{:?}",
        report.results()[1]
    );
    let sent = requests_to(&server, "POST", &confirm).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[1].body).unwrap(),
        json!({"targets": ["dev-2"]})
    );
}

/// The task as a read after a lost `{}` shows it.
fn task_read(status: &str, progress: Value) -> ResponseTemplate {
    ok(json!({"batchtask": {"task_id": TASK, "status": status, "task_progress": progress}, "task_details": []}))
}

#[tokio::test]
async fn a_lost_all_is_settled_by_the_task_counters_per_operation() {
    // (operation, task status, counters, resent?, applied?)
    let cases = [
        ("confirm", "Processing", json!({"waitting": 0}), false, Some(true)),
        ("confirm", "Stopping", json!({"waitting": 3}), false, Some(false)),
        (
            "retry",
            "Processing",
            json!({"fail": 0, "fail_wait_retry": 0, "stopped": 0}),
            false,
            Some(true),
        ),
        (
            "retry",
            "Success",
            json!({"fail": 0, "fail_wait_retry": 0, "stopped": 1}),
            false,
            Some(false),
        ),
        (
            "retry",
            "PartialSuccess",
            json!({"fail": 2, "fail_wait_retry": 0, "stopped": 0}),
            true,
            None,
        ),
    ];
    for (op, status, progress, resent, applied) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(op_path(op)))
            .and(body_json(json!({})))
            .respond_with(lost())
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(op_path(op)))
            .respond_with(ok(json!({"targets": [{"target": "dev-9", "status": "success"}]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(task_path()))
            .respond_with(task_read(status, progress))
            .mount(&server)
            .await;
        let client = client(&server);
        let call = match op {
            "retry" => client.retry_batch_task(TASK),
            _ => client.confirm_batch_task(TASK),
        };
        let report = call.all().send().await.unwrap();
        let case = format!("{op} {status}");
        assert_eq!(report.requests_sent(), if resent { 2 } else { 1 }, "{case}");
        assert_eq!(report.reads(), 1, "{case}");
        assert_eq!(report.applied(), applied, "{case}");
        assert_eq!(report.all_succeeded(), applied != Some(false), "{case}");
        if resent {
            assert_eq!(report.results().len(), 1, "{case}: the resend's answer is the report");
        } else {
            assert_eq!(report.task_status(), Some(status), "{case}");
        }
    }
}

#[tokio::test]
async fn retry_and_confirm_refuse_an_unsaid_selection_before_sending() {
    let server = MockServer::start().await;
    let client = client(&server);
    for (call, verb) in [
        (client.retry_batch_task(TASK), "retry every"),
        (client.confirm_batch_task(TASK), "confirm every"),
    ] {
        let err = call.send().await.unwrap_err();
        let invalid = err.as_invalid_input().expect("invalid input");
        assert_eq!(invalid.field(), "targets");
        assert!(invalid.rule().contains(verb), "{invalid}");
    }
    let err = client
        .retry_batch_task(TASK)
        .targets(Vec::<String>::new())
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("all()"), "{err}");
    let err = client.confirm_batch_task("NOT-HEX").all().send().await.unwrap_err();
    assert_eq!(err.as_invalid_input().map(|i| i.field()), Some("task_id"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bulk_retry_and_confirm_chunk_by_one_hundred_on_their_own_paths() {
    for op in ["retry", "confirm"] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(op_path(op)))
            .respond_with(|request: &wiremock::Request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let answers: Vec<Value> = body["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| json!({"target": t, "status": "success"}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"targets": answers}))
            })
            .mount(&server)
            .await;
        let client = client(&server);
        let devices: Vec<String> = (0..250).map(|i| format!("dev-{i:03}")).collect();
        let call = match op {
            "retry" => client.retry_batch_task(TASK),
            _ => client.confirm_batch_task(TASK),
        };
        let report = call.targets(devices.clone()).concurrency(2).send().await.unwrap();
        assert!(report.all_succeeded(), "{op}");
        let order: Vec<&str> = report.results().iter().map(|r| r.target.as_str()).collect();
        assert_eq!(order, devices, "{op}");
        let mut sizes: Vec<usize> = requests_to(&server, "POST", &op_path(op))
            .await
            .iter()
            .map(|r| {
                serde_json::from_slice::<Value>(&r.body).unwrap()["targets"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [50, 100, 100], "{op}");
    }
}

/// A ListBatchTasks page of tasks with these IDs, `marker` the last one.
fn tasks_page(ids: &[&str]) -> ResponseTemplate {
    let tasks: Vec<Value> = ids
        .iter()
        .map(|id| json!({"task_id": id, "task_name": format!("t{id}"), "task_type": "firmwareUpgrade", "status": "Processing"}))
        .collect();
    ok(json!({"batchtasks": tasks, "page": {"count": 99, "marker": ids.last().copied().unwrap_or_default()}}))
}

const T1: &str = "ffffffffffffffffffffff03";
const T2: &str = "ffffffffffffffffffffff02";
const T3: &str = "ffffffffffffffffffffff01";

#[tokio::test]
async fn list_sends_its_filters_and_returns_one_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .and(query_param("task_type", "softwareUpgrade"))
        .and(query_param("status", "Stopping"))
        .and(query_param("app_id", "my_app-1"))
        .and(query_param("limit", "5"))
        .and(query_param("offset", "10"))
        .and(query_param("marker", "5c90fa7d3c4e4405e8525079"))
        .respond_with(tasks_page(&[T1, T2]))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .list_batch_tasks(TaskType::SoftwareUpgrade)
        .status(TaskStatus::Stopping)
        .app_id("my_app-1")
        .limit(5)
        .offset(10)
        .marker("5c90fa7d3c4e4405e8525079")
        .send()
        .await
        .unwrap();
    assert_eq!(page.tasks().len(), 2);
    assert_eq!(page.page().and_then(|p| p.marker.as_deref()), Some(T2));
    assert_eq!(page.request_id(), Some("rid-ok"));
}

#[tokio::test]
async fn a_page_never_holds_more_tasks_than_its_limit() {
    let server = MockServer::start().await;
    // A server that ignores `limit=1` and sends three.
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .and(query_param("limit", "1"))
        .respond_with(tasks_page(&[T1, T2, T3]))
        .mount(&server)
        .await;
    let page = client(&server)
        .list_batch_tasks(TaskType::FirmwareUpgrade)
        .limit(1)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = page.tasks().iter().filter_map(|t| t.task_id.as_deref()).collect();
    assert_eq!(ids, [T1], "the first task only, as asked");
}

#[tokio::test]
async fn the_task_and_page_streams_follow_markers_until_a_short_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .and(query_param("marker", T2))
        .respond_with(tasks_page(&[T3]).insert_header("X-Request-Id", "rid-page-2"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .and(query_param("limit", "2"))
        .respond_with(tasks_page(&[T1, T2]).insert_header("X-Request-Id", "rid-page-1"))
        .with_priority(2)
        .mount(&server)
        .await;
    let call = client(&server).list_batch_tasks(TaskType::FirmwareUpgrade).limit(2);
    // 'static + Send: spawned, with the client dropped first.
    let tasks: Vec<_> = tokio::spawn(call.clone().tasks().try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = tasks.iter().filter_map(|t| t.task_id.as_deref()).collect();
    assert_eq!(ids, [T1, T2, T3]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    // The same walk a page at a time keeps each page's request ID.
    let pages: Vec<_> = tokio::spawn(call.pages().try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    let seen: Vec<(Option<&str>, usize)> = pages.iter().map(|p| (p.request_id(), p.tasks().len())).collect();
    assert_eq!(seen, [(Some("rid-page-1"), 2), (Some("rid-page-2"), 1)]);
}

#[tokio::test]
async fn a_stuck_task_marker_ends_the_walk_with_an_error() {
    let server = MockServer::start().await;
    // Every page is full and hands back the marker it was given.
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .respond_with(tasks_page(&[T1, T1]))
        .mount(&server)
        .await;
    let results: Vec<Result<_, Error>> = futures_util::StreamExt::collect(
        client(&server)
            .list_batch_tasks(TaskType::FirmwareUpgrade)
            .limit(2)
            .tasks(),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "the first page yielded"
    );
    match results.last() {
        Some(Err(Error::Decode { message, .. })) => assert!(message.contains("did not advance"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn list_refuses_bad_filters_before_sending() {
    let server = MockServer::start().await;
    let client = client(&server);
    let list = || client.list_batch_tasks(TaskType::FirmwareUpgrade);
    for (call, field) in [
        (list().limit(0), "limit"),
        (list().limit(51), "limit"),
        (list().offset(501), "offset"),
        (list().app_id("bad app"), "app_id"),
        (list().marker("xyz"), "marker"),
    ] {
        let err = call.clone().send().await.unwrap_err();
        assert_eq!(err.as_invalid_input().map(|i| i.field()), Some(field), "{err}");
        let first = futures_util::StreamExt::collect::<Vec<_>>(call.tasks()).await;
        assert_eq!(first.len(), 1, "{field}: the error is the only item");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_reports_what_is_known() {
    // (DELETE answer, ShowBatchTask answer, expected)
    let show_404 = ResponseTemplate::new(404)
        .set_body_json(json!({"error_code": "IOTDA.014200", "error_msg": "The batch task does not exist."}))
        .insert_header("X-Request-Id", "rid-read");
    let cases: Vec<(ResponseTemplate, Option<ResponseTemplate>, &str)> = vec![
        (
            ResponseTemplate::new(204).insert_header("X-Request-Id", "rid-del"),
            None,
            "deleted",
        ),
        (lost(), Some(show_404), "deleted by read"),
        (lost(), Some(task_read("Processing", json!({}))), "not deleted"),
        (lost(), Some(ResponseTemplate::new(500)), "unknown"),
    ];
    for (answer, read, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("DELETE"))
            .and(path(task_path()))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        if let Some(read) = read {
            Mock::given(method("GET"))
                .and(path(task_path()))
                .respond_with(read)
                .mount(&server)
                .await;
        }
        let outcome = client(&server).delete_batch_task(TASK).send().await.unwrap();
        match (expected, &outcome) {
            ("deleted", DeleteOutcome::Deleted { request_id }) => assert_eq!(request_id.as_deref(), Some("rid-del")),
            ("deleted by read", DeleteOutcome::DeletedByRead { request_id }) => {
                assert_eq!(request_id.as_deref(), Some("rid-read"))
            }
            ("not deleted", DeleteOutcome::NotDeleted { status, .. }) => {
                assert_eq!(status.as_deref(), Some("Processing"))
            }
            ("unknown", DeleteOutcome::Unknown { error }) => assert!(error.may_have_been_processed()),
            _ => panic!("{expected}: {outcome:?}"),
        }
        assert_eq!(outcome.is_deleted(), expected.starts_with("deleted"));
    }
}

#[tokio::test]
async fn delete_of_a_running_task_is_refused_and_nothing_is_read() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(task_path()))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error_code": "IOTDA.014221", "error_msg": "The task is not finished."})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).delete_batch_task(TASK).send().await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.error_code(), Some("IOTDA.014221"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // Without reads, a lost answer is unknown, and nothing else is sent.
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(lost())
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(&server)
        .delete_batch_task(TASK)
        .reconcile(false)
        .send()
        .await
        .unwrap();
    assert!(matches!(outcome, DeleteOutcome::Unknown { .. }), "{outcome:?}");
}

const NAME: &str = "Firmware_2_1";
const MARK: &str = "5c8ba99030344005c0231600";
const NEWER: &str = "5c8ba99030344005c02316ff";

fn package() -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("package_id".into(), "32822e5744a45ede319d2c50".into());
    map
}

/// Mounts the high-water-mark read: the newest firmware task is [`MARK`].
async fn mount_mark(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .and(query_param("limit", "1"))
        .respond_with(ok(
            json!({"batchtasks": [{"task_id": MARK, "task_name": NAME}], "page": {"count": 1}}),
        ))
        .with_priority(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn create_sends_the_validated_body_once_and_returns_the_task() {
    let server = MockServer::start().await;
    mount_mark(&server).await;
    Mock::given(method("POST"))
        .and(path(TASKS_PATH))
        .and(body_json(json!({
            "task_name": NAME,
            "task_type": "firmwareUpgrade",
            "app_id": "app_1",
            "targets": ["dev-1", "dev-2"],
            "document": {"package_id": "32822e5744a45ede319d2c50"},
            "task_policy": {"schedule_time": "20251212T121212Z", "retry_count": 3, "retry_interval": 30},
            "need_confirm": true,
            "task_mode": "GATEWAY"
        })))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"task_id": NEWER, "task_name": NAME, "status": "Initializing"}))
                .insert_header("X-Request-Id", "rid-create"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(&server)
        .create_batch_task(NAME, TaskType::FirmwareUpgrade)
        .app_id("app_1")
        .targets(["dev-1", "dev-2", "dev-1"])
        .document(package())
        .schedule_time("20251212T121212Z")
        .retry(3, 30)
        .need_confirm(true)
        .gateway_mode()
        .send()
        .await
        .unwrap();
    assert!(
        matches!(&outcome, CreateOutcome::Created { request_id, .. } if request_id.as_deref() == Some("rid-create"))
    );
    assert_eq!(outcome.task_id(), Some(NEWER));
    let reads = requests_to(&server, "GET", TASKS_PATH).await;
    assert_eq!(reads.len(), 1, "one high-water-mark read");
    assert!(reads[0].url.query().unwrap().contains("task_type=firmwareUpgrade"));
    assert!(reads[0].url.query().unwrap().contains("app_id=app_1"));
}

#[tokio::test]
async fn a_group_upgrade_without_reads_sends_only_the_create() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TASKS_PATH))
        .and(body_json(json!({
            "task_name": "组升级_1",
            "task_type": "softwareUpgrade",
            "targets_filter": {"group_ids": ["g-1", "g-2"]},
            "document": {"package_id": "32822e5744a45ede319d2c50"}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"task_id": NEWER})))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(&server)
        .create_batch_task("组升级_1", TaskType::SoftwareUpgrade)
        .group_ids(["g-1", "g-2"])
        .document(package())
        .reconcile(false)
        .send()
        .await
        .unwrap();
    assert!(outcome.is_created());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_lost_create_is_never_resent_and_is_settled_by_listing() {
    // What the listing after the lost answer shows, newest first, and the
    // outcome it must give.
    let older_same_name = json!({"task_id": MARK, "task_name": NAME});
    let cases = [
        (
            vec![json!({"task_id": NEWER, "task_name": NAME}), older_same_name.clone()],
            "created",
        ),
        // None with this name proves nothing (the server may create it
        // late): unknown, never "not created".
        (
            vec![json!({"task_id": NEWER, "task_name": "other"}), older_same_name.clone()],
            "unknown",
        ),
        (
            vec![
                json!({"task_id": NEWER, "task_name": NAME}),
                json!({"task_id": "5c8ba99030344005c02316fe", "task_name": NAME}),
                older_same_name.clone(),
            ],
            "unknown",
        ),
    ];
    for (listed, expected) in cases {
        let server = MockServer::start().await;
        mount_mark(&server).await;
        Mock::given(method("GET"))
            .and(path(TASKS_PATH))
            .respond_with(ok(json!({"batchtasks": listed, "page": {"count": 3}})))
            .with_priority(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(TASKS_PATH))
            .respond_with(lost())
            .expect(1)
            .mount(&server)
            .await;
        let outcome = client(&server)
            .create_batch_task(NAME, TaskType::FirmwareUpgrade)
            .targets(["dev-1"])
            .document(package())
            .settle_window(std::time::Duration::ZERO)
            .send()
            .await
            .unwrap();
        match (expected, &outcome) {
            ("created", CreateOutcome::CreatedByRead { task }) => assert_eq!(task.task_id.as_deref(), Some(NEWER)),
            ("unknown", CreateOutcome::Unknown { error }) => assert!(error.may_have_been_processed()),
            _ => panic!("{expected}: {outcome:?}"),
        }
        assert_eq!(
            requests_to(&server, "POST", TASKS_PATH).await.len(),
            1,
            "{expected}: never resent"
        );
    }
}

#[tokio::test]
async fn a_lost_create_without_reads_is_unknown_and_a_refusal_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TASKS_PATH))
        .respond_with(lost())
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(&server)
        .create_batch_task(NAME, TaskType::FirmwareUpgrade)
        .targets(["dev-1"])
        .reconcile(false)
        .send()
        .await
        .unwrap();
    assert!(matches!(outcome, CreateOutcome::Unknown { .. }), "{outcome:?}");

    let server = MockServer::start().await;
    mount_mark(&server).await;
    Mock::given(method("POST"))
        .and(path(TASKS_PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error_code": "IOTDA.014206", "error_msg": "too many tasks"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .create_batch_task(NAME, TaskType::FirmwareUpgrade)
        .targets(["dev-1"])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("IOTDA.014206"));
}

#[tokio::test]
async fn create_refuses_bad_input_naming_the_field_before_any_request() {
    let server = MockServer::start().await;
    let client = client(&server);
    let fw = |name: &str| client.create_batch_task(name, TaskType::FirmwareUpgrade);
    let too_many: Vec<String> = (0..=iotda_batchtask::limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS)
        .map(|i| format!("d{i}"))
        .collect();
    let mut long_info = serde_json::Map::new();
    long_info.insert(
        "x".into(),
        "y".repeat(iotda_batchtask::limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN)
            .into(),
    );
    let cases = [
        (fw("bad name!").targets(["d"]), "task_name"),
        (fw(&"n".repeat(129)).targets(["d"]), "task_name"),
        (fw(NAME), "targets"),
        (fw(NAME).targets(["d"]).group_ids(["g"]), "targets"),
        (fw(NAME).targets(Vec::<String>::new()), "targets"),
        (fw(NAME).targets(too_many), "targets"),
        (fw(NAME).targets(["bad id"]), "targets[0]"),
        (fw(NAME).targets(["d"]).app_id("bad app"), "app_id"),
        (fw(NAME).targets(["d"]).retry(6, 10), "task_policy.retry_count"),
        (fw(NAME).targets(["d"]).retry(1, 1441), "task_policy.retry_interval"),
        (
            fw(NAME).targets(["d"]).schedule_time("2025-12-12"),
            "task_policy.schedule_time",
        ),
        (fw(NAME).targets(["d"]).task_ext_info(long_info), "task_ext_info"),
        (fw(NAME).document_source(""), "document_source"),
        (
            client
                .create_batch_task(NAME, TaskType::CreateDevices)
                .document_source("file1")
                .need_confirm(true),
            "need_confirm",
        ),
    ];
    for (call, field) in cases {
        let err = call.send().await.unwrap_err();
        assert_eq!(err.as_invalid_input().map(|i| i.field()), Some(field), "{err}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_group_targeted_task_decodes_in_show_and_list() {
    // Huawei's own example: `targets_filter` values are arrays.
    let task = json!({"task_id": TASK, "targets_filter": {"group_ids": ["e495cf17-ff79-4294-8f64-4d367919d665"]}, "need_confirm": true});
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(task_path()))
        .respond_with(ok(json!({"batchtask": task, "task_details": []})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .respond_with(ok(json!({"batchtasks": [task]})))
        .mount(&server)
        .await;
    let client = client(&server);
    let shown = client.show_batch_task(TASK).send().await.unwrap();
    let filter = &shown.task().unwrap().targets_filter;
    assert!(filter["group_ids"].is_array());
    let listed = client.list_batch_tasks(TaskType::FirmwareUpgrade).send().await.unwrap();
    assert_eq!(listed.tasks()[0].need_confirm, Some(true));
}
