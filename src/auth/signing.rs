//! AK/SK signing exactly as Huawei Cloud's official SDKs do it:
//! `SDK-HMAC-SHA256` (plain) and `V11-HMAC-SHA256` (derived key).
//!
//! The emulator verifies requests with this same code ([`Signer::verify`]), so
//! there is one canonicalisation in the crate, pinned by the official SDK's
//! own signatures in `tests/vectors/sign_vectors.json`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{LazyLock, Mutex};

use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::credentials::{AkSk, Credentials};
use crate::validation::{self, InvalidInput};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The signing service name of IoTDA in derived (`V11`) scopes. Not `iotda`.
pub const IOTDA_SIGNING_SERVICE: &str = "iotdm";

/// The `X-Sdk-Date` format (UTC), e.g. `20240102T030405Z`.
pub const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

const PLAIN: &str = "SDK-HMAC-SHA256";
const DERIVED: &str = "V11-HMAC-SHA256";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Everything but `A-Z a-z 0-9 - _ . ~` is percent-encoded (uppercase hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Which AK/SK algorithm a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signing {
    /// The official SDK's default derived predicate: derived signing for every
    /// host *not* shaped like `<service>[.<region>].myhuaweicloud.com`, so
    /// instance endpoints (`xxxx.st1.iotda-app.cn-north-4.myhuaweicloud.com`)
    /// and loopback are derived, `iotda.cn-north-4.myhuaweicloud.com` is plain.
    #[default]
    Auto,
    /// Always `SDK-HMAC-SHA256` (basic edition).
    Plain,
    /// Always `V11-HMAC-SHA256` (standard and enterprise editions); needs a region.
    Derived,
}

impl Signing {
    /// Resolves the choice for `authority` (host and port, as signed).
    /// Derived signing needs `region`; its absence is an error naming it.
    pub fn resolve(self, authority: &str, region: Option<&str>) -> Result<Algorithm, InvalidInput> {
        let derived = match self {
            Self::Plain => false,
            Self::Derived => true,
            Self::Auto => default_derived_predicate(authority),
        };
        if !derived {
            return Ok(Algorithm::Plain);
        }
        let Some(region) = region else {
            let why = match self {
                Self::Auto => format!("Signing::Auto chose derived (V11-HMAC-SHA256) signing for host {authority}"),
                _ => "Signing::Derived was chosen".to_owned(),
            };
            return Err(InvalidInput::new(
                "region",
                format!("is required: {why}; set the region, e.g. cn-north-4"),
            ));
        };
        validation::region(region)?;
        Ok(Algorithm::Derived {
            region: region.to_owned(),
            service: IOTDA_SIGNING_SERVICE.to_owned(),
        })
    }
}

/// The official SDK's default derived predicate: `true` (derive) unless the
/// host matches `^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)`,
/// anchored at the start only, tested against host and port as signed.
pub fn default_derived_predicate(authority: &str) -> bool {
    static REGULAR_ENDPOINT: LazyLock<Option<regress::Regex>> = LazyLock::new(|| {
        regress::Regex::new(r"^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)")
            .ok()
    });
    // The pattern is a constant that compiles; if it ever did not, deriving is
    // the safe default (it is what every non-regional endpoint needs).
    REGULAR_ENDPOINT.as_ref().is_none_or(|re| re.find(authority).is_none())
}

/// A resolved signing algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    /// `SDK-HMAC-SHA256`: HMAC keyed with the secret key.
    Plain,
    /// `V11-HMAC-SHA256`: HMAC keyed with an HKDF key derived per day, region and service.
    Derived {
        /// Region ID, e.g. `cn-north-4`.
        region: String,
        /// Signing service, [`IOTDA_SIGNING_SERVICE`] for IoTDA.
        service: String,
    },
}

impl Algorithm {
    /// The name in `Authorization`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Plain => PLAIN,
            Self::Derived { .. } => DERIVED,
        }
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A header value is not visible ASCII, so its signed form is ambiguous.
    #[error("header {0} is not visible ASCII and cannot be signed")]
    HeaderValue(String),
    /// The body is a stream, whose bytes are not known in advance.
    #[error("the request body is a stream; only in-memory bodies can be signed")]
    StreamingBody,
    /// The URL has no host to sign.
    #[error("the request URL has no host")]
    NoHost,
    /// The URL is plain `http://` to a host that is not loopback: the
    /// signature (replayable for 15 minutes) would cross a network in clear text.
    #[error("refusing to sign a plain http:// request to {0}, which is not loopback; use https://")]
    PlainHttp(String),
}

