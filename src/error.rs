//! The one error type of the client.
//!
//! Every variant's `Display` is a single line a person can act on: for API
//! errors the HTTP status, Huawei's `error_code` and `error_msg`, and the
//! request ID to quote to support. Nothing here ever holds a secret.

use std::fmt;
use std::time::Duration;

use crate::validation::InvalidInput;

/// Longest slice of a raw body quoted in a `Display` line.
const BODY_SNIPPET: usize = 200;

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument was rejected before anything was sent.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),

    /// Credentials, the project ID or the endpoint could not be found or
    /// fetched (see [`crate::config`]); nothing was sent to IoTDA.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// The server answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// The request could not be sent or its answer not received: connection
    /// refused, reset, TLS failure.
    #[error("transport error after {attempts} attempt(s): {message}")]
    #[non_exhaustive]
    Transport {
        /// The error and its causes, on one line.
        message: String,
        /// Attempts made, including the failed one.
        attempts: u32,
        /// The request ID, when response headers had arrived.
        request_id: Option<String>,
        /// The underlying error.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// No answer within a time limit.
    #[error("timed out after {elapsed:?} ({limit}) after {}{}", Tries(*limit, *attempts), RequestIdSuffix(request_id.as_deref()))]
    #[non_exhaustive]
    Timeout {
        /// Which limit fired.
        limit: TimeoutKind,
        /// Time spent on the call.
        elapsed: Duration,
        /// Attempts made.
        attempts: u32,
        /// The request ID, when response headers had arrived before the limit.
        request_id: Option<String>,
    },

    /// A success status whose body is not the documented shape.
    #[error("HTTP {status}: cannot decode the response: {message}{}", RequestIdSuffix(request_id.as_deref()))]
    #[non_exhaustive]
    Decode {
        /// HTTP status code.
        status: u16,
        /// What was wrong.
        message: String,
        /// The `X-Request-Id` response header.
        request_id: Option<String>,
        /// The raw body, as received (lossily UTF-8).
        body: String,
    },

    /// The response body exceeded the configured cap and was not read further.
    #[error("HTTP {status}: response body exceeds the {limit}-byte limit{}", RequestIdSuffix(request_id.as_deref()))]
    #[non_exhaustive]
    ResponseTooLarge {
        /// HTTP status code.
        status: u16,
        /// The cap, in bytes.
        limit: usize,
        /// The `X-Request-Id` response header.
        request_id: Option<String>,
    },
}

/// Which time limit ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Connecting took longer than the connect timeout.
    Connect,
    /// One attempt (send and receive) took longer than the request timeout.
    Request,
    /// The whole call, retries included, passed its deadline.
    Deadline,
    /// A paged walk (every page of a list or show) passed its one deadline;
    /// the error's `attempts` counts the pages requested.
    Walk,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect timeout",
            Self::Request => "request timeout",
            Self::Deadline => "overall deadline",
            Self::Walk => "deadline of a paged walk",
        })
    }
}

/// An error status from IoTDA or from Huawei Cloud's API gateway.
///
/// Read it through its fields or accessors; [`ApiError::code`] gives the
/// Huawei code typed. It cannot be built outside this crate (fields may be
/// added); tests build one with the `test-util` constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Huawei's error code, e.g. `IOTDA.014200` or `APIGW.0301`.
    pub error_code: Option<String>,
    /// Huawei's error message.
    pub error_msg: Option<String>,
    /// The `X-Request-Id` header, else the gateway's `request_id` body field.
    pub request_id: Option<String>,
    /// The body as received when it carried no error code or message (an
    /// HTML page from a proxy, say); `None` when it did.
    pub body: Option<String>,
    /// Attempts made (more than one when a 429 was retried).
    pub attempts: u32,
}

