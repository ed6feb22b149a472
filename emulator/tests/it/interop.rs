//! Huawei's official Python SDK against this crate's emulator.
//!
//! The emulator verifies signatures with the crate's own signer, so the
//! official SDK's requests being accepted (and a wrong secret key refused)
//! shows that signer agrees with Huawei's code on plain and derived signing,
//! security tokens and Instance-Id. `scripts/test.sh` installs the pinned SDK
//! (emulator/tests/interop/requirements.txt) into a venv and runs this test with
//! `IOTDA_INTEROP_PYTHON` pointing at its interpreter.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use iotda_batchtask_emulator::{
    DEMO_CONFIRM_TASK_ID, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator,
    EmulatorConfig, Operation, Seed, SeedTask, TaskDetailStatus, TaskSnapshot, TaskStatus, TaskType,
};
use serde_json::Value;

const SECURITY_AK: &str = "HPUATEMPORARYAK00001";
const SECURITY_SK: &str = "TemporarySecretKeyDoNotUse000000000000000";
const SECURITY_TOKEN_VALUE: &str = "EXAMPLE-SECURITY-TOKEN-FOR-INTEROP";

/// The cases the script runs, each on its own task (a stopped task is final).
const CASES: [(&str, &str); 6] = [
    ("plain", "aaaaaaaaaaaaaaaaaaaaaa01"),
    ("derived", "aaaaaaaaaaaaaaaaaaaaaa02"),
    ("instance", "aaaaaaaaaaaaaaaaaaaaaa03"),
    ("token", "aaaaaaaaaaaaaaaaaaaaaa04"),
    ("stop_all", "aaaaaaaaaaaaaaaaaaaaaa05"),
    ("wrong_sk", "aaaaaaaaaaaaaaaaaaaaaa06"),
];

