//! `POST /v5/iot/{project_id}/batchtasks/{task_id}/confirm`
//! (ConfirmBatchTask): firmware, software and module upgrades created with
//! `need_confirm`; refused when the task is finished or Stopping; `{}`
//! dispatches every Waitting sub-task, which becomes Processing, and so does
//! a Waitting or Initializing task that dispatches anything.

use http::request::Parts;

use crate::reply::Reply;
use crate::service::Service;
use crate::state::Targeted;

impl Service {
    pub(crate) fn confirm(&self, parts: &Parts, body: &[u8], project_id: &str, task_id: &str) -> Reply {
        self.targeted(Targeted::Confirm, parts, body, project_id, task_id)
    }
}
