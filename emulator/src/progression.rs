//! Rollouts that move: how a task's sub-tasks go from Waitting to
//! Processing to Success or Fail by themselves, on the emulator's clock.
//!
//! Pure data and pure functions: the [`State`](crate::state) applies a
//! [`Progression`] when the [`Service`](crate::Service) hands it the time,
//! which is the manual clock ([`Service::advance_time`](crate::Service::advance_time))
//! plus real time multiplied by [`EmulatorConfig::time_scale`](crate::EmulatorConfig::time_scale).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::seed::SeedError;
use iotda_batchtask::validation;

/// The longest pattern [`Selection::with_pattern`] takes, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Which devices a rule picks (to fail, or to hang): those listed, those
/// whose ID matches a regular expression, and a deterministic share of the
/// rest, chosen by a seed. A device is picked when any part picks it; the
/// default picks none.
///
/// ```
/// use iotda_batchtask_emulator::Selection;
///
/// let pick = Selection::devices(["dev-0003"]).with_pattern("^dev-01")?.with_share(10, 7)?;
/// assert!(pick.picks("dev-0003") && pick.picks("dev-0105"));
/// // The share is a pure function of the seed and the device ID.
/// assert_eq!(pick.picks("dev-0042"), pick.clone().picks("dev-0042"));
/// # Ok::<(), iotda_batchtask_emulator::SeedError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSelection", into = "RawSelection")]
pub struct Selection {
    devices: BTreeSet<String>,
    pattern: Option<Pattern>,
    share: Option<Share>,
}

/// A compiled pattern, compared by its text.
#[derive(Debug, Clone)]
struct Pattern(regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Share {
    percent: u8,
    seed: u64,
}

/// The selection as written in a seed: `{"devices": [...], "pattern": "...",
/// "percent": 10, "seed": 7}`, every field optional (`seed` defaults to 0).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
}

impl TryFrom<RawSelection> for Selection {
    type Error = SeedError;

    fn try_from(raw: RawSelection) -> Result<Self, SeedError> {
        let mut selection = Self::devices(raw.devices);
        for device in &selection.devices {
            validation::target(0, device).map_err(|e| {
                SeedError::invalid(format!("devices[{device:?}]"), format!("not a device ID: {}", e.rule()))
            })?;
        }
        if let Some(pattern) = raw.pattern {
            selection = selection.with_pattern(&pattern)?;
        }
        match (raw.percent, raw.seed) {
            (Some(percent), seed) => selection = selection.with_share(percent, seed.unwrap_or(0))?,
            (None, Some(_)) => return Err(SeedError::invalid("seed", "is given without percent")),
            (None, None) => {}
        }
        Ok(selection)
    }
}

impl From<Selection> for RawSelection {
    fn from(s: Selection) -> Self {
        Self {
            devices: s.devices.into_iter().collect(),
            pattern: s.pattern.map(|p| p.0.as_str().to_owned()),
            percent: s.share.map(|s| s.percent),
            seed: s.share.map(|s| s.seed),
        }
    }
}

impl Selection {
    /// Picks nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Picks exactly these devices.
    pub fn devices<I, S>(devices: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            devices: devices.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Also picks the devices whose ID matches `pattern`, a regular
    /// expression (Rust `regex` syntax, unanchored: use `^…$` to match the
    /// whole ID). Fails on an invalid or too large pattern (at most
    /// [`MAX_PATTERN_LEN`] bytes).
    pub fn with_pattern(mut self, pattern: &str) -> Result<Self, SeedError> {
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(SeedError::invalid(
                "pattern",
                format!("is {} bytes; at most {MAX_PATTERN_LEN} are allowed", pattern.len()),
            ));
        }
        // The regex crate bounds compiled size itself and never backtracks.
        let regex = regex::Regex::new(pattern)
            .map_err(|e| SeedError::invalid("pattern", format!("not a regular expression: {e}")))?;
        self.pattern = Some(Pattern(regex));
        Ok(self)
    }

    /// Also picks about `percent` % of all devices (0 to 100), chosen by
    /// `seed`: a device is picked when the SHA-256 of the seed and its ID
    /// falls in the share, so the choice is the same on every run and does
    /// not depend on the other devices.
    pub fn with_share(mut self, percent: u8, seed: u64) -> Result<Self, SeedError> {
        if percent > 100 {
            return Err(SeedError::invalid("percent", format!("is {percent}; give 0 to 100")));
        }
        self.share = Some(Share { percent, seed });
        Ok(self)
    }

