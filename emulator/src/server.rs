//! The HTTP server around [`Service`]: binds, reads bodies (capped), and
//! hands each request to [`Service::respond`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::CONTENT_LENGTH;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::EmulatorError;
use crate::config::{EmulatorConfig, MAX_BODY_BYTES, MAX_CONNECTION_BUFFER_BYTES};
use crate::fault::Decision;
use crate::service::Service;

/// How long shutting down waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a request body may take to arrive: a client that declares a body
/// and stalls must not hold a connection (and a shutdown) forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long accepting pauses after an error other than a failed handshake,
/// e.g. out of file descriptors: retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

// hyper panics on a buffer cap under 8 KiB (its minimum); rule it out at compile time.
const _: () = assert!(MAX_CONNECTION_BUFFER_BYTES >= 8 * 1024);

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
        config.check_limits()?;
        let service = Arc::new(Service::new(&config)?);
        let listener = bind(&config).await?;
        let addr = local_addr(&listener, config.listen)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Arc::clone(&service);
        // A dropped sender also resolves `stopped`, so dropping the handle
        // shuts the server down too.
        let task = tokio::spawn(serve(listener, app, Limits::of(&config), async move {
            let _ = stopped.await;
        }));
        Ok(EmulatorHandle {
            addr,
            service,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Binds, polls `shutdown` once (so that signal handlers it installs are
    /// in place), calls `on_listening` with the bound address (e.g. to print
    /// `listening on http://ADDR`), then serves until `shutdown` resolves
    /// and in-flight requests finish, waiting for them at most 5 seconds;
    /// connections still open then are closed.
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
        config.check_limits()?;
        let service = Arc::new(Service::new(&config)?);
        let listener = bind(&config).await?;
        let addr = local_addr(&listener, config.listen)?;
        let mut shutdown = Box::pin(shutdown);
        // Polled once before the address is announced: a future that installs
        // signal handlers when first polled (as `shutdown_signal` does) then
        // has them in place when a script, told the address, sends SIGTERM.
        if futures_util::future::poll_immediate(&mut shutdown).await.is_some() {
            return Ok(());
        }
        on_listening(addr);
        serve(listener, service, Limits::of(&config), shutdown).await;
        Ok(())
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
///
/// It dereferences to the [`Service`] answering the requests, so the test
/// double's calls are made on it directly: `emulator.journal()`,
/// `emulator.inject(..)`, `emulator.finish_sub_task(..)`, `emulator.task(..)`.
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

    /// The service answering the requests.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits
    /// for the server to end, at most 5 seconds; connections still open then
    /// are closed.
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

impl std::ops::Deref for EmulatorHandle {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The per-connection limits from the configuration; see
/// [`EmulatorConfig::header_read_timeout`] and
/// [`EmulatorConfig::max_connections`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    max_connections: usize,
    /// Whether `/__emulator/` routes are served (checked loopback-only).
    admin: bool,
}

impl Limits {
    fn of(config: &EmulatorConfig) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            // `Semaphore::new` panics above its maximum; no machine holds that many sockets anyway.
            max_connections: config.max_connections.min(Semaphore::MAX_PERMITS),
            admin: config.admin_endpoint,
        }
    }
}

/// Accepts connections and serves `app` on each, HTTP/1 only, until
/// `shutdown` resolves; then stops accepting, lets in-flight requests finish
/// for at most [`SHUTDOWN_GRACE`], and closes whatever is still open.
///
/// Each connection must deliver each request head within
/// `limits.header_read_timeout` (counted from its opening or its previous
/// response, so idle keep-alive connections close too), buffers at most
/// [`MAX_CONNECTION_BUFFER_BYTES`] each way, and holds one of
/// `limits.max_connections` permits; a connection accepted when none is
/// left is closed at once, so the clients already connected stay served.
async fn serve<F>(listener: TcpListener, app: Arc<Service>, limits: Limits, shutdown: F)
where
    F: Future<Output = ()>,
{
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_CONNECTION_BUFFER_BYTES);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // Owns every connection's task, so that dropping this future (after the
    // grace period, or when the handle's task is aborted) closes them all.
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            // Reaps finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed; retrying in {ACCEPT_BACKOFF:?}");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            // Over the limit: closing at once frees the descriptor for the
            // connections being served, instead of queueing more work.
            drop(stream);
            continue;
        };
        let service = Arc::clone(&app);
        let admin = limits.admin;
        let per_request = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            handle(Arc::clone(&service), admin, request.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), per_request));
        connections.spawn(async move {
            // An error here is the client's (a timeout, a reset, a malformed
            // head), already answered as far as HTTP allows; nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    // Refuse new connections while the open ones finish.
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Errors of one incoming connection (it went away before it was accepted),
/// not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
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

/// An injected reset: returned to hyper as a service error, which closes
/// the connection without writing a response.
#[derive(Debug)]
struct InjectedReset;

impl std::fmt::Display for InjectedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for InjectedReset {}

/// Reads the body (at most [`MAX_BODY_BYTES`]) and answers with
/// [`Service::decide`]; everything else happens there, except carrying out
/// an injected delay or reset.
async fn handle(
    service: Arc<Service>,
    admin: bool,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, InjectedReset> {
    let (parts, body) = request.into_parts();
    let declared_too_large = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let decision = if declared_too_large {
        Decision::Respond(service.reject_body(&parts, true))
    } else {
        match tokio::time::timeout(BODY_READ_TIMEOUT, read_capped(body, MAX_BODY_BYTES)).await {
            Ok(Ok(bytes)) => {
                let admin_answer = admin.then(|| crate::admin::respond(&service, &parts, &bytes)).flatten();
                match admin_answer {
                    Some(response) => Decision::Respond(response),
                    None => service.decide(http::Request::from_parts(parts, bytes)),
                }
            }
            Ok(Err(too_large)) => Decision::Respond(service.reject_body(&parts, too_large)),
            Err(_) => Decision::Respond(service.reject_body(&parts, false)),
        }
    };
    let response = match decision {
        Decision::Respond(response) => response,
        Decision::Delay(delay, response) => {
            tokio::time::sleep(delay).await;
            response
        }
        Decision::Reset => return Err(InjectedReset),
    };
    Ok(response.map(Body::from))
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
