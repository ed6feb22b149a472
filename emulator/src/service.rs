//! The emulator's request handling: a synchronous function from request to
//! response over shared state, with no I/O, so it can be tested and fuzzed
//! without a socket.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response};
use jiff::Timestamp;
use percent_encoding::percent_decode_str;

use crate::EmulatorError;
use crate::auth::Authenticator;
use crate::config::{EmulatorConfig, MAX_BODY_BYTES};
use crate::fault::{Decision, Fault, FaultAction, Faults, MAX_FAULT_RULES};
use crate::journal::{AuthMode, Journal, JournalBuffer, JournalEntry, Operation, Recorded};
use crate::reply::Reply;
use crate::request_id::RequestIds;
use crate::seed::Seed;
use crate::seed::{TaskDetailStatus, TaskStatus};
use crate::state::{Rules, State, StateError, TaskSnapshot};
use iotda_batchtask::validation::{self, InvalidInput};

/// The emulated IoTDA endpoints, without a server: routing, authentication,
/// validation and batch-task semantics in one synchronous call.
///
/// [`Emulator`](crate::Emulator) wraps it in an HTTP server; tests and fuzz
/// targets can call [`Service::respond`] directly. It never panics on any
/// request, and applies each request to its state entirely or not at all.
///
/// ```
/// use bytes::Bytes;
/// use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, Service, TaskDetailStatus};
///
/// let service = Service::new(&EmulatorConfig::new().auth_enabled(false))?;
/// let request = http::Request::post(format!("/v5/iot/{DEMO_PROJECT_ID}/batchtasks/{DEMO_TASK_ID}/stop"))
///     .header("content-type", "application/json")
///     .body(Bytes::from_static(br#"{"targets":["dev-0001"]}"#))?;
/// let response = service.respond(request);
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.body().as_ref(), br#"{"targets":[{"status":"success","target":"dev-0001"}]}"#);
/// let task = service.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
/// assert_eq!(task.subtasks["dev-0001"], TaskDetailStatus::Stopped);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Service {
    state: Mutex<State>,
    auth: Authenticator,
    ids: RequestIds,
    requests: AtomicU64,
    journal: Mutex<JournalBuffer>,
    faults: Mutex<Faults>,
    started: Instant,
    expired: AtomicBool,
    identity: crate::identity::Identity,
    /// The total of [`Service::advance_time`].
    advanced: Mutex<Duration>,
    /// See [`EmulatorConfig::time_scale`]: finite and at least 0.
    time_scale: f64,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

/// The `APIGW.0301` detail after [`Service::expire_credentials`]; the
/// emulator's own text, Huawei publishes none for an expired credential.
const CREDENTIALS_EXPIRED: &str = "the credentials have expired (emulator)";

/// What the journal and the fault rules know of a request's target.
struct Target {
    operation: Operation,
    project_id: Option<String>,
    task_id: Option<String>,
}

/// What the server does with a decided reply.
enum Then {
    Send,
    Delay(std::time::Duration),
    Reset,
}

/// [`Service::inject`] refused a rule: [`MAX_FAULT_RULES`] are already waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many fault rules waiting (at most {MAX_FAULT_RULES})")]
pub struct TooManyFaults;

/// The endpoints the emulator serves: the operation, and the path's IDs
/// (percent-decoded; List and Create name no task).
struct Route {
    operation: Operation,
    project_id: String,
    task_id: Option<String>,
}

