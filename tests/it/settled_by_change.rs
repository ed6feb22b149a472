//! A retry or confirm whose answer is lost is settled only by a change this
//! call made: each target's sub-task is read before sending, and a target
//! already past the operation (a confirm of a sub-task already `Success`) is
//! the server's refusal, never a success. Both orders of loss are held
//! against the emulator's real state: a 503 before processing, and a 500
//! after it.

use std::time::Duration;

use crate::common::*;
use axum::http::StatusCode;
use iotda_batchtask::outcome::{Failed, Succeeded, TargetOutcome};
use iotda_batchtask::{Client, Credentials, TargetsReport};
use iotda_batchtask_emulator::{
    DEMO_CONFIRM_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_PROJECT_ID, Emulator, EmulatorConfig, EmulatorHandle, Fault,
    Operation, TaskDetailStatus as S,
};

async fn emulator() -> (EmulatorHandle, Client) {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK))
        .await
        .expect("emulator");
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .deadline(Duration::from_secs(20))
        .build()
        .expect("client");
    (emulator, client)
}

fn status(emulator: &EmulatorHandle, task: &str, device: &str) -> S {
    emulator.task(DEMO_PROJECT_ID, task).expect("task").subtasks[device]
}

fn outcome<'r>(report: &'r TargetsReport, device: &str) -> &'r TargetOutcome {
    &report
        .results()
        .iter()
        .find(|r| r.target == device)
        .expect("every target reported")
        .outcome
}

fn not_applicable(outcome: &TargetOutcome, was: &str) -> bool {
    matches!(outcome, TargetOutcome::Failed(Failed::NotApplicable { before, .. }) if before == was)
}

/// The loss: before processing, or after it.
#[derive(Debug, Clone, Copy)]
enum Loss {
    Before,
    After,
}

impl Loss {
    fn fault(self, operation: Operation) -> Fault {
        match self {
            Loss::Before => Fault::status(StatusCode::SERVICE_UNAVAILABLE),
            Loss::After => Fault::process_then_fail(StatusCode::INTERNAL_SERVER_ERROR),
        }
        .on(operation)
        .times(1)
    }
}

#[tokio::test]
async fn a_lost_confirm_never_counts_a_state_that_was_already_so() {
    for loss in [Loss::Before, Loss::After] {
        let (emulator, client) = emulator().await;
        let task = DEMO_CONFIRM_TASK_ID;
        // dev-0001 has already succeeded and dev-0002 failed: a confirm does
        // not act on them, and the server refuses both. dev-0003 waits.
        emulator
            .set_sub_task(DEMO_PROJECT_ID, task, "dev-0001", S::Success)
            .unwrap();
        emulator
            .set_sub_task(DEMO_PROJECT_ID, task, "dev-0002", S::Fail)
            .unwrap();
        emulator.inject(loss.fault(Operation::ConfirmBatchTask)).unwrap();
        let report = client
            .confirm_batch_task(task)
            .targets(["dev-0001", "dev-0002", "dev-0003"])
            .send()
            .await
            .expect("a report");
        assert!(
            not_applicable(outcome(&report, "dev-0001"), "Success"),
            "{loss:?}: {report:?}"
        );
        assert!(
            not_applicable(outcome(&report, "dev-0002"), "Fail"),
            "{loss:?}: {report:?}"
        );
        assert!(report.results()[2].is_success(), "{loss:?}: {report:?}");
        match loss {
            // Not processed: still waiting when read, so sent again, answered.
            Loss::Before => assert!(matches!(
                outcome(&report, "dev-0003"),
                TargetOutcome::Succeeded(Succeeded::Answered { .. })
            )),
            // Processed: the read finds it dispatched.
            Loss::After => assert!(matches!(
                outcome(&report, "dev-0003"),
                TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
            )),
        }
        assert_eq!(status(&emulator, task, "dev-0001"), S::Success);
        assert_eq!(status(&emulator, task, "dev-0002"), S::Fail);
        assert_ne!(status(&emulator, task, "dev-0003"), S::Waitting);
    }
}

#[tokio::test]
async fn a_lost_retry_never_counts_a_state_that_was_already_so() {
    for loss in [Loss::Before, Loss::After] {
        let (emulator, client) = emulator().await;
        let task = DEMO_PARTIAL_TASK_ID;
        let before = emulator.task(DEMO_PROJECT_ID, task).expect("task").subtasks;
        let first = |wanted: S| {
            before
                .iter()
                .find(|(_, s)| **s == wanted)
                .map(|(d, _)| d.clone())
                .expect("the partial task has one")
        };
        let (succeeded, failed, stopped) = (first(S::Success), first(S::Fail), first(S::Stopped));
        emulator.inject(loss.fault(Operation::RetryBatchTask)).unwrap();
        let report = client
            .retry_batch_task(task)
            .targets([&succeeded, &failed, &stopped])
            .send()
            .await
            .expect("a report");
        // Already Success: a retry does not act on it, whatever a read shows.
        assert!(
            not_applicable(outcome(&report, &succeeded), "Success"),
            "{loss:?}: {report:?}"
        );
        for device in [&failed, &stopped] {
            assert!(
                matches!(outcome(&report, device), TargetOutcome::Succeeded(_)),
                "{loss:?} {device}: {report:?}"
            );
            assert!(
                !matches!(status(&emulator, task, device), S::Fail | S::Stopped),
                "{loss:?} {device} was retried"
            );
        }
        assert_eq!(status(&emulator, task, &succeeded), S::Success);
        // Read before and after; sent once or, when not processed, twice.
        let sent = emulator.journal().of(Operation::RetryBatchTask, task).count();
        assert_eq!(
            sent,
            match loss {
                Loss::Before => 2,
                Loss::After => 1,
            },
            "{loss:?}"
        );
    }
}
