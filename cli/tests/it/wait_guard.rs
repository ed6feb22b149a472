//! `--wait` of `stop`, `retry` and `confirm` is the watch engine (until the
//! task leaves Processing and Stopping), guarded by the same flags as
//! `watch`: against the emulator, a bad firmware's confirm tripped and
//! stopped (exit 7, one JSON object), a hanging device stopped by name, a
//! task gone back to Waitting ending the wait, and the guard's flags refused
//! before any request without --wait or with bad values.

use crate::common::*;

use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use iotda_batchtask_emulator::{
    DEMO_PROJECT_ID, EmulatorConfig, Progression, Seed, SeedTask, Selection, TaskDetailStatus, TaskStatus, TaskType,
};
use serde_json::{Value, json};

/// The rollout's task (created with `need_confirm`).
const ROLLOUT: &str = "61a5f4cbd86b7a1d1c2f3e4b";
/// Its devices: `dev-0001` to `dev-0040`.
const DEVICES: usize = 40;

fn device(n: usize) -> String {
    format!("dev-{n:04}")
}

/// An emulator with one `need_confirm` firmware upgrade, `status`, whose
/// sub-tasks are `subtasks`, moving as `progression` says (in real time).
fn emulator(status: TaskStatus, subtasks: Vec<(String, TaskDetailStatus)>, progression: Progression) -> Running {
    let seed = Seed::new(vec![SeedTask {
        project_id: DEMO_PROJECT_ID.to_owned(),
        task_id: ROLLOUT.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status,
        subtasks: subtasks.into_iter().collect(),
    }])
    .and_then(|seed| seed.with_need_confirm(DEMO_PROJECT_ID, ROLLOUT))
    .and_then(|seed| seed.with_progression(DEMO_PROJECT_ID, ROLLOUT, progression))
    .expect("a valid seed");
    start(EmulatorConfig::new().seed(seed).token(TOKEN))
}

/// Every device waiting for the confirm; once confirmed, each runs 100 ms,
/// `dev-0001` to `dev-0019` fail (a bad firmware), `dev-0040` hangs (so the
/// task is still Processing when the failures are read).
fn bad_firmware() -> Running {
    let waiting = (1..=DEVICES).map(|n| (device(n), TaskDetailStatus::Waitting)).collect();
    let progression = Progression::new(Duration::from_millis(100))
        .fail(Selection::none().with_pattern("^dev-00(0[1-9]|1[0-9])$").unwrap())
        .hang(Selection::devices([device(DEVICES)]));
    emulator(TaskStatus::Processing, waiting, progression)
}

