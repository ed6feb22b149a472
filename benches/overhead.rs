//! (2) Client overhead without I/O: building, validating, serialising and
//! signing one stop request.
//!
//! The real `Client` cannot run a call without sending it: its one send path
//! (`src/client/send.rs`) takes the request the generated builder's `send`
//! hands back unsent (`src/client/hooks.rs`), then prepares, signs and sends
//! it in one go (`Call::prepare` and `Call::execute`, `src/client/wire.rs`),
//! none of it public. So this bench performs, with the crate's public pieces,
//! the same steps in the same order as `stop_batch_task(..).targets(..).send()`
//! does before the first byte is written:
//!
//! 1. collect the targets into `String`s (the builder's `.targets([...])`);
//! 2. validate `task_id` and the targets (pattern, de-duplication, count);
//! 3. build the generated body type and the URL (`format!` + progenitor's
//!    path encoding), the header map with `api-version` (as the generated
//!    `send` does) and `Instance-Id` (which `Call::prepare` now sets in step
//!    5 instead: it stays here, one header either way, so that the figures
//!    still compare with earlier runs');
//! 4. build the `reqwest::Request` (URL parse, `serde_json` body, headers),
//!    as the generated `send` does before handing it back;
//! 5. `Call::prepare`: drop `api-version`/`Accept`, set `Content-Type`
//!    and `User-Agent`, sign with the derived key at `Timestamp::now()`;
//! 6. `Call::execute`'s retry spare (`try_clone`) and per-attempt timeout.
//!
//! Not included: the hand-back itself (the request carried out of the
//! generated `send` in a response extension and taken out again by
//! `hooks::handed_back`) and the request's tracing span.
//!
//! `hand_written_build` is what a hand-written reqwest call does instead
//! (URL parse and body copy of an already serialised, already signed
//! request). `decode_response` is the client's main cost after the answer
//! arrives: parsing the body into the generated response type. The
//! end-to-end bench (`e2e`) measures the real client, all of this included.
//!
//! `cargo bench --bench overhead`

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use iotda_batchtask::types::{BatchTargets, BatchTargetsResponse};
use iotda_batchtask::validation;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

/// progenitor-client's path-segment set (`encode_path`).
const PATH_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

const BASE: &str = "https://a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com";

/// Steps 1 to 6 above; returns the request ready for `reqwest::Client::execute`.
fn prepare_request(
    http: &reqwest::Client,
    signer: &iotda_batchtask::auth::Signer,
    project_id: &iotda_batchtask::types::ProjectId,
    instance_id: &iotda_batchtask::types::InstanceId,
    targets: &[&str],
) -> (reqwest::Request, Option<reqwest::Request>) {
    // 1 + 2.
    let list: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
    let task_id = validation::task_id(TASK).expect("valid task id");
    let list = validation::targets(list).expect("valid targets");
    let mut body = BatchTargets::default();
    body.targets = list.clone();
    // 3: the generated builder's conversions and URL.
    let (project_id, instance_id) = (project_id.clone(), instance_id.clone());
    let url = format!(
        "{}/v5/iot/{}/batchtasks/{}/stop",
        BASE,
        utf8_percent_encode(&project_id.to_string(), PATH_SET),
        utf8_percent_encode(&task_id.to_string(), PATH_SET),
    );
    let mut header_map = HeaderMap::with_capacity(3);
    header_map.append(HeaderName::from_static("api-version"), HeaderValue::from_static("v5"));
    header_map.append(
        "Instance-Id",
        HeaderValue::try_from(instance_id.to_string()).expect("valid header"),
    );
    // 4.
    let mut request = http
        .post(url)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .json(&body)
        .headers(header_map)
        .build()
        .expect("valid request");
    // 5.
    let headers = request.headers_mut();
    headers.remove(HeaderName::from_static("api-version"));
    headers.remove(ACCEPT);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(iotda_batchtask::USER_AGENT));
    signer.sign(&mut request, jiff::Timestamp::now()).expect("signable");
    // 6.
    let spare = request.try_clone();
    *request.timeout_mut() = Some(Duration::from_secs(30));
    (request, spare)
}

