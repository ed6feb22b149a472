//! What a downstream crate needs: builders whose futures and streams are
//! `'static + Send`, typed statuses, and (feature `test-util`) reports,
//! outputs and errors built without a server.

use futures_util::TryStreamExt as _;
use iotda_batchtask::output::Status;
use iotda_batchtask::types::{self, TaskDetailStatus, TaskStatus, TaskType};
use iotda_batchtask::{Client, Credentials, Error, Stream};
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, EmulatorHandle, Seed};

use crate::common::TOKEN;

async fn demo() -> (EmulatorHandle, Client) {
    let emulator = Emulator::start(EmulatorConfig::new().seed(Seed::demo()).token(TOKEN))
        .await
        .unwrap();
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::token(TOKEN))
        .build()
        .unwrap();
    (emulator, client)
}

fn spawnable<T: std::future::Future + Send + 'static>(future: T) -> T {
    future
}

/// A function may hand out the walk: the stream borrows nothing.
fn every_sub_task(
    client: &Client,
    task_id: &str,
) -> impl Stream<Item = Result<types::TaskDetail, Error>> + Send + 'static {
    client.show_batch_task(task_id).limit(7).sub_tasks()
}

#[tokio::test]
async fn show_futures_and_streams_are_send_and_static() {
    let (_emulator, client) = demo().await;
    let page = spawnable(client.show_batch_task(DEMO_TASK_ID).limit(3).send());
    let walk = every_sub_task(&client, DEMO_TASK_ID);
    drop(client);
    let page = tokio::spawn(page).await.unwrap().unwrap();
    assert_eq!(page.sub_tasks().len(), 3);
    let all: Vec<_> = tokio::spawn(walk.try_collect::<Vec<_>>()).await.unwrap().unwrap();
    assert_eq!(all.len(), iotda_batchtask_emulator::DEMO_DEVICE_COUNT);
}

/// Every new operation's future (and the task stream) can be spawned:
/// `'static + Send`, holding its own client. Checked at compile time; the
/// futures are dropped unpolled, so nothing is sent.
#[test]
fn the_family_futures_are_send_and_static() {
    let client = crate::common::client("http://127.0.0.1:9", crate::common::Mode::Token);
    let task = crate::common::TASK;
    let task_type = iotda_batchtask::types::TaskType::FirmwareUpgrade;
    drop(spawnable(client.retry_batch_task(task).all().send()));
    drop(spawnable(client.confirm_batch_task(task).all().send()));
    drop(spawnable(client.retry_batch_task(task).targets(["d"]).send()));
    drop(spawnable(client.list_batch_tasks(task_type).send()));
    drop(spawnable(
        client.list_batch_tasks(task_type).tasks().try_collect::<Vec<_>>(),
    ));
    drop(spawnable(
        client.create_batch_task("n", task_type).targets(["d"]).send(),
    ));
    drop(spawnable(client.delete_batch_task(task).send()));
}

#[tokio::test]
async fn statuses_read_typed_from_the_emulator() {
    let (_emulator, client) = demo().await;
    let page = client.show_batch_task(DEMO_TASK_ID).send().await.unwrap();
    let task = page.task().unwrap();
    assert!(matches!(task.status(), Some(Status::Known(_))), "{:?}", task.status);
    assert!(
        matches!(task.task_type(), Some(Status::Known(_))),
        "{:?}",
        task.task_type
    );
    for detail in page.sub_tasks() {
        let status = detail.status().unwrap();
        assert_eq!(status.to_string(), detail.status.clone().unwrap());
        assert!(status.known().is_some(), "{status:?}");
    }
}

