//! The built `iotda-batchtask` binary against the emulator: auth modes,
//! selections, output shapes, every exit code, a 1,000-target bulk call, and
//! the `emulator` and `demo` commands themselves.

use crate::common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use common::*;
use iotda_batchtask_emulator::{
    DEMO_FINISHED_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, Seed, SeedTask, TaskDetailStatus, TaskStatus,
    TaskType,
};
use serde_json::Value;

fn demo_emulator() -> Running {
    start(EmulatorConfig::new().seed(Seed::demo()).ak_sk(AK, SK).token(TOKEN))
}

/// The binary with a clean environment: only what a test sets.
fn bin() -> Command {
    let mut cmd = Command::cargo_bin("iotda-batchtask").unwrap();
    // No test may reach a real metadata service: port 9 on loopback refuses.
    cmd.env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .timeout(Duration::from_secs(60));
    cmd
}

/// `stop` of `task` in `project` at `endpoint`, with nothing else set.
fn stop_at(endpoint: &str, project: &str, task: &str) -> Command {
    let mut cmd = bin();
    cmd.args([
        "stop",
        "--endpoint",
        endpoint,
        "--project-id",
        project,
        "--task-id",
        task,
    ]);
    cmd
}

/// `stop` of the demo task on `emulator`, with token auth.
fn stop(emulator: &Running) -> Command {
    let mut cmd = stop_at(&emulator.handle.base_url(), DEMO_PROJECT_ID, DEMO_TASK_ID);
    cmd.env("IOTDA_AUTH_TOKEN", TOKEN);
    cmd
}

