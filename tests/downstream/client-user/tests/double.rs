//! The service in `src/lib.rs` tested with the emulator as a test double:
//! what the service sent (the journal), how it copes with a throttled
//! gateway, with an answer lost after the stop was processed, and with a
//! device that finishes while the test runs.

use std::time::Duration;

use iotda_batchtask_emulator::http::StatusCode;
use iotda_batchtask::{Client, Credentials, RetryPolicy};
use iotda_batchtask_emulator::{
    AuthMode, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, EmulatorHandle, Fault, Operation, Seed,
    TaskDetailStatus,
};

async fn start() -> (EmulatorHandle, Client) {
    let emulator = Emulator::start(EmulatorConfig::new().seed(Seed::demo()).token("t"))
        .await
        .expect("the emulator starts on loopback");
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::token("t"))
        // Short pauses: the test waits for the retry after a 429.
        .retry(RetryPolicy::default().with_backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .build()
        .expect("a valid client");
    (emulator, client)
}

fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

#[tokio::test]
async fn the_journal_shows_one_stop_naming_exactly_the_devices() {
    let (emulator, client) = start().await;
    let halt = client_user::halt(&client, DEMO_TASK_ID, &["dev-0001", "dev-0002"])
        .await
        .unwrap();
    assert_eq!(halt.stopped, owned(&["dev-0001", "dev-0002"]));

    let journal = emulator.journal();
    let stops: Vec<_> = journal.stops_of(DEMO_TASK_ID).collect();
    assert_eq!(stops.len(), 1, "one request, no read: {journal:?}");
    assert_eq!(stops[0].targets(), Some(owned(&["dev-0001", "dev-0002"])));
    assert_eq!(stops[0].auth, AuthMode::Token);
    assert_eq!(stops[0].project_id.as_deref(), Some(DEMO_PROJECT_ID));
    assert_eq!(stops[0].status_code(), Some(200));
    assert_eq!(journal.len(), 1);
}

#[tokio::test]
async fn a_throttled_stop_is_retried_once_and_succeeds() {
    let (emulator, client) = start().await;
    emulator
        .inject(
            Fault::error(
                StatusCode::TOO_MANY_REQUESTS,
                "APIGW.0308",
                "The throttling threshold has been reached.",
            )
            .on(Operation::StopBatchTask)
            .times(1),
        )
        .unwrap();
    let halt = client_user::halt(&client, DEMO_TASK_ID, &["dev-0003"]).await.unwrap();
    assert_eq!(halt.stopped, owned(&["dev-0003"]));

    let statuses: Vec<_> = emulator
        .journal()
        .stops_of(DEMO_TASK_ID)
        .map(|e| e.status_code())
        .collect();
    assert_eq!(statuses, [Some(429), Some(200)]);
    assert_eq!(emulator.pending_faults(), 0);
}

#[tokio::test]
async fn a_stop_processed_then_answered_500_is_settled_by_a_read_not_a_resend() {
    let (emulator, client) = start().await;
    emulator
        .inject(Fault::process_then_fail(StatusCode::INTERNAL_SERVER_ERROR).on(Operation::StopBatchTask))
        .unwrap();
    let halt = client_user::halt(&client, DEMO_TASK_ID, &["dev-0004", "dev-0005"])
        .await
        .unwrap();
    // The emulator stopped both, then answered 500: the service still knows.
    assert_eq!(halt.stopped, owned(&["dev-0004", "dev-0005"]));
    assert!(halt.check_by_hand.is_empty());

    let journal = emulator.journal();
    assert_eq!(journal.stops_of(DEMO_TASK_ID).count(), 1, "never re-sent: {journal:?}");
    assert!(journal.iter().any(|e| e.is_show_of(DEMO_TASK_ID)), "settled by a read");
    let task = emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
    assert_eq!(task.subtasks["dev-0004"], TaskDetailStatus::Stopped);
}

#[tokio::test]
async fn a_device_that_finishes_mid_test_is_reported_not_stopped() {
    let (emulator, client) = start().await;
    let before = client_user::halt(&client, DEMO_TASK_ID, &["dev-0006"]).await.unwrap();
    assert_eq!(before.stopped, owned(&["dev-0006"]));

    // dev-0007 finishes its upgrade before the on-call engineer acts.
    emulator
        .finish_sub_task(DEMO_PROJECT_ID, DEMO_TASK_ID, "dev-0007")
        .unwrap();
    let after = client_user::halt(&client, DEMO_TASK_ID, &["dev-0007", "dev-0008"])
        .await
        .unwrap();
    assert_eq!(after.stopped, owned(&["dev-0008"]));
    assert_eq!(after.not_stopped.len(), 1);
    assert_eq!(after.not_stopped[0].0, "dev-0007");
    assert!(!after.not_stopped[0].1.is_empty(), "Huawei's code is kept: {after:?}");
    assert_eq!(
        emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().subtasks["dev-0007"],
        TaskDetailStatus::Success
    );
}
