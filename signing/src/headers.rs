//! Which headers a signature covers and their values as signed: the one
//! reading of a request's headers that the signer and the verifier share.

use std::borrow::Cow;

/// A signed header: its lower-case name and its value as signed.
pub(crate) type SignedHeader<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Why the signed headers cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// A named header is not in the request.
    Missing(String),
    /// A value is not visible ASCII, so its signed text is ambiguous.
    NotText(String),
}

/// What the signer signs: every header of `headers` except names containing
/// `_` (the official SDK skips them), `authorization` and the names of `own`
/// (the headers the signer sets, which replace the request's), plus `own`;
/// sorted by name.
pub(crate) fn for_signing<'a>(
    headers: &[(&'a str, &'a [u8])],
    own: &[(&'static str, &'a str)],
) -> Result<Vec<SignedHeader<'a>>, HeaderError> {
    let mut pairs: Vec<(Cow<'a, str>, &'a [u8])> = Vec::with_capacity(headers.len() + own.len());
    for (name, value) in headers {
        let name = lower_case(name);
        if !name.contains('_') && name != "authorization" && !own.iter().any(|(own, _)| *own == name) {
            pairs.push((name, value));
        }
    }
    pairs.extend(own.iter().map(|(name, value)| (Cow::Borrowed(*name), value.as_bytes())));
    // Stable: the values of a repeated name keep their order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut signed = Vec::with_capacity(pairs.len());
    let mut rest = &pairs[..];
    while let Some((name, _)) = rest.first() {
        let same = rest.iter().take_while(|(other, _)| other == name).count();
        let (group, tail) = rest.split_at(same);
        let value = joined(name, group.iter().map(|(_, value)| *value))?.expect("a group has a value");
        signed.push((name.clone(), value));
        rest = tail;
    }
    Ok(signed)
}

/// What a verifier recomputes: exactly the headers `names` (an
/// `Authorization`'s `SignedHeaders`, lower-case), in that order, with `host`
/// taken from `authority` when the request has no `Host` header (HTTP/2, or
/// a request built in memory).
pub(crate) fn for_verifying<'a>(
    headers: &[(&'a str, &'a [u8])],
    authority: Option<&'a str>,
    names: &'a [String],
) -> Result<Vec<SignedHeader<'a>>, HeaderError> {
    names
        .iter()
        .map(|name| {
            let values = headers
                .iter()
                .filter(|(other, _)| other.eq_ignore_ascii_case(name))
                .map(|(_, value)| *value);
            let value = match joined(name, values)? {
                Some(value) => value,
                None if name == "host" => Cow::Borrowed(authority.ok_or_else(|| missing(name))?),
                None => return Err(missing(name)),
            };
            Ok((Cow::Borrowed(name.as_str()), value))
        })
        .collect()
}

/// `name` in lower case, borrowed when it already is (as HTTP libraries
/// hold names).
fn lower_case(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

fn missing(name: &str) -> HeaderError {
    HeaderError::Missing(name.to_owned())
}

/// A header value as text: visible ASCII, spaces and tabs (what
/// `http::HeaderValue::to_str` accepts), else `None`.
pub(crate) fn text(value: &[u8]) -> Option<&str> {
    if value.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) {
        Some(std::str::from_utf8(value).expect("ASCII is UTF-8"))
    } else {
        None
    }
}

/// All `values` of header `name`, trimmed and joined with `,`; `None` if
/// there are none. A single value (the usual case) is borrowed, not copied.
fn joined<'a>(name: &str, mut values: impl Iterator<Item = &'a [u8]>) -> Result<Option<Cow<'a, str>>, HeaderError> {
    let text = |value: &'a [u8]| {
        text(value)
            .map(str::trim)
            .ok_or_else(|| HeaderError::NotText(name.to_owned()))
    };
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

    const HEADERS: [(&str, &[u8]); 7] = [
        ("x-b", b"  two  "),
        ("X-A", b"one"),
        ("x-a", b"\tuno "),
        ("content-type", b" application/json"),
        ("x-a", b"eins"),
        ("x_skipped", b"by the SDK"),
        ("authorization", b"an old signature"),
    ];

    fn as_pairs(signed: &[SignedHeader<'_>]) -> Vec<(String, String)> {
        signed.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn signer_and_verifier_read_the_same_values() {
        let own = [("host", "example.com:8443"), ("x-b", "mine")];
        let signer = for_signing(&HEADERS, &own).unwrap();
        let expected: Vec<(String, String)> = [
            ("content-type", "application/json"),
            ("host", "example.com:8443"),
            ("x-a", "one,uno,eins"),
            ("x-b", "mine"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(as_pairs(&signer), expected);

        // The verifier, given the names the signer signed, sees the same in
        // what the server receives: the request's headers and the signer's.
        let mut received: Vec<(&str, &[u8])> = HEADERS.iter().filter(|(n, _)| *n != "x-b").copied().collect();
        received.extend(own.iter().map(|(n, v)| (*n, v.as_bytes())));
        let names: Vec<String> = signer.iter().map(|(n, _)| n.to_string()).collect();
        let verifier = for_verifying(&received, None, &names).unwrap();
        assert_eq!(as_pairs(&verifier), expected);
    }

    #[test]
    fn a_host_header_wins_over_the_authority() {
        let headers: [(&str, &[u8]); 1] = [("Host", b"a.example.com")];
        let names = ["host".to_owned()];
        let signed = for_verifying(&headers, Some("b.example.com"), &names).unwrap();
        assert_eq!(as_pairs(&signed), [("host".to_owned(), "a.example.com".to_owned())]);
        let signed = for_verifying(&[], Some("b.example.com"), &names).unwrap();
        assert_eq!(as_pairs(&signed), [("host".to_owned(), "b.example.com".to_owned())]);
    }

    #[test]
    fn missing_and_binary_values_are_errors() {
        let mut headers: Vec<(&str, &[u8])> = vec![("x-a", b"one")];
        let names = ["x-a".to_owned(), "host".to_owned()];
        assert_eq!(
            for_verifying(&headers, None, &names),
            Err(HeaderError::Missing("host".into()))
        );
        headers.push(("x-a", "caf\u{e9}".as_bytes()));
        assert_eq!(
            for_verifying(&headers, Some("h"), &names),
            Err(HeaderError::NotText("x-a".into()))
        );
        assert_eq!(for_signing(&headers, &[]), Err(HeaderError::NotText("x-a".into())));
        assert_eq!(text(b"a\x7fb"), None);
        assert_eq!(text(b"a\rb"), None);
        assert_eq!(text(b" \tvisible ~ "), Some(" \tvisible ~ "));
    }
}
