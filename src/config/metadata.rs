//! [`MetadataProvider`]: temporary credentials of an ECS host's agency.

use std::time::Duration;

use futures_util::future::BoxFuture;
use jiff::Timestamp;
use reqwest::StatusCode;
use serde::Deserialize;

use super::env::Env;
use super::error::ConfigError;
use super::explain::{AuthKind, Preview};
use super::provider::{ProvideCredentials, ProvidedCredentials};
use crate::auth::Credentials;
use crate::validation::InvalidInput;

/// The metadata service of an ECS host.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// Connect and read timeout of each metadata request: 3 seconds, as the SDKs.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(3);

/// The variable overriding [`DEFAULT_METADATA_ENDPOINT`] (as AWS's SDKs take
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT`): tests, the emulator, a sidecar.
const ENDPOINT_VAR: &str = "IOTDA_METADATA_ENDPOINT";

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
/// Lifetime asked for a session token, in seconds (the SDKs' value).
const TOKEN_TTL_SECONDS: &str = "21600";
/// Largest answer read from the metadata service.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// A 401 with this text means the host has no agency: asking again is useless.
const NO_AGENCY: &str = "Please configure Cloud Service Agency first";

/// Temporary credentials from the ECS metadata service, as the official SDKs
/// fetch them: an optional session token (`PUT /meta-data/latest/api/token`
/// with `X-Metadata-Token-Ttl-Seconds`, sent back as `X-Metadata-Token`), then
/// `GET /openstack/latest/securitykey`, whose answer
/// `{"credential": {"access", "secret", "securitytoken", "expires_at"}}`
/// becomes [`Credentials::temporary`] valid until `expires_at`. Each request
/// has [`METADATA_TIMEOUT`] to connect and to answer; no proxy is used.
///
/// No answer at all (not an ECS host), or a 403 or 404 for the security
/// key (no agency here), is "not configured"; another answer that is not
/// credentials is an error. A [`Client`](crate::Client) asks again
/// when fewer than [`REFRESH_MARGIN`](super::REFRESH_MARGIN) remain.
#[derive(Debug, Clone)]
pub struct MetadataProvider {
    endpoint: String,
    http: reqwest::Client,
}

impl MetadataProvider {
    /// The service at `IOTDA_METADATA_ENDPOINT` in `env`, else
    /// [`DEFAULT_METADATA_ENDPOINT`].
    pub fn new(env: &Env) -> Result<Self, InvalidInput> {
        let endpoint = env.var(ENDPOINT_VAR)?;
        Self::with_endpoint(endpoint.as_deref().unwrap_or(DEFAULT_METADATA_ENDPOINT)).map_err(|e| {
            if endpoint.is_some() {
                InvalidInput::new(ENDPOINT_VAR, e.rule().to_owned())
            } else {
                e
            }
        })
    }

    /// The service at `endpoint` (`http://host[:port]`).
    pub fn with_endpoint(endpoint: &str) -> Result<Self, InvalidInput> {
        let url = reqwest::Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| InvalidInput::new("metadata_endpoint", "must be an http:// or https:// URL with a host"))?;
        crate::client::tls::ensure_crypto_provider();
        let mut http = reqwest::Client::builder()
            .connect_timeout(METADATA_TIMEOUT)
            .read_timeout(METADATA_TIMEOUT)
            .timeout(2 * METADATA_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // A link-local service: never through a proxy.
            .no_proxy();
        if url.scheme() == "http" {
            http = crate::client::tls::plain_http_only(http);
        }
        let http = http
            .build()
            .map_err(|_| InvalidInput::new("metadata_endpoint", "cannot start an HTTP client"))?;
        Ok(Self {
            endpoint: url.as_str().trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The service's address.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fetches credentials now.
    pub async fn fetch(&self) -> Result<ProvidedCredentials, ConfigError> {
        let token = self.session_token().await?;
        let (status, body) = self.security_key(token.as_deref()).await?;
        let (status, body) = if status == StatusCode::UNAUTHORIZED
            && token.is_some()
            && !String::from_utf8_lossy(&body).contains(NO_AGENCY)
        {
            // The session token may have expired: one new one, as the SDKs do.
            let token = self.session_token().await?;
            self.security_key(token.as_deref()).await?
        } else {
            (status, body)
        };
        if matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) {
            // Something answers at the address but has no credentials for
            // this host: not an ECS host with an agency. The chain's error
            // then names every source, not only this one.
            return Err(ConfigError::NotConfigured {
                provider: "ECS metadata",
                looked_for: format!(
                    "{} ({ENDPOINT_VAR}) answered {SECURITY_KEY_PATH} with HTTP {status}: no agency here",
                    self.endpoint
                ),
            });
        }
        if status != StatusCode::OK {
            let hint = if String::from_utf8_lossy(&body).contains(NO_AGENCY) {
                " (the host has no cloud service agency)"
            } else {
                ""
            };
            return Err(self.error(format!("{SECURITY_KEY_PATH} answered HTTP {status}{hint}")));
        }
        parse(&body).map_err(|message| self.error(message))
    }

    fn error(&self, message: String) -> ConfigError {
        ConfigError::Metadata {
            endpoint: self.endpoint.clone(),
            message,
        }
    }

    /// A session token, or `None` when the service offers none.
    async fn session_token(&self) -> Result<Option<String>, ConfigError> {
        let request = self
            .http
            .put(format!("{}{TOKEN_PATH}", self.endpoint))
            .header("X-Metadata-Token-Ttl-Seconds", TOKEN_TTL_SECONDS);
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK {
            // 404, 405, 503: this service has no session tokens.
            tracing::debug!(status = status.as_u16(), "no metadata session token");
            return Ok(None);
        }
        let token = String::from_utf8(body.to_vec())
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty() && reqwest::header::HeaderValue::from_str(t).is_ok())
            .ok_or_else(|| self.error(format!("{TOKEN_PATH} answered an unusable session token")))?;
        Ok(Some(token))
    }

    async fn security_key(&self, token: Option<&str>) -> Result<(StatusCode, bytes::Bytes), ConfigError> {
        let mut request = self.http.get(format!("{}{SECURITY_KEY_PATH}", self.endpoint));
        if let Some(token) = token {
            request = request.header("X-Metadata-Token", token);
        }
        self.send(request).await
    }

    /// Sends one request and reads its answer (bounded). No connection is
    /// "not configured": this is not an ECS host.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(StatusCode, bytes::Bytes), ConfigError> {
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() || e.is_timeout() => {
                return Err(ConfigError::NotConfigured {
                    provider: "ECS metadata",
                    looked_for: format!("no answer from {} ({ENDPOINT_VAR})", self.endpoint),
                });
            }
            Err(e) => return Err(self.error(crate::error::chain(&e))),
        };
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER_BYTES => body.extend_from_slice(&chunk),
                Ok(Some(_)) => return Err(self.error(format!("answer larger than {MAX_ANSWER_BYTES} bytes"))),
                Ok(None) => break,
                Err(e) => return Err(self.error(crate::error::chain(&e))),
            }
        }
        Ok((status, body.into()))
    }
}

