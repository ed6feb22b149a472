//! Fixtures shared by the benches: the stop call every bench makes, requests
//! built exactly as the client hands them to the signer, and (with the
//! `emulator` feature) the loopback servers and runtimes of the end-to-end
//! benches. Every server is started here, on 127.0.0.1.
#![allow(dead_code)]

use iotda_batchtask::auth::{Algorithm, Credentials, IOTDA_SIGNING_SERVICE, Signer};
use iotda_batchtask::types::BatchTargets;
use jiff::Timestamp;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};

/// The test suite's fixtures (IDs and example credentials), shared so
/// benches and tests make the same call.
#[path = "../../tests/it/common.rs"]
mod fixtures;
/// One HTTP/1.1 request read from a raw socket (the watch bench's server).
#[allow(unused_imports)] // only the watch bench serves raw sockets
pub use fixtures::read_request;
pub use fixtures::{AK, INSTANCE, PROJECT, SK, TASK, TOKEN};

pub const REGION: &str = "cn-north-4";

/// Targets of the single stop call ((1), (2), (3), (5)).
pub const CALL_TARGETS: usize = 10;
/// Targets of the bulk call (4): 100 requests of 100.
pub const BULK_TARGETS: usize = 10_000;
/// Requests in flight in the bulk call.
pub const BULK_CONCURRENCY: usize = 8;

/// `dev-00000`, `dev-00001`, ...
pub fn device(i: usize) -> String {
    format!("dev-{i:05}")
}

/// `n` device IDs starting at `first`.
pub fn devices(first: usize, n: usize) -> Vec<String> {
    (first..first + n).map(device).collect()
}

/// The path of the stop call.
pub fn stop_path() -> String {
    format!("/v5/iot/{PROJECT}/batchtasks/{TASK}/stop")
}

/// The body the client sends: the generated type, serialised by serde_json
/// (byte for byte what progenitor's `.json(&body)` produces).
pub fn stop_body(targets: &[String]) -> Vec<u8> {
    let mut body = BatchTargets::default();
    body.targets = targets.to_vec();
    serde_json::to_vec(&body).expect("serialisable")
}

/// The stop request as the client hands it to the signer: progenitor's
/// request after the client's `prepare` hook (`Content-Type`, `User-Agent`,
/// `Instance-Id`; `api-version` and `Accept` removed).
pub fn unsigned_request(base_url: &str, body: &[u8]) -> reqwest::Request {
    let url = format!("{base_url}{}", stop_path()).parse().expect("valid URL");
    let mut request = reqwest::Request::new(reqwest::Method::POST, url);
    let headers = request.headers_mut();
    headers.insert(
        HeaderName::from_static("instance-id"),
        HeaderValue::from_static(INSTANCE),
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(iotda_batchtask::USER_AGENT));
    *request.body_mut() = Some(body.to_vec().into());
    request
}

/// The derived (`V11-HMAC-SHA256`) signer the client uses for these fixtures.
pub fn derived_signer() -> Signer {
    Signer::new(
        &Credentials::ak_sk(AK, SK),
        Algorithm::Derived {
            region: REGION.to_owned(),
            service: IOTDA_SIGNING_SERVICE.to_owned(),
        },
    )
    .expect("valid credentials")
    .with_project_id(PROJECT)
}

/// The plain (`SDK-HMAC-SHA256`) signer.
pub fn plain_signer() -> Signer {
    Signer::new(&Credentials::ak_sk(AK, SK), Algorithm::Plain)
        .expect("valid credentials")
        .with_project_id(PROJECT)
}

/// A fixed signing time, so every iteration signs within one day.
pub fn fixed_time() -> Timestamp {
    "2024-01-02T03:04:05Z".parse().expect("valid timestamp")
}

/// The finished stop request, signed now (derived): the exact bytes the
/// client puts on the wire, for the hand-written reqwest floor to replay.
pub fn presigned_request(base_url: &str, targets: &[String]) -> reqwest::Request {
    let mut request = unsigned_request(base_url, &stop_body(targets));
    derived_signer()
        .sign(&mut request, Timestamp::now())
        .expect("signable request");
    request
}

#[allow(unused_imports)] // the signing and overhead benches use none of it
pub use with_emulator::*;

mod with_emulator {
    use std::collections::HashMap;
    use std::sync::Arc;

    use axum::Router;
    use axum::extract::State;
    use bytes::Bytes;
    use iotda_batchtask::{Client, Credentials, Signing};
    use iotda_batchtask_emulator::{
        Emulator, EmulatorConfig, EmulatorHandle, Seed, SeedTask, Service, TaskDetailStatus, TaskStatus, TaskType,
    };
    use tokio::runtime::Runtime;

    use super::*;

    /// The device nobody targets: it keeps the task Processing, so repeated
    /// stops of the same targets keep getting per-target answers (200)
    /// instead of "the task is Stopped" (400).
    pub const KEEPER: &str = "keeper-device";

    /// One upgrade task with `n` Processing sub-tasks (`dev-00000`...) and the keeper.
    pub fn seed(n: usize) -> Seed {
        let mut subtasks: std::collections::BTreeMap<String, TaskDetailStatus> =
            (0..n).map(|i| (device(i), TaskDetailStatus::Processing)).collect();
        subtasks.insert(KEEPER.to_owned(), TaskDetailStatus::Processing);
        Seed::new(vec![SeedTask {
            project_id: PROJECT.to_owned(),
            task_id: TASK.to_owned(),
            task_type: TaskType::FirmwareUpgrade,
            status: TaskStatus::Processing,
            subtasks,
        }])
        .expect("valid seed")
    }

