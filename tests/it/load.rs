//! Load without loss: many concurrent signed clients stop overlapping target
//! sets of one task on the emulator. Afterwards every sub-task is in exactly
//! one state, the union of reported successes is exactly the set of stopped
//! sub-tasks, no success is reported twice, and no request failed. Sized for
//! a 2-core machine; prints the figures the README quotes.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use iotda_batchtask::{Client, Credentials};
use iotda_batchtask_emulator::{Emulator, EmulatorConfig, Seed, SeedTask, SubtaskStatus, TaskStatus, TaskType};

const DEVICES: usize = 5_000;
const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 20;
const TARGETS_PER_REQUEST: usize = 50;

fn device(i: usize) -> String {
    format!("dev-{i:05}")
}

fn initial(i: usize) -> SubtaskStatus {
    match i % 10 {
        0..=4 => SubtaskStatus::Processing,
        5..=6 => SubtaskStatus::Waitting,
        7 => SubtaskStatus::FailWaitRetry,
        8 => SubtaskStatus::Success,
        _ => SubtaskStatus::Fail,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_stops_lose_nothing() {
    let seed = Seed::new(vec![SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: TASK.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        // One extra device nobody targets keeps the task Processing, so no
        // request is refused as a whole.
        subtasks: (0..=DEVICES)
            .map(|i| {
                (
                    device(i),
                    if i == DEVICES {
                        SubtaskStatus::Processing
                    } else {
                        initial(i)
                    },
                )
            })
            .collect(),
    }])
    .unwrap();
    let emulator = Emulator::start(EmulatorConfig::new().seed(seed).ak_sk(AK, SK))
        .await
        .unwrap();
    let client = Client::builder(emulator.base_url())
        .project_id(PROJECT)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .build()
        .unwrap();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut successes = Vec::new();
            let mut failures = 0;
            for r in 0..REQUESTS_PER_CLIENT {
                // Strided windows: clients overlap heavily on the same devices.
                let start = (c * 97 + r * 211) % DEVICES;
                let targets: Vec<String> = (0..TARGETS_PER_REQUEST)
                    .map(|k| device((start + k * 3) % DEVICES))
                    .collect();
                let out = client
                    .stop_batch_task(TASK)
                    .targets(targets)
                    .send()
                    .await
                    .expect("no request errors");
                assert_eq!(out.missing().count() + out.unexpected().count(), 0);
                for result in out.results() {
                    if result.is_success() {
                        successes.push(result.target.clone().unwrap());
                    } else {
                        failures += 1;
                    }
                }
            }
            (successes, failures)
        }));
    }
    let mut reported = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (successes, f) = tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .unwrap()
            .unwrap();
        reported.extend(successes);
        failures += f;
    }
    let elapsed = started.elapsed();

    let unique: BTreeSet<&String> = reported.iter().collect();
    assert_eq!(unique.len(), reported.len(), "a success was reported twice");
    let snapshot = emulator.task(PROJECT, TASK).unwrap();
    assert_eq!(
        snapshot.subtasks.len(),
        DEVICES + 1,
        "every sub-task is in exactly one state"
    );
    let stopped: BTreeSet<&String> = snapshot
        .subtasks
        .iter()
        .filter(|(_, s)| **s == SubtaskStatus::Stopped)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(unique, stopped, "reported successes are exactly the stopped sub-tasks");
    for (i, status) in snapshot.subtasks.values().enumerate().take(DEVICES) {
        assert!(
            *status == SubtaskStatus::Stopped || *status == initial(i),
            "{}: {status:?} from {:?}",
            device(i),
            initial(i)
        );
        if *status == SubtaskStatus::Stopped {
            assert!(initial(i).is_stoppable());
        }
    }
    let requests = CLIENTS * REQUESTS_PER_CLIENT;
    assert_eq!(emulator.request_count(), requests as u64);
    assert_eq!(reported.len() + failures, requests * TARGETS_PER_REQUEST);
    println!(
        "load: {requests} signed requests from {CLIENTS} concurrent clients ({} target results) in {elapsed:.2?} \
         ({:.0} req/s); {} sub-tasks stopped, each reported once; {failures} per-target refusals; 0 request errors",
        requests * TARGETS_PER_REQUEST,
        requests as f64 / elapsed.as_secs_f64(),
        stopped.len()
    );
    emulator.shutdown().await;
}