impl ApiError {
    /// Huawei's code, typed; `None` when the body had none.
    pub fn code(&self) -> Option<HuaweiCode> {
        self.error_code.as_deref().map(HuaweiCode::from_code)
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Huawei's message.
    pub fn error_msg(&self) -> Option<&str> {
        self.error_msg.as_deref()
    }

    /// The request ID to quote to Huawei support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// The Huawei error codes this API is documented to return (IoTDA's and
/// the API gateway's), with a catch-all for the rest. Match on it instead of
/// comparing strings; [`HuaweiCode::as_str`] gives the wire form back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HuaweiCode {
    /// `IOTDA.014219`: a per-target failure, the target is not in the task.
    TargetNotInTask,
    /// `IOTDA.014200`: the batch task does not exist.
    TaskNotFound,
    /// `IOTDA.000006`: invalid input data.
    InvalidInput,
    /// `IOTDA.000008`: the request format is invalid.
    BadRequest,
    /// `IOTDA.000017`: `limit` is out of range.
    LimitOutOfRange,
    /// `IOTDA.000018`: `marker` is out of range.
    MarkerOutOfRange,
    /// `IOTDA.000002`: the request is unauthorized.
    Unauthorized,
    /// `IOTDA.000004`: invalid access token.
    InvalidToken,
    /// `IOTDA.000021`: the token's user is unknown or has not subscribed to IoTDA.
    NotSubscribed,
    /// `IOTDA.000022`: the caller lacks the permission.
    PermissionDenied,
    /// `IOTDA.000020`: IoTDA could not decrypt the IAM token.
    IamTokenDecrypt,
    /// `APIGW.0301`: the gateway refused the IAM authentication (bad
    /// signature, unknown AK, expired token, clock skew).
    GatewayAuth,
    /// `APIG.0308` or `APIGW.0308`: throttled.
    Throttled,
    /// Any other code, as received.
    Other(String),
}

impl HuaweiCode {
    const KNOWN: [(&'static str, HuaweiCode); 14] = [
        ("IOTDA.014219", Self::TargetNotInTask),
        ("IOTDA.014200", Self::TaskNotFound),
        ("IOTDA.000006", Self::InvalidInput),
        ("IOTDA.000008", Self::BadRequest),
        ("IOTDA.000017", Self::LimitOutOfRange),
        ("IOTDA.000018", Self::MarkerOutOfRange),
        ("IOTDA.000002", Self::Unauthorized),
        ("IOTDA.000004", Self::InvalidToken),
        ("IOTDA.000021", Self::NotSubscribed),
        ("IOTDA.000022", Self::PermissionDenied),
        ("IOTDA.000020", Self::IamTokenDecrypt),
        ("APIGW.0301", Self::GatewayAuth),
        ("APIG.0308", Self::Throttled),
        ("APIGW.0308", Self::Throttled),
    ];

    /// The typed form of a code as received.
    pub fn from_code(code: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(known, _)| *known == code)
            .map_or_else(|| Self::Other(code.to_owned()), |(_, typed)| typed.clone())
    }

    /// The wire form (`APIG.0308` for [`HuaweiCode::Throttled`]).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(_, typed)| typed == known)
                .map(|(code, _)| *code)
                .expect("every named variant is in KNOWN"),
        }
    }
}

impl fmt::Display for HuaweiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(reason) = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
        {
            write!(f, " {reason}")?;
        }
        match (&self.error_code, &self.error_msg, &self.body) {
            (Some(code), Some(msg), _) => write!(f, ": {} {}", one_line(code, 64), one_line(msg, 500))?,
            (Some(code), None, _) => write!(f, ": {}", one_line(code, 64))?,
            (None, Some(msg), _) => write!(f, ": {}", one_line(msg, 500))?,
            (None, None, Some(body)) if !body.trim().is_empty() => {
                write!(f, ": body: {}", one_line(body, BODY_SNIPPET))?
            }
            (None, None, _) => write!(f, ": no error details in the body")?,
        }
        write!(f, "{}", RequestIdSuffix(self.request_id.as_deref()))?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl Error {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::Decode { status, .. } | Self::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Huawei's error code, for API errors.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.error_code.as_deref(),
            _ => None,
        }
    }

    /// The request ID to quote to Huawei support, when there is one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.request_id.as_deref(),
            Self::Transport { request_id, .. }
            | Self::Timeout { request_id, .. }
            | Self::Decode { request_id, .. }
            | Self::ResponseTooLarge { request_id, .. } => request_id.as_deref(),
            Self::InvalidInput(_) | Self::Config(_) => None,
        }
    }

    /// The API error, for [`Error::Api`].
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The validation error, for [`Error::InvalidInput`].
    pub fn as_invalid_input(&self) -> Option<&InvalidInput> {
        match self {
            Self::InvalidInput(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the request may have been processed although no answer says
    /// what happened: a timeout or a broken connection after sending, a 5xx
    /// (a gateway can answer 5xx after the service acted), or a success
    /// status whose body could not be read. Such a request must not be sent
    /// again blind; read the state instead (the stop calls do, by default).
    ///
    /// `false` for what provably never reached the service: validation, a
    /// connection that was never made, and 4xx refusals.
    pub fn may_have_been_processed(&self) -> bool {
        match self {
            Self::InvalidInput(_) | Self::Config(_) => false,
            Self::Api(e) => e.status >= 500,
            Self::Transport { source, .. } => !source.as_ref().is_some_and(reqwest::Error::is_connect),
            Self::Timeout { limit, .. } => *limit != TimeoutKind::Connect,
            Self::Decode { .. } | Self::ResponseTooLarge { .. } => true,
        }
    }

    /// Huawei's code, typed, for API errors.
    pub fn code(&self) -> Option<HuaweiCode> {
        self.as_api().and_then(ApiError::code)
    }

    /// The task (or the API path) does not exist: 404, or `IOTDA.014200`.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.code() == Some(HuaweiCode::TaskNotFound)
    }

    /// Authentication or authorisation failed: 401, 403, or a code saying so.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
            || matches!(
                self.code(),
                Some(
                    HuaweiCode::GatewayAuth
                        | HuaweiCode::Unauthorized
                        | HuaweiCode::InvalidToken
                        | HuaweiCode::PermissionDenied
                        | HuaweiCode::NotSubscribed
                        | HuaweiCode::IamTokenDecrypt
                )
            )
    }

    /// Throttled: 429 (after the retries the policy allowed).
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429) || self.code() == Some(HuaweiCode::Throttled)
    }

    /// Whether sending the same request again is safe and may succeed: it
    /// provably never reached the service (no connection, a connect timeout,
    /// 429). Never true for an error that [may have been
    /// processed](Self::may_have_been_processed).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { source, .. } => source.as_ref().is_some_and(reqwest::Error::is_connect),
            Self::Timeout { limit, .. } => *limit == TimeoutKind::Connect,
            Self::Api(e) => e.status == 429,
            _ => false,
        }
    }

    /// Attempts made before this error (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::InvalidInput(_) | Self::Config(_) => 0,
            Self::Api(e) => e.attempts,
            Self::Transport { attempts, .. } | Self::Timeout { attempts, .. } => *attempts,
            Self::Decode { .. } | Self::ResponseTooLarge { .. } => 1,
        }
    }
}

