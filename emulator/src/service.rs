//! The emulator's request handling: a synchronous function from request to
//! response over shared state, with no I/O, so it can be tested and fuzzed
//! without a socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response};
use jiff::Timestamp;
use percent_encoding::percent_decode_str;

use crate::EmulatorError;
use crate::auth::Authenticator;
use crate::config::{EmulatorConfig, MAX_BODY_BYTES};
use crate::reply::Reply;
use crate::request_id::RequestIds;
use crate::seed::Seed;
use crate::state::{State, TaskSnapshot};
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
/// assert_eq!(response.body().as_ref(), br#"{"targets":[{"target":"dev-0001","status":"success"}]}"#);
/// let task = service.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
/// assert_eq!(task.subtasks["dev-0001"], TaskDetailStatus::Stopped);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Service {
    state: Mutex<State>,
    auth: Authenticator,
    ids: RequestIds,
    requests: AtomicU64,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

/// The endpoints the emulator serves.
enum Route {
    Stop { project_id: String, task_id: String },
    Show { project_id: String, task_id: String },
}

impl Route {
    /// Matches `/v5/iot/{project_id}/batchtasks/{task_id}[/stop]` exactly (no
    /// trailing `/`, like the gateway) with the one method each accepts.
    fn parse(method: &Method, path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/v5/iot/")?;
        let mut segments = rest.split('/');
        let project_id = segments.next().filter(|s| !s.is_empty())?;
        if segments.next()? != "batchtasks" {
            return None;
        }
        let task_id = segments.next().filter(|s| !s.is_empty())?;
        let stop = match segments.next() {
            None => false,
            Some("stop") => true,
            Some(_) => return None,
        };
        if segments.next().is_some() {
            return None;
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (project_id, task_id) = (decode(project_id), decode(task_id));
        match (stop, method) {
            (true, &Method::POST) => Some(Self::Stop { project_id, task_id }),
            (false, &Method::GET) => Some(Self::Show { project_id, task_id }),
            _ => None,
        }
    }
}

impl Service {
    /// A service over `config`'s seed, accepting its credentials. Fails when
    /// the region, an access key pair or a token is invalid.
    pub fn new(config: &EmulatorConfig) -> Result<Self, EmulatorError> {
        Ok(Self {
            state: Mutex::new(State::new(&config.seed)),
            auth: Authenticator::new(config)?,
            ids: RequestIds::new(),
            requests: AtomicU64::new(0),
        })
    }

    /// Answers one request as IoTDA would, as of now.
    pub fn respond(&self, request: Request<Bytes>) -> Response<Bytes> {
        self.respond_at(request, Timestamp::now())
    }

    /// Answers one request as of `now` (the clock `X-Sdk-Date` is checked
    /// against), so tests and fuzzers can pin time.
    pub fn respond_at(&self, request: Request<Bytes>, now: Timestamp) -> Response<Bytes> {
        let (parts, body) = request.into_parts();
        let reply = if body.len() > MAX_BODY_BYTES {
            Reply::too_large()
        } else {
            self.handle(&parts, &body, now)
        };
        self.finish(&parts, reply)
    }

    /// The answer to a request whose body could not be read: `413` when it
    /// exceeded [`MAX_BODY_BYTES`], else `400 APIG.0201`.
    pub(crate) fn reject_body(&self, parts: &Parts, too_large: bool) -> Response<Bytes> {
        let reply = if too_large {
            Reply::too_large()
        } else {
            Reply::request_error()
        };
        self.finish(parts, reply)
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finish(&self, parts: &Parts, reply: Reply) -> Response<Bytes> {
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
            "iotda emulator request"
        );
        reply.into_response(&request_id)
    }

    /// Gateway first (route, then authentication), then IoTDA.
    fn handle(&self, parts: &Parts, body: &[u8], now: Timestamp) -> Reply {
        let Some(route) = Route::parse(&parts.method, parts.uri.path()) else {
            return Reply::no_such_api();
        };
        if let Err(detail) = self.auth.check(parts, body, now) {
            return Reply::unauthorized(&detail);
        }
        match route {
            Route::Stop { project_id, task_id } => self.stop(parts, body, &project_id, &task_id),
            Route::Show { project_id, task_id } => self.show(parts, &project_id, &task_id),
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
