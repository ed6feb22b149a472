//! Rollouts that move (issue 23 section 3): sub-tasks go Waitting ->
//! Processing -> Success or Fail on a clock the tests step by hand
//! (`time_scale(0.0)` and `advance_time`), so nothing here depends on timing.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use iotda_batchtask_emulator::{
    EmulatorConfig, Progression, Seed, SeedTask, Selection, Service, TaskDetailStatus as D, TaskSnapshot, TaskStatus,
    TaskType,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const P: &str = "0123456789abcdef0123456789abcdef";
const T: &str = "61a5f4cbd86b7a1d1c2f3e4a";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn devices(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("dev-{i:04}")).collect()
}

/// One firmware task of `n` Waitting devices moving by `progression`, on a
/// clock only `advance_time` moves.
fn service(n: usize, progression: Progression) -> Service {
    let task = SeedTask {
        project_id: P.to_owned(),
        task_id: T.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks: devices(n).into_iter().map(|d| (d, D::Waitting)).collect(),
    };
    let seed = Seed::new(vec![task])
        .expect("valid")
        .with_progression(P, T, progression)
        .expect("the task exists");
    Service::new(&EmulatorConfig::new().seed(seed).auth_enabled(false).time_scale(0.0)).expect("config")
}

fn task(svc: &Service) -> TaskSnapshot {
    svc.task(P, T).expect("the task")
}

fn statuses(svc: &Service) -> Vec<D> {
    task(svc).subtasks.values().copied().collect()
}

fn post(svc: &Service, path: &str, body: Value) -> (u16, Value) {
    let request = http::Request::post(format!("/v5/iot/{P}/batchtasks{path}"))
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .expect("request");
    let response = svc.respond(request);
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body()).expect("JSON"))
}

/// ShowBatchTask's task as the API answers it: status and `task_progress`.
fn show(svc: &Service, task_id: &str) -> Value {
    let request = http::Request::get(format!("/v5/iot/{P}/batchtasks/{task_id}"))
        .body(Bytes::new())
        .expect("request");
    let response = svc.respond(request);
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(response.body()).expect("JSON");
    body["batchtask"].clone()
}

/// The counters add up to `total` and match the sub-tasks one by one, and
/// the task is Processing exactly while a sub-task is left to run.
fn assert_consistent(svc: &Service) {
    let shown = show(svc, T);
    let snapshot = task(svc);
    let progress = &shown["task_progress"];
    let counted = [
        ("waitting", D::Waitting),
        ("processing", D::Processing),
        ("success", D::Success),
        ("fail", D::Fail),
        ("fail_wait_retry", D::FailWaitRetry),
        ("stopped", D::Stopped),
    ];
    let mut sum = 0;
    for (field, status) in counted {
        assert_eq!(progress[field], snapshot.count(status), "{field}: {shown}");
        sum += snapshot.count(status);
    }
    assert_eq!(progress["total"], sum, "{shown}");
    let running = snapshot
        .subtasks
        .values()
        .any(|s| matches!(s, D::Waitting | D::Processing | D::FailWaitRetry));
    if !matches!(snapshot.status, TaskStatus::Stopped | TaskStatus::Stopping) {
        assert_eq!(snapshot.status == TaskStatus::Processing, running, "{shown}");
    }
    assert_eq!(shown["status"], snapshot.status.as_str());
}

#[test]
fn sub_tasks_move_at_the_stepped_clock_and_the_task_follows() {
    // dev-0001 at 0 s, dev-0002 at 10 s, dev-0003 at 20 s; each runs 30 s.
    let svc = service(3, Progression::new(secs(30)).dispatch_every(secs(10)));
    assert_eq!(statuses(&svc), [D::Waitting; 3], "nothing moves before the clock does");
    let steps: [(u64, [D; 3], TaskStatus); 6] = [
        (1, [D::Processing, D::Waitting, D::Waitting], TaskStatus::Processing),
        (9, [D::Processing, D::Waitting, D::Waitting], TaskStatus::Processing),
        (10, [D::Processing, D::Processing, D::Waitting], TaskStatus::Processing),
        (
            29,
            [D::Processing, D::Processing, D::Processing],
            TaskStatus::Processing,
        ),
        (30, [D::Success, D::Processing, D::Processing], TaskStatus::Processing),
        (50, [D::Success, D::Success, D::Success], TaskStatus::Success),
    ];
    let mut at = 0;
    for (to, expected, status) in steps {
        svc.advance_time(secs(to - at));
        at = to;
        assert_eq!(statuses(&svc), expected, "at {to} s");
        assert_eq!(task(&svc).status, status, "at {to} s");
        assert_consistent(&svc);
    }
    assert_eq!(svc.time(), secs(50));
    // Finished: time moves nothing any more.
    svc.advance_time(secs(3600));
    assert_eq!(task(&svc).status, TaskStatus::Success);
}

