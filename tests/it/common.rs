//! Shared fixtures for the integration tests. Every server is started by the
//! test itself on 127.0.0.1.
#![allow(dead_code)]

use iotda_batchtask::{Client, Credentials, Signing};

pub const PROJECT: &str = "0123456789abcdef0123456789abcdef";
pub const TASK: &str = "61a5f4cbd86b7a1d1c2f3e4a";
pub const INSTANCE: &str = "1a7ffc5c-d89c-44dd-8265-b1653d951ce0";
pub const AK: &str = "HPUAEXAMPLEAK0000001";
pub const SK: &str = "ExampleSecretKeyDoNotUse0000000000000000";
pub const TOKEN: &str = "MIIDkgYJKoZIhvcNAQcCoIIDgzEXAMPLETOKEN";
pub const SECURITY_TOKEN: &str = "EXAMPLE-SECURITY-TOKEN-VALUE";
pub const STOP_PATH: &str = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a/stop";

/// The seed page's 200 example.
pub const SEED_RESPONSE: &str = r#"{
  "targets" : [ {
    "target" : "e495cf17-ff79-4294-8f64-4d367919d665",
    "status" : "failure",
    "error_code" : "IOTDA.014219",
    "error_msg" : "Invalid input. The target is not in the task"
  }, {
    "target" : "e495cf17-ff79-4294-8f64-4d367919d677",
    "status" : "success"
  } ]
}"#;

/// The three auth modes the platform accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Token,
    Plain,
    Derived,
}

pub const MODES: [Mode; 3] = [Mode::Token, Mode::Plain, Mode::Derived];

pub fn client(endpoint: &str, mode: Mode) -> Client {
    let builder = Client::builder(endpoint).project_id(PROJECT).instance_id(INSTANCE);
    let builder = match mode {
        Mode::Token => builder.credentials(Credentials::token(TOKEN)),
        Mode::Plain => builder.credentials(Credentials::ak_sk(AK, SK)).signing(Signing::Plain),
        Mode::Derived => builder
            .credentials(Credentials::ak_sk(AK, SK))
            .signing(Signing::Derived)
            .region("cn-north-4"),
    };
    builder.build().expect("valid test client")
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) from a raw
/// socket; empty once the client closes.
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::io::AsyncReadExt::read(stream, &mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
    }
}

/// An emulator on its own runtime, so a test can block (on a child process,
/// say) while the emulator keeps serving.
pub struct Running {
    pub handle: iotda_batchtask_emulator::EmulatorHandle,
    _runtime: tokio::runtime::Runtime,
}

pub fn start(config: iotda_batchtask_emulator::EmulatorConfig) -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = runtime
        .block_on(iotda_batchtask_emulator::Emulator::start(config))
        .expect("emulator");
    Running {
        handle,
        _runtime: runtime,
    }
}

/// The forged answer [`FakeProxy`] gives: what a hostile proxy would say to
/// make a stop look done.
pub const FORGED_SUCCESS: &str = r#"{"targets":[{"target":"dev-1","status":"success"}]}"#;

/// A "proxy" on 127.0.0.1 that records every connection and what arrived on
/// it, and answers each with a forged 200 [`FORGED_SUCCESS`].
pub struct FakeProxy {
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// Connections accepted.
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The first bytes (up to one request) read on each connection.
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl FakeProxy {
    pub async fn start() -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, log) = (connections.clone(), received.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let log = log.clone();
                tokio::spawn(async move {
                    let request = read_request(&mut stream).await;
                    log.lock().unwrap().push(request);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{FORGED_SUCCESS}",
                        FORGED_SUCCESS.len()
                    );
                    let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, answer.as_bytes()).await;
                });
            }
        });
        Self {
            url,
            connections,
            received,
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A TCP listener on 127.0.0.1 that only counts connections (a stand-in
/// for an HTTPS server whose handshake is never completed).
pub async fn counting_listener() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}
