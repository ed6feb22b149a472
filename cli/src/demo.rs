//! `iotda-batchtask demo`: the whole story in a few seconds, with no set-up.
//!
//! An emulator starts in-process on loopback with demo data; the real client
//! talks to it over HTTP with real V11-HMAC-SHA256 signing.

use std::time::Instant;

use iotda_batchtask::bulk::BulkProgress;
use iotda_batchtask::{Client, Credentials};
use iotda_batchtask_emulator::{
    DEMO_FINISHED_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, Seed, demo_device_id,
};

use crate::Exit;
use crate::render::{self, Rows};

/// Demo credentials: the emulator accepts them, nothing else does.
const DEMO_AK: &str = "DEMOAK0000000000000001";
const DEMO_SK: &str = "demo-secret-key-not-a-real-one";

pub async fn run() -> Exit {
    match demo().await {
        Ok(()) => Exit::Stopped,
        Err(e) => {
            eprintln!("demo failed: {e}");
            Exit::RequestFailed
        }
    }
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let emulator = Emulator::start(EmulatorConfig::new().seed(Seed::demo()).ak_sk(DEMO_AK, DEMO_SK)).await?;
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(DEMO_AK, DEMO_SK))
        .region("cn-north-4")
        .build()?;

    println!("iotda-batchtask demo: an IoTDA emulator in this process, the real client, real AK/SK signing.\n");
    println!(
        "emulator  {}  (AK/SK auth on; Signing::Auto chose V11-HMAC-SHA256 for this host)",
        emulator.base_url()
    );
    print_task(&client, "task     ").await?;

    let named = ["dev-0001", "dev-0002", "dev-0003", "dev-9999"];
    let named_list = named.map(|d| format!("--target {d}")).join(" ");
    println!("\n1. Stop four named devices; dev-9999 is not in the task.");
    println!("   $ iotda-batchtask stop --task-id {DEMO_TASK_ID} {named_list}\n");
    let out = client.stop_batch_task(DEMO_TASK_ID).targets(named).send().await?;
    print!("{}", indent(&render::table(&Rows::from_stop(&out))));

    let bulk: Vec<String> = (4..=250).map(demo_device_id).collect();
    println!(
        "\n2. Stop {} more devices in one bulk call: 100 per request, 2 requests at a time.",
        bulk.len()
    );
    println!("   $ iotda-batchtask stop --task-id {DEMO_TASK_ID} --targets-file devices.txt --concurrency 2\n");
    let out = client
        .stop_batch_task_bulk(DEMO_TASK_ID)
        .targets(bulk)
        .concurrency(2)
        .on_progress(|p: &BulkProgress| {
            println!(
                "   progress: {}/{} requests, {} of {} targets stopped",
                p.requests_done, p.requests_total, p.succeeded, p.targets_total
            );
        })
        .send()
        .await?;
    let rows = Rows::from_bulk(&out);
    let failed: Vec<_> = rows.targets.iter().filter(|r| !r.is_success()).cloned().collect();
    println!("   {}", render::summary(&rows));
    if !failed.is_empty() {
        println!("   the first failures, each with its reason:\n");
        let first = Rows {
            targets: failed.iter().take(4).cloned().collect(),
            request_ids: Vec::new(),
        };
        print!("{}", indent(&render::rows(&first)));
        if failed.len() > 4 {
            println!(
                "   ... and {} more (every target is listed with --output table or json)",
                failed.len() - 4
            );
        }
    }

    println!("\n3. A finished task cannot be stopped: the error carries status, code and request id.");
    println!("   $ iotda-batchtask stop --task-id {DEMO_FINISHED_TASK_ID} --all\n");
    match client.stop_batch_task(DEMO_FINISHED_TASK_ID).all().send().await {
        Ok(_) => println!("   (unexpectedly accepted)"),
        Err(e) => println!("   error: {e}"),
    }

    println!("\n4. Stop everything still running, waiting or awaiting retry (body {{}}, only with --all).");
    println!("   $ iotda-batchtask stop --task-id {DEMO_TASK_ID} --all\n");
    let out = client.stop_batch_task(DEMO_TASK_ID).all().send().await?;
    println!("   {}", render::summary(&Rows::from_stop(&out)));

    println!("\n5. The task now, through ShowBatchTask:");
    println!("   $ iotda-batchtask show --task-id {DEMO_TASK_ID}\n");
    print_task(&client, "   task  ").await?;
    println!(
        "\n{} requests served in {:.2?}. Run `iotda-batchtask emulator --help` to serve this data yourself.",
        emulator.request_count(),
        started.elapsed()
    );
    emulator.shutdown().await;
    Ok(())
}

/// One line per task from ShowBatchTask: its type, status and progress counters.
async fn print_task(client: &Client, label: &str) -> Result<(), iotda_batchtask::Error> {
    let out = client.show_batch_task(DEMO_TASK_ID).limit(1).send().await?;
    let Some(task) = out.task() else { return Ok(()) };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
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
    println!(
        "{label} {} ({}, {}), {total} devices: {counts}",
        text(&task.task_id),
        text(&task.task_type),
        text(&task.status)
    );
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
