//! The client's signer (`reqwest` requests, through the signing crate)
//! against the official SDK's own signatures, and the signing crate's
//! verifier against it. (The canonical encodings' properties are unit tests
//! of `signing/src/canonical.rs`.)

use iotda_batchtask::Credentials;
use iotda_batchtask::auth::{Algorithm, SignError, Signer, Signing};
use iotda_batchtask_signing::{Authorization, VerifyError, parse_sdk_date};
use proptest::prelude::*;
use serde_json::Value;

/// Vendored from the shared reference material; see tests/vectors/README.md.
const VECTORS: &str = include_str!("../vectors/sign_vectors.json");

fn vectors() -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).expect("vendored vectors are JSON");
    all["vectors"].as_array().expect("a vectors array").clone()
}

fn signer_for(input: &Value) -> Signer {
    let (ak, sk) = (input["ak"].as_str().unwrap(), input["sk"].as_str().unwrap());
    let credentials = match input["security_token"].as_str() {
        Some(token) => Credentials::temporary(ak, sk, token),
        None => Credentials::ak_sk(ak, sk),
    };
    let algorithm = match input["derived_region"].as_str() {
        Some(region) => Algorithm::Derived {
            region: region.to_owned(),
            service: input["derived_service"].as_str().unwrap().to_owned(),
        },
        None => Algorithm::Plain,
    };
    Signer::new(&credentials, algorithm)
        .unwrap()
        .with_project_id(input["project_id"].as_str().unwrap())
}

/// The signing crate's signer of the same key, which verifies as the emulator does.
fn verifier_for(input: &Value, algorithm: &Algorithm) -> iotda_batchtask_signing::Signer {
    let (ak, sk) = (input["ak"].as_str().unwrap(), input["sk"].as_str().unwrap());
    iotda_batchtask_signing::Signer::new(ak, sk.into(), algorithm.clone())
}

/// Verifies a request as a server received it (its head and `body`) against
/// `authorization`, with the signing crate's verifier, as the emulator does.
pub(crate) fn verify_received(
    verifier: &iotda_batchtask_signing::Signer,
    parts: &http::request::Parts,
    body: &[u8],
    authorization: &iotda_batchtask_signing::Authorization,
) -> Result<(), iotda_batchtask_signing::VerifyError> {
    let mut request = iotda_batchtask_signing::SignableRequest::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        body,
    )
    .headers(
        parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    if let Some(authority) = parts.uri.authority() {
        request = request.authority(authority.as_str());
    }
    verifier.verify(&request, authorization)
}

fn request_for(input: &Value) -> reqwest::Request {
    let method = input["method"].as_str().unwrap().parse().unwrap();
    let mut request = reqwest::Request::new(method, input["url"].as_str().unwrap().parse().unwrap());
    for (name, value) in input["headers"].as_object().unwrap() {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.as_str().unwrap().parse().unwrap(),
        );
    }
    if let Some(body) = input["body"].as_str() {
        *request.body_mut() = Some(body.to_owned().into());
    }
    request
}

#[test]
fn reproduces_every_official_sdk_signature() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 6, "the vendored file holds six vectors");
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let input = &vector["input"];
        let mut request = request_for(input);
        let at = parse_sdk_date(input["timestamp"].as_str().unwrap()).unwrap();
        signer_for(input).sign(&mut request, at).unwrap();

        for (header, expected) in vector["headers"].as_object().unwrap() {
            let got = request.headers().get(header.as_str()).map(|v| v.to_str().unwrap());
            assert_eq!(got, expected.as_str(), "{name}: header {header}");
        }
        assert_eq!(
            request.url().as_str(),
            vector["wire_url"].as_str().unwrap(),
            "{name}: wire URL"
        );
        let wire_uri = match request.url().query() {
            Some(q) => format!("{}?{q}", request.url().path()),
            None => request.url().path().to_owned(),
        };
        assert_eq!(wire_uri, vector["wire_uri"].as_str().unwrap(), "{name}: wire URI");
    }
}

#[test]
fn auto_signing_chooses_like_the_sdk_predicate() {
    for vector in vectors() {
        let input = &vector["input"];
        if input["predicate"].as_str() == Some("always") {
            continue; // forced derived; the predicate was not consulted
        }
        let url: reqwest::Url = input["url"].as_str().unwrap().parse().unwrap();
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap()),
            None => url.host_str().unwrap().to_owned(),
        };
        let chosen = Signing::Auto
            .resolve(&authority, input["derived_region"].as_str())
            .unwrap();
        assert_eq!(
            chosen.name(),
            vector["algorithm"].as_str().unwrap(),
            "{}",
            vector["name"]
        );
    }
}

/// What a server receives of a signed request: its parts and body, and the
/// parsed `Authorization`.
fn received(request: reqwest::Request) -> (http::request::Parts, Vec<u8>, Authorization) {
    let auth = Authorization::parse(request.headers()["authorization"].to_str().unwrap()).unwrap();
    let body = request.body().and_then(|b| b.as_bytes()).unwrap_or_default().to_vec();
    let (parts, _) = http::Request::try_from(request).unwrap().into_parts();
    (parts, body, auth)
}