/// What a signature covers, already reduced to the signed parts.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalInput<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The raw query string without `?` (empty when none).
    pub query: &'a str,
    /// The signed headers: lower-case names, sorted, with their values.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes (empty when none).
    pub body: &'a [u8],
}

/// A parsed `Authorization` header of either algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `SDK-HMAC-SHA256` or `V11-HMAC-SHA256`.
    pub algorithm: String,
    /// The access key ID.
    pub access_key: String,
    /// For `V11`: `YYYYMMDD`, region and service of the credential scope.
    pub scope: Option<(String, String, String)>,
    /// Lower-case signed header names, in the order given.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

impl Authorization {
    /// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex` or
    /// `V11-HMAC-SHA256 Credential=AK/YYYYMMDD/region/service, SignedHeaders=..., Signature=...`.
    pub fn parse(value: &str) -> Option<Self> {
        let (algorithm, rest) = value.split_once(' ')?;
        let mut access = None;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (key, val) = part.trim().split_once('=')?;
            let slot = match key {
                "Access" => &mut access,
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => return None,
            };
            if slot.replace(val).is_some() {
                return None;
            }
        }
        let (access_key, scope) = match (algorithm, access, credential) {
            (PLAIN, Some(ak), None) => (ak.to_owned(), None),
            (DERIVED, None, Some(cred)) => {
                let mut it = cred.split('/');
                let (ak, day, region, service) = (it.next()?, it.next()?, it.next()?, it.next()?);
                if it.next().is_some() {
                    return None;
                }
                (
                    ak.to_owned(),
                    Some((day.to_owned(), region.to_owned(), service.to_owned())),
                )
            }
            _ => return None,
        };
        let signature = signature?;
        if access_key.is_empty() || signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self {
            algorithm: algorithm.to_owned(),
            access_key,
            scope,
            signed_headers: signed_headers?.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
        })
    }
}

/// Formats an `X-Sdk-Date` value.
pub fn format_sdk_date(at: Timestamp) -> String {
    SdkDate::new(at).as_str().to_owned()
}

/// An `X-Sdk-Date` value without `strftime` or allocation for years 0000 to
/// 9999 (jiff's upper bound); negative years (which no server accepts) go
/// through `strftime`, so the text is always exactly [`SDK_DATE_FORMAT`]'s.
enum SdkDate {
    Digits([u8; 16]),
    Formatted(String),
}

impl SdkDate {
    fn new(at: Timestamp) -> Self {
        let dt = jiff::tz::Offset::UTC.to_datetime(at);
        let Ok(year) = u16::try_from(dt.year()) else {
            return Self::Formatted(at.strftime(SDK_DATE_FORMAT).to_string());
        };
        let mut out = *b"00000000T000000Z";
        let two = |out: &mut [u8; 16], at: usize, v: i8| {
            let v = v.unsigned_abs();
            out[at] = b'0' + v / 10;
            out[at + 1] = b'0' + v % 10;
        };
        out[0] = b'0' + (year / 1000) as u8;
        out[1] = b'0' + (year / 100 % 10) as u8;
        out[2] = b'0' + (year / 10 % 10) as u8;
        out[3] = b'0' + (year % 10) as u8;
        two(&mut out, 4, dt.month());
        two(&mut out, 6, dt.day());
        two(&mut out, 9, dt.hour());
        two(&mut out, 11, dt.minute());
        two(&mut out, 13, dt.second());
        Self::Digits(out)
    }

    fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits, `T` and `Z` are ever written.
            Self::Digits(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            Self::Formatted(text) => text,
        }
    }
}

/// Lowercase hex of a SHA-256 output, on the stack.
struct Hex64([u8; 64]);

impl Hex64 {
    fn new(digest: &[u8]) -> Self {
        let mut out = [b'0'; 64];
        // A SHA-256 output is 32 bytes: exactly 64 digits, so this cannot fail.
        let _ = hex::encode_to_slice(digest, &mut out);
        Self(out)
    }

