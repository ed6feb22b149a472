//! Authentication: credentials and AK/SK request signing.
//!
//! IoTDA accepts three kinds of authentication, all supported here:
//!
//! | mode | header(s) | when |
//! |---|---|---|
//! | token | `X-Auth-Token` | an IAM user token you already hold |
//! | AK/SK, plain | `Authorization: SDK-HMAC-SHA256 ...` | basic edition, regional endpoints |
//! | AK/SK, derived | `Authorization: V11-HMAC-SHA256 ...` | standard and enterprise editions (instance endpoints) |
//!
//! [`Signing::Auto`] picks plain or derived exactly as the official SDK's
//! default "derived predicate" does.

pub(crate) mod credentials;
mod signing;

pub use credentials::{AkSk, Credentials};
pub use signing::{
    Algorithm, Authorization, CanonicalInput, IOTDA_SIGNING_SERVICE, SDK_DATE_FORMAT, SignError, Signer, Signing,
    canonical_query, canonical_uri, default_derived_predicate, format_sdk_date, parse_sdk_date,
};
