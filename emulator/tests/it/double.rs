//! The emulator as a test double: the request journal, injected faults
//! against the real client, and live state changes.
//!
//! Run with `cargo test -p iotda-batchtask-emulator --test it double`.

use crate::common;

use std::time::Duration;

use common::{AK, INSTANCE, Mode, SK, TOKEN};
use http::StatusCode;
use iotda_batchtask::auth::Algorithm;
use iotda_batchtask::outcome::{Failed, Succeeded};
use iotda_batchtask::{Client, Credentials};
use iotda_batchtask::{RetryPolicy, TargetOutcome};
use iotda_batchtask_emulator::{
    AuthMode, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, EmulatorHandle, Fault, Operation, Service,
    StateError, TaskDetailStatus, TaskStatus,
};
use serde_json::json;

const P: &str = DEMO_PROJECT_ID;
const T: &str = DEMO_TASK_ID;

async fn start() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::new().ak_sk(AK, SK).token(TOKEN))
        .await
        .expect("the emulator starts on 127.0.0.1")
}

/// The shared test client, with quick retries and a short timeout so every
/// test is bounded.
fn client(h: &EmulatorHandle) -> Client {
    Client::builder(h.base_url())
        .project_id(P)
        .instance_id(INSTANCE)
        .credentials(Credentials::token(TOKEN))
        .retry(RetryPolicy::default().with_backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .request_timeout(Duration::from_secs(2))
        .build()
        .expect("valid test client")
}

fn outcome_of<'a>(report: &'a iotda_batchtask::TargetsReport, target: &str) -> &'a TargetOutcome {
    &report
        .results()
        .iter()
        .find(|r| r.target == target)
        .unwrap_or_else(|| panic!("{target} in {report:?}"))
        .outcome
}

// ---------------------------------------------------------------- journal

#[tokio::test]
async fn the_journal_records_stops_and_shows_in_every_mode_without_secrets() {
    let h = start().await;
    for (mode, device) in [
        (Mode::Token, "dev-0001"),
        (Mode::Plain, "dev-0002"),
        (Mode::Derived, "dev-0003"),
    ] {
        h.clear_journal();
        let c = common::client(&h.base_url(), mode);
        let out = c.stop_batch_task(T).targets([device]).send().await.expect("stop");
        assert!(out.all_succeeded(), "{mode:?}: {out:?}");
        c.show_batch_task(T).send().await.expect("show");

        let journal = h.journal();
        assert_eq!(journal.len(), 2, "{mode:?}: {journal:?}");
        let stop = &journal[0];
        assert!(stop.is_stop_of(T));
        assert_eq!(stop.method, http::Method::POST);
        assert_eq!(stop.project_id.as_deref(), Some(P));
        assert_eq!(stop.targets(), Some(vec![device.to_owned()]));
        assert_eq!(stop.body, Some(json!({ "targets": [device] })));
        assert_eq!(stop.instance_id.as_deref(), Some(INSTANCE));
        assert_eq!(stop.status, Some(StatusCode::OK));
        assert_eq!(
            stop.response_body,
            Some(json!({ "targets": [{ "target": device, "status": "success" }] }))
        );
        assert_eq!(
            stop.request_id.as_deref(),
            out.request_ids().first().map(String::as_str)
        );
        assert!(!stop.fault_injected);
        let show = &journal[1];
        assert!(show.is_show_of(T) && !show.is_stop_of(T));
        assert_eq!(show.targets(), None);
        assert_eq!(show.status_code(), Some(200));
        assert!(show.elapsed >= stop.elapsed);
        assert_eq!(journal.matching(Operation::StopBatchTask).count(), 1);
        assert_eq!(journal.matching(Operation::ShowBatchTask).count(), 1);

        let expected = match mode {
            Mode::Token => AuthMode::Token,
            Mode::Plain => AuthMode::Signed {
                access_key: AK.to_owned(),
                algorithm: Algorithm::Plain,
            },
            Mode::Derived => AuthMode::Signed {
                access_key: AK.to_owned(),
                algorithm: Algorithm::Derived {
                    region: "cn-north-4".into(),
                    service: "iotdm".into(),
                },
            },
        };
        assert_eq!(stop.auth, expected);
        assert_eq!(show.auth, expected);
        let debug = format!("{journal:?}");
        assert!(!debug.contains(TOKEN) && !debug.contains(SK), "{debug}");
        assert!(!debug.contains("Signature="), "{debug}");
    }
    h.shutdown().await;
}

