//! Reading per-target results.
//!
//! `BatchTargetResult.status` is a plain string in the spec (as in Huawei's
//! own definition), so a value a newer server adds still parses; these helpers
//! classify it without ever treating an unknown value as success.

use crate::types::BatchTargetResult;

/// The documented `status` of a successful target.
pub const STATUS_SUCCESS: &str = "success";
/// The documented `status` of a failed target.
pub const STATUS_FAILURE: &str = "failure";

/// What happened to one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetStatus<'a> {
    /// `"success"`: the target's sub-task was stopped.
    Success,
    /// `"failure"`: see `error_code` and `error_msg`.
    Failure,
    /// A value this crate does not know (from a newer server). Not a success.
    Other(&'a str),
    /// No `status` field at all. Not a success.
    Missing,
}

impl BatchTargetResult {
    /// Classifies `status`.
    pub fn outcome(&self) -> TargetStatus<'_> {
        match self.status.as_deref() {
            Some(STATUS_SUCCESS) => TargetStatus::Success,
            Some(STATUS_FAILURE) => TargetStatus::Failure,
            Some(other) => TargetStatus::Other(other),
            None => TargetStatus::Missing,
        }
    }

    /// `true` only for `status: "success"`.
    pub fn is_success(&self) -> bool {
        self.outcome() == TargetStatus::Success
    }
}
