//! `POST /v5/iot/{project_id}/batchtasks/{task_id}/retry` (RetryBatchTask):
//! firmware and software upgrades only; refused while the task is Success,
//! Stopped, Stopping, Waitting or Initializing; `{}` re-runs every Fail,
//! FailWaitRetry and Stopped sub-task, which becomes Processing, and a
//! task that re-runs anything is Processing again.

use http::request::Parts;

use crate::reply::Reply;
use crate::service::Service;
use crate::state::Targeted;

impl Service {
    pub(crate) fn retry(&self, parts: &Parts, body: &[u8], project_id: &str, task_id: &str) -> Reply {
        self.targeted(Targeted::Retry, parts, body, project_id, task_id)
    }
}
