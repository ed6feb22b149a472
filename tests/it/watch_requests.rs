//! Requests per poll of the guard (`Client::watch_batch_task`), counted at
//! the server: an emulator on 127.0.0.1 whose task moves by itself, on a
//! clock only the test moves (`time_scale(0.0)`, `advance_time` after a
//! poll), so the counts do not depend on timing. Without `stuck_after`, one
//! request per poll; with it, the poll's read plus at most one ShowBatchTask
//! per 50 Processing sub-tasks, and at most `STUCK_PAGES_PER_POLL` in all. The bench
//! (`benches/watch.rs`) prints the same counts for a 30,000-device task.

use std::time::Duration;

use futures_util::StreamExt as _;
use iotda_batchtask::WatchBatchTask;
use iotda_batchtask::types::TaskStatus;
use iotda_batchtask::watch::{Criterion, Progress, STUCK_PAGES_PER_POLL, WatchEnd, WatchEvent, WatchReport};
use iotda_batchtask_emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, JournalEntry, Operation, Progression, Seed, SeedTask, Selection,
    TaskDetailStatus, TaskType,
};

use crate::common::*;

/// One firmware task of `n` Waitting devices (`dev-00000`, ...) moving by
/// `progression`, on a clock only the test moves.
async fn emulator(n: usize, progression: Progression) -> EmulatorHandle {
    let task = SeedTask {
        project_id: PROJECT.to_owned(),
        task_id: TASK.to_owned(),
        task_type: TaskType::FirmwareUpgrade,
        status: TaskStatus::Processing,
        subtasks: (0..n)
            .map(|i| (format!("dev-{i:05}"), TaskDetailStatus::Waitting))
            .collect(),
    };
    let seed = Seed::new(vec![task])
        .expect("valid seed")
        .with_progression(PROJECT, TASK, progression)
        .expect("the task exists");
    let config = EmulatorConfig::new().seed(seed).token(TOKEN).time_scale(0.0);
    Emulator::start(config).await.expect("emulator")
}

/// Runs `watch` to its end, calling `after_poll(n)` after the n-th poll
/// (from 1), which is where the test moves the emulator's clock; the polls
/// and the report.
async fn run(
    watch: WatchBatchTask,
    mut after_poll: impl FnMut(usize),
) -> (Vec<Progress>, Vec<WatchEvent>, WatchReport) {
    let mut polls = Vec::new();
    let mut others = Vec::new();
    let mut events = std::pin::pin!(watch.stream().expect("valid watch"));
    while let Some(event) = events.next().await {
        match event {
            WatchEvent::Progress(progress) => {
                polls.push(progress);
                after_poll(polls.len());
            }
            WatchEvent::Ended(report) => return (polls, others, *report),
            other => others.push(other),
        }
    }
    panic!("the watch stream ended without WatchEvent::Ended")
}

fn has_query(entry: &JournalEntry, pair: &str) -> bool {
    entry.query.as_deref().is_some_and(|q| q.split('&').any(|p| p == pair))
}

/// The journal cut into polls: each poll's requests run from its first read
/// (the request ID its Progress event carries) to the next poll's.
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
    assert_eq!(starts.first(), Some(&0), "the first request is the first poll's read");
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "polls in order: {starts:?}");
    let ends = starts.iter().skip(1).copied().chain([journal.len()]);
    starts.iter().zip(ends).map(|(&s, e)| &journal[s..e]).collect()
}

#[tokio::test]
async fn a_watch_without_stuck_after_makes_one_request_per_poll() {
    // 200 devices dispatched 10 ms apart, each running 1 s, about 5% failing.
    let progression = Progression::new(Duration::from_secs(1))
        .dispatch_every(Duration::from_millis(10))
        .fail(Selection::none().with_share(5, 3).expect("valid share"));
    let emulator = emulator(200, progression).await;
    let watch = client(&emulator.base_url(), Mode::Token)
        .watch_batch_task(TASK)
        .criterion(Criterion::failed_percent(50.0).expect("valid"))
        .criterion(Criterion::failed_count(150).expect("valid"))
        .interval(Duration::from_millis(5));
    let (polls, others, report) = run(watch, |_| emulator.advance_time(Duration::from_millis(400))).await;

    assert!(
        matches!(
            report.end,
            WatchEnd::Finished {
                status: TaskStatus::PartialSuccess
            }
        ),
        "{:?}",
        report.end
    );
    assert!(others.is_empty(), "nothing tripped, nothing stuck: {others:?}");
    assert_eq!(report.read_failures, 0);
    // The task moved under the watch: several polls, different counters.
    assert!(polls.len() >= 4, "{} polls", polls.len());
    assert_ne!(polls[0].counters, polls[polls.len() - 1].counters);

    let journal = emulator.journal();
    assert_eq!(journal.dropped(), 0);
    assert_eq!(journal.len(), polls.len(), "one request per poll, nothing else");
    assert_eq!(report.polls, polls.len());
    for (entry, poll) in journal.iter().zip(&polls) {
        assert!(entry.is_show_of(TASK), "{entry:?}");
        assert!(has_query(entry, "limit=1"), "one sub-task per read: {:?}", entry.query);
        assert_eq!(entry.request_id, poll.request_id);
    }
}

