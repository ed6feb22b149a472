//! The canonical request: the text whose SHA-256 a signature covers.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::headers::SignedHeader;

/// Everything but `A-Z a-z 0-9 - _ . ~` is percent-encoded (uppercase hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Signed headers whose values are secrets, masked in the trace log.
const SECRET_HEADERS: [&str; 2] = ["x-security-token", "x-auth-token"];

/// What a signature covers, already reduced to the signed parts.
#[derive(Debug, Clone)]
pub(crate) struct CanonicalRequest<'a> {
    /// HTTP method, e.g. `POST`.
    method: &'a str,
    /// The path as sent (percent-encoded).
    path: &'a str,
    /// The raw query string without `?` (empty when none).
    query: &'a str,
    /// The signed headers, in `SignedHeaders` order.
    headers: &'a [SignedHeader<'a>],
    /// Their names as `SignedHeaders` lists them: `a;b;c`.
    signed_headers: String,
    /// The body bytes (empty when none).
    body: &'a [u8],
}

impl<'a> CanonicalRequest<'a> {
    /// `query` is the raw query without `?`, empty when there is none.
    pub(crate) fn new(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a [SignedHeader<'a>],
        body: &'a [u8],
    ) -> Self {
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_ref()).collect();
        Self {
            method,
            path,
            query,
            headers,
            signed_headers: names.join(";"),
            body,
        }
    }

    /// The `SignedHeaders` list: `a;b;c`.
    pub(crate) fn signed_headers(&self) -> &str {
        &self.signed_headers
    }

    /// The hex SHA-256 of the canonical request, which is traced (with
    /// secret header values masked) at `TRACE`.
    pub(crate) fn hash(&self) -> String {
        if tracing::enabled!(target: crate::LOG_TARGET, tracing::Level::TRACE) {
            tracing::trace!(target: crate::LOG_TARGET, canonical_request = %self.text(true));
        }
        // Hashed piece by piece: the text itself is only built for the log.
        let mut hasher = Sha256::new();
        self.write(false, |piece| hasher.update(piece));
        hex_of_32(&hasher.finalize().into())
    }

    /// `METHOD\nURI/\nQUERY\nname:value\n...\n\nsigned;names\nhex(sha256(body))`.
    fn text(&self, mask_secrets: bool) -> String {
        let mut out = String::with_capacity(256 + self.path.len() + self.query.len());
        self.write(mask_secrets, |piece| out.push_str(piece));
        out
    }

    /// Hands the canonical text to `sink` in pieces, in order.
    fn write(&self, mask_secrets: bool, mut sink: impl FnMut(&str)) {
        let ((uri, slash), query) = (canonical_uri_parts(self.path), canonical_query(self.query));
        for piece in [self.method, "\n", &uri, slash, "\n", &query, "\n"] {
            sink(piece);
        }
        for (name, value) in self.headers {
            let value = if mask_secrets && SECRET_HEADERS.contains(&name.as_ref()) {
                "***"
            } else {
                value
            };
            for piece in [name.as_ref(), ":", value, "\n"] {
                sink(piece);
            }
        }
        sink("\n");
        sink(&self.signed_headers);
        sink("\n");
        let mut body_hash = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(self.body), &mut body_hash).expect("32 bytes are 64 hex digits");
        sink(std::str::from_utf8(&body_hash).expect("hex digits are ASCII"));
    }
}

/// Lower-case hex of 32 bytes (a SHA-256 output or an HMAC-SHA256 tag).
/// `hex::encode` builds its `String` a `char` at a time, a measurable share
/// of a signature; writing to a buffer is not.
pub(crate) fn hex_of_32(bytes: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(bytes, &mut out).expect("32 bytes are 64 hex digits");
    String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
}

/// The canonical URI: the path percent-decoded, each `/` segment re-encoded
/// (unreserved characters kept), with a trailing `/` added.
#[cfg(test)]
fn canonical_uri(path: &str) -> String {
    let (uri, slash) = canonical_uri_parts(path);
    uri.into_owned() + slash
}