#[test]
fn failures_are_chosen_deterministically_by_list_pattern_and_share() {
    let failed = |selection: Selection| -> BTreeSet<String> {
        let svc = service(200, Progression::new(secs(1)).fail(selection));
        svc.advance_time(secs(2));
        assert_consistent(&svc);
        task(&svc)
            .subtasks
            .into_iter()
            .filter(|(_, s)| *s == D::Fail)
            .map(|(d, _)| d)
            .collect()
    };
    assert_eq!(
        failed(Selection::devices(["dev-0007", "dev-0150"])),
        BTreeSet::from(["dev-0007".to_owned(), "dev-0150".to_owned()])
    );
    let by_pattern = failed(Selection::none().with_pattern("^dev-00[0-1][0-9]$").expect("valid"));
    assert_eq!(by_pattern, devices(19).into_iter().collect(), "dev-0001 to dev-0019");

    let share = || Selection::none().with_share(25, 7).expect("valid");
    let first = failed(share());
    assert_eq!(first, failed(share()), "the same seed picks the same devices");
    assert!((30..=70).contains(&first.len()), "about 25% of 200: {}", first.len());
    assert_ne!(first, failed(Selection::none().with_share(25, 8).expect("valid")));
    assert!(failed(Selection::none().with_share(0, 7).expect("valid")).is_empty());
    assert_eq!(failed(Selection::none().with_share(100, 7).expect("valid")).len(), 200);

    // The task's status: Fail when none succeeded, PartialSuccess when some did.
    let svc = service(4, Progression::new(secs(1)).fail(Selection::devices(devices(4))));
    svc.advance_time(secs(1));
    assert_eq!(task(&svc).status, TaskStatus::Fail);
    let svc = service(4, Progression::new(secs(1)).fail(Selection::devices(["dev-0004"])));
    svc.advance_time(secs(1));
    assert_eq!(task(&svc).status, TaskStatus::PartialSuccess);
}

#[test]
fn hung_devices_stay_processing_until_stopped() {
    let svc = service(3, Progression::new(secs(5)).hang(Selection::devices(["dev-0002"])));
    svc.advance_time(secs(24 * 3600));
    assert_eq!(statuses(&svc), [D::Success, D::Processing, D::Success]);
    assert_eq!(task(&svc).status, TaskStatus::Processing);
    assert_consistent(&svc);
    let (status, body) = post(&svc, &format!("/{T}/stop"), json!({"targets": ["dev-0002"]}));
    assert_eq!(
        (status, &body["targets"][0]["status"]),
        (200, &json!("success")),
        "{body}"
    );
    assert_eq!(statuses(&svc), [D::Success, D::Stopped, D::Success]);
    assert_eq!(
        task(&svc).status,
        TaskStatus::Stopped,
        "nothing left to run after the stop"
    );
}

