//! A lost answer is settled only by proof. A create that timed out may be
//! carried out by the server after the client gave up, so a listing that
//! does not (yet) show it proves nothing: the create is found within the
//! settle window or is unknown, never "not created". A delete is proven by
//! IoTDA's own "no such task" (404 `IOTDA.014200`), not by any 404.

use crate::common::{PROJECT, TASK, TOKEN};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iotda_batchtask::types::TaskType;
use iotda_batchtask::{Client, CreateOutcome, Credentials, DeleteOutcome};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TASKS_PATH: &str = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks";
const NAME: &str = "rt_slow_1";
/// The newest task before the create, and the one it makes.
const MARK: &str = "5c8ba99030344005c0231600";
const NEW: &str = "5c8ba99030344005c02316ff";
/// The client gives up on a request after this long...
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// ...and the server creates the task only after this long.
const SERVER_TAKES: Duration = Duration::from_secs(4);

/// When the server received the create.
type Posted = Arc<Mutex<Option<Instant>>>;

/// CreateBatchTask that takes `takes` to create the task (`None`: never),
/// and only then answers 201.
struct SlowCreate {
    posted: Posted,
    takes: Option<Duration>,
}

impl Respond for SlowCreate {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        *self.posted.lock().expect("not poisoned") = Some(Instant::now());
        let answer = ResponseTemplate::new(201).set_body_json(json!({"task_id": NEW, "task_name": NAME}));
        match self.takes {
            Some(takes) => answer.set_delay(takes),
            // Longer than any test: the client always gives up first.
            None => answer.set_delay(Duration::from_secs(600)),
        }
    }
}

/// ListBatchTasks: the mark, and above it the new task once the server
/// has made it.
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
            tasks.insert(0, json!({"task_id": NEW, "task_name": NAME}));
        }
        let count = tasks.len();
        ResponseTemplate::new(200).set_body_json(json!({"batchtasks": tasks, "page": {"count": count}}))
    }
}

/// A server whose create takes `takes` (`None`: never happens).
async fn slow_server(takes: Option<Duration>) -> MockServer {
    let server = MockServer::start().await;
    let posted = Posted::default();
    Mock::given(method("POST"))
        .and(path(TASKS_PATH))
        .respond_with(SlowCreate {
            posted: posted.clone(),
            takes,
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TASKS_PATH))
        .respond_with(Listing { posted, takes })
        .mount(&server)
        .await;
    server
}

fn impatient_client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .request_timeout(CLIENT_TIMEOUT)
        .deadline(CLIENT_TIMEOUT)
        .build()
        .expect("valid test client")
}

fn package() -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("package_id".into(), "32822e5744a45ede319d2c50".into());
    map
}

async fn posts(server: &MockServer) -> usize {
    let requests = server.received_requests().await.expect("recording");
    requests.iter().filter(|r| r.method.as_str() == "POST").count()
}

#[tokio::test]
async fn a_task_created_after_the_client_gave_up_is_found_by_reading_not_reported_absent() {
    let server = slow_server(Some(SERVER_TAKES)).await;
    let outcome = impatient_client(&server)
        .create_batch_task(NAME, TaskType::FirmwareUpgrade)
        .targets(["dev-0001"])
        .document(package())
        .send()
        .await
        .expect("the request was sent: an outcome, not an error");
    match &outcome {
        CreateOutcome::CreatedByRead { task } => assert_eq!(task.task_id.as_deref(), Some(NEW)),
        other => panic!("the server created the task 4 s in; the reads must find it: {other:?}"),
    }
    assert_eq!(posts(&server).await, 1, "never sent twice");
}

#[tokio::test]
async fn a_create_the_listing_never_shows_is_unknown_not_proven_absent() {
    let server = slow_server(None).await;
    let outcome = impatient_client(&server)
        .create_batch_task(NAME, TaskType::FirmwareUpgrade)
        .targets(["dev-0001"])
        .document(package())
        .settle_window(Duration::from_secs(1))
        .send()
        .await
        .expect("the request was sent: an outcome, not an error");
    match &outcome {
        CreateOutcome::Unknown { error } => assert!(error.may_have_been_processed(), "{error}"),
        other => panic!("a sent request that timed out is unknown: {other:?}"),
    }
    assert!(!outcome.is_created());
    assert_eq!(posts(&server).await, 1, "never sent twice");
}

#[tokio::test]
async fn a_settle_window_over_the_longest_deadline_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let err = impatient_client(&server)
        .create_batch_task(NAME, TaskType::FirmwareUpgrade)
        .targets(["dev-0001"])
        .settle_window(iotda_batchtask::MAX_DEADLINE + Duration::from_secs(1))
        .send()
        .await
        .expect_err("out of range");
    assert!(err.to_string().contains("settle_window"), "{err}");
    assert!(server.received_requests().await.expect("recording").is_empty());
}

/// A DELETE whose answer is lost (500), then `read` for the settling
/// ShowBatchTask.
async fn lost_delete_then(read: ResponseTemplate) -> DeleteOutcome {
    let server = MockServer::start().await;
    let task_path = format!("{TASKS_PATH}/{TASK}");
    Mock::given(method("DELETE"))
        .and(path(&task_path))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"error_code": "IOTDA.000000", "error_msg": "internal"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&task_path))
        .respond_with(read)
        .mount(&server)
        .await;
    let client = crate::common::client(&server.uri(), crate::common::Mode::Token);
    client.delete_batch_task(TASK).send().await.expect("an outcome")
}

#[tokio::test]
async fn only_iotdas_task_not_found_proves_a_lost_delete_took_effect() {
    let iotda = ResponseTemplate::new(404)
        .set_body_json(json!({"error_code": "IOTDA.014200", "error_msg": "The batch task does not exist."}))
        .insert_header("X-Request-Id", "rid-read");
    let outcome = lost_delete_then(iotda).await;
    assert!(
        matches!(&outcome, DeleteOutcome::DeletedByRead { request_id } if request_id.as_deref() == Some("rid-read")),
        "{outcome:?}"
    );

    // 404s that say nothing about the task: a gateway's unknown API, a
    // proxy's HTML page, an empty body, IoTDA's code under another status.
    let not_proof = [
        ResponseTemplate::new(404).set_body_json(json!({
            "error_code": "APIGW.0101",
            "error_msg": "The API does not exist or has not been published in the environment.",
            "request_id": "0123456789abcdef0123456789abcdef",
        })),
        ResponseTemplate::new(404).set_body_raw("<html><body><h1>404 Not Found</h1></body></html>", "text/html"),
        ResponseTemplate::new(404),
        ResponseTemplate::new(400)
            .set_body_json(json!({"error_code": "IOTDA.014200", "error_msg": "The batch task does not exist."})),
    ];
    for (i, read) in not_proof.into_iter().enumerate() {
        let outcome = lost_delete_then(read).await;
        match &outcome {
            DeleteOutcome::Unknown { error } => assert!(error.may_have_been_processed(), "case {i}: {error}"),
            other => panic!("case {i}: a 404 that is not IoTDA's IOTDA.014200 proves nothing: {other:?}"),
        }
        assert!(!outcome.is_deleted(), "case {i}");
    }
}
