//! The one send path of the seven operations: a fresh generated client for
//! the call (its own record of the wire), the project ID, the generated
//! builder's `send` completed within the call's deadline into one result
//! and every request ID its attempts received, a debug line, all inside the
//! operation's span. `Instance-Id` and authentication are added by the hooks
//! to every request, so no operation sets them. Operation files keep only
//! what differs: validation, their query or body, and how a lost answer is
//! settled.
//!
//! A macro, not a function: each generated builder is its own type,
//! borrowing the generated client it was made from.

/// `send!(client, span, "ShowBatchTask", |call| call.show_batch_task().task_id(id))`:
/// `(Result<(T, Option<request ID>), Error>, Vec<every request ID>)`.
macro_rules! send {
    ($client:expr, $span:expr, $name:literal, |$call:ident| $builder:expr) => {{
        let client: &$crate::Client = $client;
        ::tracing::Instrument::instrument(
            async {
                let $call = client.call();
                let builder = $builder.project_id(client.shared.project_id.clone());
                let (result, ids) = $crate::client::complete_with_ids(&$call, builder.send()).await;
                match &result {
                    Ok(_) => ::tracing::debug!(concat!($name, " answered")),
                    Err(e) => ::tracing::debug!(
                        error = %e,
                        ambiguous = e.may_have_been_processed(),
                        concat!($name, " failed")
                    ),
                }
                (result, ids)
            },
            $span,
        )
        .await
    }};
}
pub(crate) use send;
