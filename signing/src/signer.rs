//! [`Signer`]: signs requests as the official SDK does, and verifies them as
//! the API gateway does, over one canonical request.

use std::borrow::Cow;
use std::fmt;

use hmac::Mac;
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

use crate::algorithm::Algorithm;
use crate::authorization::{self, Authorization};
use crate::canonical::{CanonicalRequest, canonical_query, hex_of_32};
use crate::date::SdkDate;
use crate::error::{SignError, VerifyError};
use crate::headers::{self, for_signing, for_verifying};
use crate::keys::{HmacSha256, Keys};
use crate::push_all;
use crate::request::SignableRequest;

const X_SDK_DATE: &str = "x-sdk-date";
const X_PROJECT_ID: &str = "x-project-id";
const X_SECURITY_TOKEN: &str = "x-security-token";
const HOST: &str = "host";
const AUTHORIZATION: &str = "authorization";

/// Signs requests with one access key pair and algorithm, and verifies
/// requests signed with it.
///
/// Derived keys are cached per day, so HKDF runs once a day, not per request.
/// `Debug` shows the access key and algorithm only.
pub struct Signer {
    ak: String,
    /// `X-Security-Token` of temporary credentials.
    security_token: Option<SecretString>,
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

/// What [`Signer::sign`] adds to a request: the headers to set and, when it
/// changes, the query to send.
pub struct SigningOutput<'s> {
    headers: Vec<OutputHeader<'s>>,
    query: Option<String>,
}

/// A header [`Signer::sign`] sets.
pub struct OutputHeader<'s> {
    name: &'static str,
    value: Cow<'s, str>,
    sensitive: bool,
}

impl OutputHeader<'_> {
    /// The lower-case name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The value: visible ASCII, a legal value in any HTTP library.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the value is a secret or a replayable credential
    /// (`Authorization`, `X-Security-Token`): mark it sensitive, never log it.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
}

impl fmt::Debug for OutputHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &str = if self.sensitive { "[redacted]" } else { &self.value };
        f.debug_tuple("OutputHeader").field(&self.name).field(&value).finish()
    }
}

impl SigningOutput<'_> {
    /// The headers to set, each replacing every value of that name in the
    /// request: `X-Project-Id` (with a project ID), `X-Security-Token`
    /// (temporary credentials), `X-Sdk-Date`, `Host` and `Authorization`.
    pub fn headers(&self) -> &[OutputHeader<'_>] {
        &self.headers
    }

    /// The value of the header `name` (lower-case) among [`Self::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name == name).map(OutputHeader::value)
    }

    /// The query to send instead of the request's (`Some("")`: send none),
    /// or `None` to keep it: the official SDK sends the canonical (sorted,
    /// encoded) query, so the server sees the query that was signed.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
}

impl fmt::Debug for SigningOutput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningOutput")
            .field("headers", &self.headers)
            .field("query", &self.query)
            .finish()
    }
}

/// What [`Signer::sign`] would change in a request, without its values
/// ([`Signer::preview`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningPreview {
    headers: Vec<&'static str>,
    query: Option<String>,
}

impl SigningPreview {
    /// The lower-case names of the headers `sign` would set, in the order of
    /// [`SigningOutput::headers`].
    pub fn header_names(&self) -> &[&'static str] {
        &self.headers
    }

    /// The query `sign` would send instead of the request's, as
    /// [`SigningOutput::query`] says it.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
}

/// The canonical query when it differs from the request's: what to send
/// instead (the official SDK sends the query it signed).
fn changed_query(query: &str, canonical: String) -> Option<String> {
    (canonical != query).then_some(canonical)
}

impl Signer {
    /// A signer for the access key `access_key` and its secret key. The
    /// access key is sent in every `Authorization`; the secret key never
    /// leaves the signer.
    pub fn new(access_key: impl Into<String>, secret_key: SecretString, algorithm: Algorithm) -> Self {
        Self {
            ak: access_key.into(),
            security_token: None,
            project_id: None,
            keys: Keys::new(secret_key, &algorithm),
            algorithm,
        }
    }

