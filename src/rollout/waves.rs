//! Splitting a target list into cumulative waves.

use std::fmt;
use std::str::FromStr;

use crate::limits;
use crate::validation::InvalidInput;

/// Hundredths of a percent in 100%.
const WHOLE: u64 = 10_000;

/// Where each wave ends, cumulatively: shares of the target list
/// (`1%,10%,100%`) or device counts (`10,100,all`), as `--waves` takes them.
///
/// Parse it with [`str::parse`]; split a list with [`WaveSpec::split`].
/// Shares take up to two decimals (`0.5%`). The two forms do not mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveSpec {
    /// Cumulative shares, in hundredths of a percent (`1%` is 100); the last is 10,000.
    Shares(Vec<u32>),
    /// Cumulative device counts; `None` is `all` (the last only).
    Counts(Vec<Option<usize>>),
}

const FIELD: &str = "waves";

fn bad(rule: impl Into<String>) -> InvalidInput {
    InvalidInput::new(FIELD, rule.into())
}

/// `12.5` as hundredths (1250); at most two decimals.
pub(super) fn hundredths(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

impl FromStr for WaveSpec {
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.iter().all(|p| p.is_empty()) {
            return Err(bad(
                "is empty; give cumulative shares such as 1%,10%,100% or counts such as 10,100,all",
            ));
        }
        if let Some(i) = parts.iter().position(|p| p.is_empty()) {
            return Err(bad(format!("wave {} is empty (two commas, or a trailing one)", i + 1)));
        }
        let shares = parts.iter().filter(|p| p.ends_with('%')).count();
        if shares != 0 && shares != parts.len() {
            return Err(bad(
                "mixes shares (%) and counts; use one form, e.g. 1%,10%,100% or 10,100,all",
            ));
        }
        if shares != 0 {
            let mut list = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                let number = part.trim_end_matches('%');
                let share = hundredths(number).ok_or_else(|| {
                    bad(format!(
                        "wave {} is not a share like 10% or 0.5% (at most two decimals)",
                        i + 1
                    ))
                })?;
                if share == 0 {
                    return Err(bad(format!("wave {} is 0%, which rounds to zero devices", i + 1)));
                }
                if u64::from(share) > WHOLE {
                    return Err(bad(format!("wave {} is {part}, over 100%", i + 1)));
                }
                if let Some(&previous) = list.last()
                    && share <= previous
                {
                    return Err(bad(format!(
                        "wave {} ({part}) does not increase on wave {}; shares are cumulative",
                        i + 1,
                        i
                    )));
                }
                list.push(share);
            }
            if list.last().is_some_and(|&last| u64::from(last) != WHOLE) {
                return Err(bad("does not reach 100%; the last wave must reach every device"));
            }
            return Ok(Self::Shares(list));
        }
        let mut list: Vec<Option<usize>> = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            if part.eq_ignore_ascii_case("all") {
                if i + 1 != parts.len() {
                    return Err(bad(format!("wave {} is `all`, which only the last wave may be", i + 1)));
                }
                list.push(None);
                continue;
            }
            let count: usize = part
                .parse()
                .ok()
                .filter(|_| part.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    bad(format!(
                        "wave {} is not a device count, a share such as 10% or `all`",
                        i + 1
                    ))
                })?;
            if count == 0 {
                return Err(bad(format!("wave {} is 0 devices; each wave has at least one", i + 1)));
            }
            if let Some(Some(previous)) = list.last()
                && count <= *previous
            {
                return Err(bad(format!(
                    "wave {} ({count}) does not increase on wave {}; counts are cumulative",
                    i + 1,
                    i
                )));
            }
            list.push(Some(count));
        }
        Ok(Self::Counts(list))
    }
}

impl fmt::Display for WaveSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = match self {
            Self::Shares(shares) => shares
                .iter()
                .map(|s| match s % 100 {
                    0 => format!("{}%", s / 100),
                    r => format!("{}.{}%", s / 100, format!("{r:02}").trim_end_matches('0')),
                })
                .collect(),
            Self::Counts(counts) => counts
                .iter()
                .map(|c| c.map_or_else(|| "all".to_owned(), |c| c.to_string()))
                .collect(),
        };
        f.write_str(&parts.join(","))
    }
}

