//! (3) One stop call end to end on loopback (keep-alive), three ways in the
//! same run: this crate's `Client` with derived AK/SK signing, a minimal
//! hand-written reqwest call replaying the same bytes (the floor: no
//! validation, no signing, the answer read as bytes), and the `Client` in
//! token mode. Also `hand_same_work`: hand-written reqwest code doing the
//! client's work itself (validation, body, derived signing with this
//! crate's `Signer`, decoding into the generated types), which separates the
//! cost of the work from the cost of the client's structure.
//!
//! Each against the emulator and against a canned server (the same HTTP
//! stack, no authentication, state or JSON work), so the emulator's own cost
//! cannot hide the client's.
//!
//! (8) The emulator's throughput for signed stop requests: requests per
//! second with 8 in flight, replayed by the hand-written client (the
//! lightest load generator), for 10- and 100-target requests, and the canned
//! server's; plus the emulator's CPU per request without a socket
//! (`Service::respond`).
//!
//! Two modes:
//! - `cargo bench -p iotda-batchtask --bench e2e`: criterion groups
//!   `e2e_emulator`, `e2e_canned`, `throughput`, `emulator_service`.
//! - `IOTDA_BENCH_COMPARE=1` (what `scripts/bench-compare.sh` uses): the
//!   ways are *interleaved call by call* and timed per call, so a change in
//!   the machine's speed (this 2-core VM's loopback latency varies several
//!   fold over minutes) hits every way alike; medians and ratios go to
//!   `$IOTDA_BENCH_OUT/e2e.json` (default `target/bench-compare`). With
//!   `IOTDA_BENCH_PYTHON` set to a Python with Huawei's official SDK, (5)
//!   per call is measured too, against the same emulator, sequential after
//!   warm-up (`python_per_call.json`).
//!
//! The server runs on its own one-worker runtime, the client on the bench's
//! thread (see `common::Rig`).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use criterion::{Criterion, Throughput};
use futures_util::StreamExt as _;
use iotda_batchtask::Client;
use iotda_batchtask::auth::Signer;
use iotda_batchtask::types::{BatchTargets, BatchTargetsResponse};
use iotda_batchtask::validation;

/// Sub-tasks in the emulator's task: the single call's targets and the
/// 100-target throughput requests come from here.
const SEEDED: usize = 200;
/// Requests per throughput burst, and how many are in flight.
const BURST: usize = 64;
const IN_FLIGHT: usize = 8;

async fn client_call(client: &Client, targets: &[String]) {
    let out = client
        .stop_batch_task(TASK)
        .targets(targets.iter().map(String::as_str))
        .send()
        .await
        .expect("the stop call succeeds");
    assert_eq!(out.results().len(), targets.len());
}

/// The floor: replay the finished request, read the answer as bytes.
async fn floor_call(http: &reqwest::Client, request: &reqwest::Request) -> Bytes {
    let request = request.try_clone().expect("in-memory body");
    let response = http.execute(request).await.expect("sent");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("answer read")
}

/// Hand-written reqwest code doing what the client does, without its
/// structure: validate, build the body and request, sign, send, decode.
async fn hand_same_work(http: &reqwest::Client, signer: &Signer, base_url: &str, targets: &[String]) {
    let list: Vec<String> = targets.iter().map(|t| t.as_str().to_owned()).collect();
    let task_id = validation::task_id(TASK).expect("valid task id");
    let mut body = BatchTargets::default();
    body.targets = validation::targets(list).expect("valid targets");
    let mut request = http
        .post(format!(
            "{base_url}/v5/iot/{PROJECT}/batchtasks/{}/stop",
            task_id.as_str()
        ))
        .header("content-type", "application/json")
        .header("user-agent", iotda_batchtask::USER_AGENT)
        .header("instance-id", INSTANCE)
        .body(serde_json::to_vec(&body).expect("serialisable"))
        .build()
        .expect("valid request");
    signer.sign(&mut request, jiff::Timestamp::now()).expect("signable");
    let response = http.execute(request).await.expect("sent");
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("answer read");
    let parsed: BatchTargetsResponse = serde_json::from_slice(&bytes).expect("valid answer");
    assert_eq!(parsed.targets.len(), targets.len());
}