    /// Temporary credentials: sends (and signs) `X-Security-Token` with
    /// every request.
    pub fn with_security_token(mut self, security_token: SecretString) -> Self {
        self.security_token = Some(security_token);
        self
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

    /// Signs `request` as of `at`, like the official SDK, and returns what
    /// to add to it ([`SigningOutput`]):
    ///
    /// 1. `X-Project-Id`, `X-Security-Token` (temporary credentials),
    ///    `X-Sdk-Date` and `Host` (the request's authority, with any explicit
    ///    port), replacing the request's values of those headers;
    /// 2. the query in its canonical (sorted, encoded) form, which is what
    ///    the SDK sends;
    /// 3. `Authorization`, signing every header of the request except names
    ///    containing `_` and any old `Authorization`, and the headers of 1.
    ///
    /// Headers the HTTP stack adds later (`Accept`, `Content-Length`, ...) are
    /// not signed, as with the SDK. The request needs an authority
    /// ([`SignError::NoHost`]).
    pub fn sign(&self, request: &SignableRequest<'_>, at: Timestamp) -> Result<SigningOutput<'_>, SignError> {
        let host = request.authority.ok_or(SignError::NoHost)?;
        let canonical_query = canonical_query(request.query);
        let date = SdkDate::at(at);

        let mut own: Vec<(&'static str, &str)> = Vec::with_capacity(4);
        if let Some(project_id) = &self.project_id {
            own.push((X_PROJECT_ID, project_id));
        }
        if let Some(token) = &self.security_token {
            own.push((X_SECURITY_TOKEN, token.expose_secret()));
        }
        own.push((X_SDK_DATE, date.as_str()));
        own.push((HOST, host));

        let signed = for_signing(&request.headers, &own)?;
        let canonical = CanonicalRequest::new(request.method, request.path, &canonical_query, &signed, request.body);
        let signature = hex_of_32(&self.mac(&canonical, &date).finalize().into_bytes().into());
        let authorization = authorization::render(
            &self.algorithm,
            &self.ak,
            date.day(),
            canonical.signed_headers(),
            &signature,
        );
        // The access key is the one part of it no header check has read.
        if headers::text(authorization.as_bytes()).is_none() {
            return Err(SignError::HeaderValue(AUTHORIZATION.to_owned()));
        }

        let mut headers: Vec<OutputHeader<'_>> = Vec::with_capacity(own.len() + 1);
        if let Some(project_id) = &self.project_id {
            headers.push(OutputHeader {
                name: X_PROJECT_ID,
                value: Cow::Borrowed(project_id),
                sensitive: false,
            });
        }
        if let Some(token) = &self.security_token {
            headers.push(OutputHeader {
                name: X_SECURITY_TOKEN,
                value: Cow::Borrowed(token.expose_secret()),
                sensitive: true,
            });
        }
        headers.push(OutputHeader {
            name: X_SDK_DATE,
            value: Cow::Owned(date.as_str().to_owned()),
            sensitive: false,
        });
        headers.push(OutputHeader {
            name: HOST,
            value: Cow::Owned(host.to_owned()),
            sensitive: false,
        });
        headers.push(OutputHeader {
            name: AUTHORIZATION,
            value: Cow::Owned(authorization),
            sensitive: true,
        });
        Ok(SigningOutput {
            headers,
            query: changed_query(request.query, canonical_query),
        })
    }

    /// What [`Signer::sign`] would change in a request with this query,
    /// worked out without the secret key or a clock: the names of the
    /// headers it would set and the query it would send instead. For showing
    /// a request as it would be sent without signing it (a dry run).
    pub fn preview(&self, query: &str) -> SigningPreview {
        let mut headers = Vec::with_capacity(5);
        if self.project_id.is_some() {
            headers.push(X_PROJECT_ID);
        }
        if self.security_token.is_some() {
            headers.push(X_SECURITY_TOKEN);
        }
        headers.extend([X_SDK_DATE, HOST, AUTHORIZATION]);
        SigningPreview {
            headers,
            query: changed_query(query, canonical_query(query)),
        }
    }

    /// The project ID sent as `X-Project-Id`, if any.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// Checks a request as the API gateway does: that `authorization` (the
    /// request's parsed `Authorization` header) is this signer's access key,
    /// algorithm and scope, and that its signature (compared in constant
    /// time) covers the request's method, URI, `SignedHeaders`, `X-Sdk-Date`
    /// and body, with the header values read exactly as [`Signer::sign`]
    /// reads them.
    ///
    /// Policy is the caller's: how far `X-Sdk-Date` may be from now, and
    /// which headers must be signed (IoTDA requires `host`, and
    /// `x-security-token` when it is sent).
    pub fn verify(&self, request: &SignableRequest<'_>, authorization: &Authorization) -> Result<(), VerifyError> {
        if authorization.access_key != self.ak {
            return Err(VerifyError::AccessKey);
        }
        let mut dates = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(X_SDK_DATE));
        let (date, _) = match (dates.next(), dates.next()) {
            (Some((_, date)), None) => std::str::from_utf8(date).ok().and_then(SdkDate::parse),
            _ => None,
        }
        .ok_or(VerifyError::Date)?;
        let scope_day = matches!(self.algorithm, Algorithm::Derived { .. }).then(|| date.day());
        if authorization.algorithm != self.algorithm || authorization.scope_day.as_deref() != scope_day {
            return Err(VerifyError::Scope);
        }
        let signed = for_verifying(&request.headers, request.authority, &authorization.signed_headers)?;
        let canonical = CanonicalRequest::new(request.method, request.path, request.query, &signed, request.body);
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
        tracing::trace!(target: crate::LOG_TARGET, %string_to_sign);
        let mut mac = self.keys.mac(&self.ak, date.day());
        mac.update(string_to_sign.as_bytes());
        mac
    }
}
