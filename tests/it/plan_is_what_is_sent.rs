//! `plan()` shows the requests the real call sends: for every operation with
//! a plan, the planned method, URL (path and query) and body equal what the
//! emulator's journal records when the call is made, and the planned headers
//! are the ones a server receives (values equal; the authentication's by
//! name, their values masked), in every kind of authentication. Planning
//! itself sends nothing.

use iotda_batchtask::types::TaskType;
use iotda_batchtask::{BatchTargetsCall, Client, CreateBatchTask, Credentials, DeleteBatchTask, PlannedRequest};
use iotda_batchtask_emulator::{
    DEMO_CONFIRM_TASK_ID, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_TASK_ID, Emulator, EmulatorConfig,
    JournalEntry, Operation, demo_device_id,
};
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

/// A call of an operation with a plan.
enum Call {
    Targets(BatchTargetsCall<'static>),
    Create(CreateBatchTask),
    Delete(DeleteBatchTask),
}

impl Call {
    async fn plan(&self) -> Vec<PlannedRequest> {
        match self {
            Self::Targets(call) => call.plan().await,
            Self::Create(call) => call.plan().await,
            Self::Delete(call) => call.plan().await,
        }
        .expect("a valid call plans")
    }

    /// Makes the call; its outcome does not matter here, only what it sent.
    async fn send(self) {
        match self {
            Self::Targets(call) => drop(call.send().await),
            Self::Create(call) => drop(call.send().await),
            Self::Delete(call) => drop(call.send().await),
        }
    }
}

/// What a case keeps of the journal of its call: the entries of its own
/// operation (a retry's or confirm's reads before sending, which plans do
/// not list, left out), or all of them.
type Sent = fn(&JournalEntry) -> bool;

/// Every operation with a plan, with what makes each plan differ: named
/// targets in two requests, `{}`, a create with and without the listing
/// that marks where a lost answer's search starts (a query), a DELETE.
fn calls(client: &Client) -> Vec<(&'static str, Sent, Call)> {
    let create = || {
        let Value::Object(document) = json!({"package_id": "p1"}) else {
            unreachable!("an object literal")
        };
        client
            .create_batch_task("plan_check", TaskType::FirmwareUpgrade)
            .targets(["dev-0001", "dev-0002"])
            .document(document)
    };
    vec![
        (
            "stop of 150 targets (two requests)",
            |e| e.operation == Operation::StopBatchTask,
            Call::Targets(
                client
                    .stop_batch_task(DEMO_TASK_ID)
                    .targets((1..=150).map(demo_device_id))
                    .concurrency(1),
            ),
        ),
        (
            "stop all",
            |e| e.operation == Operation::StopBatchTask,
            Call::Targets(client.stop_batch_task(DEMO_TASK_ID).all()),
        ),
        (
            "retry of one target",
            |e| e.operation == Operation::RetryBatchTask,
            Call::Targets(client.retry_batch_task(DEMO_PARTIAL_TASK_ID).targets(["dev-0007"])),
        ),
        (
            "confirm all",
            |e| e.operation == Operation::ConfirmBatchTask,
            Call::Targets(client.confirm_batch_task(DEMO_CONFIRM_TASK_ID).all()),
        ),
        ("create with its listing", |_| true, Call::Create(create())),
        (
            "create without reads",
            |_| true,
            Call::Create(create().reconcile(false)),
        ),
        (
            "delete",
            |_| true,
            Call::Delete(client.delete_batch_task(DEMO_FINISHED_TASK_ID)),
        ),
    ]
}

/// Method, full URL and body.
type Line = (String, String, Option<Value>);

fn planned_line(planned: &PlannedRequest) -> Line {
    (planned.method.clone(), planned.url.clone(), planned.body.clone())
}

fn journal_line(base: &str, entry: &JournalEntry) -> Line {
    let query = entry.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
    (
        entry.method.as_str().to_owned(),
        format!("{base}{}{query}", entry.path),
        entry.body.clone(),
    )
}

#[tokio::test]
async fn every_planned_request_is_the_request_the_call_sends() {
    for mode in MODES {
        let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN))
            .await
            .expect("emulator");
        let base = emulator.base_url();
        let client = client(&base, mode);
        for (name, sent, call) in calls(&client) {
            let before = emulator.journal().len();
            let plan = call.plan().await;
            assert_eq!(
                emulator.journal().len(),
                before,
                "{mode:?} {name}: planning sent a request"
            );
            call.send().await;
            let journal = emulator.journal().into_vec();
            let sent: Vec<&JournalEntry> = journal[before..].iter().filter(|e| sent(e)).collect();
            let wire: Vec<Line> = sent.iter().map(|e| journal_line(&base, e)).collect();
            assert!(!wire.is_empty(), "{mode:?} {name}: nothing was sent");
            assert_eq!(
                plan.iter().map(planned_line).collect::<Vec<_>>(),
                wire,
                "{mode:?} {name}"
            );
            // The authentication and the instance as the server saw them.
            for (planned, entry) in plan.iter().zip(&sent) {
                let header = |wanted: &str| {
                    planned
                        .headers
                        .iter()
                        .find(|(name, _)| name == wanted)
                        .map(|(_, value)| value.as_str())
                };
                let (shown, seen) = match mode {
                    Mode::Token => (header("X-Auth-Token"), "Token"),
                    Mode::Plain | Mode::Derived => (header("Authorization"), "Signed"),
                };
                assert!(
                    shown.is_some_and(|v| v.starts_with("***")),
                    "{mode:?} {name}: {planned:?}"
                );
                assert!(
                    format!("{:?}", entry.auth).starts_with(seen),
                    "{mode:?} {name}: {:?}",
                    entry.auth
                );
                assert_eq!(header("Instance-Id"), entry.instance_id.as_deref(), "{mode:?} {name}");
            }
        }
    }
}

