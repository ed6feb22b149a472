//! `iotda-batchtask demo`: the operator's loop in a few seconds, with no
//! set-up: list, stop four devices, bulk stop, show, retry the stopped
//! ones, show, a guarded rollout, a staged rollout.
//!
//! An emulator starts in-process on loopback with demo data, standing in for
//! IoTDA, IAM and an ECS host's metadata; the real client finds everything
//! as on a real host (temporary credentials from metadata, the project from
//! IAM, the endpoint from the region) and talks to it over HTTP with real
//! V11-HMAC-SHA256 signing. Nothing of the user's environment is read.

use std::time::Instant;

use futures_util::{StreamExt as _, TryStreamExt as _};
use iotda_batchtask::TargetsProgress;
use iotda_batchtask::config::{CredentialChain, Env};
use iotda_batchtask::rollout::{
    GuardSettings, Plan, PlanError, PlanState, PlanStore, RolloutEvent, RolloutTaskType, WaveState,
};
use iotda_batchtask::types::TaskType;
use iotda_batchtask::watch::{Criterion, StopOutcome, WatchEnd};
use iotda_batchtask::{Client, CreateOutcome, Credentials};
use iotda_batchtask_emulator::{DEMO_TASK_ID, Emulator, EmulatorConfig, Progression, Seed, Selection, demo_device_id};

use crate::Exit;
use crate::operation::Op;
use crate::output::{self, outln};
use crate::render::{self, Rows};
use crate::sanitize;
use crate::signals;

/// How long the emulator's temporary credentials live.
const DEMO_CREDENTIALS_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// The token scene 8's emulator accepts (a test credential, in-process only).
const STAGED_TOKEN: &str = "demo-staged-rollout-token";

/// The devices of the guarded rollout (scene 7).
const GUARDED_DEVICES: usize = 200;