#[tokio::test]
async fn with_stuck_after_a_poll_reads_at_most_one_more_page_per_50_processing_sub_tasks() {
    // 1,500 devices, all dispatched at once, each running 1 s; 10% hang.
    let hang = Selection::none().with_share(10, 5).expect("valid share");
    let progression = Progression::new(Duration::from_secs(1))
        .fail(Selection::none().with_share(3, 9).expect("valid share"))
        .hang(hang.clone());
    let emulator = emulator(1_500, progression).await;
    // Dispatch happens once the clock has moved: every device Processing.
    emulator.advance_time(Duration::from_millis(1));
    let watch = client(&emulator.base_url(), Mode::Token)
        .watch_batch_task(TASK)
        .stuck_after(Duration::from_millis(150))
        .interval(Duration::from_millis(10));
    // After three polls, every device that does not hang finishes.
    let (polls, others, report) = run(watch, |poll| {
        if poll == 3 {
            emulator.advance_time(Duration::from_secs(2));
        }
    })
    .await;

    // The stop of the last hanging devices leaves nothing running, which
    // makes the task Stopped (as IoTDA does).
    assert!(
        matches!(
            report.end,
            WatchEnd::Finished {
                status: TaskStatus::Stopped
            }
        ),
        "{:?}",
        report.end
    );
    let task = emulator.task(PROJECT, TASK).expect("the task");
    let hanging: Vec<&String> = task.subtasks.keys().filter(|d| hang.picks(d)).collect();
    assert!(hanging.len() > 100, "{} devices hang", hanging.len());
    for device in &hanging {
        assert_eq!(task.subtasks[*device], TaskDetailStatus::Stopped, "{device}");
    }

    let journal = emulator.journal();
    assert_eq!(journal.dropped(), 0);
    let mut stops_expected = 0;
    for event in &others {
        match event {
            WatchEvent::Stuck { devices, .. } => stops_expected += devices.len().div_ceil(100),
            other => panic!("only stuck devices are stopped: {other:?}"),
        }
    }
    let mut pages_read = Vec::new();
    for (i, (requests, poll)) in per_poll(&journal, &polls).iter().zip(&polls).enumerate() {
        let reads = requests.iter().filter(|e| e.is_show_of(TASK)).count();
        let stops = requests.iter().filter(|e| e.is_stop_of(TASK)).count();
        assert_eq!(
            reads + stops,
            requests.len(),
            "poll {i}: only reads and stops: {requests:?}"
        );
        for read in requests.iter().filter(|e| e.is_show_of(TASK)) {
            assert!(has_query(read, "task_detail_status=Processing"), "{:?}", read.query);
            assert!(has_query(read, "limit=50"), "{:?}", read.query);
        }
        let processing = usize::try_from(poll.counters.processing.expect("counted")).expect("not negative");
        // The poll's own read (the first page, which carries the task) and
        // one more per full page of 50: a walk ends on a page that is not
        // full, so 150 Processing take 4 reads, the last one empty.
        let bound = (1 + processing / 50).min(STUCK_PAGES_PER_POLL);
        assert!(
            reads <= bound,
            "poll {i}: {reads} reads with {processing} sub-tasks Processing (at most {bound})"
        );
        pages_read.push(reads);
    }
    // Poll 1 saw 1,500 Processing (30 pages) and stopped at the bound; poll 2
    // went on from its marker: the other 500 in 10 pages, and the empty
    // page that ends the walk.
    assert_eq!(pages_read[..2], [STUCK_PAGES_PER_POLL, 11], "{pages_read:?}");
    assert_eq!(journal.matching(Operation::StopBatchTask).count(), stops_expected);
    assert!(
        journal
            .matching(Operation::StopBatchTask)
            .all(|e| e.targets().is_some_and(|t| !t.is_empty())),
        "targeted stops only, never the whole task"
    );
}
