//! `iotda-batchtask watch` against servers on 127.0.0.1 (wiremock) that
//! script a task's progression read by read: the exit code of each ending,
//! the JSON Lines schema, hanging devices, bad input refused before any
//! request, and a SIGTERM that ends the watch without stopping the task.

use crate::common::{PROJECT, TASK, TOKEN};

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TASKS_PATH: &str = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks";

fn task_path() -> String {
    format!("{TASKS_PATH}/{TASK}")
}

fn task(status: &str, success: i64, fail: i64) -> Value {
    json!({
        "batchtask": {
            "task_id": TASK, "task_type": "firmwareUpgrade", "status": status,
            "task_progress": {
                "total": 100, "processing": 100 - success - fail, "success": success, "fail": fail,
                "waitting": 0, "fail_wait_retry": 0, "stopped": 0, "removed": 0
            }
        },
        "task_details": [],
        "page": {"count": 0}
    })
}

fn ok(body: Value, request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(body)
        .insert_header("X-Request-Id", request_id)
}

fn lost() -> ResponseTemplate {
    ResponseTemplate::new(500).set_body_json(json!({"error_code": "IOTDA.000000", "error_msg": "internal"}))
}

/// Reads refused after the trip (a permission withdrawn): no read can settle the stop.
fn denied() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(json!({"error_code": "IOTDA.000022", "error_msg": "denied"}))
}

/// A runtime for the mock server (wiremock serves from its own thread).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A server answering the task's reads in order (the last over and over)
/// and every stop with `stop`.
fn server(rt: &tokio::runtime::Runtime, reads: Vec<ResponseTemplate>, stop: Option<ResponseTemplate>) -> MockServer {
    rt.block_on(async {
        let server = MockServer::start().await;
        let next = AtomicUsize::new(0);
        Mock::given(method("GET"))
            .and(path(task_path()))
            .respond_with(move |_: &Request| {
                let i = next.fetch_add(1, Ordering::SeqCst);
                reads[i.min(reads.len() - 1)].clone()
            })
            .mount(&server)
            .await;
        if let Some(stop) = stop {
            Mock::given(method("POST"))
                .and(path(format!("{TASKS_PATH}/{TASK}/stop")))
                .respond_with(stop)
                .mount(&server)
                .await;
        }
        server
    })
}

