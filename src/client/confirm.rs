//! ConfirmBatchTask: dispatch the waiting sub-tasks of a task created with
//! `need_confirm`.

use super::Client;
use super::targets::BatchTargetsCall;
use crate::targeted::Operation;

impl Client {
    /// Starts a ConfirmBatchTask call for `task_id`: dispatch the waiting
    /// sub-tasks named with [`BatchTargetsCall::targets`] or, explicitly,
    /// every waiting sub-task ([`BatchTargetsCall::all`]), of a task created
    /// with [`need_confirm`](crate::CreateBatchTask::need_confirm).
    ///
    /// firmwareUpgrade, softwareUpgrade and moduleUpgrade tasks can be
    /// confirmed, not once they have finished or while they are Stopping.
    /// The request, its answer, validation, outcomes and the reads after a
    /// lost answer are those of a stop ([`crate::outcome`] has the statuses a
    /// read counts as confirmed).
    ///
    /// ```no_run
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let report = client.confirm_batch_task("61a5f4cbd86b7a1d1c2f3e4a").all().send().await?;
    /// println!("{} sub-tasks dispatched", report.succeeded().count());
    /// # Ok(()) }
    /// ```
    pub fn confirm_batch_task<'a>(&self, task_id: impl Into<String>) -> BatchTargetsCall<'a> {
        BatchTargetsCall::new(self, Operation::Confirm, task_id.into())
    }
}
