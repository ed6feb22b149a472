//! The guard (`Client::watch_batch_task`) against servers on 127.0.0.1
//! (wiremock) that script a task's progression read by read: criteria at,
//! below and before their threshold, FailWaitRetry counted or not, failed
//! reads (never a reason to stop), a stop whose answer is lost, a trip racing
//! the task's own completion, and devices that hang.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use iotda_batchtask::output::Status;
use iotda_batchtask::types::TaskStatus;
use iotda_batchtask::watch::{Criterion, StopOutcome, Trip, WatchEnd, WatchEvent, WatchReport};
use iotda_batchtask::{Client, WatchBatchTask};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::*;

const TASKS_PATH: &str = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks";

fn task_path() -> String {
    format!("{TASKS_PATH}/{TASK}")
}

fn client(server: &MockServer) -> Client {
    crate::common::client(&server.uri(), Mode::Token)
}

/// A read of the task: its status and counters (total 100).
fn task(status: &str, success: i64, fail: i64, fail_wait_retry: i64) -> Value {
    json!({
        "batchtask": {
            "task_id": TASK, "task_type": "firmwareUpgrade", "status": status,
            "task_progress": {
                "total": 100, "processing": 100 - success - fail - fail_wait_retry, "success": success,
                "fail": fail, "waitting": 0, "fail_wait_retry": fail_wait_retry, "stopped": 0, "removed": 0
            }
        },
        "task_details": [],
        "page": {"count": 0}
    })
}

fn ok(body: Value, request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(body)
        .insert_header("X-Request-Id", request_id)
}

/// A 500: the request may have been processed.
fn lost() -> ResponseTemplate {
    ResponseTemplate::new(500).set_body_json(json!({"error_code": "IOTDA.000000", "error_msg": "internal"}))
}

/// Answers the task's reads in order, the last one over and over.
async fn script(server: &MockServer, reads: Vec<ResponseTemplate>) {
    let next = AtomicUsize::new(0);
    Mock::given(method("GET"))
        .and(path(task_path()))
        .respond_with(move |_: &Request| {
            let i = next.fetch_add(1, Ordering::SeqCst);
            reads[i.min(reads.len() - 1)].clone()
        })
        .mount(server)
        .await;
}

async fn stop_answers(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("{TASKS_PATH}/{TASK}/stop")))
        .respond_with(answer)
        .mount(server)
        .await;
}

