//! The stream shape of the guard and the rollout driver: a future that
//! reports events as it runs and ends with a report, polled inside the
//! stream's own polling (no task is spawned), its events queued until the
//! consumer takes them, the report last.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use futures_util::stream::Stream;
use tokio::sync::mpsc::UnboundedReceiver;

/// A future run inside a stream.
pub(crate) type Run<R> = Pin<Box<dyn Future<Output = R> + Send>>;

/// Every event `run` sends on the channel whose receiver is `rx`, in order,
/// then `end(report)`.
pub(crate) fn events<E, R>(rx: UnboundedReceiver<E>, run: Run<R>, end: fn(R) -> E) -> impl Stream<Item = E> + Send
where
    E: Send + 'static,
    R: Send + 'static,
{
    let state = State {
        run: Some(run),
        report: None,
        rx,
    };
    futures_util::stream::unfold(state, move |mut state| async move {
        let next = std::future::poll_fn(|cx| {
            // Events first: they happened before the report.
            if let Poll::Ready(Some(event)) = state.rx.poll_recv(cx) {
                return Poll::Ready(Some(event));
            }
            if let Some(run) = state.run.as_mut() {
                match run.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(report) => {
                        state.run = None;
                        state.report = Some(report);
                    }
                }
            }
            // The run has ended (and dropped its sender): what is left.
            if let Ok(event) = state.rx.try_recv() {
                return Poll::Ready(Some(event));
            }
            Poll::Ready(state.report.take().map(end))
        })
        .await;
        next.map(|event| (event, state))
    })
}

struct State<E, R> {
    run: Option<Run<R>>,
    report: Option<R>,
    rx: UnboundedReceiver<E>,
}
