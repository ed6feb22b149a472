//! A stop that leaves no sub-task running or waiting ends the task: IoTDA
//! makes it Stopped, and RetryBatchTask refuses a Stopped task, so the
//! rollout cannot be resumed. `stop` says so after it happened (one read of
//! the task), and `stop --dry-run` predicts it from reads of the task.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use iotda_batchtask::types::{TaskDetailStatus, TaskProgress, TaskStatus};
use iotda_batchtask::{Client, MAX_WALK_SUB_TASKS, Status};

use crate::output::errln;
use crate::sanitize;

/// The sub-task statuses a stop acts on (and that keep a task going).
const RUNNING: [TaskDetailStatus; 3] = [
    TaskDetailStatus::Processing,
    TaskDetailStatus::Waitting,
    TaskDetailStatus::FailWaitRetry,
];

/// What to do instead, said wherever the end is announced.
const PAUSE_HINT: &str = "to pause a rollout instead, leave at least one device running, or create the task with \
                          --need-confirm and `confirm` devices in waves";

/// The warning after a stop that ended the task (`status` is what a read
/// of the task shows), or `None` while the task still runs.
pub fn after_stop(task_id: &str, status: Option<Status<TaskStatus>>) -> Option<String> {
    let status = status?;
    let ended = matches!(status.known(), Some(TaskStatus::Stopped | TaskStatus::Stopping));
    ended.then(|| {
        format!(
            "warning: this stop left nothing running: task {task_id} is {status} and cannot be resumed \
             (retry refuses a Stopped task); {PAUSE_HINT}"
        )
    })
}

/// The dry run's prediction, when the stop would leave nothing running.
pub fn predicted(task_id: &str) -> String {
    format!(
        "this stop would leave nothing running: task {task_id} would become Stopped and could not be resumed \
         (retry refuses a Stopped task); {PAUSE_HINT}"
    )
}

/// Whether the task's counters allow `targets` distinct devices to be all
/// it has running (a read of every running sub-task is needed only then).
pub fn may_end(progress: Option<&TaskProgress>, targets: usize) -> bool {
    let Some(progress) = progress else { return false };
    let running: i64 = [progress.processing, progress.waitting, progress.fail_wait_retry]
        .iter()
        .map(|n| n.unwrap_or(0).max(0))
        .sum();
    running > 0 && usize::try_from(running).is_ok_and(|running| running <= targets)
}

/// Whether stopping `targets` leaves none of `running` (the devices of the
/// task's running, waiting and failed-awaiting-retry sub-tasks) running.
pub fn ends_task<'a>(running: impl IntoIterator<Item = &'a str>, targets: &[String]) -> bool {
    let targets: HashSet<&str> = targets.iter().map(String::as_str).collect();
    let mut running = running.into_iter().peekable();
    running.peek().is_some() && running.all(|device| targets.contains(device))
}

/// Reads the task to predict whether stopping `targets` ends it: one read
/// of its counters, and the running sub-tasks only when there are no more
/// of them than targets.
pub async fn predict(client: &Client, task_id: &str, targets: &[String]) -> Result<bool, iotda_batchtask::Error> {
    let distinct = targets.iter().collect::<HashSet<_>>().len();
    let read = client.show_batch_task(task_id).limit(1).send().await?;
    if !may_end(read.task().and_then(|t| t.task_progress.as_ref()), distinct) {
        return Ok(false);
    }
    let mut running = Vec::new();
    for status in RUNNING {
        let devices: Vec<_> = client
            .show_batch_task(task_id)
            .status(status)
            .sub_tasks()
            .try_collect()
            .await?;
        running.extend(devices.into_iter().filter_map(|d| d.target));
        if running.len() > distinct.min(MAX_WALK_SUB_TASKS) {
            return Ok(false);
        }
    }
    Ok(ends_task(running.iter().map(String::as_str), targets))
}

/// After a stop of named devices that stopped some: one read of the task,
/// and the warning on stderr if the stop ended it. A failed read says
/// nothing (the stop's own report stands).
pub async fn warn_if_ended(client: &Client, task_id: &str) {
    let Ok(read) = client.show_batch_task(task_id).limit(1).send().await else {
        return;
    };
    if let Some(warning) = after_stop(&sanitize::cell(task_id, 64), read.task().and_then(|t| t.status())) {
        errln!("{warning}");
    }
}

/// How long a dry run spends predicting: a plan must not wait out the
/// client's whole deadline on an unreachable endpoint.
const PREDICTION_TIME: Duration = Duration::from_secs(10);

/// The dry run's note on whether the stop would end the task.
pub async fn dry_run_note(client: &Client, task_id: &str, targets: &[String]) -> String {
    let task = sanitize::cell(task_id, 64);
    match tokio::time::timeout(PREDICTION_TIME, predict(client, task_id, targets)).await {
        Ok(Ok(true)) => predicted(&task),
        Ok(Ok(false)) => format!("task {task} keeps devices running after this stop (read to check)"),
        Ok(Err(e)) => format!(
            "could not read task {task} to predict whether this stop ends it: {}",
            sanitize::cell(&e.to_string(), 512)
        ),
        Err(_) => format!(
            "could not read task {task} within {} s to predict whether this stop ends it",
            PREDICTION_TIME.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(processing: i64, waitting: i64, fail_wait_retry: i64) -> TaskProgress {
        TaskProgress::builder()
            .processing(Some(processing))
            .waitting(Some(waitting))
            .fail_wait_retry(Some(fail_wait_retry))
            .try_into()
            .unwrap()
    }

    #[test]
    fn counters_rule_out_an_end_without_a_walk() {
        assert!(may_end(Some(&progress(2, 1, 0)), 3));
        assert!(may_end(Some(&progress(0, 0, 1)), 300));
        assert!(!may_end(Some(&progress(2, 1, 1)), 3), "4 running, 3 targets");
        assert!(
            !may_end(Some(&progress(0, 0, 0)), 3),
            "nothing running: the stop ends nothing"
        );
        assert!(!may_end(None, 3));
    }

    #[test]
    fn a_stop_ends_the_task_when_it_names_every_running_device() {
        let targets = ["dev-1".to_owned(), "dev-2".to_owned(), "dev-9".to_owned()];
        assert!(ends_task(["dev-2", "dev-1"], &targets));
        assert!(!ends_task(["dev-2", "dev-3"], &targets));
        assert!(!ends_task([], &targets), "nothing running: nothing to end");
    }

    #[test]
    fn only_a_stopped_task_is_announced() {
        let warning = after_stop("61a5", Some(Status::parse("Stopped"))).unwrap();
        assert!(
            warning.contains("task 61a5 is Stopped and cannot be resumed"),
            "{warning}"
        );
        assert!(warning.contains("--need-confirm"), "{warning}");
        assert!(after_stop("61a5", Some(Status::parse("Stopping"))).is_some());
        for other in ["Processing", "Success", "Whatever"] {
            assert_eq!(after_stop("61a5", Some(Status::parse(other))), None, "{other}");
        }
        assert_eq!(after_stop("61a5", None), None);
    }
}
