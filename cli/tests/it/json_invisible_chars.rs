//! `--output json` escapes every character a terminal would act on or that
//! would reorder or hide text (controls, bidi controls, zero-width and other
//! format characters, line and paragraph separators) as `\uXXXX`: the bytes
//! carry none of them raw, and a JSON parser reads back exactly what the
//! server sent.

use crate::common::{PROJECT, TASK, TOKEN};

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every invisible character the output must not carry raw: the bidi
/// embeddings, overrides and isolates, the zero-width characters and marks,
/// the separators, the byte-order mark, the Arabic letter mark, a soft
/// hyphen, a tag character, and controls (ESC, BEL, DEL, C1's CSI and NEL).
const INVISIBLE: [char; 25] = [
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{061c}',
    '\u{ad}',
    '\u{e0041}',
    '\u{1b}',
    '\u{7}',
    '\u{7f}',
    '\u{9b}',
    '\u{85}',
];

#[test]
fn json_output_escapes_invisible_characters_and_parses_back_to_the_same_data() {
    let hostile: String = INVISIBLE.iter().map(|c| format!("dev-{c}")).collect();
    let page = json!({
        "batchtask": {
            "task_id": TASK,
            "task_name": hostile,
            "status": "Processing",
            "status_desc": hostile,
            "document": {hostile.clone(): hostile},
        },
        "task_details": [{
            "target": hostile,
            "status": "Fail",
            "error": {"error_code": hostile, "error_msg": hostile},
        }],
        "page": {"count": 1},
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&page))
            .mount(&server)
            .await;
        server
    });
    let out = Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args([
            "show",
            "--endpoint",
            &server.uri(),
            "--project-id",
            PROJECT,
            "--task-id",
            TASK,
        ])
        .args(["--output", "json"])
        .stdin(Stdio::null())
        .output()
        .expect("run iotda-batchtask");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    for c in INVISIBLE {
        assert!(!stdout.contains(c), "{c:?} raw in the JSON output: {stdout:?}");
    }
    assert!(
        stdout.contains(r"\u202e") && stdout.contains(r"\udb40\udc41"),
        "{stdout}"
    );
    let shown: Value = serde_json::from_str(&stdout).expect("still valid JSON");
    let task = &shown["batchtask"];
    assert_eq!(task["task_name"], hostile);
    assert_eq!(task["status_desc"], hostile);
    assert_eq!(task["document"], page["batchtask"]["document"], "keys too");
    let detail = &shown["task_details"][0];
    assert_eq!(detail["target"], hostile);
    assert_eq!(detail["error"]["error_msg"], hostile);
    assert_eq!(detail["error"]["error_code"], hostile);
}