pub async fn run() -> Exit {
    // A signal ends the demo between two lines: there is nothing to report.
    let finished = tokio::select! {
        finished = demo() => finished,
        signal = signals::first() => {
            output::errln!("interrupted ({}): demo stopped", signal.name());
            return signal.exit();
        }
    };
    match finished {
        Ok(()) => Exit::Success,
        Err(e) => {
            output::error(format_args!("demo failed: {e}"));
            Exit::RequestFailed
        }
    }
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let emulator = Emulator::start(
        EmulatorConfig::new()
            .seed(Seed::demo())
            .temporary_credentials(DEMO_CREDENTIALS_LIFETIME)
            // Tasks created here move by themselves: a device every 2 ms, each
            // done 40 ms later, a third of them failing (a bad firmware).
            .default_progression(
                Progression::new(std::time::Duration::from_millis(40))
                    .dispatch_every(std::time::Duration::from_millis(2))
                    .fail(Selection::default().with_share(33, 7)?),
            ),
    )
    .await?;
    // Only these variables: the emulator as ECS metadata, IAM and the region's endpoint.
    let url = emulator.base_url();
    let env = Env::from_vars([
        ("IOTDA_METADATA_ENDPOINT", url.as_str()),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", url.as_str()),
        ("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4", url.as_str()),
    ]);
    let client = Client::for_region("cn-north-4")
        .credentials_provider(CredentialChain::new(&env)?)
        .env(env)
        .build_async()
        .await?;

    outln!("iotda-batchtask demo: an IoTDA emulator in this process, the real client, real AK/SK signing.\n");
    outln!(
        "emulator  {}  (AK/SK auth on; Signing::Auto chose V11-HMAC-SHA256 for this host)",
        emulator.base_url()
    );
    outln!(
        "config    region cn-north-4; credentials from ECS metadata (temporary, refreshed before expiry); project {} found with IAM",
        client.project_id()
    );
    print_task(&client, "task     ").await?;

    outln!("\n1. Find the rollout: the project's firmware upgrades, newest first.");
    outln!("   $ iotda-batchtask list --task-type firmwareUpgrade\n");
    let tasks: Vec<_> = client
        .list_batch_tasks(TaskType::FirmwareUpgrade)
        .tasks()
        .try_collect()
        .await?;
    output::out(indent(&crate::cmd::list::table(&tasks)));

    let named = ["dev-0001", "dev-0002", "dev-0003", "dev-9999"];
    let named_list = named.map(|d| format!("--target {d}")).join(" ");
    outln!("\n2. The new firmware misbehaves: stop four named devices; dev-9999 is not in the task.");
    outln!("   $ iotda-batchtask stop --task-id {DEMO_TASK_ID} {named_list}\n");
    let out = client.stop_batch_task(DEMO_TASK_ID).targets(named).send().await?;
    let mut stopped: Vec<String> = out.succeeded().map(|r| r.target.clone()).collect();
    output::out(indent(&render::table(&Rows::of(Op::Stop, &out))));

    let bulk: Vec<String> = (4..=250).map(demo_device_id).collect();
    outln!(
        "\n3. Stop the next {} in one call: 100 per request, 2 requests at a time.",
        output::count(bulk.len(), "device", "devices")
    );
    outln!("   $ iotda-batchtask stop --task-id {DEMO_TASK_ID} --targets-file devices.txt --concurrency 2\n");
    let out = client
        .stop_batch_task(DEMO_TASK_ID)
        .targets(bulk)
        .concurrency(2)
        .on_progress(|p: &TargetsProgress| {
            outln!(
                "   progress: {}/{}, {} of {} stopped",
                p.requests_done,
                output::count(p.requests_total, "request", "requests"),
                p.succeeded,
                output::count(p.targets_total, "target", "targets")
            );
        })
        .send()
        .await?;
    stopped.extend(out.succeeded().map(|r| r.target.clone()));
    let rows = Rows::of(Op::Stop, &out);
    let failed: Vec<_> = rows
        .targets
        .iter()
        .filter(|r| r.status != render::SUCCESS)
        .cloned()
        .collect();
    outln!("   {}", render::summary(&rows));
    if !failed.is_empty() {
        outln!("   the first failures, each with its reason (a finished sub-task cannot be stopped):\n");
        let first = Rows {
            targets: failed.iter().take(4).cloned().collect(),
            ..Rows::of(Op::Stop, &Default::default())
        };
        output::out(indent(&render::rows(&first)));
        if failed.len() > 4 {
            outln!(
                "   ... and {} more (every target is listed with --output table or json)",
                failed.len() - 4
            );
        }
    }

    outln!("\n4. What the stops did, through ShowBatchTask:");
    outln!("   $ iotda-batchtask show --task-id {DEMO_TASK_ID}\n");
    print_task(&client, "   task  ").await?;

    outln!(
        "\n5. The firmware is fixed: resume the {} stopped devices (RetryBatchTask re-runs them).",
        stopped.len()
    );
    outln!("   $ iotda-batchtask retry --task-id {DEMO_TASK_ID} --targets-file stopped.txt\n");
    let out = client
        .retry_batch_task(DEMO_TASK_ID)
        .targets(stopped)
        .concurrency(2)
        .send()
        .await?;
    outln!("   {}", render::summary(&Rows::of(Op::Retry, &out)));

    outln!("\n6. The task again: the stopped devices are running again.");
    outln!("   $ iotda-batchtask show --task-id {DEMO_TASK_ID}\n");
    print_task(&client, "   task  ").await?;

    guarded_rollout(&client).await?;
    let staged = staged_rollout().await?;
    outln!(
        "\n{} served in {:.2?}. Run `iotda-batchtask emulator --help` to serve this data yourself.",
        output::count(emulator.request_count() + staged, "request", "requests"),
        started.elapsed()
    );
    emulator.shutdown().await;
    Ok(())
}

/// A plan kept in memory: the rollout driver takes any [`PlanStore`] (the
/// CLI's is an atomically replaced file).
#[derive(Clone, Default)]
struct MemoryStore(std::sync::Arc<std::sync::Mutex<Option<Plan>>>);

