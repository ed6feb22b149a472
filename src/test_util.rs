//! Constructors for downstream tests (feature `test-util`, not default).
//!
//! A crate that calls this one can test its own handling of every result
//! without a server: a [`TargetsReport`] (stop, retry, confirm) with any mix
//! of outcomes, a [`ShowOutput`](crate::ShowOutput) from a generated
//! [`BatchTask`](crate::types::BatchTask), a [`ListOutput`](crate::ListOutput)
//! from generated [`Tasks`](crate::types::Tasks), and each kind of [`Error`].
//! [`CreateOutcome`](crate::CreateOutcome) and
//! [`DeleteOutcome`](crate::DeleteOutcome) are public enums and need no
//! constructor. Enable
//! the feature in `[dev-dependencies]` only:
//!
//! ```toml
//! [dev-dependencies]
//! iotda-batchtask = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! Values built here are the same types the client returns; nothing marks
//! them as built for tests. The outcome pieces ([`TargetOutcome`] and the
//! enums in [`outcome`](crate::outcome)) are public enums and need no
//! constructor; [`Unknown::Error`] and [`Failed::Refused`] take an
//! `Arc<Error>` built with the constructors on [`Error`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use iotda_batchtask::outcome::Unknown;
//! use iotda_batchtask::{Error, TargetOutcome, TargetsReport, TimeoutKind};
//!
//! let lost = Error::timeout(TimeoutKind::Request, Duration::from_secs(30), 1, None);
//! let report = TargetsReport::builder()
//!     .succeeded("dev-1", Some("rid-1"))
//!     .failed("dev-2", "IOTDA.014219", "The target is not in the task", Some("rid-1"))
//!     .result("dev-3", TargetOutcome::Unknown(Unknown::Error(Arc::new(lost))))
//!     .request_id("rid-1")
//!     .build();
//! assert_eq!(report.succeeded().count(), 1);
//! assert_eq!(report.unknown().count(), 1);
//! assert!(!report.all_succeeded());
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ApiError, Error, TimeoutKind};
use crate::outcome::{Failed, Succeeded, TargetOutcome, TargetResult, TargetsReport, Unknown};
use crate::types::{BatchTargetResult, TaskStatus};

impl TargetsReport {
    /// Starts a report for a test (feature `test-util`); see [`TargetsReportBuilder`].
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn builder() -> TargetsReportBuilder {
        TargetsReportBuilder::default()
    }
}

/// Builds a [`TargetsReport`] for a test (feature `test-util`); from
/// [`TargetsReport::builder`].
///
/// Results keep the order they are added in, as a real report keeps the
/// order the targets were named. [`requests_sent`](Self::requests_sent)
/// defaults to 1 when any result was added, else 0; every other count
/// defaults to 0.
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[derive(Debug, Clone, Default)]
#[must_use = "call .build() to get the report"]
pub struct TargetsReportBuilder {
    report: TargetsReport,
    requests_sent: Option<usize>,
}

impl TargetsReportBuilder {
    /// Adds one target's result.
    pub fn result(mut self, target: impl Into<String>, outcome: TargetOutcome) -> Self {
        self.report.results.push(TargetResult {
            target: target.into(),
            outcome,
        });
        self
    }

    /// Adds results, in order.
    pub fn results(mut self, results: impl IntoIterator<Item = TargetResult>) -> Self {
        self.report.results.extend(results);
        self
    }

    /// Adds a target the server answered `success` for
    /// ([`Succeeded::Answered`]).
    pub fn succeeded(self, target: impl Into<String>, request_id: Option<&str>) -> Self {
        self.result(
            target,
            TargetOutcome::Succeeded(Succeeded::Answered {
                request_id: request_id.map(Arc::from),
            }),
        )
    }

    /// Adds a target the server answered `failure` for, with Huawei's code
    /// and message ([`Failed::Answered`]).
    pub fn failed(
        self,
        target: impl Into<String>,
        error_code: impl Into<String>,
        error_msg: impl Into<String>,
        request_id: Option<&str>,
    ) -> Self {
        self.result(
            target,
            TargetOutcome::Failed(Failed::Answered {
                error_code: Some(error_code.into()),
                error_msg: Some(error_msg.into()),
                request_id: request_id.map(Arc::from),
            }),
        )
    }

    /// Adds a target whose outcome is unknown because of `error`
    /// ([`Unknown::Error`]).
    pub fn unknown(self, target: impl Into<String>, error: Error) -> Self {
        self.result(target, TargetOutcome::Unknown(Unknown::Error(Arc::new(error))))
    }

    /// Adds a target never sent ([`TargetOutcome::NotAttempted`]).
    pub fn not_attempted(self, target: impl Into<String>) -> Self {
        self.result(target, TargetOutcome::NotAttempted)
    }

