//! How an emulator is set up: its data, address and accepted credentials.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use iotda_batchtask::validation::InvalidInput;
use secrecy::SecretString;

use crate::seed::Seed;

/// The default listen address: loopback, any free port.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// The default region of derived (`V11-HMAC-SHA256`) signatures.
pub const DEFAULT_REGION: &str = "cn-north-4";

/// How far `X-Sdk-Date` may be from the emulator's clock, either way, by
/// default: 15 minutes, the limit Huawei's signing FAQ names.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The largest request body accepted (1 MiB); larger bodies get `413`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a connection may take to deliver a complete request head, by
/// default: 10 seconds (see [`EmulatorConfig::header_read_timeout`]).
///
/// The clock starts when the connection opens and again each time a response
/// has been written, so this is also the keep-alive idle timeout: a
/// connection that sends nothing for this long is closed, as is a client
/// that trickles a head byte by byte (slowloris).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once, by default: 256 (see
/// [`EmulatorConfig::max_connections`]).
///
/// Above the limit, a new connection is accepted and closed at once, without
/// a response, so it costs no file descriptor or memory while the connections
/// already open keep being served. Idle and stalled connections free their
/// place within [`DEFAULT_HEADER_READ_TIMEOUT`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The most a connection buffers while reading (and, separately, while
/// writing): 64 KiB.
///
/// A request head must fit in it, or the connection gets `431` and is
/// closed; so a partial head pins at most this much. While a request is
/// answered, its body adds at most [`MAX_BODY_BYTES`], for at most the
/// 10-second body deadline. Per connection that is at most about 1.1 MiB
/// (two buffers and a body), and [`DEFAULT_MAX_CONNECTIONS`] of them about
/// 290 MiB at the very worst; a partial head alone pins at most 64 KiB, or
/// 16 MiB over the whole default connection limit.
pub const MAX_CONNECTION_BUFFER_BYTES: usize = 64 * 1024;

/// Configuration of an emulator, builder style.
///
/// The default serves [`Seed::demo`] on `127.0.0.1:0` (a free port) with
/// authentication on and no credentials, so every request is refused until
/// you add an access key pair ([`EmulatorConfig::ak_sk`]) or a token
/// ([`EmulatorConfig::token`]), or turn authentication off.
///
/// `Debug` never shows secret keys or tokens.
///
/// ```
/// use iotda_batchtask_emulator::{EmulatorConfig, Seed};
///
/// let config = EmulatorConfig::new()
///     .seed(Seed::demo())
///     .ak_sk("HPUAEXAMPLEAK0000001", "example-secret-key")
///     .token("example-iam-token")
///     .region("cn-north-4");
/// assert!(!format!("{config:?}").contains("example-secret-key"));
/// ```
#[derive(Clone)]
pub struct EmulatorConfig {
    pub(crate) seed: Seed,
    pub(crate) listen: SocketAddr,
    pub(crate) allow_non_loopback: bool,
    pub(crate) auth_enabled: bool,
    pub(crate) access_keys: Vec<(String, SecretString)>,
    pub(crate) tokens: Vec<SecretString>,
    pub(crate) region: String,
    pub(crate) max_clock_skew: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) admin_endpoint: bool,
    pub(crate) identity: crate::identity::IdentityConfig,
    pub(crate) max_running_tasks: usize,
    pub(crate) stopping_reads: u32,
    pub(crate) time_scale: f64,
    pub(crate) default_progression: Option<crate::progression::Progression>,
}