fn overhead(c: &mut Criterion) {
    let http = reqwest::Client::new();
    let signer = derived_signer();
    let project_id = validation::project_id(PROJECT).expect("valid project id");
    let instance_id = validation::instance_id(INSTANCE).expect("valid instance id");

    let mut group = c.benchmark_group("overhead");
    // The single call's 10 targets, and a bulk chunk's 100.
    for n in [CALL_TARGETS, 100] {
        let owned = devices(0, n);
        let targets: Vec<&str> = owned.iter().map(String::as_str).collect();
        let presigned = presigned_request(BASE, &owned);
        let body = presigned
            .body()
            .and_then(|b| b.as_bytes())
            .expect("in-memory body")
            .to_vec();
        let headers = presigned.headers().clone();
        let url = presigned.url().to_string();
        group.bench_function(format!("client_request_{n}"), |b| {
            b.iter(|| prepare_request(&http, &signer, &project_id, &instance_id, black_box(&targets)))
        });
        group.bench_function(format!("validate_{n}"), |b| {
            b.iter(|| {
                let list: Vec<String> = black_box(&targets).iter().map(|t| (*t).to_owned()).collect();
                (validation::task_id(TASK), validation::targets(list))
            })
        });
        // What `validate_{n}` would cost if `validation::unique_targets`
        // remembered the IDs it has seen by reference (a `HashSet<&str>` with
        // capacity) instead of cloning each into a `HashSet<String>`:
        // `validation::unique_targets` does this; measured here for the report.
        group.bench_function(format!("validate_borrowing_{n}"), |b| {
            b.iter(|| {
                let list: Vec<String> = black_box(&targets).iter().map(|t| (*t).to_owned()).collect();
                (validation::task_id(TASK), unique_borrowing(list))
            })
        });
        group.bench_function(format!("serialise_body_{n}"), |b| {
            let mut value = BatchTargets::default();
            value.targets = owned.clone();
            b.iter(|| serde_json::to_vec(black_box(&value)))
        });
        group.bench_function(format!("hand_written_build_{n}"), |b| {
            b.iter(|| {
                http.post(black_box(url.as_str()))
                    .headers(headers.clone())
                    .body(body.clone())
                    .build()
                    .expect("valid request")
            })
        });
        group.bench_function(format!("retry_spare_{n}"), |b| {
            let (request, _) = prepare_request(&http, &signer, &project_id, &instance_id, &targets);
            b.iter(|| black_box(&request).try_clone())
        });
        let answer = steady_answer(&owned);
        group.bench_function(format!("decode_response_{n}"), |b| {
            b.iter(|| serde_json::from_slice::<BatchTargetsResponse>(black_box(&answer)).expect("valid answer"))
        });
    }
    group.finish();
}

/// `validation::targets` with the seen set borrowing the IDs.
fn unique_borrowing(list: Vec<String>) -> Result<Vec<String>, validation::InvalidInput> {
    let mut keep = Vec::with_capacity(list.len());
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    for (index, target) in list.iter().enumerate() {
        validation::target(index, target)?;
        keep.push(seen.insert(target.as_str()));
    }
    drop(seen);
    let unique: Vec<String> = list.into_iter().zip(keep).filter_map(|(t, k)| k.then_some(t)).collect();
    if unique.is_empty() || unique.len() > validation::MAX_TARGETS_PER_REQUEST {
        return Err(validation::InvalidInput::new("targets", "count"));
    }
    Ok(unique)
}

/// The emulator's steady-state answer to the stop call (every target
/// already stopped: `failure` with a message), written out so this bench
/// does not need the `emulator` feature.
fn steady_answer(targets: &[String]) -> Vec<u8> {
    let results: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "target": t,
                "status": "failure",
                "error_code": "IOTDA.000006",
                "error_msg": "Invalid input. The sub-task of the target is Stopped and cannot be stopped.",
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "targets": results })).expect("serialisable")
}

criterion_group!(benches, overhead);
criterion_main!(benches);
