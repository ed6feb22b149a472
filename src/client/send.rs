//! The one send path of the seven operations. The generated builder makes
//! the request (URL, query, body, from the spec's types) and its `send`
//! hands it back unsent ([`super::hooks`]); the library finishes and
//! authenticates it, sends it with retries and failover ([`super::wire`]),
//! and reads the answer as the spec documents it ([`super::response`]). A
//! plan (`plan()`, the CLI's `--dry-run`) shows the same handed-back request
//! ([`super::plan`]), so what is planned is what is sent. The
//! answer and the record of the wire (attempts, status, every request ID)
//! are return values all the way: nothing is left in shared state to be
//! read back.
//!
//! Around it: the project ID, the request span (`iotda.request`, inside the
//! operation's span) with its status, request ID, attempts and latency, and a
//! debug line. `Instance-Id` and authentication are added to every request,
//! so no operation sets them. Operation files keep only what differs:
//! validation, their query or body, and how a lost answer is settled.

use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use super::hooks;
use super::response::{self, GeneratedResult};
use super::wire::Call;
use crate::Client;
use crate::error::Error;

/// What the spec says of an operation that its generated builder does not:
/// its name and its success. build.rs implements it for every builder.
pub(crate) trait OperationSpec {
    /// The spec's `operationId` (`StopBatchTask`).
    const NAME: &'static str;
    /// Its one documented success.
    const SUCCESS: Success;
}

/// The answer an operation documents for success.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Success {
    /// Its status (200, 201 or 204).
    pub(crate) status: u16,
    /// Whether it has a JSON body; without one the generated type is `()`.
    pub(crate) body: bool,
}

/// The name and success of `builder`'s operation.
pub(crate) fn spec_of<B: OperationSpec>(_builder: &B) -> (&'static str, Success) {
    (B::NAME, B::SUCCESS)
}

/// A request its generated builder made and handed back unsent (see
/// [`super::hooks`]), or why it could not be made, with its operation's
/// name and success: what [`run`] sends and what a plan shows
/// (`Client::planned`). `T` is the generated type of the operation's
/// documented answer.
pub(crate) struct Built<T> {
    pub(crate) spec: (&'static str, Success),
    pub(crate) sent: GeneratedResult<T>,
}

/// `build!(client, |call| call.show_batch_task().task_id(id))`: the
/// [`Built`] request of that builder, on the endpoint in use, for the
/// client's project. Nothing is sent: the generated `send` ends in the hook
/// that hands the request back.
///
/// A macro, not a function: each generated builder is its own type,
/// borrowing the generated client it was made from (`call`).
macro_rules! build {
    ($client:expr, |$call:ident| $builder:expr) => {{
        let client: &$crate::Client = $client;
        let $call = client.call();
        let builder = $builder.project_id(client.shared.project_id.clone());
        $crate::client::send::Built {
            spec: $crate::client::send::spec_of(&builder),
            sent: builder.send().await,
        }
    }};
}
pub(crate) use build;

/// `send!(client, span, |call| call.show_batch_task().task_id(id))`:
/// [`build!`] and [`run`] in `span`:
/// `(Result<(T, Option<request ID>), Error>, Vec<every request ID>)`.
macro_rules! send {
    ($client:expr, $span:expr, |$call:ident| $builder:expr) => {{
        let client: &$crate::Client = $client;
        let built = async { $crate::client::send::build!(client, |$call| $builder) };
        ::tracing::Instrument::instrument($crate::client::send::run(client, built), $span).await
    }};
}
pub(crate) use send;

/// Sends the request `built` makes and reads the answer as `T`, with every
/// request ID its attempts received (a retried 429's included) for reports
/// that must keep them all.
pub(crate) async fn run<T: DeserializeOwned>(
    client: &Client,
    built: impl Future<Output = Built<T>>,
) -> (Result<(T, Option<String>), Error>, Vec<String>) {
    // No timer of its own: the wire gives every attempt a timeout that ends
    // at the call's deadline at the latest, never starts a retry that would
    // end after it, and bounds a credentials provider by it. One timer per
    // attempt, not two, is measurably cheaper on a fast network.
    let call = Call::new(&client.shared);
    let Built {
        spec: (name, success),
        sent,
    } = built.await;
    let (result, request_ids) = match hooks::handed_back(sent, &call) {
        Ok((request, operation)) => exchange(&call, request, operation, success).await,
        Err(error) => (Err(error), Vec::new()),
    };
    match &result {
        Ok(_) => tracing::debug!("{name} answered"),
        Err(e) => tracing::debug!(error = %e, ambiguous = e.may_have_been_processed(), "{name} failed"),
    }
    (result, request_ids)
}

/// One request of `operation` from preparing it to reading its answer, in
/// its request span.
async fn exchange<T: DeserializeOwned>(
    call: &Call<'_>,
    mut request: reqwest::Request,
    operation: &'static str,
    success: Success,
) -> (Result<(T, Option<String>), Error>, Vec<String>) {
    let span = tracing::info_span!(
        target: "iotda_batchtask::client",
        "iotda.request",
        operation,
        method = %request.method(),
        status = tracing::field::Empty,
        request_id = tracing::field::Empty,
        attempts = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let (answer, record) = match call.prepare(&mut request).await {
        Ok(()) => call.execute(request).instrument(span.clone()).await,
        Err(error) => (Err(error), Default::default()),
    };
    span.record("attempts", record.attempts);
    span.record("latency_ms", call.started.elapsed().as_millis() as u64);
    if let Some(status) = record.status {
        span.record("status", status);
    }
    if let Some(id) = &record.request_id {
        span.record("request_id", id.as_str());
    }
    let result = answer.and_then(|answer| response::read(answer, &record, success));
    (result, record.request_ids)
}