/// How many batch tasks of one project may be running at once by default
/// (Huawei's account limit, stated in prose on CreateBatchTask: "at most 10
/// batch tasks are processed at once"); see
/// [`EmulatorConfig::max_running_tasks`].
pub const DEFAULT_MAX_RUNNING_TASKS: usize = 10;

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            seed: Seed::demo(),
            listen: DEFAULT_LISTEN,
            allow_non_loopback: false,
            auth_enabled: true,
            access_keys: Vec::new(),
            tokens: Vec::new(),
            region: DEFAULT_REGION.to_owned(),
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            admin_endpoint: false,
            identity: crate::identity::IdentityConfig::default(),
            max_running_tasks: DEFAULT_MAX_RUNNING_TASKS,
            stopping_reads: 0,
            time_scale: 1.0,
            default_progression: None,
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access_keys: Vec<&str> = self.access_keys.iter().map(|(ak, _)| ak.as_str()).collect();
        f.debug_struct("EmulatorConfig")
            .field("tasks", &self.seed.tasks().len())
            .field("listen", &self.listen)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .field("auth_enabled", &self.auth_enabled)
            .field("access_keys", &access_keys)
            .field("tokens", &self.tokens.len())
            .field("region", &self.region)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("admin_endpoint", &self.admin_endpoint)
            .field("identity", &self.identity)
            .field("max_running_tasks", &self.max_running_tasks)
            .field("stopping_reads", &self.stopping_reads)
            .field("time_scale", &self.time_scale)
            .field("default_progression", &self.default_progression)
            .finish()
    }
}

