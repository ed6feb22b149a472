//! One request of at most 100 targets, settled: send it, turn its answer or
//! error into per-target outcomes, and settle ambiguous ones by reading.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt as _};
use tracing::Instrument as _;

use super::Operation;
use crate::Client;
use crate::client::build;
use crate::client::send::{self, Built};
use crate::error::Error;
use crate::outcome::{Failed, Succeeded, TargetOutcome, Unknown};
use crate::output::{STATUS_FAILURE, STATUS_SUCCESS};
use crate::types::{self, BatchTargetResult};

/// Attempts of one chunk's targets: the first send, and at most one resend
/// of targets a read showed still running after an ambiguous attempt.
const MAX_SENDS: usize = 2;

/// Reads in flight at once while settling one chunk.
const READ_CONCURRENCY: usize = 4;

/// What one chunk's requests and reads produced.
#[derive(Debug, Default)]
pub(crate) struct ChunkReport {
    /// One outcome per target of the chunk, in the chunk's order (the
    /// caller owns the targets and pairs them up: no copy of them here).
    pub(crate) outcomes: Vec<TargetOutcome>,
    pub(crate) request_ids: Vec<String>,
    pub(crate) requests_sent: usize,
    pub(crate) reads: usize,
    pub(crate) unexpected: Vec<BatchTargetResult>,
}

/// A target's sub-task before a retry or confirm was sent.
enum Before {
    /// Its status (`None`: the task has no sub-task for it).
    Read(Option<String>),
    /// The read failed.
    Unread,
}

/// Sends `targets` (1 to 100 distinct, valid device IDs) and settles every
/// one of them. `reconcile` turns the reads after an ambiguous attempt on.
pub(crate) async fn run(
    client: &Client,
    operation: Operation,
    task_id: &types::TaskId,
    targets: &[String],
    reconcile: bool,
) -> ChunkReport {
    let started = Instant::now();
    let mut report = ChunkReport::default();
    // Retry and confirm: each sub-task's state before sending, so that a
    // read after a lost answer can tell a change this call made from a state
    // that was already so (a confirmed sub-task that has since failed is
    // `Fail`; so is one that was never waiting). A stop needs none: only a
    // stop makes a sub-task `Stopped`, and a stopped device is what its
    // report promises.
    let before: Option<Vec<Before>> = if reconcile && operation != Operation::Stop {
        let all: Vec<usize> = (0..targets.len()).collect();
        let reads = read_statuses(client, task_id, targets, &all).await;
        report.reads += reads.len();
        Some(
            reads
                .into_iter()
                .map(|read| match read {
                    Ok((status, request_id)) => {
                        report.request_ids.extend(request_id.map(|id| id.to_string()));
                        Before::Read(status)
                    }
                    Err(error) => {
                        tracing::debug!(error = %error, "the read before sending failed: a lost answer will stay unknown");
                        Before::Unread
                    }
                })
                .collect(),
        )
    } else {
        None
    };
    // While the chunk is being settled, an `Unknown` outcome is one still
    // in doubt: settled by reading, or left as it is.
    let mut slots: Vec<TargetOutcome> = Vec::new();
    // Indices (into `targets`) to send in this round.
    let mut to_send: Vec<usize> = (0..targets.len()).collect();
    for send in 0..MAX_SENDS {
        let chunk: Vec<String> = to_send.iter().map(|&i| targets[i].clone()).collect();
        let (result, ids) = send_targets(client, operation, task_id, chunk).await;
        report.requests_sent += 1;
        report.request_ids.extend(ids);
        let settled = settle_answer(targets, &to_send, result, &mut report.unexpected);
        if send == 0 {
            slots = settled;
        } else {
            for (&i, slot) in to_send.iter().zip(settled) {
                slots[i] = slot;
            }
        }
        if !reconcile {
            break;
        }
        let doubtful: Vec<usize> = (0..targets.len())
            .filter(|&i| matches!(slots[i], TargetOutcome::Unknown(_)))
            .collect();
        if doubtful.is_empty() {
            break;
        }
        let reads = read_statuses(client, task_id, targets, &doubtful).await;
        report.reads += reads.len();
        let may_resend = send + 1 < MAX_SENDS && started.elapsed() < client.shared.deadline;
        to_send.clear();
        for (i, read) in doubtful.into_iter().zip(reads) {
            let (status, request_id) = match read {
                Ok(found) => found,
                Err(error) => {
                    tracing::debug!(target = targets[i].as_str(), error = %error, "the read did not settle the target");
                    continue;
                }
            };
            if let Some(id) = &request_id {
                report.request_ids.push(id.to_string());
            }
            let before = before.as_ref().map(|before| &before[i]);
            slots[i] = match (status, before) {
                // Not a state the call acts on before it was sent: the
                // server refuses it, whatever the sub-task shows now.
                (status, Some(Before::Read(Some(was)))) if !operation.is_pending(was) => {
                    TargetOutcome::Failed(Failed::NotApplicable {
                        before: was.clone(),
                        status,
                        request_id,
                    })
                }
                // Done now, but what it was before is unknown: this call
                // may or may not have done it.
                (Some(status), Some(Before::Unread)) if operation.is_done(&status) => continue,
                (Some(status), _) if operation.is_done(&status) => {
                    TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { request_id })
                }
                (Some(status), _) if operation.is_pending(&status) && may_resend => {
                    to_send.push(i);
                    continue;
                }
                (status, _) => TargetOutcome::Failed(Failed::ConfirmedByRead { status, request_id }),
            };
        }
        if to_send.is_empty() {
            break;
        }
        tracing::info!(
            targets = to_send.len(),
            "a read showed these targets still to do after an ambiguous attempt: sending again"
        );
    }
    report.outcomes = slots;
    report
}

