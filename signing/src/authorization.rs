//! The `Authorization` header of an AK/SK signature: parsed and rendered.

use crate::algorithm::Algorithm;
use crate::push_all;

/// A parsed `Authorization` header of either algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The algorithm, with the region and service of a `V11` credential scope.
    pub algorithm: Algorithm,
    /// The access key ID.
    pub access_key: String,
    /// The day (`YYYYMMDD`) of a `V11` credential scope; `None` for `SDK`.
    pub scope_day: Option<String>,
    /// Lower-case signed header names, in the order given.
    pub signed_headers: Vec<String>,
    /// The hex signature (64 digits).
    pub signature: String,
}

impl Authorization {
    /// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex` or
    /// `V11-HMAC-SHA256 Credential=AK/YYYYMMDD/region/service, SignedHeaders=..., Signature=...`.
    /// Anything else, or any field twice, is `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let (name, rest) = value.split_once(' ')?;
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
        let (access_key, scope_day, algorithm) = match (access, credential) {
            (Some(ak), None) => (ak, None, Algorithm::from_name(name, None)?),
            (None, Some(credential)) => {
                let mut it = credential.split('/');
                let (ak, day, region, service) = (it.next()?, it.next()?, it.next()?, it.next()?);
                if it.next().is_some() {
                    return None;
                }
                (
                    ak,
                    Some(day.to_owned()),
                    Algorithm::from_name(name, Some((region, service)))?,
                )
            }
            _ => return None,
        };
        let signature = signature?;
        if access_key.is_empty() || signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self {
            algorithm,
            access_key: access_key.to_owned(),
            scope_day,
            signed_headers: signed_headers?.split(';').map(str::to_ascii_lowercase).collect(),
            signature: signature.to_owned(),
        })
    }
}

/// The `Authorization` value of a signature by `access_key` with `algorithm`
/// on `day` (`YYYYMMDD`) over `signed_headers` (`a;b;c`).
pub(crate) fn render(
    algorithm: &Algorithm,
    access_key: &str,
    day: &str,
    signed_headers: &str,
    signature: &str,
) -> String {
    let mut out = String::with_capacity(160 + access_key.len() + signed_headers.len());
    out.push_str(algorithm.name());
    match algorithm {
        Algorithm::Plain => push_all(&mut out, &[" Access=", access_key]),
        Algorithm::Derived { region, service } => {
            push_all(
                &mut out,
                &[" Credential=", access_key, "/", day, "/", region, "/", service],
            );
        }
    }
    push_all(
        &mut out,
        &[", SignedHeaders=", signed_headers, ", Signature=", signature],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_renders() {
        let derived = Algorithm::Derived {
            region: "cn-north-4".into(),
            service: "iotdm".into(),
        };
        let signature = "ab".repeat(32);
        for algorithm in [Algorithm::Plain, derived] {
            let text = render(&algorithm, "AK", "20240102", "host;x-sdk-date", &signature);
            let parsed = Authorization::parse(&text).unwrap();
            let day = (algorithm != Algorithm::Plain).then(|| "20240102".to_owned());
            assert_eq!(
                parsed,
                Authorization {
                    algorithm,
                    access_key: "AK".into(),
                    scope_day: day,
                    signed_headers: vec!["host".into(), "x-sdk-date".into()],
                    signature: signature.clone(),
                }
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_signature() {
        let sig = "ab".repeat(32);
        for bad in [
            format!("SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=host, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Credential=AK/20240102/r/s, SignedHeaders=host, Signature={sig}"),
            format!("V11-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature={sig}"),
            format!("V11-HMAC-SHA256 Credential=AK/20240102/r, SignedHeaders=host, Signature={sig}"),
            format!("V11-HMAC-SHA256 Credential=AK/20240102/r/s/x, SignedHeaders=host, Signature={sig}"),
            format!("HMAC-SHA256 Access=AK, SignedHeaders=host, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access=AK, Signature={sig}"),
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00".to_owned(),
            "Bearer x".to_owned(),
        ] {
            assert_eq!(Authorization::parse(&bad), None, "{bad}");
        }
        let mixed_case = format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host;X-Sdk-Date, Signature={sig}");
        assert_eq!(
            Authorization::parse(&mixed_case).unwrap().signed_headers,
            ["host", "x-sdk-date"]
        );
    }
}
