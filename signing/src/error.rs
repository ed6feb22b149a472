//! Why a request could not be signed, or its signature not verified.

use crate::headers::HeaderError;

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A header value is not visible ASCII, so its signed form is ambiguous.
    #[error("header {0} is not visible ASCII and cannot be signed")]
    HeaderValue(String),
    /// The request has no authority (host) to sign.
    #[error("the request URL has no host")]
    NoHost,
}

/// Why a signed request does not verify ([`Signer::verify`](crate::Signer::verify)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The `Authorization` names another access key than the signer's.
    #[error("the request is signed with another access key")]
    AccessKey,
    /// The algorithm or the credential scope (day of `X-Sdk-Date`, region,
    /// service) is not the signer's.
    #[error("the algorithm or credential scope is not the expected one")]
    Scope,
    /// `X-Sdk-Date` is missing, repeated or not `YYYYMMDDTHHMMSSZ`.
    #[error("X-Sdk-Date is missing or malformed")]
    Date,
    /// A header listed in `SignedHeaders` is not in the request.
    #[error("signed header {0} is missing")]
    MissingHeader(String),
    /// A signed header's value is not visible ASCII.
    #[error("signed header {0} is not visible ASCII")]
    HeaderValue(String),
    /// The signature is not the one the signer computes for this request.
    #[error("the signature does not match")]
    Signature,
}

impl From<HeaderError> for SignError {
    fn from(error: HeaderError) -> Self {
        match error {
            // The signer reads only the headers present, so only a value can be wrong.
            HeaderError::Missing(name) | HeaderError::NotText(name) => Self::HeaderValue(name),
        }
    }
}

impl From<HeaderError> for VerifyError {
    fn from(error: HeaderError) -> Self {
        match error {
            HeaderError::Missing(name) => Self::MissingHeader(name),
            HeaderError::NotText(name) => Self::HeaderValue(name),
        }
    }
}
