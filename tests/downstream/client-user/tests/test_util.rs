//! A downstream crate's unit tests, with the `test-util` constructors and no
//! server: the crate's own logic over reports, pages and errors.

use std::sync::Arc;
use std::time::Duration;

use iotda_batchtask::outcome::Unknown;
use iotda_batchtask::output::Status;
use iotda_batchtask::types::{BatchTask, TaskDetail, TaskDetailStatus};
use iotda_batchtask::{ApiError, Error, ShowOutput, TargetsReport, TargetOutcome, TimeoutKind};

/// What a downstream tool might do with a report: devices to retry later.
fn to_retry(report: &TargetsReport) -> Vec<&str> {
    report
        .unknown()
        .chain(report.not_attempted())
        .map(|r| r.target.as_str())
        .collect()
}

/// What a downstream tool might do with an error: whether to page someone.
fn alert(error: &Error) -> bool {
    error.is_auth() || error.may_have_been_processed()
}

#[test]
fn retries_only_what_is_not_known() {
    let lost = Error::timeout(TimeoutKind::Deadline, Duration::from_secs(60), 2, None);
    let report = TargetsReport::builder()
        .succeeded("dev-1", Some("rid"))
        .failed("dev-2", "IOTDA.014219", "The target is not in the task", Some("rid"))
        .result("dev-3", TargetOutcome::Unknown(Unknown::Error(Arc::new(lost))))
        .not_attempted("dev-4")
        .request_id("rid")
        .build();
    assert_eq!(to_retry(&report), ["dev-3", "dev-4"]);
    assert!(!report.all_succeeded());
}

#[test]
fn alerts_on_auth_and_ambiguous_errors_only() {
    assert!(alert(&Error::api(
        401,
        "APIGW.0301",
        "Incorrect IAM authentication information",
        None
    )));
    assert!(alert(&ApiError::builder(503).request_id("rid").into_error()));
    assert!(alert(&Error::transport("connection reset by peer", 1, None)));
    assert!(alert(&Error::decode(200, "missing field", "{", None)));
    assert!(alert(&Error::response_too_large(200, 1 << 20, None)));
    assert!(!alert(&Error::timeout(
        TimeoutKind::Connect,
        Duration::from_secs(5),
        3,
        None
    )));
    assert!(!alert(&Error::api(404, "IOTDA.014200", "no such task", Some("rid"))));
}

#[test]
fn reads_a_page_typed() {
    // Generated types are `#[non_exhaustive]`: build them from `Default`.
    let detail = |target: &str, status: &str| {
        let mut detail = TaskDetail::default();
        detail.target = Some(target.to_owned());
        detail.status = Some(status.to_owned());
        detail
    };
    let mut body = BatchTask::default();
    body.task_details = vec![detail("dev-1", "Stopped"), detail("dev-2", "Paused")];
    let page = ShowOutput::new(body, Some("rid"));
    let statuses: Vec<_> = page.sub_tasks().iter().map(|d| d.status()).collect();
    assert_eq!(
        statuses,
        [
            Some(Status::Known(TaskDetailStatus::Stopped)),
            Some(Status::Unknown("Paused".into()))
        ]
    );
}