async fn stops(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn watch(server: &MockServer) -> WatchBatchTask {
    client(server)
        .watch_batch_task(TASK)
        .interval(Duration::from_millis(5))
        .read_failure_budget(Duration::from_millis(200))
}

async fn events(watch: WatchBatchTask) -> (Vec<WatchEvent>, WatchReport) {
    let mut events: Vec<WatchEvent> = watch.stream().unwrap().collect().await;
    match events.pop() {
        Some(WatchEvent::Ended(report)) => (events, *report),
        other => panic!("the last event is not Ended: {other:?}"),
    }
}

#[tokio::test]
async fn a_rate_trips_exactly_at_the_threshold_after_the_minimum_sample_and_stops_everything() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![
            // 1 of 19 finished failed (5.3%), but fewer than 20 have finished.
            ok(task("Processing", 18, 1, 0), "rid-1"),
            // 1 of 21 (4.8%): one below.
            ok(task("Processing", 20, 1, 0), "rid-2"),
            // 2 of 40: exactly 5%.
            ok(task("Processing", 38, 2, 0), "rid-3"),
            ok(task("Stopped", 38, 2, 0), "rid-4"),
        ],
    )
    .await;
    stop_answers(&server, ok(json!({"targets": []}), "rid-stop")).await;
    let watch = watch(&server)
        .criterion(Criterion::failed_percent(5.0).unwrap())
        .min_finished(20);
    let (events, report) = events(watch).await;
    assert_eq!(stops(&server).await, [json!({})], "one stop of every sub-task");
    match &report.end {
        WatchEnd::Tripped {
            trip: Trip::Criterion(c),
            stop: StopOutcome::Stopped { status },
        } => {
            assert_eq!(c.to_string(), "failed>=5%");
            assert_eq!(status, &Some(Status::Known(TaskStatus::Stopped)));
        }
        other => panic!("{other:?}"),
    }
    assert!(report.task_stopped());
    let at_trip = report.counters_at_trip.as_ref().unwrap();
    assert_eq!((at_trip.success, at_trip.fail), (Some(38), Some(2)));
    assert_eq!(report.stop_request_ids, ["rid-stop"]);
    assert_eq!(report.polls, 4);
    let reads = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "GET");
    assert_eq!(reads.count(), 4, "one request per poll");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Progress(_) => "progress",
            WatchEvent::Tripped { .. } => "tripped",
            WatchEvent::Stop { .. } => "stop",
            WatchEvent::Stuck { .. } => "stuck",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["progress", "progress", "progress", "tripped", "stop", "progress"]
    );
    match &events[0] {
        WatchEvent::Progress(p) => {
            assert_eq!(p.request_id.as_deref(), Some("rid-1"));
            assert_eq!(p.counters.total, Some(100));
            assert_eq!(p.tally.map(|t| (t.failed, t.finished)), Some((1, 19)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_count_one_below_or_a_rate_before_the_minimum_sample_never_stops() {
    for (criterion, min_finished, reads) in [
        (
            "failed>=3",
            1,
            vec![task("Processing", 10, 2, 0), task("PartialSuccess", 98, 2, 0)],
        ),
        // 9 of 9 failed, but the sample is 10.
        (
            "failed>=5%",
            10,
            vec![task("Processing", 0, 9, 0), task("Fail", 0, 9, 0)],
        ),
    ] {
        let server = MockServer::start().await;
        script(&server, reads.into_iter().map(|r| ok(r, "rid")).collect()).await;
        let report = watch(&server)
            .criterion(criterion.parse().unwrap())
            .min_finished(min_finished)
            .run()
            .await
            .unwrap();
        assert!(stops(&server).await.is_empty(), "{criterion}");
        assert!(
            matches!(
                report.end,
                WatchEnd::Finished {
                    status: TaskStatus::PartialSuccess | TaskStatus::Fail
                }
            ),
            "{criterion}: {:?}",
            report.end
        );
    }
}

#[tokio::test]
async fn fail_wait_retry_counts_as_failed_only_when_asked() {
    for count_retrying in [false, true] {
        let server = MockServer::start().await;
        script(
            &server,
            vec![
                ok(task("Processing", 10, 1, 1), "rid"),
                ok(
                    task(if count_retrying { "Stopped" } else { "Success" }, 100, 0, 0),
                    "rid",
                ),
            ],
        )
        .await;
        stop_answers(&server, ok(json!({"targets": []}), "rid-stop")).await;
        let report = watch(&server)
            .criterion(Criterion::failed_count(2).unwrap())
            .count_retrying(count_retrying)
            .run()
            .await
            .unwrap();
        assert_eq!(stops(&server).await.len(), usize::from(count_retrying));
        assert_eq!(report.task_stopped(), count_retrying, "{:?}", report.end);
    }
}

#[tokio::test]
async fn failed_reads_are_retried_and_never_stop_the_task() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![
            ok(task("Processing", 10, 0, 0), "rid"),
            lost(),
            ResponseTemplate::new(503),
            ok(task("Success", 100, 0, 0), "rid"),
        ],
    )
    .await;
    stop_answers(&server, ok(json!({"targets": []}), "rid-stop")).await;
    let report = watch(&server)
        .criterion(Criterion::failed_count(1).unwrap())
        // Far more than two failed reads take, however slow the machine.
        .read_failure_budget(Duration::from_secs(60))
        .run()
        .await
        .unwrap();
    assert!(stops(&server).await.is_empty());
    assert!(matches!(
        report.end,
        WatchEnd::Finished {
            status: TaskStatus::Success
        }
    ));
    assert_eq!((report.polls, report.read_failures), (2, 2));
}

#[tokio::test]
async fn a_task_unreadable_past_the_budget_ends_the_watch_without_a_stop_unless_asked() {
    for stop_when_blind in [false, true] {
        let server = MockServer::start().await;
        script(&server, vec![ok(task("Processing", 10, 0, 0), "rid"), lost()]).await;
        stop_answers(&server, ok(json!({"targets": []}), "rid-stop")).await;
        let report = watch(&server)
            .criterion(Criterion::failed_count(1).unwrap())
            .read_failure_budget(Duration::from_millis(30))
            .stop_when_blind(stop_when_blind)
            .run()
            .await
            .unwrap();
        if stop_when_blind {
            assert_eq!(stops(&server).await, [json!({})]);
            assert!(
                matches!(report.end, WatchEnd::Tripped { trip: Trip::Blind, .. }),
                "{:?}",
                report.end
            );
        } else {
            assert!(stops(&server).await.is_empty());
            match &report.end {
                WatchEnd::ReadFailed { error } => assert_eq!(error.status(), Some(500)),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_task_that_does_not_exist_ends_the_watch_at_once() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![ResponseTemplate::new(404).set_body_json(json!({"error_code": "IOTDA.014200", "error_msg": "no task"}))],
    )
    .await;
    let report = watch(&server)
        .read_failure_budget(Duration::from_secs(3600))
        .run()
        .await
        .unwrap();
    assert!(matches!(&report.end, WatchEnd::ReadFailed { error } if error.is_not_found()));
    assert_eq!(report.read_failures, 1);
}

#[tokio::test]
async fn a_lost_stop_answer_is_settled_by_reading_not_by_resending() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![
            ok(task("Processing", 10, 3, 0), "rid-1"),
            // The stop's own read after its lost answer, then the settling read.
            ok(task("Stopping", 10, 3, 0), "rid-read"),
            ok(task("Stopped", 10, 3, 0), "rid-2"),
        ],
    )
    .await;
    stop_answers(&server, lost()).await;
    let report = watch(&server)
        .criterion(Criterion::failed_count(3).unwrap())
        .run()
        .await
        .unwrap();
    assert_eq!(stops(&server).await.len(), 1, "never resent");
    assert!(report.task_stopped(), "{:?}", report.end);
    assert!(report.stop_request_ids.contains(&"rid-read".to_owned()));
}

#[tokio::test]
async fn a_lost_stop_answer_no_read_can_settle_is_unknown() {
    let server = MockServer::start().await;
    script(&server, vec![ok(task("Processing", 10, 3, 0), "rid-1"), lost()]).await;
    stop_answers(&server, lost()).await;
    let report = watch(&server)
        .criterion(Criterion::failed_count(3).unwrap())
        .read_failure_budget(Duration::from_millis(30))
        .run()
        .await
        .unwrap();
    assert_eq!(stops(&server).await.len(), 1);
    match &report.end {
        WatchEnd::Tripped {
            stop: StopOutcome::Unknown { error, status: None },
            ..
        } => assert!(error.may_have_been_processed()),
        other => panic!("{other:?}"),
    }
    assert!(!report.task_stopped());
}

#[tokio::test]
async fn a_trip_racing_the_tasks_own_completion_is_reported_as_finished_first() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![
            ok(task("Processing", 90, 10, 0), "rid-1"),
            ok(task("PartialSuccess", 90, 10, 0), "rid-2"),
        ],
    )
    .await;
    stop_answers(
        &server,
        ResponseTemplate::new(400)
            .set_body_json(json!({"error_code": "IOTDA.000006", "error_msg": "task finished"}))
            .insert_header("X-Request-Id", "rid-refused"),
    )
    .await;
    let report = watch(&server)
        .criterion(Criterion::failed_count(10).unwrap())
        .run()
        .await
        .unwrap();
    match &report.end {
        WatchEnd::Tripped {
            stop:
                StopOutcome::FinishedFirst {
                    status,
                    refusal: Some(refusal),
                },
            ..
        } => {
            assert_eq!(status, &Status::Known(TaskStatus::PartialSuccess));
            assert_eq!(refusal.error_code(), Some("IOTDA.000006"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.stop_request_ids, ["rid-refused"]);
    assert!(!report.task_stopped());
}

#[tokio::test]
async fn a_refused_stop_of_a_running_task_says_it_was_not_stopped() {
    let server = MockServer::start().await;
    script(&server, vec![ok(task("Processing", 10, 10, 0), "rid-1")]).await;
    stop_answers(
        &server,
        ResponseTemplate::new(403).set_body_json(json!({"error_code": "IOTDA.000022", "error_msg": "denied"})),
    )
    .await;
    let report = watch(&server)
        .criterion(Criterion::failed_count(10).unwrap())
        .run()
        .await
        .unwrap();
    assert!(
        matches!(
            &report.end,
            WatchEnd::Tripped {
                stop: StopOutcome::Refused { .. },
                ..
            }
        ),
        "{:?}",
        report.end
    );
}

#[tokio::test]
async fn devices_seen_processing_longer_than_stuck_after_are_stopped_once_and_reported() {
    let server = MockServer::start().await;
    let stopped = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let (seen, count) = (stopped.clone(), reads.clone());
    // dev-2 is Processing only in the first read, so it never hangs; dev-1
    // stays Processing until it is stopped, then the task finishes.
    Mock::given(method("GET"))
        .and(path(task_path()))
        .and(query_param("task_detail_status", "Processing"))
        .respond_with(move |_: &Request| {
            let first = count.fetch_add(1, Ordering::SeqCst) == 0;
            if seen.load(Ordering::SeqCst) {
                return ok(task("PartialSuccess", 99, 0, 0), "rid-end");
            }
            let mut details = vec![json!({"target": "dev-1", "status": "Processing"})];
            if first {
                details.push(json!({"target": "dev-2", "status": "Processing"}));
            }
            let mut body = task("Processing", 0, 0, 0);
            body["task_details"] = json!(details);
            ok(body, "rid-poll")
        })
        .mount(&server)
        .await;
    let flag = stopped.clone();
    Mock::given(method("POST"))
        .and(path(format!("{TASKS_PATH}/{TASK}/stop")))
        .respond_with(move |_: &Request| {
            flag.store(true, Ordering::SeqCst);
            ok(
                json!({"targets": [{"target": "dev-1", "status": "success"}]}),
                "rid-stuck",
            )
        })
        .mount(&server)
        .await;
    let (events, report) = events(watch(&server).stuck_after(Duration::from_millis(20))).await;
    assert_eq!(stops(&server).await, [json!({"targets": ["dev-1"]})]);
    assert!(matches!(
        report.end,
        WatchEnd::Finished {
            status: TaskStatus::PartialSuccess
        }
    ));
    assert_eq!(report.stuck.len(), 1);
    assert_eq!(report.stuck[0].devices, ["dev-1"]);
    let stuck = events.iter().find_map(|e| match e {
        WatchEvent::Stuck { devices, report } => Some((devices, report)),
        _ => None,
    });
    let (devices, stop) = stuck.expect("a stuck event");
    assert_eq!(devices, &["dev-1"]);
    assert_eq!(stop.as_ref().unwrap().succeeded().count(), 1);
    assert!(!report.task_stopped());
}

#[tokio::test]
async fn the_watch_timeout_ends_it_without_stopping_and_a_cancel_too() {
    let server = MockServer::start().await;
    script(&server, vec![ok(task("Processing", 1, 0, 0), "rid")]).await;
    let report = watch(&server)
        .watch_timeout(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    assert!(matches!(report.end, WatchEnd::TimedOut));
    let report = watch(&server)
        .cancel_on(async { tokio::time::sleep(Duration::from_millis(30)).await })
        .run()
        .await
        .unwrap();
    assert!(matches!(report.end, WatchEnd::Cancelled));
    assert!(stops(&server).await.is_empty());
}

#[tokio::test]
async fn bad_options_are_refused_naming_the_field_before_any_request() {
    let server = MockServer::start().await;
    let cases: Vec<(WatchBatchTask, &str)> = vec![
        (watch(&server).interval(Duration::ZERO), "interval"),
        (watch(&server).interval(Duration::from_secs(3601)), "interval"),
        (watch(&server).watch_timeout(Duration::ZERO), "watch_timeout"),
        (
            watch(&server).stuck_after(Duration::from_secs(8 * 24 * 3600)),
            "stuck_after",
        ),
        (
            watch(&server).read_failure_budget(Duration::ZERO),
            "read_failure_budget",
        ),
        (
            watch(&server)
                .criterion(Criterion::failed_percent(5.0).unwrap())
                .min_finished(0),
            "min_finished",
        ),
        (client(&server).watch_batch_task("not a task"), "task_id"),
    ];
    for (watch, field) in cases {
        let error = watch.run().await.unwrap_err();
        assert_eq!(error.as_invalid_input().map(|e| e.field()), Some(field), "{error}");
    }
    // min_finished 0 is harmless without a rate.
    assert!(watch(&server).min_finished(0).validate().is_ok());
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(Criterion::failed_count(0).unwrap_err().field(), "failed_count");
    for bad in [0.0, -1.0, 100.01, f64::NAN, 0.001] {
        assert_eq!(
            Criterion::failed_percent(bad).unwrap_err().field(),
            "failed_percent",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_walk_of_processing_sub_tasks_is_bounded_per_poll_and_goes_on_from_its_marker() {
    let server = MockServer::start().await;
    let served = AtomicUsize::new(0);
    // Every page full (50 Processing devices) with a lower marker: a walk
    // that never ends by itself.
    Mock::given(method("GET"))
        .and(path(task_path()))
        .and(query_param("task_detail_status", "Processing"))
        .respond_with(move |request: &Request| {
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= 25 {
                return ok(task("Success", 100, 0, 0), "rid-end");
            }
            let mut body = task("Processing", 0, 0, 0);
            let details: Vec<Value> = (0..50)
                .map(|i| json!({"target": format!("dev-{n}-{i}"), "status": "Processing"}))
                .collect();
            body["task_details"] = json!(details);
            let below = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "marker")
                .map_or(u128::from(u64::MAX), |(_, m)| u128::from_str_radix(&m, 16).unwrap());
            body["page"] = json!({"count": 100_000, "marker": format!("{:024x}", below - 1)});
            ok(body, "rid-page")
        })
        .mount(&server)
        .await;
    let report = watch(&server)
        .stuck_after(Duration::from_secs(3600))
        .run()
        .await
        .unwrap();
    assert!(
        matches!(
            report.end,
            WatchEnd::Finished {
                status: TaskStatus::Success
            }
        ),
        "{:?}",
        report.end
    );
    let markers: Vec<Option<String>> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "marker")
                .map(|(_, m)| m.into_owned())
        })
        .collect();
    // Poll 1: 20 pages (the bound). Poll 2 goes on below the 20th page's
    // marker and reaches the end (the 25th answer has no more sub-tasks), so
    // poll 3 starts at the top again and reads the task Success.
    assert_eq!(markers.len(), 26);
    assert_eq!(report.polls, 3);
    assert_eq!(markers[0], None, "the first poll starts at the top");
    let twentieth = u128::from(u64::MAX) - 20;
    assert_eq!(markers[20].as_deref(), Some(format!("{twentieth:024x}").as_str()));
    assert_eq!(markers[25], None, "a finished cycle starts again at the top");
    assert!(stops(&server).await.is_empty());
}

#[tokio::test]
async fn a_hanging_device_is_stopped_even_beside_a_target_id_no_stop_could_name() {
    let server = MockServer::start().await;
    let stopped = Arc::new(AtomicBool::new(false));
    let seen = stopped.clone();
    Mock::given(method("GET"))
        .and(path(task_path()))
        .and(query_param("task_detail_status", "Processing"))
        .respond_with(move |_: &Request| {
            if seen.load(Ordering::SeqCst) {
                return ok(task("PartialSuccess", 98, 0, 0), "rid-end");
            }
            let mut body = task("Processing", 0, 0, 0);
            body["task_details"] = json!([
                {"target": "not a device id\n", "status": "Processing"},
                {"target": "dev-1", "status": "Processing"}
            ]);
            ok(body, "rid-poll")
        })
        .mount(&server)
        .await;
    let flag = stopped.clone();
    Mock::given(method("POST"))
        .and(path(format!("{TASKS_PATH}/{TASK}/stop")))
        .respond_with(move |_: &Request| {
            flag.store(true, Ordering::SeqCst);
            ok(
                json!({"targets": [{"target": "dev-1", "status": "success"}]}),
                "rid-stuck",
            )
        })
        .mount(&server)
        .await;
    let report = watch(&server)
        .stuck_after(Duration::from_millis(20))
        .watch_timeout(Duration::from_secs(20))
        .run()
        .await
        .unwrap();
    assert_eq!(stops(&server).await, [json!({"targets": ["dev-1"]})]);
    assert_eq!(report.stuck.len(), 1, "{:?}", report.end);
    assert_eq!(report.stuck[0].devices, ["dev-1"]);
}

#[tokio::test]
async fn a_walk_of_processing_sub_tasks_that_never_ends_starts_again_at_the_top_after_50_000() {
    let server = MockServer::start().await;
    let served = AtomicUsize::new(0);
    // Every page full of devices never seen before, each with a lower marker:
    // what a hostile server could do to make the watcher remember without end.
    Mock::given(method("GET"))
        .and(path(task_path()))
        .and(query_param("task_detail_status", "Processing"))
        .respond_with(move |request: &Request| {
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            let mut body = task(if n >= 1_010 { "Success" } else { "Processing" }, 0, 0, 0);
            let details: Vec<Value> = (0..50)
                .map(|i| json!({"target": format!("dev-{n}-{i}"), "status": "Processing"}))
                .collect();
            body["task_details"] = json!(details);
            let below = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "marker")
                .map_or(u128::from(u64::MAX), |(_, m)| u128::from_str_radix(&m, 16).unwrap());
            body["page"] = json!({"count": 100_000, "marker": format!("{:024x}", below - 1)});
            ok(body, "rid-page")
        })
        .mount(&server)
        .await;
    let report = watch(&server)
        .interval(Duration::from_millis(1))
        .stuck_after(Duration::from_secs(3600))
        .run()
        .await
        .unwrap();
    assert!(matches!(report.end, WatchEnd::Finished { .. }), "{:?}", report.end);
    let markers: Vec<bool> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.query_pairs().any(|(k, _)| k == "marker"))
        .collect();
    // 50 polls of 20 pages (1,000 pages, 50,000 sub-tasks), then the 51st
    // poll starts at the top.
    assert!(!markers[0]);
    assert!(markers[1..1_000].iter().all(|m| *m), "the walk went on from its marker");
    assert!(!markers[1_000], "the 51st poll starts again at the top");
}

/// A task on the emulator: `status`, with these sub-tasks, created with
/// `need_confirm`; token auth.
async fn emulator_with(
    status: iotda_batchtask_emulator::TaskStatus,
    subtasks: &[(&str, iotda_batchtask_emulator::TaskDetailStatus)],
) -> (iotda_batchtask_emulator::EmulatorHandle, Client) {
    use iotda_batchtask_emulator::{Emulator, EmulatorConfig, Seed, SeedTask, TaskType};
    let seed = Seed::new(vec![SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: TASK.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status,
        subtasks: subtasks.iter().map(|(d, s)| ((*d).to_owned(), *s)).collect(),
    }])
    .and_then(|seed| seed.with_need_confirm(PROJECT, TASK))
    .unwrap();
    let emulator = Emulator::start(EmulatorConfig::new().seed(seed).token(TOKEN))
        .await
        .unwrap();
    let client = crate::common::client(&emulator.base_url(), Mode::Token);
    (emulator, client)
}

