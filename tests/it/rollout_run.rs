//! The staged-rollout driver (`Client::run_rollout`, `Client::abort_rollout`)
//! against the emulator on 127.0.0.1, whose created tasks move by a
//! progression on an accelerated clock: waves that pass, a wave the guard
//! stops, a wave below `advance_if`, a create lost or refused, a crash
//! between saving the intent and the answer, another operator's stop, a
//! plan for another project, a store that fails.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt as _;
use iotda_batchtask::rollout::{
    AtomicFileStore, CreatedBy, Halt, Plan, PlanError, PlanState, PlanStore, RolloutEnd, RolloutError, RolloutEvent,
    RolloutTaskType, WaveState,
};
use iotda_batchtask::{Client, Credentials};
use iotda_batchtask_emulator::{
    DEMO_PROJECT_ID, Emulator, EmulatorConfig, EmulatorHandle, Fault, Operation, Progression, Seed, Selection,
    TaskStatus,
};
use serde_json::json;

use crate::common::{AK, SK};

/// An emulator whose created tasks run 5 s each (50 ms of real time), fail
/// on devices named `bad-*` and hang on `hang-*`, with at most
/// `max_running` running tasks.
async fn emulator(max_running: usize) -> (EmulatorHandle, Client) {
    emulator_running_for(max_running, Duration::from_secs(5)).await
}

async fn emulator_running_for(max_running: usize, run_for: Duration) -> (EmulatorHandle, Client) {
    emulator_with(max_running, Progression::new(run_for), 100.0).await
}

