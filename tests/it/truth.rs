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
use std::time::Duration;

use crate::common::*;
use crate::fault_proxy::{Fault, Plan, REQUEST_TIMEOUT, proxy};
use iotda_batchtask::outcome::{Failed, Succeeded, TargetOutcome, Unknown};
use iotda_batchtask::{Client, Credentials, RetryPolicy, TargetsReport};
use iotda_batchtask_emulator::{
    DEMO_DEVICE_COUNT, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, EmulatorHandle, TaskDetailStatus,
    demo_device_id,
};

struct Setup {
    emulator: EmulatorHandle,
    client: Client,
    before: BTreeMap<String, TaskDetailStatus>,
}

async fn setup(fault: Fault, count: usize, reconcile_timeout: Duration) -> Setup {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK)).await.unwrap();
    let plan = Arc::new(Plan::new(fault, count));
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
fn check(setup: &Setup, targets: &[String], report: &TargetsReport, settled: bool) {
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
            .stop_batch_task(DEMO_TASK_ID)
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
        .stop_batch_task(DEMO_TASK_ID)
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
            .stop_batch_task(DEMO_TASK_ID)
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
