//! Abort criteria: a failure count or a failure rate, typed and validated
//! when made, with their written form (`failed>=20`, `failed>=5%`).

use std::fmt;
use std::str::FromStr;

use crate::types::TaskProgress;
use crate::validation::InvalidInput;

/// A rate is kept in hundredths of a percent (AWS IoT Jobs allows two
/// decimals), so that "exactly at the threshold" is decided in integers.
const HUNDREDTHS: u64 = 100 * 100;

/// When a watched task is stopped: see [`WatchBatchTask::criterion`](crate::WatchBatchTask::criterion).
///
/// "Failed" sub-tasks are those in `Fail`, plus those in `FailWaitRetry`
/// when the watch [counts retrying ones](crate::WatchBatchTask::count_retrying)
/// (an automatic retry may still succeed, so by default they are not).
///
/// ```
/// use iotda_batchtask::watch::Criterion;
///
/// let count = Criterion::failed_count(20)?;
/// let rate = Criterion::failed_percent(5.0)?;
/// assert_eq!(rate.to_string(), "failed>=5%");
/// assert_eq!("failed>=20".parse::<Criterion>()?, count);
/// assert!(Criterion::failed_percent(0.0).is_err());
/// # Ok::<(), iotda_batchtask::InvalidInput>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Criterion {
    /// At least this many failed sub-tasks (evaluated at every poll).
    FailedCount(u64),
    /// At least this share of finished sub-tasks failed, in hundredths of a
    /// percent (1 to 10000); evaluated only once
    /// [`min_finished`](crate::WatchBatchTask::min_finished) sub-tasks have finished.
    FailedPercent {
        /// The threshold in hundredths of a percent: 500 is 5%.
        hundredths: u32,
    },
}

impl Criterion {
    /// `failed >= n`; `n` must be at least 1 (0 would trip before anything failed).
    pub fn failed_count(n: u64) -> Result<Self, InvalidInput> {
        if n == 0 {
            return Err(InvalidInput::new(
                "failed_count",
                "must be at least 1 (0 would stop the task before anything failed)",
            ));
        }
        Ok(Self::FailedCount(n))
    }

    /// `failed >= percent %` of finished sub-tasks; `percent` must be above 0
    /// and at most 100, with at most two decimals.
    pub fn failed_percent(percent: f64) -> Result<Self, InvalidInput> {
        let rule = "must be above 0 and at most 100, with at most two decimals";
        if !percent.is_finite() || percent <= 0.0 || percent > 100.0 {
            return Err(InvalidInput::new("failed_percent", rule));
        }
        let scaled = percent * 100.0;
        let hundredths = scaled.round();
        // More than two decimals would be silently rounded: refuse instead.
        if (scaled - hundredths).abs() > 1e-6 || hundredths < 1.0 {
            return Err(InvalidInput::new("failed_percent", rule));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 1..=10000 checked above
        Ok(Self::FailedPercent {
            hundredths: hundredths as u32,
        })
    }

    /// Whether the counters trip this criterion. `count_retrying` adds
    /// `FailWaitRetry` to the failed (and finished) sub-tasks. `None` when a
    /// counter it needs is missing from the read: such a read trips nothing.
    pub(crate) fn tripped(self, p: &TaskProgress, count_retrying: bool, min_finished: u64) -> Option<bool> {
        let tally = Tally::of(p, count_retrying)?;
        Some(match self {
            Self::FailedCount(n) => tally.failed >= n,
            Self::FailedPercent { hundredths } => {
                tally.finished >= min_finished.max(1)
                    && u128::from(tally.failed) * u128::from(HUNDREDTHS)
                        >= u128::from(hundredths) * u128::from(tally.finished)
            }
        })
    }

    /// Whether this is a rate (which needs a minimum sample).
    pub fn is_percent(self) -> bool {
        matches!(self, Self::FailedPercent { .. })
    }
}

/// The failed and finished sub-tasks of a read, as the criteria count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// `fail` (+ `fail_wait_retry` when counted).
    pub failed: u64,
    /// `success + fail` (+ `fail_wait_retry` when counted).
    pub finished: u64,
}