impl EmulatorConfig {
    /// The default configuration (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// The initial tasks (default: [`Seed::demo`]).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = seed;
        self
    }

    /// Where to listen (default [`DEFAULT_LISTEN`], `127.0.0.1:0`). Port 0
    /// picks a free port; read it back from the handle.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Allows listening on a non-loopback address (default `false`, which
    /// makes starting on one an error: the emulator speaks plain HTTP).
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// Whether requests must authenticate (default `true`). `false` accepts
    /// every request, as `--no-auth` does.
    pub fn auth_enabled(mut self, enabled: bool) -> Self {
        self.auth_enabled = enabled;
        self
    }

    /// Accepts requests signed with this access key pair, with either the
    /// plain or the derived algorithm.
    pub fn ak_sk(mut self, access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.access_keys
            .push((access_key.into(), SecretString::from(secret_key.into())));
        self
    }

    /// Accepts requests carrying this `X-Auth-Token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(SecretString::from(token.into()));
        self
    }

    /// The region derived signatures must be scoped to (default
    /// [`DEFAULT_REGION`]).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// How far `X-Sdk-Date` may be from now, in the past or the future
    /// (default [`DEFAULT_MAX_CLOCK_SKEW`]).
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// How long a connection may take to deliver each request head, counted
    /// from when it opens or its previous response was written (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`], 10 s). Connections that miss it are
    /// closed, so it bounds both slow heads and idle keep-alive connections.
    /// Must be more than zero.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How many connections are served at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`], 256); a connection over the limit is
    /// accepted and closed at once. Must be more than zero.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Serves the admin endpoint (default off), for tests that run the
    /// emulator as a process: `POST /__emulator/faults` adds a fault rule
    /// (`{"action": "status", "status": 503, "operation": "StopBatchTask",
    /// "task_id": "...", "times": 1}`; actions `status`, `process_then_fail`,
    /// `delay` with `delay_ms`, `reset`, `malformed_body`; `nth` instead of
    /// `times`), `DELETE /__emulator/faults` removes them,
    /// `GET /__emulator/journal` lists the journal as JSON and
    /// `DELETE /__emulator/journal` empties it. Admin requests are not
    /// journaled and need no credentials, so starting fails unless the
    /// listen address is loopback, and a web page cannot use them: a request
    /// whose `Host` is not `127.0.0.1`, `localhost` or `[::1]` (any port;
    /// DNS rebinding), whose `Origin` is not that same `http://` host, or
    /// whose `Sec-Fetch-Site` is not `same-origin` is refused `403` with a
    /// JSON `error`.
    pub fn admin_endpoint(mut self, enabled: bool) -> Self {
        self.admin_endpoint = enabled;
        self
    }

    /// Serves an ECS host's metadata (`PUT /meta-data/latest/api/token`,
    /// `GET /openstack/latest/securitykey`): each fetch issues new temporary
    /// credentials valid for `lifetime` (by the credential clock, see
    /// [`Service::advance_credential_clock`](crate::Service::advance_credential_clock)),
    /// accepted with their security token until then and refused
    /// `401 APIGW.0301` after. Point a client at it with
    /// `IOTDA_METADATA_ENDPOINT`.
    pub fn temporary_credentials(mut self, lifetime: Duration) -> Self {
        self.identity.temporary_lifetime = Some(lifetime);
        self
    }

    /// Lists a project for IAM's `GET /v3/projects?name=` (signature
    /// checked, plain or derived): a project `name` (a region ID) with `id`.
    /// Without any, every project ID of the seed is listed under
    /// [`EmulatorConfig::region`]'s name. Point a client at it with
    /// `HUAWEICLOUD_SDK_IAM_ENDPOINT`.
    pub fn iam_project(mut self, name: impl Into<String>, id: impl Into<String>) -> Self {
        self.identity.projects.push((name.into(), id.into()));
        self
    }

    /// How many tasks of one project may be running (Initializing,
    /// Waitting, Processing or Stopping) when CreateBatchTask adds one more
    /// (default [`DEFAULT_MAX_RUNNING_TASKS`], 10); a create over it is
    /// refused `403 IOTDA.014206`. The emulator treats a project as the
    /// account.
    pub fn max_running_tasks(mut self, max: usize) -> Self {
        self.max_running_tasks = max;
        self
    }

    /// How many reads a stopped task stays `Stopping` for (default 0).
    ///
    /// With 0, a stop that leaves no sub-task running, waiting or awaiting
    /// retry makes the task `Stopped` at once. With `n` > 0, such a task
    /// becomes `Stopping` instead and is reported so by the next `n` reads
    /// of it (each ShowBatchTask of the task, and each ListBatchTasks page
    /// listing it), then becomes `Stopped`: deterministic, so a client
    /// waiting for a task to leave `Stopping` can be tested without timing.
    pub fn stopping_reads(mut self, reads: u32) -> Self {
        self.stopping_reads = reads;
        self
    }

    /// How fast the clock that moves progressing tasks (see
    /// [`Progression`](crate::Progression)) follows real time (default 1.0).
    ///
    /// The clock is [`Service::advance_time`](crate::Service::advance_time)'s
    /// total plus the real time since the emulator started multiplied by
    /// this scale: 10.0 makes a 10-second rollout take one second; 0.0 stops
    /// real time from counting at all, so a test moves the clock only by
    /// `advance_time`, deterministically. A negative, infinite or NaN scale
    /// counts as 0.0.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = if scale.is_finite() && scale > 0.0 { scale } else { 0.0 };
        self
    }

    /// How tasks created through CreateBatchTask move by themselves (default:
    /// the seed's `default_progression`, else they do not move). A created
    /// task's own `task_policy` decides its automatic retries.
    pub fn default_progression(mut self, progression: crate::progression::Progression) -> Self {
        self.default_progression = Some(progression);
        self
    }

    /// The initial tasks.
    pub fn seed_data(&self) -> &Seed {
        &self.seed
    }

    /// The configured listen address.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Whether authentication is on.
    pub fn is_auth_enabled(&self) -> bool {
        self.auth_enabled
    }

    /// Refuses connection limits that would turn every client away.
    pub(crate) fn check_limits(&self) -> Result<(), InvalidInput> {
        if self.header_read_timeout.is_zero() {
            return Err(InvalidInput::new("header_read_timeout", "must be more than zero"));
        }
        if self.max_connections == 0 {
            return Err(InvalidInput::new("max_connections", "must be more than zero"));
        }
        // Unauthenticated control of the emulator: loopback only, whatever
        // allow_non_loopback says.
        if self.admin_endpoint && !self.listen.ip().is_loopback() {
            return Err(InvalidInput::new(
                "admin_endpoint",
                "needs a loopback listen address (it takes no credentials)",
            ));
        }
        Ok(())
    }
}