fn cli(emulator: &Running, args: &[&str]) -> Output {
    Command::cargo_bin("iotda-batchtask")
        .unwrap()
        .env_clear()
        .timeout(Duration::from_secs(60))
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON object on stdout: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// The stops sent to the rollout, as their bodies.
fn stops(emulator: &Running) -> Vec<Value> {
    emulator
        .handle
        .journal()
        .stops_of(ROLLOUT)
        .map(|e| e.body.clone().unwrap_or(Value::Null))
        .collect()
}

const GUARDED_CONFIRM: [&str; 10] = [
    "confirm",
    "--task-id",
    ROLLOUT,
    "--all",
    "--wait",
    "--abort-if",
    "failed>=10%",
    "--min-finished",
    "5",
    "--wait-timeout",
];

#[test]
fn a_guarded_confirm_of_a_bad_firmware_trips_and_stops_the_task() {
    let emulator = bad_firmware();
    let out = cli(&emulator, &[&GUARDED_CONFIRM[..], &["30"]].concat());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{stdout}{}", text(&out.stderr));
    let task = emulator.handle.task(DEMO_PROJECT_ID, ROLLOUT).unwrap();
    assert_eq!(task.status, TaskStatus::Stopped);
    assert_eq!(task.subtasks[&device(DEVICES)], TaskDetailStatus::Stopped);
    assert_eq!(stops(&emulator), [json!({})], "one stop of every sub-task");
    // The confirm's table, then what the guard did as it happened, then the wait's end.
    let confirmed = stdout
        .find("40 of 40 targets confirmed")
        .unwrap_or_else(|| panic!("{stdout}"));
    let tripped = stdout
        .find("TRIPPED: failed>=10% (progress: total 40")
        .unwrap_or_else(|| panic!("{stdout}"));
    // The emulator's answer to `{}` names the one sub-task it stopped.
    let stop = stdout.find("stop:\nTARGET ").unwrap_or_else(|| panic!("{stdout}"));
    assert!(stdout.contains("1 of 1 target stopped"), "{stdout}");
    let end = stdout
        .find("failed>=10% tripped after ")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(confirmed < tripped && tripped < stop && stop < end, "{stdout}");
    assert!(stdout.contains("the task was STOPPED (it is Stopped)"), "{stdout}");
    assert!(stdout.contains("at the trip: progress: total 40"), "{stdout}");
    assert!(
        text(&out.stderr).contains("stop the task if failed>=10% (a rate once 5 have finished)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_tripped_wait_is_one_json_object_with_the_guards_fields() {
    let emulator = bad_firmware();
    let out = cli(&emulator, &[&GUARDED_CONFIRM[..], &["30", "--output", "json"]].concat());
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["targets"].as_array().unwrap().len(), DEVICES);
    let wait = &report["wait"];
    assert_eq!(wait["outcome"], "tripped", "{wait}");
    assert_eq!(wait["tripped"], "failed>=10%");
    assert_eq!(wait["stop"], "stopped");
    assert_eq!(wait["task_stopped"], true);
    assert_eq!(wait["task_status"], "Stopped");
    assert_eq!(wait["task_progress_at_trip"]["fail"], 19, "{wait}");
    assert_eq!(wait["task_progress_at_trip"]["processing"], 1, "{wait}");
    assert_eq!(wait["task_progress"]["stopped"], 1, "{wait}");
    let stop_ids = wait["stop_request_ids"].as_array().unwrap();
    let journaled: Vec<String> = emulator
        .handle
        .journal()
        .stops_of(ROLLOUT)
        .filter_map(|e| e.request_id.clone())
        .collect();
    assert_eq!(stop_ids.len(), 1, "{wait}");
    assert_eq!(stop_ids[0], json!(journaled[0]), "{wait}");
    assert_eq!(wait["timed_out_devices"], json!([]));
    assert!(wait["reads"].as_u64().unwrap() >= 2, "{wait}");
    assert!(wait["seconds"].is_f64(), "{wait}");
}

#[test]
fn a_guarded_wait_stops_a_hanging_device_by_name_and_settles() {
    let emulator = emulator(
        TaskStatus::Processing,
        (1..=DEVICES).map(|n| (device(n), TaskDetailStatus::Waitting)).collect(),
        Progression::new(Duration::from_millis(100)).hang(Selection::devices([device(DEVICES)])),
    );
    let args = [
        "confirm",
        "--task-id",
        ROLLOUT,
        "--all",
        "--wait",
        "--stuck-after",
        "0.5",
    ];
    let out = cli(&emulator, &args);
    let stdout = text(&out.stdout);
    // The task ends Stopped: its last sub-task stopped, by the guard.
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(stops(&emulator), [json!({"targets": [device(DEVICES)]})]);
    assert!(
        stdout.contains("stuck: stopping 1 device seen Processing longer than 0.5 s"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("task {ROLLOUT} is Stopped after")), "{stdout}");
    assert!(
        stdout.contains(&format!("timed out (stopped for hanging): {}", device(DEVICES))),
        "{stdout}"
    );
}

/// A stop of the one running device of a `need_confirm` task whose other
/// devices still wait for their confirm: the task goes back to Waitting,
/// and the wait ends there (exit 0) instead of holding until its timeout.
#[test]
fn a_wait_ends_when_the_task_goes_back_to_waitting() {
    for output in ["json", "table"] {
        let emulator = emulator(
            TaskStatus::Processing,
            vec![
                (device(1), TaskDetailStatus::Processing),
                (device(2), TaskDetailStatus::Waitting),
            ],
            // dev-0001 runs for an hour: only the stop ends it.
            Progression::new(Duration::from_secs(3600)),
        );
        let service = emulator.handle.service().clone();
        // What IoTDA shows once nothing runs and devices wait for a confirm.
        let back = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while service.journal().stops_of(ROLLOUT).next().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            service
                .set_task_status(DEMO_PROJECT_ID, ROLLOUT, TaskStatus::Waitting)
                .unwrap();
        });
        let started = Instant::now();
        let out = cli(
            &emulator,
            &[
                "stop",
                "--task-id",
                ROLLOUT,
                "--target",
                &device(1),
                "--wait",
                "--wait-timeout",
                "30",
                "--output",
                output,
            ],
        );
        back.join().unwrap();
        assert_eq!(out.status.code(), Some(0), "{output}: {}", text(&out.stderr));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{output}: held to the timeout"
        );
        if output == "json" {
            let wait = &json(&out)["wait"];
            assert_eq!(wait["outcome"], "settled", "{wait}");
            assert_eq!(wait["task_status"], "Waitting", "{wait}");
            // No guard, none of its fields.
            for field in [
                "tripped",
                "stop",
                "task_stopped",
                "stop_request_ids",
                "timed_out_devices",
            ] {
                assert!(wait.get(field).is_none(), "{field}: {wait}");
            }
        } else {
            let stdout = text(&out.stdout);
            assert!(
                stdout.contains(&format!("task {ROLLOUT} is Waitting after")),
                "{stdout}"
            );
        }
        assert_eq!(
            emulator.handle.task(DEMO_PROJECT_ID, ROLLOUT).unwrap().subtasks[&device(2)],
            TaskDetailStatus::Waitting
        );
    }
}