/// ` (request id X)` or nothing.
/// "3 attempt(s)", or for a walk "3 page request(s)".
struct Tries(TimeoutKind, u32);

impl fmt::Display for Tries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            TimeoutKind::Walk => write!(f, "{} page request(s)", self.1),
            _ => write!(f, "{} attempt(s)", self.1),
        }
    }
}

struct RequestIdSuffix<'a>(Option<&'a str>);

impl fmt::Display for RequestIdSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request id {})", one_line(id, 128)),
            None => Ok(()),
        }
    }
}

/// Text from the network made safe for one line of a log or terminal: control characters
/// (CR/LF included) become spaces, runs of whitespace collapse, and it is cut
/// at `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    let mut count = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() || is_invisible_format(c) {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        if count == max {
            out.push('…');
            break;
        }
        last_space = c == ' ';
        out.push(c);
        count += 1;
    }
    out.trim_end().to_owned()
}

/// Bidi controls and other invisible characters that would reorder or hide
/// the rest of a line on a terminal.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Joins an error and its sources on one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    one_line(&out, 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_controls() {
        assert_eq!(one_line("a\r\n  b\tc", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[test]
    fn one_line_neutralises_bidi_controls() {
        assert_eq!(one_line("abc\u{202e}fed\u{2066}x", 20), "abc fed x");
    }

    #[test]
    fn huawei_codes_round_trip_and_classify() {
        for code in ["IOTDA.014219", "IOTDA.014200", "APIGW.0301", "APIG.0308", "X.1"] {
            assert_eq!(HuaweiCode::from_code(code).as_str(), code);
        }
        assert_eq!(HuaweiCode::from_code("APIGW.0308"), HuaweiCode::Throttled);
        assert_eq!(
            HuaweiCode::from_code("IOTDA.999999"),
            HuaweiCode::Other("IOTDA.999999".into())
        );
        let api = |status, code: &str| {
            Error::Api(Box::new(ApiError {
                status,
                error_code: Some(code.to_owned()),
                error_msg: None,
                request_id: None,
                body: None,
                attempts: 1,
            }))
        };
        assert!(api(404, "IOTDA.014200").is_not_found());
        assert!(api(401, "APIGW.0301").is_auth());
        assert!(api(429, "APIG.0308").is_throttled() && api(429, "APIG.0308").is_retryable());
        let server_error = api(500, "IOTDA.000020");
        assert!(!server_error.is_retryable() && server_error.may_have_been_processed());
        assert_eq!(server_error.code(), Some(HuaweiCode::IamTokenDecrypt));
    }

    #[test]
    fn api_display_is_one_line() {
        let e = ApiError {
            status: 404,
            error_code: Some("IOTDA.014200".into()),
            error_msg: Some("not\nfound".into()),
            request_id: Some("rid".into()),
            body: None,
            attempts: 1,
        };
        assert_eq!(
            e.to_string(),
            "HTTP 404 Not Found: IOTDA.014200 not found (request id rid)"
        );
    }
}
