//! Bounds against hostile input: durations the builder range-checks,
//! credential variables that are not UTF-8, and ShowBatchTask walks that a
//! server's paging would otherwise never let end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::common;

use common::*;
use futures_util::StreamExt as _;
use iotda_batchtask::error::TimeoutKind;
use iotda_batchtask::validation::MAX_DEADLINE;
use iotda_batchtask::{Client, ClientBuilder, Credentials, Error, MAX_WALK_PAGES, MAX_WALK_SUB_TASKS};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn builder(endpoint: &str) -> ClientBuilder {
    Client::builder(endpoint)
        .project_id(PROJECT)
        .credentials(Credentials::token(TOKEN))
}

#[test]
fn durations_are_range_checked_naming_the_field() {
    type Set = fn(ClientBuilder, Duration) -> ClientBuilder;
    let fields: [(&str, Set); 3] = [
        ("connect_timeout", ClientBuilder::connect_timeout),
        ("request_timeout", ClientBuilder::request_timeout),
        ("deadline", ClientBuilder::deadline),
    ];
    for (field, set) in fields {
        for bad in [
            Duration::ZERO,
            MAX_DEADLINE + Duration::from_nanos(1),
            // `--timeout 1e19` once panicked adding this to an Instant.
            Duration::from_secs_f64(1e19),
            Duration::MAX,
        ] {
            let err = set(builder("http://127.0.0.1:1"), bad).build().unwrap_err();
            let invalid = err.as_invalid_input().unwrap_or_else(|| panic!("{err:?}"));
            assert_eq!(invalid.field(), field, "{bad:?}");
        }
        assert!(
            set(builder("http://127.0.0.1:1"), MAX_DEADLINE).build().is_ok(),
            "{field}"
        );
    }
    assert_eq!(MAX_DEADLINE, Duration::from_secs(24 * 3600));
}

/// The longest deadline and timeouts allowed work end to end: nothing
/// overflows computing when they end.
#[tokio::test]
async fn the_longest_deadline_works() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"targets":[]}"#, "application/json"))
        .mount(&server)
        .await;
    let client = builder(&server.uri())
        .connect_timeout(MAX_DEADLINE)
        .request_timeout(MAX_DEADLINE)
        .deadline(MAX_DEADLINE)
        .build()
        .unwrap();
    client.stop_batch_task(TASK).all().send().await.unwrap();
    let page = serde_json::json!({"batchtask": {"task_id": TASK}, "task_details": []});
    let show = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&show)
        .await;
    let client = builder(&show.uri()).deadline(MAX_DEADLINE).build().unwrap();
    assert_eq!(client.show_batch_task(TASK).sub_tasks().count().await, 0);
}

#[cfg(unix)]
#[test]
fn a_credential_variable_that_is_not_utf8_is_an_error_never_a_fallback() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;

    const SECRET_BYTES: &[u8] = b"s3cr3t-\xff-value";
    let lookup = |pairs: Vec<(&'static str, OsString)>| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    };
    let bad = || OsString::from_vec(SECRET_BYTES.to_vec());
    let ok = |v: &str| OsString::from(v);
    let fallbacks = || {
        vec![
            ("CLOUD_SDK_AK", ok("AK2")),
            ("CLOUD_SDK_SK", ok("SK2")),
            ("IOTDA_AUTH_TOKEN", ok("T")),
        ]
    };
    for (variable, set) in [
        (
            "HUAWEICLOUD_SDK_AK",
            vec![("HUAWEICLOUD_SDK_AK", bad()), ("HUAWEICLOUD_SDK_SK", ok("SK1"))],
        ),
        (
            "HUAWEICLOUD_SDK_SK",
            vec![("HUAWEICLOUD_SDK_AK", ok("AK1")), ("HUAWEICLOUD_SDK_SK", bad())],
        ),
        (
            "HUAWEICLOUD_SDK_SECURITY_TOKEN",
            vec![
                ("HUAWEICLOUD_SDK_AK", ok("AK1")),
                ("HUAWEICLOUD_SDK_SK", ok("SK1")),
                ("HUAWEICLOUD_SDK_SECURITY_TOKEN", bad()),
            ],
        ),
        (
            "HUAWEICLOUD_SDK_PROJECT_ID",
            vec![
                ("HUAWEICLOUD_SDK_AK", ok("AK1")),
                ("HUAWEICLOUD_SDK_SK", ok("SK1")),
                ("HUAWEICLOUD_SDK_PROJECT_ID", bad()),
            ],
        ),
    ] {
        let mut vars = set;
        vars.extend(fallbacks());
        let err = Credentials::from_os_lookup(lookup(vars)).unwrap_err();
        assert_eq!(err.field(), variable);
        assert!(err.rule().contains("not valid UTF-8"), "{err}");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
    // Lower in the order, still an error rather than "no credentials".
    let err =
        Credentials::from_os_lookup(lookup(vec![("CLOUD_SDK_AK", bad()), ("CLOUD_SDK_SK", ok("SK2"))])).unwrap_err();
    assert_eq!(err.field(), "CLOUD_SDK_AK");
    let err = Credentials::from_os_lookup(lookup(vec![("IOTDA_AUTH_TOKEN", bad())])).unwrap_err();
    assert_eq!(err.field(), "IOTDA_AUTH_TOKEN");
    // Valid values work as through `from_lookup`.
    let c = Credentials::from_os_lookup(lookup(vec![
        ("HUAWEICLOUD_SDK_AK", ok("AK1")),
        ("HUAWEICLOUD_SDK_SK", ok("SK1")),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", ok("ST")),
    ]))
    .unwrap();
    assert_eq!(c.ak_sk_pair().unwrap().access_key(), "AK1");
    assert!(format!("{c:?}").contains("security_token: Some(\"[redacted]\")"));
}

/// Answers every ShowBatchTask request with a page of `records` sub-tasks and
/// a fresh marker below the last one (so the walk always "advances").
struct EndlessPages {
    records: usize,
    served: AtomicU64,
    delay: Duration,
}

impl Respond for EndlessPages {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::SeqCst);
        let marker = format!("{:024x}", 0xffff_ffff_ffff_ffff_ffff_ffffu128 - u128::from(n));
        let details: Vec<Value> = (0..self.records)
            .map(|i| serde_json::json!({"target": format!("d{n}-{i}"), "status": "Processing"}))
            .collect();
        let page = serde_json::json!({
            "batchtask": {"task_id": TASK},
            "task_details": details,
            "page": {"count": 1_000_000_000, "marker": marker},
        });
        ResponseTemplate::new(200).set_body_json(page).set_delay(self.delay)
    }
}

