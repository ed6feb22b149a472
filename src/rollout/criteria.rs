//! The plan's criteria: `--advance-if`, and the guard's `--abort-if` as
//! written.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::types::TaskProgress;
use crate::validation::InvalidInput;
use crate::watch::Criterion;

/// When a finished wave lets the next one start: `success>=P%`, the share
/// of the wave's finished sub-tasks (Success + Fail, as the guard counts
/// them) that succeeded, P above 0 and at most 100 with up to two decimals.
///
/// The default is `success>=100%`. A wave in which no sub-task finished
/// (every one stopped or removed) never meets it.
///
/// ```
/// use iotda_batchtask::rollout::AdvanceIf;
///
/// let rule: AdvanceIf = "success>=95%".parse().unwrap();
/// assert_eq!(rule.hundredths(), 9500);
/// assert!("success>=0%".parse::<AdvanceIf>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdvanceIf {
    hundredths: u32,
}

impl Default for AdvanceIf {
    fn default() -> Self {
        Self { hundredths: 10_000 }
    }
}

impl AdvanceIf {
    /// The threshold in hundredths of a percent (95% is 9,500).
    pub fn hundredths(self) -> u32 {
        self.hundredths
    }

    /// Whether these final counters meet the rule.
    pub fn met_by(self, counters: &TaskProgress) -> bool {
        let count = |v: Option<i64>| u128::try_from(v.unwrap_or(0)).unwrap_or(0);
        let success = count(counters.success);
        let finished = success + count(counters.fail);
        // success / finished >= hundredths / 10_000, in integers.
        finished > 0 && success * 10_000 >= u128::from(self.hundredths) * finished
    }
}

impl FromStr for AdvanceIf {
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        let bad = || {
            InvalidInput::new(
                "advance_if",
                "must be success>=P% with P above 0 and at most 100 (up to two decimals), e.g. success>=95%",
            )
        };
        let number = text
            .trim()
            .strip_prefix("success>=")
            .and_then(|rest| rest.strip_suffix('%'))
            .ok_or_else(bad)?;
        let hundredths = super::waves::hundredths(number).ok_or_else(bad)?;
        if hundredths == 0 || hundredths > 10_000 {
            return Err(bad());
        }
        Ok(Self { hundredths })
    }
}

impl TryFrom<String> for AdvanceIf {
    type Error = InvalidInput;

    fn try_from(text: String) -> Result<Self, InvalidInput> {
        text.parse()
    }
}

impl fmt::Display for AdvanceIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, rest) = (self.hundredths / 100, self.hundredths % 100);
        if rest == 0 {
            write!(f, "success>={whole}%")
        } else {
            write!(f, "success>={whole}.{}%", format!("{rest:02}").trim_end_matches('0'))
        }
    }
}

impl From<AdvanceIf> for String {
    fn from(rule: AdvanceIf) -> Self {
        rule.to_string()
    }
}

/// The longest `--abort-if` criterion kept.
pub const MAX_CRITERION_LEN: usize = 64;

/// The most `--abort-if` criteria kept.
pub const MAX_CRITERIA: usize = 32;

/// An `--abort-if` criterion as written (`failed>=5%`, `failed>=20`),
/// checked by the guard's grammar ([`Criterion`]) when the plan is built or
/// read, and kept as written so the plan file shows what the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AbortCriterion(String);

impl AbortCriterion {
    /// The criterion as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The criterion the guard evaluates.
    pub fn criterion(&self) -> Criterion {
        self.0.parse().expect("an AbortCriterion is parsed when it is made")
    }
}

impl FromStr for AbortCriterion {
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        if text.len() > MAX_CRITERION_LEN {
            return Err(InvalidInput::new(
                "abort_if",
                format!("a criterion is at most {MAX_CRITERION_LEN} characters, e.g. failed>=5%"),
            ));
        }
        text.parse::<Criterion>()
            .map_err(|e| InvalidInput::new("abort_if", e.rule().to_owned()))?;
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for AbortCriterion {
    type Error = InvalidInput;

    fn try_from(text: String) -> Result<Self, InvalidInput> {
        text.parse()
    }
}

impl From<AbortCriterion> for String {
    fn from(criterion: AbortCriterion) -> Self {
        criterion.0
    }
}

impl fmt::Display for AbortCriterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(success: i64, fail: i64, stopped: i64) -> TaskProgress {
        TaskProgress {
            success: Some(success),
            fail: Some(fail),
            stopped: Some(stopped),
            total: Some(success + fail + stopped),
            ..TaskProgress::default()
        }
    }

    #[test]
    fn advance_if_parses_and_prints() {
        for (text, hundredths, shown) in [
            ("success>=95%", 9500, "success>=95%"),
            ("success>=100%", 10_000, "success>=100%"),
            ("success>=0.01%", 1, "success>=0.01%"),
            ("success>=99.5%", 9950, "success>=99.5%"),
        ] {
            let rule: AdvanceIf = text.parse().unwrap();
            assert_eq!((rule.hundredths(), rule.to_string().as_str()), (hundredths, shown));
        }
        for bad in [
            "",
            "success>=0%",
            "success>=101%",
            "success>=100.01%",
            "success>=95",
            "success>95%",
            "failed>=5%",
            "success>=-1%",
            "success>=1.234%",
            "success>=%",
        ] {
            assert_eq!(bad.parse::<AdvanceIf>().unwrap_err().field(), "advance_if", "{bad:?}");
        }
        assert_eq!(AdvanceIf::default().to_string(), "success>=100%");
    }

    #[test]
    fn advance_if_at_and_below_the_threshold() {
        let rule: AdvanceIf = "success>=95%".parse().unwrap();
        assert!(rule.met_by(&progress(95, 5, 0)));
        assert!(!rule.met_by(&progress(94, 6, 0)));
        assert!(
            rule.met_by(&progress(19, 1, 7)),
            "stopped sub-tasks are not finished ones"
        );
        assert!(!rule.met_by(&progress(0, 0, 3)), "nothing finished meets nothing");
        assert!(AdvanceIf::default().met_by(&progress(3, 0, 0)));
        assert!(!AdvanceIf::default().met_by(&progress(999, 1, 0)));
    }

    #[test]
    fn abort_criteria_follow_the_guards_grammar() {
        let criterion = "failed>=5%".parse::<AbortCriterion>().unwrap();
        assert_eq!(criterion.as_str(), "failed>=5%");
        assert!(criterion.criterion().is_percent());
        for bad in [
            "",
            "failed >= 5%",
            "failed>=5%\n",
            "failed>=0%",
            "failed>=101%",
            "failed>5",
            "fail>=5%",
            &"x".repeat(MAX_CRITERION_LEN + 1),
        ] {
            assert_eq!(bad.parse::<AbortCriterion>().unwrap_err().field(), "abort_if");
        }
    }
}
