//! CreateBatchTask: create a batch task (a firmware or software upgrade, or
//! another bulk operation). Never sent twice: a lost answer is settled by
//! listing the tasks of that type, for a settle window, and finding the new
//! one by name. Not finding it proves nothing (the server may still be
//! working on the request), so that is unknown, never "not created".

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use serde_json::{Map, Value};

use tracing::Instrument as _;

use super::send::Built;
use super::{Client, build};
use crate::error::Error;
use crate::limits;
use crate::types::{self, TaskType};
use crate::validation::{self, InvalidInput};

impl Client {
    /// Starts a CreateBatchTask call: a task named `task_name` (1 to 128
    /// Chinese characters, letters, digits and `_`) of `task_type`. Say what
    /// it targets with exactly one of [`CreateBatchTask::targets`] (device
    /// IDs), [`CreateBatchTask::group_ids`] / [`CreateBatchTask::targets_filter`]
    /// or [`CreateBatchTask::document_source`] (an uploaded file), and what it
    /// does with [`CreateBatchTask::document`] (for upgrades, the package).
    ///
    /// ```no_run
    /// use iotda_batchtask::CreateOutcome;
    /// use iotda_batchtask::types::TaskType;
    ///
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let mut package = serde_json::Map::new();
    /// package.insert("package_id".into(), "32822e5744a45ede319d2c50".into());
    /// let outcome = client
    ///     .create_batch_task("Firmware_2_1_rollout", TaskType::FirmwareUpgrade)
    ///     .targets(["dev-1", "dev-2"])
    ///     .document(package)
    ///     .retry(3, 30)
    ///     .need_confirm(true)
    ///     .send()
    ///     .await?;
    /// match outcome {
    ///     CreateOutcome::Created { task, .. } | CreateOutcome::CreatedByRead { task } => {
    ///         println!("created {:?}", task.task_id)
    ///     }
    ///     CreateOutcome::Unknown { error } => println!("may have been created (list before creating again): {error}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn create_batch_task(&self, task_name: impl Into<String>, task_type: TaskType) -> CreateBatchTask {
        CreateBatchTask {
            client: self.clone(),
            task_name: task_name.into(),
            task_type,
            app_id: None,
            targets: None,
            targets_filter: None,
            document: None,
            document_source: None,
            schedule_time: None,
            retry: None,
            task_ext_info: None,
            gateway_mode: false,
            need_confirm: None,
            reconcile: true,
            settle_window: CreateBatchTask::DEFAULT_SETTLE_WINDOW,
            newest_before: None,
        }
    }
}

/// A CreateBatchTask call being prepared; see [`Client::create_batch_task`].
/// It holds its own handle to the client, so its future is `'static + Send`.
#[must_use = "nothing is sent until .send().await"]
#[derive(Clone)]
pub struct CreateBatchTask {
    client: Client,
    task_name: String,
    task_type: TaskType,
    app_id: Option<String>,
    targets: Option<Vec<String>>,
    targets_filter: Option<Map<String, Value>>,
    document: Option<Map<String, Value>>,
    document_source: Option<String>,
    schedule_time: Option<String>,
    retry: Option<(u32, u32)>,
    task_ext_info: Option<Map<String, Value>>,
    gateway_mode: bool,
    need_confirm: Option<bool>,
    reconcile: bool,
    settle_window: Duration,
    /// The newest task of the listing, when the caller read it just before
    /// (the rollout driver records it with its intent): the call's own read
    /// of it is then not made again.
    newest_before: Option<Option<String>>,
}

/// The first pause between two settling listings, and the longest: a task
/// created late usually shows within a few seconds, and a window of minutes
/// should still cost few reads.
const SETTLE_FIRST_PAUSE: Duration = Duration::from_secs(1);
const SETTLE_LONGEST_PAUSE: Duration = Duration::from_secs(4);

impl fmt::Debug for CreateBatchTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateBatchTask")
            .field("task_name", &self.task_name)
            .field("task_type", &self.task_type)
            .field("app_id", &self.app_id)
            .field("targets", &self.targets.as_ref().map(Vec::len))
            .field("targets_filter", &self.targets_filter)
            .field("document_source", &self.document_source)
            .field("need_confirm", &self.need_confirm)
            .field("reconcile", &self.reconcile)
            .field("settle_window", &self.settle_window)
            .finish_non_exhaustive()
    }
}