    /// Whether the selection picks `device`.
    pub fn picks(&self, device: &str) -> bool {
        self.devices.contains(device)
            || self.pattern.as_ref().is_some_and(|p| p.0.is_match(device))
            || self.share.is_some_and(|s| {
                let mut hash = Sha256::new();
                hash.update(s.seed.to_be_bytes());
                hash.update(device.as_bytes());
                let digest = hash.finalize();
                let mut first = [0u8; 8];
                first.copy_from_slice(&digest[..8]);
                // Uniform in 0..10,000, so a share is exact to a hundredth of a percent.
                u64::from_be_bytes(first) % 10_000 < u64::from(s.percent) * 100
            })
    }

    /// Whether the selection can pick anything at all.
    fn is_empty(&self) -> bool {
        self.devices.is_empty() && self.pattern.is_none() && self.share.is_none_or(|s| s.percent == 0)
    }
}

/// Automatic retries of failed sub-tasks, as a task policy's `retry_count`
/// and `retry_interval` ask: a failed sub-task waits in FailWaitRetry for
/// `interval`, then runs again (Processing), at most `count` times; then it
/// is Fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoRetry {
    /// How many times a failed sub-task runs again (IoTDA allows 1 to 5).
    pub count: u32,
    /// How long it waits in FailWaitRetry before each retry.
    pub interval: Duration,
}

/// How a task's sub-tasks move by themselves, on the emulator's clock
/// (see [`Service::advance_time`](crate::Service::advance_time) and
/// [`EmulatorConfig::time_scale`](crate::EmulatorConfig::time_scale)).
///
/// From the moment the task is created (or the emulator starts, for a
/// seeded task), sub-task `i` (in record order, from 0) is dispatched at
/// `i × dispatch_every`: a Waitting sub-task becomes Processing then
/// (unless the task was created with `need_confirm`: its sub-tasks wait for
/// ConfirmBatchTask, and run from the confirm). A Processing sub-task
/// finishes `run_for` after it started: Fail when [`Progression::fail`]
/// picks its device (FailWaitRetry first while retries are left, see
/// [`Progression::retry`]), Success otherwise; a device
/// [`Progression::hang`] picks stays Processing. A stop freezes what it
/// stops; a retried or confirmed sub-task runs again for `run_for`.
///
/// The task's status follows: Processing while any sub-task is Waitting,
/// Processing or FailWaitRetry, then Success (all Success), Fail (none
/// Success) or PartialSuccess, unless a stop has already made it Stopping
/// or Stopped. `task_progress` counts the sub-tasks as they are.
///
/// ```
/// use std::time::Duration;
/// use iotda_batchtask_emulator::{
///     DEMO_PROJECT_ID, DEMO_TASK_ID, EmulatorConfig, Progression, Seed, Selection, Service, TaskStatus,
/// };
///
/// let progression = Progression::new(Duration::from_secs(60)) // each device runs 60 s
///     .dispatch_every(Duration::from_secs(1)) // one device a second
///     .fail(Selection::none().with_share(10, 7)?) // about 10 % fail, the same ones each run
///     .hang(Selection::devices(["dev-0042"])) // one never finishes
///     .retry(2, Duration::from_secs(30)); // FailWaitRetry twice, then Fail
/// let seed = Seed::demo().with_progression(DEMO_PROJECT_ID, DEMO_TASK_ID, progression)?;
/// let service = Service::new(&EmulatorConfig::new().seed(seed).time_scale(0.0))?;
/// service.advance_time(Duration::from_secs(90)); // the clock moves only when told
/// assert_eq!(service.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap().status, TaskStatus::Processing);
/// service.advance_time(Duration::from_secs(3600));
/// let task = service.task(DEMO_PROJECT_ID, DEMO_TASK_ID).unwrap();
/// assert_eq!(task.status, TaskStatus::Processing, "dev-0042 hangs");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progression {
    pub(crate) dispatch_every: Duration,
    pub(crate) run_for: Duration,
    pub(crate) fail: Selection,
    pub(crate) hang: Selection,
    pub(crate) retry: Option<AutoRetry>,
}

impl Progression {
    /// Every sub-task dispatched at once, running for `run_for`, all
    /// succeeding, no retries.
    pub fn new(run_for: Duration) -> Self {
        Self {
            dispatch_every: Duration::ZERO,
            run_for,
            fail: Selection::none(),
            hang: Selection::none(),
            retry: None,
        }
    }

    /// The time between two sub-tasks' dispatch (default zero: all at once).
    pub fn dispatch_every(mut self, every: Duration) -> Self {
        self.dispatch_every = every;
        self
    }