#[test]
fn verify_accepts_own_signatures_and_rejects_tampering() {
    for vector in vectors() {
        let name = vector["name"].as_str().unwrap();
        let input = &vector["input"];
        let signer = signer_for(input);
        let verifier = verifier_for(input, signer.algorithm());
        let mut request = request_for(input);
        signer
            .sign(
                &mut request,
                parse_sdk_date(input["timestamp"].as_str().unwrap()).unwrap(),
            )
            .unwrap();
        let (parts, body, auth) = received(request);
        assert_eq!(verify_received(&verifier, &parts, &body, &auth), Ok(()), "{name}");

        let tampered = b"{\"targets\": [\"someone-else\"]}";
        assert_eq!(
            verify_received(&verifier, &parts, tampered, &auth),
            Err(VerifyError::Signature),
            "{name}"
        );
        let mut later = parts.clone();
        later.headers.insert("x-sdk-date", "20240102T030406Z".parse().unwrap());
        assert_eq!(
            verify_received(&verifier, &later, &body, &auth),
            Err(VerifyError::Signature),
            "{name}"
        );
        let mut changed = parts.clone();
        changed
            .headers
            .insert("x-project-id", "0123456789abcdef0123456789abcdee".parse().unwrap());
        assert_eq!(
            verify_received(&verifier, &changed, &body, &auth),
            Err(VerifyError::Signature),
            "{name}"
        );
        let mut missing = parts.clone();
        missing.headers.remove("x-project-id");
        assert_eq!(
            verify_received(&verifier, &missing, &body, &auth),
            Err(VerifyError::MissingHeader("x-project-id".into())),
            "{name}"
        );
        let mut next_day = parts.clone();
        next_day
            .headers
            .insert("x-sdk-date", "20240103T030405Z".parse().unwrap());
        let expected = match signer.algorithm() {
            Algorithm::Plain => VerifyError::Signature,
            Algorithm::Derived { .. } => VerifyError::Scope,
        };
        assert_eq!(
            verify_received(&verifier, &next_day, &body, &auth),
            Err(expected),
            "{name}"
        );
        let other_key = iotda_batchtask_signing::Signer::new("HPUAOTHERAK000000001", "secret".into(), Algorithm::Plain);
        assert_eq!(
            verify_received(&other_key, &parts, &body, &auth),
            Err(VerifyError::AccessKey),
            "{name}"
        );
    }
}

#[test]
fn derived_key_follows_the_day() {
    // The same request a day later must be signed with a new derived key, not the cached one.
    let input = &vectors()[4]["input"];
    let signer = signer_for(input);
    let sign_at = |stamp: &str| {
        let mut request = request_for(input);
        signer.sign(&mut request, parse_sdk_date(stamp).unwrap()).unwrap();
        request.headers()["authorization"].to_str().unwrap().to_owned()
    };
    let first = sign_at("20240102T030405Z");
    let next_day = sign_at("20240103T030405Z");
    assert!(next_day.contains("Credential=HPUAEXAMPLEAK0000001/20240103/cn-north-4/iotdm"));
    assert_eq!(
        sign_at("20240102T030405Z"),
        first,
        "back to the first day, same signature"
    );
    let fresh = signer_for(input);
    let mut request = request_for(input);
    fresh
        .sign(&mut request, parse_sdk_date("20240103T030405Z").unwrap())
        .unwrap();
    assert_eq!(request.headers()["authorization"].to_str().unwrap(), next_day);
}

#[test]
fn plain_http_is_signed_only_to_loopback() {
    let signer = Signer::new(&Credentials::ak_sk("AK", "SK"), Algorithm::Plain).unwrap();
    let sign = |url: &str| {
        let mut request = reqwest::Request::new(reqwest::Method::POST, url.parse().unwrap());
        let signed = signer.sign(&mut request, jiff::Timestamp::UNIX_EPOCH);
        (signed, request.headers().contains_key("authorization"))
    };
    for url in [
        "http://127.0.0.1:8080/v5/x",
        "http://127.9.9.9/v5/x",
        "http://[::1]:1/v5/x",
        "http://localhost/v5/x",
        "https://iotda.cn-north-4.myhuaweicloud.com/v5/x",
    ] {
        assert_eq!(sign(url), (Ok(()), true), "{url}");
    }
    for (url, host) in [
        (
            "http://iotda.cn-north-4.myhuaweicloud.com/v5/x",
            "iotda.cn-north-4.myhuaweicloud.com",
        ),
        ("http://10.0.0.1:80/v5/x", "10.0.0.1"),
        ("http://192.168.1.2:8080/v5/x", "192.168.1.2:8080"),
        ("http://localhost.example.com/v5/x", "localhost.example.com"),
    ] {
        assert_eq!(sign(url), (Err(SignError::PlainHttp(host.to_owned())), false), "{url}");
    }
}

#[test]
fn token_credentials_cannot_sign() {
    let err = Signer::new(&Credentials::token("t"), Algorithm::Plain).unwrap_err();
    assert_eq!(err.field(), "credentials");
}

proptest! {
    #[test]
    fn signing_is_deterministic(body in prop::collection::vec(any::<u8>(), 0..64), path in "[a-z0-9/]{0,20}") {
        let credentials = Credentials::ak_sk("HPUAEXAMPLEAK0000001", "ExampleSecretKeyDoNotUse0000000000000000");
        let signer = Signer::new(&credentials, Algorithm::Derived { region: "cn-north-4".into(), service: "iotdm".into() }).unwrap();
        let url = format!("https://a.example.com/{path}");
        let sign = || {
            let mut r = reqwest::Request::new(reqwest::Method::POST, url.parse().unwrap());
            *r.body_mut() = Some(body.clone().into());
            signer.sign(&mut r, parse_sdk_date("20240102T030405Z").unwrap()).unwrap();
            r.headers()["authorization"].to_str().unwrap().to_owned()
        };
        prop_assert_eq!(sign(), sign());
    }
}