/// One request of `operation` (`targets` empty: `{}`, every sub-task), and
/// every request ID its attempts received.
pub(crate) async fn send_targets(
    client: &Client,
    operation: Operation,
    task_id: &types::TaskId,
    targets: Vec<String>,
) -> (Result<(Vec<BatchTargetResult>, Option<String>), Error>, Vec<String>) {
    // Named targets are never empty, so an empty body is `all()`.
    let (count, all) = (targets.len(), targets.is_empty());
    let span = match operation {
        Operation::Stop => {
            tracing::info_span!(target: "iotda_batchtask::client", "iotda.stop_batch_task", task_id = task_id.as_str(), targets = count, all)
        }
        Operation::Retry => {
            tracing::info_span!(target: "iotda_batchtask::client", "iotda.retry_batch_task", task_id = task_id.as_str(), targets = count, all)
        }
        Operation::Confirm => {
            tracing::info_span!(target: "iotda_batchtask::client", "iotda.confirm_batch_task", task_id = task_id.as_str(), targets = count, all)
        }
    };
    let built = request(client, operation, task_id, targets);
    let (result, ids) = send::run(client, built).instrument(span).await;
    (result.map(|(answer, request_id)| (answer.targets, request_id)), ids)
}

/// The request of `operation` for `targets` (empty: `{}`, every sub-task),
/// made by its generated builder and not sent: what [`send_targets`] sends
/// and a plan shows.
pub(crate) async fn request(
    client: &Client,
    operation: Operation,
    task_id: &types::TaskId,
    targets: Vec<String>,
) -> Built<types::BatchTargetsResponse> {
    let body = types::BatchTargets { targets };
    match operation {
        Operation::Stop => build!(client, |call| call
            .stop_batch_task()
            .task_id(task_id.clone())
            .body(body)),
        Operation::Retry => build!(client, |call| call
            .retry_batch_task()
            .task_id(task_id.clone())
            .body(body)),
        Operation::Confirm => build!(client, |call| call
            .confirm_batch_task()
            .task_id(task_id.clone())
            .body(body)),
    }
}

/// Per target of `sent` (indices into `targets`), what the answer or error
/// says.
fn settle_answer(
    targets: &[String],
    sent: &[usize],
    result: Result<(Vec<BatchTargetResult>, Option<String>), Error>,
    unexpected: &mut Vec<BatchTargetResult>,
) -> Vec<TargetOutcome> {
    match result {
        Ok((answers, request_id)) => {
            let request_id: Option<Arc<str>> = request_id.map(Arc::from);
            let chunk: Vec<&str> = sent.iter().map(|&i| targets[i].as_str()).collect();
            let (matched, extra) = answers_by_target(&chunk, answers);
            unexpected.extend(extra);
            matched
                .into_iter()
                .map(|answer| outcome_of_answer(answer, &request_id))
                .collect()
        }
        Err(error) => {
            let ambiguous = error.may_have_been_processed();
            let error = Arc::new(error);
            sent.iter()
                .map(|_| {
                    if ambiguous {
                        TargetOutcome::Unknown(Unknown::Error(error.clone()))
                    } else {
                        TargetOutcome::Failed(Failed::Refused(error.clone()))
                    }
                })
                .collect()
        }
    }
}