#[test]
fn the_service_journals_unknown_routes_and_unauthenticated_requests() {
    let service = Service::new(&EmulatorConfig::new().token(TOKEN)).expect("service");
    let request = http::Request::get("/v5/iot/nowhere?x=1")
        .body(bytes::Bytes::new())
        .expect("request");
    assert_eq!(service.respond(request).status(), 404);
    let request = http::Request::get(format!("/v5/iot/{P}/batchtasks/{T}"))
        .body(bytes::Bytes::new())
        .expect("request");
    assert_eq!(service.respond(request).status(), 401);
    let journal = service.journal();
    assert_eq!(journal[0].operation, Operation::Unknown);
    assert_eq!(journal[0].query.as_deref(), Some("x=1"));
    assert_eq!(journal[0].task_id, None);
    assert_eq!(journal[1].auth, AuthMode::None);
    assert_eq!(journal[1].status_code(), Some(401));
    assert_eq!(journal.dropped(), 0);
    service.clear_journal();
    assert!(service.journal().is_empty());
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn an_injected_429_is_retried_and_the_stop_succeeds() {
    let h = start().await;
    h.inject(
        Fault::status(StatusCode::TOO_MANY_REQUESTS)
            .on(Operation::StopBatchTask)
            .for_task(T),
    )
    .expect("inject");
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(matches!(
        outcome_of(&out, "dev-0001"),
        TargetOutcome::Succeeded(Succeeded::Answered { .. })
    ));
    let journal = h.journal();
    let stops: Vec<_> = journal.stops_of(T).collect();
    assert_eq!(stops.len(), 2);
    assert!(stops[0].fault_injected);
    assert_eq!(stops[0].status_code(), Some(429));
    assert_eq!(
        stops[0].response_body.as_ref().and_then(|b| b["error_code"].as_str()),
        Some("APIG.0308")
    );
    assert!(stops[0].request_id.is_some());
    assert_eq!(stops[1].status_code(), Some(200));
    h.shutdown().await;
}

#[tokio::test]
async fn an_injected_error_leaves_the_state_alone() {
    let h = start().await;
    h.inject(Fault::error(
        StatusCode::BAD_REQUEST,
        "IOTDA.000006",
        "Invalid input. injected",
    ))
    .expect("inject");
    let e = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect_err("a refused request");
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("injected"), "{e}");
    assert_eq!(
        h.task(P, T).expect("task").subtasks["dev-0001"],
        TaskDetailStatus::Processing
    );
    h.shutdown().await;
}

#[tokio::test]
async fn process_then_fail_is_settled_by_a_read() {
    let h = start().await;
    h.inject(Fault::process_then_fail(StatusCode::SERVICE_UNAVAILABLE).on(Operation::StopBatchTask))
        .expect("inject");
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001", "dev-0002"])
        .send()
        .await
        .expect("stop");
    for device in ["dev-0001", "dev-0002"] {
        assert!(
            matches!(
                outcome_of(&out, device),
                TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
            ),
            "{out:?}"
        );
    }
    let journal = h.journal();
    assert_eq!(journal.stops_of(T).count(), 1, "a 503 after processing is not retried");
    assert_eq!(journal[0].status_code(), Some(503));
    assert!(journal.matching(Operation::ShowBatchTask).count() >= 1);
    h.shutdown().await;
}

#[tokio::test]
async fn a_reset_after_processing_is_settled_by_a_read() {
    let h = start().await;
    h.inject(Fault::reset().on(Operation::StopBatchTask)).expect("inject");
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(
        matches!(
            outcome_of(&out, "dev-0001"),
            TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
        ),
        "{out:?}"
    );
    let journal = h.journal();
    let stop = journal.stops_of(T).next().expect("the stop");
    assert_eq!(stop.status, None);
    assert_eq!(stop.request_id, None);
    h.shutdown().await;
}

