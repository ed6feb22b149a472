//! Secrets never reach `Debug`, `Display` or logs: every credential, client,
//! request and error type is formatted here and searched for them.

mod common;

use common::*;
use iotda_batchtask::auth::{Algorithm, Signer};
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
    let capture = Capture::default();
    // `log` records (reqwest's, hyper's) reach the subscriber too.
    let _ = tracing_log::LogTracer::init();
    // Any panic message is captured as well (there should be none).
    // The usual report still follows, so a failing assert here shows why.
    let panics = capture.clone();
    let report = std::sync::Arc::new(std::panic::take_hook());
    let previous = report.clone();
    std::panic::set_hook(Box::new(move |info| {
        let _ = std::io::Write::write_all(&mut panics.clone(), format!("PANIC: {info}\n").as_bytes());
        previous(info);
    }));
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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
                Ok(out) => assert_formats_clean("StopOutput", &out),
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

    assert!(errors.len() >= 12, "{}", errors.len());
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
    assert!(!logged.contains("PANIC"), "nothing panicked: {logged}");
    assert_clean("tracing output", &logged);
}

/// The CLI with real secrets in its environment, at the most verbose log
/// level, for a success and for each failure class: nothing it prints on
/// stdout or stderr contains them.
#[cfg(feature = "cli")]
#[test]
fn cli_output_never_contains_a_secret() {
    use iotda_batchtask::emulator::{DEMO_FINISHED_TASK_ID, DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig};

    let emulator = start(EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN));
    let endpoint = emulator.handle.base_url();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let closed = format!("http://{closed}");
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = assert_cmd::Command::cargo_bin("iotda-batchtask").unwrap();
        cmd.env_clear().env("RUST_LOG", "trace").arg("-v").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.timeout(std::time::Duration::from_secs(60)).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let ak_sk = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
    ];
    let temporary = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN),
        ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
    ];
    let token = [("IOTDA_AUTH_TOKEN", TOKEN)];
    let stop = |endpoint: &str, task: &str, more: &[&str]| -> Vec<String> {
        [
            "stop",
            "--endpoint",
            endpoint,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            task,
        ]
        .iter()
        .chain(more)
        .map(|s| s.to_string())
        .collect()
    };
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<String>, i32);
    let cases: Vec<Case> = vec![
        (
            "success, AK/SK",
            &ak_sk,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-0001"]),
            0,
        ),
        (
            "success, token, json",
            &token,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-0002", "--output", "json"]),
            0,
        ),
        (
            "success, temporary credentials",
            &temporary,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-0003"]),
            0,
        ),
        (
            "some targets failed",
            &ak_sk,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "dev-9999"]),
            3,
        ),
        (
            "API error",
            &temporary,
            stop(&endpoint, DEMO_FINISHED_TASK_ID, &["--all"]),
            1,
        ),
        (
            "auth refused",
            &[("IOTDA_AUTH_TOKEN", "wrong-token")],
            stop(&endpoint, DEMO_TASK_ID, &["--all"]),
            1,
        ),
        ("transport error", &token, stop(&closed, DEMO_TASK_ID, &["--all"]), 1),
        (
            "invalid input",
            &ak_sk,
            stop(&endpoint, DEMO_TASK_ID, &["--target", "bad device"]),
            2,
        ),
        ("usage error", &token, vec!["stop".into(), "--nonsense".into()], 2),
    ];
    for (name, env, args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, output) = run(env, &args);
        assert_eq!(code, Some(expected), "{name}: {output}");
        assert_clean(name, &output);
        assert!(!output.contains("panicked"), "{name}: {output}");
    }
    // A bad secret in the environment is named, never echoed.
    let bad_sk = format!("{SK} ");
    let (code, output) = run(
        &[("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", &bad_sk)],
        &[
            "stop",
            "--endpoint",
            &endpoint,
            "--project-id",
            DEMO_PROJECT_ID,
            "--task-id",
            DEMO_TASK_ID,
            "--all",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(output.contains("invalid credentials.sk"), "{output}");
    assert_clean("bad SK", &output);
}
