//! A downstream crate that uses only the generated types (and validation):
//! `iotda-batchtask = { default-features = false }`.

use iotda_batchtask::types::{BatchTargetsResponse, TaskId};
use iotda_batchtask::{InvalidInput, TargetStatus};

/// Stopped and not stopped, from a StopBatchTask answer however it arrived.
pub fn summarize(response: &BatchTargetsResponse) -> (usize, usize) {
    let stopped = response.targets.iter().filter(|r| r.outcome() == TargetStatus::Success).count();
    (stopped, response.targets.len() - stopped)
}

/// Task IDs checked by the spec's own pattern.
pub fn task_id(text: &str) -> Result<TaskId, InvalidInput> {
    iotda_batchtask::validation::task_id(text)
}

/// An answer read from JSON (say, a message queue), with the generated type.
pub fn parse(json: &str) -> serde_json::Result<BatchTargetsResponse> {
    serde_json::from_str(json)
}
