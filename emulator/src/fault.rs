//! Fault injection: rules that change how matching requests are answered.
//!
//! The matching and any state change happen in the I/O-free
//! [`Service`](crate::Service), which returns a [`Decision`]; the delay and the
//! closed connection are carried out by the server.

use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::journal::Operation;

/// How many rules may wait at once; [`inject`](crate::Service::inject)
/// refuses more, so a test loop cannot grow the list without bound.
pub const MAX_FAULT_RULES: usize = 1_000;

/// What an injected fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer `status` with `{"error_code","error_msg"}` and an
    /// `X-Request-Id`, without applying the request.
    Error {
        /// The status.
        status: StatusCode,
        /// `error_code`.
        code: String,
        /// `error_msg`.
        msg: String,
    },
    /// Apply the request and answer as usual, but only after this long.
    /// Only the [`Emulator`](crate::Emulator) server waits;
    /// [`Service::respond`](crate::Service::respond) is synchronous and
    /// answers at once.
    Delay(Duration),
    /// Apply the request, then close the connection without an answer: a
    /// lost response. With [`Service::respond`](crate::Service::respond),
    /// which must return something, the answer is `502` with an empty body.
    Reset,
    /// Answer `200` with a body that is not JSON, without applying the request.
    MalformedBody,
    /// Apply the request, then answer `status` with a Huawei error body
    /// instead of the real answer: the state changed, the client sees an error.
    ProcessThenFail {
        /// The status.
        status: StatusCode,
        /// `error_code`.
        code: String,
        /// `error_msg`.
        msg: String,
    },
}

/// When a rule fires, among the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// The next `n` matching requests.
    Next(u32),
    /// Only the `n`th matching request (1-based), counted from injection.
    Nth { n: u64, seen: u64 },
}

/// An injected fault: an action, and which requests it applies to.
///
/// By default a rule matches any operation of any task, and fires once, on
/// the next request. Rules are tried in the order they were injected; the
/// first that matches and is due decides the answer, and later rules do not
/// see that request (their counts do not advance). A rule is removed once
/// it has fired as often as it was told. A request whose body the server
/// cannot read (over [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES), or too slow)
/// is refused without consulting the rules.
///
/// ```
/// use iotda_batchtask_emulator::{Fault, Operation};
/// use http::StatusCode;
///
/// // The next two stops of this task are throttled.
/// let throttle = Fault::status(StatusCode::TOO_MANY_REQUESTS)
///     .on(Operation::StopBatchTask)
///     .for_task("61a5f4cbd86b7a1d1c2f3e4a")
///     .times(2);
/// // The third show of any task is answered with a body that is not JSON.
/// let garbage = Fault::malformed_body().on(Operation::ShowBatchTask).nth(3);
/// # let _ = (throttle, garbage);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    action: FaultAction,
    operation: Option<Operation>,
    task_id: Option<String>,
    when: When,
}

impl Fault {
    /// A fault doing `action`, on the next request of any kind.
    pub fn new(action: FaultAction) -> Self {
        Self {
            action,
            operation: None,
            task_id: None,
            when: When::Next(1),
        }
    }

    /// Answers `status` with a Huawei-shaped error body, without applying
    /// the request: `APIG.0308` for 429 (the gateway's throttling code), else
    /// the emulator's own `EMULATOR.FAULT`.
    pub fn status(status: StatusCode) -> Self {
        let (code, msg) = default_error(status);
        Self::error(status, code, msg)
    }

    /// Answers `status` with `{"error_code": code, "error_msg": msg}`,
    /// without applying the request.
    pub fn error(status: StatusCode, code: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(FaultAction::Error {
            status,
            code: code.into(),
            msg: msg.into(),
        })
    }

    /// Applies the request, then answers `status` with a Huawei-shaped error
    /// body (codes as for [`Fault::status`]).
    pub fn process_then_fail(status: StatusCode) -> Self {
        let (code, msg) = default_error(status);
        Self::new(FaultAction::ProcessThenFail {
            status,
            code: code.to_owned(),
            msg: msg.to_owned(),
        })
    }