/// [`canonical_uri`] as the path (borrowed when it needs no encoding, as
/// the usual API path does) and the `/` to append after it, if any: a
/// signature then copies nothing.
fn canonical_uri_parts(path: &str) -> (Cow<'_, str>, &'static str) {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    let uri = if path.bytes().all(|b| b == b'/' || unreserved(b)) {
        Cow::Borrowed(path)
    } else {
        let decoded = percent_decode_str(path).decode_utf8_lossy();
        let segments: Vec<String> = decoded
            .split('/')
            .map(|segment| utf8_percent_encode(segment, UNRESERVED).to_string())
            .collect();
        Cow::Owned(segments.join("/"))
    };
    let slash = if uri.ends_with('/') { "" } else { "/" };
    (uri, slash)
}

/// The canonical query: pairs decoded, sorted by key then value, re-encoded,
/// joined with `&`; a key without `=` gets an empty value (`k=`).
pub(crate) fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(key), decode(value))
        })
        .collect();
    pairs.sort();
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(key, UNRESERVED),
                utf8_percent_encode(value, UNRESERVED)
            )
        })
        .collect();
    encoded.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::borrow::Cow;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri("/v5/a%20b/c"), "/v5/a%20b/c/");
        assert_eq!(canonical_uri("/x/"), "/x/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("b=2&a=x y&c"), "a=x%20y&b=2&c=");
        assert_eq!(canonical_query("app_id=my%20app~1"), "app_id=my%20app~1");
    }

    #[test]
    fn the_canonical_request_text() {
        let headers = [
            (Cow::Borrowed("host"), Cow::Borrowed("example.com")),
            (Cow::Borrowed("x-security-token"), Cow::Borrowed("SECRET")),
        ];
        let request = CanonicalRequest::new("GET", "/v5/a b", "z=1&a", &headers, b"");
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let text = format!(
            "GET\n/v5/a%20b/\na=&z=1\nhost:example.com\nx-security-token:SECRET\n\nhost;x-security-token\n{empty}"
        );
        assert_eq!(request.text(false), text);
        assert_eq!(request.text(true), text.replace(":SECRET", ":***"));
        assert_eq!(request.hash(), hex::encode(Sha256::digest(&text)));
        assert_eq!(hex_of_32(&[0xab; 32]), "ab".repeat(32));
    }

    /// Characters the canonical form may contain: unreserved, `%XX` with
    /// uppercase hex, and the separators.
    fn is_canonical_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || "-_.~%/&=".contains(c)
    }

    proptest! {
        #[test]
        fn canonical_uri_is_stable_and_encoded(segments in prop::collection::vec("\\PC{0,12}", 0..6)) {
            let path = format!("/{}", segments.join("/"));
            let encoded: String = utf8_percent_encode(&path, percent_encoding::CONTROLS).collect();
            let canonical = canonical_uri(&encoded);
            prop_assert!(canonical.ends_with('/'));
            prop_assert!(canonical.chars().all(is_canonical_char), "{canonical}");
            // Canonicalising a canonical URI changes nothing: the client's form
            // and the server's recomputation agree.
            prop_assert_eq!(canonical_uri(&canonical), canonical.clone());
            // Every %XX uses uppercase hex.
            for (i, _) in canonical.match_indices('%') {
                let hex = &canonical[i + 1..i + 3];
                prop_assert!(hex.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()), "{hex}");
            }
        }

        #[test]
        fn canonical_query_is_sorted_and_idempotent(pairs in prop::collection::vec(("[a-z_%+ ~]{0,6}", "\\PC{0,8}"), 0..8)) {
            let query = pairs
                .iter()
                .map(|(k, v)| format!(
                    "{}={}",
                    utf8_percent_encode(k, NON_ALPHANUMERIC),
                    utf8_percent_encode(v, NON_ALPHANUMERIC),
                ))
                .collect::<Vec<_>>()
                .join("&");
            let canonical = canonical_query(&query);
            prop_assert!(canonical.chars().all(is_canonical_char), "{canonical}");
            prop_assert_eq!(canonical_query(&canonical), canonical.clone());
            // Order of the input pairs does not matter.
            let mut reversed: Vec<&str> = query.split('&').collect();
            reversed.reverse();
            prop_assert_eq!(canonical_query(&reversed.join("&")), canonical.clone());
            // Pairs come out sorted by decoded key then value.
            let decoded: Vec<(String, String)> = canonical
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    let d = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
                    (d(k), d(v))
                })
                .collect();
            let mut sorted = decoded.clone();
            sorted.sort();
            prop_assert_eq!(decoded, sorted);
        }
    }
}
