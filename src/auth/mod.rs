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
//!
//! Signing is byte-for-byte the official SDKs' (pinned by their own
//! signatures in `tests/vectors/sign_vectors.json`). [`Signer::sign`] signs a
//! client request; [`Signer::verify_request`] checks one as the gateway does,
//! reading the signed headers with the same code, so the client and the
//! emulator share one canonicalisation. The canonical request and the string
//! to sign are logged at `TRACE` (target `iotda_batchtask::auth`), secret
//! header values masked.

mod algorithm;
mod authorization;
mod canonical;
pub(crate) mod credentials;
mod date;
mod error;
mod headers;
mod keys;
mod signer;

pub use algorithm::{Algorithm, IOTDA_SIGNING_SERVICE, Signing};
pub use authorization::Authorization;
pub use credentials::{AkSk, Credentials};
pub use date::{format_sdk_date, parse_sdk_date};
pub use error::{SignError, VerifyError};
pub use signer::Signer;

/// The `tracing` target of the signing logs.
const LOG_TARGET: &str = "iotda_batchtask::auth";

/// Appends every part to `out`: how the signed texts are built, since
/// `format!` was a measurable share of a signature.
fn push_all(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
}
