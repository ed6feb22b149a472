//! The `X-Sdk-Date` header: when a request was signed, to the second, in UTC.

use jiff::Timestamp;

/// The `X-Sdk-Date` format (UTC), e.g. `20240102T030405Z`.
const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Formats an `X-Sdk-Date` value, e.g. `20240102T030405Z`.
pub fn format_sdk_date(at: Timestamp) -> String {
    SdkDate::at(at).0
}

/// Parses an `X-Sdk-Date` value (`20240102T030405Z`); anything else is `None`.
pub fn parse_sdk_date(value: &str) -> Option<Timestamp> {
    SdkDate::parse(value).map(|(_, at)| at)
}

/// An `X-Sdk-Date` value, always [`SDK_DATE_FORMAT`]'s text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SdkDate(String);

impl SdkDate {
    pub(crate) fn at(at: Timestamp) -> Self {
        Self(at.strftime(SDK_DATE_FORMAT).to_string())
    }

    /// The date `text` names, with its time; `None` unless it is exactly
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) fn parse(text: &str) -> Option<(Self, Timestamp)> {
        // strptime alone would accept unpadded fields (`2024112T...`).
        if text.len() != 16 {
            return None;
        }
        let civil = jiff::civil::DateTime::strptime(SDK_DATE_FORMAT, text).ok()?;
        let at = jiff::tz::Offset::UTC.to_timestamp(civil).ok()?;
        Some((Self(text.to_owned()), at))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `YYYYMMDD`, the day of a derived key's credential scope.
    pub(crate) fn day(&self) -> &str {
        let (day, _) = self
            .0
            .split_once('T')
            .expect("the format puts a T between date and time");
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let t = parse_sdk_date("20240102T030405Z").unwrap();
        assert_eq!(format_sdk_date(t), "20240102T030405Z");
        assert_eq!(SdkDate::at(t).day(), "20240102");
        assert_eq!(
            format_sdk_date("0009-01-02T03:04:05Z".parse().unwrap()),
            "00090102T030405Z"
        );
        for bad in [
            "2024-01-02T03:04:05Z",
            "2024112T030405Z",
            "20240102T030405",
            "20241302T030405Z",
        ] {
            assert!(parse_sdk_date(bad).is_none(), "{bad}");
        }
    }
}
