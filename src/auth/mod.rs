//! Authentication: credentials, the choice of AK/SK algorithm, and the
//! client's signer of `reqwest` requests.
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
//! The signing itself (canonical request, keys, `Authorization`) is the
//! workspace's [`iotda-batchtask-signing`](iotda_batchtask_signing) crate,
//! byte for byte the official SDKs' (pinned by their own signatures in
//! `tests/vectors/sign_vectors.json`), which also verifies signatures for the
//! emulator. This module re-exports only what the client's API uses:
//! [`Algorithm`], [`IOTDA_SIGNING_SERVICE`]. The canonical request and the
//! string to sign are logged at `TRACE` (target `iotda_batchtask_signing`),
//! secret header values masked.

mod algorithm;
pub(crate) mod credentials;
mod signer;

pub use algorithm::Signing;
pub use credentials::{AkSk, Credentials};
pub use iotda_batchtask_signing::{Algorithm, IOTDA_SIGNING_SERVICE};
pub use signer::{SignError, Signer};

/// The server side and the emulator's HTTP types stay out of the library's
/// API (the emulator verifies with the signing crate and re-exports `http`
/// and `bytes` itself); each of these must not compile, for the one reason
/// it shows.
///
/// ```compile_fail,E0432
/// use iotda_batchtask::auth::Authorization;
/// ```
/// ```compile_fail,E0432
/// use iotda_batchtask::auth::VerifyError;
/// ```
/// ```compile_fail,E0599
/// fn verify(signer: &iotda_batchtask::auth::Signer) {
///     let _ = signer.verify_request();
/// }
/// ```
/// ```compile_fail,E0432
/// use iotda_batchtask::http;
/// ```
/// ```compile_fail,E0432
/// use iotda_batchtask::bytes;
/// ```
#[cfg(doctest)]
pub struct NoServerSideItems;