impl Route {
    /// Matches `/v5/iot/{project_id}/batchtasks[/{task_id}[/stop|/retry|/confirm]]`
    /// exactly (no trailing `/`, like the gateway) with the one method each
    /// accepts.
    fn parse(method: &Method, path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/v5/iot/")?;
        let mut segments = rest.split('/');
        let project_id = segments.next().filter(|s| !s.is_empty())?;
        if segments.next()? != "batchtasks" {
            return None;
        }
        let task_id = match segments.next() {
            None => None,
            Some(id) if !id.is_empty() => Some(id),
            Some(_) => return None,
        };
        let action = segments.next();
        if segments.next().is_some() {
            return None;
        }
        let operation = match (task_id.is_some(), action, method) {
            (false, None, &Method::GET) => Operation::ListBatchTasks,
            (false, None, &Method::POST) => Operation::CreateBatchTask,
            (true, None, &Method::GET) => Operation::ShowBatchTask,
            (true, None, &Method::DELETE) => Operation::DeleteBatchTask,
            (true, Some("stop"), &Method::POST) => Operation::StopBatchTask,
            (true, Some("retry"), &Method::POST) => Operation::RetryBatchTask,
            (true, Some("confirm"), &Method::POST) => Operation::ConfirmBatchTask,
            _ => return None,
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        Some(Self {
            operation,
            project_id: decode(project_id),
            task_id: task_id.map(decode),
        })
    }

    /// What the journal and the fault rules know of a request's target.
    fn target(route: Option<&Self>) -> Target {
        match route {
            Some(r) => Target {
                operation: r.operation,
                project_id: Some(r.project_id.clone()),
                task_id: r.task_id.clone(),
            },
            None => Target {
                operation: Operation::Unknown,
                project_id: None,
                task_id: None,
            },
        }
    }
}

impl Service {
    /// A service over `config`'s seed, accepting its credentials. Fails when
    /// the region, an access key pair or a token is invalid.
    pub fn new(config: &EmulatorConfig) -> Result<Self, EmulatorError> {
        Ok(Self {
            state: Mutex::new(State::new(
                &config.seed,
                Rules {
                    max_running_tasks: config.max_running_tasks,
                    stopping_reads: config.stopping_reads,
                },
                config.default_progression.clone(),
            )),
            advanced: Mutex::new(Duration::ZERO),
            time_scale: config.time_scale,
            auth: Authenticator::new(config)?,
            ids: RequestIds::new(),
            requests: AtomicU64::new(0),
            journal: Mutex::new(JournalBuffer::default()),
            faults: Mutex::new(Faults::default()),
            started: Instant::now(),
            expired: AtomicBool::new(false),
            identity: crate::identity::Identity::new(
                &config.identity,
                &config.region,
                config.seed.tasks().iter().map(|t| t.project_id.clone()).collect(),
            ),
        })
    }

    /// Answers one request as IoTDA would, as of now.
    ///
    /// Synchronous: an injected [`Fault::delay`] is skipped and a
    /// [`Fault::reset`] is answered `502` with an empty body; use
    /// [`Service::decide`] to carry those out.
    pub fn respond(&self, request: Request<Bytes>) -> Response<Bytes> {
        self.respond_at(request, Timestamp::now())
    }

    /// Answers one request as of `now` (the clock `X-Sdk-Date` is checked
    /// against), so tests and fuzzers can pin time.
    pub fn respond_at(&self, request: Request<Bytes>, now: Timestamp) -> Response<Bytes> {
        self.decide_at(request, now).into_response()
    }

    /// How to answer one request as of now, injected faults included: the
    /// server's entry point.
    pub fn decide(&self, request: Request<Bytes>) -> Decision {
        self.decide_at(request, Timestamp::now())
    }

