//! The metadata service and IAM's project list the emulator serves, checked
//! at the HTTP level (the library's providers are tested against them in
//! the library's own tests).

use std::time::Duration;

use iotda_batchtask::auth::{Algorithm, Credentials, Signer};
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig};
use serde_json::Value;

/// An HTTP client that ignores the process's proxy variables.
fn direct() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

async fn fetch_credentials(base: &str) -> (String, String, String, String) {
    let http = direct();
    let token = http
        .put(format!("{base}/meta-data/latest/api/token"))
        .header("X-Metadata-Token-Ttl-Seconds", "21600")
        .send()
        .await
        .expect("token")
        .text()
        .await
        .expect("text");
    let answer: Value = http
        .get(format!("{base}/openstack/latest/securitykey"))
        .header("X-Metadata-Token", token)
        .send()
        .await
        .expect("securitykey")
        .json()
        .await
        .expect("json");
    let c = &answer["credential"];
    let field = |name: &str| c[name].as_str().expect(name).to_owned();
    (
        field("access"),
        field("secret"),
        field("securitytoken"),
        field("expires_at"),
    )
}

async fn show(base: &str, credentials: &Credentials, token_override: Option<&str>) -> u16 {
    let mut request = reqwest::Request::new(
        reqwest::Method::GET,
        format!("{base}/v5/iot/{DEMO_PROJECT_ID}/batchtasks/{DEMO_TASK_ID}")
            .parse()
            .expect("url"),
    );
    Signer::new(credentials, Algorithm::Plain)
        .expect("signer")
        .sign(&mut request, jiff::Timestamp::now())
        .expect("signed");
    if let Some(token) = token_override {
        request
            .headers_mut()
            .insert("x-security-token", token.parse().expect("header"));
    }
    direct().execute(request).await.expect("sent").status().as_u16()
}

#[tokio::test]
async fn issued_temporary_credentials_work_until_they_expire() {
    let emulator = Emulator::start(EmulatorConfig::new().temporary_credentials(Duration::from_secs(3600)))
        .await
        .expect("emulator");
    let base = emulator.base_url();
    let (ak, sk, token, expires_at) = fetch_credentials(&base).await;
    let expires_at: jiff::Timestamp = expires_at.parse().expect("a timestamp");
    let left = expires_at.duration_since(jiff::Timestamp::now());
    assert!(
        left > jiff::SignedDuration::from_mins(59) && left <= jiff::SignedDuration::from_mins(60),
        "{left:?}"
    );
    let credentials = Credentials::temporary(&ak, &sk, &token);
    assert_eq!(show(&base, &credentials, None).await, 200);
    // Without the security token, or with another's: refused.
    assert_eq!(show(&base, &Credentials::ak_sk(&ak, &sk), None).await, 401);
    let (_, _, other_token, _) = fetch_credentials(&base).await;
    assert_eq!(show(&base, &credentials, Some(&other_token)).await, 401);
    // An hour later they are refused; newly issued ones work.
    emulator.advance_credential_clock(Duration::from_secs(3600));
    assert_eq!(show(&base, &credentials, None).await, 401);
    let (ak, sk, token, _) = fetch_credentials(&base).await;
    assert_eq!(show(&base, &Credentials::temporary(ak, sk, token), None).await, 200);
}

#[tokio::test]
async fn without_temporary_credentials_there_is_no_metadata_service() {
    let emulator = Emulator::start(EmulatorConfig::new()).await.expect("emulator");
    let status = direct()
        .get(format!("{}/openstack/latest/securitykey", emulator.base_url()))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn iam_lists_projects_by_name_to_signed_requests_only() {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk("AK0001", "test-secret"))
        .await
        .expect("emulator");
    let url = format!("{}/v3/projects?name=cn-north-4", emulator.base_url());
    let unsigned = direct().get(&url).send().await.expect("sent").status();
    assert_eq!(unsigned, 401);
    let mut request = reqwest::Request::new(reqwest::Method::GET, url.parse().expect("url"));
    Signer::new(&Credentials::ak_sk("AK0001", "test-secret"), Algorithm::Plain)
        .expect("signer")
        .sign(&mut request, jiff::Timestamp::now())
        .expect("signed");
    let answer: Value = direct()
        .execute(request)
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    // The demo seed's one project, under the emulator's region.
    assert_eq!(answer["projects"].as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(answer["projects"][0]["id"], DEMO_PROJECT_ID);
    assert_eq!(answer["projects"][0]["name"], "cn-north-4");
}
