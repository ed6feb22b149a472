//! The guard (`Client::watch_batch_task`): what one poll costs the client,
//! how many requests a poll makes, and how soon a tripped criterion's stop
//! is on the wire. Every server is started here, on 127.0.0.1.
//!
//! - Requests per poll (printed first, not timed): a watch of a moving
//!   30,000-device emulator task, its requests counted at the emulator (the
//!   journal), cut into polls by each poll's request ID. Without
//!   `stuck_after`, then with it. The emulator's clock moves only after each
//!   poll (`time_scale(0.0)`, `advance_time`), so the counts are the same on
//!   every run; `tests/it/watch_requests.rs` asserts the bounds.
//! - `watch_poll_cpu`: the client's CPU time per poll (the thread's CPU
//!   clock, not wall time: a poll's pause is not work). `watch_poll` runs a
//!   real watch (derived signing, two criteria, a 1 ms interval) against a
//!   scripted server that answers a running task N−1 times, then a finished
//!   one, and divides the thread's CPU time by the N polls: the read, the
//!   criteria, the event, the pause's timer, the stream. `show_read` is the
//!   poll's read alone (`show_batch_task(..).limit(1)` and the tally of its
//!   counters) against the same server, back to back; `show_read_paused`
//!   the same read after the same 1 ms pause, without the watch. The three
//!   in one run separate the engine's own cost from the pause's (the timer,
//!   waking up, cold caches).
//! - `watch_trip_to_stop`: from the instant the answer that trips a
//!   criterion is written to the socket to the instant the StopBatchTask
//!   request has been read by the server, both taken by the server (one
//!   process, one clock): the client's reaction time on loopback.
//!
//! `cargo bench -p iotda-batchtask --bench watch`. The server runs on its
//! own one-worker runtime, the client on the bench's thread (`common::Rig`).

mod common;

use std::hint::black_box;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::*;
use criterion::Criterion;
use futures_util::StreamExt as _;
use iotda_batchtask::types::TaskStatus;
use iotda_batchtask::watch::{self, Progress, STUCK_PAGES_PER_POLL, Tally, WatchEnd, WatchEvent, WatchReport};
use iotda_batchtask::{Client, WatchBatchTask};
use iotda_batchtask_emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, JournalEntry, Operation, Progression, Seed, SeedTask, Selection, Service,
    TaskDetailStatus, TaskType,
};

/// Devices in the counted watch's task: the most one IoTDA task takes.
const DEVICES: usize = 30_000;

// ---------------------------------------------------------------------------
// Requests per poll, counted at the emulator.

/// One watch of a moving task: the polls, the other events, the report.
struct Watched {
    polls: Vec<Progress>,
    stuck: Vec<String>,
    report: WatchReport,
}

/// Runs `watch` to its end, moving the emulator's clock by `step` after each poll.
fn watch_moving(rig: &Rig, watch: WatchBatchTask, service: &Service, step: Duration) -> Watched {
    rig.client.block_on(async {
        let mut polls = Vec::new();
        let mut stuck = Vec::new();
        let mut events = std::pin::pin!(watch.stream().expect("valid watch"));
        while let Some(event) = events.next().await {
            match event {
                WatchEvent::Progress(p) => {
                    polls.push(p);
                    service.advance_time(step);
                }
                WatchEvent::Stuck { devices, .. } => stuck.extend(devices),
                WatchEvent::Ended(report) => {
                    return Watched {
                        polls,
                        stuck,
                        report: *report,
                    };
                }
                other => panic!("nothing trips in this watch: {other:?}"),
            }
        }
        unreachable!("a watch stream ends with WatchEvent::Ended")
    })
}

/// The journal cut into polls: each from its read (the request ID its
/// Progress event carries) to the next poll's.
fn per_poll<'a>(journal: &'a [JournalEntry], polls: &[Progress]) -> Vec<&'a [JournalEntry]> {
    let starts: Vec<usize> = polls
        .iter()
        .map(|p| {
            let id = p.request_id.as_deref().expect("the emulator sends X-Request-Id");
            journal
                .iter()
                .position(|e| e.request_id.as_deref() == Some(id))
                .expect("each poll's read is in the journal")
        })
        .collect();
    let ends = starts.iter().skip(1).copied().chain([journal.len()]);
    starts.iter().zip(ends).map(|(&s, e)| &journal[s..e]).collect()
}