#[tokio::test]
async fn a_malformed_body_applies_nothing_so_the_client_reads_and_stops_again() {
    let h = start().await;
    h.inject(Fault::malformed_body().on(Operation::StopBatchTask))
        .expect("inject");
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    // The read finds the sub-task still running, so the client sends the stop again.
    assert!(
        matches!(
            outcome_of(&out, "dev-0001"),
            TargetOutcome::Succeeded(Succeeded::Answered { .. })
        ),
        "{out:?}"
    );
    assert_eq!((out.requests_sent(), out.reads()), (2, 1));
    let journal = h.journal();
    let stops: Vec<_> = journal.stops_of(T).collect();
    assert_eq!(stops.len(), 2);
    assert_eq!(
        (stops[0].status_code(), stops[0].response_body.as_ref()),
        (Some(200), None)
    );
    assert!(stops[0].fault_injected && !stops[1].fault_injected);
    assert_eq!(
        h.task(P, T).expect("task").subtasks["dev-0001"],
        TaskDetailStatus::Stopped
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_delay_past_the_client_timeout_is_settled_by_a_read() {
    let h = start().await;
    h.inject(Fault::delay(Duration::from_secs(3)).on(Operation::StopBatchTask))
        .expect("inject");
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(
        matches!(
            outcome_of(&out, "dev-0001"),
            TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
        ),
        "{out:?}"
    );
    h.shutdown().await;
}

#[test]
fn rules_match_by_operation_task_count_and_position_in_order() {
    let service = Service::new(&EmulatorConfig::new().auth_enabled(false)).expect("service");
    let show = |task: &str| {
        let request = http::Request::get(format!("/v5/iot/{P}/batchtasks/{task}"))
            .body(bytes::Bytes::new())
            .expect("request");
        service.respond(request).status().as_u16()
    };
    // Precedence: the first due rule wins; the second sees only what the first lets through.
    service
        .inject(
            Fault::status(StatusCode::BAD_GATEWAY)
                .on(Operation::ShowBatchTask)
                .for_task(T)
                .times(2),
        )
        .expect("inject");
    service
        .inject(
            Fault::status(StatusCode::SERVICE_UNAVAILABLE)
                .on(Operation::ShowBatchTask)
                .nth(2),
        )
        .expect("inject");
    service
        .inject(Fault::status(StatusCode::CONFLICT).on(Operation::StopBatchTask))
        .expect("inject");
    let other = "000000000000000000000000";
    assert_eq!(show(T), 502);
    assert_eq!(show(other), 404); // the nth rule's first match
    assert_eq!(show(T), 502);
    assert_eq!(show(T), 503); // its second
    assert_eq!(show(T), 200);
    assert_eq!(service.pending_faults(), 1, "only the stop rule is left");
    service.clear_faults();
    assert_eq!(service.pending_faults(), 0);
    // A reset through the synchronous service is a 502 with no body.
    service.inject(Fault::reset()).expect("inject");
    assert_eq!(show(T), 502);
}

// ---------------------------------------------------------------- live state

#[tokio::test]
async fn a_device_finishing_mid_test_makes_its_stop_fail() {
    let h = start().await;
    h.finish_sub_task(P, T, "dev-0001").expect("known sub-task");
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    match outcome_of(&out, "dev-0001") {
        TargetOutcome::Failed(Failed::Answered {
            error_code, error_msg, ..
        }) => {
            assert_eq!(error_code.as_deref(), Some("IOTDA.000006"));
            assert!(
                error_msg.as_deref().is_some_and(|m| m.contains("Success")),
                "{error_msg:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    h.shutdown().await;
}

#[tokio::test]
async fn live_changes_are_validated_and_visible() {
    let h = start().await;
    let missing = "000000000000000000000000";
    let e = h
        .set_sub_task(P, missing, "dev-0001", TaskDetailStatus::Fail)
        .expect_err("unknown task");
    assert!(matches!(e, StateError::NoSuchTask { .. }));
    assert!(e.to_string().contains(missing), "{e}");
    let e = h
        .set_sub_task(P, T, "dev-nope", TaskDetailStatus::Fail)
        .expect_err("unknown device");
    assert!(e.to_string().contains("dev-nope"), "{e}");
    h.add_sub_task(P, T, "dev-new", TaskDetailStatus::Processing)
        .expect("new device");
    assert!(matches!(
        h.add_sub_task(P, T, "dev-new", TaskDetailStatus::Processing),
        Err(StateError::SubTaskExists { .. })
    ));
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-new"])
        .send()
        .await
        .expect("stop");
    assert!(out.all_succeeded(), "{out:?}");
    let shown = client(&h).show_batch_task(T).send().await.expect("show");
    drop(shown);
    h.set_task_status(P, T, TaskStatus::Success).expect("known task");
    assert_eq!(h.task(P, T).expect("task").status, TaskStatus::Success);
    let e = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0002"])
        .send()
        .await
        .expect_err("a finished task refuses");
    assert!(e.to_string().contains("Success"), "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn expired_credentials_are_refused_until_restored() {
    let h = start().await;
    h.expire_credentials();
    let e = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect_err("expired");
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        h.task(P, T).expect("task").subtasks["dev-0001"],
        TaskDetailStatus::Processing
    );
    h.restore_credentials();
    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(out.all_succeeded(), "{out:?}");
    h.shutdown().await;
}

// ---------------------------------------------------------------- admin endpoint

#[tokio::test]
async fn the_admin_endpoint_injects_faults_and_lists_the_journal() {
    let h = Emulator::start(EmulatorConfig::new().token(TOKEN).admin_endpoint(true))
        .await
        .expect("starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client");
    let faults = format!("{}/__emulator/faults", h.base_url());
    let post = |body: &'static str| http.post(&faults).body(body).send();
    let r = post(r#"{"action":"process_then_fail","status":503,"operation":"StopBatchTask","times":1}"#)
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let r = post(r#"{"action":"explode"}"#).await.expect("post");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("explode"));

    let out = client(&h)
        .stop_batch_task(T)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(
        matches!(
            outcome_of(&out, "dev-0001"),
            TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. })
        ),
        "{out:?}"
    );

    let journal_url = format!("{}/__emulator/journal", h.base_url());
    let journal: serde_json::Value = http
        .get(&journal_url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let entries = journal.as_array().expect("an array");
    assert_eq!(entries[0]["operation"], "StopBatchTask");
    assert_eq!(entries[0]["status"], 503);
    assert_eq!(entries[0]["auth"], json!({ "mode": "token" }));
    assert_eq!(entries[0]["fault_injected"], true);
    assert!(!journal.to_string().contains(TOKEN));
    let r = http.delete(&journal_url).send().await.expect("delete");
    assert_eq!(r.status(), 200);
    assert!(h.journal().is_empty(), "admin requests are not journaled");
    h.shutdown().await;
}

/// One raw HTTP/1.1 exchange with the emulator at `addr` (so that `Host`
/// can be anything): the status and the JSON body.
async fn raw_exchange(addr: std::net::SocketAddr, head: &str, body: &str) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .expect("reads");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(json).unwrap_or(serde_json::Value::Null))
}

/// Issue 22: a web page could POST faults (`Origin: http://attacker.example`,
/// `Content-Type: text/plain` was 201) and, by DNS rebinding (a `Host` of the
/// attacker's name), read the journal. The admin API answers only a loopback
/// `Host` and no foreign `Origin`: 403 with a JSON error saying which.
#[tokio::test]
async fn the_admin_endpoint_refuses_foreign_origins_and_hosts() {
    let h = Emulator::start(EmulatorConfig::new().auth_enabled(false).admin_endpoint(true))
        .await
        .expect("starts");
    let addr = h.addr();
    let port = addr.port();
    let fault = r#"{"action":"status","status":503,"operation":"StopBatchTask","times":1}"#;
    let post = |extra: String| format!("POST /__emulator/faults HTTP/1.1\r\nContent-Type: text/plain{extra}");

    for (headers, refused_for) in [
        (
            format!("\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://attacker.example"),
            "Origin",
        ),
        (format!("\r\nHost: 127.0.0.1:{port}\r\nOrigin: null"), "Origin"),
        // A loopback page on another port is another origin.
        (
            format!("\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://localhost:1"),
            "Origin",
        ),
        (
            format!("\r\nHost: 127.0.0.1:{port}\r\nSec-Fetch-Site: cross-site"),
            "Sec-Fetch-Site",
        ),
        (format!("\r\nHost: attacker.example:{port}"), "Host"),
        (format!("\r\nHost: 127.0.0.1.attacker.example:{port}"), "Host"),
        ("\r\nHost: localhost.attacker.example".to_owned(), "Host"),
        (String::new(), "Host"),
    ] {
        let (status, body) = raw_exchange(addr, &post(headers.clone()), fault).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(refused_for), "{headers:?}: {error}");
        assert_eq!(h.pending_faults(), 0, "{headers:?}");
    }
    // DNS rebinding: the journal is not read under a foreign name either.
    let (status, body) = raw_exchange(
        addr,
        &format!("GET /__emulator/journal HTTP/1.1\r\nHost: rebind.attacker.example:{port}"),
        "",
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // Loopback names with any port, and a same-origin Origin, are served.
    for headers in [
        format!("\r\nHost: 127.0.0.1:{port}"),
        format!("\r\nHost: localhost:{port}"),
        "\r\nHost: LocalHost".to_owned(),
        format!("\r\nHost: [::1]:{port}"),
        format!("\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}"),
        format!("\r\nHost: localhost:{port}\r\nSec-Fetch-Site: same-origin"),
    ] {
        let (status, body) = raw_exchange(addr, &post(headers.clone()), fault).await;
        assert_eq!(status, 201, "{headers:?}: {body}");
    }
    assert_eq!(h.pending_faults(), 6);
    h.shutdown().await;
}

#[tokio::test]
async fn the_admin_endpoint_is_off_by_default_and_loopback_only() {
    let h = start().await;
    let r = reqwest::Client::new()
        .post(format!("{}/__emulator/faults", h.base_url()))
        .body(r#"{"action":"reset"}"#)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404, "served as an unknown IoTDA route");
    h.shutdown().await;
    let config = EmulatorConfig::new()
        .listen("0.0.0.0:0".parse().expect("addr"))
        .allow_non_loopback(true)
        .admin_endpoint(true);
    let e = Emulator::start(config).await.expect_err("refused");
    assert!(e.to_string().contains("admin_endpoint"), "{e}");
}
