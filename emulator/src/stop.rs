//! `POST /v5/iot/{project_id}/batchtasks/{task_id}/stop` (StopBatchTask):
//! `{}` stops every Processing, Waitting and FailWaitRetry sub-task; once
//! nothing is left to run the task is Stopped (or Stopping, see
//! [`EmulatorConfig::stopping_reads`](crate::EmulatorConfig::stopping_reads)).

use http::request::Parts;

use crate::reply::Reply;
use crate::service::Service;
use crate::state::Targeted;

impl Service {
    pub(crate) fn stop(&self, parts: &Parts, body: &[u8], project_id: &str, task_id: &str) -> Reply {
        self.targeted(Targeted::Stop, parts, body, project_id, task_id)
    }
}