/// The ways of (3) against one server.
struct Ways {
    base_url: String,
    targets: Vec<String>,
    derived: Client,
    token: Client,
    http: reqwest::Client,
    signer: Signer,
}

type Call<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

impl Ways {
    fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            targets: devices(0, CALL_TARGETS),
            derived: client_derived(base_url),
            token: client_token(base_url),
            http: plain_http(),
            signer: derived_signer(),
        }
    }

    const NAMES: [&'static str; 4] = ["reqwest_floor", "client_derived", "client_token", "hand_same_work"];

    /// One call of way `i`; `presigned` is the floor's request.
    fn call<'a>(&'a self, i: usize, presigned: &'a reqwest::Request) -> Call<'a> {
        match i {
            0 => Box::pin(async move {
                floor_call(&self.http, presigned).await;
            }),
            1 => Box::pin(client_call(&self.derived, &self.targets)),
            2 => Box::pin(client_call(&self.token, &self.targets)),
            _ => Box::pin(hand_same_work(&self.http, &self.signer, &self.base_url, &self.targets)),
        }
    }
}

/// Times `iters` sequential calls of way `i` on the client runtime; the
/// floor's request is signed afresh outside the timing, so the emulator
/// never sees a stale `X-Sdk-Date`.
fn sequential(rig: &Rig, ways: &Ways, i: usize, iters: u64) -> Duration {
    let presigned = presigned_request(&ways.base_url, &ways.targets);
    rig.client.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            ways.call(i, &presigned).await;
        }
        start.elapsed()
    })
}

fn one_call(c: &mut Criterion, rig: &Rig, group: &str, base_url: &str) {
    let ways = Ways::new(base_url);
    let mut group = c.benchmark_group(group);
    for (i, name) in Ways::NAMES.iter().enumerate() {
        group.bench_function(*name, |b| b.iter_custom(|iters| sequential(rig, &ways, i, iters)));
    }
    group.finish();
}

/// `BURST` replays of one request with `IN_FLIGHT` at a time.
fn burst(rig: &Rig, http: &reqwest::Client, request: &reqwest::Request) -> Duration {
    rig.client.block_on(async {
        let start = Instant::now();
        futures_util::stream::iter(0..BURST)
            .map(|_| floor_call(http, request))
            .buffer_unordered(IN_FLIGHT)
            .for_each(|_| async {})
            .await;
        start.elapsed()
    })
}

/// The (8) loads: name, server, targets per request.
fn loads<'a>(emulator_url: &'a str, canned_url: &'a str) -> [(&'static str, &'a str, Vec<String>); 3] {
    [
        ("emulator_10_targets", emulator_url, devices(0, CALL_TARGETS)),
        ("emulator_100_targets", emulator_url, devices(100, 100)),
        ("canned_10_targets", canned_url, devices(0, CALL_TARGETS)),
    ]
}

