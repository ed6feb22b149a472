//! A fault-injecting proxy for tests: it forwards each request to an
//! upstream (the emulator) and then, for stop requests (POSTs), may lose the
//! answer the way gateways and networks do. Shared by the library's and the
//! CLI's test binaries; every listener is on 127.0.0.1.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

use crate::common::read_request;

/// The request timeout the tests give clients, which `LateAnswer` outwaits.
/// Every read that settles a lost answer must finish within it, so it is
/// generous: at 400 ms, reads on a 2-core machine at load 10 ran out and left
/// targets unknown (a failure of the machine, reported as one of the code).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What the proxy does with a stop request (a POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward, answer as the emulator did.
    None,
    /// Forward, then answer 503 with an HTML page (the stop happened).
    ServiceUnavailableAfter,
    /// Forward, then close the connection unanswered.
    ResetAfter,
    /// Forward, then answer only after the client's request timeout.
    LateAnswer,
    /// Forward, then answer 200 with a body that is not JSON.
    GarbageAfter,
    /// Answer 503 without forwarding (the stop did not happen).
    ServiceUnavailableBefore,
}

/// Which stop requests get the fault: the first `count` (`usize::MAX`: all).
pub struct Plan {
    fault: Fault,
    count: usize,
    stops_seen: AtomicUsize,
}

impl Plan {
    /// `fault` on the first `count` stop requests (`usize::MAX`: all).
    pub fn new(fault: Fault, count: usize) -> Self {
        Self {
            fault,
            count,
            stops_seen: AtomicUsize::new(0),
        }
    }

    /// Stop requests seen so far.
    pub fn stops_seen(&self) -> usize {
        self.stops_seen.load(Ordering::SeqCst)
    }
}

/// A loopback proxy in front of `upstream`, applying `plan` to stop requests.
pub async fn proxy(upstream: std::net::SocketAddr, plan: Arc<Plan>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve_connection(client, upstream, plan.clone()));
        }
    });
    format!("http://{addr}")
}

async fn serve_connection(mut client: TcpStream, upstream: std::net::SocketAddr, plan: Arc<Plan>) {
    loop {
        let request = read_request(&mut client).await;
        if request.is_empty() {
            return;
        }
        let fault = if request.starts_with(b"POST ") {
            let n = plan.stops_seen.fetch_add(1, Ordering::SeqCst);
            if n < plan.count { plan.fault } else { Fault::None }
        } else {
            Fault::None
        };
        if fault == Fault::ServiceUnavailableBefore {
            let _ = client.write_all(unavailable().as_bytes()).await;
            continue;
        }
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        if server.write_all(&request).await.is_err() {
            return;
        }
        // The same framing as a request: a head, then a `content-length` body.
        let answer = read_request(&mut server).await;
        match fault {
            Fault::None => {
                if client.write_all(&answer).await.is_err() {
                    return;
                }
            }
            Fault::ServiceUnavailableAfter => {
                let _ = client.write_all(unavailable().as_bytes()).await;
            }
            Fault::ResetAfter => {
                let _ = client.set_zero_linger();
                return;
            }
            Fault::LateAnswer => {
                tokio::time::sleep(REQUEST_TIMEOUT * 3).await;
                let _ = client.write_all(&answer).await;
                return;
            }
            Fault::GarbageAfter => {
                let body = "<<not json>>";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: rid-garbage\r\n\r\n",
                    body.len()
                );
                let _ = client.write_all((head + body).as_bytes()).await;
            }
            Fault::ServiceUnavailableBefore => unreachable!("answered above"),
        }
    }
}

fn unavailable() -> String {
    let body = "<html><body>503 Service Temporarily Unavailable</body></html>";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: {}\r\nx-request-id: rid-503\r\n\r\n{body}",
        body.len()
    )
}
