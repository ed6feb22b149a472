//! DeleteBatchTask: delete a finished task; a lost answer is settled by
//! reading, never by sending the DELETE again.

use std::fmt;
use std::sync::Arc;

use tracing::Instrument as _;

use super::send::Built;
use super::{Client, build};
use crate::error::{Error, HuaweiCode};
use crate::{types, validation};

impl Client {
    /// Starts a DeleteBatchTask call for `task_id`. Huawei deletes only
    /// finished tasks (Success, Fail, PartialSuccess, Stopped); any other is
    /// refused (403 `IOTDA.014221`), an unknown task is 404 `IOTDA.014200`.
    ///
    /// ```no_run
    /// use iotda_batchtask::DeleteOutcome;
    ///
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// match client.delete_batch_task("61a5f4cbd86b7a1d1c2f3e4a").send().await? {
    ///     DeleteOutcome::Deleted { .. } | DeleteOutcome::DeletedByRead { .. } => println!("deleted"),
    ///     DeleteOutcome::NotDeleted { status, .. } => println!("still there ({status:?})"),
    ///     DeleteOutcome::Unknown { error } => println!("may or may not be deleted: {error}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn delete_batch_task(&self, task_id: impl Into<String>) -> DeleteBatchTask {
        DeleteBatchTask {
            client: self.clone(),
            task_id: task_id.into(),
            reconcile: true,
        }
    }
}

/// A DeleteBatchTask call being prepared; see [`Client::delete_batch_task`].
/// It holds its own handle to the client, so its future is `'static + Send`.
#[must_use = "nothing is sent until .send().await"]
#[derive(Clone)]
pub struct DeleteBatchTask {
    client: Client,
    task_id: String,
    reconcile: bool,
}

impl fmt::Debug for DeleteBatchTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeleteBatchTask")
            .field("task_id", &self.task_id)
            .field("reconcile", &self.reconcile)
            .finish_non_exhaustive()
    }
}

/// What a DeleteBatchTask call did, as far as is known.
#[derive(Debug, Clone)]
pub enum DeleteOutcome {
    /// The server answered 204: the task is deleted.
    Deleted {
        /// The `X-Request-Id` of the answer.
        request_id: Option<String>,
    },
    /// The answer was lost; a ShowBatchTask read of this task then got
    /// IoTDA's "no such task" (404 `IOTDA.014200`), so the DELETE took
    /// effect. Any other 404 (a gateway's `APIGW.0101`, a proxy's page)
    /// says nothing of the task and leaves the outcome
    /// [`Unknown`](Self::Unknown).
    DeletedByRead {
        /// The `X-Request-Id` of the read.
        request_id: Option<String>,
    },
    /// The answer was lost; a ShowBatchTask read then found the task still
    /// there, so the DELETE did not take effect (sending it again is safe).
    NotDeleted {
        /// The task's status as read.
        status: Option<String>,
        /// The `X-Request-Id` of the read.
        request_id: Option<String>,
    },
    /// The DELETE may have been processed (a timeout or reset after sending,
    /// a 5xx, ...) and no read settled it: reading was off, or failed too.
    Unknown {
        /// The DELETE's error ([`Error::may_have_been_processed`] is `true`).
        error: Arc<Error>,
    },
}

impl DeleteOutcome {
    /// Whether the task is known to be deleted.
    pub fn is_deleted(&self) -> bool {
        matches!(self, Self::Deleted { .. } | Self::DeletedByRead { .. })
    }
}

impl DeleteBatchTask {
    /// Whether to settle a lost answer by reading (default `true`): when the
    /// DELETE may have been processed but no answer says so (a timeout or
    /// reset after sending, a 5xx), read the task with ShowBatchTask; IoTDA's
    /// 404 `IOTDA.014200` for it means deleted
    /// ([`DeleteOutcome::DeletedByRead`]), a task means not
    /// ([`DeleteOutcome::NotDeleted`]). With `false`, or when the read fails
    /// in any other way (another 404 among them), the outcome is
    /// [`DeleteOutcome::Unknown`].
    pub fn reconcile(mut self, reconcile: bool) -> Self {
        self.reconcile = reconcile;
        self
    }

    /// Validates, sends once, and settles a lost answer by reading.
    ///
    /// `Err` for invalid input (nothing sent) or a refusal before
    /// processing (the task not finished, unknown, bad credentials, no
    /// connection): nothing was deleted. `Ok` says what is known.
    pub async fn send(self) -> Result<DeleteOutcome, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        let span = tracing::info_span!(
            target: "iotda_batchtask::client",
            "iotda.delete_batch_task",
            task_id = task_id.as_str(),
        );
        let built = self.request(&task_id);
        let (result, _) = super::send::run(&self.client, built).instrument(span).await;
        let error = match result {
            Ok(((), request_id)) => return Ok(DeleteOutcome::Deleted { request_id }),
            Err(error) if !error.may_have_been_processed() => return Err(error),
            Err(error) if !self.reconcile => return Ok(DeleteOutcome::Unknown { error: Arc::new(error) }),
            Err(error) => error,
        };
        match self.client.show_batch_task(task_id.as_str()).limit(1).send().await {
            Ok(page) => Ok(DeleteOutcome::NotDeleted {
                status: page.task().and_then(|t| t.status.clone()),
                request_id: page.request_id().map(str::to_owned),
            }),
            // Only IoTDA's own "no such task", to a read of this task's path,
            // is proof: its body names no task, so the path is what ties it
            // to this one. A gateway's or a proxy's 404 proves nothing.
            Err(read) if read.status() == Some(404) && read.code() == Some(HuaweiCode::TaskNotFound) => {
                Ok(DeleteOutcome::DeletedByRead {
                    request_id: read.request_id().map(str::to_owned),
                })
            }
            Err(read) => {
                tracing::debug!(error = %read, "the read did not settle the delete");
                Ok(DeleteOutcome::Unknown { error: Arc::new(error) })
            }
        }
    }
}

impl DeleteBatchTask {
    /// The request [`send`](Self::send) would make, validated as it
    /// validates, sending nothing.
    pub async fn plan(&self) -> Result<Vec<super::PlannedRequest>, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        let auth = self.client.current_auth().await?;
        let built = self.request(&task_id).await;
        Ok(vec![self.client.planned(&auth, built)?])
    }

    /// The DELETE of `task_id`, made by its generated builder and not sent:
    /// what [`send`](Self::send) sends and [`plan`](Self::plan) shows.
    async fn request(&self, task_id: &types::TaskId) -> Built<()> {
        build!(&self.client, |call| call.delete_batch_task().task_id(task_id.clone()))
    }
}
