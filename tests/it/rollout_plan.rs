//! The staged-rollout plan (`iotda_batchtask::rollout`): the wave split, the
//! plan file's format, and its atomic, bounded, checked persistence. No
//! server: nothing here sends a request.

use std::collections::HashSet;
use std::fs;

use iotda_batchtask::limits;
use iotda_batchtask::rollout::{
    AtomicFileStore, GuardSettings, MAX_PLAN_BYTES, PLAN_VERSION, Plan, PlanError, PlanStore, RolloutTaskType,
    TaskOptions, WaveSpec,
};
use iotda_batchtask::types::TaskProgress;
use proptest::prelude::*;
use serde_json::json;

use crate::common::{self, Mode, PROJECT};

const ENDPOINT: &str = "http://127.0.0.1:8443";

fn at(text: &str) -> jiff::Timestamp {
    text.parse().expect("a test timestamp")
}

/// A plan as `rollout start` would write it: 10 devices (one repeated) in
/// three waves, with task options and guard settings.
fn sample() -> Plan {
    let task: TaskOptions = serde_json::from_value(json!({
        "document": {"package_id": "32822e5744a45ede319d2c50"},
        "task_policy": {"retry_count": 3, "retry_interval": 30},
        "task_ext_info": {"note": "2.1.0"},
        "need_confirm": false
    }))
    .expect("task options");
    let guard: GuardSettings = serde_json::from_value(json!({
        "abort_if": ["failed>=5%", "failed>=20"],
        "min_finished": 10,
        "count_retrying": true,
        "stuck_after_seconds": 3600
    }))
    .expect("guard settings");
    let devices = [
        "dev-0", "dev-1", "dev-2", "dev-1", "dev-3", "dev-4", "dev-5", "dev-6", "dev-7", "dev-8",
    ];
    Plan::builder(
        ENDPOINT,
        PROJECT,
        RolloutTaskType::FirmwareUpgrade,
        devices,
        "10%,50%,100%".parse().expect("waves"),
    )
    .instance_id(common::INSTANCE)
    .task(task)
    .guard(guard)
    .advance_if("success>=95%".parse().expect("advance_if"))
    .pause_seconds(600)
    .interval_seconds(15)
    .build(at("2026-12-07T06:00:00Z"))
    .expect("a valid plan")
}

fn store() -> (tempfile::TempDir, AtomicFileStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = AtomicFileStore::new(dir.path().join("rollout.json"));
    (dir, store)
}

/// The file format, field by field: a change to it shows here as a
/// snapshot diff (and needs a `version` bump if old files no longer read).
#[test]
fn the_plan_file_format() {
    let mut plan = sample();
    plan.begin_create(0, at("2026-12-07T06:00:01Z"), None).expect("intent");
    plan.created(0, "61a5f4cbd86b7a1d1c2f3e4a".parse().expect("task id"))
        .expect("created");
    plan.watching(0).expect("watching");
    let counters: TaskProgress = serde_json::from_value(json!({"total": 1, "success": 1})).expect("counters");
    plan.finished(0, "Success", counters, at("2026-12-07T06:05:00Z"))
        .expect("finished");
    plan.begin_create(1, at("2026-12-07T06:15:00Z"), None).expect("intent");
    let (_dir, store) = store();
    store.create_new(&plan).expect("written");
    let text = fs::read_to_string(store.path()).expect("read back");
    insta::assert_snapshot!("rollout_plan_file", text);
    assert_eq!(store.load().expect("loaded"), plan);
}

#[test]
fn waves_hold_the_deduplicated_targets_in_order() {
    // 9 distinct devices: 10% ends at ceil(0.9) = 1, 50% at ceil(4.5) = 5.
    let plan = sample();
    let waves: Vec<Vec<&str>> = plan
        .waves()
        .iter()
        .map(|w| w.devices.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        waves,
        [
            vec!["dev-0"],
            vec!["dev-1", "dev-2", "dev-3", "dev-4"],
            vec!["dev-5", "dev-6", "dev-7", "dev-8"],
        ]
    );
}

