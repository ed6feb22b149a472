//! What the emulator serves besides IoTDA so a client's whole configuration
//! chain runs offline: an ECS host's metadata (temporary credentials that
//! expire) and IAM's project list.
//!
//! Neither is journaled; IAM requests are authenticated like IoTDA's.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;

use crate::reply::Reply;

/// `EmulatorConfig`'s part for metadata and IAM.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdentityConfig {
    pub(crate) temporary_lifetime: Option<Duration>,
    pub(crate) projects: Vec<(String, String)>,
}

/// Temporary credentials the metadata service issued.
pub(crate) struct Issued {
    pub(crate) access_key: String,
    pub(crate) secret_key: SecretString,
    pub(crate) security_token: SecretString,
    pub(crate) expires_at: Timestamp,
}

/// The metadata service and IAM's projects.
pub(crate) struct Identity {
    lifetime: Option<Duration>,
    projects: Vec<(String, String)>,
    issued: AtomicU64,
    /// Seconds added to the real clock when issuing and checking temporary
    /// credentials (not for `X-Sdk-Date`).
    offset: AtomicI64,
    salt: String,
    pending: Mutex<Vec<Issued>>,
}

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
const PROJECTS_PATH: &str = "/v3/projects";
/// The session token the metadata service hands out (not a secret here).
const SESSION_TOKEN: &str = "emulator-metadata-session";

impl Identity {
    pub(crate) fn new(config: &IdentityConfig, region: &str, seed_projects: BTreeSet<String>) -> Self {
        let projects = if config.projects.is_empty() {
            seed_projects.into_iter().map(|id| (region.to_owned(), id)).collect()
        } else {
            config.projects.clone()
        };
        Self {
            lifetime: config.temporary_lifetime,
            projects,
            issued: AtomicU64::new(0),
            offset: AtomicI64::new(0),
            // Distinct secrets per emulator run, without a random crate.
            salt: format!("{:x}", Timestamp::now().as_nanosecond()),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Now by the credential clock.
    pub(crate) fn now(&self, real: Timestamp) -> Timestamp {
        real.saturating_add(SignedDuration::from_secs(self.offset.load(Ordering::Relaxed)))
            .unwrap_or(real)
    }

    pub(crate) fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let _ = self
            .offset
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| Some(o.saturating_add(secs)));
    }

    /// Credentials issued since the last call, for the authenticator to learn.
    pub(crate) fn take_issued(&self) -> Vec<Issued> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether `path` is a metadata path this emulator serves.
    pub(crate) fn is_metadata(&self, path: &str) -> bool {
        self.lifetime.is_some() && (path == TOKEN_PATH || path == SECURITY_KEY_PATH)
    }

    /// Whether `path` is IAM's project list.
    pub(crate) fn is_iam(path: &str) -> bool {
        path == PROJECTS_PATH
    }

    /// Answers a metadata request (no credentials needed: link-local).
    pub(crate) fn metadata(&self, parts: &Parts, now: Timestamp) -> Response<Bytes> {
        let Some(lifetime) = self.lifetime else {
            return json(StatusCode::NOT_FOUND, b"{}".to_vec());
        };
        match (parts.uri.path(), &parts.method) {
            (TOKEN_PATH, &Method::PUT) => {
                let mut response = Response::new(Bytes::from_static(SESSION_TOKEN.as_bytes()));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                response
            }
            (SECURITY_KEY_PATH, &Method::GET) => {
                let token_ok = parts
                    .headers
                    .get("x-metadata-token")
                    .is_none_or(|t| t.as_bytes() == SESSION_TOKEN.as_bytes());
                if !token_ok {
                    return json(
                        StatusCode::UNAUTHORIZED,
                        br#"{"message":"invalid metadata token"}"#.to_vec(),
                    );
                }
                let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
                let expires_at = self
                    .now(now)
                    .saturating_add(SignedDuration::try_from(lifetime).unwrap_or(SignedDuration::MAX))
                    .unwrap_or(Timestamp::MAX);
                let issued = Issued {
                    access_key: format!("TMPAK{n:015}"),
                    secret_key: SecretString::from(format!("tmp-sk-{}-{n}", self.salt)),
                    security_token: SecretString::from(format!("tmp-token-{}-{n}", self.salt)),
                    expires_at,
                };
                use secrecy::ExposeSecret as _;
                let body = serde_json::json!({"credential": {
                    "access": issued.access_key,
                    "secret": issued.secret_key.expose_secret(),
                    "securitytoken": issued.security_token.expose_secret(),
                    "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                }});
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(issued);
                json(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
            }
            _ => json(StatusCode::METHOD_NOT_ALLOWED, b"{}".to_vec()),
        }
    }

    /// IAM's `GET /v3/projects?name=`, after authentication.
    pub(crate) fn projects(&self, parts: &Parts) -> Reply {
        if parts.method != Method::GET {
            return Reply::no_such_api();
        }
        let name = parts.uri.query().unwrap_or("").split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == "name").then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
        });
        let projects: Vec<serde_json::Value> = self
            .projects
            .iter()
            .filter(|(n, _)| name.as_deref().is_none_or(|want| want == n))
            .map(|(n, id)| {
                serde_json::json!({"id": id, "name": n, "enabled": true, "is_domain": false,
                    "domain_id": "emulatordomain0000000000000000", "description": ""})
            })
            .collect();
        Reply::Ok(serde_json::to_vec(&serde_json::json!({"projects": projects, "links": {}})).unwrap_or_default())
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
