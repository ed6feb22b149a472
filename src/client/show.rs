//! ShowBatchTask: a task, its progress, and its sub-tasks page by page.

use std::fmt;

use futures_util::stream::{Stream, StreamExt as _};

use super::Client;
use super::paging::{self, ItemBound, WalkPage, Window};
use crate::error::Error;
use crate::types;
use crate::validation;

/// The most sub-tasks one ShowBatchTask page holds (the spec's `limit` maximum).
pub const MAX_PAGE_SIZE: u32 = crate::limits::SHOW_BATCH_TASK_LIMIT_MAX;
/// The furthest `offset` the API accepts (the spec's maximum); beyond it,
/// page by `marker`.
pub const MAX_OFFSET: u32 = crate::limits::SHOW_BATCH_TASK_OFFSET_MAX;

/// The most sub-tasks one [`ShowBatchTask::sub_tasks`] walk yields. Huawei
/// allows at most 30,000 sub-tasks per task, so a server paging past this is
/// not paging through one task; the walk ends with [`Error::Decode`] naming
/// this bound instead of yielding more.
pub const MAX_WALK_SUB_TASKS: usize = 50_000;

impl Client {
    /// Starts a ShowBatchTask call for `task_id`: the task, its progress
    /// counters and one page of its sub-tasks ([`ShowBatchTask::send`]), or
    /// every sub-task across pages ([`ShowBatchTask::sub_tasks`]).
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    /// use iotda_batchtask::types::TaskDetailStatus;
    ///
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let page = client.show_batch_task("61a5f4cbd86b7a1d1c2f3e4a").send().await?;
    /// println!("{:?}", page.task().and_then(|t| t.status.as_deref()));
    ///
    /// let stopped: Vec<_> = client
    ///     .show_batch_task("61a5f4cbd86b7a1d1c2f3e4a")
    ///     .status(TaskDetailStatus::Stopped)
    ///     .sub_tasks()
    ///     .try_collect()
    ///     .await?;
    /// println!("{} sub-tasks stopped", stopped.len());
    /// # Ok(()) }
    /// ```
    pub fn show_batch_task(&self, task_id: impl Into<String>) -> ShowBatchTask {
        ShowBatchTask {
            client: self.clone(),
            task_id: task_id.into(),
            status: None,
            target: None,
            limit: None,
            marker: None,
            offset: None,
        }
    }
}

/// A ShowBatchTask call being prepared; see [`Client::show_batch_task`]. It
/// holds its own handle to the client (a cheap clone), so the future of
/// [`send`](Self::send) and the stream of [`sub_tasks`](Self::sub_tasks) are
/// `'static + Send`: spawn them, or return them from a function.
#[must_use = "nothing is sent until .send().await or the stream is polled"]
#[derive(Clone)]
pub struct ShowBatchTask {
    client: Client,
    task_id: String,
    status: Option<types::TaskDetailStatus>,
    target: Option<String>,
    limit: Option<u32>,
    marker: Option<String>,
    offset: Option<u32>,
}

impl fmt::Debug for ShowBatchTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShowBatchTask")
            .field("task_id", &self.task_id)
            .field("status", &self.status)
            .field("target", &self.target)
            .field("limit", &self.limit)
            .field("marker", &self.marker)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// One ShowBatchTask answer: the task and one page of its sub-tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowOutput {
    response: types::BatchTask,
    request_id: Option<String>,
}

impl ShowOutput {
    /// The task (its type, status, progress counters, ...).
    pub fn task(&self) -> Option<&types::Task> {
        self.response.batchtask.as_ref()
    }

    /// This page's sub-tasks, newest record first.
    pub fn sub_tasks(&self) -> &[types::TaskDetail] {
        &self.response.task_details
    }

    /// Paging: records matching the query, and the marker for the next page.
    pub fn page(&self) -> Option<&types::Page> {
        self.response.page.as_ref()
    }

    /// The `X-Request-Id` of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The generated response type, as received.
    pub fn into_inner(self) -> types::BatchTask {
        self.response
    }

    /// An answer for a test (feature `test-util`, not default): `response`
    /// as if received with this `X-Request-Id`.
    ///
    /// ```
    /// use iotda_batchtask::ShowOutput;
    /// use iotda_batchtask::types::BatchTask;
    ///
    /// let body: BatchTask = serde_json::from_str(
    ///     r#"{"batchtask":{"task_id":"61a5f4cbd86b7a1d1c2f3e4a","status":"Processing"},
    ///         "task_details":[{"target":"dev-1","status":"Stopped"}]}"#,
    /// ).unwrap();
    /// let page = ShowOutput::new(body, Some("rid-1"));
    /// assert_eq!(page.sub_tasks().len(), 1);
    /// assert_eq!(page.request_id(), Some("rid-1"));
    /// ```
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn new(response: types::BatchTask, request_id: Option<&str>) -> Self {
        Self {
            response,
            request_id: request_id.map(str::to_owned),
        }
    }
}