    fn as_str(&self) -> &str {
        // Only hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Parses an `X-Sdk-Date` value (`20240102T030405Z`).
pub fn parse_sdk_date(value: &str) -> Option<Timestamp> {
    if value.len() != 16 {
        return None;
    }
    let civil = jiff::civil::DateTime::strptime(SDK_DATE_FORMAT, value).ok()?;
    jiff::tz::Offset::UTC.to_timestamp(civil).ok()
}

/// Signs requests with one access key pair and algorithm.
///
/// Derived keys are cached per day, so HKDF runs once a day, not per request.
/// `Debug` shows the access key and algorithm only.
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
/// assert!(request.headers()["authorization"].to_str()?.starts_with("SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Signer {
    ak: String,
    /// `X-Security-Token` of temporary credentials, built (and marked
    /// sensitive) once.
    security_token: Option<reqwest::header::HeaderValue>,
    project_id: Option<String>,
    algorithm: Algorithm,
    keys: Keys,
}

/// What each algorithm signs with.
enum Keys {
    /// The HMAC keyed with the SK, prepared once.
    Plain(HmacSha256),
    /// The SK, the scope (`region/service`), and the HMAC keyed for one day
    /// (`YYYYMMDD`), rebuilt when the day changes.
    Derived {
        sk: secrecy::SecretString,
        scope: String,
        today: Mutex<Option<(String, HmacSha256)>>,
    },
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
                let mut value = reqwest::header::HeaderValue::from_str(token.expose_secret())
                    .map_err(|_| InvalidInput::new("credentials.security_token", "is not a legal header value"))?;
                value.set_sensitive(true);
                Ok::<_, InvalidInput>(value)
            })
            .transpose()?;
        let keys = match &algorithm {
            Algorithm::Plain => Keys::Plain(
                <HmacSha256 as KeyInit>::new_from_slice(pair.secret_key().expose_secret().as_bytes())
                    .map_err(|_| InvalidInput::new("credentials.sk", "cannot key HMAC-SHA256"))?,
            ),
            Algorithm::Derived { region, service } => Keys::Derived {
                sk: pair.secret_key().clone(),
                scope: format!("{region}/{service}"),
                today: Mutex::new(None),
            },
        };
        Ok(Self {
            ak: pair.access_key().to_owned(),
            security_token,
            project_id: None,
            algorithm,
            keys,
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
        use reqwest::header::{AUTHORIZATION, HOST, HeaderName, HeaderValue};

        let date = SdkDate::new(at);
        let date = date.as_str();
        let host = match (request.url().host_str(), request.url().port()) {
            (Some(host), Some(port)) => {
                let mut text = String::with_capacity(host.len() + 6);
                text.push_str(host);
                text.push(':');
                text.push_str(itoa::Buffer::new().format(port));
                text
            }
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(SignError::NoHost),
        };
        if request.url().scheme() != "https"
            && !request
                .url()
                .host_str()
                .is_some_and(crate::validation::is_loopback_host)
        {
            return Err(SignError::PlainHttp(host));
        }
        let current = request.url().query();
        let query = canonical_query(current.unwrap_or(""));
        let wanted = (!query.is_empty()).then_some(query.as_str());
        // Rewriting the URL re-serialises it; skip that when nothing changes.
        if current != wanted {
            request.url_mut().set_query(wanted);
        }

        let value = |name: &str, v: &str| HeaderValue::from_str(v).map_err(|_| SignError::HeaderValue(name.to_owned()));
        let headers = request.headers_mut();
        headers.remove(AUTHORIZATION);
        // Room for what is added below, so the map grows at most once.
        headers.reserve(5);
        if let Some(project_id) = &self.project_id {
            headers.insert(
                HeaderName::from_static("x-project-id"),
                value("X-Project-Id", project_id)?,
            );
        }
        if let Some(token) = &self.security_token {
            headers.insert(HeaderName::from_static("x-security-token"), token.clone());
        }
        headers.insert(HeaderName::from_static("x-sdk-date"), value("X-Sdk-Date", date)?);
        headers.insert(
            HOST,
            HeaderValue::try_from(host).map_err(|_| SignError::HeaderValue("Host".to_owned()))?,
        );

        let headers = request.headers();
        // Values are trimmed; repeated headers are joined with `,`. A single
        // value (the usual case) is borrowed, not copied.
        let mut signed: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(headers.keys_len());
        for name in headers.keys() {
            if name.as_str().contains('_') {
                continue;
            }
            fn text<'v>(name: &HeaderName, v: &'v HeaderValue) -> Result<&'v str, SignError> {
                v.to_str()
                    .map(str::trim)
                    .map_err(|_| SignError::HeaderValue(name.as_str().to_owned()))
            }
            let mut values = headers.get_all(name).iter();
            let first = values.next().map(|v| text(name, v)).transpose()?.unwrap_or_default();
            let joined = match values.next() {
                None => Cow::Borrowed(first),
                Some(second) => {
                    let mut joined = String::with_capacity(first.len() * 2 + 1);
                    joined.push_str(first);
                    joined.push(',');
                    joined.push_str(text(name, second)?);
                    for v in values {
                        joined.push(',');
                        joined.push_str(text(name, v)?);
                    }
                    Cow::Owned(joined)
                }
            };
            signed.push((name.as_str(), joined));
        }
        signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_ref())).collect();

        let body = match request.body() {
            None => &[][..],
            Some(body) => body.as_bytes().ok_or(SignError::StreamingBody)?,
        };
        let input = CanonicalInput {
            method: request.method().as_str(),
            path: request.url().path(),
            query: request.url().query().unwrap_or(""),
            headers: &pairs,
            body,
        };
        let authorization = self.authorization(&input, date);
        let mut v =
            HeaderValue::try_from(authorization).map_err(|_| SignError::HeaderValue("Authorization".to_owned()))?;
        v.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, v);
        Ok(())
    }

    /// The `Authorization` value for `input` signed at `date` (`X-Sdk-Date`).
    pub fn authorization(&self, input: &CanonicalInput<'_>, date: &str) -> String {
        let names: usize = input.headers.iter().map(|(name, _)| name.len() + 1).sum();
        let mut out = String::with_capacity(128 + self.ak.len() + names);
        match &self.algorithm {
            Algorithm::Plain => {
                out.push_str(PLAIN);
                out.push_str(" Access=");
                out.push_str(&self.ak);
            }
            Algorithm::Derived { region, service } => {
                out.push_str(DERIVED);
                out.push_str(" Credential=");
                for part in [self.ak.as_str(), day_of(date), region, service] {
                    out.push_str(part);
                    out.push('/');
                }
                out.pop();
            }
        }
        out.push_str(", SignedHeaders=");
        let start = out.len();
        push_signed_headers(input.headers, &mut out);
        let hashed = canonical_request_hash(input, &out[start..]);
        let signature = Hex64::new(&self.mac_for(&hashed, date).finalize().into_bytes());
        out.push_str(", Signature=");
        out.push_str(signature.as_str());
        out
    }

    /// Checks `signature` (hex) over `input` at `date`, in constant time.
    pub fn verify(&self, input: &CanonicalInput<'_>, date: &str, signature: &str) -> bool {
        let Ok(expected) = hex::decode(signature) else {
            return false;
        };
        let mut signed_headers = String::new();
        push_signed_headers(input.headers, &mut signed_headers);
        let hashed = canonical_request_hash(input, &signed_headers);
        self.mac_for(&hashed, date).verify_slice(&expected).is_ok()
    }

    /// The HMAC over the string to sign, keyed for `date`; `hashed` is the
    /// hex SHA-256 of the canonical request.
    fn mac_for(&self, hashed: &Hex64, date: &str) -> HmacSha256 {
        let mut mac = match &self.keys {
            Keys::Plain(mac) => mac.clone(),
            Keys::Derived { sk, scope, today } => self.derived_mac(sk, scope, today, date),
        };
        mac.update(self.algorithm.name().as_bytes());
        mac.update(b"\n");
        mac.update(date.as_bytes());
        mac.update(b"\n");
        if let Algorithm::Derived { region, service } = &self.algorithm {
            for part in [day_of(date), "/", region, "/", service, "\n"] {
                mac.update(part.as_bytes());
            }
        }
        mac.update(hashed.as_str().as_bytes());
        mac
    }

    /// HKDF-SHA256(salt = AK, ikm = SK, info = `YYYYMMDD/region/service`), 32
    /// bytes; the HMAC key is the *hex string* of that key, as the SDK does.
    fn derived_mac(
        &self,
        sk: &secrecy::SecretString,
        scope: &str,
        today: &Mutex<Option<(String, HmacSha256)>>,
        date: &str,
    ) -> HmacSha256 {
        let day = day_of(date);
        let mut cache = today.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached_day, mac)) = cache.as_ref()
            && cached_day == day
        {
            return mac.clone();
        }
        let info = format!("{day}/{scope}");
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(self.ak.as_bytes()), sk.expose_secret().as_bytes());
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so this cannot fail.
        let _ = hkdf.expand(info.as_bytes(), &mut okm);
        // 64 hex digits: exactly SHA-256's block size, HMAC's fixed key size.
        let mut key_hex = [0u8; 64];
        let _ = hex::encode_to_slice(okm, &mut key_hex);
        let mac = <HmacSha256 as KeyInit>::new(&key_hex.into());
        okm.fill(0);
        key_hex.fill(0);
        *cache = Some((day.to_owned(), mac.clone()));
        mac
    }
}