impl Tally {
    /// The tally of `p`; `None` when `success` or `fail` (or
    /// `fail_wait_retry`, when counted) is missing or negative.
    pub fn of(p: &TaskProgress, count_retrying: bool) -> Option<Self> {
        let n = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        let retrying = if count_retrying { n(p.fail_wait_retry)? } else { 0 };
        let failed = n(p.fail)?.checked_add(retrying)?;
        Some(Self {
            failed,
            finished: n(p.success)?.checked_add(failed)?,
        })
    }
}

impl fmt::Display for Criterion {
    /// The written form: `failed>=20`, `failed>=5%`, `failed>=2.5%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::FailedCount(n) => write!(f, "failed>={n}"),
            Self::FailedPercent { hundredths } => {
                let (whole, frac) = (hundredths / 100, hundredths % 100);
                match frac {
                    0 => write!(f, "failed>={whole}%"),
                    f2 if f2 % 10 == 0 => write!(f, "failed>={whole}.{}%", f2 / 10),
                    f2 => write!(f, "failed>={whole}.{f2:02}%"),
                }
            }
        }
    }
}

impl FromStr for Criterion {
    type Err = InvalidInput;

    /// Exactly `failed>=N` (N a whole number, at least 1) or `failed>=P%`
    /// (0 < P <= 100, at most two decimals); nothing else (no spaces, no
    /// other comparison, no other name).
    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        let wrong = || {
            InvalidInput::new(
                "criterion",
                format!("{text:?} is not failed>=N (a count, at least 1) or failed>=P% (0 < P <= 100)"),
            )
        };
        let value = text.strip_prefix("failed>=").ok_or_else(wrong)?;
        if let Some(percent) = value.strip_suffix('%') {
            if percent.is_empty() || !percent.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(wrong());
            }
            let percent: f64 = percent.parse().map_err(|_| wrong())?;
            return Self::failed_percent(percent);
        }
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(wrong());
        }
        Self::failed_count(value.parse().map_err(|_| wrong())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(success: i64, fail: i64, retrying: i64) -> TaskProgress {
        TaskProgress {
            success: Some(success),
            fail: Some(fail),
            fail_wait_retry: Some(retrying),
            ..Default::default()
        }
    }

    #[test]
    fn the_written_form_round_trips_and_bad_forms_are_refused() {
        for text in [
            "failed>=20",
            "failed>=1",
            "failed>=5%",
            "failed>=2.5%",
            "failed>=0.25%",
            "failed>=100%",
        ] {
            assert_eq!(text.parse::<Criterion>().unwrap().to_string(), text);
        }
        for bad in [
            "failed>=0%",
            "failed>=101%",
            "failed>=-1",
            "failed>5",
            "fail>=5%",
            "failed>=0",
            "failed>=",
            "failed>=%",
            "failed>= 5",
            "failed>=5.001%",
            "failed>=1e2%",
            "failed>=nan%",
            "failed>=1.5",
            "",
        ] {
            assert!(bad.parse::<Criterion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rate_trips_exactly_at_the_threshold_and_only_after_the_minimum_sample() {
        let five = Criterion::failed_percent(5.0).unwrap();
        assert_eq!(five.tripped(&progress(95, 5, 0), false, 10), Some(true));
        assert_eq!(five.tripped(&progress(96, 4, 0), false, 10), Some(false));
        // 100% failed, but only 9 finished.
        assert_eq!(five.tripped(&progress(0, 9, 0), false, 10), Some(false));
        assert_eq!(five.tripped(&progress(0, 10, 0), false, 10), Some(true));
        // FailWaitRetry counts only when asked.
        assert_eq!(five.tripped(&progress(95, 4, 1), false, 10), Some(false));
        assert_eq!(five.tripped(&progress(95, 4, 1), true, 10), Some(true));
        let count = Criterion::failed_count(3).unwrap();
        assert_eq!(count.tripped(&progress(0, 3, 0), false, 1000), Some(true));
        assert_eq!(count.tripped(&progress(0, 2, 1), false, 1000), Some(false));
        assert_eq!(count.tripped(&progress(0, 2, 1), true, 1000), Some(true));
        assert_eq!(count.tripped(&TaskProgress::default(), false, 1), None);
    }
}
