//! RetryBatchTask: re-run named devices' failed or stopped sub-tasks, or
//! (explicitly) all of them.

use super::Client;
use super::targets::BatchTargetsCall;
use crate::targeted::Operation;

impl Client {
    /// Starts a RetryBatchTask call for `task_id`: re-run the sub-tasks named
    /// with [`BatchTargetsCall::targets`] or, explicitly, every failed,
    /// failed-awaiting-retry and stopped sub-task ([`BatchTargetsCall::all`]).
    ///
    /// Only firmwareUpgrade and softwareUpgrade tasks can be retried, and
    /// Huawei refuses the call while the task is Success, Stopped, Stopping,
    /// Waitting or Initializing: a task stopped as a whole cannot be resumed,
    /// only its stopped sub-tasks while it is Processing, Fail or
    /// PartialSuccess. The request, its answer, validation, outcomes and the
    /// reads after a lost answer are those of a stop ([`crate::outcome`] has
    /// the statuses a read counts as re-run).
    ///
    /// ```no_run
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let report = client.retry_batch_task("61a5f4cbd86b7a1d1c2f3e4a").targets(["dev-1", "dev-2"]).send().await?;
    /// for r in report.failed() {
    ///     println!("{} was not retried: {:?}", r.target, r.outcome);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn retry_batch_task<'a>(&self, task_id: impl Into<String>) -> BatchTargetsCall<'a> {
        BatchTargetsCall::new(self, Operation::Retry, task_id.into())
    }
}
