//! A loopback Huawei Cloud IoTDA emulator for the batch-task API, for
//! integration tests and demos: LocalStack for `iotda-batchtask`.
//!
//! It serves, with Huawei's documented state rules,
//!
//! - `POST /v5/iot/{project_id}/batchtasks/{task_id}/stop` (StopBatchTask):
//!   `{}` stops every Processing, Waitting and FailWaitRetry sub-task; a
//!   target list is answered per target; once nothing is left to run, the
//!   task is Stopped (or first Stopping, see
//!   [`EmulatorConfig::stopping_reads`]);
//! - `POST .../retry` (RetryBatchTask): Fail, FailWaitRetry and Stopped
//!   sub-tasks run again (Processing); refused while the task is Success,
//!   Stopped, Stopping, Waitting or Initializing;
//! - `POST .../confirm` (ConfirmBatchTask): the Waitting sub-tasks of a task
//!   created with `need_confirm` are dispatched (Processing);
//! - `GET /v5/iot/{project_id}/batchtasks/{task_id}` (ShowBatchTask), with
//!   its filters and marker/offset paging;
//! - `GET /v5/iot/{project_id}/batchtasks` (ListBatchTasks): `task_type`
//!   (required), `status`, `app_id`, marker/offset paging, newest first;
//! - `POST /v5/iot/{project_id}/batchtasks` (CreateBatchTask): the body
//!   checked against the spec, at most [`DEFAULT_MAX_RUNNING_TASKS`] (10)
//!   running tasks per project and 30,000 sub-tasks per task;
//! - `DELETE /v5/iot/{project_id}/batchtasks/{task_id}` (DeleteBatchTask):
//!   finished tasks only,
//!
//! over tasks from a [`Seed`] (JSON, or [`Seed::demo`]), behind the API
//! gateway's authentication: AK/SK signatures (plain and derived, verified
//! by [`iotda_batchtask_signing`], the crate the client signs with) and IAM tokens.
//! Errors have Huawei's codes and body shapes, and every response carries a
//! unique `X-Request-Id`.
//!
//! All handling is in [`Service::respond`], a synchronous function without
//! I/O; [`Emulator`] runs it behind an HTTP/1 server on `127.0.0.1`.
//!
//! ```
//! use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, TaskDetailStatus};
//! use iotda_batchtask::{Client, Credentials};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::start(EmulatorConfig::new().ak_sk("HPUAEXAMPLEAK0000001", "example-secret-key")).await?;
//! let client = Client::builder(emulator.base_url())
//!     .project_id(DEMO_PROJECT_ID)
//!     .credentials(Credentials::ak_sk("HPUAEXAMPLEAK0000001", "example-secret-key"))
//!     .region("cn-north-4")
//!     .build()?;
//!
//! let out = client.stop_batch_task(DEMO_TASK_ID).targets(["dev-0001", "dev-9999"]).send().await?;
//! assert_eq!(out.succeeded().count(), 1); // dev-9999 is not in the task: IOTDA.014219
//! let task = emulator.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
//! assert_eq!(task.subtasks["dev-0001"], TaskDetailStatus::Stopped);
//!
//! // What the client sent, and how it was answered.
//! let journal = emulator.journal();
//! let stop = journal.stops_of(DEMO_TASK_ID).next().expect("one stop");
//! assert_eq!(stop.targets(), Some(vec!["dev-0001".to_owned(), "dev-9999".to_owned()]));
//! assert_eq!(stop.status_code(), Some(200));
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # As a test double
//! - **Journal**: every answered request is recorded as a [`JournalEntry`]
//!   (method, path, query, JSON body, [`AuthMode`] without secrets,
//!   `Instance-Id`, operation, status, JSON answer, request ID, time);
//!   [`Service::journal`] returns a [`Journal`], at most
//!   [`MAX_JOURNAL_ENTRIES`] (10,000) entries, oldest dropped first.
//! - **Faults**: [`Service::inject`] adds a [`Fault`] rule (an error
//!   status, a delay, a reset, a malformed body, or "process, then fail")
//!   matched by operation, task, count or position; see [`Fault`] for
//!   precedence. The [`Service`] decides ([`Service::decide`] returns a
//!   [`Decision`]); the server carries out delays and resets.
//! - **Live state**: [`Service::set_sub_task`],
//!   [`Service::finish_sub_task`], [`Service::add_sub_task`] and
//!   [`Service::set_task_status`] change tasks mid-test; an unknown
//!   task or device is a [`StateError`] naming it.
//!
//! # Slow and hostile clients
//! Each connection must deliver each request head within
//! [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s, counted from its opening or its
//! previous response, so idle keep-alive connections are closed too) and
//! each body within 10 s; it buffers at most [`MAX_CONNECTION_BUFFER_BYTES`]
//! (64 KiB) of head, plus a body of at most [`MAX_BODY_BYTES`]. At most
//! [`DEFAULT_MAX_CONNECTIONS`] (256) connections are served at once; one more
//! is accepted and closed at once, so the clients already connected stay
//! served. [`EmulatorConfig::header_read_timeout`] and
//! [`EmulatorConfig::max_connections`] change the defaults.
//!
//! # Assumptions where Huawei documents nothing
//! The full list, with the answers, is in `docs/emulator.md`; in short:
//! - Task-level refusals of Stop, Retry and Confirm (a task type or status
//!   the operation does not accept; a confirm of a task without
//!   `need_confirm`), more than 100 or zero targets, and a target that is
//!   not a device ID: `400 IOTDA.000006` with a message naming the reason.
//! - A target whose sub-task is in a status the operation does not act on:
//!   a `failure` entry with `IOTDA.000006`, naming the state.
//! - Repeated targets are answered once, at their first position; results
//!   follow request order; `{}` lists every sub-task it acted on.
//! - A stop takes effect at once; when no sub-task is left in Processing,
//!   Waitting or FailWaitRetry, the task becomes Stopped, after
//!   [`EmulatorConfig::stopping_reads`] reads in `Stopping` (default none).
//! - Retried and confirmed sub-tasks become Processing, and so does their
//!   task.
//! - The eleventh running task of a project is refused `403 IOTDA.014206`;
//!   more than 30,000 targets `400 IOTDA.000006`; deleting an unfinished
//!   task `403 IOTDA.014221`.
//! - An empty body, or `"targets": null`, is treated like `{}`; an empty
//!   body may come without `Content-Type`.
//! - A stale or future `X-Sdk-Date`, a missing date, an unsigned `host` or
//!   `X-Security-Token`, or a wrong derived scope are all `verify aksk
//!   signature fail`, followed by a short clarification.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod auth;
mod config;
mod confirm;
mod create;
mod delete;
mod demo;
mod fault;
mod identity;
mod journal;
mod list;
mod page;
mod progression;
mod reply;
mod request_id;
mod retry;
mod seed;
mod server;
mod service;
mod show;
mod state;
mod stop;
mod targets;

