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
    #[error("timed out after {elapsed:?} ({limit}) after {attempts} attempt(s){}", RequestIdSuffix(request_id.as_deref()))]
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
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect timeout",
            Self::Request => "request timeout",
            Self::Deadline => "overall deadline",
        })
    }
}

/// An error status from IoTDA or from Huawei Cloud's API gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Attempts made (more than one when a 429 or 503 was retried).
    pub attempts: u32,
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
            Self::InvalidInput(_) => None,
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
            Self::InvalidInput(_) => false,
            Self::Api(e) => e.status >= 500,
            Self::Transport { source, .. } => !source.as_ref().is_some_and(reqwest::Error::is_connect),
            Self::Timeout { limit, .. } => *limit != TimeoutKind::Connect,
            Self::Decode { .. } | Self::ResponseTooLarge { .. } => true,
        }
    }

    /// Attempts made before this error (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::InvalidInput(_) => 0,
            Self::Api(e) => e.attempts,
            Self::Transport { attempts, .. } | Self::Timeout { attempts, .. } => *attempts,
            Self::Decode { .. } | Self::ResponseTooLarge { .. } => 1,
        }
    }
}

/// ` (request id X)` or nothing.
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
        let c = if c.is_control() || c.is_whitespace() { ' ' } else { c };
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
