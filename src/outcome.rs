//! What is known about each target of a stop, retry or confirm: the outcome
//! model.
//!
//! Every target a call names ends in exactly one [`TargetOutcome`]
//! ("applied" is stopped, re-run or confirmed, by operation):
//!
//! | outcome | meaning | evidence |
//! |---|---|---|
//! | [`Succeeded`](TargetOutcome::Succeeded) | the operation applied to its sub-task | the server's `success` for it, or a read showing its sub-task where the operation takes it |
//! | [`Failed`](TargetOutcome::Failed) | it did not | the server's `failure` for it, a refusal of its whole request before processing (4xx, no connection), or a read showing another state |
//! | [`Unknown`](TargetOutcome::Unknown) | its request may have been processed | a timeout or reset after sending, a 5xx, an unreadable answer, and no read settled it |
//! | [`NotAttempted`](TargetOutcome::NotAttempted) | never sent | the call was cancelled first |
//!
//! A request whose fate is ambiguous is never sent again blind. By default
//! the call reads the task (ShowBatchTask with a `target` filter, one read per
//! target in doubt) and settles each target from its sub-task's status:
//!
//! | operation | read shows it applied | read shows it still to do (sent again, once, within the deadline) |
//! |---|---|---|
//! | stop | `Stopped` | `Processing`, `Waitting`, `FailWaitRetry` |
//! | retry | `Waitting`, `Processing`, `Success` | `Fail`, `FailWaitRetry`, `Stopped` |
//! | confirm | `Processing`, `Success`, `Fail`, `FailWaitRetry` | `Waitting` |
//!
//! Any other status, or no sub-task, is a failure. A retry or confirm also
//! reads its targets *before* sending, and only a change from a state the
//! operation acts on counts as applied: a target already past it (a confirm
//! of a sub-task already `Success`) is [`Failed::NotApplicable`], as the
//! server would have answered, and one whose earlier read failed stays
//! unknown. Huawei does not document
//! the status a retried or confirmed sub-task takes; the table is this
//! crate's reading of the documented states (see `docs/library.md`). See
//! [`BatchTargetsCall::reconcile`](crate::BatchTargetsCall::reconcile).

use std::sync::Arc;

use crate::error::Error;
use crate::types::BatchTargetResult;

/// What happened to one target.
#[derive(Debug, Clone)]
pub enum TargetOutcome {
    /// The target's sub-task was stopped.
    Succeeded(Succeeded),
    /// The target's sub-task was not stopped.
    Failed(Failed),
    /// The target's request may have been processed; nothing says whether
    /// its sub-task was stopped.
    Unknown(Unknown),
    /// The target was never sent: the call was cancelled before its request.
    NotAttempted,
}

/// How a success is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Succeeded {
    /// The server answered `success` for the target.
    Answered {
        /// The `X-Request-Id` of the answer.
        request_id: Option<Arc<str>>,
    },
    /// After an ambiguous attempt, a ShowBatchTask read found the target's
    /// sub-task `Stopped`.
    ConfirmedByRead {
        /// The `X-Request-Id` of the read.
        request_id: Option<Arc<str>>,
    },
}

/// How a failure is known.
#[derive(Debug, Clone)]
pub enum Failed {
    /// The server answered `failure` for the target.
    Answered {
        /// Huawei's code, e.g. `IOTDA.014219` (the target is not in the task).
        error_code: Option<String>,
        /// Huawei's message.
        error_msg: Option<String>,
        /// The `X-Request-Id` of the answer.
        request_id: Option<Arc<str>>,
    },
    /// The whole request was refused before it was processed (a 4xx such as
    /// an unknown task or bad credentials, a 429 after the retries, or no
    /// connection): nothing was done for any of its targets.
    Refused(Arc<Error>),
    /// After an ambiguous attempt, a ShowBatchTask read found the target's
    /// sub-task in a state other than `Stopped` (or found no sub-task for it).
    ConfirmedByRead {
        /// The sub-task's status; `None` when the task has no sub-task for
        /// the target.
        status: Option<String>,
        /// The `X-Request-Id` of the read.
        request_id: Option<Arc<str>>,
    },
    /// A retry or confirm whose answer was lost, for a target whose
    /// sub-task was, in a read made *before* sending, in a state the
    /// operation does not act on (a confirm of a sub-task already
    /// `Success`, say): the server refuses such a target, so the call did
    /// not apply to it, whatever a read shows now.
    NotApplicable {
        /// The sub-task's status before the call.
        before: String,
        /// Its status in the read after the lost answer.
        status: Option<String>,
        /// The `X-Request-Id` of the read after the lost answer.
        request_id: Option<Arc<str>>,
    },
}

/// Why a target's outcome is unknown.
#[derive(Debug, Clone)]
pub enum Unknown {
    /// Its request failed in a way that may have followed processing (see
    /// [`Error::may_have_been_processed`]), and no read settled it (reading
    /// was off, or the read failed too).
    Error(Arc<Error>),
    /// The answer had no usable entry for it: none at all, or a `status`
    /// this crate does not know (from a newer server), and no read settled it.
    Unanswered {
        /// The `status` the server gave, if any.
        status: Option<String>,
        /// The `X-Request-Id` of the answer.
        request_id: Option<Arc<str>>,
    },
    /// The call was interrupted while its request was in flight.
    Interrupted,
}

