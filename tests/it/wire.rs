//! The exact bytes on the wire, for both of the seed page's request examples
//! in every auth mode, and the seed's response example parsed.

use crate::common;
use crate::signing::verify_received;

use common::*;
use iotda_batchtask::auth::Algorithm;
use iotda_batchtask::{Credentials, types};
use iotda_batchtask_signing::{Authorization, Signer};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STOP_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req-0001")
                .set_body_raw(SEED_RESPONSE, "application/json"),
        )
        .mount(&server)
        .await;
    server
}

/// Method, path, every header (sorted, with date, signature and port
/// redacted) and body, as the server received them.
fn describe(request: &wiremock::Request) -> String {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap();
            let value = match name.as_str() {
                "x-sdk-date" => "[date]".to_owned(),
                "host" => value.split(':').next().unwrap().to_owned() + ":[port]",
                "authorization" => redact_authorization(value),
                _ => value.to_owned(),
            };
            (name.as_str().to_owned(), value)
        })
        .collect();
    headers.sort();
    let mut out = format!("{} {}\n", request.method, request.url.path());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&request.body));
    out
}

fn redact_authorization(value: &str) -> String {
    let (head, _signature) = value.rsplit_once("Signature=").unwrap();
    let head = match head.split_once("/20") {
        // V11 credential scope: AK/YYYYMMDD/region/service
        Some((before, after)) => format!("{before}/[day]{}", &after[6..]),
        None => head.to_owned(),
    };
    format!("{head}Signature=[signature]")
}

/// Recomputes the signature from what the server received, as IoTDA does.
fn assert_signature_verifies(request: &wiremock::Request, mode: Mode) {
    let header = |name: &str| request.headers.get(name).map(|v| v.to_str().unwrap());
    let auth = Authorization::parse(header("authorization").unwrap()).unwrap();
    assert!(auth.signed_headers.contains(&"host".to_owned()));
    let algorithm = match mode {
        Mode::Plain => Algorithm::Plain,
        _ => Algorithm::Derived {
            region: "cn-north-4".into(),
            service: "iotdm".into(),
        },
    };
    let verifier = Signer::new(AK, SK.into(), algorithm);
    let mut received = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        received = received.header(name, value);
    }
    let (parts, ()) = received.body(()).unwrap().into_parts();
    assert_eq!(
        verify_received(&verifier, &parts, &request.body, &auth),
        Ok(()),
        "{mode:?}"
    );
}

#[tokio::test]
async fn seed_request_examples_on_the_wire() {
    for mode in MODES {
        for example in ["stop_all", "stop_targets"] {
            let server = server().await;
            let client = client(&server.uri(), mode);
            let call = client.stop_batch_task(TASK);
            let call = match example {
                "stop_all" => call.all(),
                _ => call.targets(["e495cf17-ff79-4294-8f64-4d367919d665"]),
            };
            call.send().await.unwrap();
            let received = server.received_requests().await.unwrap();
            assert_eq!(received.len(), 1);
            insta::assert_snapshot!(
                format!("wire_{mode:?}_{example}").to_lowercase(),
                describe(&received[0])
            );
            if mode != Mode::Token {
                assert_signature_verifies(&received[0], mode);
            }
        }
    }
}

#[tokio::test]
async fn temporary_credentials_send_and_sign_the_security_token() {
    let server = server().await;
    let client = iotda_batchtask::Client::builder(server.uri())
        .project_id(PROJECT)
        .credentials(Credentials::temporary(AK, SK, SECURITY_TOKEN))
        .signing(iotda_batchtask::Signing::Plain)
        .build()
        .unwrap();
    client.stop_batch_task(TASK).target("dev-1").send().await.unwrap();
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(received.headers["x-security-token"], SECURITY_TOKEN);
    assert!(
        received.headers["authorization"]
            .to_str()
            .unwrap()
            .contains("x-security-token")
    );
    assert_signature_verifies(received, Mode::Plain);
}

#[tokio::test]
async fn seed_response_example_parsed() {
    let server = server().await;
    let out = client(&server.uri(), Mode::Token)
        .stop_batch_task(TASK)
        .targets([
            "e495cf17-ff79-4294-8f64-4d367919d665",
            "e495cf17-ff79-4294-8f64-4d367919d677",
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(out.request_ids(), ["req-0001"]);
    assert_eq!(out.succeeded().count(), 1);
    assert_eq!(out.failed().count(), 1);
    assert!(!out.all_succeeded());
    // The generated type parses the page's example on its own, too, and
    // each answer became its target's outcome.
    let parsed: types::BatchTargetsResponse = serde_json::from_str(SEED_RESPONSE).unwrap();
    insta::assert_json_snapshot!("seed_response", parsed.targets);
    for (answer, result) in parsed.targets.iter().zip(out.results()) {
        assert_eq!(answer.target.as_deref(), Some(result.target.as_str()));
        assert_eq!(answer.status.as_deref() == Some("success"), result.is_success());
    }
}

/// Every other operation's request, signed (plain AK/SK) and verified as
/// IoTDA would: retry, confirm, list (a signed query string), create (the
/// pre-read and the POST) and delete.
#[tokio::test]
async fn the_family_on_the_wire() {
    use iotda_batchtask::types::{TaskStatus, TaskType};
    use serde_json::json;

    let server = MockServer::start().await;
    let tasks = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks";
    let task = format!("{tasks}/{TASK}");
    let answer = ResponseTemplate::new(200)
        .set_body_json(json!({"targets": [{"target": "e495cf17-ff79-4294-8f64-4d367919d665", "status": "success"}]}));
    for op in ["retry", "confirm"] {
        Mock::given(method("POST"))
            .and(path(format!("{task}/{op}")))
            .respond_with(answer.clone())
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(tasks))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"batchtasks": [], "page": {"count": 0}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(tasks))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"task_id": TASK})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(&task))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;

    let client = client(&server.uri(), Mode::Plain);
    client
        .retry_batch_task(TASK)
        .target("e495cf17-ff79-4294-8f64-4d367919d665")
        .send()
        .await
        .unwrap();
    client.confirm_batch_task(TASK).all().send().await.unwrap();
    client
        .list_batch_tasks(TaskType::FirmwareUpgrade)
        .status(TaskStatus::Stopping)
        .app_id("app_1")
        .limit(50)
        .send()
        .await
        .unwrap();
    let mut document = serde_json::Map::new();
    document.insert("package_id".into(), "32822e5744a45ede319d2c50".into());
    client
        .create_batch_task("BatchSoftwareUpgradeTask", TaskType::SoftwareUpgrade)
        .targets(["e495cf17-ff79-4294-8f64-4d367919d665"])
        .document(document)
        .retry(5, 60)
        .send()
        .await
        .unwrap();
    client.delete_batch_task(TASK).send().await.unwrap();

    let received = server.received_requests().await.unwrap();
    let mut described = Vec::new();
    for request in &received {
        assert_signature_verifies(request, Mode::Plain);
        let query = request.url.query().map(|q| format!("?{q}")).unwrap_or_default();
        described.push(format!("{query}\n{}", describe(request)));
    }
    insta::assert_snapshot!("wire_plain_family", described.join("\n----\n"));
}