    /// How to answer one request as of `now`. The first due [`Fault`] rule
    /// (in injection order) decides what happens; without one, the request
    /// is answered as IoTDA would.
    pub fn decide_at(&self, request: Request<Bytes>, now: Timestamp) -> Decision {
        let (parts, body) = request.into_parts();
        // An ECS host's metadata and IAM: outside IoTDA, its faults and its journal.
        if self.identity.is_metadata(parts.uri.path()) {
            return Decision::Respond(self.identity.metadata(&parts, now));
        }
        if crate::identity::Identity::is_iam(parts.uri.path()) {
            let reply = match self.authenticate(&parts, &body, now) {
                Ok(()) => self.identity.projects(&parts),
                Err(reply) => reply,
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            return Decision::Respond(reply.into_response(&self.ids.next()));
        }
        let route = Route::parse(&parts.method, parts.uri.path());
        let target = Route::target(route.as_ref());
        let action = self
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(target.operation, target.task_id.as_deref());
        let injected = action.is_some();
        let real = |route: Option<Route>| {
            if body.len() > MAX_BODY_BYTES {
                Reply::too_large()
            } else {
                self.handle(route, &parts, &body, now)
            }
        };
        let (reply, then) = match action {
            None => (real(route), Then::Send),
            Some(FaultAction::Error { status, code, msg }) => (Reply::Injected { status, code, msg }, Then::Send),
            Some(FaultAction::MalformedBody) => (Reply::Malformed, Then::Send),
            Some(FaultAction::ProcessThenFail { status, code, msg }) => {
                // The real answer is discarded: the state changed regardless.
                let _ = real(route);
                (Reply::Injected { status, code, msg }, Then::Send)
            }
            Some(FaultAction::Delay(delay)) => (real(route), Then::Delay(delay)),
            Some(FaultAction::Reset) => (real(route), Then::Reset),
        };
        let response = self.finish(
            &parts,
            Some(&body),
            target,
            reply,
            injected,
            matches!(then, Then::Reset),
        );
        match (then, response) {
            (Then::Send, Some(response)) => Decision::Respond(response),
            (Then::Delay(delay), Some(response)) => Decision::Delay(delay, response),
            (Then::Reset, _) | (_, None) => Decision::Reset,
        }
    }

    /// The answer to a request whose body could not be read: `413` when it
    /// exceeded [`MAX_BODY_BYTES`], else `400 APIG.0201`.
    pub(crate) fn reject_body(&self, parts: &Parts, too_large: bool) -> Response<Bytes> {
        let reply = if too_large {
            Reply::too_large()
        } else {
            Reply::request_error()
        };
        let target = Route::target(Route::parse(&parts.method, parts.uri.path()).as_ref());
        self.finish(parts, None, target, reply, false, false)
            .unwrap_or_else(|| Decision::Reset.into_response())
    }

    /// Adds a fault rule after the ones waiting (see [`Fault`] for
    /// precedence). Fails when [`MAX_FAULT_RULES`] rules are already waiting.
    pub fn inject(&self, fault: Fault) -> Result<(), TooManyFaults> {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        if faults.push(fault) { Ok(()) } else { Err(TooManyFaults) }
    }

    /// Removes every waiting fault rule.
    pub fn clear_faults(&self) {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// How many fault rules are waiting (not yet spent).
    pub fn pending_faults(&self) -> usize {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// A copy of the request journal, oldest first: at most
    /// [`MAX_JOURNAL_ENTRIES`](crate::MAX_JOURNAL_ENTRIES) entries.
    pub fn journal(&self) -> Journal {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner).copy()
    }

    /// Empties the request journal.
    pub fn clear_journal(&self) {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Sets an existing sub-task's status, e.g. to let a device finish
    /// mid-test. The task's own status is not recomputed.
    pub fn set_sub_task(
        &self,
        project_id: &str,
        task_id: &str,
        device_id: &str,
        status: TaskDetailStatus,
    ) -> Result<(), StateError> {
        self.lock().set_sub_task(project_id, task_id, device_id, status)
    }

    /// Marks an existing sub-task `Success`: the device finished.
    ///
    /// ```
    /// use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, TaskDetailStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emulator = Emulator::start(EmulatorConfig::new().auth_enabled(false)).await?;
    /// emulator.finish_sub_task(DEMO_PROJECT_ID, DEMO_TASK_ID, "dev-0001")?;
    /// let task = emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).expect("the demo task");
    /// assert_eq!(task.subtasks["dev-0001"], TaskDetailStatus::Success);
    /// assert!(emulator.finish_sub_task(DEMO_PROJECT_ID, "000000000000000000000000", "dev-0001").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn finish_sub_task(&self, project_id: &str, task_id: &str, device_id: &str) -> Result<(), StateError> {
        self.set_sub_task(project_id, task_id, device_id, TaskDetailStatus::Success)
    }

    /// Adds a sub-task for a device the task does not have yet, after the
    /// existing ones (so its record ID is the largest).
    pub fn add_sub_task(
        &self,
        project_id: &str,
        task_id: &str,
        device_id: &str,
        status: TaskDetailStatus,
    ) -> Result<(), StateError> {
        self.lock().add_sub_task(project_id, task_id, device_id, status)
    }

    /// From now on, refuses every routed request `401 APIGW.0301` as if its
    /// credentials had expired (whatever they are, even with authentication
    /// disabled), until [`Service::restore_credentials`].
    pub fn expire_credentials(&self) {
        self.expired.store(true, Ordering::Relaxed);
    }

    /// Undoes [`Service::expire_credentials`].
    pub fn restore_credentials(&self) {
        self.expired.store(false, Ordering::Relaxed);
    }

    /// Moves the clock that temporary credentials from
    /// [`EmulatorConfig::temporary_credentials`] are issued and expire by
    /// (not the one `X-Sdk-Date` is checked against): credentials issued
    /// before are refused once their lifetime has passed on it.
    pub fn advance_credential_clock(&self, by: std::time::Duration) {
        self.identity.advance(by);
    }

    /// The gateway's authentication: expired credentials, then the signature or token.
    fn authenticate(&self, parts: &Parts, body: &[u8], now: Timestamp) -> Result<(), Reply> {
        if self.expired.load(Ordering::Relaxed) {
            return Err(Reply::unauthorized(CREDENTIALS_EXPIRED));
        }
        self.auth.learn(self.identity.take_issued());
        self.auth
            .check(parts, body, now, self.identity.now(now))
            .map_err(|detail| Reply::unauthorized(&detail))
    }

    /// Sets a task's own status; its sub-tasks are not changed.
    pub fn set_task_status(&self, project_id: &str, task_id: &str, status: TaskStatus) -> Result<(), StateError> {
        self.lock().set_task_status(project_id, task_id, status)
    }

    /// A snapshot of one task, or `None` if the seed has no such task.
    pub fn task(&self, project_id: &str, task_id: &str) -> Option<TaskSnapshot> {
        self.lock().task(project_id, task_id).map(|t| t.snapshot())
    }

    /// Every task's current state, in the seed's shape (write it out with
    /// [`Seed::to_json`] to restart from here).
    pub fn snapshot(&self) -> Seed {
        self.lock().to_seed()
    }

    /// How many requests were answered, whatever the outcome.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The one place state is locked. Nothing panics while it is held, but
    /// if something ever did, the state is still whole (changes are applied
    /// after every decision), so a poisoned lock is simply taken over.
    ///
    /// Progressing tasks are first brought up to the clock's time, so every
    /// answer and every snapshot sees them as of now.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        let now = self.time();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.advance_to(now);
        state
    }

    /// The time on the clock that moves progressing tasks (see
    /// [`Progression`](crate::Progression)): the total of
    /// [`Service::advance_time`] plus the real time since the service was
    /// made, times [`EmulatorConfig::time_scale`].
    pub fn time(&self) -> Duration {
        let advanced = *self.advanced.lock().unwrap_or_else(PoisonError::into_inner);
        let real = if self.time_scale > 0.0 {
            // Saturates rather than panics on an absurd scale.
            Duration::try_from_secs_f64(self.started.elapsed().as_secs_f64() * self.time_scale).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        };
        advanced.saturating_add(real)
    }

    /// Moves the progression clock forward by `by`, and every progressing
    /// task with it, each transition at its own time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iotda_batchtask_emulator::{
    ///     EmulatorConfig, Progression, Seed, SeedTask, Selection, Service, TaskDetailStatus, TaskStatus, TaskType,
    /// };
    ///
    /// let project = "0123456789abcdef0123456789abcdef";
    /// let task = SeedTask {
    ///     project_id: project.into(),
    ///     task_id: "61a5f4cbd86b7a1d1c2f3e4a".into(),
    ///     task_type: TaskType::FirmwareUpgrade,
    ///     status: TaskStatus::Processing,
    ///     subtasks: [("dev-1", TaskDetailStatus::Waitting), ("dev-2", TaskDetailStatus::Waitting)]
    ///         .map(|(d, s)| (d.to_owned(), s))
    ///         .into(),
    /// };
    /// let seed = Seed::new(vec![task])?.with_progression(
    ///     project,
    ///     "61a5f4cbd86b7a1d1c2f3e4a",
    ///     Progression::new(Duration::from_secs(60)).fail(Selection::devices(["dev-2"])),
    /// )?;
    /// // Time scale 0: only advance_time moves the clock.
    /// let service = Service::new(&EmulatorConfig::new().seed(seed).auth_enabled(false).time_scale(0.0))?;
    /// service.advance_time(Duration::from_secs(1));
    /// let now = service.task(project, "61a5f4cbd86b7a1d1c2f3e4a").unwrap();
    /// assert_eq!((now.status, now.count(TaskDetailStatus::Processing)), (TaskStatus::Processing, 2));
    /// service.advance_time(Duration::from_secs(60));
    /// let done = service.task(project, "61a5f4cbd86b7a1d1c2f3e4a").unwrap();
    /// assert_eq!(done.status, TaskStatus::PartialSuccess);
    /// assert_eq!(done.subtasks["dev-2"], TaskDetailStatus::Fail);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn advance_time(&self, by: Duration) {
        {
            let mut advanced = self.advanced.lock().unwrap_or_else(PoisonError::into_inner);
            *advanced = advanced.saturating_add(by);
        }
        drop(self.lock());
    }