/// One target and what happened to it.
#[derive(Debug, Clone)]
pub struct TargetResult {
    /// The device ID.
    pub target: String,
    /// What happened.
    pub outcome: TargetOutcome,
}

impl TargetResult {
    /// Whether the target's sub-task was stopped.
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, TargetOutcome::Succeeded(_))
    }

    /// The request ID of the answer or read this outcome rests on, if any.
    pub fn request_id(&self) -> Option<&str> {
        match &self.outcome {
            TargetOutcome::Succeeded(
                Succeeded::Answered { request_id } | Succeeded::ConfirmedByRead { request_id },
            )
            | TargetOutcome::Failed(
                Failed::Answered { request_id, .. }
                | Failed::ConfirmedByRead { request_id, .. }
                | Failed::NotApplicable { request_id, .. },
            )
            | TargetOutcome::Unknown(Unknown::Unanswered { request_id, .. }) => request_id.as_deref(),
            TargetOutcome::Failed(Failed::Refused(error)) | TargetOutcome::Unknown(Unknown::Error(error)) => {
                error.request_id()
            }
            TargetOutcome::Unknown(Unknown::Interrupted) | TargetOutcome::NotAttempted => None,
        }
    }
}

/// The report of a stop, retry or confirm: one result per distinct target
/// named, in the order named (for [`all`](crate::BatchTargetsCall::all), one
/// per target the server answered for), and every request ID received.
#[derive(Debug, Clone, Default)]
pub struct TargetsReport {
    pub(crate) results: Vec<TargetResult>,
    pub(crate) request_ids: Vec<String>,
    pub(crate) requests_sent: usize,
    pub(crate) reads: usize,
    pub(crate) duplicates_dropped: usize,
    pub(crate) cancelled: bool,
    pub(crate) unexpected: Vec<BatchTargetResult>,
    pub(crate) task_status: Option<String>,
    /// For a lost `all()` answer: whether the read of the task showed the
    /// call applied.
    pub(crate) applied: Option<bool>,
}

impl TargetsReport {
    /// Every target's result.
    pub fn results(&self) -> &[TargetResult] {
        &self.results
    }

    /// Consumes the report, returning the results.
    pub fn into_results(self) -> Vec<TargetResult> {
        self.results
    }

    /// Targets the operation applied to (stopped, re-run or confirmed).
    pub fn succeeded(&self) -> impl Iterator<Item = &TargetResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, TargetOutcome::Succeeded(_)))
    }

    /// Targets the operation did not apply to.
    pub fn failed(&self) -> impl Iterator<Item = &TargetResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, TargetOutcome::Failed(_)))
    }

    /// Targets whose outcome is unknown.
    pub fn unknown(&self) -> impl Iterator<Item = &TargetResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, TargetOutcome::Unknown(_)))
    }

    /// Targets never sent.
    pub fn not_attempted(&self) -> impl Iterator<Item = &TargetResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, TargetOutcome::NotAttempted))
    }

    /// Every `X-Request-Id` received, operations and reads, in the order received;
    /// quote them to Huawei support.
    pub fn request_ids(&self) -> &[String] {
        &self.request_ids
    }

    /// Stop, retry or confirm requests sent (resends after a read included).
    pub fn requests_sent(&self) -> usize {
        self.requests_sent
    }

    /// ShowBatchTask reads made to settle ambiguous attempts.
    pub fn reads(&self) -> usize {
        self.reads
    }

    /// Repeated targets dropped before sending.
    pub fn duplicates_dropped(&self) -> usize {
        self.duplicates_dropped
    }

    /// Whether the call was cancelled before every request was sent.
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }

    /// Answers for targets that were not asked for (a server bug, or an
    /// answer meant for another request). Never part of [`results`](Self::results).
    pub fn unexpected(&self) -> &[BatchTargetResult] {
        &self.unexpected
    }

    /// For an [`all`](crate::BatchTargetsCall::all) call whose answer was
    /// lost: the task's status as read afterwards (for a stop, `Stopping` or
    /// `Stopped` means it took effect; see [`applied`](Self::applied)).
    pub fn task_status(&self) -> Option<&str> {
        self.task_status.as_deref()
    }

    /// For an [`all`](crate::BatchTargetsCall::all) call whose answer was
    /// lost: whether the read of the task afterwards showed the call applied
    /// (stop: the task `Stopping` or `Stopped`; retry: no sub-task left
    /// failed or stopped; confirm: none left waiting). `None` when no such
    /// read was made.
    pub fn applied(&self) -> Option<bool> {
        self.applied
    }

    /// `true` when every target succeeded, no answer was unexpected, and a
    /// read after a lost `all()` answer shows the call applied.
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(TargetResult::is_success) && self.unexpected.is_empty() && self.applied != Some(false)
    }
}