/// An emulator holding no task.
async fn emulator_with(max_running: usize, progression: Progression, time_scale: f64) -> (EmulatorHandle, Client) {
    let progression = progression
        .fail(Selection::none().with_pattern("^bad-").expect("pattern"))
        .hang(Selection::none().with_pattern("^hang-").expect("pattern"));
    let emulator = Emulator::start(
        EmulatorConfig::new()
            .seed(Seed::new(Vec::new()).expect("an empty seed"))
            .ak_sk(AK, SK)
            .time_scale(time_scale)
            .max_running_tasks(max_running)
            .default_progression(progression),
    )
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

fn devices(good: usize, bad: &[usize]) -> Vec<String> {
    (0..good)
        .map(|i| {
            if bad.contains(&i) {
                format!("bad-{i:03}")
            } else {
                format!("dev-{i:03}")
            }
        })
        .collect()
}

/// A plan in a temporary directory, with the guard's criteria and a
/// one-second poll.
fn plan_file(
    client: &Client,
    devices: Vec<String>,
    waves: &str,
    guard: serde_json::Value,
) -> (tempfile::TempDir, AtomicFileStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = AtomicFileStore::new(dir.path().join("plan.json"));
    let plan = Plan::builder(
        client.endpoint(),
        client.project_id(),
        RolloutTaskType::FirmwareUpgrade,
        devices,
        waves.parse().expect("waves"),
    )
    .guard(serde_json::from_value(guard).expect("guard"))
    .interval_seconds(1)
    .build(jiff::Timestamp::now())
    .expect("plan");
    store.create_new(&plan).expect("saved");
    (dir, store)
}

/// Every task the emulator holds: name → its devices.
fn tasks(emulator: &EmulatorHandle) -> BTreeMap<String, Vec<String>> {
    let service = emulator.service();
    let mut by_name = BTreeMap::new();
    for task in service.snapshot().tasks() {
        let snapshot = service.task(&task.project_id, &task.task_id).expect("listed task");
        let previous = by_name.insert(snapshot.task_name.clone(), snapshot.subtasks.keys().cloned().collect());
        assert!(previous.is_none(), "two tasks named {}", snapshot.task_name);
    }
    by_name
}

/// Exactly one task per wave (by the plan's names), each with exactly the
/// wave's devices.
fn assert_one_task_per_wave(emulator: &EmulatorHandle, plan: &Plan, waves_created: usize) {
    let tasks = tasks(emulator);
    let mut seen = HashSet::new();
    for (i, wave) in plan.waves().iter().enumerate().take(waves_created) {
        let devices = tasks
            .get(&plan.wave_task_name(i))
            .unwrap_or_else(|| panic!("no task for wave {}", i + 1));
        assert_eq!(devices.len(), wave.devices.len(), "wave {}", i + 1);
        for device in devices {
            assert!(wave.devices.contains(device));
            assert!(seen.insert(device.clone()), "{device} is in two tasks");
        }
    }
    assert_eq!(tasks.len(), waves_created, "{:?}", tasks.keys());
}

/// Creates wave 1's task through the plan, as a run would, and records it.
async fn create_first_wave(client: &Client, store: &AtomicFileStore) -> String {
    let mut plan = store.load().expect("plan");
    plan.begin_create(0, jiff::Timestamp::now(), None).expect("intent");
    let created = plan
        .create_call(client, 0)
        .expect("call")
        .send()
        .await
        .expect("created");
    let task_id = created.task_id().expect("id").to_owned();
    plan.created(0, iotda_batchtask::validation::task_id(&task_id).expect("id"))
        .expect("recorded");
    store.save(&plan).expect("saved");
    task_id
}

#[tokio::test]
async fn every_wave_passes_in_order_one_task_each_and_the_plan_is_done() {
    let (emulator, client) = emulator(10).await;
    let (_dir, store) = plan_file(
        &client,
        devices(40, &[]),
        "10%,50%,100%",
        json!({"abort_if": ["failed>=2"]}),
    );
    let mut events = std::pin::pin!(client.run_rollout(store.clone()).stream().expect("starts"));
    let mut created = Vec::new();
    let mut report = None;
    while let Some(event) = events.next().await {
        match event {
            RolloutEvent::Created { wave, .. } => created.push(wave),
            RolloutEvent::Ended(r) => report = Some(*r),
            _ => {}
        }
    }
    let report = report.expect("ended");
    assert!(matches!(report.end, RolloutEnd::Done), "{:?}", report.end);
    assert_eq!(created, [0, 1, 2]);
    let plan = store.load().expect("plan");
    assert_eq!(plan.state(), &PlanState::Done);
    assert_eq!(plan, report.plan, "the report's plan is the one saved");
    assert_one_task_per_wave(&emulator, &plan, 3);
    for wave in plan.waves() {
        assert!(matches!(&wave.state, WaveState::Finished { status, .. } if status == "Success"));
    }
}

#[tokio::test]
async fn a_bad_wave_trips_the_guard_its_task_is_stopped_and_no_later_wave_starts() {
    // One device dispatched every 2 emulated seconds, each running 5: wave
    // 2's 16 devices take 3.7 s of real time, its bad ones fail after about 1.
    let progression = Progression::new(Duration::from_secs(5)).dispatch_every(Duration::from_secs(2));
    let (emulator, client) = emulator_with(10, progression, 10.0).await;
    // Wave 1: devices 0-3 all good; wave 2: 4-19, three bad.
    let (_dir, store) = plan_file(
        &client,
        devices(40, &[5, 6, 7]),
        "4,20,all",
        json!({"abort_if": ["failed>=2"]}),
    );
    let report = client.run_rollout(store.clone()).run().await.expect("runs");
    assert!(
        matches!(report.end, RolloutEnd::Aborted { wave: Some(1) }),
        "{:?}",
        report.end
    );
    let plan = store.load().expect("plan");
    assert!(matches!(plan.state(), PlanState::Aborted { reason } if reason.contains("failed>=2")));
    assert_one_task_per_wave(&emulator, &plan, 2);
    let WaveState::Aborted {
        task_id: Some(task_id), ..
    } = &plan.waves()[1].state
    else {
        panic!("wave 2 is {:?}", plan.waves()[1].state)
    };
    let task = emulator.service().task(DEMO_PROJECT_ID, task_id).expect("task");
    assert!(
        matches!(
            task.status,
            TaskStatus::Stopped | TaskStatus::Stopping | TaskStatus::Fail | TaskStatus::PartialSuccess
        ),
        "{:?}",
        task.status
    );
    // An aborted plan is final: a new run does nothing and says so.
    let again = client.run_rollout(store.clone()).run().await.expect("runs");
    assert!(
        matches!(again.end, RolloutEnd::Aborted { wave: None }),
        "{:?}",
        again.end
    );
    assert_eq!(tasks(&emulator).len(), 2);
}

#[tokio::test]
async fn a_wave_below_advance_if_halts_and_goes_on_only_when_forced() {
    let (emulator, client) = emulator(10).await;
    // No criterion: wave 1 (one bad device of 4) finishes below 100%.
    let (_dir, store) = plan_file(&client, devices(12, &[1]), "4,all", json!({}));
    let report = client.run_rollout(store.clone()).run().await.expect("runs");
    assert!(
        matches!(
            report.end,
            RolloutEnd::Halted {
                wave: Some(0),
                halt: Halt::BelowAdvanceIf
            }
        ),
        "{:?}",
        report.end
    );
    let refused = client.run_rollout(store.clone()).run().await.expect_err("needs force");
    assert!(
        matches!(refused, RolloutError::Plan(PlanError::NeedsForce { wave: 1, .. })),
        "{refused}"
    );
    assert_eq!(tasks(&emulator).len(), 1, "nothing was created without force");
    let report = client
        .run_rollout(store.clone())
        .force_advance(true)
        .run()
        .await
        .expect("runs");
    assert!(matches!(report.end, RolloutEnd::Done), "{:?}", report.end);
    let plan = store.load().expect("plan");
    assert!(plan.waves()[0].forced_at.is_some());
    assert_one_task_per_wave(&emulator, &plan, 2);
}

#[tokio::test]
async fn a_wave_the_guards_own_stuck_stop_leaves_stopped_is_finished_not_gone() {
    let (emulator, client) = emulator(10).await;
    // Wave 1: one good device and one that hangs, stopped by the guard after 1 s.
    let fleet = vec!["dev-000".to_owned(), "hang-001".to_owned(), "dev-002".to_owned()];
    let (_dir, store) = plan_file(&client, fleet, "2,all", json!({"stuck_after_seconds": 1}));
    let report = client.run_rollout(store.clone()).run().await.expect("runs");
    assert!(matches!(report.end, RolloutEnd::Done), "{:?}", report.end);
    let plan = store.load().expect("plan");
    let WaveState::Finished { status, counters, .. } = &plan.waves()[0].state else {
        panic!("wave 1 is {:?}", plan.waves()[0].state)
    };
    assert_eq!(
        (status.as_str(), counters.stopped, counters.success),
        ("Stopped", Some(1), Some(1))
    );
    assert_one_task_per_wave(&emulator, &plan, 2);
}

#[tokio::test]
async fn a_lost_create_answer_is_settled_by_listing_not_by_creating_again() {
    let (emulator, client) = emulator(10).await;
    emulator
        .service()
        .inject(
            Fault::process_then_fail(iotda_batchtask_emulator::http::StatusCode::BAD_GATEWAY)
                .on(Operation::CreateBatchTask)
                .times(1),
        )
        .expect("fault");
    let (_dir, store) = plan_file(&client, devices(10, &[]), "5,all", json!({}));
    let mut by = Vec::new();
    let mut events = std::pin::pin!(client.run_rollout(store.clone()).stream().expect("starts"));
    while let Some(event) = events.next().await {
        if let RolloutEvent::Created { by: how, .. } = event {
            by.push(how);
        }
    }
    assert_eq!(by.len(), 2);
    assert_eq!(by[0], CreatedBy::Listing, "the first create's answer was lost");
    assert!(matches!(by[1], CreatedBy::Answer { .. }));
    let plan = store.load().expect("plan");
    assert_eq!(plan.state(), &PlanState::Done);
    assert_one_task_per_wave(&emulator, &plan, 2);
}

#[tokio::test]
async fn after_a_crash_between_intent_and_answer_the_wave_is_found_or_created_once() {
    let (emulator, client) = emulator(10).await;
    let (_dir, store) = plan_file(&client, devices(10, &[]), "5,all", json!({}));
    // Crash 1: the intent saved, the create sent, the answer never recorded.
    let mut plan = store.load().expect("plan");
    plan.begin_create(0, jiff::Timestamp::now(), None).expect("intent");
    store.save(&plan).expect("saved");
    let sent = plan
        .create_call(&client, 0)
        .expect("call")
        .send()
        .await
        .expect("created");
    assert!(sent.is_created());
    let report = client
        .run_rollout(store.clone())
        .create_settle_after(Duration::ZERO)
        .run()
        .await
        .expect("runs");
    assert!(matches!(report.end, RolloutEnd::Done), "{:?}", report.end);
    let plan = store.load().expect("plan");
    assert_eq!(
        plan.waves()[0].state.task_id().map(|t| t.to_string()).as_deref(),
        sent.task_id()
    );
    assert_one_task_per_wave(&emulator, &plan, 2);

    // Crash 2: the intent saved, the create never sent. The run waits the
    // settle window after the intent, lists, finds nothing, creates once.
    let (emulator, client) = self::emulator(10).await;
    let (_dir, store) = plan_file(&client, devices(10, &[]), "5,all", json!({}));
    let mut plan = store.load().expect("plan");
    plan.begin_create(0, jiff::Timestamp::now(), None).expect("intent");
    store.save(&plan).expect("saved");
    let mut not_found = 0;
    let mut events = std::pin::pin!(
        client
            .run_rollout(store.clone())
            .create_settle_after(Duration::from_millis(300))
            .stream()
            .expect("starts")
    );
    while let Some(event) = events.next().await {
        if let RolloutEvent::CreateNotFound { wave: 0 } = event {
            not_found += 1;
        }
    }
    assert_eq!(not_found, 1);
    let plan = store.load().expect("plan");
    assert_eq!(plan.state(), &PlanState::Done);
    assert_one_task_per_wave(&emulator, &plan, 2);
}

#[tokio::test]
async fn too_many_running_tasks_halts_the_plan_intact_and_resumable() {
    // One running task allowed, and one is running already.
    let (emulator, client) = emulator(1).await;
    let blocker = client
        .create_batch_task("blocker", iotda_batchtask::types::TaskType::FirmwareUpgrade)
        .targets(["hang-1"])
        .send()
        .await
        .expect("created");
    assert!(blocker.is_created());
    let (_dir, store) = plan_file(&client, devices(6, &[]), "3,all", json!({}));
    let report = client.run_rollout(store.clone()).run().await.expect("runs");
    let RolloutEnd::Halted {
        wave: Some(0),
        halt: Halt::CreateRefused { error },
    } = &report.end
    else {
        panic!("{:?}", report.end)
    };
    assert_eq!(error.error_code(), Some("IOTDA.014206"));
    let plan = store.load().expect("plan");
    assert!(matches!(plan.state(), PlanState::Halted { reason } if reason.contains("IOTDA.014206")));
    assert_eq!(plan.waves()[0].state, WaveState::Pending);
    // Once the blocker has ended, resume creates the wave (no force needed).
    client
        .stop_batch_task(blocker.task_id().expect("id"))
        .all()
        .send()
        .await
        .expect("blocker stopped");
    for _ in 0..100 {
        let read = client
            .show_batch_task(blocker.task_id().expect("id"))
            .limit(1)
            .send()
            .await
            .expect("read");
        if read.task().and_then(|t| t.status.as_deref()) == Some("Stopped") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = client.run_rollout(store.clone()).run().await.expect("runs");
    assert!(matches!(report.end, RolloutEnd::Done), "{:?}", report.end);
    assert_eq!(tasks(&emulator).len(), 3, "the blocker and one task per wave");
}

#[tokio::test]
async fn another_operators_stop_halts_the_plan_with_what_was_found() {
    // Devices run an emulated hour (36 s): long enough to be stopped by hand.
    let (_emulator, client) = emulator_running_for(10, Duration::from_secs(3600)).await;
    let (_dir, store) = plan_file(&client, devices(10, &[]), "5,all", json!({}));
    // Create wave 1 through the plan, then stop it as another operator would.
    let task_id = create_first_wave(&client, &store).await;
    client.stop_batch_task(&task_id).all().send().await.expect("stopped");
    let report = client.run_rollout(store.clone()).run().await.expect("runs");
    assert!(
        matches!(
            report.end,
            RolloutEnd::Halted {
                wave: Some(0),
                halt: Halt::TaskGone
            }
        ),
        "{:?}",
        report.end
    );
    let plan = store.load().expect("plan");
    assert!(matches!(plan.state(), PlanState::Halted { reason } if reason.contains("Stopped by someone else")));
    // Deleted instead: the same halt, saying so.
    let (_dir2, store2) = plan_file(&client, devices(4, &[]), "2,all", json!({}));
    let mut plan = store2.load().expect("plan");
    plan.begin_create(0, jiff::Timestamp::now(), None).expect("intent");
    plan.created(
        0,
        iotda_batchtask::validation::task_id("0123456789abcdef01234567").expect("id"),
    )
    .expect("recorded");
    store2.save(&plan).expect("saved");
    let report = client.run_rollout(store2.clone()).run().await.expect("runs");
    assert!(
        matches!(
            report.end,
            RolloutEnd::Halted {
                halt: Halt::TaskGone,
                ..
            }
        ),
        "{:?}",
        report.end
    );
    assert!(
        matches!(store2.load().expect("plan").state(), PlanState::Halted { reason } if reason.contains("no longer exists"))
    );
}

#[tokio::test]
async fn a_plan_for_another_project_is_refused_before_any_request() {
    let (emulator, client) = emulator(10).await;
    let other = Client::builder(emulator.base_url())
        .project_id("fedcba9876543210fedcba9876543210")
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .build()
        .expect("client");
    let (_dir, store) = plan_file(&other, devices(4, &[]), "2,all", json!({}));
    let before = emulator.service().request_count();
    let error = client.run_rollout(store.clone()).run().await.expect_err("refused");
    assert!(
        matches!(error, RolloutError::Plan(PlanError::WrongTarget { .. })),
        "{error}"
    );
    let error = client.abort_rollout(&store, "test").await.expect_err("refused");
    assert!(
        matches!(error, RolloutError::Plan(PlanError::WrongTarget { .. })),
        "{error}"
    );
    assert_eq!(emulator.service().request_count(), before);
}

/// A store that fails its `n`th save (from 1) and every one after.
struct FailingStore {
    inner: AtomicFileStore,
    saves: Mutex<Cell<usize>>,
    fail_from: usize,
}

impl PlanStore for FailingStore {
    fn load(&self) -> Result<Plan, PlanError> {
        self.inner.load()
    }
    fn save(&self, plan: &Plan) -> Result<(), PlanError> {
        let saves = self.saves.lock().expect("lock");
        saves.set(saves.get() + 1);
        if saves.get() >= self.fail_from {
            return Err(PlanError::Io {
                path: self.inner.path().to_owned(),
                source: std::io::Error::other("disk full"),
            });
        }
        self.inner.save(plan)
    }
    fn create_new(&self, plan: &Plan) -> Result<(), PlanError> {
        self.inner.create_new(plan)
    }
}

#[tokio::test]
async fn a_failed_save_ends_the_run_before_the_request_it_was_to_record() {
    let (emulator, client) = emulator(10).await;
    let (_dir, store) = plan_file(&client, devices(4, &[]), "2,all", json!({}));
    // The first save is the intent to create wave 1: nothing may be sent.
    let failing = FailingStore {
        inner: store.clone(),
        saves: Mutex::new(Cell::new(0)),
        fail_from: 1,
    };
    let report = client.run_rollout(failing).run().await.expect("runs");
    assert!(matches!(report.end, RolloutEnd::SaveFailed { .. }), "{:?}", report.end);
    let creates = emulator
        .service()
        .journal()
        .matching(Operation::CreateBatchTask)
        .count();
    assert_eq!(creates, 0, "no create after a failed save");
    assert!(tasks(&emulator).is_empty());
    assert_eq!(store.load().expect("plan").waves()[0].state, WaveState::Pending);
}

#[tokio::test]
async fn abort_stops_the_running_waves_task_and_marks_the_plan_aborted() {
    let (emulator, client) = emulator(10).await;
    let (_dir, store) = plan_file(&client, devices(4, &[]), "2,all", json!({}));
    let task_id = create_first_wave(&client, &store).await;
    let aborted = client.abort_rollout(&store, "by hand").await.expect("aborted");
    assert_eq!(aborted.task_id.as_deref(), Some(task_id.as_str()));
    assert!(aborted.stop.expect("a stop").is_ok());
    assert!(matches!(store.load().expect("plan").state(), PlanState::Aborted { reason } if reason == "by hand"));
    let status = emulator.service().task(DEMO_PROJECT_ID, &task_id).expect("task").status;
    assert!(
        matches!(status, TaskStatus::Stopped | TaskStatus::Stopping | TaskStatus::Success),
        "{status:?}"
    );
}