#[test]
fn failed_sub_tasks_wait_in_fail_wait_retry_and_run_again_per_the_policy() {
    // dev-0002 fails every attempt: run 10 s, wait 5 s, twice, then Fail.
    let svc = service(
        2,
        Progression::new(secs(10))
            .fail(Selection::devices(["dev-0002"]))
            .retry(2, secs(5)),
    );
    let expect = [
        (1, D::Processing, TaskStatus::Processing),
        (10, D::FailWaitRetry, TaskStatus::Processing),
        (14, D::FailWaitRetry, TaskStatus::Processing),
        (15, D::Processing, TaskStatus::Processing),
        (25, D::FailWaitRetry, TaskStatus::Processing),
        (30, D::Processing, TaskStatus::Processing),
        (40, D::Fail, TaskStatus::PartialSuccess),
    ];
    let mut at = 0;
    for (to, dev2, status) in expect {
        svc.advance_time(secs(to - at));
        at = to;
        assert_eq!(task(&svc).subtasks["dev-0002"], dev2, "at {to} s");
        assert_eq!(task(&svc).status, status, "at {to} s");
        assert_consistent(&svc);
    }
    assert_eq!(task(&svc).subtasks["dev-0001"], D::Success);

    // RetryBatchTask runs it again for one more run (and it fails again).
    let (status, body) = post(&svc, &format!("/{T}/retry"), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(task(&svc).subtasks["dev-0002"], D::Processing);
    assert_eq!(task(&svc).status, TaskStatus::Processing);
    svc.advance_time(secs(10));
    assert_eq!(
        task(&svc).subtasks["dev-0002"],
        D::FailWaitRetry,
        "a retried sub-task gets its retries again"
    );
}

#[test]
fn a_stop_freezes_what_it_stops_and_the_rest_goes_on() {
    let svc = service(4, Progression::new(secs(10)).dispatch_every(secs(10)));
    svc.advance_time(secs(5));
    assert_eq!(statuses(&svc), [D::Processing, D::Waitting, D::Waitting, D::Waitting]);
    // A targeted stop: dev-0001 (running) and dev-0003 (waiting) freeze.
    let (status, _) = post(
        &svc,
        &format!("/{T}/stop"),
        json!({"targets": ["dev-0001", "dev-0003"]}),
    );
    assert_eq!(status, 200);
    svc.advance_time(secs(100));
    assert_eq!(statuses(&svc), [D::Stopped, D::Success, D::Stopped, D::Success]);
    assert_eq!(task(&svc).status, TaskStatus::PartialSuccess);
    assert_consistent(&svc);

    // A stop of everything: the task is Stopped and stays so.
    let svc = service(4, Progression::new(secs(10)).dispatch_every(secs(10)));
    svc.advance_time(secs(15));
    let (status, body) = post(&svc, &format!("/{T}/stop"), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&svc), [D::Success, D::Stopped, D::Stopped, D::Stopped]);
    svc.advance_time(secs(1000));
    assert_eq!(statuses(&svc), [D::Success, D::Stopped, D::Stopped, D::Stopped]);
    assert_eq!(task(&svc).status, TaskStatus::Stopped);
    assert_consistent(&svc);
}

#[test]
fn created_tasks_move_by_the_default_progression_and_their_own_retry_policy() {
    let seed = Seed::new(Vec::new()).expect("empty seed");
    let progression = Progression::new(secs(10)).fail(Selection::devices(["bad-1"]));
    let svc = Service::new(
        &EmulatorConfig::new()
            .seed(seed)
            .auth_enabled(false)
            .time_scale(0.0)
            .default_progression(progression),
    )
    .expect("config");
    let create = |body: Value| {
        let (status, body) = post(&svc, "", body);
        assert_eq!(status, 201, "{body}");
        body["task_id"].as_str().expect("an ID").to_owned()
    };
    let plain = create(json!({"task_name": "plain", "task_type": "firmwareUpgrade", "targets": ["ok-1", "bad-1"]}));
    // retry_interval is in minutes, as IoTDA's.
    let retried = create(
        json!({"task_name": "retried", "task_type": "firmwareUpgrade", "targets": ["bad-1"],
        "task_policy": {"retry_count": 1, "retry_interval": 2}}),
    );
    let confirm = create(
        json!({"task_name": "confirm", "task_type": "firmwareUpgrade", "targets": ["ok-1"],
        "need_confirm": true}),
    );
    svc.advance_time(secs(10));
    assert_eq!(show(&svc, &plain)["status"], "PartialSuccess");
    assert_eq!(show(&svc, &retried)["task_progress"]["fail_wait_retry"], 1);
    assert_eq!(
        show(&svc, &confirm)["task_progress"]["waitting"],
        1,
        "waits for the confirm"
    );
    svc.advance_time(secs(120));
    assert_eq!(show(&svc, &retried)["task_progress"]["processing"], 1);
    let (status, _) = post(&svc, &format!("/{confirm}/confirm"), json!({}));
    assert_eq!(status, 200);
    svc.advance_time(secs(10));
    assert_eq!(show(&svc, &retried)["status"], "Fail");
    assert_eq!(show(&svc, &confirm)["status"], "Success");
}

