//! Which AK/SK algorithm a client signs with: the user's choice
//! ([`Signing`]), resolved for an endpoint into the signing crate's
//! [`Algorithm`].

use iotda_batchtask_signing::{Algorithm, IOTDA_SIGNING_SERVICE, sdk_derives};

use crate::validation::{self, InvalidInput};

/// Which AK/SK algorithm a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signing {
    /// The official SDK's default derived predicate ([`sdk_derives`]): derived signing for every
    /// host *not* shaped like `<service>[.<region>].myhuaweicloud.com`, so
    /// instance endpoints (`xxxx.st1.iotda-app.cn-north-4.myhuaweicloud.com`)
    /// and loopback are derived, `iotda.cn-north-4.myhuaweicloud.com` is plain.
    #[default]
    Auto,
    /// Always `SDK-HMAC-SHA256` (basic edition).
    Plain,
    /// Always `V11-HMAC-SHA256` (standard and enterprise editions); needs a region.
    Derived,
}

impl Signing {
    /// Resolves the choice for `authority` (host and port, as signed).
    /// Derived signing needs `region`; its absence is an error naming it.
    pub fn resolve(self, authority: &str, region: Option<&str>) -> Result<Algorithm, InvalidInput> {
        let derived = match self {
            Self::Plain => false,
            Self::Derived => true,
            Self::Auto => sdk_derives(authority),
        };
        if !derived {
            return Ok(Algorithm::Plain);
        }
        let Some(region) = region else {
            let why = match self {
                Self::Auto => format!("Signing::Auto chose derived (V11-HMAC-SHA256) signing for host {authority}"),
                _ => "Signing::Derived was chosen".to_owned(),
            };
            return Err(InvalidInput::new(
                "region",
                format!("is required: {why}; set the region, e.g. cn-north-4"),
            ));
        };
        validation::region(region)?;
        Ok(Algorithm::Derived {
            region: region.to_owned(),
            service: IOTDA_SIGNING_SERVICE.to_owned(),
        })
    }
}
