//! Input validation, done before any I/O.
//!
//! Every check returns an [`InvalidInput`] that names the field and the rule,
//! and never echoes the rejected value (it may be a secret, or may contain
//! control characters that would corrupt a log line).
//!
//! The patterns of IDs come from the OpenAPI spec through the generated
//! newtypes ([`crate::types::ProjectId`], [`crate::types::TaskId`],
//! [`crate::types::InstanceId`]), so the spec stays their single source.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use crate::{limits, types};

/// The most targets one StopBatchTask request may name (the spec's
/// `BatchTargets.targets.maxItems`).
pub const MAX_TARGETS_PER_REQUEST: usize = limits::BATCH_TARGETS_TARGETS_MAX_ITEMS;

/// The longest device ID IoTDA accepts (the spec's `DeviceId` pattern).
pub const MAX_DEVICE_ID_LEN: usize = limits::DEVICE_ID_MAX_LEN;

/// A value rejected before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {rule}")]
pub struct InvalidInput {
    field: Cow<'static, str>,
    rule: Cow<'static, str>,
    pattern: Option<&'static str>,
}

/// A generated string type's pattern and the same rule in words, both from
/// the spec (`pattern` and `x-rule`); implemented in [`limits`] for every
/// such type.
pub trait SpecPattern {
    /// The spec's regular expression.
    const PATTERN: &'static str;
    /// The pattern in words, as errors say it.
    const RULE: &'static str;
}

impl InvalidInput {
    /// An error for `field` breaking `rule`.
    pub fn new(field: impl Into<Cow<'static, str>>, rule: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
            pattern: None,
        }
    }

    /// The same error for another field name (a CLI flag, say).
    pub fn with_field(self, field: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: field.into(),
            ..self
        }
    }

    /// The field, e.g. `task_id`, `targets[3]`, `credentials.sk`, `endpoint`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The rule the value broke, in words.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The spec's pattern behind [`rule`](Self::rule), when the value failed
    /// one: for a debug log, not for the message a person reads first.
    pub fn pattern(&self) -> Option<&'static str> {
        self.pattern
    }
}

/// Parses a project ID (`^[a-fA-F0-9]{1,32}$`).
pub fn project_id(value: &str) -> Result<types::ProjectId, InvalidInput> {
    parse("project_id", value)
}

/// Parses a batch task ID (`^[a-f0-9]{1,24}$`).
pub fn task_id(value: &str) -> Result<types::TaskId, InvalidInput> {
    parse("task_id", value)
}

/// Parses an `Instance-Id` header value (1 to 36 of `[a-f0-9-]`).
pub fn instance_id(value: &str) -> Result<types::InstanceId, InvalidInput> {
    parse("instance_id", value)
}

/// Parses a device ID (`^[a-zA-Z0-9_-]{1,128}$`), e.g. ShowBatchTask's `target` filter.
pub fn device_id(value: &str) -> Result<types::DeviceId, InvalidInput> {
    parse("device_id", value)
}

/// Parses a paging marker (`^[a-fA-F0-9]{24}$`).
pub fn marker(value: &str) -> Result<types::Marker, InvalidInput> {
    parse("marker", value)
}

/// Parses a task name (CreateBatchTask's `task_name`).
pub fn task_name(value: &str) -> Result<types::TaskName, InvalidInput> {
    parse("task_name", value)
}