#[test]
fn the_guards_flags_are_refused_before_any_request_naming_the_flag() {
    let emulator = bad_firmware();
    let confirm = ["confirm", "--task-id", ROLLOUT, "--all"];
    let cases: &[(&[&str], &str)] = &[
        (&["--abort-if", "failed>=5%"], "--abort-if requires --wait"),
        (&["--min-finished", "3"], "--min-finished requires --wait"),
        (&["--count-retrying"], "--count-retrying requires --wait"),
        (&["--stuck-after", "60"], "--stuck-after requires --wait"),
        (&["--wait", "--abort-if", "failed>=0%"], "--abort-if"),
        (&["--wait", "--abort-if", "failed>=101%"], "--abort-if"),
        (&["--wait", "--abort-if", "fail>=5%"], "--abort-if"),
        (&["--wait", "--stuck-after", "0"], "--stuck-after"),
        (&["--wait", "--stuck-after", "604801"], "--stuck-after"),
        (
            &["--wait", "--abort-if", "failed>=5%", "--min-finished", "0"],
            "--min-finished",
        ),
    ];
    for (extra, says) in cases {
        for op in [
            &confirm[..],
            &["stop", "--task-id", ROLLOUT, "--target", "dev-0001"][..],
        ] {
            let out = cli(&emulator, &[op, extra].concat());
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
            assert!(stderr.contains(says), "{extra:?}: {stderr}");
        }
    }
    // --dry-run too checks first.
    let out = cli(
        &emulator,
        &[&confirm[..], &["--dry-run", "--abort-if", "failed>=5%"]].concat(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(emulator.handle.journal().into_vec().len(), 0, "nothing was sent");
}

#[test]
fn a_dry_run_of_a_guarded_wait_says_what_the_guard_would_do() {
    let emulator = bad_firmware();
    let out = cli(
        &emulator,
        &[
            &GUARDED_CONFIRM[..],
            &["30", "--stuck-after", "600", "--dry-run", "--output", "json"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = json(&out);
    let notes: Vec<&str> = plan["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let all = notes.join("\n");
    assert!(all.contains("--wait then reads the task"), "{all}");
    assert!(
        all.contains("--wait is guarded: stop the task if failed>=10% (a rate once 5 have finished)"),
        "{all}"
    );
    assert!(all.contains("/stop with {}"), "{all}");
    assert!(all.contains("longer than 600 s is stopped by name"), "{all}");
    assert_eq!(emulator.handle.journal().into_vec().len(), 0, "nothing was sent");
}
