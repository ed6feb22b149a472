//! Which AK/SK algorithm signs ([`Algorithm`]), whose wire names are parsed
//! only here, and which one the official SDK picks for a host.

use std::sync::LazyLock;

/// The signing service name of IoTDA in derived (`V11`) scopes. Not `iotda`.
pub const IOTDA_SIGNING_SERVICE: &str = "iotdm";

const PLAIN: &str = "SDK-HMAC-SHA256";
const DERIVED: &str = "V11-HMAC-SHA256";

/// The official SDK's default derived predicate: `true` (sign derived) unless
/// `authority` (host and port, as signed) matches
/// `^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)`,
/// anchored at the start only. So instance endpoints
/// (`xxxx.st1.iotda-app.cn-north-4.myhuaweicloud.com`) and loopback are
/// derived, `iotda.cn-north-4.myhuaweicloud.com` is plain.
pub fn sdk_derives(authority: &str) -> bool {
    static REGULAR_ENDPOINT: LazyLock<regress::Regex> = LazyLock::new(|| {
        regress::Regex::new(r"^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)")
            .expect("a constant pattern, compiled by the unit tests")
    });
    REGULAR_ENDPOINT.find(authority).is_none()
}

/// A resolved signing algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    /// `SDK-HMAC-SHA256`: HMAC keyed with the secret key.
    Plain,
    /// `V11-HMAC-SHA256`: HMAC keyed with an HKDF key derived per day, region and service.
    Derived {
        /// Region ID, e.g. `cn-north-4`.
        region: String,
        /// Signing service, [`IOTDA_SIGNING_SERVICE`] for IoTDA.
        service: String,
    },
}

impl Algorithm {
    /// The name in `Authorization`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Plain => PLAIN,
            Self::Derived { .. } => DERIVED,
        }
    }

    /// The algorithm called `name` in an `Authorization` header, with the
    /// `(region, service)` of its credential scope: `SDK-HMAC-SHA256` has no
    /// scope, `V11-HMAC-SHA256` must have one. `None` for anything else.
    pub fn from_name(name: &str, scope: Option<(&str, &str)>) -> Option<Self> {
        match (name, scope) {
            (PLAIN, None) => Some(Self::Plain),
            (DERIVED, Some((region, service))) => Some(Self::Derived {
                region: region.to_owned(),
                service: service.to_owned(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_matches_the_sdk() {
        assert!(!sdk_derives("iotda.cn-north-4.myhuaweicloud.com"));
        assert!(!sdk_derives("iam.myhuaweicloud.com"));
        assert!(sdk_derives("a1b2c3d4e5.st1.iotda-app.cn-north-4.myhuaweicloud.com"));
        assert!(sdk_derives("127.0.0.1:18080"));
        assert!(sdk_derives("localhost:8080"));
    }

    #[test]
    fn names_round_trip() {
        let derived = Algorithm::Derived {
            region: "cn-north-4".into(),
            service: IOTDA_SIGNING_SERVICE.into(),
        };
        assert_eq!(
            Algorithm::from_name(Algorithm::Plain.name(), None),
            Some(Algorithm::Plain)
        );
        assert_eq!(
            Algorithm::from_name(derived.name(), Some(("cn-north-4", "iotdm"))),
            Some(derived)
        );
        // A scope belongs to V11 only, and V11 needs one.
        assert_eq!(Algorithm::from_name(PLAIN, Some(("cn-north-4", "iotdm"))), None);
        assert_eq!(Algorithm::from_name(DERIVED, None), None);
        assert_eq!(Algorithm::from_name("sdk-hmac-sha256", None), None);
    }
}