impl WalkPage for ShowOutput {
    type Item = types::TaskDetail;

    fn len(&self) -> usize {
        self.sub_tasks().len()
    }

    fn marker(&self) -> Option<&str> {
        self.page()?.marker.as_deref()
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id()
    }

    fn into_items(self) -> Vec<types::TaskDetail> {
        self.response.task_details
    }
}

impl ShowBatchTask {
    /// Only sub-tasks in this status.
    pub fn status(mut self, status: types::TaskDetailStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only the sub-task of this device.
    pub fn target(mut self, device_id: impl Into<String>) -> Self {
        self.target = Some(device_id.into());
        self
    }

    /// Sub-tasks per page, 1 to [`MAX_PAGE_SIZE`] (the API's default is 10;
    /// [`ShowBatchTask::sub_tasks`] uses 50 unless told otherwise).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Start below this record ID (a previous page's `page.marker`).
    pub fn marker(mut self, marker: impl Into<String>) -> Self {
        self.marker = Some(marker.into());
        self
    }

    /// Skip this many records after the marker, 0 to [`MAX_OFFSET`].
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Validates, sends, and returns the task with one page of sub-tasks.
    pub async fn send(self) -> Result<ShowOutput, Error> {
        let (query, window) = self.validated()?;
        self.fetch(query, window).await
    }

    /// Every sub-task matching the filters, following `page.marker` from page
    /// to page (50 per request unless [`ShowBatchTask::limit`] says otherwise;
    /// any `offset` applies to the first page only). Invalid input is the
    /// stream's first and only item; a failed request ends the stream with
    /// its error.
    ///
    /// The walk is bounded, so a server that keeps handing out markers cannot
    /// keep it going:
    ///
    /// - one [deadline](crate::ClientBuilder::deadline) for the whole walk,
    ///   counted from the first request; past it the stream ends with
    ///   [`Error::Timeout`] ([`TimeoutKind::Walk`](crate::error::TimeoutKind),
    ///   `attempts` counting the pages requested);
    /// - at most [`MAX_WALK_PAGES`](crate::MAX_WALK_PAGES) requests and [`MAX_WALK_SUB_TASKS`]
    ///   sub-tasks, and each marker must sort below the one before it (record
    ///   IDs descend, newest first), so none repeats; otherwise the stream
    ///   ends with [`Error::Decode`] naming the rule, after yielding what the
    ///   pages before brought.
    ///
    /// [`ShowBatchTask::pages`] walks the same pages whole, with each one's
    /// request ID.
    pub fn sub_tasks(self) -> impl Stream<Item = Result<types::TaskDetail, Error>> + Send + 'static {
        paging::items(self.pages()).boxed()
    }

    /// The pages of [`ShowBatchTask::sub_tasks`]' walk, each with the task,
    /// its request ID and paging, under the same bounds.
    pub fn pages(self) -> impl Stream<Item = Result<ShowOutput, Error>> + Send + 'static {
        let first = self
            .validated()
            .map(|(query, window)| (query, window.walking(MAX_PAGE_SIZE)));
        let bound = ItemBound {
            max: MAX_WALK_SUB_TASKS,
            name: "MAX_WALK_SUB_TASKS; Huawei allows 30,000 per task",
            what: "sub-tasks",
        };
        let client = self.client.clone();
        paging::pages(client, first, bound, move |query: Query, window: Window| {
            self.clone().fetch(query, window)
        })
        .boxed()
    }

    fn validated(&self) -> Result<(Query, Window), Error> {
        let task_id = validation::task_id(&self.task_id)?;
        let target = self
            .target
            .as_deref()
            .map(|t| validation::parse("target", t))
            .transpose()?;
        let window = Window::checked(
            self.limit,
            (crate::limits::SHOW_BATCH_TASK_LIMIT_MIN, MAX_PAGE_SIZE),
            self.marker.as_deref(),
            self.offset,
            MAX_OFFSET,
        )?;
        let query = Query {
            task_id,
            status: self.status,
            target,
        };
        Ok((query, window))
    }

    async fn fetch(self, query: Query, window: Window) -> Result<ShowOutput, Error> {
        let span = tracing::info_span!(
            target: "iotda_batchtask::client",
            "iotda.show_batch_task",
                task_id = query.task_id.as_str(),
        );
        let (result, _) = super::send!(&self.client, span, |call| {
            let mut op = call.show_batch_task().task_id(query.task_id);
            if let Some(status) = query.status {
                op = op.task_detail_status(status);
            }
            if let Some(target) = query.target {
                op = op.target(target);
            }
            paging::with_window!(op, window)
        });
        result.map(|(response, request_id)| ShowOutput { response, request_id })
    }
}

/// A validated query.
#[derive(Debug, Clone)]
struct Query {
    task_id: types::TaskId,
    status: Option<types::TaskDetailStatus>,
    target: Option<types::DeviceId>,
}