    /// Applies the request and answers after `delay` (server only).
    pub fn delay(delay: Duration) -> Self {
        Self::new(FaultAction::Delay(delay))
    }

    /// Applies the request and closes the connection without an answer
    /// (server only).
    pub fn reset() -> Self {
        Self::new(FaultAction::Reset)
    }

    /// Answers `200` with a body that is not JSON, without applying the request.
    pub fn malformed_body() -> Self {
        Self::new(FaultAction::MalformedBody)
    }

    /// Matches only `operation`.
    #[must_use]
    pub fn on(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Matches only requests for this task ID. ListBatchTasks and
    /// CreateBatchTask name no task in their path, so such a rule never
    /// matches them.
    #[must_use]
    pub fn for_task(mut self, task_id: impl Into<String>) -> Self {
        self.task_id = Some(task_id.into());
        self
    }

    /// Fires on the next `n` matching requests (default 1; 0 never fires).
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.when = When::Next(n);
        self
    }

    /// Fires only on the `n`th matching request from now (1-based), letting
    /// the ones before it through.
    #[must_use]
    pub fn nth(mut self, n: u64) -> Self {
        self.when = When::Nth { n: n.max(1), seen: 0 };
        self
    }

    /// The action.
    pub fn action(&self) -> &FaultAction {
        &self.action
    }

    fn matches(&self, operation: Operation, task_id: Option<&str>) -> bool {
        self.operation.is_none_or(|o| o == operation) && self.task_id.as_deref().is_none_or(|t| Some(t) == task_id)
    }
}

fn default_error(status: StatusCode) -> (&'static str, &'static str) {
    if status == StatusCode::TOO_MANY_REQUESTS {
        ("APIG.0308", "The throttling threshold has been reached.")
    } else {
        ("EMULATOR.FAULT", "Injected fault.")
    }
}

/// The waiting rules, in injection order.
#[derive(Default)]
pub(crate) struct Faults {
    rules: Vec<Fault>,
}

impl Faults {
    /// Adds a rule; `false` when [`MAX_FAULT_RULES`] are already waiting.
    pub(crate) fn push(&mut self, fault: Fault) -> bool {
        if self.rules.len() >= MAX_FAULT_RULES {
            return false;
        }
        self.rules.push(fault);
        true
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// The action for this request, if a rule fires; consumes it.
    pub(crate) fn take(&mut self, operation: Operation, task_id: Option<&str>) -> Option<FaultAction> {
        let mut fired = None;
        for rule in &mut self.rules {
            if !rule.matches(operation, task_id) {
                continue;
            }
            let fires = match &mut rule.when {
                When::Next(0) => false,
                When::Next(n) => {
                    *n -= 1;
                    true
                }
                When::Nth { n, seen } => {
                    *seen = seen.saturating_add(1);
                    let due = *seen >= *n;
                    if due {
                        // Spent: marked like an exhausted count, removed below.
                        rule.when = When::Next(0);
                    }
                    due
                }
            };
            if fires {
                fired = Some(rule.action.clone());
                break;
            }
        }
        // Spent rules (and rules told to fire zero times) go, so none pile up.
        self.rules.retain(|r| r.when != When::Next(0));
        fired
    }
}

/// How the service wants a request answered; the server carries it out.
#[derive(Debug)]
#[non_exhaustive]
pub enum Decision {
    /// Send this response.
    Respond(Response<Bytes>),
    /// Wait this long, then send this response.
    Delay(Duration, Response<Bytes>),
    /// Close the connection without a response.
    Reset,
}

impl Decision {
    /// The response a synchronous caller gets: a delay is skipped, a reset is
    /// `502` with an empty body.
    pub fn into_response(self) -> Response<Bytes> {
        match self {
            Self::Respond(r) | Self::Delay(_, r) => r,
            Self::Reset => {
                let mut r = Response::new(Bytes::new());
                *r.status_mut() = StatusCode::BAD_GATEWAY;
                r
            }
        }
    }
}
