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

#[cfg(feature = "client")]
pub use stop::StopOutput;

#[cfg(feature = "client")]
mod stop {
    use std::collections::HashSet;

    use crate::types::BatchTargetResult;

    /// The answer to one StopBatchTask call.
    ///
    /// A 200 can still carry per-target failures: check [`StopOutput::failed`]
    /// and [`StopOutput::missing`], or simply [`StopOutput::all_succeeded`].
    #[derive(Debug, Clone, PartialEq)]
    pub struct StopOutput {
        pub(crate) results: Vec<BatchTargetResult>,
        pub(crate) request_id: Option<String>,
        /// The targets asked for; `None` for a stop-everything call.
        pub(crate) requested: Option<Vec<String>>,
    }

    impl StopOutput {
        /// The `X-Request-Id` of the response.
        pub fn request_id(&self) -> Option<&str> {
            self.request_id.as_deref()
        }

        /// Every per-target result, in the server's order.
        pub fn results(&self) -> &[BatchTargetResult] {
            &self.results
        }

        /// Consumes the output, returning the results.
        pub fn into_results(self) -> Vec<BatchTargetResult> {
            self.results
        }

        /// The targets asked for (de-duplicated, in order), or `None` when
        /// every sub-task was asked to stop.
        pub fn requested(&self) -> Option<&[String]> {
            self.requested.as_deref()
        }

        /// Results with `status: "success"`.
        pub fn succeeded(&self) -> impl Iterator<Item = &BatchTargetResult> {
            self.results.iter().filter(|r| r.is_success())
        }

        /// Results that are not a success: `"failure"`, an unknown status, or none.
        pub fn failed(&self) -> impl Iterator<Item = &BatchTargetResult> {
            self.results.iter().filter(|r| !r.is_success())
        }

        /// Targets that were asked for but have no result in the answer.
        pub fn missing(&self) -> impl Iterator<Item = &str> {
            let answered: HashSet<&str> = self.results.iter().filter_map(|r| r.target.as_deref()).collect();
            self.requested
                .iter()
                .flatten()
                .map(String::as_str)
                .filter(move |t| !answered.contains(t))
        }

        /// Results for targets that were not asked for (a server bug, or an
        /// answer meant for another request). Always empty for `all()`.
        pub fn unexpected(&self) -> impl Iterator<Item = &BatchTargetResult> {
            let requested: Option<HashSet<&str>> =
                self.requested.as_ref().map(|r| r.iter().map(String::as_str).collect());
            self.results
                .iter()
                .filter(move |r| match (&requested, r.target.as_deref()) {
                    (None, _) => false,
                    (Some(asked), Some(target)) => !asked.contains(target),
                    (Some(_), None) => true,
                })
        }

        /// `true` when every result is a success, every requested target has a
        /// result, and no result is for a target that was not asked for.
        pub fn all_succeeded(&self) -> bool {
            self.failed().next().is_none() && self.missing().next().is_none() && self.unexpected().next().is_none()
        }
    }
}
