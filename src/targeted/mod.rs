//! The one path of the operations that act on named targets or on every
//! sub-task (StopBatchTask, RetryBatchTask, ConfirmBatchTask): one builder
//! ([`BatchTargetsCall`](crate::BatchTargetsCall)), whatever the number of
//! targets.
//!
//! - [`schedule`]: validated targets split into requests of at most 100,
//!   sent with bounded concurrency and cancellation, reported once in input
//!   order.
//! - [`chunk`]: one request, settled: its answer or error as per-target
//!   outcomes, ambiguous ones settled by reading, never by resending blind.
//! - [`every`]: `{}` (every sub-task), settled by a read of the task.
//!
//! The three operations differ only in their request and in what a read
//! shows ([`Operation`]).

pub(crate) mod chunk;
pub(crate) mod every;
pub(crate) mod schedule;

use crate::types::{self, TaskDetailStatus, TaskStatus};

/// The operation a [`BatchTargetsCall`](crate::BatchTargetsCall) performs on
/// its targets, with the sub-task states that settle it (the rules the
/// reads after a lost answer apply; the CLI quotes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// StopBatchTask.
    Stop,
    /// RetryBatchTask.
    Retry,
    /// ConfirmBatchTask.
    Confirm,
}

/// What a read of the whole task says about a `{}` (every sub-task) call
/// whose answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskVerdict {
    /// The call took effect.
    Applied,
    /// The call has not taken effect and the task still accepts it, so
    /// sending `{}` again is safe (it acts only on sub-tasks still waiting
    /// for it) and needed.
    Pending,
    /// The call has not taken effect and the task no longer accepts it.
    NotApplied,
}

