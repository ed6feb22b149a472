//! The client against a mock IoTDA: answers, errors, request IDs, and
//! validation that stops bad input before anything is sent.

use crate::capture::capture_tracing;
use crate::common;

use common::*;
use std::sync::Arc;

use iotda_batchtask::outcome::{Succeeded, TargetOutcome, Unknown};
use iotda_batchtask::{Client, Credentials, DeleteOutcome, Error, Signing, TargetsReport};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn answering(status: u16, body: &str, content_type: &str, request_id: Option<&str>) -> MockServer {
    let server = MockServer::start().await;
    let mut response = ResponseTemplate::new(status).set_body_raw(body.to_owned(), content_type);
    if let Some(id) = request_id {
        response = response.insert_header("X-Request-Id", id);
    }
    Mock::given(method("POST"))
        .and(path(STOP_PATH))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// Stops two devices without reading to settle ambiguity: these tests are
/// about what one answer says (the fault suite covers the reads).
async fn stop_one(server: &MockServer) -> Result<TargetsReport, Error> {
    client(&server.uri(), Mode::Derived)
        .stop_batch_task(TASK)
        .targets(["dev-1", "dev-2"])
        .reconcile(false)
        .send()
        .await
}

/// The error a failed stop ends in: returned when the request was refused
/// as a whole, or carried by every target's `Unknown` outcome when it may
/// have been processed. `ambiguous` says which is expected.
async fn stop_error(server: &MockServer, ambiguous: bool) -> Arc<Error> {
    let error = match stop_one(server).await {
        Err(error) => Arc::new(error),
        Ok(report) => match &report.results()[0].outcome {
            TargetOutcome::Unknown(Unknown::Error(error)) => error.clone(),
            other => panic!("{other:?}"),
        },
    };
    assert_eq!(error.may_have_been_processed(), ambiguous, "{error}");
    error
}

#[tokio::test]
async fn success_with_unknown_fields_and_status() {
    let body = r#"{"targets":[
        {"target":"dev-1","status":"success","new_field":{"nested":true}},
        {"target":"dev-2","status":"queued","error_code":null}
    ],"page":{"count":2},"extra":"ignored"}"#;
    let server = answering(200, body, "application/json;charset=UTF-8", Some("rid-ok")).await;
    let out = stop_one(&server).await.unwrap();
    assert_eq!(out.request_ids(), ["rid-ok"]);
    assert_eq!(out.results().len(), 2);
    assert!(matches!(
        out.results()[0].outcome,
        TargetOutcome::Succeeded(Succeeded::Answered { .. })
    ));
    // An unknown status is neither a success nor a failure.
    match &out.results()[1].outcome {
        TargetOutcome::Unknown(Unknown::Unanswered { status, request_id }) => {
            assert_eq!(
                (status.as_deref(), request_id.as_deref()),
                (Some("queued"), Some("rid-ok"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!out.all_succeeded());
}

#[tokio::test]
async fn targets_missing_from_the_answer_are_reported() {
    let body = r#"{"targets":[{"target":"dev-1","status":"success"}]}"#;
    let server = answering(200, body, "application/json", None).await;
    let out = stop_one(&server).await.unwrap();
    let unknown: Vec<&str> = out.unknown().map(|r| r.target.as_str()).collect();
    assert_eq!(unknown, ["dev-2"]);
    assert!(!out.all_succeeded());
    assert!(out.request_ids().is_empty());
}

#[tokio::test]
async fn huawei_error_bodies_become_api_errors() {
    let cases = [
        (400, "IOTDA.000006", "Invalid input data."),
        (401, "IOTDA.000002", "The request is unauthorized."),
        (
            403,
            "IOTDA.000022",
            "Operation not allowed. The user does not have the permission",
        ),
        (404, "IOTDA.014200", "The batch task does not exist."),
        (500, "IOTDA.000020", "Decrypt IAM token failed."),
        (429, "APIG.0308", "The throttling threshold has been reached."),
    ];
    for (status, code, message) in cases {
        let body = format!(r#"{{"error_msg":"{message}","error_code":"{code}"}}"#);
        let server = answering(status, &body, "application/json", Some("rid-err")).await;
        let err = stop_error(&server, status >= 500).await;
        let api = err.as_api().unwrap_or_else(|| panic!("{status}: {err:?}"));
        assert_eq!(
            (api.status, api.error_code.as_deref(), api.error_msg.as_deref()),
            (status, Some(code), Some(message))
        );
        assert_eq!(err.request_id(), Some("rid-err"));
        assert_eq!(api.body, None);
        let line = err.to_string();
        assert!(!line.contains('\n'));
        assert!(line.starts_with(&format!("HTTP {status} ")), "{line}");
        assert!(
            line.contains(code) && line.contains(message) && line.contains("(request id rid-err)"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn gateway_error_with_request_id_in_the_body() {
    let body = r#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"0b5c0d4a8f0c4f3e9a5c5e0e1d2c3b4a","encoded_authorization_message":"abc"}"#;
    let server = answering(401, body, "application/json", None).await;
    let err = stop_error(&server, false).await;
    assert_eq!(err.error_code(), Some("APIGW.0301"));
    assert_eq!(err.request_id(), Some("0b5c0d4a8f0c4f3e9a5c5e0e1d2c3b4a"));
    assert_eq!(
        err.to_string(),
        "HTTP 401 Unauthorized: APIGW.0301 Incorrect IAM authentication information: verify aksk signature fail \
         (request id 0b5c0d4a8f0c4f3e9a5c5e0e1d2c3b4a)"
    );
}

#[tokio::test]
async fn html_error_body_is_kept_raw() {
    let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body>\r\n</html>";
    let server = answering(502, html, "text/html", Some("rid-502")).await;
    let err = stop_error(&server, true).await;
    let api = err.as_api().unwrap();
    assert_eq!(api.status, 502);
    assert_eq!(api.error_code, None);
    assert_eq!(api.body.as_deref(), Some(html));
    assert_eq!(
        err.to_string(),
        "HTTP 502 Bad Gateway: body: <html> <head><title>502 Bad Gateway</title></head> <body>nginx</body> </html> (request id rid-502)"
    );
}

#[tokio::test]
async fn other_error_spellings_are_understood() {
    let server = answering(
        400,
        r#"{"error":{"code":"X.1","message":"nested"}}"#,
        "application/json",
        None,
    )
    .await;
    let err = stop_error(&server, false).await;
    assert_eq!(
        (err.error_code(), err.as_api().unwrap().error_msg.as_deref()),
        (Some("X.1"), Some("nested"))
    );
    let server = answering(
        400,
        r#"{"errorCode":"X.2","errorMsg":"camel"}"#,
        "application/json",
        None,
    )
    .await;
    let err = stop_error(&server, false).await;
    assert_eq!(
        (err.error_code(), err.as_api().unwrap().error_msg.as_deref()),
        (Some("X.2"), Some("camel"))
    );
}

#[tokio::test]
async fn invalid_json_on_success_is_a_decode_error() {
    let server = answering(200, "{\"targets\": [", "application/json", Some("rid-trunc")).await;
    match &*stop_error(&server, true).await {
        Error::Decode {
            status,
            request_id,
            body,
            ..
        } => {
            assert_eq!(
                (*status, request_id.as_deref(), body.as_str()),
                (200, Some("rid-trunc"), "{\"targets\": [")
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Each operation's answer is read at the one success status its spec
/// documents: another 2xx, even with a body that would parse, is not an
/// answer, and a 204 without content is DeleteBatchTask's.
#[tokio::test]
async fn only_the_documented_success_status_is_an_answer() {
    let server = answering(202, FORGED_SUCCESS, "application/json", Some("rid-202")).await;
    match &*stop_error(&server, true).await {
        Error::Decode {
            status,
            message,
            request_id,
            ..
        } => assert_eq!(
            (*status, message.as_str(), request_id.as_deref()),
            (202, "unexpected status 202; the API answers 200", Some("rid-202"))
        ),
        other => panic!("{other:?}"),
    }

    let delete_path = format!("/v5/iot/{PROJECT}/batchtasks/{TASK}");
    let delete = |server: &MockServer| {
        client(&server.uri(), Mode::Derived)
            .delete_batch_task(TASK)
            .reconcile(false)
            .send()
    };
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(&delete_path))
        .respond_with(ResponseTemplate::new(204).insert_header("X-Request-Id", "rid-204"))
        .mount(&server)
        .await;
    match delete(&server).await.unwrap() {
        DeleteOutcome::Deleted { request_id } => assert_eq!(request_id.as_deref(), Some("rid-204")),
        other => panic!("{other:?}"),
    }

    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(&delete_path))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{}", "application/json"))
        .mount(&server)
        .await;
    match delete(&server).await.unwrap() {
        DeleteOutcome::Unknown { error } => match &*error {
            Error::Decode { status, message, .. } => assert_eq!(
                (*status, message.as_str()),
                (200, "unexpected status 200; the API answers 204")
            ),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unexpected_redirect_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "http://127.0.0.2:9/steal"))
        .mount(&server)
        .await;
    let err = stop_error(&server, false).await;
    assert_eq!(err.status(), Some(302));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// A server that must not be reached, and the hit count that proves it.
async fn untouchable() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

async fn assert_rejected_unsent(server: &MockServer, result: Result<impl std::fmt::Debug, Error>, field: &str) {
    let err = result.unwrap_err();
    let invalid = err.as_invalid_input().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(invalid.field(), field, "{err}");
    assert_eq!(err.attempts(), 0);
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a request was sent for {field}"
    );
}

#[tokio::test]
async fn each_call_rule_rejects_before_sending() {
    let server = untouchable().await;
    let c = client(&server.uri(), Mode::Derived);
    let cases: Vec<(&str, iotda_batchtask::BatchTargetsCall)> = vec![
        ("task_id", c.stop_batch_task("").all()),
        ("task_id", c.stop_batch_task("61A5F4CBD86B7A1D1C2F3E4A").all()),
        ("task_id", c.stop_batch_task("61a5f4cbd86b7a1d1c2f3e4a0").all()),
        ("task_id", c.stop_batch_task("../../stop").all()),
        ("targets", c.stop_batch_task(TASK)),
        ("targets", c.stop_batch_task(TASK).targets(Vec::<String>::new())),
        ("concurrency", c.stop_batch_task(TASK).target("dev-1").concurrency(0)),
        ("targets", c.stop_batch_task(TASK).target("dev-1").all()),
        ("targets", c.stop_batch_task(TASK).all().target("dev-1")),
        ("targets[1]", c.stop_batch_task(TASK).targets(["dev-1", ""])),
        ("targets[0]", c.stop_batch_task(TASK).target("dev\u{7}")),
        ("targets[0]", c.stop_batch_task(TASK).target("dev-1\r\nX-Evil: 1")),
        ("targets[0]", c.stop_batch_task(TASK).target("x".repeat(129))),
        ("targets[0]", c.stop_batch_task(TASK).target("设备-1")),
    ];
    for (field, call) in cases {
        assert_rejected_unsent(&server, call.send().await, field).await;
    }
}

#[tokio::test]
async fn each_builder_rule_rejects_before_sending() {
    let server = untouchable().await;
    let base = || {
        Client::builder(server.uri())
            .project_id(PROJECT)
            .credentials(Credentials::ak_sk(AK, SK))
            .region("cn-north-4")
    };
    let cases = vec![
        (
            "endpoint",
            Client::builder("http://iotda.example.com")
                .project_id(PROJECT)
                .credentials(Credentials::token(TOKEN))
                .build(),
        ),
        (
            "endpoint",
            Client::builder("iotda.example.com")
                .project_id(PROJECT)
                .credentials(Credentials::token(TOKEN))
                .build(),
        ),
        (
            "endpoint",
            Client::builder("https://user:pw@iotda.example.com")
                .project_id(PROJECT)
                .credentials(Credentials::token(TOKEN))
                .build(),
        ),
        ("project_id", base().project_id("not-hex").build()),
        (
            "project_id",
            Client::builder(server.uri())
                .credentials(Credentials::token(TOKEN))
                .build(),
        ),
        ("instance_id", base().instance_id("UPPER").build()),
        ("instance_id", base().instance_id("a".repeat(37)).build()),
        ("instance_id", base().instance_id("").build()),
        ("credentials", Client::builder(server.uri()).project_id(PROJECT).build()),
        (
            "credentials.ak",
            Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(Credentials::ak_sk("", SK))
                .build(),
        ),
        (
            "credentials.sk",
            Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(Credentials::ak_sk(AK, ""))
                .build(),
        ),
        (
            "credentials.sk",
            Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(Credentials::ak_sk(AK, " sk "))
                .build(),
        ),
        (
            "credentials.token",
            Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(Credentials::token("a\nb"))
                .build(),
        ),
        (
            "region",
            Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(Credentials::ak_sk(AK, SK))
                .build(),
        ),
        ("region", base().region("cn north 4").build()),
        (
            "region",
            Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(Credentials::ak_sk(AK, SK))
                .signing(Signing::Derived)
                .build(),
        ),
        (
            "request_timeout",
            base().request_timeout(std::time::Duration::ZERO).build(),
        ),
    ];
    for (field, result) in cases {
        assert_rejected_unsent(&server, result, field).await;
    }
}

#[tokio::test]
async fn project_id_can_come_from_credentials() {
    let server = answering(200, r#"{"targets":[]}"#, "application/json", None).await;
    let client = Client::builder(server.uri())
        .credentials(Credentials::token(TOKEN).with_project_id(PROJECT))
        .build()
        .unwrap();
    assert_eq!(client.project_id(), PROJECT);
    let out = client.stop_batch_task(TASK).all().send().await.unwrap();
    assert!(out.all_succeeded() && out.results().is_empty());
}

#[test]
fn credentials_from_the_sdk_environment_variables() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    let c = Credentials::from_lookup(env(&[
        ("HUAWEICLOUD_SDK_AK", "AK1"),
        ("HUAWEICLOUD_SDK_SK", "SK1"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
    ]))
    .unwrap();
    assert_eq!(
        (c.ak_sk_pair().unwrap().access_key(), c.project_id()),
        ("AK1", Some(PROJECT))
    );
    let c = Credentials::from_lookup(env(&[("CLOUD_SDK_AK", "AK2"), ("CLOUD_SDK_SK", "SK2")])).unwrap();
    assert_eq!(c.ak_sk_pair().unwrap().access_key(), "AK2");
    let c = Credentials::from_lookup(env(&[
        ("HUAWEICLOUD_SDK_AK", "AK1"),
        ("HUAWEICLOUD_SDK_SK", "SK1"),
        ("CLOUD_SDK_AK", "AK2"),
        ("CLOUD_SDK_SK", "SK2"),
    ]))
    .unwrap();
    assert_eq!(c.ak_sk_pair().unwrap().access_key(), "AK1", "HUAWEICLOUD_SDK_* wins");
    let c = Credentials::from_lookup(env(&[
        ("HUAWEICLOUD_SDK_AK", "AK1"),
        ("HUAWEICLOUD_SDK_SK", "SK1"),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "ST"),
    ]))
    .unwrap();
    assert!(format!("{c:?}").contains("security_token: Some(\"[redacted]\")"));
    assert!(
        Credentials::from_lookup(env(&[("IOTDA_AUTH_TOKEN", "T")]))
            .unwrap()
            .is_token()
    );
    assert_eq!(
        Credentials::from_lookup(env(&[("HUAWEICLOUD_SDK_AK", "AK1")]))
            .unwrap_err()
            .field(),
        "HUAWEICLOUD_SDK_SK"
    );
    assert_eq!(Credentials::from_lookup(env(&[])).unwrap_err().field(), "credentials");
}

#[tokio::test]
async fn each_request_span_says_what_was_asked() {
    let (capture, _guard) = capture_tracing();

    let server = answering(200, r#"{"targets":[]}"#, "application/json", Some("rid-span")).await;
    let client = client(&server.uri(), Mode::Derived);
    // Repeats are dropped before the span records the count.
    let one = client.stop_batch_task(TASK).targets(["dev-1", "dev-2", "dev-1"]);
    one.send().await.unwrap();
    client.stop_batch_task(TASK).all().send().await.unwrap();
    // A bulk call's chunks: 100 and 50 targets, each its own request span.
    let many = (0..150).map(|i| format!("dev-{i}"));
    client
        .stop_batch_task(TASK)
        .targets(many)
        .concurrency(1)
        .send()
        .await
        .unwrap();

    let text = capture.text();
    // Each request: the operation's span (what was asked) and, inside it,
    // the request span the hook made (what happened on the wire).
    let requests: Vec<(&str, &str)> = text
        .lines()
        .filter(|line| line.contains(" close "))
        .filter_map(|line| {
            let asked = &line[line.find("iotda.stop_batch_task{")?..];
            let asked = &asked[..=asked.find('}')?];
            let wire = &line[line.find("iotda.request{")?..];
            Some((asked, &wire[..=wire.find('}')?]))
        })
        .collect();
    fn field<'a>(span: &'a str, name: &str) -> &'a str {
        let at = span
            .find(&format!(" {name}="))
            .or_else(|| span.find(&format!("{{{name}=")))
            .unwrap_or_else(|| panic!("{name} missing: {span}"));
        let rest = &span[at + name.len() + 2..];
        &rest[..rest.find([' ', '}']).unwrap()]
    }
    let asked: Vec<(&str, &str)> = requests
        .iter()
        .map(|(a, _)| (field(a, "targets"), field(a, "all")))
        .collect();
    assert_eq!(
        asked,
        [("2", "false"), ("0", "true"), ("100", "false"), ("50", "false")],
        "{text}"
    );
    for (_, wire) in &requests {
        assert_eq!(field(wire, "operation"), "\"stop_batch_task\"", "{wire}");
        assert_eq!(field(wire, "request_id"), "\"rid-span\"", "{wire}");
        assert_eq!(field(wire, "status"), "200", "{wire}");
    }
}

/// Call builders own a handle to the client: their futures can be spawned
/// and outlive the `Client` value they came from.
#[tokio::test]
async fn stop_futures_are_send_and_static() {
    fn spawnable<T: std::future::Future + Send + 'static>(future: T) -> T {
        future
    }
    let server = answering(
        200,
        r#"{"targets":[{"target":"dev-1","status":"success"}]}"#,
        "application/json",
        None,
    )
    .await;
    let (single, bulk) = {
        let client = client(&server.uri(), Mode::Token);
        (
            spawnable(client.stop_batch_task(TASK).target("dev-1").send()),
            spawnable(client.stop_batch_task(TASK).targets(["dev-1"]).send()),
        )
    };
    assert!(tokio::spawn(single).await.unwrap().unwrap().all_succeeded());
    assert!(tokio::spawn(bulk).await.unwrap().unwrap().all_succeeded());
}

/// Issue 12 asked for `reqwest::Error` to be boxed in `Error::Transport`.
/// It already is a box (one pointer: reqwest keeps its details behind
/// `Box<Inner>`), so a second box would add an allocation and hide
/// `is_connect()` and the rest from callers; `reqwest` is re-exported, so its
/// version never has to be matched by hand. What matters is checked here:
/// boxing would not shrink it, and the source is reqwest's own error.
#[tokio::test]
async fn transport_errors_carry_reqwests_error_which_is_already_one_pointer() {
    type Source = Option<iotda_batchtask::reqwest::Error>;
    assert_eq!(size_of::<Source>(), size_of::<usize>());
    assert_eq!(
        size_of::<Source>(),
        size_of::<Option<Box<iotda_batchtask::reqwest::Error>>>()
    );

    // A port nothing listens on: refused before anything is sent.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = Client::builder(endpoint)
        .project_id(PROJECT)
        .credentials(Credentials::token("t"))
        .no_retries()
        .build()
        .unwrap();
    let error = client.stop_batch_task(TASK).target("dev-1").send().await.unwrap_err();
    let source = std::error::Error::source(&error).expect("the transport error's source");
    let reqwest_error = source
        .downcast_ref::<iotda_batchtask::reqwest::Error>()
        .expect("reqwest's own error");
    assert!(reqwest_error.is_connect(), "{error}");
    assert!(!error.may_have_been_processed());
}
