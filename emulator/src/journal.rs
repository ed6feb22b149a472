//! The request journal: what every answered request asked and got, for
//! assertions in downstream tests. Bounded, and free of secrets.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::Value;

use iotda_batchtask_signing::{Algorithm, Authorization};

/// How many entries the journal keeps; older ones are dropped first, so a
/// long-running emulator (e.g. the CLI's) does not grow without bound.
pub const MAX_JOURNAL_ENTRIES: usize = 10_000;

/// The operation a request was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /v5/iot/{project_id}/batchtasks/{task_id}/stop`.
    StopBatchTask,
    /// `GET /v5/iot/{project_id}/batchtasks/{task_id}`.
    ShowBatchTask,
    /// `GET /v5/iot/{project_id}/batchtasks`.
    ListBatchTasks,
    /// `POST /v5/iot/{project_id}/batchtasks/{task_id}/retry`.
    RetryBatchTask,
    /// `POST /v5/iot/{project_id}/batchtasks/{task_id}/confirm`.
    ConfirmBatchTask,
    /// `POST /v5/iot/{project_id}/batchtasks`.
    CreateBatchTask,
    /// `DELETE /v5/iot/{project_id}/batchtasks/{task_id}`.
    DeleteBatchTask,
    /// Any other method or path (answered `404 APIGW.0101`).
    Unknown,
}

impl Operation {
    /// Every operation, [`Operation::Unknown`] last.
    pub const ALL: [Self; 8] = [
        Self::StopBatchTask,
        Self::ShowBatchTask,
        Self::ListBatchTasks,
        Self::RetryBatchTask,
        Self::ConfirmBatchTask,
        Self::CreateBatchTask,
        Self::DeleteBatchTask,
        Self::Unknown,
    ];

    /// Huawei's operation name (`StopBatchTask`, ...), or `Unknown`: the
    /// name the admin endpoint reads and writes.
    pub fn name(self) -> &'static str {
        match self {
            Self::StopBatchTask => "StopBatchTask",
            Self::ShowBatchTask => "ShowBatchTask",
            Self::ListBatchTasks => "ListBatchTasks",
            Self::RetryBatchTask => "RetryBatchTask",
            Self::ConfirmBatchTask => "ConfirmBatchTask",
            Self::CreateBatchTask => "CreateBatchTask",
            Self::DeleteBatchTask => "DeleteBatchTask",
            Self::Unknown => "Unknown",
        }
    }

    /// The operation of this [`name`](Operation::name), exactly as spelt.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether the request body is Stop's `BatchTargets` (Stop, Retry, Confirm).
    pub fn is_targeted(self) -> bool {
        matches!(
            self,
            Self::StopBatchTask | Self::RetryBatchTask | Self::ConfirmBatchTask
        )
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The credentials a request presented, without their secret parts: what
/// was sent, not whether it was accepted (see [`JournalEntry::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMode {
    /// No `Authorization` and no `X-Auth-Token`.
    None,
    /// An `X-Auth-Token` (its value is not recorded).
    Token,
    /// An AK/SK signature (the signature is not recorded).
    Signed {
        /// The access key ID (public; the secret key never travels).
        access_key: String,
        /// The signing algorithm.
        algorithm: Algorithm,
    },
    /// An `Authorization` header that is not an AK/SK signature.
    Malformed,
}

impl AuthMode {
    pub(crate) fn of(parts: &Parts) -> Self {
        let headers = &parts.headers;
        if let Some(value) = headers.get(AUTHORIZATION) {
            return match value.to_str().ok().and_then(Authorization::parse) {
                Some(auth) => Self::Signed {
                    access_key: auth.access_key,
                    algorithm: auth.algorithm,
                },
                None => Self::Malformed,
            };
        }
        if headers.contains_key("x-auth-token") {
            Self::Token
        } else {
            Self::None
        }
    }
}

/// One answered request. Holds no token, signature or secret key, so its
/// `Debug` output is safe to print.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JournalEntry {
    /// The request's method.
    pub method: Method,
    /// The request's path, as sent (percent-encoded).
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The request body parsed as JSON; `None` when empty or not JSON.
    pub body: Option<Value>,
    /// The credentials presented.
    pub auth: AuthMode,
    /// The `Instance-Id` header, when sent as text.
    pub instance_id: Option<String>,
    /// The operation recognised from method and path.
    pub operation: Operation,
    /// The project ID of a recognised operation (percent-decoded).
    pub project_id: Option<String>,
    /// The task ID of a recognised operation (percent-decoded).
    pub task_id: Option<String>,
    /// The answer's status; `None` when an injected reset closed the
    /// connection without one.
    pub status: Option<StatusCode>,
    /// The answer's body parsed as JSON; `None` when there was none or it was
    /// not JSON (an injected malformed body).
    pub response_body: Option<Value>,
    /// The answer's `X-Request-Id`.
    pub request_id: Option<String>,
    /// Whether an injected [`Fault`](crate::Fault) shaped the answer.
    pub fault_injected: bool,
    /// When the request was answered, since the service was created.
    pub elapsed: Duration,
}

