//! [`SignableRequest`]: a request as signing sees it, in no HTTP library's
//! types.

use std::fmt;

/// A request to sign or verify: method, authority, path, query, headers as
/// name/value pairs, and body bytes, borrowed from whatever HTTP library
/// holds the request.
///
/// Header names may be in any case (they are signed lower-case) and may
/// repeat (repeated values are signed joined with `,`, in the order given).
/// `Debug` shows header names only, never values: they may be secrets.
#[derive(Clone)]
pub struct SignableRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) authority: Option<&'a str>,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: Vec<(&'a str, &'a [u8])>,
    pub(crate) body: &'a [u8],
}

impl<'a> SignableRequest<'a> {
    /// A request with `method` (e.g. `POST`), `path` as sent
    /// (percent-encoded), the raw `query` without `?` (empty when there is
    /// none), and the `body` bytes (empty when there is none); no headers.
    pub fn new(method: &'a str, path: &'a str, query: &'a str, body: &'a [u8]) -> Self {
        Self {
            method,
            authority: None,
            path,
            query,
            headers: Vec::new(),
            body,
        }
    }

    /// The host and port the request is sent to, as in its URL
    /// (`iotda.cn-north-4.myhuaweicloud.com`, `127.0.0.1:8080`): the signed
    /// `Host`. Signing needs it; a verifier uses it only when the request has
    /// no `Host` header (HTTP/2, or a request built in memory).
    pub fn authority(mut self, authority: &'a str) -> Self {
        self.authority = Some(authority);
        self
    }

    /// Adds a header. Values are bytes, as HTTP libraries hold them; only
    /// visible ASCII (with spaces and tabs) can be signed.
    pub fn header(mut self, name: &'a str, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.headers.push((name, value.as_ref()));
        self
    }

    /// Adds every header of `headers`, in order.
    pub fn headers(mut self, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        self.headers.extend(headers);
        self
    }
}

impl fmt::Debug for SignableRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("SignableRequest")
            .field("method", &self.method)
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_header_value() {
        let request = SignableRequest::new("GET", "/", "", b"")
            .header("X-Security-Token", "SECRET-TOKEN")
            .headers([("x-auth-token", &b"SECRET-AUTH"[..])]);
        let debug = format!("{request:?}");
        assert!(
            debug.contains("X-Security-Token") && debug.contains("x-auth-token"),
            "{debug}"
        );
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