fn stdout_json(output: &std::process::Output) -> Value {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on stdout, nothing else: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Sends `kill -<name>` to a child process.
pub(crate) fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

fn status_of(emulator: &Running, device: &str) -> TaskDetailStatus {
    emulator.handle.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().subtasks[device]
}

#[test]
fn each_auth_mode_stops_a_device() {
    let emulator = demo_emulator();
    let endpoint = emulator.handle.base_url();
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, Env, Vec<&str>); 4] = [
        ("dev-0001", vec![("IOTDA_AUTH_TOKEN", TOKEN)], vec![]),
        (
            "dev-0002",
            vec![("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)],
            vec!["--signing", "plain"],
        ),
        (
            "dev-0003",
            vec![
                ("CLOUD_SDK_AK", AK),
                ("CLOUD_SDK_SK", SK),
                ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
            ],
            vec![],
        ),
        (
            "dev-0004",
            vec![("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)],
            vec![
                "--signing",
                "derived",
                "--region",
                "cn-north-4",
                "--instance-id",
                INSTANCE,
            ],
        ),
    ];
    for (device, env, extra) in cases {
        let mut cmd = stop_at(&endpoint, DEMO_PROJECT_ID, DEMO_TASK_ID);
        cmd.args(["--target", device]).args(&extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{device}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("{device}  success")), "{stdout}");
        assert!(stdout.contains("1 of 1 target stopped"), "{stdout}");
        assert_eq!(status_of(&emulator, device), TaskDetailStatus::Stopped);
    }
}

#[test]
fn all_with_json_output() {
    let emulator = demo_emulator();
    let out = stop(&emulator).args(["--all", "--output", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json = stdout_json(&out);
    let object = json.as_object().unwrap();
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["duplicates_dropped", "request_ids", "targets"]
    );
    assert_eq!(json["request_ids"].as_array().unwrap().len(), 1);
    let targets = json["targets"].as_array().unwrap();
    assert!(targets.len() > 100);
    assert!(
        targets
            .iter()
            .all(|t| t["status"] == "success" && t["evidence"] == "answer" && t["target"].is_string())
    );
    let task = emulator.handle.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
    assert_eq!(task.status, TaskStatus::Stopped);
    assert_eq!(task.count(TaskDetailStatus::Stopped), targets.len());
}

#[test]
fn targets_file_and_stdin() {
    let emulator = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("devices.txt");
    std::fs::write(&file, "# canary ring\ndev-0001\n\ndev-0002   # flaky\r\ndev-0001\n").unwrap();
    let out = stop(&emulator)
        .args(["--targets-file", file.to_str().unwrap(), "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json = stdout_json(&out);
    let targets: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["dev-0001", "dev-0002"]);

    let out = stop(&emulator)
        .args(["--targets-file", "-"])
        .write_stdin("dev-0005\ndev-0006\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(status_of(&emulator, "dev-0005"), TaskDetailStatus::Stopped);
    assert_eq!(status_of(&emulator, "dev-0006"), TaskDetailStatus::Stopped);
}

#[test]
fn exit_3_when_some_targets_fail() {
    let emulator = demo_emulator();
    let out = stop(&emulator)
        .args(["--target", "dev-0001", "--target", "dev-9999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("dev-9999  failure  IOTDA.014219  Invalid input. The target is not in the task"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 of 2 targets stopped, 1 not stopped, 0 unknown, 0 not attempted (request id "),
        "{stdout}"
    );
}

#[test]
fn exit_1_on_api_and_transport_errors() {
    let emulator = demo_emulator();
    let out = stop_at(&emulator.handle.base_url(), DEMO_PROJECT_ID, DEMO_FINISHED_TASK_ID)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .arg("--all")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: HTTP 400 Bad Request: IOTDA.000006 "),
        "{stderr}"
    );
    assert!(stderr.contains("(request id "), "{stderr}");

    // A wrong token: 401 from the gateway.
    let out = stop(&emulator)
        .env("IOTDA_AUTH_TOKEN", "wrong-token")
        .args(["--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401 Unauthorized: APIGW.0301"));

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = stop_at(&format!("http://{closed}"), PROJECT, TASK)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(["--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: transport error after 3 attempt(s)"));
    let out = stop_at(&format!("http://{closed}"), PROJECT, TASK)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(["--all"])
        .args(["--retries", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: transport error after 1 attempt(s)"));
}

#[test]
fn exit_2_on_bad_usage_with_nothing_sent() {
    let emulator = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.txt");
    std::fs::write(&bad_file, "dev-1\ndev 2\n").unwrap();
    let bad_file = bad_file.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "--target"),                                           // no selection
        (vec!["--all", "--target", "dev-0001"], "cannot be used with"), // both
        (vec!["--target", "dev 1"], "invalid targets[0]"),
        (vec!["--target", ""], "invalid targets[0]"),
        (vec!["--targets-file", &bad_file], "invalid targets file line 2"),
        (
            vec!["--targets-file", "/nonexistent/devices.txt"],
            "invalid targets-file",
        ),
        (
            vec!["--all", "--instance-id", "NOT-VALID"],
            "invalid --instance-id or IOTDA_INSTANCE_ID",
        ),
        (vec!["--all", "--timeout", "0"], "for '--timeout <SECONDS>'"),
        (
            vec!["--target", "dev-0001", "--concurrency", "0"],
            "invalid concurrency",
        ),
        (vec!["--all", "--output", "xml"], "invalid value 'xml'"),
    ];
    for (args, expected) in cases {
        let out = stop(&emulator).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A bad task ID, no credentials, a remote http:// endpoint.
    let out = stop_at(&emulator.handle.base_url(), DEMO_PROJECT_ID, "XYZ")
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(["--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --task-id"));
    let out = stop_at(&emulator.handle.base_url(), DEMO_PROJECT_ID, DEMO_TASK_ID)
        .args(["--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for looked in [
        "no credentials found",
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
        "127.0.0.1:9",
    ] {
        assert!(stderr.contains(looked), "{looked}: {stderr}");
    }
    let out = stop_at("http://iotda.cn-north-4.myhuaweicloud.com", PROJECT, TASK)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(["--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --endpoint or IOTDA_ENDPOINT"));

    assert_eq!(emulator.handle.request_count(), 0, "no request reached the emulator");
}

#[test]
fn endpoint_and_ids_come_from_the_environment() {
    let emulator = demo_emulator();
    let out = bin()
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_INSTANCE_ID", INSTANCE)
        .args(["stop", "--task-id", DEMO_TASK_ID, "--target", "dev-0001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bulk_of_1000_targets() {
    let devices: Vec<String> = (0..1000).map(|i| format!("fleet-{i:04}")).collect();
    let task = SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: TASK.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks: devices
            .iter()
            .map(|d| (d.clone(), TaskDetailStatus::Processing))
            .collect(),
    };
    let emulator = start(EmulatorConfig::new().seed(Seed::new(vec![task]).unwrap()).ak_sk(AK, SK));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    let mut f = std::fs::File::create(&file).unwrap();
    for d in devices.iter().rev() {
        writeln!(f, "{d}").unwrap();
    }
    drop(f);
    let out = stop_at(&emulator.handle.base_url(), PROJECT, TASK)
        .env("HUAWEICLOUD_SDK_AK", AK)
        .env("HUAWEICLOUD_SDK_SK", SK)
        .args([
            "--region",
            "cn-north-4",
            "--targets-file",
            file.to_str().unwrap(),
            "--concurrency",
            "8",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json = stdout_json(&out);
    let targets: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = devices.iter().rev().map(String::as_str).collect();
    assert_eq!(targets, expected, "input order kept");
    assert_eq!(json["request_ids"].as_array().unwrap().len(), 10);
    let task = emulator.handle.task(PROJECT, TASK).unwrap();
    assert_eq!(task.count(TaskDetailStatus::Stopped), 1000);
    assert_eq!(task.status, TaskStatus::Stopped);
    // Ten stops, then the read that finds the task ended (and warns so).
    assert_eq!(emulator.handle.request_count(), 11);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be resumed"));
}

#[test]
fn emulator_command_prints_its_address_and_stops_on_sigterm() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--no-auth"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().strip_prefix("listening on ").unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");

    let out = stop_at(&url, DEMO_PROJECT_ID, DEMO_TASK_ID)
        .env("IOTDA_AUTH_TOKEN", "anything")
        .args(["--target", "dev-0001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    // SIGTERM: the emulator must shut down cleanly and exit 0.
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn emulator_command_warns_when_open_to_the_network_without_auth() {
    // Loopback, so nothing is exposed; the warning is about the flags.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--allow-non-loopback",
            "--no-auth",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Printed before listening, so it is there once the address is.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("listening on http://127.0.0.1:"), "{first}");
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_else(|| panic!("a warning line: {stderr}"));
    assert!(
        warning.contains("--allow-non-loopback") && warning.contains("--no-auth"),
        "{warning}"
    );
    assert_eq!(status.code(), Some(0));

    // Either flag alone is not worth the warning.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--no-auth"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    signal(&child, "TERM");
    child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("--allow-non-loopback"), "{stderr}");
}

#[test]
fn emulator_command_refusals() {
    let out = bin()
        .args(["emulator", "--listen", "0.0.0.0:0", "--no-auth"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));

    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"tasks": [{"project_id": "0123456789abcdef0123456789abcdef", "task_id": "61a5f4cbd86b7a1d1c2f3e4a",
            "task_type": "firmwareUpgrade", "status": "Processing", "subtasks": {"dev-0001": "Runing"}}]}"#,
    )
    .unwrap();
    let out = bin()
        .args(["emulator", "--seed", seed.to_str().unwrap(), "--no-auth"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dev-0001") && stderr.contains("Runing"), "{stderr}");
    assert_eq!(
        stderr.matches(seed.to_str().unwrap()).count(),
        1,
        "the file named once: {stderr}"
    );

    let out = bin().args(["emulator", "--ak", "A"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_runs_end_to_end() {
    let out = bin().output_with(&["demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "$ iotda-batchtask list --task-type firmwareUpgrade",
        "3 tasks",
        "IOTDA.014219",
        "progress: 3/3 requests",
        "Stopped",
        "credentials from ECS metadata",
        "project 0123456789abcdef0123456789abcdef found with IAM",
        "Stopped 214",
        "214 of 214 targets retried",
        "Processing 232",
        // Scene 7: the guard stops a bad firmware's rollout by itself.
        "failed>=10% tripped after",
        "the task was stopped (exit code 7)",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
}

#[test]
fn help_documents_exit_codes_and_env() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes:") && help.contains("130"), "{help}");
    let out = bin().args(["stop", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for env in [
        "IOTDA_ENDPOINT",
        "HUAWEICLOUD_SDK_PROJECT_ID",
        "IOTDA_INSTANCE_ID",
        "HUAWEICLOUD_SDK_REGION",
        "IOTDA_AUTH_TOKEN",
    ] {
        assert!(help.contains(env), "{env}: {help}");
    }
}

trait OutputWith {
    fn output_with(&mut self, args: &[&str]) -> std::process::Output;
}

impl OutputWith for Command {
    fn output_with(&mut self, args: &[&str]) -> std::process::Output {
        self.args(args).output().unwrap()
    }
}

#[test]
fn show_lists_what_a_stop_did() {
    let emulator = demo_emulator();
    let out = stop(&emulator)
        .args(["--target", "dev-0001", "--target", "dev-0002"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let show = |extra: &[&str]| {
        bin()
            .env("IOTDA_AUTH_TOKEN", TOKEN)
            .args([
                "show",
                "--endpoint",
                &emulator.handle.base_url(),
                "--project-id",
                DEMO_PROJECT_ID,
            ])
            .args(["--task-id", DEMO_TASK_ID])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = show(&["--status", "Stopped"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("task 61a5f4cbd86b7a1d1c2f3e4a (firmwareUpgrade, Processing)\nprogress: total 300,"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dev-0001  Stopped") && stdout.contains("dev-0002  Stopped"),
        "{stdout}"
    );
    assert!(stdout.ends_with("2 sub-tasks\n"), "{stdout}");

    let out = show(&["--output", "json"]);
    let json = stdout_json(&out);
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["batchtask", "request_ids", "task_details"]
    );
    assert_eq!(
        json["task_details"].as_array().unwrap().len(),
        300,
        "every page followed"
    );
    assert_eq!(json["batchtask"]["task_progress"]["stopped"], 2);

    let out = show(&["--status", "Runing"]);
    assert_eq!(out.status.code(), Some(2));
    let out = show(&["--target", "dev 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --target"));
}

/// A bulk stop of 1,000 devices, one request at a time, against a server
/// that answers each request after `delay`: the runtime serving it, the
/// server, the devices, and the running CLI (JSON on stdout).
fn slow_bulk(
    delay: Duration,
) -> (
    tokio::runtime::Runtime,
    wiremock::MockServer,
    Vec<String>,
    std::process::Child,
) {
    use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers::method};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        let echo = move |request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let results: Vec<Value> = body["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| serde_json::json!({"target": t, "status": "success"}))
                .collect();
            ResponseTemplate::new(200)
                .set_delay(delay)
                .set_body_json(serde_json::json!({ "targets": results }))
        };
        Mock::given(method("POST")).respond_with(echo).mount(&server).await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    let devices: Vec<String> = (0..1000).map(|i| format!("dev-{i:04}")).collect();
    std::fs::write(&file, devices.join("\n")).unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .env_clear()
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args([
            "stop",
            "--endpoint",
            &server.uri(),
            "--project-id",
            PROJECT,
            "--task-id",
            TASK,
        ])
        .args([
            "--targets-file",
            file.to_str().unwrap(),
            "--concurrency",
            "1",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The file is read at start-up; the directory may go once the tool runs.
    std::thread::sleep(Duration::from_millis(300));
    drop(dir);
    (runtime, server, devices, child)
}

/// The report's statuses, by status name.
fn statuses(json: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for t in json["targets"].as_array().unwrap() {
        *counts.entry(t["status"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Ctrl-C during a bulk stop: no new request is sent, those in flight
/// finish, every target is reported once, the unsent ones `not_attempted`,
/// and the exit code is 130.
#[test]
fn ctrl_c_stops_issuing_and_reports_every_target() {
    let (runtime, server, devices, child) = slow_bulk(Duration::from_millis(400));
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted (SIGINT): sending no more requests"),
        "{stderr}"
    );
    let json = stdout_json(&out);
    let results = json["targets"].as_array().unwrap();
    let targets: Vec<&str> = results.iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(targets, devices, "every target exactly once, in order");
    let sent = runtime.block_on(server.received_requests()).unwrap().len();
    assert!((1..10).contains(&sent), "{sent} requests sent before and during Ctrl-C");
    let stopped = results.iter().filter(|t| t["status"] == "success").count();
    let not_attempted = results.iter().filter(|t| t["status"] == "not_attempted").count();
    assert_eq!((stopped, not_attempted), (sent * 100, 1000 - sent * 100));
}

/// SIGTERM (`timeout`, CI cancellation, systemd, Kubernetes) is handled like
/// Ctrl-C: the full report, exit 143.
#[test]
fn sigterm_mid_bulk_prints_the_report_and_exits_143() {
    let (runtime, server, devices, child) = slow_bulk(Duration::from_millis(400));
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted (SIGTERM)"), "{stderr}");
    let json = stdout_json(&out);
    let targets: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, devices, "every target exactly once, in order");
    let sent = runtime.block_on(server.received_requests()).unwrap().len();
    let counts = statuses(&json);
    assert_eq!(counts.get("success"), Some(&(sent * 100)), "{counts:?}");
    assert_eq!(counts.get("not_attempted"), Some(&(1000 - sent * 100)), "{counts:?}");
}

/// A second signal while a request is still in flight: the report is still
/// printed, that request's targets `unknown` (it may have been processed).
#[test]
fn a_second_signal_still_prints_the_report_with_in_flight_targets_unknown() {
    // Each answer takes 5 s, so the first request is in flight throughout.
    let (runtime, server, devices, child) = slow_bulk(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let json = stdout_json(&out);
    assert_eq!(json["targets"].as_array().unwrap().len(), devices.len());
    let counts = statuses(&json);
    assert_eq!(counts.get("unknown"), Some(&100), "{counts:?}");
    assert_eq!(counts.get("not_attempted"), Some(&900), "{counts:?}");
    assert_eq!(runtime.block_on(server.received_requests()).unwrap().len(), 1);
}

/// The same bulk stop (3,000 devices, 200 repeats, 50 unknown IDs) on fresh
/// identical tasks ends with the same exit code and the same counts every
/// time: the code is a function of the outcomes alone.
#[test]
fn the_same_bulk_stop_gives_the_same_exit_code_every_run() {
    let devices: Vec<String> = (0..3000).map(|i| format!("fleet-{i:05}")).collect();
    let mut targets = devices.clone();
    targets.extend(devices.iter().step_by(15).take(200).cloned());
    targets.extend((0..50).map(|i| format!("unknown-{i:03}")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    std::fs::write(&file, targets.join("\n")).unwrap();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let task = SeedTask {
            project_id: DEMO_PROJECT_ID.to_owned(),
            task_id: DEMO_TASK_ID.to_owned(),
            task_type: TaskType::FirmwareUpgrade,
            status: TaskStatus::Processing,
            subtasks: devices
                .iter()
                .map(|d| (d.clone(), TaskDetailStatus::Processing))
                .collect(),
        };
        let emulator = start(EmulatorConfig::new().seed(Seed::new(vec![task]).unwrap()).token(TOKEN));
        let out = stop(&emulator)
            .args([
                "--targets-file",
                file.to_str().unwrap(),
                "--concurrency",
                "4",
                "--output",
                "json",
            ])
            .output()
            .unwrap();
        let json = stdout_json(&out);
        assert_eq!(
            json["targets"].as_array().unwrap().len(),
            3050,
            "every distinct target once"
        );
        assert_eq!(json["duplicates_dropped"], 200);
        let stopped = emulator
            .handle
            .task(DEMO_PROJECT_ID, DEMO_TASK_ID)
            .unwrap()
            .count(TaskDetailStatus::Stopped);
        assert_eq!(
            statuses(&json).get("success"),
            Some(&stopped),
            "success is what the emulator stopped"
        );
        runs.push((out.status.code(), statuses(&json)));
    }
    assert!(runs.iter().all(|r| *r == runs[0]), "{runs:#?}");
    assert_eq!(runs[0].0, Some(3), "some targets (the unknown IDs) were not stopped");
}

/// The CLI through the fault-injecting proxy: the emulator stops the
/// devices, the proxy turns each stop's answer into a 503 or a reset. The
/// report says stopped, known by a read, and exit 0; with reads off, unknown
/// and exit 4; never failed.
#[test]
fn a_lost_answer_is_reported_from_a_read_through_the_cli() {
    use crate::fault_proxy::{Fault, Plan, proxy};

    for (fault, reconcile, expected_status, expected_exit) in [
        (Fault::ServiceUnavailableAfter, true, "success", 0),
        (Fault::ResetAfter, true, "success", 0),
        (Fault::ServiceUnavailableAfter, false, "unknown", 4),
    ] {
        let emulator = demo_emulator();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let endpoint = runtime.block_on(proxy(
            emulator.handle.addr(),
            std::sync::Arc::new(Plan::new(fault, usize::MAX)),
        ));
        let mut cmd = stop_at(&endpoint, DEMO_PROJECT_ID, DEMO_TASK_ID);
        cmd.env("IOTDA_AUTH_TOKEN", TOKEN).args([
            "--target",
            "dev-0001",
            "--target",
            "dev-0002",
            "--output",
            "json",
            "--retries",
            "0",
        ]);
        if !reconcile {
            cmd.arg("--no-reconcile");
        }
        let out = cmd.output().unwrap();
        let json = stdout_json(&out);
        let case = format!("{fault:?} reconcile={reconcile}: {json}");
        assert_eq!(out.status.code(), Some(expected_exit), "{case}");
        for t in json["targets"].as_array().unwrap() {
            assert_eq!(t["status"], expected_status, "{case}");
            if reconcile {
                assert_eq!(t["evidence"], "read", "{case}");
            }
        }
        assert_eq!(status_of(&emulator, "dev-0001"), TaskDetailStatus::Stopped, "{case}");
    }
}