/// One per-target answer as an outcome. A missing answer, or a `status`
/// this crate does not know (or none), is neither success nor failure:
/// `Unknown`, for a read to settle.
pub(crate) fn outcome_of_answer(answer: Option<BatchTargetResult>, request_id: &Option<Arc<str>>) -> TargetOutcome {
    let Some(answer) = answer else {
        return TargetOutcome::Unknown(Unknown::Unanswered {
            status: None,
            request_id: request_id.clone(),
        });
    };
    match answer.status.as_deref() {
        Some(STATUS_SUCCESS) => TargetOutcome::Succeeded(Succeeded::Answered {
            request_id: request_id.clone(),
        }),
        Some(STATUS_FAILURE) => TargetOutcome::Failed(Failed::Answered {
            error_code: answer.error_code,
            error_msg: answer.error_msg,
            request_id: request_id.clone(),
        }),
        _ => TargetOutcome::Unknown(Unknown::Unanswered {
            status: answer.status,
            request_id: request_id.clone(),
        }),
    }
}

/// Answers in `chunk`'s order (the first answer naming each target), and
/// the answers for targets not asked for.
fn answers_by_target(
    chunk: &[&str],
    answers: Vec<BatchTargetResult>,
) -> (Vec<Option<BatchTargetResult>>, Vec<BatchTargetResult>) {
    // The usual case: one answer per target, in request order.
    let in_order = answers.len() == chunk.len()
        && chunk
            .iter()
            .zip(&answers)
            .all(|(target, answer)| answer.target.as_deref() == Some(*target));
    if in_order {
        return (answers.into_iter().map(Some).collect(), Vec::new());
    }
    let position: HashMap<&str, usize> = chunk.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut slots: Vec<Option<BatchTargetResult>> = (0..chunk.len()).map(|_| None).collect();
    let mut extra = Vec::new();
    for answer in answers {
        match answer.target.as_deref().and_then(|t| position.get(t)).copied() {
            Some(i) if slots[i].is_none() => slots[i] = Some(answer),
            // A repeated answer for a target already answered is ignored.
            Some(_) => {}
            None => extra.push(answer),
        }
    }
    (slots, extra)
}

/// The sub-task status of each target `indices` names, by ShowBatchTask with
/// its `target` filter: `Ok((None, _))` when the task has no such sub-task.
async fn read_statuses(
    client: &Client,
    task_id: &types::TaskId,
    targets: &[String],
    indices: &[usize],
) -> Vec<Result<(Option<String>, Option<Arc<str>>), Error>> {
    stream::iter(indices.iter().copied().map(|i| {
        let target = targets[i].as_str();
        async move {
            let page = client.show_batch_task(task_id.as_str()).target(target).send().await?;
            let status = page
                .sub_tasks()
                .iter()
                .find(|detail| detail.target.as_deref() == Some(target))
                .map(|detail| detail.status.clone().unwrap_or_default());
            Ok((status, page.request_id().map(Arc::from)))
        }
    }))
    .buffered(READ_CONCURRENCY)
    .collect()
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(target: &str, status: &str) -> BatchTargetResult {
        BatchTargetResult {
            target: Some(target.to_owned()),
            status: Some(status.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn answers_are_matched_to_targets_whatever_their_order() {
        let (matched, extra) = answers_by_target(
            &["a", "b", "c"],
            vec![
                answer("c", "success"),
                answer("x", "success"),
                answer("a", "failure"),
                answer("a", "success"),
            ],
        );
        let statuses: Vec<Option<&str>> = matched
            .iter()
            .map(|m| m.as_ref().and_then(|a| a.status.as_deref()))
            .collect();
        assert_eq!(statuses, [Some("failure"), None, Some("success")]);
        assert_eq!(extra.len(), 1);
    }

    #[test]
    fn an_unknown_or_missing_status_is_doubtful_never_a_success() {
        let rid = Some(Arc::from("r"));
        for status in [None, Some("pending"), Some("SUCCESS")] {
            let a = BatchTargetResult {
                target: Some("d".into()),
                status: status.map(str::to_owned),
                ..Default::default()
            };
            assert!(
                matches!(outcome_of_answer(Some(a), &rid), TargetOutcome::Unknown(_)),
                "{status:?}"
            );
        }
        assert!(matches!(outcome_of_answer(None, &rid), TargetOutcome::Unknown(_)));
    }
}