/// Every wave's create is a valid CreateBatchTask carrying the plan's
/// options, under the name the plan lists for after a lost answer.
#[test]
fn each_wave_creates_a_valid_task_with_the_plans_options() {
    let plan = sample();
    let client = common::client(ENDPOINT, Mode::Token);
    for (i, wave) in plan.waves().iter().enumerate() {
        let body = plan
            .create_call(&client, i)
            .expect("call")
            .body()
            .expect("a valid body");
        let body = serde_json::to_value(body).expect("serialises");
        assert_eq!(body["task_name"], json!(plan.wave_task_name(i)));
        assert_eq!(body["task_type"], json!("firmwareUpgrade"));
        assert_eq!(body["targets"], json!(wave.devices));
        assert_eq!(body["document"], json!({"package_id": "32822e5744a45ede319d2c50"}));
        assert_eq!(body["task_policy"], json!({"retry_count": 3, "retry_interval": 30}));
        assert_eq!(body["task_ext_info"], json!({"note": "2.1.0"}));
        assert_eq!(body["need_confirm"], json!(false));
    }
    assert!(plan.create_call(&client, 3).is_err());
}

#[test]
fn a_wave_larger_than_one_task_is_refused() {
    let max = limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS;
    let devices: Vec<String> = (0..=max).map(|i| format!("d{i}")).collect();
    // One device, then exactly the most one task takes: allowed.
    let plan = Plan::builder(
        ENDPOINT,
        PROJECT,
        RolloutTaskType::SoftwareUpgrade,
        devices.clone(),
        "1,all".parse().expect("waves"),
    )
    .build(at("2026-12-07T06:00:00Z"))
    .expect("a wave of exactly the limit");
    assert_eq!(plan.waves()[1].devices.len(), max);
    let err = Plan::builder(
        ENDPOINT,
        PROJECT,
        RolloutTaskType::SoftwareUpgrade,
        devices,
        "all".parse().expect("waves"),
    )
    .build(at("2026-12-07T06:00:00Z"))
    .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "wave 1 has {} devices; one batch task takes at most {max}",
            max + 1
        )),
        "{err}"
    );
}

#[test]
fn a_plan_survives_a_save_and_load() {
    let (_dir, store) = store();
    let mut plan = sample();
    store.create_new(&plan).expect("written");
    plan.begin_create(0, at("2026-12-07T06:00:01Z"), None).expect("intent");
    store.save(&plan).expect("saved");
    assert_eq!(store.load().expect("loaded"), plan);
    // Nothing is left beside the plan.
    let names: Vec<_> = fs::read_dir(store.path().parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["rollout.json"]);
}

#[test]
fn start_refuses_an_existing_plan_file() {
    let (_dir, store) = store();
    fs::write(store.path(), "{}").expect("an existing file");
    let err = store.create_new(&sample()).unwrap_err();
    assert!(matches!(err, PlanError::Exists { .. }), "{err}");
    assert!(
        err.to_string().contains("rollout.json: a plan file exists already"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(store.path()).expect("untouched"), "{}");
}

#[test]
fn a_truncated_plan_file_is_refused_naming_the_file() {
    let (_dir, store) = store();
    store.create_new(&sample()).expect("written");
    let full = fs::read(store.path()).expect("read");
    for cut in [0, 1, full.len() / 3, full.len() / 2, full.len() - 3] {
        fs::write(store.path(), &full[..cut]).expect("truncate");
        let err = store.load().unwrap_err();
        assert!(matches!(err, PlanError::Corrupt { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().contains("rollout.json: not a valid plan file"), "{err}");
    }
}

#[test]
fn a_hand_edited_invalid_plan_file_is_refused_naming_the_problem() {
    let (_dir, store) = store();
    store.create_new(&sample()).expect("written");
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(store.path()).expect("read")).expect("json");
    value["waves"][1]["devices"][0] = json!("dev-0");
    fs::write(store.path(), value.to_string()).expect("edit");
    let err = store.load().unwrap_err().to_string();
    assert!(err.contains("rollout.json: not a valid plan file"), "{err}");
    assert!(err.contains("waves[1].devices"), "{err}");
    fs::write(store.path(), r#"{"plan_id": "x"}"#).expect("edit");
    assert!(store.load().unwrap_err().to_string().contains("no `version` field"));
}

#[test]
fn a_future_version_is_refused_naming_both_versions() {
    let (_dir, store) = store();
    store.create_new(&sample()).expect("written");
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(store.path()).expect("read")).expect("json");
    let future = PLAN_VERSION + 1;
    value["version"] = json!(future);
    // A newer format may add fields; the version is what is reported.
    value["new_field"] = json!(true);
    fs::write(store.path(), value.to_string()).expect("edit");
    let err = store.load().unwrap_err();
    assert!(
        matches!(err, PlanError::FutureVersion { found, supported, .. } if found == future && supported == PLAN_VERSION),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!(
            "rollout.json: plan format version {future} is newer than this program supports ({PLAN_VERSION})"
        )),
        "{err}"
    );
}

#[test]
fn a_plan_for_another_endpoint_or_project_is_refused() {
    let plan = sample();
    plan.check_target(&format!("{ENDPOINT}/"), &PROJECT.to_uppercase())
        .expect("the same target");
    let err = plan.check_target("http://127.0.0.1:9443", PROJECT).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "the plan is for http://127.0.0.1:8443 project 0123456789abcdef0123456789abcdef, not http://127.0.0.1:9443"
        ),
        "{err}"
    );
    let err = plan
        .check_target(ENDPOINT, "0123456789abcdef0123456789abcde0")
        .unwrap_err();
    assert!(matches!(err, PlanError::WrongTarget { .. }), "{err}");
}