fn task(task_id: &str) -> SeedTask {
    let subtasks: BTreeMap<String, TaskDetailStatus> = [
        ("dev-0001", TaskDetailStatus::Processing),
        ("dev-0002", TaskDetailStatus::Waitting),
        ("dev-0003", TaskDetailStatus::FailWaitRetry),
        ("dev-0004", TaskDetailStatus::Success),
    ]
    .into_iter()
    .map(|(d, s)| (d.to_owned(), s))
    .collect();
    SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: task_id.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Huawei's official Python SDK: run `bash scripts/test.sh`, which installs it"]
async fn official_python_sdk_stops_tasks_on_the_emulator() {
    let python = std::env::var("IOTDA_INTEROP_PYTHON")
        .expect("IOTDA_INTEROP_PYTHON must name the venv's python (bash emulator/tests/interop/setup.sh prints it)");
    let seed = Seed::new(CASES.iter().map(|(_, id)| task(id)).collect()).unwrap();
    let emulator = Emulator::start(
        EmulatorConfig::new()
            .seed(seed)
            .ak_sk(AK, SK)
            .ak_sk(SECURITY_AK, SECURITY_SK)
            .region("cn-north-4"),
    )
    .await
    .unwrap();

    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/official_sdk_stop.py"
    ))
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("IOTDA_EMULATOR_URL", emulator.base_url())
    .env("IOTDA_PROJECT_ID", PROJECT)
    .env("IOTDA_REGION", "cn-north-4")
    .env("IOTDA_AK", AK)
    .env("IOTDA_SK", SK)
    .env("IOTDA_SECURITY_AK", SECURITY_AK)
    .env("IOTDA_SECURITY_SK", SECURITY_SK)
    .env("IOTDA_SECURITY_TOKEN", SECURITY_TOKEN_VALUE)
    .env("IOTDA_INSTANCE_ID", INSTANCE)
    .env("IOTDA_UNKNOWN_TARGET", "dev-9999")
    .env("IOTDA_CASES", "plain,derived,instance,token,stop_all,wrong_sk,show");
    for (case, task_id) in CASES {
        cmd.env(format!("IOTDA_TASK_{}", case.to_uppercase()), task_id);
    }
    for case in ["plain", "derived", "instance", "token"] {
        cmd.env(format!("IOTDA_TARGETS_{}", case.to_uppercase()), "dev-0001,dev-0002");
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("the SDK script finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let lines: BTreeMap<String, Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["case"].as_str().unwrap().to_owned(), v))
        .collect();
    for (case, _) in CASES {
        assert_eq!(lines[case]["ok"], true, "{case}: {}", lines[case]);
    }

    // Algorithms as the SDK chose them, all accepted by the emulator's verifier.
    assert_eq!(lines["plain"]["algorithm"], "SDK-HMAC-SHA256");
    assert_eq!(lines["derived"]["algorithm"], "V11-HMAC-SHA256");
    assert!(
        lines["derived"]["host"]
            .as_str()
            .unwrap()
            .starts_with("a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com:")
    );
    assert!(
        lines["instance"]["signed_headers"]
            .as_str()
            .unwrap()
            .contains("instance-id")
    );
    assert!(
        lines["token"]["signed_headers"]
            .as_str()
            .unwrap()
            .contains("x-security-token")
    );
    for case in ["plain", "derived", "instance", "token", "stop_all"] {
        assert_eq!(lines[case]["status"], 200, "{case}");
        assert!(
            lines[case]["request_id"].as_str().is_some_and(|id| id.len() == 32),
            "{case}"
        );
    }

    // Per-target results.
    let results = |case: &str| -> Vec<(String, String, Option<String>)> {
        lines[case]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["target"].as_str().unwrap().to_owned(),
                    t["status"].as_str().unwrap().to_owned(),
                    t["error_code"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    assert_eq!(
        results("plain"),
        [
            ("dev-0001".into(), "success".into(), None),
            ("dev-0002".into(), "success".into(), None),
            ("dev-9999".into(), "failure".into(), Some("IOTDA.014219".into())),
        ]
    );
    let stopped_all: Vec<String> = results("stop_all")
        .into_iter()
        .map(|(t, s, _)| format!("{t}:{s}"))
        .collect();
    assert_eq!(
        stopped_all,
        ["dev-0001:success", "dev-0002:success", "dev-0003:success"]
    );
    assert_eq!(lines["wrong_sk"]["status"], 401);
    assert_eq!(lines["wrong_sk"]["error_code"], "APIGW.0301");

    // The emulator's final state.
    let state = |case: &str| -> TaskSnapshot {
        let id = CASES.iter().find(|(c, _)| *c == case).unwrap().1;
        emulator.task(PROJECT, id).unwrap()
    };
    for case in ["plain", "derived", "instance", "token"] {
        let t = state(case);
        assert_eq!(t.subtasks["dev-0001"], TaskDetailStatus::Stopped, "{case}");
        assert_eq!(t.subtasks["dev-0002"], TaskDetailStatus::Stopped, "{case}");
        assert_eq!(t.subtasks["dev-0003"], TaskDetailStatus::FailWaitRetry, "{case}");
        assert_eq!(t.status, TaskStatus::Processing, "{case}: dev-0003 still awaits retry");
    }
    let all = state("stop_all");
    assert_eq!(
        (all.status, all.count(TaskDetailStatus::Stopped)),
        (TaskStatus::Stopped, 3)
    );
    assert_eq!(
        state("wrong_sk").count(TaskDetailStatus::Stopped),
        0,
        "a refused request changed nothing"
    );
    println!("interop: {} cases by the official SDK, all as expected", lines.len());
    emulator.shutdown().await;
}

/// Runs `official_sdk_family.py` against an emulator serving the demo seed
/// and returns its records by case.
async fn run_family_script(emulator: &iotda_batchtask_emulator::EmulatorHandle) -> BTreeMap<String, Value> {
    let python = std::env::var("IOTDA_INTEROP_PYTHON")
        .expect("IOTDA_INTEROP_PYTHON must name the venv's python (bash emulator/tests/interop/setup.sh prints it)");
    let output = tokio::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/official_sdk_family.py"
        ))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IOTDA_EMULATOR_URL", emulator.base_url())
        .env("IOTDA_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_REGION", "cn-north-4")
        .env("IOTDA_AK", AK)
        .env("IOTDA_SK", SK)
        .env("IOTDA_TASK_RUNNING", DEMO_TASK_ID)
        .env("IOTDA_TASK_FINISHED", DEMO_FINISHED_TASK_ID)
        .env("IOTDA_TASK_CONFIRM", DEMO_CONFIRM_TASK_ID)
        .env("IOTDA_TASK_PARTIAL", DEMO_PARTIAL_TASK_ID)
        // The demo has three running tasks (the partial one runs again after
        // its retry, four); with the SDK's first create, five: five more reach
        // the limit of ten.
        .env("IOTDA_FILL", "5")
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), output)
        .await
        .expect("the SDK script finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["case"].as_str().unwrap().to_owned(), v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Huawei's official Python SDK: run `bash scripts/test.sh`, which installs it"]