/// A 30,000-device task dispatched one device per millisecond of the
/// emulator's clock, each running 10 s; 2% fail, those `hang` picks hang.
fn moving_emulator(rig: &Rig, hang: &Selection) -> EmulatorHandle {
    let task = SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: TASK.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks: (0..DEVICES).map(|i| (device(i), TaskDetailStatus::Waitting)).collect(),
    };
    let progression = Progression::new(Duration::from_secs(10))
        .dispatch_every(Duration::from_millis(1))
        .fail(Selection::none().with_share(2, 1).expect("valid share"))
        .hang(hang.clone());
    let seed = Seed::new(vec![task])
        .expect("valid seed")
        .with_progression(PROJECT, TASK, progression)
        .expect("the task exists");
    let config = EmulatorConfig::new()
        .seed(seed)
        .ak_sk(AK, SK)
        .region(REGION)
        .time_scale(0.0);
    rig.server.block_on(Emulator::start(config)).expect("emulator starts")
}

/// `percent`% of the devices, always the same ones.
fn hanging(percent: u8) -> Selection {
    Selection::none().with_share(percent, 2).expect("valid share")
}

fn print_counts(label: &str, watched: &Watched, journal: &[JournalEntry], hang: &Selection) {
    let hung = (0..DEVICES).filter(|&i| hang.picks(&device(i))).count();
    let stuck_hung = watched.stuck.iter().filter(|d| hang.picks(d)).count();
    let reads_total = journal
        .iter()
        .filter(|e| e.operation == Operation::ShowBatchTask)
        .count();
    let stops_total = journal
        .iter()
        .filter(|e| e.operation == Operation::StopBatchTask)
        .count();
    let mut reads: Vec<usize> = Vec::new();
    let mut held = true;
    let mut max_processing = 0;
    for (requests, poll) in per_poll(journal, &watched.polls).iter().zip(&watched.polls) {
        let n = requests
            .iter()
            .filter(|e| e.operation == Operation::ShowBatchTask)
            .count();
        let processing = usize::try_from(poll.counters.processing.unwrap_or(0)).unwrap_or(0);
        max_processing = max_processing.max(processing);
        held &= n <= (1 + processing / 50).min(STUCK_PAGES_PER_POLL);
        reads.push(n);
    }
    let polls = watched.polls.len();
    let at_cap = reads.iter().filter(|&&n| n == STUCK_PAGES_PER_POLL).count();
    reads.sort_unstable();
    println!(
        "{label}: {polls} polls, {} requests ({reads_total} ShowBatchTask, {stops_total} StopBatchTask for \
         {} stuck devices, {stuck_hung} of the {hung} that hang), {:.2} requests per poll; ShowBatchTask per poll min {} / median {} / max {} \
         ({at_cap} polls at the cap of {STUCK_PAGES_PER_POLL}); most Processing at a poll {max_processing}; \
         reads <= min({STUCK_PAGES_PER_POLL}, 1 + Processing/50) at every poll: {held}; ended {:?}",
        journal.len(),
        watched.stuck.len(),
        journal.len() as f64 / polls as f64,
        reads[0],
        reads[reads.len() / 2],
        reads[reads.len() - 1],
        watched.report.end,
    );
}

fn requests_per_poll(rig: &Rig) {
    println!("requests per poll, counted at the emulator ({DEVICES} devices, 1 per ms of its clock, each 10 s):");
    // Without stuck_after: 2 s of the emulator's clock per poll, no hangs.
    let hang = hanging(0);
    let emulator = moving_emulator(rig, &hang);
    let watch = client_derived(&emulator.base_url())
        .watch_batch_task(TASK)
        .criterion(watch::Criterion::failed_percent(5.0).expect("valid"))
        .criterion(watch::Criterion::failed_count(5_000).expect("valid"))
        .interval(Duration::from_millis(1));
    let watched = watch_moving(rig, watch, &emulator, Duration::from_secs(2));
    let journal = emulator.journal();
    assert_eq!(journal.dropped(), 0, "the journal kept every request");
    print_counts("  without stuck_after", &watched, &journal, &hang);
    rig.stop(emulator);

    // With stuck_after: 1 s of the emulator's clock per poll (a device runs
    // for 10 polls, under a second of real time), 5% hang and are stopped
    // once seen Processing for 3 s of real time.
    let hang = hanging(5);
    let emulator = moving_emulator(rig, &hang);
    let watch = client_derived(&emulator.base_url())
        .watch_batch_task(TASK)
        .criterion(watch::Criterion::failed_percent(5.0).expect("valid"))
        .stuck_after(Duration::from_secs(3))
        .interval(Duration::from_millis(50));
    let watched = watch_moving(rig, watch, &emulator, Duration::from_secs(1));
    let journal = emulator.journal();
    assert_eq!(journal.dropped(), 0, "the journal kept every request");
    print_counts("  with stuck_after 3 s", &watched, &journal, &hang);
    rig.stop(emulator);
}

