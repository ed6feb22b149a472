//! (4) Stopping 10,000 targets (100 requests of 100) with 8 requests in
//! flight: this crate's `stop_batch_task(..).targets(..)` (derived AK/SK) against
//! hand-written reqwest code sending the same requests with the same
//! concurrency (signed beforehand, outside the timing, like the floor of the
//! `e2e` bench) and decoding each answer into a small serde struct.
//!
//! A third way, `hand_written_signing`, is hand-written code that builds and
//! signs each request inside the timing, as a real program must; it
//! separates the cost of that work from the cost of the crate's structure.
//!
//! Every iteration gets a fresh emulator (started outside the timing), so
//! each one really stops 10,000 sub-tasks; and fresh clients, so both ways
//! open their connections inside the timing alike. The same two ways also
//! run against a canned server (per-chunk answers, no authentication, state
//! or JSON work), which shows the client's share without the emulator's.
//!
//! Two modes, as in the `e2e` bench: criterion groups `bulk_emulator` and
//! `bulk_canned`; or with `IOTDA_BENCH_COMPARE=1` the ways alternate
//! iteration by iteration and medians and ratios go to
//! `$IOTDA_BENCH_OUT/bulk.json`.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use criterion::{Criterion, Throughput};
use futures_util::StreamExt as _;

/// The targets of the bulk call, in input order.
fn all_targets() -> Vec<String> {
    devices(0, BULK_TARGETS)
}

/// A server for one iteration: a fresh emulator, or the shared canned server.
enum Server<'a> {
    Emulator,
    Canned(&'a str),
}

/// Runs one iteration against `server` (a fresh emulator is started before
/// and stopped after it, both outside the timing); `iteration` gets the base
/// URL and returns the time it measured.
fn on_server(rig: &Rig, server: &Server<'_>, iteration: impl FnOnce(&str) -> Duration) -> Duration {
    match server {
        Server::Canned(url) => iteration(url),
        Server::Emulator => {
            let emulator = rig.emulator(BULK_TARGETS);
            let elapsed = iteration(&emulator.base_url());
            rig.stop(emulator);
            elapsed
        }
    }
}

/// One iteration of the crate's bulk call; the server is ready before timing.
fn crate_bulk(rig: &Rig, server: &Server<'_>) -> Duration {
    on_server(rig, server, |base_url| {
        let client = client_derived(base_url);
        let targets = all_targets();
        rig.client.block_on(async {
            let start = Instant::now();
            let out = client
                .stop_batch_task(TASK)
                .targets(targets)
                .concurrency(BULK_CONCURRENCY)
                .send()
                .await
                .expect("valid bulk call");
            let elapsed = start.elapsed();
            assert!(out.all_succeeded(), "every target stopped");
            assert_eq!(out.results().len(), BULK_TARGETS);
            elapsed
        })
    })
}

/// One iteration of hand-written reqwest code: the 100 signed requests are
/// built before timing; the timing covers sending them 8 at a time and
/// decoding the answers.
fn hand_bulk(rig: &Rig, server: &Server<'_>) -> Duration {
    on_server(rig, server, |base_url| hand_written(rig, base_url, false))
}

/// One iteration of hand-written reqwest code that does the job itself:
/// inside the timing it builds each chunk's body and request, signs it with
/// this crate's `Signer` (derived), sends 8 at a time and decodes the
/// answers. What the crate's bulk call adds beyond this is its structure
/// (de-duplication, validation, per-target merge, retries, errors).
fn hand_bulk_signing(rig: &Rig, server: &Server<'_>) -> Duration {
    on_server(rig, server, |base_url| hand_written(rig, base_url, true))
}

