//! `create` and `delete` report a lost answer as settled only on proof. A
//! create the server carries out after `--timeout` is found by reading
//! within the settle window, or reported unknown (exit 4) with how to check:
//! never "not created, running the command again is safe", which would start
//! a second rollout. A delete is proven only by IoTDA's `IOTDA.014200`.

use crate::common::{PROJECT, TASK, TOKEN};

use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TASKS_PATH: &str = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks";
const NAME: &str = "rt_slow_1";
const MARK: &str = "5c8ba99030344005c0231600";
const NEW: &str = "5c8ba99030344005c02316ff";
/// Exit code for an unknown outcome (README, docs/cli.md).
const UNKNOWN: i32 = 4;

/// When the server received the create.
type Posted = Arc<Mutex<Option<Instant>>>;

/// CreateBatchTask taking `takes` to create the task (`None`: never), and
/// answering 201 only then.
struct SlowCreate {
    posted: Posted,
    takes: Option<Duration>,
}

impl Respond for SlowCreate {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        *self.posted.lock().expect("not poisoned") = Some(Instant::now());
        let delay = self.takes.unwrap_or(Duration::from_secs(600));
        ResponseTemplate::new(201)
            .set_body_json(json!({"task_id": NEW, "task_name": NAME}))
            .set_delay(delay)
    }
}

/// ListBatchTasks: the older task, and above it the new one once made.
struct Listing {
    posted: Posted,
    takes: Option<Duration>,
}

impl Respond for Listing {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let made = match (*self.posted.lock().expect("not poisoned"), self.takes) {
            (Some(at), Some(takes)) => at.elapsed() >= takes,
            _ => false,
        };
        let mut tasks = vec![json!({"task_id": MARK, "task_name": "older"})];
        if made {
            tasks.insert(0, json!({"task_id": NEW, "task_name": NAME, "status": "Initializing"}));
        }
        let count = tasks.len();
        ResponseTemplate::new(200).set_body_json(json!({"batchtasks": tasks, "page": {"count": count}}))
    }
}

/// A runtime for the mock servers (they run on their own threads).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn slow_server(runtime: &tokio::runtime::Runtime, takes: Option<Duration>) -> MockServer {
    runtime.block_on(async {
        let server = MockServer::start().await;
        let posted = Posted::default();
        Mock::given(method("POST"))
            .and(path(TASKS_PATH))
            .respond_with(SlowCreate {
                posted: posted.clone(),
                takes,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(TASKS_PATH))
            .respond_with(Listing { posted, takes })
            .mount(&server)
            .await;
        server
    })
}

/// `create --name rt_slow_1 ... --timeout 2`, then `extra`.
fn create(server: &MockServer, extra: &[&str]) -> Output {
    let mut args = vec![
        "create",
        "--name",
        NAME,
        "--task-type",
        "firmwareUpgrade",
        "--target",
        "dev-0001",
        "--package-id",
        "32822e5744a45ede319d2c50",
        "--timeout",
        "2",
    ];
    args.extend_from_slice(extra);
    cli(server, &args)
}

/// The binary with a clean environment and token auth: `args[0]` (the
/// command) against `server`, then the rest of `args`.
fn cli(server: &MockServer, args: &[&str]) -> Output {
    let uri = server.uri();
    let mut all = vec![args[0], "--endpoint", &uri, "--project-id", PROJECT];
    all.extend_from_slice(&args[1..]);
    Command::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"))
        .env_clear()
        .env("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .args(all)
        .stdin(Stdio::null())
        .output()
        .expect("run iotda-batchtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn posts(runtime: &tokio::runtime::Runtime, server: &MockServer) -> usize {
    let requests = runtime.block_on(server.received_requests()).expect("recording");
    requests.iter().filter(|r| r.method.as_str() == "POST").count()
}

#[test]
fn a_task_the_server_creates_after_the_timeout_is_reported_created_not_safe_to_rerun() {
    let runtime = runtime();
    let server = slow_server(&runtime, Some(Duration::from_secs(4)));
    let out = create(&server, &["--output", "json"]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("safe"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["outcome"], "created_by_read", "{report}");
    assert_eq!(report["task"]["task_id"], NEW, "{report}");
    assert_eq!(posts(&runtime, &server), 1, "the create is never sent twice");
}

#[test]
fn a_create_no_listing_shows_within_the_window_is_unknown_with_how_to_check() {
    let runtime = runtime();
    let server = slow_server(&runtime, None);
    let out = create(&server, &["--settle-window", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(UNKNOWN), "{stderr}");
    assert!(!stderr.contains("safe"), "never advise running it again: {stderr}");
    assert!(!stderr.contains("not created"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "look for {NAME} with `iotda-batchtask list --task-type firmwareUpgrade`"
        )),
        "{stderr}"
    );
    let out = create(&server, &["--settle-window", "0", "--output", "json"]);
    assert_eq!(out.status.code(), Some(UNKNOWN), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["outcome"], "unknown", "{report}");
    assert_eq!(posts(&runtime, &server), 2, "one create per run, never resent");
}

#[test]
fn a_lost_delete_is_deleted_only_on_iotdas_task_not_found() {
    let runtime = runtime();
    let gateway_404 = json!({
        "error_code": "APIGW.0101",
        "error_msg": "The API does not exist or has not been published in the environment.",
        "request_id": "0123456789abcdef0123456789abcdef",
    });
    let iotda_404 = json!({"error_code": "IOTDA.014200", "error_msg": "The batch task does not exist."});
    let cases = [
        (
            ResponseTemplate::new(404).set_body_json(gateway_404),
            UNKNOWN,
            "unknown",
        ),
        (
            ResponseTemplate::new(404).set_body_raw("<html><h1>Not Found</h1></html>", "text/html"),
            UNKNOWN,
            "unknown",
        ),
        (
            ResponseTemplate::new(404).set_body_json(iotda_404),
            0,
            "deleted_by_read",
        ),
    ];
    for (read, code, outcome) in cases {
        let server = runtime.block_on(async {
            let server = MockServer::start().await;
            let task_path = format!("{TASKS_PATH}/{TASK}");
            Mock::given(method("DELETE"))
                .and(path(&task_path))
                .respond_with(ResponseTemplate::new(502))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(&task_path))
                .respond_with(read)
                .mount(&server)
                .await;
            server
        });
        let out = cli(&server, &["delete", "--task-id", TASK, "--yes", "--output", "json"]);
        assert_eq!(out.status.code(), Some(code), "{outcome}: {}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(report["outcome"], outcome, "{report}");
    }
}

#[test]
fn a_settle_window_out_of_range_is_refused_while_parsing() {
    let runtime = runtime();
    let server = runtime.block_on(MockServer::start());
    for bad in ["-1", "86401", "nan", "soon"] {
        let out = create(&server, &["--settle-window", bad]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--settle-window"), "{bad}: {stderr}");
    }
    let requests = runtime.block_on(server.received_requests()).expect("recording");
    assert!(requests.is_empty(), "nothing is sent");
}
