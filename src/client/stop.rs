//! StopBatchTask: stop named devices' sub-tasks, or (explicitly) all of them.

use super::Client;
use super::targets::BatchTargetsCall;
use crate::targeted::Operation;

impl Client {
    /// Starts a StopBatchTask call for `task_id`. Say what to stop with
    /// [`BatchTargetsCall::targets`] or, explicitly, [`BatchTargetsCall::all`]
    /// (every running, waiting, or failed-awaiting-retry sub-task). Only
    /// firmwareUpgrade and softwareUpgrade tasks can be stopped, and not once
    /// they have finished or while they are Stopping.
    ///
    /// ```no_run
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let report = client.stop_batch_task("61a5f4cbd86b7a1d1c2f3e4a").targets(["dev-1", "dev-2"]).send().await?;
    /// println!("{} stopped", report.succeeded().count());
    /// # Ok(()) }
    /// ```
    pub fn stop_batch_task<'a>(&self, task_id: impl Into<String>) -> BatchTargetsCall<'a> {
        BatchTargetsCall::new(self, Operation::Stop, task_id.into())
    }
}
