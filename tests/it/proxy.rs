//! Proxies: a loopback or plain-http endpoint is never reached through one,
//! whatever the environment or the builder say; an https endpoint uses the
//! explicit proxy (a `CONNECT` tunnel). The decision itself, with a fake
//! environment, is unit-tested in `src/client/proxy.rs`; here the real
//! environment is exercised in a child process, so no test mutates this
//! process's environment.

use std::time::Duration;

use crate::common;

use common::*;
use iotda_batchtask::{Client, Credentials, Error};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The real server's answer, distinguishable from [`FORGED_SUCCESS`].
const REAL_ANSWER: &str =
    r#"{"targets":[{"target":"dev-1","status":"failure","error_code":"IOTDA.014219","error_msg":"real"}]}"#;

async fn real_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(REAL_ANSWER, "application/json"))
        .mount(&server)
        .await;
    server
}

/// Sends a stop for `dev-1` and asserts that the real server answered.
async fn assert_real_answer(client: &Client) {
    let out = client.stop_batch_task(TASK).targets(["dev-1"]).send().await.unwrap();
    let failed: Vec<_> = out.failed().collect();
    assert_eq!(failed.len(), 1, "{out:?}");
    assert!(
        matches!(
            &failed[0].outcome,
            iotda_batchtask::TargetOutcome::Failed(iotda_batchtask::outcome::Failed::Answered { error_msg, .. })
                if error_msg.as_deref() == Some("real")
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn an_explicit_proxy_is_not_used_for_a_loopback_endpoint() {
    let proxy = FakeProxy::start().await;
    let server = real_server().await;
    let client = Client::builder(server.uri())
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .proxy(&proxy.url)
        .build()
        .unwrap();
    assert_real_answer(&client).await;
    assert_eq!(proxy.connections(), 0);
}

/// An https endpoint on loopback is reached directly too: the connection goes
/// to the endpoint (whose TLS handshake then fails), none to the proxy.
#[tokio::test]
async fn an_https_loopback_endpoint_is_reached_directly() {
    let proxy = FakeProxy::start().await;
    let (addr, server_connections) = counting_listener().await;
    let client = Client::builder(format!("https://{addr}"))
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .proxy(&proxy.url)
        .no_retries()
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = client
        .stop_batch_task(TASK)
        .targets(["dev-1"])
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(proxy.connections(), 0);
    assert!(server_connections.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

/// For a remote https endpoint the explicit proxy is used, as a tunnel: it
/// sees `CONNECT host:443` and no credentials, and its forged answer to the
/// tunnel request is not taken for the server's.
#[tokio::test]
async fn a_remote_https_endpoint_goes_through_the_explicit_proxy_as_a_tunnel() {
    let proxy = FakeProxy::start().await;
    let client = Client::builder("https://iotda.example.invalid")
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .proxy(&proxy.url)
        .no_retries()
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = client
        .stop_batch_task(TASK)
        .targets(["dev-1"])
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(proxy.connections() >= 1);
    let received = proxy.received.lock().unwrap().clone();
    let first = String::from_utf8_lossy(&received[0]).to_ascii_lowercase();
    assert!(first.starts_with("connect iotda.example.invalid:443 "), "{first}");
    assert!(!first.contains("x-auth-token") && !first.contains(&TOKEN.to_ascii_lowercase()));
}

#[test]
fn bad_proxy_settings_are_refused_naming_the_field() {
    let builder = || {
        Client::builder("https://iotda.example.com")
            .project_id(PROJECT)
            .credentials(Credentials::token(TOKEN))
    };
    for bad in [
        "socks5://127.0.0.1:1080",
        "http://user:hunter2@proxy:3128",
        "proxy:3128",
    ] {
        let err = builder().proxy(bad).build().unwrap_err();
        let invalid = err.as_invalid_input().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(invalid.field(), "proxy", "{bad}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    let theirs = reqwest::Client::new();
    for b in [
        builder().http_client(theirs.clone()).proxy("http://proxy:3128"),
        builder().http_client(theirs.clone()).no_proxy(),
    ] {
        assert_eq!(b.build().unwrap_err().as_invalid_input().unwrap().field(), "proxy");
    }
    assert!(builder().proxy("https://user:pw@proxy:3128").build().is_ok());
    assert!(builder().proxy("http://proxy:3128").no_proxy().build().is_ok());
}

/// Set in the child's environment: the real server's URL.
const CHILD_SERVER: &str = "IOTDA_BATCHTASK_TEST_PROXY_CHILD_SERVER";
/// The proxy variables a hostile (or merely corporate) environment sets.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
];

/// Runs this test binary again as a child with every proxy variable pointing
/// at a fake proxy, and has it call a loopback server through
/// `ClientBuilder::build` (which reads the real environment).
#[tokio::test]
async fn proxy_variables_in_the_environment_do_not_touch_a_loopback_endpoint() {
    let proxy = FakeProxy::start().await;
    let server = real_server().await;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["proxy::env_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_SERVER, server.uri())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for name in PROXY_VARS {
        child.env(name, &proxy.url);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.output())
        .await
        .expect("child finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "the child ran the test: {stdout}");
    assert_eq!(proxy.connections(), 0);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// The child half of the test above; does nothing unless started by it.
#[tokio::test]
async fn env_child() {
    let Some(server) = std::env::var_os(CHILD_SERVER) else {
        return;
    };
    let client = Client::builder(server.into_string().unwrap())
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .no_retries()
        .build()
        .unwrap();
    assert_real_answer(&client).await;
}