async fn endless(records: usize, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(EndlessPages {
            records,
            served: AtomicU64::new(0),
            delay,
        })
        .mount(&server)
        .await;
    server
}

/// Walks the stream to its end: the sub-tasks yielded, and the error it ended with.
async fn walk(client: &Client, limit: u32) -> (usize, Option<Error>) {
    let mut stream = std::pin::pin!(client.show_batch_task(TASK).limit(limit).sub_tasks());
    let mut yielded = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => yielded += 1,
            Err(e) => return (yielded, Some(e)),
        }
    }
    (yielded, None)
}

#[tokio::test]
async fn a_walk_stops_at_the_page_bound() {
    // One sub-task per page: the page bound, not the sub-task bound, is hit.
    let server = endless(1, Duration::ZERO).await;
    let client = builder(&server.uri()).build().unwrap();
    let (yielded, err) = tokio::time::timeout(Duration::from_secs(120), walk(&client, 1))
        .await
        .expect("the walk ends");
    match err {
        Some(Error::Decode { message, .. }) => assert!(message.contains("MAX_WALK_PAGES"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(yielded, MAX_WALK_PAGES);
    assert_eq!(server.received_requests().await.unwrap().len(), MAX_WALK_PAGES);
}

#[tokio::test]
async fn a_walk_stops_at_the_sub_task_bound() {
    // Pages far fuller than asked for: the sub-task bound is hit first.
    let per_page = 2_000;
    let server = endless(per_page, Duration::ZERO).await;
    let client = builder(&server.uri()).build().unwrap();
    let (yielded, err) = tokio::time::timeout(Duration::from_secs(120), walk(&client, 50))
        .await
        .expect("the walk ends");
    match err {
        Some(Error::Decode { message, .. }) => assert!(message.contains("MAX_WALK_SUB_TASKS"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(yielded <= MAX_WALK_SUB_TASKS, "{yielded}");
    assert_eq!(yielded, MAX_WALK_SUB_TASKS / per_page * per_page);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        MAX_WALK_SUB_TASKS / per_page + 1
    );
}

#[tokio::test]
async fn one_deadline_covers_the_whole_walk() {
    // Each page is well within the deadline; the walk as a whole is not.
    let server = endless(50, Duration::from_millis(200)).await;
    let deadline = Duration::from_secs(1);
    let client = builder(&server.uri()).deadline(deadline).build().unwrap();
    let started = std::time::Instant::now();
    let (yielded, err) = tokio::time::timeout(Duration::from_secs(30), walk(&client, 50))
        .await
        .expect("the walk ends");
    match err {
        Some(
            e @ Error::Timeout {
                limit: TimeoutKind::Walk,
                attempts,
                ..
            },
        ) => {
            assert!((2..=6).contains(&attempts), "{attempts} pages requested");
            assert!(e.to_string().contains("page request(s)"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < deadline + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(yielded >= 50, "the pages before the deadline were yielded");
}