/// What a CreateBatchTask call did, as far as is known.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    /// The server answered 201 with the new task.
    Created {
        /// The task as the server returned it (`task_id` names it from now on).
        task: Box<types::Task>,
        /// The `X-Request-Id` of the answer.
        request_id: Option<String>,
    },
    /// The answer was lost; listing the tasks of this type (within the
    /// [settle window](CreateBatchTask::settle_window)) found exactly one with
    /// this name created since the call began.
    CreatedByRead {
        /// The task as listed.
        task: Box<types::Task>,
    },
    /// The request may have been processed and nothing settled it: reading
    /// was off, a listing failed, it found more than one new task with this
    /// name (which is this call's cannot be told), or it found none within
    /// the [settle window](CreateBatchTask::settle_window), which proves
    /// nothing: the server may create the task after the client gave up.
    /// List the tasks (by name) before creating again, or a second rollout
    /// may start.
    ///
    /// There is no "not created" outcome: a request that provably never
    /// reached the service (validation, no connection, a 4xx refusal) is an
    /// `Err` from [`CreateBatchTask::send`], and one that may have reached
    /// it cannot be proven unprocessed by reading.
    Unknown {
        /// The error of the attempt ([`Error::may_have_been_processed`] is `true`).
        error: Arc<Error>,
    },
}

impl CreateOutcome {
    /// The new task's ID, when the task is known to be created.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Self::Created { task, .. } | Self::CreatedByRead { task } => task.task_id.as_deref(),
            Self::Unknown { .. } => None,
        }
    }

    /// Whether the task is known to be created.
    pub fn is_created(&self) -> bool {
        matches!(self, Self::Created { .. } | Self::CreatedByRead { .. })
    }
}

