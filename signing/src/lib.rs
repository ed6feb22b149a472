//! Huawei Cloud AK/SK request signing, byte for byte like the official SDKs,
//! and its verification, over any HTTP library's requests.
//!
//! | algorithm | `Authorization` | used by |
//! |---|---|---|
//! | plain | `SDK-HMAC-SHA256 Access=...` | regional endpoints (IoTDA basic edition, IAM) |
//! | derived | `V11-HMAC-SHA256 Credential=AK/day/region/service` | IoTDA standard and enterprise instance endpoints |
//!
//! A request is described by a [`SignableRequest`] (method, authority, path,
//! query, headers as name/value pairs, body bytes), so this crate depends on
//! no HTTP library. [`Signer::sign`] returns the headers to set and the query
//! to send ([`SigningOutput`]); [`Signer::verify`] checks a received request
//! as the API gateway does, reading the signed headers with the same code,
//! so a client and a server share one canonicalisation. Which algorithm the
//! official SDK picks for a host is [`sdk_derives`].
//!
//! ```
//! use iotda_batchtask_signing::{Algorithm, Authorization, SignableRequest, Signer};
//!
//! let signer = Signer::new("HPUAEXAMPLEAK0000001", "secret".into(), Algorithm::Plain)
//!     .with_project_id("0123456789abcdef0123456789abcdef");
//! let path = "/v5/iot/0123456789abcdef0123456789abcdef/batchtasks/61a5f4cbd86b7a1d1c2f3e4a/stop";
//! let body = br#"{"targets":["dev-1"]}"#;
//! let request = SignableRequest::new("POST", path, "", body)
//!     .authority("iotda.cn-north-4.myhuaweicloud.com")
//!     .header("content-type", b"application/json");
//! let output = signer.sign(&request, "2024-01-02T03:04:05Z".parse()?)?;
//! let authorization = output.header("authorization").expect("always set");
//! assert!(authorization.starts_with("SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001"));
//!
//! // What the server receives: the request's headers and the signer's.
//! let mut received = vec![("content-type", &b"application/json"[..])];
//! received.extend(output.headers().iter().map(|h| (h.name(), h.value().as_bytes())));
//! let request = SignableRequest::new("POST", path, "", body).headers(received);
//! let authorization = Authorization::parse(authorization).expect("well-formed");
//! assert_eq!(signer.verify(&request, &authorization), Ok(()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The canonical request and the string to sign are logged at `TRACE`
//! (target `iotda_batchtask_signing`), secret header values masked.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithm;
mod authorization;
mod canonical;
mod date;
mod error;
mod headers;
mod keys;
mod request;
mod signer;

pub use algorithm::{Algorithm, IOTDA_SIGNING_SERVICE, sdk_derives};
pub use authorization::Authorization;
pub use date::{format_sdk_date, parse_sdk_date};
pub use error::{SignError, VerifyError};
pub use request::SignableRequest;
pub use signer::{OutputHeader, Signer, SigningOutput, SigningPreview};

/// The `tracing` target of the signing logs.
const LOG_TARGET: &str = "iotda_batchtask_signing";

/// Appends every part to `out`: how the signed texts are built, since
/// `format!` was a measurable share of a signature.
fn push_all(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
}

/// Compiles the README's Rust example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
