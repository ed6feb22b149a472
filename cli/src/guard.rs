//! The guard's flags, one set for `watch` and for `--wait` of `stop`,
//! `retry` and `confirm`: `--abort-if`, `--min-finished`,
//! `--count-retrying`, `--stuck-after`, their parsers and checks, and how
//! they configure the library's watch.

use std::time::Duration;

use clap::Args;
use iotda_batchtask::WatchBatchTask;
use iotda_batchtask::watch::{Criterion, DEFAULT_MIN_FINISHED, MAX_STUCK_AFTER};

/// `--abort-if`, `--min-finished`, `--count-retrying`, `--stuck-after`.
#[derive(Debug, Clone, Default, Args)]
pub struct GuardArgs {
    /// Stop the whole task when this holds: failed>=N (a count, N >= 1) or
    /// failed>=P% (a share of finished sub-tasks, 0 < P <= 100); repeat for more.
    #[arg(long = "abort-if", value_name = "CRITERION", value_parser = parse_criterion)]
    pub abort_if: Vec<Criterion>,
    /// Judge a failed>=P% criterion only once this many sub-tasks have
    /// finished (Success + Fail, + FailWaitRetry with --count-retrying); default 10.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true
    )]
    pub min_finished: Option<u64>,
    /// Count FailWaitRetry sub-tasks (awaiting an automatic retry) as failed.
    #[arg(long)]
    pub count_retrying: bool,
    /// Stop (targeted) each device seen Processing longer than this, and
    /// report it timed out (at most 604800, 7 days).
    #[arg(long, value_name = "SECONDS", value_parser = parse_stuck_after, allow_negative_numbers = true)]
    pub stuck_after: Option<Duration>,
}

impl GuardArgs {
    /// The first guard flag given, if any (for "--abort-if requires --wait").
    pub fn first_given(&self) -> Option<&'static str> {
        if !self.abort_if.is_empty() {
            Some("--abort-if")
        } else if self.min_finished.is_some() {
            Some("--min-finished")
        } else if self.count_retrying {
            Some("--count-retrying")
        } else if self.stuck_after.is_some() {
            Some("--stuck-after")
        } else {
            None
        }
    }

    /// Whether any guard flag was given.
    pub fn is_set(&self) -> bool {
        self.first_given().is_some()
    }

    /// What clap cannot check alone, before any request: the error line
    /// (naming the flag) when the flags do not go together.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.min_finished == Some(0) && self.abort_if.iter().any(|c| c.is_percent()) {
            return Err(
                "--min-finished: must be at least 1 with a failed>=P% --abort-if (one early failure would be 100%)",
            );
        }
        Ok(())
    }

    /// The watch, with these criteria, this minimum sample, and these stops of hanging devices.
    pub fn apply(&self, watch: WatchBatchTask) -> WatchBatchTask {
        let mut watch = watch
            .criteria(self.abort_if.iter().copied())
            .count_retrying(self.count_retrying);
        if let Some(n) = self.min_finished {
            watch = watch.min_finished(n);
        }
        if let Some(after) = self.stuck_after {
            watch = watch.stuck_after(after);
        }
        watch
    }

    /// The criteria in words: `stop the task if failed>=5% (a rate once 10
    /// have finished); stop devices Processing longer than 600 s`, or, with
    /// no criterion, `no --abort-if: nothing will stop the task`.
    pub fn describe(&self) -> String {
        let mut text = if self.abort_if.is_empty() {
            "no --abort-if: nothing will stop the task".to_owned()
        } else {
            let mut text = format!("stop the task if {}", self.criteria_text());
            if self.abort_if.iter().any(|c| c.is_percent()) {
                let min = self.min_finished.unwrap_or(DEFAULT_MIN_FINISHED);
                text.push_str(&format!(" (a rate once {min} have finished)"));
            }
            text
        };
        if let Some(after) = self.stuck_after {
            text.push_str(&format!(
                "; stop devices Processing longer than {} s",
                after.as_secs_f64()
            ));
        }
        text
    }

    /// `failed>=5% or failed>=20`, as written.
    pub fn criteria_text(&self) -> String {
        let list: Vec<String> = self.abort_if.iter().map(ToString::to_string).collect();
        list.join(" or ")
    }
}

fn parse_criterion(text: &str) -> Result<Criterion, String> {
    text.parse::<Criterion>().map_err(|e| e.rule().to_owned())
}

/// A number of seconds above 0 and at most `max`.
pub fn seconds(text: &str, max: Duration) -> Result<Duration, String> {
    let range = || format!("must be a number of seconds above 0 and at most {}", max.as_secs());
    let value: f64 = text.trim().parse().map_err(|_| range())?;
    if !value.is_finite() || value <= 0.0 || value > max.as_secs_f64() {
        return Err(range());
    }
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(range)
}

fn parse_stuck_after(text: &str) -> Result<Duration, String> {
    seconds(text, MAX_STUCK_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_flag_given_is_named_and_min_finished_0_needs_no_rate() {
        let mut guard = GuardArgs::default();
        assert_eq!(guard.first_given(), None);
        guard.stuck_after = Some(Duration::from_secs(1));
        assert_eq!(guard.first_given(), Some("--stuck-after"));
        guard.abort_if.push("failed>=3".parse().unwrap());
        assert_eq!(guard.first_given(), Some("--abort-if"));
        guard.min_finished = Some(0);
        assert!(guard.check().is_ok(), "a count needs no sample");
        guard.abort_if.push("failed>=5%".parse().unwrap());
        assert!(guard.check().unwrap_err().starts_with("--min-finished"));
        assert_eq!(
            guard.describe(),
            "stop the task if failed>=3 or failed>=5% (a rate once 0 have finished); stop devices Processing \
             longer than 1 s"
        );
    }

    #[test]
    fn seconds_are_above_0_and_within_the_bound() {
        let max = Duration::from_secs(10);
        assert_eq!(seconds("2.5", max), Ok(Duration::from_millis(2500)));
        for bad in ["0", "-1", "11", "nan", "inf", "1e-12", "x"] {
            assert!(seconds(bad, max).is_err(), "{bad}");
        }
    }
}