impl WaveSpec {
    /// The cumulative end of each wave for `n` devices, checked: every wave
    /// at least one device, the last exactly `n`, none larger than one task
    /// takes ([`limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS`]).
    ///
    /// A share `p` ends at `ceil(p × n)` devices: a first wave of 1% of 50
    /// devices is one device, never none. A share whose end does not pass
    /// the previous wave's (1%,2% of 10 devices: both one device) would make
    /// an empty wave and is refused, naming the wave, rather than widened.
    pub fn ends(&self, n: usize) -> Result<Vec<usize>, InvalidInput> {
        if n == 0 {
            return Err(InvalidInput::new("targets", "is empty; name at least one device"));
        }
        let ends: Vec<usize> = match self {
            Self::Shares(shares) => shares
                .iter()
                .map(|&s| {
                    let end = (u64::from(s) * n as u64).div_ceil(WHOLE);
                    usize::try_from(end).expect("a share of at most 100% of n fits in usize")
                })
                .collect(),
            Self::Counts(counts) => counts.iter().map(|c| c.unwrap_or(n)).collect(),
        };
        let mut previous = 0;
        for (i, &end) in ends.iter().enumerate() {
            let wave = i + 1;
            if end > n {
                return Err(bad(format!(
                    "wave {wave} reaches {end} devices but the target list has {n} distinct devices"
                )));
            }
            if end <= previous {
                return Err(bad(format!(
                    "wave {wave} ({}) reaches {end} of {n} devices, no more than wave {}: it would be empty; \
                     use fewer waves or larger steps",
                    self.part(i),
                    wave - 1
                )));
            }
            let size = end - previous;
            let max = limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS;
            if size > max {
                return Err(bad(format!(
                    "wave {wave} has {size} devices; one batch task takes at most {max}; add waves"
                )));
            }
            previous = end;
        }
        if previous != n {
            return Err(bad(format!(
                "reaches {previous} of {n} devices; the last wave must reach every device (end with `all`)"
            )));
        }
        Ok(ends)
    }

    /// Splits the de-duplicated `targets` into waves, in input order.
    pub fn split(&self, targets: &[String]) -> Result<Vec<Vec<String>>, InvalidInput> {
        let ends = self.ends(targets.len())?;
        let mut start = 0;
        Ok(ends
            .into_iter()
            .map(|end| {
                let wave = targets[start..end].to_vec();
                start = end;
                wave
            })
            .collect())
    }

    fn part(&self, i: usize) -> String {
        self.to_string().split(',').nth(i).unwrap_or_default().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("dev-{i}")).collect()
    }

    #[test]
    fn shares_round_up() {
        let spec: WaveSpec = "1%,10%,100%".parse().unwrap();
        assert_eq!(spec.ends(50).unwrap(), [1, 5, 50]);
        assert_eq!(spec.ends(1000).unwrap(), [10, 100, 1000]);
        assert_eq!(spec.ends(1001).unwrap(), [11, 101, 1001]);
        let half: WaveSpec = "0.5%,100%".parse().unwrap();
        assert_eq!(half.ends(1000).unwrap(), [5, 1000]);
        assert_eq!(half.to_string(), "0.5%,100%");
    }

    #[test]
    fn counts_end_with_all() {
        let spec: WaveSpec = "10,100,all".parse().unwrap();
        assert_eq!(spec.ends(150).unwrap(), [10, 100, 150]);
        assert_eq!(spec.to_string(), "10,100,all");
        let exact: WaveSpec = "1,3".parse().unwrap();
        assert_eq!(exact.ends(3).unwrap(), [1, 3]);
        assert!(exact.ends(4).unwrap_err().rule().contains("must reach every device"));
    }

    #[test]
    fn split_keeps_input_order() {
        let spec: WaveSpec = "1,3,all".parse().unwrap();
        let waves = spec.split(&ids(5)).unwrap();
        assert_eq!(waves, [vec!["dev-0"], vec!["dev-1", "dev-2"], vec!["dev-3", "dev-4"]]);
    }

    #[test]
    fn bad_specs_are_named() {
        for (spec, says) in [
            ("", "is empty"),
            ("10%,5%,100%", "does not increase"),
            ("10%,10%,100%", "does not increase"),
            ("10%,150%", "over 100%"),
            ("10%,90%", "does not reach 100%"),
            ("0%,100%", "rounds to zero"),
            ("10,5,all", "does not increase"),
            ("all,10", "only the last"),
            ("0,all", "at least one"),
            ("10%,all", "mixes"),
            ("1%,,100%", "wave 2 is empty"),
            ("1%,100%,", "wave 3 is empty"),
            ("1.234%,100%", "two decimals"),
            ("-1,all", "not a device count"),
            ("+1,all", "not a device count"),
            ("1.%,100%", "not a share"),
        ] {
            let err = spec.parse::<WaveSpec>().unwrap_err();
            assert_eq!(err.field(), "waves");
            assert!(err.rule().contains(says), "{spec:?}: {}", err.rule());
        }
    }

    #[test]
    fn bad_splits_are_named() {
        let spec: WaveSpec = "1%,2%,100%".parse().unwrap();
        let err = spec.ends(10).unwrap_err();
        assert!(
            err.rule().contains("wave 2 (2%) reaches 1 of 10 devices"),
            "{}",
            err.rule()
        );
        let counts: WaveSpec = "10,all".parse().unwrap();
        assert!(counts.ends(5).unwrap_err().rule().contains("reaches 10 devices but"));
        assert_eq!(counts.ends(0).unwrap_err().field(), "targets");
        let max = limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS;
        let big: WaveSpec = "50%,100%".parse().unwrap();
        assert!(big.ends(2 * max).is_ok());
        let err = big.ends(2 * max + 2).unwrap_err();
        assert!(
            err.rule().contains(&format!("one batch task takes at most {max}")),
            "{}",
            err.rule()
        );
    }
}
