//! `iotda-batchtask emulator --admin`: a test in another language (or a
//! shell script) drives the emulator process as a test double over HTTP.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID};
use serde_json::{Value, json};

use crate::commands::signal;

/// `iotda-batchtask emulator` with `args`, and the base URL it prints.
fn emulator(args: &[&str]) -> (Child, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--no-auth"])
        .args(args)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .expect("the address line")
        .to_owned();
    (child, url)
}

/// One HTTP/1.1 exchange over a fresh connection: the status and the JSON body.
fn exchange(url: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let authority = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

fn stop_one(url: &str, device: &str) -> std::process::Output {
    assert_cmd::Command::cargo_bin("iotda-batchtask")
        .unwrap()
        .env_clear()
        .env("IOTDA_AUTH_TOKEN", "anything")
        .args([
            "stop",
            "--endpoint",
            url,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            DEMO_TASK_ID,
        ])
        .args(["--target", device])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn admin_endpoint_injects_faults_and_serves_the_journal() {
    let (mut child, url) = emulator(&["--admin"]);

    let throttle = json!({"action": "status", "status": 429, "code": "APIGW.0308", "msg": "throttled",
                          "operation": "StopBatchTask", "times": 1});
    assert_eq!(
        exchange(&url, "POST", "/__emulator/faults", Some(throttle)),
        (201, json!({"pending": 1}))
    );
    // The CLI retries the 429 and stops the device.
    assert_eq!(stop_one(&url, "dev-0001").status.code(), Some(0));

    let (status, journal) = exchange(&url, "GET", "/__emulator/journal", None);
    assert_eq!(status, 200);
    let stops: Vec<_> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "StopBatchTask")
        .map(|e| (e["status"].clone(), e["fault_injected"].clone(), e["body"].clone()))
        .collect();
    let body = json!({"targets": ["dev-0001"]});
    assert_eq!(
        stops,
        [
            (json!(429), json!(true), body.clone()),
            (json!(200), json!(false), body)
        ]
    );
    assert_eq!(journal[0]["auth"], json!({"mode": "token"}));

    // A process-then-fail: the device is stopped, the answer is a 500; the
    // CLI reads and reports it stopped (exit 0), never re-sending the stop.
    assert_eq!(exchange(&url, "DELETE", "/__emulator/journal", None).0, 200);
    let lost = json!({"action": "process_then_fail", "status": 500, "operation": "StopBatchTask"});
    assert_eq!(exchange(&url, "POST", "/__emulator/faults", Some(lost)).0, 201);
    assert_eq!(stop_one(&url, "dev-0002").status.code(), Some(0));
    let (_, journal) = exchange(&url, "GET", "/__emulator/journal", None);
    let operations: Vec<_> = journal
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].clone())
        .collect();
    // The stop, its settling read, and the read that checks whether the stop ended the task.
    assert_eq!(
        operations,
        [json!("StopBatchTask"), json!("ShowBatchTask"), json!("ShowBatchTask")]
    );

    // Mistakes are named; clearing works.
    let (status, error) = exchange(&url, "POST", "/__emulator/faults", Some(json!({"action": "explode"})));
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("explode"), "{error}");
    assert_eq!(
        exchange(&url, "DELETE", "/__emulator/faults", None),
        (200, json!({"pending": 0}))
    );

    signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn without_admin_there_is_no_admin_endpoint() {
    let (mut child, url) = emulator(&[]);
    let (status, body) = exchange(&url, "GET", "/__emulator/journal", None);
    assert_ne!(status, 200, "{body}");
    let inject = json!({"action": "reset"});
    assert_ne!(exchange(&url, "POST", "/__emulator/faults", Some(inject)).0, 201);
    // And so no fault was armed: a stop goes through.
    assert_eq!(stop_one(&url, "dev-0003").status.code(), Some(0));
    signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn admin_is_refused_off_loopback() {
    let out = assert_cmd::Command::cargo_bin("iotda-batchtask")
        .unwrap()
        .env_clear()
        .args([
            "emulator",
            "--listen",
            "0.0.0.0:0",
            "--allow-non-loopback",
            "--no-auth",
            "--admin",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin"), "{out:?}");
}