#[test]
fn statuses_keep_unknown_values_and_decode_as_before() {
    let task: types::Task = serde_json::from_str(r#"{"status":"Waitting","task_type":"firmwareUpgrade"}"#).unwrap();
    assert_eq!(task.status(), Some(Status::Known(TaskStatus::Waitting)));
    assert_eq!(task.task_type(), Some(Status::Known(TaskType::FirmwareUpgrade)));
    let newer: types::Task = serde_json::from_str(r#"{"status":"Archived","task_type":"otaUpgrade"}"#).unwrap();
    assert_eq!(newer.status(), Some(Status::Unknown("Archived".into())));
    assert_eq!(newer.task_type().unwrap().unknown(), Some("otaUpgrade"));
    assert_eq!(types::Task::default().status(), None);
    for known in TaskDetailStatus::ALL {
        let status = Status::<TaskDetailStatus>::parse(known.as_str());
        assert_eq!(status.known(), Some(&known));
        assert_eq!(status.to_string(), known.as_str());
    }
    // Case matters, as on the wire.
    assert_eq!(
        Status::<TaskDetailStatus>::parse("stopped"),
        Status::Unknown("stopped".into())
    );
}

#[cfg(feature = "test-util")]
mod test_util {
    use std::sync::Arc;
    use std::time::Duration;

    use iotda_batchtask::outcome::{Failed, Succeeded, Unknown};
    use iotda_batchtask::types;
    use iotda_batchtask::{ApiError, Error, HuaweiCode, ShowOutput, TargetOutcome, TargetsReport, TimeoutKind};

    #[test]
    fn stop_reports_build_with_every_outcome() {
        let mut stray = types::BatchTargetResult::default();
        stray.target = Some("dev-x".into());
        stray.status = Some("success".into());
        let report = TargetsReport::builder()
            .succeeded("dev-1", Some("rid-1"))
            .failed("dev-2", "IOTDA.014219", "not in the task", Some("rid-1"))
            .unknown(
                "dev-3",
                Error::timeout(TimeoutKind::Request, Duration::from_secs(1), 1, None),
            )
            .not_attempted("dev-4")
            .result(
                "dev-5",
                TargetOutcome::Succeeded(Succeeded::ConfirmedByRead {
                    request_id: Some(Arc::from("rid-2")),
                }),
            )
            .result(
                "dev-6",
                TargetOutcome::Failed(Failed::Refused(Arc::new(Error::api(
                    404,
                    "IOTDA.014200",
                    "no task",
                    None,
                )))),
            )
            .result("dev-7", TargetOutcome::Unknown(Unknown::Interrupted))
            .request_id("rid-1")
            .request_id("rid-2")
            .reads(1)
            .duplicates_dropped(2)
            .cancelled(true)
            .unexpected(stray)
            .build();
        let targets: Vec<_> = report.results().iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["dev-1", "dev-2", "dev-3", "dev-4", "dev-5", "dev-6", "dev-7"]);
        assert_eq!(report.succeeded().count(), 2);
        assert_eq!(report.failed().count(), 2);
        assert_eq!(report.unknown().count(), 2);
        assert_eq!(report.not_attempted().count(), 1);
        assert_eq!(report.request_ids(), ["rid-1", "rid-2"]);
        assert_eq!(report.results()[4].request_id(), Some("rid-2"));
        assert_eq!(
            (report.requests_sent(), report.reads(), report.duplicates_dropped()),
            (1, 1, 2)
        );
        assert!(report.cancelled() && report.unexpected().len() == 1 && !report.all_succeeded());

        let ok = TargetsReport::builder()
            .succeeded("dev-1", None)
            .requests_sent(2)
            .build();
        assert!(ok.all_succeeded());
        assert_eq!(ok.requests_sent(), 2);
        assert_eq!(TargetsReport::builder().build().requests_sent(), 0);
        let lost_all = TargetsReport::builder().task_status("Processing").build();
        assert_eq!(lost_all.task_status(), Some("Processing"));
        assert!(!lost_all.all_succeeded());
        // A retry's lost `all()` read as applied, whatever the task's status.
        let retried = iotda_batchtask::TargetsReport::builder()
            .task_status("Processing")
            .applied(true)
            .build();
        assert_eq!(retried.applied(), Some(true));
        assert!(retried.all_succeeded());
    }

    #[test]
    fn list_pages_build_from_the_generated_type() {
        let body: types::Tasks = serde_json::from_str(
            r#"{"batchtasks":[{"task_id":"61a5f4cbd86b7a1d1c2f3e4a","status":"Stopping","need_confirm":true}],
                "page":{"count":1,"marker":"61a5f4cbd86b7a1d1c2f3e4a"}}"#,
        )
        .unwrap();
        let page = iotda_batchtask::ListOutput::new(body.clone(), Some("rid-1"));
        assert_eq!(page.request_id(), Some("rid-1"));
        assert_eq!(page.tasks()[0].need_confirm, Some(true));
        assert_eq!(page.into_inner(), body);
    }

    #[test]
    fn every_error_kind_builds_and_classifies_like_the_real_one() {
        let api = Error::api(404, "IOTDA.014200", "The batch task does not exist", Some("rid-9"));
        assert!(api.is_not_found() && !api.may_have_been_processed());
        assert_eq!(api.code(), Some(HuaweiCode::TaskNotFound));
        assert_eq!(api.request_id(), Some("rid-9"));
        assert_eq!(
            api.to_string(),
            "HTTP 404 Not Found: IOTDA.014200 The batch task does not exist (request id rid-9)"
        );

        let throttled: ApiError = ApiError::builder(429).error_code("APIG.0308").attempts(3).build();
        assert_eq!((throttled.status(), throttled.attempts), (429, 3));
        let throttled = ApiError::builder(429).error_code("APIG.0308").into_error();
        assert!(throttled.is_throttled() && throttled.is_retryable());
        let proxy = ApiError::builder(502).body("<html>bad gateway</html>").into_error();
        assert!(proxy.may_have_been_processed());
        assert!(proxy.to_string().contains("body: <html>bad gateway</html>"), "{proxy}");

        let reset = Error::transport("connection reset", 1, None);
        assert!(matches!(reset, Error::Transport { .. }));
        assert!(reset.may_have_been_processed() && !reset.is_retryable());

        for (kind, processed) in [
            (TimeoutKind::Connect, false),
            (TimeoutKind::Request, true),
            (TimeoutKind::Deadline, true),
        ] {
            let e = Error::timeout(kind, Duration::from_secs(2), 2, Some("rid"));
            assert!(matches!(e, Error::Timeout { limit, .. } if limit == kind));
            assert_eq!(e.may_have_been_processed(), processed, "{kind}");
            assert_eq!((e.attempts(), e.request_id()), (2, Some("rid")));
        }

        let decode = Error::decode(200, "expected an object", "[]", None);
        assert!(matches!(&decode, Error::Decode { body, .. } if body == "[]"));
        assert_eq!(decode.status(), Some(200));
        let large = Error::response_too_large(200, 1024, Some("rid"));
        assert!(matches!(large, Error::ResponseTooLarge { limit: 1024, .. }));
        assert!(large.to_string().contains("1024-byte limit"));
    }

    #[test]
    fn show_outputs_build_from_generated_responses() {
        let body: types::BatchTask = serde_json::from_str(
            r#"{"batchtask":{"task_id":"61a5f4cbd86b7a1d1c2f3e4a","status":"Stopping"},
                "task_details":[{"target":"dev-1","status":"Stopped"}],
                "page":{"count":1,"marker":"5c90fa7d3c4e4405e8525079"}}"#,
        )
        .unwrap();
        let page = ShowOutput::new(body.clone(), Some("rid-1"));
        assert_eq!(page.request_id(), Some("rid-1"));
        assert_eq!(page.sub_tasks()[0].target.as_deref(), Some("dev-1"));
        assert_eq!(page.task().and_then(|t| t.status.as_deref()), Some("Stopping"));
        assert_eq!(page.into_inner(), body);
        assert_eq!(ShowOutput::new(types::BatchTask::default(), None).request_id(), None);
    }
}
