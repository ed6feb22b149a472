//! Truthful outcomes under faults: the client stops devices through a
//! fault-injecting proxy in front of the emulator, and every report is held
//! against the emulator's real final state.
//!
//! The proxy forwards each request to the emulator and then, for stop
//! requests, may lose the answer in the ways gateways and networks do: a 503
//! after the service acted, a reset, an answer after the client's timeout, an
//! undecodable 200. Reads (ShowBatchTask) pass through untouched. In every
//! case: each target appears once, no device the emulator stopped is
//! reported as failed, and with reads on nothing stays unknown.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iotda_batchtask::outcome::{Failed, Succeeded, TargetOutcome, Unknown};
use iotda_batchtask::{Client, Credentials, RetryPolicy, StopReport};
use iotda_batchtask_emulator::{
    DEMO_DEVICE_COUNT, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, EmulatorHandle, TaskDetailStatus,
    demo_device_id,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

const REQUEST_TIMEOUT: Duration = Duration::from_millis(400);

/// What the proxy does with a stop request (a POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forward, answer as the emulator did.
    None,
    /// Forward, then answer 503 with an HTML page (the stop happened).
    ServiceUnavailableAfter,
    /// Forward, then close the connection unanswered.
    ResetAfter,
    /// Forward, then answer only after the client's request timeout.
    LateAnswer,
    /// Forward, then answer 200 with a body that is not JSON.
    GarbageAfter,
    /// Answer 503 without forwarding (the stop did not happen).
    ServiceUnavailableBefore,
}

/// Which stop requests get the fault: the first `count` (`usize::MAX`: all).
struct Plan {
    fault: Fault,
    count: usize,
    stops_seen: AtomicUsize,
}

/// A loopback proxy in front of `upstream`, applying `plan` to stop requests.
async fn proxy(upstream: std::net::SocketAddr, plan: Arc<Plan>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve_connection(client, upstream, plan.clone()));
        }
    });
    format!("http://{addr}")
}

async fn serve_connection(mut client: TcpStream, upstream: std::net::SocketAddr, plan: Arc<Plan>) {
    loop {
        let request = read_request(&mut client).await;
        if request.is_empty() {
            return;
        }
        let fault = if request.starts_with(b"POST ") {
            let n = plan.stops_seen.fetch_add(1, Ordering::SeqCst);
            if n < plan.count { plan.fault } else { Fault::None }
        } else {
            Fault::None
        };
        if fault == Fault::ServiceUnavailableBefore {
            let _ = client.write_all(unavailable().as_bytes()).await;
            continue;
        }
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        if server.write_all(&request).await.is_err() {
            return;
        }
        let answer = read_response(&mut server).await;
        match fault {
            Fault::None => {
                if client.write_all(&answer).await.is_err() {
                    return;
                }
            }
            Fault::ServiceUnavailableAfter => {
                let _ = client.write_all(unavailable().as_bytes()).await;
            }
            Fault::ResetAfter => {
                let _ = client.set_zero_linger();
                return;
            }
            Fault::LateAnswer => {
                tokio::time::sleep(REQUEST_TIMEOUT * 3).await;
                let _ = client.write_all(&answer).await;
                return;
            }
            Fault::GarbageAfter => {
                let body = "<<not json>>";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: rid-garbage\r\n\r\n",
                    body.len()
                );
                let _ = client.write_all((head + body).as_bytes()).await;
            }
            Fault::ServiceUnavailableBefore => unreachable!("answered above"),
        }
    }
}

fn unavailable() -> String {
    let body = "<html><body>503 Service Temporarily Unavailable</body></html>";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: {}\r\nx-request-id: rid-503\r\n\r\n{body}",
        body.len()
    )
}

/// One HTTP/1.1 response with a `content-length` body (what the emulator sends).
async fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
    }
}

struct Setup {
    emulator: EmulatorHandle,
    client: Client,
    before: BTreeMap<String, TaskDetailStatus>,
}

async fn setup(fault: Fault, count: usize, reconcile_timeout: Duration) -> Setup {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK)).await.unwrap();
    let plan = Arc::new(Plan {
        fault,
        count,
        stops_seen: AtomicUsize::new(0),
    });
    let endpoint = proxy(emulator.addr(), plan).await;
    let client = Client::builder(endpoint)
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .request_timeout(REQUEST_TIMEOUT)
        .deadline(reconcile_timeout)
        .retry(RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(20)))
        .build()
        .unwrap();
    let before = emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().subtasks;
    Setup {
        emulator,
        client,
        before,
    }
}

/// Every demo device, and three that are not in the task.
fn all_targets() -> Vec<String> {
    let mut targets: Vec<String> = (1..=DEMO_DEVICE_COUNT).map(demo_device_id).collect();
    targets.extend(["ghost-1", "ghost-2", "ghost-3"].map(str::to_owned));
    targets
}