#[test]
fn only_regular_files_are_plans() {
    let (dir, store) = store();
    fs::create_dir(store.path()).expect("a directory in its place");
    for err in [store.load().unwrap_err(), store.save(&sample()).unwrap_err()] {
        assert!(matches!(err, PlanError::NotRegularFile { .. }), "{err}");
    }
    #[cfg(unix)]
    {
        let real = AtomicFileStore::new(dir.path().join("real.json"));
        real.create_new(&sample()).expect("written");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(real.path(), &link).expect("symlink");
        let err = AtomicFileStore::new(&link).load().unwrap_err();
        assert!(matches!(err, PlanError::NotRegularFile { .. }), "{err}");
    }
    let missing = AtomicFileStore::new(dir.path().join("missing.json"))
        .load()
        .unwrap_err();
    assert!(matches!(missing, PlanError::Io { .. }), "{missing}");
    assert!(missing.to_string().contains("missing.json"), "{missing}");
}

#[test]
fn an_oversized_plan_file_is_not_read() {
    let (_dir, store) = store();
    let file = fs::File::create(store.path()).expect("create");
    // Sparse: the size is what is checked, and the read stops at the bound.
    file.set_len(MAX_PLAN_BYTES + 1).expect("grow");
    let err = store.load().unwrap_err();
    assert!(matches!(err, PlanError::TooLarge { .. }), "{err}");
}

/// A target list with repeats (drawn from a small pool) and a wave spec.
fn targets() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec((0u16..400).prop_map(|i| format!("d{i}")), 1..300)
}

fn shares() -> impl Strategy<Value = WaveSpec> {
    prop::collection::btree_set(1u32..10_000, 0..6).prop_map(|set| {
        let mut shares: Vec<u32> = set.into_iter().collect();
        shares.push(10_000);
        WaveSpec::Shares(shares)
    })
}

fn check_split(input: &[String], waves: &[Vec<String>]) {
    let mut unique = Vec::new();
    let mut seen = HashSet::new();
    for t in input {
        if seen.insert(t.clone()) {
            unique.push(t.clone());
        }
    }
    assert!(waves.iter().all(|w| !w.is_empty()), "an empty wave");
    // Concatenated, the waves are the de-duplicated list in input order:
    // every device in exactly one wave.
    assert_eq!(waves.concat(), unique);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn shares_put_every_device_in_exactly_one_wave(input in targets(), spec in shares()) {
        let built = Plan::builder(ENDPOINT, PROJECT, RolloutTaskType::FirmwareUpgrade, input.clone(), spec.clone())
            .build(at("2026-12-07T06:00:00Z"));
        match built {
            Ok(plan) => {
                let waves: Vec<Vec<String>> = plan.waves().iter().map(|w| w.devices.clone()).collect();
                prop_assert_eq!(waves.len(), spec.to_string().split(',').count());
                check_split(&input, &waves);
            }
            // The only refusal for a valid spec: two shares that reach the
            // same device count (an empty wave).
            Err(err) => prop_assert!(err.to_string().contains("it would be empty"), "{}", err),
        }
    }

    #[test]
    fn increasing_counts_always_split(input in targets(), cuts in prop::collection::btree_set(1usize..300, 0..6)) {
        let n = input.iter().collect::<HashSet<_>>().len();
        let mut counts: Vec<Option<usize>> = cuts.into_iter().filter(|&c| c < n).map(Some).collect();
        counts.push(None);
        let waves = WaveSpec::Counts(counts.clone()).split(&{
            let mut seen = HashSet::new();
            input.iter().filter(|t| seen.insert(*t)).cloned().collect::<Vec<_>>()
        });
        let waves = waves.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(waves.len(), counts.len());
        check_split(&input, &waves);
    }
}
