//! (1) Signing one stop request, plain and derived (target: <= 3 µs median).
//!
//! Each iteration signs a fresh copy of the request the client hands to the
//! signer (the copy is made outside the timed region), at a fixed time, so
//! derived signing uses the day's cached key. `derived_new_day` builds a new
//! signer per iteration, so its first signature pays HKDF: the difference to
//! `derived` is what the per-day cache saves on every other request.
//!
//! `cargo bench --bench signing`

mod common;

use std::hint::black_box;

use common::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn signing(c: &mut Criterion) {
    let request = unsigned_request(
        "https://a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com",
        &stop_body(&devices(0, CALL_TARGETS)),
    );
    let at = fixed_time();
    let plain = plain_signer();
    let derived = derived_signer();
    // Check the fixture signs at all before timing it.
    let mut probe = request.try_clone().expect("in-memory body");
    derived.sign(&mut probe, at).expect("signable");

    let mut group = c.benchmark_group("signing");
    let fresh = || request.try_clone().expect("in-memory body");
    group.bench_function("plain", |b| {
        b.iter_batched_ref(
            fresh,
            |r| plain.sign(black_box(r), black_box(at)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("derived", |b| {
        b.iter_batched_ref(
            fresh,
            |r| derived.sign(black_box(r), black_box(at)),
            BatchSize::SmallInput,
        )
    });
    // Signing the same request again (what a retry does): no setup at all in
    // the timed loop, which also makes this the function to profile.
    group.bench_function("derived_resign", |b| {
        let mut r = fresh();
        b.iter(|| derived.sign(black_box(&mut r), black_box(at)))
    });
    group.bench_function("derived_new_day", |b| {
        b.iter_batched_ref(
            || (derived_signer(), fresh()),
            |(signer, r)| signer.sign(black_box(r), black_box(at)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
