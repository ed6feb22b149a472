//! The plan of a staged rollout (`iotda_batchtask::rollout`): 30,000 devices
//! in 4 waves (1%, 10%, 50%, 100%). Nothing is sent: a plan is written whole
//! before a rollout's first request, and replaced at every change of state.
//!
//! Group `rollout_plan`:
//! - `build`: `Plan::builder(..).build(now)`, which checks and de-duplicates
//!   the 30,000 device IDs, splits them, checks the options and derives the
//!   plan ID (a SHA-256 over every device);
//! - `split`: `WaveSpec::split` alone, over the checked list;
//! - `serialise`: the plan as the file's pretty-printed JSON;
//! - `save_atomic`: `AtomicFileStore::save` over an existing plan file:
//!   serialise, write a temporary file, fsync it, rename it over the plan,
//!   fsync the directory (in `target/tmp`, on the disk `target/` is on);
//! - `load`: `AtomicFileStore::load`, the bounded read and parse `resume`
//!   and `status` start with.
//!
//! The plan file's size is printed first. Device IDs are IoTDA's
//! `{product_id}_{node_id}` form, 38 characters.
//!
//! `cargo bench -p iotda-batchtask --bench rollout_plan`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use iotda_batchtask::rollout::{
    AtomicFileStore, GuardSettings, Plan, PlanStore as _, RolloutTaskType, TaskOptions, WaveSpec,
};

const DEVICES: usize = 30_000;
const WAVES: &str = "1%,10%,50%,100%";
const ENDPOINT: &str = "https://iotda.cn-north-4.myhuaweicloud.com";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// `65f1c2a7d9e84b3c2a1f0e9d_meter-000000`, ...: a product ID, `_`, a node ID.
fn targets() -> Vec<String> {
    (0..DEVICES)
        .map(|i| format!("65f1c2a7d9e84b3c2a1f0e9d_meter-{i:06}"))
        .collect()
}

fn task_options() -> TaskOptions {
    let mut task = TaskOptions::default();
    task.document
        .insert("package_id".to_owned(), "32822e5744a45ede319d2c50".into());
    task.task_ext_info.insert("note".to_owned(), "2.1.0".into());
    task
}

fn guard() -> GuardSettings {
    GuardSettings {
        abort_if: vec![
            "failed>=5%".parse().expect("valid criterion"),
            "failed>=20".parse().expect("valid criterion"),
        ],
        min_finished: Some(50),
        count_retrying: false,
        stuck_after_seconds: Some(1800),
    }
}

fn build(targets: Vec<String>) -> Plan {
    Plan::builder(
        ENDPOINT,
        PROJECT,
        RolloutTaskType::FirmwareUpgrade,
        targets,
        WAVES.parse().expect("valid waves"),
    )
    .task(task_options())
    .guard(guard())
    .advance_if("success>=95%".parse().expect("valid rule"))
    .build(jiff::Timestamp::now())
    .expect("a valid plan")
}

fn rollout_plan(c: &mut Criterion) {
    let targets = targets();
    let plan = build(targets.clone());
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let store = AtomicFileStore::new(dir.path().join("plan.json"));
    store.create_new(&plan).expect("the plan is written");
    let size = std::fs::metadata(store.path()).expect("the plan file").len();
    let waves: Vec<usize> = plan.waves().iter().map(|w| w.devices.len()).collect();
    println!(
        "plan file: {DEVICES} devices in waves of {waves:?} ({WAVES}): {size} bytes ({:.1} MiB, {:.1} bytes per device)",
        size as f64 / (1024.0 * 1024.0),
        size as f64 / DEVICES as f64
    );
    assert_eq!(store.load().expect("the plan reads back"), plan);

    let mut group = c.benchmark_group("rollout_plan");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("build", |b| {
        b.iter_batched(|| targets.clone(), |t| black_box(build(t)), BatchSize::LargeInput)
    });
    let spec: WaveSpec = WAVES.parse().expect("valid waves");
    group.bench_function("split", |b| b.iter(|| black_box(spec.split(&targets).expect("splits"))));
    group.bench_function("serialise", |b| {
        b.iter(|| black_box(serde_json::to_vec_pretty(&plan).expect("serialises")))
    });
    group.bench_function("save_atomic", |b| b.iter(|| store.save(&plan).expect("saved")));
    group.bench_function("load", |b| b.iter(|| black_box(store.load().expect("loaded"))));
    group.finish();
}

criterion_group!(benches, rollout_plan);
criterion_main!(benches);