/// A client of every kind of authentication: a token, a plain and a
/// derived signature, temporary credentials.
fn clients(endpoint: &str) -> Vec<(String, Client)> {
    let mut clients: Vec<(String, Client)> = MODES
        .into_iter()
        .map(|mode| (format!("{mode:?}"), client(endpoint, mode)))
        .collect();
    let temporary = Client::builder(endpoint)
        .project_id(PROJECT)
        .instance_id(INSTANCE)
        .credentials(Credentials::temporary(AK, SK, SECURITY_TOKEN))
        .region("cn-north-4")
        .build()
        .expect("valid test client");
    clients.push(("Temporary".to_owned(), temporary));
    clients
}

/// What HTTP adds to every request when sending it, which a plan does not
/// list: `Host`, `Content-Length`, and reqwest's default `Accept: */*`
/// (added when the request has no `Accept`).
const TRANSPORT: [&str; 3] = ["host", "content-length", "accept"];

#[tokio::test]
async fn the_planned_headers_are_the_headers_a_server_receives() {
    let server = MockServer::start().await;
    for (mode, client) in clients(&server.uri()) {
        server.reset().await;
        // A listing with no tasks, so a create goes on to its POST; a
        // refusal to everything else, so no read settles anything.
        Mock::given(method("GET"))
            .and(path(format!("/v5/iot/{PROJECT}/batchtasks")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"batchtasks": [], "page": {"count": 0}})))
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(400).set_body_json(json!({"error_code": "IOTDA.000006", "error_msg": "refused"})),
            )
            .mount(&server)
            .await;
        let mut planned = Vec::new();
        // Named targets, a create with its listing (a query), a DELETE.
        for (_, _, call) in calls(&client).into_iter().filter(|(name, _, _)| {
            [
                "stop of 150 targets (two requests)",
                "create with its listing",
                "delete",
            ]
            .contains(name)
        }) {
            planned.extend(call.plan().await);
            call.send().await;
        }
        let received = server.received_requests().await.expect("recording");
        assert_eq!(planned.len(), received.len(), "{mode}");
        for (plan, got) in planned.iter().zip(&received) {
            // wiremock rebuilds the URL's host; the path and query are as received.
            let query = got.url.query().map(|q| format!("?{q}")).unwrap_or_default();
            let url = format!("{}{}{query}", server.uri(), got.url.path());
            assert_eq!(
                (plan.method.as_str(), plan.url.as_str()),
                (got.method.as_str(), url.as_str())
            );
            let mut sent: Vec<String> = got
                .headers
                .keys()
                .map(|name| name.as_str().to_owned())
                .filter(|name| !TRANSPORT.contains(&name.as_str()))
                .collect();
            let mut shown: Vec<String> = plan.headers.iter().map(|(name, _)| name.to_ascii_lowercase()).collect();
            sent.sort();
            shown.sort();
            assert_eq!(shown, sent, "{mode} {} {}", plan.method, plan.url);
            for (name, value) in &plan.headers {
                if value.starts_with("***") || value.starts_with('(') {
                    // Masked, or computed when sent: never the secret itself.
                    for secret in [SK, TOKEN, SECURITY_TOKEN] {
                        assert!(!value.contains(secret), "{name}: {value}");
                    }
                    continue;
                }
                let got = got.headers.get(name.as_str()).map(|v| v.to_str().expect("ASCII"));
                assert_eq!(got, Some(value.as_str()), "{mode} {name}");
            }
        }
    }
}