async fn official_python_sdk_drives_list_retry_confirm_create_and_delete() {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK).region("cn-north-4"))
        .await
        .unwrap();
    let lines = run_family_script(&emulator).await;
    let line = |case: &str| -> &Value {
        lines
            .get(case)
            .unwrap_or_else(|| panic!("no record for {case}: {lines:?}"))
    };
    let status = |case: &str| line(case)["status"].as_u64();
    let per_target = |case: &str| -> Vec<(String, String, Option<String>)> {
        assert_eq!(status(case), Some(200), "{case}: {}", line(case));
        line(case)["sdk"]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["target"].as_str().unwrap().to_owned(),
                    t["status"].as_str().unwrap().to_owned(),
                    t["error_code"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let ok = |t: &str| (t.to_owned(), "success".to_owned(), None);
    let refused = |case: &str, http: u64, code: &str| {
        assert_eq!(
            (status(case), line(case)["error_code"].as_str()),
            (Some(http), Some(code)),
            "{case}: {}",
            line(case)
        );
        assert!(
            line(case)["request_id"].as_str().is_some_and(|id| id.len() == 32),
            "{case}"
        );
    };
    let state = |task: &str| emulator.task(DEMO_PROJECT_ID, task);

    // ListBatchTasks: newest first, two pages by the SDK's marker, a status filter.
    let ids = |case: &str| -> Vec<String> {
        assert_eq!(status(case), Some(200), "{case}: {}", line(case));
        line(case)["sdk"]["batchtasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["task_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("list_page1"), [DEMO_PARTIAL_TASK_ID, DEMO_CONFIRM_TASK_ID]);
    assert_eq!(line("list_page1")["sdk"]["page"]["count"], 3);
    assert_eq!(line("list_page1")["sdk"]["batchtasks"][1]["need_confirm"], true);
    assert_eq!(ids("list_page2"), [DEMO_TASK_ID]);
    assert!(
        line("list_page2")["sent"]["url"].as_str().unwrap().contains("marker="),
        "the SDK sent the marker"
    );
    assert_eq!(ids("list_status"), [DEMO_PARTIAL_TASK_ID]);

    // RetryBatchTask: per target, then everything left, then refused on a Success task.
    assert_eq!(
        per_target("retry_targets"),
        [
            ok("dev-0007"),
            ("dev-0001".into(), "failure".into(), Some("IOTDA.000006".into())),
            ("dev-9999".into(), "failure".into(), Some("IOTDA.014219".into())),
        ]
    );
    assert_eq!(line("retry_all")["sent"]["body"], "{}");
    assert_eq!(
        per_target("retry_all"),
        [ok("dev-0008"), ok("dev-0009"), ok("dev-0010")]
    );
    let partial = state(DEMO_PARTIAL_TASK_ID).unwrap();
    assert_eq!(
        (partial.status, partial.count(TaskDetailStatus::Processing)),
        (TaskStatus::Processing, 4)
    );
    refused("retry_success_task", 400, "IOTDA.000006");

    // ConfirmBatchTask: two, then the other eight; refused without need_confirm.
    assert_eq!(per_target("confirm_targets"), [ok("dev-0001"), ok("dev-0002")]);
    assert_eq!(per_target("confirm_all").len(), 8);
    assert_eq!(
        state(DEMO_CONFIRM_TASK_ID).unwrap().count(TaskDetailStatus::Processing),
        10
    );
    refused("confirm_not_need_confirm", 400, "IOTDA.000006");

    // CreateBatchTask: 201 with the new task, as the SDK parses it.
    assert_eq!(status("create"), Some(201), "{}", line("create"));
    let created = &line("create")["sdk"];
    let id = created["task_id"].as_str().unwrap();
    assert_eq!(created["task_name"], "SdkFirmwareUpgrade");
    assert_eq!(created["need_confirm"], true);
    assert_eq!(created["task_policy"]["retry_count"], 3);
    assert_eq!(created["task_progress"]["waitting"], 2);
    let task = state(id).unwrap();
    assert_eq!(task.task_name, "SdkFirmwareUpgrade");
    assert_eq!(task.count(TaskDetailStatus::Waitting), 2);
    for n in 0..5 {
        assert_eq!(status(&format!("create_fill_{n}")), Some(201), "{n}");
    }
    // The eleventh running task, and an invalid name.
    refused("create_over_limit", 403, "IOTDA.014206");
    refused("create_invalid", 400, "IOTDA.000006");
    // Five demo tasks, six created, one deleted below: refused creates created nothing.
    assert_eq!(emulator.snapshot().tasks().len(), 5 + 6 - 1);

    // DeleteBatchTask: refused while running, 204 when finished, then 404.
    refused("delete_running", 403, "IOTDA.014221");
    assert!(state(DEMO_TASK_ID).is_some());
    assert_eq!(status("delete_finished"), Some(204), "{}", line("delete_finished"));
    assert!(state(DEMO_FINISHED_TASK_ID).is_none());
    refused("delete_again", 404, "IOTDA.014200");

    // Every call was signed by the SDK and accepted by the gateway check.
    let journal = emulator.journal();
    assert_eq!(journal.len(), lines.len());
    assert!(journal.iter().all(|e| e.status_code() != Some(401)));
    for operation in [
        Operation::ListBatchTasks,
        Operation::RetryBatchTask,
        Operation::ConfirmBatchTask,
        Operation::CreateBatchTask,
        Operation::DeleteBatchTask,
    ] {
        assert!(journal.matching(operation).count() > 0, "{operation}");
    }
    emulator.shutdown().await;
}

/// The official SDK and this crate, given the same configuration (a
/// credentials file, an IAM endpoint and a region endpoint override, all
/// through variables), find the same project and are both accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Huawei's official Python SDK: run `bash scripts/test.sh`, which installs it"]
async fn official_python_sdk_and_this_crate_share_a_configuration() {
    use iotda_batchtask::Client;
    use iotda_batchtask::config::{CredentialChain, Env};

    let python = std::env::var("IOTDA_INTEROP_PYTHON")
        .expect("IOTDA_INTEROP_PYTHON must name the venv's python (bash emulator/tests/interop/setup.sh prints it)");
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK).region("cn-north-4"))
        .await
        .unwrap();
    let url = emulator.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, format!("[basic]\nak = {AK}\nsk = {SK}\n")).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let vars = [
        ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file.as_str()),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", url.as_str()),
        ("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4", url.as_str()),
    ];

    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/official_sdk_config.py"
    ))
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("HOME", dir.path())
    .env("IOTDA_REGION", "cn-north-4")
    .env("IOTDA_TASK", iotda_batchtask_emulator::DEMO_TASK_ID)
    .env("IOTDA_TARGET", "dev-0001")
    .envs(vars);
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("the SDK script finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the script failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let python: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        python["project_id"],
        iotda_batchtask_emulator::DEMO_PROJECT_ID,
        "{python}"
    );
    assert_eq!(python["status"], 200, "{python}");
    assert_eq!(python["targets"][0]["status"], "success", "{python}");

    // This crate, the same variables and nothing else.
    let env = Env::from_vars(vars);
    let client = Client::for_region("cn-north-4")
        .credentials_provider(CredentialChain::new(&env).unwrap())
        .env(env)
        .build_async()
        .await
        .unwrap();
    assert_eq!(client.project_id(), python["project_id"]);
    let report = client
        .stop_batch_task(iotda_batchtask_emulator::DEMO_TASK_ID)
        .targets(["dev-0002"])
        .send()
        .await
        .unwrap();
    assert!(report.all_succeeded(), "{report:?}");

    // Both asked IAM and both stopped, each request accepted.
    let journal = emulator.journal();
    let stops: Vec<_> = journal.stops_of(iotda_batchtask_emulator::DEMO_TASK_ID).collect();
    assert_eq!(stops.len(), 2);
    assert!(stops.iter().all(|s| s.status_code() == Some(200)), "{stops:?}");
}

