//! A stop that leaves nothing running ends the task for good (Stopped, and
//! retry refuses a Stopped task): `stop` warns after it, `--dry-run`
//! predicts it from reads of the task.

use crate::common::*;

use std::time::Duration;

use assert_cmd::Command;
use iotda_batchtask_emulator::{EmulatorConfig, Operation, Seed, TaskStatus};

/// One task: dev-1 running, dev-2 waiting, dev-3 done.
fn emulator() -> Running {
    let seed = Seed::from_json(&format!(
        r#"{{"tasks": [{{"project_id": "{PROJECT}", "task_id": "{TASK}", "task_type": "firmwareUpgrade",
            "status": "Processing", "subtasks": {{"dev-1": "Processing", "dev-2": "Waitting", "dev-3": "Success"}}}}]}}"#
    ))
    .unwrap();
    start(EmulatorConfig::new().seed(seed).token(TOKEN))
}

fn stop(emulator: &Running, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("iotda-batchtask")
        .unwrap()
        .env_clear()
        .timeout(Duration::from_secs(60))
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(["stop", "--task-id", TASK])
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn dry_run_predicts_the_end_from_reads_only() {
    let emulator = emulator();
    let out = stop(
        &emulator,
        &[
            "--target",
            "dev-1",
            "--target",
            "dev-2",
            "--target",
            "dev-3",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("dry run: nothing was sent but reads of the task"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would become Stopped and could not be resumed"),
        "{stdout}"
    );
    let out = stop(&emulator, &["--target", "dev-1", "--dry-run"]);
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("would become Stopped"), "dev-2 still waits: {stdout}");
    let journal = emulator.handle.journal().into_vec();
    assert!(!journal.is_empty());
    assert!(
        journal.iter().all(|e| e.operation == Operation::ShowBatchTask),
        "a dry run only reads: {journal:?}"
    );
    assert_eq!(
        emulator.handle.task(PROJECT, TASK).unwrap().status,
        TaskStatus::Processing
    );
}

#[test]
fn a_stop_that_ends_the_task_says_so() {
    let emulator = emulator();
    let out = stop(&emulator, &["--target", "dev-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("warning"), "{}", text(&out.stderr));

    let out = stop(&emulator, &["--target", "dev-2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: this stop left nothing running: task {TASK} is Stopped and cannot be resumed"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--need-confirm"), "{stderr}");
    assert_eq!(emulator.handle.task(PROJECT, TASK).unwrap().status, TaskStatus::Stopped);
}