impl ProvideCredentials for MetadataProvider {
    fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
        Box::pin(self.fetch())
    }

    /// ECS metadata is asked only when used: it would give temporary credentials.
    fn preview(&self) -> Result<Preview, ConfigError> {
        Ok(Preview::WouldAsk {
            source: "ECS metadata",
            at: self.endpoint.clone(),
            kind: AuthKind::Temporary,
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    credential: Option<Answered>,
}

#[derive(Deserialize)]
struct Answered {
    #[serde(alias = "accessKeyId")]
    access: Option<String>,
    #[serde(alias = "secretAccessKey")]
    secret: Option<String>,
    #[serde(alias = "securityToken")]
    securitytoken: Option<String>,
    #[serde(alias = "expiration")]
    expires_at: Option<String>,
}

/// The credentials in a security-key answer. Messages name fields, never values.
fn parse(body: &[u8]) -> Result<ProvidedCredentials, String> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|_| "the security key answer is not the documented JSON".to_owned())?;
    let c = answer
        .credential
        .ok_or_else(|| "the security key answer has no `credential`".to_owned())?;
    let field = |value: Option<String>, name: &str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the security key answer has no credential.{name}"))
    };
    let (ak, sk) = (field(c.access, "access")?, field(c.secret, "secret")?);
    let token = field(c.securitytoken, "securitytoken")?;
    let expires_at: Timestamp = field(c.expires_at, "expires_at")?
        .parse()
        .map_err(|_| "the security key answer's credential.expires_at is not a timestamp".to_owned())?;
    Ok(ProvidedCredentials::new(Credentials::temporary(ak, sk, token), "ECS metadata").expiring(expires_at))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn both_spellings_of_the_answer_are_read() {
        let sdk = br#"{"credential":{"access":"AK","secret":"SK","securitytoken":"T","expires_at":"2026-12-01T08:00:00.000000Z"}}"#;
        let other = br#"{"credential":{"accessKeyId":"AK","secretAccessKey":"SK","securityToken":"T","expiration":"2026-12-01T08:00:00Z"}}"#;
        for body in [&sdk[..], &other[..]] {
            let provided = parse(body).expect("credentials");
            assert_eq!(provided.expires_at, Some("2026-12-01T08:00:00Z".parse().expect("ts")));
            assert_eq!(provided.credentials.ak_sk_pair().map(|p| p.access_key()), Some("AK"));
        }
    }

    #[test]
    fn a_bad_answer_names_the_field_not_the_value() {
        let e =
            parse(br#"{"credential":{"access":"AK","secret":"TOPSECRET","expires_at":"x"}}"#).expect_err("no token");
        assert!(e.contains("securitytoken") && !e.contains("TOPSECRET"), "{e}");
        let e =
            parse(br#"{"credential":{"access":"AK","secret":"TOPSECRET","securitytoken":"T","expires_at":"soon"}}"#)
                .expect_err("bad time");
        assert!(e.contains("expires_at") && !e.contains("soon"), "{e}");
    }
}
