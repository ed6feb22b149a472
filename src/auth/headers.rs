//! Which headers a signature covers and their values as signed: the one
//! reading of a header map that the signer and the verifier share.

use std::borrow::Cow;

use http::header::{GetAll, HOST};
use http::{HeaderMap, HeaderValue};

/// A signed header: its lower-case name and its value as signed.
pub(crate) type SignedHeader<'a> = (&'a str, Cow<'a, str>);

/// Which headers are signed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Select<'a> {
    /// What the signer signs: every header present, except names containing
    /// `_` (the official SDK skips them), sorted by name.
    All,
    /// What a verifier recomputes: exactly these lower-case names (an
    /// `Authorization`'s `SignedHeaders`), in this order.
    Named(&'a [String]),
}

/// Why the signed headers cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// A named header is not in the request.
    Missing(String),
    /// A value is not visible ASCII, so its signed text is ambiguous.
    NotText(String),
}

/// The signed headers of a request with `headers`, sent to `authority` (the
/// URI's, if any): repeated values joined with `,`, each trimmed, and `host`
/// taken from `authority` when there is no `Host` header (HTTP/2, or a
/// request built in memory).
pub(crate) fn signed_headers<'a>(
    headers: &'a HeaderMap,
    authority: Option<&'a str>,
    select: Select<'a>,
) -> Result<Vec<SignedHeader<'a>>, HeaderError> {
    let host_fallback = || authority.filter(|_| !headers.contains_key(HOST));
    match select {
        Select::All => {
            let mut signed = Vec::with_capacity(headers.keys_len() + 1);
            for name in headers.keys() {
                if !name.as_str().contains('_') {
                    let value = joined(name.as_str(), headers.get_all(name))?.expect("a listed name has a value");
                    signed.push((name.as_str(), value));
                }
            }
            if let Some(authority) = host_fallback() {
                signed.push(("host", Cow::Borrowed(authority)));
            }
            signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
            Ok(signed)
        }
        Select::Named(names) => names
            .iter()
            .map(|name| {
                let value = match joined(name, headers.get_all(name.as_str()))? {
                    Some(value) => value,
                    None if name == "host" => Cow::Borrowed(host_fallback().ok_or_else(|| missing(name))?),
                    None => return Err(missing(name)),
                };
                Ok((name.as_str(), value))
            })
            .collect(),
    }
}

fn missing(name: &str) -> HeaderError {
    HeaderError::Missing(name.to_owned())
}

/// All values of header `name`, trimmed and joined with `,`; `None` if it is
/// absent. A single value (the usual case) is borrowed, not copied.
fn joined<'a>(name: &str, values: GetAll<'a, HeaderValue>) -> Result<Option<Cow<'a, str>>, HeaderError> {
    let text = |value: &'a HeaderValue| {
        value
            .to_str()
            .map(str::trim)
            .map_err(|_| HeaderError::NotText(name.to_owned()))
    };
    let mut values = values.iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let first = text(first)?;
    let Some(second) = values.next() else {
        return Ok(Some(Cow::Borrowed(first)));
    };
    let mut all = String::from(first);
    for value in std::iter::once(second).chain(values) {
        all.push(',');
        all.push_str(text(value)?);
    }
    Ok(Some(Cow::Owned(all)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn signer_and_verifier_read_the_same_values() {
        let headers = map(&[
            ("x-b", "  two  "),
            ("x-a", "one"),
            ("x-a", "\tuno "),
            ("x-a", "eins"),
            ("content-type", " application/json"),
            ("x_skipped", "by the SDK"),
        ]);
        let signer = signed_headers(&headers, Some("example.com:8443"), Select::All).unwrap();
        let expected = [
            ("content-type", "application/json"),
            ("host", "example.com:8443"),
            ("x-a", "one,uno,eins"),
            ("x-b", "two"),
        ];
        let as_pairs = |signed: &[SignedHeader<'_>]| -> Vec<(String, String)> {
            signed.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let expected: Vec<(String, String)> = expected.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(as_pairs(&signer), expected);

        // The verifier, given the names the signer signed, sees the same.
        let names: Vec<String> = signer.iter().map(|(n, _)| n.to_string()).collect();
        let verifier = signed_headers(&headers, Some("example.com:8443"), Select::Named(&names)).unwrap();
        assert_eq!(as_pairs(&verifier), expected);
    }

    #[test]
    fn a_host_header_wins_over_the_authority() {
        let headers = map(&[("host", "a.example.com")]);
        let names = ["host".to_owned()];
        for select in [Select::All, Select::Named(&names)] {
            let signed = signed_headers(&headers, Some("b.example.com"), select).unwrap();
            assert_eq!(signed, [("host", Cow::Borrowed("a.example.com"))]);
        }
    }

    #[test]
    fn missing_and_binary_values_are_errors() {
        let mut headers = map(&[("x-a", "one")]);
        let names = ["x-a".to_owned(), "host".to_owned()];
        assert_eq!(
            signed_headers(&headers, None, Select::Named(&names)),
            Err(HeaderError::Missing("host".into()))
        );
        headers.append("x-a", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        for select in [Select::All, Select::Named(&names)] {
            assert_eq!(
                signed_headers(&headers, Some("h"), select),
                Err(HeaderError::NotText("x-a".into()))
            );
        }
    }
}