impl CreateBatchTask {
    /// The resource space (application) the task belongs to; absent, the
    /// default one.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Targets these devices (device IDs; at most
    /// [`limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS`], 30,000; repeats are
    /// dropped). May be called more than once to add more. For
    /// firmwareUpgrade, softwareUpgrade, deleteDevices, freezeDevices,
    /// unfreezeDevices, createCommands, createAsyncCommands, createMessages
    /// and updateDeviceShadows tasks.
    pub fn targets<I, S>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.targets
            .get_or_insert_with(Vec::new)
            .extend(targets.into_iter().map(Into::into));
        self
    }

    /// Targets the devices of these device groups: the filter
    /// `{"group_ids": [...]}`, the one key Huawei documents.
    pub fn group_ids<I, S>(self, group_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ids: Vec<Value> = group_ids.into_iter().map(|id| Value::String(id.into())).collect();
        let mut filter = Map::new();
        filter.insert("group_ids".to_owned(), Value::Array(ids));
        self.targets_filter(filter)
    }

    /// Targets the devices this filter selects (`targets_filter`), as
    /// Huawei defines it; see [`group_ids`](Self::group_ids).
    pub fn targets_filter(mut self, filter: Map<String, Value>) -> Self {
        self.targets_filter = Some(filter);
        self
    }

    /// Targets what an uploaded batch-task file lists (`document_source`, the
    /// file's ID), for createDevices, updateDevices, deleteDevices,
    /// freezeDevices and unfreezeDevices tasks.
    pub fn document_source(mut self, file_id: impl Into<String>) -> Self {
        self.document_source = Some(file_id.into());
        self
    }

    /// The task's document. Upgrades name the package: Huawei's text says
    /// `{"package_ids": ["..."]}`, its examples `{"package_id": "..."}`;
    /// commands, messages and shadow updates take that operation's
    /// parameters. Sent as given.
    pub fn document(mut self, document: Map<String, Value>) -> Self {
        self.document = Some(document);
        self
    }

    /// When the task runs, `yyyyMMdd'T'HHmmss'Z'` in UTC (e.g.
    /// `20251212T121212Z`), within 7 days; absent, at once.
    pub fn schedule_time(mut self, time: impl Into<String>) -> Self {
        self.schedule_time = Some(time.into());
        self
    }

    /// Retries a failed sub-task automatically up to `count` times (1 to 5),
    /// `interval_minutes` apart (0 to 1440). Huawei requires the two
    /// together; absent, no automatic retry.
    pub fn retry(mut self, count: u32, interval_minutes: u32) -> Self {
        self.retry = Some((count, interval_minutes));
        self
    }

    /// Extra information sent to devices with upgrade notices (at most
    /// [`limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN`] characters of JSON).
    pub fn task_ext_info(mut self, info: Map<String, Value>) -> Self {
        self.task_ext_info = Some(info);
        self
    }

    /// Gateway mode (`task_mode: GATEWAY`, upgrade tasks): a gateway's
    /// upgrade notices carry the task ID and its sub-device count.
    pub fn gateway_mode(mut self) -> Self {
        self.gateway_mode = true;
        self
    }

    /// With `true`, every sub-task waits (`Waitting`) until
    /// [`Client::confirm_batch_task`] dispatches it. For firmwareUpgrade,
    /// softwareUpgrade and moduleUpgrade tasks only.
    pub fn need_confirm(mut self, need_confirm: bool) -> Self {
        self.need_confirm = Some(need_confirm);
        self
    }

    /// Whether a lost answer can be settled by reading (default `true`).
    ///
    /// CreateBatchTask is not idempotent, so it is never sent twice. With
    /// `true` the call first reads the newest task of its type
    /// (ListBatchTasks, one task); if the answer is then lost (a timeout or
    /// reset after sending, a 5xx), it lists the tasks created since (record
    /// IDs grow: newer tasks sort above that one) and looks for this name,
    /// again and again within the [settle window](Self::settle_window):
    /// exactly one is [`CreateOutcome::CreatedByRead`]; none by the window's
    /// end, more than one, or a failed listing is
    /// [`Unknown`](CreateOutcome::Unknown). If the first read fails, nothing
    /// is sent and the call ends with its error. With `false`, no read is
    /// made and a lost answer is [`Unknown`](CreateOutcome::Unknown).
    pub fn reconcile(mut self, reconcile: bool) -> Self {
        self.reconcile = reconcile;
        self
    }

    /// The default [settle window](Self::settle_window): 10 seconds.
    pub const DEFAULT_SETTLE_WINDOW: Duration = Duration::from_secs(10);

    /// How long, after a lost answer, to keep listing for the task before
    /// calling the outcome [`Unknown`](CreateOutcome::Unknown) (default
    /// [`DEFAULT_SETTLE_WINDOW`](Self::DEFAULT_SETTLE_WINDOW), at most
    /// [`MAX_DEADLINE`](crate::MAX_DEADLINE)). A server that answers late may
    /// create the task after the client gave up, so one listing made at once
    /// proves nothing. The listings come 1, 2, then 4 seconds apart and end
    /// as soon as one finds the task; no listing starts after the window, so
    /// the call takes at most the window plus one listing (bounded by the
    /// client's deadline). Zero: one listing, at once. It costs nothing
    /// when the answer arrives.
    pub fn settle_window(mut self, window: Duration) -> Self {
        self.settle_window = window;
        self
    }

    /// The newest task of this call's listing, read by the caller just
    /// before (`None` inside: the listing was empty), so that `send` does
    /// not read it again.
    pub(crate) fn newest_before(mut self, newest: Option<String>) -> Self {
        self.newest_before = Some(newest);
        self
    }

    /// The body [`send`](Self::send) would post, checked exactly as `send`
    /// checks it (the error names the field): for a dry run, a log or a
    /// review step. Nothing is sent.
    ///
    /// ```
    /// # fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// use iotda_batchtask::types::TaskType;
    ///
    /// let call = client.create_batch_task("fw-2.1.0", TaskType::FirmwareUpgrade).targets(["dev-1", "dev-2"]);
    /// let body = call.body()?;
    /// assert_eq!(body.targets.len(), 2);
    /// let too_long = client.create_batch_task("x".repeat(129), TaskType::FirmwareUpgrade).targets(["dev-1"]);
    /// assert!(too_long.body().unwrap_err().to_string().contains("task_name"));
    /// # Ok(()) }
    /// ```
    pub fn body(&self) -> Result<types::NewBatchTask, Error> {
        Ok(self.validated()?)
    }

    /// Validates everything, sends once, and settles a lost answer by
    /// reading.
    ///
    /// `Err` for invalid input (nothing sent), a refusal before processing
    /// (bad input by the server's rules, too many tasks, bad credentials, no
    /// connection): nothing was created. `Ok` says what is known.
    pub async fn send(self) -> Result<CreateOutcome, Error> {
        let body = self.validated()?;
        if self.settle_window > crate::MAX_DEADLINE {
            return Err(InvalidInput::new(
                "settle_window",
                format!("must be at most {} s", crate::MAX_DEADLINE.as_secs()),
            )
            .into());
        }
        let targets = body.targets.len();
        let mark = if self.reconcile {
            match &self.newest_before {
                Some(newest) => Some(newest.clone()),
                None => Some(self.newest_task_id().await?),
            }
        } else {
            None
        };
        let span = tracing::info_span!(
            target: "iotda_batchtask::client",
            "iotda.create_batch_task",
            task_type = self.task_type.as_str(),
            targets,
        );
        let built = self.request(body);
        let (result, _) = super::send::run(&self.client, built).instrument(span).await;
        let error = match result {
            Ok((task, request_id)) => {
                return Ok(CreateOutcome::Created {
                    task: Box::new(task),
                    request_id,
                });
            }
            Err(error) if !error.may_have_been_processed() => return Err(error),
            Err(error) => Arc::new(error),
        };
        let Some(mark) = mark else {
            return Ok(CreateOutcome::Unknown { error });
        };
        Ok(self.settle(mark, error).await)
    }

    /// Lists the tasks created since `mark` until one named like this call's
    /// shows or the settle window ends. Never sends the create again.
    async fn settle(&self, mark: Option<String>, error: Arc<Error>) -> CreateOutcome {
        let end = tokio::time::Instant::now() + self.settle_window;
        let mut pause = SETTLE_FIRST_PAUSE;
        let mut reads = 0u32;
        loop {
            reads += 1;
            match self.created_since(mark.clone()).await {
                Ok(mut found) if found.len() == 1 => {
                    return CreateOutcome::CreatedByRead {
                        task: Box::new(found.remove(0)),
                    };
                }
                Ok(found) if found.is_empty() => {}
                Ok(found) => {
                    tracing::info!(
                        tasks = found.len(),
                        "several new tasks have this name: which is this call's is unknown"
                    );
                    return CreateOutcome::Unknown { error };
                }
                Err(read) => {
                    tracing::debug!(error = %read, "the listing did not settle the create");
                    return CreateOutcome::Unknown { error };
                }
            }
            let now = tokio::time::Instant::now();
            if now >= end {
                break;
            }
            tokio::time::sleep(pause.min(end - now)).await;
            pause = (pause * 2).min(SETTLE_LONGEST_PAUSE);
        }
        tracing::info!(
            reads,
            window_seconds = self.settle_window.as_secs_f64(),
            "the task did not show within the settle window; the server may still create it"
        );
        CreateOutcome::Unknown { error }
    }

    /// The listing this task would appear in.
    fn listing(&self) -> super::ListBatchTasks {
        let list = self.client.list_batch_tasks(self.task_type);
        match &self.app_id {
            Some(app_id) => list.app_id(app_id.clone()),
            None => list,
        }
    }

    /// The ID of the newest task of this type before sending (`None`: none).
    async fn newest_task_id(&self) -> Result<Option<String>, Error> {
        let page = self.listing().limit(1).send().await?;
        Ok(page.tasks().first().and_then(|t| t.task_id.clone()))
    }

    /// The tasks named like this one with an ID above `mark` (created after
    /// it), walking from the newest down to `mark`.
    async fn created_since(&self, mark: Option<String>) -> Result<Vec<types::Task>, Error> {
        let newer = |task: &types::Task| {
            let (Some(id), Some(mark)) = (task.task_id.as_deref(), mark.as_deref()) else {
                // No task before the call: every task is new.
                return mark.is_none();
            };
            (id.len(), id.to_ascii_lowercase()) > (mark.len(), mark.to_ascii_lowercase())
        };
        let name = self.task_name.as_str();
        self.listing()
            .tasks()
            .try_take_while(|task| std::future::ready(Ok(newer(task))))
            .try_filter(|task| std::future::ready(task.task_name.as_deref() == Some(name)))
            .try_collect()
            .await
    }

    /// The request body, or the first field that breaks a rule.
    fn validated(&self) -> Result<types::NewBatchTask, InvalidInput> {
        let task_name: types::TaskName = validation::parse("task_name", &self.task_name)?;
        let app_id = self
            .app_id
            .as_deref()
            .map(|a| validation::parse("app_id", a))
            .transpose()?;
        let given = [
            self.targets.is_some(),
            self.targets_filter.is_some(),
            self.document_source.is_some(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => {
                return Err(InvalidInput::new(
                    "targets",
                    "not given: name the devices with targets(...), a filter with group_ids(...) or \
                     targets_filter(...), or an uploaded file with document_source(...)",
                ));
            }
            1 => {}
            _ => {
                return Err(InvalidInput::new(
                    "targets",
                    "give one of targets, targets_filter and document_source; Huawei would use only the \
                     first of them",
                ));
            }
        }
        let targets = match &self.targets {
            Some(list) => {
                let unique = validation::unique_targets(list.iter().map(String::as_str))?;
                let max = limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS;
                if unique.is_empty() {
                    return Err(InvalidInput::new("targets", "is empty; name at least one device"));
                }
                if unique.len() > max {
                    return Err(InvalidInput::new(
                        "targets",
                        format!("has {} distinct devices; a task takes at most {max}", unique.len()),
                    ));
                }
                unique
                    .iter()
                    .map(|t| validation::device_id(t))
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => Vec::new(),
        };
        if let Some(filter) = &self.targets_filter
            && filter.is_empty()
        {
            return Err(InvalidInput::new("targets_filter", "is empty"));
        }
        if let Some(source) = &self.document_source
            && (source.is_empty() || source.chars().any(char::is_control))
        {
            return Err(InvalidInput::new(
                "document_source",
                "must be a file ID: not empty, no control characters",
            ));
        }
        let schedule_time = self
            .schedule_time
            .as_deref()
            .map(|t| validation::parse::<types::ScheduleTime>("task_policy.schedule_time", t))
            .transpose()?;
        let (retry_count, retry_interval) = match self.retry {
            Some((count, interval)) => {
                let (lo, hi) = (
                    limits::NEW_TASK_POLICY_RETRY_COUNT_MIN,
                    limits::NEW_TASK_POLICY_RETRY_COUNT_MAX,
                );
                if !(lo..=hi).contains(&count) {
                    return Err(InvalidInput::new(
                        "task_policy.retry_count",
                        format!("must be {lo} to {hi}"),
                    ));
                }
                let (lo, hi) = (
                    limits::NEW_TASK_POLICY_RETRY_INTERVAL_MIN,
                    limits::NEW_TASK_POLICY_RETRY_INTERVAL_MAX,
                );
                if !(lo..=hi).contains(&interval) {
                    return Err(InvalidInput::new(
                        "task_policy.retry_interval",
                        format!("must be {lo} to {hi} minutes"),
                    ));
                }
                (std::num::NonZeroU64::new(u64::from(count)), Some(i64::from(interval)))
            }
            None => (None, None),
        };
        if let Some(info) = &self.task_ext_info {
            let max = limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN;
            let len = Value::Object(info.clone()).to_string().chars().count();
            if len > max {
                return Err(InvalidInput::new(
                    "task_ext_info",
                    format!("is {len} characters as JSON; at most {max}"),
                ));
            }
        }
        let upgrade = [
            TaskType::FirmwareUpgrade,
            TaskType::SoftwareUpgrade,
            TaskType::ModuleUpgrade,
        ];
        if self.need_confirm == Some(true) && !upgrade.contains(&self.task_type) {
            return Err(InvalidInput::new(
                "need_confirm",
                "applies only to firmwareUpgrade, softwareUpgrade and moduleUpgrade tasks",
            ));
        }
        let task_policy = (schedule_time.is_some() || retry_count.is_some()).then_some(types::NewTaskPolicy {
            schedule_time,
            retry_count,
            retry_interval,
        });
        Ok(types::NewBatchTask {
            app_id,
            task_name,
            task_type: self.task_type,
            targets,
            targets_filter: self.targets_filter.clone().unwrap_or_default(),
            document: self.document.clone().unwrap_or_default(),
            document_source: self.document_source.clone(),
            task_policy,
            task_ext_info: self.task_ext_info.clone().unwrap_or_default(),
            task_mode: self.gateway_mode.then_some(types::TaskMode::Gateway),
            need_confirm: self.need_confirm,
        })
    }
}

impl CreateBatchTask {
    /// The requests [`send`](Self::send) would make, validated as it
    /// validates, sending nothing: with reads on, the listing of the newest
    /// task of this type that marks where a lost answer's search starts
    /// (the search itself happens only if the answer is lost), then the POST.
    pub async fn plan(&self) -> Result<Vec<super::PlannedRequest>, Error> {
        let body = self.validated()?;
        let auth = self.client.current_auth().await?;
        let mut plan = Vec::new();
        if self.reconcile {
            plan.push(self.listing().limit(1).planned(&auth).await?);
        }
        plan.push(self.client.planned(&auth, self.request(body).await)?);
        Ok(plan)
    }

    /// The POST of `body`, made by its generated builder and not sent: what
    /// [`send`](Self::send) sends and [`plan`](Self::plan) shows.
    async fn request(&self, body: types::NewBatchTask) -> Built<types::Task> {
        build!(&self.client, |call| call.create_batch_task().body(body))
    }
}
