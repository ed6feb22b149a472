//! Fault injection: the client against misbehaving servers on 127.0.0.1.
//!
//! One row per fault. Each asserts the exact outcome (error variant or
//! success), the number of attempts and a time bound, and the suite prints
//! how many faults behaved as required (quoted in docs/reliability.md).
//! These calls do not read to settle ambiguity (`reconcile(false)`): the
//! rows are about how each failure is classified; `truth.rs` covers the reads.

use crate::common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use iotda_batchtask::error::TimeoutKind;
use iotda_batchtask::outcome::{TargetOutcome, Unknown};
use iotda_batchtask::{Client, Credentials, Error, RetryPolicy, TargetsReport};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

/// Long enough that a loaded machine answers the healthy requests in time
/// (the truth tests' 400 ms once did not, under a load of 10 on 2 cores),
/// short enough for the timeout faults.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const CAP: usize = 64 * 1024;

type Script = Arc<dyn Fn(TcpStream, usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A server on 127.0.0.1 that runs `script` on each connection (with its
/// index), after which the connection is dropped. Returns its base URL.
async fn serve(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut index = 0;
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(script(stream, index));
            index += 1;
        }
    });
    format!("http://{addr}")
}

fn response(status: &str, content_type: &str, body: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-request-id: rid-fault\r\n{extra}\r\n{body}",
        body.len()
    )
}

fn answer_each(answers: Vec<String>) -> Script {
    let answers = Arc::new(answers);
    Arc::new(move |mut stream, index| {
        let answers = answers.clone();
        Box::pin(async move {
            read_request(&mut stream).await;
            let answer = answers.get(index).or(answers.last()).cloned().unwrap_or_default();
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.flush().await;
        })
    })
}

fn answer(status: &str, content_type: &str, body: &str) -> Script {
    answer_each(vec![response(status, content_type, body, "")])
}

