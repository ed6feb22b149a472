//! The bad-input matrix: every hostile value is a typed `InvalidInput` naming
//! its field, and no request reaches the server.

use crate::common;

use std::future::Future;
use std::pin::Pin;

use common::*;
use iotda_batchtask::{Client, ClientBuilder, Credentials, Error, Signing};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

type Attempt = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

fn builder(endpoint: &str) -> ClientBuilder {
    Client::builder(endpoint)
        .project_id(PROJECT)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
}

/// Builds a client from `b`, then stops `targets` (or everything).
fn attempt(b: ClientBuilder, task: &'static str, targets: Option<Vec<String>>) -> Attempt {
    Box::pin(async move {
        let client = b.build()?;
        let call = client.stop_batch_task(task);
        match targets {
            Some(t) => call.targets(t).send().await.map(drop),
            None => call.all().send().await.map(drop),
        }
    })
}

fn targets(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

#[tokio::test]
async fn bad_input_matrix_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let uri = server.uri();
    let ok = || builder(&uri);
    let with_credentials = |c: Credentials| {
        Client::builder(&uri)
            .project_id(PROJECT)
            .region("cn-north-4")
            .credentials(c)
    };

    let cases: Vec<(&str, &str, Attempt)> = vec![
        // task_id
        ("task_id", "empty", attempt(ok(), "", None)),
        ("task_id", "not hex", attempt(ok(), "zzzz", None)),
        ("task_id", "uppercase hex", attempt(ok(), "61A5F4CB", None)),
        (
            "task_id",
            "25 characters",
            attempt(ok(), "61a5f4cbd86b7a1d1c2f3e4a0", None),
        ),
        ("task_id", "path traversal", attempt(ok(), "../../../v5", None)),
        ("task_id", "space", attempt(ok(), "61a5 f4cb", None)),
        ("task_id", "CR/LF", attempt(ok(), "61a5\r\n", None)),
        ("task_id", "unicode", attempt(ok(), "六一a5", None)),
        // project_id
        ("project_id", "empty", attempt(ok().project_id(""), TASK, None)),
        (
            "project_id",
            "33 characters",
            attempt(ok().project_id("0".repeat(33)), TASK, None),
        ),
        ("project_id", "not hex", attempt(ok().project_id("xyz"), TASK, None)),
        (
            "project_id",
            "dashes",
            attempt(ok().project_id("0123-4567"), TASK, None),
        ),
        (
            "project_id",
            "CR/LF",
            attempt(ok().project_id("0123\r\nX: y"), TASK, None),
        ),
        // instance_id
        ("instance_id", "empty", attempt(ok().instance_id(""), TASK, None)),
        (
            "instance_id",
            "37 characters",
            attempt(ok().instance_id("a".repeat(37)), TASK, None),
        ),
        (
            "instance_id",
            "uppercase",
            attempt(ok().instance_id("1A7FFC5C"), TASK, None),
        ),
        (
            "instance_id",
            "newline",
            attempt(ok().instance_id("1a7f\n"), TASK, None),
        ),
        ("instance_id", "unicode", attempt(ok().instance_id("实例"), TASK, None)),
        // targets
        (
            "targets",
            "none given",
            Box::pin({
                let b = ok();
                async move { b.build()?.stop_batch_task(TASK).send().await.map(drop) }
            }),
        ),
        ("targets", "0 targets", attempt(ok(), TASK, Some(Vec::new()))),
        (
            "concurrency",
            "65 requests in flight",
            Box::pin({
                let b = ok();
                async move {
                    b.build()?
                        .stop_batch_task(TASK)
                        .target("dev-1")
                        .concurrency(65)
                        .send()
                        .await
                        .map(drop)
                }
            }),
        ),
        (
            "targets",
            "all() and targets",
            Box::pin({
                let b = ok();
                async move {
                    b.build()?
                        .stop_batch_task(TASK)
                        .all()
                        .target("d1")
                        .send()
                        .await
                        .map(drop)
                }
            }),
        ),
        ("targets[0]", "empty string", attempt(ok(), TASK, targets(&[""]))),
        ("targets[1]", "NUL", attempt(ok(), TASK, targets(&["ok", "a\0b"]))),
        (
            "targets[0]",
            "CR/LF injection",
            attempt(ok(), TASK, targets(&["dev\r\nX-Evil: 1"])),
        ),
        ("targets[0]", "tab", attempt(ok(), TASK, targets(&["dev\t1"]))),
        (
            "targets[0]",
            "129 characters",
            attempt(ok(), TASK, Some(vec!["d".repeat(129)])),
        ),
        (
            "targets[0]",
            "1 MiB",
            attempt(ok(), TASK, Some(vec!["d".repeat(1 << 20)])),
        ),
        ("targets[0]", "unicode", attempt(ok(), TASK, targets(&["设备-1"]))),
        ("targets[0]", "emoji", attempt(ok(), TASK, targets(&["😀"]))),
        ("targets[0]", "space", attempt(ok(), TASK, targets(&["dev 1"]))),
        ("targets[0]", "slash", attempt(ok(), TASK, targets(&["dev/1"]))),
        (
            "targets[2]",
            "quote",
            attempt(ok(), TASK, targets(&["a", "b", "\"c\""])),
        ),
        // endpoint
        (
            "endpoint",
            "http:// to a remote host",
            attempt(builder("http://iotda.cn-north-4.myhuaweicloud.com"), TASK, None),
        ),
        (
            "endpoint",
            "http:// to a private address",
            attempt(builder("http://10.0.0.1:8080"), TASK, None),
        ),
        (
            "endpoint",
            "http:// to a loopback-looking name",
            attempt(builder("http://127.0.0.1.nip.io"), TASK, None),
        ),
        (
            "endpoint",
            "userinfo",
            attempt(builder("https://user:secret@iotda.example.com"), TASK, None),
        ),
        (
            "endpoint",
            "missing scheme",
            attempt(builder("iotda.cn-north-4.myhuaweicloud.com"), TASK, None),
        ),
        ("endpoint", "empty", attempt(builder(""), TASK, None)),
        (
            "endpoint",
            "other scheme",
            attempt(builder("ftp://iotda.example.com"), TASK, None),
        ),
        (
            "endpoint",
            "query",
            attempt(builder("https://iotda.example.com/?x=1"), TASK, None),
        ),
        (
            "endpoint",
            "fragment",
            attempt(builder("https://iotda.example.com/#x"), TASK, None),
        ),
        // credentials
        (
            "credentials",
            "none",
            attempt(Client::builder(&uri).project_id(PROJECT), TASK, None),
        ),
        (
            "credentials.ak",
            "empty AK",
            attempt(with_credentials(Credentials::ak_sk("", SK)), TASK, None),
        ),
        (
            "credentials.ak",
            "non-ASCII AK",
            attempt(with_credentials(Credentials::ak_sk("ÄK0001", SK)), TASK, None),
        ),
        (
            "credentials.ak",
            "AK with a comma",
            attempt(with_credentials(Credentials::ak_sk("AK,Signature=x", SK)), TASK, None),
        ),
        (
            "credentials.sk",
            "empty SK",
            attempt(with_credentials(Credentials::ak_sk(AK, "")), TASK, None),
        ),
        (
            "credentials.sk",
            "whitespace SK",
            attempt(with_credentials(Credentials::ak_sk(AK, "   ")), TASK, None),
        ),
        (
            "credentials.sk",
            "SK with a trailing newline",
            attempt(with_credentials(Credentials::ak_sk(AK, format!("{SK}\n"))), TASK, None),
        ),
        (
            "credentials.sk",
            "non-ASCII SK",
            attempt(with_credentials(Credentials::ak_sk(AK, "sécret")), TASK, None),
        ),
        (
            "credentials.token",
            "empty token",
            attempt(with_credentials(Credentials::token("")), TASK, None),
        ),
        (
            "credentials.token",
            "token with CR/LF",
            attempt(with_credentials(Credentials::token("tok\r\nX: y")), TASK, None),
        ),
        (
            "credentials.security_token",
            "empty security token",
            attempt(with_credentials(Credentials::temporary(AK, SK, "")), TASK, None),
        ),
        (
            "credentials.security_token",
            "non-ASCII security token",
            attempt(with_credentials(Credentials::temporary(AK, SK, "tøken")), TASK, None),
        ),
        // region
        (
            "region",
            "missing for derived signing",
            attempt(
                Client::builder(&uri)
                    .project_id(PROJECT)
                    .credentials(Credentials::ak_sk(AK, SK))
                    .signing(Signing::Derived),
                TASK,
                None,
            ),
        ),
        (
            "region",
            "missing, Auto chose derived",
            attempt(
                Client::builder(&uri)
                    .project_id(PROJECT)
                    .credentials(Credentials::ak_sk(AK, SK)),
                TASK,
                None,
            ),
        ),
        ("region", "spaces", attempt(ok().region("cn north 4"), TASK, None)),
        ("region", "uppercase", attempt(ok().region("CN-NORTH-4"), TASK, None)),
        ("region", "slash", attempt(ok().region("cn-north-4/evil"), TASK, None)),
        ("region", "empty", attempt(ok().region(""), TASK, None)),
        // limits
        (
            "request_timeout",
            "zero",
            attempt(ok().request_timeout(std::time::Duration::ZERO), TASK, None),
        ),
        (
            "deadline",
            "zero",
            attempt(ok().deadline(std::time::Duration::ZERO), TASK, None),
        ),
        (
            "max_response_bytes",
            "zero",
            attempt(ok().max_response_bytes(0), TASK, None),
        ),
    ];

    let total = cases.len();
    assert_eq!(total, 63, "docs/reliability.md quotes 63 of 63");
    let mut rejected = 0;
    for (field, what, run) in cases {
        let err = run.await.expect_err(what);
        let invalid = err
            .as_invalid_input()
            .unwrap_or_else(|| panic!("{what}: not InvalidInput: {err:?}"));
        assert_eq!(invalid.field(), field, "{what}: {err}");
        assert_eq!(err.attempts(), 0, "{what}");
        let hits = server.received_requests().await.unwrap().len();
        assert_eq!(hits, 0, "{what}: a request was sent");
        rejected += 1;
    }
    println!("bad-input matrix: {total} cases, {rejected} rejected before any request, 0 requests sent");
}
