//! [`Signer`]: the signing crate's signer, built from [`Credentials`] and
//! applied to `reqwest` requests.

use std::fmt;

use iotda_batchtask_signing::{self as signing, Algorithm, SignableRequest};
use jiff::Timestamp;
use reqwest::header::{HeaderName, HeaderValue};

use super::credentials::{AkSk, Credentials};
use crate::validation::InvalidInput;

/// Signs `reqwest` requests with one access key pair and algorithm, as the
/// official SDK does: how the client signs, public for signing other IoTDA
/// calls. Derived keys are cached per day. `Debug` shows the access key and
/// algorithm only.
///
/// ```
/// use iotda_batchtask::auth::{Algorithm, Credentials, Signer};
///
/// let signer = Signer::new(&Credentials::ak_sk("HPUAEXAMPLEAK0000001", "secret"), Algorithm::Plain)?
///     .with_project_id("0123456789abcdef0123456789abcdef");
/// let mut request = reqwest::Request::new(
///     reqwest::Method::POST,
///     "https://iotda.cn-north-4.myhuaweicloud.com/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a/stop".parse()?,
/// );
/// signer.sign(&mut request, "2024-01-02T03:04:05Z".parse()?)?;
/// let authorization = request.headers()["authorization"].to_str()?;
/// assert!(authorization.starts_with("SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Signer {
    inner: signing::Signer,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signing crate refused the request (a header value that is not
    /// visible ASCII, no host).
    #[error(transparent)]
    Signing(#[from] signing::SignError),
    /// The body is a stream, whose bytes are not known in advance.
    #[error("the request body is a stream; only in-memory bodies can be signed")]
    StreamingBody,
    /// The URL is plain `http://` to a host that is not loopback: the
    /// signature (replayable for 15 minutes) would cross a network in clear text.
    #[error("refusing to sign a plain http:// request to {0}, which is not loopback; use https://")]
    PlainHttp(String),
}

impl Signer {
    /// A signer for AK/SK `credentials`, checked first (errors name the
    /// field, never the value); token credentials are refused (a token is
    /// sent as `X-Auth-Token`, not signed).
    pub fn new(credentials: &Credentials, algorithm: Algorithm) -> Result<Self, InvalidInput> {
        let pair = credentials
            .ak_sk_pair()
            .ok_or_else(|| InvalidInput::new("credentials", "a token cannot sign requests; use an access key pair"))?;
        Self::from_pair(pair, algorithm)
    }

    pub(crate) fn from_pair(pair: &AkSk, algorithm: Algorithm) -> Result<Self, InvalidInput> {
        // Visible ASCII only, so every header the signer sets is legal.
        pair.validate()?;
        let mut inner = signing::Signer::new(pair.access_key(), pair.secret_key().clone(), algorithm);
        if let Some(token) = pair.security_token() {
            inner = inner.with_security_token(token.clone());
        }
        Ok(Self { inner })
    }

    /// Sends `X-Project-Id` with every request (the SDK does whenever its
    /// credentials carry a project ID).
    pub fn with_project_id(self, project_id: impl Into<String>) -> Self {
        Self {
            inner: self.inner.with_project_id(project_id),
        }
    }

    /// The access key ID.
    pub fn access_key(&self) -> &str {
        self.inner.access_key()
    }

    /// The algorithm this signer uses.
    pub fn algorithm(&self) -> &Algorithm {
        self.inner.algorithm()
    }

    /// What [`sign`](Self::sign) would do to `request` besides computing
    /// values, without the secret key or a clock (for a plan): rewrites the
    /// query as it would, and returns the lower-case names of the headers it
    /// would set, in its order.
    pub(crate) fn preview(&self, request: &mut reqwest::Request) -> Vec<&'static str> {
        let preview = self.inner.preview(request.url().query().unwrap_or(""));
        send_query(request, preview.query());
        preview.header_names().to_vec()
    }

    /// The project ID it sends as `X-Project-Id`, if any.
    pub(crate) fn project_id(&self) -> Option<&str> {
        self.inner.project_id()
    }

    /// Signs `request` in place as of `at`, like the official SDK:
    ///
    /// 1. adds `X-Project-Id`, `X-Security-Token` (temporary credentials),
    ///    `X-Sdk-Date` and `Host` (with any explicit port);
    /// 2. rewrites the query into its canonical (sorted, encoded) form, which
    ///    is what the SDK sends;
    /// 3. signs every header then present except names containing `_`, and
    ///    sets `Authorization`.
    ///
    /// Headers the HTTP stack adds later (`Accept`, `Content-Length`, ...) are
    /// not signed, as with the SDK. Signing again replaces the old signature.
    /// A URL that is not `https://` is refused unless its host is loopback
    /// ([`SignError::PlainHttp`]), as [`crate::ClientBuilder::build`] refuses
    /// such an endpoint. On error the request is left as it was.
    pub fn sign(&self, request: &mut reqwest::Request, at: Timestamp) -> Result<(), SignError> {
        let url = request.url();
        let Some(host) = url.host_str() else {
            return Err(signing::SignError::NoHost.into());
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        if url.scheme() != "https" && !crate::validation::is_loopback_host(host) {
            return Err(SignError::PlainHttp(authority));
        }
        let body = match request.body() {
            None => &[][..],
            Some(body) => body.as_bytes().ok_or(SignError::StreamingBody)?,
        };
        let signable = SignableRequest::new(request.method().as_str(), url.path(), url.query().unwrap_or(""), body)
            .authority(&authority)
            .headers(
                request
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes())),
            );
        let output = self.inner.sign(&signable, at)?;

        send_query(request, output.query());
        let headers = request.headers_mut();
        for header in output.headers() {
            let mut value = HeaderValue::from_str(header.value())
                .expect("the signing crate checks that every value it sets is visible ASCII");
            value.set_sensitive(header.is_sensitive());
            headers.insert(HeaderName::from_static(header.name()), value);
        }
        Ok(())
    }
}

/// Sends `query` instead of the request's, when signing says to (`Some("")`: none).
fn send_query(request: &mut reqwest::Request, query: Option<&str>) {
    if let Some(query) = query {
        request.url_mut().set_query(Some(query).filter(|q| !q.is_empty()));
    }
}
