//! The emulator under attack: forged, replayed, stale and misdirected
//! credentials. Every row must get 401 with the gateway's body and leave the
//! state unchanged; the suite prints the count docs/reliability.md quotes.

use crate::common;

use bytes::Bytes;
use common::*;
use iotda_batchtask::Credentials;
use iotda_batchtask::auth::{Algorithm, Signer};
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, Service};
use iotda_batchtask_signing::format_sdk_date;
use jiff::{SignedDuration, Timestamp};

const HOST: &str = "127.0.0.1:18080";
const BODY: &str = r#"{"targets":["dev-0001","dev-0002"]}"#;

fn now() -> Timestamp {
    "2026-11-28T12:00:00Z".parse().unwrap()
}

fn stop_path(task: &str) -> String {
    format!("/v5/iot/{DEMO_PROJECT_ID}/batchtasks/{task}/stop")
}

fn derived(region: &str, service: &str) -> Algorithm {
    Algorithm::Derived {
        region: region.into(),
        service: service.into(),
    }
}

/// A request as a client would send it: signed over `uri`, `body` and the
/// usual headers at `at`.
fn signed(sk: &str, algorithm: Algorithm, uri: &str, body: &str, at: Timestamp) -> http::Request<Bytes> {
    let signer = Signer::new(&Credentials::ak_sk(AK, sk), algorithm)
        .unwrap()
        .with_project_id(DEMO_PROJECT_ID);
    let mut request = reqwest::Request::new(reqwest::Method::POST, format!("http://{HOST}{uri}").parse().unwrap());
    request
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    *request.body_mut() = Some(body.to_owned().into());
    signer.sign(&mut request, at).unwrap();
    to_http(&request, body)
}

fn to_http(request: &reqwest::Request, body: &str) -> http::Request<Bytes> {
    let uri = match request.url().query() {
        Some(q) => format!("{}?{q}", request.url().path()),
        None => request.url().path().to_owned(),
    };
    let mut builder = http::Request::builder().method(request.method().as_str()).uri(uri);
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    builder.body(Bytes::from(body.to_owned())).unwrap()
}

fn good() -> http::Request<Bytes> {
    signed(SK, Algorithm::Plain, &stop_path(DEMO_TASK_ID), BODY, now())
}

fn with_header(mut r: http::Request<Bytes>, name: &'static str, value: &str) -> http::Request<Bytes> {
    r.headers_mut().insert(name, value.parse().unwrap());
    r
}

fn unsigned(headers: &[(&'static str, &str)]) -> http::Request<Bytes> {
    let mut builder = http::Request::post(stop_path(DEMO_TASK_ID))
        .header("host", HOST)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Bytes::from_static(BODY.as_bytes())).unwrap()
}

fn flip_last(value: &str) -> String {
    let last = if value.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &value[..value.len() - 1])
}