    /// Counts, logs and journals one answer; `None` when the connection is
    /// to be reset instead.
    fn finish(
        &self,
        parts: &Parts,
        body: Option<&Bytes>,
        target: Target,
        reply: Reply,
        injected: bool,
        reset: bool,
    ) -> Option<Response<Bytes>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request_id = self.ids.next();
        let status = reply.status();
        // Method, path, status and ID only: headers, query and body may hold
        // secrets or device data.
        tracing::debug!(
            method = %parts.method,
            path = ?parts.uri.path(),
            status = status.as_u16(),
            request_id = %request_id,
            reset,
            "iotda emulator request"
        );
        let response = (!reset).then(|| reply.into_response(&request_id));
        let entry = JournalEntry {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            body: None,
            auth: AuthMode::of(parts),
            instance_id: parts
                .headers
                .get("instance-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            operation: target.operation,
            project_id: target.project_id,
            task_id: target.task_id,
            status: response.as_ref().map(Response::status),
            response_body: None,
            request_id: response.is_some().then_some(request_id),
            fault_injected: injected,
            elapsed: self.started.elapsed(),
        };
        let recorded = Recorded {
            entry,
            body: body.cloned(),
            response_body: response.as_ref().map(|r| r.body().clone()),
        };
        self.journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorded);
        response
    }

