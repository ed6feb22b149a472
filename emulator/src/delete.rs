//! `DELETE /v5/iot/{project_id}/batchtasks/{task_id}` (DeleteBatchTask):
//! finished tasks only (Success, Fail, PartialSuccess, Stopped), answered
//! `204` without a body; any other task is `403 IOTDA.014221`, an unknown
//! one `404 IOTDA.014200`.

use http::StatusCode;
use http::request::Parts;

use crate::reply::{Reply, TASK_NOT_FINISHED};
use crate::service::{Service, check_common};
use crate::state::DeleteRefusal;

impl Service {
    pub(crate) fn delete(&self, parts: &Parts, project_id: &str, task_id: &str) -> Reply {
        if let Err(reply) = check_common(&parts.headers, project_id, task_id) {
            return reply;
        }
        let result = self.lock().delete(project_id, task_id);
        match result {
            Ok(()) => Reply::NoContent,
            Err(DeleteRefusal::NoSuchTask) => Reply::task_not_found(),
            Err(DeleteRefusal::NotFinished(status)) => Reply::iotda(
                StatusCode::FORBIDDEN,
                TASK_NOT_FINISHED,
                format!("Operation not allowed. The task is {status}; only a finished task can be deleted."),
            ),
        }
    }
}
