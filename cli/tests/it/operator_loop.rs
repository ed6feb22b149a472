//! The rollout-control loop through the built binary, against the emulator:
//! `list`, `retry`, `confirm`, `create`, `delete`, `--wait`, `--dry-run`
//! (zero requests reach the server) and the confirmation asked on a
//! terminal (a pseudo-terminal from util-linux `script`) and never without
//! one.

use crate::common::*;

use std::io::{Read as _, Write as _};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use iotda_batchtask_emulator::http::StatusCode;
use iotda_batchtask_emulator::{
    DEMO_CONFIRM_TASK_ID, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig,
    Fault, Operation, Seed, TaskDetailStatus, TaskStatus,
};
use serde_json::Value;

fn demo_emulator() -> Running {
    demo_with(EmulatorConfig::new())
}

fn demo_with(config: EmulatorConfig) -> Running {
    start(config.seed(Seed::demo()).ak_sk(AK, SK).token(TOKEN))
}

/// `iotda-batchtask <args>` against `emulator`, token auth from the
/// environment, nothing else set.
fn cli(emulator: &Running, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("iotda-batchtask").unwrap();
    cmd.env_clear()
        .timeout(Duration::from_secs(60))
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(args);
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(output: &std::process::Output) -> Value {
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON object on stdout: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

fn sub_task(emulator: &Running, task: &str, device: &str) -> TaskDetailStatus {
    emulator.handle.task(DEMO_PROJECT_ID, task).unwrap().subtasks[device]
}

#[test]
fn list_walks_every_page_filters_and_pages_by_marker() {
    let emulator = demo_emulator();
    let out = cli(
        &emulator,
        &["list", "--task-type", "firmwareUpgrade", "--output", "json"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let all = json(&out);
    let ids: Vec<&str> = all["batchtasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [DEMO_PARTIAL_TASK_ID, DEMO_CONFIRM_TASK_ID, DEMO_TASK_ID],
        "newest first"
    );
    // A whole listing keeps every page's request ID (the demo's tasks fit one page).
    let ids = all["request_ids"].as_array().expect("request_ids");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].as_str().is_some_and(|id| !id.is_empty()), "{ids:?}");

    let out = cli(
        &emulator,
        &["list", "--task-type", "firmwareUpgrade", "--status", "processing"],
    )
    .output()
    .unwrap();
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(table.starts_with("TASK ID "), "{table}");
    assert!(
        table.contains(DEMO_TASK_ID) && table.contains(DEMO_CONFIRM_TASK_ID),
        "{table}"
    );
    assert!(!table.contains(DEMO_PARTIAL_TASK_ID), "{table}");
    assert!(table.contains("30/300") && table.ends_with("2 tasks\n"), "{table}");

    // One page at a time: the table names the next page's marker.
    let out = cli(&emulator, &["list", "--task-type", "firmwareUpgrade", "--limit", "1"])
        .output()
        .unwrap();
    let table = text(&out.stdout);
    assert!(
        table.contains(DEMO_PARTIAL_TASK_ID) && table.contains("1 task\n"),
        "{table}"
    );
    let marker = table
        .lines()
        .find_map(|l| l.strip_prefix("next page: --marker "))
        .unwrap_or_else(|| panic!("{table}"));
    let out = cli(
        &emulator,
        &[
            "list",
            "--task-type",
            "firmwareUpgrade",
            "--limit",
            "1",
            "--marker",
            marker,
            "--output",
            "json",
        ],
    )
    .output()
    .unwrap();
    let page = json(&out);
    assert_eq!(page["batchtasks"][0]["task_id"], DEMO_CONFIRM_TASK_ID);
    assert!(page["request_id"].is_string(), "{page}");
    // A page shorter than its limit is the last: no marker offered.
    let out = cli(&emulator, &["list", "--task-type", "firmwareUpgrade", "--limit", "5"])
        .output()
        .unwrap();
    let table = text(&out.stdout);
    assert!(table.ends_with("3 tasks\n") && !table.contains("next page"), "{table}");

    // The type is required (Huawei's definition); bad limits are refused before sending.
    let before = emulator.handle.request_count();
    let out = cli(&emulator, &["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&emulator, &["list", "--task-type", "firmwareUpgrade", "--limit", "51"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("limit"), "{}", text(&out.stderr));
    assert_eq!(emulator.handle.request_count(), before);
}

#[test]
fn retry_reports_each_target_like_stop() {
    let emulator = demo_emulator();
    // dev-0007 failed, dev-0009 was stopped, dev-0001 succeeded: not retried.
    let out = cli(
        &emulator,
        &[
            "retry",
            "--task-id",
            DEMO_PARTIAL_TASK_ID,
            "--target",
            "dev-0007",
            "--target",
            "dev-0009",
            "--target",
            "dev-0001",
            "--output",
            "json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let report = json(&out);
    let rows: Vec<(&str, &str, &str)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
                t["evidence"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("dev-0007", "success", "answer"),
            ("dev-0009", "success", "answer"),
            ("dev-0001", "failure", "answer")
        ]
    );
    assert_eq!(
        sub_task(&emulator, DEMO_PARTIAL_TASK_ID, "dev-0007"),
        TaskDetailStatus::Processing
    );
    assert_eq!(
        sub_task(&emulator, DEMO_PARTIAL_TASK_ID, "dev-0001"),
        TaskDetailStatus::Success
    );

    // The table's summary speaks of retries; a finished task refuses as a whole (exit 1).
    let out = cli(
        &emulator,
        &["retry", "--task-id", DEMO_PARTIAL_TASK_ID, "--target", "dev-0010"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 of 1 target retried, 0 not retried"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&emulator, &["retry", "--task-id", DEMO_FINISHED_TASK_ID, "--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("HTTP 400"), "{}", text(&out.stderr));
}

#[test]
fn confirm_all_without_a_terminal_asks_nothing() {
    let emulator = demo_emulator();
    // stdin is a pipe here: a script, which --all must not block.
    let out = cli(&emulator, &["confirm", "--task-id", DEMO_CONFIRM_TASK_ID, "--all"])
        .write_stdin("n\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("[y/N]"), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("10 of 10 targets confirmed"),
        "{}",
        text(&out.stdout)
    );
    let task = emulator.handle.task(DEMO_PROJECT_ID, DEMO_CONFIRM_TASK_ID).unwrap();
    assert_eq!(task.count(TaskDetailStatus::Processing), 10);
}

#[test]
fn create_from_a_device_file_and_report_what_is_known() {
    let emulator = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("devices.txt");
    std::fs::write(&file, "# canary\ndev-0001\ndev-0002\ndev-0001\n").unwrap();
    let file = file.to_str().unwrap();
    let create = |name: &str| {
        cli(
            &emulator,
            &[
                "create",
                "--name",
                name,
                "--task-type",
                "firmwareUpgrade",
                "--targets-file",
                file,
                "--package-id",
                "32822e5744a45ede319d2c50",
                "--need-confirm",
                "--retry-count",
                "2",
                "--retry-interval",
                "5",
                "--output",
                "json",
            ],
        )
    };
    let out = create("fw_2_1").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let created = json(&out);
    assert_eq!(created["outcome"], "created");
    let id = created["task"]["task_id"].as_str().unwrap();
    let task = emulator.handle.task(DEMO_PROJECT_ID, id).unwrap();
    assert_eq!(task.task_name, "fw_2_1");
    assert!(task.need_confirm);
    assert_eq!(task.subtasks.len(), 2);
    assert_eq!(task.count(TaskDetailStatus::Waitting), 2);

    // The answer lost after the task was made: listing finds it, nothing is resent.
    emulator
        .handle
        .inject(Fault::process_then_fail(StatusCode::INTERNAL_SERVER_ERROR).on(Operation::CreateBatchTask))
        .unwrap();
    let out = create("fw_2_2").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["outcome"], "created_by_read");
    assert_eq!(
        emulator.handle.journal().matching(Operation::CreateBatchTask).count(),
        2
    );

    // Lost before anything was made: the listing cannot prove that (the
    // server may create it late), so unknown, exit 4, never "safe to run
    // again".
    emulator
        .handle
        .inject(Fault::status(StatusCode::SERVICE_UNAVAILABLE).on(Operation::CreateBatchTask))
        .unwrap();
    let out = create("fw_2_3").args(["--settle-window", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(json(&out)["outcome"], "unknown");

    // Without reading, a lost answer is unknown (exit 4), in the table too.
    emulator
        .handle
        .inject(Fault::process_then_fail(StatusCode::INTERNAL_SERVER_ERROR).on(Operation::CreateBatchTask))
        .unwrap();
    let out = cli(
        &emulator,
        &[
            "create",
            "--name",
            "fw_2_4",
            "--task-type",
            "softwareUpgrade",
            "--target",
            "dev-0003",
            "--document",
            r#"{"package_ids":["p1"]}"#,
            "--no-reconcile",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("may have been created"),
        "{}",
        text(&out.stderr)
    );

    // Invalid input names the field and sends nothing.
    let before = emulator.handle.request_count();
    let out = cli(
        &emulator,
        &[
            "create",
            "--name",
            "bad name",
            "--task-type",
            "firmwareUpgrade",
            "--target",
            "dev-0001",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--name"), "{}", text(&out.stderr));
    let out = cli(
        &emulator,
        &[
            "create",
            "--name",
            "x",
            "--task-type",
            "firmwareUpgrade",
            "--target",
            "dev-0001",
            "--retry-count",
            "9",
            "--retry-interval",
            "1",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(emulator.handle.request_count(), before);
}

#[test]
fn delete_finished_tasks_only() {
    let emulator = demo_emulator();
    let out = cli(&emulator, &["delete", "--task-id", DEMO_FINISHED_TASK_ID])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("deleted task {DEMO_FINISHED_TASK_ID} (request id ")));
    assert!(emulator.handle.task(DEMO_PROJECT_ID, DEMO_FINISHED_TASK_ID).is_none());

    let out = cli(&emulator, &["delete", "--task-id", DEMO_TASK_ID, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("IOTDA.014221"), "{}", text(&out.stderr));

    // A lost answer is settled by one read: the task is gone.
    emulator
        .handle
        .inject(Fault::process_then_fail(StatusCode::BAD_GATEWAY).on(Operation::DeleteBatchTask))
        .unwrap();
    let out = cli(
        &emulator,
        &["delete", "--task-id", DEMO_PARTIAL_TASK_ID, "--output", "json"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["outcome"], "deleted_by_read");
    let deletes = emulator
        .handle
        .journal()
        .of(Operation::DeleteBatchTask, DEMO_PARTIAL_TASK_ID)
        .count();
    assert_eq!(deletes, 1, "the DELETE is never sent twice");
}

#[test]
fn stop_wait_polls_until_the_task_leaves_stopping() {
    // The task stays Stopping for two reads, then is Stopped.
    let emulator = demo_with(EmulatorConfig::new().stopping_reads(2));
    let out = cli(&emulator, &["stop", "--task-id", DEMO_TASK_ID, "--all", "--wait"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("task {DEMO_TASK_ID} is Stopped after")),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "progress: total 300, processing 0, waitting 0, fail_wait_retry 0, success 30, fail 15, stopped 255"
        ),
        "{stdout}"
    );
    let reads = emulator
        .handle
        .journal()
        .of(Operation::ShowBatchTask, DEMO_TASK_ID)
        .count();
    assert_eq!(reads, 3, "Stopping, Stopping, Stopped");
    assert_eq!(
        emulator.handle.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().status,
        TaskStatus::Stopped
    );
}

#[test]
fn retry_wait_reports_a_deadline_honestly() {
    let emulator = demo_emulator();
    // A retried task runs (Processing) until its devices answer: never, here.
    let out = cli(
        &emulator,
        &[
            "retry",
            "--task-id",
            DEMO_PARTIAL_TASK_ID,
            "--all",
            "--wait",
            "--wait-timeout",
            "1.5",
            "--output",
            "json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["targets"].as_array().unwrap().len(), 4);
    assert_eq!(report["wait"]["outcome"], "deadline");
    assert_eq!(report["wait"]["task_status"], "Processing");
    assert_eq!(report["wait"]["task_progress"]["processing"], 4);
    assert!(report["wait"]["seconds"].as_f64().unwrap() >= 1.5, "{report}");

    // --wait-timeout without --wait is a usage error.
    let out = cli(
        &emulator,
        &[
            "retry",
            "--task-id",
            DEMO_PARTIAL_TASK_ID,
            "--all",
            "--wait-timeout",
            "1",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn dry_run_sends_nothing_and_masks_credentials() {
    let emulator = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("devices.txt");
    let many: Vec<String> = (1..=150).map(|n| format!("dev-{n:04}")).collect();
    std::fs::write(&file, many.join("\n")).unwrap();
    let file = file.to_str().unwrap();
    let stop = format!("/batchtasks/{DEMO_TASK_ID}/stop");
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["stop", "--task-id", DEMO_TASK_ID, "--targets-file", file],
            &[&stop, "POST", "dev-0150"],
        ),
        (
            &["stop", "--task-id", DEMO_TASK_ID, "--all", "--wait"],
            &[&stop, "{}", "--wait"],
        ),
        (
            &["retry", "--task-id", DEMO_PARTIAL_TASK_ID, "--target", "dev-0007"],
            &["/retry", r#"{"targets":["dev-0007"]}"#],
        ),
        (
            &["confirm", "--task-id", DEMO_CONFIRM_TASK_ID, "--all"],
            &["/confirm", "{}"],
        ),
        (
            &[
                "create",
                "--name",
                "fw",
                "--task-type",
                "firmwareUpgrade",
                "--target",
                "dev-0001",
                "--package-id",
                "p1",
            ],
            &[
                "GET ",
                // The query as the generated builder sends it (by name).
                "batchtasks?limit=1&task_type=firmwareUpgrade",
                r#""document":{"package_id":"p1"}"#,
            ],
        ),
        (&["delete", "--task-id", DEMO_FINISHED_TASK_ID], &["DELETE "]),
        (&["delete", "--task-id", DEMO_FINISHED_TASK_ID, "--yes"], &["DELETE "]),
    ];
    for (args, expected) in cases {
        for (auth, secret) in [("IOTDA_AUTH_TOKEN", TOKEN), ("HUAWEICLOUD_SDK_AK", AK)] {
            let mut cmd = cli(&emulator, args);
            cmd.arg("--dry-run");
            if auth != "IOTDA_AUTH_TOKEN" {
                cmd.env_remove("IOTDA_AUTH_TOKEN")
                    .env("HUAWEICLOUD_SDK_AK", AK)
                    .env("HUAWEICLOUD_SDK_SK", SK)
                    .env("HUAWEICLOUD_SDK_REGION", "cn-north-4");
            }
            let out = cmd.output().unwrap();
            let stdout = text(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
            assert!(stdout.starts_with("dry run: nothing was sent"), "{stdout}");
            for e in expected {
                assert!(stdout.contains(e), "{args:?}: {e}: {stdout}");
            }
            let header = if auth == "IOTDA_AUTH_TOKEN" {
                "X-Auth-Token: ***"
            } else {
                "Authorization: *** (AK/SK signature"
            };
            assert!(stdout.contains(header), "{stdout}");
            let all = format!("{stdout}{}", text(&out.stderr));
            assert!(
                !all.contains(secret) && !all.contains(SK),
                "a credential printed: {all}"
            );
        }
    }
    // 150 devices: two requests of at most 100.
    let out = cli(
        &emulator,
        &[
            "stop",
            "--task-id",
            DEMO_TASK_ID,
            "--targets-file",
            file,
            "--dry-run",
            "--output",
            "json",
        ],
    )
    .output()
    .unwrap();
    let plan = json(&out);
    let requests = plan["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["body"]["targets"].as_array().unwrap().len(), 100);
    assert_eq!(requests[1]["body"]["targets"].as_array().unwrap().len(), 50);
    // A stop's dry run reads the task (to predict whether it ends it); nothing else reaches the server.
    let journal = emulator.handle.journal().into_vec();
    let reads = emulator.handle.request_count();
    assert_eq!(reads, journal.len() as u64);
    assert!(
        journal.iter().all(|e| e.operation == Operation::ShowBatchTask),
        "a dry run sent more than reads: {journal:?}"
    );

    // Still validated, naming the field: a usage error, and nothing sent.
    let out = cli(
        &emulator,
        &["stop", "--task-id", DEMO_TASK_ID, "--target", "bad id", "--dry-run"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    for (field, task_type, bad) in [
        ("--name", "firmwareUpgrade", &["--name", "bad name"][..]),
        (
            "--schedule-time",
            "firmwareUpgrade",
            &["--name", "ok", "--schedule-time", "tomorrow"][..],
        ),
        ("need_confirm", "createDevices", &["--name", "ok", "--need-confirm"][..]),
    ] {
        let out = cli(
            &emulator,
            &["create", "--target", "dev-0001", "--dry-run", "--task-type", task_type],
        )
        .args(bad)
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(2), "{field}");
        assert!(
            text(&out.stderr).contains(&format!("invalid {field}:")),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(emulator.handle.request_count(), reads, "a dry run reached the server");
}

/// Runs `iotda-batchtask <args>` on a pseudo-terminal (util-linux `script`)
/// against `emulator`, types `answer`, and returns the exit code and what
/// the terminal showed.
fn on_terminal(emulator: &Running, args: &[&str], answer: &str) -> (Option<i32>, String) {
    let bin = assert_cmd::cargo::cargo_bin("iotda-batchtask");
    let quoted: Vec<String> = std::iter::once(bin.to_str().unwrap())
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect();
    let mut child = std::process::Command::new("script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script");
    // Kept open until the command ends: script ends the session on EOF.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut shown = Vec::new();
        let _ = stdout.read_to_end(&mut shown);
        shown
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not finish on the terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let shown = reader.join().unwrap();
    (status.code(), text(&shown))
}

#[test]
fn all_and_delete_ask_on_a_terminal() {
    let emulator = demo_emulator();
    // "n": nothing sent, exit 5.
    let (code, shown) = on_terminal(&emulator, &["stop", "--task-id", DEMO_TASK_ID, "--all"], "n\n");
    assert!(
        shown.contains(&format!(
            "stop EVERY running, waiting and failed-awaiting-retry sub-task of task {DEMO_TASK_ID}? [y/N]"
        )),
        "{shown}"
    );
    assert!(shown.contains("not confirmed: nothing was sent"), "{shown}");
    assert_eq!(code, Some(5), "{shown}");
    let (code, shown) = on_terminal(&emulator, &["delete", "--task-id", DEMO_FINISHED_TASK_ID], "\n");
    assert_eq!(code, Some(5), "{shown}");
    assert!(
        shown.contains(&format!("Delete batch task {DEMO_FINISHED_TASK_ID}? [y/N]")),
        "{shown}"
    );
    assert_eq!(emulator.handle.request_count(), 0, "a declined command sent a request");

    // "y": it proceeds.
    let (code, shown) = on_terminal(
        &emulator,
        &["confirm", "--task-id", DEMO_CONFIRM_TASK_ID, "--all"],
        "y\n",
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("[y/N]") && shown.contains("10 of 10 targets confirmed"),
        "{shown}"
    );
    let (code, shown) = on_terminal(&emulator, &["delete", "--task-id", DEMO_FINISHED_TASK_ID], "yes\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(emulator.handle.task(DEMO_PROJECT_ID, DEMO_FINISHED_TASK_ID).is_none());

    // --yes, and named targets: no question.
    let (code, shown) = on_terminal(
        &emulator,
        &["stop", "--task-id", DEMO_TASK_ID, "--target", "dev-0001"],
        "",
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(!shown.contains("[y/N]"), "{shown}");
    let (code, shown) = on_terminal(&emulator, &["stop", "--task-id", DEMO_TASK_ID, "--all", "--yes"], "");
    assert_eq!(code, Some(0), "{shown}");
    assert!(!shown.contains("[y/N]"), "{shown}");
    assert_eq!(
        emulator.handle.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().status,
        TaskStatus::Stopped
    );
}

#[test]
fn a_signal_during_wait_still_prints_the_report_and_the_last_counters() {
    // Stopping for a thousand reads: the wait outlasts the test unless interrupted.
    let emulator = demo_with(EmulatorConfig::new().stopping_reads(1000));
    let bin = assert_cmd::cargo::cargo_bin("iotda-batchtask");
    let child = std::process::Command::new(bin)
        .args(["stop", "--task-id", DEMO_TASK_ID, "--all", "--wait", "--output", "json"])
        .env_clear()
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: until the wait has read the task once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while emulator
        .handle
        .journal()
        .of(Operation::ShowBatchTask, DEMO_TASK_ID)
        .count()
        < 1
    {
        assert!(Instant::now() < deadline, "the wait never read the task");
        std::thread::sleep(Duration::from_millis(20));
    }
    crate::commands::signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["targets"].as_array().unwrap().len(), 255);
    assert_eq!(report["wait"]["outcome"], "interrupted");
    assert_eq!(report["wait"]["task_status"], "Stopping");
    assert_eq!(report["wait"]["task_progress"]["stopped"], 255);
}

#[test]
fn a_signal_during_list_prints_the_tasks_fetched_so_far() {
    use wiremock::matchers::{method, query_param_is_missing};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A full first page, and a second that never comes (within the test).
    let tasks: Vec<Value> = (0..50)
        .map(|i| serde_json::json!({"task_id": format!("61a5f4cbd86b7a1d1c2f{:04x}", 0xffff - i), "status": "Processing"}))
        .collect();
    let marker = tasks[49]["task_id"].clone();
    let first = serde_json::json!({"batchtasks": tasks, "page": {"count": 1000, "marker": marker}});
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(query_param_is_missing("marker"))
            .respond_with(ResponseTemplate::new(200).set_body_json(first))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
            .mount(&server)
            .await;
        server
    });
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .args(["list", "--task-type", "firmwareUpgrade", "--timeout", "3600"])
        .env_clear()
        .env("IOTDA_ENDPOINT", server.uri())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while runtime.block_on(server.received_requests()).unwrap_or_default().len() < 2 {
        assert!(Instant::now() < deadline, "the second page was never requested");
        std::thread::sleep(Duration::from_millis(20));
    }
    crate::commands::signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted (SIGTERM): showing the 50 tasks fetched so far"),
        "{}",
        text(&out.stderr)
    );
    let table = text(&out.stdout);
    assert!(table.starts_with("TASK ID") && table.ends_with("50 tasks\n"), "{table}");
}