    /// The devices whose sub-tasks fail (each attempt).
    pub fn fail(mut self, selection: Selection) -> Self {
        self.fail = selection;
        self
    }

    /// The devices whose sub-tasks never finish (stay Processing). A device
    /// both failing and hanging hangs.
    pub fn hang(mut self, selection: Selection) -> Self {
        self.hang = selection;
        self
    }

    /// Retries failed sub-tasks `count` times, each after `interval` in
    /// FailWaitRetry. For a seeded task this is its task policy; for a
    /// task created through CreateBatchTask, its own `task_policy` decides
    /// whether and how often to retry, and this only sets the interval
    /// (IoTDA's `retry_interval` is in minutes, too slow for a test).
    ///
    /// `count` is capped at 5, IoTDA's most.
    pub fn retry(mut self, count: u32, interval: Duration) -> Self {
        self.retry = Some(AutoRetry {
            count: count.min(MAX_RETRY_COUNT),
            interval,
        });
        self
    }

    /// How long each sub-task runs.
    pub fn run_for_duration(&self) -> Duration {
        self.run_for
    }

    /// The retry policy for a task: the progression's for a seeded task;
    /// for a created task, its policy's count (no policy, no retry) with the
    /// progression's interval, or the policy's minutes without one.
    pub(crate) fn retry_for(
        &self,
        policy: Option<&iotda_batchtask::types::TaskPolicy>,
        created: bool,
    ) -> Option<AutoRetry> {
        if !created {
            return self.retry;
        }
        let policy = policy?;
        let count = u32::try_from(policy.retry_count?).ok()?.min(MAX_RETRY_COUNT);
        let interval = match self.retry {
            Some(own) => own.interval,
            None => Duration::from_secs(u64::try_from(policy.retry_interval?).ok()?.saturating_mul(60)),
        };
        Some(AutoRetry { count, interval })
    }

    /// Whether a sub-task of `device` that just failed is a failure at all.
    pub(crate) fn fails(&self, device: &str) -> bool {
        !self.fail.is_empty() && self.fail.picks(device)
    }

    /// Whether `device` hangs once it runs.
    pub(crate) fn hangs(&self, device: &str) -> bool {
        !self.hang.is_empty() && self.hang.picks(device)
    }
}

/// IoTDA's most automatic retries (`task_policy.retry_count`).
const MAX_RETRY_COUNT: u32 = 5;

/// The most a duration in a seed may be: one day, in milliseconds.
const MAX_SEED_MS: u64 = 24 * 60 * 60 * 1000;

/// A progression as written in a seed: `{"run_for_ms": 1000,
/// "dispatch_every_ms": 100, "fail": {...}, "hang": {...},
/// "retry": {"count": 2, "interval_ms": 500}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProgression {
    run_for_ms: u64,
    #[serde(default)]
    dispatch_every_ms: u64,
    #[serde(default)]
    fail: Selection,
    #[serde(default)]
    hang: Selection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<RawRetry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    count: u32,
    interval_ms: u64,
}

impl RawProgression {
    /// Checks the bounds; `at` is where the progression is, for errors.
    pub(crate) fn check(self, at: &str) -> Result<Progression, SeedError> {
        let ms = |name: &str, value: u64| {
            if value > MAX_SEED_MS {
                Err(SeedError::invalid(
                    format!("{at}.{name}"),
                    format!("is {value}; at most {MAX_SEED_MS} (one day) is allowed"),
                ))
            } else {
                Ok(Duration::from_millis(value))
            }
        };
        let mut progression = Progression::new(ms("run_for_ms", self.run_for_ms)?)
            .dispatch_every(ms("dispatch_every_ms", self.dispatch_every_ms)?)
            .fail(self.fail)
            .hang(self.hang);
        if let Some(retry) = self.retry {
            if !(1..=MAX_RETRY_COUNT).contains(&retry.count) {
                return Err(SeedError::invalid(
                    format!("{at}.retry.count"),
                    format!("is {}; IoTDA allows 1 to 5", retry.count),
                ));
            }
            progression = progression.retry(retry.count, ms("retry.interval_ms", retry.interval_ms)?);
        }
        Ok(progression)
    }
}

impl From<&Progression> for RawProgression {
    fn from(p: &Progression) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            run_for_ms: ms(p.run_for),
            dispatch_every_ms: ms(p.dispatch_every),
            fail: p.fail.clone(),
            hang: p.hang.clone(),
            retry: p.retry.map(|r| RawRetry {
                count: r.count,
                interval_ms: ms(r.interval),
            }),
        }
    }
}
