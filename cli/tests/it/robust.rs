//! The report survives its surroundings: a closed stdout or stderr, SIGINT
//! and SIGTERM, absurd option values, hostile server text, a log read by a
//! program; and `--help` says what the commands really do.

use crate::commands::signal;
use crate::common::*;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use iotda_batchtask::MAX_PAGE_SIZE;
use iotda_batchtask::types::TaskDetailStatus;
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, Seed};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The documented exit codes this module checks.
const CLOSED: i32 = 141;
const INTERRUPTED: i32 = 130;
const TERMINATED: i32 = 143;

/// The binary with a clean environment and nothing on stdin.
fn bin() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"));
    cmd.env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .stdin(Stdio::null());
    cmd
}

/// `show` of `task` at `endpoint` with token auth.
fn show_at(endpoint: &str, project: &str, task: &str) -> Command {
    let mut cmd = bin();
    cmd.env("IOTDA_AUTH_TOKEN", TOKEN).args([
        "show",
        "--endpoint",
        endpoint,
        "--project-id",
        project,
        "--task-id",
        task,
    ]);
    cmd
}

fn demo_emulator() -> Running {
    start(EmulatorConfig::new().seed(Seed::demo()).token(TOKEN))
}

fn show_demo(emulator: &Running) -> Command {
    show_at(&emulator.handle.base_url(), DEMO_PROJECT_ID, DEMO_TASK_ID)
}

/// Runs `cmd` to the end, within a generous bound (a hung child is killed
/// and fails the test rather than hanging it).
fn run(mut cmd: Command) -> Output {
    let child = cmd.spawn().expect("spawn iotda-batchtask");
    wait_bounded(child)
}

fn wait_bounded(mut child: std::process::Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("iotda-batchtask did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// A pipe whose read end is already closed: every write to it fails with
/// EPIPE, from the first byte, whatever the timing.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(out: &Output) {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn a_closed_stdout_ends_the_command_quietly_with_141() {
    let emulator = demo_emulator();
    for format in ["table", "json"] {
        let mut cmd = show_demo(&emulator);
        cmd.args(["--output", format])
            .stdout(closed_pipe())
            .stderr(Stdio::piped());
        let out = run(cmd);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(CLOSED), "{format}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "quiet: {}", text(&out.stderr));
    }
    // The help and the demo write to stdout too.
    for args in [&["show", "--help"][..], &["demo"]] {
        let mut cmd = bin();
        cmd.args(args).stdout(closed_pipe()).stderr(Stdio::piped());
        let out = run(cmd);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(CLOSED), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn a_closed_stderr_ends_an_error_report_quietly_with_141() {
    let emulator = demo_emulator();
    // An API error (401), a usage error of ours and one of clap's.
    let mut wrong_token = show_demo(&emulator);
    wrong_token.env("IOTDA_AUTH_TOKEN", "wrong-token");
    let mut mismatched_keys = bin();
    mismatched_keys.args(["emulator", "--ak", "A"]);
    let mut unknown_option = bin();
    unknown_option.args(["show", "--no-such-option"]);
    for mut cmd in [wrong_token, mismatched_keys, unknown_option] {
        let name = format!("{cmd:?}");
        cmd.stdout(Stdio::piped()).stderr(closed_pipe());
        let out = run(cmd);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(CLOSED), "{name}");
        assert!(out.stdout.is_empty(), "{name}: {}", text(&out.stdout));
    }
}

/// A server whose first page is full and whose second never comes (within
/// the test): `show` is mid-walk when the signal arrives.
fn stalled_second_page(runtime: &tokio::runtime::Runtime) -> MockServer {
    let details: Vec<Value> = (0..MAX_PAGE_SIZE)
        .map(|i| json!({"target": format!("dev-{i:04}"), "status": "Processing"}))
        .collect();
    let first = json!({
        "batchtask": {"task_id": TASK, "task_type": "firmwareUpgrade", "status": "Processing"},
        "task_details": details,
        "page": {"count": 1000, "marker": "5c90fa7d3c4e4405e8525079"},
    });
    runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(query_param_is_missing("marker"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("X-Request-Id", "first-page-request-id")
                    .set_body_json(first),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
            .mount(&server)
            .await;
        server
    })
}

#[test]
fn a_signal_during_show_prints_the_pages_fetched_so_far() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, code) in [("INT", INTERRUPTED), ("TERM", TERMINATED)] {
        let server = stalled_second_page(&runtime);
        let mut cmd = show_at(&server.uri(), PROJECT, TASK);
        cmd.args(["--output", "json", "--timeout", "3600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        // Wait (bounded) until the second page is asked for: the walk is
        // under way and the handlers are long installed.
        let deadline = Instant::now() + Duration::from_secs(60);
        while runtime.block_on(server.received_requests()).unwrap_or_default().len() < 2 {
            assert!(Instant::now() < deadline, "the second page was never requested");
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(&child, name);
        let out = wait_bounded(child);
        let stderr = text(&out.stderr);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(code), "SIG{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "interrupted (SIG{name}): showing the {MAX_PAGE_SIZE} sub-tasks fetched so far"
            )),
            "{stderr}"
        );
        let json: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
        assert_eq!(json["task_details"].as_array().unwrap().len(), MAX_PAGE_SIZE as usize);
        assert_eq!(json["request_ids"], json!(["first-page-request-id"]));
        assert_eq!(json["batchtask"]["task_id"], TASK);
    }
}

