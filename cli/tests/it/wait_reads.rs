//! `--wait` settles only on a read that shows the task's status: an answer
//! without the task, without a status, or with a status IoTDA does not
//! document is a failed read, never `settled`. A failed read is read again
//! (the watch engine's read-failure budget, at most the wait); still failing
//! when the wait ends, it is `read_failed`, exit 1.

use crate::common::{PROJECT, STOP_PATH, TASK, TOKEN};

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `stop --target dev-1 --wait` against a server that stops it and then
/// answers every ShowBatchTask with `show`.
fn stop_and_wait(show: Value, output: &str) -> Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(STOP_PATH))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"targets": [{"target": "dev-1", "status": "success"}]})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(STOP_PATH.trim_end_matches("/stop")))
            .respond_with(ResponseTemplate::new(200).set_body_json(show))
            .mount(&server)
            .await;
        server
    });
    Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
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
        .args(["--target", "dev-1", "--wait", "--wait-timeout", "2", "--output", output])
        .stdin(Stdio::null())
        .output()
        .expect("run iotda-batchtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_read_without_the_task_or_its_status_is_a_failed_read_not_settled() {
    let page = json!({"count": 0});
    let answers = [
        (
            "no status",
            json!({"batchtask": {"task_id": TASK, "task_type": "firmwareUpgrade"}, "task_details": [], "page": page}),
        ),
        ("no batchtask", json!({"task_details": [], "page": page})),
        (
            "an undocumented status",
            json!({"batchtask": {"task_id": TASK, "status": "Whatever"}, "task_details": [], "page": page}),
        ),
    ];
    for (case, show) in answers {
        let out = stop_and_wait(show.clone(), "json");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(report["wait"]["outcome"], "read_failed", "{case}: {report}");
        // Read again after the first failure, never taken for settled.
        assert!(report["wait"]["reads"].as_u64().unwrap() >= 2, "{case}: {report}");
        assert!(report["wait"].get("task_status").is_none(), "{case}: {report}");
        assert!(
            report["wait"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("ShowBatchTask")),
            "{case}: {report}"
        );

        let out = stop_and_wait(show, "table");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{case}: {all}");
        assert!(!all.contains(" is - after"), "{case}: {all}");
        assert!(all.contains("a read failed"), "{case}: {all}");
    }
}

#[test]
fn a_read_with_a_finished_status_settles() {
    let show = json!({
        "batchtask": {"task_id": TASK, "status": "Stopped", "task_progress": {"total": 1, "stopped": 1}},
        "task_details": [],
        "page": {"count": 0},
    });
    let out = stop_and_wait(show, "json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["wait"]["outcome"], "settled", "{report}");
    assert_eq!(report["wait"]["task_status"], "Stopped", "{report}");
}
