//! The crate alone, through its request-library-agnostic API, against the
//! official SDK's own signatures (the library's `tests/it/signing.rs` checks
//! the same vectors through the client's `reqwest` signer).

use iotda_batchtask_signing::{
    Algorithm, Authorization, SignError, SignableRequest, Signer, VerifyError, parse_sdk_date, sdk_derives,
};
use serde_json::Value;

/// Vendored from the shared reference material; see tests/vectors/README.md
/// at the workspace root.
const VECTORS: &str = include_str!("../../../tests/vectors/sign_vectors.json");

fn vectors() -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).expect("vendored vectors are JSON");
    all["vectors"].as_array().expect("a vectors array").clone()
}

fn algorithm_of(input: &Value) -> Algorithm {
    match input["derived_region"].as_str() {
        Some(region) => Algorithm::Derived {
            region: region.to_owned(),
            service: input["derived_service"].as_str().unwrap().to_owned(),
        },
        None => Algorithm::Plain,
    }
}

fn signer_for(input: &Value) -> Signer {
    let (ak, sk) = (input["ak"].as_str().unwrap(), input["sk"].as_str().unwrap());
    let mut signer =
        Signer::new(ak, sk.into(), algorithm_of(input)).with_project_id(input["project_id"].as_str().unwrap());
    if let Some(token) = input["security_token"].as_str() {
        signer = signer.with_security_token(token.into());
    }
    signer
}

/// The vector's URL, as any HTTP library would split it.
fn uri_of(input: &Value) -> http::Uri {
    input["url"].as_str().unwrap().parse().unwrap()
}

/// The vector's input headers, with names as the SDK wrote them (mixed case).
fn headers_of(input: &Value) -> Vec<(String, String)> {
    let headers = input["headers"].as_object().unwrap();
    headers
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn reproduces_every_official_sdk_signature() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 6, "the vendored file holds six vectors");
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let input = &vector["input"];
        let uri = uri_of(input);
        let headers = headers_of(input);
        let body = input["body"].as_str().unwrap_or("").as_bytes();
        let request = SignableRequest::new(
            input["method"].as_str().unwrap(),
            uri.path(),
            uri.query().unwrap_or(""),
            body,
        )
        .authority(uri.authority().unwrap().as_str())
        .headers(headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())));
        let signer = signer_for(input);
        let at = parse_sdk_date(input["timestamp"].as_str().unwrap()).unwrap();
        let output = signer.sign(&request, at).unwrap();

        for (header, expected) in vector["headers"].as_object().unwrap() {
            let lower = header.to_ascii_lowercase();
            let got = output.header(&lower).or_else(|| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(header))
                    .map(|(_, v)| v.as_str())
            });
            assert_eq!(got, expected.as_str(), "{name}: header {header}");
        }
        let query = output.query().or(uri.query()).filter(|q| !q.is_empty());
        let wire_uri = match query {
            Some(q) => format!("{}?{q}", uri.path()),
            None => uri.path().to_owned(),
        };
        assert_eq!(wire_uri, vector["wire_uri"].as_str().unwrap(), "{name}: wire URI");
        let sensitive: Vec<&str> = output
            .headers()
            .iter()
            .filter(|h| h.is_sensitive())
            .map(|h| h.name())
            .collect();
        let expected: &[&str] = match input["security_token"].as_str() {
            Some(_) => &["x-security-token", "authorization"],
            None => &["authorization"],
        };
        assert_eq!(sensitive, expected, "{name}: sensitive headers");
        // Debug shows no secret: neither the signature nor the security token.
        let debug = format!("{output:?}");
        assert!(!debug.contains("Signature="), "{name}: {debug}");
        if let Some(token) = input["security_token"].as_str() {
            assert!(!debug.contains(token), "{name}: {debug}");
        }
    }
}