#[test]
fn progressions_round_trip_through_the_seed_format() {
    let json = r#"{"tasks": [{"project_id": "0123456789abcdef0123456789abcdef", "task_id": "61a5f4cbd86b7a1d1c2f3e4a",
        "task_type": "firmwareUpgrade", "status": "Processing",
        "subtasks": {"dev-0001": "Waitting", "dev-0002": "Waitting", "dev-0003": "Processing"},
        "progression": {"run_for_ms": 200, "dispatch_every_ms": 50,
                        "fail": {"devices": ["dev-0002"], "pattern": "^x", "percent": 5, "seed": 9},
                        "hang": {"devices": ["dev-0003"]}, "retry": {"count": 2, "interval_ms": 100}}}],
        "default_progression": {"run_for_ms": 1000}}"#;
    let seed = Seed::from_json(json).expect("valid");
    assert_eq!(Seed::from_json(&seed.to_json()).expect("its own output"), seed);
    let expected = Progression::new(Duration::from_millis(200))
        .dispatch_every(Duration::from_millis(50))
        .fail(
            Selection::devices(["dev-0002"])
                .with_pattern("^x")
                .and_then(|s| s.with_share(5, 9))
                .expect("valid"),
        )
        .hang(Selection::devices(["dev-0003"]))
        .retry(2, Duration::from_millis(100));
    assert_eq!(seed.progression(P, T), Some(&expected));
    assert_eq!(seed.default_progression(), Some(&Progression::new(secs(1))));

    // A snapshot keeps the progression, so a restart moves on the same way.
    let svc = Service::new(&EmulatorConfig::new().seed(seed).auth_enabled(false).time_scale(0.0)).expect("config");
    assert_eq!(svc.snapshot().progression(P, T), Some(&expected));
}