    /// Adds a request ID received ([`TargetsReport::request_ids`]).
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.report.request_ids.push(request_id.into());
        self
    }

    /// Sets [`TargetsReport::requests_sent`].
    pub fn requests_sent(mut self, requests: usize) -> Self {
        self.requests_sent = Some(requests);
        self
    }

    /// Sets [`TargetsReport::reads`].
    pub fn reads(mut self, reads: usize) -> Self {
        self.report.reads = reads;
        self
    }

    /// Sets [`TargetsReport::duplicates_dropped`].
    pub fn duplicates_dropped(mut self, dropped: usize) -> Self {
        self.report.duplicates_dropped = dropped;
        self
    }

    /// Sets [`TargetsReport::cancelled`].
    pub fn cancelled(mut self, cancelled: bool) -> Self {
        self.report.cancelled = cancelled;
        self
    }

    /// Adds an answer for a target that was not asked for
    /// ([`TargetsReport::unexpected`]).
    pub fn unexpected(mut self, answer: BatchTargetResult) -> Self {
        self.report.unexpected.push(answer);
        self
    }

    /// Sets [`TargetsReport::task_status`] (the task's status read after a
    /// lost `all()` answer) and, as a stop's read judges it,
    /// [`TargetsReport::applied`] (`Stopping` or `Stopped`); for a retry or
    /// confirm, set [`applied`](Self::applied) after this.
    pub fn task_status(mut self, status: impl Into<String>) -> Self {
        let status = status.into();
        let stopped = [TaskStatus::Stopping, TaskStatus::Stopped].map(TaskStatus::as_str);
        self.report.applied = Some(stopped.contains(&status.as_str()));
        self.report.task_status = Some(status);
        self
    }

    /// Sets [`TargetsReport::applied`] (whether a read after a lost `all()`
    /// answer showed the call applied).
    pub fn applied(mut self, applied: bool) -> Self {
        self.report.applied = Some(applied);
        self
    }

    /// The report.
    pub fn build(self) -> TargetsReport {
        let mut report = self.report;
        report.requests_sent = self.requests_sent.unwrap_or(usize::from(!report.results.is_empty()));
        report
    }
}

impl ApiError {
    /// Starts an API error with this HTTP status, for a test (feature
    /// `test-util`); see [`ApiErrorBuilder`].
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn builder(status: u16) -> ApiErrorBuilder {
        ApiErrorBuilder {
            error: ApiError {
                status,
                error_code: None,
                error_msg: None,
                request_id: None,
                body: None,
                attempts: 1,
            },
        }
    }
}

/// Builds an [`ApiError`] for a test (feature `test-util`); from
/// [`ApiError::builder`]. Unset fields are `None`; `attempts` is 1.
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[derive(Debug, Clone)]
#[must_use = "call .build() or .into_error()"]
pub struct ApiErrorBuilder {
    error: ApiError,
}

impl ApiErrorBuilder {
    /// Huawei's error code, e.g. `IOTDA.014200`.
    pub fn error_code(mut self, code: impl Into<String>) -> Self {
        self.error.error_code = Some(code.into());
        self
    }

    /// Huawei's error message.
    pub fn error_msg(mut self, msg: impl Into<String>) -> Self {
        self.error.error_msg = Some(msg.into());
        self
    }

    /// The `X-Request-Id`.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.error.request_id = Some(request_id.into());
        self
    }

    /// A body without error code or message (an HTML page from a proxy, say).
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.error.body = Some(body.into());
        self
    }

    /// Attempts made (default 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.error.attempts = attempts;
        self
    }

    /// The API error.
    pub fn build(self) -> ApiError {
        self.error
    }

    /// The API error as an [`Error::Api`].
    pub fn into_error(self) -> Error {
        Error::Api(Box::new(self.error))
    }
}

/// Constructors of each kind of error, for tests (feature `test-util`).
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
impl Error {
    /// An [`Error::Api`] with Huawei's code and message, one attempt. For
    /// the other fields, use [`ApiError::builder`].
    pub fn api(
        status: u16,
        error_code: impl Into<String>,
        error_msg: impl Into<String>,
        request_id: Option<&str>,
    ) -> Self {
        let builder = ApiError::builder(status).error_code(error_code).error_msg(error_msg);
        match request_id {
            Some(id) => builder.request_id(id),
            None => builder,
        }
        .into_error()
    }

    /// An [`Error::Transport`] without an underlying error. It counts as a
    /// connection broken after sending: [`may_have_been_processed`](Self::may_have_been_processed)
    /// is `true` and [`is_retryable`](Self::is_retryable) `false`. (A refused
    /// connection needs a `reqwest::Error` and cannot be built here.)
    pub fn transport(message: impl Into<String>, attempts: u32, request_id: Option<&str>) -> Self {
        Self::Transport {
            message: message.into(),
            attempts,
            request_id: request_id.map(str::to_owned),
            source: None,
        }
    }

    /// An [`Error::Timeout`] of the given kind.
    pub fn timeout(limit: TimeoutKind, elapsed: Duration, attempts: u32, request_id: Option<&str>) -> Self {
        Self::Timeout {
            limit,
            elapsed,
            attempts,
            request_id: request_id.map(str::to_owned),
        }
    }

    /// An [`Error::Decode`]: a success status whose body is not the
    /// documented shape.
    pub fn decode(status: u16, message: impl Into<String>, body: impl Into<String>, request_id: Option<&str>) -> Self {
        Self::Decode {
            status,
            message: message.into(),
            request_id: request_id.map(str::to_owned),
            body: body.into(),
        }
    }

    /// An [`Error::ResponseTooLarge`] for a body over `limit` bytes.
    pub fn response_too_large(status: u16, limit: usize, request_id: Option<&str>) -> Self {
        Self::ResponseTooLarge {
            status,
            limit,
            request_id: request_id.map(str::to_owned),
        }
    }
}
