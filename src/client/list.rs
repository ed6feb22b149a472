//! ListBatchTasks: the project's batch tasks of one type, page by page.

use std::fmt;

use futures_util::stream::{Stream, StreamExt as _};

use tracing::Instrument as _;

use super::paging::{self, ItemBound, WalkPage, Window};
use super::send::Built;
use super::{Client, build};
use crate::error::Error;
use crate::limits;
use crate::types;
use crate::validation;

/// The most tasks one [`ListBatchTasks::tasks`] walk yields (1,000 pages of
/// 50). A server paging past it ends the walk with [`Error::Decode`] naming
/// this bound instead of yielding more.
pub const MAX_WALK_TASKS: usize = 50_000;

impl Client {
    /// Starts a ListBatchTasks call: the project's batch tasks of
    /// `task_type`, newest first, one page ([`ListBatchTasks::send`]) or
    /// every page ([`ListBatchTasks::tasks`]).
    ///
    /// The type is required: Huawei's API definition and documentation mark
    /// `task_type` mandatory (its SDKs do not enforce it); this crate follows
    /// the definition. List each type you need.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    /// use iotda_batchtask::types::{TaskStatus, TaskType};
    ///
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), iotda_batchtask::Error> {
    /// let running: Vec<_> = client
    ///     .list_batch_tasks(TaskType::FirmwareUpgrade)
    ///     .status(TaskStatus::Processing)
    ///     .tasks()
    ///     .try_collect()
    ///     .await?;
    /// for task in &running {
    ///     println!("{:?} {:?}", task.task_id, task.task_name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_batch_tasks(&self, task_type: types::TaskType) -> ListBatchTasks {
        ListBatchTasks {
            client: self.clone(),
            task_type,
            app_id: None,
            status: None,
            limit: None,
            marker: None,
            offset: None,
        }
    }
}

/// A ListBatchTasks call being prepared; see [`Client::list_batch_tasks`]. It
/// holds its own handle to the client, so the future of [`send`](Self::send)
/// and the stream of [`tasks`](Self::tasks) are `'static + Send`.
#[must_use = "nothing is sent until .send().await or the stream is polled"]
#[derive(Clone)]
pub struct ListBatchTasks {
    client: Client,
    task_type: types::TaskType,
    app_id: Option<String>,
    status: Option<types::TaskStatus>,
    limit: Option<u32>,
    marker: Option<String>,
    offset: Option<u32>,
}

impl fmt::Debug for ListBatchTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListBatchTasks")
            .field("task_type", &self.task_type)
            .field("app_id", &self.app_id)
            .field("status", &self.status)
            .field("limit", &self.limit)
            .field("marker", &self.marker)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// One ListBatchTasks answer: one page of tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct ListOutput {
    response: types::Tasks,
    request_id: Option<String>,
}

impl ListOutput {
    /// This page's tasks, newest first.
    pub fn tasks(&self) -> &[types::Task] {
        &self.response.batchtasks
    }

    /// Paging: tasks matching the query, and the marker for the next page.
    pub fn page(&self) -> Option<&types::Page> {
        self.response.page.as_ref()
    }

    /// The `X-Request-Id` of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The generated response type, as received.
    pub fn into_inner(self) -> types::Tasks {
        self.response
    }

    /// An answer for a test (feature `test-util`, not default): `response`
    /// as if received with this `X-Request-Id`.
    ///
    /// ```
    /// use iotda_batchtask::ListOutput;
    /// use iotda_batchtask::types::Tasks;
    ///
    /// let body: Tasks = serde_json::from_str(
    ///     r#"{"batchtasks":[{"task_id":"61a5f4cbd86b7a1d1c2f3e4a","status":"Processing"}],
    ///         "page":{"count":1,"marker":"61a5f4cbd86b7a1d1c2f3e4a"}}"#,
    /// ).unwrap();
    /// let page = ListOutput::new(body, Some("rid-1"));
    /// assert_eq!(page.tasks().len(), 1);
    /// ```
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn new(response: types::Tasks, request_id: Option<&str>) -> Self {
        Self {
            response,
            request_id: request_id.map(str::to_owned),
        }
    }
}

impl WalkPage for ListOutput {
    type Item = types::Task;

    fn len(&self) -> usize {
        self.tasks().len()
    }

    fn marker(&self) -> Option<&str> {
        self.page()?.marker.as_deref()
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id()
    }

    fn into_items(self) -> Vec<types::Task> {
        self.response.batchtasks
    }
}

