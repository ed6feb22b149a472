//! Secrets never reach `Debug`, `Display` or logs: every credential, client,
//! request and error type is formatted here and searched for them.

use crate::capture::capture_tracing;
use crate::common;

use common::*;
use iotda_batchtask::auth::{Algorithm, Signer};
use iotda_batchtask::outcome::Unknown;
use iotda_batchtask::{Client, Credentials, Error, Signing};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRETS: [&str; 3] = [SK, TOKEN, SECURITY_TOKEN];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks a secret: {text}");
    }
}

fn assert_formats_clean(what: &str, value: &(impl std::fmt::Debug + ?Sized)) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

fn all_credentials() -> Vec<Credentials> {
    vec![
        Credentials::token(TOKEN),
        Credentials::ak_sk(AK, SK).with_project_id(PROJECT),
        Credentials::temporary(AK, SK, SECURITY_TOKEN),
    ]
}

#[tokio::test]
async fn nothing_formats_or_logs_a_secret() {
    // `log` records (reqwest's, hyper's) reach the capture too.
    let (capture, _guard) = capture_tracing();
    // Any panic message is captured as well (there should be none).
    // The usual report still follows, so a failing assert here shows why.
    let panics = capture.clone();
    let report = std::sync::Arc::new(std::panic::take_hook());
    let previous = report.clone();
    std::panic::set_hook(Box::new(move |info| {
        let _ = std::io::Write::write_all(&mut panics.clone(), format!("PANIC: {info}\n").as_bytes());
        previous(info);
    }));

    for credentials in all_credentials() {
        assert_formats_clean("Credentials", &credentials);
        if let Some(pair) = credentials.ak_sk_pair() {
            assert_formats_clean("AkSk", pair);
            let signer = Signer::new(&credentials, Algorithm::Plain)
                .unwrap()
                .with_project_id(PROJECT);
            assert_formats_clean("Signer", &signer);
            let mut request = reqwest::Request::new(reqwest::Method::POST, "https://example.com/a".parse().unwrap());
            signer.sign(&mut request, jiff::Timestamp::now()).unwrap();
            assert_formats_clean("signed reqwest::Request", &request);
        }
    }

    let mut errors: Vec<Error> = Vec::new();
    let mut ambiguous: Vec<String> = Vec::new();
    for (status, body) in [
        (200, "{}"),
        (200, "not json"),
        (401, r#"{"error_code":"APIGW.0301","error_msg":"x"}"#),
        (502, "<html>"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        for credentials in all_credentials() {
            let builder = Client::builder(server.uri())
                .project_id(PROJECT)
                .credentials(credentials.clone())
                .region("cn-north-4");
            assert_formats_clean("ClientBuilder", &builder);
            let client = builder.build().unwrap();
            assert_formats_clean("Client", &client);
            let call = client.stop_batch_task(TASK).targets(["dev-1"]);
            assert_formats_clean("StopBatchTask", &call);
            match call.send().await {
                Ok(out) => {
                    assert_formats_clean("TargetsReport", &out);
                    // An ambiguous failure lives in the report: its error too.
                    for result in out.results() {
                        if let iotda_batchtask::TargetOutcome::Unknown(Unknown::Error(e)) = &result.outcome {
                            ambiguous.push(e.to_string());
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
    }
    // Transport failure: nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for credentials in all_credentials() {
        let client = Client::builder(format!("http://{closed}"))
            .project_id(PROJECT)
            .credentials(credentials)
            .region("cn-north-4")
            .build()
            .unwrap();
        errors.push(client.stop_batch_task(TASK).all().send().await.unwrap_err());
    }
    // Validation failures of every secret field.
    for bad in [
        Credentials::ak_sk(AK, format!("{SK} ")),
        Credentials::temporary(AK, SK, format!("{SECURITY_TOKEN}\n")),
        Credentials::token(format!(" {TOKEN}")),
    ] {
        let result = Client::builder("https://iotda.cn-north-4.myhuaweicloud.com")
            .project_id(PROJECT)
            .credentials(bad)
            .signing(Signing::Plain)
            .build();
        errors.push(result.unwrap_err());
    }

    assert!(
        errors.len() + ambiguous.len() >= 12,
        "{} + {}",
        errors.len(),
        ambiguous.len()
    );
    for line in &ambiguous {
        assert_clean("an ambiguous error's Display", line);
    }
    for error in &errors {
        assert_clean("Error Display", &error.to_string());
        assert_formats_clean("Error", error);
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            assert_clean("Error source", &s.to_string());
            source = s.source();
        }
    }

    drop(std::panic::take_hook());
    if let Ok(report) = std::sync::Arc::try_unwrap(report) {
        std::panic::set_hook(report);
    }
    let logged = capture.text();
    assert!(
        logged.contains("iotda.stop_batch_task"),
        "the span was logged: {logged}"
    );
    assert!(logged.contains("TRACE"), "TRACE-level events were captured");
    // The signer's TRACE logs were among them, with the signed security token masked.
    assert!(logged.contains("canonical_request") && logged.contains("string_to_sign"));
    assert!(logged.contains("x-security-token:***"), "{logged}");
    assert!(!logged.contains("PANIC"), "nothing panicked: {logged}");
    assert_clean("tracing output", &logged);
}