fn attacks() -> Vec<(&'static str, http::Request<Bytes>)> {
    let path = stop_path(DEMO_TASK_ID);
    let minutes = |m| now().checked_add(SignedDuration::from_mins(m)).unwrap();
    let mut forged_plain = good();
    let auth = forged_plain.headers()["authorization"].to_str().unwrap().to_owned();
    forged_plain
        .headers_mut()
        .insert("authorization", flip_last(&auth).parse().unwrap());
    let mut forged_derived = signed(SK, derived("cn-north-4", "iotdm"), &path, BODY, now());
    let auth = forged_derived.headers()["authorization"].to_str().unwrap().to_owned();
    forged_derived
        .headers_mut()
        .insert("authorization", flip_last(&auth).parse().unwrap());

    // A valid signature over another request, replayed onto this one.
    let replay = |from: http::Request<Bytes>, onto: http::Request<Bytes>| {
        let mut onto = onto;
        for name in ["authorization", "x-sdk-date"] {
            onto.headers_mut().insert(name, from.headers()[name].clone());
        }
        onto
    };
    let other_task = "61a5f4cbd86b7a1d1c2f3e4c";

    // A signature whose SignedHeaders leave out `host`: refused for that
    // alone, before the signature is checked.
    let no_host = {
        let r = good();
        let auth = r.headers()["authorization"].to_str().unwrap().replace("host;", "");
        assert!(auth.contains("SignedHeaders=content-type;x-project-id;x-sdk-date,"));
        with_header(r, "authorization", &auth)
    };
    let unsigned_security_token = with_header(good(), "x-security-token", "EXTRA-TOKEN");
    // Signed header values other than the ones signed: changed, or repeated
    // (the verifier joins repeated values, so a second one changes the text).
    let changed_header = with_header(good(), "content-type", "text/plain");
    let mut repeated_header = good();
    repeated_header
        .headers_mut()
        .append("content-type", "text/plain".parse().unwrap());
    let mut duplicate_authorization = good();
    let auth = duplicate_authorization.headers()["authorization"].clone();
    duplicate_authorization.headers_mut().append("authorization", auth);

    vec![
        ("forged signature, plain", forged_plain),
        ("forged signature, derived", forged_derived),
        (
            "wrong secret key, plain",
            signed("WrongSecretKey", Algorithm::Plain, &path, BODY, now()),
        ),
        (
            "wrong secret key, derived",
            signed("WrongSecretKey", derived("cn-north-4", "iotdm"), &path, BODY, now()),
        ),
        (
            "signature for another body",
            replay(signed(SK, Algorithm::Plain, &path, "{}", now()), good()),
        ),
        (
            "signature for another path",
            replay(
                signed(SK, Algorithm::Plain, &stop_path(other_task), BODY, now()),
                good(),
            ),
        ),
        ("signature for another query", {
            let from = signed(SK, Algorithm::Plain, &format!("{path}?a=1"), BODY, now());
            let mut onto = with_header(good(), "x-sdk-date", from.headers()["x-sdk-date"].to_str().unwrap());
            *onto.uri_mut() = format!("{path}?a=2").parse().unwrap();
            onto.headers_mut()
                .insert("authorization", from.headers()["authorization"].clone());
            onto
        }),
        (
            "X-Sdk-Date 20 minutes old, plain",
            signed(SK, Algorithm::Plain, &path, BODY, minutes(-20)),
        ),
        (
            "X-Sdk-Date 20 minutes old, derived",
            signed(SK, derived("cn-north-4", "iotdm"), &path, BODY, minutes(-20)),
        ),
        (
            "X-Sdk-Date 20 minutes ahead, plain",
            signed(SK, Algorithm::Plain, &path, BODY, minutes(20)),
        ),
        (
            "X-Sdk-Date 20 minutes ahead, derived",
            signed(SK, derived("cn-north-4", "iotdm"), &path, BODY, minutes(20)),
        ),
        (
            "X-Sdk-Date changed after signing",
            with_header(good(), "x-sdk-date", &format_sdk_date(minutes(1))),
        ),
        ("X-Sdk-Date missing", {
            let mut r = good();
            r.headers_mut().remove("x-sdk-date");
            r
        }),
        ("unknown access key", {
            let r = good();
            let auth = r.headers()["authorization"]
                .to_str()
                .unwrap()
                .replace(AK, "HPUAUNKNOWNAK0000009");
            with_header(r, "authorization", &auth)
        }),
        ("wrong token", unsigned(&[("x-auth-token", "not-the-token")])),
        (
            "token in Authorization: Bearer",
            unsigned(&[("authorization", &format!("Bearer {TOKEN}"))]),
        ),
        ("token in X-Security-Token", unsigned(&[("x-security-token", TOKEN)])),
        ("SignedHeaders without host", no_host),
        ("signed header changed after signing", changed_header),
        ("signed header repeated after signing", repeated_header),
        ("X-Security-Token not signed", unsigned_security_token),
        (
            "derived scope for another region",
            signed(SK, derived("cn-east-3", "iotdm"), &path, BODY, now()),
        ),
        (
            "derived scope for another service",
            signed(SK, derived("cn-north-4", "iotda"), &path, BODY, now()),
        ),
        (
            "malformed Authorization",
            unsigned(&[("authorization", "SDK-HMAC-SHA256 Access=x")]),
        ),
        ("two Authorization headers", duplicate_authorization),
        ("no credentials at all", unsigned(&[])),
    ]
}

#[test]
fn every_attack_is_401_and_changes_nothing() {
    let service = Service::new(&EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN)).unwrap();
    // The control: the same request, properly signed, is accepted.
    let control = Service::new(&EmulatorConfig::new().ak_sk(AK, SK)).unwrap();
    assert_eq!(control.respond_at(good(), now()).status(), 200);

    let before = service.snapshot();
    let attacks = attacks();
    let total = attacks.len();
    for (name, request) in attacks {
        let response = service.respond_at(request, now());
        assert_eq!(response.status(), 401, "{name}: {:?}", response.body());
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error_code"], "APIGW.0301", "{name}");
        assert!(
            body["error_msg"]
                .as_str()
                .unwrap()
                .starts_with("Incorrect IAM authentication information: "),
            "{name}"
        );
        assert_eq!(
            body["request_id"].as_str(),
            response.headers()["x-request-id"].to_str().ok(),
            "{name}"
        );
        assert_eq!(service.snapshot(), before, "{name}: state changed");
    }
    println!(
        "emulator attack suite: {total} forged or misdirected requests, {total} rejected with 401, state unchanged"
    );
    assert_eq!(total, 26, "docs/reliability.md quotes 26 of 26");
}
