//! The `X-Sdk-Date` header: when a request was signed, to the second, in UTC.

use jiff::Timestamp;

/// The `X-Sdk-Date` format (UTC), e.g. `20240102T030405Z`.
const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Formats an `X-Sdk-Date` value, e.g. `20240102T030405Z`.
pub fn format_sdk_date(at: Timestamp) -> String {
    SdkDate::at(at).as_str().to_owned()
}

/// Parses an `X-Sdk-Date` value (`20240102T030405Z`); anything else is `None`.
pub fn parse_sdk_date(value: &str) -> Option<Timestamp> {
    SdkDate::parse(value).map(|(_, at)| at)
}

/// An `X-Sdk-Date` value, always [`SDK_DATE_FORMAT`]'s text. Years 0000 to
/// 9999 are written digit by digit on the stack: `strftime` was a third of
/// the signer's own instructions under callgrind (docs/performance.md).
/// Negative years, which no server accepts, go through `strftime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SdkDate {
    Digits([u8; 16]),
    Formatted(String),
}

impl SdkDate {
    pub(crate) fn at(at: Timestamp) -> Self {
        let dt = jiff::tz::Offset::UTC.to_datetime(at);
        let Ok(year) = u16::try_from(dt.year()) else {
            return Self::Formatted(at.strftime(SDK_DATE_FORMAT).to_string());
        };
        let mut out = *b"00000000T000000Z";
        let digits = |out: &mut [u8; 16], at: usize, width: usize, mut v: u16| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        digits(&mut out, 0, 4, year);
        // jiff's civil fields are never negative.
        for (at, v) in [
            (4, dt.month()),
            (6, dt.day()),
            (9, dt.hour()),
            (11, dt.minute()),
            (13, dt.second()),
        ] {
            digits(&mut out, at, 2, u16::from(v.unsigned_abs()));
        }
        Self::Digits(out)
    }

    /// The date `text` names, with its time; `None` unless it is exactly
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) fn parse(text: &str) -> Option<(Self, Timestamp)> {
        // strptime alone would accept unpadded fields (`2024112T...`).
        let bytes: [u8; 16] = text.as_bytes().try_into().ok()?;
        let civil = jiff::civil::DateTime::strptime(SDK_DATE_FORMAT, text).ok()?;
        let at = jiff::tz::Offset::UTC.to_timestamp(civil).ok()?;
        Some((Self::Digits(bytes), at))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Digits(bytes) => std::str::from_utf8(bytes).expect("only ASCII digits, T and Z are written"),
            Self::Formatted(text) => text,
        }
    }

    /// `YYYYMMDD`, the day of a derived key's credential scope.
    pub(crate) fn day(&self) -> &str {
        match self {
            // `YYYYMMDD` is the first 8 of `YYYYMMDDTHHMMSSZ`.
            Self::Digits(_) => &self.as_str()[..8],
            Self::Formatted(text) => text.split_once('T').map_or(text.as_str(), |(day, _)| day),
        }
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
        // Every field at its widest and narrowest, against strftime.
        for text in ["9999-12-30T21:59:59Z", "0000-01-01T00:00:00Z", "2024-02-29T09:08:07Z"] {
            let t: Timestamp = text.parse().unwrap();
            assert_eq!(format_sdk_date(t), t.strftime(SDK_DATE_FORMAT).to_string(), "{text}");
        }
        let negative: Timestamp = "-000009-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            format_sdk_date(negative),
            negative.strftime(SDK_DATE_FORMAT).to_string()
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