    /// The emulator configuration of every bench: `seed(n)`, the AK/SK pair
    /// and the token, authentication on.
    pub fn emulator_config(n: usize) -> EmulatorConfig {
        EmulatorConfig::new()
            .seed(seed(n))
            .ak_sk(AK, SK)
            .token(TOKEN)
            .region(REGION)
    }

    /// The two runtimes of an end-to-end bench. On a 2-core machine the
    /// server gets one worker thread and the client a current-thread runtime
    /// (the thread driving the bench), so neither steals the other's core.
    pub struct Rig {
        pub server: Runtime,
        pub client: Runtime,
    }

    impl Rig {
        pub fn new() -> Self {
            Self {
                server: tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("bench-server")
                    .enable_all()
                    .build()
                    .expect("server runtime"),
                client: tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("client runtime"),
            }
        }

        /// Starts an emulator over `seed(n)` on the server runtime.
        pub fn emulator(&self, n: usize) -> EmulatorHandle {
            self.server
                .block_on(Emulator::start(emulator_config(n)))
                .expect("emulator starts")
        }

        /// Stops an emulator and waits for it.
        pub fn stop(&self, emulator: EmulatorHandle) {
            self.server.block_on(emulator.shutdown());
        }

        /// Starts a canned server on the server runtime; see [`canned_router`].
        pub fn canned(&self, answers: HashMap<String, Bytes>, default: Bytes) -> Canned {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let addr = self.server.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let addr = listener.local_addr().expect("addr");
                let app = canned_router(answers, default);
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                });
                addr
            });
            Canned {
                base_url: format!("http://{addr}"),
                _stop: tx,
            }
        }
    }

    /// A running canned server; dropping it stops it.
    pub struct Canned {
        pub base_url: String,
        _stop: tokio::sync::oneshot::Sender<()>,
    }

    struct Answers {
        by_first_target: HashMap<String, Bytes>,
        default: Bytes,
    }

    /// The lightest server that still answers like the emulator: the same
    /// HTTP stack (axum/hyper), reads the body, no authentication, no state,
    /// no JSON parsing: the answer is looked up by the request's first
    /// target (so each bulk chunk gets its own results), else `default`.
    pub fn canned_router(by_first_target: HashMap<String, Bytes>, default: Bytes) -> Router {
        let answers = Arc::new(Answers {
            by_first_target,
            default,
        });
        Router::new().fallback(canned).with_state(answers)
    }

    async fn canned(State(answers): State<Arc<Answers>>, body: Bytes) -> axum::response::Response {
        let body = first_target(&body)
            .and_then(|t| answers.by_first_target.get(t))
            .unwrap_or(&answers.default)
            .clone();
        axum::response::Response::builder()
            .header("content-type", "application/json")
            .header("x-request-id", "0123456789abcdef0123456789abcdef")
            .body(axum::body::Body::from(body))
            .expect("valid response")
    }

    /// The first string of `{"targets":["...`, without parsing JSON.
    fn first_target(body: &[u8]) -> Option<&str> {
        let rest = body.strip_prefix(br#"{"targets":[""#)?;
        let end = rest.iter().position(|&b| b == b'"')?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The emulator's answer to a stop of `targets`: the first answer (all
    /// `success`) or, with `steady`, the answer to a repeat (all `failure`,
    /// already Stopped), which is what repeated benchmark calls get.
    pub fn emulator_answer(n: usize, targets: &[String], steady: bool) -> Bytes {
        let service = Service::new(&emulator_config(n).auth_enabled(false)).expect("service");
        let request = || {
            http::Request::post(stop_path())
                .header("content-type", "application/json")
                .body(Bytes::from(stop_body(targets)))
                .expect("request")
        };
        let mut response = service.respond(request());
        if steady {
            response = service.respond(request());
        }
        assert_eq!(response.status(), 200);
        response.into_body()
    }

    /// This crate's client for `base_url`, derived AK/SK signing.
    pub fn client_derived(base_url: &str) -> Client {
        Client::builder(base_url)
            .project_id(PROJECT)
            .instance_id(INSTANCE)
            .credentials(Credentials::ak_sk(AK, SK))
            .signing(Signing::Derived)
            .region(REGION)
            .build()
            .expect("valid client")
    }

    /// This crate's client for `base_url`, token mode (no signing).
    pub fn client_token(base_url: &str) -> Client {
        Client::builder(base_url)
            .project_id(PROJECT)
            .instance_id(INSTANCE)
            .credentials(Credentials::token(TOKEN))
            .build()
            .expect("valid client")
    }

    /// The hand-written client: a plain `reqwest::Client`, no redirects
    /// (like the crate's), nothing else configured.
    pub fn plain_http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client")
    }

    /// The response shape a hand-written bulk client would parse.
    #[derive(Debug, serde::Deserialize)]
    pub struct HandResponse {
        #[serde(default)]
        pub targets: Vec<HandResult>,
    }

    /// One per-target result, as a hand-written client would parse it.
    #[derive(Debug, serde::Deserialize)]
    pub struct HandResult {
        pub target: Option<String>,
        pub status: Option<String>,
        pub error_code: Option<String>,
        pub error_msg: Option<String>,
    }
}
