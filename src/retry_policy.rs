//! Retries that cannot do harm.
//!
//! StopBatchTask is a POST that changes state, so a request is retried only
//! when it provably was not processed:
//!
//! - the connection could not be established (nothing was sent), or
//! - the server answered **429**, with which the gateway throttles a request
//!   *before* processing it.
//!
//! Never after a timeout on a request that was sent, a connection reset
//! mid-response, or any other status, **503 included**: a gateway or proxy
//! can answer 503 after the service acted, so the stop may have happened.
//! The stop calls settle such an attempt by reading the task (ShowBatchTask)
//! and resend only what the read shows still running; see
//! [`crate::outcome`].
//! (The official SDK, when retries are configured, never retries a POST on
//! 429 at all; this crate does, because a 429 is a refusal, not a partial
//! execution.)
//!
//! Backoff is exponential with full jitter and a cap; a `Retry-After` header
//! (seconds or an HTTP date) replaces the backoff, up to
//! [`RetryPolicy::max_retry_after`]. No retry is started that would end past
//! the call's deadline.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// When and how often to retry a request that was not processed.
///
/// A stop is a POST that changes state, so a request is retried only when it
/// provably was not processed: the connection could not be made, or the
/// gateway answered 429. Never after a timeout or reset once sent, nor after
/// any other status, 503 included (a gateway can send one after the service
/// acted): the stop calls settle those by reading, see [`crate::outcome`].
/// Backoff is exponential with full jitter and a cap; a `Retry-After` header
/// (seconds or an HTTP date) replaces it, up to
/// [`RetryPolicy::max_retry_after`] whatever its size. No retry starts that
/// would end past the call's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts; backoff from 100 ms doubling to at most 2 s; `Retry-After`
    /// honoured up to 10 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Attempts in all, the first included (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff and the cap of the exponential backoff.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest `Retry-After` obeyed; longer ones, of any size, are
    /// shortened to this (and then not retried at all if the wait would end
    /// past the call's deadline).
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest `Retry-After` obeyed.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The wait before attempt `attempt + 1` after `attempt` ended in
    /// `outcome`, or `None` when it must not be retried.
    pub(crate) fn delay(&self, attempt: u32, outcome: Outcome<'_>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let retry_after = match outcome {
            Outcome::ConnectFailed => None,
            Outcome::Status(status, headers) if is_rejected_before_processing(status) => {
                retry_after(headers, jiff::Timestamp::now())
            }
            Outcome::Status(..) | Outcome::Other => return None,
        };
        Some(match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => self.backoff(attempt),
        })
    }

    /// Full jitter: uniform in `[0, min(max, initial * 2^(attempt-1))]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let nanos = u64::try_from(exponential.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 {
            0
        } else {
            random_u64() % nanos.saturating_add(1)
        })
    }
}

/// How an attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// No connection was made, so nothing was sent.
    ConnectFailed,
    /// The server answered with this status and headers.
    Status(StatusCode, &'a HeaderMap),
    /// Anything else: a timeout or reset after sending, a body error.
    Other,
}

/// 429: throttled before processing. (Not 503: it can follow processing.)
pub(crate) fn is_rejected_before_processing(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
}

/// Parses `Retry-After` as delay-seconds or an HTTP date (relative to `now`);
/// `None` when it is absent or malformed (a sign, a fraction, text).
///
/// A wait too long to represent is [`Duration::MAX`], never `None`: a
/// server asking for a very long pause must not get a quick retry.
/// [`RetryPolicy::delay`] caps it at [`RetryPolicy::max_retry_after`]. A
/// date in the past means now.
pub(crate) fn retry_after(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    // delay-seconds is 1*DIGIT (RFC 9110): no sign, so `str::parse`'s `+` is not accepted.
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.parse::<u64>().map_or(Duration::MAX, Duration::from_secs));
    }
    let until = |at: jiff::Timestamp| Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
    if let Ok(at) = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value) {
        return Some(until(at));
    }
    // A well-formed IMF-fixdate past jiff's last timestamp (late in year
    // 9999) fails above; read it as a civil date to tell it from garbage.
    let date = jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", value)
        .and_then(|parsed| parsed.to_datetime())
        .ok()?;
    match jiff::tz::TimeZone::UTC.to_timestamp(date) {
        Ok(at) => Some(until(at)),
        Err(_) if date.year() > 0 => Some(Duration::MAX),
        Err(_) => Some(Duration::ZERO),
    }
}