fn command(server: &MockServer, args: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"));
    command
        .env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args([
            "watch",
            "--endpoint",
            &server.uri(),
            "--project-id",
            PROJECT,
            "--task-id",
            TASK,
        ])
        .args(["--interval", "0.01"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn watch(server: &MockServer, args: &[&str]) -> Output {
    command(server, args).output().expect("run iotda-batchtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn posts(rt: &tokio::runtime::Runtime, server: &MockServer) -> Vec<Value> {
    rt.block_on(server.received_requests())
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[test]
fn a_tripped_guard_stops_the_task_exits_7_and_writes_one_json_object_per_event() {
    let rt = runtime();
    let server = server(
        &rt,
        vec![
            ok(task("Processing", 20, 0), "rid-1"),
            ok(task("Processing", 38, 2), "rid-2"),
            ok(task("Stopped", 38, 2), "rid-3"),
        ],
        Some(ok(json!({"targets": []}), "rid-stop")),
    );
    let out = watch(
        &server,
        &[
            "--abort-if",
            "failed>=5%",
            "--abort-if",
            "failed>=20",
            "--min-finished",
            "20",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(posts(&rt, &server), [json!({})]);
    let lines = lines(&out);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        ["progress", "progress", "tripped", "stop", "progress", "summary"]
    );
    let progress = &lines[0];
    assert_eq!(progress["status"], "Processing");
    assert_eq!(progress["request_id"], "rid-1");
    for counter in [
        "total",
        "processing",
        "success",
        "fail",
        "waitting",
        "fail_wait_retry",
        "stopped",
        "removed",
    ] {
        assert!(progress["task_progress"][counter].is_i64(), "{counter}: {progress}");
    }
    assert_eq!(progress["tally"], json!({"failed": 0, "finished": 20}));
    assert!(
        progress["at"].is_string() && progress["elapsed_seconds"].is_f64(),
        "{progress}"
    );
    assert_eq!(lines[2]["criterion"], "failed>=5%");
    assert_eq!(lines[2]["task_progress"]["fail"], 2);
    assert_eq!(lines[3]["all"], true);
    assert_eq!(lines[3]["request_ids"], json!(["rid-stop"]));
    let summary = &lines[5];
    assert_eq!(summary["outcome"], "tripped");
    assert_eq!(summary["stop"], "stopped");
    assert_eq!(summary["tripped"], "failed>=5%");
    assert_eq!(summary["task_stopped"], true);
    assert_eq!(summary["task_status"], "Stopped");
    assert_eq!(summary["task_progress_at_trip"]["fail"], 2);
    assert_eq!(summary["stop_request_ids"], json!(["rid-stop"]));
    assert_eq!(summary["exit_code"], 7);
}

/// A name, the reads, the stop's answer, the flags, the exit code, and what the output says.
type Case = (
    &'static str,
    Vec<ResponseTemplate>,
    Option<ResponseTemplate>,
    &'static [&'static str],
    i32,
    &'static str,
);

#[test]
fn each_ending_has_its_exit_code_and_says_what_happened() {
    let refused = ResponseTemplate::new(400)
        .set_body_json(json!({"error_code": "IOTDA.000006", "error_msg": "the task has finished"}));
    let cases: Vec<Case> = vec![
        (
            "all success",
            vec![ok(task("Processing", 50, 0), "r"), ok(task("Success", 100, 0), "r")],
            None,
            &["--abort-if", "failed>=1"],
            0,
            "finished Success",
        ),
        (
            "one below the count",
            vec![
                ok(task("Processing", 50, 2), "r"),
                ok(task("PartialSuccess", 98, 2), "r"),
            ],
            None,
            &["--abort-if", "failed>=3"],
            3,
            "finished PartialSuccess",
        ),
        (
            "watch timeout",
            vec![ok(task("Processing", 1, 0), "r")],
            None,
            &["--watch-timeout", "0.2"],
            6,
            "nothing was stopped",
        ),
        (
            "trip racing completion",
            vec![
                ok(task("Processing", 90, 10), "r"),
                ok(task("PartialSuccess", 90, 10), "r"),
            ],
            Some(refused),
            &["--abort-if", "failed>=10"],
            3,
            "already finished (PartialSuccess)",
        ),
        (
            "stop answer lost, no read settles it",
            vec![ok(task("Processing", 10, 10), "r"), denied()],
            Some(lost()),
            &["--abort-if", "failed>=10"],
            4,
            "outcome is unknown",
        ),
        (
            "stop answer lost, settled by reading",
            vec![
                ok(task("Processing", 10, 10), "r"),
                ok(task("Stopping", 10, 10), "r"),
                ok(task("Stopped", 10, 10), "r"),
            ],
            Some(lost()),
            &["--abort-if", "failed>=10"],
            7,
            "STOPPED",
        ),
    ];
    for (case, reads, stop, args, code, says) in cases {
        let rt = runtime();
        let server = server(&rt, reads, stop);
        let out = watch(&server, args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{case}: {all}");
        assert!(all.contains(says), "{case}: {all}");
        assert!(posts(&rt, &server).len() <= 1, "{case}: never resent");
    }
}

#[test]
fn a_failed_read_mid_watch_sends_no_stop() {
    let rt = runtime();
    let server = server(
        &rt,
        vec![
            ok(task("Processing", 10, 0), "r"),
            lost(),
            ok(task("Processing", 20, 0), "r"),
            ok(task("Success", 100, 0), "r"),
        ],
        Some(ok(json!({"targets": []}), "rid-stop")),
    );
    let out = watch(&server, &["--abort-if", "failed>=1", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(posts(&rt, &server).is_empty());
    let summary = lines(&out).pop().unwrap();
    assert_eq!(summary["outcome"], "finished");
    assert_eq!(summary["read_failures"], 1);
}

#[test]
fn hanging_devices_are_stopped_by_name_and_reported_timed_out() {
    let rt = runtime();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = stopped.clone();
        Mock::given(method("GET"))
            .and(path(task_path()))
            .and(query_param("task_detail_status", "Processing"))
            .respond_with(move |_: &Request| {
                if seen.load(Ordering::SeqCst) {
                    return ok(task("PartialSuccess", 99, 0), "rid-end");
                }
                let mut body = task("Processing", 0, 0);
                body["task_details"] = json!([{"target": "dev-1", "status": "Processing"}]);
                ok(body, "rid-poll")
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("{TASKS_PATH}/{TASK}/stop")))
            .respond_with(move |_: &Request| {
                stopped.store(true, Ordering::SeqCst);
                ok(
                    json!({"targets": [{"target": "dev-1", "status": "success"}]}),
                    "rid-stuck",
                )
            })
            .mount(&server)
            .await;
        server
    });
    let out = watch(&server, &["--stuck-after", "0.05", "--output", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(posts(&rt, &server), [json!({"targets": ["dev-1"]})]);
    let lines = lines(&out);
    let stuck = lines.iter().find(|l| l["event"] == "stuck").expect("a stuck event");
    assert_eq!(stuck["devices"], json!(["dev-1"]));
    assert_eq!(stuck["targets"][0]["status"], "success");
    assert_eq!(stuck["request_ids"], json!(["rid-stuck"]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["timed_out_devices"], json!(["dev-1"]));
    assert_eq!(summary["task_stopped"], false);
}

#[test]
fn bad_input_exits_2_naming_the_flag_before_any_request() {
    let rt = runtime();
    let server = server(&rt, vec![ok(task("Processing", 1, 0), "r")], None);
    let cases: &[(&[&str], &str)] = &[
        (&["--abort-if", "failed>=0%"], "--abort-if"),
        (&["--abort-if", "failed>=101%"], "--abort-if"),
        (&["--abort-if", "failed>=-1"], "--abort-if"),
        (&["--abort-if", "failed>5"], "--abort-if"),
        (&["--abort-if", "fail>=5%"], "--abort-if"),
        (&["--abort-if", "failed>=0"], "--abort-if"),
        (&["--abort-if", "failed>=5%", "--min-finished", "0"], "--min-finished"),
        (&["--min-finished", "-1"], "--min-finished"),
        (&["--interval", "0"], "--interval"),
        (&["--interval", "-1"], "--interval"),
        (&["--interval", "3601"], "--interval"),
        (&["--watch-timeout", "0"], "--watch-timeout"),
        (&["--watch-timeout", "1e12"], "--watch-timeout"),
        (&["--stuck-after", "0"], "--stuck-after"),
        (&["--stuck-after", "604801"], "--stuck-after"),
        (&["--stuck-after", "nan"], "--stuck-after"),
        (&["--output", "yaml"], "--output"),
    ];
    for (args, flag) in cases {
        let out = watch(&server, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    assert!(rt.block_on(server.received_requests()).unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn a_signal_ends_the_watch_with_130_or_143_and_does_not_stop_the_task() {
    let runs = [
        ("-TERM", "SIGTERM", 143, "json"),
        ("-INT", "SIGINT", 130, "json"),
        ("-TERM", "SIGTERM", 143, "table"),
    ];
    for (signal, name, code, output) in runs {
        let rt = runtime();
        let server = server(
            &rt,
            vec![ok(task("Processing", 10, 0), "r")],
            Some(ok(json!({"targets": []}), "rid-stop")),
        );
        let child = command(&server, &["--abort-if", "failed>=1", "--output", output])
            .spawn()
            .expect("spawn");
        // Wait (bounded) until the watch has read the task at least twice.
        for _ in 0..500 {
            if rt.block_on(server.received_requests()).unwrap().len() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(code), "{name}: {}", text(&out.stderr));
        assert!(posts(&rt, &server).is_empty(), "{name}: a signal never stops the task");
        if output == "table" {
            let shown = text(&out.stdout);
            assert!(shown.contains(&format!("interrupted ({name})")), "{shown}");
            assert!(shown.contains("was NOT stopped"), "{shown}");
            continue;
        }
        let summary = lines(&out).pop().unwrap();
        assert_eq!(summary["event"], "summary");
        assert_eq!(summary["outcome"], "interrupted");
        assert_eq!(summary["signal"], name);
        assert_eq!(summary["task_stopped"], false);
        assert_eq!(summary["exit_code"], code);
    }
}

/// Runs a watch that trips on its third read on a pseudo-terminal
/// (util-linux `script`) with `TERM` as given; the exit code and what the
/// terminal showed.
#[cfg(unix)]
fn on_terminal(term: Option<&str>) -> (Option<i32>, String) {
    use std::io::Read as _;
    let rt = runtime();
    let server = server(
        &rt,
        vec![
            ok(task("Processing", 20, 0), "r"),
            ok(task("Processing", 30, 1), "r"),
            ok(task("Processing", 38, 2), "r"),
            ok(task("Stopped", 38, 2), "r"),
        ],
        Some(ok(json!({"targets": []}), "rid-stop")),
    );
    let bin = assert_cmd::cargo::cargo_bin("iotda-batchtask");
    let args = [
        bin.to_str().unwrap(),
        "watch",
        "--endpoint",
        &server.uri(),
        "--project-id",
        PROJECT,
        "--task-id",
        TASK,
        "--interval",
        "0.3",
        "--abort-if",
        "failed>=5%",
    ];
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let mut command = Command::new("script");
    // A new pseudo-terminal has no size; a terminal has one.
    command
        .args([
            "-qec",
            &format!("stty cols 120 rows 40; {}", quoted.join(" ")),
            "/dev/null",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(term) = term {
        command.env("TERM", term);
    }
    let mut child = command.spawn().expect("util-linux script");
    // Kept open until the command ends: script ends the session on EOF.
    let stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut shown = Vec::new();
        let _ = stdout.read_to_end(&mut shown);
        shown
    });
    let status = child.wait().expect("script");
    drop(stdin);
    (status.code(), text(&reader.join().unwrap()))
}

/// On a terminal the polls are a live view that redraws in place (status,
/// counts, the rate against the threshold, next poll), cleared before the
/// summary; on one indicatif cannot drive (no TERM), plain lines.
#[cfg(unix)]
#[test]
fn on_a_terminal_the_polls_are_a_live_view() {
    let (code, shown) = on_terminal(Some("xterm"));
    assert_eq!(code, Some(7), "{shown}");
    assert!(shown.contains("next poll in"), "no live view: {shown}");
    assert!(
        shown.contains("failed 1 of 31 finished (3.23%); abort if failed>=5%"),
        "{shown}"
    );
    // indicatif redraws in place: the cursor goes back up over the view.
    assert!(shown.contains("\u{1b}["), "no redraw: {shown}");
    assert!(shown.contains("failed>=5% tripped"), "{shown}");
    assert!(shown.contains("the task was STOPPED"), "{shown}");

    let (code, shown) = on_terminal(None);
    assert_eq!(code, Some(7), "{shown}");
    assert!(!shown.contains("next poll in"), "{shown}");
    assert!(
        shown.contains("Processing progress: total 100, processing 69, waitting 0"),
        "no plain lines: {shown}"
    );
    assert!(shown.contains("the task was STOPPED"), "{shown}");
}