impl PlanStore for MemoryStore {
    fn load(&self) -> Result<Plan, PlanError> {
        let plan = self.0.lock().map_err(|_| PlanError::Transition {
            detail: "the demo's store was poisoned".to_owned(),
        })?;
        plan.clone().ok_or_else(|| PlanError::Transition {
            detail: "no plan stored".to_owned(),
        })
    }
    fn save(&self, plan: &Plan) -> Result<(), PlanError> {
        let mut stored = self.0.lock().map_err(|_| PlanError::Transition {
            detail: "the demo's store was poisoned".to_owned(),
        })?;
        *stored = Some(plan.clone());
        Ok(())
    }
    fn create_new(&self, plan: &Plan) -> Result<(), PlanError> {
        self.save(plan)
    }
}

/// Scene 8: a staged rollout, on an emulator of its own whose firmware fails
/// on site B's devices: the canary wave (site A) passes, the guard stops
/// wave 2, the plan is aborted and wave 3 never starts. Returns the requests
/// that emulator served.
async fn staged_rollout() -> Result<u64, Box<dyn std::error::Error>> {
    let emulator = Emulator::start(
        EmulatorConfig::new()
            .seed(Seed::new(Vec::new())?)
            .token(STAGED_TOKEN)
            .default_progression(
                Progression::new(std::time::Duration::from_millis(40))
                    .dispatch_every(std::time::Duration::from_millis(50))
                    .fail(Selection::default().with_pattern("^site-b-")?),
            ),
    )
    .await?;
    let client = Client::builder(emulator.base_url())
        .project_id(iotda_batchtask_emulator::DEMO_PROJECT_ID)
        .credentials(Credentials::token(STAGED_TOKEN))
        .build()?;
    let fleet: Vec<String> = (1..=10)
        .map(|i| format!("site-a-{i:03}"))
        .chain((1..=90).map(|i| format!("site-b-{i:03}")))
        .collect();
    outln!("\n8. A staged rollout of the next firmware to 100 devices in waves of 10%, 50% and 100%.");
    outln!(
        "   $ iotda-batchtask rollout start --plan fw_v4.plan.json --task-type firmwareUpgrade --targets-file fleet.txt \\\n     \
         --waves 10%,50%,100% --advance-if success>=95% --abort-if failed>=10% --min-finished 5 --interval 1\n"
    );
    let plan = Plan::builder(
        client.endpoint(),
        client.project_id(),
        RolloutTaskType::FirmwareUpgrade,
        fleet,
        "10%,50%,100%".parse()?,
    )
    .advance_if("success>=95%".parse()?)
    .guard(GuardSettings {
        abort_if: vec!["failed>=10%".parse()?],
        min_finished: Some(5),
        ..GuardSettings::default()
    })
    .interval_seconds(1)
    .build(jiff::Timestamp::now())?;
    let store = MemoryStore::default();
    store.create_new(&plan)?;
    let mut events = std::pin::pin!(client.run_rollout(store).stream()?);
    while let Some(event) = events.next().await {
        match event {
            RolloutEvent::Created { wave, task_id, .. } => outln!(
                "   wave {}: task {} created for {}",
                wave + 1,
                sanitize::cell(&task_id, 64),
                output::count(plan.waves()[wave].devices.len(), "device", "devices")
            ),
            RolloutEvent::WaveEnded { wave, report } => {
                let what = match &report.end {
                    WatchEnd::Tripped {
                        trip,
                        stop: StopOutcome::Stopped { .. },
                    } => {
                        format!("{trip} tripped: the wave's task was stopped")
                    }
                    WatchEnd::Finished { status } => format!("finished {}", status.as_str()),
                    other => format!("{other:?}"),
                };
                let counters = report.counters.as_ref().map(render::progress).unwrap_or_default();
                outln!("   wave {}: {}; {}", wave + 1, sanitize::cell(&what, 256), counters);
            }
            RolloutEvent::Ended(report) => {
                let state = match report.plan.state() {
                    PlanState::Aborted { reason } => format!("ABORTED ({}) (exit code 7)", sanitize::cell(reason, 512)),
                    other => format!("{other:?}"),
                };
                outln!("   the plan: {state}");
                let waves: Vec<String> = report
                    .plan
                    .waves()
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let kind = match &w.state {
                            WaveState::Finished { status, .. } => format!("finished {status}"),
                            WaveState::Aborted { .. } => "aborted".to_owned(),
                            WaveState::Pending => "never started".to_owned(),
                            other => format!("{other:?}"),
                        };
                        format!("wave {} {kind}", i + 1)
                    })
                    .collect();
                outln!("   $ iotda-batchtask rollout status --plan fw_v4.plan.json");
                outln!("   {}", waves.join("; "));
            }
            _ => {}
        }
    }
    let served = emulator.request_count();
    emulator.shutdown().await;
    Ok(served)
}