/// Randomness for jitter without a `rand` dependency: std's `RandomState` is
/// seeded randomly per process and varied per instance.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x9e37_79b9_7f4a_7c15);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn only_unprocessed_requests_are_retried() {
        let policy = RetryPolicy::default();
        let empty = HeaderMap::new();
        assert!(policy.delay(1, Outcome::ConnectFailed).is_some());
        assert!(
            policy
                .delay(1, Outcome::Status(StatusCode::TOO_MANY_REQUESTS, &empty))
                .is_some()
        );
        for status in [500, 502, 503, 504, 408, 400, 401, 404, 200] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(policy.delay(1, Outcome::Status(status, &empty)).is_none(), "{status}");
        }
        assert!(policy.delay(1, Outcome::Other).is_none());
        assert!(policy.delay(3, Outcome::ConnectFailed).is_none(), "3 attempts at most");
        assert!(RetryPolicy::none().delay(1, Outcome::ConnectFailed).is_none());
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_millis(300));
        for attempt in 1..10 {
            let cap = Duration::from_millis((100u64 << (attempt - 1)).min(300));
            for _ in 0..50 {
                assert!(policy.backoff(attempt) <= cap);
            }
        }
        let distinct: std::collections::HashSet<Duration> = (0..50).map(|_| policy.backoff(3)).collect();
        assert!(distinct.len() > 10, "jitter varies");
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Tue, 02 Jan 2024 03:04:08 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Tue, 02 Jan 2024 03:04:00 GMT"));
        assert_eq!(
            retry_after(&headers, now),
            Some(Duration::ZERO),
            "a past date means now"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Outcome::Status(StatusCode::TOO_MANY_REQUESTS, &headers)),
            Some(policy.max_retry_after())
        );
    }

    /// The wait `delay` picks for a 429 carrying `Retry-After: value`.
    fn wait_for(policy: &RetryPolicy, value: &str) -> Duration {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        policy
            .delay(1, Outcome::Status(StatusCode::TOO_MANY_REQUESTS, &headers))
            .unwrap()
    }

    #[test]
    fn any_long_retry_after_is_capped_never_a_short_backoff() {
        // The backoff is at most 1 ms here, so a long wait cannot be mistaken for it.
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(1), Duration::from_millis(1))
            .with_max_retry_after(Duration::from_secs(10));
        let cap = policy.max_retry_after();
        for value in [
            "3600",
            "18446744073709551615",          // u64::MAX seconds
            "18446744073709551616",          // u64::MAX + 1
            "99999999999999999999999999999", // far past u64
            "Fri, 31 Dec 9999 23:59:59 GMT", // past jiff's last timestamp
            "Thu, 30 Dec 9999 22:00:00 GMT", // jiff's last timestamp, to the second
        ] {
            assert_eq!(wait_for(&policy, value), cap, "{value}");
        }
        let now: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("18446744073709551616"));
        assert_eq!(retry_after(&headers, now), Some(Duration::MAX));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Fri, 31 Dec 9999 23:59:59 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::MAX));
    }

    #[test]
    fn malformed_or_negative_retry_after_falls_back_to_the_backoff() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(1), Duration::from_millis(1))
            .with_max_retry_after(Duration::from_secs(10));
        let now: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        for value in [
            "-1",
            "-18446744073709551616",
            "+5",
            "1.5",
            "5s",
            "",
            "soon",
            "Sat, 31 Dec 9999 23:59:59 GMT", // wrong weekday: not a date
            "Fri, 32 Dec 9999 23:59:59 GMT",
            "Fri, 31 Dec 99999 23:59:59 GMT",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            assert_eq!(retry_after(&headers, now), None, "{value:?}");
            assert!(wait_for(&policy, value) <= Duration::from_millis(1), "{value:?}");
        }
    }

    #[test]
    fn a_capped_retry_after_past_the_deadline_is_still_capped_here() {
        // `delay` caps; the hooks then refuse a wait that would pass the deadline.
        let policy = RetryPolicy::default().with_max_retry_after(Duration::MAX);
        assert_eq!(wait_for(&policy, "99999999999999999999"), Duration::MAX);
    }
}