/// Parses `value` as a generated type (its pattern and lengths from the
/// spec); the error names `field` and says the rule in words (the spec's
/// `x-rule`), keeping the pattern for [`InvalidInput::pattern`].
pub(crate) fn parse<T>(field: &'static str, value: &str) -> Result<T, InvalidInput>
where
    T: std::str::FromStr<Err = types::error::ConversionError> + SpecPattern,
{
    value.parse().map_err(|_: types::error::ConversionError| InvalidInput {
        field: field.into(),
        rule: format!("must be {}", T::RULE).into(),
        pattern: Some(T::PATTERN),
    })
}

/// Checks one target: a device ID, the spec's `DeviceId` pattern
/// ([`limits::DEVICE_ID_PATTERN`]).
///
/// StopBatchTask's own definition puts no pattern on its targets, but for
/// upgrade tasks they are the device IDs the task was created with, and
/// CreateBatchTask (like device creation) allows only this pattern. Checking it
/// here rejects empty strings, control characters, CR/LF and overlong values
/// before they reach the wire.
pub fn target(index: usize, value: &str) -> Result<(), InvalidInput> {
    let field = || format!("targets[{index}]");
    if value.is_empty() {
        return Err(InvalidInput::new(field(), "is empty"));
    }
    if value.len() > MAX_DEVICE_ID_LEN {
        return Err(InvalidInput::new(
            field(),
            format!(
                "is {} bytes long; a device ID has at most {MAX_DEVICE_ID_LEN}",
                value.len()
            ),
        ));
    }
    // Checked byte-wise with the class build.rs reads from the pattern (the
    // regex would cost more per target); every byte before the first bad one
    // is ASCII, so that byte starts the character to name.
    if let Some(at) = value.bytes().position(|b| !limits::is_device_id_byte(b)) {
        // The fallback cannot happen, but the check must fail closed.
        let bad = value
            .get(at..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        let what = if bad.is_control() {
            "a control character".to_owned()
        } else {
            format!("{bad:?}")
        };
        return Err(InvalidInput::new(
            field(),
            format!("contains {what}; a device ID allows only letters, digits, '_' and '-'"),
        ));
    }
    Ok(())
}

/// Checks and de-duplicates the targets of one request: 1 to 100 distinct
/// device IDs, first occurrence kept. An empty list is an error, never `{}`.
pub fn targets<I, S>(items: I) -> Result<Vec<String>, InvalidInput>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let unique = unique_targets(items)?;
    if unique.is_empty() {
        return Err(InvalidInput::new(
            "targets",
            "is empty; name at least one device (an empty list never means every sub-task)",
        ));
    }
    if unique.len() > MAX_TARGETS_PER_REQUEST {
        return Err(InvalidInput::new(
            "targets",
            format!(
                "has {} distinct devices; one request takes at most {MAX_TARGETS_PER_REQUEST} \
                 (a stop, retry or confirm call splits larger lists into requests)",
                unique.len()
            ),
        ));
    }
    Ok(unique)
}

/// Checks every target and drops repeats, keeping the first occurrence.
/// Any length, including zero; callers apply their own bounds.
pub fn unique_targets<I, S>(items: I) -> Result<Vec<String>, InvalidInput>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let targets: Vec<String> = items.into_iter().map(Into::into).collect();
    for (index, item) in targets.iter().enumerate() {
        target(index, item)?;
    }
    // Repeats are rare, so first only detect them: sorting borrowed IDs is
    // cheaper than hashing each one, and linear when the input is already in
    // order (as generated lists usually are). This runs on every call.
    let mut sorted: Vec<&str> = targets.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    if sorted.windows(2).all(|pair| pair[0] != pair[1]) {
        return Ok(targets);
    }
    let mut seen = HashSet::with_capacity(targets.len());
    let keep: Vec<bool> = targets.iter().map(|item| seen.insert(item.as_str())).collect();
    Ok(targets
        .into_iter()
        .zip(keep)
        .filter_map(|(t, k)| k.then_some(t))
        .collect())
}

/// The longest timeout or deadline a client accepts (24 hours): the client
/// builder's `connect_timeout`, `request_timeout` and `deadline`. A call that needs longer is stuck; the bound also keeps
/// `Instant + deadline` far from overflowing.
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks a timeout or deadline: greater than zero and at most
/// [`MAX_DEADLINE`]. `field` names it in the error (`deadline`, say).
pub fn duration(field: &'static str, value: Duration) -> Result<(), InvalidInput> {
    if value.is_zero() {
        return Err(InvalidInput::new(field, "must be greater than zero"));
    }
    if value > MAX_DEADLINE {
        return Err(InvalidInput::new(
            field,
            format!("must be at most {} hours", MAX_DEADLINE.as_secs() / 3600),
        ));
    }
    Ok(())
}

/// Checks a region ID such as `cn-north-4` (it becomes part of the derived
/// signing scope, so `/` or spaces would corrupt it).
pub fn region(value: &str) -> Result<(), InvalidInput> {
    let ok = (3..=32).contains(&value.len())
        && value.split('-').count() >= 2
        && value.split('-').all(|part| !part.is_empty())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && value.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::new(
            "region",
            "must be a region ID such as cn-north-4 (lowercase letters, digits and '-')",
        ))
    }
}

/// Checks an access key ID: 1 to 128 ASCII letters and digits.
pub fn access_key(value: &str) -> Result<(), InvalidInput> {
    if value.is_empty() {
        return Err(InvalidInput::new("credentials.ak", "is empty"));
    }
    if value.len() > 128 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(InvalidInput::new(
            "credentials.ak",
            "must be 1 to 128 ASCII letters and digits",
        ));
    }
    Ok(())
}

/// Checks a secret (secret key, token, security token) without revealing it:
/// non-empty, visible ASCII only (it may travel in a header), no surrounding
/// whitespace (a common copy-paste accident).
pub fn secret(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.is_empty() {
        return Err(InvalidInput::new(field, "is empty"));
    }
    if value.trim() != value {
        return Err(InvalidInput::new(field, "has leading or trailing whitespace"));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidInput::new(
            field,
            "must be visible ASCII without spaces or control characters",
        ));
    }
    Ok(())
}

#[cfg(feature = "client")]
pub(crate) use endpoint_check::is_loopback_host;
#[cfg(feature = "client")]
pub use endpoint_check::{Endpoint, endpoint};

#[cfg(feature = "client")]
mod endpoint_check {
    use std::net::IpAddr;

    use super::InvalidInput;

