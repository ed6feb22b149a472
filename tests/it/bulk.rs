//! Bulk stops against a mock IoTDA that answers each request from its body.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use iotda_batchtask::TargetsProgress;
use iotda_batchtask::outcome::{Failed, Succeeded, TargetOutcome, Unknown};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Answers `success` for every target, except: a body naming `poison` gets a
/// 500, `ghost` gets no entry, and `stubborn` gets a `failure`.
fn respond(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let targets: Vec<&str> = body["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(targets.len() <= 100, "a request carried {} targets", targets.len());
    if targets.contains(&"poison") {
        return ResponseTemplate::new(500)
            .insert_header("x-request-id", "rid-500")
            .set_body_json(json!({"error_code": "IOTDA.000020", "error_msg": "boom"}));
    }
    let results: Vec<Value> = targets
        .iter()
        .rev() // the server's order need not be the request's
        .filter(|t| **t != "ghost")
        .map(|t| match *t {
            "stubborn" => {
                json!({"target": t, "status": "failure", "error_code": "IOTDA.000006", "error_msg": "already Success"})
            }
            _ => json!({"target": t, "status": "success"}),
        })
        .collect();
    let id = format!("rid-{}", targets.first().unwrap_or(&"none"));
    ResponseTemplate::new(200)
        .insert_header("x-request-id", id.as_str())
        .set_body_json(json!({ "targets": results }))
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STOP_PATH))
        .respond_with(respond)
        .mount(&server)
        .await;
    server
}

fn devices(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("dev-{i:05}")).collect()
}

#[tokio::test]
async fn splits_merges_in_input_order_and_deduplicates() {
    let server = server().await;
    let mut input = devices(0..250);
    input.insert(10, "dev-00003".to_owned()); // a repeat
    let progress = Arc::new(Mutex::new(Vec::<TargetsProgress>::new()));
    let seen = progress.clone();
    let out = client(&server.uri(), Mode::Derived)
        .stop_batch_task(TASK)
        .targets(input)
        .concurrency(2)
        .on_progress(move |p| seen.lock().unwrap().push(*p))
        .send()
        .await
        .unwrap();
    let targets: Vec<&str> = out.results().iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, devices(0..250));
    assert!(out.all_succeeded());
    assert_eq!((out.requests_sent(), out.reads(), out.duplicates_dropped()), (3, 0, 1));
    assert_eq!(out.request_ids(), ["rid-dev-00000", "rid-dev-00100", "rid-dev-00200"]);
    assert_eq!(out.results()[150].request_id(), Some("rid-dev-00100"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let progress = progress.lock().unwrap();
    assert_eq!(progress.len(), 3);
    assert_eq!(
        progress.last().map(|p| (p.requests_done, p.targets_done, p.succeeded)),
        Some((3, 250, 250))
    );
}

#[tokio::test]
async fn a_failed_request_fails_only_its_own_targets() {
    let server = server().await;
    let mut input = devices(0..300);
    input[150] = "poison".to_owned();
    input[20] = "ghost".to_owned();
    input[250] = "stubborn".to_owned();
    let out = client(&server.uri(), Mode::Plain)
        .stop_batch_task(TASK)
        .targets(input.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.results().len(), 300);
    // The 500 may have followed processing: its targets are unknown (the
    // mock serves no ShowBatchTask, so the reads cannot settle them), and
    // so is `ghost`, which the answer left out. Nothing was sent twice.
    assert_eq!(out.requests_sent(), 3);
    assert_eq!(out.reads(), 101);
    for (i, r) in out.results().iter().enumerate() {
        assert_eq!(r.target, input[i]);
        match (i, &r.outcome) {
            (100..=199, TargetOutcome::Unknown(Unknown::Error(e))) => {
                assert_eq!(e.error_code(), Some("IOTDA.000020"));
                assert_eq!(r.request_id(), Some("rid-500"));
                assert!(
                    e.to_string()
                        .starts_with("HTTP 500 Internal Server Error: IOTDA.000020 boom")
                );
            }
            (20, TargetOutcome::Unknown(Unknown::Unanswered { status: None, .. })) => {}
            (250, TargetOutcome::Failed(Failed::Answered { error_code, .. })) => {
                assert_eq!(error_code.as_deref(), Some("IOTDA.000006"));
            }
            (100..=199 | 20 | 250, other) => panic!("{i}: {other:?}"),
            (_, outcome) => assert!(
                matches!(outcome, TargetOutcome::Succeeded(Succeeded::Answered { .. })),
                "{i}"
            ),
        }
    }
    let stops = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(stops, 3);
}

#[tokio::test]
async fn cancelling_stops_issuing_and_reports_every_target_once() {
    let server = server().await;
    let input = devices(0..1000);
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let fire = Mutex::new(Some(fire));
    let out = client(&server.uri(), Mode::Token)
        .stop_batch_task(TASK)
        .targets(input.clone())
        .concurrency(1)
        .on_progress(move |p| {
            if p.requests_done == 2 {
                fire.lock().unwrap().take().map(|f| f.send(()));
            }
        })
        .cancel_on(async {
            let _ = fired.await;
        })
        .send()
        .await
        .unwrap();
    assert!(out.cancelled());
    let sent = server.received_requests().await.unwrap().len();
    assert_eq!(out.requests_sent(), sent);
    assert!((2..=3).contains(&sent), "{sent} requests sent");
    let targets: Vec<&str> = out.results().iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, input, "every target exactly once, in order");
    assert_eq!(out.succeeded().count(), sent * 100);
    assert_eq!(out.not_attempted().count(), 1000 - sent * 100);
    assert!(
        out.unknown().next().is_none(),
        "requests in flight finished within the grace"
    );
}