#[test]
fn show_lists_every_page_request_id() {
    let emulator = demo_emulator();
    let before = emulator.handle.request_count();
    let mut cmd = show_demo(&emulator);
    cmd.args(["--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = emulator.handle.request_count() - before;
    assert!(requests > 1, "the demo task takes several pages");
    let ids = json["request_ids"].as_array().unwrap();
    assert_eq!(ids.len() as u64, requests, "one request id per page: {ids:?}");
    assert_eq!(json["task_details"].as_array().unwrap().len(), 300);
}

#[test]
fn status_is_matched_in_any_case_and_counts_agree() {
    let emulator = demo_emulator();
    let mut cmd = show_demo(&emulator);
    cmd.args(["--status", "pRoCeSsInG", "--target", "dev-0001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run(cmd);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("dev-0001  Processing"), "{stdout}");
    assert!(stdout.ends_with("\n1 sub-task\n"), "singular: {stdout}");

    let mut cmd = show_demo(&emulator);
    cmd.args(["--status", "Runing"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run(cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Waitting"), "the error lists the statuses: {stderr}");
}

#[test]
fn duration_and_count_options_are_range_checked_while_parsing() {
    let emulator = demo_emulator();
    let cases: [(&[&str], &str); 9] = [
        (&["--timeout", "1e19"], "--timeout"),
        (&["--timeout", "86401"], "--timeout"),
        (&["--timeout", "inf"], "--timeout"),
        (&["--timeout", "NaN"], "--timeout"),
        (&["--timeout", "-1"], "--timeout"),
        (&["--timeout", "0"], "--timeout"),
        (&["--timeout", "1e-12"], "--timeout"),
        (&["--retries", "10"], "--retries"),
        (&["--retries", "-1"], "--retries"),
    ];
    for (args, option) in cases {
        let mut cmd = show_demo(&emulator);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run(cmd);
        let stderr = text(&out.stderr);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(option), "{args:?} names {option}: {stderr}");
    }
    assert_eq!(emulator.handle.request_count(), 0, "nothing was sent");

    let mut cmd = show_demo(&emulator);
    cmd.args(["--timeout", "86400", "--target", "dev-0001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "a day is allowed: {}", text(&out.stderr));
}

#[test]
fn server_text_is_escaped_in_tables_and_error_lines() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}txet";
    let page = json!({
        "batchtask": {"task_id": TASK, "task_type": hostile, "status": "Processing"},
        "task_details": [{
            "target": format!("dev-1\nFAKE-ROW{hostile}"),
            "status": hostile,
            "error": {"error_code": hostile, "error_msg": hostile},
        }],
    });
    let error = json!({"error_code": "IOTDA.000006", "error_msg": format!("no\nFAKE LINE{hostile}")});
    let (ok, failing) = runtime.block_on(async {
        let ok = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .mount(&ok)
            .await;
        let failing = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(400).set_body_json(error))
            .mount(&failing)
            .await;
        (ok, failing)
    });
    for server in [&ok, &failing] {
        let table = std::ptr::eq(server, &ok);
        let mut cmd = show_at(&server.uri(), PROJECT, TASK);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run(cmd);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        for raw in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!all.contains(raw), "{raw:?} reached the terminal: {all:?}");
        }
        assert!(!all.contains("\nFAKE"), "a forged line: {all}");
        if table {
            assert!(
                all.contains("dev-1\\nFAKE-ROW\\u{1b}]0;owned\\u{7}"),
                "escaped visibly: {all}"
            );
        }
        // The table escapes them visibly; the library's error text blanks
        // control and bidi characters before the CLI sees it.
        if table {
            assert!(all.contains("\\u{202e}"), "escaped visibly: {all}");
        }
    }
}

#[test]
fn logs_have_no_colour_unless_stderr_is_a_terminal() {
    let emulator = demo_emulator();
    let mut cmd = show_demo(&emulator);
    cmd.args(["-v", "--target", "dev-0001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run(cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("ShowBatchTask answered"), "the log is on: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escapes in a pipe: {stderr:?}");
}

#[test]
fn help_tells_the_truth() {
    let help = |args: &[&str]| {
        let mut cmd = bin();
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        text(&out.stdout)
    };
    let top = help(&["--help"]);
    let table = &top[top.find("Exit codes:").expect("top-level exit codes")..];
    for code in ["130", "141", "143"] {
        assert!(table.contains(&format!("\n  {code} ")), "{code}: {table}");
    }
    // The emulator has exit codes of its own (tests/it/help.rs).
    for command in ["stop", "show", "demo"] {
        let text = help(&[command, "--help"]);
        assert!(
            text.trim_end().ends_with(table.trim_end()),
            "{command}: the same exit codes: {text}"
        );
    }
    let show = help(&["show", "--help"]);
    for status in TaskDetailStatus::ALL {
        assert!(show.contains(status.as_str()), "{}: {show}", status.as_str());
    }
    assert!(
        show.contains("\"task_details\"") && show.contains("\"batchtask\""),
        "{show}"
    );
    assert!(!show.contains("\"targets\""), "stop's JSON shape: {show}");
    let stop = help(&["stop", "--help"]);
    for text in [&show, &stop] {
        assert!(text.contains("Options also come from the environment"), "{text}");
        assert!(
            text.contains("~/.huaweicloud/credentials") && text.contains("ECS metadata"),
            "{text}"
        );
    }
}
