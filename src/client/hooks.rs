//! The generated client's one hook: `exec` sends nothing. It hands the
//! request the generated builder made back to the library, which sends it
//! itself ([`super::wire`]) and so has the answer and what happened on the
//! wire as return values.
//!
//! progenitor's generated `send` builds the request, then calls `exec` and
//! reads the response it returns. The one way out of `send` for a value of
//! ours is [`progenitor_client::Error::UnexpectedResponse`], which keeps the
//! whole response, extensions included: `exec` returns a response with a
//! status no arm of the generated `send` matches (999: build.rs refuses a
//! spec with a `default` response or a status outside 100 to 599) carrying
//! the request as an extension, and [`handed_back`] takes it out again.
//!
//! Hence no shared state: progenitor's hooks get only `&self`, so anything a
//! hook learned would have to be written into the client and read back
//! after `send`, and progenitor's own reading of a response keeps only its
//! status and headers (`ResponseValue::from_response`).

use std::sync::Arc;

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::ResponseBuilderExt as _;

use super::generated;
use super::response::GeneratedResult;
use super::wire::{Call, Record};
use crate::error::Error;
use crate::validation::InvalidInput;

/// The status of the response that carries a request back (see the module docs).
const HANDED_BACK: u16 = 999;

/// A request the generated builder made, and its operation's ID
/// (`stop_batch_task`). An `Arc` because a response extension must be
/// `Clone` and a request is not; nothing clones it, so it is taken out whole.
#[derive(Clone)]
struct Built {
    request: Arc<reqwest::Request>,
    operation: &'static str,
}

impl ClientHooks for generated::Client {
    async fn exec(&self, request: reqwest::Request, info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        // With a URL given, reqwest does not parse a placeholder one for it.
        let url = request.url().clone();
        let built = Built {
            request: Arc::new(request),
            operation: info.operation_id,
        };
        let response = http::Response::builder()
            .status(HANDED_BACK)
            .url(url)
            .extension(built)
            .body(bytes::Bytes::new())
            .expect("999 is a status http allows (100 to 999), and nothing else can fail");
        Ok(reqwest::Response::from(response))
    }
}

/// The request a generated builder's `send` built, with its operation's ID,
/// or why it could not be built (an argument its types refuse: nothing sent).
pub(crate) fn handed_back<T>(
    sent: GeneratedResult<T>,
    call: &Call<'_>,
) -> Result<(reqwest::Request, &'static str), Error> {
    use progenitor_client::Error as G;
    match sent {
        Err(G::UnexpectedResponse(mut response)) => response
            .extensions_mut()
            .remove::<Built>()
            .and_then(|built| Some((Arc::into_inner(built.request)?, built.operation)))
            .ok_or_else(not_handed_back),
        Err(G::InvalidRequest(message)) => Err(InvalidInput::new("request", message).into()),
        // reqwest could not build the request (a URL it refuses, say).
        Err(G::CommunicationError(e)) => Err(call.transport_error(e, &Record::default())),
        _ => Err(not_handed_back()),
    }
}

/// Only if the generated `send` read the hook's response as an answer, which
/// build.rs rules out: an error rather than a panic all the same.
fn not_handed_back() -> Error {
    InvalidInput::new("request", "was not handed back by the generated client").into()
}