/// `YYYYMMDD` of an `X-Sdk-Date` (its first eight characters).
fn day_of(date: &str) -> &str {
    date.get(..8).unwrap_or(date)
}

/// The `SignedHeaders` list of `headers` (`a;b;c`), appended to `out`.
fn push_signed_headers(headers: &[(&str, &str)], out: &mut String) {
    for (i, (name, _)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
}

/// The hex SHA-256 of the canonical request
/// `METHOD\nURI/\nQUERY\nname:value\n...\n\nsigned;names\nhex(sha256(body))`.
/// `signed_headers` is [`push_signed_headers`] of `input.headers`.
fn canonical_request_hash(input: &CanonicalInput<'_>, signed_headers: &str) -> Hex64 {
    let headers: usize = input.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    // Sized for the common case (nothing to percent-encode) so it is allocated once.
    let mut out = String::with_capacity(
        input.method.len() + input.path.len() + input.query.len() + headers + signed_headers.len() + 72,
    );
    out.push_str(input.method);
    out.push('\n');
    if is_canonical_path(input.path) {
        // Decoding and re-encoding would give the same text.
        out.push_str(input.path);
        if !input.path.ends_with('/') {
            out.push('/');
        }
    } else {
        out.push_str(&canonical_uri(input.path));
    }
    out.push('\n');
    out.push_str(&canonical_query(input.query));
    out.push('\n');
    for (name, value) in input.headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    if input.body.is_empty() {
        out.push_str(EMPTY_SHA256);
    } else {
        out.push_str(Hex64::new(&Sha256::digest(input.body)).as_str());
    }
    Hex64::new(&Sha256::digest(out.as_bytes()))
}

/// Whether `path` is already its own canonical URI (before the trailing
/// `/`): only unreserved characters and `/`, so nothing to decode or encode.
fn is_canonical_path(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/'))
}

/// The canonical URI: the path percent-decoded, each `/` segment re-encoded
/// (unreserved characters kept), with a trailing `/` added.
///
/// ```
/// assert_eq!(iotda_batchtask::auth::canonical_uri("/v5/a%20b/stop"), "/v5/a%20b/stop/");
/// ```
pub fn canonical_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    canonical_uri_into(path, &mut out);
    out
}

