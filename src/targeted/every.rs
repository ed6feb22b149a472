//! `{}`: every sub-task the operation acts on. An ambiguous attempt is
//! settled by reading the task ([`Operation::task_verdict`]): applied, or
//! not; a task that still accepts the call is sent `{}` again, once (it acts
//! only on the sub-tasks still waiting for it, so a processed first attempt
//! is not repeated).

use std::sync::Arc;
use std::time::Instant;

use super::{Operation, TaskVerdict, chunk};
use crate::Client;
use crate::error::Error;
use crate::outcome::{TargetResult, TargetsReport};
use crate::types;

pub(crate) async fn run(
    client: &Client,
    operation: Operation,
    task_id: &types::TaskId,
    reconcile: bool,
) -> Result<TargetsReport, Error> {
    let mut report = TargetsReport::default();
    let mut resent = false;
    let started = Instant::now();
    loop {
        let (result, ids) = chunk::send_targets(client, operation, task_id, Vec::new()).await;
        report.requests_sent += 1;
        report.request_ids.extend(ids);
        let error = match result {
            Ok((answers, request_id)) => {
                let request_id = request_id.map(Arc::from);
                for answer in answers {
                    match answer.target.clone() {
                        Some(target) => report.results.push(TargetResult {
                            target,
                            outcome: chunk::outcome_of_answer(Some(answer), &request_id),
                        }),
                        None => report.unexpected.push(answer),
                    }
                }
                return Ok(report);
            }
            Err(error) if !reconcile || !error.may_have_been_processed() => return Err(error),
            Err(error) => error,
        };
        let page = match client.show_batch_task(task_id.as_str()).limit(1).send().await {
            Ok(page) => page,
            Err(read_error) => {
                tracing::debug!(error = %read_error, "the read did not settle the call on every sub-task");
                return Err(error);
            }
        };
        report.reads += 1;
        report.request_ids.extend(page.request_id().map(str::to_owned));
        let Some(task) = page.task() else { return Err(error) };
        let Some(verdict) = operation.task_verdict(task) else {
            return Err(error);
        };
        let status = task.status.clone();
        if verdict == TaskVerdict::Pending && !resent && started.elapsed() < client.shared.deadline {
            tracing::info!(
                status,
                operation = operation.name(),
                "a read showed the call not yet applied after an ambiguous attempt: sending again"
            );
            resent = true;
            continue;
        }
        // Read after the lost answer: what the task shows is the report.
        report.task_status = status;
        report.applied = Some(verdict == TaskVerdict::Applied);
        return Ok(report);
    }
}