impl ListBatchTasks {
    /// Only tasks of this resource space (application); absent, every
    /// resource space's.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Only tasks in this status.
    pub fn status(mut self, status: types::TaskStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Tasks per page, 1 to 50 (`limits::LIST_BATCH_TASKS_LIMIT_MAX`; the
    /// API's default is 10, [`ListBatchTasks::tasks`] uses 50 unless told
    /// otherwise).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Start below this record ID (a previous page's `page.marker`).
    pub fn marker(mut self, marker: impl Into<String>) -> Self {
        self.marker = Some(marker.into());
        self
    }

    /// Skip this many records after the marker, 0 to 500
    /// (`limits::LIST_BATCH_TASKS_OFFSET_MAX`).
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Validates, sends, and returns one page of tasks.
    ///
    /// A page never holds more tasks than a [`limit`](Self::limit) asked
    /// for: a server that sends more is cut to the limit, with a warning in
    /// the log (the caller asked for that many; the paging still says how
    /// many match).
    pub async fn send(self) -> Result<ListOutput, Error> {
        let (query, window) = self.validated()?;
        let limit = window.limit.map(|limit| limit as usize);
        let mut page = self.fetch(query, window).await?;
        if let Some(limit) = limit
            && page.response.batchtasks.len() > limit
        {
            tracing::warn!(
                sent = page.response.batchtasks.len(),
                limit,
                "the server sent more tasks than the page's limit; keeping the first {limit}"
            );
            page.response.batchtasks.truncate(limit);
        }
        Ok(page)
    }

    /// Every task matching the filters, following `page.marker` from page to
    /// page (50 per request unless [`ListBatchTasks::limit`] says otherwise;
    /// any `offset` applies to the first page only). Invalid input is the
    /// stream's first and only item; a failed request ends the stream with
    /// its error. [`ListBatchTasks::pages`] walks the same pages whole, with
    /// each one's request ID.
    ///
    /// Bounded as [`ShowBatchTask::sub_tasks`](crate::ShowBatchTask::sub_tasks)
    /// is: one [deadline](crate::ClientBuilder::deadline) for the whole walk
    /// ([`Error::Timeout`]); at most [`MAX_WALK_PAGES`](crate::MAX_WALK_PAGES)
    /// requests and [`MAX_WALK_TASKS`] tasks, and each marker must sort below
    /// the one before it, or the stream ends with [`Error::Decode`] naming the
    /// rule, after yielding what the pages before brought.
    pub fn tasks(self) -> impl Stream<Item = Result<types::Task, Error>> + Send + 'static {
        paging::items(self.pages()).boxed()
    }

    /// The pages of [`ListBatchTasks::tasks`]' walk, each with its request ID
    /// and paging, under the same bounds.
    pub fn pages(self) -> impl Stream<Item = Result<ListOutput, Error>> + Send + 'static {
        let first = self
            .validated()
            .map(|(query, window)| (query, window.walking(limits::LIST_BATCH_TASKS_LIMIT_MAX)));
        let bound = ItemBound {
            max: MAX_WALK_TASKS,
            name: "MAX_WALK_TASKS",
            what: "tasks",
        };
        let client = self.client.clone();
        paging::pages(client, first, bound, move |query: Query, window: Window| {
            self.clone().fetch(query, window)
        })
        .boxed()
    }

    fn validated(&self) -> Result<(Query, Window), Error> {
        let app_id = self
            .app_id
            .as_deref()
            .map(|a| validation::parse("app_id", a))
            .transpose()?;
        let window = Window::checked(
            self.limit,
            (limits::LIST_BATCH_TASKS_LIMIT_MIN, limits::LIST_BATCH_TASKS_LIMIT_MAX),
            self.marker.as_deref(),
            self.offset,
            limits::LIST_BATCH_TASKS_OFFSET_MAX,
        )?;
        let query = Query {
            task_type: self.task_type,
            app_id,
            status: self.status,
        };
        Ok((query, window))
    }

    /// The GET [`send`](Self::send) would make, validated as it validates,
    /// sending nothing.
    pub(crate) async fn planned(&self, auth: &super::Authenticator) -> Result<super::PlannedRequest, Error> {
        let (query, window) = self.validated()?;
        self.client.planned(auth, self.request(query, window).await)
    }

    async fn fetch(self, query: Query, window: Window) -> Result<ListOutput, Error> {
        let span = tracing::info_span!(
            target: "iotda_batchtask::client",
            "iotda.list_batch_tasks",
            task_type = query.task_type.as_str(),
        );
        let built = self.request(query, window);
        let (result, _) = super::send::run(&self.client, built).instrument(span).await;
        result.map(|(response, request_id)| ListOutput { response, request_id })
    }

    /// The GET of one page, made by its generated builder and not sent:
    /// what [`fetch`](Self::fetch) sends and a plan shows.
    async fn request(&self, query: Query, window: Window) -> Built<types::Tasks> {
        build!(&self.client, |call| {
            let mut op = call.list_batch_tasks().task_type(query.task_type);
            if let Some(app_id) = query.app_id {
                op = op.app_id(app_id);
            }
            if let Some(status) = query.status {
                op = op.status(status);
            }
            paging::with_window!(op, window)
        })
    }
}

/// A validated query.
#[derive(Debug, Clone)]
struct Query {
    task_type: types::TaskType,
    app_id: Option<types::AppId>,
    status: Option<types::TaskStatus>,
}
