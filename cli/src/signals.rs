//! SIGINT (Ctrl-C) and SIGTERM (`timeout`, CI cancellation, systemd,
//! Kubernetes), handled alike: once [`install`]ed, neither ends the process
//! by itself; the command notices ([`first`]), stops what it is doing,
//! reports what it has and exits with the first signal's code
//! ([`Signal::exit`]: 130 or 143). [`second`] is for a command that keeps
//! waiting after the first (on requests in flight) and must give up then.

use std::sync::OnceLock;

use tokio::sync::watch;

use crate::Exit;

/// A signal that asks the command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, Ctrl-C (on Windows, Ctrl-C is the only one).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit code of a command stopped by this signal: 128 + its number,
    /// as a shell reports a process it killed.
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }

    /// `SIGINT` or `SIGTERM`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// What has arrived so far.
#[derive(Debug, Clone, Copy)]
struct Received {
    first: Signal,
    count: u32,
}

/// Set once by [`install`]; `None` inside until the first signal.
static RECEIVED: OnceLock<watch::Receiver<Option<Received>>> = OnceLock::new();

/// Takes over SIGINT and SIGTERM for the rest of the process. Call it once,
/// inside the runtime, before any request is sent: from then on a signal is
/// only recorded, for [`first`], [`second`] and [`received`]. A second call
/// does nothing.
///
/// # Errors
///
/// When the operating system refuses a handler; the signals then keep their
/// default effect (ending the process at once).
pub fn install() -> std::io::Result<()> {
    if RECEIVED.get().is_some() {
        return Ok(());
    }
    // The handlers are registered here, synchronously: a signal arriving
    // before the task below first runs is queued, not lost.
    let mut listener = Listener::new()?;
    let (sender, receiver) = watch::channel(None);
    tokio::spawn(async move {
        while let Some(signal) = listener.recv().await {
            sender.send_modify(|received: &mut Option<Received>| {
                let received = received.get_or_insert(Received {
                    first: signal,
                    count: 0,
                });
                received.count = received.count.saturating_add(1);
            });
        }
    });
    let _ = RECEIVED.set(receiver);
    Ok(())
}

/// Completes when the first SIGINT or SIGTERM arrives (at once if one
/// already has), with which it was. Never completes without [`install`].
pub async fn first() -> Signal {
    nth(1).await
}

/// Completes when a second signal arrives, of either kind, with the FIRST
/// signal (whose exit code the command still uses). Never completes without
/// [`install`].
pub async fn second() -> Signal {
    nth(2).await
}

/// The first signal received so far, if any.
pub fn received() -> Option<Signal> {
    RECEIVED.get().and_then(|r| r.borrow().map(|r| r.first))
}

async fn nth(n: u32) -> Signal {
    let first = match RECEIVED.get() {
        Some(receiver) => receiver
            .clone()
            .wait_for(|r| r.is_some_and(|r| r.count >= n))
            .await
            .ok()
            .and_then(|r| r.map(|r| r.first)),
        None => None,
    };
    match first {
        Some(signal) => signal,
        // Not installed, or the listener ended: no signal will be reported.
        None => std::future::pending().await,
    }
}

#[cfg(unix)]
struct Listener {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Listener {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Listener {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) -> Option<Signal> {
        tokio::select! {
            s = self.interrupt.recv() => s.map(|()| Signal::Interrupt),
            s = self.terminate.recv() => s.map(|()| Signal::Terminate),
        }
    }
}

/// Elsewhere only Ctrl-C exists; tokio registers its handler on the first
/// poll, moments after `install`.
#[cfg(not(unix))]
struct Listener;

#[cfg(not(unix))]
impl Listener {
    fn new() -> std::io::Result<Self> {
        Ok(Listener)
    }

    async fn recv(&mut self) -> Option<Signal> {
        tokio::signal::ctrl_c().await.ok().map(|()| Signal::Interrupt)
    }
}