use std::net::SocketAddr;

pub use config::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CLOCK_SKEW, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RUNNING_TASKS, DEFAULT_REGION, EmulatorConfig, MAX_BODY_BYTES, MAX_CONNECTION_BUFFER_BYTES,
};
pub use demo::{
    DEMO_CONFIRM_TASK_ID, DEMO_CREATE_DEVICES_TASK_ID, DEMO_DEVICE_COUNT, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID,
    DEMO_PROJECT_ID, DEMO_TASK_ID, demo_device_id, demo_subtask_status,
};
pub use fault::{Decision, Fault, FaultAction, MAX_FAULT_RULES};
pub use journal::{AuthMode, Journal, JournalEntry, MAX_JOURNAL_ENTRIES, Operation};
pub use progression::{AutoRetry, MAX_PATTERN_LEN, Progression, Selection};
pub use seed::{MAX_SEED_BYTES, Seed, SeedError, SeedTask, Stoppable, TaskDetailStatus, TaskStatus, TaskType};
pub use server::{Emulator, EmulatorHandle, shutdown_signal};
pub use service::{Service, TooManyFaults};
pub use state::{MAX_SUB_TASKS, MAX_TASKS, StateError, TaskSnapshot};
/// The crates of [`Service::respond`]'s request and response types, at the
/// versions it uses, so a test driving it needs no version matching of its own.
pub use {bytes, http};

use iotda_batchtask::validation::InvalidInput;

/// Why an emulator could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listen address is not loopback and
    /// [`EmulatorConfig::allow_non_loopback`] was not set.
    #[error(
        "refusing to listen on {addr}: not a loopback address (the emulator speaks plain HTTP and \
         accepts test credentials); use 127.0.0.1, or allow non-loopback addresses explicitly"
    )]
    NonLoopback {
        /// The refused address.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is invalid (region, access key pair or token).
    #[error("invalid emulator configuration: {0}")]
    Config(#[from] InvalidInput),
    /// The server failed while running.
    #[error("the emulator's server failed: {0}")]
    Serve(#[source] std::io::Error),
}
