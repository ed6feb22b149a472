//! A downstream crate that uses the client and hands its results to a crate
//! that depends on the types alone.

use iotda_batchtask::types::{BatchTargetResult, BatchTargetsResponse};
use iotda_batchtask::{Client, Error, StopReport};

/// Stops `targets` and summarises the answer with the types-only crate.
pub async fn stop_and_summarize(client: &Client, task: &str, targets: &[&str]) -> Result<(usize, usize), Error> {
    let report: StopReport = client.stop_batch_task(task).targets(targets.iter().copied()).send().await?;
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