// ---------------------------------------------------------------------------
// A scripted loopback server for the timed groups.

/// What the scripted server answers to reads of the task.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// `running` reads of a running task (2% failed), then a finished one.
    Polls { running: u64 },
    /// Reads of a task whose counters trip `failed>=20` until a stop
    /// arrives, then reads of the stopped task. The instants are the
    /// server's: the last tripping answer written, the stop read.
    Trip {
        answered: Option<Instant>,
        stop_arrived: Option<Instant>,
    },
}

/// The emulator's answer to a one-sub-task read (`limit=1`, as a poll
/// reads) of a task of 100 devices, `n` of them in each state.
fn task_read(status: TaskStatus, counts: &[(TaskDetailStatus, usize)]) -> String {
    let subtasks = counts
        .iter()
        .flat_map(|&(state, n)| std::iter::repeat_n(state, n))
        .enumerate()
        .map(|(i, state)| (device(i), state))
        .collect();
    let task = SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: TASK.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status,
        subtasks,
    };
    let seed = Seed::new(vec![task]).expect("valid seed");
    let service = Service::new(&EmulatorConfig::new().seed(seed).auth_enabled(false)).expect("service");
    let request = http::Request::get(format!("/v5/iot/{PROJECT}/batchtasks/{TASK}?limit=1"))
        .body(bytes::Bytes::new())
        .expect("request");
    let response = service.respond(request);
    assert_eq!(response.status(), 200);
    String::from_utf8(response.into_body().to_vec()).expect("JSON is UTF-8")
}