impl Operation {
    /// The operation's name in the API (`StopBatchTask`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Stop => "StopBatchTask",
            Self::Retry => "RetryBatchTask",
            Self::Confirm => "ConfirmBatchTask",
        }
    }

    /// The sub-task states that show the operation took effect:
    ///
    /// - Stop: `Stopped`.
    /// - Retry: `Waitting`, `Processing` or `Success`: the sub-task is
    ///   running again (or has since succeeded). Huawei does not say which
    ///   status a retried sub-task takes; these are the states a re-run
    ///   passes through.
    /// - Confirm: `Processing`, `Success`, `Fail` or `FailWaitRetry`: the
    ///   sub-task has left `Waitting`, so it was dispatched.
    ///
    /// A sub-task already in one of these states *before* the call was not
    /// changed by it: a retry or confirm reads its targets before sending
    /// so that a lost answer is never settled by a state that was already so.
    pub fn done_statuses(self) -> &'static [TaskDetailStatus] {
        use TaskDetailStatus as S;
        match self {
            Self::Stop => &[S::Stopped],
            Self::Retry => &[S::Waitting, S::Processing, S::Success],
            Self::Confirm => &[S::Processing, S::Success, S::Fail, S::FailWaitRetry],
        }
    }

    /// The sub-task states the operation acts on (what `{}` acts on), so
    /// sending it again is both safe and needed:
    ///
    /// - Stop: `Processing`, `Waitting`, `FailWaitRetry`.
    /// - Retry: `Fail`, `FailWaitRetry`, `Stopped`.
    /// - Confirm: `Waitting`.
    pub fn pending_statuses(self) -> &'static [TaskDetailStatus] {
        use TaskDetailStatus as S;
        match self {
            Self::Stop => &[S::Processing, S::Waitting, S::FailWaitRetry],
            Self::Retry => &[S::Fail, S::FailWaitRetry, S::Stopped],
            Self::Confirm => &[S::Waitting],
        }
    }

    /// Whether a sub-task in `status` shows the operation took effect
    /// ([`done_statuses`](Self::done_statuses)).
    pub fn is_done(self, status: &str) -> bool {
        self.done_statuses().iter().any(|s| s.as_str() == status)
    }

    /// Whether a sub-task in `status` is one the operation acts on
    /// ([`pending_statuses`](Self::pending_statuses)).
    pub fn is_pending(self, status: &str) -> bool {
        self.pending_statuses().iter().any(|s| s.as_str() == status)
    }

    /// The last segment of the operation's URL: `stop`, `retry`, `confirm`.
    pub fn path_segment(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Retry => "retry",
            Self::Confirm => "confirm",
        }
    }

    /// What [`all`](crate::BatchTargetsCall::all) acts on, in words.
    pub fn everything(self) -> &'static str {
        match self {
            Self::Stop => "every running, waiting and failed-awaiting-retry sub-task",
            Self::Retry => "every failed, failed-awaiting-retry and stopped sub-task",
            Self::Confirm => "every waiting sub-task",
        }
    }

    /// What a read of the task says about a lost `{}` call; `None` when the
    /// read does not say (no status, or no counters where they are needed).
    ///
    /// - Stop: `Stopping` or `Stopped` is applied; `Initializing`,
    ///   `Waitting` or `Processing` is pending; any other status is not.
    /// - Retry: no sub-task left `Fail`, `FailWaitRetry` or `Stopped` (by
    ///   `task_progress`) is applied; otherwise pending while the task is
    ///   `Processing`, `Fail` or `PartialSuccess` (the statuses Huawei allows
    ///   a retry in), not applied in any other.
    /// - Confirm: no sub-task left `Waitting` is applied; otherwise pending
    ///   while the task is `Initializing`, `Waitting` or `Processing` (not
    ///   finished, not `Stopping`), not applied in any other.
    pub(crate) fn task_verdict(self, task: &types::Task) -> Option<TaskVerdict> {
        use TaskStatus as T;
        let status = task.status.as_deref()?;
        let is = |list: &[T]| list.iter().any(|s| s.as_str() == status);
        let verdict = |left: Option<i64>, accepting: &[T]| {
            Some(match left? {
                0 => TaskVerdict::Applied,
                _ if is(accepting) => TaskVerdict::Pending,
                _ => TaskVerdict::NotApplied,
            })
        };
        let progress = task.task_progress.as_ref();
        match self {
            Self::Stop => Some(if is(&[T::Stopping, T::Stopped]) {
                TaskVerdict::Applied
            } else if is(&[T::Initializing, T::Waitting, T::Processing]) {
                TaskVerdict::Pending
            } else {
                TaskVerdict::NotApplied
            }),
            Self::Retry => verdict(
                progress.and_then(|p| Some(p.fail? + p.fail_wait_retry? + p.stopped?)),
                &[T::Processing, T::Fail, T::PartialSuccess],
            ),
            Self::Confirm => verdict(
                progress.and_then(|p| p.waitting),
                &[T::Initializing, T::Waitting, T::Processing],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_and_confirm_settle_by_the_sub_task_status() {
        use TaskDetailStatus as S;
        let (retry, confirm) = (Operation::Retry, Operation::Confirm);
        for done in [S::Waitting, S::Processing, S::Success] {
            assert!(
                retry.is_done(done.as_str()) && !retry.is_pending(done.as_str()),
                "{done:?}"
            );
        }
        for pending in [S::Fail, S::FailWaitRetry, S::Stopped] {
            assert!(
                retry.is_pending(pending.as_str()) && !retry.is_done(pending.as_str()),
                "{pending:?}"
            );
        }
        assert!(confirm.is_pending(S::Waitting.as_str()) && !confirm.is_done(S::Waitting.as_str()));
        for done in [S::Processing, S::Success, S::Fail, S::FailWaitRetry] {
            assert!(
                confirm.is_done(done.as_str()) && !confirm.is_pending(done.as_str()),
                "{done:?}"
            );
        }
        for neither in [S::Removed.as_str(), ""] {
            for op in [retry, confirm] {
                assert!(!op.is_done(neither) && !op.is_pending(neither), "{op:?} {neither:?}");
            }
        }
        assert!(!confirm.is_done(S::Stopped.as_str()) && !confirm.is_pending(S::Stopped.as_str()));
    }

    fn task(status: &str, progress: Option<types::TaskProgress>) -> types::Task {
        types::Task {
            status: Some(status.to_owned()),
            task_progress: progress,
            ..Default::default()
        }
    }

    fn progress(fail: i64, fail_wait_retry: i64, stopped: i64, waitting: i64) -> Option<types::TaskProgress> {
        Some(types::TaskProgress {
            fail: Some(fail),
            fail_wait_retry: Some(fail_wait_retry),
            stopped: Some(stopped),
            waitting: Some(waitting),
            ..Default::default()
        })
    }

    #[test]
    fn a_read_of_the_task_settles_a_lost_call_on_every_sub_task() {
        use TaskVerdict::{Applied, NotApplied, Pending};
        let cases = [
            (Operation::Stop, task("Stopping", None), Some(Applied)),
            (Operation::Stop, task("Stopped", None), Some(Applied)),
            (Operation::Stop, task("Processing", None), Some(Pending)),
            (Operation::Stop, task("Success", None), Some(NotApplied)),
            (
                Operation::Retry,
                task("Processing", progress(0, 0, 0, 3)),
                Some(Applied),
            ),
            (Operation::Retry, task("Fail", progress(2, 0, 1, 0)), Some(Pending)),
            (
                Operation::Retry,
                task("PartialSuccess", progress(0, 0, 1, 0)),
                Some(Pending),
            ),
            (
                Operation::Retry,
                task("Stopped", progress(0, 0, 4, 0)),
                Some(NotApplied),
            ),
            (Operation::Retry, task("Processing", None), None),
            (
                Operation::Confirm,
                task("Processing", progress(0, 0, 0, 0)),
                Some(Applied),
            ),
            (
                Operation::Confirm,
                task("Waitting", progress(0, 0, 0, 5)),
                Some(Pending),
            ),
            (
                Operation::Confirm,
                task("Stopping", progress(0, 0, 0, 5)),
                Some(NotApplied),
            ),
        ];
        for (op, task, expected) in cases {
            assert_eq!(op.task_verdict(&task), expected, "{op:?} {task:?}");
        }
        assert_eq!(Operation::Stop.task_verdict(&types::Task::default()), None);
    }

    #[test]
    fn stop_settles_by_the_sub_task_status() {
        use TaskDetailStatus as S;
        let stop = Operation::Stop;
        assert!(stop.is_done(S::Stopped.as_str()));
        for pending in [S::Processing, S::Waitting, S::FailWaitRetry] {
            assert!(stop.is_pending(pending.as_str()) && !stop.is_done(pending.as_str()));
        }
        for other in [S::Success.as_str(), S::Fail.as_str(), S::Removed.as_str(), ""] {
            assert!(!stop.is_pending(other) && !stop.is_done(other));
        }
    }
}