/// `until_idle` (what `--wait` of a stop, retry or confirm waits for): a
/// `need_confirm` task that goes back to Waitting while other sub-tasks wait
/// for their confirm ends the watch (Idle) instead of holding it until its
/// timeout; without it the watch waits for a final status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_idle_ends_the_watch_when_the_task_goes_back_to_waitting() {
    use iotda_batchtask_emulator::{Operation, TaskDetailStatus as D, TaskStatus as S};
    let (emulator, client) = emulator_with(
        S::Processing,
        &[("dev-1", D::Processing), ("dev-2", D::Success), ("dev-3", D::Waitting)],
    )
    .await;
    let watching = tokio::spawn(
        client
            .watch_batch_task(TASK)
            .until_idle(true)
            .interval(Duration::from_millis(5))
            // Bounded, should Waitting not end it.
            .watch_timeout(Duration::from_secs(30))
            .criterion(Criterion::failed_count(1).unwrap())
            .run(),
    );
    // Bounded: Processing is read (and the watch goes on) before the task goes back.
    let reads = || emulator.journal().of(Operation::ShowBatchTask, TASK).count();
    for _ in 0..500 {
        if reads() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(reads() >= 2, "the watch did not poll on while Processing");
    emulator.set_sub_task(PROJECT, TASK, "dev-1", D::Success).unwrap();
    emulator.set_task_status(PROJECT, TASK, S::Waitting).unwrap();
    let report = watching.await.unwrap().unwrap();
    assert!(
        matches!(
            report.end,
            WatchEnd::Idle {
                status: TaskStatus::Waitting
            }
        ),
        "{:?}",
        report.end
    );
    assert_eq!(report.status, Some(Status::Known(TaskStatus::Waitting)));
    assert!(report.polls >= 3, "{}", report.polls);
    assert_eq!(emulator.journal().stops_of(TASK).count(), 0);

    // Without it, Waitting is not the end: only the timeout is.
    let report = client
        .watch_batch_task(TASK)
        .interval(Duration::from_millis(5))
        .watch_timeout(Duration::from_millis(100))
        .run()
        .await
        .unwrap();
    assert!(matches!(report.end, WatchEnd::TimedOut), "{:?}", report.end);

    // A final status is still Finished.
    emulator.set_task_status(PROJECT, TASK, S::PartialSuccess).unwrap();
    let report = client.watch_batch_task(TASK).until_idle(true).run().await.unwrap();
    assert!(
        matches!(
            report.end,
            WatchEnd::Finished {
                status: TaskStatus::PartialSuccess
            }
        ),
        "{:?}",
        report.end
    );
    emulator.shutdown().await;
}