struct Bodies {
    running: String,
    finished: String,
    tripping: String,
    stopped: String,
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that answers GETs (reads of
/// the task) by its [`Script`] and POSTs (the stop) with an empty result.
struct Scripted {
    base_url: String,
    script: Arc<Mutex<Script>>,
}

impl Scripted {
    fn start(rig: &Rig) -> Self {
        let script = Arc::new(Mutex::new(Script::Polls { running: 0 }));
        use TaskDetailStatus::{Fail, Processing, Stopped, Success};
        let bodies = Arc::new(Bodies {
            running: task_read(TaskStatus::Processing, &[(Success, 49), (Fail, 1), (Processing, 50)]),
            finished: task_read(TaskStatus::Success, &[(Success, 100)]),
            tripping: task_read(TaskStatus::Processing, &[(Success, 30), (Fail, 20), (Processing, 50)]),
            stopped: task_read(TaskStatus::Stopped, &[(Success, 30), (Fail, 20), (Stopped, 50)]),
        });
        let shared = Arc::clone(&script);
        let addr = rig.server.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, Arc::clone(&shared), Arc::clone(&bodies)));
                }
            });
            addr
        });
        Self {
            base_url: format!("http://{addr}"),
            script,
        }
    }

    fn set(&self, script: Script) {
        *self.script.lock().unwrap_or_else(PoisonError::into_inner) = script;
    }

    fn get(&self) -> Script {
        *self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn serve(mut stream: tokio::net::TcpStream, script: Arc<Mutex<Script>>, bodies: Arc<Bodies>) {
    let _ = stream.set_nodelay(true);
    loop {
        let request = read_request(&mut stream).await;
        if request.is_empty() {
            return;
        }
        let is_stop = request.starts_with(b"POST ");
        let body = {
            let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *script {
                Script::Trip { stop_arrived, .. } if is_stop => {
                    *stop_arrived = Some(Instant::now());
                    r#"{"targets":[]}"#
                }
                _ if is_stop => r#"{"targets":[]}"#,
                Script::Polls { running: 0 } => bodies.finished.as_str(),
                Script::Polls { running } => {
                    *running -= 1;
                    bodies.running.as_str()
                }
                Script::Trip {
                    stop_arrived: Some(_), ..
                } => bodies.stopped.as_str(),
                Script::Trip { answered, .. } => {
                    // Taken just before the answer is written (a stop cannot
                    // arrive before it is read, so recording first is safe).
                    *answered = Some(Instant::now());
                    bodies.tripping.as_str()
                }
            }
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: 0123456789abcdef0123456789abcdef\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        if tokio::io::AsyncWriteExt::write_all(&mut stream, answer.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// CPU per poll.

/// This thread's CPU time (user + system).
#[cfg(target_os = "linux")]
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).expect("CPU time is not negative"),
        u32::try_from(t.tv_nsec).expect("nanoseconds below one second"),
    )
}

#[cfg(target_os = "linux")]
fn cpu_per_poll(c: &mut Criterion, rig: &Rig, server: &Scripted, client: &Client) {
    let mut group = c.benchmark_group("watch_poll_cpu");
    // Each poll also pauses 1 ms (not CPU time): keep the wall time short.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("watch_poll", |b| {
        b.iter_custom(|iters| {
            server.set(Script::Polls { running: iters - 1 });
            let watch = client
                .watch_batch_task(TASK)
                .criterion(watch::Criterion::failed_percent(5.0).expect("valid"))
                .criterion(watch::Criterion::failed_count(20).expect("valid"))
                .interval(Duration::from_millis(1));
            let start = thread_cpu();
            let report = rig.client.block_on(watch.run()).expect("the watch runs");
            let cpu = thread_cpu() - start;
            assert!(
                matches!(
                    report.end,
                    WatchEnd::Finished {
                        status: TaskStatus::Success
                    }
                ),
                "{:?}",
                report.end
            );
            assert_eq!(report.polls as u64, iters);
            cpu
        })
    });
    group.bench_function("show_read", |b| {
        b.iter_custom(|iters| {
            server.set(Script::Polls { running: u64::MAX });
            let start = thread_cpu();
            rig.client.block_on(async {
                for _ in 0..iters {
                    let page = client.show_batch_task(TASK).limit(1).send().await.expect("read");
                    let task = page.task().expect("the task");
                    let counters = task.task_progress.as_ref().expect("counters");
                    black_box(Tally::of(counters, false));
                }
            });
            thread_cpu() - start
        })
    });
    // The same read after the same pause, without the watch: what the pause
    // itself costs a poll (the timer, waking up, cold caches).
    group.bench_function("show_read_paused", |b| {
        b.iter_custom(|iters| {
            server.set(Script::Polls { running: u64::MAX });
            let start = thread_cpu();
            rig.client.block_on(async {
                for _ in 0..iters {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let page = client.show_batch_task(TASK).limit(1).send().await.expect("read");
                    let task = page.task().expect("the task");
                    let counters = task.task_progress.as_ref().expect("counters");
                    black_box(Tally::of(counters, false));
                }
            });
            thread_cpu() - start
        })
    });
    group.finish();
}

#[cfg(not(target_os = "linux"))]
fn cpu_per_poll(_: &mut Criterion, _: &Rig, _: &Scripted, _: &Client) {
    eprintln!("watch_poll_cpu: skipped, it reads the thread's CPU clock (Linux only)");
}

// ---------------------------------------------------------------------------
// Trip to stop.

fn trip_to_stop(c: &mut Criterion, rig: &Rig, server: &Scripted, client: &Client) {
    let mut group = c.benchmark_group("watch_trip_to_stop");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("answer_to_stop_request", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                server.set(Script::Trip {
                    answered: None,
                    stop_arrived: None,
                });
                let watch = client
                    .watch_batch_task(TASK)
                    .criterion(watch::Criterion::failed_count(20).expect("valid"))
                    .interval(Duration::from_millis(1));
                let report = rig.client.block_on(watch.run()).expect("the watch runs");
                assert!(report.task_stopped(), "{:?}", report.end);
                let Script::Trip {
                    answered: Some(answered),
                    stop_arrived: Some(arrived),
                } = server.get()
                else {
                    panic!("the server saw no trip and stop: {:?}", server.get())
                };
                total += arrived - answered;
            }
            total
        })
    });
    group.finish();
}

fn main() {
    let rig = Rig::new();
    requests_per_poll(&rig);

    let server = Scripted::start(&rig);
    let client = client_derived(&server.base_url);
    let mut c = Criterion::default().configure_from_args();
    cpu_per_poll(&mut c, &rig, &server, &client);
    trip_to_stop(&mut c, &rig, &server, &client);
    c.final_summary();
}