fn canonical_uri_into(path: &str, out: &mut String) {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(segment, UNRESERVED));
    }
    if !out.ends_with('/') {
        out.push('/');
    }
}

/// The canonical query: pairs decoded, sorted by key then value, re-encoded,
/// joined with `&`; a key without `=` gets an empty value (`k=`).
///
/// ```
/// assert_eq!(iotda_batchtask::auth::canonical_query("b=2&a=x y&c"), "a=x%20y&b=2&c=");
/// ```
pub fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, UNRESERVED));
        out.push('=');
        out.extend(utf8_percent_encode(v, UNRESERVED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_matches_the_sdk() {
        assert!(!default_derived_predicate("iotda.cn-north-4.myhuaweicloud.com"));
        assert!(!default_derived_predicate("iam.myhuaweicloud.com"));
        assert!(default_derived_predicate(
            "a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com"
        ));
        assert!(default_derived_predicate("127.0.0.1:18080"));
        assert!(default_derived_predicate("localhost:8080"));
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri("/v5/a%20b/c"), "/v5/a%20b/c/");
        assert_eq!(canonical_uri("/x/"), "/x/");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("app_id=my%20app~1"), "app_id=my%20app~1");
    }

    #[test]
    fn authorization_round_trip() {
        let v = "V11-HMAC-SHA256 Credential=AK/20240102/cn-north-4/iotdm, SignedHeaders=host;x-sdk-date, Signature=";
        let parsed = Authorization::parse(&format!("{v}{}", "ab".repeat(32))).unwrap();
        assert_eq!(parsed.scope.unwrap().2, "iotdm");
        assert!(
            Authorization::parse("SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=host, Signature=00").is_none()
        );
        assert!(Authorization::parse("Bearer x").is_none());
    }

    #[test]
    fn dates() {
        let t = parse_sdk_date("20240102T030405Z").unwrap();
        assert_eq!(format_sdk_date(t), "20240102T030405Z");
        assert!(parse_sdk_date("2024-01-02T03:04:05Z").is_none());
    }
}
