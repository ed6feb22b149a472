//! A downstream crate that uses the client and hands its results to a crate
//! that depends on the types alone.

use iotda_batchtask::types::{BatchTargetResult, BatchTargetsResponse};
use iotda_batchtask::{Client, Error, TargetsReport};

/// Stops `targets` and summarises the answer with the types-only crate.
pub async fn stop_and_summarize(client: &Client, task: &str, targets: &[&str]) -> Result<(usize, usize), Error> {
    let report: TargetsReport = client
        .stop_batch_task(task)
        .targets(targets.iter().copied())
        .send()
        .await?;
    // The same `BatchTargetsResponse` type on both sides of the crate boundary.
    // (Generated types are `#[non_exhaustive]`: build them from `Default`.)
    let mut response = BatchTargetsResponse::default();
    response.targets = report
        .results()
        .iter()
        .map(|r| {
            let mut answer = BatchTargetResult::default();
            answer.target = Some(r.target.clone());
            answer.status = Some(if r.is_success() { "success" } else { "failure" }.to_owned());
            answer
        })
        .collect();
    Ok(types_user::summarize(&response))
}

/// What an on-call tool tells a person after halting a rollout on some
/// devices: the small service that `tests/double.rs` tests against the
/// emulator used as a test double.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Halt {
    /// Devices whose upgrade is stopped.
    pub stopped: Vec<String>,
    /// Devices that were not stopped, with why (Huawei's code, or the status
    /// a read found).
    pub not_stopped: Vec<(String, String)>,
    /// Devices nobody can vouch for: a person must look.
    pub check_by_hand: Vec<String>,
}

/// Stops `devices` in `task` and sorts them by what is known.
pub async fn halt(client: &Client, task: &str, devices: &[&str]) -> Result<Halt, Error> {
    use iotda_batchtask::TargetOutcome;
    use iotda_batchtask::outcome::Failed;

    let report = client
        .stop_batch_task(task)
        .targets(devices.iter().copied())
        .send()
        .await?;
    let mut halt = Halt::default();
    for result in report.into_results() {
        match result.outcome {
            TargetOutcome::Succeeded(_) => halt.stopped.push(result.target),
            TargetOutcome::Failed(Failed::Answered { error_code, .. }) => {
                halt.not_stopped.push((result.target, error_code.unwrap_or_default()));
            }
            TargetOutcome::Failed(Failed::ConfirmedByRead { status, .. }) => {
                halt.not_stopped
                    .push((result.target, status.unwrap_or_else(|| "not in the task".to_owned())));
            }
            TargetOutcome::Failed(Failed::Refused(error)) => {
                halt.not_stopped.push((result.target, error.to_string()));
            }
            // A retry's or confirm's (never a stop's): the sub-task was not in a
            // state the operation acts on before it was sent.
            TargetOutcome::Failed(Failed::NotApplicable { before, .. }) => {
                halt.not_stopped.push((result.target, before));
            }
            TargetOutcome::Unknown(_) | TargetOutcome::NotAttempted => halt.check_by_hand.push(result.target),
        }
    }
    Ok(halt)
}