fn client_for(endpoint: &str) -> Client {
    Client::builder(endpoint)
        .project_id(PROJECT)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .request_timeout(REQUEST_TIMEOUT)
        .deadline(Duration::from_secs(10))
        .max_response_bytes(CAP)
        .retry(RetryPolicy::default().with_backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .build()
        .unwrap()
}

/// A call's result with an ambiguous failure (every target unknown through
/// the same error) shown as that error, so each row names one variant.
type Outcome = Result<TargetsReport, Arc<Error>>;

type Check = fn(&Outcome) -> bool;

fn flatten(result: Result<TargetsReport, Error>) -> Outcome {
    let report = result.map_err(Arc::new)?;
    let shared = match report.results().first().map(|r| &r.outcome) {
        Some(TargetOutcome::Unknown(Unknown::Error(error))) => error.clone(),
        _ => return Ok(report),
    };
    let all_same = report
        .results()
        .iter()
        .all(|r| matches!(&r.outcome, TargetOutcome::Unknown(Unknown::Error(e)) if Arc::ptr_eq(e, &shared)));
    if all_same {
        assert!(shared.may_have_been_processed(), "{shared}");
        Err(shared)
    } else {
        Ok(report)
    }
}

/// `Err(error)` matching `pattern`.
macro_rules! failed {
    ($r:expr, $($pattern:tt)+) => {
        $r.as_ref().err().is_some_and(|e| matches!(&**e, $($pattern)+))
    };
}

struct Fault {
    name: &'static str,
    script: Option<Script>,
    check: Check,
    attempts: u32,
    within: Duration,
    /// Extra assertion on the server side (e.g. bytes written).
    after: Option<fn(&FaultRun) -> bool>,
}

impl Fault {
    /// A fault the client must recognise in one attempt within 2 s, with no
    /// server-side check; the methods below change those.
    fn new(name: &'static str, script: Option<Script>, check: Check) -> Self {
        Self {
            name,
            script,
            check,
            attempts: 1,
            within: Duration::from_secs(2),
            after: None,
        }
    }

    fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    fn within(mut self, within: Duration) -> Self {
        self.within = within;
        self
    }

    fn after(mut self, after: fn(&FaultRun) -> bool) -> Self {
        self.after = Some(after);
        self
    }
}

fn request_timed_out(r: &Outcome) -> bool {
    failed!(
        r,
        Error::Timeout {
            limit: TimeoutKind::Request,
            ..
        }
    )
}

/// What the servers saw, for a fault's `after` check.
struct FaultRun {
    /// Connections to the host a redirect pointed at.
    hits_elsewhere: usize,
}

const HTML: &str = "<html><body><h1>Bad Gateway</h1></body></html>";
const OK_BODY: &str = r#"{"targets":[{"target":"dev-1","status":"success"},{"target":"dev-2","status":"success"}]}"#;

fn faults(redirect_target: &str) -> Vec<Fault> {
    let ok = response("200 OK", "application/json", OK_BODY, "");
    vec![
        Fault::new("connection refused", None, |r| failed!(r, Error::Transport { .. })).attempts(3),
        Fault::new(
            "accept, then close without answering",
            Some(Arc::new(|mut s, _| {
                Box::pin(async move {
                    read_request(&mut s).await;
                })
            })),
            |r| failed!(r, Error::Transport { .. }),
        ),
        Fault::new(
            "reset mid-headers",
            Some(Arc::new(|mut s, _| {
                Box::pin(async move {
                    read_request(&mut s).await;
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-ty").await;
                    let _ = s.set_zero_linger();
                })
            })),
            |r| failed!(r, Error::Transport { .. }),
        ),
        Fault::new(
            "reset mid-body",
            Some(Arc::new(|mut s, _| {
                Box::pin(async move {
                    read_request(&mut s).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\nx-request-id: rid-fault\r\n\r\n{\"targets\":[";
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.flush().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = s.set_zero_linger();
                })
            })),
            |r| failed!(r, Error::Transport { request_id: Some(id), .. } if id == "rid-fault"),
        ),
        Fault::new(
            "headers never sent (timeout)",
            Some(Arc::new(|mut s, _| {
                Box::pin(async move {
                    read_request(&mut s).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                })
            })),
            request_timed_out,
        )
        .within(REQUEST_TIMEOUT + Duration::from_secs(1)),
        Fault::new(
            "body trickled slower than the timeout",
            Some(Arc::new(|mut s, _| {
                Box::pin(async move {
                    read_request(&mut s).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
                    let _ = s.write_all(head.as_bytes()).await;
                    for _ in 0..1000 {
                        if s.write_all(b" ").await.is_err() {
                            return;
                        }
                        let _ = s.flush().await;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            })),
            request_timed_out,
        )
        .within(REQUEST_TIMEOUT + Duration::from_secs(1)),
        Fault::new(
            "500 with an HTML body",
            Some(answer("500 Internal Server Error", "text/html", HTML)),
            |r| failed!(r, Error::Api(e) if e.status == 500 && e.body.as_deref() == Some(HTML)),
        ),
        Fault::new(
            "502 with an HTML body (not retried)",
            Some(answer("502 Bad Gateway", "text/html", HTML)),
            |r| failed!(r, Error::Api(e) if e.status == 502 && e.body.as_deref() == Some(HTML) && e.request_id.as_deref() == Some("rid-fault")),
        ),
        Fault::new(
            "503 (not retried: a gateway can answer 503 after the stop was processed)",
            Some(answer_each(vec![
                response("503 Service Unavailable", "text/html", HTML, ""),
                ok.clone(),
            ])),
            |r| failed!(r, Error::Api(e) if e.status == 503 && e.request_id.as_deref() == Some("rid-fault")),
        ),
        Fault::new(
            "429, then closed unanswered (the error keeps nothing of the 429)",
            Some(answer_each(vec![
                response("429 Too Many Requests", "text/html", HTML, ""),
                String::new(),
            ])),
            |r| failed!(r, e @ Error::Transport { request_id: None, .. } if e.attempts() == 2),
        )
        .attempts(2),
        Fault::new(
            "429 with Retry-After: 1, then 200",
            Some(answer_each(vec![
                response(
                    "429 Too Many Requests",
                    "application/json",
                    r#"{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached."}"#,
                    "retry-after: 1\r\n",
                ),
                ok.clone(),
            ])),
            |r| r.as_ref().is_ok_and(TargetsReport::all_succeeded),
        )
        .attempts(2)
        .within(Duration::from_millis(2500)),
        Fault::new(
            "429 forever (gives up after 3 attempts, says so)",
            Some(answer(
                "429 Too Many Requests",
                "application/json",
                r#"{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached."}"#,
            )),
            |r| failed!(r, e @ Error::Api(_) if e.status() == Some(429) && e.to_string().ends_with("after 3 attempts")),
        )
        .attempts(3),
        Fault::new(
            "200 with invalid JSON",
            Some(answer("200 OK", "application/json", "targets: yes")),
            |r| failed!(r, Error::Decode { status: 200, .. }),
        ),
        Fault::new(
            "200 with truncated JSON",
            Some(answer("200 OK", "application/json", &OK_BODY[..40])),
            |r| failed!(r, Error::Decode { status: 200, body, .. } if body.as_str() == &OK_BODY[..40]),
        ),
        Fault::new(
            "200 with a wrong content type",
            Some(answer("200 OK", "text/html; charset=utf-8", OK_BODY)),
            |r| failed!(r, Error::Decode { status: 200, message, .. } if message.contains("text/html")),
        ),
        Fault::new(
            "200 with unknown fields and an unknown target status (that target unknown)",
            Some(answer(
                "200 OK",
                "application/json;charset=UTF-8",
                r#"{"targets":[{"target":"dev-1","status":"success","why":1},{"target":"dev-2","status":"deferred"}],"next":{"a":[1]}}"#,
            )),
            |r| matches!(r, Ok(out) if out.results().len() == 2 && out.succeeded().count() == 1 && out.unknown().count() == 1),
        ),
        Fault::new(
            "200 with a declared body over the cap",
            Some(answer("200 OK", "application/json", &" ".repeat(CAP + 1))),
            |r| {
                failed!(
                    r,
                    Error::ResponseTooLarge {
                        status: 200,
                        limit: CAP,
                        ..
                    }
                )
            },
        ),
        Fault::new(
            "200 with an endless chunked body (streamed, stopped at the cap)",
            Some(Arc::new(|mut s, _| {
                Box::pin(async move {
                    read_request(&mut s).await;
                    let _ = s
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                        )
                        .await;
                    let chunk = format!("{:x}\r\n{}\r\n", 8192, " ".repeat(8192));
                    // Up to 64 MiB; the client must hang up long before.
                    for _ in 0..8192 {
                        if s.write_all(chunk.as_bytes()).await.is_err() {
                            return;
                        }
                        WRITTEN.fetch_add(chunk.len(), Ordering::SeqCst);
                    }
                })
            })),
            |r| failed!(r, Error::ResponseTooLarge { limit: CAP, .. }),
        )
        .within(Duration::from_secs(3))
        .after(|_| WRITTEN.load(Ordering::SeqCst) < 16 * 1024 * 1024),
        Fault::new(
            "redirect to another host (not followed)",
            Some(answer_each(vec![response(
                "307 Temporary Redirect",
                "text/plain",
                "",
                &format!("location: {redirect_target}/steal\r\n"),
            )])),
            |r| failed!(r, Error::Api(e) if e.status == 307),
        )
        .after(|run| run.hits_elsewhere == 0),
        Fault::new(
            "an answer for the wrong number of targets",
            Some(answer(
                "200 OK",
                "application/json",
                r#"{"targets":[{"target":"dev-1","status":"success"},{"target":"dev-9","status":"success"}]}"#,
            )),
            |r| {
                matches!(r, Ok(out) if !out.all_succeeded()
                    && out.unknown().map(|u| u.target.as_str()).collect::<Vec<_>>() == ["dev-2"]
                    && out.unexpected().iter().filter_map(|u| u.target.as_deref()).collect::<Vec<_>>() == ["dev-9"])
            },
        ),
    ]
}

/// Bytes the endless-body server managed to write.
static WRITTEN: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_injection_suite() {
    // A second host (127.0.0.2 is loopback too) that must never be reached.
    let hits_elsewhere = Arc::new(AtomicUsize::new(0));
    let elsewhere = TcpListener::bind("127.0.0.2:0")
        .await
        .or(TcpListener::bind("127.0.0.1:0").await)
        .unwrap();
    let redirect_target = format!("http://{}", elsewhere.local_addr().unwrap());
    let hits = hits_elsewhere.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = elsewhere.accept().await {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    });

    let faults = faults(&redirect_target);
    let total = faults.len();
    let mut failures = Vec::new();
    for fault in faults {
        let connections = Arc::new(AtomicUsize::new(0));
        let endpoint = match &fault.script {
            Some(script) => {
                let script = script.clone();
                let count = connections.clone();
                let counted: Script = Arc::new(move |s, i| {
                    count.fetch_add(1, Ordering::SeqCst);
                    script(s, i)
                });
                serve(counted).await
            }
            None => {
                // Bind, note the port, close: nothing listens there.
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                drop(listener);
                format!("http://{addr}")
            }
        };
        let client = client_for(&endpoint);
        let started = Instant::now();
        let result = flatten(
            client
                .stop_batch_task(TASK)
                .targets(["dev-1", "dev-2"])
                .reconcile(false)
                .send()
                .await,
        );
        let elapsed = started.elapsed();
        // A success does not say how many attempts it took; the server's
        // connection count does (each attempt here is a new connection).
        let attempts = match &result {
            Ok(_) => connections.load(Ordering::SeqCst) as u32,
            Err(e) => e.attempts(),
        };
        let run = FaultRun {
            hits_elsewhere: hits_elsewhere.load(Ordering::SeqCst),
        };
        let mut problems = Vec::new();
        if !(fault.check)(&result) {
            problems.push(format!("unexpected outcome {result:?}"));
        }
        if attempts != fault.attempts {
            problems.push(format!("{attempts} attempts, expected {}", fault.attempts));
        }
        if elapsed > fault.within {
            problems.push(format!("took {elapsed:?}, bound {:?}", fault.within));
        }
        if let Some(after) = fault.after
            && !after(&run)
        {
            problems.push(format!(
                "server-side check failed (endless body: {} bytes written; redirect target: {} connections)",
                WRITTEN.load(Ordering::SeqCst),
                run.hits_elsewhere
            ));
        }
        if let Err(e) = &result {
            assert!(!e.to_string().contains('\n'), "{}: multi-line error", fault.name);
        }
        println!(
            "{:<70} {:>8.0?} attempts={attempts} {}",
            fault.name,
            elapsed,
            if problems.is_empty() { "ok" } else { "FAILED" }
        );
        if !problems.is_empty() {
            failures.push(format!("{}: {}", fault.name, problems.join("; ")));
        }
    }
    println!(
        "fault suite: {total} faults, {} behaved as required",
        total - failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(total, 20, "docs/reliability.md quotes 20 of 20");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let ok = response("200 OK", "application/json", OK_BODY, "");
    let endpoint = serve(answer_each(vec![
        response("429 Too Many Requests", "application/json", "{}", "retry-after: 1\r\n"),
        ok,
    ]))
    .await;
    let started = Instant::now();
    let out = client_for(&endpoint)
        .stop_batch_task(TASK)
        .targets(["dev-1", "dev-2"])
        .send()
        .await
        .unwrap();
    assert!(out.all_succeeded());
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retries_can_be_switched_off_and_the_deadline_ends_the_call() {
    let endpoint = serve(answer("429 Too Many Requests", "text/plain", "busy")).await;
    let client = Client::builder(&endpoint)
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .no_retries()
        .build()
        .unwrap();
    let err = client.stop_batch_task(TASK).target("dev-1").send().await.unwrap_err();
    assert_eq!((err.status(), err.attempts()), (Some(429), 1));

    // A server that never answers, a long request timeout, a short deadline.
    let endpoint = serve(Arc::new(|mut s, _| {
        Box::pin(async move {
            read_request(&mut s).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
    }))
    .await;
    let client = Client::builder(&endpoint)
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
        .request_timeout(Duration::from_secs(20))
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = flatten(
        client
            .stop_batch_task(TASK)
            .target("dev-1")
            .reconcile(false)
            .send()
            .await,
    )
    .unwrap_err();
    // The attempt's own timeout is cut to end at the deadline.
    assert!(
        matches!(
            *err,
            Error::Timeout {
                limit: TimeoutKind::Deadline,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