    /// A checked endpoint: where to send requests and the `Host` to sign.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Endpoint {
        /// Scheme, authority and any path stem, without a trailing `/`.
        pub base_url: String,
        /// Host and explicit port, as signed in the `Host` header.
        pub authority: String,
        /// Whether the host is loopback (127.0.0.0/8, `::1`, `localhost`).
        pub is_loopback: bool,
    }

    /// Checks an endpoint URL: absolute, `https://` (plain `http://` only to a
    /// loopback host, so credentials never cross a network in clear text), no
    /// user info, query or fragment.
    pub fn endpoint(value: &str) -> Result<Endpoint, InvalidInput> {
        let bad = |rule: &'static str| Err(InvalidInput::new("endpoint", rule));
        let url = match reqwest::Url::parse(value) {
            Ok(url) => url,
            Err(_) => {
                return bad("must be an absolute URL such as https://xxxx.st1.iotda-app.cn-north-4.myhuaweicloud.com");
            }
        };
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return bad("has no host");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return bad("must not carry user info (user:password@); pass credentials with .credentials(...)");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return bad("must not have a query or fragment");
        }
        let is_loopback = is_loopback_host(host);
        match url.scheme() {
            "https" => {}
            "http" if is_loopback => {}
            "http" => {
                return bad(
                    "uses plain http:// to a non-loopback host; credentials would travel in clear text, use https://",
                );
            }
            _ => return bad("must use https:// (or http:// to a loopback host)"),
        }
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let base_url = url.as_str().trim_end_matches('/').to_owned();
        Ok(Endpoint {
            base_url,
            authority,
            is_loopback,
        })
    }

    /// Whether `host` (as in a URL, IPv6 in brackets or not) is loopback.
    pub(crate) fn is_loopback_host(host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_said_in_words_and_kept_apart() {
        let err = task_name("fw v2!").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid task_name: must be letters, digits, `_` and Chinese characters, at most 128"
        );
        assert_eq!(err.pattern(), Some(limits::TASK_NAME_PATTERN));
        for err in [
            project_id("xyz").unwrap_err(),
            task_id("").unwrap_err(),
            instance_id("A").unwrap_err(),
            device_id("a b").unwrap_err(),
            marker("1").unwrap_err(),
            parse::<types::ScheduleTime>("schedule_time", "tomorrow").unwrap_err(),
            parse::<types::AppId>("app_id", "a.b").unwrap_err(),
        ] {
            assert!(!err.rule().contains('^') && err.pattern().is_some(), "{err}");
        }
    }

    #[test]
    fn targets_are_deduplicated_in_order() {
        assert_eq!(targets(["b", "a", "b"]).unwrap(), ["b", "a"]);
    }

    #[test]
    fn a_bad_target_names_its_first_bad_character() {
        for (value, named) in [
            ("dev 1", "' '"),
            ("dev-\u{e9}t\u{e9}", "'\u{e9}'"),
            ("\u{1F600}", "'\u{1F600}'"),
            ("dev\n1", "a control character"),
            ("dev.1/x", "'.'"),
        ] {
            let rule = target(0, value).unwrap_err().rule().to_owned();
            assert!(rule.starts_with(&format!("contains {named};")), "{value:?}: {rule}");
        }
    }

    #[test]
    fn durations_are_bounded() {
        assert!(duration("deadline", Duration::from_nanos(1)).is_ok());
        assert!(duration("deadline", MAX_DEADLINE).is_ok());
        for bad in [Duration::ZERO, MAX_DEADLINE + Duration::from_nanos(1), Duration::MAX] {
            assert_eq!(duration("deadline", bad).unwrap_err().field(), "deadline", "{bad:?}");
        }
    }

    #[test]
    fn region_examples() {
        for ok in ["cn-north-4", "ap-southeast-1", "eu-west-101", "la-north-2"] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        for bad in ["", "cn", "cn-north-4/", "CN-NORTH-4", "cn--4", "-cn-4", "cn north 4"] {
            assert!(region(bad).is_err(), "{bad}");
        }
    }

    #[cfg(feature = "client")]
    #[test]
    fn endpoint_rules() {
        let e = endpoint("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (e.base_url.as_str(), e.authority.as_str()),
            ("http://127.0.0.1:8080", "127.0.0.1:8080")
        );
        assert!(endpoint("http://[::1]:1/").unwrap().is_loopback);
        assert!(endpoint("http://localhost:1").unwrap().is_loopback);
        assert_eq!(
            endpoint("https://iotda.cn-north-4.myhuaweicloud.com")
                .unwrap()
                .authority,
            "iotda.cn-north-4.myhuaweicloud.com"
        );
        for bad in [
            "http://example.com",
            "iotda.example.com",
            "https://u:p@example.com",
            "ftp://example.com",
            "https://example.com/?a=1",
            "http://127.0.0.1.example.com",
        ] {
            assert_eq!(endpoint(bad).unwrap_err().field(), "endpoint", "{bad}");
        }
    }
}
