//! [`Signer`]: signs requests as the official SDK does, and verifies them as
//! the API gateway does, over one canonical request.

use std::fmt;

use hmac::Mac;
use http::HeaderValue;
use http::header::{AUTHORIZATION, HOST, HeaderName};
use jiff::Timestamp;
use secrecy::ExposeSecret;

use super::algorithm::Algorithm;
use super::authorization::{self, Authorization};
use super::canonical::{CanonicalRequest, canonical_query, hex_of_32};
use super::credentials::{AkSk, Credentials};
use super::date::SdkDate;
use super::error::{SignError, VerifyError};
use super::headers::{Select, signed_headers};
use super::keys::{HmacSha256, Keys};
use super::push_all;
use crate::validation::InvalidInput;

const X_SDK_DATE: &str = "x-sdk-date";

/// Signs requests with one access key pair and algorithm, and verifies
/// requests signed with it.
///
/// Derived keys are cached per day, so HKDF runs once a day, not per request.
/// `Debug` shows the access key and algorithm only.
///
/// ```
/// use iotda_batchtask::auth::{Algorithm, Authorization, Credentials, Signer};
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
///
/// // What the server receives verifies.
/// let authorization = Authorization::parse(authorization).expect("well-formed");
/// let (parts, _) = http::Request::try_from(request)?.into_parts();
/// assert_eq!(signer.verify_request(&parts, b"", &authorization), Ok(()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Signer {
    ak: String,
    /// `X-Security-Token` of temporary credentials, built (and marked
    /// sensitive) once.
    security_token: Option<HeaderValue>,
    project_id: Option<String>,
    algorithm: Algorithm,
    keys: Keys,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("ak", &self.ak)
            .field("algorithm", &self.algorithm)
            .field("project_id", &self.project_id)
            .field("temporary", &self.security_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for AK/SK `credentials`; token credentials are refused (a
    /// token is sent as `X-Auth-Token`, not signed).
    pub fn new(credentials: &Credentials, algorithm: Algorithm) -> Result<Self, InvalidInput> {
        let pair = credentials
            .ak_sk_pair()
            .ok_or_else(|| InvalidInput::new("credentials", "a token cannot sign requests; use an access key pair"))?;
        Self::from_pair(pair, algorithm)
    }

    pub(crate) fn from_pair(pair: &AkSk, algorithm: Algorithm) -> Result<Self, InvalidInput> {
        pair.validate()?;
        let security_token = pair
            .security_token()
            .map(|token| {
                let mut value = HeaderValue::from_str(token.expose_secret())
                    .map_err(|_| InvalidInput::new("credentials.security_token", "is not a legal header value"))?;
                value.set_sensitive(true);
                Ok::<_, InvalidInput>(value)
            })
            .transpose()?;
        Ok(Self {
            ak: pair.access_key().to_owned(),
            security_token,
            project_id: None,
            keys: Keys::new(pair.secret_key(), &algorithm),
            algorithm,
        })
    }

    /// Sends `X-Project-Id` with every request (the SDK does whenever its
    /// credentials carry a project ID).
    pub fn with_project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The access key ID.
    pub fn access_key(&self) -> &str {
        &self.ak
    }

    /// The algorithm this signer uses.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
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
    /// such an endpoint.
    pub fn sign(&self, request: &mut reqwest::Request, at: Timestamp) -> Result<(), SignError> {
        let url = request.url();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(SignError::NoHost),
        };
        if url.scheme() != "https" && !url.host_str().is_some_and(crate::validation::is_loopback_host) {
            return Err(SignError::PlainHttp(host));
        }
        // The SDK sends the canonical query, so the server sees what was signed.
        let query = url.query().map(canonical_query);
        if url.query() != query.as_deref() {
            request.url_mut().set_query(query.as_deref().filter(|q| !q.is_empty()));
        }

        let date = SdkDate::at(at);
        let value = |name: &str, v: &str| HeaderValue::from_str(v).map_err(|_| SignError::HeaderValue(name.to_owned()));
        let headers = request.headers_mut();
        headers.remove(AUTHORIZATION);
        if let Some(project_id) = &self.project_id {
            headers.insert(
                HeaderName::from_static("x-project-id"),
                value("X-Project-Id", project_id)?,
            );
        }
        if let Some(token) = &self.security_token {
            headers.insert(HeaderName::from_static("x-security-token"), token.clone());
        }
        headers.insert(HeaderName::from_static(X_SDK_DATE), value("X-Sdk-Date", date.as_str())?);
        headers.insert(HOST, value("Host", &host)?);

        let body = match request.body() {
            None => &[][..],
            Some(body) => body.as_bytes().ok_or(SignError::StreamingBody)?,
        };
        let headers = signed_headers(request.headers(), None, Select::All)?;
        let url = request.url();
        let canonical = CanonicalRequest::new(
            request.method().as_str(),
            url.path(),
            url.query().unwrap_or(""),
            &headers,
            body,
        );
        let signature = hex_of_32(&self.mac(&canonical, &date).finalize().into_bytes().into());
        let authorization = authorization::render(
            &self.algorithm,
            &self.ak,
            date.day(),
            canonical.signed_headers(),
            &signature,
        );
        let mut authorization = value("Authorization", &authorization)?;
        authorization.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, authorization);
        Ok(())
    }

    /// Checks a request as the API gateway does: that `authorization` (the
    /// request's parsed `Authorization` header) is this signer's access key,
    /// algorithm and scope, and that its signature (compared in constant
    /// time) covers the request's method, URI, `SignedHeaders`, `X-Sdk-Date`
    /// and `body`, with the header values read exactly as [`Signer::sign`]
    /// reads them.
    ///
    /// Policy is the caller's: how far `X-Sdk-Date` may be from now, and
    /// which headers must be signed (IoTDA requires `host`, and
    /// `x-security-token` when it is sent).
    pub fn verify_request(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        authorization: &Authorization,
    ) -> Result<(), VerifyError> {
        if authorization.access_key != self.ak {
            return Err(VerifyError::AccessKey);
        }
        let mut dates = parts.headers.get_all(X_SDK_DATE).iter();
        let (date, _) = match (dates.next(), dates.next()) {
            (Some(date), None) => date.to_str().ok().and_then(SdkDate::parse),
            _ => None,
        }
        .ok_or(VerifyError::Date)?;
        let scope_day = matches!(self.algorithm, Algorithm::Derived { .. }).then(|| date.day());
        if authorization.algorithm != self.algorithm || authorization.scope_day.as_deref() != scope_day {
            return Err(VerifyError::Scope);
        }
        let authority = parts.uri.authority().map(|authority| authority.as_str());
        let headers = signed_headers(&parts.headers, authority, Select::Named(&authorization.signed_headers))?;
        let canonical = CanonicalRequest::new(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            &headers,
            body,
        );
        let signature = hex::decode(&authorization.signature).map_err(|_| VerifyError::Signature)?;
        self.mac(&canonical, &date)
            .verify_slice(&signature)
            .map_err(|_| VerifyError::Signature)
    }

    /// The HMAC over the string to sign of `canonical` at `date`, ready to
    /// finalise or verify. The string to sign is traced at `TRACE`.
    fn mac(&self, canonical: &CanonicalRequest<'_>, date: &SdkDate) -> HmacSha256 {
        let hash = canonical.hash();
        let mut string_to_sign = String::with_capacity(160);
        push_all(&mut string_to_sign, &[self.algorithm.name(), "\n", date.as_str(), "\n"]);
        if let Algorithm::Derived { region, service } = &self.algorithm {
            push_all(&mut string_to_sign, &[date.day(), "/", region, "/", service, "\n"]);
        }
        string_to_sign.push_str(&hash);
        tracing::trace!(target: super::LOG_TARGET, %string_to_sign);
        let mut mac = self.keys.mac(&self.ak, date.day());
        mac.update(string_to_sign.as_bytes());
        mac
    }
}