impl JournalEntry {
    /// Whether this is `operation` on `task_id` (in any project). List and
    /// Create name no task in their path, so they never match.
    pub fn is_of(&self, operation: Operation, task_id: &str) -> bool {
        self.operation == operation && self.task_id.as_deref() == Some(task_id)
    }

    /// Whether this is a StopBatchTask of `task_id` (in any project).
    pub fn is_stop_of(&self, task_id: &str) -> bool {
        self.is_of(Operation::StopBatchTask, task_id)
    }

    /// Whether this is a ShowBatchTask of `task_id` (in any project).
    pub fn is_show_of(&self, task_id: &str) -> bool {
        self.is_of(Operation::ShowBatchTask, task_id)
    }

    /// Whether this is a RetryBatchTask of `task_id` (in any project).
    pub fn is_retry_of(&self, task_id: &str) -> bool {
        self.is_of(Operation::RetryBatchTask, task_id)
    }

    /// Whether this is a ConfirmBatchTask of `task_id` (in any project).
    pub fn is_confirm_of(&self, task_id: &str) -> bool {
        self.is_of(Operation::ConfirmBatchTask, task_id)
    }

    /// Whether this is a DeleteBatchTask of `task_id` (in any project).
    pub fn is_delete_of(&self, task_id: &str) -> bool {
        self.is_of(Operation::DeleteBatchTask, task_id)
    }

    /// The device IDs a Stop, Retry or Confirm targeted, or a Create listed,
    /// in request order; `None` for a Stop, Retry or Confirm of everything
    /// (`{}`, no body, `"targets": null`), a Create without `targets`, and
    /// other requests.
    pub fn targets(&self) -> Option<Vec<String>> {
        if !self.operation.is_targeted() && self.operation != Operation::CreateBatchTask {
            return None;
        }
        let targets = self.body.as_ref()?.get("targets")?.as_array()?;
        Some(targets.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
    }

    /// The status as a number, `None` after a reset.
    pub fn status_code(&self) -> Option<u16> {
        self.status.map(|s| s.as_u16())
    }
}

/// A copy of the journal, oldest entry first; derefs to a slice.
///
/// ```
/// # use iotda_batchtask_emulator::{Journal, Operation};
/// # fn check(journal: Journal) {
/// assert_eq!(journal.matching(Operation::StopBatchTask).count(), 1);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Journal {
    entries: Vec<JournalEntry>,
    dropped: u64,
}

impl Journal {
    /// The entries of one operation, oldest first.
    pub fn matching(&self, operation: Operation) -> impl Iterator<Item = &JournalEntry> {
        self.entries.iter().filter(move |e| e.operation == operation)
    }

    /// The stops of `task_id`, oldest first.
    pub fn stops_of<'a>(&'a self, task_id: &'a str) -> impl Iterator<Item = &'a JournalEntry> {
        self.of(Operation::StopBatchTask, task_id)
    }

    /// The entries of `operation` on `task_id`, oldest first.
    pub fn of<'a>(&'a self, operation: Operation, task_id: &'a str) -> impl Iterator<Item = &'a JournalEntry> {
        self.entries.iter().filter(move |e| e.is_of(operation, task_id))
    }

    /// How many older entries were dropped to stay within
    /// [`MAX_JOURNAL_ENTRIES`] since the last clear.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The entries, oldest first.
    pub fn into_vec(self) -> Vec<JournalEntry> {
        self.entries
    }
}

impl std::ops::Deref for Journal {
    type Target = [JournalEntry];

    fn deref(&self) -> &[JournalEntry] {
        &self.entries
    }
}

impl IntoIterator for Journal {
    type Item = JournalEntry;
    type IntoIter = std::vec::IntoIter<JournalEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// The service's ring of entries. Bodies are kept as sent and parsed only
/// when the journal is read: parsing every answer on the request path cost
/// the emulator more than answering it.
#[derive(Default)]
pub(crate) struct JournalBuffer {
    entries: VecDeque<Recorded>,
    dropped: u64,
}

/// An entry as recorded: `body` and `response_body` not yet parsed.
pub(crate) struct Recorded {
    pub(crate) entry: JournalEntry,
    pub(crate) body: Option<Bytes>,
    pub(crate) response_body: Option<Bytes>,
}

impl Recorded {
    fn parsed(&self) -> JournalEntry {
        let json = |bytes: &Option<Bytes>| bytes.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        JournalEntry {
            body: json(&self.body),
            response_body: json(&self.response_body),
            ..self.entry.clone()
        }
    }
}

impl JournalBuffer {
    pub(crate) fn push(&mut self, recorded: Recorded) {
        if self.entries.len() >= MAX_JOURNAL_ENTRIES {
            self.entries.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.entries.push_back(recorded);
    }

    pub(crate) fn copy(&self) -> Journal {
        Journal {
            entries: self.entries.iter().map(Recorded::parsed).collect(),
            dropped: self.dropped,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.dropped = 0;
    }
}