/// Holds `report` against the emulator's final state; `settled` demands
/// that no outcome is unknown.
fn check(setup: &Setup, targets: &[String], report: &StopReport, settled: bool) {
    let after = setup.emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().subtasks;
    let reported: Vec<&str> = report.results().iter().map(|r| r.target.as_str()).collect();
    assert_eq!(reported, targets, "every target exactly once, in order");
    let mut problems = Vec::new();
    for result in report.results() {
        let was = setup.before.get(&result.target).copied();
        let now = after.get(&result.target).copied();
        let stopped_now = now == Some(TaskDetailStatus::Stopped) && was != Some(TaskDetailStatus::Stopped);
        let ok = match &result.outcome {
            TargetOutcome::Succeeded(_) => now == Some(TaskDetailStatus::Stopped),
            TargetOutcome::Failed(_) => !stopped_now,
            TargetOutcome::Unknown(_) => !settled,
            TargetOutcome::NotAttempted => false,
        };
        if !ok {
            problems.push(format!(
                "{}: {was:?} -> {now:?}, reported {:?}",
                result.target, result.outcome
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Each fault on every stop request: the reads settle every target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_settled_by_reading() {
    for fault in [
        Fault::ServiceUnavailableAfter,
        Fault::ResetAfter,
        Fault::LateAnswer,
        Fault::GarbageAfter,
    ] {
        let setup = setup(fault, usize::MAX, Duration::from_secs(20)).await;
        let targets = all_targets();
        let report = setup
            .client
            .stop_batch_task_bulk(DEMO_TASK_ID)
            .targets(targets.clone())
            .concurrency(2)
            .send()
            .await
            .unwrap();
        check(&setup, &targets, &report, true);
        let confirmed = report
            .succeeded()
            .filter(|r| matches!(r.outcome, TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })))
            .count();
        let stoppable = setup.before.values().filter(|s| is_running(**s)).count();
        assert_eq!(
            (report.succeeded().count(), confirmed),
            (stoppable, stoppable),
            "{fault:?}"
        );
        let not_in_task = report
            .failed()
            .filter(|r| {
                matches!(
                    r.outcome,
                    TargetOutcome::Failed(Failed::ConfirmedByRead { status: None, .. })
                )
            })
            .count();
        assert_eq!(not_in_task, 3, "{fault:?}: the ghosts are not in the task");
        // One read per target in doubt, and no stop was sent twice: the reads
        // showed each stopped device Stopped.
        assert_eq!(report.reads(), targets.len(), "{fault:?}");
        assert_eq!(report.requests_sent(), targets.len().div_ceil(100), "{fault:?}");
        setup.emulator.shutdown().await;
    }
}

/// A 503 the gateway sent *before* the service acted: the reads show the
/// devices still running, so the stop is sent again, once, for them only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_before_processing_is_resent_after_a_read() {
    let setup = setup(Fault::ServiceUnavailableBefore, 1, Duration::from_secs(20)).await;
    let targets: Vec<String> = (1..=40).map(demo_device_id).collect();
    let report = setup
        .client
        .stop_batch_task(DEMO_TASK_ID)
        .targets(targets.clone())
        .send()
        .await
        .unwrap();
    check(&setup, &targets, &report, true);
    let running = targets.iter().filter(|t| is_running(setup.before[*t])).count();
    assert_eq!(report.succeeded().count(), running);
    assert_eq!(report.requests_sent(), 2, "the first stop, then one resend");
    assert!(
        report.request_ids().iter().any(|id| id == "rid-503"),
        "{:?}",
        report.request_ids()
    );
    setup.emulator.shutdown().await;
}

/// With reads off, a lost answer leaves its targets unknown, never failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reads_a_lost_answer_is_unknown() {
    let setup = setup(Fault::ServiceUnavailableAfter, usize::MAX, Duration::from_secs(20)).await;
    let targets = all_targets();
    let report = setup
        .client
        .stop_batch_task_bulk(DEMO_TASK_ID)
        .targets(targets.clone())
        .reconcile(false)
        .send()
        .await
        .unwrap();
    check(&setup, &targets, &report, false);
    assert_eq!(report.unknown().count(), targets.len());
    assert!(
        report
            .unknown()
            .all(|r| matches!(&r.outcome, TargetOutcome::Unknown(Unknown::Error(e)) if e.status() == Some(503)))
    );
    assert_eq!(report.reads(), 0);
    setup.emulator.shutdown().await;
}

/// `all()` whose answer is lost: one read of the task settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_stop_all_is_settled_by_the_task_status() {
    for fault in [Fault::ServiceUnavailableAfter, Fault::ResetAfter, Fault::GarbageAfter] {
        let setup = setup(fault, usize::MAX, Duration::from_secs(20)).await;
        let report = setup.client.stop_batch_task(DEMO_TASK_ID).all().send().await.unwrap();
        assert_eq!(report.task_status(), Some("Stopped"), "{fault:?}");
        assert!(report.all_succeeded(), "{fault:?}");
        assert_eq!((report.requests_sent(), report.reads()), (1, 1), "{fault:?}");
        let after = setup.emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
        assert!(after.subtasks.values().all(|s| !is_running(*s)), "{fault:?}");
        setup.emulator.shutdown().await;
    }
}

/// The same faulted bulk stop, five times on fresh emulators: the same
/// outcome counts every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_faults_give_the_same_report() {
    let mut counts = HashMap::new();
    for _ in 0..5 {
        let setup = setup(Fault::ResetAfter, 2, Duration::from_secs(20)).await;
        let mut targets = all_targets();
        targets.extend((1..=30).map(demo_device_id)); // repeats
        let report = setup
            .client
            .stop_batch_task_bulk(DEMO_TASK_ID)
            .targets(targets)
            .concurrency(3)
            .send()
            .await
            .unwrap();
        check(&setup, &all_targets(), &report, true);
        let key = (
            report.succeeded().count(),
            report.failed().count(),
            report.unknown().count(),
            report.duplicates_dropped(),
        );
        *counts.entry(key).or_insert(0) += 1;
        setup.emulator.shutdown().await;
    }
    assert_eq!(counts.len(), 1, "{counts:?}");
}

fn is_running(status: TaskDetailStatus) -> bool {
    use iotda_batchtask_emulator::Stoppable as _;
    status.is_stoppable()
}
