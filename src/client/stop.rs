//! StopBatchTask: stop named devices' sub-tasks, or (explicitly) all of them.

use std::fmt;

use tracing::Instrument as _;

use super::Client;
use super::response::complete;
use crate::error::Error;
use crate::output::StopOutput;
use crate::types;
use crate::validation::{self, InvalidInput};

impl Client {
    /// Starts a StopBatchTask call for `task_id`. Say what to stop with
    /// [`StopBatchTask::targets`] or, explicitly, [`StopBatchTask::all`].
    pub fn stop_batch_task(&self, task_id: impl Into<String>) -> StopBatchTask<'_> {
        StopBatchTask {
            client: self,
            task_id: task_id.into(),
            selection: Selection::Unset,
        }
    }
}

/// A StopBatchTask call being prepared; see [`Client::stop_batch_task`].
#[must_use = "nothing is sent until .send().await"]
pub struct StopBatchTask<'a> {
    client: &'a Client,
    task_id: String,
    selection: Selection,
}

#[derive(Debug)]
enum Selection {
    Unset,
    Targets(Vec<String>),
    /// Already checked and de-duplicated by a bulk call, which matches the
    /// answers to its own copy of the chunk: the list moves into the body,
    /// and the output records no `requested` list.
    Checked(Vec<String>),
    All,
    Conflict,
}

impl fmt::Debug for StopBatchTask<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopBatchTask")
            .field("task_id", &self.task_id)
            .field("selection", &self.selection)
            .finish_non_exhaustive()
    }
}

impl<'a> StopBatchTask<'a> {
    /// Stops the sub-tasks of these devices (1 to 100 distinct device IDs;
    /// repeats are dropped). May be called more than once to add more.
    pub fn targets<I, S>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let new = targets.into_iter().map(Into::into);
        self.selection = match self.selection {
            Selection::Unset => Selection::Targets(new.collect()),
            Selection::Targets(mut old) | Selection::Checked(mut old) => {
                old.extend(new);
                Selection::Targets(old)
            }
            Selection::All | Selection::Conflict => Selection::Conflict,
        };
        self
    }

    /// Stops one device's sub-task; shorthand for `targets([device_id])`.
    pub fn target(self, device_id: impl Into<String>) -> Self {
        self.targets([device_id.into()])
    }

    /// Stops **every** sub-task that is running, waiting, or failed and
    /// waiting for a retry (body `{}`). This is the only way to send `{}`:
    /// an empty target list is an error, never a stop-everything.
    pub fn all(mut self) -> Self {
        self.selection = match self.selection {
            Selection::Unset | Selection::All => Selection::All,
            Selection::Targets(_) | Selection::Checked(_) | Selection::Conflict => Selection::Conflict,
        };
        self
    }

    /// Targets the caller has already checked and de-duplicated (1 to 100),
    /// so a bulk call neither validates nor copies each chunk a second time.
    /// The output's `requested()` is `None`: the bulk merge has the chunk.
    pub(crate) fn checked_targets(mut self, targets: Vec<String>) -> Self {
        debug_assert!((1..=validation::MAX_TARGETS_PER_REQUEST).contains(&targets.len()));
        self.selection = Selection::Checked(targets);
        self
    }

    /// Validates, sends, and returns the per-target results.
    pub async fn send(self) -> Result<StopOutput, Error> {
        let task_id = validation::task_id(&self.task_id)?;
        let (body, requested) = match self.selection {
            Selection::Targets(list) => {
                let list = validation::targets(list)?;
                (types::BatchTargets { targets: list.clone() }, Some(list))
            }
            Selection::Checked(list) => (types::BatchTargets { targets: list }, None),
            Selection::All => (types::BatchTargets { targets: Vec::new() }, None),
            Selection::Unset => {
                return Err(InvalidInput::new(
                    "targets",
                    "not given: name the devices with targets(...), or call all() to stop every \
                     running, waiting and failed-awaiting-retry sub-task",
                )
                .into());
            }
            Selection::Conflict => {
                return Err(InvalidInput::new("targets", "given together with all(); choose one").into());
            }
        };
        let shared = &self.client.shared;
        let span = tracing::info_span!(
            "iotda.stop_batch_task",
            operation = "StopBatchTask",
            task_id = task_id.as_str(),
            targets = body.targets.len(),
            // Named targets are never empty, so an empty body is `all()`.
            all = body.targets.is_empty(),
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            attempts = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async move {
            let call = self.client.call();
            let mut op = call
                .stop_batch_task()
                .project_id(shared.project_id.clone())
                .task_id(task_id)
                .body(body);
            if let Some(instance_id) = &shared.instance_id {
                op = op.instance_id(instance_id.clone());
            }
            let outcome = complete(&call, op.send()).await;
            let out = outcome.map(|(response, request_id)| StopOutput {
                results: response.targets,
                request_id,
                requested,
            });
            match &out {
                Ok(out) => tracing::debug!(
                    succeeded = out.succeeded().count(),
                    failed = out.failed().count(),
                    missing = out.missing().count(),
                    "stop finished"
                ),
                Err(e) => tracing::debug!(error = %e, "stop failed"),
            }
            out
        }
        .instrument(span)
        .await
    }
}