#[test]
fn odd_progressions_in_a_seed_are_errors_naming_them_never_panics() {
    let with = |progression: &str| {
        let json = format!(
            r#"{{"tasks": [{{"project_id": "{P}", "task_id": "{T}", "task_type": "firmwareUpgrade",
                "status": "Processing", "subtasks": {{"dev-0001": "Waitting"}}, "progression": {progression}}}]}}"#
        );
        Seed::from_json(&json).map(|_| ()).map_err(|e| e.to_string())
    };
    for (progression, expected) in [
        (
            r#"{"run_for_ms": 86400001}"#,
            "tasks[0].progression.run_for_ms: is 86400001",
        ),
        (
            r#"{"run_for_ms": 1, "dispatch_every_ms": 18446744073709551615}"#,
            "dispatch_every_ms",
        ),
        (
            r#"{"run_for_ms": 1, "retry": {"count": 0, "interval_ms": 1}}"#,
            "retry.count: is 0",
        ),
        (
            r#"{"run_for_ms": 1, "retry": {"count": 6, "interval_ms": 1}}"#,
            "retry.count: is 6",
        ),
        (r#"{"run_for_ms": 1, "fail": {"percent": 101}}"#, "percent: is 101"),
        (r#"{"run_for_ms": 1, "fail": {"seed": 3}}"#, "without percent"),
        (
            r#"{"run_for_ms": 1, "fail": {"pattern": "(unclosed"}}"#,
            "not a regular expression",
        ),
        (
            r#"{"run_for_ms": 1, "hang": {"devices": ["not a device"]}}"#,
            "not a device ID",
        ),
        (
            r#"{"run_for_ms": 1, "fail": {"device": ["dev-0001"]}}"#,
            "unknown field",
        ),
        (r#"{"run_for": 1}"#, "unknown field"),
        (r#"{"run_for_ms": -1}"#, "invalid value"),
        (r#"[]"#, "expected struct RawProgression"),
    ] {
        let e = with(progression).expect_err(progression);
        assert!(e.contains(expected), "{progression}: {e}");
    }
    let long = format!(r#"{{"run_for_ms": 1, "fail": {{"pattern": "{}"}}}}"#, "a".repeat(2000));
    assert!(with(&long).expect_err("too long").contains("at most 1024"));
    // Zero durations everywhere, all failing, retried: ends, without a panic.
    with(r#"{"run_for_ms": 0, "fail": {"percent": 100}, "retry": {"count": 5, "interval_ms": 0}}"#).expect("valid");
    let svc = service(
        50,
        Progression::new(Duration::ZERO)
            .fail(Selection::none().with_share(100, 0).expect("valid"))
            .retry(u32::MAX, Duration::ZERO),
    );
    svc.advance_time(Duration::from_nanos(1));
    assert_eq!(task(&svc).status, TaskStatus::Fail);
    svc.advance_time(Duration::MAX);
    assert_eq!(svc.time(), Duration::MAX, "the clock saturates");
}

#[test]
fn seeded_processing_and_fail_wait_retry_sub_tasks_move_on() {
    let seeded = SeedTask {
        project_id: P.to_owned(),
        task_id: T.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Initializing,
        subtasks: [
            ("dev-0001", D::Processing),
            ("dev-0002", D::FailWaitRetry),
            ("dev-0003", D::Success),
            ("dev-0004", D::Stopped),
        ]
        .map(|(d, s)| (d.to_owned(), s))
        .into(),
    };
    let progression = Progression::new(secs(10))
        .fail(Selection::devices(["dev-0002"]))
        .retry(2, secs(5));
    let seed = Seed::new(vec![seeded])
        .expect("valid")
        .with_progression(P, T, progression)
        .expect("the task exists");
    let svc = Service::new(&EmulatorConfig::new().seed(seed).auth_enabled(false).time_scale(0.0)).expect("config");
    svc.advance_time(secs(5));
    // dev-0002 was waiting for its first retry, and runs it.
    assert_eq!(statuses(&svc), [D::Processing, D::Processing, D::Success, D::Stopped]);
    assert_eq!(task(&svc).status, TaskStatus::Processing);
    svc.advance_time(secs(10));
    // It fails again with one retry left.
    assert_eq!(statuses(&svc), [D::Success, D::FailWaitRetry, D::Success, D::Stopped]);
    svc.advance_time(secs(15));
    assert_eq!(statuses(&svc), [D::Success, D::Fail, D::Success, D::Stopped]);
    assert_eq!(task(&svc).status, TaskStatus::PartialSuccess);
    assert_consistent(&svc);
}

/// What a property test does to a moving task.
#[derive(Debug, Clone)]
enum Step {
    Advance(u64),
    Stop(Vec<usize>),
    StopAll,
    RetryAll,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u64..30_000).prop_map(Step::Advance),
        1 => proptest::collection::vec(0usize..30, 1..4).prop_map(Step::Stop),
        1 => Just(Step::StopAll),
        1 => Just(Step::RetryAll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any progression, any steps: no panic, counters match the sub-tasks,
    /// the status follows them, a stopped or finished sub-task moves only by
    /// a retry, and in the end only hung devices are left running.
    #[test]
    fn any_progression_keeps_the_task_consistent(
        n in 1usize..30,
        run_for in 0u64..20_000,
        dispatch in 0u64..5_000,
        fail in 0u8..=100,
        hang in prop_oneof![Just(0u8), 0u8..=30],
        retry in proptest::option::of((1u32..=5, 0u64..10_000)),
        seed in any::<u64>(),
        steps in proptest::collection::vec(step(), 0..12),
    ) {
        let mut progression = Progression::new(Duration::from_millis(run_for))
            .dispatch_every(Duration::from_millis(dispatch))
            .fail(Selection::none().with_share(fail, seed).expect("0 to 100"))
            .hang(Selection::none().with_share(hang, seed ^ 1).expect("0 to 100"));
        if let Some((count, interval)) = retry {
            progression = progression.retry(count, Duration::from_millis(interval));
        }
        let svc = service(n, progression);
        for step in steps {
            let before = task(&svc);
            match &step {
                Step::Advance(ms) => svc.advance_time(Duration::from_millis(*ms)),
                Step::Stop(picks) => {
                    let targets: Vec<String> = picks.iter().map(|i| format!("dev-{:04}", i % n + 1)).collect();
                    let _ = post(&svc, &format!("/{T}/stop"), json!({ "targets": targets }));
                }
                Step::StopAll => drop(post(&svc, &format!("/{T}/stop"), json!({}))),
                Step::RetryAll => drop(post(&svc, &format!("/{T}/retry"), json!({}))),
            }
            let after = task(&svc);
            assert_consistent(&svc);
            if !matches!(step, Step::RetryAll) {
                for (device, was) in &before.subtasks {
                    let now = after.subtasks[device];
                    if matches!(was, D::Stopped | D::Success | D::Fail) {
                        prop_assert_eq!(*was, now, "{} moved from {:?} by {:?}", device, was, step);
                    }
                }
                if before.status == TaskStatus::Stopped {
                    prop_assert_eq!(after.status, TaskStatus::Stopped);
                }
            }
        }
        // Long enough for every dispatch, run and retry.
        svc.advance_time(Duration::from_secs(24 * 3600));
        let end = task(&svc);
        for (device, status) in &end.subtasks {
            prop_assert!(
                !matches!(status, D::Waitting | D::FailWaitRetry),
                "{} still {:?}", device, status
            );
        }
        assert_consistent(&svc);
    }
}