#[tokio::test]
async fn a_signal_after_the_last_request_went_out_cancels_nothing() {
    let server = server().await;
    let input = devices(0..250);
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let fire = Mutex::new(Some(fire));
    let out = client(&server.uri(), Mode::Token)
        .stop_batch_task(TASK)
        .targets(input.clone())
        .concurrency(3)
        // All three requests are in flight before the first answer: fire then.
        .on_progress(move |_| {
            fire.lock().unwrap().take().map(|f| f.send(()));
        })
        .cancel_on(async {
            let _ = fired.await;
        })
        .send()
        .await
        .unwrap();
    assert!(!out.cancelled(), "every request had been sent");
    assert_eq!(out.requests_sent(), 3);
    assert_eq!(out.succeeded().count(), 250);
    assert_eq!(out.not_attempted().count(), 0);
}

/// A server that takes 30 ms over every request, on its own task per
/// connection (so requests really overlap), and records the most it ever had
/// in flight at once. Answers `success` for each target.
async fn slow_counting_server(peak: Arc<AtomicUsize>) -> String {
    use tokio::io::AsyncWriteExt as _;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (in_flight, peak) = (in_flight.clone(), peak.clone());
            tokio::spawn(async move {
                // Keep-alive: one request after another on this connection.
                loop {
                    let request = read_request(&mut stream).await;
                    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                        return;
                    };
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let body: Value = serde_json::from_slice(&request[end + 4..]).unwrap();
                    let results: Vec<Value> = body["targets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| json!({"target": t, "status": "success"}))
                        .collect();
                    let answer = json!({ "targets": results }).to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        answer.len()
                    );
                    if stream.write_all((head + &answer).as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_and_used() {
    for concurrency in [1, 3] {
        let peak = Arc::new(AtomicUsize::new(0));
        let url = slow_counting_server(peak.clone()).await;
        let out = client(&url, Mode::Token)
            .stop_batch_task(TASK)
            .targets(devices(0..1000))
            .concurrency(concurrency)
            .send()
            .await
            .unwrap();
        assert!(out.all_succeeded());
        assert_eq!(out.requests_sent(), 10);
        assert_eq!(
            peak.load(Ordering::SeqCst),
            concurrency,
            "most requests in flight at once"
        );
    }
}

#[tokio::test]
async fn bad_input_is_rejected_before_sending() {
    let server = server().await;
    let c = client(&server.uri(), Mode::Token);
    let cases = [
        ("targets", c.stop_batch_task(TASK).targets(Vec::<String>::new())),
        ("targets[2]", c.stop_batch_task(TASK).targets(["a", "b", "c d"])),
        ("task_id", c.stop_batch_task("XYZ").targets(["a"])),
        ("concurrency", c.stop_batch_task(TASK).targets(["a"]).concurrency(0)),
        ("concurrency", c.stop_batch_task(TASK).targets(["a"]).concurrency(65)),
    ];
    for (field, call) in cases {
        let err = call.send().await.unwrap_err();
        assert_eq!(err.as_invalid_input().map(|e| e.field()), Some(field), "{err}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A second signal abandons requests in flight: their targets are unknown
/// (they may have been stopped), those never sent are not attempted, and
/// every target is still reported exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_reports_requests_in_flight_as_unknown() {
    let url = slow_counting_server(Arc::new(AtomicUsize::new(0))).await;
    let input = devices(0..1000);
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let fire = Mutex::new(Some(fire));
    let out = client(&url, Mode::Token)
        .stop_batch_task(TASK)
        .targets(input.clone())
        .concurrency(2)
        .on_progress(move |_| {
            fire.lock().unwrap().take().map(|f| f.send(()));
        })
        .abort_on(async {
            let _ = fired.await;
        })
        .send()
        .await
        .unwrap();
    assert!(out.cancelled());
    let targets: Vec<&str> = out.results().iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, input, "every target exactly once, in order");
    let interrupted = out
        .unknown()
        .filter(|r| matches!(r.outcome, TargetOutcome::Unknown(Unknown::Interrupted)))
        .count();
    assert_eq!(out.succeeded().count() + interrupted, 200, "two requests were sent");
    assert!(out.succeeded().count() >= 100);
    assert_eq!(out.not_attempted().count(), 800);
    assert_eq!(out.requests_sent(), 2);
}

/// After a cancel, requests in flight get the grace period, then are
/// abandoned as on abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_grace_bounds_the_wait_for_requests_in_flight() {
    // Each answer takes 30 ms; the cancel comes after 10 ms, when all three
    // requests are in flight, and a zero grace abandons them.
    let url = slow_counting_server(Arc::new(AtomicUsize::new(0))).await;
    let out = client(&url, Mode::Token)
        .stop_batch_task(TASK)
        .targets(devices(0..300))
        .concurrency(3)
        .cancel_on(tokio::time::sleep(std::time::Duration::from_millis(10)))
        .cancel_grace(std::time::Duration::ZERO)
        .send()
        .await
        .unwrap();
    assert!(out.cancelled());
    assert_eq!(out.results().len(), 300);
    let interrupted = out
        .unknown()
        .filter(|r| matches!(r.outcome, TargetOutcome::Unknown(Unknown::Interrupted)))
        .count();
    assert_eq!(
        (interrupted, out.succeeded().count()),
        (300, 0),
        "a zero grace waits for nothing"
    );
    assert_eq!(out.requests_sent(), 3);
}
