//! Properties that must hold for any input whatsoever. Shared by the proptest
//! suite (`tests/it/robustness.rs`, run in CI) and the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, which include this file), so both check the same
//! thing. Each function panics when a property fails.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iotda_batchtask::auth::{Algorithm, Signer};
use iotda_batchtask::{Client, Credentials, RetryPolicy};
use iotda_batchtask_emulator::Stoppable as _;
use iotda_batchtask_emulator::{Service, TaskDetailStatus};
use iotda_batchtask_signing::{Authorization, SignableRequest};

/// Response decoding: a real client call against a loopback server that
/// answers with `raw` bytes verbatim (status line, headers, body) and closes.
/// Whatever the bytes, the call returns (never panics, never hangs), and an
/// error is one printable line.
pub struct ResponseHarness {
    runtime: tokio::runtime::Runtime,
    client: Client,
    answer: Arc<Mutex<Vec<u8>>>,
}

impl ResponseHarness {
    pub fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(Vec::new()));
        let served = answer.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                // Read the request (small, one read is enough on loopback), answer, close.
                let mut buf = [0u8; 8192];
                let _ = stream.read(&mut buf);
                let bytes = served.lock().unwrap().clone();
                let _ = stream.write_all(&bytes);
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = Client::builder(format!("http://{addr}"))
            .project_id("0123456789abcdef0123456789abcdef")
            .credentials(Credentials::token("fuzz-token"))
            .request_timeout(Duration::from_secs(2))
            .max_response_bytes(64 * 1024)
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        Self {
            runtime,
            client,
            answer,
        }
    }

    pub fn check(&self, raw: &[u8]) {
        *self.answer.lock().unwrap() = raw.to_vec();
        let result = self.runtime.block_on(
            self.client
                .stop_batch_task("61a5f4cbd86b7a1d1c2f3e4a")
                .targets(["dev-1", "dev-2"])
                .send(),
        );
        match result {
            Ok(out) => {
                // The helpers classify every result without panicking and agree.
                let total = out.results().len();
                let classified = out.succeeded().count()
                    + out.failed().count()
                    + out.unknown().count()
                    + out.not_attempted().count();
                assert_eq!(classified, total);
                let _ = (out.unexpected().len(), out.all_succeeded());
                if out.all_succeeded() {
                    assert_eq!(out.succeeded().count(), 2);
                }
            }
            Err(e) => {
                let line = e.to_string();
                assert!(
                    !line.contains('\n') && !line.contains('\r'),
                    "multi-line error: {line:?}"
                );
                assert!(!line.chars().any(|c| c.is_control()), "control character in: {line:?}");
            }
        }
    }
}