/// Issue 23: the official SDK reads a task whose sub-tasks move by
/// themselves (a progression on real time, 20 devices dispatched 10 ms
/// apart, each running 100 ms, dev-0005 and dev-0013 failing) until it has
/// finished, then its failed sub-tasks by `task_detail_status`. Every read is
/// parsed by the SDK unchanged, its counters add up, success only grows, and
/// the last read is the emulator's final state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Huawei's official Python SDK: run `bash scripts/test.sh`, which installs it"]
async fn official_python_sdk_reads_a_moving_task() {
    use iotda_batchtask_emulator::{Progression, Selection};
    use std::time::Duration;

    let python = std::env::var("IOTDA_INTEROP_PYTHON")
        .expect("IOTDA_INTEROP_PYTHON must name the venv's python (bash emulator/tests/interop/setup.sh prints it)");
    const MOVING: &str = "aaaaaaaaaaaaaaaaaaaaaa10";
    let subtasks: BTreeMap<String, TaskDetailStatus> = (1..=20)
        .map(|i| (format!("dev-{i:04}"), TaskDetailStatus::Waitting))
        .collect();
    let task = SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: MOVING.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks,
    };
    let progression = Progression::new(Duration::from_millis(100))
        .dispatch_every(Duration::from_millis(10))
        .fail(Selection::devices(["dev-0005", "dev-0013"]));
    let seed = Seed::new(vec![task])
        .unwrap()
        .with_progression(PROJECT, MOVING, progression)
        .unwrap();
    // The clock moves only after each read the SDK makes (time scale 0), so
    // the first read sees the rollout before it starts, whatever the
    // interpreter's start-up time, and later reads see it move.
    let emulator = std::sync::Arc::new(
        Emulator::start(
            EmulatorConfig::new()
                .seed(seed)
                .ak_sk(AK, SK)
                .region("cn-north-4")
                .time_scale(0.0),
        )
        .await
        .unwrap(),
    );
    let clock = {
        let emulator = std::sync::Arc::clone(&emulator);
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let reads = emulator.journal().of(Operation::ShowBatchTask, MOVING).count();
                if reads > seen {
                    seen = reads;
                    emulator.advance_time(Duration::from_millis(30));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/official_sdk_progress.py"
    ))
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("IOTDA_EMULATOR_URL", emulator.base_url())
    .env("IOTDA_PROJECT_ID", PROJECT)
    .env("IOTDA_REGION", "cn-north-4")
    .env("IOTDA_AK", AK)
    .env("IOTDA_SK", SK)
    .env("IOTDA_TASK_MOVING", MOVING);
    let output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the SDK script finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    clock.abort();
    let records: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (failed, reads) = records.split_last().expect("at least a read and the failed query");
    // Read before it started, then while it moved.
    assert_eq!(reads[0]["task_progress"]["waitting"], 20, "{}", reads[0]);
    assert!(
        reads
            .iter()
            .any(|r| r["task_progress"]["processing"].as_i64() > Some(0)),
        "{stdout}"
    );
    let mut last_success = 0;
    for read in reads {
        assert_eq!(read["case"], "read");
        assert_eq!(read["status"], 200, "{read}");
        let progress = &read["task_progress"];
        let sum: i64 = [
            "waitting",
            "processing",
            "success",
            "fail",
            "fail_wait_retry",
            "stopped",
        ]
        .iter()
        .map(|k| progress[k].as_i64().unwrap_or(0))
        .sum();
        assert_eq!(progress["total"], 20, "{read}");
        assert_eq!(sum, 20, "{read}");
        let success = progress["success"].as_i64().unwrap();
        assert!(success >= last_success, "success only grows: {read}");
        last_success = success;
        let running = ["waitting", "processing"]
            .iter()
            .any(|k| progress[k].as_i64() > Some(0));
        assert_eq!(read["task_status"] == "Processing", running, "{read}");
    }
    let last = reads.last().expect("a read");
    assert_eq!(last["task_status"], "PartialSuccess", "{last}");
    assert_eq!(
        (&last["task_progress"]["success"], &last["task_progress"]["fail"]),
        (&18.into(), &2.into())
    );
    assert_eq!(failed["case"], "failed");
    let failed_devices: Vec<&str> = failed["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["target"].as_str().unwrap())
        .collect();
    assert_eq!(failed_devices, ["dev-0013", "dev-0005"], "newest record first");
    let snapshot = emulator.task(PROJECT, MOVING).unwrap();
    assert_eq!(snapshot.status, TaskStatus::PartialSuccess);
    assert_eq!(snapshot.count(TaskDetailStatus::Fail), 2);
}