/// A criterion is judged on the idle read too: a bad firmware's failures on
/// a task gone back to Waitting trip the guard, and the stop of every
/// sub-task stops the ones still waiting for their confirm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_idle_still_trips_on_the_idle_read() {
    use iotda_batchtask_emulator::{TaskDetailStatus as D, TaskStatus as S};
    let (emulator, client) = emulator_with(
        S::Waitting,
        &[
            ("dev-1", D::Fail),
            ("dev-2", D::Fail),
            ("dev-3", D::Waitting),
            ("dev-4", D::Waitting),
        ],
    )
    .await;
    let report = client
        .watch_batch_task(TASK)
        .until_idle(true)
        .criterion(Criterion::failed_count(2).unwrap())
        .interval(Duration::from_millis(5))
        .run()
        .await
        .unwrap();
    assert!(report.task_stopped(), "{:?}", report.end);
    let task = emulator.task(PROJECT, TASK).unwrap();
    assert_eq!(task.status, S::Stopped);
    assert_eq!(task.subtasks["dev-3"], D::Stopped);
    emulator.shutdown().await;
    // One below the count: idle, nothing stopped.
    let (emulator, client) = emulator_with(S::Waitting, &[("dev-1", D::Fail), ("dev-3", D::Waitting)]).await;
    let report = client
        .watch_batch_task(TASK)
        .until_idle(true)
        .watch_timeout(Duration::from_secs(30))
        .criterion(Criterion::failed_count(2).unwrap())
        .run()
        .await
        .unwrap();
    assert!(
        matches!(
            report.end,
            WatchEnd::Idle {
                status: TaskStatus::Waitting
            }
        ),
        "{:?}",
        report.end
    );
    assert_eq!(emulator.journal().stops_of(TASK).count(), 0);
    emulator.shutdown().await;
}

/// Reads failing when the watch timeout passes: the task is not known to be
/// still running, so the watch ends ReadFailed (with the last error), not
/// TimedOut; nothing is stopped.
#[tokio::test]
async fn reads_failing_at_the_watch_timeout_end_it_read_failed_not_timed_out() {
    let server = MockServer::start().await;
    script(&server, vec![ok(task("Processing", 10, 0, 0), "rid"), lost()]).await;
    stop_answers(&server, ok(json!({"targets": []}), "rid-stop")).await;
    let report = watch(&server)
        .criterion(Criterion::failed_count(1).unwrap())
        .read_failure_budget(Duration::from_secs(3600))
        .watch_timeout(Duration::from_millis(100))
        .run()
        .await
        .unwrap();
    match &report.end {
        WatchEnd::ReadFailed { error } => assert_eq!(error.status(), Some(500)),
        other => panic!("{other:?}"),
    }
    assert!(report.read_failures >= 1);
    assert!(stops(&server).await.is_empty());
}