/// The signer: any method, path, query, headers and body either cannot be
/// expressed as a request, or signs without panicking, deterministically, and
/// verifies against itself (and not against a different body).
pub fn check_signing(method: &str, path: &str, query: &str, headers: &[(String, String)], body: &[u8]) {
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(mut url) = reqwest::Url::parse("https://iotda.cn-north-4.myhuaweicloud.com") else {
        return;
    };
    url.set_path(path);
    url.set_query((!query.is_empty()).then_some(query));
    let (ak, sk) = ("HPUAEXAMPLEAK0000001", "ExampleSecretKeyDoNotUse");
    let algorithm = Algorithm::Derived {
        region: "cn-north-4".into(),
        service: "iotdm".into(),
    };
    let signer = Signer::new(&Credentials::ak_sk(ak, sk), algorithm.clone())
        .unwrap()
        .with_project_id("0123456789abcdef0123456789abcdef");
    // The emulator's verifier: the signing crate's signer of the same key.
    let verifier = iotda_batchtask_signing::Signer::new(ak, sk.into(), algorithm);
    let at = iotda_batchtask_signing::parse_sdk_date("20240102T030405Z").unwrap();
    let build = || {
        let mut request = reqwest::Request::new(method.clone(), url.clone());
        for (name, value) in headers {
            let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) else {
                continue;
            };
            request.headers_mut().append(name, value);
        }
        *request.body_mut() = Some(body.to_vec().into());
        request
    };
    let mut first = build();
    let mut second = build();
    let (a, b) = (signer.sign(&mut first, at), signer.sign(&mut second, at));
    assert_eq!(a, b, "signing is deterministic in success and failure");
    if a.is_err() {
        return;
    }
    let authorization = first.headers()["authorization"].to_str().unwrap().to_owned();
    assert_eq!(authorization, second.headers()["authorization"].to_str().unwrap());
    assert_eq!(first.url(), second.url());

    // What a server recomputes from the request as sent verifies.
    let parsed = Authorization::parse(&authorization).expect("own Authorization parses");
    let (parts, _) = http::Request::try_from(first)
        .expect("an in-memory request")
        .into_parts();
    let received = |body| {
        let request = SignableRequest::new(
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
        match parts.uri.authority() {
            Some(authority) => request.authority(authority.as_str()),
            None => request,
        }
    };
    assert_eq!(
        verifier.verify(&received(body), &parsed),
        Ok(()),
        "own signature verifies"
    );
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(verifier.verify(&received(&other), &parsed).is_err());
}

/// The emulator: any request gets an answer with a request ID and never
/// panics, and the state only changes by a successful operation: a stop
/// moving stoppable sub-tasks to Stopped, a retry or confirm moving failed,
/// stopped or waiting ones to Processing, a create adding a task (201), a
/// delete removing one (204, the only answer without a JSON body).
pub fn check_emulator(service: &Service, method: &[u8], uri: &str, headers: &[(String, String)], body: &[u8]) {
    let Ok(method) = http::Method::from_bytes(method) else {
        return;
    };
    let mut builder = http::Request::builder().method(method.clone()).uri(uri);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            builder = builder.header(n, v);
        }
    }
    let Ok(request) = builder.body(Bytes::copy_from_slice(body)) else {
        return;
    };
    let before = service.snapshot();
    let response = service.respond(request);
    let after = service.snapshot();
    assert!(
        response.headers().contains_key("x-request-id"),
        "every answer has a request id"
    );
    let status = response.status().as_u16();
    let deleted = status == 204 && method == http::Method::DELETE;
    assert!(
        serde_json::from_slice::<serde_json::Value>(response.body()).is_ok() || (deleted && response.body().is_empty()),
        "every body is JSON, except a delete's empty 204"
    );
    if before != after {
        assert!(
            (method == http::Method::POST && matches!(status, 200 | 201)) || deleted,
            "only a successful stop, retry, confirm, create or delete changes state"
        );
    }
    let after_tasks = after.tasks();
    for old in before.tasks() {
        let Some(new) = after_tasks
            .iter()
            .find(|t| (&t.project_id, &t.task_id) == (&old.project_id, &old.task_id))
        else {
            assert!(deleted, "only a delete removes a task: {}", old.task_id);
            continue;
        };
        assert_eq!(old.subtasks.len(), new.subtasks.len());
        for ((device, was), (_, now)) in old.subtasks.iter().zip(&new.subtasks) {
            // A stop stops what runs; a retry or confirm sets sub-tasks running again.
            let stopped = was.is_stoppable() && *now == TaskDetailStatus::Stopped;
            let rerun = *now == TaskDetailStatus::Processing
                && matches!(
                    was,
                    TaskDetailStatus::Fail
                        | TaskDetailStatus::FailWaitRetry
                        | TaskDetailStatus::Stopped
                        | TaskDetailStatus::Waitting
                );
            assert!(was == now || stopped || rerun, "{device}: {was:?} -> {now:?}");
        }
    }
    if after_tasks.len() > before.tasks().len() {
        assert!(
            method == http::Method::POST && status == 201,
            "only a create adds a task"
        );
    }
}