/// The hand-written bulk: requests signed before the timing, or (with
/// `sign_inside`) built and signed inside it.
fn hand_written(rig: &Rig, base_url: &str, sign_inside: bool) -> Duration {
    let http = plain_http();
    let signer = derived_signer();
    let targets = all_targets();
    let prebuilt: Vec<Option<reqwest::Request>> = targets
        .chunks(100)
        .map(|chunk| (!sign_inside).then(|| presigned_request(base_url, chunk)))
        .collect();
    rig.client.block_on(async {
        let start = Instant::now();
        let mut answers: Vec<(usize, HandResponse)> =
            futures_util::stream::iter(targets.chunks(100).zip(prebuilt).enumerate())
                .map(|(i, (chunk, prebuilt))| {
                    let (http, signer) = (&http, &signer);
                    async move {
                        let request = prebuilt.unwrap_or_else(|| {
                            let mut request = unsigned_request(base_url, &stop_body(chunk));
                            signer.sign(&mut request, jiff::Timestamp::now()).expect("signable");
                            request
                        });
                        let response = http.execute(request).await.expect("sent");
                        assert_eq!(response.status(), 200);
                        let body = response.bytes().await.expect("answer read");
                        (i, serde_json::from_slice::<HandResponse>(&body).expect("valid answer"))
                    }
                })
                .buffer_unordered(BULK_CONCURRENCY)
                .collect()
                .await;
        answers.sort_unstable_by_key(|(i, _)| *i);
        let results: Vec<HandResult> = answers.into_iter().flat_map(|(_, a)| a.targets).collect();
        let elapsed = start.elapsed();
        assert_eq!(results.len(), BULK_TARGETS);
        assert!(results.iter().all(|r| r.status.as_deref() == Some("success")));
        elapsed
    })
}

/// The canned server: for each chunk (keyed by its first target), the
/// emulator's first answer to it (every target `success`).
fn canned_answers() -> HashMap<String, Bytes> {
    all_targets()
        .chunks(100)
        .map(|chunk| (chunk[0].clone(), emulator_answer(BULK_TARGETS, chunk, false)))
        .collect()
}

type Way = fn(&Rig, &Server<'_>) -> Duration;
/// The ratios are to `WAYS[1]`, the hand-written code with its requests signed beforehand.
const WAYS: [(&str, Way); 3] = [
    ("crate_bulk", crate_bulk),
    ("reqwest_hand_written", hand_bulk),
    ("hand_written_signing", hand_bulk_signing),
];

fn criterion_mode(rig: &Rig, canned_url: &str) {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    for (group, server) in [
        ("bulk_emulator", Server::Emulator),
        ("bulk_canned", Server::Canned(canned_url)),
    ] {
        let mut group = c.benchmark_group(group);
        group.throughput(Throughput::Elements(BULK_TARGETS as u64));
        for (name, way) in WAYS {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| way(rig, &server)).sum())
            });
        }
        group.finish();
    }
    c.final_summary();
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn compare(rig: &Rig, canned_url: &str) {
    let rounds: usize = std::env::var("IOTDA_BENCH_BULK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let mut result = serde_json::Map::new();
    for (label, server) in [("emulator", Server::Emulator), ("canned", Server::Canned(canned_url))] {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); WAYS.len()];
        for (_, way) in WAYS {
            way(rig, &server); // warm-up
        }
        for round in 0..rounds {
            for j in 0..WAYS.len() {
                let i = (j + round) % WAYS.len();
                times[i].push(WAYS[i].1(rig, &server).as_secs_f64() * 1e3);
            }
        }
        let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
        let mut entry = serde_json::Map::new();
        for ((name, _), m) in WAYS.iter().zip(&medians) {
            eprintln!(
                "bulk {label:8} {name:21} median {m:8.2} ms  {:.3}x hand-written  {:.3}x hand-written signing",
                m / medians[1],
                m / medians[2]
            );
            entry.insert(
                (*name).to_owned(),
                serde_json::json!({
                    "median_ms": m,
                    "ratio_to_hand_written": m / medians[1],
                    "ratio_to_hand_written_signing": m / medians[2],
                }),
            );
        }
        result.insert(label.to_owned(), entry.into());
    }
    let dir = std::env::var("IOTDA_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-compare"));
    std::fs::create_dir_all(&dir).expect("output directory");
    let path = dir.join("bulk.json");
    let json = serde_json::json!({
        "targets": BULK_TARGETS, "requests": BULK_TARGETS / 100, "concurrency": BULK_CONCURRENCY,
        "rounds": rounds, "bulk": result,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("JSON")).expect("result written");
    eprintln!("written to {}", path.display());
}

fn main() {
    let rig = Rig::new();
    let answers = canned_answers();
    let fallback = answers.values().next().cloned().unwrap_or_default();
    let canned = rig.canned(answers, fallback);
    if std::env::var_os("IOTDA_BENCH_COMPARE").is_some() {
        compare(&rig, &canned.base_url);
    } else {
        criterion_mode(&rig, &canned.base_url);
    }
}