fn throughput(c: &mut Criterion, rig: &Rig, emulator_url: &str, canned_url: &str) {
    let http = plain_http();
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(BURST as u64));
    group.sample_size(30);
    for (name, base_url, targets) in loads(emulator_url, canned_url) {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let request = presigned_request(base_url, &targets);
                (0..iters).map(|_| burst(rig, &http, &request)).sum()
            })
        });
    }
    group.finish();

    // The emulator's own CPU per signed request, without a socket.
    let service = iotda_batchtask_emulator::Service::new(&emulator_config(SEEDED)).expect("service");
    let mut group = c.benchmark_group("emulator_service");
    for (name, targets) in [
        ("respond_10_targets", devices(0, CALL_TARGETS)),
        ("respond_100_targets", devices(100, 100)),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let request = in_memory(&presigned_request("http://127.0.0.1:1", &targets));
                let start = Instant::now();
                for _ in 0..iters {
                    let response = service.respond(request.clone());
                    assert_eq!(response.status(), 200);
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// A signed reqwest request as the `http::Request` the emulator's service takes.
fn in_memory(request: &reqwest::Request) -> http::Request<Bytes> {
    let mut builder = http::Request::builder()
        .method(request.method().clone())
        .uri(request.url().path());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let body = request.body().and_then(|b| b.as_bytes()).unwrap_or_default();
    builder.body(Bytes::copy_from_slice(body)).expect("valid request")
}

// ---------------------------------------------------------------------------
// Compare mode.

fn out_dir() -> PathBuf {
    let dir = std::env::var("IOTDA_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-compare"));
    std::fs::create_dir_all(&dir).expect("output directory");
    dir
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Sorted copy's `q` quantile (0.5 = median).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The ways interleaved call by call (rotating which goes first), each call
/// timed; returns per way (median, p10, p90) in µs.
fn interleaved(rig: &Rig, ways: &Ways, calls: usize) -> Vec<(f64, f64, f64)> {
    let n = Ways::NAMES.len();
    let mut latencies: Vec<Vec<f64>> = vec![Vec::with_capacity(calls); n];
    let mut presigned = presigned_request(&ways.base_url, &ways.targets);
    let mut signed_at = Instant::now();
    rig.client.block_on(async {
        for i in 0..n {
            for _ in 0..200 {
                ways.call(i, &presigned).await;
            }
        }
        for k in 0..calls {
            if signed_at.elapsed() > Duration::from_secs(60) {
                presigned = presigned_request(&ways.base_url, &ways.targets);
                signed_at = Instant::now();
            }
            for j in 0..n {
                let i = (j + k) % n;
                let start = Instant::now();
                ways.call(i, &presigned).await;
                latencies[i].push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    });
    latencies
        .iter()
        .map(|l| (quantile(l, 0.5), quantile(l, 0.1), quantile(l, 0.9)))
        .collect()
}

/// Requests per second of `rounds` interleaved bursts per load; median.
fn interleaved_throughput(rig: &Rig, emulator_url: &str, canned_url: &str, rounds: usize) -> Vec<(String, f64)> {
    let http = plain_http();
    let loads = loads(emulator_url, canned_url);
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); loads.len()];
    let mut requests: Vec<reqwest::Request> = loads.iter().map(|(_, u, t)| presigned_request(u, t)).collect();
    for request in &requests {
        burst(rig, &http, request);
    }
    for round in 0..rounds {
        if round % 50 == 49 {
            requests = loads.iter().map(|(_, u, t)| presigned_request(u, t)).collect();
        }
        for (i, request) in requests.iter().enumerate() {
            rates[i].push(BURST as f64 / burst(rig, &http, request).as_secs_f64());
        }
    }
    loads
        .iter()
        .zip(&rates)
        .map(|((name, _, _), r)| ((*name).to_owned(), quantile(r, 0.5)))
        .collect()
}

/// (5), per call: the official Python SDK and this crate's client (derived)
/// against the same emulator, in alternating blocks of sequential calls
/// (both warmed up first), each call timed. Returns (python, crate) medians
/// in µs and the number of calls of each.
fn python_per_call(rig: &Rig, python: &str, base_url: &str) -> (f64, f64, usize) {
    use std::io::{BufRead as _, BufReader, Write as _};

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/python_sdk_stop.py");
    let mut child = std::process::Command::new(python)
        .arg(&script)
        .args(["serve", "--warmup", "50"])
        .env("IOTDA_EMULATOR_URL", base_url)
        .env("IOTDA_PROJECT_ID", PROJECT)
        .env("IOTDA_INSTANCE_ID", INSTANCE)
        .env("IOTDA_AK", AK)
        .env("IOTDA_SK", SK)
        .env("IOTDA_REGION", REGION)
        .env("IOTDA_TASK", TASK)
        .env("IOTDA_TARGETS", devices(0, CALL_TARGETS).join(","))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the Python SDK script starts");
    let mut to_python = child.stdin.take().expect("stdin");
    let mut from_python = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    from_python.read_line(&mut line).expect("python answers");
    assert_eq!(line.trim(), "ready", "python_sdk_stop.py did not start");

    let ways = Ways::new(base_url);
    let presigned = presigned_request(base_url, &ways.targets);
    let (blocks, block) = (env_usize("IOTDA_BENCH_PYTHON_BLOCKS", 15), 20);
    let (mut py, mut rust) = (Vec::new(), Vec::new());
    rig.client.block_on(async {
        for _ in 0..200 {
            ways.call(1, &presigned).await;
        }
    });
    for _ in 0..blocks {
        writeln!(to_python, "{block}").expect("python reads");
        line.clear();
        from_python.read_line(&mut line).expect("python answers");
        let times: Vec<f64> = serde_json::from_str(&line).expect("a JSON list of times");
        py.extend(times);
        rig.client.block_on(async {
            for _ in 0..block {
                let start = Instant::now();
                ways.call(1, &presigned).await;
                rust.push(start.elapsed().as_secs_f64() * 1e6);
            }
        });
    }
    writeln!(to_python, "quit").expect("python reads");
    drop(to_python);
    assert!(
        child.wait().expect("python exits").success(),
        "python_sdk_stop.py failed"
    );
    (quantile(&py, 0.5), quantile(&rust, 0.5), py.len())
}

fn compare(rig: &Rig, emulator_url: &str, canned_url: &str) {
    let calls = env_usize("IOTDA_BENCH_CALLS", 3000);
    let mut servers = serde_json::Map::new();
    for (server, base_url) in [("emulator", emulator_url), ("canned", canned_url)] {
        let ways = Ways::new(base_url);
        let stats = interleaved(rig, &ways, calls);
        let floor = stats[0].0;
        let mut entry = serde_json::Map::new();
        for (name, (median, p10, p90)) in Ways::NAMES.iter().zip(&stats) {
            entry.insert(
                (*name).to_owned(),
                serde_json::json!({"median_us": median, "p10_us": p10, "p90_us": p90, "ratio_to_floor": median / floor}),
            );
            eprintln!(
                "e2e {server:8} {name:15} median {median:8.1} µs  p10 {p10:8.1}  p90 {p90:8.1}  {:.3}x floor",
                median / floor
            );
        }
        servers.insert(server.to_owned(), entry.into());
    }
    let rounds = env_usize("IOTDA_BENCH_BURSTS", 60);
    let rates = interleaved_throughput(rig, emulator_url, canned_url, rounds);
    for (name, rate) in &rates {
        eprintln!("throughput {name:22} {rate:9.0} requests/s ({IN_FLIGHT} in flight)");
    }
    let mut result = serde_json::json!({
        "calls_per_way": calls,
        "targets_per_call": CALL_TARGETS,
        "e2e": servers,
        "throughput_rps": rates.into_iter().map(|(k, v)| (k, serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "in_flight": IN_FLIGHT,
    });
    if let Ok(python) = std::env::var("IOTDA_BENCH_PYTHON") {
        let (py, rust, calls) = python_per_call(rig, &python, emulator_url);
        eprintln!(
            "per call, alternating blocks: python sdk {py:.1} µs, crate (derived) {rust:.1} µs: {:.1}x",
            py / rust
        );
        result["python_per_call"] = serde_json::json!({
            "calls_each": calls, "python_median_us": py, "crate_median_us": rust, "ratio": py / rust,
        });
    }
    let path = out_dir().join("e2e.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).expect("JSON")).expect("result written");
    eprintln!("written to {}", path.display());
}

fn main() {
    let rig = Rig::new();
    let emulator = rig.emulator(SEEDED);
    let targets = devices(0, CALL_TARGETS);
    // The canned server answers what the emulator answers to a repeated stop.
    let answer = emulator_answer(SEEDED, &targets, true);
    let canned = rig.canned(HashMap::new(), answer);
    let emulator_url = emulator.base_url();

    if std::env::var_os("IOTDA_BENCH_COMPARE").is_some() {
        compare(&rig, &emulator_url, &canned.base_url);
    } else {
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(8))
            .configure_from_args();
        one_call(&mut c, &rig, "e2e_emulator", &emulator_url);
        one_call(&mut c, &rig, "e2e_canned", &canned.base_url);
        throughput(&mut c, &rig, &emulator_url, &canned.base_url);
        c.final_summary();
    }
    drop(canned);
    rig.stop(emulator);
}