    /// Gateway first (route, then authentication), then IoTDA.
    fn handle(&self, route: Option<Route>, parts: &Parts, body: &[u8], now: Timestamp) -> Reply {
        let Some(route) = route else {
            return Reply::no_such_api();
        };
        if let Err(reply) = self.authenticate(parts, body, now) {
            return reply;
        }
        let project_id = route.project_id.as_str();
        let task_id = route.task_id.as_deref().unwrap_or_default();
        match route.operation {
            Operation::StopBatchTask => self.stop(parts, body, project_id, task_id),
            Operation::RetryBatchTask => self.retry(parts, body, project_id, task_id),
            Operation::ConfirmBatchTask => self.confirm(parts, body, project_id, task_id),
            Operation::ShowBatchTask => self.show(parts, project_id, task_id),
            Operation::DeleteBatchTask => self.delete(parts, project_id, task_id),
            Operation::ListBatchTasks => self.list(parts, project_id),
            Operation::CreateBatchTask => self.create(parts, body, project_id),
            Operation::Unknown => Reply::no_such_api(),
        }
    }
}

/// `400 IOTDA.000006` for a value that breaks a rule, naming field and rule.
pub(crate) fn invalid(e: &InvalidInput) -> Reply {
    Reply::invalid(format!("Invalid input. {} {}.", e.field(), e.rule()))
}

/// Checks the path IDs and the optional `Instance-Id` header.
pub(crate) fn check_common(headers: &HeaderMap, project_id: &str, task_id: &str) -> Result<(), Reply> {
    validation::project_id(project_id).map_err(|e| invalid(&e))?;
    validation::task_id(task_id).map_err(|e| invalid(&e))?;
    check_instance(headers)
}

/// Checks the project ID and the optional `Instance-Id` header (List and
/// Create, whose paths name no task).
pub(crate) fn check_project(headers: &HeaderMap, project_id: &str) -> Result<(), Reply> {
    validation::project_id(project_id).map_err(|e| invalid(&e))?;
    check_instance(headers)
}

fn check_instance(headers: &HeaderMap) -> Result<(), Reply> {
    let mut instance = headers.get_all("instance-id").iter();
    if let Some(value) = instance.next() {
        let bad = || InvalidInput::new("Instance-Id", "must appear once and be 1 to 36 of a-f, 0-9 and '-'");
        let value = value.to_str().map_err(|_| invalid(&bad()))?;
        if instance.next().is_some() {
            return Err(invalid(&bad()));
        }
        validation::instance_id(value).map_err(|e| invalid(&InvalidInput::new("Instance-Id", e.rule().to_owned())))?;
    }
    Ok(())
}