#[test]
fn a_preview_names_what_signing_sets_without_the_key() {
    // (signer, method, URL, body): every vector's, one without a project ID
    // and with a query the signer rewrites, one of temporary credentials.
    let mut cases: Vec<(Signer, String, http::Uri, String)> = vectors()
        .iter()
        .map(|vector| {
            let input = &vector["input"];
            (
                signer_for(input),
                input["method"].as_str().unwrap().to_owned(),
                uri_of(input),
                input["body"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let bare = Signer::new("AK", "SK".into(), Algorithm::Plain);
    cases.push((
        bare,
        "GET".into(),
        "https://h/v5/x?b=2&a=%7e".parse().unwrap(),
        String::new(),
    ));
    let temporary = Signer::new("AK", "SK".into(), Algorithm::Plain).with_security_token("TOKEN".into());
    cases.push((
        temporary,
        "GET".into(),
        "https://h/v5/x".parse().unwrap(),
        String::new(),
    ));
    let at = parse_sdk_date("20240102T030405Z").unwrap();
    for (signer, method, uri, body) in &cases {
        let query = uri.query().unwrap_or("");
        let request = SignableRequest::new(method, uri.path(), query, body.as_bytes())
            .authority(uri.authority().unwrap().as_str());
        let output = signer.sign(&request, at).unwrap();
        let preview = signer.preview(query);
        let set: Vec<&str> = output.headers().iter().map(|h| h.name()).collect();
        assert_eq!(preview.header_names(), set.as_slice(), "{signer:?} {uri}");
        assert_eq!(preview.query(), output.query(), "{signer:?} {uri}");
    }
    let bare = &cases[cases.len() - 2].0;
    assert_eq!(bare.preview("b=2&a=%7e").query(), Some("a=~&b=2"));
    assert_eq!(bare.preview("a=~&b=2").query(), None);
}

#[test]
fn the_sdk_predicate_chooses_each_vectors_algorithm() {
    for vector in vectors() {
        let input = &vector["input"];
        if input["predicate"].as_str() == Some("always") {
            continue; // forced derived; the predicate was not consulted
        }
        let derived = sdk_derives(uri_of(input).authority().unwrap().as_str());
        assert_eq!(derived, vector["algorithm"] == "V11-HMAC-SHA256", "{}", vector["name"]);
    }
}

#[test]
fn verifies_what_it_signs_as_received_and_nothing_else() {
    for vector in vectors() {
        let name = vector["name"].as_str().unwrap();
        let input = &vector["input"];
        let uri = uri_of(input);
        let headers = headers_of(input);
        let body = input["body"].as_str().unwrap_or("").as_bytes();
        let signer = signer_for(input);
        let at = parse_sdk_date(input["timestamp"].as_str().unwrap()).unwrap();
        let request = SignableRequest::new(
            input["method"].as_str().unwrap(),
            uri.path(),
            uri.query().unwrap_or(""),
            body,
        )
        .authority(uri.authority().unwrap().as_str())
        .headers(headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())));
        let output = signer.sign(&request, at).unwrap();
        let authorization = Authorization::parse(output.header("authorization").unwrap()).unwrap();

        // What the server receives: the request's headers and the signer's
        // (with the case a server may see), the canonical query, no authority.
        let query = output.query().or(uri.query()).unwrap_or("").to_owned();
        let mut received: Vec<(String, String)> = headers.clone();
        received.extend(
            output
                .headers()
                .iter()
                .map(|h| (h.name().to_ascii_uppercase(), h.value().to_owned())),
        );
        let verify = |received: &[(String, String)], body: &[u8]| {
            let request = SignableRequest::new(input["method"].as_str().unwrap(), uri.path(), &query, body)
                .headers(received.iter().map(|(name, value)| (name.as_str(), value.as_bytes())));
            signer.verify(&request, &authorization)
        };
        assert_eq!(verify(&received, body), Ok(()), "{name}");
        assert_eq!(
            verify(&received, br#"{"targets": ["someone-else"]}"#),
            Err(VerifyError::Signature),
            "{name}"
        );

        let replaced = |name: &str, value: &str| -> Vec<(String, String)> {
            let mut all: Vec<(String, String)> = received
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
                .cloned()
                .collect();
            all.push((name.to_owned(), value.to_owned()));
            all
        };
        assert_eq!(
            verify(&replaced("X-Sdk-Date", "20240102T030406Z"), body),
            Err(VerifyError::Signature),
            "{name}"
        );
        let without_host: Vec<(String, String)> = received
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
            .cloned()
            .collect();
        assert_eq!(
            verify(&without_host, body),
            Err(VerifyError::MissingHeader("host".into())),
            "{name}"
        );
        let mut twice = received.clone();
        twice.push(("x-sdk-date".into(), input["timestamp"].as_str().unwrap().into()));
        assert_eq!(verify(&twice, body), Err(VerifyError::Date), "{name}");
    }
}

#[test]
fn signing_needs_an_authority_and_text_values() {
    let signer = Signer::new("AK", "SK".into(), Algorithm::Plain);
    let at = parse_sdk_date("20240102T030405Z").unwrap();
    let request = SignableRequest::new("GET", "/v5", "", b"");
    assert_eq!(signer.sign(&request, at).unwrap_err(), SignError::NoHost);
    let request = request.authority("example.com").header("X-Custom", b"caf\xc3\xa9");
    assert_eq!(
        signer.sign(&request, at).unwrap_err(),
        SignError::HeaderValue("x-custom".into())
    );
    let newline = Signer::new("AK", "SK".into(), Algorithm::Plain).with_project_id("p\r\nx-injected: 1");
    let request = SignableRequest::new("GET", "/v5", "", b"").authority("example.com");
    assert_eq!(
        newline.sign(&request, at).unwrap_err(),
        SignError::HeaderValue("x-project-id".into())
    );
    let access_key = Signer::new("AK\n", "SK".into(), Algorithm::Plain);
    assert_eq!(
        access_key.sign(&request, at).unwrap_err(),
        SignError::HeaderValue("authorization".into())
    );
}