/// A new rollout of a bad firmware, guarded: `watch` stops it by itself once
/// failures cross 10% of at least 10 finished devices.
async fn guarded_rollout(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let devices: Vec<String> = (1..=GUARDED_DEVICES).map(demo_device_id).collect();
    outln!(
        "\n7. A new rollout of a bad firmware to {} devices, guarded.",
        devices.len()
    );
    outln!("   $ iotda-batchtask create --name fw_v3_demo --task-type firmwareUpgrade --targets-file devices.txt ...");
    let mut package = serde_json::Map::new();
    package.insert("package_id".into(), "5c90fa7d3c4e4405e8525079".into());
    let created = client
        .create_batch_task("fw_v3_demo", TaskType::FirmwareUpgrade)
        .targets(devices)
        .document(package)
        .send()
        .await?;
    let task_id = match &created {
        CreateOutcome::Created { task, .. } | CreateOutcome::CreatedByRead { task } => task.task_id.clone(),
        _ => None,
    }
    .ok_or("the emulator did not report the task it created")?;
    outln!(
        "   $ iotda-batchtask watch --task-id {} --abort-if failed>=10% --min-finished 10\n",
        sanitize::cell(&task_id, 64)
    );
    let report = client
        .watch_batch_task(&task_id)
        .criterion(Criterion::failed_percent(10.0)?)
        .min_finished(10)
        .interval(std::time::Duration::from_millis(20))
        .run()
        .await?;
    if let Some(at_trip) = &report.counters_at_trip {
        outln!("   at the trip: {}", render::progress(at_trip));
    }
    let what = match &report.end {
        WatchEnd::Tripped { trip, stop } => {
            let stop = match stop {
                StopOutcome::Stopped { .. } => "the task was stopped (exit code 7)".to_owned(),
                other => format!("the stop: {other:?}"),
            };
            format!("{trip} tripped after {} polls: {stop}", report.polls)
        }
        other => format!("the watch ended without a trip: {other:?}"),
    };
    outln!("   {}", sanitize::cell(&what, 4096));
    if let Some(after) = &report.counters {
        outln!("   after:       {}", render::progress(after));
    }
    Ok(())
}

/// One line per task from ShowBatchTask: its type, status and progress counters.
async fn print_task(client: &Client, label: &str) -> Result<(), iotda_batchtask::Error> {
    let out = client.show_batch_task(DEMO_TASK_ID).limit(1).send().await?;
    let Some(task) = out.task() else { return Ok(()) };
    let text = |v: &Option<String>| sanitize::cell(v.as_deref().unwrap_or_default(), 32);
    let counts = task.task_progress.as_ref().map_or(String::new(), |p| {
        [
            ("Processing", p.processing),
            ("Waitting", p.waitting),
            ("FailWaitRetry", p.fail_wait_retry),
            ("Success", p.success),
            ("Fail", p.fail),
            ("Stopped", p.stopped),
        ]
        .iter()
        .filter_map(|(name, n)| n.filter(|n| *n > 0).map(|n| format!("{name} {n}")))
        .collect::<Vec<_>>()
        .join(", ")
    });
    let total = task.task_progress.as_ref().and_then(|p| p.total).unwrap_or_default();
    outln!(
        "{label} {} ({}, {}), {}: {counts}",
        text(&task.task_id),
        text(&task.task_type),
        text(&task.status),
        output::count(total, "device", "devices")
    );
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
