//! The HTTP server around [`Service`]: binds, reads bodies (capped), and
//! hands each request to [`Service::respond`].

use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::CONTENT_LENGTH;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::EmulatorError;
use crate::config::{EmulatorConfig, MAX_BODY_BYTES};
use crate::seed::Seed;
use crate::service::Service;
use crate::state::TaskSnapshot;

/// How long shutting down waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a request body may take to arrive: a client that declares a body
/// and stalls must not hold a connection (and a shutdown) forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts emulators. See the [module documentation](super) for an example.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds `config`'s address and serves on the current tokio runtime until
    /// the returned handle is shut down or dropped.
    ///
    /// Fails on a non-loopback address unless
    /// [`EmulatorConfig::allow_non_loopback`] is set, when the address cannot
    /// be bound, or when the configuration is invalid.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        let service = Arc::new(Service::new(&config)?);
        let listener = bind(&config).await?;
        let addr = local_addr(&listener, config.listen)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(Arc::clone(&service));
        let task = tokio::spawn(async move {
            // A dropped sender also resolves `stopped`, so dropping the
            // handle shuts the server down too. Serve errors have nowhere to
            // go once detached; the server simply ends.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(EmulatorHandle {
            addr,
            service,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Binds, calls `on_listening` with the bound address (e.g. to print
    /// `listening on http://ADDR`), then serves until `shutdown` resolves
    /// and in-flight requests finish, waiting for them at most 5 seconds.
    /// For a command-line tool, pass [`shutdown_signal()`].
    ///
    /// ```no_run
    /// use iotda_batchtask_emulator::{Emulator, EmulatorConfig, shutdown_signal};
    ///
    /// # async fn run() -> Result<(), iotda_batchtask_emulator::EmulatorError> {
    /// Emulator::serve_until(EmulatorConfig::new().auth_enabled(false), shutdown_signal(), |addr| {
    ///     println!("listening on http://{addr}");
    /// })
    /// .await
    /// # }
    /// ```
    pub async fn serve_until<F, L>(config: EmulatorConfig, shutdown: F, on_listening: L) -> Result<(), EmulatorError>
    where
        F: Future<Output = ()> + Send + 'static,
        L: FnOnce(SocketAddr),
    {
        let service = Arc::new(Service::new(&config)?);
        let listener = bind(&config).await?;
        on_listening(local_addr(&listener, config.listen)?);
        let (fired, grace) = oneshot::channel::<()>();
        let server = axum::serve(listener, router(service)).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = fired.send(());
        });
        tokio::select! {
            served = server.into_future() => served.map_err(EmulatorError::Serve),
            // Connections still open after the grace period are dropped with the runtime.
            () = async {
                match grace.await {
                    Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
                    Err(_) => std::future::pending().await,
                }
            } => Ok(()),
        }
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: the shutdown future for
/// [`Emulator::serve_until`] in a command-line tool.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, wait forever rather than stop
        // at once; SIGTERM (or killing the process) still ends it.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A running emulator. Dropping it stops the server (gracefully, in the
/// background); [`EmulatorHandle::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    service: Arc<Service>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://ADDR`, e.g. `http://127.0.0.1:40123`: the endpoint to give a
    /// [`Client`](iotda_batchtask::Client).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of one task, or `None` if there is no such task.
    pub fn task(&self, project_id: &str, task_id: &str) -> Option<TaskSnapshot> {
        self.service.task(project_id, task_id)
    }

    /// Every task's current state, in the seed's shape.
    pub fn snapshot(&self) -> Seed {
        self.service.snapshot()
    }

    /// How many requests were answered, whatever the outcome.
    pub fn request_count(&self) -> u64 {
        self.service.request_count()
    }

    /// The service answering the requests.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits
    /// for the server to end, at most 5 seconds; connections still open then
    /// end with the runtime, or when their client or the body-read timeout
    /// gives up.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn bind(config: &EmulatorConfig) -> Result<TcpListener, EmulatorError> {
    let addr = config.listen;
    if !config.allow_non_loopback && !addr.ip().is_loopback() {
        return Err(EmulatorError::NonLoopback { addr });
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, requested: SocketAddr) -> Result<SocketAddr, EmulatorError> {
    listener.local_addr().map_err(|source| EmulatorError::Bind {
        addr: requested,
        source,
    })
}

fn router(service: Arc<Service>) -> Router {
    Router::new().fallback(handle).with_state(service)
}

/// Reads the body (at most [`MAX_BODY_BYTES`]) and answers with
/// [`Service::respond`]; everything else happens there.
async fn handle(State(service): State<Arc<Service>>, request: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let declared_too_large = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let response = if declared_too_large {
        service.reject_body(&parts, true)
    } else {
        match tokio::time::timeout(BODY_READ_TIMEOUT, read_capped(body, MAX_BODY_BYTES)).await {
            Ok(Ok(bytes)) => service.respond(http::Request::from_parts(parts, bytes)),
            Ok(Err(too_large)) => service.reject_body(&parts, too_large),
            Err(_) => service.reject_body(&parts, false),
        }
    };
    response.map(Body::from)
}

/// The body's bytes, or `Err(true)` past `max` bytes, `Err(false)` when it
/// could not be read.
async fn read_capped(body: Body, max: usize) -> Result<Bytes, bool> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| false)?;
        if buf.len().saturating_add(chunk.len()) > max {
            return Err(true);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
