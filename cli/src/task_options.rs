//! The task options `create` and `rollout start` share: the package or
//! document, automatic retries, confirmation, the application and the
//! upgrade notice's extra information.

use clap::Args;
use iotda_batchtask::rollout::TaskOptions;
use iotda_batchtask::{CreateBatchTask, limits};
use serde_json::{Map, Value, json};

/// The options of the task (each wave's, for a rollout).
#[derive(Debug, Args)]
pub struct TaskOptionArgs {
    /// The upgrade package: the document {"package_id": ID}, as Huawei's
    /// examples write it.
    #[arg(long, value_name = "ID", conflicts_with = "document")]
    package_id: Option<String>,
    /// The task's document as a JSON object, sent as given (e.g.
    /// '{"package_ids": ["..."]}', or a command's parameters).
    #[arg(long, value_name = "JSON", value_parser = json_object)]
    document: Option<Map<String, Value>>,
    /// Retry a failed sub-task automatically up to N times (with --retry-interval).
    #[arg(
        long,
        value_name = "N",
        requires = "retry_interval",
        value_parser = clap::value_parser!(u32).range(
            i64::from(limits::NEW_TASK_POLICY_RETRY_COUNT_MIN)..=i64::from(limits::NEW_TASK_POLICY_RETRY_COUNT_MAX)
        )
    )]
    retry_count: Option<u32>,
    /// Minutes between automatic retries (with --retry-count).
    #[arg(
        long,
        value_name = "MINUTES",
        requires = "retry_count",
        value_parser = clap::value_parser!(u32).range(
            i64::from(limits::NEW_TASK_POLICY_RETRY_INTERVAL_MIN)..=i64::from(limits::NEW_TASK_POLICY_RETRY_INTERVAL_MAX)
        )
    )]
    retry_interval: Option<u32>,
    /// Every sub-task waits (Waitting) until `confirm` dispatches it (upgrade tasks).
    #[arg(long)]
    need_confirm: bool,
    /// The resource space (application); absent, the default one.
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// Extra information for devices' upgrade notices, a JSON object.
    #[arg(long, value_name = "JSON", value_parser = json_object)]
    task_ext_info: Option<Map<String, Value>>,
}

/// A JSON object argument.
pub fn json_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object, {...}".to_owned()),
        Err(e) => Err(format!("is not JSON: {e}")),
    }
}

impl TaskOptionArgs {
    /// The document: `--package-id` as `{"package_id": ID}`, or `--document`.
    fn document(&self) -> Option<Map<String, Value>> {
        match &self.package_id {
            Some(id) => Some(Map::from_iter([("package_id".to_owned(), Value::String(id.clone()))])),
            None => self.document.clone(),
        }
    }

    /// `call` with these options.
    pub fn apply(&self, mut call: CreateBatchTask) -> CreateBatchTask {
        if let Some(document) = self.document() {
            call = call.document(document);
        }
        if let (Some(count), Some(interval)) = (self.retry_count, self.retry_interval) {
            call = call.retry(count, interval);
        }
        if self.need_confirm {
            call = call.need_confirm(true);
        }
        if let Some(app_id) = &self.app_id {
            call = call.app_id(app_id);
        }
        if let Some(info) = &self.task_ext_info {
            call = call.task_ext_info(info.clone());
        }
        call
    }

    /// The options as a rollout plan keeps them (checked by the plan's
    /// rules when it is built; here only their shapes).
    pub fn task_options(&self) -> Result<TaskOptions, String> {
        let mut options = json!({});
        if let Some(app_id) = &self.app_id {
            options["app_id"] = json!(app_id);
        }
        if let Some(document) = self.document() {
            options["document"] = Value::Object(document);
        }
        if let (Some(count), Some(interval)) = (self.retry_count, self.retry_interval) {
            options["task_policy"] = json!({"retry_count": count, "retry_interval": interval});
        }
        if let Some(info) = &self.task_ext_info {
            options["task_ext_info"] = Value::Object(info.clone());
        }
        if self.need_confirm {
            options["need_confirm"] = json!(true);
        }
        serde_json::from_value(options).map_err(|e| e.to_string())
    }
}
